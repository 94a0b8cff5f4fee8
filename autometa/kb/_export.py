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
    """Write the knowledge base of a build folder to ``out``."""
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
