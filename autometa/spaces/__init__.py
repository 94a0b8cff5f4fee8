"""Model families: one module each, with its Optuna search space, default config and estimator.

    >>> from autometa.spaces import get_family, list_families, config_set
    >>> family = get_family("lightgbm")
    >>> family.space                                   # name -> optuna distribution
    >>> config = family.suggest(trial)                 # define-by-run inside an Optuna objective
    >>> config_set("svm", 8)                           # {"default": {...}, "sobol-0001": {...}, ...}
    >>> family.build_estimator(config, "classification", dataset, random_state=0)   # sklearn Pipeline

Shared preprocessing (:func:`feature_info`, :func:`encoded_features`, :func:`native_categorical`) lives in
:mod:`autometa.data` (the layer below both the families and :mod:`autometa.neural`, which uses it too) and
is public here as well.
"""

from __future__ import annotations

import importlib
from typing import Any

from autometa.data import (
    MAX_ONEHOT_LEVELS,
    FeatureInfo,
    NativeCategorical,
    encoded_features,
    feature_info,
    native_categorical,
)
from autometa.errors import InputError
from autometa.spaces._base import DEFAULT_CONFIG_ID, Family
from autometa.spaces._encoding import (
    FAMILY_PARAM,
    fixed_params,
    param_name,
    search_params,
    suggest_config,
    trial_config,
)

# family name -> module defining ``FAMILY``; the order is the order of list_families().
_FAMILY_MODULES: dict[str, str] = {
    "lightgbm": "autometa.spaces.lightgbm",
    "random_forest": "autometa.spaces.random_forest",
    "extra_trees": "autometa.spaces.extra_trees",
    "hist_gradient_boosting": "autometa.spaces.hist_gradient_boosting",
    "linear": "autometa.spaces.linear",
    "svm": "autometa.spaces.svm",
    "knn": "autometa.spaces.knn",
    "mlp": "autometa.spaces.mlp",
}

__all__ = [
    "DEFAULT_CONFIG_ID",
    "FAMILY_PARAM",
    "MAX_ONEHOT_LEVELS",
    "FeatureInfo",
    "Family",
    "NativeCategorical",
    "build_estimator",
    "config_set",
    "encoded_features",
    "feature_info",
    "fixed_params",
    "get_family",
    "list_families",
    "native_categorical",
    "param_name",
    "search_params",
    "suggest_config",
    "trial_config",
]


def list_families() -> list[str]:
    """Names of all registered families."""
    return list(_FAMILY_MODULES)


def get_family(name: str) -> Family:
    """The :class:`Family` called ``name``; an unknown name raises :class:`InputError`."""
    module = _FAMILY_MODULES.get(name)
    if module is None:
        raise InputError(f"Unknown model family '{name}'; choose one of {', '.join(_FAMILY_MODULES)}.")
    return importlib.import_module(module).FAMILY


def config_set(family: str, n: int) -> dict[str, dict[str, Any]]:
    """``family``'s first ``n`` knowledge-base configs (default + scrambled Sobol), prefix-stable."""
    return get_family(family).config_set(n)


def build_estimator(family: str, config: dict[str, Any] | None, task: str, data: Any, random_state: int = 0):
    """Shortcut for ``get_family(family).build_estimator(config, task, data, random_state)``."""
    return get_family(family).build_estimator(config, task, data, random_state)
