"""Exporting a build (shards + logs, or an Optuna storage) into one knowledge-base folder."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

from autometa.errors import InputError
from autometa.kb._knowledge_base import KnowledgeBase
from autometa.kb._store import BUILD_FILE, BuildStore


def open_build(build_dir: str | Path, shard_dir: str | Path | None = None) -> tuple[BuildStore, dict[str, Any]]:
    """The store of an existing build folder (its shard folder as recorded unless given)."""
    folder = Path(build_dir).expanduser()
    store = BuildStore(folder, shard_dir)
    record = store.read_build()
    if record is None:
        raise InputError(f"'{folder}' is not a knowledge-base build folder (no {BUILD_FILE}); run 'autometa kb build' first.")
    if shard_dir is None and record.get("shard_dir"):
        recorded = Path(record["shard_dir"])
        store = BuildStore(folder, recorded if recorded.exists() else folder / "shards")
    return store, record


def build_to_kb(build_dir: str | Path, shard_dir: str | Path | None = None) -> KnowledgeBase:
    """Everything a build has finished so far, as a :class:`KnowledgeBase` (in memory)."""
    from autometa.kb._build import collect_kb

    store, record = open_build(build_dir, shard_dir)
    datasets, evaluations = collect_kb(store)
    meta = {
        "protocol": record["protocol"],
        "build": {
            "kind": "local",
            "runs": record.get("runs", []),
            "versions": record.get("versions", {}),
            "python": record.get("python"),
            "exported_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        },
        "skipped": store.read_skipped(),
    }
    return KnowledgeBase(datasets, evaluations, meta=meta)


def export_build(build_dir: str | Path, out: str | Path, shard_dir: str | Path | None = None) -> KnowledgeBase:
    """Write the knowledge base of a build folder to ``out`` (after folding its logs into its shards)."""
    from autometa.kb._build import compact

    store, _ = open_build(build_dir, shard_dir)
    compact(store)
    kb = build_to_kb(build_dir, shard_dir)
    kb.save(out)
    return kb


def export_storage(url: str, out: str | Path) -> KnowledgeBase:
    """Write the knowledge base held in an Optuna RDB storage (a ``--storage`` build) to ``out``."""
    from autometa.kb._rdb import storage_to_kb

    kb = storage_to_kb(url)
    kb.save(out)
    return kb


def load_any(path: str | Path | None) -> KnowledgeBase:
    """A knowledge-base folder, a build folder (exported in memory), or the shipped KB (``None``)."""
    if path is None:
        return KnowledgeBase.load()
    folder = Path(path).expanduser()
    if (folder / BUILD_FILE).exists() and not (folder / "kb.json").exists():
        return build_to_kb(folder)
    return KnowledgeBase.load(folder)


def write_build_notes(kb: KnowledgeBase, out: str | Path) -> Path:
    """Write ``BUILD.md`` beside an exported knowledge base: how it was built (commands, versions,
    dates, protocol) and what it holds (datasets per source and task, evaluations and failures per
    family), so that anyone can rebuild or continue it."""
    info = kb.info()
    build = kb.meta.get("build") or {}
    lines = ["# How this knowledge base was built", ""]
    lines.append(f"Exported {build.get('exported_at', '?')}; written by `autometa kb export` (do not edit by hand).")
    lines += ["", "## Commands", ""]
    for run in build.get("runs", []):
        command = run.get("command") or (
            f"autometa kb build {' '.join(run.get('corpus', []))} -n {run.get('n_configs')} -j {run.get('n_jobs')} "
            f"--time-limit {run.get('time_limit')} --memory-limit {run.get('memory_limit_mb')}")
        lines.append(f"- {run.get('started_at', '?')} on `{run.get('host', '?')}`: `{command}` "
                     f"({run.get('n_datasets')} datasets, {run.get('n_configs')} configs per family)")
    if build.get("kind") == "storage":
        lines.append(f"- exported from the Optuna storage `{build.get('storage')}`")
    lines += ["", "## Versions", ""]
    versions = build.get("versions") or {}
    lines.append(", ".join(f"{k} {v}" for k, v in versions.items()) + (f", Python {build.get('python')}" if build.get("python") else ""))
    lines += ["", "## Protocol", ""]
    protocol = info.get("protocol") or {}
    lines.append(", ".join(f"{k}={v}" for k, v in sorted(protocol.items())))
    lines.append("(stratified k-fold for classification, shuffled k-fold for regression, seeded row cap; "
                 "see `autometa.evaluation._protocol`)")
    counts = info["counts"]
    lines += ["", "## Contents", "",
              f"{counts['datasets']} datasets, {counts['evaluations']} evaluations ({counts['failures']} not ok), "
              f"{counts['metafeatures']} meta-features.", "",
              "| source | classification | regression |", "|---|---:|---:|"]
    for source, tasks in sorted(info["datasets_per_source"].items()):
        lines.append(f"| {source} | {tasks.get('classification', 0)} | {tasks.get('regression', 0)} |")
    lines += ["", "| family | evaluations | datasets | configs | ok | failed | timeout | memory |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for family, row in sorted(info["families"].items()):
        lines.append(f"| {family} | {row['evaluations']} | {row['datasets']} | {row['configs']} | {row['ok']} | "
                     f"{row['failed']} | {row['timeout']} | {row['memory']} |")
    errors = [(f, text, n) for f, row in sorted(info["families"].items()) for text, n in row["top_errors"].items()]
    if errors:
        lines += ["", "Most common reasons an evaluation is not ok:", ""]
        lines += [f"- {family}: {n} x {text}" for family, text, n in errors]
    skipped = kb.meta.get("skipped") or {}
    if skipped:
        lines += ["", "Datasets skipped (could not be loaded):", ""]
        lines += [f"- {dataset_id}: {why}" for dataset_id, why in sorted(skipped.items())]
    runs = build.get("runs") or []
    if runs:
        lines += ["", "## Continue or rebuild", "",
                  "Run the same build command again (same corpora and `--out`; a larger `-n` adds configs, the sets "
                  "are prefix-stable). On another machine, point `--shard-dir` at the committed shard folder "
                  "(`benchmarks/results/kb_shards`): evaluations found there are not redone. Then "
                  "`autometa kb export BUILD_DIR --out autometa/data/kb`."]
    path = Path(out) / "BUILD.md"
    path.write_text("\n".join(lines) + "\n")
    return path
