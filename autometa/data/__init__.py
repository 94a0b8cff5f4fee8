"""Typed data loading: a file, a folder, a DataFrame or arrays in; one :class:`Dataset` out.

    >>> ds = load_dataset("data.csv", target="label")   # CSV/TSV (.gz too), Parquet, PMLB folder
    >>> ds = load_dataset(df, target="label")           # a pandas DataFrame
    >>> ds = load_dataset(X, y=y)                        # numpy arrays or frame + series

Without ``target``, a column named target/class/label/y is used, else the last column; the task
(classification or regression) is inferred unless given. Each feature gets a :class:`FeatureKind`;
ID-like and constant columns are dropped and datetimes expanded, each decision said in
``Dataset.notes``. Constant columns are kept aside: meta-features describe the data as given
(:meth:`Dataset.as_given`), models use ``Dataset.X``. Bad input raises
:class:`autometa.errors.InputError` with one clear sentence.

This package folder also holds autometa's shipped artifacts (the knowledge base, the pretrained
meta-optimizer) in sub-folders; see :func:`artifact_path`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from autometa._lazy import lazy_exports
from autometa.data._dataset import DATETIME_PARTS, TASKS, Dataset, FeatureKind, Task
from autometa.data._prepare import MIN_ROWS, TARGET_NAMES, infer_task, prepare
from autometa.data._read import RawTable, check_encoding, read_table
from autometa.errors import InputError

# The families' shared preprocessing needs scikit-learn: it loads on first use, so that reading a table
# (and `autometa --help`) stays light.
_LAZY: dict[str, str] = {name: "autometa.data._preprocessing" for name in (
    "MAX_ONEHOT_LEVELS", "FeatureInfo", "NativeCategorical", "encoded_features", "feature_info", "native_categorical")}
_LAZY["native_frame"] = "autometa.data._native"  # NativeCategorical's transform, without scikit-learn

if TYPE_CHECKING:  # pragma: no cover
    from autometa.data._native import native_frame  # noqa: F401
    from autometa.data._preprocessing import (  # noqa: F401
        MAX_ONEHOT_LEVELS,
        FeatureInfo,
        NativeCategorical,
        encoded_features,
        feature_info,
        native_categorical,
    )

__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)

__all__ = [
    "DATETIME_PARTS",
    "Dataset",
    "FeatureInfo",
    "FeatureKind",
    "MAX_ONEHOT_LEVELS",
    "MIN_ROWS",
    "NativeCategorical",
    "TARGET_NAMES",
    "TASKS",
    "Task",
    "artifact_path",
    "check_encoding",
    "encoded_features",
    "feature_info",
    "infer_task",
    "load_dataset",
    "native_categorical",
    "native_frame",
    "read_table",
]


def load_dataset(
    data: str | Path | pd.DataFrame | np.ndarray | Dataset,
    target: str | None = None,
    task: str | None = None,
    *,
    y: Any = None,
    name: str | None = None,
    categorical: list[str] | tuple[str, ...] | str | None = None,
    encoding: str | None = None,
) -> Dataset:
    """Load and type a supervised dataset.

    Args:
        data: a path (CSV, TSV, ``.gz`` of either, Parquet, or a PMLB dataset folder), a DataFrame,
            a 2-D array, or an existing :class:`Dataset` (returned as is).
        target: the target column's name. Not allowed together with ``y`` (target values given here,
            a Series or an array, are taken as ``y``).
        task: ``"classification"`` or ``"regression"``; inferred from the target when omitted.
        y: the target values when ``data`` holds only features.
        name: a name for the dataset (default: the file stem, or ``"dataset"``).
        categorical: columns to treat as categorical even if they hold numbers.
        encoding: the text encoding of a CSV/TSV file (default UTF-8), e.g. ``"latin-1"``.

    Raises:
        InputError: the input cannot be used; the message says which file or column and why.
    """
    if isinstance(data, Dataset):
        return data
    if target is not None and not isinstance(target, str):
        if isinstance(target, (pd.Series, np.ndarray, list, tuple)):
            if y is not None:
                raise InputError("Give the target values once, as y=; target= names a column.")
            target, y = None, target  # load_dataset(X, y): the values themselves
        elif isinstance(target, (int, np.integer)) and not isinstance(target, bool):
            target = str(target)  # a DataFrame's integer column label (column names are read as text)
        else:
            raise InputError(f"target= names the target column; got a {type(target).__name__}.")
    if isinstance(categorical, str):
        categorical = [categorical]
    if name is not None and not isinstance(name, str):
        name = str(name)
    if y is not None and target is not None:
        raise InputError("Give either target= (a column of the data) or y= (the target values), not both.")
    declared_target = declared_task = None
    declared_categorical: tuple[str, ...] = ()
    source = None
    if isinstance(data, (str, Path)):
        raw: RawTable = read_table(data, encoding=encoding)
        frame, source = raw.frame, raw.source
        name = name or raw.name
        declared_target, declared_task, declared_categorical = raw.target, raw.task, raw.categorical
    elif isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, np.ndarray) or hasattr(data, "__array__"):
        array = np.asarray(data)
        if array.ndim != 2:
            raise InputError(f"Features must be a 2-D table; got an array of shape {array.shape}.")
        frame = pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])
    else:
        raise InputError(f"Cannot load a dataset from {type(data).__name__}; give a path, a DataFrame or an array.")

    if y is not None:
        if np.ndim(y) != 1 and not (np.ndim(y) == 2 and np.shape(y)[1] == 1):
            raise InputError(f"y must be one column of target values; got a shape of {np.shape(y)}.")
        y_series = pd.Series(np.asarray(y).ravel() if not isinstance(y, pd.Series) else y.to_numpy())
        if len(y_series) != len(frame):
            raise InputError(f"X has {len(frame)} rows but y has {len(y_series)}; they must be the same length.")
        target = str(y.name) if isinstance(y, pd.Series) and y.name is not None else "target"
        if target in map(str, frame.columns):
            target = "__target__"
        frame = frame.reset_index(drop=True).copy()
        frame[target] = y_series.to_numpy()
    categorical_all = tuple(declared_categorical) + tuple(str(c) for c in categorical or ())
    return prepare(frame, target=target, task=task, name=name or "dataset", source=source,
                   declared_target=declared_target, declared_task=declared_task, categorical=categorical_all)


def artifact_path(*parts: str) -> Path:
    """The path of a shipped artifact under ``autometa/data/`` (e.g. ``artifact_path("kb")``)."""
    return Path(__file__).resolve().parent.joinpath(*parts)
