"""Group "info-theory": entropies (in bits) and mutual information with the class.

Two families:

* OpenML's ``AttributeEntropy`` characterizer (``ClassEntropy``, ``*AttributeEntropy``,
  ``*MutualInformation``, ``EquivalentNumberOfAtts``, ``MeanNoiseToSignalRatio``). OpenML uses the
  **nominal attributes only** -- numeric attributes are not discretized -- so these are NaN when
  there is none, and all of them except ``ClassEntropy`` are NaN for regression, as on OpenML.
  Mutual information is rounded to 14 decimals, as OpenML does. ``EquivalentNumberOfAtts`` =
  ClassEntropy / MeanMutualInformation and ``MeanNoiseToSignalRatio`` = (MeanAttributeEntropy -
  MeanMutualInformation) / MeanMutualInformation, both NaN when the mean MI is not positive.
  Deviation: a missing value is left out of the counts; OpenML's Java code counts it as the
  attribute's first value.
* ``*Discretized`` (ours, pymfe's definitions): the same quantities over **all** attributes, with
  numeric ones discretized as pymfe does -- an equal-frequency histogram of int(n ** (1/3)) bins
  whose edges are numpy's linear quantiles, duplicate edges merged.

All counting is one ``np.bincount`` over every (attribute, value, class) cell at once.
"""

from __future__ import annotations

import numpy as np

from ._context import Context
from ._registry import summarized

NAN = float("nan")
OPENML_MI_DECIMALS = 14


# ----------------------------------------------------------------------------------------------
# Shared counting machinery
# ----------------------------------------------------------------------------------------------
def _segment_entropy(counts: np.ndarray, segment: np.ndarray, n_segments: int) -> np.ndarray:
    """Entropy in bits of each segment of a flat count vector (NaN for an empty segment)."""
    counts = counts.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        clogc = np.where(counts > 0, counts * np.log2(np.where(counts > 0, counts, 1.0)), 0.0)
        totals = np.bincount(segment, weights=counts, minlength=n_segments)
        sums = np.bincount(segment, weights=clogc, minlength=n_segments)
        return np.where(totals > 0, np.log2(totals) - sums / totals, np.nan)


def _entropies(codes: np.ndarray, levels: np.ndarray, y: np.ndarray | None, n_classes: int) -> dict:
    """Per column of ``codes`` (-1 = missing): entropy, and with a class, joint entropy and MI.

    The attribute entropy uses every row where the attribute is present; the joint entropy and the
    mutual information use the rows where attribute and class are both present.
    """
    m = codes.shape[1]
    levels = levels.astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(levels)[:-1]]) if m else np.zeros(0, dtype=np.int64)
    total_levels = int(levels.sum())
    value_segment = np.repeat(np.arange(m), levels)  # global value index -> its column
    present = codes >= 0
    flat = (codes + offsets)[present]
    attr_counts = np.bincount(flat, minlength=total_levels)
    result = {"attr": _segment_entropy(attr_counts, value_segment, m)}
    if y is None:
        return result
    both = present & (y >= 0)[:, None]
    cell = ((codes + offsets) * n_classes + y[:, None])[both]
    joint = np.bincount(cell, minlength=total_levels * n_classes)
    joint_segment = np.repeat(value_segment, n_classes)
    h_joint = _segment_entropy(joint, joint_segment, m)
    h_attr = _segment_entropy(joint.reshape(total_levels, n_classes).sum(axis=1), value_segment, m)
    class_per_column = np.zeros((m, n_classes))
    np.add.at(class_per_column, value_segment, joint.reshape(total_levels, n_classes))
    class_segment = np.repeat(np.arange(m), n_classes)
    h_class = _segment_entropy(class_per_column.ravel(), class_segment, m)
    result.update(joint=h_joint, mi=np.maximum(h_attr + h_class - h_joint, 0.0))
    return result


def _class_codes(ctx: Context) -> np.ndarray | None:
    return ctx.y_codes if ctx.is_classification else None


def _nominal(ctx: Context) -> dict:
    def compute() -> dict:
        stats = _entropies(ctx.codes, ctx.levels, _class_codes(ctx), max(ctx.y_levels, 1))
        if "mi" in stats:
            scale = 10.0**OPENML_MI_DECIMALS
            stats["mi"] = np.floor(stats["mi"] * scale + 0.5) / scale  # Java's Math.round
        return stats

    return ctx.memo("nominal_entropies", compute)


def linear_quantiles(sorted_x: np.ndarray, count: np.ndarray, q: np.ndarray) -> np.ndarray:
    """numpy's default (linear) quantiles ``q`` of every column, from column-sorted data.

    ``sorted_x`` holds each column ascending with its NaN last and ``count`` the non-NaN values
    per column. Bit-for-bit what ``np.quantile(column[~isnan], q)`` returns, for all columns at
    once (one sort instead of a selection per quantile).
    """
    virtual = (count[None, :] - 1) * q[:, None]  # numpy's "linear": (n - 1) * q
    below = np.floor(virtual)
    gamma = virtual - below
    previous = below.astype(np.int64)
    last = np.maximum(count - 1, 0)[None, :]
    previous = np.minimum(previous, last)
    following = np.minimum(previous + 1, last)
    cols = np.arange(sorted_x.shape[1])[None, :]
    a = sorted_x[previous, cols]
    b = sorted_x[following, cols]
    diff = b - a
    return np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)  # numpy's _lerp


