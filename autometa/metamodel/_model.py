"""The :class:`MetaModel`: predicted scores of (family, config) on a new dataset, and its nearest datasets.

It combines three learners, all fitted on a knowledge base's :class:`TrainingData`:

- a **surrogate** (:class:`Surrogate`, LightGBM over meta-features + family + config): scores any
  config, including ones never evaluated;
- the **nearest datasets** (auto-sklearn's warm start): L1 distance between scaled meta-features;
  the neighbours' observed normalized scores of the knowledge base's configs;
- **greedy portfolios** (auto-sklearn 2.0 / TabRepo) over scenarios, which turn predictions into a
  short, diverse list;
- a **family selector** (:class:`~autometa.metamodel._select.FamilySelector`): the probability that
  each family is within 1 % of the best one (model selection), a vote of the nearest datasets; it
  opens the list only with ``Settings.select_family`` (off by default, see there).

Designs (compared under leave-one-dataset-out by :mod:`benchmarks.lodo`):

``portfolio``  one zero-shot list for every dataset (greedy over all training datasets);
``knn``        auto-sklearn 1.0: the best config of each nearest dataset, nearest first;
``knn-avg``    configs by their mean normalized score over the nearest datasets;
``surrogate``  configs by the surrogate's prediction;
``blend``      greedy portfolio over the nearest datasets' scores blended with the surrogate's
               prediction: ``(1 - alpha) * neighbour score + alpha * surrogate``; with
               ``select_family`` its first pick is the greedy's best config of the family the
               selector finds most likely good, and the greedy continues from it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from autometa.metamodel._features import COMPACT_METAFEATURES, ConfigEncoder, MetaFeatureScaler
from autometa.metamodel._portfolio import greedy_portfolio
from autometa.metamodel._safe import safe_first_pick
from autometa.metamodel._select import FamilySelector
from autometa.metamodel._surrogate import Surrogate
from autometa.metamodel._training import TrainingData

DESIGNS: tuple[str, ...] = ("portfolio", "knn", "knn-avg", "surrogate", "blend")
# How fit time grows with rows beyond the protocol's row cap, per family (rough, documented exponents:
# kernel SVMs are about quadratic, the others about linear or n log n).
_TIME_EXPONENT = {"svm": 2.0}
# Prior variance of a normalized score when no neighbour informs it (a standard deviation of 0.2).
_UNKNOWN_VAR = 0.04


@dataclass(frozen=True)
class Settings:
    """Hyperparameters of the meta-model (chosen under leave-one-dataset-out; see the benchmark).

    Attributes:
        design: the ranking design (one of :data:`DESIGNS`).
        k: number of nearest datasets.
        alpha: weight of the surrogate in the ``blend`` design (and in blended predictions).
        n_models: surrogate ensemble members.
        num_boost_round: trees per surrogate member.
        metafeatures: ``"compact"`` (:data:`COMPACT_METAFEATURES`) or ``"all"`` (every one the
            knowledge base has).
        std_scale: factor on the predicted standard deviation, so that about 68 % of true scores fall
            within one of it under leave-one-dataset-out (the raw spread is too narrow).
        select_family: the ``blend`` list opens with the family selector's family. Off by default:
            under leave-one-dataset-out it raised the share of datasets whose first recommendation's
            family is within 1 % of the best family from 47 % to 51 % (not significant), but lowered
            the first recommendation's mean normalized score from 0.897 to 0.874 (2.3 standard
            errors): the greedy's unconstrained first pick is the better config
            (benchmarks/results/modelselection_kb.md).
        first_pick: how the ``blend`` list opens: ``"safe"`` (:func:`autometa.metamodel.safe_first_pick`:
            the config that beats LightGBM's default on most similar datasets), ``"blend"`` (the
            greedy's own first pick) or ``"auto"``: safe for classification, blend for regression, as
            leave-one-origin-group-out found them (benchmarks/results/firstpick.md: classification
            0.861 vs 0.854 normalized, 61 % vs 60 % of datasets beating LightGBM's default; regression
            0.936 vs 0.950, 55 % vs 63 %).
        safe_k: similar datasets behind the safe first pick.
        safe_prior: weight of the share over all datasets in the safe first pick (in datasets).
    """

    design: str = "blend"
    k: int = 5
    alpha: float = 0.25
    n_models: int = 5
    num_boost_round: int = 200
    metafeatures: str = "compact"
    std_scale: float = 1.6
    select_family: bool = False
    first_pick: str = "auto"
    safe_k: int = 40
    safe_prior: float = 10.0

    def to_dict(self) -> dict[str, Any]:
        return {"design": self.design, "k": self.k, "alpha": self.alpha, "n_models": self.n_models,
                "num_boost_round": self.num_boost_round, "metafeatures": self.metafeatures,
                "std_scale": self.std_scale, "select_family": self.select_family, "first_pick": self.first_pick,
                "safe_k": self.safe_k, "safe_prior": self.safe_prior}


class MetaModel:
    """Fitted meta-model of one task and metric; build it with :meth:`fit` (or load it from a cache)."""

    def __init__(self) -> None:
        self.task = ""
        self.metric = ""
        self.settings = Settings()
        self.scaler = MetaFeatureScaler()
        self.encoder = ConfigEncoder()
        self.surrogate: Surrogate | None = None
        self.time_model: Surrogate | None = None
        self.selector: FamilySelector | None = None
        self.candidates = pd.DataFrame()
        self.dataset_ids: list[str] = []
        self.dataset_names: list[str] = []
        self.Z = np.zeros((0, 0))
        self.normalized = np.zeros((0, 0))
        self.row_cap = 0

    # ----------------------------------------------------------------- fitting
    @classmethod
    def fit(cls, data: TrainingData, settings: Settings | None = None, *, seed: int = 0,
            n_jobs: int = 1, time_model: bool = True) -> MetaModel:
        """Fit every part on ``data``."""
        self = cls()
        self.task, self.metric = data.task, data.metric
        self.settings = settings or Settings()
        names = None if self.settings.metafeatures == "all" else list(COMPACT_METAFEATURES)
        self.scaler = MetaFeatureScaler().fit(data.metafeatures, names)
        families = sorted(set(data.candidates["family"]))
        self.encoder = ConfigEncoder(families)
        self.candidates = data.candidates[["family", "config_id", "config"]].copy()
        self.dataset_ids = list(data.dataset_ids)
        self.dataset_names = [str(n) for n in data.names.reindex(self.dataset_ids).fillna("")]
        self.Z = self.scaler.transform(data.metafeatures.loc[self.dataset_ids])
        self.normalized = data.normalized.loc[self.dataset_ids, list(self.candidates.index)].to_numpy(dtype=float)
        self.row_cap = int(np.nanmax(data.n_rows_used.to_numpy())) if len(data) else 0

        mf_raw = self.scaler.raw(data.metafeatures.loc[self.dataset_ids])
        enc = self._encode_candidates()
        rows, cols = np.nonzero(np.isfinite(self.normalized))
        X = np.hstack([mf_raw[rows], enc[cols]])
        n_mf = mf_raw.shape[1]
        self.surrogate = Surrogate(self.settings.n_models, self.settings.num_boost_round, seed=seed,
                                   n_jobs=n_jobs).fit(X, self.normalized[rows, cols], rows, categorical=[n_mf])
        self.selector = FamilySelector().fit(data)
        if time_model:
            fit = data.fit_seconds.loc[self.dataset_ids, list(self.candidates.index)].to_numpy(dtype=float)
            rows, cols = np.nonzero(np.isfinite(fit) & (fit > 0))
            if len(rows) >= 20:
                log_n = np.log(data.n_rows_used.loc[self.dataset_ids].to_numpy(dtype=float))[rows, None]
                X = np.hstack([log_n, mf_raw[rows], enc[cols]])
                self.time_model = Surrogate(1, 100, seed=seed, n_jobs=n_jobs).fit(
                    X, np.log(fit[rows, cols]), rows, categorical=[1 + n_mf])
        return self

    def _encode_candidates(self, candidates: pd.DataFrame | None = None) -> np.ndarray:
        """The candidates' encoding; the model's own candidates are encoded once (a recommendation
        predicts scores and fit seconds from the same rows: three encodings before, about 0.02 s each)."""
        if candidates is not None and candidates is not self.candidates:
            return self.encoder.encode(list(candidates["family"]), list(candidates["config"]))
        cached = getattr(self, "_encoded", None)
        if cached is None or cached[0] is not self.candidates or cached[1] is not self.encoder:
            encoded = self.encoder.encode(list(self.candidates["family"]), list(self.candidates["config"]))
            encoded.flags.writeable = False  # shared by every call: callers stack it into new arrays
            cached = self._encoded = (self.candidates, self.encoder, encoded)
        return cached[2]

    # -------------------------------------------------------------- prediction
    def neighbors(self, metafeatures: Mapping[str, float], k: int | None = None,
                  exclude: Sequence[str] = ()) -> pd.DataFrame:
        """The ``k`` nearest known datasets: dataset_id, name, distance (L1, scaled) and weight."""
        k = k or self.settings.k
        z = self.scaler.transform(metafeatures)[0]
        distance = np.abs(self.Z - z).sum(axis=1) / max(len(z), 1)
        order = [i for i in np.argsort(distance, kind="stable") if self.dataset_ids[i] not in set(exclude)][:k]
        d = distance[order]
        # Inverse-distance weights, softened so that one near-duplicate does not take all the weight.
        weight = 1.0 / (d + max(float(np.median(d)) if len(d) else 1.0, 1e-6) * 0.25)
        return pd.DataFrame({"index": order, "dataset_id": [self.dataset_ids[i] for i in order],
                             "name": [self.dataset_names[i] for i in order], "distance": d,
                             "weight": weight / weight.sum() if len(d) else weight})

    def predict(self, metafeatures: Mapping[str, float], candidates: pd.DataFrame | None = None,
                *, neighbors: pd.DataFrame | None = None, encoded: np.ndarray | None = None) -> pd.DataFrame:
        """Predicted normalized score of each candidate on a dataset with these meta-features.

        Args:
            metafeatures: the dataset's meta-features (name -> value).
            candidates: rows with ``family`` and ``config`` (a dict) columns, indexed by key; default:
                the knowledge base's configs. Keys found in the knowledge base also get the nearest
                datasets' observed scores.
            neighbors: the nearest datasets (:meth:`neighbors`), when known already.
            encoded: the candidates' encoding (``encoder.encode(families, configs)``, no task), when
                known already.

        Returns:
            A DataFrame indexed like ``candidates``: ``mean`` and ``std`` (the blended prediction),
            ``surrogate_mean``, ``surrogate_std``, ``knn_mean``, ``knn_std`` (NaN for configs the
            knowledge base never evaluated) and ``knn_support`` (the neighbours' weight behind it).
        """
        cands = self.candidates if candidates is None else candidates
        mf_raw = self.scaler.raw(metafeatures)
        X = np.hstack([np.repeat(mf_raw, len(cands), axis=0),
                       self._encode_candidates(cands) if encoded is None else encoded])
        s_mean, s_std = self.surrogate.predict(X)
        nb = self.neighbors(metafeatures) if neighbors is None else neighbors
        k_mean, k_std, support = self._neighbor_scores(nb, list(cands.index))
        alpha = self.settings.alpha
        known = np.isfinite(k_mean)
        mean = np.where(known, alpha * s_mean + (1 - alpha) * np.nan_to_num(k_mean), s_mean)
        # Variance: the surrogate ensemble's spread, half the neighbours' spread of scores (a config
        # unknown to the KB gets their typical spread) and the disagreement of the two learners.
        k_var = np.nan_to_num(k_std) ** 2
        typical = float(k_var[known].mean()) if known.any() else _UNKNOWN_VAR
        spread = np.where(known, s_mean - np.nan_to_num(k_mean), 0.0)
        std = self.settings.std_scale * np.sqrt(s_std ** 2 + 0.5 * np.where(known, k_var, typical) + 0.25 * spread ** 2)
        return pd.DataFrame({"mean": mean, "std": std, "surrogate_mean": s_mean, "surrogate_std": s_std,
                             "knn_mean": k_mean, "knn_std": k_std, "knn_support": support}, index=cands.index)

    def _neighbor_scores(self, nb: pd.DataFrame, keys: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        position = {k: i for i, k in enumerate(self.candidates.index)}
        cols = np.array([position.get(k, -1) for k in keys], dtype=int)
        mean = np.full(len(keys), np.nan)
        std = np.full(len(keys), np.nan)
        support = np.zeros(len(keys))
        if not len(nb):
            return mean, std, support
        rows = nb["index"].to_numpy(dtype=int)
        w = nb["weight"].to_numpy(dtype=float)
        valid = cols >= 0
        S = self.normalized[np.ix_(rows, cols[valid])]
        W = np.where(np.isfinite(S), w[:, None], 0.0)
        total = W.sum(axis=0)
        m = np.where(total > 0, (W * np.nan_to_num(S)).sum(axis=0) / np.maximum(total, 1e-12), np.nan)
        v = np.where(total > 0, (W * (np.nan_to_num(S) - np.nan_to_num(m)) ** 2).sum(axis=0) / np.maximum(total, 1e-12),
                     np.nan)
        mean[valid], std[valid], support[valid] = m, np.sqrt(v), total
        return mean, std, support

    def predict_fit_seconds(self, metafeatures: Mapping[str, float], candidates: pd.DataFrame | None = None,
                            n_rows: int | None = None) -> np.ndarray:
        """Predicted fit seconds of one fit on ``n_rows`` rows (default: the protocol's capped rows).

        The time model knows sizes up to the knowledge base's row cap; beyond it the time is
        extrapolated linearly in rows (quadratically for kernel SVMs), a rough guide only.
        """
        cands = self.candidates if candidates is None else candidates
        if self.time_model is None:
            return np.full(len(cands), np.nan)
        rows = float(metafeatures.get("NumberOfInstances", n_rows or self.row_cap) or self.row_cap)
        used = min(rows, float(self.row_cap or rows))
        mf_raw = self.scaler.raw(metafeatures)
        X = np.hstack([np.full((len(cands), 1), math.log(max(used, 2.0))), np.repeat(mf_raw, len(cands), axis=0),
                       self._encode_candidates(cands)])
        seconds, _ = self.time_model.predict(X)
        seconds = np.exp(seconds)
        if n_rows is not None and n_rows > used:
            exponent = np.array([_TIME_EXPONENT.get(f, 1.0) for f in cands["family"]])
            seconds = seconds * (n_rows / used) ** exponent
        return seconds

    # ----------------------------------------------------------------- ranking
    def rank(self, metafeatures: Mapping[str, float], n: int, *, design: str | None = None,
             eligible: np.ndarray | None = None, exclude_datasets: Sequence[str] = (),
             prediction: pd.DataFrame | None = None) -> list[int]:
        """Positions (in :attr:`candidates`) of the ``n`` configs to try first, best first."""
        design = design or self.settings.design
        allowed = np.ones(len(self.candidates), dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool)
        if design == "portfolio":
            keep = [i for i, d in enumerate(self.dataset_ids) if d not in set(exclude_datasets)]
            # Datasets with every eligible config evaluated, when there are some: a config that is
            # missing on a dataset would otherwise count as its worst.
            complete = [i for i in keep if np.isfinite(self.normalized[i, allowed]).all()]
            keep = complete if len(complete) >= 5 else keep
            return greedy_portfolio(self.normalized[keep], n, eligible=allowed,
                                    tie_break=_column_mean(self.normalized[keep]))
        nb = self.neighbors(metafeatures, exclude=exclude_datasets)
        rows = nb["index"].to_numpy(dtype=int)
        w = nb["weight"].to_numpy(dtype=float)
        if design == "knn":
            chosen: list[int] = []
            for r in rows:
                scores = np.where(allowed, np.nan_to_num(self.normalized[r], nan=-1.0), -np.inf)
                for c in np.argsort(-scores, kind="stable"):
                    if c not in chosen and np.isfinite(scores[c]):
                        chosen.append(int(c))
                        break
                if len(chosen) >= n:
                    break
            # Fewer neighbours than n: fill up by the mean over the neighbours.
            fill = _column_mean(self.normalized[rows])
            for c in np.argsort(-np.nan_to_num(fill, nan=-1.0), kind="stable"):
                if len(chosen) >= n:
                    break
                if allowed[c] and c not in chosen:
                    chosen.append(int(c))
            return chosen
        pred = self.predict(metafeatures, neighbors=nb) if prediction is None else prediction
        if design == "knn-avg":
            order = np.argsort(-np.where(allowed, np.nan_to_num(pred["knn_mean"].to_numpy(), nan=-1.0), -np.inf),
                               kind="stable")
            return [int(c) for c in order[: min(n, int(allowed.sum()))]]
        if design == "surrogate":
            order = np.argsort(-np.where(allowed, pred["surrogate_mean"].to_numpy(), -np.inf), kind="stable")
            return [int(c) for c in order[: min(n, int(allowed.sum()))]]
        if design == "blend":
            alpha = self.settings.alpha
            s_mean = pred["surrogate_mean"].to_numpy()
            # A config a neighbour never ran is filled in by the surrogate's prediction.
            observed = np.where(np.isfinite(self.normalized[rows]), self.normalized[rows], s_mean)
            S = (1 - alpha) * observed + alpha * s_mean
            start = (self._first_of_family(metafeatures, S, w, allowed, pred["mean"].to_numpy(), exclude_datasets)
                     if n else [])
            if n and not start and self._safe_first() and allowed.any():
                start = [safe_first_pick(self, metafeatures, eligible=allowed, exclude_datasets=exclude_datasets)]
            return greedy_portfolio(S, n, weights=w, eligible=allowed, tie_break=pred["mean"].to_numpy(), start=start)
        raise ValueError(f"unknown design {design!r}; choose one of {', '.join(DESIGNS)}")

    def _safe_first(self) -> bool:
        """Whether the ``blend`` list opens with :func:`safe_first_pick` (``Settings.first_pick``)."""
        pick = self.settings.first_pick
        return pick == "safe" or (pick == "auto" and self.task == "classification")

    def _first_of_family(self, metafeatures: Mapping[str, float], S: np.ndarray, w: np.ndarray, allowed: np.ndarray,
                         tie: np.ndarray, exclude: Sequence[str] = ()) -> list[int]:
        """The greedy's first pick within the selector's family ([] when selection is off or impossible)."""
        if not self.settings.select_family or self.selector is None:
            return []
        family_of = self.candidates["family"].to_numpy()
        family = self.selector.choose(metafeatures, allowed=sorted(set(family_of[allowed])), exclude=exclude)
        inside = allowed & (family_of == family)
        if family is None or not inside.any():
            return []
        gain = w @ np.nan_to_num(S, nan=0.0) + 1e-9 * np.nan_to_num(tie)
        return [int(np.flatnonzero(inside)[int(np.argmax(gain[inside]))])]


def _column_mean(matrix: np.ndarray) -> np.ndarray:
    """Mean of each column over its evaluated (finite) entries; NaN for a column with none."""
    finite = np.isfinite(matrix)
    count = finite.sum(axis=0)
    total = np.where(finite, matrix, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)
