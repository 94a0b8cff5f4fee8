"""The warm-start benchmark: replay curves, normalization, report files, FLAML's zero-shot config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]


def _script():
    from benchmarks import warmstart

    return warmstart


# Fixtures tiny_kb, run_cli and metamodel_cache: conftest.py.
pytestmark = pytest.mark.usefixtures("metamodel_cache")


def test_replay_methods_pick_distinct_configs_of_the_table(tiny_kb):
    from autometa.kb import KnowledgeBase
    from autometa.metamodel import MetaModel, Settings, training_data
    from benchmarks.replay import Table, defaults_order, random_order, tpe_order, warm_order

    data = training_data(KnowledgeBase.load(tiny_kb), "classification")
    model = MetaModel.fit(data.without("test/wine"), Settings(n_models=2, num_boost_round=30, k=4), time_model=False)
    table = Table(model, data, "test/wine")
    mf = data.metafeatures.loc["test/wine"].to_dict()
    n = int(table.available.sum())
    for order in (warm_order(model, mf, table, n, n_warm=3), random_order(table, n, 0), tpe_order(model, table, n, 0)):
        assert sorted(order) == list(np.flatnonzero(table.available))  # every config once, nothing else
    assert warm_order(model, mf, table, 3, n_warm=3) == model.rank(mf, 3, eligible=table.available)
    defaults = defaults_order(model, table)
    assert [model.candidates["config_id"].iloc[i] for i in defaults] == ["default", "default"]
    curve = table.curve(random_order(table, n, 1), n)
    assert np.all(np.diff(curve) >= 0) and curve[-1] == pytest.approx(np.nanmax(data.scores.loc["test/wine"]))


def test_replays_in_two_processes_equal_those_in_one(tiny_kb):
    from autometa.kb import KnowledgeBase
    from autometa.metamodel import Settings, training_data
    from benchmarks.replay import lodo_replays

    kb = KnowledgeBase.load(tiny_kb)
    data = training_data(kb, "classification")
    held_out = data.complete_datasets(1.0)[:3]
    assert len(held_out) == 3
    kwargs = {"seeds": range(2), "n_trials": 5, "n_warm": 2, "methods": ["warm", "tpe", "zero-shot"]}
    settings = Settings(n_models=2, num_boost_round=30, k=4)
    one = list(lodo_replays(data, held_out, settings, groups=kb.duplicate_groups().to_dict(), **kwargs))
    two = list(lodo_replays(data, held_out, settings, groups=kb.duplicate_groups().to_dict(), n_jobs=2, **kwargs))
    assert [d for d, _ in one] == [d for d, _ in two] == list(held_out)
    for (_, a), (_, b) in zip(one, two, strict=True):
        assert len(a) == 3 * 2 * 5
        pd.testing.assert_frame_equal(a, b)


def test_cli_replay_writes_csv_markdown_and_png(tiny_kb, tmp_path, run_cli):
    out = tmp_path / "results"
    code, _, err = run_cli(["benchmark", "warmstart", "--mode", "replay", "--kb", str(tiny_kb), "--seeds", "2",
                            "--n-trials", "6", "--methods", "warm,zero-shot,tpe,random,defaults", "--out", str(out)])
    assert code == 0, err
    frame = pd.read_csv(out / "warmstart_replay.csv.gz")
    assert set(frame["method"]) == {"warm", "zero-shot", "tpe", "random", "defaults"}
    assert frame["norm"].between(0, 1).all()
    for (_, _, _), rows in frame.groupby(["dataset_id", "method", "seed"]):
        assert list(rows["k"]) == list(range(1, 7)) and rows["norm"].is_monotonic_increasing
    # Every dataset reaches 1.0 with some method: the normalization's best is an observed score.
    assert np.allclose(frame.groupby("dataset_id")["norm"].max(), 1.0)
    zero = frame[frame["method"] == "zero-shot"].groupby("dataset_id")["norm"].nunique()
    assert (zero == 1).all()  # one trial only: flat
    text = (out / "warmstart_replay.md").read_text()
    assert "## Targets" in text and "| warm |" in text and "Wins / ties / losses" in text
    assert (out / "warmstart_replay.png").stat().st_size > 1000


def test_report_tables_follow_the_definitions():
    bench = _script()
    rows = []
    # Two datasets; warm finds the best at once, TPE at trial 3; scores already normalized (min 0, max 1).
    for dataset in ("a", "b"):
        for k in range(1, 5):
            rows.append({"dataset_id": dataset, "task": "classification", "metric": "balanced_accuracy",
                         "method": "warm", "seed": 0, "k": k, "best": 1.0, "table_min": 0.0, "table_max": 1.0})
            rows.append({"dataset_id": dataset, "task": "classification", "metric": "balanced_accuracy",
                         "method": "tpe", "seed": 0, "k": k, "best": 0.5 if k < 3 else 1.0,
                         "table_min": 0.0, "table_max": 1.0})
    frame = bench.normalize_curves(pd.DataFrame(rows))
    tables = bench.summarize(frame, ks=(1, 3))
    assert tables["score"].loc["warm", 1] == 1.0 and tables["score"].loc["tpe", 1] == 0.5
    assert tables["rank"].loc["warm", 1] == 1.0 and tables["rank"].loc["tpe", 1] == 2.0
    assert tables["wtl"].loc["warm", 1] == "2/0/0" and tables["wtl"].loc["warm", 3] == "0/2/0"
    assert tables["match"].loc["warm", 1].startswith("3 ")


def test_trials_to_match_counts_a_dataset_tpe_never_reaches_as_more_than_the_budget():
    bench = _script()
    rows = []
    # a: TPE reaches warm's score at trial 3; b and c: never within the 10 trials.
    for dataset, tpe_best in (("a", (0.5, 0.5) + (1.0,) * 8), ("b", (0.2,) * 10), ("c", (0.1,) * 5 + (0.3,) * 5)):
        for k in range(1, 11):
            for method, best in (("warm", 1.0), ("tpe", tpe_best[k - 1]), ("defaults", 0.0)):
                rows.append({"dataset_id": dataset, "task": "classification", "metric": "balanced_accuracy",
                             "method": method, "seed": 0, "k": k, "best": best, "table_min": 0.0, "table_max": 1.0})
    frame = bench.normalize_curves(pd.DataFrame(rows))
    assert list(bench.tpe_trials_to_reach(bench.seed_means(frame), "warm", 1)) == [3, np.inf, np.inf]
    tables = bench.summarize(frame, ks=(1, 10))
    assert tables["match"].loc["warm", 1] == ">10 (33%)"  # not "3": the datasets TPE never reaches count
    lines = "\n".join(bench.targets(frame, tables))
    assert "median cold-TPE trials to reach warm start's score at 10: more than 10 (never within 10 trials on 2 " \
           "of 3 datasets" in lines
    assert "first recommendation's mean score (1.0000) >= the defaults' first trial" in lines and "**met**" in lines


def test_flaml_zero_shot_config_is_a_valid_lightgbm_config():
    pytest.importorskip("flaml")
    from sklearn.datasets import load_breast_cancer, load_diabetes

    from autometa.data import load_dataset
    from autometa.evaluation import Protocol

    bench = _script()
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    params = bench.flaml_lgbm_config("classification", X, y.to_numpy())
    assert {"n_estimators", "num_leaves", "learning_rate", "max_bin"} <= set(params)
    assert "log_max_bin" not in params and "FLAML_sample_size" not in params
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    scores = bench.evaluate_flaml(load_dataset(X, y=y, task="regression"), Protocol(row_cap=200))
    assert np.isfinite(scores["r2"]) and scores["rmse"] > 0


def test_live_mode_drops_every_copy_of_the_dataset_from_the_kb(tiny_kb):
    from types import SimpleNamespace

    from sklearn.datasets import load_iris, load_wine

    from autometa.data import load_dataset
    from autometa.metamodel import load_kb

    bench = _script()
    knowledge = load_kb(tiny_kb)
    X, y = load_iris(return_X_y=True, as_frame=True)
    # The same data under a name the KB does not know: found by content, with its twin.
    ref = SimpleNamespace(dataset_id="csv/flowers", name="flowers")
    assert bench.kb_copies(knowledge, ref, load_dataset(X, y=y, task="classification", name="flowers")) == [
        "test/iris", "test/iris_twin"]
    X, y = load_wine(return_X_y=True, as_frame=True)
    ref = SimpleNamespace(dataset_id="csv/wine", name="wine")
    assert bench.kb_copies(knowledge, ref, load_dataset(X, y=y, task="classification", name="wine")) == ["test/wine"]
    X = X.assign(extra=np.arange(len(X)) % 7)  # another table, another name: nothing to drop
    ref = SimpleNamespace(dataset_id="csv/other", name="other")
    assert bench.kb_copies(knowledge, ref, load_dataset(X, y=y, task="classification", name="other")) == []


def test_model_selection_benchmark_writes_its_table(tiny_kb, tmp_path):
    from benchmarks import modelselection as module

    out = tmp_path / "ms"
    assert module.main(["--kb", str(tiny_kb), "--tasks", "classification", "--max-datasets", "3", "--out", str(out)]) == 0
    frame = pd.read_csv(out / "modelselection_kb.csv")
    assert frame["dataset_id"].nunique() == 3 and frame["good"].isin([0.0, 1.0]).all()
    assert {"prior", "knn-vote", "lgbm-rank", "portfolio-top1", "selector-top1"} <= set(frame["design"])
    # With select_family the first recommendation's family is the selector's (default variant) choice.
    main = frame[frame["tolerance"] == 0.01]
    shipped = main[main["design"] == "knn-vote"].groupby("dataset_id")["family"].first()
    top1 = main[main["design"] == "selector-top1"].set_index("dataset_id")["family"]
    assert (shipped.reindex(top1.index) == top1).all()
    text = (out / "modelselection_kb.md").read_text()
    assert "within 1 %" in text and "## References" in text and "noise floor" in text


def test_live_runs_are_kept_and_a_stopped_benchmark_resumes_from_them(tiny_kb, tmp_path, monkeypatch):
    from sklearn.datasets import load_diabetes

    bench = _script()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    load_diabetes(as_frame=True).frame.iloc[:120].to_csv(corpus / "diabetes_part.csv", index=False)
    # A file whose target nobody can tell ("target" and "y") is skipped, not the end of the benchmark.
    pd.DataFrame({"a": range(30), "target": [0, 1] * 15, "y": [1, 0] * 15}).to_csv(corpus / "two.csv", index=False)
    argv = ["--mode", "live", "--corpus", str(corpus), "--kb", str(tiny_kb), "--methods", "tpe,defaults",
            "--seeds", "2", "--n-trials", "2", "--row-cap", "120", "--runs", str(tmp_path / "runs")]
    first = bench.run_live(bench.parse([*argv, "--out", str(tmp_path / "a")]))
    kept = sorted(p.name for p in (tmp_path / "runs").iterdir())
    # tpe per seed, the deterministic defaults once; the name holds the settings that change a run
    assert kept == ["csv_diabetes_part__defaults__s0__n2__w5__r120__t30.json",
                    "csv_diabetes_part__tpe__s0__n2__w5__r120__t30.json",
                    "csv_diabetes_part__tpe__s1__n2__w5__r120__t30.json"]

    def no_evaluation(*args, **kwargs):
        raise AssertionError("a kept run was evaluated again")

    monkeypatch.setattr(bench, "_live_run", no_evaluation)
    again = bench.run_live(bench.parse([*argv, "--out", str(tmp_path / "b")]))
    pd.testing.assert_frame_equal(first, again)
    assert set(first["method"]) == {"tpe", "defaults"} and first["best"].notna().any()
    assert set(first["dataset_id"]) == {"csv/diabetes_part"}
    # Other settings are another run: nothing kept is reused for them.
    with pytest.raises(AssertionError, match="evaluated again"):
        bench.run_live(bench.parse([*argv[:-4], "--row-cap", "100", "--runs", str(tmp_path / "runs")]))


def test_one_report_over_the_curves_of_runs_made_apart(tmp_path):
    bench = _script()
    parts = []
    for part, (dataset, trials) in enumerate((("a", 6), ("b", 4))):
        rows = []
        first = 0.9 if dataset == "a" else 0.7  # a: the first pick beats LightGBM's default (0.8), b: it loses
        for method, values in (("warm", [first, 0.5]), ("zero-shot", [first]), ("tpe", [0.1, 0.2, 0.95]),
                               ("defaults", [0.8])):
            rows += bench._curve_rows(dataset, "classification", "balanced_accuracy", True, method, 0, values, trials,
                                      {"family_first": "svm"} if method == "zero-shot" else None)
        frame = bench.normalize_curves(pd.DataFrame(rows).assign(table_min=np.nan, table_max=np.nan))
        parts.append(tmp_path / f"part{part}.csv.gz")
        frame.to_csv(parts[-1], index=False)
    out = tmp_path / "merged"
    assert bench.main(["--mode", "live", "--from-csv", ",".join(map(str, parts)), "--max-k", "4",
                       "--out", str(out)]) == 0
    merged = pd.read_csv(out / "warmstart_live.csv.gz")
    assert set(merged["dataset_id"]) == {"a", "b"} and merged["k"].max() == 4
    # The normalization is over what the runs found by k = 4: TPE's 0.95 at trial 3 is each dataset's best.
    assert merged.loc[(merged["method"] == "tpe") & (merged["k"] == 3), "norm"].eq(1.0).all()
    text = (out / "warmstart_live.md").read_text()
    assert "datasets: 2" in text and "curves of earlier runs: part0.csv.gz, part1.csv.gz" in text
    table = bench.per_dataset_table(merged, bench.seed_means(merged), 4).set_index("dataset")
    assert table.loc["a", "pick vs default"] == "win" and table.loc["b", "pick vs default"] == "loss"
    assert table.loc["a", "first pick"] == "svm" and table.loc["a", "tpe@4"] == 1.0
    assert "| a | classification | svm |" in text
