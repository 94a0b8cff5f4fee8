"""Copies of the same data across sources: ``KnowledgeBase.duplicate_groups`` and the PMLB/OpenML pairing.

Dataset rows are made the way the builder makes them (load, protocol row cap, our meta-features), and
LCDB rows the way the LCDB importer makes them (OpenML's qualities from lcdb's ``datasets.csv``).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest

import metafeatures
from autometa.data import load_dataset
from autometa.evaluation import Protocol, prepare_data
from autometa.kb import DatasetRef, KnowledgeBase, duplicate_pairs, name_key, resolve_corpora
from autometa.kb._build import dataset_row  # a build's datasets row without evaluating (builder internal)

GROUPS = ["general", "statistical", "info-theory"]  # the order-invariant groups; landmarkers are slow


def _row(ref: DatasetRef, dataset, protocol: Protocol = Protocol()) -> dict:
    data = prepare_data(dataset, protocol, key=ref.dataset_id)
    row = {k: v for k, v in dataset_row(ref, dataset, data, protocol).items() if k not in ("locator", "n_rows_used")}
    mf = metafeatures.extract(data.X, data.y, task=data.task, groups=GROUPS, random_state=protocol.seed)
    row.update({f"mf.{k}": v for k, v in mf.to_dict().items()})
    return row


@cache
def _corpus_row(spec: str, name: str) -> dict:
    (ref,) = resolve_corpora([f"{spec}:{name}"])
    return _row(ref, ref.load())


def _frame_row(source: str, name: str, X: pd.DataFrame, y, protocol: Protocol = Protocol()) -> dict:
    ref = DatasetRef(source, name, {"kind": "test"})
    return _row(ref, load_dataset(X, y=pd.Series(y, name="target"), task="classification", name=name), protocol)


def _groups(rows: list[dict]) -> pd.Series:
    return KnowledgeBase(pd.DataFrame(rows)).duplicate_groups()


def test_sklearn_and_pmlb_copies_are_grouped(pmlb_dir):
    sklearn = [_corpus_row("sklearn", n) for n in ("iris", "wine", "breast_cancer")]
    pmlb = [_corpus_row(str(pmlb_dir), n) for n in
            ("iris", "wine_recognition", "breast_cancer_wisconsin", "wdbc", "breast_cancer", "heart_h", "hungarian")]
    keel = [_corpus_row("keel", "breast")]  # the Ljubljana data without its 9 rows with missing values
    groups = _groups(sklearn + pmlb + keel)
    assert list(groups.index) == [r["dataset_id"] for r in sklearn + pmlb + keel]
    assert groups["sklearn/iris"] == groups["pmlb/iris"] == "pmlb/iris"
    assert groups["sklearn/wine"] == groups["pmlb/wine_recognition"]
    wdbc = {"sklearn/breast_cancer", "pmlb/breast_cancer_wisconsin", "pmlb/wdbc"}
    assert {groups[i] for i in wdbc} == {"pmlb/breast_cancer_wisconsin"}
    # PMLB's breast_cancer is the Ljubljana data (286 rows), not WDBC, whatever scikit-learn calls its own.
    assert groups["pmlb/breast_cancer"] == groups["keel/breast"] == "keel/breast"
    # Two PMLB names of one table, found from the meta-features alone (the names share nothing).
    assert groups["pmlb/heart_h"] == groups["pmlb/hungarian"]
    assert groups.nunique() == 5
    pairs = duplicate_pairs(KnowledgeBase(pd.DataFrame(sklearn + pmlb + keel)).datasets)
    rule = {(a, b): r for a, b, r in pairs.itertuples(index=False)}
    assert rule["pmlb/heart_h", "pmlb/hungarian"] == "same table"
    assert rule["pmlb/breast_cancer_wisconsin", "sklearn/breast_cancer"] == "same table"
    # scikit-learn corrected two values of iris: not the same table, but the same name and shape.
    assert rule["pmlb/iris", "sklearn/iris"] == "same name"
    assert rule["keel/breast", "pmlb/breast_cancer"] == "same name, cleaned"


def _classification(seed: int, n: int = 300) -> tuple[pd.DataFrame, np.ndarray]:
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=n, n_features=6, n_informative=4, flip_y=0.0, random_state=seed)
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(6)]), y


def test_same_shape_is_not_enough_and_same_data_is_found_under_any_name():
    X, y = _classification(0)
    other_X, other_y = _classification(1)
    assert np.bincount(y).tolist() == np.bincount(other_y).tolist()  # same shape, same class counts
    order = np.random.default_rng(0).permutation(len(y))
    rows = [
        _frame_row("csv", "alpha", X, y),
        _frame_row("csv", "beta", other_X, other_y),
        _frame_row("csv", "gamma", X.iloc[order].reset_index(drop=True), y[order]),  # rows shuffled, renamed
        _frame_row("other", "alpha", X * 10.0, y),  # rescaled copy under the same name
    ]
    groups = _groups(rows)
    assert groups["csv/beta"] == "csv/beta"
    assert groups["csv/alpha"] == groups["csv/gamma"] == groups["other/alpha"] == "csv/alpha"


def test_same_name_needs_the_same_class_counts():
    X, y = _classification(0)
    relabelled = y.copy()
    relabelled[np.flatnonzero(y == 0)[:20]] = 1  # another target over the same features
    groups = _groups([_frame_row("csv", "alpha", X, y), _frame_row("other", "alpha", X * 10.0, relabelled)])
    assert groups.nunique() == 2


def test_capped_copy_matches_the_full_openml_copy_by_allocated_class_counts():
    """A dataset above the row cap has meta-features of the capped rows; OpenML's are of all rows."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=5000, n_features=5, n_informative=3, n_classes=3,
                               weights=[0.7, 0.2, 0.1], flip_y=0.0, random_state=0)
    X = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)])
    ours = _frame_row("pmlb", "thing", X, y)
    assert ours["mf.NumberOfInstances"] == 2000 < ours["n_rows"]
    full = _frame_row("lcdb", "1", X, y, Protocol(row_cap=10_000))
    full["name"] = "thing"
    shifted_y = y.copy()
    shifted_y[np.flatnonzero(y == 0)[:60]] = 2  # 60 rows moved: 24 after the cap, far beyond rounding
    shifted = _frame_row("lcdb", "2", X, shifted_y, Protocol(row_cap=10_000))
    shifted["name"] = "thing"
    groups = _groups([ours, full, shifted])
    assert groups["pmlb/thing"] == groups["lcdb/1"]
    assert groups["lcdb/2"] == "lcdb/2"


