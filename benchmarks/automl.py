"""AutoML head-to-head: autometa against FLAML's AutoML, Optuna TPE on LightGBM and LightGBM's defaults,
at equal wall-clock budgets, scored on an outer test split that no method sees.

    python benchmarks/automl.py                          # every selected dataset, --budget 60, --seeds 1
    python benchmarks/automl.py --n-jobs 2 --seeds 3     # two datasets at once (one process each)
    python benchmarks/automl.py --subset large           # a named subset of selection.json
    python benchmarks/automl.py --datasets magic,letter --methods flaml,lgbm-default --budget 10
    python benchmarks/automl.py --report                 # only rewrite README.md and the PNG from runs.jsonl
    python benchmarks/automl.py --select                 # rebuild selection.json from the rule (see below)

Methods (each single-threaded, each given the same training rows and ``--budget`` seconds):

``autometa``          ``autometa.tune(train, time_budget=B, random_state=seed, kb=<KB without the dataset's
                      origin group>, max_rows=None)`` then ``autometa.refit(study, train, ensemble=None)``;
                      from the same study ``autometa+ens`` (``ensemble="selection"``), ``autometa+mdt`` and
                      ``autometa+stack`` (meta-decision tree, stacking): refits, no second search.
``autometa-2000``     the same search on the knowledge base's 2,000-row protocol only (``max_rows=2000``,
                      today's behaviour), with ``autometa-2000+ens``; only where the training split has
                      more than 2,000 rows (at or under 2,000 it is the same search).
``flaml``             ``flaml.AutoML().fit(X, y, time_budget=B, metric=<balanced accuracy> | "r2", n_jobs=1)``,
                      FLAML's defaults otherwise (its search time includes its final retrain).
``optuna-tpe-lgbm``   Optuna TPE over LightGBM's space as :mod:`autometa.spaces` defines it, 3-fold CV on the
                      training rows, ``study.optimize(timeout=B)``, the best refitted on all training rows.
``lgbm-default``      LightGBM's default config (:mod:`autometa.spaces`), fitted on the training rows.

Protocol: per (dataset, seed) one outer split, 80 % train / 20 % test, seeded, stratified for
classification (a class with a single row stays in training). Test metrics: balanced accuracy (the
primary one, which every method optimizes) and log loss for classification, R2 (and RMSE) for
regression; the same definitions as the rest of autometa (:func:`autometa.evaluation.metric_score`).

Unseen: the meta-model autometa tunes with is fitted on the shipped knowledge base without the
dataset's whole origin group (``KnowledgeBase.origin_groups()``: its copies under other sources, its
generator and study siblings), as a knowledge-base folder under ``--work`` (fitted once per group, before
the clock starts: a user's meta-model comes with the package).

Isolation and resuming: every (dataset, runner, seed) runs in its own process group, killed at
``budget + --slack`` seconds (a hung method is a recorded failure); each result is one JSON line
appended to ``runs.jsonl`` as soon as the method has its test scores, and whatever is already there is
skipped (``--retry-failed`` runs failures again, ``--rerun`` everything chosen; the latest line of a key wins). ``--n-jobs 2`` runs two
datasets at once.

Dataset selection (``--select``, written to ``selection.json`` with the rule): see :func:`select_datasets`.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import hashlib
import inspect
import json
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: the repository's packages (benchmarks.*) on the path
    sys.path.insert(0, str(REPO))

from benchmarks.warmstart import PMLB_DIR, _plain_table  # noqa: E402  (the corpus folder; the tables' format)

RESULTS = REPO / "benchmarks" / "results" / "automl"
WORK = REPO / "work" / "automl"  # ignored by git (/work/): group knowledge bases, meta-model cache, logs

#: Runner -> the methods (result lines) one run of it yields.
RUNNERS: dict[str, tuple[str, ...]] = {
    "autometa": ("autometa", "autometa+ens", "autometa+mdt", "autometa+stack"),
    "autometa-2000": ("autometa-2000", "autometa-2000+ens"),
    "flaml": ("flaml",),
    "optuna-tpe-lgbm": ("optuna-tpe-lgbm",),
    "lgbm-default": ("lgbm-default",),
}
#: Ensemble kind of ``autometa.refit`` behind each method suffix (None: the best single model).
ENSEMBLE_OF = {"": None, "+ens": "selection", "+mdt": "mdt", "+stack": "stacking"}
METHOD_ORDER = tuple(m for methods in RUNNERS.values() for m in methods)
#: The methods ranked against each other (autometa-2000 runs on the large datasets only).
RANKED = ("autometa", "autometa+ens", "flaml", "optuna-tpe-lgbm", "lgbm-default")
RIVALS = ("flaml", "optuna-tpe-lgbm", "lgbm-default")
PRIMARY = {"classification": "balanced_accuracy", "regression": "r2"}
LARGE_ROWS = 10_000
PROTOCOL_ROWS = 2_000
TEST_SHARE = 0.2
TIE = 1e-9
THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "NUMEXPR_NUM_THREADS": "1", "VECLIB_MAXIMUM_THREADS": "1"}


# ======================================================================================= selection
#: The selection rule, as written into selection.json.
SELECTION_RULE = [
    "Candidates: the PMLB datasets of the corpus folder that the shipped knowledge base holds (so that their "
    "origin group is known), with 500 <= rows <= 200,000 and at most 500 features. Under 500 rows the 20 % "
    "test split has fewer than 100 rows (one dataset's win or loss would be noise); over 200,000 rows or "
    "500 features a 60 s search cannot fit even one model of every method on one core.",
    "One dataset per origin group (KnowledgeBase.origin_groups()): the one with the most rows (ties: name), "
    "so that a family of near-siblings (BNG_*, cpu_*, the digits' feature sets) counts once.",
    "Every group whose dataset has more than 10,000 rows is taken.",
    "The rest is filled per task from the groups at or under 10,000 rows: sorted by rows (then name), evenly "
    "spaced picks (numpy.linspace over the sorted list, first and last included) until classification has "
    "24 datasets and regression 12 (2:1).",
]
TASK_QUOTA = {"classification": 24, "regression": 12}
MIN_ROWS, MAX_ROWS, MAX_FEATURES = 500, 200_000, 500


def select_datasets(kb: Any, corpus: Path = PMLB_DIR, quota: dict[str, int] | None = None) -> dict[str, Any]:
    """The benchmark's datasets by :data:`SELECTION_RULE` (deterministic: the KB's table and the folder)."""
    quota = quota or TASK_QUOTA
    present = {p.name for p in corpus.iterdir() if p.is_dir()} if corpus.exists() else set()
    ds = kb.datasets
    groups = kb.origin_groups()
    table = ds[(ds["source"] == "pmlb") & ds["name"].astype(str).isin(present)].copy()
    table["group"] = table["dataset_id"].map(groups)
    excluded = []
    for row in table.itertuples():
        if row.n_rows > MAX_ROWS or row.n_features > MAX_FEATURES:
            excluded.append({"name": row.name, "rows": int(row.n_rows), "features": int(row.n_features),
                             "why": f"{'over 200,000 rows' if row.n_rows > MAX_ROWS else 'over 500 features'}: "
                                    "no 60 s search fits one model of every method on one core"})
    not_in_kb = sorted(present - set(table["name"].astype(str)))
    ok = table[(table["n_rows"] >= MIN_ROWS) & (table["n_rows"] <= MAX_ROWS) & (table["n_features"] <= MAX_FEATURES)]
    ok = ok.sort_values(["n_rows", "name"], ascending=[False, True]).drop_duplicates("group", keep="first")
    chosen = []
    for task, n_wanted in quota.items():
        rows = ok[ok["task"] == task]
        large = rows[rows["n_rows"] > LARGE_ROWS]
        rest = rows[rows["n_rows"] <= LARGE_ROWS].sort_values(["n_rows", "name"])
        n_rest = max(n_wanted - len(large), 0)
        picks = sorted(set(np.linspace(0, len(rest) - 1, n_rest).round().astype(int).tolist())) if n_rest and len(rest) else []
        chosen += [*large.itertuples(), *rest.iloc[picks].itertuples()]
    datasets = []
    for row in sorted(chosen, key=lambda r: (r.task, int(r.n_rows), str(r.name))):
        held_out = sorted(groups.index[groups == row.group])
        datasets.append({"name": str(row.name), "task": str(row.task), "n_rows": int(row.n_rows),
                         "n_features": int(row.n_features),
                         "n_classes": None if pd.isna(row.n_classes) else int(row.n_classes),
                         "large": bool(row.n_rows > LARGE_ROWS), "origin_group": str(row.group),
                         "held_out": held_out})
    by_rows = sorted(datasets, key=lambda d: (d["n_rows"], d["name"]))
    subsets = {
        "large": [d["name"] for d in by_rows if d["large"]],
        "small": [d["name"] for d in by_rows if not d["large"]],
        "classification": [d["name"] for d in by_rows if d["task"] == "classification"],
        "regression": [d["name"] for d in by_rows if d["task"] == "regression"],
        # The 300 s subset: every 4th dataset by rows (9 of 36), small to large, both tasks.
        "budget300": [d["name"] for d in by_rows[1::4]],
        "smoke": [d["name"] for d in by_rows[:3]],
    }
    return {"format": "autometa-automl-selection", "format_version": 1, "rule": SELECTION_RULE,
            "corpus": "shared/datasets/pmlb", "knowledge_base": "autometa's shipped knowledge base",
            "counts": {"datasets": len(datasets), "large": len(subsets["large"]),
                       "classification": len(subsets["classification"]), "regression": len(subsets["regression"]),
                       "candidates_after_size_filter": int(len(table[(table["n_rows"] >= MIN_ROWS) & (table["n_rows"] <= MAX_ROWS) & (table["n_features"] <= MAX_FEATURES)])),
                       "origin_groups_among_candidates": int(ok["group"].nunique())},
            "excluded_too_large": excluded, "not_in_knowledge_base": not_in_kb,
            "subsets": subsets, "datasets": datasets}


def read_selection(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise SystemExit(f"{path} is missing; write it with: python benchmarks/automl.py --select")
    return json.loads(path.read_text())


def chosen_datasets(selection: dict[str, Any], names: list[str] | None, subset: str | None) -> list[dict[str, Any]]:
    by_name = {d["name"]: d for d in selection["datasets"]}
    if subset:
        if subset not in selection["subsets"] and subset != "all":
            raise SystemExit(f"unknown subset {subset!r}; selection.json has: all, {', '.join(selection['subsets'])}")
        wanted = list(by_name) if subset == "all" else selection["subsets"][subset]
    else:
        wanted = list(names or by_name)
    if names and subset:
        wanted = [n for n in wanted if n in set(names)]
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise SystemExit(f"not in selection.json: {', '.join(unknown)} (its held-out groups are written there; "
                         "rebuild it with --select after changing the rule)")
    return [by_name[n] for n in wanted]


# ======================================================================================= data and scores
def outer_split(dataset: Any, seed: int, test_share: float = TEST_SHARE) -> tuple[np.ndarray, np.ndarray]:
    """Train and test row positions: seeded, stratified for classification (single-row classes train)."""
    from sklearn.model_selection import train_test_split

    index = np.arange(dataset.n_rows)
    if dataset.task == "classification":
        labels = dataset.y.astype(str).to_numpy()
        counts = pd.Series(labels).value_counts()
        rare = np.isin(labels, counts.index[counts < 2].to_numpy())
        train, test = train_test_split(index[~rare], test_size=test_share, random_state=seed, stratify=labels[~rare])
        train = np.concatenate([train, index[rare]])
    else:
        train, test = train_test_split(index, test_size=test_share, random_state=seed)
    return np.sort(train), np.sort(test)


def subset_dataset(dataset: Any, rows: np.ndarray) -> Any:
    """The dataset restricted to ``rows`` (same columns, kinds and name)."""
    constants = None if dataset.constants is None else dataset.constants.iloc[rows].reset_index(drop=True)
    return dataclasses.replace(dataset, X=dataset.X.iloc[rows].reset_index(drop=True),
                               y=dataset.y.iloc[rows].reset_index(drop=True), constants=constants)


class Labels:
    """Class label <-> code ``0..K-1`` over the whole dataset's classes (matched as text)."""

    def __init__(self, classes: Iterable[Any]) -> None:
        self.classes = list(classes)
        self.code = {str(c): i for i, c in enumerate(self.classes)}

    def codes(self, labels: Iterable[Any]) -> np.ndarray:
        return np.array([self.code[str(v)] for v in labels], dtype=np.int64)

    def proba(self, proba: np.ndarray, model_classes: Iterable[Any]) -> np.ndarray:
        """A model's probability columns (in ``model_classes`` order) as one column per dataset class."""
        out = np.zeros((len(proba), len(self.classes)))
        out[:, self.codes(model_classes)] = np.asarray(proba, dtype=float)
        return out


