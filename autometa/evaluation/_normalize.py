"""The one normalization of scores across datasets: per dataset, 0 = worst observed, 1 = best observed.

Used by the knowledge base, the meta-model's targets and every benchmark, so that "normalized score"
means the same thing everywhere.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from autometa.errors import InputError
from autometa.evaluation._metrics import HIGHER_IS_BETTER


def normalize(scores: pd.DataFrame | pd.Series, metric: str, groups: pd.Series | np.ndarray | None = None):
    """Min-max normalize ``scores`` per dataset so that 1 is the best observed and 0 the worst.

    Args:
        scores: either a DataFrame with one row per dataset (columns: configs, methods, trials, ...),
            normalized row by row; or a Series of scores in long form, normalized within ``groups``.
        metric: the metric's name; for lower-is-better metrics (log_loss, rmse) the smallest value is best.
        groups: the dataset of each entry of a Series (required with a Series, unused for a DataFrame).

    Returns:
        The same shape with values in [0, 1]. NaN (a failed evaluation) stays NaN. A dataset whose
        observed values are all equal gets 1.0 everywhere (nothing observed is worse).
    """
    if metric not in HIGHER_IS_BETTER:
        raise InputError(f"Unknown metric '{metric}'; choose one of {', '.join(HIGHER_IS_BETTER)}.")
    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
    if isinstance(scores, pd.DataFrame):
        values = sign * scores.astype(float)
        low = values.min(axis=1, skipna=True)
        high = values.max(axis=1, skipna=True)
        span = (high - low).where(high > low)
        out = values.sub(low, axis=0).div(span, axis=0)
        flat = (high == low)
        out.loc[flat] = values.loc[flat].notna().astype(float).where(values.loc[flat].notna())
        return out
    if groups is None:
        raise InputError("normalize() needs groups= (the dataset of each score) when scores is a Series.")
    values = sign * pd.Series(scores, dtype=float)
    keys = pd.Series(np.asarray(groups), index=values.index)
    low = values.groupby(keys).transform("min")
    high = values.groupby(keys).transform("max")
    out = (values - low) / (high - low).where(high > low)
    return out.where(~((high == low) & values.notna()), 1.0)
