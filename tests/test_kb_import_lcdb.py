"""LCDB importer on a few real LCDB datasets: counts, OpenML qualities, scores, families, failures."""

from __future__ import annotations

import functools
import json
import math

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("lcdb")

import cli  # noqa: E402
from autometa import kb  # noqa: E402
from autometa.errors import InputError  # noqa: E402
from autometa.kb import KnowledgeBase  # noqa: E402
from autometa.kb import schema as S  # noqa: E402
from autometa.kb._import_lcdb import LEARNERS, lcdb_folder  # noqa: E402  (the learner mapping and files, tested directly)

import_lcdb = functools.partial(kb.import_lcdb, save=False)  # the rows only; saving is tested via the CLI

# kr-vs-kp and credit-g (binary), and 1457 (multiclass, one learner's curve stops early).
IDS = (3, 31, 1457)


def _read(name: str) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    table = pcsv.read_csv(lcdb_folder() / name)
    return table.filter(pc.is_in(table["openmlid"], value_set=pa.array(IDS, type=pa.int64()))).to_pandas()


@pytest.fixture(scope="module")
def curves() -> dict[str, pd.DataFrame]:
    return {m: _read(f"database-{m}.csv") for m in ("accuracy", "auc")}


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> KnowledgeBase:
    """The CLI's import of IDS, read back from the knowledge-base folder it wrote."""
    out = tmp_path_factory.mktemp("kb") / "lcdb"
    args = ["kb", "import-lcdb", "--out", str(out), "--json"]
    for openml_id in IDS:
        args += ["--dataset", str(openml_id)]
    assert cli.main(args) == 0
    return KnowledgeBase.load(out)


def test_counts_match_the_lcdb_files(imported, curves):
    accuracy = curves["accuracy"]
    assert sorted(imported.datasets["dataset_id"]) == sorted(f"lcdb/{i}" for i in IDS)
    # one row per (dataset, learner) that has a learning curve, none invented
    pairs = accuracy.groupby(["openmlid", "learner"]).size()
    assert len(imported.evaluations) == len(pairs)
    assert imported.evaluations["config_id"].nunique() == accuracy["learner"].nunique()
    assert set(imported.evaluations["source"]) == {"lcdb"}


def test_qualities_are_openmls_values_from_datasets_csv(imported):
    csv = pd.read_csv(lcdb_folder() / "datasets.csv").set_index("openmlid")
    rows = imported.datasets.set_index("openml_id")
    for openml_id in IDS:
        for quality in ("ClassEntropy", "MajorityClassSize", "NaiveBayesAUC", "MeanMutualInformation"):
            expected = csv.loc[openml_id, quality]
            got = rows.loc[openml_id, f"mf.{quality}"]
            assert (math.isnan(expected) and math.isnan(got)) or got == pytest.approx(expected, rel=1e-12)
        assert rows.loc[openml_id, "n_rows"] == csv.loc[openml_id, "NumberOfInstances"]
        assert rows.loc[openml_id, "n_features"] == csv.loc[openml_id, "NumberOfFeatures"] - 1  # OpenML counts the target
        assert rows.loc[openml_id, "name"] == csv.loc[openml_id, "Name"]
    assert "mf.NumberOfFeaturesAfterBinarization" not in imported.datasets.columns


def test_scores_are_test_scores_at_the_largest_anchor(imported, curves):
    ev = imported.evaluations.set_index(["dataset_id", "config_id"])
    accuracy, auc = curves["accuracy"], curves["auc"]
    learner = "sklearn.ensemble.RandomForestClassifier"
    for openml_id in (3, 31):
        rows = accuracy[(accuracy["openmlid"] == openml_id) & (accuracy["learner"] == learner)]
        top = rows[rows["size_train"] == rows["size_train"].max()]
        row = ev.loc[(f"lcdb/{openml_id}", "lcdb-RandomForestClassifier")]
        folds = json.loads(row["fold_scores"])
        assert sorted(folds["accuracy"]) == pytest.approx(sorted(top["score_test"]))
        assert row["n_rows_used"] == top["size_train"].iloc[0]
        assert row["fit_seconds"] == pytest.approx(top["traintime"].mean())
        auc_rows = auc[(auc["openmlid"] == openml_id) & (auc["learner"] == learner)]
        auc_top = auc_rows[auc_rows["size_train"] == auc_rows["size_train"].max()]
        assert row["roc_auc"] == pytest.approx(auc_top["score_test"].mean())
        assert math.isnan(row["balanced_accuracy"])  # LCDB has no balanced accuracy: never faked
        assert row["accuracy"] == pytest.approx(top["score_test"].mean())


