"""``autometa.tune``: a warm-started Optuna search, in memory or in any Optuna storage.

    >>> study = autometa.tune("data.csv", target="label", n_trials=50)
    >>> study.best_params, study.best_value
    >>> model = autometa.refit(study, "data.csv", target="label")   # the best config, fitted on all rows

What it does:

1. The dataset's meta-features (on the protocol's rows) go to the meta-model, whose top
   recommendations are enqueued as the first trials (``study.enqueue_trial``; a resumed or shared
   study never gets them twice).
2. Later trials come from :class:`autometa.metamodel._sampler.MetaSampler`: on every other trial it
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
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from autometa.errors import InputError

#: Study user attribute holding what autometa needs to resume or refit a study.
STUDY_ATTR = "autometa"
#: Recommendations enqueued before the sampler takes over.
N_WARM = 5


def tune(data: Any, target: str | None = None, family: str | Sequence[str] | None = None, n_trials: int | None = 50,
         timeout: float | None = None, storage: str | None = None, study_name: str | None = None,
         metric: str | None = None, random_state: int | None = None, *, task: str | None = None, kb: Any = None,
         n_warm: int = N_WARM,
         warm_start: bool = True, sampler: Any = None, protocol: Any = None,
         callbacks: Sequence[Callable[[Any, Any], None]] = (), on_ready: Callable[[], None] | None = None) -> Any:
    """Run a warm-started Optuna search for the best (family, config) on a dataset.

    Args:
        data: a path (CSV, Parquet, PMLB folder), a DataFrame, or a :class:`~autometa.data.Dataset`.
        target: the target column (default: ``target``/``class``/``label``/``y`` or the last column).
        family: search only this family (or these families); default: every family the knowledge
            base has histories of (the neural ``mlp`` only when asked for: it is slow and has none yet).
        n_trials: trials to run in this call (``None``: until ``timeout``).
        timeout: stop starting new trials after this many seconds.
        storage: an Optuna storage URL (``sqlite:///study.db``, ``postgresql://...``) or a path to a
            SQLite file; default: in memory.
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
        callbacks: Optuna callbacks ``(study, frozen_trial)``, e.g. a progress bar.
        on_ready: called once everything is checked and set up, just before the first trial.

    Returns:
        The ``optuna.Study``. Each trial's user attributes hold the family, config, every metric of
        the protocol, fit seconds, status and error; ``study.user_attrs["autometa"]`` what was tuned.

    Raises:
        InputError: unreadable data, an unknown family, task or metric, a target that cannot be
            regressed, an unreachable storage, a study of another dataset, task or metric under that name.
    """
    import optuna

    from autometa._recommend import (
        check_families,
        check_metric,
        check_task,
        dataset_metafeatures,
        rank_candidates,
    )
    from autometa.data import Dataset, load_dataset
    from autometa.evaluation import DEFAULT_PROTOCOL, HIGHER_IS_BETTER, prepare_data
    from autometa.metamodel._features import config_key
    from autometa.metamodel._sampler import MetaSampler, fixed_params, suggest_config
    from autometa.spaces import list_families

    if n_trials is not None and n_trials < 1:
        raise InputError(f"n_trials must be at least 1; got {n_trials}.")
    if timeout is not None and not timeout > 0:
        raise InputError(f"The timeout must be a positive number of seconds; got {timeout}.")
    families = check_families(family)
    if isinstance(data, Dataset):
        check_task(data, task)
    dataset = load_dataset(data, target=target, task=task)
    metric = check_metric(metric, dataset.task)
    protocol = protocol or DEFAULT_PROTOCOL
    # Optuna's verbosity is the caller's (the CLI quiets it); a library must not change it behind their back.
    store = open_storage(storage)
    direction = "maximize" if HIGHER_IS_BETTER[metric] else "minimize"
    record = {"format_version": 1, "dataset": dataset.name, "task": dataset.task, "target": dataset.target,
              "metric": metric, "families": families, "n_rows": dataset.n_rows, "n_features": dataset.n_features,
              "protocol": protocol.to_dict(), "source": dataset.source}

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
    created = True
    try:
        try:
            study = optuna.create_study(storage=store, study_name=study_name, direction=direction, sampler=sampler)
        except optuna.exceptions.DuplicatedStudyError:
            # Resuming, or joining other workers: creating a study is atomic in every storage, so
            # only the worker that created it enqueues the warm start (no race between workers).
            created = False
            study = optuna.load_study(study_name=study_name, storage=store, sampler=sampler)
    except Exception as exc:  # a schema or connection problem surfaces here with some storages
        raise InputError(f"Cannot create or open the study {study_name!r} in {_masked(storage)}: "
                         f"{_scrub(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, storage)}") from None
    _check_same_study(study, record, study_name)
    if STUDY_ATTR not in study.user_attrs:
        study.set_user_attr(STUDY_ATTR, record)

    if warm_start and n_warm > 0 and created:
        items, _ = rank_candidates(model, mf, min(n_warm, n_trials or n_warm), families=families)
        for item in items:
            # The stored config, so that the sampler knows the trial as that knowledge-base config.
            config = model.candidates.loc[config_key(item.family, item.config_id), "config"]
            # skip_if_exists: a resumed study, or a second worker on a shared one, never repeats them.
            study.enqueue_trial(fixed_params(item.family, config, dataset.task), skip_if_exists=True,
                                user_attrs={"autometa.origin": f"recommendation {item.rank}"})

    prepared = prepare_data(dataset, protocol)

    def objective(trial: Any) -> float:
        from autometa.evaluation import evaluate_config

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


def open_storage(storage: str | Path | None) -> Any:
    """``None`` (in memory), a SQLite file path, or an Optuna storage URL; unreachable -> InputError.

    Passwords in URLs are never shown: error messages carry the URL with its password masked.
    """
    import optuna

    if storage is None:
        return None
    url = str(storage)
    if "://" not in url:  # a plain path is a SQLite file
        path = Path(url).expanduser()
        if not path.parent.exists():
            raise InputError(f"Cannot create the study file '{path}': its folder does not exist.")
        url = f"sqlite:///{path.resolve()}"
    try:
        from autometa.kb._rdb import driver_url

        url = driver_url(url)
    except ImportError:  # pragma: no cover - the KB's helper is part of autometa
        pass
    try:
        kwargs: dict[str, Any] = {"engine_kwargs": {"pool_pre_ping": True}} if not url.startswith("sqlite") else {}
        if not url.startswith("sqlite"):
            # Heartbeats let a study shared by many workers notice a dead worker's trial.
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return optuna.storages.RDBStorage(url, heartbeat_interval=30, grace_period=120, **kwargs)
        return optuna.storages.RDBStorage(url)
    except Exception as exc:  # SQLAlchemy raises many types for bad URLs and dead servers
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"Cannot open the storage {_masked(url)}: {_scrub(first, url)}") from None


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


def best_config(study: Any) -> tuple[str, dict[str, Any]]:
    """``(family, config)`` of the study's best trial (the parameters that apply to its task)."""
    from autometa.metamodel._sampler import trial_config
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


def _masked(url: Any) -> str:
    if url is None:
        return "memory"
    from autometa.kb._rdb import mask_url

    return mask_url(str(url))


def _scrub(text: str, url: Any) -> str:
    """``text`` with the URL's password removed wherever it appears."""
    if not url:
        return text
    url = str(url)
    match = re.search(r"://[^:/@\s]*:([^@/\s]*)@", url)
    text = text.replace(url, _masked(url))
    if match and match.group(1):
        text = text.replace(match.group(1), "***")
    return text


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
        import pandas as pd

        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X, columns=list(self.columns))
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise InputError(f"The data to predict lacks column '{missing[0]}' that the model was fitted on.")
        out = pd.DataFrame(index=frame.index)
        for column, dtype in self.columns.items():
            values = frame[column]
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
    from autometa.data import load_dataset

    family, config = best_config(study)
    record = study.user_attrs.get(STUDY_ATTR, {})
    # The study's task, not one inferred again: tune may have been told the task (--task).
    dataset = load_dataset(data, target=target or record.get("target"), task=record.get("task"))
    return _fit(family, config, dataset, record)