@pytest.fixture(scope="module")
def lcdb_rows():
    from autometa.kb import lcdb_qualities
    from autometa.kb._import_lcdb import _datasets_table  # LCDB's datasets rows without its curves (internal)

    qualities = lcdb_qualities()
    return _datasets_table(qualities[qualities["openmlid"].isin([21, 23, 40975])]).to_dict("records")


def test_pmlb_datasets_match_lcdb_copies(pmlb_dir, lcdb_rows):
    """cmc is OpenML 23 as is; contraceptive is cmc re-typed (all categorical); car is OpenML 21 and
    40975 with the rows reordered."""
    pmlb = [_corpus_row(str(pmlb_dir), n) for n in ("cmc", "contraceptive", "car", "tae")]
    groups = _groups(pmlb + lcdb_rows)
    assert groups["pmlb/cmc"] == groups["pmlb/contraceptive"] == groups["lcdb/23"]
    assert groups["pmlb/car"] == groups["lcdb/21"] == groups["lcdb/40975"] == "lcdb/21"
    assert groups["pmlb/tae"] == "pmlb/tae"
    assert groups.nunique() == 3


def test_name_key_resolves_pmlb_aliases_and_prefixes():
    assert name_key("197_cpu_act") == name_key("cpu_act") == "cpuact"
    assert name_key("german") == name_key("credit-g") == "creditg"
    assert name_key("MagicTelescope") == name_key("magic")