def holdout_scores(task: str, y_true: np.ndarray, pred: np.ndarray, proba: np.ndarray | None = None,
                n_classes: int = 0) -> dict[str, float]:
    """Test-split scores: classification from predicted codes (balanced accuracy, what the model ships)
    and probabilities (log loss, ROC AUC); regression R2 and RMSE."""
    from autometa.evaluation import metric_score, score_regression

    if task != "classification":
        return score_regression(np.asarray(y_true, dtype=float), np.asarray(pred, dtype=float))
    y_true = np.asarray(y_true, dtype=np.int64)
    onehot = np.eye(n_classes)[np.asarray(pred, dtype=np.int64)]
    out = {"balanced_accuracy": metric_score("balanced_accuracy", y_true, onehot, n_classes)}
    if proba is not None:
        for name in ("log_loss", "roc_auc"):
            try:
                out[name] = metric_score(name, y_true, proba, n_classes)
            except ValueError:
                out[name] = math.nan
    return out


def _balanced_accuracy(y_true: np.ndarray, pred: np.ndarray) -> float:
    from autometa.evaluation import metric_score

    y_true, pred = np.asarray(y_true, dtype=np.int64), np.asarray(pred, dtype=np.int64)
    k = int(max(y_true.max(), pred.max())) + 1
    return metric_score("balanced_accuracy", y_true, np.eye(k)[pred], k)


