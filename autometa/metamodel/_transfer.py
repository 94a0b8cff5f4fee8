"""Transfer that adapts to the study: the known datasets that rank the study's results best lead the prior.

The meta-model's prior for a new dataset is fixed by meta-feature distance. Once a study has results,
there is better evidence of which known datasets behave like this one: those whose own scores of the
configs tried so far are ordered as the study's are (TST-R, Wistuba, Schilling & Schmidt-Thieme 2016;
RGPE, Feurer, Letham & Bakshy 2018). After each result:

1. every known dataset ``d`` scores the tried configs with its own table (its *per-dataset surrogate*:
   the knowledge base's normalized score of the config, or of the nearest config of the same family
   it evaluated, for a config it never ran);
2. its agreement with the study is Kendall's ``tau_d`` over the pairs of tried configs whose study
   results differ (a failure ranks below everything);
3. weights ``w_d ∝ exp(c * sqrt(P) * tau_d)`` over the ``P`` comparable pairs: with a few pairs all
   datasets weigh about the same, with many the best rankers take over;
4. the adapted prior of a config is ``(1 - lam) * meta-model prior + lam * sum_d w_d S_d(config)``,
   ``lam = P / (P + P0)``: the fixed prior rules at first, the re-weighted datasets as evidence grows.

The study's own results then correct this prior locally (:func:`autometa.metamodel._acquisition.posterior`),
so the target's own model takes over near the configs it has tried.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TransferSettings:
    """``sharpness`` is ``c`` above, ``pairs_half`` is ``P0`` (pairs at which the re-weighted prior has
    half the weight); ``enabled=False`` keeps the fixed prior."""

    enabled: bool = True
    sharpness: float = 1.5
    pairs_half: float = 20.0
    #: Results compared at most (the best ones): the pairs grow quadratically, and the order among the
    #: best configs is what steers the search.
    max_observations: int = 40


def ranking_agreement(table: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, int]:
    """Kendall's tau of each known dataset's scores (rows of ``table``: datasets x tried configs) with the
    study's ``values`` (higher is better, NaN = failed), and the number of comparable study pairs.

    A dataset that did not evaluate one of a pair skips that pair; a dataset with no usable pair gets 0.
    """
    v = np.where(np.isfinite(values), values, -np.inf)
    n = len(v)
    if n < 2:
        return np.zeros(len(table)), 0
    i, j = np.triu_indices(n, 1)
    both_failed = ~np.isfinite(v[i]) & ~np.isfinite(v[j])
    with np.errstate(invalid="ignore"):  # two failures: -inf - -inf, a tie
        study = np.where(both_failed, 0.0, np.sign(v[i] - v[j]))
    usable = study != 0
    i, j, study = i[usable], j[usable], study[usable]
    if not len(study):
        return np.zeros(len(table)), 0
    diff = table[:, i] - table[:, j]
    known = np.isfinite(diff)
    agree = np.where(known, np.sign(np.nan_to_num(diff)) * study, 0.0)
    count = known.sum(axis=1)
    tau = np.where(count > 0, agree.sum(axis=1) / np.maximum(count, 1), 0.0)
    return tau, int(len(study))


def dataset_weights(tau: np.ndarray, pairs: int, settings: TransferSettings) -> np.ndarray:
    """Softmax weights over known datasets from their ranking agreement (step 3 of the docstring)."""
    logits = settings.sharpness * np.sqrt(max(pairs, 0)) * np.asarray(tau, dtype=float)
    logits -= logits.max() if len(logits) else 0.0
    w = np.exp(logits)
    return w / w.sum() if w.sum() > 0 else np.full(len(w), 1.0 / max(len(w), 1))


def transfer_mixture(normalized: np.ndarray, tried: np.ndarray, values: np.ndarray,
                     settings: TransferSettings = TransferSettings()) -> tuple[np.ndarray, float]:
    """``(mixture, lam)``: the re-weighted known datasets' score of every config (columns of
    ``normalized``; NaN where no weighted dataset evaluated it) and the weight ``lam`` it gets against
    the fixed prior (0 with fewer than two results or no comparable pair). Arguments as
    :func:`adapted_prior`."""
    tried = np.asarray(tried, dtype=int)
    values = np.asarray(values, dtype=float)
    nothing = np.full(normalized.shape[1] if normalized.ndim == 2 else 0, np.nan), 0.0
    if not settings.enabled or len(tried) < 2 or not len(normalized):
        return nothing
    if len(tried) > settings.max_observations:
        best = np.argsort(-np.where(np.isfinite(values), values, -np.inf), kind="stable")[: settings.max_observations]
        tried, values = tried[best], values[best]
    tau, pairs = ranking_agreement(normalized[:, tried], values)
    if pairs == 0:
        return nothing
    w = dataset_weights(tau, pairs, settings)
    finite = np.isfinite(normalized)
    mass = w @ finite
    mixture = np.where(mass > 0, (w @ np.where(finite, normalized, 0.0)) / np.maximum(mass, 1e-12), np.nan)
    return mixture, pairs / (pairs + settings.pairs_half)


def adapted_prior(prior_mean: np.ndarray, normalized: np.ndarray, tried: np.ndarray, values: np.ndarray,
                  settings: TransferSettings = TransferSettings()) -> np.ndarray:
    """The re-weighted prior mean of every known config (columns of ``normalized``).

    Args:
        prior_mean: the meta-model's prior mean of each config (its ``predict(...)["mean"]``).
        normalized: known datasets x configs, normalized scores (NaN = not evaluated).
        tried: column of each tried config in ``normalized`` (its own or its per-dataset nearest).
        values: the study's result of each tried config (higher is better, NaN = failed).
    """
    prior = np.asarray(prior_mean, dtype=float)
    mixture, lam = transfer_mixture(normalized, tried, values, settings)
    if lam == 0.0:
        return prior
    return (1 - lam) * prior + lam * np.where(np.isfinite(mixture), mixture, prior)
