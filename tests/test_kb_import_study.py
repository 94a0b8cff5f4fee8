"""Importing a finished Optuna study: a real SQLite study of a real model on iris, and bad input."""

from __future__ import annotations

import functools
import json

import numpy as np
import optuna
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

import cli
from autometa import kb
from autometa.errors import InputError
from autometa.kb import KnowledgeBase

import_study = functools.partial(kb.import_study, save=False)  # the rows only; saving is tested via the CLI

optuna.logging.set_verbosity(optuna.logging.ERROR)


@pytest.fixture(scope="module")
def iris_csv(tmp_path_factory):
    X, y = load_iris(return_X_y=True, as_frame=True)
    path = tmp_path_factory.mktemp("data") / "iris.csv"
    X.assign(species=y).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def storage(tmp_path_factory):
    """A SQLite storage with a forest study (one failing trial) and a mixed-family study."""
    X, y = load_iris(return_X_y=True)
    url = f"sqlite:///{tmp_path_factory.mktemp('optuna') / 'studies.db'}"

    def forest(trial):
        n_estimators = trial.suggest_int("n_estimators", 3, 12)
        leaf = trial.suggest_int("min_samples_leaf", 1, 8)
        if trial.number == 2:
            raise ValueError("deliberate failure")
        model = RandomForestClassifier(n_estimators=n_estimators, min_samples_leaf=leaf, random_state=0)
        return cross_val_score(model, X, y, cv=3, scoring="balanced_accuracy").mean()

    study = optuna.create_study(study_name="iris-forest", storage=url, direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(forest, n_trials=5, catch=(ValueError,))

    def mixed(trial):  # the way a study over families records them: a "family" parameter, prefixed params
        family = trial.suggest_categorical("family", ["knn", "random_forest"])
        if family == "knn":
            model = KNeighborsClassifier(n_neighbors=trial.suggest_int("knn.n_neighbors", 1, 15))
        else:
            model = RandomForestClassifier(n_estimators=trial.suggest_int("random_forest.n_estimators", 3, 10),
                                           random_state=0)
        trial.set_user_attr("fit_seconds", 0.01)
        return -cross_val_score(model, X, y, cv=3, scoring="neg_log_loss").mean()

    mixed_study = optuna.create_study(study_name="iris-mixed", storage=url, direction="minimize",
                                      sampler=optuna.samplers.RandomSampler(seed=1))
    mixed_study.set_user_attr("metric", "log_loss")
    mixed_study.optimize(mixed, n_trials=6)
    optuna.create_study(study_name="two-objectives", storage=url, directions=["maximize", "minimize"])
    return url


def test_study_becomes_task_history(storage, iris_csv):
    result = import_study(storage, "iris-forest", iris_csv, family="random_forest")
    study = optuna.load_study(study_name="iris-forest", storage=storage)
    trials = study.get_trials()
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    failed = [t for t in trials if t.state == optuna.trial.TrialState.FAIL]
    assert len(complete) == 4 and len(failed) == 1

    ds = result.datasets.iloc[0]
    assert ds["dataset_id"] == "study/iris-forest" and ds["source"] == "study" and ds["task"] == "classification"
    assert (ds["n_rows"], ds["n_features"], ds["n_classes"]) == (150, 4, 3)
    assert ds["mf.NumberOfInstances"] == 150 and ds["mf.NumberOfClasses"] == 3  # computed from the file

    ev = result.evaluations.set_index("config_id")
    assert len(ev) == 5 and set(ev["family"]) == {"random_forest"}
    for trial in complete:
        row = ev.loc[f"trial-{trial.number:04d}"]
        assert row["status"] == "ok"
        assert row["balanced_accuracy"] == pytest.approx(trial.value)
        assert json.loads(row["config"]) == trial.params
        assert row["param.n_estimators"] == trial.params["n_estimators"]
    bad = ev.loc[f"trial-{failed[0].number:04d}"]
    assert bad["status"] == "failed" and bad["error"] and np.isnan(bad["balanced_accuracy"])
    assert any("balanced_accuracy" in note for note in result.notes)  # metric inferred from the direction: said


def test_family_and_metric_from_the_study(storage, iris_csv):
    result = import_study(storage, "iris-mixed", iris_csv)  # no --family needed
    study = optuna.load_study(study_name="iris-mixed", storage=storage)
    ev = result.evaluations.set_index("config_id")
    for trial in study.get_trials():
        row = ev.loc[f"trial-{trial.number:04d}"]
        family = trial.params["family"]
        assert row["family"] == family
        assert row["log_loss"] == pytest.approx(trial.value)
        config = json.loads(row["config"])
        assert "family" not in config and all("." not in name for name in config)  # prefixes dropped
        assert row["fit_seconds"] == pytest.approx(0.01)
    assert not any("balanced_accuracy" in note for note in result.notes)


def test_cli_writes_a_knowledge_base(storage, iris_csv, tmp_path, capsys):
    out = tmp_path / "kb"
    args = ["kb", "import-study", "--storage", storage, "--study", "iris-forest", "--data", str(iris_csv),
            "--target", "species", "--family", "random_forest", "--out", str(out), "--json"]
    assert cli.main(args) == 0
    assert json.loads(capsys.readouterr().out)["evaluations"] == 5
    kb = KnowledgeBase.load(out)
    assert list(kb.datasets["dataset_id"]) == ["study/iris-forest"]
    # importing again replaces the rows, never duplicates them
    assert cli.main(args) == 0
    assert len(KnowledgeBase.load(out).evaluations) == 5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(study_name="nope"), r"has no study named 'nope'; its studies: .*'iris-forest'"),
        (dict(family="xgboost"), r"Unknown model family 'xgboost'"),
        (dict(family=None), r"does not say which model family.*--family"),
        (dict(data="missing.csv"), r"missing.csv"),
        (dict(metric="rmse"), r"not a classification metric"),
        (dict(metric="log_loss"), r"maximizes .* log_loss is lower-is-better"),
        (dict(study_name="two-objectives"), r"2 objectives"),
    ],
)
def test_bad_input_is_one_clear_input_error(storage, iris_csv, kwargs, message):
    args = dict(study_name="iris-forest", data=iris_csv, family="random_forest") | kwargs
    with pytest.raises(InputError, match=message):
        import_study(storage, args.pop("study_name"), args.pop("data"), **args)