def flaml_balanced_accuracy(X_val, y_val, estimator, labels, X_train, y_train, weight_val=None, weight_train=None,
                            *args, **kwargs):
    """FLAML's custom-metric signature: (loss to minimize, metrics to log)."""
    value = _balanced_accuracy(np.asarray(y_val), np.asarray(estimator.predict(X_val)))
    return 1.0 - value, {"balanced_accuracy": value}


# ======================================================================================= runners (worker side)
class Context:
    """One (dataset, seed) as a runner sees it: the training Dataset and the test rows."""

    def __init__(self, spec: dict[str, Any]) -> None:
        from autometa.data import load_dataset

        self.spec = spec
        self.seed = int(spec["seed"])
        self.budget = float(spec["budget"])
        full = load_dataset(Path(spec["corpus"]) / spec["dataset"])
        self.task = full.task
        train, test = outer_split(full, self.seed)
        self.train = subset_dataset(full, train)
        self.X_test = full.X.iloc[test].reset_index(drop=True)
        self.labels = Labels(full.classes) if full.task == "classification" else None
        self.n_classes = len(self.labels.classes) if self.labels else 0
        self.y_test = (self.labels.codes(full.y.iloc[test]) if self.labels else full.y.iloc[test].to_numpy(dtype=float))
        self.y_train_codes = (self.labels.codes(self.train.y) if self.labels
                              else self.train.y.to_numpy(dtype=float))
        self.shape = {"n_rows": int(full.n_rows), "n_features": int(full.n_features), "n_train": int(len(train)),
                      "n_test": int(len(test)), "n_classes": self.n_classes or None}

    def score(self, predict: Callable[[pd.DataFrame], np.ndarray], predict_proba: Callable | None,
              model_classes: Iterable[Any] | None, *, classes_are_codes: bool = False) -> dict[str, float]:
        """Test scores of a fitted model; ``model_classes`` labels its proba columns (labels or codes)."""
        if self.task != "classification":
            return holdout_scores(self.task, self.y_test, predict(self.X_test))
        model_classes = list(model_classes)
        as_labels = [self.labels.classes[int(c)] for c in model_classes] if classes_are_codes else model_classes
        proba = self.labels.proba(predict_proba(self.X_test), as_labels)
        pred = np.asarray(predict(self.X_test))
        pred_codes = pred.astype(np.int64) if classes_are_codes else self.labels.codes(pred)
        return holdout_scores(self.task, self.y_test, pred_codes, proba, self.n_classes)


def run_lgbm_default(ctx: Context, emit: Callable[..., None]) -> None:
    from autometa.spaces import get_family

    family = get_family("lightgbm")
    start = time.perf_counter()
    model = family.build_estimator(None, ctx.task, ctx.train.X, random_state=ctx.seed)
    model.fit(ctx.train.X, ctx.y_train_codes)
    refit = time.perf_counter() - start
    scores = ctx.score(model.predict, getattr(model, "predict_proba", None), getattr(model, "classes_", None),
                       classes_are_codes=True)
    emit("lgbm-default", scores=scores, search_seconds=0.0, refit_seconds=refit, n_trials=1,
         best={"family": "lightgbm", "config": family.default_config()})


def run_optuna_tpe_lgbm(ctx: Context, emit: Callable[..., None]) -> None:
    """What a user would write: TPE over LightGBM's space, 3-fold CV, ``timeout=budget``, refit the best."""
    import optuna
    from sklearn.model_selection import KFold, StratifiedKFold

    from autometa.evaluation import metric_score
    from autometa.spaces import get_family

    family = get_family("lightgbm")
    X, y = ctx.train.X, ctx.y_train_codes
    if ctx.task == "classification":
        folds = list(StratifiedKFold(3, shuffle=True, random_state=ctx.seed).split(X, y))
    else:
        folds = list(KFold(3, shuffle=True, random_state=ctx.seed).split(X))

    def objective(trial: Any) -> float:
        config = family.suggest(trial, task=ctx.task)
        scores = []
        for train, valid in folds:
            model = family.build_estimator(config, ctx.task, X, random_state=ctx.seed)
            model.fit(X.iloc[train], y[train])
            if ctx.task == "classification":
                proba = np.zeros((len(valid), ctx.n_classes))
                proba[:, np.asarray(model.classes_, dtype=np.int64)] = model.predict_proba(X.iloc[valid])
                scores.append(metric_score("balanced_accuracy", y[valid], proba, ctx.n_classes))
            else:
                scores.append(metric_score("r2", y[valid], model.predict(X.iloc[valid])))
        return float(np.mean(scores))

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=ctx.seed))
    start = time.perf_counter()
    study.optimize(objective, timeout=ctx.budget, catch=(Exception,), gc_after_trial=False)
    search = time.perf_counter() - start
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise RuntimeError(f"no trial finished ({len(study.trials)} failed)")
    config = dict(study.best_params)
    start = time.perf_counter()
    model = family.build_estimator(config, ctx.task, X, random_state=ctx.seed)
    model.fit(X, y)
    refit = time.perf_counter() - start
    scores = ctx.score(model.predict, getattr(model, "predict_proba", None), getattr(model, "classes_", None),
                       classes_are_codes=True)
    emit("optuna-tpe-lgbm", scores=scores, search_seconds=search, refit_seconds=refit, n_trials=len(complete),
         n_trials_all=len(study.trials), best_cv=float(study.best_value), best_rows=int(len(X) * 2 / 3),
         best={"family": "lightgbm", "config": config})


def run_flaml(ctx: Context, emit: Callable[..., None]) -> None:
    import warnings

    warnings.filterwarnings("ignore")
    from flaml import AutoML

    automl = AutoML()
    metric = flaml_balanced_accuracy if ctx.task == "classification" else "r2"
    start = time.perf_counter()
    automl.fit(ctx.train.X, ctx.y_train_codes, task=ctx.task, time_budget=ctx.budget, metric=metric, n_jobs=1,
               seed=ctx.seed, verbose=0)
    search = time.perf_counter() - start
    scores = ctx.score(automl.predict, getattr(automl, "predict_proba", None),
                       getattr(automl, "classes_", None), classes_are_codes=True)
    best_loss = getattr(automl, "best_loss", None)
    emit("flaml", scores=scores, search_seconds=search,
         refit_seconds=_number(getattr(automl, "best_config_train_time", None)),
         n_trials=len(getattr(automl, "config_history", {}) or {}),
         best_cv=None if best_loss is None else 1.0 - best_loss,  # loss = 1 - balanced accuracy, 1 - R2
         best={"family": automl.best_estimator, "config": _plain(automl.best_config)},
         notes=["search_seconds include FLAML's own final retrain; refit_seconds is its best config's train time"])


