"""Import OpenML runs (flows evaluated on tasks) into knowledge-base tables.

For each task (given, or the tasks of a benchmark suite) the importer reads, through the ``openml``
package and a cache-first client (:mod:`autometa.kb._openml_client`):

- the task (``task/<id>``: its dataset and type) and the dataset's name and OpenML qualities
  (``data/<id>``, ``data/qualities/<id>``). Qualities become ``mf.<QualityName>`` columns;
  ``n_features`` is ``NumberOfFeatures - 1`` (OpenML counts the target).
- the runs, via ``openml.evaluations.list_evaluations``: first the primary measure for at most
  ``max_runs`` runs of the task (of the given flows, if any), then the other measures for exactly
  those runs (``runs=`` filter, in chunks);
- the setups of those runs (``openml.setups.list_setups``): the hyperparameter values.

Measures and our metrics:

=================================  ====================  ===========================================
OpenML measure                     our column            how
=================================  ====================  ===========================================
predictive_accuracy (primary)      ``accuracy``          if the schema has it; else in fold_scores
area_under_roc_curve               ``roc_auc``           binary: the value; multiclass: the mean of
                                                         the per-class AUCs (``array_data``), i.e.
                                                         macro one-vs-rest (OpenML's own value is
                                                         class-frequency weighted, so not used)
recall                             ``balanced_accuracy`` mean of the per-class recalls
                                                         (``array_data``); NaN when absent
root_mean_squared_error (primary)  ``rmse``              the value
root_mean_prior_squared_error      ``r2``                ``1 - (rmse / rmse_of_prior)^2``; OpenML's
                                                         prior is the training-fold mean, so this is
                                                         a shade below sklearn's R2
=================================  ====================  ===========================================

Runs of the same setup on the same dataset become one row (``config_id = "openml-setup-<id>"``)
with the mean of each measure; ``fold_scores`` lists the per-run values. OpenML runs use the task's
own resampling (usually 10-fold CV), not our protocol: ``protocol_version`` is 0.

Families: a flow maps onto our family when it is a scikit-learn (or LightGBM) estimator, or a
scikit-learn ``Pipeline`` ending in one, of a class below; otherwise the family is
``"openml:<flow name without version>"``. Search wrappers (``*SearchCV``) are never mapped: their
setups describe a search, not a config.

====================================================  ==========================
estimator class                                       family
====================================================  ==========================
RandomForestClassifier / RandomForestRegressor        random_forest
ExtraTreesClassifier / ExtraTreesRegressor            extra_trees
HistGradientBoostingClassifier / ...Regressor         hist_gradient_boosting
LGBMClassifier / LGBMRegressor                        lightgbm
LogisticRegression, Ridge                             linear  (Ridge ``alpha`` -> ``C = 1 / alpha``)
SVC / SVR with the RBF kernel                         svm
KNeighborsClassifier / KNeighborsRegressor            knn
====================================================  ==========================

``config`` of a mapped flow: the estimator's parameters in our search space's terms (forests'
``max_features`` as a fraction of the features, SVM ``gamma`` relative to the feature count as in
:mod:`autometa.spaces.svm`), plus its other parameters whose value differs from the flow's default;
preprocessing steps are left out. Of an unmapped flow: every parameter that differs from its default,
named ``<ComponentClass>.<parameter>``.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autometa.errors import InputError
from autometa.kb import _schema as S
from autometa.kb._import_common import FOREIGN_PROTOCOL_VERSION, ImportResult, command_line
from autometa.kb._openml_client import OpenMLClient, OpenMLUnreachable

SOURCE = "openml"
DEFAULT_MAX_RUNS = 500
_CHUNK = 100  # ids per listing call, to keep URLs short
_TASK_TYPES = {1: "classification", 2: "regression"}
#: measures per task, the first one decides which runs are imported.
MEASURES = {
    "classification": ("predictive_accuracy", "area_under_roc_curve", "recall"),
    "regression": ("root_mean_squared_error", "root_mean_prior_squared_error"),
}
FAMILY_OF_CLASS = {
    "RandomForestClassifier": "random_forest", "RandomForestRegressor": "random_forest",
    "ExtraTreesClassifier": "extra_trees", "ExtraTreesRegressor": "extra_trees",
    "HistGradientBoostingClassifier": "hist_gradient_boosting",
    "HistGradientBoostingRegressor": "hist_gradient_boosting",
    "LGBMClassifier": "lightgbm", "LGBMRegressor": "lightgbm",
    "LogisticRegression": "linear", "Ridge": "linear",
    "SVC": "svm", "SVR": "svm",
    "KNeighborsClassifier": "knn", "KNeighborsRegressor": "knn",
}
# Parameters that change how a model runs, not what it learns.
_NOT_HYPERPARAMETERS = frozenset({"n_jobs", "random_state", "verbose", "verbosity", "warm_start", "copy_X",
                                  "cache_size", "memory", "silent", "steps", "oob_score"})
_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
_VERSION = re.compile(r"\(\d+\)$")


@dataclass(frozen=True)
class _Task:
    task_id: int
    data_id: int
    task: str


def import_openml(
    tasks: Sequence[int] = (),
    *,
    suite: int | str | None = None,
    flows: Sequence[int] = (),
    cache_dir: str | Path | None = None,
    max_runs: int = DEFAULT_MAX_RUNS,
    offline: bool = False,
    progress: Callable[[str], None] | None = None,
) -> ImportResult:
    """Import the runs of OpenML tasks (see the module docstring).

    Args:
        tasks: OpenML task ids; or give ``suite`` (a benchmark-suite id or alias) and ``flows``.
        suite: take the tasks of this benchmark suite.
        flows: only runs of these flow ids (required with ``suite``).
        cache_dir: openml's root cache directory (default: openml's configured one).
        max_runs: at most this many runs per task.
        offline: answer from the cache only.
        progress: called with a short message per step.

    Raises:
        InputError: bad options; OpenML unreachable with nothing cached; an unknown task or suite.
    """
    if bool(tasks) == (suite is not None):
        raise InputError("Give OpenML task ids (--task) or a benchmark suite (--suite), one of the two.")
    if suite is not None and not flows:
        raise InputError("With --suite, name the flows to import with --flow (a whole suite's runs are too many).")
    if max_runs < 1:
        raise InputError(f"--max-runs must be at least 1; got {max_runs}.")
    say = progress or (lambda message: None)
    client = OpenMLClient(cache_dir, offline=offline)
    where = f"'{cache_dir}'" if cache_dir is not None else "openml's cache"
    try:
        with client.session():
            task_ids = list(tasks) if tasks else _suite_tasks(client, suite)
            return _import(client, task_ids, list(flows), max_runs, say, suite)
    except OpenMLUnreachable as exc:
        if offline:
            raise InputError(f"There is no cached copy of {exc.what} in {where}, and offline mode forbids the "
                             "network; drop --offline or pass --cache-dir with a cache that has it.") from None
        raise InputError(
            f"Cannot reach OpenML and there is no cached copy of {exc.what} in {where}; "
            "connect to the internet or pass --cache-dir with a cache that has it."
        ) from None


def _import(client: OpenMLClient, task_ids: list[int], flows: list[int], max_runs: int,
            say: Callable[[str], None], suite: Any) -> ImportResult:
    datasets: dict[int, dict[str, Any]] = {}
    runs: list[dict[str, Any]] = []
    notes: list[str] = []
    for position, task_id in enumerate(task_ids, 1):
        say(f"task {task_id} ({position}/{len(task_ids)})")
        task = _get_task(client, int(task_id))
        if task is None:
            notes.append(f"OpenML task {task_id} is not a classification or regression task; skipped.")
            continue
        if task.data_id not in datasets:
            row = _dataset_row(client, task)
            if row is None:
                notes.append(f"OpenML dataset {task.data_id} (task {task_id}) has no qualities; skipped.")
                continue
            datasets[task.data_id] = row
        task_runs = _runs(client, task, flows, max_runs, n_classes=datasets[task.data_id]["n_classes"])
        if not task_runs:
            notes.append(f"OpenML task {task_id} has no runs" + (" of the given flows." if flows else "."))
        runs.extend(task_runs)
    say(f"reading the setups of {len({r['setup_id'] for r in runs})} configurations")
    setups = _setups(client, sorted({r["setup_id"] for r in runs}))
    evaluations = _evaluation_rows(runs, setups, datasets)
    record = {"source": SOURCE, "command": command_line(), "tasks": [int(t) for t in task_ids],
              "suite": suite, "flows": flows, "max_runs": max_runs, "openml": _openml_version(),
              "network_calls": client.network_calls, "cache_hits": client.cache_hits}
    dataset_rows = [{k: v for k, v in row.items() if k != "_qualities"} | row["_qualities"] for row in datasets.values()]
    return ImportResult(pd.DataFrame(dataset_rows), pd.DataFrame(evaluations), notes, record)


def _openml_version() -> str:
    import openml

    return openml.__version__


# ---------------------------------------------------------------------------- tasks and datasets
def _suite_tasks(client: OpenMLClient, suite: int | str) -> list[int]:
    import openml

    with client.about(f"benchmark suite {suite}"):
        try:
            found = openml.study.get_suite(suite)
        except openml.exceptions.OpenMLServerException as exc:
            raise InputError(f"OpenML has no benchmark suite {suite} ({exc.message}); check the id or alias.") from None
    return [int(t) for t in found.tasks or []]


def _xml(client: OpenMLClient, call: str, what: str, force_list: tuple[str, ...] = ()) -> dict[str, Any]:
    import openml
    import xmltodict

    with client.about(what):
        try:
            text = client.get(call)
        except openml.exceptions.OpenMLServerException as exc:
            raise InputError(f"OpenML has no {what} ({exc.message}); check the id.") from None
    return xmltodict.parse(text, force_list=force_list)


def _get_task(client: OpenMLClient, task_id: int) -> _Task | None:
    task = _xml(client, f"task/{task_id}", f"task {task_id}", force_list=("oml:input",))["oml:task"]
    kind = _TASK_TYPES.get(int(task["oml:task_type_id"]))
    if kind is None:
        return None
    source = next(i for i in task["oml:input"] if i["@name"] == "source_data")["oml:data_set"]
    return _Task(task_id, int(source["oml:data_set_id"]), kind)


def _dataset_row(client: OpenMLClient, task: _Task) -> dict[str, Any] | None:
    import openml
    import xmltodict

    description = _xml(client, f"data/{task.data_id}", f"dataset {task.data_id}")["oml:data_set_description"]
    with client.about(f"the qualities of dataset {task.data_id}"):
        try:
            text = client.get(f"data/qualities/{task.data_id}")
        except openml.exceptions.OpenMLServerNoResult:
            return None
    qualities = {}
    for quality in xmltodict.parse(text, force_list=("oml:quality",))["oml:data_qualities"].get("oml:quality") or []:
        value = quality.get("oml:value")
        qualities[S.MF_PREFIX + quality["oml:name"]] = math.nan if value in (None, "null", "") else float(value)
    n_classes = qualities.get("mf.NumberOfClasses", math.nan)
    return {
        "dataset_id": S.dataset_id(SOURCE, str(task.data_id)),
        "source": SOURCE,
        "name": str(description.get("oml:name", task.data_id)),
        "openml_id": task.data_id,
        "task": task.task,
        "n_rows": qualities.get("mf.NumberOfInstances", math.nan),
        "n_features": qualities.get("mf.NumberOfFeatures", math.nan) - 1,
        "n_classes": n_classes if task.task == "classification" else None,
        "row_cap": 0,
        "protocol_version": FOREIGN_PROTOCOL_VERSION,
        "_qualities": qualities,
    }


# --------------------------------------------------------------------------------- runs, setups
def _list(client: OpenMLClient, what: str, **kwargs: Any) -> list[Any]:
    import openml

    with client.about(what):
        found = openml.evaluations.list_evaluations(output_format="object", **kwargs)
    return list(found.values()) if isinstance(found, dict) else list(found)


def _runs(client: OpenMLClient, task: _Task, flows: list[int], max_runs: int, n_classes: Any) -> list[dict[str, Any]]:
    primary, *others = MEASURES[task.task]
    first = _list(client, f"the {primary} evaluations of task {task.task_id}", function=primary,
                  tasks=[task.task_id], flows=flows or None, size=max_runs)
    runs = {e.run_id: {"run_id": e.run_id, "setup_id": e.setup_id, "flow_name": e.flow_name,
                       "data_id": task.data_id, "task": task.task, "n_classes": n_classes, primary: e}
            for e in first}
    ids = sorted(runs)
    for measure in others:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            for e in _list(client, f"the {measure} evaluations of task {task.task_id}", function=measure,
                           runs=chunk, size=None):
                if e.run_id in runs:
                    runs[e.run_id][measure] = e
    return list(runs.values())


def _setups(client: OpenMLClient, setup_ids: list[int]) -> dict[int, Any]:
    import openml

    found: dict[int, Any] = {}
    for start in range(0, len(setup_ids), _CHUNK):
        chunk = setup_ids[start:start + _CHUNK]
        with client.about(f"setups {chunk[0]}..{chunk[-1]}"):
            listed = openml.setups.list_setups(setup=chunk, output_format="object")
        found.update(listed if isinstance(listed, dict) else {s.setup_id: s for s in listed})
    return found


def _scores(run: dict[str, Any]) -> dict[str, float]:
    """Our metrics from one run's OpenML measures (see the table in the module docstring)."""
    def value(measure: str) -> float:
        e = run.get(measure)
        return math.nan if e is None or e.value is None else float(e.value)

    def per_class_mean(measure: str) -> float:
        e = run.get(measure)
        try:
            values = [float(v) for v in json.loads(e.array_data)] if e is not None and e.array_data else []
        except (TypeError, ValueError):
            values = []
        return float(np.mean(values)) if values else math.nan

    if run["task"] == "regression":
        rmse, prior = value("root_mean_squared_error"), value("root_mean_prior_squared_error")
        return {"rmse": rmse, "r2": 1.0 - (rmse / prior) ** 2 if prior > 0 else math.nan}
    binary = run["n_classes"] == 2
    return {
        "accuracy": value("predictive_accuracy"),
        "roc_auc": value("area_under_roc_curve") if binary else per_class_mean("area_under_roc_curve"),
        "balanced_accuracy": per_class_mean("recall"),
    }


