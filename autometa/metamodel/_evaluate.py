"""Leave-one-dataset-out evaluation of meta-model designs.

For every held-out dataset the meta-model is refitted without it, asked for its ranking from the
held-out dataset's meta-features only, and the ranking is scored with the held-out dataset's real
(normalized) scores: the best normalized score among the first ``k`` configs (1 = it found the best
config the knowledge base knows for that dataset). Prediction quality (Spearman correlation between
predicted and real normalized scores, and how often the real score lies within one predicted
standard deviation) is recorded too. Model selection: whether the family of the top-ranked config
reaches, with its best config, within 1 % of the best family's best score.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from autometa.metamodel._model import DESIGNS, MetaModel, Settings
from autometa.metamodel._training import TrainingData, higher_is_better

KS: tuple[int, ...] = (1, 3, 5, 10)


def lodo(data: TrainingData, settings: Sequence[Settings] | None = None, *, designs: Sequence[str] = DESIGNS,
         datasets: Sequence[str] | None = None, ks: Sequence[int] = KS, seed: int = 0, n_jobs: int = 1,
         on_dataset: Callable[[int, int, str], None] | None = None) -> pd.DataFrame:
    """Leave-one-dataset-out scores of each (settings, design) on each held-out dataset.

    Args:
        data: the training tables (all datasets).
        settings: meta-model settings to compare (default: the defaults); the ``design`` field is
            ignored: every design in ``designs`` is scored from one fitted model.
        designs: ranking designs to score.
        datasets: held-out datasets (default: those with every candidate evaluated).
        ks: list lengths to score.

    Returns:
        One row per (dataset, settings, design) with columns ``top<k>`` (best normalized score among
        the first k), ``spearman``, ``coverage_1sd``, ``family_ok`` (model selection within 1 %) and
        ``family`` (the recommended one).
    """
    from scipy.stats import spearmanr

    settings = list(settings or [Settings()])
    held_out = list(datasets) if datasets is not None else data.complete_datasets(1.0)
    rows: list[dict[str, Any]] = []
    for i, dataset_id in enumerate(held_out):
        if on_dataset is not None:
            on_dataset(i, len(held_out), dataset_id)
        train = data.without(dataset_id)
        mf = data.metafeatures.loc[dataset_id].to_dict()
        truth = data.normalized.loc[dataset_id].to_numpy(dtype=float)
        raw = data.scores.loc[dataset_id].to_numpy(dtype=float)
        evaluated = np.isfinite(truth)
        fitted: dict[tuple[int, int, str], MetaModel] = {}
        for s_index, s in enumerate(settings):
            # k, alpha and the design do not change what is fitted: one fit serves them all.
            shape = (s.n_models, s.num_boost_round, s.metafeatures)
            if shape not in fitted:
                fitted[shape] = MetaModel.fit(train, s, seed=seed, n_jobs=n_jobs, time_model=False)
            model = fitted[shape]
            model.settings = s
            pred = model.predict(mf)
            ok = evaluated & np.isfinite(pred["mean"].to_numpy())
            rho = spearmanr(pred["mean"].to_numpy()[ok], truth[ok]).statistic if ok.sum() > 2 else np.nan
            inside = np.abs(pred["mean"].to_numpy() - truth) <= pred["std"].to_numpy()
            for design in designs:
                order = model.rank(mf, max(ks), design=design, eligible=evaluated, prediction=pred)
                row = {"dataset_id": dataset_id, "settings": s_index, **{f"s.{k}": v for k, v in s.to_dict().items()},
                       "design": design, "spearman": rho, "coverage_1sd": float(inside[ok].mean()) if ok.any() else np.nan}
                for k in ks:
                    row[f"top{k}"] = float(np.nanmax(truth[order[:k]])) if order else np.nan
                family = str(model.candidates["family"].iloc[order[0]]) if order else ""
                row["family"] = family
                row["family_ok"] = family_within(raw, list(model.candidates["family"]), family, data.metric)
                rows.append(row)
    return pd.DataFrame(rows)


def family_within(raw: np.ndarray, families: Sequence[str], family: str, metric: str, tolerance: float = 0.01) -> float:
    """1.0 if ``family``'s best raw score is within ``tolerance`` (relative) of the best family's, else 0.0.

    For lower-is-better metrics the comparison is on the loss (within 1 % above the best loss).
    NaN when the dataset has no finite score.
    """
    raw = np.asarray(raw, dtype=float)
    fam = np.asarray(families)
    if not np.isfinite(raw).any():
        return np.nan
    up = higher_is_better(metric)
    best = np.nanmax(raw) if up else np.nanmin(raw)
    mine = raw[(fam == family) & np.isfinite(raw)]
    if not len(mine):
        return 0.0
    value = mine.max() if up else mine.min()
    if up:
        return float(value >= best - tolerance * abs(best))
    return float(value <= best + tolerance * abs(best))


def summarize(results: pd.DataFrame, ks: Sequence[int] = KS) -> pd.DataFrame:
    """Mean of each score per (settings, design), with the number of held-out datasets."""
    columns = [f"top{k}" for k in ks if f"top{k}" in results.columns] + ["spearman", "coverage_1sd", "family_ok"]
    keys = [c for c in results.columns if c.startswith("s.")] + ["design"]
    summary = results.groupby(keys, dropna=False)[columns].mean()
    summary["datasets"] = results.groupby(keys, dropna=False)["dataset_id"].nunique()
    return summary.reset_index().sort_values("top1", ascending=False)
