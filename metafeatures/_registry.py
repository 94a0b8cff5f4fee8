"""Feature discovery by naming convention.

Every group is a private module (``_general``, ``_statistical``, ...). A module-level function named
``ft_<Name>`` taking the shared :class:`~metafeatures._context.Context` is a meta-feature. What it
returns decides the names it produces:

* a number: one feature, ``<Name>``;
* decorated with :func:`summarized`, a 1-D array (one value per attribute, pair, node, ...): seven
  features ``Min<Name>`` ... ``Stdv<Name>`` (see :mod:`metafeatures._summary`);
* decorated with ``@outputs("AUC", "ErrRate", ...)``, a mapping from those suffixes to numbers:
  ``<Name>AUC``, ``<Name>ErrRate``, ... (for values that one computation yields together).

Names are therefore known without computing anything, which :func:`list_metafeatures` relies on.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._summary import SUMMARY_STATS, summarize

PREFIX = "ft_"


def summarized(func: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a feature function whose array result is summarized by the shared statistics."""
    func._mf_summarized = True  # type: ignore[attr-defined]
    return func


def outputs(*suffixes: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a feature function that returns several values, keyed by these name suffixes."""

    def mark(func: Callable[..., Any]) -> Callable[..., Any]:
        func._mf_outputs = tuple(suffixes)  # type: ignore[attr-defined]
        return func

    return mark


@dataclass(frozen=True)
class Feature:
    """One ``ft_`` function of a group module and the names it produces."""

    base: str
    group: str
    func: Callable[..., Any]
    names: tuple[str, ...]

    def expand(self, result: Any) -> dict[str, float]:
        """Turn the function's raw result into ``{name: float}`` for every name it owns."""
        if getattr(self.func, "_mf_summarized", False):
            stats = summarize(np.asarray(result, dtype=float))
            return {f"{stat}{self.base}": stats[stat] for stat in SUMMARY_STATS}
        suffixes = getattr(self.func, "_mf_outputs", None)
        if suffixes is not None:
            if not isinstance(result, Mapping):
                raise TypeError(f"{self.func.__name__} must return a mapping of {suffixes}")
            return {f"{self.base}{s}": _as_float(result.get(s, np.nan)) for s in suffixes}
        return {self.base: _as_float(result)}

    def nan(self) -> dict[str, float]:
        return dict.fromkeys(self.names, float("nan"))


def _as_float(value: Any) -> float:
    if value is None:
        return float("nan")
    value = float(value)
    return value if np.isfinite(value) else float("nan")


def discover(module: types.ModuleType, group: str) -> list[Feature]:
    """The features of ``module``, in definition order."""
    features = []
    for attr, func in vars(module).items():
        if not (attr.startswith(PREFIX) and callable(func)):
            continue
        base = attr[len(PREFIX) :]
        if getattr(func, "_mf_summarized", False):
            names = tuple(f"{stat}{base}" for stat in SUMMARY_STATS)
        elif getattr(func, "_mf_outputs", None) is not None:
            names = tuple(f"{base}{s}" for s in func._mf_outputs)
        else:
            names = (base,)
        features.append(Feature(base=base, group=group, func=func, names=names))
    return features