def discretize(x: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """pymfe's equal-frequency discretization of each column of ``x`` (NaN -> code -1).

    Bin edges are the linear quantiles 1/n_bins, 2/n_bins, ..., 1 of the column, with edges closer
    than 1e-8 to the previous one dropped; a value's code is the number of edges below it (numpy's
    ``digitize(right=True)``). Returns the codes and the number of bins of each column.
    """
    n, d = x.shape
    missing = np.isnan(x)
    count = n - missing.sum(axis=0)
    edges_all = linear_quantiles(np.sort(x, axis=0), count, np.linspace(0.0, 1.0, n_bins + 1)[1:])
    codes = np.full((n, d), -1, dtype=np.int64, order="F")
    n_levels = np.zeros(d, dtype=np.int64)
    for j in np.flatnonzero(count > 0):  # searchsorted is per column; each call covers all rows
        edges = edges_all[:, j]
        edges = np.unique(edges[np.concatenate([[True], np.diff(edges) > 1e-8])])
        codes[:, j] = np.searchsorted(edges, x[:, j], side="left")
        n_levels[j] = edges.size
    codes[missing] = -1
    return codes, n_levels


def _discretized(ctx: Context) -> dict:
    def compute() -> dict:
        n_bins = max(int(ctx.n_rows ** (1.0 / 3.0)), 1)
        num_codes, num_levels = discretize(ctx.numeric, n_bins)
        codes = np.concatenate([ctx.codes, num_codes], axis=1)
        levels = np.concatenate([ctx.levels, num_levels])
        return _entropies(codes, levels, _class_codes(ctx), max(ctx.y_levels, 1))

    return ctx.memo("discretized_entropies", compute)


# ----------------------------------------------------------------------------------------------
# OpenML qualities
# ----------------------------------------------------------------------------------------------
def ft_ClassEntropy(ctx: Context) -> float:
    if not ctx.is_classification:
        return NAN
    counts = ctx.observed_class_counts
    if counts.size == 0:
        return NAN
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


@summarized
def ft_AttributeEntropy(ctx: Context) -> np.ndarray:
    """Entropy of each nominal attribute (OpenML: NaN for regression)."""
    return _nominal(ctx)["attr"] if ctx.is_classification else np.zeros(0)


@summarized
def ft_MutualInformation(ctx: Context) -> np.ndarray:
    """Mutual information between each nominal attribute and the class."""
    return _nominal(ctx)["mi"] if ctx.is_classification else np.zeros(0)


def _mean(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else NAN


def ft_EquivalentNumberOfAtts(ctx: Context) -> float:
    if not ctx.is_classification:
        return NAN
    mean_mi = _mean(_nominal(ctx)["mi"])
    return ft_ClassEntropy(ctx) / mean_mi if mean_mi > 0 else NAN


def ft_MeanNoiseToSignalRatio(ctx: Context) -> float:
    if not ctx.is_classification:
        return NAN
    stats = _nominal(ctx)
    mean_mi = _mean(stats["mi"])
    return (_mean(stats["attr"]) - mean_mi) / mean_mi if mean_mi > 0 else NAN


# ----------------------------------------------------------------------------------------------
# Ours
# ----------------------------------------------------------------------------------------------
def ft_NormalizedClassEntropy(ctx: Context) -> float:
    """ClassEntropy / log2(NumberOfClasses): 1 for balanced classes, lower when imbalanced."""
    k = ctx.observed_class_counts.size
    return ft_ClassEntropy(ctx) / np.log2(k) if k > 1 else NAN


@summarized
def ft_AttributeEntropyDiscretized(ctx: Context) -> np.ndarray:
    """Entropy of every attribute, numeric ones discretized (pymfe's ``attr_ent``)."""
    return _discretized(ctx)["attr"]


@summarized
def ft_JointEntropyDiscretized(ctx: Context) -> np.ndarray:
    """Joint entropy of every (discretized) attribute with the class (pymfe's ``joint_ent``)."""
    return _discretized(ctx)["joint"] if ctx.is_classification else np.zeros(0)


@summarized
def ft_MutualInformationDiscretized(ctx: Context) -> np.ndarray:
    """Mutual information of every (discretized) attribute with the class (pymfe's ``mut_inf``)."""
    return _discretized(ctx)["mi"] if ctx.is_classification else np.zeros(0)


def ft_EquivalentNumberOfAttsDiscretized(ctx: Context) -> float:
    """ClassEntropy / mean discretized MI (pymfe's ``eq_num_attr``)."""
    if not ctx.is_classification:
        return NAN
    mean_mi = _mean(_discretized(ctx)["mi"])
    return ft_ClassEntropy(ctx) / mean_mi if mean_mi > 0 else NAN


def ft_NoiseToSignalRatioDiscretized(ctx: Context) -> float:
    """(mean entropy - mean MI) / mean MI over the discretized attributes (pymfe's ``ns_ratio``)."""
    if not ctx.is_classification:
        return NAN
    stats = _discretized(ctx)
    mean_mi = _mean(stats["mi"])
    return (_mean(stats["attr"]) - mean_mi) / mean_mi if mean_mi > 0 else NAN