def test_unreachable_storage_exits_2_without_the_password(tmp_path, iris_csv, capsys):
    with pytest.raises(InputError, match="does not exist"):
        import_study(f"sqlite:///{tmp_path / 'absent.db'}", "s", iris_csv)
    assert not (tmp_path / "absent.db").exists()  # looking must not create a database
    url = "postgresql+psycopg2://alice:s3cret-pw@127.0.0.1:1/optuna"
    pytest.importorskip("psycopg2")
    code = cli.main(["kb", "import-study", "--storage", url, "--study", "s", "--data", str(iris_csv)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "Cannot open the Optuna storage postgresql+psycopg2://alice:***@127.0.0.1:1/optuna" in err[0]
    assert "s3cret-pw" not in err[0]


def test_result_tables_follow_the_schema(storage, iris_csv):
    result = import_study(storage, "iris-forest", iris_csv, family="random_forest")
    kb = KnowledgeBase(result.datasets, result.evaluations)  # validates
    matrix = kb.matrix("random_forest", "balanced_accuracy")
    assert matrix.shape == (1, 4)  # the four COMPLETE trials; failed ones stay out of the matrix
    assert isinstance(result.datasets, pd.DataFrame)


def test_a_multi_fidelity_study_imports_every_trials_first_rung_score(tmp_path, iris_csv):
    """autometa.tune's studies score every trial on the protocol's rows and only the best on more:
    the import takes each trial's first-rung score, pruned trials included, with its rows."""
    url = f"sqlite:///{tmp_path / 'mf.db'}"
    study = optuna.create_study(study_name="climb", storage=url, direction="maximize")
    study.set_user_attr("autometa.rungs", [100, 150])
    study.set_user_attr("metric", "balanced_accuracy")
    for first, top in [(0.90, 0.93), (0.85, None), (0.92, 0.95)]:
        trial = study.ask({"family": optuna.distributions.CategoricalDistribution(["knn"]),
                           "knn.n_neighbors": optuna.distributions.IntDistribution(1, 15)})
        trial.report(first, step=100)
        if top is None:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            trial.report(top, step=150)
            study.tell(trial, top)
    result = import_study(url, "climb", iris_csv)
    ev = result.evaluations.set_index("config_id")
    assert list(ev["balanced_accuracy"]) == pytest.approx([0.90, 0.85, 0.92])
    assert set(ev["status"]) == {"ok"} and set(ev["n_rows_used"]) == {100}
