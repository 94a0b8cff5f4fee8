"""Row subsamples and the model matrix shared by the landmarking and model-based groups.

Models are the expensive part of meta-feature extraction, so they see at most a capped number of
rows: a stratified (classification) or uniform (regression) random subsample drawn with the
extraction's ``random_state``, kept in the original row order. Rows with a missing target are
never used.
"""

from __future__ import annotations

import warnings

import numpy as np

from ._context import Context

# Categorical levels one-hot encoded per attribute for the models; rarer levels share an all-zero row.
MAX_ONEHOT_LEVELS = 32


def subsample(ctx: Context, max_rows: int) -> np.ndarray:
    """Sorted indices of at most about ``max_rows`` rows with a known target (memoized per cap).

    Classification keeps every class's share (each present class keeps at least one row).
    """

    def compute() -> np.ndarray:
        rows = np.flatnonzero(~ctx.y_missing)
        if rows.size <= max_rows:
            return rows
        rng = np.random.default_rng(ctx.random_state)
        if not ctx.is_classification:
            return np.sort(rng.choice(rows, size=max_rows, replace=False))
        y = ctx.y_codes[rows]
        counts = np.bincount(y, minlength=ctx.y_levels)
        quota = np.where(counts > 0, np.maximum(1, np.round(counts * max_rows / rows.size)), 0)
        # Rank rows within their class by a random key; keep the first `quota` of each class.
        order = np.lexsort((rng.random(rows.size), y))
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        rank = np.empty(rows.size, dtype=np.int64)
        rank[order] = np.arange(rows.size) - np.repeat(starts, counts)
        return rows[rank < quota[y]]

    return ctx.memo(f"subsample:{max_rows}", compute)


def model_matrix(ctx: Context, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Numeric attributes (missing -> the column median) followed by one-hot categorical levels.

    Returns ``X`` and ``is_onehot`` (which columns came from one-hot encoding), for ``rows``, a
    :func:`subsample`. Memoized per size: within one extract call subsamples of different caps
    have different sizes unless both are the whole data.
    """

    def compute() -> dict[str, np.ndarray]:
        numeric = ctx.numeric[rows]
        if numeric.size and np.isnan(numeric).any():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column has no median
                median = np.nanmedian(numeric, axis=0)
            median = np.where(np.isfinite(median), median, 0.0)
            numeric = np.where(np.isnan(numeric), median, numeric)
        blocks = [numeric]
        for j in range(ctx.n_categorical):  # one small one-hot block per categorical attribute
            codes = ctx.codes[rows, j]
            counts = np.bincount(codes[codes >= 0], minlength=int(ctx.levels[j]))
            kept = np.argsort(-counts, kind="stable")[: min(MAX_ONEHOT_LEVELS, int((counts > 0).sum()))]
            block = (codes[:, None] == np.sort(kept)[None, :]).astype(float)
            blocks.append(block)
        X = np.concatenate(blocks, axis=1) if blocks else np.zeros((rows.size, 0))
        is_onehot = np.zeros(X.shape[1], dtype=bool)
        is_onehot[ctx.n_numeric :] = True
        return {"X": X, "is_onehot": is_onehot}

    return ctx.memo(f"model_matrix:{rows.size}", compute)
