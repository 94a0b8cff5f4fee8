"""The meta-model: how well will (family, config) do on a new dataset, and which known datasets are like it.

    >>> from autometa.metamodel import load_metamodel
    >>> model = load_metamodel("classification", "balanced_accuracy")   # fitted on the shipped KB, cached
    >>> model.predict(metafeatures).sort_values("mean", ascending=False).head()
    >>> model.neighbors(metafeatures, k=5)

    >>> from autometa.metamodel import MetaSampler, suggest_config     # the warm-start sampler, for any study
    >>> study = optuna.create_study(direction="maximize", sampler=MetaSampler(model, metafeatures, families))
    >>> family, config = suggest_config(trial, families, "classification")   # inside the objective

See :mod:`autometa.metamodel._model` for the designs and :mod:`autometa.metamodel._cache` for the cache.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from autometa._lazy import lazy_exports
from autometa.metamodel._cache import DEFAULT_SETTINGS, cache_dir, kb_fingerprint, load_kb, load_metamodel
from autometa.metamodel._features import config_key
from autometa.metamodel._model import DESIGNS, MetaModel, Settings
from autometa.metamodel._safe import safe_first_pick
from autometa.metamodel._training import TrainingData, training_data

# The sampler and its search space need optuna: they load on first use, so that importing the
# meta-model stays light.
_LAZY: dict[str, str] = {
    "MetaSampler": "autometa.metamodel._sampler",
    "suggest_config": "autometa.spaces",
    "trial_config": "autometa.spaces",
    "fixed_params": "autometa.spaces",
}

if TYPE_CHECKING:  # pragma: no cover
    from autometa.metamodel._sampler import MetaSampler  # noqa: F401
    from autometa.spaces import fixed_params, suggest_config, trial_config  # noqa: F401

__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)

__all__ = [
    "DEFAULT_SETTINGS",
    "DESIGNS",
    "MetaModel",
    "MetaSampler",
    "Settings",
    "TrainingData",
    "cache_dir",
    "config_key",
    "fixed_params",
    "kb_fingerprint",
    "load_kb",
    "load_metamodel",
    "safe_first_pick",
    "suggest_config",
    "training_data",
    "trial_config",
]
