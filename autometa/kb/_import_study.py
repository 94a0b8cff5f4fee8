"""Import a user's finished Optuna study as task history: how autometa learns from its users.

The study's dataset (``data``, any file :func:`autometa.data.load_dataset` reads) is characterized by
:func:`metafeatures.extract` and becomes one ``datasets`` row, ``"study/<study name>"`` (source
``"study"``). Every COMPLETE trial becomes an ``evaluations`` row (``config_id = "trial-<number>"``,
``config`` = the trial's parameters, its value in the column of the study's metric); every FAIL trial
a row with status ``"failed"``. Pruned, running and waiting trials are left out.

Which family a trial tuned: the trial's user attribute ``family`` (what :func:`autometa.tune`
records), else its parameter ``family`` (a study that searched over families), else the study's user
attribute ``family``, else the ``family`` argument (``--family``). Parameter names prefixed with the
family (``lightgbm.learning_rate`` or ``lightgbm__learning_rate``) lose the prefix.

Which metric the value is: the ``metric`` argument, else the study's user attribute ``metric``,
else the primary metric of the data's task in the study's direction (maximize: balanced accuracy /
R2; minimize: log loss / RMSE), which the result's notes then state. A metric whose direction
disagrees with the study's is refused. Trials may carry ``fold_scores`` (``{metric: [..]}``),
``fit_seconds`` and ``n_rows_used`` user attributes; they are kept when present.

A multi-fidelity study of :func:`autometa.tune` (study attribute ``autometa.rungs``) scored every
trial on the protocol's rows first and only the best on more: each trial's first intermediate value
(on the fewest rows) is what is imported, pruned trials included, so that all its rows speak of one
row budget.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from autometa import _study_attrs as attr
from autometa.errors import InputError
from autometa.io import mask_url, open_storage
from autometa.kb import _schema as S
from autometa.kb._import_common import FOREIGN_PROTOCOL_VERSION, ImportResult, command_line

SOURCE = "study"
_FAMILY_KEYS = ("family", "autometa:family")
_METRIC_KEYS = ("metric", "autometa:metric")


def import_study(
    storage: str,
    study_name: str,
    data: str | Path,
    *,
    target: str | None = None,
    family: str | None = None,
    metric: str | None = None,
) -> ImportResult:
    """Read the finished Optuna study ``study_name`` from ``storage`` (see the module docstring).

    Args:
        storage: an Optuna storage URL (``sqlite:///x.db``, ``postgresql://user:pw@host/db``, ...).
        study_name: the study's name in that storage.
        data: the dataset the study tuned on (CSV, Parquet, PMLB folder, ...).
        target: the target column of ``data`` (default: autometa's usual guess).
        family: the model family of trials that do not name one.
        metric: the metric the trial values are (default: from the study, see above).

    Raises:
        InputError: unreachable storage, unknown study, missing data file, unknown family or metric,
            a multi-objective study, or a study without finished trials. Passwords in ``storage`` are
            masked in every message.
    """
    if family is not None and family not in S.FAMILIES:
        raise InputError(f"Unknown model family '{family}'; choose one of {', '.join(S.FAMILIES)}.")
    if metric is not None and metric not in S.METRICS:
        raise InputError(f"Unknown metric '{metric}'; choose one of {', '.join(S.METRICS)}.")
    study = _load_study(storage, study_name)
    if len(study.directions) != 1:
        raise InputError(
            f"Study '{study_name}' has {len(study.directions)} objectives; import-study takes single-objective studies."
        )
    trials = _trials(study)
    if not any(state == "ok" for _, state in trials):
        raise InputError(f"Study '{study_name}' in {mask_url(storage)} has no COMPLETE trial; nothing to import.")

    from autometa.data import load_dataset

    dataset = load_dataset(data, target=target)
    notes: list[str] = [f"data: {note}" for note in dataset.notes]
    metric = _metric(study, metric, dataset.task, notes)
    dataset_key = S.dataset_id(SOURCE, study_name)
    rows = [_row(trial, state, study, family, metric, dataset_key, dataset.n_rows) for trial, state in trials]
    datasets = pd.DataFrame([_dataset_row(dataset, dataset_key, study_name)])
    record = {"source": SOURCE, "command": command_line(), "storage": mask_url(storage), "study": study_name,
              "data": str(data), "metric": metric, "trials": len(rows)}
    return ImportResult(datasets, pd.DataFrame(rows), notes, record)


def _load_study(storage: str, study_name: str):
    import optuna

    masked = mask_url(storage)
    if str(storage).startswith("sqlite:") and ":///" not in str(storage):
        raise InputError(f"The storage {masked} is an in-memory SQLite database, which holds no finished study.")
    rdb = open_storage(storage, heartbeat_interval=None, must_exist=True)
    names = optuna.study.get_all_study_names(storage=rdb)
    if study_name not in names:
        known = ", ".join(f"'{n}'" for n in sorted(names)[:10]) or "none"
        raise InputError(f"The storage {masked} has no study named '{study_name}'; its studies: {known}.")
    return optuna.load_study(study_name=study_name, storage=rdb)


def _trials(study) -> list[tuple[Any, str]]:
    from optuna.trial import TrialState

    states = {TrialState.COMPLETE: "ok", TrialState.FAIL: "failed"}
    if attr.RUNGS in study.user_attrs:  # a trial stopped on the first rung was scored there all the same
        return [(t, "ok" if t.intermediate_values else states.get(t.state)) for t in study.get_trials(deepcopy=False)
                if t.state in states or (t.state == TrialState.PRUNED and t.intermediate_values)]
    return [(t, states[t.state]) for t in study.get_trials(deepcopy=False) if t.state in states]


def _metric(study, metric: str | None, task: str, notes: list[str]) -> str:
    from optuna.study import StudyDirection

    maximize = study.direction == StudyDirection.MAXIMIZE
    if metric is None:
        metric = next((study.user_attrs[k] for k in _METRIC_KEYS if k in study.user_attrs), None)
        if metric is not None and metric not in S.METRICS:
            raise InputError(f"Study '{study.study_name}' says its metric is '{metric}', which autometa does not "
                             f"know; pass --metric (one of {', '.join(S.METRICS)}).")
    if metric is None:
        metric = S.PRIMARY_METRIC[task] if maximize else {"classification": "log_loss", "regression": "rmse"}[task]
        notes.append(f"the study does not name its metric; its trial values are taken as {metric} "
                     f"({'maximized' if maximize else 'minimized'}); pass --metric if that is wrong")
    task_metrics = S.CLASSIFICATION_METRICS if task == "classification" else S.REGRESSION_METRICS
    if metric not in task_metrics:
        raise InputError(f"Metric '{metric}' is not a {task} metric, but the data is a {task} task; "
                         f"pass --metric (one of {', '.join(task_metrics)}).")
    if S.HIGHER_IS_BETTER[metric] != maximize:
        raise InputError(f"Study '{study.study_name}' {'maximizes' if maximize else 'minimizes'} its objective, but "
                         f"{metric} is {'higher' if S.HIGHER_IS_BETTER[metric] else 'lower'}-is-better; "
                         "pass the --metric the study optimized.")
    return metric


def _family(trial, study, default: str | None) -> str:
    found = next((trial.user_attrs[k] for k in _FAMILY_KEYS if k in trial.user_attrs), None)
    found = found or trial.params.get("family")
    found = found or next((study.user_attrs[k] for k in _FAMILY_KEYS if k in study.user_attrs), None)
    found = found or default
    if found is None:
        raise InputError(f"Trial {trial.number} of study '{study.study_name}' does not say which model family it "
                         f"tuned; pass --family (one of {', '.join(S.FAMILIES)}).")
    if found not in S.FAMILIES:
        raise InputError(f"Trial {trial.number} of study '{study.study_name}' tuned family '{found}', which autometa "
                         f"does not know; families: {', '.join(S.FAMILIES)}.")
    return str(found)


def _config(params: dict[str, Any], family: str) -> dict[str, Any]:
    config = {}
    for name, value in params.items():
        if name == "family":
            continue
        for prefix in (f"{family}.", f"{family}__"):
            if name.startswith(prefix):
                name = name[len(prefix):]
        config[name] = value
    return config


def _row(trial, state: str, study, family: str | None, metric: str, dataset_key: str, n_rows: int) -> dict[str, Any]:
    name = _family(trial, study, family)
    attrs = trial.user_attrs
    fold_scores = attrs.get("fold_scores") if isinstance(attrs.get("fold_scores"), dict) else None
    value = trial.value if state == "ok" else None
    rows_used = attrs.get("n_rows_used", n_rows)
    if attr.RUNGS in study.user_attrs and trial.intermediate_values:
        rows_used = min(trial.intermediate_values)
        value = trial.intermediate_values[rows_used]
    if fold_scores is None:
        fold_scores = {metric: [value]} if value is not None else {}
    return S.evaluation_row(
        dataset_id=dataset_key,
        family=name,
        config_id=f"trial-{trial.number:04d}",
        config=_config(trial.params, name),
        scores={metric: value} if value is not None else {},
        fold_scores=fold_scores,
        fit_seconds=float(attrs.get("fit_seconds", math.nan)),
        status=state,
        error="" if state == "ok" else str(attrs.get("error", "the trial failed in the Optuna study")),
        n_rows_used=int(rows_used),
        source=SOURCE,
        protocol_version=FOREIGN_PROTOCOL_VERSION,
    )


def _dataset_row(dataset, dataset_key: str, study_name: str) -> dict[str, Any]:
    from autometa.evaluation import DEFAULT_PROTOCOL
    from autometa.kb._metafeatures import dataset_metafeatures

    try:
        # As the built knowledge base characterizes its datasets: as given, on the protocol's rows.
        values = dataset_metafeatures(dataset, DEFAULT_PROTOCOL)
    except ValueError as exc:
        raise InputError(f"Cannot characterize the study's data '{dataset.name}': {exc}") from None
    row: dict[str, Any] = {
        "dataset_id": dataset_key,
        "source": SOURCE,
        "name": study_name,
        "openml_id": None,
        "task": dataset.task,
        "n_rows": dataset.n_rows,
        "n_features": dataset.n_features,
        "n_classes": dataset.n_classes,
        "row_cap": DEFAULT_PROTOCOL.row_cap,
        "protocol_version": FOREIGN_PROTOCOL_VERSION,
    }
    for key, value in dict(values).items():
        row[S.MF_PREFIX + str(key)] = float(value) if value is not None else math.nan
    return row
