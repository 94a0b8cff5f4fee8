"""The AutoML head-to-head's pure parts: the report's wins, ranks and targets, the outer split, the
dataset selection rule (benchmarks/automl.py; the runs themselves are the benchmark, not a test)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from benchmarks import automl


def _table() -> pd.DataFrame:
    # dataset x method, primary test scores (higher is better); NaN = no ok run
    return pd.DataFrame(
        {"autometa":        [0.90, 0.80, 0.70, 0.60, np.nan],
         "autometa+ens":    [0.91, 0.80, 0.69, 0.62, 0.50],
         "autometa-2000":   [0.85, 0.80, np.nan, np.nan, np.nan],
         "flaml":           [0.88, 0.80, 0.75, np.nan, 0.40],
         "optuna-tpe-lgbm": [0.70, 0.70, 0.70, 0.55, 0.45],
         "lgbm-default":    [0.60, 0.60, 0.60, 0.50, 0.30]},
        index=pd.Index(["a", "b", "c", "d", "e"], name="dataset"))


def test_compare_counts_wins_ties_and_a_failed_run_as_a_loss():
    c = automl.compare(_table(), "autometa", "flaml")
    # a: win, b: tie, c: loss, d: flaml failed -> win, e: autometa failed -> loss
    assert (c["n"], c["wins"], c["ties"], c["losses"]) == (5, 2, 1, 2)
    assert c["at_least"] == pytest.approx(3 / 5) and c["beats"] == pytest.approx(2 / 5)
    # c, d: autometa-2000 has no run where autometa has one (losses); e: neither has one (left out)
    missing = automl.compare(_table().loc[["c", "d", "e"]], "autometa-2000", "autometa")
    assert (missing["n"], missing["losses"]) == (2, 2)
    assert automl.compare(_table(), "autometa", "no-such-method")["n"] == 0


def test_mean_ranks_share_ties_and_put_a_failure_last():
    ranks = automl.mean_ranks(_table(), ["autometa", "flaml", "lgbm-default"])
    # a: 1,2,3  b: 1.5,1.5,3  c: 2,1,3  d: 1,3(failed),2  e: 3(failed),1,2
    assert ranks.to_dict() == pytest.approx({"autometa": 8.5 / 5, "flaml": 8.5 / 5, "lgbm-default": 13 / 5})


def test_normalized_scores_are_zero_to_one_per_dataset():
    norm = automl.normalized_scores(_table().loc[["a", "b"]], ["autometa", "flaml", "lgbm-default"])
    # a: (0.9-0.6)/0.3 = 1, (0.88-0.6)/0.3, 0; b: autometa = flaml = 1 (max), lgbm-default 0
    assert norm["autometa"] == pytest.approx(1.0)
    assert norm["flaml"] == pytest.approx((0.28 / 0.3 + 1.0) / 2)
    assert norm["lgbm-default"] == pytest.approx(0.0)
    all_equal = pd.DataFrame({"x": [0.5], "y": [0.5]}, index=["a"])
    assert automl.normalized_scores(all_equal, ["x", "y"]).tolist() == [1.0, 1.0]


def test_headline_states_each_target_met_or_missed():
    lines = automl.headline(_table(), large={"a", "b"})
    text = "\n".join(lines)
    assert "autometa >= FLAML on 3 of 5 datasets (60%" in text and "target 60%): **met**" in text
    assert "ensemble (selection) >= the best single model on 4 of 5" in text  # e: the single model failed
    # full rows vs 2,000 rows on the large datasets only: a win (0.90 > 0.85) and a tie (b): 50% < 70%
    assert "beats the 2,000-row-only search on 1 of 2 (50%; 1 ties, 0 losses; target 70%): **missed**" in text
    assert any(line.startswith("- mean rank, autometa against") for line in lines)


def test_outer_split_is_seeded_stratified_and_keeps_single_row_classes_in_training():
    y = pd.Series(["x"] * 50 + ["y"] * 30 + ["z"] * 19 + ["solo"])
    ds = SimpleNamespace(n_rows=len(y), task="classification", y=y)
    train, test = automl.outer_split(ds, seed=3)
    again = automl.outer_split(ds, seed=3)
    assert np.array_equal(train, again[0]) and np.array_equal(test, again[1])
    assert not np.array_equal(test, automl.outer_split(ds, seed=4)[1])
    assert len(test) == 20 and sorted(np.concatenate([train, test]).tolist()) == list(range(100))
    assert y.iloc[test].value_counts().to_dict() == {"x": 10, "y": 6, "z": 4}
    assert 99 in train
    reg = SimpleNamespace(n_rows=50, task="regression", y=pd.Series(np.arange(50.0)))
    assert len(automl.outer_split(reg, seed=0)[1]) == 10


def test_probabilities_of_a_model_are_aligned_to_the_datasets_classes():
    labels = automl.Labels(["a", "b", "c"])
    proba = labels.proba(np.array([[0.2, 0.8], [0.9, 0.1]]), ["c", "a"])  # a model that never saw "b"
    assert proba.tolist() == [[0.8, 0.0, 0.2], [0.1, 0.0, 0.9]]
    scores = automl.holdout_scores("classification", labels.codes(["a", "c"]), np.array([0, 2]), proba, 3)
    assert scores["balanced_accuracy"] == 1.0
    assert scores["log_loss"] == pytest.approx(-(math.log(0.8) + math.log(0.9)) / 2)
    assert automl.holdout_scores("regression", np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))["r2"] == 1.0


def test_selection_takes_one_dataset_per_origin_group_every_large_group_and_fills_by_rows(tmp_path):
    rows = [("big1", "classification", 50_000, 10, "g1"), ("big1-sibling", "classification", 20_000, 10, "g1"),
            ("huge", "classification", 500_000, 10, "g2"), ("wide", "regression", 5_000, 900, "g3"),
            ("tiny", "classification", 100, 5, "g4"), ("big2", "regression", 30_000, 8, "g5")]
    rows += [(f"c{i}", "classification", 600 + 100 * i, 5, f"gc{i}") for i in range(10)]
    rows += [(f"r{i}", "regression", 700 + 100 * i, 5, f"gr{i}") for i in range(6)]
    for name, *_ in rows:
        (tmp_path / name).mkdir()
    datasets = pd.DataFrame([{"dataset_id": f"pmlb/{n}", "source": "pmlb", "name": n, "task": t, "n_rows": r,
                              "n_features": f, "n_classes": 2 if t == "classification" else pd.NA}
                             for n, t, r, f, _ in rows])
    groups = pd.Series([g for *_, g in rows], index=datasets["dataset_id"])
    kb = SimpleNamespace(datasets=datasets, origin_groups=lambda: groups)
    selection = automl.select_datasets(kb, tmp_path, quota={"classification": 4, "regression": 3})
    names = [d["name"] for d in selection["datasets"]]
    assert "big1" in names and "big1-sibling" not in names  # the group's largest, once
    assert {"huge", "wide", "tiny"}.isdisjoint(names)  # too many rows / features, too few rows
    assert [e["name"] for e in selection["excluded_too_large"]] == ["huge", "wide"]
    # classification: big1 + 3 evenly spaced of c0..c9 (first and last included); regression: big2 + r0, r5
    assert names == ["c0", "c4", "c9", "big1", "r0", "r5", "big2"]
    assert selection["subsets"]["large"] == ["big2", "big1"]  # by rows
    assert next(d for d in selection["datasets"] if d["name"] == "big1")["held_out"] == ["pmlb/big1", "pmlb/big1-sibling"]
