"""The result type of :func:`metafeatures.extract`."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from types import MappingProxyType

import pandas as pd

FORMAT_VERSION = 1


class MetaFeatures(Mapping[str, float]):
    """An ordered, read-only mapping from meta-feature name to value (NaN where undefined).

    Attributes:
        groups: name -> group ("general", "statistical", "info-theory", "landmarking",
            "model-based").
        task: "classification" or "regression".
        errors: name -> message for features whose computation failed (their value is NaN). Empty
            unless something unexpected happened; kept so that one failing feature never loses
            the others.
    """

    def __init__(
        self,
        values: Mapping[str, float],
        groups: Mapping[str, str],
        task: str,
        errors: Mapping[str, str] | None = None,
    ) -> None:
        self._values = dict(values)
        self._groups = MappingProxyType(dict(groups))
        self._errors = MappingProxyType(dict(errors or {}))
        self._task = task

    @property
    def groups(self) -> Mapping[str, str]:
        return self._groups

    @property
    def task(self) -> str:
        return self._task

    @property
    def errors(self) -> Mapping[str, str]:
        return self._errors

    def __getitem__(self, name: str) -> float:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def to_dict(self) -> dict[str, float]:
        """A plain ``{name: value}`` dict (NaN kept as ``float('nan')``)."""
        return dict(self._values)

    def to_pandas(self) -> pd.Series:
        """A float Series indexed by name, named ``"value"``; ``series.attrs`` holds the groups."""
        series = pd.Series(self._values, dtype=float, name="value")
        series.index.name = "metafeature"
        series.attrs["groups"] = dict(self._groups)
        series.attrs["task"] = self._task
        series.attrs["format_version"] = FORMAT_VERSION
        return series

    def __repr__(self) -> str:
        n_nan = sum(1 for v in self._values.values() if math.isnan(v))
        lines = [f"MetaFeatures(task={self._task!r}, {len(self)} values, {n_nan} NaN)"]
        by_group: dict[str, list[str]] = {}
        for name, group in self._groups.items():
            by_group.setdefault(group, []).append(name)
        for group, names in by_group.items():
            shown = ", ".join(f"{n}={self._values[n]:.4g}" for n in names[:4])
            more = f", ... ({len(names) - 4} more)" if len(names) > 4 else ""
            lines.append(f"  {group:<12} {shown}{more}")
        return "\n".join(lines)