def run_autometa(ctx: Context, emit: Callable[..., None], *, max_rows: int | None, base: str,
                 ensembles: list[str]) -> None:
    """``autometa.tune`` then one ``autometa.refit`` per ensemble kind, each scored as its own method."""
    import optuna

    import autometa

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    tune_params = inspect.signature(autometa.tune).parameters
    refit_params = inspect.signature(autometa.refit).parameters
    kwargs: dict[str, Any] = {"random_state": ctx.seed, "kb": ctx.spec["kb"], "n_trials": None}
    api = []
    if "time_budget" in tune_params:
        kwargs["time_budget"] = ctx.budget
    else:  # until tune has time_budget=: Optuna's timeout (a trial running at the deadline finishes)
        kwargs["timeout"] = ctx.budget
        api.append("tune has no time_budget= here: timeout= used")
    if "max_rows" in tune_params:
        kwargs["max_rows"] = max_rows
    else:
        api.append("tune has no max_rows= here: the 2,000-row protocol search")
    if "oof_dir" in tune_params and ctx.spec.get("oof_dir"):
        kwargs["oof_dir"] = ctx.spec["oof_dir"]  # the parent removes it after the run
    start = time.perf_counter()
    study = autometa.tune(ctx.train, **kwargs)
    search = time.perf_counter() - start
    info = study_info(study, ctx.train.n_rows)
    for suffix in ("", *ensembles):
        method, kind = base + suffix, ENSEMBLE_OF[suffix]
        try:
            start = time.perf_counter()
            if "ensemble" in refit_params:
                model = autometa.refit(study, ctx.train, ensemble=kind)
            elif kind is None:
                model = autometa.refit(study, ctx.train)
            else:
                raise RuntimeError("autometa.refit has no ensemble= here")
            refit = time.perf_counter() - start
            classes = getattr(model, "classes", None)
            if classes is None and ctx.task == "classification":
                classes = model.estimator.classes_
            scores = ctx.score(model.predict, getattr(model, "predict_proba", None) if ctx.task == "classification"
                               else None, classes)
            emit(method, scores=scores, search_seconds=search, refit_seconds=refit, **info,
                 card=_card_summary(getattr(model, "card", None)), notes=api)
        except Exception as exc:  # one fusion failing is its own failure, the others still count
            emit(method, status="failed", error=_error(exc), search_seconds=search, **info, notes=api)


def study_info(study: Any, n_train: int) -> dict[str, Any]:
    """Trials, the best trial's family and CV score, and the rows that score was measured on."""
    from optuna.trial import TrialState

    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    # A config stopped on a lower rung of the multi-fidelity search is a PRUNED trial with a score there.
    scored = [t for t in study.trials if t.state == TrialState.COMPLETE or
              (t.state == TrialState.PRUNED and t.user_attrs.get("autometa.rows") is not None)]
    out: dict[str, Any] = {"n_trials": len(scored), "n_complete": len(complete), "n_trials_all": len(study.trials)}
    if not complete:
        return out
    best = study.best_trial
    record = study.user_attrs.get("autometa", {}) or {}
    rows, source = None, None
    for key in ("autometa.rows", "autometa.n_rows", "rows"):
        if best.user_attrs.get(key) is not None:
            rows, source = best.user_attrs[key], f"best trial user attr {key}"
            break
    if rows is None:
        for key in ("best_rows", "rows"):
            if record.get(key) is not None:
                rows, source = record[key], f"study user attr autometa.{key}"
                break
    if rows is None:  # the single-fidelity protocol: its row cap
        cap = (record.get("protocol") or {}).get("row_cap") or PROTOCOL_ROWS
        rows, source = min(int(cap), n_train), "protocol row cap"
    out.update({"best_cv": _number(study.best_value), "best_rows": _number(rows), "best_rows_from": source,
                "best": {"family": best.user_attrs.get("autometa.family"),
                         "config": best.user_attrs.get("autometa.config")}})
    by_rows: dict[str, int] = {}
    for t in scored:
        key = str(t.user_attrs.get("autometa.rows", "?"))
        by_rows[key] = by_rows.get(key, 0) + 1
    out["trials_by_rows"] = by_rows
    return out


def _card_summary(card: dict[str, Any] | None) -> dict[str, Any] | None:
    if not card:
        return None
    keep = {k: v for k, v in card.items() if k not in ("columns", "classes", "versions", "created_at", "format",
                                                     "format_version")}
    text = json.dumps(_plain(keep), default=str)
    return json.loads(text) if len(text) < 8000 else {k: keep.get(k) for k in ("kind", "weights", "cv", "notes")}


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


