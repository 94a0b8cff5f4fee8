"""Group "landmarking": how well very simple learners do, by 2-fold cross-validation.

Every landmarker uses Weka's fold assignment (2 folds, ``java.util.Random(1)``, stratified for
classes; :mod:`metafeatures._weka`) and reports, on the predictions pooled over both folds, Weka's
class-weighted one-vs-rest ``AUC``, the error rate ``ErrRate`` and Cohen's ``Kappa`` for
classification, or ``R2`` for regression (NaN where a learner or metric does not apply).

* ``NaiveBayes``: OpenML's landmarker, a re-implementation of Weka's NaiveBayes, run on up to
  :data:`NAIVE_BAYES_MAX_ROWS` rows (it is vectorized and cheap); on the same rows in the same
  order it reproduces OpenML's values.
* ``DecisionStump``, ``kNN1N``, ``RandomTreeDepth1..3`` (OpenML's names) and
  ``LinearDiscriminant``, ``LinearRegression`` (ours) are scikit-learn stand-ins fitted on a
  stratified subsample of at most :data:`MAX_ROWS` rows. They approximate, not reproduce, Weka's:
  a CART stump instead of Weka's DecisionStump (which gives missing values their own branch),
  1-NN on min-max scaled attributes with one-hot nominals weighted so that a mismatch costs 1
  (like Weka's IBk) but missing values imputed, and a CART tree of depth d choosing among
  int(log2(m)) + 1 random attributes per node for Weka's RandomTree.

A learner that cannot be fitted on a fold (LDA with a single class in the training fold, say)
falls back to predicting that fold's class proportions (the mean for regression), so rare classes
and one-row classes never make extraction fail.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LinearRegression
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from . import _weka
from ._context import Context
from ._registry import outputs
from ._sampling import model_matrix, subsample

MAX_ROWS = 5_000
NAIVE_BAYES_MAX_ROWS = 25_000
NAN = float("nan")
_CLASSIFICATION = ("AUC", "ErrRate", "Kappa")
_BOTH = ("AUC", "ErrRate", "Kappa", "R2")


def _subsample_and_folds(ctx: Context, max_rows: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """The subsample of at most ``max_rows`` rows and Weka's 2 folds over its positions (memoized)."""

    def compute() -> tuple[np.ndarray, list[np.ndarray]]:
        rows = subsample(ctx, max_rows)
        y = ctx.y_codes[rows] if ctx.is_classification else None
        return rows, _weka.cv_folds(rows.size, y, n_folds=2, seed=1)

    return ctx.memo(f"folds:{max_rows}", compute)


def _train_test(folds: list[np.ndarray]):
    """(train, test) position arrays of each fold, training rows in their original order."""
    for i, test in enumerate(folds):
        train = np.concatenate([f for j, f in enumerate(folds) if j != i])
        yield np.sort(train), test


def _nan_result(classification: bool) -> dict[str, float]:
    return dict.fromkeys(_CLASSIFICATION if classification else ("R2",), NAN)


# ----------------------------------------------------------------------------------------------
# Generic cross-validation of a scikit-learn learner
# ----------------------------------------------------------------------------------------------
def _cross_validate(ctx: Context, make: Callable[[int], object], scale_for_knn: bool = False) -> dict:
    rows, folds = _subsample_and_folds(ctx, MAX_ROWS)
    if rows.size < 2:
        return _nan_result(ctx.is_classification)
    matrix = model_matrix(ctx, rows)
    X = matrix["X"]

    def split(train: np.ndarray, test: np.ndarray):
        if scale_for_knn:
            return _knn_scale(X, train, test, matrix["is_onehot"])
        return X[train], X[test]

    if ctx.is_classification:
        y = ctx.y_codes[rows]
        k = ctx.y_levels
        proba = np.zeros((rows.size, k))
        for train, test in _train_test(folds):
            Xtr, Xte = split(train, test)
            proba[test] = _fit_predict_proba(make(X.shape[1]), Xtr, y[train], Xte, k)
        return _weka.scores(y, proba)
    y = ctx.y_float[rows]
    pred = np.zeros(rows.size)
    for train, test in _train_test(folds):
        Xtr, Xte = split(train, test)
        pred[test] = _fit_predict(make(X.shape[1]), Xtr, y[train], Xte)
    sse = float(np.sum((y - pred) ** 2))
    sst = float(np.sum((y - y.mean()) ** 2))
    return {"R2": 1.0 - sse / sst if sst > 0 else NAN}


def _fit_predict_proba(model, X_train, y_train, X_test, n_classes: int) -> np.ndarray:
    out = np.zeros((X_test.shape[0], n_classes))
    try:
        if y_train.size == 0:
            raise ValueError("empty training fold")
        model.fit(X_train, y_train)
        out[:, model.classes_.astype(int)] = model.predict_proba(X_test)
    except (ValueError, np.linalg.LinAlgError):
        counts = np.bincount(y_train, minlength=n_classes).astype(float)
        out[:] = counts / counts.sum() if counts.sum() else 1.0 / n_classes
    return out


