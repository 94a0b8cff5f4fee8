"""Cross-validating one (family, config) on prepared data, in the current process.

This is what a worker process runs; :func:`autometa.evaluation.evaluate_config` wraps it with the time
and memory limits. It never raises for a failing model: the failure becomes the result's status.
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from autometa.evaluation._metrics import mean_scores, metrics_for, score_classification, score_regression
from autometa.evaluation._protocol import Protocol, fold_indices, subsample_indices
from autometa.evaluation._row import STATUS_FAILED, STATUS_MEMORY, STATUS_OK, evaluation_row

_MEMORY_MARKERS = ("bad_alloc", "cannot allocate memory", "memoryerror", "unable to allocate", "out of memory")


@dataclass(frozen=True)
class PreparedData:
    """A dataset as the protocol evaluates it: capped rows, class codes, and what it came from.

    Attributes:
        X: features of the kept rows (numeric float64 and pandas category columns).
        y: class codes ``0..n_classes-1`` (classification) or float targets (regression).
        task: ``"classification"`` or ``"regression"``.
        n_classes: number of classes in the kept rows (0 for regression).
        n_rows: rows of the dataset before the cap.
        key: an identifier of the data (worker processes cache data by it).
    """

    X: pd.DataFrame
    y: np.ndarray
    task: str
    n_classes: int
    n_rows: int
    key: str

    @property
    def n_rows_used(self) -> int:
        return int(len(self.y))


def prepare_data(dataset: Any, protocol: Protocol, key: str | None = None) -> PreparedData:
    """Apply the protocol's row cap to a :class:`~autometa.data.Dataset` and code its classes."""
    keep = subsample_indices(dataset.y, dataset.task, protocol)
    X = dataset.X.iloc[keep].reset_index(drop=True)
    y_raw = dataset.y.iloc[keep].reset_index(drop=True)
    if dataset.task == "classification":
        _, codes = np.unique(y_raw.astype(str).to_numpy(), return_inverse=True)
        y = codes.astype(np.int64)
        n_classes = int(y.max()) + 1 if len(y) else 0
    else:
        y = y_raw.to_numpy(dtype=float)
        n_classes = 0
    return PreparedData(X=X, y=y, task=dataset.task, n_classes=n_classes, n_rows=int(dataset.n_rows),
                        key=key or f"{dataset.name}:{len(y)}:{_fingerprint(X, y, dataset.task)}")


