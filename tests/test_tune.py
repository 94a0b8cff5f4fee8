"""``autometa.tune`` and ``autometa tune``: warm start, meta-model sampler, storages, resume, saved models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import optuna
import pytest
from sklearn.datasets import load_wine

REPO = Path(__file__).resolve().parents[1]

# Fixtures tiny_kb, wine_csv and run_cli: conftest.py; one meta-model cache for the session.
pytestmark = pytest.mark.usefixtures("metamodel_cache")


def test_recommendations_come_first_then_the_sampler(tiny_kb, wine_csv):
    import autometa
    from autometa.spaces import trial_config

    study = autometa.tune(wine_csv, n_trials=5, kb=tiny_kb, n_warm=3, random_state=0)
    trials = study.trials
    assert len(trials) == 5 and all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    recs = autometa.recommend(wine_csv, n=3, kb=tiny_kb)
    for trial, rec in zip(trials[:3], recs, strict=True):
        assert trial.user_attrs["autometa.origin"] == f"recommendation {rec.rank}"
        assert trial_config(trial.params) == (rec.family, rec.config)
    assert all("autometa.origin" not in t.user_attrs for t in trials[3:])
    for trial in trials:
        family = trial.params["family"]
        assert all(k == "family" or k.startswith(family + ".") for k in trial.params)  # conditional space
        assert 0.0 <= trial.value <= 1.0
        assert trial.user_attrs["autometa.status"] == "ok" and trial.user_attrs["autometa.log_loss"] > 0
    configs = [json.dumps(trial_config(t.params), sort_keys=True) for t in trials]
    assert len(set(configs)) == len(configs)  # the sampler never repeats a config
    assert study.user_attrs["autometa"]["metric"] == "balanced_accuracy"


def test_one_family_and_another_metric(tiny_kb, wine_csv):
    import autometa

    study = autometa.tune(wine_csv, family="knn", metric="log_loss", n_trials=3, kb=tiny_kb, n_warm=2, random_state=1)
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    assert {t.params["family"] for t in study.trials} == {"knn"}
    assert study.best_value == min(t.value for t in study.trials)


def test_sqlite_study_resumes_without_repeating_the_warm_start(tiny_kb, wine_csv, tmp_path):
    import autometa

    db = tmp_path / "study.db"
    autometa.tune(wine_csv, n_trials=3, kb=tiny_kb, n_warm=3, storage=str(db), study_name="wine", random_state=0)
    study = autometa.tune(wine_csv, n_trials=2, kb=tiny_kb, n_warm=3, storage=f"sqlite:///{db}", study_name="wine",
                          random_state=0)
    assert len(study.trials) == 5
    origins = [t.user_attrs.get("autometa.origin") for t in study.trials]
    assert origins[:3] == ["recommendation 1", "recommendation 2", "recommendation 3"] and not any(origins[3:])
    reloaded = optuna.load_study(study_name="wine", storage=f"sqlite:///{db}")
    assert len(reloaded.trials) == 5


def test_the_refit_model_is_saved_and_loads_with_the_same_predictions(tiny_kb, wine_csv, tmp_path):
    import autometa

    study = autometa.tune(wine_csv, n_trials=2, kb=tiny_kb, n_warm=2)
    model = autometa.refit(study, wine_csv)
    assert model.family == study.best_trial.params["family"] and model.card["task"] == "classification"
    path = autometa.save_model(model, tmp_path / "model.autometa")
    loaded = autometa.load_model(path)  # the fitted model itself: no data needed to load it
    frame = load_wine(as_frame=True).frame
    X = frame.drop(columns="target")
    pred = loaded.predict(X)
    assert len(pred) == len(frame) and np.mean(pred == frame["target"]) > 0.5
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X)) and loaded.predict_proba(X).shape == (178, 3)
    assert np.array_equal(pred, model.predict(X))
    assert loaded.card["members"] == model.card["members"] and loaded.card["columns"] == model.card["columns"]


def test_meta_sampler_is_a_plain_optuna_sampler(tiny_kb):
    from autometa.kb import KnowledgeBase
    from autometa.metamodel import (
        MetaModel,
        MetaSampler,
        Settings,
        suggest_config,
        training_data,
        trial_config,
    )

    data = training_data(KnowledgeBase.load(tiny_kb), "classification")
    model = MetaModel.fit(data, Settings(n_models=2, num_boost_round=30, k=4))
    mf = data.metafeatures.loc["test/wine"].to_dict()
    sampler = MetaSampler(model, mf, ["linear", "knn"], seed=0)
    assert isinstance(sampler, optuna.samplers.BaseSampler)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    scores = data.normalized.loc["test/wine"]

    def objective(trial):  # a cheap stand-in for an evaluation: distance to wine's best known C
        family, config = suggest_config(trial, ["linear", "knn"])
        return -abs(np.log10(config["C"]) - 0.5) if family == "linear" else -1.0 + 0.1 * config["n_neighbors"] / 64

    study.optimize(objective, n_trials=8)
    parsed = [trial_config(t.params) for t in study.trials]
    assert all(p is not None for p in parsed)
    assert len({json.dumps(p, sort_keys=True) for p in parsed}) == 8
    assert scores.notna().all()


def test_cli_tune_json_and_saved_model(tiny_kb, wine_csv, tmp_path, run_cli):
    args = ["tune", str(wine_csv), "--kb", str(tiny_kb), "-n", "2", "--storage", str(tmp_path / "s.db"),
            "--study-name", "cli", "--save-model", str(tmp_path / "best.json"), "--json"]
    code, out, err = run_cli(args)
    assert code == 0, err
    payload = json.loads(out)
    assert payload["n_complete"] == 2 and payload["best_family"] in ("linear", "knn")
    import autometa

    saved = autometa.load_model(tmp_path / "best.json")  # any file name: a fitted model, not JSON
    assert saved.family == payload["best_family"] and saved.config == payload["best_config"]
    code, out, err = run_cli(["tune", str(wine_csv), "--kb", str(tiny_kb), "-n", "1", "--storage", str(tmp_path / "s.db"),
                              "--study-name", "cli", "--metric", "roc_auc"])
    assert code == 2 and "created for metric" in err


def test_task_override_is_tuned_and_refit(tiny_kb, wine_csv, tmp_path, run_cli):
    import autometa

    code, out, err = run_cli(["tune", str(wine_csv), "--kb", str(tiny_kb), "-n", "2", "--task", "regression",
                              "--save-model", str(tmp_path / "best.json"), "--json"])
    assert code == 0, err
    assert json.loads(out)["metric"] == "r2"  # wine's integer classes, regressed as asked
    model = autometa.load_model(tmp_path / "best.json")  # fitted as regression, not the inferred task
    assert model.task == "regression" and model.card["task"] == "regression"
    pred = model.predict(load_wine(as_frame=True).frame.drop(columns="target"))
    assert pred.dtype.kind == "f" and len(np.unique(pred)) > 3
    study = autometa.tune(wine_csv, n_trials=1, task="regression", kb=tiny_kb)
    assert autometa.refit(study, wine_csv).task == "regression"
    code, out, err = run_cli(["tune", str(wine_csv), "--kb", str(tiny_kb), "-n", "1", "--task", "classification",
                              "--metric", "rmse"])
    assert code == 2 and err == "error: Metric 'rmse' does not apply to a classification dataset; choose one of " \
                                "balanced_accuracy, roc_auc, log_loss.\n"


@pytest.mark.parametrize("args, words", [
    (["--family", "xgboost"], "Unknown model family"),
    (["--metric", "f1"], "Unknown metric"),
    (["--task", "clustering"], "Unknown task 'clustering'"),
    (["--metric", "accuracy"], "only recorded for imported histories (LCDB, OpenML), not by autometa's evaluation "
                               "protocol; use one of: balanced_accuracy, roc_auc, log_loss."),
    (["--storage", "postgresql://tuner:s3cr3t-pw@127.0.0.1:9/nodb"], "Cannot open the Optuna storage"),
    (["--storage", "/no/such/folder/study.db"], "folder does not exist"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tiny_kb, wine_csv, run_cli, args, words):
    code, out, err = run_cli(["tune", str(wine_csv), "--kb", str(tiny_kb), "-n", "1", *args])
    assert code == 2, err
    # Exactly one line: no blank line of a progress bar that never started, before or after it.
    assert words in err and err.startswith("error: ") and err.count("\n") == 1, repr(err)
    assert "s3cr3t-pw" not in err + out and "Traceback" not in err


@pytest.mark.postgres
def test_many_workers_share_one_postgresql_study(tiny_kb, wine_csv, tmp_path):
    """Two worker processes tune one study in PostgreSQL; the warm start is enqueued once."""
    url = os.environ.get("AUTOMETA_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail("AUTOMETA_TEST_POSTGRES_URL is not set; .ci/run must start PostgreSQL and export it")
        pytest.skip("AUTOMETA_TEST_POSTGRES_URL not set")
    name = f"autometa-tune-test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "AUTOMETA_CACHE_DIR": os.environ["AUTOMETA_CACHE_DIR"]}
    command = [sys.executable, "-c", "import sys, cli; sys.exit(cli.main(sys.argv[1:]))", "tune", str(wine_csv),
               "--kb", str(tiny_kb), "-n", "4", "--storage", url, "--study-name", name, "--json"]
    # The first worker creates the study and the cache; the second joins while the first runs.
    first = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outs = [p.communicate(timeout=600) for p in (first, second)]
    from autometa._tune import open_storage  # the internal part is the unit under test

    storage = open_storage(url)
    try:
        assert first.returncode == 0 and second.returncode == 0, outs
        study = optuna.load_study(study_name=name, storage=storage)
        done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        assert len(done) == 8
        origins = [t.user_attrs["autometa.origin"] for t in study.trials if "autometa.origin" in t.user_attrs]
        assert len(origins) == len(set(origins))  # every recommendation evaluated once
        configs = [json.dumps(t.params, sort_keys=True) for t in done]
        assert len(set(configs)) >= 7  # two workers may rarely propose the same config at the same instant
    finally:
        optuna.delete_study(study_name=name, storage=storage)


def test_a_config_that_fails_under_the_protocol_is_one_warning_line_not_a_traceback(caplog):
    import pandas as pd

    import autometa
    from autometa.evaluation import Protocol

    # 2,000 x 2,100 floats: each fold's scaled copy is a new block of over 32 MiB, which the C allocator always
    # maps afresh, so under a 256 MiB address-space limit (less than the worker's imports alone take) every
    # evaluation runs out of memory, whatever the worker ran before: a failure the search expects.
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(2000, 2100)), columns=[f"x{i}" for i in range(2100)])
    frame["label"] = np.tile([0, 1], 1000)
    optuna.logging.enable_propagation()  # Optuna's records reach pytest's handler
    try:
        with caplog.at_level("WARNING", logger="optuna"):
            study = autometa.tune(frame, target="label", family="knn", n_trials=2, warm_start=False,
                                  protocol=Protocol(memory_limit_mb=256))
    finally:
        optuna.logging.disable_propagation()
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.FAIL] * 2
    assert all("out of memory" in t.user_attrs["autometa.error"] for t in study.trials)
    failed = [r for r in caplog.records if "because of the following error" in r.getMessage()]
    assert len(failed) == 2 and all("knn failed:" in r.getMessage() and "out of memory" in r.getMessage()
                                    for r in failed)
    assert all(r.exc_info is None and not r.exc_text for r in failed)
    assert "Traceback" not in caplog.text


def test_a_family_the_knowledge_base_never_evaluated_is_searched_from_its_space(tiny_kb, wine_csv):
    import autometa
    from autometa.kb import KnowledgeBase

    assert "random_forest" not in set(KnowledgeBase.load(tiny_kb).evaluations["family"])
    # The meta-model knows no config of the family: the sampler's prior has nothing to score, not a crash.
    study = autometa.tune(wine_csv, family="random_forest", n_trials=3, kb=tiny_kb, random_state=0)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 3
    assert {t.params["family"] for t in study.trials} == {"random_forest"}
