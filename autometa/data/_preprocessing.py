"""Preprocessing shared by the model families (and the neural family): imputation, encoding, scaling.

Two recipes, chosen by each family:

- :func:`encoded_features` (linear, SVM, k-NN, random forest, extra trees): numeric columns imputed
  with the median (optionally standardized); categorical columns with at most ``max_onehot`` levels
  one-hot encoded (missing is its own level, unseen levels are all zeros), wider ones ordinal encoded
  (missing and unseen become -1) and treated as numbers.
- :func:`native_categorical` (LightGBM, histogram gradient boosting): numeric columns untouched (the
  models handle missing values), categorical columns with at most ``max_levels`` levels kept as pandas
  ``category`` with the levels seen in fit (unseen become missing), wider ones as numeric codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

#: Categorical columns with at most this many levels are one-hot encoded; wider ones ordinal encoded.
MAX_ONEHOT_LEVELS = 10
#: Categorical columns with at most this many levels use the models' native categorical support
#: (histogram gradient boosting allows at most 255 bins including missing).
MAX_NATIVE_LEVELS = 250


@dataclass(frozen=True)
class FeatureInfo:
    """What a family needs to know about the table it will be fit on.

    Attributes:
        columns: all feature columns in order.
        categorical: categorical column -> number of levels.
        n_rows: the number of rows the model is fit on (caps e.g. k-NN's neighbours).
    """

    columns: tuple[str, ...]
    categorical: Mapping[str, int] = field(default_factory=dict)
    n_rows: int = 0

    @property
    def numeric(self) -> list[str]:
        return [c for c in self.columns if c not in self.categorical]

    def n_encoded(self, max_onehot: int = MAX_ONEHOT_LEVELS) -> int:
        """Number of columns after :func:`encoded_features` (one-hot counts a missing level too)."""
        wide = sum(1 for n in self.categorical.values() if n > max_onehot)
        narrow = sum(n + 1 for n in self.categorical.values() if n <= max_onehot)
        return len(self.numeric) + wide + narrow


def feature_info(data: Any) -> FeatureInfo:
    """:class:`FeatureInfo` of a :class:`~autometa.data.Dataset`, a DataFrame, or an existing info."""
    if isinstance(data, FeatureInfo):
        return data
    X = getattr(data, "X", data)
    if not isinstance(X, pd.DataFrame):
        X = pd.DataFrame(np.asarray(X))
    categorical = {
        str(c): int(X[c].cat.categories.size if isinstance(X[c].dtype, pd.CategoricalDtype) else X[c].nunique())
        for c in X.columns
        if isinstance(X[c].dtype, pd.CategoricalDtype) or X[c].dtype == object
    }
    return FeatureInfo(columns=tuple(map(str, X.columns)), categorical=categorical, n_rows=int(len(X)))


def encoded_features(info: FeatureInfo, *, scale: bool, max_onehot: int = MAX_ONEHOT_LEVELS):
    """A ColumnTransformer: impute (+ scale) numbers, one-hot narrow and ordinal-encode wide categoricals."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    narrow = [c for c, n in info.categorical.items() if n <= max_onehot]
    wide = [c for c, n in info.categorical.items() if n > max_onehot]
    # keep_empty_features: a column that is all-missing in one training fold must not change the width.
    numeric_steps: list[Any] = [SimpleImputer(strategy="median", keep_empty_features=True)]
    wide_steps: list[Any] = [
        OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1)
    ]
    if scale:
        numeric_steps.append(StandardScaler())
        wide_steps.append(StandardScaler())
    blocks = []
    if info.numeric:
        blocks.append(("numeric", make_pipeline(*numeric_steps), info.numeric))
    if narrow:
        blocks.append(("onehot", make_pipeline(_AsObject(), OneHotEncoder(handle_unknown="ignore", sparse_output=False)), narrow))
    if wide:
        blocks.append(("ordinal", make_pipeline(_AsObject(), *wide_steps), wide))
    return ColumnTransformer(blocks, remainder="drop", sparse_threshold=0.0, verbose_feature_names_out=False)


def native_categorical(info: FeatureInfo, *, max_levels: int = MAX_NATIVE_LEVELS) -> NativeCategorical:
    """A transformer giving a DataFrame that LightGBM / HistGradientBoosting read natively."""
    return NativeCategorical(categorical=tuple(info.categorical), max_levels=max_levels)


class _AsObject(TransformerMixin, BaseEstimator):
    """Categorical columns as an object array with ``np.nan`` for missing (what the encoders expect)."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        frame = pd.DataFrame(X)
        return frame.astype(object).where(frame.notna(), np.nan).to_numpy(dtype=object)


class NativeCategorical(TransformerMixin, BaseEstimator):
    """Cast categorical columns to pandas ``category`` with the levels seen in fit (at most
    ``max_levels``; wider columns become numeric codes), numbers to float64, and give every column a
    plain name ``f0, f1, ...`` (LightGBM refuses some characters in feature names).

    Args:
        categorical: names of the categorical columns.
        max_levels: wider categorical columns are passed as numeric codes instead.
    """

    def __init__(self, categorical: tuple[str, ...] = (), max_levels: int = MAX_NATIVE_LEVELS):
        self.categorical = categorical
        self.max_levels = max_levels

    def fit(self, X, y=None):
        X = pd.DataFrame(X)
        self.columns_ = [str(c) for c in X.columns]
        self.levels_: dict[str, list[Any]] = {}
        for column in self.categorical:
            if column in X.columns:
                self.levels_[column] = list(pd.unique(X[column].dropna()))
        return self

    def transform(self, X):
        from autometa.data._native import native_frame

        return native_frame(X, self.columns_, self.levels_, self.max_levels)

    def categorical_mask(self) -> list[bool]:
        return [c in self.levels_ and len(self.levels_[c]) <= self.max_levels for c in self.columns_]
