"""The metrics of the protocol: names, directions, and how one fold is scored.

One definition used everywhere (knowledge base, meta-model targets, benchmarks). Classification:
balanced accuracy, ROC AUC (macro one-vs-rest for multiclass), log loss. Regression: R2 and RMSE.

Plain ``accuracy`` (share of correct labels, higher is better) is defined too, for histories imported
from elsewhere: LCDB (and OpenML) report accuracy, not balanced accuracy. The protocol does not compute it
(:func:`metrics_for` and :func:`score_classification` leave it out), so rows of our own builds have
NaN there; adding it changed no score the protocol computes, hence no protocol version bump.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

CLASSIFICATION_METRICS: tuple[str, ...] = ("balanced_accuracy", "roc_auc", "log_loss")
REGRESSION_METRICS: tuple[str, ...] = ("r2", "rmse")
#: Metrics only imported histories carry (LCDB's accuracy); the protocol does not compute them.
IMPORTED_METRICS: tuple[str, ...] = ("accuracy",)
METRICS: tuple[str, ...] = CLASSIFICATION_METRICS + REGRESSION_METRICS + IMPORTED_METRICS
#: The task each metric belongs to.
METRIC_TASK: dict[str, str] = {
    **{m: "classification" for m in CLASSIFICATION_METRICS},
    **{m: "regression" for m in REGRESSION_METRICS},
    "accuracy": "classification",
}
#: Whether a larger value of the metric is better.
HIGHER_IS_BETTER: dict[str, bool] = {
    "accuracy": True,
    "balanced_accuracy": True,
    "roc_auc": True,
    "log_loss": False,
    "r2": True,
    "rmse": False,
}
#: The metric a task is judged by when none is named.
PRIMARY_METRIC: dict[str, str] = {"classification": "balanced_accuracy", "regression": "r2"}
# Probabilities are clipped before the log loss so that one confident mistake costs a finite amount.
_EPS = 1e-15


def metrics_for(task: str) -> tuple[str, ...]:
    """The metric names the protocol computes for ``task`` (imported-only metrics left out)."""
    return CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS


def score_classification(y_true: np.ndarray, proba: np.ndarray, n_classes: int) -> dict[str, float]:
    """Score one fold from class probabilities.

    Args:
        y_true: integer class codes ``0..n_classes-1`` of the test rows.
        proba: ``(n_test, n_classes)`` probabilities, columns in code order (a class absent from the
            training fold has a column of zeros).
        n_classes: the number of classes of the whole dataset.

    Balanced accuracy is the mean recall over the classes present in ``y_true`` (scikit-learn's
    definition). ROC AUC is the macro average of one-vs-rest AUCs over the classes present in the test
    fold (a class without test rows has no AUC); it is NaN when the fold holds a single class.
    """
    y_true = np.asarray(y_true, dtype=int)
    proba = np.asarray(proba, dtype=float)
    return {name: metric_score(name, y_true, proba, n_classes) for name in CLASSIFICATION_METRICS}


def metric_score(metric: str, y_true: np.ndarray, prediction: np.ndarray, n_classes: int = 0) -> float:
    """One metric of the protocol: ``prediction`` is ``(n, n_classes)`` probabilities for a
    classification metric, the predicted values for a regression one.

    The one definition of each metric: :func:`score_classification`, :func:`score_regression` and
    everything that scores predictions outside a fold (ensemble selection, benchmarks) call it.
    """
    if metric == "balanced_accuracy":
        y_true = np.asarray(y_true, dtype=int)
        pred = np.asarray(prediction).argmax(axis=1)
        counts = np.bincount(y_true, minlength=n_classes)
        hits = np.bincount(y_true[pred == y_true], minlength=len(counts))
        present = counts > 0
        return float(np.mean(hits[present] / counts[present]))
    if metric == "accuracy":
        return float(np.mean(np.asarray(prediction).argmax(axis=1) == np.asarray(y_true, dtype=int)))
    if metric == "roc_auc":
        from sklearn.metrics import roc_auc_score

        y_true = np.asarray(y_true, dtype=int)
        proba = np.asarray(prediction, dtype=float)
        present = np.unique(y_true)
        if len(present) < 2:
            return math.nan
        if n_classes == 2:
            return float(roc_auc_score(y_true, proba[:, 1]))
        return float(np.mean([roc_auc_score(y_true == c, proba[:, c]) for c in present]))
    if metric == "log_loss":
        y_true = np.asarray(y_true, dtype=int)
        clipped = np.clip(np.asarray(prediction, dtype=float), _EPS, 1.0)
        clipped = clipped / clipped.sum(axis=1, keepdims=True)
        return float(-np.mean(np.log(clipped[np.arange(len(y_true)), y_true])))
    if metric in REGRESSION_METRICS:
        return score_regression(y_true, prediction)[metric]
    raise ValueError(f"unknown metric {metric!r}; the protocol's metrics are {', '.join(METRICS)}")


def score_regression(y_true: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Score one fold of a regression: R2 and RMSE."""
    y_true = np.asarray(y_true, dtype=float)
    pred = np.asarray(pred, dtype=float)
    residual = float(np.sum((y_true - pred) ** 2))
    total = float(np.sum((y_true - y_true.mean()) ** 2))
    # sklearn's convention: a constant target scored perfectly is 1, otherwise 0.
    r2 = 1.0 - residual / total if total > 0 else (1.0 if residual == 0 else 0.0)
    return {"r2": float(r2), "rmse": float(math.sqrt(residual / len(y_true)))}


def mean_scores(fold_scores: dict[str, Sequence[float]]) -> dict[str, float]:
    """Mean of each metric over folds, ignoring NaN folds (NaN when every fold is NaN)."""
    out = {}
    for name, values in fold_scores.items():
        finite = [v for v in values if v is not None and not math.isnan(v)]
        out[name] = float(np.mean(finite)) if finite else math.nan
    return out
