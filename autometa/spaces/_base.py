"""A model family: its Optuna search space, default config, config set, and estimator factory."""

from __future__ import annotations

import math
import re
import warnings
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from autometa._lazy import missing_extra_message
from autometa.data import FeatureInfo, feature_info
from autometa.errors import InputError

DEFAULT_CONFIG_ID = "default"
SOBOL_PREFIX = "sobol-"
TASKS = ("classification", "regression")

Builder = Callable[[Mapping[str, Any], str, FeatureInfo, int], Any]


@dataclass(frozen=True)
class Family:
    """One model family.

    Attributes:
        name: the family's name in the knowledge base (e.g. ``"lightgbm"``).
        description: one line for people.
        space: parameter name -> Optuna distribution, in a fixed order (the order of the unit cube's
            axes). Parameters that do not apply to a task (e.g. SVR's ``epsilon`` for classification)
            are ignored by the builder, so the same configs serve every dataset.
        default: the default config (inside the space).
        builder: ``(config, task, feature_info, random_state) -> estimator``.
        task_params: parameter name -> the only task it applies to (e.g. ``{"epsilon": "regression"}``);
            :meth:`config_for` leaves such parameters out of what people and callers see.
        fit_warnings: the starts of warning messages that the family's own way of building its
            estimator makes its fit raise, about choices autometa made and a user cannot change (the
            svm family keeps libsvm's Platt scaling while scikit-learn has it); :meth:`fit` silences them.
    """

    name: str
    description: str
    space: Mapping[str, BaseDistribution]
    default: Mapping[str, Any]
    builder: Builder
    task_params: Mapping[str, str] = field(default_factory=dict)
    fit_warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for key, value in self.default.items():
            if not self.space[key]._contains(self.space[key].to_internal_repr(value)):
                raise ValueError(f"{self.name}: default {key}={value!r} is outside its distribution")
        for key, task in self.task_params.items():
            if key not in self.space or task not in TASKS:
                raise ValueError(f"{self.name}: task_params {key}={task!r} names no parameter or task")

    # ------------------------------------------------------------ configs
    def default_config(self) -> dict[str, Any]:
        return dict(self.default)

    def suggest(self, trial: Any, *, task: str | None = None, prefix: str = "") -> dict[str, Any]:
        """Sample a config define-by-run from an ``optuna.Trial``.

        Args:
            trial: the trial.
            task: suggest only the parameters that apply to this task (default: all of them).
            prefix: put before each parameter's name in the trial (``"lightgbm."`` in a study of
                several families: :func:`autometa.spaces.suggest_config`).
        """
        config: dict[str, Any] = {}
        for name in (self.params_for(task) if task else self.space):
            dist, key = self.space[name], prefix + name
            if isinstance(dist, FloatDistribution):
                config[name] = trial.suggest_float(key, dist.low, dist.high, log=dist.log)
            elif isinstance(dist, IntDistribution):
                config[name] = trial.suggest_int(key, dist.low, dist.high, log=dist.log)
            else:
                config[name] = trial.suggest_categorical(key, dist.choices)
        return config

    def from_unit(self, u: np.ndarray | list[float]) -> dict[str, Any]:
        """Map a point of the unit cube ``[0, 1)^d`` (axes in ``space`` order) onto a config."""
        u = np.asarray(u, dtype=float)
        if u.shape != (len(self.space),):
            raise InputError(f"Family '{self.name}' has {len(self.space)} parameters; got a point of shape {u.shape}.")
        return {name: _from_unit(dist, float(np.clip(x, 0.0, 1.0 - 1e-12))) for (name, dist), x in zip(self.space.items(), u, strict=True)}

    def to_unit(self, config: Mapping[str, Any]) -> np.ndarray:
        """The inverse of :meth:`from_unit` (the centre of the cell for integers and choices)."""
        config = self.validate_config(config)
        return np.array([_to_unit(dist, config[name]) for name, dist in self.space.items()])

    def config_set(self, n: int) -> dict[str, dict[str, Any]]:
        """The knowledge base's configs: ``"default"`` then ``n - 1`` scrambled-Sobol configs
        ``"sobol-0001"``, ... with a fixed seed per family. Prefix-stable: the first 8 of
        ``config_set(32)`` are ``config_set(8)``; identical on every dataset and machine."""
        if n < 1:
            raise InputError(f"A config set needs at least 1 config; got {n}.")
        configs = {DEFAULT_CONFIG_ID: self.default_config()}
        if n > 1:
            from scipy.stats import qmc

            sampler = qmc.Sobol(d=len(self.space), scramble=True, seed=self.sobol_seed)
            with warnings.catch_warnings():  # balance properties want powers of 2; prefixes are what we need
                warnings.simplefilter("ignore", UserWarning)
                points = sampler.random(n - 1)
            for i, point in enumerate(points, start=1):
                configs[f"{SOBOL_PREFIX}{i:04d}"] = self.from_unit(point)
        return configs

    @property
    def sobol_seed(self) -> int:
        # A stable function of the name (Python's hash() is salted per process).
        return zlib.crc32(self.name.encode()) & 0x7FFFFFFF

    def params_for(self, task: str) -> list[str]:
        """The parameters that matter for ``task``, in space order."""
        return [name for name in self.space if self.task_params.get(name, task) == task]

    def config_for(self, config: Mapping[str, Any], task: str) -> dict[str, Any]:
        """``config`` without the parameters that do not apply to ``task`` (for display and results).

        Configs are stored, keyed and searched whole (the knowledge base's config ids, Sobol sets and
        Optuna params are the same for every task); only what is shown is trimmed.
        """
        keep = set(self.params_for(task))
        return {name: value for name, value in config.items() if name in keep}

    def validate_config(self, config: Mapping[str, Any] | None) -> dict[str, Any]:
        """The config with defaults filled in; unknown names or out-of-space values raise InputError."""
        config = dict(config or {})
        unknown = sorted(set(config) - set(self.space))
        if unknown:
            raise InputError(
                f"Family '{self.name}' has no parameter '{unknown[0]}'; its parameters are {', '.join(self.space)}."
            )
        full = {**self.default, **config}
        for name, dist in self.space.items():
            value = full[name]
            try:
                ok = dist._contains(dist.to_internal_repr(value))
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise InputError(f"Parameter '{name}' of family '{self.name}' is {value!r}, outside {_describe(dist)}.")
            if isinstance(dist, IntDistribution):
                full[name] = int(value)
            elif isinstance(dist, FloatDistribution):
                full[name] = float(value)
        return full

    # ---------------------------------------------------------- estimator
    def build_estimator(self, config: Mapping[str, Any] | None, task: str, data: Any, random_state: int = 0):
        """A scikit-learn Pipeline (preprocessing + model) for ``task`` on data like ``data``.

        Args:
            config: the family's hyperparameters (missing ones take their default).
            task: ``"classification"`` or ``"regression"``.
            data: a :class:`~autometa.data.Dataset`, the feature DataFrame, or a :class:`FeatureInfo`
                of the table the pipeline will be fit on.
            random_state: seed of the model.
        """
        if task not in TASKS:
            raise InputError(f"Task must be 'classification' or 'regression'; got {task!r}.")
        config = self.validate_config(config)
        try:
            return self.builder(config, task, feature_info(data), int(random_state))
        except ModuleNotFoundError as exc:  # an optional dependency of this family (torch for mlp)
            message = missing_extra_message(exc, f"The '{self.name}' family")
            if message is None:
                raise
            raise InputError(message) from None

    def fit(self, estimator: Any, X: Any, y: Any) -> Any:
        """``estimator.fit(X, y)`` for an estimator of :meth:`build_estimator`, without the warnings the
        family's construction raises (:attr:`fit_warnings`); every other warning passes."""
        if not self.fit_warnings:
            return estimator.fit(X, y)
        with warnings.catch_warnings():
            for start in self.fit_warnings:
                warnings.filterwarnings("ignore", message=re.escape(start))
            return estimator.fit(X, y)


