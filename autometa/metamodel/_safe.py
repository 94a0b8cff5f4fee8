"""The first recommendation: a config that beats the library default on datasets like this one.

A user's first trial is judged against what they get for free, LightGBM's default. The pick that wins
most often is not the config with the best mean normalized score over the nearest datasets: a mean is
pulled up by a few datasets where a config is far better and hides the many where it is a little
worse. Under leave-one-origin-group-out (``benchmarks/firstpick.py``, 270 held-out datasets in 103
origin groups) choosing by the **share of similar datasets on which a config beats the default**,
shrunk towards its share over all datasets, beat the default on 60 % of datasets (66 % of groups) at
a mean normalized score of 0.889, where the shipped blend's first pick beat it on fewer, and the best
mean over the nearest 10-20 datasets on 53-55 %.

    win(c) = (k * local_share(c) + m * global_share(c)) / (k + m)

``local_share`` is over the ``k`` nearest training datasets (L1 distance of scaled meta-features, as
everywhere in the meta-model), ``global_share`` over all of them; ties go to the higher mean
normalized score over the neighbours. "Beats" is a strictly higher normalized score on that dataset
than the reference default's, which is LightGBM's default, or the first default of
:data:`DEFAULT_REFERENCE` that the allowed families hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: The default configs a first pick must beat, in order of preference (the first one allowed is used).
DEFAULT_REFERENCE: tuple[str, ...] = ("lightgbm", "hist_gradient_boosting", "random_forest", "extra_trees",
                                      "svm", "linear", "knn")


def reference_default(model: Any, allowed: np.ndarray) -> int | None:
    """Position of the default config to beat among ``allowed`` candidates, or None."""
    family = model.candidates["family"].to_numpy()
    config_id = model.candidates["config_id"].to_numpy()
    for name in DEFAULT_REFERENCE:
        hit = np.flatnonzero((family == name) & (config_id == "default") & allowed)
        if len(hit):
            return int(hit[0])
    return None


def win_shares(normalized: np.ndarray, reference: int) -> np.ndarray:
    """datasets x candidates: 1 where the candidate beats the reference on that dataset, 0 where not,
    NaN where either was not evaluated."""
    ref = normalized[:, [reference]]
    known = np.isfinite(normalized) & np.isfinite(ref)
    return np.where(known, (np.nan_to_num(normalized) > np.nan_to_num(ref) + 1e-12).astype(float), np.nan)


def safe_first_pick(model: Any, metafeatures: Mapping[str, float], *, eligible: np.ndarray | None = None,
                    exclude_datasets: Sequence[str] = ()) -> int:
    """Position (in ``model.candidates``) of the first recommendation (see the module docstring).

    Args:
        model: a fitted :class:`~autometa.metamodel.MetaModel`.
        metafeatures: the new dataset's meta-features.
        eligible: candidates that may be picked (default: all).
        exclude_datasets: known datasets to ignore (benchmarks: the held-out dataset's group).
    """
    settings = model.settings
    allowed = np.ones(len(model.candidates), dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool)
    if not allowed.any():
        raise ValueError("no eligible candidate")
    excluded = set(exclude_datasets)
    keep = np.array([d not in excluded for d in model.dataset_ids], dtype=bool)
    near = model.neighbors(metafeatures, k=settings.safe_k, exclude=exclude_datasets)["index"].to_numpy(dtype=int)
    with np.errstate(invalid="ignore"):
        mean_near = _nanmean(model.normalized[near])
        reference = reference_default(model, allowed)
        if reference is None or not keep.any():
            score = np.nan_to_num(mean_near, nan=-1.0)
        else:
            wins = win_shares(model.normalized, reference)
            k, m = float(len(near)), float(settings.safe_prior)
            share = (k * np.nan_to_num(_nanmean(wins[near])) + m * np.nan_to_num(_nanmean(wins[keep]))) / max(k + m, 1e-12)
            score = share + 1e-6 * np.nan_to_num(mean_near)
    score = np.where(allowed, score, -np.inf)
    return int(np.argmax(score))


def _nanmean(matrix: np.ndarray) -> np.ndarray:
    finite = np.isfinite(matrix)
    count = finite.sum(axis=0)
    return np.where(count > 0, np.where(finite, matrix, 0.0).sum(axis=0) / np.maximum(count, 1), np.nan)
