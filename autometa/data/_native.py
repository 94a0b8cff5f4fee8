"""The transform of :class:`~autometa.data.NativeCategorical` as a plain function (numpy and pandas only),
so that a saved LightGBM model can be predicted without importing scikit-learn
(:mod:`autometa.models._booster`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def native_frame(X: Any, columns: list[str], levels: dict[str, list[Any]], max_levels: int) -> pd.DataFrame:
    """``X`` as LightGBM / HistGradientBoosting read it: categorical columns (those in ``levels``) as pandas
    ``category`` with those levels (unseen become missing; wider than ``max_levels``: numeric codes),
    numbers as float64, columns renamed ``f0, f1, ...`` in the order of ``columns``."""
    X = pd.DataFrame(X)
    X.columns = [str(c) for c in X.columns]
    out = {}
    for i, column in enumerate(columns):
        values = X[column]
        known = levels.get(column)
        if known is None:
            out[f"f{i}"] = pd.to_numeric(values, errors="coerce").astype("float64", copy=False)  # copied below
            continue
        as_category = pd.Categorical(values.astype(object).where(values.notna(), None), categories=known)
        if len(known) <= max_levels:
            out[f"f{i}"] = as_category
        else:
            codes = as_category.codes.astype("float64")
            codes[codes < 0] = np.nan
            out[f"f{i}"] = codes
    return pd.DataFrame(out, index=X.index, copy=True)
