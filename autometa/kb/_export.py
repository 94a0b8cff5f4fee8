"""Exporting a build (shards + logs, or an Optuna storage) into one knowledge-base folder."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from autometa.errors import InputError
from autometa.kb._knowledge_base import KnowledgeBase, configs_range_text
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
            "runs": store.all_runs(record.get("runs", [])),
            "versions": record.get("versions", {}),
            "python": record.get("python"),
            "exported_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        },
        "skipped": store.read_skipped(),
    }
    return KnowledgeBase(datasets, evaluations, meta=meta)


def export_build(build_dir: str | Path, out: str | Path, shard_dir: str | Path | None = None, *,
                 with_lcdb: bool = False, merge: Sequence[str | Path] = (),
                 progress: Callable[[str], None] | None = None) -> KnowledgeBase:
    """Write the knowledge base of a build folder to ``out`` (after folding its logs into its shards).

    Args:
        with_lcdb: add LCDB's histories (:func:`autometa.kb._import_lcdb.import_lcdb`, from the installed
            ``lcdb`` package).
        merge: knowledge-base folders whose rows are added too (e.g. an ``autometa kb import-*`` result).
        progress: called with a short message before each step.
    """
    from autometa.kb._build import compact

    store, _ = open_build(build_dir, shard_dir)
    compact(store)
    kb = extend(build_to_kb(build_dir, shard_dir), with_lcdb=with_lcdb, merge=merge, progress=progress)
    kb.save(out)
    return kb


def export_storage(url: str, out: str | Path, *, with_lcdb: bool = False, merge: Sequence[str | Path] = (),
                   progress: Callable[[str], None] | None = None) -> KnowledgeBase:
    """Write the knowledge base held in an Optuna RDB storage (a ``--storage`` build) to ``out``
    (``with_lcdb`` and ``merge`` as in :func:`export_build`)."""
    from autometa.kb._rdb import storage_to_kb

    kb = extend(storage_to_kb(url), with_lcdb=with_lcdb, merge=merge, progress=progress)
    kb.save(out)
    return kb


def extend(kb: KnowledgeBase, *, with_lcdb: bool = False, merge: Sequence[str | Path] = (),
           progress: Callable[[str], None] | None = None) -> KnowledgeBase:
    """``kb`` with the rows of the knowledge bases in ``merge`` and, if asked, LCDB's; the command that
    made it is recorded in ``meta["build"]["export_command"]``."""
    from autometa.kb._import_common import command_line

    for path in merge:
        if progress:
            progress(f"merging {path}")
        kb = kb.merge(KnowledgeBase.load(path))
    if with_lcdb:
        from autometa.kb._import_lcdb import import_lcdb

        import_lcdb(progress=progress).add_to(kb)
    kb.meta["build"] = {**(kb.meta.get("build") or {}), "export_command": command_line()}
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
    dates, build time, protocol, imports) and what it holds (datasets per source and task, evaluations
    and failures per family, size on disk), so that anyone can rebuild or continue it."""
    info = kb.info()
    build = kb.meta.get("build") or {}
    runs = build.get("runs") or []
    imports = kb.meta.get("imports") or []
    lines = ["# How this knowledge base was built", ""]
    lines.append(f"Exported {build.get('exported_at', '?')}; written by `autometa kb export` (do not edit by hand).")
    lines += ["", "## Commands", ""]
    for run in runs:
        command = run.get("command") or (
            f"autometa kb build {' '.join(run.get('corpus', []))} -n {run.get('n_configs')} -j {run.get('n_jobs')} "
            f"--time-limit {run.get('time_limit')} --memory-limit {run.get('memory_limit_mb')}")
        wall = f", {_duration(run['wall_seconds'])}" if run.get("wall_seconds") is not None else ""
        lines.append(f"- {run.get('started_at', '?')} on `{run.get('host', '?')}`: `{command}` "
                     f"({run.get('n_datasets')} datasets, {run.get('n_configs')} configs per family{wall})")
    if build.get("kind") == "storage":
        lines.append(f"- exported from the Optuna storage `{build.get('storage')}`")
    for record in imports:
        counts = record.get("counts") or {}
        lines.append(f"- {record.get('date', '?')}: {record.get('source', '?')} import "
                     f"(`{record.get('command', '?')}`; {counts.get('datasets', '?')} datasets, "
                     f"{counts.get('evaluations', '?')} evaluations)")
    if build.get("export_command"):
        lines.append(f"- export: `{build['export_command']}`")
    lines += ["", "## Versions", ""]
    versions = dict(build.get("versions") or {})
    for record in imports:
        if record.get("source") and record.get(record["source"]):
            versions[record["source"]] = record[record["source"]]  # e.g. {"source": "lcdb", "lcdb": "0.1.0"}
    lines.append(", ".join(f"{k} {v}" for k, v in versions.items()) + (f", Python {build.get('python')}" if build.get("python") else ""))
    lines += ["", "## Build time", ""]
    lines += _build_time_lines(kb, runs, info.get("protocol") or {})
    lines += ["", "## Protocol", ""]
    protocol = info.get("protocol") or {}
    lines.append(", ".join(f"{k}={v}" for k, v in sorted(protocol.items())))
    lines.append("(stratified k-fold for classification, shuffled k-fold for regression, seeded row cap; "
                 "see `autometa.evaluation._protocol`)")
    if imports:
        lines.append("Imported rows carry protocol_version 0: they were scored elsewhere, under their source's "
                     "protocol (LCDB: accuracy, binary ROC AUC and log loss on a held-out split; see "
                     "`autometa.kb._import_lcdb`).")
    counts = info["counts"]
    lines += ["", "## Contents", "",
              f"{counts['datasets']} datasets, {counts['evaluations']} evaluations ({counts['failures']} not ok), "
              f"{counts['metafeatures']} meta-features.", "",
              "| source | classification | regression |", "|---|---:|---:|"]
    for source, tasks in sorted(info["datasets_per_source"].items()):
        lines.append(f"| {source} | {tasks.get('classification', 0)} | {tasks.get('regression', 0)} |")
    lines += ["", "| family | evaluations | datasets | configs | configs per dataset | ok | failed | timeout | memory "
              "| sources |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for family, row in sorted(info["families"].items()):
        sources = ", ".join(f"{k} {v}" for k, v in row.get("sources", {}).items())
        per_text = configs_range_text(row["configs_per_dataset"])
        lines.append(f"| {family} | {row['evaluations']} | {row['datasets']} | {row['configs']} | {per_text} | "
                     f"{row['ok']} | {row['failed']} | {row['timeout']} | {row['memory']} | {sources} |")
    metrics = info.get("metrics_per_source") or {}
    if metrics:
        lines += ["", "Metrics reported (evaluations with a value): " + "; ".join(
            f"{source}: " + ", ".join(f"{m} {n}" for m, n in row.items()) for source, row in sorted(metrics.items()))
            + "."]
    errors = [(f, text, n) for f, row in sorted(info["families"].items()) for text, n in row["top_errors"].items()]
    if errors:
        lines += ["", "Most common reasons an evaluation is not ok:", ""]
        lines += [f"- {family}: {n} x {text}" for family, text, n in errors]
    skipped = kb.meta.get("skipped") or {}
    if skipped:
        lines += ["", "Datasets skipped (could not be loaded):", ""]
        lines += [f"- {dataset_id}: {why}" for dataset_id, why in sorted(skipped.items())]
    lines += ["", "## Size on disk", ""]
    lines += _size_lines(Path(out))
    if runs:
        lines += ["", "## Continue or rebuild", "",
                  "Run the same build command again (same corpora and `--out`; a larger `-n` adds configs, the sets "
                  "are prefix-stable). On another machine, point `--shard-dir` at the committed shard folder "
                  "(`benchmarks/results/kb_shards`): evaluations found there are not redone. Then export with the "
                  "export command above (`autometa kb export BUILD_DIR --out autometa/data/kb --with-lcdb`; "
                  "`--with-lcdb` adds LCDB's histories from the installed `lcdb` package, `--merge KB_DIR` the rows "
                  "of any other knowledge base, e.g. an `autometa kb import-openml` result)."]
    path = Path(out) / "BUILD.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _duration(seconds: float) -> str:
    minutes = int(round(float(seconds) / 60))
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{float(seconds) / 60:.1f} min"


def _build_time_lines(kb: KnowledgeBase, runs: list[dict[str, Any]], protocol: dict[str, Any]) -> list[str]:
    lines = []
    timed = [run["wall_seconds"] for run in runs if run.get("wall_seconds") is not None]
    if timed:
        lines.append(f"{_duration(sum(timed))} of wall time over {len(timed)} build runs (each from its start to "
                     "its last evaluation: from the build logs, or as recorded with the shards for runs in other "
                     "build folders; meta-feature passes not included).")
    ev = kb.evaluations
    ours = ev[ev["protocol_version"] > 0]
    if len(ours):
        k = int(protocol.get("k", 1) or 1)
        seconds = float((ours["fit_seconds"].fillna(0) + ours["predict_seconds"].fillna(0)).sum()) * k
        lines.append(f"{_duration(seconds)} spent fitting and predicting inside the {len(ours)} evaluations of the "
                     f"protocol ({k} folds each; single-threaded models, so about that much CPU time).")
    return lines or ["Not recorded (no build runs)."]


def _size_lines(folder: Path) -> list[str]:
    from autometa.kb import _schema as S

    files = [folder / name for name in (S.DATASETS_FILE, S.EVALUATIONS_FILE, S.META_FILE)]
    sizes = {f.name: f.stat().st_size for f in files if f.exists()}
    total = sum(sizes.values())
    parts = ", ".join(f"{name} {size / 1e6:.2f} MB" if size >= 1e5 else f"{name} {size / 1e3:.1f} kB"
                      for name, size in sizes.items())
    return [f"{total / 1e6:.2f} MB ({parts}; plus this file)."]