def _fit_predict(model, X_train, y_train, X_test) -> np.ndarray:
    try:
        if y_train.size == 0:
            raise ValueError("empty training fold")
        model.fit(X_train, y_train)
        return model.predict(X_test)
    except (ValueError, np.linalg.LinAlgError):
        return np.full(X_test.shape[0], y_train.mean() if y_train.size else np.nan)


def _knn_scale(X, train, test, is_onehot):
    """Min-max scale numeric columns on the training fold; one-hot columns x 1/sqrt(2).

    With that weight a nominal mismatch adds 1 to the squared distance, as in Weka's IBk.
    """
    Xtr, Xte = X[train].copy(), X[test].copy()
    num = ~is_onehot
    if num.any() and Xtr.shape[0]:
        lo = Xtr[:, num].min(axis=0)
        span = Xtr[:, num].max(axis=0) - lo
        span[span == 0] = 1.0
        Xtr[:, num] = (Xtr[:, num] - lo) / span
        Xte[:, num] = (Xte[:, num] - lo) / span
    Xtr[:, is_onehot] *= np.sqrt(0.5)
    Xte[:, is_onehot] *= np.sqrt(0.5)
    return Xtr, Xte


def _random_tree_features(n_columns: int) -> int:
    return min(n_columns, int(np.log2(max(n_columns, 1))) + 1)


# ----------------------------------------------------------------------------------------------
# Landmarkers
# ----------------------------------------------------------------------------------------------
@outputs(*_CLASSIFICATION)
def ft_NaiveBayes(ctx: Context) -> dict[str, float]:
    """OpenML's Weka NaiveBayes landmarker (classification only)."""
    if not ctx.is_classification:
        return _nan_result(True)
    rows, folds = _subsample_and_folds(ctx, NAIVE_BAYES_MAX_ROWS)
    if rows.size < 2:
        return _nan_result(True)
    y = ctx.y_codes[rows]
    numeric, codes = ctx.numeric[rows], ctx.codes[rows]
    proba = np.zeros((rows.size, ctx.y_levels))
    for train, test in _train_test(folds):
        proba[test] = _weka.naive_bayes_proba(
            numeric, codes, ctx.levels, ctx.order, y, ctx.y_levels, train, test
        )
    return _weka.scores(y, proba)


@outputs(*_BOTH)
def ft_DecisionStump(ctx: Context) -> dict[str, float]:
    rs = ctx.random_state
    if ctx.is_classification:
        return _cross_validate(ctx, lambda m: DecisionTreeClassifier(max_depth=1, random_state=rs))
    return _cross_validate(ctx, lambda m: DecisionTreeRegressor(max_depth=1, random_state=rs))


@outputs(*_BOTH)
def ft_kNN1N(ctx: Context) -> dict[str, float]:
    if ctx.is_classification:
        return _cross_validate(ctx, lambda m: KNeighborsClassifier(n_neighbors=1), scale_for_knn=True)
    return _cross_validate(ctx, lambda m: KNeighborsRegressor(n_neighbors=1), scale_for_knn=True)


def _random_tree(ctx: Context, depth: int) -> dict[str, float]:
    rs = ctx.random_state
    cls = DecisionTreeClassifier if ctx.is_classification else DecisionTreeRegressor
    return _cross_validate(
        ctx, lambda m: cls(max_depth=depth, max_features=_random_tree_features(m), random_state=rs)
    )


@outputs(*_BOTH)
def ft_RandomTreeDepth1(ctx: Context) -> dict[str, float]:
    return _random_tree(ctx, 1)


@outputs(*_BOTH)
def ft_RandomTreeDepth2(ctx: Context) -> dict[str, float]:
    return _random_tree(ctx, 2)


@outputs(*_BOTH)
def ft_RandomTreeDepth3(ctx: Context) -> dict[str, float]:
    return _random_tree(ctx, 3)


@outputs(*_CLASSIFICATION)
def ft_LinearDiscriminant(ctx: Context) -> dict[str, float]:
    """Linear discriminant analysis (pymfe's ``linear_discr`` learner); classification only."""
    if not ctx.is_classification:
        return _nan_result(True)
    return _cross_validate(ctx, lambda m: LinearDiscriminantAnalysis())


@outputs("R2")
def ft_LinearRegression(ctx: Context) -> dict[str, float]:
    """Ordinary least squares; regression only."""
    if ctx.is_classification:
        return _nan_result(False)
    return _cross_validate(ctx, lambda m: LinearRegression())