def _from_unit(dist: BaseDistribution, x: float) -> Any:
    if isinstance(dist, CategoricalDistribution):
        return dist.choices[min(int(x * len(dist.choices)), len(dist.choices) - 1)]
    if isinstance(dist, IntDistribution):
        if dist.log:
            value = math.floor(math.exp(math.log(dist.low) + x * (math.log(dist.high + 1) - math.log(dist.low))))
        else:
            value = dist.low + math.floor(x * (dist.high - dist.low + 1))
        return int(min(max(value, dist.low), dist.high))
    assert isinstance(dist, FloatDistribution)
    if dist.log:
        value = math.exp(math.log(dist.low) + x * (math.log(dist.high) - math.log(dist.low)))
    else:
        value = dist.low + x * (dist.high - dist.low)
    # Rounded to 6 significant digits so that configs read well in JSON and tables.
    return float(min(max(float(f"{value:.6g}"), dist.low), dist.high))


def _to_unit(dist: BaseDistribution, value: Any) -> float:
    if isinstance(dist, CategoricalDistribution):
        return (dist.choices.index(value) + 0.5) / len(dist.choices)
    if isinstance(dist, IntDistribution):
        if dist.log:
            return (math.log(value + 0.5) - math.log(dist.low)) / (math.log(dist.high + 1) - math.log(dist.low))
        return (value - dist.low + 0.5) / (dist.high - dist.low + 1)
    if dist.log:
        return (math.log(value) - math.log(dist.low)) / (math.log(dist.high) - math.log(dist.low))
    return (value - dist.low) / (dist.high - dist.low)


def _describe(dist: BaseDistribution) -> str:
    if isinstance(dist, CategoricalDistribution):
        return "the choices " + ", ".join(map(repr, dist.choices))
    scale = " (log scale)" if getattr(dist, "log", False) else ""
    return f"[{dist.low}, {dist.high}]{scale}"
