"""Tabular preprocessing for neural networks: impute, one-hot encode categoricals, standardize.

Kept in one small function so the neural estimators and the meta-training task loader share it.
(When ``autometa.spaces`` gains shared per-family preprocessing, this should defer to it.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def categorical_columns(X: pd.DataFrame | np.ndarray) -> list:
    """Columns of ``X`` to one-hot encode: pandas category/object/bool/string columns (none for arrays)."""
    if not isinstance(X, pd.DataFrame):
        return []
    return [c for c in X.columns
            if isinstance(X[c].dtype, pd.CategoricalDtype) or X[c].dtype == object
            or pd.api.types.is_bool_dtype(X[c]) or pd.api.types.is_string_dtype(X[c])]


def make_preprocessor(X: pd.DataFrame | np.ndarray, max_categories: int = 32) -> ColumnTransformer:
    """An unfitted transformer turning ``X`` into a dense, standardized float matrix.

    Numeric columns: median imputation, then zero mean / unit variance. Categorical columns
    (see :func:`categorical_columns`): most-frequent imputation, then one-hot with at most
    ``max_categories`` levels (rarer levels pooled; unseen levels at predict time encode as all-zero).
    """
    cats = categorical_columns(X)
    if isinstance(X, pd.DataFrame):
        nums = [c for c in X.columns if c not in set(cats)]
    else:
        nums = list(range(np.asarray(X).shape[1]))
    numeric = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler())
    transformers = [("numeric", numeric, nums)]
    if cats:
        categorical = make_pipeline(
            SimpleImputer(strategy="most_frequent", keep_empty_features=True),
            OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=max_categories,
                          sparse_output=False),
        )
        transformers.append(("categorical", categorical, cats))
    return ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)
