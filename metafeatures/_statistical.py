"""Group "statistical": distributions of the numeric attributes and how they relate.

``*OfNumericAtts`` (means, standard deviations, skewness, kurtosis) are OpenML's ``Statistical``
characterizer: per numeric attribute over its non-missing values, then summarized. The rest is
ours (names in the same style): absolute pairwise correlations and covariances (pymfe's ``cor``
and ``cov``), PCA features (auto-sklearn's names) on the standardized numeric attributes, and, for
regression, the target's shape and its correlation with each attribute.

Correlations use all rows where both attributes are present (pairwise-complete), computed with a
handful of matrix products rather than a loop over pairs. PCA uses that correlation matrix; for the
projection on the first component a missing value counts as the attribute's mean. With more than
:data:`MAX_PAIRWISE_ATTRIBUTES` numeric attributes these use a seeded random subset of them.
"""

from __future__ import annotations

import numpy as np

from ._context import Context, column_moments
from ._registry import summarized

NAN = float("nan")
# Correlations, covariances and PCA use at most this many numeric attributes (a seeded random
# subset beyond it): they cost d x d memory.
MAX_PAIRWISE_ATTRIBUTES = 500
# |correlation| from which a pair of attributes counts as highly correlated (pymfe's nr_cor_attr).
HIGH_CORRELATION = 0.5


@summarized
def ft_MeansOfNumericAtts(ctx: Context) -> np.ndarray:
    return ctx.moments["mean"]


@summarized
def ft_StdDevOfNumericAtts(ctx: Context) -> np.ndarray:
    return ctx.moments["std"]


@summarized
def ft_SkewnessOfNumericAtts(ctx: Context) -> np.ndarray:
    return ctx.moments["skew"]


@summarized
def ft_KurtosisOfNumericAtts(ctx: Context) -> np.ndarray:
    return ctx.moments["kurt"]


def _pairwise(ctx: Context) -> dict[str, np.ndarray]:
    """Pairwise-complete covariance and Pearson correlation matrices of the numeric attributes."""

    def compute() -> dict[str, np.ndarray]:
        columns = np.arange(ctx.n_numeric)
        if columns.size > MAX_PAIRWISE_ATTRIBUTES:  # d x d matrices: keep memory and time bounded
            rng = np.random.default_rng(ctx.random_state)
            columns = np.sort(rng.choice(columns, MAX_PAIRWISE_ATTRIBUTES, replace=False))
        centered, count, missing = ctx.moments["centered"], ctx.moments["count"], ctx.numeric_missing
        if columns.size < ctx.n_numeric:
            centered, count, missing = centered[:, columns], count[columns], missing[:, columns]
        # centered: missing values are 0 there
        with np.errstate(all="ignore"):
            s_xy = centered.T @ centered
            # Sums over the rows where both i and j are present. For a column j without missing
            # values they are column i's own sums (its centered sum is 0); only the columns with
            # missing values need the masked products.
            n_pair = np.tile(count[:, None], (1, count.size))
            s_x = np.zeros_like(s_xy)
            s_xx = np.tile((centered * centered).sum(axis=0)[:, None], (1, count.size))
            holes = np.flatnonzero(missing.any(axis=0))
            if holes.size:
                mask = (~missing[:, holes]).astype(float)
                n_pair[:, holes] = (~missing).T.astype(float) @ mask
                s_x[:, holes] = centered.T @ mask
                s_xx[:, holes] = (centered * centered).T @ mask
            cov = (s_xy - s_x * s_x.T / n_pair) / (n_pair - 1)
            var_i = (s_xx - s_x * s_x / n_pair) / (n_pair - 1)  # variance of i on the pair's rows
            corr = cov / np.sqrt(var_i * var_i.T)
        corr = np.clip(corr, -1.0, 1.0)
        return {"cov": cov, "corr": corr, "columns": columns}

    return ctx.memo("pairwise", compute)


def _upper(matrix: np.ndarray) -> np.ndarray:
    rows, cols = np.triu_indices(matrix.shape[0], k=1)
    return matrix[rows, cols]


@summarized
def ft_CorrelationOfNumericAtts(ctx: Context) -> np.ndarray:
    """|Pearson correlation| of every pair of numeric attributes (pymfe's ``cor``)."""
    return np.abs(_upper(_pairwise(ctx)["corr"]))


@summarized
def ft_CovarianceOfNumericAtts(ctx: Context) -> np.ndarray:
    """|covariance| of every pair of numeric attributes (pymfe's ``cov``)."""
    return np.abs(_upper(_pairwise(ctx)["cov"]))


