"""The meta-model's training data, taken from a knowledge base for one task and metric.

A :class:`TrainingData` holds, for the datasets of one task that have meta-features:

- ``metafeatures``: datasets x meta-feature table (raw values, the ``mf.`` prefix removed);
- ``candidates``: every (family, config) evaluated under autometa's own protocol (rows with another
  ``protocol_version``, e.g. imported LCDB runs, are not comparable and are left out unless asked for);
- ``scores``: datasets x candidates, the raw metric (NaN where not evaluated or failed);
- ``normalized``: the same, min-max normalized per dataset with :func:`autometa.evaluation.normalize`
  (1 = best observed on that dataset, 0 = worst); a failed, timed-out or out-of-memory evaluation is
  worth 0 (the worst), since recommending a config that fails is the worst advice; NaN = not evaluated;
- ``fit_seconds``: datasets x candidates, mean fit seconds per fold;
- ``n_rows_used``: rows each dataset was evaluated on (after the row cap).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from autometa.errors import InputError
from autometa.metamodel._features import config_key

#: Metrics read from ``fold_scores`` when the evaluations table has no column of that name (LCDB's
#: accuracy), with their direction.
EXTRA_METRICS: dict[str, bool] = {"accuracy": True}


@dataclass
class TrainingData:
    """Datasets x candidates tables of one task and metric (see the module docstring)."""

    task: str
    metric: str
    metafeatures: pd.DataFrame
    candidates: pd.DataFrame  # index: key; columns family, config_id, config (dict), coverage
    scores: pd.DataFrame
    normalized: pd.DataFrame
    fit_seconds: pd.DataFrame
    n_rows_used: pd.Series
    names: pd.Series = field(default_factory=lambda: pd.Series(dtype=str))

    @property
    def dataset_ids(self) -> list[str]:
        return list(self.normalized.index)

    def __len__(self) -> int:
        return len(self.normalized)

    def without(self, dataset_ids: str | list[str]) -> TrainingData:
        """A copy without some datasets (leave-one-dataset-out)."""
        drop = [dataset_ids] if isinstance(dataset_ids, str) else list(dataset_ids)
        keep = [d for d in self.dataset_ids if d not in set(drop)]
        return self.subset(keep)

    def subset(self, dataset_ids: list[str]) -> TrainingData:
        return TrainingData(
            task=self.task, metric=self.metric, metafeatures=self.metafeatures.loc[dataset_ids],
            candidates=self.candidates, scores=self.scores.loc[dataset_ids],
            normalized=self.normalized.loc[dataset_ids], fit_seconds=self.fit_seconds.loc[dataset_ids],
            n_rows_used=self.n_rows_used.loc[dataset_ids], names=self.names.reindex(dataset_ids),
        )

    def complete_datasets(self, min_coverage: float = 1.0) -> list[str]:
        """Datasets on which at least ``min_coverage`` of the ranking candidates were evaluated."""
        covered = self.normalized.notna().mean(axis=1)
        return list(covered.index[covered >= min_coverage - 1e-12])


def higher_is_better(metric: str) -> bool:
    from autometa.evaluation import HIGHER_IS_BETTER

    if metric in HIGHER_IS_BETTER:
        return HIGHER_IS_BETTER[metric]
    if metric in EXTRA_METRICS:
        return EXTRA_METRICS[metric]
    raise InputError(f"Unknown metric '{metric}'; choose one of {', '.join([*HIGHER_IS_BETTER, *EXTRA_METRICS])}.")


def normalize_rows(scores: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per-dataset min-max normalization (the project's one definition, :func:`autometa.evaluation.normalize`)."""
    from autometa.evaluation import HIGHER_IS_BETTER, normalize

    if metric in HIGHER_IS_BETTER:
        return normalize(scores, metric)
    # A metric of LCDB that our protocol does not define: same rule, through a metric of the same direction.
    proxy = next(m for m, up in HIGHER_IS_BETTER.items() if up == higher_is_better(metric))
    return normalize(scores, proxy)


