"""On-disk state of a local knowledge-base build: an append-only log per dataset, and shards.

Layout of a build folder ``DIR``::

    DIR/build.json                      the protocol, families and corpus of the build (checked on rerun)
    DIR/logs/<dataset>.jsonl            one line per finished evaluation, appended and fsync'ed
    DIR/skipped.json                    datasets that could not be loaded, with the reason
    SHARDS/datasets/<dataset>.json      the dataset's row of the ``datasets`` table (+ how to reload it)
    SHARDS/evaluations/<dataset>.parquet  every evaluation of a dataset whose config set is complete
    SHARDS/metafeatures/<dataset>.json  its meta-features (filled by ``autometa kb refresh-metafeatures``)
    SHARDS/runs.json                    every build run that wrote shards here: command, host, start,
                                        evaluations and wall time (so a build continued elsewhere keeps them)

``SHARDS`` is ``DIR/shards`` unless given; shards are small, compressed and self-contained, so they can
be committed and a build continued from them on another machine. A log line is written only after the
evaluation finished, so a kill at any moment loses at most the evaluations in flight (re-run later)
and never duplicates one; a torn last line (kill during the write) is cut off on the next open.
"""

from __future__ import annotations

import bisect
import datetime as _dt
import fcntl
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from autometa.errors import ArtifactError, InputError
from autometa.io import atomic_path, atomic_write, dumps, parse_json
from autometa.kb import _schema as S

BUILD_FILE = "build.json"
LOCK_FILE = ".lock"
RUNS_FILE = "runs.json"


def run_key(run: dict[str, Any]) -> tuple[str, str]:
    """A build run's identity: its host and start time."""
    return str(run.get("host")), str(run.get("started_at"))


