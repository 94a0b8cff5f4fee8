"""Model selection: which family the first recommendation comes from.

The question is the benchmark's: a family is *good* on a dataset when its best configuration reaches
within :data:`TOLERANCE` (1 %, relative) of the best family's best score on the metric (for a loss:
at most 1 % above the best loss). Several families are often good on one dataset (ties), so the
selector does not predict "the" best family: it estimates, for each family, the probability that it
is good on the new dataset; with ``Settings.select_family`` the first recommendation comes from the
most probable one (off by default: it costs the first recommendation's score more than it gains in
model selection, see :class:`autometa.metamodel.Settings`).

The estimate (design ``knn-vote``) is a vote of the nearest known datasets (L1 distance between
scaled meta-features, inverse-distance weights as in :meth:`MetaModel.neighbors`), shrunk towards the
family's share of good datasets over the whole knowledge base (``prior``)::

    p(f) = (k * sum_i w_i good_i(f) + m * prior(f)) / (k + m)        (weights w_i sum to 1)

Chosen under leave-one-dataset-out (duplicate groups held out together) against a per-family LightGBM
classifier, the meta-model's own predicted scores (best predicted config per family), the greedy
portfolio's first pick and the prior alone: see ``benchmarks/modelselection.py`` and
``benchmarks/results/modelselection_kb.md``. Most of the remaining misses are noise: with 3-fold
cross-validation on a few hundred rows the best family's margin is often below the score's standard
error, so the set of good families itself changes between folds (the benchmark reports that floor).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from autometa.metamodel._features import COMPACT_METAFEATURES, MetaFeatureScaler
from autometa.metamodel._training import TrainingData, higher_is_better

#: Relative tolerance of "within 1 % of the best family".
TOLERANCE = 0.01


@dataclass(frozen=True)
class FamilyTable:
    """Per dataset and family: the family's best score and whether it is good (see the module docstring).

    Attributes:
        families: column order.
        best: datasets x families, the family's best raw score in the metric's own direction
            (``-inf`` when every config of it failed, NaN when none was evaluated).
        good: datasets x families, 1.0 good, 0.0 not good, NaN not evaluated.
        complete: datasets whose every family was evaluated.
    """

    families: list[str]
    best: pd.DataFrame
    good: pd.DataFrame

    @property
    def complete(self) -> list[str]:
        return list(self.good.index[self.good.notna().all(axis=1)])


def family_table(data: TrainingData, tolerance: float = TOLERANCE) -> FamilyTable:
    """The :class:`FamilyTable` of a knowledge base's training tables."""
    families = sorted(set(data.candidates["family"]))
    fam = data.candidates["family"].to_numpy()
    raw = data.scores.to_numpy(dtype=float)
    evaluated = np.isfinite(data.normalized.to_numpy(dtype=float))  # failures count as evaluated (worth 0)
    up = higher_is_better(data.metric)
    best = np.full((len(data), len(families)), np.nan)
    for j, f in enumerate(families):
        cols = fam == f
        r = np.where(np.isfinite(raw[:, cols]), raw[:, cols] if up else -raw[:, cols], -np.inf)
        best[:, j] = np.where(evaluated[:, cols].any(axis=1), r.max(axis=1), np.nan)
    good = good_families(best, tolerance)
    index = pd.Index(data.dataset_ids, name="dataset_id")
    return FamilyTable(families, pd.DataFrame(best, index=index, columns=families),
                       pd.DataFrame(good, index=index, columns=families))


def good_families(best: np.ndarray, tolerance: float = TOLERANCE) -> np.ndarray:
    """Good (1.0) / not good (0.0) / not evaluated (NaN) from best scores in the higher-is-better direction.

    The tolerance is relative to the best score's magnitude: ``best - tolerance * |best|`` (for a loss,
    stored negated, that is 1 % above the best loss).
    """
    best = np.asarray(best, dtype=float)
    finite = np.where(np.isfinite(best), best, -np.inf)
    top = finite.max(axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):
        good = (finite >= top - tolerance * np.abs(top)) & np.isfinite(top)
    return np.where(np.isnan(best), np.nan, good.astype(float))


@dataclass(frozen=True)
class SelectorSettings:
    """``k`` nearest datasets, prior weight ``m`` and the meta-feature set (``"all"`` or ``"compact"``)."""

    k: int = 10
    prior_weight: float = 2.0
    metafeatures: str = "all"

    def to_dict(self) -> dict[str, Any]:
        return {"k": self.k, "prior_weight": self.prior_weight, "metafeatures": self.metafeatures}


