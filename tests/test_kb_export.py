"""Exporting a build with imported histories merged in (``--merge``, ``--with-lcdb``) and its BUILD.md."""

from __future__ import annotations

import json
import re
import shutil
import time

import pytest

import cli
from autometa import kb as knowledge_base
from autometa.evaluation import Protocol
from autometa.kb import KnowledgeBase


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """A real two-config knn build of iris, and how long it took."""
    folder = tmp_path_factory.mktemp("build") / "build"
    start = time.monotonic()
    knowledge_base.build(["sklearn:iris"], folder, families=["knn"], configs_per_family=2,
                         protocol=Protocol(time_limit=20.0), metafeatures=False,
                         command="autometa kb build sklearn:iris --families knn -n 2")
    return folder, time.monotonic() - start


@pytest.fixture(scope="module")
def lcdb_kb(tmp_path_factory):
    """LCDB's histories of OpenML dataset 3 (kr-vs-kp), imported into a knowledge-base folder."""
    pytest.importorskip("lcdb")
    return knowledge_base.import_lcdb([3], out=tmp_path_factory.mktemp("lcdb") / "kb").saved_to


def test_export_merges_lcdb_and_info_shows_it(build, lcdb_kb, tmp_path, capsys):
    folder, seconds = build
    out = tmp_path / "kb"
    assert cli.main(["kb", "export", str(folder), "--out", str(out), "--merge", str(lcdb_kb)]) == 0
    kb = KnowledgeBase.load(out)
    info = kb.info()
    assert info["datasets_per_source"] == {"lcdb": {"classification": 1}, "sklearn": {"classification": 1}}
    families = info["families"]
    assert families["knn"]["sources"] == {"lcdb": 1, "sklearn": 2}  # LCDB's KNeighbors maps onto our knn
    # Configs per dataset count our protocol's rows: LCDB's one config per dataset would hide a short build.
    assert families["knn"]["configs_per_dataset"] == {"min": 2, "max": 2} and families["knn"]["configs"] == 3
    assert families["lcdb:SVC_poly"]["configs_per_dataset"] == {"min": 1, "max": 1}
    assert families["lcdb:GradientBoostingClassifier"]["sources"] == {"lcdb": 1}
    assert set(info["metrics_per_source"]["lcdb"]) == {"accuracy", "roc_auc", "log_loss"}  # kr-vs-kp is binary
    assert "accuracy" not in info["metrics_per_source"]["sklearn"]
    assert info["protocol_versions"] == [0, 1]
    # The balanced-accuracy matrix is ours alone; LCDB's rows appear under the metrics LCDB reports.
    assert list(kb.matrix("knn").index) == ["sklearn/iris"] and kb.matrix("knn").shape == (1, 2)
    assert list(kb.matrix("knn", "accuracy").columns) == ["lcdb-KNeighborsClassifier"]
    assert kb.matrix("lcdb:GradientBoostingClassifier", "roc_auc").shape == (1, 1)
    assert [record["source"] for record in kb.meta["imports"]] == ["lcdb"]

    assert cli.main(["kb", "info", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["families"]["lcdb:SVC_poly"]["sources"] == {"lcdb": 1}
    assert cli.main(["kb", "info", str(out)]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"lcdb reports roc_auc \(\d+\), log_loss \(\d+\), accuracy \(\d+\)", printed)

    notes = (out / "BUILD.md").read_text()
    assert "`autometa kb build sklearn:iris --families knn -n 2`" in notes
    assert "--merge" in notes and "lcdb import" in notes and re.search(r"lcdb \d+\.\d+", notes)
    assert "| lcdb | 1 | 0 |" in notes
    assert re.search(r"\| knn \| 3 \| 2 \| 3 \| 2 \| 3 \|", notes)  # evaluations, datasets, configs, per dataset, ok
    # Build time: the run's wall time read back from its logs, at most the time the build took.
    (run,) = kb.meta["build"]["runs"]
    assert 0 < run["wall_seconds"] <= seconds + 1
    assert "of wall time over 1 build runs" in notes
    # Size on disk: the files as written.
    total = sum((out / name).stat().st_size for name in ("datasets.parquet", "evaluations.parquet", "kb.json"))
    assert f"## Size on disk\n\n{total / 1e6:.2f} MB" in notes


def test_runs_kept_with_the_shards_outlive_the_build_folder(build, tmp_path):
    """A build continued in a fresh folder from the same shards (another machine) still reports the
    earlier run, with the wall time recorded with the shards."""
    folder, seconds = build
    shards = folder / "shards"
    (first,) = json.loads((shards / "runs.json").read_text())
    assert first["evaluations"] == 2 and 0 < first["wall_seconds"] <= seconds + 1
    copy = tmp_path / "shards"
    shutil.copytree(shards, copy)
    stats = knowledge_base.build(["sklearn:iris"], tmp_path / "elsewhere", shard_dir=copy, families=["knn"],
                                 configs_per_family=3, protocol=Protocol(time_limit=20.0), metafeatures=False,
                                 command="autometa kb build sklearn:iris --families knn -n 3")
    assert stats.done_before == 2 and stats.done == 1
    runs = knowledge_base.export(tmp_path / "elsewhere", tmp_path / "kb", notes=False).meta["build"]["runs"]
    assert [r["command"].split()[-1] for r in runs] == ["2", "3"]
    assert runs[0]["wall_seconds"] == first["wall_seconds"] and runs[1]["wall_seconds"] > 0
    assert [r["evaluations"] for r in json.loads((copy / "runs.json").read_text())] == [2, 1]


@pytest.mark.slow
def test_export_with_lcdb_imports_all_of_it(build, tmp_path):
    folder, _ = build
    out = tmp_path / "kb"
    assert cli.main(["kb", "export", str(folder), "--out", str(out), "--with-lcdb"]) == 0
    kb = KnowledgeBase.load(out)
    ds = kb.datasets
    assert (ds["source"] == "lcdb").sum() >= 190 and ds["openml_id"].notna().sum() >= 190
    groups = kb.duplicate_groups()
    assert groups.index.is_unique and len(groups) == len(ds)
    lcdb_rows = kb.evaluations[kb.evaluations["source"] == "lcdb"]
    assert lcdb_rows["balanced_accuracy"].isna().all() and lcdb_rows["accuracy"].notna().mean() > 0.95
    assert "--with-lcdb" in (out / "BUILD.md").read_text()