def ft_PercentageOfHighlyCorrelatedAttPairs(ctx: Context) -> float:
    """Percentage of numeric attribute pairs with |correlation| >= 0.5 (pymfe's ``nr_cor_attr`` x 100)."""
    corr = np.abs(_upper(_pairwise(ctx)["corr"]))
    corr = corr[np.isfinite(corr)]
    return 100.0 * np.mean(corr >= HIGH_CORRELATION) if corr.size else NAN


def _pca(ctx: Context) -> dict[str, object] | None:
    """Eigen-decomposition of the correlation matrix of the non-constant numeric attributes."""

    def compute() -> dict[str, object] | None:
        pairwise = _pairwise(ctx)
        std = ctx.moments["std"][pairwise["columns"]]
        usable = np.flatnonzero(np.isfinite(std) & (std > 0))
        if usable.size == 0:
            return None
        corr = pairwise["corr"][np.ix_(usable, usable)]
        corr = np.where(np.isfinite(corr), corr, 0.0)
        np.fill_diagonal(corr, 1.0)
        eigval, eigvec = np.linalg.eigh(corr)
        order = np.argsort(eigval)[::-1]
        eigval = np.clip(eigval[order], 0.0, None)  # pairwise-complete matrices may be slightly indefinite
        return {"usable": pairwise["columns"][usable], "eigval": eigval, "first": eigvec[:, order[0]]}

    return ctx.memo("pca", compute)


def ft_PCAFractionOfComponentsFor95PercentVariance(ctx: Context) -> float:
    pca = _pca(ctx)
    if pca is None:
        return NAN
    ratio = np.cumsum(pca["eigval"]) / pca["eigval"].sum()
    n_components = int(np.searchsorted(ratio, 0.95 - 1e-12) + 1)
    return n_components / pca["eigval"].size


def ft_PCAExplainedVarianceFirstPC(ctx: Context) -> float:
    pca = _pca(ctx)
    return NAN if pca is None else pca["eigval"][0] / pca["eigval"].sum()


def _first_pc_moments(ctx: Context) -> dict[str, np.ndarray] | None:
    def compute() -> dict[str, np.ndarray] | None:
        pca = _pca(ctx)
        if pca is None:
            return None
        usable = pca["usable"]
        # Standardized data times the component; a missing value counts as the mean (0).
        weights = np.zeros(ctx.n_numeric)
        weights[usable] = pca["first"] / ctx.moments["std"][usable]
        return column_moments((ctx.moments["centered"] @ weights)[:, None])

    return ctx.memo("first_pc", compute)


def ft_PCASkewnessFirstPC(ctx: Context) -> float:
    moments = _first_pc_moments(ctx)
    return NAN if moments is None else moments["skew"][0]


def ft_PCAKurtosisFirstPC(ctx: Context) -> float:
    moments = _first_pc_moments(ctx)
    return NAN if moments is None else moments["kurt"][0]


def _target_moments(ctx: Context) -> dict[str, np.ndarray] | None:
    if ctx.is_classification:
        return None
    return ctx.memo("target_moments", lambda: column_moments(ctx.y_float[:, None]))


def ft_TargetSkewness(ctx: Context) -> float:
    """Skewness of a regression target (NaN for classification)."""
    moments = _target_moments(ctx)
    return NAN if moments is None else moments["skew"][0]


def ft_TargetKurtosis(ctx: Context) -> float:
    """Excess kurtosis of a regression target (NaN for classification)."""
    moments = _target_moments(ctx)
    return NAN if moments is None else moments["kurt"][0]


@summarized
def ft_TargetCorrelationOfNumericAtts(ctx: Context) -> np.ndarray:
    """|Pearson correlation| between each numeric attribute and a regression target (empty otherwise)."""
    if ctx.is_classification or ctx.n_numeric == 0:
        return np.zeros(0)
    y = ctx.y_float
    present = ~ctx.numeric_missing & ~np.isnan(y)[:, None]
    m = present.astype(float)
    with np.errstate(all="ignore"):
        n = m.sum(axis=0)
        x = np.where(present, ctx.numeric, 0.0)
        yy = np.where(present, y[:, None], 0.0)
        mx = x.sum(axis=0) / n
        my = yy.sum(axis=0) / n
        dx = np.where(present, x - mx, 0.0)
        dy = np.where(present, yy - my, 0.0)
        corr = (dx * dy).sum(axis=0) / np.sqrt((dx * dx).sum(axis=0) * (dy * dy).sum(axis=0))
    return np.abs(corr)