class FamilySelector:
    """Probability that each family is good on a new dataset (see the module docstring)."""

    def __init__(self, settings: SelectorSettings | None = None) -> None:
        self.settings = settings or SelectorSettings()
        self.families: list[str] = []
        self.dataset_ids: list[str] = []
        self.scaler = MetaFeatureScaler()
        self.Z = np.zeros((0, 0))
        self.good = np.zeros((0, 0))
        self.prior = np.zeros(0)

    def fit(self, data: TrainingData, table: FamilyTable | None = None) -> FamilySelector:
        """Fit on the datasets of ``data`` on which at least two families were evaluated."""
        table = table or family_table(data)
        keep = table.good.notna().sum(axis=1) >= 2
        ids = list(table.good.index[keep])
        names = None if self.settings.metafeatures == "all" else list(COMPACT_METAFEATURES)
        self.families = list(table.families)
        self.dataset_ids = [str(d) for d in ids]
        self.scaler = MetaFeatureScaler().fit(data.metafeatures.loc[ids], names)
        self.Z = self.scaler.transform(data.metafeatures.loc[ids])
        self.good = table.good.loc[ids].to_numpy(dtype=float)
        self.prior = _shares(self.good, np.ones(len(ids)))
        return self

    def predict(self, metafeatures: Mapping[str, float], exclude: Sequence[str] = ()) -> pd.Series:
        """P(family is good) for each family, highest first; known datasets in ``exclude`` do not vote."""
        k, m = self.settings.k, self.settings.prior_weight
        if not len(self.Z):
            return pd.Series(dtype=float)
        z = self.scaler.transform(metafeatures)[0]
        distance = np.abs(self.Z - z).sum(axis=1) / max(len(z), 1)
        skip = set(exclude)
        order = np.array([i for i in np.argsort(distance, kind="stable") if self.dataset_ids[i] not in skip][:k],
                         dtype=int)
        d = distance[order]
        w = 1.0 / (d + max(float(np.median(d)), 1e-6) * 0.25)
        vote = _shares(self.good[order], w)
        p = (len(order) * vote + m * self.prior) / (len(order) + m)
        # A family no neighbour ran keeps its prior; the prior breaks exact ties.
        p = np.where(np.isfinite(vote), p, self.prior) + 1e-9 * self.prior
        return pd.Series(p, index=self.families).sort_values(ascending=False, kind="stable")

    def choose(self, metafeatures: Mapping[str, float], allowed: Sequence[str] | None = None,
               exclude: Sequence[str] = ()) -> str | None:
        """The most probable good family among ``allowed`` (default: all); None if none is known."""
        p = self.predict(metafeatures, exclude)
        if allowed is not None:
            p = p[p.index.isin(list(allowed))]
        return str(p.index[0]) if len(p) else None

    def to_dict(self) -> dict[str, Any]:
        """Settings, families and scaling (JSON); the datasets' rows are in :meth:`table`."""
        return {"settings": self.settings.to_dict(), "families": self.families, "scaler": self.scaler.to_dict()}

    def table(self) -> pd.DataFrame:
        """One row per known dataset: ``dataset_id``, scaled meta-features ``z.*`` and ``good.*`` per family."""
        return pd.DataFrame({"dataset_id": self.dataset_ids,
                             **{f"z.{n}": self.Z[:, j] for j, n in enumerate(self.scaler.names)},
                             **{f"good.{f}": self.good[:, j] for j, f in enumerate(self.families)}})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], table: pd.DataFrame) -> FamilySelector:
        """Rebuild from :meth:`to_dict` and :meth:`table`."""
        self = cls(SelectorSettings(**data["settings"]))
        self.families = [str(f) for f in data["families"]]
        self.scaler = MetaFeatureScaler.from_dict(data["scaler"])
        self.dataset_ids = table["dataset_id"].astype(str).tolist()
        self.Z = table[[f"z.{n}" for n in self.scaler.names]].to_numpy(dtype=float).reshape(-1, len(self.scaler.names))
        self.good = table[[f"good.{f}" for f in self.families]].to_numpy(dtype=float).reshape(-1, len(self.families))
        self.prior = _shares(self.good, np.ones(len(self.good)))
        return self


def _shares(good: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted share of good datasets per family, over the datasets that evaluated it (NaN if none)."""
    known = np.isfinite(good)
    w = np.where(known, np.asarray(weights, dtype=float)[:, None], 0.0)
    total = w.sum(axis=0)
    return np.where(total > 0, (w * np.nan_to_num(good)).sum(axis=0) / np.maximum(total, 1e-12), np.nan)


def lgbm_family_scores(X_train: np.ndarray, target: np.ndarray, X_new: np.ndarray, objective: str,
                       seed: int = 0, num_boost_round: int = 100) -> np.ndarray:
    """A per-family predictor for comparison (not the shipped design): one LightGBM model over raw
    meta-features + a family code, fitted on datasets x families targets (NaN rows skipped).

    ``objective`` ``"binary"`` predicts P(good); ``"regression"`` a score (e.g. the family's normalized
    best); ``"lambdarank"`` a pairwise ranking of the families of each dataset (``target``: graded
    relevance, e.g. 2 = best family, 1 = good, 0 = not good). Returns new datasets x families scores.
    """
    import lightgbm as lgb

    n_fam = target.shape[1]

    def rows(X: np.ndarray) -> np.ndarray:
        return np.hstack([np.repeat(X, n_fam, axis=0), np.tile(np.arange(n_fam), len(X))[:, None]])

    Xr, y = rows(X_train), target.reshape(-1)
    keep = np.isfinite(y)
    params = {"objective": objective, "learning_rate": 0.05, "num_leaves": 7, "min_data_in_leaf": 10,
              "feature_fraction": 0.7, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0, "max_bin": 63,
              "verbose": -1, "seed": seed, "num_threads": 1, "deterministic": True, "force_row_wise": True}
    group = None
    if objective == "lambdarank":
        group = keep.reshape(-1, n_fam).sum(axis=1)
        group = group[group > 0]
        params["label_gain"] = [0.0, 1.0, 3.0]
    train = lgb.Dataset(Xr[keep], y[keep], group=group, categorical_feature=[Xr.shape[1] - 1],
                        params={"verbose": -1, "max_bin": 63})
    booster = lgb.train(params, train, num_boost_round=num_boost_round)
    return booster.predict(rows(X_new)).reshape(len(X_new), n_fam)
