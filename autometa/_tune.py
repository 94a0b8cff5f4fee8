"""``autometa.tune``: a warm-started Optuna search, in memory or in any Optuna storage.

    >>> study = autometa.tune("data.csv", target="label", n_trials=50)
    >>> study.best_params, study.best_value
    >>> model = autometa.refit(study, "data.csv", target="label")   # the best config, fitted on all rows

What it does:

1. The dataset's meta-features (on the protocol's rows) go to the meta-model, whose top
   recommendations are enqueued as the first trials (``study.enqueue_trial``; a resumed or shared
   study never gets them twice).
2. Later trials come from :class:`autometa.metamodel.MetaSampler`: on every other trial it
   keeps using the meta-model as a prior, corrected by the study's own results; on the others
   Optuna's TPE, which models every trial of the study (warm start included), refines.
3. Each trial is scored by :func:`autometa.evaluation.evaluate_config`, the knowledge base's protocol
   (same folds, seed, row cap, time and memory limits), in a worker process.

The search space is conditional (``family`` then ``<family>.<param>``), so with no family given it
searches across families. With ``storage`` (a SQLite file or any Optuna RDB URL such as
``postgresql://user:pw@host/db``) many workers on many machines can share one study: run the same call
on each; the study resumes where it stopped and opens in optuna-dashboard.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from autometa import _study_attrs as attr
from autometa._rungs import RungPruner, rung_rows
from autometa._study_record import dataset_fingerprint, describe_record, oof_name
from autometa.errors import InputError
from autometa.io import (
    GRACE_PERIOD,
    HEARTBEAT_INTERVAL,
    create_or_load_study,
    mask_url,
    open_storage,
    scrub,
)

#: Recommendations enqueued before the sampler takes over.
N_WARM = 5
#: How long a worker joining a study waits for its creator to queue the warm start.
WARM_WAIT_SECONDS = 15.0


def tune(data: Any, target: str | None = None, family: str | Sequence[str] | None = None, n_trials: int | None = 50,
         timeout: float | None = None, storage: str | None = None, study_name: str | None = None,
         metric: str | None = None, random_state: int | None = None, *, task: str | None = None, kb: Any = None,
         n_warm: int = N_WARM,
         warm_start: bool = True, sampler: Any = None, protocol: Any = None,
         heartbeat_interval: int | None = HEARTBEAT_INTERVAL, grace_period: int | None = GRACE_PERIOD,
         callbacks: Sequence[Callable[[Any, Any], None]] = (), on_ready: Callable[[], None] | None = None,
         encoding: str | None = None, time_budget: float | None = None, max_rows: int | None = None,
         oof_dir: str | Path | None = None) -> Any:
    """Run a warm-started Optuna search for the best (family, config) on a dataset.

    Args:
        data: a path (CSV, Parquet, PMLB folder), a DataFrame, or a :class:`~autometa.data.Dataset`.
        target: the target column (default: ``target``/``class``/``label``/``y`` or the last column).
        family: search only this family (or these families); default: every family the knowledge
            base has histories of (the neural ``mlp`` only when asked for: it is slow and has none yet).
        n_trials: trials to run in this call (``None``: until ``timeout``).
        timeout: stop starting new trials after this many seconds.
        storage: an Optuna storage URL (``sqlite:///study.db``, ``postgresql://...``), a path to a
            SQLite file, or an Optuna storage object; default: in memory.
        study_name: the study's name (to resume it or to share it between workers).
        metric: the metric to optimize (default: balanced accuracy or R2).
        random_state: seed of the sampler (the evaluation protocol has its own fixed seed).
        task: ``"classification"`` or ``"regression"`` (default: inferred from the target, see
            :func:`autometa.data.load_dataset`).
        kb: the knowledge base for the meta-model (default: the shipped one plus the user's own).
        n_warm: recommendations enqueued first.
        warm_start: False gives a cold search (Optuna's TPE unless ``sampler`` is given), for comparisons.
        sampler: an Optuna sampler to use instead of autometa's (with ``warm_start`` the recommendations
            are still enqueued first).
        protocol: the evaluation protocol (default: the knowledge base's,
            :data:`autometa.evaluation.DEFAULT_PROTOCOL`).
        heartbeat_interval, grace_period: with a storage, a running trial records a heartbeat every
            ``heartbeat_interval`` seconds; one silent for ``grace_period`` seconds (its worker was
            killed) is marked failed and retried by the next worker or on resume (None: no heartbeats).
        callbacks: Optuna callbacks ``(study, frozen_trial)``, e.g. a progress bar.
        on_ready: called once everything is checked and set up, just before the first trial.
        encoding: the text encoding of a CSV/TSV file (default UTF-8), e.g. ``"latin-1"``.
        time_budget: wall-clock seconds for the whole search: no trial starts after it, a running
            evaluation is stopped at it, and a config climbs to more rows only when the climb fits in
            what is left (``timeout`` only stops starting trials).
        max_rows: the most rows a config is scored on (default: all). Every trial is first scored on
            the protocol's rows (2,000, where the meta-model's predictions apply); the best climb
            to 4x the rows at each rung up to ``max_rows`` (see :mod:`autometa._rungs`). The study's
            value is the score on the top rung's rows (``trial.user_attrs["autometa.rows"]``); trials
            stopped lower are pruned, with their scores per rung as intermediate values. ``max_rows``
            at or under the protocol's cap scores every trial on the protocol's rows only.
        oof_dir: where each trial's out-of-fold predictions on the top rung are kept, for
            :func:`refit` to fuse models (default: beside a SQLite storage's file, else a temporary
            folder; recorded in the study).

    Returns:
        The ``optuna.Study``. Each trial's user attributes hold the family, config, every metric of
        the protocol, fit seconds, status and error; ``study.user_attrs["autometa"]`` what was tuned.

    Raises:
        InputError: unreadable data, an unknown family, task or metric, a target that cannot be
            regressed, an unreachable storage (or ``sqlite://``, which saves nothing), a study of another
            dataset, task or metric under that name.
    """
    import optuna

    from autometa._recommend import (
        check_families,
        check_metric,
        check_task,
        rank_candidates,
    )
    from autometa.data import Dataset, load_dataset
    from autometa.evaluation import DEFAULT_PROTOCOL, HIGHER_IS_BETTER
    from autometa.kb import dataset_metafeatures
    from autometa.metamodel import MetaSampler, config_key, fixed_params
    from autometa.spaces import list_families

    if n_trials is not None and n_trials < 1:
        raise InputError(f"n_trials must be at least 1; got {n_trials}.")
    if timeout is not None and not timeout > 0:
        raise InputError(f"The timeout must be a positive number of seconds; got {timeout}.")
    if time_budget is not None and not time_budget > 0:
        raise InputError(f"The time budget must be a positive number of seconds; got {time_budget}.")
    if max_rows is not None and max_rows < 1:
        raise InputError(f"max_rows must be at least 1; got {max_rows}.")
    started = time.monotonic()
    families = check_families(family)
    if isinstance(data, Dataset):
        check_task(data, task)
    dataset = load_dataset(data, target=target, task=task, encoding=encoding)
    metric = check_metric(metric, dataset.task)
    protocol = protocol or DEFAULT_PROTOCOL
    # Optuna's verbosity is the caller's (the CLI quiets it); a library must not change it behind their back.
    store = open_storage(storage, heartbeat_interval=heartbeat_interval, grace_period=grace_period)
    direction = "maximize" if HIGHER_IS_BETTER[metric] else "minimize"
    record = {"format_version": 1, "dataset": dataset.name, "task": dataset.task, "target": dataset.target,
              "metric": metric, "families": families, "n_rows": dataset.n_rows, "n_features": dataset.n_features,
              "protocol": protocol.to_dict(), "source": dataset.source, "fingerprint": dataset_fingerprint(dataset)}

    model = mf = None
    if warm_start:  # a cold search never asks the meta-model, so it skips the meta-features too
        from autometa.metamodel import load_metamodel

        mf = dataset_metafeatures(dataset, protocol)
        model = load_metamodel(dataset.task, metric, kb)
    if families is None:
        known = set(model.candidates["family"]) if model is not None else set(list_families()) - {"mlp"}
        families = [f for f in list_families() if f in known]
    record["families"] = families
    if sampler is None:
        sampler = (MetaSampler(model, mf, families, seed=random_state, n_warm=n_warm) if warm_start
                   else optuna.samplers.TPESampler(seed=random_state))
    try:
        study, created = create_or_load_study(store, study_name, direction=direction, sampler=sampler,
                                              pruner=RungPruner())
    except Exception as exc:  # a schema or connection problem surfaces here with some storages
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"Cannot create or open the study {study_name!r} in {mask_url(storage)}: "
                         f"{scrub(first, storage)}") from None
    _check_same_study(study, record, study_name)
    if attr.STUDY not in study.user_attrs:
        study.set_user_attr(attr.STUDY, record)
    if attr.RUNGS not in study.user_attrs:
        study.set_user_attr(attr.RUNGS, rung_rows(dataset.n_rows, protocol.row_cap, max_rows))
    oof_path = _oof_dir(study, storage, oof_dir)

    # Creating a study is atomic, so the worker that created it enqueues the warm start; a later one
    # does it only if that worker died before it finished (the attribute is set once all are queued).
    # skip_if_exists never repeats a queued config; a twin queued by a race is skipped when it runs.
    if warm_start and n_warm > 0 and (created or not _warm_start_queued(study)):
        n_first = min(n_warm, n_trials or n_warm)
        items, _ = rank_candidates(model, mf, n_first, families=families,
                                   time_budget=_warm_fit_cap(time_budget, n_first, protocol.k))
        if not items:  # every config is predicted slower than the cap: the budget is tight, advise anyway
            items, _ = rank_candidates(model, mf, n_first, families=families)
        for item in items:
            # The stored config, so that the sampler knows the trial as that knowledge-base config.
            config = model.candidates.loc[config_key(item.family, item.config_id), "config"]
            study.enqueue_trial(fixed_params(item.family, config, dataset.task), skip_if_exists=True,
                                user_attrs={attr.ORIGIN: f"recommendation {item.rank}",
                                            attr.PREDICTED: _finite(item.predicted_score),
                                            attr.UNCERTAINTY: _finite(item.uncertainty)})
        study.set_user_attr(attr.WARM_START, len(items))

    deadline = None if time_budget is None else started + time_budget
    objective = _Objective(study, dataset, families, metric, protocol, deadline, oof_path)
    if on_ready is not None:
        on_ready()
    left = None if deadline is None else max(deadline - time.monotonic(), 1e-3)
    stops = [] if deadline is None else [_stop_when_spent(deadline)]
    _quiet_expected_failures()
    study.optimize(objective, n_trials=n_trials, timeout=min(t for t in (timeout, left, math.inf) if t is not None),
                   callbacks=list(callbacks) + stops, catch=(_EvaluationFailed,), gc_after_trial=False)
    if deadline is not None:
        from autometa._rungs import complete_on_highest_rung

        complete_on_highest_rung(study)
    return study


#: Under a time budget no trial starts with less than this many seconds left (it could not finish).
MIN_TRIAL_SECONDS = 3.0


def _stop_when_spent(deadline: float) -> Callable[[Any, Any], None]:
    def stop(study: Any, trial: Any) -> None:
        if deadline - time.monotonic() < MIN_TRIAL_SECONDS:
            study.stop()

    return stop


class _Objective:
    """One trial: the config scored on each rung's rows, climbing while :class:`RungPruner` and the time
    budget allow (see :mod:`autometa._rungs`)."""

    def __init__(self, study: Any, dataset: Any, families: list[str], metric: str, protocol: Any,
                 deadline: float | None, oof_dir: Path | None) -> None:
        self.study, self.dataset, self.families, self.metric = study, dataset, families, metric
        self.protocol, self.deadline, self.oof_dir = protocol, deadline, oof_dir
        self._prepared: dict[int, Any] = {}

    def prepared(self, rows: int) -> Any:
        from autometa.evaluation import prepare_data

        if rows not in self._prepared:
            if len(self._prepared) > 1:  # the lowest rung and one other: big tables are not kept twice
                self._prepared.pop(max(self._prepared))
            self._prepared[rows] = prepare_data(self.dataset, self.rung_protocol(rows))
        return self._prepared[rows]

    def rung_protocol(self, rows: int, time_limit: float | None = None) -> Any:
        import dataclasses

        return dataclasses.replace(self.protocol, row_cap=max(rows, 2 * self.protocol.k),
                                   time_limit=time_limit or self.protocol.time_limit)

    def time_limit(self, rows: int) -> float:
        from autometa.evaluation import SLACK_SECONDS

        scaled = self.protocol.time_limit * max(rows / self.protocol.row_cap, 1.0) ** 1.2
        if self.deadline is None:
            return scaled
        # The worker is killed at the limit plus its slack: both must end by the deadline.
        return max(min(scaled, self.deadline - time.monotonic() - SLACK_SECONDS), 0.5)

    def __call__(self, trial: Any) -> float:
        import optuna

        from autometa._rungs import BUDGET_STOP, climb_cost, current_rungs
        from autometa.evaluation import evaluate_config
        from autometa.metamodel import suggest_config

        study, metric = self.study, self.metric
        if _has_twin(study, trial):
            raise optuna.TrialPruned(f"{trial.user_attrs[attr.ORIGIN]} is evaluated by another trial")
        fam, config = suggest_config(trial, self.families, self.dataset.task)
        trial.set_user_attr(attr.FAMILY, fam)
        trial.set_user_attr(attr.CONFIG, json.dumps(config, sort_keys=True, default=str))
        rung_scores: dict[str, dict[str, float | None]] = {}
        rungs = current_rungs(study, [self.dataset.n_rows])
        for level, rows in enumerate(rungs):
            result = evaluate_config(self.prepared(rows), fam, config, self.rung_protocol(rows, self.time_limit(rows)),
                                     keep_predictions=self.oof_dir is not None)
            if level == 0:  # the protocol's scores: what the knowledge base and the meta-model speak of
                trial.set_user_attr(attr.STATUS, result.status)
                trial.set_user_attr(attr.FIT_SECONDS, _finite(result.fit_seconds))
                for name, value in result.scores.items():
                    trial.set_user_attr(attr.metric_attr(name), _finite(value))
            score = _finite(result.scores.get(metric))
            if not result.ok or score is None:
                error = (result.error or "no score").splitlines()[0][:200]
                if level == 0:
                    trial.set_user_attr(attr.ERROR, (result.error or "no score")[:500])
                    raise _EvaluationFailed(f"{fam} failed: {error}")
                trial.set_user_attr(attr.STOPPED, f"failed on {rows:,} rows ({result.status}): {error}")
                raise optuna.TrialPruned(f"{fam} failed on {rows:,} rows")
            rung_scores[str(rows)] = {**{k: _finite(v) for k, v in result.scores.items()},
                                      "seconds": _finite(result.wall_seconds)}
            trial.set_user_attr(attr.RUNG_SCORES, rung_scores)
            trial.set_user_attr(attr.ROWS, rows)
            trial.report(score, step=rows)
            self._keep_predictions(trial, rows, result)
            if level == len(rungs) - 1:
                return score
            if trial.should_prune():
                raise optuna.TrialPruned(f"not among the best on {rows:,} rows")
            next_rows = rungs[level + 1]
            if self.deadline is not None:
                cost = climb_cost(result.wall_seconds, rows, next_rows, fam)
                if cost > self.deadline - time.monotonic():
                    trial.set_user_attr(attr.STOPPED, f"{BUDGET_STOP} cannot afford {next_rows:,} rows")
                    raise optuna.TrialPruned(f"the time budget cannot afford {next_rows:,} rows")
        raise AssertionError("unreachable: the last rung returns")  # pragma: no cover

    def _keep_predictions(self, trial: Any, rows: int, result: Any) -> None:
        import numpy as np

        if self.oof_dir is None or result.predictions is None:
            return
        self.oof_dir.mkdir(parents=True, exist_ok=True)
        path = self.oof_dir / oof_name(trial.number, rows)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, np.asarray(result.predictions, dtype=np.float32), allow_pickle=False)
        tmp.replace(path)


def _oof_dir(study: Any, storage: Any, oof_dir: str | Path | None) -> Path | None:
    """Where this process keeps out-of-fold predictions (recorded in the study on first use)."""
    import hashlib
    import tempfile

    from autometa.io import storage_url
    from autometa.metamodel import cache_dir

    url = storage_url(storage) if isinstance(storage, (str, Path)) else None
    if oof_dir is not None:
        path = Path(oof_dir).expanduser()
    elif url is not None and url.startswith("sqlite"):
        from sqlalchemy.engine import make_url

        database = Path(make_url(url).database)
        path = database.with_name(database.name + ".oof") / study.study_name
    elif storage is None:
        import shutil
        import weakref

        path = Path(tempfile.mkdtemp(prefix="autometa-oof-"))
        # An in-memory study's predictions live as long as the study: refit(study) reads them, and a
        # notebook that tunes again and again does not fill the temporary folder.
        weakref.finalize(study, shutil.rmtree, path, True)
    else:  # a shared RDB (or a storage object): each machine keeps its own trials' predictions
        key = hashlib.sha256(f"{mask_url(storage)}|{study.study_name}".encode()).hexdigest()[:16]
        path = cache_dir() / "oof" / key
    if attr.OOF_DIR not in study.user_attrs:
        study.set_user_attr(attr.OOF_DIR, str(path))
    return path


#: Under a time budget the warm start may take about this share of it.
WARM_SHARE = 0.25


def _warm_fit_cap(time_budget: float | None, n_warm: int, folds: int) -> float | None:
    """The longest predicted fit (one fold, the protocol's rows) a recommendation may take under a time
    budget, so that the warm start takes about ``WARM_SHARE`` of it (the recommended config that scores
    best is no help if it spends the budget: a histogram boosting of 5 s per fold on a 30 s budget).
    The 1.5 covers predicting and scoring each fold."""
    if time_budget is None:
        return None
    return WARM_SHARE * time_budget / (1.5 * max(n_warm, 1) * folds)


class _EvaluationFailed(Exception):
    """A config that failed under the protocol: the trial is marked FAIL, the search goes on."""


class _OneLineFailures(logging.Filter):
    """Optuna logs a failed trial with its traceback. A config that fails under the protocol (over the time or
    memory limit, a fit error) is an expected outcome of a search, and the trial's ``autometa.error`` attribute
    keeps the details, so its warning keeps its one line (trial, parameters, reason) without the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], _EvaluationFailed):
            record.exc_info, record.exc_text = None, None
        return True


def _quiet_expected_failures() -> None:
    """Install :class:`_OneLineFailures` once on the logger of Optuna's optimize loop (a filter on the logger
    itself applies whatever handlers a user configured)."""
    optimize_logger = logging.getLogger("optuna.study._optimize")
    if not any(isinstance(f, _OneLineFailures) for f in optimize_logger.filters):
        optimize_logger.addFilter(_OneLineFailures())


def _warm_start_queued(study: Any, wait: float = WARM_WAIT_SECONDS) -> bool:
    """Whether the study's creator queued the warm start, waiting ``wait`` seconds for a creator that
    started at the same moment and is queueing it now (a creator that died never sets it)."""
    import time

    deadline = time.monotonic() + wait
    while True:
        if study.user_attrs.get(attr.WARM_START):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.25)


