"""OpenML importer, offline: OpenML REST responses under tests/data/openml_cache (see its README).

The network is cut in every test (``requests`` refuses to send), so what passes here passes without
OpenML. The online path is exercised too: a fake server answers ``requests`` from the same files,
the importer records what it fetched, and a second, offline run replays the recording.
"""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
import xmltodict

import cli
from autometa import kb
from autometa.errors import InputError
from autometa.kb import KnowledgeBase
from autometa.kb._import_openml import map_flow  # the flow -> family mapping, tested directly
from autometa.kb._openml_client import cache_path  # the cache layout the recordings follow

import_openml = functools.partial(kb.import_openml, save=False)  # the rows only; saving is tested via the CLI

FIXTURE = Path(__file__).parent / "data" / "openml_cache"
SERVER = FIXTURE / "org" / "openml" / "www"
TASKS = [3, 53, 5001]


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(self, request, **kwargs):
        raise requests.exceptions.ConnectionError(f"network disabled in tests: {request.url}")

    monkeypatch.setattr(requests.Session, "send", refuse)


@pytest.fixture
def cache(tmp_path) -> Path:
    """A writable copy of the recorded responses (the importer writes what it fetches)."""
    return Path(shutil.copytree(FIXTURE, tmp_path / "openml-cache"))


def _evaluations(call: str) -> dict[int, dict]:
    """run id -> evaluation, read straight from a recorded listing (the test's own parse)."""
    text = (SERVER / "autometa-responses" / (call + ".xml")).read_text()
    items = xmltodict.parse(text, force_list=("oml:evaluation",))["oml:evaluations"]["oml:evaluation"]
    return {int(e["oml:run_id"]): e for e in items}


def test_offline_import_from_recorded_responses(cache):
    result = import_openml(TASKS, cache_dir=cache, offline=True)
    assert result.record["network_calls"] == 0 and result.record["cache_hits"] > 0
    datasets = result.datasets.set_index("dataset_id")
    assert sorted(datasets.index) == ["openml/3", "openml/54", "openml/690"]
    assert list(datasets.loc[["openml/3", "openml/54", "openml/690"], "task"]) == ["classification"] * 2 + ["regression"]
    # qualities are OpenML's: those of kr-vs-kp are the values the lcdb package ships for dataset 3
    lcdb = pytest.importorskip("autometa.kb._import_lcdb")
    reference = pd.read_csv(lcdb.lcdb_folder() / "datasets.csv").set_index("openmlid").loc[3]
    assert datasets.loc["openml/3", "mf.ClassEntropy"] == pytest.approx(reference["ClassEntropy"])
    assert datasets.loc["openml/3", "n_features"] == reference["NumberOfFeatures"] - 1
    assert datasets.loc["openml/54", "n_classes"] == 4

    ev = result.evaluations.set_index(["dataset_id", "config_id"])
    # one row per (dataset, setup): 7 runs on task 3 share 6 setups, 2 on task 53, 2 on task 5001
    assert len(ev) == 6 + 2 + 2
    families = ev["family"].to_dict()
    assert families[("openml/3", "openml-setup-2001")] == "random_forest"  # Pipeline ending in a forest
    assert families[("openml/3", "openml-setup-2003")] == "svm"  # SVC, rbf kernel
    assert families[("openml/3", "openml-setup-2004")] == "openml:sklearn.svm._classes.SVC"  # poly kernel
    assert families[("openml/3", "openml-setup-2005")] == "openml:weka.J48"
    assert families[("openml/3", "openml-setup-2006")].startswith("openml:sklearn.model_selection._search.RandomizedSearchCV")
    assert families[("openml/690", "openml-setup-2101")] == "linear"