def test_families_are_mapped_and_the_rest_keep_their_lcdb_name(imported):
    ev = imported.evaluations
    by_config = ev.drop_duplicates("config_id").set_index("config_id")["family"]
    assert by_config["lcdb-RandomForestClassifier"] == "random_forest"
    assert by_config["lcdb-ExtraTreesClassifier"] == "extra_trees"
    assert by_config["lcdb-LogisticRegression"] == "linear"
    assert by_config["lcdb-SVC_rbf"] == "svm"
    assert by_config["lcdb-KNeighborsClassifier"] == "knn"
    assert by_config["lcdb-SVC_poly"] == "lcdb:SVC_poly"
    assert by_config["lcdb-GradientBoostingClassifier"] == "lcdb:GradientBoostingClassifier"
    for family in ev["family"]:
        assert family in S.FAMILIES or family.startswith("lcdb:")
    assert {spec.family for spec in LEARNERS.values() if spec.family in S.FAMILIES} == {
        "random_forest", "extra_trees", "linear", "svm", "knn"}


def test_configs_are_written_in_our_search_spaces_terms(imported):
    csv = pd.read_csv(lcdb_folder() / "datasets.csv").set_index("openmlid")
    ev = imported.evaluations.set_index(["dataset_id", "config_id"])
    p = int(csv.loc[31, "NumberOfFeaturesAfterBinarization"])
    forest = json.loads(ev.loc[("lcdb/31", "lcdb-RandomForestClassifier"), "config"])
    assert forest["max_features"] == pytest.approx(int(np.sqrt(p)) / p)
    assert forest["bootstrap"] is True and forest["n_estimators"] == 100
    assert ev.loc[("lcdb/31", "lcdb-RandomForestClassifier"), "param.max_features"] == pytest.approx(int(np.sqrt(p)) / p)
    assert json.loads(ev.loc[("lcdb/31", "lcdb-SVC_rbf"), "config"]) == {"C": 1.0, "gamma": 1.0}
    assert json.loads(ev.loc[("lcdb/31", "lcdb-SVC_poly"), "config"]) == {"kernel": "poly"}


def test_a_curve_that_stops_early_is_recorded_as_failed(imported, curves):
    accuracy = curves["accuracy"][curves["accuracy"]["openmlid"] == 1457]
    reached = accuracy.groupby("learner")["size_train"].max()
    short = reached[reached < reached.max()]
    assert len(short) >= 1  # the reason 1457 is in IDS
    ev = imported.evaluations[imported.evaluations["dataset_id"] == "lcdb/1457"]
    failed = ev[ev["status"] == "failed"]
    assert sorted(failed["config_id"]) == sorted(f"lcdb-{name.rsplit('.', 1)[-1]}" for name in short.index)
    assert all(str(reached.max()) in error for error in failed["error"])
    assert failed["roc_auc"].isna().all() and failed["log_loss"].isna().all()
    assert (ev["status"] == "ok").sum() == len(reached) - len(short)


def test_bad_ids_and_a_missing_package_are_input_errors(monkeypatch):
    with pytest.raises(InputError, match="no qualities"):
        import_lcdb([11])  # curves but no qualities in datasets.csv
    with pytest.raises(InputError, match="no learning curves"):
        import_lcdb([183])  # qualities but no curves
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(InputError, match="pip install lcdb"):
        lcdb_folder()
