"""The local knowledge-base builder: every family's config set on every dataset of a corpus.

Order of work: first every family's default on every dataset (a partial KB is already useful), then
dataset by dataset (smallest first) the remaining configs, so that finished datasets become shards
early. Resumable: finished evaluations are read back from the build's logs and shards and skipped.
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import os
import platform
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from autometa.errors import InputError
from autometa.evaluation import EvaluationResult, Job, PreparedData, Protocol, WorkerPool, prepare_data
from autometa.kb import _schema as S
from autometa.kb._corpus import DatasetRef, load_locator
from autometa.kb._store import BuildStore, run_key

logger = logging.getLogger(__name__)

Key = tuple[str, str, str]  # (dataset_id, family, config_id)


@dataclass
class BuildPlan:
    """What a build evaluates: datasets x families x the first ``n_configs`` configs of each family."""

    refs: list[DatasetRef]
    families: list[str]
    n_configs: int
    protocol: Protocol
    configs: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from autometa.spaces import config_set

        self.configs = {family: config_set(family, self.n_configs) for family in self.families}

    @property
    def n_evaluations(self) -> int:
        return len(self.refs) * len(self.families) * self.n_configs


@dataclass
class BuildStats:
    """Counters shown by the progress display and returned at the end."""

    total: int = 0
    done_before: int = 0
    done: int = 0
    failures: int = 0
    datasets_total: int = 0
    datasets_done: int = 0
    skipped: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    #: Expected cost of the evaluations (see :func:`evaluation_weight`): all, done before, done now.
    work_total: float = 0.0
    work_before: float = 0.0
    work_done: float = 0.0

    @property
    def remaining(self) -> int:
        return self.total - self.done_before - self.done

    def eta_seconds(self) -> float:
        """Seconds left: this run's pace applied to the expected cost of what is left, so that a build
        that does the cheapest datasets first does not promise the dearest ones at the same rate."""
        elapsed = time.perf_counter() - self.started
        if self.work_done > 0 and self.work_total > 0:
            return elapsed / self.work_done * max(self.work_total - self.work_before - self.work_done, 0.0)
        return math.inf if self.done == 0 else elapsed / self.done * self.remaining


def evaluation_weight(row: dict[str, Any] | None) -> float | None:
    """Expected relative cost of one evaluation on a dataset (its row of the datasets table), or None.

    sqrt(rows used x (features + 5) x sqrt(classes)): on the PMLB and KEEL builds the mean seconds of
    an evaluation grew as about the 0.5th power of that product (log-log correlation 0.91).
    """
    if not row or not row.get("n_rows_used") or row.get("n_features") is None:
        return None
    classes = max(float(row.get("n_classes") or 1), 1.0)
    return math.sqrt(float(row["n_rows_used"]) * (float(row["n_features"]) + 5.0) * math.sqrt(classes))


def dataset_row(ref: DatasetRef, dataset: Any, data: PreparedData, protocol: Protocol) -> dict[str, Any]:
    """The dataset's row of the ``datasets`` table (plus its locator, kept by the build)."""
    return {
        "dataset_id": ref.dataset_id,
        "source": ref.source,
        "name": ref.name,
        "openml_id": ref.openml_id,
        "task": dataset.task,
        "n_rows": int(dataset.n_rows),
        "n_features": int(dataset.n_features),
        "n_classes": dataset.n_classes,
        "row_cap": protocol.row_cap,
        "protocol_version": protocol.version,
        "n_rows_used": data.n_rows_used,
        "locator": ref.locator,
    }


def log_record(key: Key, result: EvaluationResult) -> dict[str, Any]:
    return {
        "dataset_id": key[0], "family": key[1], "config_id": key[2], "result": result.to_dict(),
        "finished_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "host": socket.gethostname(), "pid": os.getpid(),
    }


def record_to_row(record: dict[str, Any], source: str) -> dict[str, Any]:
    result = EvaluationResult.from_dict(record["result"])
    return result.to_row(record["dataset_id"], record["config_id"], source)


