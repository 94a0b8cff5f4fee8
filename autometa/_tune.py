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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from autometa.errors import ArtifactError, InputError
from autometa.io import (
    GRACE_PERIOD,
    HEARTBEAT_INTERVAL,
    check_writable,
    create_or_load_study,
    mask_url,
    open_storage,
    read_json,
    scrub,
    sha256_file,
    write_json,
)

#: Study user attribute holding what autometa needs to resume or refit a study.
STUDY_ATTR = "autometa"
#: Recommendations enqueued before the sampler takes over.
N_WARM = 5
#: Trial user attribute: where an enqueued trial came from ("recommendation 3").
ORIGIN_ATTR = "autometa.origin"
#: Study user attribute, set once the warm start is queued (how many recommendations).
WARM_ATTR = "autometa.warm_start"
#: How long a worker joining a study waits for its creator to queue the warm start.
WARM_WAIT_SECONDS = 15.0


def tune(data: Any, target: str | None = None, family: str | Sequence[str] | None = None, n_trials: int | None = 50,
         timeout: float | None = None, storage: str | None = None, study_name: str | None = None,
         metric: str | None = None, random_state: int | None = None, *, task: str | None = None, kb: Any = None,
         n_warm: int = N_WARM,
         warm_start: bool = True, sampler: Any = None, protocol: Any = None,
         heartbeat_interval: int | None = HEARTBEAT_INTERVAL, grace_period: int | None = GRACE_PERIOD,
         callbacks: Sequence[Callable[[Any, Any], None]] = (), on_ready: Callable[[], None] | None = None,
         encoding: str | None = None) -> Any:
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
    from autometa.evaluation import DEFAULT_PROTOCOL, HIGHER_IS_BETTER, prepare_data
    from autometa.kb import dataset_metafeatures
    from autometa.metamodel import MetaSampler, config_key, fixed_params, suggest_config
    from autometa.spaces import list_families

    if n_trials is not None and n_trials < 1:
        raise InputError(f"n_trials must be at least 1; got {n_trials}.")
    if timeout is not None and not timeout > 0:
        raise InputError(f"The timeout must be a positive number of seconds; got {timeout}.")
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
    if warm_start or sampler is None:
        from autometa.metamodel import load_metamodel

        mf = dataset_metafeatures(dataset, protocol)
        model = load_metamodel(dataset.task, metric, kb) if warm_start else None
    if families is None:
        known = set(model.candidates["family"]) if model is not None else set(list_families()) - {"mlp"}
        families = [f for f in list_families() if f in known]
    record["families"] = families
    if sampler is None:
        sampler = (MetaSampler(model, mf, families, seed=random_state, n_warm=n_warm) if warm_start
                   else optuna.samplers.TPESampler(seed=random_state))
    try:
        study, created = create_or_load_study(store, study_name, direction=direction, sampler=sampler)
    except Exception as exc:  # a schema or connection problem surfaces here with some storages
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"Cannot create or open the study {study_name!r} in {mask_url(storage)}: "
                         f"{scrub(first, storage)}") from None
    _check_same_study(study, record, study_name)
    if STUDY_ATTR not in study.user_attrs:
        study.set_user_attr(STUDY_ATTR, record)

    # Creating a study is atomic, so the worker that created it enqueues the warm start; a later one
    # does it only if that worker died before it finished (the attribute is set once all are queued).
    # skip_if_exists never repeats a queued config; a twin queued by a race is skipped when it runs.
    if warm_start and n_warm > 0 and (created or not _warm_start_queued(study)):
        items, _ = rank_candidates(model, mf, min(n_warm, n_trials or n_warm), families=families)
        for item in items:
            # The stored config, so that the sampler knows the trial as that knowledge-base config.
            config = model.candidates.loc[config_key(item.family, item.config_id), "config"]
            study.enqueue_trial(fixed_params(item.family, config, dataset.task), skip_if_exists=True,
                                user_attrs={ORIGIN_ATTR: f"recommendation {item.rank}"})
        study.set_user_attr(WARM_ATTR, len(items))

    prepared = prepare_data(dataset, protocol)

    def objective(trial: Any) -> float:
        from autometa.evaluation import evaluate_config

        if _has_twin(study, trial):
            raise optuna.TrialPruned(f"{trial.user_attrs[ORIGIN_ATTR]} is evaluated by another trial")
        fam, config = suggest_config(trial, families, dataset.task)
        result = evaluate_config(prepared, fam, config, protocol)
        trial.set_user_attr("autometa.family", fam)
        trial.set_user_attr("autometa.config", json.dumps(config, sort_keys=True, default=str))
        trial.set_user_attr("autometa.status", result.status)
        trial.set_user_attr("autometa.fit_seconds", _finite(result.fit_seconds))
        for name, value in result.scores.items():
            trial.set_user_attr(f"autometa.{name}", _finite(value))
        if not result.ok or _finite(result.scores.get(metric)) is None:
            trial.set_user_attr("autometa.error", (result.error or "no score")[:500])
            raise _EvaluationFailed(f"{fam} failed: {(result.error or 'no score').splitlines()[0][:200]}")
        return float(result.scores[metric])

    if on_ready is not None:
        on_ready()
    study.optimize(objective, n_trials=n_trials, timeout=timeout, callbacks=list(callbacks),
                   catch=(_EvaluationFailed,), gc_after_trial=False)
    return study


