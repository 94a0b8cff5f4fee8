"""Re-implementations of the Weka pieces behind OpenML's landmarkers, so that they agree with OpenML.

OpenML computes ``NaiveBayesAUC/ErrRate/Kappa`` with Weka: ``Evaluation.crossValidateModel`` with 2
folds and ``java.util.Random(1)``, a ``weka.classifiers.bayes.NaiveBayes``, and Weka's metrics on
the predictions pooled over the folds. This module reproduces each step:

* :class:`JavaRandom` is ``java.util.Random`` (48-bit LCG, ``nextInt(bound)`` with rejection);
* :func:`cv_folds` is Weka's fold assignment: ``Instances.randomize`` (Fisher-Yates driven by
  JavaRandom), ``Instances.stratify`` for a nominal class (group by class in Weka's swap order,
  then take every k-th instance) and ``testCV``;
* :func:`naive_bayes_proba` is Weka's NaiveBayes: a Laplace-smoothed prior and nominal estimators,
  and for numeric attributes a normal density integrated over one "precision" interval, where the
  precision is the mean gap between distinct training values and values are rounded to it;
* :func:`scores` gives Weka's class-count-weighted one-vs-rest AUC, error rate and kappa.

Given the same rows in the same order the results equal OpenML's to floating-point precision
(checked against OpenML's values for letter, pendigits, spambase and mfeat-* in the tests).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr
from scipy.stats import rankdata

_MULTIPLIER = 0x5DEECE66D
_ADDEND = 0xB
_MASK = (1 << 48) - 1
# Weka's NaiveBayes: precision of a numeric attribute without two distinct training values.
_DEFAULT_NUM_PRECISION = 0.01
# Weka's floor on each attribute's likelihood, which keeps a zero density from vetoing a class.
_MIN_LIKELIHOOD = 1e-75
_BLOCK_CELLS = 2_000_000  # test rows x attributes x classes of likelihoods held at once


class JavaRandom:
    """``java.util.Random``: the same seed gives the same sequence as the JVM."""

    def __init__(self, seed: int) -> None:
        self._seed = (seed ^ _MULTIPLIER) & _MASK

    def _next(self, bits: int) -> int:
        self._seed = (self._seed * _MULTIPLIER + _ADDEND) & _MASK
        return self._seed >> (48 - bits)

    def next_int(self, bound: int) -> int:
        if bound & -bound == bound:  # a power of two
            return (bound * self._next(31)) >> 31
        while True:
            bits = self._next(31)
            value = bits % bound
            if bits - value + (bound - 1) < (1 << 31):  # Java's int overflow test
                return value


def cv_folds(n: int, y: np.ndarray | None, n_folds: int = 2, seed: int = 1) -> list[np.ndarray]:
    """Test row indices of each fold, exactly as Weka's ``crossValidateModel`` assigns them.

    ``y`` holds the class codes of a nominal class (the folds are then stratified), or is ``None``
    for a numeric target.
    """
    order = list(range(n))
    rnd = JavaRandom(seed)
    for j in range(n - 1, 0, -1):  # Instances.randomize
        k = rnd.next_int(j + 1)
        order[j], order[k] = order[k], order[j]
    if y is not None:
        order = _stratify(order, np.asarray(y), n_folds)
    perm = np.asarray(order, dtype=np.int64)
    folds = []
    for fold in range(n_folds):  # Instances.testCV
        size = n // n_folds
        if fold < n % n_folds:
            size += 1
            offset = fold
        else:
            offset = n % n_folds
        first = fold * (n // n_folds) + offset
        folds.append(perm[first : first + size])
    return folds


def _stratify(order: list[int], y: np.ndarray, n_folds: int) -> list[int]:
    """``Instances.stratify``: Weka's in-place grouping by class, then every ``n_folds``-th row."""
    labels = y[np.asarray(order, dtype=np.int64)].tolist() if order else []
    n = len(order)
    index = 1
    while index < n:
        label = labels[index - 1]
        # Every later row of this class is swapped forward, in scan order.
        matches = [j for j in range(index, n) if labels[j] == label]
        for j in matches:
            order[index], order[j] = order[j], order[index]
            labels[index], labels[j] = labels[j], labels[index]
            index += 1
        index += 1
    out: list[int] = []
    for start in range(n_folds):  # stratStep
        out.extend(order[start::n_folds])
    return out


