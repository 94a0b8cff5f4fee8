"""The typed :class:`Dataset` that every part of autometa takes, and the kinds of its features."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Literal

import numpy as np
import pandas as pd

Task = Literal["classification", "regression"]
TASKS: tuple[str, ...] = ("classification", "regression")
#: The numeric parts a datetime column is expanded into (columns ``<name>_<part>``; unchanging parts dropped).
DATETIME_PARTS: tuple[str, ...] = ("year", "month", "day", "weekday", "hour")


class FeatureKind(str, Enum):
    """What a column of the input table is, and so what autometa does with it."""

    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    ID_LIKE = "id-like"  # unique per row: carries no signal, dropped
    CONSTANT = "constant"  # one value (or only missing): dropped
    DATETIME = "datetime"  # expanded into numeric parts (year, month, day, weekday, ...)

    @property
    def is_kept(self) -> bool:
        return self in (FeatureKind.NUMERIC, FeatureKind.CATEGORICAL)


@dataclass(frozen=True)
class Dataset:
    """A supervised tabular dataset, cleaned and typed.

    Attributes:
        X: the usable features. Numeric columns are ``float64``; categorical columns have pandas'
            ``category`` dtype. Missing values are kept as ``NaN``. ID-like and constant columns are
            gone; datetime columns are replaced by their numeric parts.
        y: the target, aligned with ``X``. Original labels for classification, ``float64`` for
            regression. Rows whose target is missing were dropped (and said in ``notes``).
        task: ``"classification"`` or ``"regression"``.
        name: a short name (the file stem by default).
        target: the name of the target column.
        feature_kinds: the kind of every input column except the target, including dropped ones.
        notes: the decisions taken while loading, as sentences for the user (which target, which
            columns dropped and why, ...).
        source: the path the data came from, if any.
        constants: the constant columns that ``X`` leaves out, as typed columns (``None`` when there are
            none). Models gain nothing from them, but they are part of the data as given, which is
            what meta-features describe: see :meth:`as_given`.
    """

    X: pd.DataFrame
    y: pd.Series
    task: Task
    name: str
    target: str
    feature_kinds: Mapping[str, FeatureKind] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    source: str | None = None
    constants: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def categorical_columns(self) -> list[str]:
        return [c for c in self.X.columns if isinstance(self.X[c].dtype, pd.CategoricalDtype)]

    @property
    def numeric_columns(self) -> list[str]:
        return [c for c in self.X.columns if not isinstance(self.X[c].dtype, pd.CategoricalDtype)]

    @property
    def categorical_mask(self) -> np.ndarray:
        """Boolean mask over ``X.columns``: True where the column is categorical."""
        return np.array([isinstance(self.X[c].dtype, pd.CategoricalDtype) for c in self.X.columns], dtype=bool)

    @property
    def classes(self) -> np.ndarray | None:
        """Sorted class labels for classification, ``None`` for regression."""
        if self.task != "classification":
            return None
        return np.asarray(sorted(pd.unique(self.y), key=_label_sort_key))

    @property
    def n_classes(self) -> int | None:
        return None if self.task != "classification" else int(self.y.nunique())

    @property
    def dropped_columns(self) -> dict[str, FeatureKind]:
        return {c: k for c, k in self.feature_kinds.items() if not k.is_kept}

    def as_given(self) -> Dataset:
        """This dataset with its constant columns back in ``X``, in the table's column order.

        Meta-features describe the data as given, as OpenML's qualities do (a table of 64 pixels,
        two of them always blank, has 64 numeric features there), while models use :attr:`X`.
        ID-like columns stay out (OpenML marks such columns row ids and leaves them out too), and
        datetime columns stay expanded.
        """
        if self.constants is None or self.constants.shape[1] == 0:
            return self
        columns: dict[str, pd.Series] = {}
        for name, kind in self.feature_kinds.items():
            if kind is FeatureKind.CONSTANT and name in self.constants.columns:
                columns[name] = self.constants[name]
            elif kind.is_kept and name in self.X.columns:
                columns[name] = self.X[name]
            elif kind is FeatureKind.DATETIME:
                columns.update({f"{name}_{part}": self.X[f"{name}_{part}"] for part in DATETIME_PARTS
                                if f"{name}_{part}" in self.X.columns})
        for name in self.X.columns:  # anything else X holds (a Dataset made by hand): at the end
            columns.setdefault(name, self.X[name])
        X = pd.DataFrame(columns, index=self.X.index)
        return replace(self, X=X, constants=None)

    def summary(self) -> dict[str, object]:
        """A small JSON-able description (shape, task, kinds) for reports and ``--json`` output."""
        kinds: dict[str, int] = {}
        for kind in self.feature_kinds.values():
            kinds[kind.value] = kinds.get(kind.value, 0) + 1
        return {
            "name": self.name,
            "source": self.source,
            "task": self.task,
            "target": self.target,
            "n_rows": self.n_rows,
            "n_features": self.n_features,
            "n_classes": self.n_classes,
            "feature_kinds": kinds,
            "notes": list(self.notes),
        }

    def __repr__(self) -> str:
        extra = f", n_classes={self.n_classes}" if self.task == "classification" else ""
        return (
            f"Dataset(name={self.name!r}, task={self.task!r}, target={self.target!r}, "
            f"n_rows={self.n_rows}, n_features={self.n_features}{extra})"
        )


def _label_sort_key(label: object) -> tuple[int, object]:
    # Mixed label types (rare, but possible in object columns) must still sort deterministically.
    if isinstance(label, (int, float, np.integer, np.floating)):
        return (0, float(label))
    return (1, str(label))
