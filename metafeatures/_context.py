"""Input validation and the precomputation shared by all feature functions of one extract call.

:func:`build_context` turns ``(X, y)`` into a :class:`Context`: numeric attributes as one float
matrix (NaN = missing, +-inf treated as missing), categorical attributes as one integer code matrix
(-1 = missing) with their number of levels, and the target as class codes or floats. Everything
more expensive (moments, correlations, discretization, subsamples, folds) is computed lazily, once,
the first time a feature asks for it, and cached on the context.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

TASKS = ("classification", "regression")
# A numeric target is taken for class labels when it holds integers only and has at most this many
# distinct values (and, on tiny data, at most half as many distinct values as rows).
MAX_INFERRED_CLASSES = 20


class Context:
    """Encoded data plus a per-call cache. Feature functions read it and never modify it."""

    def __init__(
        self,
        numeric: np.ndarray,
        numeric_names: list[str],
        codes: np.ndarray,
        levels: np.ndarray,
        categorical_names: list[str],
        order: list[tuple[bool, int]],
        task: str,
        y_codes: np.ndarray | None,
        y_levels: int,
        y_float: np.ndarray | None,
        random_state: int,
    ) -> None:
        self.numeric = numeric
        self.numeric_names = numeric_names
        self.codes = codes
        self.levels = levels
        self.categorical_names = categorical_names
        self.order = order  # the table's columns as (is_numeric, index into numeric or codes)
        self.task = task
        self.y_codes = y_codes
        self.y_levels = y_levels
        self.y_float = y_float
        self.random_state = random_state
        self.n_rows = numeric.shape[0]
        self._memo: dict[str, Any] = {}

    # -- cache ----------------------------------------------------------------------------------
    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per context; later calls with the same key reuse the result."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    # -- basic facts ----------------------------------------------------------------------------
    @property
    def is_classification(self) -> bool:
        return self.task == "classification"

    @property
    def n_numeric(self) -> int:
        return self.numeric.shape[1]

    @property
    def n_categorical(self) -> int:
        return self.codes.shape[1]

    @property
    def n_attributes(self) -> int:
        return self.n_numeric + self.n_categorical

    @cached_property
    def numeric_missing(self) -> np.ndarray:
        return np.isnan(self.numeric)

    @cached_property
    def y_missing(self) -> np.ndarray:
        if self.is_classification:
            return self.y_codes < 0
        return np.isnan(self.y_float)

    @cached_property
    def class_counts(self) -> np.ndarray:
        """Counts of every declared class (zeros for declared but absent ones); empty for regression."""
        if not self.is_classification:
            return np.zeros(0, dtype=np.int64)
        return np.bincount(self.y_codes[self.y_codes >= 0], minlength=self.y_levels)

    @cached_property
    def observed_class_counts(self) -> np.ndarray:
        counts = self.class_counts
        return counts[counts > 0]

    # -- numeric column moments (vectorized, NaN-aware) -----------------------------------------
    @cached_property
    def moments(self) -> dict[str, np.ndarray]:
        """:func:`column_moments` of the numeric attributes."""
        return column_moments(self.numeric)


def column_moments(x: np.ndarray) -> dict[str, np.ndarray]:
    """Per column of ``x`` (NaN = missing): count, mean, sample std, skewness and excess kurtosis.

    Skewness and kurtosis are the bias-corrected sample estimators of commons-math (which OpenML
    uses): G1 = n / ((n-1)(n-2)) * sum(d^3) / s^3 and G2 = n(n+1) / ((n-1)(n-2)(n-3)) * sum(d^4) / s^4
    - 3(n-1)^2 / ((n-2)(n-3)). They are NaN for a constant column or with fewer than 3 (4) values,
    and OpenML then leaves that column out of the summaries. ``centered`` is ``x`` minus the column
    means with missing values set to 0 (i.e. mean-imputed), reused by correlations and PCA.
    """
    missing = np.isnan(x)
    any_missing = bool(missing.any())
    n = (x.shape[0] - missing.sum(axis=0)).astype(float)
    with np.errstate(all="ignore"):
        # Two-pass moments: center first, so that large offsets do not cancel. A missing value
        # becomes 0 after centering, so it adds nothing to any sum.
        mean = (np.where(missing, 0.0, x) if any_missing else x).sum(axis=0) / n
        centered = x - mean
        if any_missing:
            centered[missing] = 0.0
        d2 = centered * centered
        m2 = d2.sum(axis=0)
        m3 = (d2 * centered).sum(axis=0)
        d2 *= d2
        m4 = d2.sum(axis=0)
        var = m2 / (n - 1)
        std = np.sqrt(var)
        std[n == 1] = 0.0
        skew = n / ((n - 1) * (n - 2)) * m3 / (var * std)
        kurt = (n * (n + 1) / ((n - 1) * (n - 2) * (n - 3))) * m4 / (var * var) - 3 * (n - 1) ** 2 / (
            (n - 2) * (n - 3)
        )
    skew[(n < 3) | (m2 <= 0)] = np.nan
    kurt[(n < 4) | (m2 <= 0)] = np.nan
    return {"count": n, "mean": mean, "std": std, "skew": skew, "kurt": kurt, "centered": centered}


# ----------------------------------------------------------------------------------------------
# Input handling
# ----------------------------------------------------------------------------------------------
def build_context(
    X: Any,
    y: Any,
    task: str | None,
    categorical: Sequence[Any] | np.ndarray | None,
    random_state: int,
) -> Context:
    frame, from_numpy = _as_frame(X)
    n_rows, n_cols = frame.shape
    if n_rows == 0:
        raise ValueError("X has no rows; meta-features need at least one row.")
    if n_cols == 0:
        raise ValueError("X has no columns; meta-features need at least one attribute.")
    y_series = _as_target(y, n_rows)
    is_cat = _categorical_mask(frame, categorical, from_numpy)

    numeric_idx = np.flatnonzero(~is_cat)
    cat_idx = np.flatnonzero(is_cat)
    names = [str(c) for c in frame.columns]
    numeric = _numeric_matrix(frame, numeric_idx, names)
    codes = np.empty((n_rows, cat_idx.size), dtype=np.int64)
    levels = np.empty(cat_idx.size, dtype=np.int64)
    for out, j in enumerate(cat_idx):
        codes[:, out], levels[out] = _encode_categorical(frame.iloc[:, j])

    # Position of every column inside its block (numeric matrix or code matrix).
    block_index = np.where(is_cat, np.cumsum(is_cat) - 1, np.cumsum(~is_cat) - 1)

    task = _resolve_task(y_series, task)
    y_codes = y_float = None
    y_levels = 0
    if task == "classification":
        y_codes, y_levels = _encode_categorical(y_series)
    else:
        if not (ptypes.is_numeric_dtype(y_series) and not ptypes.is_bool_dtype(y_series)):
            raise ValueError(
                f"task='regression' needs a numeric target, but y has dtype {y_series.dtype}; "
                "pass task='classification' or convert y to numbers."
            )
        y_float = y_series.to_numpy(dtype=float, na_value=np.nan)
        y_float[~np.isfinite(y_float)] = np.nan

    return Context(
        numeric=numeric,
        numeric_names=[names[j] for j in numeric_idx],
        codes=codes,
        levels=levels,
        categorical_names=[names[j] for j in cat_idx],
        order=[(not bool(c), int(i)) for c, i in zip(is_cat, block_index, strict=True)],
        task=task,
        y_codes=y_codes,
        y_levels=y_levels,
        y_float=y_float,
        random_state=int(random_state),
    )


def _as_frame(X: Any) -> tuple[pd.DataFrame, bool]:
    if isinstance(X, pd.DataFrame):
        return X, False
    if isinstance(X, pd.Series):
        return X.to_frame(), False
    try:
        arr = np.asarray(X)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"X must be a pandas DataFrame or a 2-D array, got {type(X).__name__}.") from exc
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(f"X must be 2-D (rows x attributes), got an array with shape {arr.shape}.")
    return pd.DataFrame(arr), True


def _as_target(y: Any, n_rows: int) -> pd.Series:
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise ValueError(f"y must be one column, got a DataFrame with {y.shape[1]} columns.")
        y = y.iloc[:, 0]
    series = y.reset_index(drop=True) if isinstance(y, pd.Series) else pd.Series(np.asarray(y).ravel())
    if len(series) != n_rows:
        raise ValueError(f"X has {n_rows} rows but y has {len(series)} values; they must match.")
    return series


def _is_categorical_dtype(dtype: Any) -> bool:
    return bool(
        isinstance(dtype, pd.CategoricalDtype)
        or ptypes.is_bool_dtype(dtype)
        or ptypes.is_object_dtype(dtype)
        or ptypes.is_string_dtype(dtype)
    )


def _categorical_mask(frame: pd.DataFrame, categorical: Any, from_numpy: bool) -> np.ndarray:
    n_cols = frame.shape[1]
    if categorical is None:
        if from_numpy:
            # A numeric array is numeric; an object array's columns are numbers unless said otherwise.
            return np.zeros(n_cols, dtype=bool)
        return np.array([_is_categorical_dtype(dtype) for dtype in frame.dtypes], dtype=bool)
    spec = np.asarray(categorical)
    if spec.dtype == bool:
        if spec.shape != (n_cols,):
            raise ValueError(
                f"categorical is a boolean mask of length {spec.size}, but X has {n_cols} columns."
            )
        return spec.copy()
    mask = np.zeros(n_cols, dtype=bool)
    names = {str(c): j for j, c in enumerate(frame.columns)}
    for item in spec.ravel().tolist():
        if isinstance(item, str) and item in names:
            mask[names[item]] = True
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool) and -n_cols <= item < n_cols:
            mask[item] = True
        else:
            raise ValueError(
                f"categorical lists {item!r}, which is neither a column name nor a column index of X."
            )
    return mask


def _numeric_matrix(frame: pd.DataFrame, idx: np.ndarray, names: list[str]) -> np.ndarray:
    """The numeric columns as one column-major float matrix (every feature works column-wise)."""
    plain = np.array(
        [
            ptypes.is_numeric_dtype(frame.dtypes.iloc[j]) and not ptypes.is_bool_dtype(frame.dtypes.iloc[j])
            for j in idx
        ],
        dtype=bool,
    )
    if plain.all():  # the common case: one bulk conversion
        # np.array copies: the caller's data is never modified below.
        numeric = np.array(frame.iloc[:, idx].to_numpy(dtype=float, na_value=np.nan), order="F")
    else:
        numeric = np.empty((frame.shape[0], idx.size), dtype=float, order="F")
        for out, j in enumerate(idx):
            numeric[:, out] = _numeric_column(frame.iloc[:, j], names[j])
    # inf is not a measurement; OpenML's statistics would turn it into NaN, so treat it as missing.
    infinite = np.isinf(numeric)
    if infinite.any():
        numeric[infinite] = np.nan
    return numeric


def _numeric_column(col: pd.Series, name: str) -> np.ndarray:
    if ptypes.is_numeric_dtype(col.dtype) and not ptypes.is_bool_dtype(col.dtype):
        return col.to_numpy(dtype=float, na_value=np.nan)
    if ptypes.is_bool_dtype(col.dtype):
        return col.to_numpy(dtype=float, na_value=np.nan)
    converted = pd.to_numeric(col, errors="coerce")
    bad = converted.isna() & col.notna()
    if bad.any():
        example = col[bad].iloc[0]
        raise ValueError(
            f"column {name!r} is declared numeric but holds non-numeric values such as {example!r}; "
            "list it in `categorical` or convert it to numbers."
        )
    return converted.to_numpy(dtype=float, na_value=np.nan)


def _encode_categorical(col: pd.Series) -> tuple[np.ndarray, int]:
    """Integer codes (-1 = missing) and the number of levels.

    A pandas ``category`` column keeps its declared categories (like an ARFF nominal attribute,
    unused ones included); any other column has the levels it takes.
    """
    if isinstance(col.dtype, pd.CategoricalDtype):
        return col.cat.codes.to_numpy(dtype=np.int64), len(col.cat.categories)
    if ptypes.is_float_dtype(col.dtype):
        values = col.to_numpy(dtype=float)
        col = pd.Series(np.where(np.isfinite(values), values, np.nan))
    try:
        codes, uniques = pd.factorize(col, use_na_sentinel=True, sort=True)
    except TypeError:  # mixed types that cannot be ordered: first-seen order is as good
        codes, uniques = pd.factorize(col, use_na_sentinel=True, sort=False)
    return codes.astype(np.int64), len(uniques)


def _resolve_task(y: pd.Series, task: str | None) -> str:
    if task is not None:
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS} or None, got {task!r}.")
        return task
    if not ptypes.is_numeric_dtype(y.dtype) or ptypes.is_bool_dtype(y.dtype):
        return "classification"
    values = y.to_numpy(dtype=float, na_value=np.nan)
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise ValueError("y has no finite values; cannot infer the task. Pass task= explicitly.")
    n_distinct = np.unique(values).size
    integral = bool(np.all(values == np.round(values)))
    if integral and n_distinct <= MAX_INFERRED_CLASSES and n_distinct <= max(2, values.size // 2):
        return "classification"
    return "regression"
