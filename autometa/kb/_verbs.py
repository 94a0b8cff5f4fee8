"""The knowledge-base verbs from Python: build, export, import (LCDB, OpenML, Optuna studies), info.

Each ``autometa kb ...`` command is a thin layer over one of these functions, so anything the CLI does a
script or a notebook can do too::

    >>> import autometa.kb as kb
    >>> stats = kb.build(["sklearn:iris,wine"], "work/kb-build", families=["knn"], configs_per_family=4)
    >>> knowledge = kb.export("work/kb-build", "work/kb")
    >>> kb.import_lcdb(out="work/kb")                 # adds LCDB's histories to that folder
    >>> kb.info("work/kb")["counts"]

Progress and decisions go to the ``logging`` logger of this module (the CLI shows them on stderr);
nothing here prints.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autometa.errors import InputError
from autometa.evaluation import DEFAULT_PROTOCOL, STATUSES, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from autometa.kb._build import BuildStats
    from autometa.kb._import_common import ImportResult
    from autometa.kb._knowledge_base import KnowledgeBase

logger = logging.getLogger(__name__)

#: Statuses a build may evaluate again (``retry=``): everything but ``ok``.
RETRYABLE: tuple[str, ...] = tuple(s for s in STATUSES if s != "ok")


class _LogConsole:
    """The ``console=`` that older helpers print to, written to this module's logger instead."""

    def __init__(self, level: int = logging.INFO) -> None:
        self.level = level
        self.is_terminal = False

    def print(self, text: Any = "", *args: Any, **kwargs: Any) -> None:
        logger.log(self.level, "%s", text)


def build(
    corpora: Sequence[str],
    out: str | Path | None = None,
    *,
    families: Sequence[str] | None = None,
    configs_per_family: int = 8,
    protocol: Protocol = DEFAULT_PROTOCOL,
    n_jobs: int = 1,
    storage: str | None = None,
    shard_dir: str | Path | None = None,
    metafeatures: bool = True,
    retry: Sequence[str] = (),
    worker_log: str | Path | None = None,
    heartbeat_interval: int = 10,
    grace_period: int | None = None,
    on_progress: Callable[[BuildStats], None] | None = None,
    command: str | None = None,
) -> BuildStats:
    """Evaluate every family's first ``configs_per_family`` configs on every dataset of ``corpora``.

    Resumable: finished evaluations are kept and skipped, so killing a build and calling this again
    continues it; raising ``configs_per_family`` later adds configs without redoing any.

    Args:
        corpora: a PMLB-layout folder, a folder of CSV/Parquet files, ``"keel"``, ``"keel-imbalanced"`` or
            ``"sklearn"``, each optionally followed by ``":name,name"`` to keep only some datasets.
        out: the build folder (logs, shards); required unless ``storage`` is given.
        families: model families (default: all of :func:`autometa.spaces.list_families`).
        configs_per_family: the default config plus ``configs_per_family - 1`` Sobol points per family.
        protocol: how every config is scored (folds, seed, row cap, time and memory limits).
        n_jobs: worker processes.
        storage: an Optuna RDB URL shared by many workers (on many machines); this call works until no
            config is left, then returns what it evaluated. Export with ``export(storage=...)``.
        shard_dir: where finished datasets' shards and the record of build runs go (default ``out/shards``).
        metafeatures: compute the datasets' missing meta-features at the end (local builds).
        retry: evaluate again finished evaluations with these statuses (``timeout``, ``memory``, ``failed``).
        worker_log: append the workers' stderr to this file.
        heartbeat_interval: with ``storage``, seconds between a running trial's heartbeats.
        grace_period: with ``storage``, seconds without a heartbeat before a trial is retried.
        on_progress: called with the :class:`BuildStats` after every finished evaluation (local builds).
        command: the command line recorded with the build's runs (the CLI passes its own).

    Returns:
        The counters of this call: evaluations done and failed, datasets complete, datasets skipped.

    Raises:
        InputError: an unknown family or corpus, a bad ``retry`` status, neither ``out`` nor ``storage``.
    """
    from autometa.kb._build import BuildPlan, BuildStats, LocalBuilder
    from autometa.kb._corpus import resolve_corpora
    from autometa.spaces import get_family, list_families

    bad = [s for s in retry if s not in RETRYABLE]
    if bad:
        raise InputError(f"retry takes {', '.join(RETRYABLE)}; got '{bad[0]}'.")
    family_list = list(families) if families else list_families()
    for name in family_list:
        get_family(name)  # an unknown family is an InputError
    refs = resolve_corpora(list(corpora))
    if storage:
        from autometa.io import mask_url
        from autometa.kb._rdb import run_rdb_worker

        logger.info("kb build: %d datasets x %d families x %d configs via %s", len(refs), len(family_list),
                    configs_per_family, mask_url(storage))
        counts = run_rdb_worker(storage, refs, family_list, configs_per_family, protocol, n_jobs=n_jobs,
                                console=_LogConsole(logging.DEBUG), heartbeat_interval=heartbeat_interval,
                                grace_period=grace_period)
        logger.info("kb build: this worker finished %d evaluations (%d failed); nothing left to do.",
                    counts["evaluated"], counts["failures"])
        return BuildStats(total=counts["evaluated"], done=counts["evaluated"], failures=counts["failures"])
    if out is None:
        raise InputError("Give the build folder (out) or a storage URL.")
    from autometa.kb._store import BuildStore

    plan = BuildPlan(refs, family_list, configs_per_family, protocol)
    store = BuildStore(out, shard_dir).open()
    logger.info("kb build: %d datasets x %d families x %d configs = %d evaluations into %s (row cap %d, %g s, "
                "%d MiB, %d jobs)", len(refs), len(family_list), configs_per_family, plan.n_evaluations, out,
                protocol.row_cap, protocol.time_limit, protocol.memory_limit_mb, n_jobs)
    log_handle = open(worker_log, "ab") if worker_log else None  # noqa: SIM115 (closed below)
    try:
        stats = LocalBuilder(plan, store, n_jobs=n_jobs, on_progress=on_progress, worker_stderr=log_handle,
                             command=command, retry=tuple(retry)).run()
    finally:
        store.close()
        if log_handle:
            log_handle.close()
    logger.info("kb build: %d evaluations this run (%d failed), %d/%d done, %d/%d datasets complete, %d skipped.",
                stats.done, stats.failures, stats.done_before + stats.done, stats.total, stats.datasets_done,
                stats.datasets_total, len(stats.skipped))
    for dataset_id, why in sorted(stats.skipped.items()):
        logger.info("  skipped %s: %s", dataset_id, why)
    if metafeatures:
        refresh_metafeatures(out, shard_dir=shard_dir)
    return stats


