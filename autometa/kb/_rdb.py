"""Many workers on many machines: a knowledge-base build shared through an Optuna RDB storage.

Each dataset is an Optuna study named ``autometa-kb:p<version>-<cap>-<seed>:<dataset_id>``; its
configs are enqueued as trials (``study.enqueue_trial``) with ``family`` / ``config_id`` / ``config``
as user attributes, and the evaluation's result is stored in the trial's user attribute ``result``.
Every worker runs the same command; a worker:

1. loads a dataset, creates its study if needed and enqueues the configs not yet there;
2. pops waiting trials (``ask()``) and evaluates them in its worker pool, recording a heartbeat;
3. tells each trial COMPLETE (value: the primary metric; ``-inf`` for a failed evaluation, whose
   status and error are in ``result``).

Exactly once, even when workers die: a worker killed mid-trial stops its heartbeat; any live worker
fails the stale trial (``fail_stale_trials``) and the retry callback enqueues a copy. A RUNNING trial
older than the time limit plus a margin is failed the same way (it covers a kill between ``ask()``
and the first heartbeat). Two waiting copies of a config can exist (two workers enqueued at once, or a
retry): the copy that has a lower-numbered WAITING/RUNNING/COMPLETE twin is closed as PRUNED without
running, so each config ends with exactly one COMPLETE trial. PRUNED trials are scheduling no-ops.
"""

from __future__ import annotations

import json
import math
import threading
import time
import warnings
import zlib
from collections.abc import Iterable
from typing import Any

from autometa.errors import InputError
from autometa.evaluation import (
    STATUS_FAILED,
    EvaluationResult,
    Job,
    Protocol,
    WorkerPool,
    failed_result,
    prepare_data,
)
from autometa.io import mask_url
from autometa.io import open_storage as _open_storage
from autometa.kb import _schema as S
from autometa.kb._corpus import DatasetRef

STUDY_PREFIX = "autometa-kb:"
#: A trial retried this many times (its worker died each time) is recorded as a failed evaluation.
MAX_RETRY = 3
#: A RUNNING trial older than the time limit plus this many seconds belongs to a dead worker.
STALE_MARGIN_SECONDS = 300.0


def study_name(protocol: Protocol, dataset_id: str) -> str:
    return f"{STUDY_PREFIX}p{protocol.version}-{protocol.row_cap}-{protocol.seed}:{dataset_id}"