def _fit(family: str, config: dict[str, Any], dataset: Any, record: dict[str, Any]) -> TunedModel:
    from autometa.spaces import get_family

    if record.get("task") and record["task"] != dataset.task:
        raise InputError(f"The model was tuned for {record['task']}, but this data's target is {dataset.task}.")
    seed = int(record.get("protocol", {}).get("seed", 0))
    estimator = get_family(family).build_estimator(config, dataset.task, dataset, random_state=seed)
    estimator.fit(dataset.X, dataset.y)
    return TunedModel(estimator, family, config, dataset)


def save_model(study: Any, path: str | Path, data: Any = None) -> Path:
    """Write the study's best config as a model file (JSON) that :func:`load_model` refits.

    ``data`` (the path of the tuned dataset) is recorded with its SHA-256, so that ``load_model``
    can refit on the same rows, or tell when the file changed.
    """
    import datetime as _dt

    from autometa import __version__

    family, config = best_config(study)
    record = dict(study.user_attrs.get(STUDY_ATTR, {}))
    source = data if isinstance(data, (str, Path)) else record.get("source")
    payload = {
        "format": MODEL_FORMAT, "format_version": MODEL_FORMAT_VERSION, "family": family, "config": config,
        "task": record.get("task"), "target": record.get("target"), "metric": record.get("metric"),
        "best_value": study.best_value, "study_name": study.study_name, "protocol": record.get("protocol"),
        "data": {"path": str(Path(source).resolve()) if source else None,
                 "sha256": _sha256(source) if source and Path(source).is_file() else None},
        "autometa": __version__, "saved_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    path = Path(path).expanduser()
    if not path.parent.exists():
        raise InputError(f"Cannot save the model to '{path}': its folder does not exist.")
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


def load_model(path: str | Path, data: Any = None, target: str | None = None) -> TunedModel:
    """Read a model file written by :func:`save_model` and refit it (on ``data``, or the recorded file)."""
    from autometa.data import load_dataset

    path = Path(path).expanduser()
    try:
        spec = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"Cannot read the model file '{path}': {exc}.") from None
    if not isinstance(spec, dict) or spec.get("format") != MODEL_FORMAT:
        raise InputError(f"'{path}' is not an autometa model file.")
    if spec.get("format_version") != MODEL_FORMAT_VERSION:
        raise InputError(f"'{path}' has model format version {spec.get('format_version')}; this autometa reads "
                         f"version {MODEL_FORMAT_VERSION}. Save it again with this version.")
    if data is None:
        recorded = (spec.get("data") or {}).get("path")
        if not recorded or not Path(recorded).exists():
            raise InputError(f"The data the model '{path}' was tuned on ({recorded}) is gone; pass the data to refit on.")
        if spec["data"].get("sha256") and _sha256(recorded) != spec["data"]["sha256"]:
            raise InputError(f"The data file '{recorded}' changed since the model was saved; pass it explicitly "
                             "to refit on its current content.")
        data = recorded
    dataset = load_dataset(data, target=target or spec.get("target"), task=spec.get("task"))
    return _fit(spec["family"], spec["config"], dataset, {"task": spec.get("task"), "protocol": spec.get("protocol") or {}})


def _sha256(path: str | Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
