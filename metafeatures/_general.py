"""Group "general": sizes, attribute types, missing values and the class distribution.

Definitions follow OpenML's ``SimpleMetaFeatures`` and ``NominalAttDistinctValues`` characterizers:
the target is one of the features (``NumberOfFeatures`` counts it; a nominal target counts as a
symbolic feature, a numeric one as numeric), percentages are in [0, 100], and class statistics are
NaN for a regression target (``NumberOfClasses`` is 0 there, as on OpenML).
"""

from __future__ import annotations

import numpy as np

from ._context import Context
from ._registry import summarized

NAN = float("nan")


def _n_features(ctx: Context) -> int:
    return ctx.n_attributes + 1  # the target is a feature on OpenML


def ft_NumberOfInstances(ctx: Context) -> float:
    return ctx.n_rows


def ft_NumberOfFeatures(ctx: Context) -> float:
    return _n_features(ctx)


def ft_NumberOfClasses(ctx: Context) -> float:
    """Distinct classes present in y (0 for regression, as on OpenML)."""
    return ctx.observed_class_counts.size if ctx.is_classification else 0


def ft_Dimensionality(ctx: Context) -> float:
    return _n_features(ctx) / ctx.n_rows


def _row_missing(ctx: Context) -> np.ndarray:
    def compute() -> np.ndarray:
        missing = ctx.numeric_missing.any(axis=1) | ctx.y_missing
        if ctx.n_categorical:
            missing |= (ctx.codes < 0).any(axis=1)
        return missing

    return ctx.memo("row_missing", compute)


def _n_missing(ctx: Context) -> int:
    return int(ctx.numeric_missing.sum() + (ctx.codes < 0).sum() + ctx.y_missing.sum())


def ft_NumberOfInstancesWithMissingValues(ctx: Context) -> float:
    return int(_row_missing(ctx).sum())


def ft_NumberOfMissingValues(ctx: Context) -> float:
    return _n_missing(ctx)


def ft_PercentageOfInstancesWithMissingValues(ctx: Context) -> float:
    return 100.0 * _row_missing(ctx).sum() / ctx.n_rows


def ft_PercentageOfMissingValues(ctx: Context) -> float:
    return 100.0 * _n_missing(ctx) / (_n_features(ctx) * ctx.n_rows)


def _n_numeric_features(ctx: Context) -> int:
    return ctx.n_numeric + (0 if ctx.is_classification else 1)


def _n_symbolic_features(ctx: Context) -> int:
    return ctx.n_categorical + (1 if ctx.is_classification else 0)


def _n_binary_features(ctx: Context) -> int:
    """Nominal features with exactly two (declared) values, the target included."""
    target_binary = ctx.is_classification and ctx.y_levels == 2
    return int((ctx.levels == 2).sum()) + int(target_binary)


def ft_NumberOfNumericFeatures(ctx: Context) -> float:
    return _n_numeric_features(ctx)


def ft_NumberOfSymbolicFeatures(ctx: Context) -> float:
    return _n_symbolic_features(ctx)


def ft_NumberOfBinaryFeatures(ctx: Context) -> float:
    return _n_binary_features(ctx)


def ft_PercentageOfNumericFeatures(ctx: Context) -> float:
    return 100.0 * _n_numeric_features(ctx) / _n_features(ctx)


def ft_PercentageOfSymbolicFeatures(ctx: Context) -> float:
    return 100.0 * _n_symbolic_features(ctx) / _n_features(ctx)


def ft_PercentageOfBinaryFeatures(ctx: Context) -> float:
    return 100.0 * _n_binary_features(ctx) / _n_features(ctx)


def ft_MajorityClassSize(ctx: Context) -> float:
    counts = ctx.observed_class_counts
    return counts.max() if counts.size else NAN


def ft_MinorityClassSize(ctx: Context) -> float:
    counts = ctx.observed_class_counts
    return counts.min() if counts.size else NAN


def ft_MajorityClassPercentage(ctx: Context) -> float:
    return 100.0 * ft_MajorityClassSize(ctx) / ctx.n_rows


def ft_MinorityClassPercentage(ctx: Context) -> float:
    return 100.0 * ft_MinorityClassSize(ctx) / ctx.n_rows


def ft_AutoCorrelation(ctx: Context) -> float:
    """OpenML's definition, in row order: (N - 1 - changes) / (N - 1).

    For classes, ``changes`` counts consecutive rows whose labels differ. For a numeric target
    OpenML sums ``y[i-1] - y[i]`` instead, which telescopes to ``y[0] - y[-1]``; kept as defined.
    """
    n = ctx.n_rows
    if n < 2:
        return NAN
    if ctx.is_classification:
        changes = np.count_nonzero(ctx.y_codes[1:] != ctx.y_codes[:-1])
    else:
        changes = ctx.y_float[0] - ctx.y_float[-1]
    return (n - 1 - changes) / (n - 1)


@summarized
def ft_NominalAttDistinctValues(ctx: Context) -> np.ndarray:
    """Distinct non-missing values of every nominal feature, the (nominal) target included."""

    def distinct(codes: np.ndarray, levels: int) -> int:
        return int(np.count_nonzero(np.bincount(codes[codes >= 0], minlength=levels)))

    values = [distinct(ctx.codes[:, j], int(ctx.levels[j])) for j in range(ctx.n_categorical)]
    if ctx.is_classification:
        values.append(ctx.observed_class_counts.size)
    return np.asarray(values, dtype=float)


def ft_NumberOfFeaturesAfterBinarization(ctx: Context) -> float:
    """Columns after one-hot encoding the attributes (target excluded), as in lcdb's datasets.csv.

    lcdb imputes missing values with the mode, drops all-missing categorical columns and calls
    ``pandas.get_dummies``: a numeric attribute stays one column, a categorical one becomes one
    column per level (per declared category for a pandas ``category`` column).
    """
    if ctx.n_categorical == 0:
        return ctx.n_numeric
    all_missing = (ctx.codes < 0).all(axis=0)
    return ctx.n_numeric + int(ctx.levels[~all_missing].sum())


@summarized
def ft_ClassProportion(ctx: Context) -> np.ndarray:
    """Relative frequency of each class present (pymfe's ``freq_class``); NaN for regression."""
    counts = ctx.observed_class_counts
    return counts / counts.sum() if counts.size else np.zeros(0)


def ft_ImbalanceRatio(ctx: Context) -> float:
    """Minority class size / majority class size (1 = balanced)."""
    counts = ctx.observed_class_counts
    return counts.min() / counts.max() if counts.size else NAN