def open_storage(url: str, *, heartbeat_interval: int = 10, grace_period: int | None = None):
    """The build's storage: :func:`autometa.io.open_storage` with heartbeats and :func:`_retry_or_record`."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return _open_storage(url, heartbeat_interval=heartbeat_interval, grace_period=grace_period,
                         stale_trial_callback=_retry_or_record)


def _retry_or_record(study: Any, trial: Any) -> None:
    """Heartbeat-stale callback: enqueue a copy of the dead worker's trial; after MAX_RETRY deaths,
    record the config as a failed evaluation instead (so it is never lost)."""
    import optuna

    history = list(trial.system_attrs.get("retry_history", [])) + [trial.number]
    system_attrs = {"failed_trial": trial.number, "retry_history": history}
    if len(history) <= MAX_RETRY:
        study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.WAITING, user_attrs=trial.user_attrs,
                                                  system_attrs=system_attrs))
        return
    attrs = dict(trial.user_attrs)
    config = json.loads(attrs.get("config", "{}"))
    result = EvaluationResult(family=attrs.get("family", ""), config=config, status=STATUS_FAILED,
                              error=f"the worker evaluating it died {len(history)} times (killed or crashed)",
                              protocol_version=int(attrs.get("protocol_version", 0)))
    attrs["result"] = json.dumps(result.to_dict(), allow_nan=True)
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.COMPLETE, value=-math.inf,
                                              user_attrs=attrs, system_attrs=system_attrs))


class _Heartbeat:
    """Records the trial's heartbeat every ``interval`` seconds while an evaluation runs."""

    def __init__(self, storage: Any, trial_id: int, interval: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, args=(storage, trial_id, interval), daemon=True)

    def _beat(self, storage: Any, trial_id: int, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                storage.record_heartbeat(trial_id)
            except Exception:  # a lost connection must not kill the evaluation; stale detection copes
                pass

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def _seed_study(storage: Any, ref: DatasetRef, row: dict[str, Any], configs: dict[str, dict[str, dict[str, Any]]],
                protocol: Protocol):
    import optuna

    study = optuna.create_study(storage=storage, study_name=study_name(protocol, ref.dataset_id),
                                direction="maximize", load_if_exists=True)
    if "dataset" not in study.user_attrs:
        study.set_user_attr("dataset", {k: v for k, v in row.items() if k in S.DATASET_COLUMNS})
        study.set_user_attr("protocol", protocol.to_dict())
    present = {(t.user_attrs.get("family"), t.user_attrs.get("config_id"))
               for t in study.get_trials(deepcopy=False) if t.state != optuna.trial.TrialState.FAIL}
    families = list(configs)
    order = sorted(((f, c) for f in families for c in configs[f]),
                   key=lambda fc: (fc[1] != S.DEFAULT_CONFIG_ID, fc[1], families.index(fc[0])))
    for family, config_id in order:
        if (family, config_id) not in present:
            study.enqueue_trial({}, user_attrs={
                "family": family, "config_id": config_id, "config": json.dumps(configs[family][config_id], sort_keys=True),
                "protocol_version": protocol.version,
            })
    return study


def _is_duplicate(study: Any, trial_number: int, family: str, config_id: str) -> bool:
    import optuna

    live = (optuna.trial.TrialState.WAITING, optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.COMPLETE)
    return any(t.number < trial_number and t.state in live and t.user_attrs.get("family") == family
               and t.user_attrs.get("config_id") == config_id for t in study.get_trials(deepcopy=False))


def _fail_stale(study: Any, protocol: Protocol) -> None:
    """Heartbeat-stale trials, and RUNNING trials older than any evaluation can take, are failed and retried."""
    import datetime as dt

    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "experimental" since Optuna 2.9
        optuna.storages.fail_stale_trials(study)
    limit = protocol.time_limit + STALE_MARGIN_SECONDS
    now = dt.datetime.now()
    storage = study._storage
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if trial.datetime_start is not None and (now - trial.datetime_start).total_seconds() > limit:
            try:
                if storage.set_trial_state_values(trial._trial_id, state=optuna.trial.TrialState.FAIL):
                    _retry_or_record(study, storage.get_trial(trial._trial_id))
            except optuna.exceptions.UpdateFinishedTrialError:
                pass


def run_rdb_worker(url: str, refs: Iterable[DatasetRef], families: list[str], n_configs: int, protocol: Protocol,
                   *, n_jobs: int = 1, console: Any = None, heartbeat_interval: int = 10,
                   grace_period: int | None = None, poll_seconds: float | None = None) -> dict[str, int]:
    """Work on the shared build until no config of any dataset is waiting or running.

    Returns counts of what this worker did: ``evaluated``, ``failures``, ``pruned`` (duplicates skipped).
    """
    import optuna

    from autometa.kb._build import dataset_row
    from autometa.spaces import config_set

    storage = open_storage(url, heartbeat_interval=heartbeat_interval, grace_period=grace_period)
    configs = {f: config_set(f, n_configs) for f in families}
    refs = list(refs)
    # Workers start at different datasets (by host and process) so that they rarely share a study.
    import os
    import socket

    offset = zlib.crc32(f"{socket.gethostname()}:{os.getpid()}".encode()) % max(len(refs), 1)
    refs = refs[offset:] + refs[:offset]
    counts = {"evaluated": 0, "failures": 0, "pruned": 0}
    skipped: dict[str, str] = {}
    poll = poll_seconds if poll_seconds is not None else float(heartbeat_interval)
    waiting_states = (optuna.trial.TrialState.WAITING,)
    with WorkerPool(n_jobs) as pool:
        while True:
            busy = False
            for ref in refs:
                if ref.dataset_id in skipped or _nothing_to_do(storage, ref, configs, protocol):
                    continue
                try:
                    dataset = ref.load()
                    data = prepare_data(dataset, protocol, key=ref.dataset_id)
                except (InputError, ValueError, OSError) as exc:
                    skipped[ref.dataset_id] = str(exc)
                    continue
                study = _seed_study(storage, ref, dataset_row(ref, dataset, data, protocol), configs, protocol)
                _fail_stale(study, protocol)
                while study.get_trials(deepcopy=False, states=waiting_states):
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")  # "heartbeat is supposed to be used with optimize"
                        trial = study.ask()
                    storage.record_heartbeat(trial._trial_id)
                    attrs = trial.user_attrs
                    family, config_id = attrs.get("family"), attrs.get("config_id")
                    if family is None or family not in configs or _is_duplicate(study, trial.number, family, config_id):
                        # a fresh trial (the queue emptied under us), or a twin of a config already taken
                        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                        counts["pruned"] += 1
                        continue
                    busy = True
                    config = json.loads(attrs["config"])
                    with _Heartbeat(storage, trial._trial_id, heartbeat_interval):
                        try:
                            result = pool.evaluate(Job(data, family, config, protocol))
                        except Exception as exc:  # the pool itself failed (worker did not start)
                            result = failed_result(family, config, STATUS_FAILED, f"{type(exc).__name__}: {exc}",
                                                   data, protocol)
                    value = result.scores.get(S.PRIMARY_METRIC[data.task], math.nan)
                    try:
                        trial.set_user_attr("result", json.dumps(result.to_dict(), allow_nan=True))
                        study.tell(trial, -math.inf if not result.ok or not math.isfinite(value) else value)
                    except optuna.exceptions.UpdateFinishedTrialError:
                        continue  # declared dead meanwhile and retried: the copy will be evaluated
                    counts["evaluated"] += 1
                    counts["failures"] += not result.ok
                    if console is not None:
                        console.print(f"{time.strftime('%H:%M:%S')} {ref.dataset_id} {family} {config_id}: "
                                      f"{result.status} ({result.wall_seconds:.1f} s)", highlight=False)
            if busy:
                continue
            if not _anything_running(storage, refs, protocol):
                return counts
            time.sleep(poll)


def _nothing_to_do(storage: Any, ref: DatasetRef, configs: dict[str, dict[str, dict[str, Any]]],
                   protocol: Protocol) -> bool:
    """Whether the dataset's study has every config and none waiting (so its data need not be loaded)."""
    import optuna

    try:
        study = optuna.load_study(study_name=study_name(protocol, ref.dataset_id), storage=storage)
    except KeyError:  # no study yet
        return False
    trials = study.get_trials(deepcopy=False)
    if any(t.state == optuna.trial.TrialState.WAITING for t in trials):
        return False
    present = {(t.user_attrs.get("family"), t.user_attrs.get("config_id"))
               for t in trials if t.state != optuna.trial.TrialState.FAIL}
    return all((f, c) in present for f in configs for c in configs[f])


def _anything_running(storage: Any, refs: list[DatasetRef], protocol: Protocol) -> bool:
    """Whether some config is still WAITING or RUNNING (stale ones are failed and retried on the way)."""
    import optuna

    names = {study_name(protocol, r.dataset_id) for r in refs}
    active = (optuna.trial.TrialState.WAITING, optuna.trial.TrialState.RUNNING)
    for summary in storage.get_all_studies():
        if summary.study_name not in names:
            continue
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        _fail_stale(study, protocol)
        if study.get_trials(deepcopy=False, states=active):
            return True
    return False


def storage_to_kb(url: str):
    """The knowledge base held in a storage: one dataset per autometa study, one row per COMPLETE trial."""
    import optuna
    import pandas as pd

    from autometa.kb._knowledge_base import KnowledgeBase

    storage = open_storage(url)
    datasets: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    protocols: list[Any] = []
    for summary in storage.get_all_studies():
        if not summary.study_name.startswith(STUDY_PREFIX):
            continue
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        row = study.user_attrs.get("dataset")
        if not row:
            continue
        datasets.append({k: v for k, v in row.items() if k in S.DATASET_COLUMNS or k.startswith(S.MF_PREFIX)})
        protocols.append(study.user_attrs.get("protocol"))
        seen = set()
        for trial in sorted(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)),
                            key=lambda t: t.number):
            key = (trial.user_attrs.get("family"), trial.user_attrs.get("config_id"))
            if key in seen or "result" not in trial.user_attrs:
                continue
            seen.add(key)
            result = EvaluationResult.from_dict(json.loads(trial.user_attrs["result"]))
            rows.append(result.to_row(row["dataset_id"], key[1], row["source"]))
    meta = {"protocol": next((p for p in protocols if p), None), "build": {"kind": "storage", "storage": mask_url(url)}}
    return KnowledgeBase(pd.DataFrame(datasets) if datasets else None, pd.DataFrame(rows) if rows else None, meta=meta)