# ----------------------------------------------------------------------------------------------
# Naive Bayes
# ----------------------------------------------------------------------------------------------
def naive_bayes_proba(
    numeric: np.ndarray,
    codes: np.ndarray,
    levels: np.ndarray,
    order: list[tuple[bool, int]],
    y: np.ndarray,
    n_classes: int,
    train: np.ndarray,
    test: np.ndarray,
) -> np.ndarray:
    """Class probabilities of Weka's NaiveBayes fitted on rows ``train``, for rows ``test``.

    ``order`` lists the attributes in the table's column order as ``(is_numeric, index)`` into
    ``numeric`` or ``codes``. Missing values (NaN, code -1) are skipped when fitting and when
    predicting, as in Weka. The posterior is accumulated as Weka does -- a running product over
    the attributes in column order, each factor floored at 1e-75, rescaled by 1e75 when the row's
    largest value drops below 1e-75 -- because near-zero probabilities decide ties, and so the AUC.
    """
    y_train = y[train]
    onehot = np.zeros((train.size, n_classes))
    onehot[np.arange(train.size), y_train] = 1.0
    prior = (onehot.sum(axis=0) + 1.0) / (train.size + n_classes)  # Laplace
    # Class-major layout (classes x rows): every operation below runs along contiguous rows.
    probs = np.repeat(prior[:, None], test.size, axis=1)
    num = _fit_numeric(numeric[train], onehot, numeric[test]) if numeric.shape[1] else None
    nom = _fit_nominal(codes[train], levels, y_train, n_classes) if codes.shape[1] else None
    codes_test = codes[test]
    block = max(1, _BLOCK_CELLS // max(test.size * n_classes, 1))
    for start in range(0, len(order), block):
        columns = order[start : start + block]
        # Likelihoods of a block of attributes at once; a missing value's factor is exactly 1.
        factors = np.empty((len(columns), n_classes, test.size))
        for pos, (is_numeric, j) in enumerate(columns):
            if is_numeric:
                x = num["test"][:, j]
                diff = x[None, :] - num["mean"][:, j, None]
                half, std = num["half"][j], num["std"][:, j, None]
                p = np.maximum(ndtr((diff + half) / std) - ndtr((diff - half) / std), _MIN_LIKELIHOOD)
                missing = np.isnan(x)
            else:
                c = codes_test[:, j]
                missing = c < 0
                if missing.all():  # also covers an attribute without any level
                    factors[pos] = 1.0
                    continue
                p = np.maximum(nom["p"][nom["offsets"][j] + np.where(missing, 0, c)].T, _MIN_LIKELIHOOD)
            if missing.any():
                p[:, missing] = 1.0
            factors[pos] = p
        for pos in range(len(columns)):  # the running product, in column order, as Weka does
            probs *= factors[pos]
            low = probs.max(axis=0) < _MIN_LIKELIHOOD
            if low.any():
                probs[:, low] *= 1e75
    total = probs.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, probs / total, 1.0 / n_classes).T


def _fit_numeric(x_train: np.ndarray, onehot: np.ndarray, x_test: np.ndarray) -> dict[str, np.ndarray]:
    """Weka's NormalEstimator per (class, numeric attribute), and the rounded test values."""
    m, d = x_train.shape
    srt = np.sort(x_train, axis=0)  # NaN sorts last
    count = (~np.isnan(srt)).sum(axis=0)
    gaps = np.diff(srt, axis=0)
    in_range = np.arange(m - 1)[:, None] < (count - 1)[None, :]
    distinct_gaps = in_range & (gaps != 0)
    # Weka adds the gaps one by one; a cumulative sum reproduces that rounding exactly.
    delta = np.cumsum(np.where(distinct_gaps, gaps, 0.0), axis=0)[-1] if m > 1 else np.zeros(d)
    n_gaps = distinct_gaps.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(n_gaps > 0, delta / np.maximum(n_gaps, 1), _DEFAULT_NUM_PRECISION)
        train_r = np.rint(x_train / precision) * precision
        test_r = np.rint(x_test / precision) * precision
    present = ~np.isnan(train_r)
    filled = np.where(present, train_r, 0.0)
    weight = onehot.T @ present.astype(float)  # (classes, d)
    total = onehot.T @ filled
    total_sq = onehot.T @ (filled * filled)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(weight > 0, total / weight, 0.0)
        std = np.sqrt(np.abs(total_sq - mean * total) / weight)
    floor = precision / 6.0  # at most 3 standard deviations within one precision interval
    std = np.where((weight > 0) & (std > 1e-10), np.maximum(floor, std), floor)
    return {"test": test_r, "mean": mean, "std": std, "half": precision / 2.0}


def _fit_nominal(c_train: np.ndarray, levels: np.ndarray, y_train: np.ndarray, n_classes: int) -> dict:
    """Weka's Laplace-corrected DiscreteEstimator per (class, nominal attribute)."""
    d = c_train.shape[1]
    levels = levels.astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(levels)[:-1]])
    total_levels = int(levels.sum())
    present = c_train >= 0
    cell = ((c_train + offsets) * n_classes + y_train[:, None])[present]
    counts = np.bincount(cell, minlength=total_levels * n_classes).reshape(total_levels, n_classes)
    column = np.repeat(np.arange(d), levels)
    per_class = np.zeros((d, n_classes))
    np.add.at(per_class, column, counts)
    # Laplace: every declared value starts with a count of one.
    p = (counts + 1.0) / (per_class[column] + levels[column][:, None])
    return {"p": p, "offsets": offsets}


# ----------------------------------------------------------------------------------------------
# Metrics
# ----------------------------------------------------------------------------------------------
def scores(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Weka's weighted AUC, error rate and kappa of pooled predictions (argmax, first on ties)."""
    n, k = proba.shape
    pred = proba.argmax(axis=1)
    err = float(np.mean(pred != y)) if n else float("nan")
    confusion = np.zeros((k, k))
    np.add.at(confusion, (y, pred), 1.0)
    total = confusion.sum()
    if total == 0:
        return {"AUC": float("nan"), "ErrRate": err, "Kappa": float("nan")}
    observed = np.trace(confusion) / total
    chance = float(confusion.sum(axis=1) @ confusion.sum(axis=0)) / total**2
    kappa = (observed - chance) / (1.0 - chance) if chance < 1 else 1.0
    return {"AUC": weighted_auc(y, proba), "ErrRate": err, "Kappa": float(kappa)}


def weighted_auc(y: np.ndarray, proba: np.ndarray) -> float:
    """One-vs-rest AUC per class (ties count half), averaged with the class counts as weights."""
    n, k = proba.shape
    counts = np.bincount(y, minlength=k).astype(float)
    present = np.flatnonzero(counts > 0)
    if present.size < 2:
        return float("nan")
    ranks = rankdata(proba[:, present], axis=0)
    pos_rank_sum = np.array([ranks[y == c, i].sum() for i, c in enumerate(present)])
    n_pos = counts[present]
    n_neg = n - n_pos
    auc = (pos_rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
    return float((auc * n_pos).sum() / n_pos.sum())
