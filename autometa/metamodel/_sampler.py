""":class:`MetaSampler`: an Optuna sampler that keeps using the meta-model after the warm start.

The search space is conditional: a ``family`` parameter, then that family's parameters named
``<family>.<param>`` (e.g. ``lightgbm.learning_rate``), so that one study can hold every family and
families that share a parameter name never collide. :func:`suggest_config` asks a trial for such a
config; :func:`trial_config` reads it back.

After the warm start, the meta-model and Optuna's TPE take turns
(:func:`autometa.metamodel._acquisition.meta_turn`: every other trial by default). On its turns the
sampler scores candidates (the knowledge base's configs not tried yet, random configs of every family,
and perturbations of the best configs so far) with :func:`autometa.metamodel._acquisition.acquisition`:
the meta-model's prediction for this dataset as the prior, corrected by the study's own results, and
answers the trial's ``suggest_*`` calls with the chosen config. On TPE's turns, TPE (which sees every
trial, the warm start included, and models from the first trial after it) samples. Everything it uses comes from the study's storage, so many workers on many
machines can share one study; trials still running count as "being looked at" (they make nearby
configs less attractive) so that workers spread out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from autometa.metamodel._acquisition import AcquisitionSettings, acquisition, meta_turn, normalize_observed

FAMILY_PARAM = "family"
try:  # optuna is a dependency; the import is guarded only so that this module documents cleanly
    from optuna.samplers import BaseSampler
except ImportError:  # pragma: no cover
    BaseSampler = object  # type: ignore[misc,assignment]


def param_name(family: str, name: str) -> str:
    return f"{family}.{name}"


def search_params(family: str, task: str | None = None) -> list[str]:
    """The parameters of ``family`` that a search on ``task`` tunes (all of them when ``task`` is None).

    Parameters that do not apply to the task (SVR's ``epsilon`` for classification) are left out,
    so that no sampler spends trials on a dimension the estimator ignores.
    """
    from autometa.spaces import get_family

    spec = get_family(family)
    return spec.params_for(task) if task else list(spec.space)


def suggest_config(trial: Any, families: Sequence[str], task: str | None = None) -> tuple[str, dict[str, Any]]:
    """Ask ``trial`` for a family (among ``families``) and that family's config for ``task``."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    from autometa.spaces import get_family

    family = trial.suggest_categorical(FAMILY_PARAM, list(families))
    space = get_family(family).space
    config: dict[str, Any] = {}
    for name in search_params(family, task):
        dist, key = space[name], param_name(family, name)
        if isinstance(dist, FloatDistribution):
            config[name] = trial.suggest_float(key, dist.low, dist.high, log=dist.log)
        elif isinstance(dist, IntDistribution):
            config[name] = trial.suggest_int(key, dist.low, dist.high, log=dist.log)
        elif isinstance(dist, CategoricalDistribution):
            config[name] = trial.suggest_categorical(key, dist.choices)
    return family, config


def trial_config(params: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """``(family, config)`` of a trial's params, or None when they are incomplete (a running trial).

    Parameters that apply to one task only are optional (a classification study has no SVR
    ``epsilon``); every other parameter of the family must be there.
    """
    from autometa.spaces import get_family, list_families

    family = params.get(FAMILY_PARAM)
    if family not in list_families():
        return None
    spec = get_family(family)
    config = {name: params[param_name(family, name)] for name in spec.space if param_name(family, name) in params}
    required = set(spec.space) - set(spec.task_params)
    return (family, config) if required <= set(config) else None


def fixed_params(family: str, config: Mapping[str, Any], task: str | None = None) -> dict[str, Any]:
    """The params of a trial that evaluates ``config`` of ``family`` on ``task`` (for ``enqueue_trial``)."""
    from autometa.spaces import get_family

    full = get_family(family).validate_config(config)
    return {FAMILY_PARAM: family, **{param_name(family, k): full[k] for k in search_params(family, task)}}


class MetaSampler(BaseSampler):
    """Meta-model-guided sampler for :func:`autometa.tune` (see the module docstring).

    Args:
        model: the fitted :class:`~autometa.metamodel.MetaModel` of the study's task and metric.
        metafeatures: the dataset's meta-features.
        families: the families the study searches.
        settings: the acquisition's settings.
        n_random: random candidate configs per family and trial.
        n_local: perturbations of the best configs so far, per trial.
        seed: seed of the candidates and of TPE.
        exclude_datasets: known datasets the meta-model must ignore (benchmarks: the dataset itself).
        n_warm: trials of the warm start (enqueued recommendations), after which TPE joins in.
    """

    def __init__(self, model: Any, metafeatures: Mapping[str, float], families: Sequence[str], *,
                 settings: AcquisitionSettings | None = None, n_random: int = 64, n_local: int = 32,
                 seed: int | None = None, exclude_datasets: Sequence[str] = (), n_warm: int = 5) -> None:
        from optuna.samplers import RandomSampler, TPESampler

        self.model = model
        self.metafeatures = dict(metafeatures)
        self.families = list(families)
        self.settings = settings or AcquisitionSettings()
        self.n_random = n_random
        self.n_local = n_local
        self._rng = np.random.default_rng(seed)
        self._fallback = RandomSampler(seed=seed)
        self.n_warm = n_warm
        self._tpe = TPESampler(seed=seed, n_startup_trials=max(n_warm, 1))
        self._exclude = list(exclude_datasets)
        self._neighbors = model.neighbors(self.metafeatures, exclude=self._exclude)
        eligible = model.candidates["family"].isin(self.families).to_numpy()
        self._kb = model.candidates[eligible]
        self._kb_pred = model.predict(self.metafeatures, self._kb, neighbors=self._neighbors)
        self._proposals: dict[int, dict[str, Any]] = {}
        # Configs are matched on the parameters the task uses (a classification trial has no SVR
        # epsilon, the knowledge base's stored config does).
        self.task = getattr(model, "task", None) or None
        self._kb_keys: dict[tuple[str, str], str] = {}
        for k, r in self._kb.iterrows():
            self._kb_keys.setdefault(self._key(r.family, r.config), k)

    # ---------------------------------------------------------- Optuna contract
    def infer_relative_search_space(self, study, trial):  # noqa: D102 - the joint proposal is made lazily
        return {}

    def sample_relative(self, study, trial, search_space):  # noqa: D102
        return {}

    def sample_independent(self, study, trial, param_name, param_distribution):  # noqa: D102
        proposal = self._proposals.get(trial._trial_id)
        if proposal is None:
            proposal = self._proposals[trial._trial_id] = (self.propose(study, trial)
                                                           if self._meta_turn(study, trial) else {})
        if not proposal:  # TPE's turn
            return self._tpe.sample_independent(study, trial, param_name, param_distribution)
        value = proposal.get(param_name)
        if value is not None:
            try:
                if param_distribution._contains(param_distribution.to_internal_repr(value)):
                    return value
            except (TypeError, ValueError):
                pass
        return self._fallback.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study, trial):  # noqa: D102
        self._tpe.before_trial(study, trial)

    def after_trial(self, study, trial, state, values):  # noqa: D102
        self._proposals.pop(trial._trial_id, None)
        self._tpe.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:  # noqa: D102
        self._rng = np.random.default_rng()
        self._fallback.reseed_rng()
        self._tpe.reseed_rng()

    def _meta_turn(self, study: Any, trial: Any) -> bool:
        from optuna.trial import TrialState

        states = (TrialState.COMPLETE, TrialState.FAIL, TrialState.RUNNING)
        n = sum(1 for t in study.get_trials(deepcopy=False, states=states) if t._trial_id != trial._trial_id)
        return meta_turn(n, self.n_warm, self.settings)

    # --------------------------------------------------------------- proposal
    def propose(self, study: Any, trial: Any) -> dict[str, Any]:
        """The params of the config to evaluate next (``family`` + ``<family>.<param>``)."""
        from optuna.study import StudyDirection
        from optuna.trial import TrialState

        sign = 1.0 if study.direction == StudyDirection.MAXIMIZE else -1.0
        observed: list[tuple[str, dict[str, Any]]] = []
        values, failed, pending = [], [], []
        states = (TrialState.COMPLETE, TrialState.FAIL, TrialState.RUNNING)
        for t in study.get_trials(deepcopy=False, states=states):
            if t._trial_id == trial._trial_id:
                continue
            parsed = trial_config(t.params)
            if parsed is None or parsed[0] not in self.families:
                continue
            observed.append(parsed)
            values.append(sign * t.value if t.state == TrialState.COMPLETE and t.value is not None else np.nan)
            failed.append(t.state == TrialState.FAIL)
            pending.append(t.state == TrialState.RUNNING)
        family, config = self.choose(observed, np.array(values, dtype=float), np.array(failed, dtype=bool),
                                     np.array(pending, dtype=bool))
        return fixed_params(family, config, self.task)

    def choose(self, observed: list[tuple[str, dict[str, Any]]], values: np.ndarray, failed: np.ndarray,
               pending: np.ndarray) -> tuple[str, dict[str, Any]]:
        """The best candidate given observed configs and their values (higher is better)."""
        cands = self._candidates(observed, values)
        pred = self._predict(cands)
        obs = self._frame(observed)
        enc_c = self.model.encoder.encode(list(cands["family"]), list(cands["config"]), self.task)
        if len(obs):
            enc_o = self.model.encoder.encode(list(obs["family"]), list(obs["config"]), self.task)
            obs_pred = self._predict(obs)["mean"].to_numpy()
            z = normalize_observed(values, failed)
            z[pending] = np.nan
        else:
            enc_o, obs_pred, z = np.zeros((0, enc_c.shape[1])), np.zeros(0), np.zeros(0)
        score = acquisition(pred["mean"].to_numpy(), pred["std"].to_numpy(), enc_c, enc_o, obs_pred, z, self.settings)
        best = int(np.argmax(score))
        return str(cands["family"].iloc[best]), dict(cands["config"].iloc[best])

    def _predict(self, cands: pd.DataFrame) -> pd.DataFrame:
        known = cands.index.isin(self._kb_pred.index)
        out = pd.DataFrame(index=cands.index, columns=["mean", "std"], dtype=float)
        if known.any():
            out.loc[known, ["mean", "std"]] = self._kb_pred.loc[cands.index[known], ["mean", "std"]].to_numpy()
        if (~known).any():
            new = cands[~known]
            out.loc[~known, ["mean", "std"]] = self.model.predict(self.metafeatures, new, neighbors=self._neighbors)[
                ["mean", "std"]].to_numpy()
        return out

    def _candidates(self, observed: list[tuple[str, dict[str, Any]]], values: np.ndarray) -> pd.DataFrame:
        from autometa.spaces import get_family

        tried = {self._key(f, c) for f, c in observed}
        rows = [(k, r.family, r.config) for k, r in self._kb.iterrows() if self._key(r.family, r.config) not in tried]
        for family in self.families:
            spec = get_family(family)
            for i, u in enumerate(self._rng.random((self.n_random, len(spec.space)))):
                rows.append((f"random:{family}:{i}", family, spec.from_unit(u)))
        finite = np.flatnonzero(np.isfinite(values))
        for rank, j in enumerate(finite[np.argsort(-values[finite])][:3]):
            family, config = observed[j]
            spec = get_family(family)
            centre = spec.to_unit(config)
            for i in range(self.n_local // 3):
                u = np.clip(centre + self._rng.normal(0.0, 0.1, size=len(centre)), 0.0, 1.0 - 1e-9)
                rows.append((f"local:{rank}:{i}", family, spec.from_unit(u)))
        # A config tried already (random draws and perturbations can land on one: integer and
        # categorical parameters, rounded floats) is never proposed again.
        seen = set(tried)
        unique = []
        for row in rows:
            key = self._key(row[1], row[2])
            if key not in seen:
                seen.add(key)
                unique.append(row)
        return pd.DataFrame({"family": [r[1] for r in unique], "config": [r[2] for r in unique]},
                            index=pd.Index([r[0] for r in unique], name="key"))


    def _frame(self, observed: list[tuple[str, dict[str, Any]]]) -> pd.DataFrame:
        # An observed config that is one of the knowledge base's keeps its key, hence its blended prior.
        # Such a trial is encoded as the stored config (task-only parameters included).
        keys = [self._kb_keys.get(self._key(f, c), f"obs:{i}") for i, (f, c) in enumerate(observed)]
        configs = [self._kb.at[k, "config"] if k in self._kb.index else c for k, (_, c) in zip(keys, observed, strict=True)]
        return pd.DataFrame({"family": [f for f, _ in observed], "config": configs},
                            index=pd.Index(keys, name="key"))

    def _key(self, family: str, config: Mapping[str, Any]) -> tuple[str, str]:
        from autometa.spaces import get_family

        trimmed = get_family(family).config_for(config, self.task) if self.task else config
        return family, _dump(trimmed)


def _dump(config: Mapping[str, Any]) -> str:
    return json.dumps(dict(config), sort_keys=True, default=str)