def training_data(kb: Any, task: str, metric: str | None = None, *, protocol_version: int | None = None,
                  families: list[str] | None = None, min_coverage: float = 0.5,
                  min_datasets: int = 20) -> TrainingData:
    """Collect the meta-model's training tables from a :class:`~autometa.kb.KnowledgeBase`.

    Args:
        kb: the knowledge base.
        task: ``"classification"`` or ``"regression"``.
        metric: the metric (default: the task's primary metric).
        protocol_version: keep evaluations of this protocol version only (default: the current
            protocol; ``-1`` keeps every version, for imported histories such as LCDB's).
        families: keep only these families (default: all present).
        min_coverage: a candidate is kept when it was evaluated on at least this fraction of the
            datasets (configs of a complete config set are evaluated everywhere), or
        min_datasets: on at least this many datasets (a knowledge base still being built).
    """
    from autometa.evaluation import PRIMARY_METRIC, PROTOCOL_VERSION

    metric = metric or PRIMARY_METRIC[task]
    higher_is_better(metric)  # unknown metric -> InputError
    version = PROTOCOL_VERSION if protocol_version is None else protocol_version
    datasets = kb.datasets
    datasets = datasets[datasets["task"] == task]
    mf_columns = [c for c in datasets.columns if c.startswith("mf.")]
    mf = datasets.set_index("dataset_id")[mf_columns].astype(float)
    mf.columns = [c[3:] for c in mf_columns]
    has_mf = mf.notna().mean(axis=1) >= 0.25 if len(mf_columns) else pd.Series(False, index=mf.index)
    if not has_mf.any():
        raise InputError(f"The knowledge base has no meta-features for its {task} datasets, so nothing can be "
                         "learned from them; compute them with 'autometa kb refresh-metafeatures BUILD_DIR' and export again.")
    mf = mf[has_mf]

    ev = kb.evaluations
    ev = ev[ev["dataset_id"].isin(mf.index)]
    if version >= 0:
        ev = ev[ev["protocol_version"] == version]
    if families:
        ev = ev[ev["family"].isin(families)]
    ev = ev.copy()
    ev["value"] = _metric_values(ev, metric)
    ok = ev["status"] == "ok"
    ev = ev[~ok | ev["value"].notna()]  # an ok row without this metric (another task's) teaches nothing
    ev["key"] = [config_key(f, c) for f, c in zip(ev["family"], ev["config_id"], strict=True)]
    if not len(ev):
        raise InputError(f"The knowledge base has no usable {task} evaluations for metric '{metric}'.")

    n_datasets = ev["dataset_id"].nunique()
    counts = ev.groupby("key")["dataset_id"].nunique()
    coverage = counts / max(n_datasets, 1)
    wanted = (coverage >= min_coverage - 1e-12) | (counts >= min_datasets)
    keys = sorted(coverage.index[wanted], key=_candidate_order)
    ev = ev[ev["key"].isin(keys)]
    first = ev.drop_duplicates("key").set_index("key")
    candidates = pd.DataFrame({
        "family": first.loc[keys, "family"].astype(str),
        "config_id": first.loc[keys, "config_id"].astype(str),
        "config": [json.loads(first.loc[k, "config"] or "{}") for k in keys],
        "coverage": coverage.loc[keys].astype(float),
    }, index=pd.Index(keys, name="key"))

    ids = sorted(set(ev["dataset_id"]))
    scores = ev[ev["status"] == "ok"].pivot(index="dataset_id", columns="key", values="value")
    scores = scores.reindex(index=ids, columns=keys).astype(float)
    failed = _failed_mask(ev, ids, keys)
    normalized = normalize_rows(scores, metric)
    normalized = normalized.mask(failed & normalized.isna(), 0.0)
    fit = ev.pivot(index="dataset_id", columns="key", values="fit_seconds").reindex(index=ids, columns=keys)
    rows = ev.groupby("dataset_id")["n_rows_used"].max().reindex(ids).astype(float)
    names = datasets.set_index("dataset_id")["name"].astype(str).reindex(ids)
    return TrainingData(task=task, metric=metric, metafeatures=mf.loc[ids], candidates=candidates,
                        scores=scores, normalized=normalized, fit_seconds=fit.astype(float),
                        n_rows_used=rows, names=names)


def _metric_values(ev: pd.DataFrame, metric: str) -> pd.Series:
    column = pd.to_numeric(ev[metric], errors="coerce") if metric in ev.columns else None
    if column is not None and (column.notna().all() or metric not in EXTRA_METRICS):
        return column

    def from_folds(text: Any) -> float:
        try:
            values = [v for v in json.loads(text or "{}").get(metric, []) if v is not None]
        except (TypeError, ValueError):
            return math.nan
        values = [float(v) for v in values if math.isfinite(float(v))]
        return float(np.mean(values)) if values else math.nan

    # A metric that only some rows have as a column (LCDB's accuracy in a knowledge base written before
    # the column existed): the fold scores fill in the rest.
    folds = ev["fold_scores"].map(from_folds).astype(float)
    return folds if column is None else column.fillna(folds)


def _failed_mask(ev: pd.DataFrame, ids: list[str], keys: list[str]) -> pd.DataFrame:
    bad = ev[ev["status"] != "ok"]
    mask = pd.DataFrame(False, index=ids, columns=keys)
    for dataset_id, key in zip(bad["dataset_id"], bad["key"], strict=True):
        mask.loc[dataset_id, key] = True
    return mask


def _candidate_order(key: str) -> tuple[str, int, str]:
    family, _, config_id = key.partition("/")
    return (family, 0 if config_id == "default" else 1, config_id)