def _has_twin(study: Any, trial: Any) -> bool:
    """Whether a queued recommendation is queued twice (two workers raced to enqueue it) and a
    lower-numbered copy is waiting, running or done: then this one is skipped (pruned), not run."""
    from optuna.trial import TrialState

    origin = trial.user_attrs.get(attr.ORIGIN)
    if origin is None:
        return False
    live = (TrialState.WAITING, TrialState.RUNNING, TrialState.COMPLETE)
    return any(t.number < trial.number and t.state in live and t.user_attrs.get(attr.ORIGIN) == origin
               for t in study.get_trials(deepcopy=False))


def _check_same_study(study: Any, record: dict[str, Any], name: str | None) -> None:
    old = study.user_attrs.get(attr.STUDY)
    if not old:
        return
    for key in ("task", "metric", "target"):
        if old.get(key) != record[key]:
            raise InputError(f"Study '{name}' was created for {key} {old.get(key)!r}, not {record[key]!r}; "
                             "use another --study-name or the same settings to resume it.")
    if sorted(old.get("families", [])) != sorted(record["families"]):
        raise InputError(f"Study '{name}' searches families {', '.join(old.get('families', []))}; resume it "
                         "with the same --family (or none) or use another --study-name.")
    if old.get("fingerprint") and old["fingerprint"] != record["fingerprint"]:
        raise InputError(f"Study '{name}' was tuned on other data ({describe_record(old)}), not on this "
                         f"{describe_record(record)}; use another --study-name, or the same data to resume it.")


def _finite(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if value == value and abs(value) != float("inf") else None