def test_scores_follow_openml_measures(cache):
    ev = import_openml(TASKS, cache_dir=cache, offline=True).evaluations.set_index(["dataset_id", "config_id"])
    auc = _evaluations("evaluation/list/function/area_under_roc_curve/limit/10000/offset/0/run/1001,1002,1003,1004,1005,1006,1007")
    recall = _evaluations("evaluation/list/function/recall/limit/10000/offset/0/run/1001,1002,1003,1004,1005,1006,1007")
    # setup 2001 ran twice on task 3: the mean of both runs, each run kept in fold_scores
    row = ev.loc[("openml/3", "openml-setup-2001")]
    assert row["roc_auc"] == pytest.approx(np.mean([float(auc[r]["oml:value"]) for r in (1001, 1002)]))
    assert json.loads(row["fold_scores"])["roc_auc"] == pytest.approx([float(auc[r]["oml:value"]) for r in (1001, 1002)])
    # balanced accuracy = mean of per-class recalls; J48's run has no recall measure -> NaN, not guessed
    assert row["balanced_accuracy"] == pytest.approx(
        np.mean([np.mean(json.loads(recall[r]["oml:array_data"])) for r in (1001, 1002)]))
    assert np.isnan(ev.loc[("openml/3", "openml-setup-2005"), "balanced_accuracy"])
    accuracy = _evaluations("evaluation/list/function/predictive_accuracy/limit/500/offset/0/task/3")
    assert json.loads(row["fold_scores"])["accuracy"] == [float(accuracy[r]["oml:value"]) for r in (1001, 1002)]
    # multiclass AUC: macro over the per-class AUCs, not OpenML's frequency-weighted value
    auc53 = _evaluations("evaluation/list/function/area_under_roc_curve/limit/10000/offset/0/run/1101,1102")
    macro = np.mean(json.loads(auc53[1101]["oml:array_data"]))
    assert ev.loc[("openml/54", "openml-setup-2001"), "roc_auc"] == pytest.approx(macro)
    assert macro != pytest.approx(float(auc53[1101]["oml:value"]))
    # regression: rmse as is, r2 from the prior's rmse
    rmse = _evaluations("evaluation/list/function/root_mean_squared_error/limit/500/offset/0/task/5001")
    prior = _evaluations("evaluation/list/function/root_mean_prior_squared_error/limit/10000/offset/0/run/1201,1202")
    r = ev.loc[("openml/690", "openml-setup-2101")]
    assert r["rmse"] == pytest.approx(float(rmse[1201]["oml:value"]))
    assert r["r2"] == pytest.approx(1 - (float(rmse[1201]["oml:value"]) / float(prior[1201]["oml:value"])) ** 2)
    assert np.isnan(r["balanced_accuracy"]) and np.isnan(ev.loc[("openml/3", "openml-setup-2001"), "r2"])


def test_configs_in_our_space_terms(cache):
    ev = import_openml([3, 5001], cache_dir=cache, offline=True).evaluations.set_index(["dataset_id", "config_id"])
    forest = json.loads(ev.loc[("openml/3", "openml-setup-2001"), "config"])
    p = 36  # kr-vs-kp: 37 OpenML features minus the target
    assert forest == {"n_estimators": 100, "max_features": pytest.approx(int(np.sqrt(p)) / p),
                      "min_samples_leaf": 1, "bootstrap": True}  # n_jobs/random_state and the imputer left out
    assert json.loads(ev.loc[("openml/3", "openml-setup-2002"), "config"])["max_features"] == 0.3
    assert json.loads(ev.loc[("openml/3", "openml-setup-2003"), "config"])["gamma"] == 1.0  # "scale"
    assert json.loads(ev.loc[("openml/690", "openml-setup-2101"), "config"]) == {"C": pytest.approx(0.1)}  # 1/alpha
    assert json.loads(ev.loc[("openml/3", "openml-setup-2005"), "config"]) == {"J48.M": 5}  # only non-defaults


