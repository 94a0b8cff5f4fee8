"""The knowledge base: table contract, Parquet round trip, versions, matrix, add/merge, info."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from autometa.errors import ArtifactError, InputError
from autometa.kb import KnowledgeBase, schema, shipped_kb_path


def _datasets() -> pd.DataFrame:
    return pd.DataFrame([
        {"dataset_id": "sklearn/iris", "source": "sklearn", "name": "iris", "task": "classification", "n_rows": 150,
         "n_features": 4, "n_classes": 3, "row_cap": 2000, "protocol_version": 1, "mf.NumberOfInstances": 150.0},
        {"dataset_id": "sklearn/diabetes", "source": "sklearn", "name": "diabetes", "task": "regression",
         "n_rows": 442, "n_features": 10, "n_classes": None, "row_cap": 2000, "protocol_version": 1,
         "mf.NumberOfInstances": 442.0},
    ])


def _evaluations() -> pd.DataFrame:
    rows = []
    for config_id, k, score in (("default", 5, 0.95), ("sobol-0001", 11, 0.97), ("sobol-0002", 1, 0.91)):
        rows.append(schema.evaluation_row(
            dataset_id="sklearn/iris", family="knn", config_id=config_id,
            config={"n_neighbors": k, "weights": "uniform", "p": 2}, scores={"balanced_accuracy": score},
            fold_scores={"balanced_accuracy": [score] * 3}, status="ok", n_rows_used=150, source="sklearn",
            protocol_version=1))
    rows.append(schema.evaluation_row(
        dataset_id="sklearn/diabetes", family="knn", config_id="default", config={"n_neighbors": 5, "weights": "uniform", "p": 2},
        scores={"r2": 0.4, "rmse": 60.0}, status="ok", n_rows_used=442, source="sklearn", protocol_version=1))
    rows.append(schema.evaluation_row(
        dataset_id="sklearn/diabetes", family="svm", config_id="default", config={"C": 1.0, "gamma": 1.0, "epsilon": 0.1},
        status="timeout", error="timeout: ran over 30 s", n_rows_used=442, source="sklearn", protocol_version=1))
    return pd.DataFrame(rows)


def test_round_trip_keeps_tables_and_dtypes(tmp_path):
    kb = KnowledgeBase(_datasets(), _evaluations(), meta={"protocol": {"version": 1, "k": 3}})
    kb.save(tmp_path / "kb")
    assert sorted(p.name for p in (tmp_path / "kb").iterdir()) == ["datasets.parquet", "evaluations.parquet", "kb.json"]
    again = KnowledgeBase.load(tmp_path / "kb")
    pd.testing.assert_frame_equal(again.datasets, kb.datasets)
    pd.testing.assert_frame_equal(again.evaluations, kb.evaluations)
    assert again.meta["protocol"] == {"version": 1, "k": 3}
    ev = again.evaluations
    assert ev["param.n_neighbors"].dtype == np.float64 and ev["param.weights"].dtype == "string"
    assert again.datasets["n_classes"].dtype == "Int64" and again.datasets["n_classes"].isna().sum() == 1
    assert json.loads(ev.loc[0, "fold_scores"]) == {"balanced_accuracy": [0.95] * 3}
    assert again.metafeature_names == ["NumberOfInstances"]


def test_stale_or_foreign_knowledge_bases_are_refused(tmp_path):
    KnowledgeBase(_datasets(), _evaluations()).save(tmp_path / "kb")
    meta_file = tmp_path / "kb" / "kb.json"
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps({**meta, "format_version": schema.FORMAT_VERSION + 1}))
    with pytest.raises(ArtifactError, match="format version 2.*reads version 1.*rebuild"):
        KnowledgeBase.load(tmp_path / "kb")
    meta_file.write_text(json.dumps({**meta, "format": "something-else"}))
    with pytest.raises(ArtifactError, match="not of the format 'autometa-kb'"):
        KnowledgeBase.load(tmp_path / "kb")
    with pytest.raises(InputError, match="not a knowledge base"):
        KnowledgeBase.load(tmp_path / "nowhere")


def test_contract_violations_are_refused():
    with pytest.raises(ArtifactError, match="required column 'task'"):
        KnowledgeBase(_datasets().drop(columns=["task"]))
    bad = _datasets()
    bad.loc[0, "task"] = "ranking"
    with pytest.raises(ArtifactError, match="value 'ranking'"):
        KnowledgeBase(bad)
    with pytest.raises(ArtifactError, match="twice"):
        KnowledgeBase(pd.concat([_datasets(), _datasets()]))
    twice = pd.concat([_evaluations(), _evaluations().iloc[:1]])
    with pytest.raises(ArtifactError, match="two rows"):
        KnowledgeBase(_datasets(), twice)
    with pytest.raises(ArtifactError, match="'oops'"):
        KnowledgeBase(_datasets(), _evaluations().assign(oops=1))
    with pytest.raises(ArtifactError, match="status"):
        KnowledgeBase(_datasets(), _evaluations().assign(status="crashed"))


def test_matrix_is_datasets_by_configs_of_ok_rows():
    kb = KnowledgeBase(_datasets(), _evaluations())
    m = kb.matrix("knn", "balanced_accuracy")
    assert list(m.index) == ["sklearn/iris"] and list(m.columns) == ["default", "sobol-0001", "sobol-0002"]
    assert m.loc["sklearn/iris", "sobol-0001"] == 0.97
    assert kb.matrix("knn", "r2").loc["sklearn/diabetes", "default"] == 0.4
    assert kb.matrix("svm", "r2").empty  # the only svm row timed out
    assert kb.matrix("svm", "r2", only_ok=False).shape == (1, 1)
    with pytest.raises(InputError, match="Unknown metric"):
        kb.matrix("knn", "f1")


def test_matrix_keeps_imported_rows_apart_by_the_metrics_they_report(tmp_path):
    """LCDB-like rows (plain accuracy, ROC AUC; no balanced accuracy; protocol 0) in a family of ours."""
    datasets = pd.concat([_datasets(), pd.DataFrame([
        {"dataset_id": "lcdb/61", "source": "lcdb", "name": "iris", "openml_id": 61, "task": "classification",
         "n_rows": 150, "n_features": 4, "n_classes": 3, "row_cap": 0, "protocol_version": 0}])])
    lcdb = [schema.evaluation_row(dataset_id="lcdb/61", family=family, config_id=config_id, config=config,
                                  scores={"accuracy": 0.9, "log_loss": 0.3}, source="lcdb", protocol_version=0)
            for family, config_id, config in (("knn", "lcdb-KNeighborsClassifier", {"n_neighbors": 5}),
                                              ("lcdb:GradientBoostingClassifier", "lcdb-GradientBoostingClassifier", {}))]
    evaluations = _evaluations().drop(columns=["accuracy"])  # a table written before the column existed
    kb = KnowledgeBase(datasets, pd.concat([evaluations, pd.DataFrame(lcdb)], ignore_index=True))
    kb = KnowledgeBase.load(kb.save(tmp_path / "kb"))
    assert kb.evaluations["accuracy"].notna().sum() == 2  # NaN on every protocol row
    m = kb.matrix("knn", "balanced_accuracy")
    assert list(m.index) == ["sklearn/iris"] and "lcdb-KNeighborsClassifier" not in m.columns
    a = kb.matrix("knn", "accuracy")  # accuracy is a classification metric
    assert a.shape == (1, 1) and a.loc["lcdb/61", "lcdb-KNeighborsClassifier"] == 0.9
    assert kb.matrix("knn", "log_loss").index.tolist() == ["lcdb/61"]
    assert kb.matrix("knn", "log_loss", protocol_version=1).empty
    assert kb.matrix("lcdb:GradientBoostingClassifier", "accuracy").shape == (1, 1)
    assert kb.matrix("lcdb:GradientBoostingClassifier").empty  # no balanced accuracy, no row


def test_add_replaces_and_merge_combines():
    kb = KnowledgeBase(_datasets(), _evaluations())
    newer = _evaluations().iloc[:1].assign(balanced_accuracy=0.5)
    kb.add(evaluations=newer)
    assert len(kb) == 5 and kb.matrix("knn").loc["sklearn/iris", "default"] == 0.5
    other = KnowledgeBase(
        pd.DataFrame([{"dataset_id": "pmlb/wine", "source": "pmlb", "name": "wine", "task": "classification",
                       "n_rows": 178, "n_features": 13, "n_classes": 3, "row_cap": 2000, "protocol_version": 1}]),
        pd.DataFrame([schema.evaluation_row(dataset_id="pmlb/wine", family="lcdb:SVC_poly", config_id="lcdb",
                                            config={"kernel": "poly"}, scores={"balanced_accuracy": 0.8},
                                            source="lcdb", protocol_version=0)]),
        meta={"build": {"kind": "import"}},
    )
    merged = kb.merge(other)
    assert len(merged) == 6 and len(merged.datasets) == 3 and len(kb) == 5
    assert np.isnan(merged.datasets.set_index("dataset_id").loc["pmlb/wine", "mf.NumberOfInstances"])
    assert merged.evaluations["param.kernel"].dropna().tolist() == ["poly"]


def test_info_counts_sources_families_and_failures():
    info = KnowledgeBase(_datasets(), _evaluations(), meta={"protocol": {"version": 1}}).info()
    assert info["counts"] == {"datasets": 2, "evaluations": 5, "failures": 1, "metafeatures": 1}
    assert info["datasets_per_source"] == {"sklearn": {"classification": 1, "regression": 1}}
    assert info["families"]["svm"]["timeout"] == 1 and info["families"]["knn"]["ok"] == 4
    assert info["families"]["svm"]["top_errors"] == {"timeout: ran over N s": 1}  # numbers masked
    assert info["protocol"] == {"version": 1}


def test_the_shipped_knowledge_base_loads_offline():
    if not (shipped_kb_path() / "kb.json").exists():
        pytest.fail("the shipped knowledge base is missing from autometa/data/kb")
    kb = KnowledgeBase.load()
    info = kb.info()
    assert info["counts"]["datasets"] >= 100 and info["counts"]["evaluations"] >= 700
    assert set(kb.evaluations["family"]) >= {"lightgbm", "random_forest", "linear", "svm", "knn"}
    assert info["protocol"]["k"] == 3