def _evaluation_rows(runs: list[dict[str, Any]], setups: dict[int, Any], datasets: dict[int, dict[str, Any]]) -> list[dict]:
    groups: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        groups[(run["data_id"], run["setup_id"])].append(run)
    rows = []
    for (data_id, setup_id), members in sorted(groups.items()):
        dataset = datasets[data_id]
        params = _parameters(setups.get(setup_id))
        family, config = map_flow(members[0]["flow_name"], params, n_features=dataset["n_features"])
        per_run = [_scores(run) for run in sorted(members, key=lambda r: r["run_id"])]
        fold_scores = {m: [s[m] for s in per_run] for m in per_run[0]}
        scores = {m: float(np.nanmean(v)) if np.isfinite(v).any() else math.nan
                  for m, v in ((m, np.asarray(v, dtype=float)) for m, v in fold_scores.items()) if m in S.METRICS}
        rows.append(S.evaluation_row(
            dataset_id=dataset["dataset_id"], family=family, config_id=f"openml-setup-{setup_id}", config=config,
            scores=scores, fold_scores=fold_scores, n_rows_used=int(dataset["n_rows"]), source=SOURCE,
            protocol_version=FOREIGN_PROTOCOL_VERSION))
    return rows


# ------------------------------------------------------------------------------ flow -> family
@dataclass(frozen=True)
class _Param:
    component: str  # class name of the flow component the parameter belongs to
    name: str
    value: Any
    default: Any


