"""How far cross-validation noise alone caps the first-pick study's figures (``firstpick.py --ceiling``).

The knowledge base scores every config by 3-fold cross-validation on at most 2,000 rows, so "beats
LightGBM's default" and "the family is within 1 % of the best" are decided by noisy means. The
*in-dataset oracle* shows how much of that is predictable at all: on each dataset it picks the best
config by two of the dataset's own three folds and is scored on the third (each fold in turn). It
knows the dataset's own evaluations, which no first pick does, so its shares are a ceiling for any
first pick on the one-fold scale. Each design's pick is scored on the same one-fold scale and on the
three-fold mean that the study reports, so the two scales can be compared.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.lodo import family_within

DEFAULT_KEY = "lightgbm/default"

FoldTable = dict[str, np.ndarray]  # "family/config_id" -> its 3 fold scores on the task's metric


def _sign(metric: str) -> float:
    """+1 where higher scores are better, -1 for losses."""
    # private on purpose: the harness measures the meta-model's own parts
    from autometa.metamodel._training import higher_is_better

    return 1.0 if higher_is_better(metric) else -1.0


def _matrix(table: FoldTable) -> tuple[list[str], np.ndarray, np.ndarray]:
    keys = list(table)
    return keys, np.stack([table[k] for k in keys]), np.array([k.split("/", 1)[0] for k in keys])


def oracle_shares(tables: dict[str, FoldTable], metric: str) -> tuple[float, float, int]:
    """The in-dataset oracle over datasets x held-out folds: (share beating the default on the held-out
    fold, share whose family is within 1 % there, datasets used). Datasets without the default are skipped."""
    sign = _sign(metric)
    wins, families_ok, used = [], [], 0
    for table in tables.values():
        if DEFAULT_KEY not in table:
            continue
        keys, matrix, families = _matrix(table)
        default = matrix[keys.index(DEFAULT_KEY)]
        used += 1
        for held in range(matrix.shape[1]):
            train = [i for i in range(matrix.shape[1]) if i != held]
            best = int(np.argmax(sign * matrix[:, train].mean(axis=1)))
            wins.append(float(sign * matrix[best, held] > sign * default[held] + 1e-12))
            families_ok.append(family_within(matrix[:, held], families, families[best], metric))
    return (float(np.mean(wins)) if wins else np.nan, float(np.mean(families_ok)) if families_ok else np.nan, used)


def pick_shares(tables: dict[str, FoldTable], picks: dict[str, str], metric: str) -> dict[str, float]:
    """A design's picks (dataset -> "family/config_id") on both scales: beating the default on one fold
    and on the three-fold mean, the family within 1 % on one fold and on the mean."""
    sign = _sign(metric)
    one, three, fam_one, fam_three = [], [], [], []
    for dataset, key in picks.items():
        table = tables.get(dataset, {})
        if key not in table or DEFAULT_KEY not in table:
            continue
        keys, matrix, families = _matrix(table)
        family = key.split("/", 1)[0]
        one.append(float(np.mean(sign * table[key] > sign * table[DEFAULT_KEY] + 1e-12)))
        three.append(float(sign * table[key].mean() > sign * table[DEFAULT_KEY].mean() + 1e-12))
        fam_one.append(float(np.mean([family_within(matrix[:, f], families, family, metric)
                                      for f in range(matrix.shape[1])])))
        fam_three.append(family_within(matrix.mean(axis=1), families, family, metric))

    def mean(values: list[float]) -> float:
        return float(np.mean(values)) if values else np.nan

    return {"one_fold": mean(one), "three_fold_mean": mean(three), "family_one_fold": mean(fam_one),
            "family_three_fold_mean": mean(fam_three), "datasets": len(one)}


def fold_tables(kb, task: str, dataset_ids: set[str]) -> tuple[dict[str, FoldTable], str]:
    """Per dataset, every config's 3 fold scores on the task's metric (the knowledge base's own
    evaluations: protocol version 1, status ok), and that metric."""
    from autometa.metamodel import training_data

    metric = training_data(kb, task, min_coverage=0.5).metric
    ev = kb.evaluations
    ev = ev[(ev["status"] == "ok") & (ev["protocol_version"] == 1) & ev["dataset_id"].isin(dataset_ids)]
    tables: dict[str, FoldTable] = {}
    for dataset, family, config_id, text in zip(ev["dataset_id"], ev["family"], ev["config_id"].astype(str),
                                                ev["fold_scores"], strict=True):
        folds = np.asarray(json.loads(text).get(metric, []), dtype=float)
        if len(folds) == 3 and np.isfinite(folds).all():
            tables.setdefault(str(dataset), {})[f"{family}/{config_id}"] = folds
    return tables, metric


def noise_ceiling(kb_path: Path | None, frame: pd.DataFrame) -> pd.DataFrame:
    """The oracle and every design of a first-pick run (``frame``: firstpick.py's per-dataset rows) on
    the two scales, per task."""
    from autometa.metamodel import load_kb

    kb = load_kb(kb_path)
    rows = []
    for task, part in frame.groupby("task", sort=False):
        tables, metric = fold_tables(kb, task, set(part["dataset_id"]))
        wins, families, used = oracle_shares(tables, metric)
        rows.append({"task": task, "design": "in-dataset oracle (2 of 3 folds)", "one_fold": wins,
                     "three_fold_mean": np.nan, "family_one_fold": families, "family_three_fold_mean": np.nan,
                     "datasets": used})
        for design, picks in part.groupby("design", sort=False):
            rows.append({"task": task, "design": design,
                         **pick_shares(tables, dict(zip(picks["dataset_id"], picks["config"], strict=True)), metric)})
    return pd.DataFrame(rows).round(3)