def refresh_metafeatures(build_dir: str | Path, *, shard_dir: str | Path | None = None,
                         pmlb_root: str | Path | None = None, force: bool = False) -> dict[str, int]:
    """Compute the meta-features of every dataset of a build that lacks them (all with ``force``).

    Args:
        build_dir: the build folder.
        shard_dir: the build's shard folder (default: as recorded).
        pmlb_root: where the PMLB folders are now, if they moved since the build.
        force: recompute meta-features that exist already.

    Returns:
        Counts: ``computed``, ``skipped`` (already present), ``failed``.
    """
    from autometa.kb._metafeatures import refresh_metafeatures as refresh

    return refresh(build_dir, shard_dir=shard_dir, pmlb_root=pmlb_root, force=force, console=_LogConsole())


def export(
    build_dir: str | Path | None,
    out: str | Path,
    *,
    storage: str | None = None,
    shard_dir: str | Path | None = None,
    with_lcdb: bool = False,
    merge: Sequence[str | Path] = (),
    notes: bool = True,
    progress: Callable[[str], None] | None = None,
) -> KnowledgeBase:
    """Write a build (its shards and logs, or an Optuna storage) as one knowledge-base folder ``out``.

    Args:
        build_dir: the build folder (None with ``storage``).
        out: the knowledge-base folder to write (Parquet tables + ``kb.json``).
        storage: export the build held in this Optuna RDB URL instead.
        shard_dir: the build's shard folder (default: as recorded).
        with_lcdb: add LCDB's histories (from the installed ``lcdb`` package), as :func:`import_lcdb` makes them.
        merge: knowledge-base folders whose rows are added too (e.g. an :func:`import_openml` result).
        notes: write ``BUILD.md`` (commands, versions, build time, counts, size) beside the tables.
        progress: called with a short message before each step.

    Returns:
        The exported :class:`KnowledgeBase`.
    """
    from autometa.kb._export import export_build, export_storage, write_build_notes

    if storage is None and build_dir is None:
        raise InputError("Give the build folder to export, or a storage URL.")
    options: dict[str, Any] = {"with_lcdb": with_lcdb, "merge": tuple(merge), "progress": progress}
    if storage:
        kb = export_storage(storage, out, **options)
    else:
        kb = export_build(build_dir, out, shard_dir=shard_dir, **options)
    if notes:
        write_build_notes(kb, out)
    summary = kb.info()
    counts = summary["counts"]
    sources = ", ".join(f"{k} {sum(v.values())}" for k, v in sorted(summary["datasets_per_source"].items()))
    logger.info("kb export: %d datasets (%s), %d evaluations (%d failed) -> %s", counts["datasets"], sources,
                counts["evaluations"], counts["failures"], out)
    return kb