def _decode(text: Any) -> Any:
    # sklearn flows store JSON ("100", "\"gini\"", "null"); other libraries plain strings.
    if text is None:
        return None
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return text
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value


def _class_of(flow_name: str) -> str:
    """``"RandomizedSearchCV"`` of ``"sklearn.model_selection._search.RandomizedSearchCV(estimator=...)(1)"``."""
    return flow_name.strip().split("(", 1)[0].rsplit(".", 1)[-1]


def _parameters(setup: Any) -> list[_Param]:
    if setup is None or not setup.parameters:
        return []
    return [_Param(_class_of(p.flow_name), p.parameter_name, _decode(p.value), _decode(p.default_value))
            for p in setup.parameters.values()]


def map_flow(flow_name: str, params: Iterable[_Param], *, n_features: float = math.nan) -> tuple[str, dict[str, Any]]:
    """``(family, config)`` of a run of the flow ``flow_name`` (see the module docstring)."""
    params = list(params)
    name = _VERSION.sub("", flow_name.strip())
    dotted = _DOTTED.findall(name)
    top = dotted[0].rsplit(".", 1)[-1] if dotted else ""
    library = dotted[0].split(".", 1)[0] if dotted else ""
    estimator = ""
    if library in ("sklearn", "lightgbm"):
        if top in FAMILY_OF_CLASS and len(dotted) == 1:
            estimator = top
        elif top == "Pipeline":
            estimator = dotted[-1].rsplit(".", 1)[-1]
    family = FAMILY_OF_CLASS.get(estimator)
    own = {p.name: p for p in params if p.component == estimator}
    if family == "svm" and own.get("kernel") is not None and own["kernel"].value not in ("rbf", None):
        family = None
    if family is None:
        config = {f"{p.component}.{p.name}": p.value for p in params
                  if p.value != p.default and p.name not in _NOT_HYPERPARAMETERS and p.component != "Pipeline"}
        return f"openml:{name}", config
    return family, _space_config(family, estimator, own, n_features)


