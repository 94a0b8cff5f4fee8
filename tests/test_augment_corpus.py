"""Meta-data augmentation (benchmarks/augment_corpus.py): derived tasks are deterministic per seed, keep
their parent's target and task, and land in their parent's origin group; firstpick keeps them out of
the validation targets."""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_digits

from benchmarks.augment_corpus import MARK, derive, write_task


def _frame(loader) -> pd.DataFrame:
    bunch = loader(as_frame=True)
    return bunch.data.assign(target=bunch.target.to_numpy())


@pytest.fixture(scope="module")
def digits() -> pd.DataFrame:
    return _frame(load_digits)


@pytest.fixture(scope="module")
def diabetes() -> pd.DataFrame:
    return _frame(load_diabetes)


@pytest.mark.parametrize("kind", ["rows", "cols"])
def test_derived_tasks_are_deterministic_per_seed(digits, kind):
    name, a, _ = derive(digits, "classification", "digits", kind, seed=0)
    name_again, b, _ = derive(digits, "classification", "digits", kind, seed=0)
    assert name == name_again and a.equals(b)
    _, c, _ = derive(digits, "classification", "digits", kind, seed=1)
    assert not (a.shape == c.shape and a.equals(c))
    assert name.startswith("digits" + MARK + kind) and name.endswith("-s0")


def test_row_subsample_keeps_every_class_below_the_row_cap(digits):
    name, table, fraction = derive(digits, "classification", "digits", "rows", seed=0)
    assert 300 <= len(table) <= 0.8 * min(len(digits), 2000) and 0.2 <= fraction <= 0.8
    assert list(table.columns) == list(digits.columns)
    assert set(table["target"]) == set(digits["target"])  # the parent's target, every class kept
    # rows are the parent's rows, unchanged
    assert len(table.merge(digits.drop_duplicates(), how="inner")) == len(table.drop_duplicates())


def test_row_subsample_regression_and_too_small_parents(diabetes):
    _, table, _ = derive(diabetes, "regression", "diabetes", "rows", seed=3)
    assert len(table) == 300 and list(table.columns) == list(diabetes.columns)
    assert derive(diabetes.iloc[:200], "regression", "diabetes", "rows", seed=3) is None  # not a different task


def test_feature_subset_keeps_target_and_rows(diabetes):
    _, table, fraction = derive(diabetes, "regression", "diabetes", "cols", seed=0)
    assert table.columns[-1] == "target" and table["target"].equals(diabetes["target"])
    assert table.shape[1] - 1 == 5 and fraction == 0.5
    assert set(table.columns) < set(diabetes.columns)
    assert derive(diabetes[["age", "sex", "target"]], "regression", "x", "cols", seed=0) is None


def test_derived_tasks_land_in_their_parents_origin_group(digits):
    from autometa.kb._origins import origin_groups

    parents = ["1027_ESL", "GAMETES_Epistasis_2_Way_20atts_0.1H_EDM_1_1", "BNG_breast", "digits", "magic",
               "analcatdata_authorship"]
    derived = [derive(digits, "classification", p, kind, seed=0)[0] for p in parents for kind in ("rows", "cols")]
    names = parents + derived
    table = pd.DataFrame({"dataset_id": [f"pmlb/{n}" for n in names], "name": names})
    groups = origin_groups(table)
    for p in parents:
        for kind in ("rows", "cols"):
            child = derive(digits, "classification", p, kind, seed=0)[0]
            assert groups[f"pmlb/{child}"] == groups[f"pmlb/{p}"], child
    # and nothing else joins: one group per parent (BNG_breast joins no other parent here)
    assert groups.nunique() == len(parents)


def test_written_task_loads_with_the_parents_task_and_target(tmp_path, diabetes):
    from autometa.data import load_dataset

    meta = {"dataset": "diabetes", "task": "regression", "target": {"type": "continuous"},
            "features": [{"name": c, "type": "continuous"} for c in diabetes.columns if c != "target"]}
    name, table, _ = derive(diabetes, "regression", "diabetes", "cols", seed=0)
    write_task(tmp_path, name, table, meta)
    dataset = load_dataset(tmp_path / name)
    assert dataset.task == "regression" and dataset.X.shape == (len(diabetes), 5)
    assert np.allclose(np.asarray(dataset.y, dtype=float), diabetes["target"].to_numpy())


def test_firstpick_train_only_datasets_are_never_targets():
    from benchmarks.firstpick import run

    args = argparse.Namespace(kb=None, groups="origin", tasks=["regression"], designs=["knn40-win", "knn40-win@base"],
                              n_models=1, max_datasets=6, train_only=r"^pmlb/(1027|1028|1029)_")
    frame = run(args)
    assert set(frame["design"]) == {"knn40-win", "knn40-win@base"}
    assert not frame["dataset_id"].str.match(r"^pmlb/(1027|1028|1029)_").any()
    assert frame["dataset_id"].nunique() == 6
    with pytest.raises(SystemExit):
        run(argparse.Namespace(**{**vars(args), "train_only": None}))