class _EvaluationFailed(Exception):
    """A config that failed under the protocol: the trial is marked FAIL, the search goes on."""


def _warm_start_queued(study: Any, wait: float = WARM_WAIT_SECONDS) -> bool:
    """Whether the study's creator queued the warm start, waiting ``wait`` seconds for a creator that
    started at the same moment and is queueing it now (a creator that died never sets it)."""
    import time

    deadline = time.monotonic() + wait
    while True:
        if study.user_attrs.get(WARM_ATTR):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.25)


def _has_twin(study: Any, trial: Any) -> bool:
    """Whether a queued recommendation is queued twice (two workers raced to enqueue it) and a
    lower-numbered copy is waiting, running or done: then this one is skipped (pruned), not run."""
    from optuna.trial import TrialState

    origin = trial.user_attrs.get(ORIGIN_ATTR)
    if origin is None:
        return False
    live = (TrialState.WAITING, TrialState.RUNNING, TrialState.COMPLETE)
    return any(t.number < trial.number and t.state in live and t.user_attrs.get(ORIGIN_ATTR) == origin
               for t in study.get_trials(deepcopy=False))


def dataset_fingerprint(dataset: Any) -> str:
    """A SHA-256 (hex, 16 digits) of a prepared dataset: task, target and every value of X and y.

    Recorded with a study and checked on resume and on :func:`refit`, so that trials of two datasets
    never mix. Values are hashed, not dtypes, so the same table read from a file or passed as a
    DataFrame has the same fingerprint.
    """
    import hashlib

    import pandas as pd

    columns = sorted(map(str, dataset.X.columns))
    X = dataset.X.set_axis(list(map(str, dataset.X.columns)), axis=1)[columns]
    digest = hashlib.sha256(json.dumps([dataset.task, str(dataset.target), columns]).encode())
    digest.update(pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes())
    digest.update(pd.util.hash_pandas_object(pd.Series(dataset.y).reset_index(drop=True), index=False)
                  .to_numpy().tobytes())
    return digest.hexdigest()[:16]


def _check_same_study(study: Any, record: dict[str, Any], name: str | None) -> None:
    old = study.user_attrs.get(STUDY_ATTR)
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
        raise InputError(f"Study '{name}' was tuned on other data ({_shape(old)}), not on this "
                         f"{_shape(record)}; use another --study-name, or the same data to resume it.")


def _shape(record: dict[str, Any]) -> str:
    """'iris' (150 rows x 4 features), from a study's record."""
    return (f"'{record.get('dataset')}', {record.get('n_rows', '?'):,} rows x {record.get('n_features', '?')} features"
            if isinstance(record.get("n_rows"), int) else f"'{record.get('dataset')}'")


def best_config(study: Any) -> tuple[str, dict[str, Any]]:
    """``(family, config)`` of the study's best trial (the parameters that apply to its task)."""
    from autometa.metamodel import trial_config
    from autometa.spaces import get_family

    try:
        best = study.best_trial
    except ValueError:
        raise InputError(f"Study '{study.study_name}' has no finished trial yet; run some trials first.") from None
    parsed = trial_config(best.params)
    if parsed is None:
        raise InputError(f"The best trial of study '{study.study_name}' was not made by autometa.tune.")
    family, config = parsed
    task = study.user_attrs.get(STUDY_ATTR, {}).get("task")
    return family, get_family(family).config_for(config, task) if task else config