def info(path: str | Path | None = None) -> dict[str, Any]:
    """Counts of a knowledge base: datasets per source and task, evaluations and failures per family,
    configs per dataset, each source's metrics, the protocol.

    Args:
        path: a knowledge-base folder, a build folder (read in memory), or None for the shipped one.
    """
    from autometa.kb._export import load_any

    return load_any(path).info()


def import_lcdb(
    openml_ids: Sequence[int] | None = None,
    *,
    out: str | Path | None = None,
    save: bool = True,
    folder: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> ImportResult:
    """Import LCDB (20 scikit-learn learners on ~200 OpenML datasets, with OpenML's qualities).

    Needs the ``lcdb`` package (``pip install "autometa[bench]"``). Each learner's test score at the
    largest training size becomes one evaluation; see :mod:`autometa.kb._import_lcdb` for the mapping.

    Args:
        openml_ids: import only these OpenML datasets (default: all that have curves and qualities).
        out: the knowledge-base folder the rows are added to (created when absent; rows for the same
            dataset or (dataset, family, config) are replaced); default :func:`user_kb_path`.
        save: False returns the rows without writing anything.
        folder: the lcdb data folder (default: the installed package's).
        progress: called with a short message before each step.
    """
    from autometa.kb._import_lcdb import import_lcdb as read

    result = read(list(openml_ids) if openml_ids else None, folder=folder, progress=progress)
    return _save(result, out, save, progress)


def import_openml(
    tasks: Sequence[int] = (),
    *,
    suite: str | int | None = None,
    flows: Sequence[int] = (),
    cache_dir: str | Path | None = None,
    max_runs: int = 500,
    offline: bool = False,
    out: str | Path | None = None,
    save: bool = True,
    progress: Callable[[str], None] | None = None,
) -> ImportResult:
    """Import OpenML runs (flows evaluated on tasks, with their setups and the datasets' qualities).

    Needs the ``openml`` package (``pip install "autometa[openml]"``). Answers come from the cache first
    (openml's cache directory, or ``cache_dir``), then from the server; what is fetched is cached.

    Args:
        tasks: OpenML task ids.
        suite: an OpenML benchmark suite id or alias whose tasks are imported (with ``flows``).
        flows: only runs of these flow ids.
        cache_dir: openml's root cache directory (default: openml's own).
        max_runs: at most this many runs per task.
        offline: use the cache only; never touch the network.
        out, save, progress: as in :func:`import_lcdb`.
    """
    from autometa._lazy import require
    from autometa.kb._import_openml import import_openml as read

    require("openml", purpose="Importing OpenML runs")
    result = read(tuple(tasks), suite=suite, flows=tuple(flows), cache_dir=cache_dir, max_runs=max_runs,
                  offline=offline, progress=progress)
    return _save(result, out, save, progress)


def import_study(
    storage: str,
    study_name: str,
    data: Any,
    *,
    target: str | None = None,
    family: str | None = None,
    metric: str | None = None,
    out: str | Path | None = None,
    save: bool = True,
    progress: Callable[[str], None] | None = None,
) -> ImportResult:
    """Import a finished Optuna study as task history (meta-features computed from ``data``).

    Every COMPLETE trial becomes an evaluation of its family and parameters (failed trials are kept as
    failed). The family comes from the trials (:func:`autometa.tune` records it) or ``family``; the
    metric from the study's user attribute ``metric``, ``metric``, or the study's direction.

    Args:
        storage: the Optuna storage URL (``sqlite:///x.db``, ``postgresql://...``); passwords are never shown.
        study_name: the study's name in that storage.
        data: the dataset the study tuned on (a path, a DataFrame or a :class:`autometa.Dataset`).
        target: its target column (default: target/class/label/y, else the last).
        family: the model family of trials that do not name one.
        metric: the metric the trial values are (default: from the study).
        out, save, progress: as in :func:`import_lcdb`.
    """
    from autometa.kb._import_study import import_study as read

    if progress:
        progress(f"reading study {study_name}")
    result = read(storage, study_name, data, target=target, family=family, metric=metric)
    return _save(result, out, save, progress)


def _save(result: ImportResult, out: str | Path | None, save: bool,
          progress: Callable[[str], None] | None) -> ImportResult:
    if not save:
        return result
    from autometa.kb._import_common import user_kb_path

    if progress:
        progress("writing the knowledge base")
    result.save(out if out is not None else user_kb_path())
    summary = result.summary()
    logger.info("kb import: %d datasets, %d evaluations -> %s", summary["datasets"], summary["evaluations"],
                result.saved_to)
    return result