def _number(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text.splitlines()[0][:400] if text else type(exc).__name__


def worker(spec_text: str) -> int:
    """One runner on one (dataset, seed) in this process; result lines go to ``spec['result_file']``."""
    spec = json.loads(spec_text)
    # A safety net should the parent die without killing this process group (SIGALRM ends the process).
    signal.alarm(int(float(spec["kill_after"])) + 60)
    out = Path(spec["result_file"])
    load_start = time.perf_counter()
    ctx = Context(spec)
    load = time.perf_counter() - load_start

    def emit(method: str, *, status: str = "ok", **fields: Any) -> None:
        line = {"method": method, "status": status, **ctx.shape, "load_seconds": round(load, 3), **fields}
        with out.open("a") as f:
            f.write(json.dumps(_plain(line)) + "\n")
            f.flush()
        print(f"{spec['dataset']} {method} seed {ctx.seed}: {status} {fields.get('scores', '')}", file=sys.stderr,
              flush=True)

    runner = spec["runner"]
    if runner == "lgbm-default":
        run_lgbm_default(ctx, emit)
    elif runner == "optuna-tpe-lgbm":
        run_optuna_tpe_lgbm(ctx, emit)
    elif runner == "flaml":
        run_flaml(ctx, emit)
    elif runner in ("autometa", "autometa-2000"):
        run_autometa(ctx, emit, max_rows=None if runner == "autometa" else PROTOCOL_ROWS, base=runner,
                     ensembles=[s for s in spec.get("ensembles", []) if runner + s in RUNNERS[runner]])
    else:
        raise SystemExit(f"unknown runner {runner}")
    return 0


def prepare_worker(spec_text: str) -> int:
    """The knowledge base without the dataset's origin group (a folder) and its meta-model (cached)."""
    spec = json.loads(spec_text)
    folder = Path(spec["kb"])
    if not (folder / "kb.json").exists():
        from autometa.kb import KnowledgeBase, shipped_kb_path

        kb = KnowledgeBase.load(spec.get("base_kb") or shipped_kb_path())
        drop = set(spec["held_out"])
        ds, ev = kb.datasets, kb.evaluations
        reduced = KnowledgeBase(ds[~ds["dataset_id"].isin(drop)], ev[~ev["dataset_id"].isin(drop)], meta=kb.meta)
        tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
        reduced.save(tmp)
        try:
            tmp.rename(folder)
        except OSError:  # another process wrote it first
            pass
    from autometa.metamodel import load_metamodel

    start = time.perf_counter()
    load_metamodel(spec["task"], None, str(folder))
    print(f"meta-model for {folder.name} ({spec['task']}): {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


# ======================================================================================= orchestration (parent)
class Runs:
    """``runs.jsonl``: one result a line, appended under a lock; the latest line of a key wins."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        rows = []
        for line in self.path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a kill of the whole benchmark
                continue
        return rows

    def append(self, rows: list[dict[str, Any]]) -> None:
        with self.lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a") as f:
                for row in rows:
                    f.write(json.dumps(row, sort_keys=True) + "\n")
                f.flush()
                os.fsync(f.fileno())


def run_key(row: dict[str, Any]) -> tuple[str, str, int, float]:
    return (row["dataset"], row["method"], int(row["seed"]), float(row["budget"]))


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "autometa", "benchmarks/automl.py"], cwd=REPO,
                               capture_output=True, text=True).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "")
    except OSError:
        return "?"


class Orchestrator:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.runs = Runs(args.out / "runs.jsonl")
        self.children: set[subprocess.Popen] = set()
        self.children_lock = threading.Lock()
        self.commit = git_commit()
        # The held-out knowledge bases are named after the one they come from: a new shipped KB, new folders.
        from autometa.kb import shipped_kb_path

        base = Path(args.kb or shipped_kb_path()) / "kb.json"
        self.base_kb_id = hashlib.sha256(base.read_bytes()).hexdigest()[:10] if base.exists() else "missing"
        self.stop = threading.Event()
        done = [r for r in self.runs.read()]
        latest = {run_key(r): r for r in done}
        self.done = set() if args.rerun else {
            k for k, r in latest.items() if r.get("status") == "ok" or not args.retry_failed}

    def _env(self) -> dict[str, str]:
        env = {**os.environ, **THREAD_ENV, "AUTOMETA_CACHE_DIR": str(self.args.work / "cache"),
               "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
        return env

    def _child(self, argv: list[str], timeout: float, log: Path) -> tuple[int | None, float]:
        """Run ``python -m benchmarks.automl <argv>`` in its own process group; kill the group at ``timeout``.
        Returns (exit code or None when killed, seconds)."""
        log.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        with log.open("a") as handle:
            handle.write(f"\n=== {_dt.datetime.now().isoformat(timespec='seconds')} {' '.join(argv)[:300]}\n")
            handle.flush()
            proc = subprocess.Popen([sys.executable, "-m", "benchmarks.automl", *argv], cwd=REPO, env=self._env(),
                                    stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
            with self.children_lock:
                self.children.add(proc)
            try:
                code = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                code = None
            finally:
                _kill_group(proc)
                with self.children_lock:
                    self.children.discard(proc)
        return code, time.perf_counter() - start

    def kill_all(self) -> None:
        with self.children_lock:
            for proc in list(self.children):
                _kill_group(proc)

    def todo(self, dataset: dict[str, Any]) -> list[tuple[int, str]]:
        out = []
        for seed in self.args.seed_list:
            for runner in self.args.methods:
                if runner == "autometa-2000" and dataset["n_rows"] * (1 - TEST_SHARE) <= PROTOCOL_ROWS:
                    continue
                methods = self._methods(runner)
                if any((dataset["name"], m, seed, float(self.args.budget)) not in self.done for m in methods):
                    out.append((seed, runner))
        return out

    def _methods(self, runner: str) -> list[str]:
        if runner.startswith("autometa"):
            return [runner + s for s in ("", *self.args.ensembles) if runner + s in RUNNERS[runner]]
        return list(RUNNERS[runner])

    def run_dataset(self, dataset: dict[str, Any]) -> None:
        args = self.args
        todo = self.todo(dataset)
        if not todo or self.stop.is_set():
            return
        name = dataset["name"]
        kb_folder = args.work / "kb" / f"{self.base_kb_id}-{_slug(dataset['origin_group'])}"
        prepared_error = None
        if any(r.startswith("autometa") for _, r in todo):
            spec = {"kb": str(kb_folder), "held_out": dataset["held_out"], "task": dataset["task"],
                    "base_kb": str(args.kb) if args.kb else None}
            code, seconds = self._child(["--prepare-worker", json.dumps(spec)], args.prepare_timeout,
                                        args.work / "logs" / f"{name}.prepare.log")
            if code != 0:
                prepared_error = (f"preparing the knowledge base without origin group {dataset['origin_group']} "
                                  f"{'timed out' if code is None else 'failed'} (see {args.work / 'logs'})")
            print(f"[{name}] knowledge base without its origin group ({len(dataset['held_out'])} datasets): "
                  f"{seconds:.0f} s", file=sys.stderr, flush=True)
        for seed, runner in todo:
            if self.stop.is_set():
                return
            self.run_one(dataset, runner, seed, kb_folder, prepared_error)

    def run_one(self, dataset: dict[str, Any], runner: str, seed: int, kb_folder: Path,
                prepared_error: str | None) -> None:
        args = self.args
        name = dataset["name"]
        stem = f"{name}.{runner}.s{seed}.b{args.budget:g}"
        result_file = args.work / "results" / f"{stem}.jsonl"
        result_file.parent.mkdir(parents=True, exist_ok=True)
        result_file.unlink(missing_ok=True)
        spec = {"dataset": name, "corpus": str(args.corpus), "runner": runner, "seed": seed, "budget": args.budget,
                "kb": str(kb_folder), "ensembles": args.ensembles, "result_file": str(result_file),
                "oof_dir": str(args.work / "oof" / stem), "kill_after": args.budget + args.slack}
        kill_after = args.budget + args.slack
        common = {"dataset": name, "task": dataset["task"], "n_rows": dataset["n_rows"],
                  "n_features": dataset["n_features"], "runner": runner, "seed": seed, "budget": args.budget,
                  "kill_after": kill_after, "commit": self.commit, "host": platform.node(),
                  "load_before": round(os.getloadavg()[0], 2),
                  "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        if runner.startswith("autometa"):
            common["kb_held_out"] = len(dataset["held_out"])
        if prepared_error and runner.startswith("autometa"):
            code, wall = 1, 0.0
            produced: list[dict[str, Any]] = []
        else:
            code, wall = self._child(["--worker", json.dumps(spec)], kill_after, args.work / "logs" / f"{stem}.log")
            shutil.rmtree(spec["oof_dir"], ignore_errors=True)
            produced = []
            if result_file.exists():
                for line in result_file.read_text().splitlines():
                    try:
                        produced.append(json.loads(line))
                    except json.JSONDecodeError:
                        continue
        if self.stop.is_set():  # killed because the benchmark itself was interrupted: not a result
            return
        rows = [{**common, **row, "runner_wall_seconds": round(wall, 2)} for row in produced]
        got = {r["method"] for r in rows}
        for method in self._methods(runner):
            if method in got:
                continue
            if prepared_error and runner.startswith("autometa"):
                status, error = "failed", prepared_error
            elif code is None:
                status, error = "timeout", f"killed after {kill_after:g} s (budget {args.budget:g} s + slack {args.slack:g} s)"
            else:
                status, error = "failed", _last_error(args.work / "logs" / f"{stem}.log", code)
            rows.append({**common, "method": method, "status": status, "error": error,
                         "runner_wall_seconds": round(wall, 2)})
        self.runs.append(rows)
        for r in rows:
            self.done.add(run_key(r))
        summary = ", ".join(f"{r['method']}={_fmt_score(r)}" for r in rows)
        print(f"[{name}] seed {seed} {runner}: {wall:.0f} s wall; {summary}", file=sys.stderr, flush=True)

    def run(self, datasets: list[dict[str, Any]]) -> None:
        """Run the datasets, ``--n-jobs`` at once. Interrupted (Ctrl-C, SIGTERM): the running children are
        killed and what they were doing is not recorded, so that the next call runs it again."""
        pool = ThreadPoolExecutor(max_workers=max(1, self.args.n_jobs))
        try:
            for future in [pool.submit(self.run_dataset, d) for d in datasets]:
                future.result()
        except BaseException:
            self.stop.set()
            self.kill_all()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _last_error(log: Path, code: int | None) -> str:
    try:
        lines = [line for line in log.read_text().splitlines() if line.strip()]
    except OSError:
        lines = []
    tail = next((line for line in reversed(lines) if re.match(r"^[A-Za-z_.]*(Error|Exception|Killed)", line)), None)
    return f"exit {code}: {tail or (lines[-1] if lines else 'no output')}"[:400]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def _fmt_score(row: dict[str, Any]) -> str:
    if row.get("status") != "ok":
        return row.get("status", "?")
    scores = row.get("scores") or {}
    metric = PRIMARY.get(row.get("task", ""), "")
    value = scores.get(metric)
    return f"{value:.4f}" if isinstance(value, (int, float)) else "?"


# ======================================================================================= report
def results_frame(rows: list[dict[str, Any]], budget: float | None = None) -> pd.DataFrame:
    """The latest line of each (dataset, method, seed, budget), flattened: one row a run."""
    latest = {run_key(r): r for r in rows}
    flat = []
    for r in latest.values():
        if budget is not None and float(r["budget"]) != float(budget):
            continue
        scores = r.get("scores") or {}
        flat.append({"dataset": r["dataset"], "task": r.get("task"), "method": r["method"], "seed": int(r["seed"]),
                     "budget": float(r["budget"]), "status": r.get("status"), "n_rows": r.get("n_rows"),
                     "n_features": r.get("n_features"),
                     "score": scores.get(PRIMARY.get(r.get("task"), ""), np.nan) if r.get("status") == "ok" else np.nan,
                     "log_loss": scores.get("log_loss", np.nan) if r.get("status") == "ok" else np.nan,
                     "search_seconds": r.get("search_seconds"), "refit_seconds": r.get("refit_seconds"),
                     "n_trials": r.get("n_trials"), "best_rows": r.get("best_rows"),
                     "runner_wall_seconds": r.get("runner_wall_seconds"), "error": r.get("error")})
    return pd.DataFrame(flat)


def score_table(frame: pd.DataFrame, column: str = "score") -> pd.DataFrame:
    """Dataset x method: the mean over seeds of the ok runs (NaN: no ok run)."""
    if frame.empty:
        return pd.DataFrame()
    table = frame.groupby(["dataset", "method"])[column].mean().unstack("method")
    return table.reindex(columns=[m for m in METHOD_ORDER if m in table.columns])


def compare(table: pd.DataFrame, a: str, b: str, tie: float = TIE) -> dict[str, Any]:
    """Per dataset, ``a`` against ``b`` (higher is better). A method with no ok run on a dataset where
    the other has one loses there; datasets where neither has one are left out."""
    if a not in table.columns or b not in table.columns:
        return {"n": 0, "wins": 0, "ties": 0, "losses": 0, "at_least": math.nan, "beats": math.nan, "diff": pd.Series(dtype=float)}
    pair = table[[a, b]].dropna(how="all")
    x, y = pair[a].fillna(-np.inf), pair[b].fillna(-np.inf)
    both = np.isfinite(x) & np.isfinite(y)
    diff = pd.Series(np.where(both, x - y, np.where(np.isfinite(x), np.inf, -np.inf)), index=pair.index)
    wins, losses = int((diff > tie).sum()), int((diff < -tie).sum())
    ties = int(len(diff) - wins - losses)
    n = len(diff)
    return {"n": n, "wins": wins, "ties": ties, "losses": losses,
            "at_least": (wins + ties) / n if n else math.nan, "beats": wins / n if n else math.nan, "diff": diff}


def mean_ranks(table: pd.DataFrame, methods: Iterable[str]) -> pd.Series:
    """Mean rank (1 = best) per method over the datasets where at least one of them has a score; a method
    without an ok run on a dataset ranks last there (ties share the average rank)."""
    methods = [m for m in methods if m in table.columns]
    if not methods:
        return pd.Series(dtype=float)
    sub = table[methods].dropna(how="all")
    ranks = sub.fillna(-np.inf).rank(axis=1, ascending=False, method="average")
    return ranks.mean().reindex(methods)


def normalized_scores(table: pd.DataFrame, methods: Iterable[str]) -> pd.Series:
    """Mean per-dataset normalized score (0 = the worst of ``methods`` there, 1 = the best)."""
    methods = [m for m in methods if m in table.columns]
    sub = table[methods].dropna(how="all")
    low, high = sub.min(axis=1), sub.max(axis=1)
    span = (high - low).replace(0, np.nan)
    norm = sub.sub(low, axis=0).div(span, axis=0)
    # every method equal on a dataset: all 1; a method without an ok run: 0
    flat = pd.DataFrame(np.repeat(span.isna().to_numpy()[:, None], len(methods), axis=1), index=sub.index,
                        columns=methods)
    norm = norm.mask(flat & sub.notna(), 1.0).fillna(0.0)
    return norm.mean().reindex(methods)


def headline(table: pd.DataFrame, large: set[str]) -> list[str]:
    """The issue's targets, met or missed, from the dataset x method table of primary scores."""
    lines = []
    c = compare(table, "autometa", "flaml")
    if c["n"]:
        lines.append(f"- autometa >= FLAML on {c['wins'] + c['ties']} of {c['n']} datasets "
                     f"({100 * c['at_least']:.0f}%; {c['wins']} wins, {c['ties']} ties, {c['losses']} losses; "
                     f"target 60%): **{'met' if c['at_least'] >= 0.6 else 'missed'}**")
    ce = compare(table, "autometa+ens", "flaml")
    if ce["n"]:
        lines.append(f"- autometa+ens >= FLAML on {ce['wins'] + ce['ties']} of {ce['n']} datasets "
                     f"({100 * ce['at_least']:.0f}%; target 60%): **{'met' if ce['at_least'] >= 0.6 else 'missed'}**")
    for variant in ("autometa", "autometa+ens"):
        ranks = mean_ranks(table, (variant, *RIVALS))
        if variant in ranks.index and ranks.notna().sum() > 1:
            best = ranks.idxmin()
            text = ", ".join(f"{m} {v:.2f}" for m, v in ranks.items())
            lines.append(f"- mean rank, {variant} against the other tools ({text}): "
                         f"**{'met' if best == variant and (ranks.drop(variant) > ranks[variant]).all() else 'missed'}**")
    ens = compare(table, "autometa+ens", "autometa")
    if ens["n"]:
        lines.append(f"- ensemble (selection) >= the best single model on {ens['wins'] + ens['ties']} of {ens['n']} "
                     f"datasets ({100 * ens['at_least']:.0f}%; {ens['wins']} better, {ens['ties']} equal; target 70%): "
                     f"**{'met' if ens['at_least'] >= 0.7 else 'missed'}**")
    for other in ("autometa+mdt", "autometa+stack"):
        o = compare(table, other, "autometa")
        if o["n"]:
            lines.append(f"  - {other} >= single on {o['wins'] + o['ties']} of {o['n']} ({100 * o['at_least']:.0f}%)")
    big = table[table.index.isin(large)]
    full = compare(big, "autometa", "autometa-2000")
    if full["n"]:
        lines.append(f"- on datasets over 10,000 rows the full-data search beats the 2,000-row-only search on "
                     f"{full['wins']} of {full['n']} ({100 * full['beats']:.0f}%; {full['ties']} ties, "
                     f"{full['losses']} losses; target 70%): **{'met' if full['beats'] >= 0.7 else 'missed'}**")
    return lines or ["- no comparable results yet"]


def report(rows: list[dict[str, Any]], selection: dict[str, Any] | None, out: Path, argv: list[str]) -> str:
    """Write ``README.md`` (and a PNG per budget) under ``out`` from the result lines; return the text."""
    import warnings

    with warnings.catch_warnings():  # means over methods or datasets without an ok run are NaN, as meant
        warnings.simplefilter("ignore", RuntimeWarning)
        return _report(rows, selection, out, argv)


def _report(rows: list[dict[str, Any]], selection: dict[str, Any] | None, out: Path, argv: list[str]) -> str:
    frame_all = results_frame(rows)
    if frame_all.empty:
        text = "# AutoML head-to-head\n\nNo results yet.\n"
        (out / "README.md").write_text(text)
        return text
    info = {d["name"]: d for d in (selection or {}).get("datasets", [])}
    large = {n for n, d in info.items() if d.get("large")} | set(
        frame_all.loc[frame_all["n_rows"].fillna(0) > LARGE_ROWS, "dataset"])
    lines = ["# AutoML head-to-head: autometa vs FLAML vs Optuna TPE (LightGBM) vs LightGBM defaults", "",
             f"- written: {_dt.datetime.now(_dt.timezone.utc).isoformat(timespec='minutes')} by "
             f"`python benchmarks/automl.py {' '.join(argv)}`".rstrip(),
             "- protocol: per dataset and seed an outer 80/20 split (seeded, stratified for classification) that no "
             "method sees; every method single-threaded with the same wall-clock budget on the training rows; "
             "test scores: balanced accuracy (classification, primary) and log loss, R2 (regression). autometa's "
             "meta-model is fitted without the dataset's whole origin group (selection.json lists it).",
             "- scores below are means over seeds; a method with no successful run on a dataset counts as the "
             "worst there (wins and ranks); commits: "
             + ", ".join(sorted({str(r.get('commit')) for r in rows})), ""]
    for budget, frame in frame_all.groupby("budget"):
        table = score_table(frame)
        seeds = sorted(frame["seed"].unique().tolist())
        by_task = frame.drop_duplicates("dataset")["task"].value_counts().to_dict()
        lines += [f"## Budget {budget:g} s", "",
                  f"{frame['dataset'].nunique()} datasets ({', '.join(f'{v} {k}' for k, v in by_task.items())}; "
                  f"{len(large & set(frame['dataset']))} with more than 10,000 rows), seeds {seeds}.", "",
                  "### Targets", "", *headline(table, large), ""]
        ranked = [m for m in RANKED if m in table.columns]
        if ranked:
            summary = pd.DataFrame({"mean rank": mean_ranks(table, ranked),
                                    "mean normalized score": normalized_scores(table, ranked),
                                    "ok runs": frame[frame["status"] == "ok"].groupby("method").size().reindex(ranked)
                                    .fillna(0).astype(int),
                                    "failed runs": frame[frame["status"] != "ok"].groupby("method").size()
                                    .reindex(ranked).fillna(0).astype(int)})
            lines += ["### Mean rank among " + ", ".join(ranked) + " (1 = best)", "",
                      _plain_table(summary.reset_index(names="method")), ""]
        lines += ["### Test score per dataset (balanced accuracy or R2; higher is better)", "",
                  _dataset_table(table, frame, info), ""]
        ll = score_table(frame[frame["task"] == "classification"], "log_loss")
        if not ll.empty:
            lines += ["### Test log loss (classification; lower is better)", "",
                      _plain_table(ll.reset_index()), ""]
        timing = frame.groupby("method").agg(search_s=("search_seconds", "mean"), search_s_max=("search_seconds", "max"),
                                             refit_s=("refit_seconds", "mean"), refit_s_max=("refit_seconds", "max"),
                                             trials=("n_trials", "median"), runner_wall_s_max=("runner_wall_seconds", "max"))
        timing = timing.reindex([m for m in METHOD_ORDER if m in timing.index])
        timing = timing.apply(lambda col: col.map(_count if col.name == "trials" else _seconds))
        lines += ["### Time (seconds) and trials per method (mean / max over runs; trials: median)", "",
                  _plain_table(timing.reset_index()), ""]
        auto = frame[frame["method"].isin(["autometa", "autometa-2000"])]
        if not auto.empty:
            rows_of = auto.pivot_table(index="dataset", columns="method", values="best_rows", aggfunc="median")
            lines += ["### Rows autometa's best CV score was measured on (median over seeds)", "",
                      _plain_table(rows_of.reset_index()), ""]
        failed = frame[frame["status"] != "ok"]
        if not failed.empty:
            lines += ["### Failed runs", "", _plain_table(failed[["dataset", "method", "seed", "status", "error"]]), ""]
        png = out / f"automl_b{budget:g}.png"
        try:
            if plot(table, large, png, f"budget {budget:g} s"):
                lines += [f"![per-dataset differences]({png.name})", ""]
        except Exception as exc:  # the plot is an extra
            lines += [f"(plot failed: {_error(exc)})", ""]
    if selection:
        lines += ["## Datasets and how they were chosen", "", *[f"- {r}" for r in selection["rule"]], "",
                  "Left out for size: " + (", ".join(f"{e['name']} ({e['rows']:,} rows x {e['features']} features)"
                                                     for e in selection.get("excluded_too_large", [])) or "none"), ""]
    text = "\n".join(lines)
    (out / "README.md").write_text(text)
    return text


def _count(value: Any) -> str:
    return "" if pd.isna(value) else f"{value:.0f}"


def _seconds(value: Any) -> str:
    return "" if pd.isna(value) else f"{value:.2f}" if value < 10 else f"{value:.1f}"


def _dataset_table(table: pd.DataFrame, frame: pd.DataFrame, info: dict[str, Any]) -> str:
    meta = frame.groupby("dataset")[["task", "n_rows", "n_features"]].first()
    out = meta.join(table).reset_index()
    out["n_rows"] = out["n_rows"].map(lambda v: f"{int(v):,}" if pd.notna(v) else "")
    out = out.sort_values(["task", "dataset"])
    return _plain_table(out)


def plot(table: pd.DataFrame, large: set[str], path: Path, title: str) -> bool:
    """Per-dataset differences of the primary test score: autometa minus each rival, the ensemble minus
    the single model, the full-data search minus the 2,000-row one (large datasets)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(f"autometa - {r}", "autometa", r, None) for r in RIVALS if r in table.columns]
    if "autometa+ens" in table.columns:
        panels.append(("autometa+ens - autometa", "autometa+ens", "autometa", None))
    if "autometa-2000" in table.columns:
        panels.append(("full rows - 2,000 rows (>10k rows)", "autometa", "autometa-2000", large))
    panels = [p for p in panels if p[1] in table.columns]
    if not panels:
        return False
    n = len(table)
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels) + 1.5, 0.22 * n + 1.8), sharey=True,
                             squeeze=False)
    order = table.index.tolist()
    for ax, (label, a, b, only) in zip(axes[0], panels, strict=True):
        diff = (table[a] - table[b]).reindex(order)
        if only is not None:
            diff = diff.where(diff.index.isin(only))
        clipped = diff.clip(-0.1, 0.1)
        colors = ["tab:green" if v > TIE else "tab:red" if v < -TIE else "tab:gray" for v in diff.fillna(0)]
        ax.barh(range(n), clipped.fillna(0).to_numpy(), color=colors)
        ax.axvline(0, color="black", lw=0.8)
        valid = diff.dropna()
        share = (valid >= -TIE).mean() if len(valid) else math.nan
        ax.set_title(f"{label}\n>= 0 on {100 * share:.0f}% of {len(valid)}", fontsize=8)
        ax.set_xlim(-0.105, 0.105)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(range(n))
    axes[0][0].set_yticklabels(order, fontsize=7)
    axes[0][0].invert_yaxis()
    fig.suptitle(f"Test-score differences per dataset (balanced accuracy / R2, clipped to +-0.1), {title}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# ======================================================================================= main
def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="automl", description=__doc__.split("\n\n")[0])
    p.add_argument("--budget", type=float, default=60.0, help="seconds of search per method (default 60)")
    p.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1: outer split and method seed (default 1)")
    p.add_argument("--seed-list", type=lambda s: [int(x) for x in s.split(",") if x], default=None,
                   help="explicit seeds instead of --seeds, e.g. 3,4")
    p.add_argument("--methods", type=lambda s: [x for x in s.split(",") if x], default=list(RUNNERS),
                   help=f"runners (default all): {', '.join(RUNNERS)}")
    p.add_argument("--ensembles", type=lambda s: [("+" + x.lstrip("+")) if x else x for x in s.split(",") if x],
                   default=["+ens", "+mdt", "+stack"],
                   help="autometa fusions refitted from its study: ens (selection), mdt, stack (default all three)")
    p.add_argument("--datasets", type=lambda s: [x for x in s.split(",") if x], default=None)
    p.add_argument("--subset", default=None, help="a subset named in selection.json (all, large, small, "
                   "classification, regression, budget300, smoke)")
    p.add_argument("--n-jobs", type=int, default=1, help="datasets run at once, each in its own processes")
    p.add_argument("--slack", type=float, default=600.0,
                   help="a run is killed (and recorded as a timeout) at budget + slack seconds (default 600: loading, "
                        "refits and the fusions on 100,000+ rows)")
    p.add_argument("--prepare-timeout", type=float, default=1800.0,
                   help="seconds to build one held-out knowledge base and fit its meta-model")
    p.add_argument("--retry-failed", action="store_true", help="run again what failed or timed out before")
    p.add_argument("--rerun", action="store_true",
                   help="run the chosen methods and datasets again even where done (after a change to a method; "
                        "the new lines win, the old ones stay in runs.jsonl)")
    p.add_argument("--report", action="store_true", help="only write README.md and the PNG from runs.jsonl")
    p.add_argument("--select", action="store_true", help="write selection.json from the rule and stop")
    p.add_argument("--list", action="store_true", help="print the datasets and what is left to run, and stop")
    p.add_argument("--corpus", type=Path, default=PMLB_DIR, help="the PMLB folder (default shared/datasets/pmlb)")
    p.add_argument("--kb", type=Path, default=None, help="knowledge base the groups are held out of (default: shipped)")
    p.add_argument("--out", type=Path, default=RESULTS, help="runs.jsonl, README.md, PNG (default benchmarks/results/automl)")
    p.add_argument("--selection", type=Path, default=RESULTS / "selection.json")
    p.add_argument("--work", type=Path, default=WORK, help="held-out knowledge bases, meta-model cache, logs (not committed)")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--prepare-worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.argv = argv
    args.seed_list = args.seed_list if args.seed_list is not None else list(range(args.seeds))
    unknown = [m for m in args.methods if m not in RUNNERS]
    if unknown:
        p.error(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(RUNNERS)}")
    bad = [e for e in args.ensembles if e not in ENSEMBLE_OF or not e]
    if bad:
        p.error(f"unknown ensemble(s) {', '.join(bad)}; choose from ens, mdt, stack")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse(argv)
    if args.worker:
        return worker(args.worker)
    if args.prepare_worker:
        return prepare_worker(args.prepare_worker)
    if args.select:
        from autometa.kb import KnowledgeBase, shipped_kb_path

        selection = select_datasets(KnowledgeBase.load(args.kb or shipped_kb_path()), args.corpus)
        args.selection.parent.mkdir(parents=True, exist_ok=True)
        args.selection.write_text(json.dumps(selection, indent=1) + "\n")
        print(f"wrote {args.selection}: {selection['counts']}")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    selection = read_selection(args.selection)
    if args.report:
        print(report(Runs(args.out / "runs.jsonl").read(), selection, args.out, argv))
        return 0
    datasets = chosen_datasets(selection, args.datasets, args.subset)
    orchestrator = Orchestrator(args)

    def terminate(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    if args.list:
        for d in datasets:
            todo = orchestrator.todo(d)
            print(f"{d['name']:28s} {d['task']:14s} {d['n_rows']:>8,} x {d['n_features']:<4d} group "
                  f"{d['origin_group']} ({len(d['held_out'])} held out); to run: {len(todo)}")
        return 0
    if not args.corpus.exists():
        raise SystemExit(f"the corpus folder {args.corpus} is missing (set AUTOMETA_SHARED_DIR or --corpus)")
    start = time.perf_counter()
    print(f"{len(datasets)} datasets, runners {', '.join(args.methods)}, seeds {args.seed_list}, budget "
          f"{args.budget:g} s, {args.n_jobs} at once; results in {args.out / 'runs.jsonl'}", file=sys.stderr, flush=True)
    orchestrator.run(datasets)
    print(f"done in {(time.perf_counter() - start) / 60:.1f} min", file=sys.stderr)
    report(orchestrator.runs.read(), selection, args.out, argv)
    print(f"wrote {args.out / 'README.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