def test_online_path_records_what_offline_replays(tmp_path, monkeypatch):
    """A fake OpenML server serves the fixture over ``requests``; the import caches every answer."""
    served: list[str] = []

    def fake_get(self, url, params=None, headers=None, **kwargs):
        call = url.split("/api/v1/xml/", 1)[1].replace("%3d", "=")
        served.append(call)
        path = cache_path(SERVER, call)
        response = requests.Response()
        response.url, response.encoding = url, "utf-8"
        if path.is_file():
            response.status_code, response._content = 200, path.read_bytes()
        else:  # the server's "no result" answer
            saved = json.loads(path.with_name(path.name + ".noresult.json").read_text())
            response.status_code = 412
            response._content = (f'<oml:error xmlns:oml="http://openml.org/openml"><oml:code>{saved["code"]}</oml:code>'
                                 f'<oml:message>{saved["message"]}</oml:message></oml:error>').encode()
        response.headers["Content-Encoding"] = "gzip"
        return response

    cache = tmp_path / "fresh-cache"
    with monkeypatch.context() as online:
        online.setattr(requests.Session, "get", fake_get)
        first = import_openml(TASKS, cache_dir=cache)
        n_served = len(served)
        empty = import_openml([53], flows=[100003], cache_dir=cache)
    assert first.record["network_calls"] == n_served > 0 and len(served) == n_served + 1
    assert (cache / "org/openml/www/tasks/3/task.xml").is_file()  # openml-python's own cache layout
    assert (cache / "org/openml/www/datasets/54/qualities.xml").is_file()
    assert empty.notes == ["OpenML task 53 has no runs of the given flows."] and len(empty.evaluations) == 0

    replay = import_openml(TASKS, cache_dir=cache, offline=True)  # no network now
    assert replay.record["network_calls"] == 0
    pd.testing.assert_frame_equal(replay.evaluations, first.evaluations)
    pd.testing.assert_frame_equal(replay.datasets, first.datasets)
    assert import_openml([53], flows=[100003], cache_dir=cache, offline=True).notes == empty.notes


def test_suite_and_flow_filter(cache):
    result = import_openml(suite=424242, flows=[100001, 100002], cache_dir=cache, offline=True)
    assert sorted(result.datasets["dataset_id"]) == ["openml/3", "openml/54"]
    assert set(result.evaluations["family"]) == {"random_forest", "svm", "openml:sklearn.svm._classes.SVC"}


def test_no_cache_and_no_network_is_one_clear_error(tmp_path, cache):
    with pytest.raises(InputError, match=r"Cannot reach OpenML and there is no cached copy of task 3 in"):
        import_openml([3], cache_dir=tmp_path / "empty")
    with pytest.raises(InputError, match="no cached copy of task 31 .*offline"):
        import_openml([31], cache_dir=cache, offline=True)
    with pytest.raises(InputError, match="one of the two"):
        import_openml([3], suite=424242, flows=[1])
    with pytest.raises(InputError, match="--flow"):
        import_openml(suite=424242)
    with pytest.raises(InputError, match="max-runs"):
        import_openml([3], max_runs=0)


def test_cli_offline_import_and_error(cache, tmp_path, capsys):
    out = tmp_path / "kb"
    assert cli.main(["kb", "import-openml", "--task", "3", "--task", "5001", "--cache-dir", str(cache),
                     "--offline", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["datasets"] == 2 and summary["evaluations"] == 8
    assert len(KnowledgeBase.load(out).evaluations) == 8
    assert cli.main(["kb", "import-openml", "--task", "31", "--cache-dir", str(tmp_path / "none"),
                     "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [err[0]] and "no cached copy of task 31" in err[0] and "--cache-dir" in err[0]


@pytest.mark.parametrize(
    ("flow", "family"),
    [
        ("sklearn.ensemble.forest.RandomForestRegressor(3)", "random_forest"),
        ("sklearn.pipeline.Pipeline(imputer=sklearn.impute.SimpleImputer,knn=sklearn.neighbors.KNeighborsClassifier)(1)", "knn"),
        ("lightgbm.sklearn.LGBMClassifier(2)", "lightgbm"),
        ("sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier(1)", "hist_gradient_boosting"),
        ("sklearn.model_selection._search.GridSearchCV(estimator=sklearn.svm.classes.SVC)(1)",
         "openml:sklearn.model_selection._search.GridSearchCV(estimator=sklearn.svm.classes.SVC)"),
        ("mlr.classif.ranger(8)", "openml:mlr.classif.ranger"),
        ("sklearn.tree.tree.DecisionTreeClassifier(4)", "openml:sklearn.tree.tree.DecisionTreeClassifier"),
    ],
)
def test_flow_names_map_onto_families(flow, family):
    assert map_flow(flow, [], n_features=10)[0] == family