def _fingerprint(X: pd.DataFrame, y: np.ndarray, task: str) -> str:
    """A digest of the prepared data: a worker keeps the last data it was sent under its key, so two
    tables with one name and row count (every DataFrame is "dataset"; one file typed as either task)
    must not share a key. Hashing 2,000 capped rows takes milliseconds."""
    import hashlib

    digest = hashlib.blake2b(digest_size=8)
    digest.update(f"{task}|{list(map(str, X.columns))}|{list(map(str, X.dtypes))}".encode())
    digest.update(pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes())
    digest.update(np.ascontiguousarray(y).tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class EvaluationResult:
    """The outcome of one evaluation; failures are results too (status + error), never exceptions.

    Attributes:
        family, config: what was evaluated.
        status: ``"ok"``, ``"failed"``, ``"timeout"`` or ``"memory"``.
        error: the error text ("" when ok).
        scores: metric -> mean over folds (NaN for metrics of the other task or on failure).
        fold_scores: metric -> per-fold values.
        fit_seconds, predict_seconds: mean per fold.
        n_rows_used: rows after the cap; protocol_version: the protocol it was scored under.
        wall_seconds: wall time of the whole evaluation, limits included.
        predictions: out-of-fold predictions when asked for (``keep_predictions``): ``(n_rows_used,
            n_classes)`` probabilities or ``(n_rows_used,)`` regression predictions, in row order.
    """

    family: str
    config: dict[str, Any]
    status: str
    error: str = ""
    scores: dict[str, float] = field(default_factory=dict)
    fold_scores: dict[str, list[float]] = field(default_factory=dict)
    fit_seconds: float = math.nan
    predict_seconds: float = math.nan
    n_rows_used: int = 0
    protocol_version: int = 0
    wall_seconds: float = math.nan
    predictions: np.ndarray | None = None

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvaluationResult:
        return cls(**data)

    def to_row(self, dataset_id: str, config_id: str, source: str) -> dict[str, Any]:
        """This result as one row of the knowledge base's ``evaluations`` table."""
        return evaluation_row(
            dataset_id=dataset_id, family=self.family, config_id=config_id, config=self.config,
            scores=self.scores, fold_scores=self.fold_scores, fit_seconds=self.fit_seconds,
            predict_seconds=self.predict_seconds, status=self.status, error=self.error,
            n_rows_used=self.n_rows_used, source=source, protocol_version=self.protocol_version,
        )


def failed_result(family: str, config: dict[str, Any], status: str, error: str, data: PreparedData | None,
                  protocol: Protocol, wall_seconds: float = math.nan) -> EvaluationResult:
    """The result of an evaluation that ended without scores (``status`` failed, timeout or memory)."""
    return EvaluationResult(family=family, config=dict(config), status=status, error=error,
                            n_rows_used=data.n_rows_used if data is not None else 0,
                            protocol_version=protocol.version, wall_seconds=wall_seconds)


def run_cv(data: PreparedData, family: str, config: dict[str, Any], protocol: Protocol, *,
           keep_predictions: bool = False) -> EvaluationResult:
    """Cross-validate ``family`` with ``config`` on ``data`` under ``protocol`` in this process.

    With ``keep_predictions`` the result carries the out-of-fold predictions (see
    :class:`EvaluationResult`): every row is predicted once, by the model of the fold that held it out.
    """
    from autometa.spaces import get_family

    start = time.perf_counter()
    try:
        spec = get_family(family)
        config = spec.validate_config(config)
        fold_scores: dict[str, list[float]] = {m: [] for m in metrics_for(data.task)}
        fit_times, predict_times = [], []
        oof = None
        if keep_predictions:
            oof = np.zeros((data.n_rows_used, data.n_classes) if data.task == "classification" else data.n_rows_used)
        for train, test in fold_indices(data.y, data.task, protocol):
            X_train, X_test = data.X.iloc[train], data.X.iloc[test]
            y_train, y_test = data.y[train], data.y[test]
            model = spec.build_estimator(config, data.task, X_train, random_state=protocol.seed)
            t0 = time.perf_counter()
            spec.fit(model, X_train, y_train)
            t1 = time.perf_counter()
            if data.task == "classification":
                prediction = full_proba(model, X_test, data.n_classes)
                scores = score_classification(y_test, prediction, data.n_classes)
            else:
                prediction = np.asarray(model.predict(X_test), dtype=float)
                scores = score_regression(y_test, prediction)
            if oof is not None:
                oof[test] = prediction
            t2 = time.perf_counter()
            fit_times.append(t1 - t0)
            predict_times.append(t2 - t1)
            for name, value in scores.items():
                fold_scores[name].append(value)
        return EvaluationResult(
            family=family, config=config, status=STATUS_OK, scores=mean_scores(fold_scores),
            fold_scores=fold_scores, fit_seconds=float(np.mean(fit_times)), predict_seconds=float(np.mean(predict_times)),
            n_rows_used=data.n_rows_used, protocol_version=protocol.version,
            wall_seconds=time.perf_counter() - start, predictions=oof,
        )
    except MemoryError:
        return failed_result(family, config, STATUS_MEMORY, "MemoryError: out of memory under the protocol's "
                             f"limit of {protocol.memory_limit_mb} MiB", data, protocol, time.perf_counter() - start)
    except Exception as exc:  # any model failure is a result, not a crash
        text = f"{type(exc).__name__}: {exc}".strip()
        status = STATUS_MEMORY if any(m in text.lower() for m in _MEMORY_MARKERS) else STATUS_FAILED
        tail = traceback.format_exc(limit=-3)
        return failed_result(family, config, status, (text[:500] + "\n" + tail[-1500:]).strip(), data, protocol,
                             time.perf_counter() - start)


def full_proba(model: Any, X_test: Any, n_classes: int) -> np.ndarray:
    """``model``'s probabilities with one column per class code ``0..n_classes-1`` (zeros for a class it
    never saw in training): cross-validation folds, a fitted model's members and a stacker use it."""
    proba = np.asarray(model.predict_proba(X_test), dtype=float)
    classes = np.asarray(model.classes_, dtype=int)
    if proba.shape[1] == n_classes and np.array_equal(classes, np.arange(n_classes)):
        return proba
    full = np.zeros((proba.shape[0], n_classes))
    full[:, classes] = proba
    return full