def safe_name(dataset_id: str) -> str:
    """A file name for a dataset id (``pmlb/iris`` -> ``pmlb__iris``)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", dataset_id.replace("/", "__"))


class BuildStore:
    """Files of one local build (see the module docstring)."""

    def __init__(self, folder: str | Path, shard_dir: str | Path | None = None) -> None:
        self.folder = Path(folder).expanduser().resolve()
        self.shard_dir = Path(shard_dir).expanduser().resolve() if shard_dir else self.folder / "shards"
        self._lock_handle: Any = None

    # ------------------------------------------------------------ lifecycle
    def open(self) -> BuildStore:
        for sub in (self.folder / "logs", self.shard_dir / "datasets", self.shard_dir / "evaluations",
                    self.shard_dir / "metafeatures"):
            sub.mkdir(parents=True, exist_ok=True)
        self._lock_handle = open(self.folder / LOCK_FILE, "w")
        try:
            fcntl.flock(self._lock_handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"Another build is running in '{self.folder}'; wait for it or use another --out.") from None
        return self

    def close(self) -> None:
        if self._lock_handle is not None:
            self._lock_handle.close()
            self._lock_handle = None

    def read_build(self) -> dict[str, Any] | None:
        return _read_json(self.folder / BUILD_FILE, None)

    def write_build(self, record: dict[str, Any]) -> None:
        atomic_write(self.folder / BUILD_FILE, dumps(record, indent=2, sort_keys=True))

    # ----------------------------------------------------------------- runs
    def read_runs(self) -> list[dict[str, Any]]:
        """The build runs recorded with the shards, oldest first."""
        return _read_json(self.shard_dir / RUNS_FILE, [])

    def record_run(self, run: dict[str, Any]) -> None:
        """Add ``run`` to the shard folder's runs, or replace the record with its key (:func:`run_key`)."""
        runs = [r for r in self.read_runs() if run_key(r) != run_key(run)] + [run]
        runs.sort(key=lambda r: str(r.get("started_at")))
        atomic_write(self.shard_dir / RUNS_FILE, dumps(runs, indent=1, sort_keys=True))

    def all_runs(self, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``runs`` (this folder's ``build.json``) and those recorded with the shards, oldest first, with
        ``wall_seconds``: from this folder's logs where they have the run, else as recorded."""
        merged = {run_key(r): dict(r) for r in self.read_runs()}
        for run in _with_wall_times(runs, self):
            kept = merged.get(run_key(run), {})
            if not run.get("wall_seconds") and kept.get("wall_seconds"):
                run["wall_seconds"] = kept["wall_seconds"]
            merged[run_key(run)] = {**kept, **run}
        return sorted(merged.values(), key=lambda r: str(r.get("started_at")))

    # ------------------------------------------------------------- datasets
    def write_dataset(self, row: dict[str, Any]) -> None:
        path = self.shard_dir / "datasets" / f"{safe_name(row['dataset_id'])}.json"
        atomic_write(path, dumps(row, indent=1, sort_keys=True))

    def read_datasets(self) -> dict[str, dict[str, Any]]:
        rows = {}
        for path in sorted((self.shard_dir / "datasets").glob("*.json")):
            row = _read_json(path, None)
            rows[row["dataset_id"]] = row
        return rows

    def write_metafeatures(self, dataset_id: str, values: dict[str, float], seconds: float) -> None:
        path = self.shard_dir / "metafeatures" / f"{safe_name(dataset_id)}.json"
        payload = {"dataset_id": dataset_id, "seconds": seconds, "values": values}
        atomic_write(path, json.dumps(payload, indent=1, sort_keys=True, allow_nan=True) + "\n")

    def read_metafeatures(self) -> dict[str, dict[str, float]]:
        out = {}
        for path in sorted((self.shard_dir / "metafeatures").glob("*.json")):
            payload = _read_json(path, None)
            out[payload["dataset_id"]] = payload["values"]
        return out

    def write_skipped(self, skipped: dict[str, str]) -> None:
        atomic_write(self.folder / "skipped.json", dumps(skipped, indent=1, sort_keys=True))

    def read_skipped(self) -> dict[str, str]:
        return _read_json(self.folder / "skipped.json", {})

    # ---------------------------------------------------------------- logs
    def append(self, dataset_id: str, record: dict[str, Any]) -> None:
        """Append one finished evaluation to the dataset's log, durably (fsync) before returning."""
        path = self.folder / "logs" / f"{safe_name(dataset_id)}.jsonl"
        _repair_tail(path)
        line = json.dumps(record, sort_keys=True, allow_nan=True) + "\n"
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def iter_log(self, dataset_id: str | None = None) -> Iterator[dict[str, Any]]:
        """Every complete record of one dataset's log (or all logs); a torn last line is skipped."""
        paths = ([self.folder / "logs" / f"{safe_name(dataset_id)}.jsonl"] if dataset_id
                 else sorted((self.folder / "logs").glob("*.jsonl")))
        for path in paths:
            if not path.exists():
                continue
            with open(path, encoding="utf-8") as handle:
                for line in handle:
                    if not line.endswith("\n"):
                        break  # torn write of a killed build: that evaluation is redone
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError:
                        continue

    # --------------------------------------------------------------- shards
    def shard_path(self, dataset_id: str) -> Path:
        return self.shard_dir / "evaluations" / f"{safe_name(dataset_id)}.parquet"

    def write_shard(self, dataset_id: str, rows: list[dict[str, Any]]) -> None:
        frame = S.validate_evaluations(pd.DataFrame(rows), where=f"shard of {dataset_id}")
        with atomic_path(self.shard_path(dataset_id)) as tmp:  # the build and an export may both write
            _write_small_parquet(frame, tmp)

    def read_shards(self) -> pd.DataFrame:
        frames = [self._read(p) for p in sorted((self.shard_dir / "evaluations").glob("*.parquet"))]
        frames = [f for f in frames if len(f)]
        return pd.concat(frames, ignore_index=True, sort=False) if frames else S.empty_evaluations()

    def read_shard(self, dataset_id: str) -> pd.DataFrame:
        path = self.shard_path(dataset_id)
        return self._read(path) if path.exists() else S.empty_evaluations()

    @staticmethod
    def _read(path: Path) -> pd.DataFrame:
        return S.validate_evaluations(pd.read_parquet(path), where=f"shard '{path}'")


def _write_small_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Parquet for many small files: no pandas metadata and no column statistics (they would be most
    of a shard's bytes); readers re-type the columns through the schema's validation anyway."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    pq.write_table(table, path, compression=S.PARQUET_COMPRESSION, write_statistics=False)


def _repair_tail(path: Path) -> None:
    """Cut a torn last line (no newline) so that the next append starts on a line of its own."""
    if not path.exists():
        return
    with open(path, "rb+") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        if size == 0:
            return
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        data_end = size
        step = 4096
        while data_end > 0:
            start = max(0, data_end - step)
            handle.seek(start)
            chunk = handle.read(data_end - start)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                handle.truncate(start + cut + 1)
                return
            data_end = start
        handle.truncate(0)


def _read_json(path: Path, missing: Any) -> Any:
    """A JSON file of the build (``missing`` if there is none); a damaged one is one sentence naming it."""
    if not path.exists():
        return missing
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ArtifactError(f"Cannot read '{path}' ({exc.strerror or exc}).") from None
    return parse_json(raw, where=f"The build file '{path}'",
                      remedy="delete it (a dataset's files are redone by the next build) or restore it")


def _with_wall_times(runs: list[dict[str, Any]], store: BuildStore) -> list[dict[str, Any]]:
    """``runs`` with ``wall_seconds`` where the build logs tell it: a run lasted from its start to the
    last evaluation logged before the next run started (a run's closing meta-feature pass is not logged,
    so it is not counted). A run that logged nothing gets 0."""
    starts = [_timestamp(run.get("started_at")) for run in runs]
    if not runs or any(t is None for t in starts):
        return runs
    last = [None] * len(runs)
    for record in store.iter_log():
        finished = _timestamp(record.get("finished_at"))
        if finished is None:
            continue
        i = bisect.bisect_right(starts, finished) - 1
        if i >= 0 and (last[i] is None or finished > last[i]):
            last[i] = finished
    out = []
    for run, start, end in zip(runs, starts, last, strict=True):
        wall = run.get("wall_seconds")
        if wall is None:
            wall = max(0.0, (end - start).total_seconds()) if end is not None else 0.0
        out.append({**run, "wall_seconds": round(float(wall), 1)})
    return out


def _timestamp(text: Any) -> _dt.datetime | None:
    try:
        stamp = _dt.datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=_dt.timezone.utc)