class LocalBuilder:
    """Runs a :class:`BuildPlan` into a :class:`BuildStore` with ``n_jobs`` worker processes.

    Args:
        plan: what to evaluate.
        store: the build's files.
        n_jobs: worker processes.
        on_progress: called with the stats after every finished evaluation (for progress displays).
        worker_stderr: where the workers' stderr goes.
    """

    def __init__(self, plan: BuildPlan, store: BuildStore, n_jobs: int = 1,
                 on_progress: Callable[[BuildStats], None] | None = None, worker_stderr: Any = None,
                 command: str | None = None, retry: tuple[str, ...] = ()) -> None:
        self.command = command
        self.retry = tuple(retry)
        self.plan = plan
        self.store = store
        self.n_jobs = n_jobs
        self.on_progress = on_progress
        self.worker_stderr = worker_stderr
        self.stats = BuildStats()

    # ------------------------------------------------------------- resume state
    def _check_build_record(self) -> None:
        previous = self.store.read_build()
        protocol = self.plan.protocol
        if previous is not None:
            old = Protocol.from_dict(previous["protocol"])
            if old.scoring_key() != protocol.scoring_key():
                raise InputError(
                    f"The build in '{self.store.folder}' used protocol {old.to_dict()}; this run asks for "
                    f"{protocol.to_dict()}. Scores would not be comparable: use the same --row-cap (and "
                    "protocol) or another --out folder."
                )
        runs = (previous or {}).get("runs", [])
        # The shard folder keeps every run (committed with the shards, it outlives this folder):
        # earlier runs of this folder that it does not have yet are added, timed from the logs.
        kept = {run_key(r) for r in self.store.read_runs()}
        if any(run_key(r) not in kept for r in runs):  # timing them reads every log: only when needed
            for run in self.store.all_runs(runs):
                if run_key(run) not in kept:
                    self.store.record_run(run)
        runs.append({
            "started_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "host": socket.gethostname(), "families": self.plan.families, "n_configs": self.plan.n_configs,
            "n_jobs": self.n_jobs, "time_limit": protocol.time_limit, "memory_limit_mb": protocol.memory_limit_mb,
            "corpus": sorted({r.source for r in self.plan.refs}), "n_datasets": len(self.plan.refs),
            **({"command": self.command} if self.command else {}),
        })
        self.store.write_build({
            "protocol": protocol.to_dict(), "shard_dir": str(self.store.shard_dir), "runs": runs,
            "python": platform.python_version(), "versions": library_versions(),
        })
        self._run, self._run_started = runs[-1], time.monotonic()
        self._record_run()

    def _record_run(self) -> None:
        """This run's record in the shard folder: evaluations so far and wall time up to now."""
        self.store.record_run({**self._run, "evaluations": self.stats.done,
                               "wall_seconds": round(time.monotonic() - self._run_started, 1)})

    def done_keys(self) -> dict[Key, dict[str, Any]]:
        """Every finished evaluation (from shards and logs), checked against the current config sets."""
        done: dict[Key, dict[str, Any]] = {}
        shards = self.store.read_shards()
        for row in shards[list(S.EVALUATION_KEY) + ["config", "status"]].itertuples(index=False):
            done[(row.dataset_id, row.family, row.config_id)] = {"config": row.config, "status": row.status}
        for record in self.store.iter_log():
            done[(record["dataset_id"], record["family"], record["config_id"])] = record
        self._check_configs(done)
        if self.retry:  # e.g. timeouts of a busy machine, evaluated again; the newer result replaces the old
            done = {k: v for k, v in done.items() if _status(v) not in self.retry}
        return done

    def _check_configs(self, done: dict[Key, dict[str, Any]]) -> None:
        import json

        for (dataset_id, family, config_id), record in done.items():
            expected = self.plan.configs.get(family, {}).get(config_id)
            if expected is None:
                continue
            got = record["result"]["config"] if "result" in record else json.loads(record["config"])
            if not _same_config(got, expected):
                raise InputError(
                    f"Config '{config_id}' of family '{family}' in '{self.store.folder}' ({dataset_id}) differs from "
                    "the current search space; the space changed since the build started. Use another --out folder."
                )

    # --------------------------------------------------------------------- run
    def run(self) -> BuildStats:
        self._check_build_record()
        done = self.done_keys()
        plan, stats = self.plan, self.stats
        stats.total = plan.n_evaluations
        stats.datasets_total = len(plan.refs)
        stats.skipped = dict(self.store.read_skipped())
        # Datasets an earlier run could not load are tried again (a damaged file may have been replaced):
        # one that loads leaves the skipped list, one that still fails is skipped with this run's reason.
        self._unloadable: set[str] = set()
        stats.done_before = sum(1 for r in plan.refs for f in plan.families for c in plan.configs[f]
                                if (r.dataset_id, f, c) in done)
        remaining = {r.dataset_id: {(r.dataset_id, f, c) for f in plan.families for c in plan.configs[f]} - done.keys()
                     for r in plan.refs}
        stats.datasets_done = sum(1 for v in remaining.values() if not v)
        known = self.store.read_datasets()
        weights = self._weights(known)
        per_dataset = sum(len(plan.configs[f]) for f in plan.families)
        loadable = [r for r in plan.refs if r.dataset_id not in stats.skipped]
        stats.work_total = sum(weights[r.dataset_id] * per_dataset for r in loadable)
        stats.work_before = sum(weights[r.dataset_id] * (per_dataset - len(remaining[r.dataset_id])) for r in loadable)
        for ref in plan.refs:  # complete in the logs but no (current) shard yet, e.g. after a kill
            if not remaining[ref.dataset_id]:
                self._write_shard_if_stale(ref)
        if self.on_progress:
            self.on_progress(stats)

        pool_kwargs = {} if self.worker_stderr is None else {"stderr": self.worker_stderr}
        with WorkerPool(self.n_jobs, **pool_kwargs) as pool:
            for job, result in pool.imap_unordered(self._jobs(remaining, known)):
                ref, key = job.tag
                self.store.append(key[0], log_record(key, result))
                stats.done += 1
                stats.work_done += weights[key[0]]
                stats.failures += not result.ok
                left = remaining[key[0]]
                left.discard(key)
                if not left:
                    stats.datasets_done += 1
                    self._write_shard_if_stale(ref)
                    self._record_run()
                if self.on_progress:
                    self.on_progress(stats)
        self.store.write_skipped(stats.skipped)
        if stats.done:
            self._record_run()
        return stats

    def _weights(self, known: dict[str, dict[str, Any]]) -> dict[str, float]:
        # A dataset not loaded yet (a fresh build) weighs as the median known one, or 1 with none known.
        weights = {r.dataset_id: evaluation_weight(known.get(r.dataset_id)) for r in self.plan.refs}
        found = sorted(w for w in weights.values() if w is not None)
        fallback = found[len(found) // 2] if found else 1.0
        return {k: fallback if w is None else w for k, w in weights.items()}

    def _jobs(self, remaining: dict[str, set[Key]], known: dict[str, dict[str, Any]]) -> Iterator[Job]:
        plan = self.plan
        default_id = S.DEFAULT_CONFIG_ID
        # Phase 1: every family's default on every dataset.
        for ref in plan.refs:
            todo = [k for k in sorted(remaining[ref.dataset_id]) if k[2] == default_id]
            if todo:
                data = self._load(ref)
                if data is None:
                    continue
                for key in todo:
                    yield Job(data, key[1], plan.configs[key[1]][key[2]], plan.protocol, tag=(ref, key))
        # Phase 2: dataset by dataset, cheapest first (rows used x features), every other config.
        rows = {**known, **self.store.read_datasets()}  # phase 1 wrote the rows of the datasets it loaded

        def cost(ref: DatasetRef) -> float:
            row = rows.get(ref.dataset_id) or {}
            return float(row.get("n_rows_used", 1e9)) * float(row.get("n_features", 1))

        for ref in sorted(plan.refs, key=cost):
            todo = [k for k in remaining[ref.dataset_id] if k[2] != default_id]
            if not todo or ref.dataset_id in self.stats.skipped:
                continue
            data = self._load(ref)
            if data is None:
                continue
            # config-major inside a dataset: every family's sobol-0001 before any sobol-0002.
            for key in sorted(todo, key=lambda k: (k[2], plan.families.index(k[1]))):
                yield Job(data, key[1], plan.configs[key[1]][key[2]], plan.protocol, tag=(ref, key))

    def _load(self, ref: DatasetRef) -> PreparedData | None:
        if ref.dataset_id in self._unloadable:
            return None
        try:
            dataset = load_locator(ref.locator)
            data = prepare_data(dataset, self.plan.protocol, key=ref.dataset_id)
        except (InputError, ValueError, OSError) as exc:
            self._unloadable.add(ref.dataset_id)
            self.stats.skipped[ref.dataset_id] = str(exc)
            self.store.write_skipped(self.stats.skipped)
            logger.debug("kb build: skipping %s, which cannot be loaded: %s", ref.dataset_id, exc)
            return None
        if self.stats.skipped.pop(ref.dataset_id, None) is not None:
            self.store.write_skipped(self.stats.skipped)
        self.store.write_dataset(dataset_row(ref, dataset, data, self.plan.protocol))
        return data

    def _write_shard_if_stale(self, ref: DatasetRef) -> None:
        records = {(r["family"], r["config_id"]): record_to_row(r, ref.source)
                   for r in self.store.iter_log(ref.dataset_id)}
        shard = self.store.read_shard(ref.dataset_id)
        if len(records) == 0 or set(records) <= set(zip(shard["family"], shard["config_id"], strict=True)):
            return  # nothing new since the shard was written
        rows = shard.to_dict("records")
        rows = [r for r in rows if (r["family"], r["config_id"]) not in records] + list(records.values())
        self.store.write_shard(ref.dataset_id, rows)


def _status(record: dict[str, Any]) -> str:
    return record["result"]["status"] if "result" in record else record.get("status", S.STATUS_OK)


def _same_config(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if set(a) != set(b):
        return False
    for name in a:
        x, y = a[name], b[name]
        if isinstance(x, float) or isinstance(y, float):
            try:
                if not math.isclose(float(x), float(y), rel_tol=1e-9, abs_tol=1e-12):
                    return False
            except (TypeError, ValueError):
                return False
        elif x != y:
            return False
    return True


def library_versions() -> dict[str, str]:
    """Versions of the libraries whose behaviour the scores depend on (recorded with every build)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("autometa", "scikit-learn", "lightgbm", "numpy", "scipy", "pandas", "optuna", "pyarrow"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def compact(store: BuildStore) -> int:
    """Fold every dataset's logged evaluations into its shard (partial datasets too), so that the
    shard folder alone holds everything finished so far (e.g. to commit it and continue elsewhere).
    Returns the number of shards written."""
    datasets = store.read_datasets()
    by_dataset: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    for record in store.iter_log():
        source = datasets.get(record["dataset_id"], {}).get("source", record["dataset_id"].split("/", 1)[0])
        by_dataset.setdefault(record["dataset_id"], {})[(record["family"], record["config_id"])] = record_to_row(record, source)
    written = 0
    for dataset_id, records in by_dataset.items():
        shard = store.read_shard(dataset_id)
        if set(records) <= set(zip(shard["family"], shard["config_id"], strict=True)):
            continue
        rows = [r for r in shard.to_dict("records") if (r["family"], r["config_id"]) not in records]
        store.write_shard(dataset_id, rows + list(records.values()))
        written += 1
    return written


def collect_kb(store: BuildStore, protocol: dict[str, Any] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``datasets`` and ``evaluations`` tables of everything finished in a build (shards + logs)."""
    rows: dict[Key, dict[str, Any]] = {}
    shards = store.read_shards()
    for row in shards.to_dict("records"):
        rows[(row["dataset_id"], row["family"], row["config_id"])] = row
    for record in store.iter_log():
        source = record["dataset_id"].split("/", 1)[0]
        rows[(record["dataset_id"], record["family"], record["config_id"])] = record_to_row(record, source)
    # Read after the evaluations: a dataset's row is written before its first evaluation is logged,
    # so every evaluation read above has its dataset (a build may be running meanwhile).
    datasets = store.read_datasets()
    metafeatures = store.read_metafeatures()
    dataset_rows = []
    for dataset_id, row in datasets.items():
        out = {k: v for k, v in row.items() if k in S.DATASET_COLUMNS}
        for name, value in (metafeatures.get(dataset_id) or {}).items():
            out[S.MF_PREFIX + name] = value
        dataset_rows.append(out)
    evaluations = pd.DataFrame(list(rows.values())) if rows else S.empty_evaluations()
    datasets_df = pd.DataFrame(dataset_rows) if dataset_rows else S.empty_datasets()
    return datasets_df, evaluations


def relocate(locator: dict[str, str], pmlb_root: str | None) -> Any:
    return load_locator(locator, pmlb_root=pmlb_root)