def _finite(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if value == value and abs(value) != float("inf") else None


# --------------------------------------------------------------------------- refit and saved models
#: Format of a saved model file (JSON). A saved model holds the best config and where its data came
#: from, not fitted weights: refitting on load needs no pickle (which could run code when loaded) and
#: works for every family, preprocessing included.
MODEL_FORMAT = "autometa-model"
MODEL_FORMAT_VERSION = 1


class TunedModel:
    """The best config of a study, fitted on all rows of the dataset.

    Attributes:
        estimator: the fitted scikit-learn pipeline (preprocessing + model).
        family, config: what was fitted.
        task, target: the dataset's task and target column.
        columns: the feature columns (names and dtypes) that :meth:`predict` expects.
    """

    def __init__(self, estimator: Any, family: str, config: dict[str, Any], dataset: Any) -> None:
        self.estimator = estimator
        self.family = family
        self.config = config
        self.task = dataset.task
        self.target = dataset.target
        self.columns = {c: dataset.X[c].dtype for c in dataset.X.columns}

    def _align(self, X: Any) -> Any:
        import numpy as np
        import pandas as pd

        names = list(self.columns)
        if not isinstance(X, pd.DataFrame):
            try:
                values = np.asarray(X, dtype=object)
            except Exception:
                values = None
            if values is None or values.ndim != 2:
                raise InputError(f"The data to predict must be a table (DataFrame or 2-D array) with the "
                                 f"{len(names)} columns the model was fitted on; got {type(X).__name__}.")
            if values.shape[1] != len(names):
                raise InputError(f"The data to predict has {values.shape[1]} columns, but the model was fitted on "
                                 f"{len(names)} ({_listed(names)}); pass those columns, in that order.")
            X = pd.DataFrame(values, columns=names)
        missing = [c for c in names if c not in X.columns]
        if missing:
            raise InputError(f"The data to predict lacks column '{missing[0]}' that the model was fitted on.")
        out = pd.DataFrame(index=X.index)
        for column, dtype in self.columns.items():
            values = X[column]
            if isinstance(values, pd.DataFrame):
                raise InputError(f"The data to predict has two columns named '{column}'; rename one.")
            if isinstance(dtype, pd.CategoricalDtype):
                out[column] = pd.Categorical(values.astype(str).where(values.notna()), categories=dtype.categories)
            else:
                out[column] = pd.to_numeric(values, errors="coerce").astype(float)
        return out

    def predict(self, X: Any) -> Any:
        """Predictions for a feature table with the training columns (extra columns are ignored)."""
        return self.estimator.predict(self._align(X))

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities (classification only)."""
        if self.task != "classification":
            raise InputError("predict_proba is for classification models; this one is a regression model.")
        return self.estimator.predict_proba(self._align(X))

    def __repr__(self) -> str:
        return f"TunedModel(family={self.family!r}, task={self.task!r}, target={self.target!r})"


def refit(study: Any, data: Any, target: str | None = None) -> TunedModel:
    """Fit the study's best config on every row of ``data`` (the dataset the study tuned on)."""
    import optuna

    from autometa.data import load_dataset

    if not isinstance(study, optuna.study.Study):
        raise InputError(f"refit takes an optuna.Study, not {type(study).__name__} {_clip(study)}; load it first "
                         "with optuna.load_study(study_name=..., storage=...).")
    family, config = best_config(study)
    record = study.user_attrs.get(STUDY_ATTR, {})
    # The study's task, not one inferred again: tune may have been told the task (--task).
    dataset = load_dataset(data, target=target or record.get("target"), task=record.get("task"))
    if record.get("fingerprint") and dataset_fingerprint(dataset) != record["fingerprint"]:
        here = {"dataset": dataset.name, "n_rows": dataset.n_rows, "n_features": dataset.n_features}
        raise InputError(f"Study '{study.study_name}' was tuned on other data ({_shape(record)}), not on this "
                         f"{_shape(here)}; refit on the data the study tuned on.")
    return _fit(family, config, dataset, record)


def _clip(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _listed(names: list[Any], most: int = 6) -> str:
    shown = ", ".join(map(str, names[:most]))
    return shown + (f", ... {len(names) - most} more" if len(names) > most else "")


def _fit(family: str, config: dict[str, Any], dataset: Any, record: dict[str, Any]) -> TunedModel:
    from autometa.spaces import get_family

    if record.get("task") and record["task"] != dataset.task:
        raise InputError(f"The model was tuned for {record['task']}, but this data's target is {dataset.task}.")
    seed = int((record.get("protocol") or {}).get("seed", 0))
    try:
        estimator = get_family(family).build_estimator(config, dataset.task, dataset, random_state=seed)
        estimator.fit(dataset.X, dataset.y)
    except InputError:
        raise
    except (ValueError, TypeError, KeyError) as exc:  # a config that does not fit its family (a hand-edited file)
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise InputError(f"The {family} config {_clip(config)} cannot be fitted ({reason}).") from None
    return TunedModel(estimator, family, config, dataset)


def save_model(study: Any, path: str | Path, data: Any = None) -> Path:
    """Write the study's best config as a model file (JSON) that :func:`load_model` refits.

    ``data`` (the path of the tuned dataset) is recorded with its SHA-256, so that ``load_model``
    can refit on the same rows, or tell when the file changed.

    Raises:
        InputError: the study has no finished trial, or ``path`` cannot be written (see
            :func:`autometa.io.check_writable`, which ``autometa tune`` calls before the search).
    """
    import datetime as _dt

    from autometa import __version__

    path = check_writable(path, "model file")
    family, config = best_config(study)
    record = dict(study.user_attrs.get(STUDY_ATTR, {}))
    source = data if isinstance(data, (str, Path)) else record.get("source")
    payload = {
        "family": family, "config": config,
        "task": record.get("task"), "target": record.get("target"), "metric": record.get("metric"),
        "best_value": study.best_value, "study_name": study.study_name, "protocol": record.get("protocol"),
        "fingerprint": record.get("fingerprint"),
        "data": {"path": str(Path(source).resolve()) if source else None,
                 "sha256": sha256_file(source) if source and Path(source).is_file() else None},
        "autometa": __version__, "saved_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    try:
        write_json(path, payload, format=MODEL_FORMAT, version=MODEL_FORMAT_VERSION, indent=2)
    except OSError as exc:
        raise InputError(f"Cannot write the model file '{path}': {exc.strerror or exc}.") from None
    return path


def load_model(path: str | Path, data: Any = None, target: str | None = None) -> TunedModel:
    """Read a model file written by :func:`save_model` and refit it (on ``data``, or the recorded file).

    Raises:
        InputError: the file is missing, not a model file, of another version, holds values that are
            not a model (unknown family, a config that cannot be fitted), or its data is gone or changed.
    """
    from autometa.data import TASKS, load_dataset
    from autometa.spaces import list_families

    path = Path(path).expanduser()
    try:
        spec = read_json(path, format=MODEL_FORMAT, version=MODEL_FORMAT_VERSION, what="model file",
                         remedy="save it again with 'autometa tune --save-model'")
    except ArtifactError as exc:
        raise InputError(str(exc)) from None
    expected = {"family": str, "config": dict, "task": (str, type(None)), "target": (str, type(None)),
                "protocol": (dict, type(None)), "data": (dict, type(None)), "fingerprint": (str, type(None))}
    for key, kind in expected.items():
        if not isinstance(spec.get(key), kind):
            raise InputError(f"The model file '{path}' has a bad '{key}' ({_clip(spec.get(key))}); save it again "
                             "with 'autometa tune --save-model'.")
    if spec["family"] not in list_families():
        raise InputError(f"The model file '{path}' names an unknown family {spec['family']!r}; save it again.")
    if spec["task"] is not None and spec["task"] not in TASKS:
        raise InputError(f"The model file '{path}' names an unknown task {spec['task']!r}; save it again.")
    if data is None:
        recorded = (spec.get("data") or {}).get("path")
        if not isinstance(recorded, str) or not Path(recorded).exists():
            raise InputError(f"The data the model '{path}' was tuned on ({recorded}) is gone; pass the data to refit on.")
        if spec["data"].get("sha256") and sha256_file(recorded) != spec["data"]["sha256"]:
            raise InputError(f"The data file '{recorded}' changed since the model was saved; pass it explicitly "
                             "to refit on its current content.")
        data = recorded
    dataset = load_dataset(data, target=target or spec.get("target"), task=spec.get("task"))
    return _fit(spec["family"], spec["config"], dataset, {"task": spec.get("task"), "protocol": spec.get("protocol") or {}})