def _space_config(family: str, estimator: str, own: dict[str, _Param], n_features: float) -> dict[str, Any]:
    values = {name: p.value for name, p in own.items()}
    config: dict[str, Any] = {}
    if family in ("random_forest", "extra_trees"):
        config["max_features"] = _feature_fraction(values.get("max_features", "sqrt"), n_features)
        translated = {"max_features"}
    elif family == "linear" and estimator == "Ridge":
        alpha = values.get("alpha", 1.0)
        config["C"] = 1.0 / float(alpha) if isinstance(alpha, (int, float)) and alpha > 0 else math.nan
        translated = {"alpha"}
    elif family == "svm":
        gamma = values.get("gamma", "scale")
        # sklearn's "scale" on standardized data (our pipeline) is relative gamma 1; "auto" is 1/p = relative 1.
        if isinstance(gamma, (int, float)) and not isinstance(gamma, bool):
            config["gamma"] = float(gamma) * n_features if n_features >= 1 else math.nan
        else:
            config["gamma"] = 1.0
        translated = {"gamma", "kernel"}
    else:
        translated = set()
    from autometa.spaces import get_family

    space = get_family(family).space
    for name, p in own.items():
        if name in translated or name in _NOT_HYPERPARAMETERS:
            continue
        if name in space or p.value != p.default:
            config[name] = p.value
    return {k: v for k, v in config.items() if not (isinstance(v, float) and math.isnan(v))}


def _feature_fraction(value: Any, n_features: float) -> float:
    """scikit-learn's forest ``max_features`` as a fraction of the ``n_features`` columns."""
    if value is None:
        return 1.0
    if isinstance(value, float) and 0 < value <= 1:
        return value
    if not n_features >= 1:
        return math.nan
    p = int(n_features)
    if value in ("auto", "sqrt"):
        return max(1, int(math.sqrt(p))) / p
    if value == "log2":
        return max(1, int(math.log2(p))) / p
    if isinstance(value, int) and not isinstance(value, bool):
        return min(value, p) / p
    return math.nan
