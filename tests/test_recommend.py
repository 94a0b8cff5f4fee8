"""``autometa.recommend`` and ``autometa recommend``: ranked, diverse, filtered, with evidence; bad input exits 2."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_wine
from test_metamodel import FAMILIES, N_CONFIGS

# Fixtures tiny_kb, wine_csv and run_cli: conftest.py. One meta-model cache for the session: the first
# test pays for the fit, the others read it back.
pytestmark = pytest.mark.usefixtures("metamodel_cache")


@pytest.fixture(scope="module")
def svm_kb(tiny_kb, tmp_path_factory):
    """tiny_kb plus its knn rows relabelled as svm's config set (same config ids): a knowledge base with
    SVM configs for both tasks, without evaluating an SVM (their scores are knn's; only configs matter)."""
    from autometa.kb import KnowledgeBase
    from autometa.spaces import config_set

    kb = KnowledgeBase.load(tiny_kb)
    configs = config_set("svm", N_CONFIGS)
    svm = kb.evaluations[kb.evaluations["family"] == "knn"].copy()
    svm = svm.drop(columns=[c for c in svm.columns if c.startswith("param.")]).assign(family="svm")
    svm["config"] = [json.dumps(configs[c], sort_keys=True) for c in svm["config_id"]]
    for name in configs["default"]:
        svm[f"param.{name}"] = [configs[c][name] for c in svm["config_id"]]
    evaluations = pd.concat([kb.evaluations, svm], ignore_index=True)
    return KnowledgeBase(kb.datasets, evaluations).save(tmp_path_factory.mktemp("svm-kb"))


def test_configs_hold_only_the_parameters_of_the_task(svm_kb, wine_csv, run_cli):
    import autometa
    from autometa._study_record import best_config  # the internal part is the unit under test
    from autometa.metamodel import config_key
    from autometa.spaces import config_set, trial_config

    stored = config_set("svm", N_CONFIGS)
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    for data, task in ((wine_csv, "classification"), (X.assign(target=y), "regression")):
        recs = autometa.recommend(data, families=["svm"], n=3, kb=svm_kb)
        assert recs.task == task and len(recs) == 3
        for r in recs:  # SVR's epsilon only for regression; the stored config is unchanged
            assert r.config == {k: v for k, v in stored[r.config_id].items() if k != "epsilon" or task == "regression"}
    code, out, err = run_cli(["recommend", str(wine_csv), "--kb", str(svm_kb), "--family", "svm", "-n", "5"])
    assert code == 0 and "svm" in out and "epsilon" not in out, err
    # tune searches only the task's parameters: no trial of a classification study has an epsilon,
    # and its sampler still knows the warm start as the knowledge base's configs.
    recs = autometa.recommend(wine_csv, families=["svm"], n=2, kb=svm_kb)
    study = autometa.tune(wine_csv, family="svm", n_trials=4, n_warm=2, kb=svm_kb, random_state=0)
    assert [trial_config(t.params) for t in study.trials[:2]] == [("svm", r.config) for r in recs]
    assert all(set(t.params) == {"family", "svm.C", "svm.gamma"} for t in study.trials)
    observed = [trial_config(t.params) for t in study.trials]
    # (The sampler's private table: the public proposals would not show which stored config a trial is.)
    sampler = study.sampler
    rows = np.array([sampler._table.row[sampler._key(f, c)] for f, c in observed[:2]])
    keys = sampler.model.candidates.index[sampler._kb_column(rows)]
    assert list(keys) == [config_key("svm", r.config_id) for r in recs]
    assert set(best_config(study)[1]) == {"C", "gamma"}
    study = autometa.tune(X.assign(target=y), family="svm", n_trials=2, n_warm=1, kb=svm_kb, random_state=0)
    assert all(set(t.params) == {"family", "svm.C", "svm.gamma", "svm.epsilon"} for t in study.trials)


def test_recommend_ranks_distinct_configs_with_evidence(tiny_kb):
    import autometa

    frame = load_wine(as_frame=True).frame
    recs = autometa.recommend(frame, target="target", n=6, kb=tiny_kb)
    assert isinstance(recs, autometa.Recommendations) and len(recs) == 6
    assert [r.rank for r in recs] == list(range(1, 7))
    keys = {(r.family, json.dumps(r.config, sort_keys=True)) for r in recs}
    assert len(keys) == 6  # no config twice
    assert {r.family for r in recs} <= set(FAMILIES)
    for r in recs:
        assert 0.0 <= r.uncertainty and r.predicted_fit_seconds > 0
        assert len(r.evidence) == 3 and all(e.dataset_id.startswith("test/") for e in r.evidence)
    assert recs.task == "classification" and recs.metric == "balanced_accuracy"
    assert recs.neighbors[0]["distance"] <= recs.neighbors[-1]["distance"]
    frame_out = recs.to_frame()
    assert list(frame_out["rank"]) == list(range(1, 7))


def test_evidence_is_where_the_config_was_evaluated(tiny_kb):
    import copy

    import numpy as np

    from autometa._recommend import (  # the internal part is the unit under test
        N_EVIDENCE,
        rank_candidates,
    )
    from autometa.data import load_dataset
    from autometa.kb import dataset_metafeatures
    from autometa.metamodel import load_metamodel

    mf = dataset_metafeatures(load_dataset(load_wine(as_frame=True).frame, target="target"))
    model = copy.copy(load_metamodel("classification", kb=tiny_kb))
    nearest = model.neighbors(mf, k=len(model.dataset_ids))
    # As in a knowledge base still being built: the three nearest datasets ran only the defaults.
    defaults = (model.candidates["config_id"] == "default").to_numpy()
    model.normalized = model.normalized.copy()
    model.normalized[np.ix_(nearest["index"].to_numpy()[:3], np.flatnonzero(~defaults))] = np.nan
    items, _ = rank_candidates(model, mf, 2 * N_CONFIGS)
    assert {r.config_id == "default" for r in items} == {True, False}
    for r in items:
        expected = nearest["dataset_id"][:3] if r.config_id == "default" else nearest["dataset_id"][3:6]
        assert [e.dataset_id for e in r.evidence] == list(expected) and len(r.evidence) == N_EVIDENCE
        assert all(0.0 <= e.normalized_score <= 1.0 for e in r.evidence)
        assert [e.distance for e in r.evidence] == sorted(e.distance for e in r.evidence)


def test_the_list_is_diverse_across_families(tiny_kb):
    import autometa

    recs = autometa.recommend(load_wine(as_frame=True).frame, target="target", n=2 * N_CONFIGS, kb=tiny_kb)
    assert {r.family for r in recs} == set(FAMILIES)  # every config of the KB, both families


def test_family_and_metric_filters(tiny_kb):
    import autometa

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    recs = autometa.recommend(X.assign(target=y), families=["knn"], metric="rmse", n=3, kb=tiny_kb)
    assert recs.metric == "rmse" and recs.task == "regression"
    assert {r.family for r in recs} == {"knn"} and len(recs) == 3


def test_time_budget_leaves_out_slow_configs(tiny_kb):
    import autometa
    from autometa.errors import InputError

    frame = load_wine(as_frame=True).frame
    recs = autometa.recommend(frame, target="target", n=10, kb=tiny_kb)
    cutoff = sorted(r.predicted_fit_seconds_full for r in recs)[len(recs) // 2]
    kept = autometa.recommend(frame, target="target", n=10, kb=tiny_kb, time_budget=cutoff)
    assert 0 < len(kept) < len(recs)
    assert all(r.predicted_fit_seconds_full <= cutoff for r in kept)
    with pytest.raises(InputError, match="budget"):
        autometa.recommend(frame, target="target", kb=tiny_kb, time_budget=1e-12)


def test_cli_table_and_json(tiny_kb, wine_csv, run_cli):
    code, out, err = run_cli(["recommend", str(wine_csv), "--kb", str(tiny_kb), "-n", "3"])
    assert code == 0, err
    assert "recommendations" in out and "nearest known datasets" in out
    assert "not a sort by predicted score" in " ".join(out.split())  # why #2 may be predicted higher than #1
    code, out, _ = run_cli(["recommend", str(wine_csv), "--kb", str(tiny_kb), "-n", "2", "--family", "linear", "--json"])
    assert code == 0
    payload = json.loads(out)
    assert [r["family"] for r in payload["recommendations"]] == ["linear", "linear"]
    assert payload["dataset"]["n_rows"] == 178 and payload["metric"] == "balanced_accuracy"
    assert set(payload["recommendations"][0]) >= {"config", "predicted_score", "uncertainty", "predicted_fit_seconds",
                                                  "evidence"}


@pytest.mark.parametrize("args, words", [
    (["--family", "xgboost"], "Unknown model family 'xgboost'"),
    (["--metric", "f1"], "Unknown metric 'f1'"),
    (["--metric", "r2"], "does not apply to a classification"),
    (["--metric", "accuracy"], "only recorded for imported histories (LCDB, OpenML), not by autometa's evaluation "
                               "protocol; use one of: balanced_accuracy, roc_auc, log_loss."),
    (["--target", "nope"], "nope"),
    (["--task", "clustering"], "Unknown task 'clustering'; use 'classification' or 'regression'."),
])
def test_cli_bad_input_is_one_line_and_exit_2(tiny_kb, wine_csv, run_cli, args, words):
    code, out, err = run_cli(["recommend", str(wine_csv), "--kb", str(tiny_kb), *args])
    assert code == 2
    assert words in err and err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_task_override(tiny_kb, wine_csv, tmp_path, run_cli):
    import autometa

    # Wine's classes are the integers 0, 1, 2: inferred as classification, regressed when asked.
    frame = load_wine(as_frame=True).frame
    assert autometa.recommend(frame, n=2, kb=tiny_kb).task == "classification"
    recs = autometa.recommend(frame, n=2, task="regression", kb=tiny_kb)
    assert recs.task == "regression" and recs.metric == "r2"
    code, out, err = run_cli(["recommend", str(wine_csv), "--kb", str(tiny_kb), "-n", "2", "--task", "regression",
                              "--metric", "rmse", "--json"])
    assert code == 0, err
    assert json.loads(out)["task"] == "regression" and json.loads(out)["metric"] == "rmse"
    # A text target cannot be regressed; a typed Dataset keeps its task: one sentence, exit 2.
    frame.assign(target=frame["target"].map({0: "a", 1: "b", 2: "c"})).to_csv(tmp_path / "text.csv", index=False)
    code, out, err = run_cli(["recommend", str(tmp_path / "text.csv"), "--kb", str(tiny_kb), "--task", "regression"])
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("error: Target 'target'") and "cannot be regressed; use --task classification." in err
    with pytest.raises(autometa.InputError, match="was loaded as classification, not regression"):
        autometa.recommend(autometa.load_dataset(frame), task="regression", kb=tiny_kb)


def test_cli_missing_file_and_missing_kb(tiny_kb, tmp_path, run_cli):
    code, _, err = run_cli(["recommend", str(tmp_path / "absent.csv"), "--kb", str(tiny_kb)])
    assert code == 2 and len(err.strip().splitlines()) == 1
    frame = pd.DataFrame({"a": [0.5, 1.5, 2.5, 3.0] * 10, "target": [0, 1] * 20})
    frame.to_csv(tmp_path / "small.csv", index=False)
    code, _, err = run_cli(["recommend", str(tmp_path / "small.csv"), "--kb", str(tmp_path / "no-kb")])
    assert code == 2 and "not a knowledge base" in err


def test_recommend_does_not_import_torch(tiny_kb, wine_csv, tmp_path):
    probe = (
        "import sys, cli; code = cli.main(['recommend', sys.argv[1], '--kb', sys.argv[2], '--json']); "
        "print('TORCH=' + str('torch' in sys.modules)); sys.exit(code)"
    )
    env = {**__import__("os").environ}
    run = subprocess.run([sys.executable, "-c", probe, str(wine_csv), str(tiny_kb)], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "TORCH=False"


def test_big_files_are_sampled_but_counted_in_full(tiny_kb, tmp_path, monkeypatch):
    import numpy as np

    import autometa._recommend as rec  # the internal part is the unit under test

    monkeypatch.setattr(rec, "TYPE_ROWS", 200)
    monkeypatch.setattr(rec, "_FAST_READ_BYTES", 1)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(900, 4)), columns=list("abcd"))
    frame["colour"] = rng.choice(["red", "blue"], size=900)
    frame["target"] = (frame["a"] > 0).astype(int)
    frame.to_csv(tmp_path / "big.csv", index=False)
    dataset, n_rows = rec._load(tmp_path / "big.csv", None)
    assert n_rows == 900 and dataset.n_rows == 200
    assert dataset.categorical_columns == ["colour"] and dataset.target == "target"
    recs = rec.recommend(tmp_path / "big.csv", n=2, kb=tiny_kb)
    assert recs.dataset["n_rows"] == 900 and "sample of 200" in recs.dataset["notes"][-1]
    # Quotes may hide line breaks inside fields: such a file is read whole, never sampled by lines.
    frame["colour"] = '"x,\ny"'
    frame.to_csv(tmp_path / "quoted.csv", index=False)
    assert rec._sampled_read(tmp_path / "quoted.csv") is None
    assert rec._load(tmp_path / "quoted.csv", None)[1] == 900


def test_rows_without_a_target_are_dropped_not_called_a_sample(tiny_kb, tmp_path):
    """A small file read whole: rows with a missing target leave the count, and no note says 'sample'."""
    import autometa

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(120, 3)), columns=list("abc"))
    frame["target"] = np.where(frame["a"] > 0, "up", "down").astype(object)
    frame.loc[:14, "target"] = None
    frame.to_csv(tmp_path / "gaps.csv", index=False)
    recs = autometa.recommend(tmp_path / "gaps.csv", n=1, kb=tiny_kb)
    assert recs.dataset["n_rows"] == 105
    assert any("Dropped 15 rows" in note for note in recs.dataset["notes"])
    assert not any("sample" in note for note in recs.dataset["notes"])
