"""Orchestration: which groups, building the shared context, running every feature function."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from . import _general, _info_theory, _landmarking, _model_based, _statistical
from ._context import build_context
from ._registry import Feature, discover
from ._result import MetaFeatures

GROUPS: tuple[str, ...] = ("general", "statistical", "info-theory", "landmarking", "model-based")
_MODULES = {
    "general": _general,
    "statistical": _statistical,
    "info-theory": _info_theory,
    "landmarking": _landmarking,
    "model-based": _model_based,
}
_ALIASES = {
    "information-theoretic": "info-theory",
    "info_theory": "info-theory",
    "model_based": "model-based",
}
_FEATURES: dict[str, list[Feature]] = {group: discover(module, group) for group, module in _MODULES.items()}


def resolve_groups(groups: str | Iterable[str] | None) -> list[str]:
    if groups is None:
        return list(GROUPS)
    if isinstance(groups, str):
        groups = [groups]
    wanted = set()
    for group in groups:
        name = _ALIASES.get(group, group)
        if name not in _MODULES:
            raise ValueError(f"unknown meta-feature group {group!r}; choose from {', '.join(GROUPS)}.")
        wanted.add(name)
    return [g for g in GROUPS if g in wanted]


def list_metafeatures(groups: str | Iterable[str] | None = None) -> list[str]:
    """Names of the meta-features of ``groups`` (default: all), in extraction order."""
    return [name for group in resolve_groups(groups) for f in _FEATURES[group] for name in f.names]


def extract(
    X: Any,
    y: Any,
    task: str | None = None,
    groups: str | Iterable[str] | None = None,
    random_state: int = 0,
    categorical: Sequence[Any] | np.ndarray | None = None,
) -> MetaFeatures:
    """Characterize a tabular dataset by a vector of named meta-features.

    Args:
        X: pandas DataFrame (``category``/``object``/``string``/``bool`` columns are categorical,
            numeric dtypes numeric) or a 2-D array (numeric unless ``categorical`` says otherwise).
            Missing values (NaN/None) are allowed anywhere; +-inf counts as missing.
        y: target, one value per row: class labels or floats. Missing values are allowed.
        task: "classification", "regression", or None to infer it: a non-numeric target, or one
            with integer values only and at most 20 distinct values, is classification.
        groups: any of "general", "statistical", "info-theory", "landmarking", "model-based"
            (default: all).
        random_state: seed of every random choice (subsamples, scikit-learn models). Weka's
            landmarker folds always use Java's ``Random(1)``, as OpenML does.
        categorical: overrides the dtype rule: a boolean mask over the columns, or a list of
            column names or indices that are categorical (all others numeric).

    Returns:
        A :class:`MetaFeatures` mapping. Where OpenML defines a data quality the feature has its
        exact name and definition. Undefined values (class statistics of a regression target,
        numeric statistics without numeric attributes, ...) are NaN, never an error.

    Cost is bounded: landmarkers and the model-based tree see a stratified random subsample of at
    most 5,000 rows (``_landmarking.MAX_ROWS``); the vectorized Weka NaiveBayes landmarker sees up
    to 25,000 (``_landmarking.NAIVE_BAYES_MAX_ROWS``). The other groups use every row.

    Raises:
        ValueError, TypeError: input that cannot be characterized (no rows, mismatched lengths,
            an unknown group or task, a non-numeric column declared numeric, ...).
    """
    wanted = resolve_groups(groups)
    ctx = build_context(X, y, task, categorical, random_state)
    values: dict[str, float] = {}
    owner: dict[str, str] = {}
    errors: dict[str, str] = {}
    # The matrices here are small: one thread is fastest. Multi-threaded BLAS degrades badly
    # (spin-waiting) on a machine whose cores are busy with other work, and so does OpenMP: the 1-NN
    # landmarker's neighbor search (scikit-learn's OpenMP pairwise-distance reduction) cost about
    # 0.15 s of CPU per fold with 2 threads against 0.02 s with one. Thread count changes no value:
    # each query row's neighbor is found over the same chunks, in the same order.
    with warnings.catch_warnings(), np.errstate(all="ignore"), threadpool_limits(limits=1):
        # Expected on degenerate data (constant columns, one-class folds, collinear attributes);
        # silenced here only, never for the caller.
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"sklearn\.")
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"sklearn\.")
        for group in wanted:
            for feature in _FEATURES[group]:
                try:
                    computed = feature.expand(feature.func(ctx))
                except Exception as exc:  # one broken feature must not lose all the others
                    computed = feature.nan()
                    for name in feature.names:
                        errors[name] = f"{type(exc).__name__}: {exc}"
                for name in feature.names:
                    values[name] = computed[name]
                    owner[name] = group
    return MetaFeatures(values, owner, ctx.task, errors)
