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
trial, the warm start included, and models from the first trial after it) samples. Everything it uses
comes from the study's storage, so many workers on many machines can share one study; trials still
running count as "being looked at" (they make nearby configs less attractive) so that workers spread out.

A proposal must be cheap next to an evaluation (the target: 20 ms with the shipped knowledge base,
``benchmarks/sampler_speed.py``), so every config the sampler knows sits in one table of arrays
(:class:`_Candidates`: key, encoding, prior), filled once per config: the knowledge base's configs at
construction, a pool of random configs per family at the first proposal, then only what a proposal
meets for the first time (a TPE trial's config, fresh perturbations), whose prior is computed in one
batch. Parameters that are not autometa's (a search space of the user's, or a ``family`` parameter
whose choices are not autometa's families) go to TPE untouched, with no proposal made.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from autometa.metamodel._acquisition import AcquisitionSettings, acquisition, meta_turn, normalize_observed
from autometa.metamodel._transfer import TransferSettings, transfer_mixture
from autometa.spaces import (  # the search-space encoding (one definition, re-exported here)
    FAMILY_PARAM,
    fixed_params,
    param_name,
    trial_config,
)

if TYPE_CHECKING:  # pragma: no cover
    from optuna.distributions import BaseDistribution
    from optuna.study import Study
    from optuna.trial import FrozenTrial, TrialState

    from autometa.metamodel._model import MetaModel

try:  # optuna is a dependency; the import is guarded only so that this module documents cleanly
    from optuna.samplers import BaseSampler
except ImportError:  # pragma: no cover
    BaseSampler = object  # type: ignore[misc,assignment]


class MetaSampler(BaseSampler):
    """Meta-model-guided Optuna sampler of :func:`autometa.tune` (see the module docstring).

    It samples autometa's conditional search space: a ``family`` categorical whose choices are autometa
    families, and ``<family>.<param>`` parameters (:func:`suggest_config`). Any other parameter, and
    every parameter of a trial on TPE's turn, is sampled by its own :class:`~optuna.samplers.TPESampler`,
    so that the sampler also works on any other search space (as TPE). It is single-objective: a study
    with several directions gets a :class:`ValueError` at its first sampled parameter (the meta-model
    predicts one metric; use e.g. :class:`~optuna.samplers.NSGAIISampler` or TPE for such a study).

    Args:
        model: the fitted :class:`~autometa.metamodel.MetaModel` of the study's task and metric.
        metafeatures: the dataset's meta-features.
        families: the families the study searches.
        settings: the acquisition's settings.
        n_random: random candidate configs per family and proposal, drawn from a pool of
            ``4 * n_random`` per family whose prior is computed once, at the first proposal.
        n_local: perturbations of the three best configs so far, per proposal.
        seed: seed of the candidates and of TPE.
        exclude_datasets: known datasets the meta-model must ignore (benchmarks: the dataset itself).
        n_warm: trials of the warm start (enqueued recommendations), after which TPE joins in.
        transfer: how the known datasets are re-weighted by the study's results
            (:class:`~autometa.metamodel._transfer.TransferSettings`; ``enabled=False`` keeps the prior
            fixed by meta-feature distance).

    Example:
        >>> sampler = MetaSampler(load_metamodel("classification"), metafeatures, ["lightgbm", "svm"], seed=0)
        >>> study = optuna.create_study(direction="maximize", sampler=sampler)
        >>> study.optimize(lambda t: score(*suggest_config(t, ["lightgbm", "svm"])), n_trials=30)
    """

    def __init__(self, model: MetaModel, metafeatures: Mapping[str, float], families: Sequence[str], *,
                 settings: AcquisitionSettings | None = None, n_random: int = 64, n_local: int = 32,
                 seed: int | None = None, exclude_datasets: Sequence[str] = (), n_warm: int = 5,
                 transfer: TransferSettings | None = None) -> None:
        from optuna.samplers import TPESampler

        from autometa.spaces import get_family, list_families

        self.model = model
        self.metafeatures = dict(metafeatures)
        self.families = list(families)
        self.settings = settings or AcquisitionSettings()
        self.n_random = n_random
        self.n_local = n_local
        self.n_warm = n_warm
        # Configs are matched on the parameters the task uses (a classification trial has no SVR
        # epsilon, the knowledge base's stored config does).
        self.task = getattr(model, "task", None) or None
        self._rng = np.random.default_rng(seed)
        self._tpe = TPESampler(seed=seed, n_startup_trials=max(n_warm, 1))
        self._exclude = list(exclude_datasets)
        self._neighbors = model.neighbors(self.metafeatures, exclude=self._exclude)
        # What makes a parameter autometa's: the name "family" with autometa families as choices, or
        # "<family>.<param>" of a known family's space (one set lookup per call, so foreign spaces
        # cost nothing).
        self._our_families = frozenset(list_families())
        self._our_params = frozenset(param_name(f, p) for f in self._our_families for p in get_family(f).space)
        # trial id -> (study, proposal); {} is TPE's turn. Entries of the study's trials that are no
        # longer running are dropped at each new proposal, and there are never more than _MAX_PROPOSALS.
        self._proposals: dict[int, tuple[tuple[int, int], dict[str, Any]]] = {}
        self._lock = threading.RLock()
        self._parsed: dict[int, tuple[dict[str, Any], Any]] = {}  # trial id -> (params, ((family, config), key))
        self._table = _Candidates(model.encoder.width)
        self._local: dict[tuple[str, str], list[int]] = {}
        self._pool: dict[str, np.ndarray] = {}
        eligible = model.candidates["family"].isin(self.families).to_numpy()
        kb = model.candidates[eligible]
        kb_rows = self._add(list(kb["family"]), list(kb["config"]), _KB, prior=self._prior(kb))
        # Study-adaptive transfer: the known datasets' tables (less the excluded ones), the knowledge-base
        # column of each of the first rows (the knowledge base's configs, in order), and a cache of the
        # column that stands for every later row.
        self.transfer = transfer or TransferSettings()
        keep = np.array([d not in set(self._exclude) for d in model.dataset_ids], dtype=bool)
        self._known = np.asarray(model.normalized, dtype=float)[keep]
        # Two stored configs can share a row (they differ only in a parameter the task ignores): the
        # first one's column stands for it.
        self._columns = np.full(len(self._table), -1, dtype=int)
        for row, column in reversed(list(zip(kb_rows, np.flatnonzero(eligible), strict=True))):
            self._columns[row] = column

    # ---------------------------------------------------------- Optuna contract
    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        """TPE's joint search space without autometa's parameters (their joint proposal is made at a
        trial's first autometa parameter, :meth:`sample_independent`)."""
        self._check_single_objective(study)
        space = self._tpe.infer_relative_search_space(study, trial)
        return {name: d for name, d in space.items() if not self._is_ours(name, d)}

    def sample_relative(self, study: Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        """TPE's joint sample of the parameters that are not autometa's."""
        self._check_single_objective(study)
        return self._tpe.sample_relative(study, trial, search_space) if search_space else {}

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        """The proposal's value of an autometa parameter on the meta-model's turn, else TPE's."""
        self._check_single_objective(study)
        entry = self._proposals.get(trial._trial_id)
        if entry is None:
            if not self._is_ours(param_name, param_distribution):  # a foreign parameter: TPE, no proposal
                return self._tpe.sample_independent(study, trial, param_name, param_distribution)
            entry = self._new_proposal(study, trial)
        value = entry[1].get(param_name)
        if value is not None:
            try:
                if param_distribution._contains(param_distribution.to_internal_repr(value)):
                    return value
            except (TypeError, ValueError):
                pass
        return self._tpe.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:  # noqa: D102
        self._tpe.before_trial(study, trial)

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:  # noqa: D102
        self._proposals.pop(trial._trial_id, None)
        self._tpe.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:  # noqa: D102
        self._rng = np.random.default_rng()
        self._tpe.reseed_rng()

    def __getstate__(self) -> dict[str, Any]:
        # A lock cannot be pickled (multiprocessing, distributed workers): each copy gets its own.
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    def _check_single_objective(self, study: Study) -> None:
        if study._is_multi_objective():
            raise ValueError(f"MetaSampler optimizes one objective (the meta-model predicts one metric), and this "
                             f"study has {len(study.directions)} directions; use a multi-objective sampler such as "
                             "optuna.samplers.NSGAIISampler or optuna.samplers.TPESampler for it.")

    def _is_ours(self, name: str, distribution: BaseDistribution) -> bool:
        """Whether a parameter belongs to autometa's space (a user's own ``family`` does not)."""
        from optuna.distributions import CategoricalDistribution

        if name == FAMILY_PARAM:
            return (isinstance(distribution, CategoricalDistribution) and len(distribution.choices) > 0
                    and all(isinstance(c, str) and c in self._our_families for c in distribution.choices))
        return name in self._our_params

    def _new_proposal(self, study: Study, trial: FrozenTrial) -> tuple[tuple[int, int], dict[str, Any]]:
        from optuna.trial import TrialState

        states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)
        others = [t for t in study.get_trials(deepcopy=False, states=states) if t._trial_id != trial._trial_id]
        with self._lock:
            # Proposals of this study's trials that are no longer running (finished elsewhere, or
            # abandoned by a dead worker) are dropped; the cache stays bounded whatever happens.
            running = {t._trial_id for t in others if t.state == TrialState.RUNNING}
            sid = (id(study._storage), study._study_id)  # trial and study ids are unique per storage only
            for tid in [tid for tid, (s, _) in self._proposals.items() if s == sid and tid not in running]:
                del self._proposals[tid]
            while len(self._proposals) >= _MAX_PROPOSALS:
                del self._proposals[next(iter(self._proposals))]
            proposal = self.propose(study, trial) if meta_turn(len(others), self.n_warm, self.settings) else {}
            entry = self._proposals[trial._trial_id] = (sid, proposal)
        return entry

    # --------------------------------------------------------------- proposal
    def propose(self, study: Study, trial: FrozenTrial) -> dict[str, Any]:
        """The params of the config to evaluate next (``family`` + ``<family>.<param>``), from the study's
        trials other than ``trial``."""
        self._check_single_objective(study)
        with self._lock:
            return self._propose(study, trial)

    def _propose(self, study: Study, trial: FrozenTrial) -> dict[str, Any]:
        from optuna.study import StudyDirection
        from optuna.trial import TrialState

        states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)
        sign = 1.0 if study.direction == StudyDirection.MAXIMIZE else -1.0
        observed: list[tuple[str, dict[str, Any]]] = []
        keys: list[tuple[str, str]] = []
        values, failed, pending = [], [], []
        parsed_now: dict[int, tuple[dict[str, Any], Any]] = {}
        sid = (id(study._storage), study._study_id)
        for t in study.get_trials(deepcopy=False, states=states):
            if t._trial_id == trial._trial_id:
                continue
            params = t.params
            if t.state == TrialState.RUNNING:
                # A running trial of this process (another thread's, n_jobs > 1) may not have all its
                # params yet: its proposal says what it will evaluate.
                entry = self._proposals.get(t._trial_id)
                if entry is not None and entry[0] == sid and entry[1]:
                    params = entry[1]
            # A finished trial's params never change: parsed once (the check guards against another
            # storage's trial of the same id).
            cached = self._parsed.get(t._trial_id)
            if cached is None or cached[0] != params:
                config = trial_config(params)
                cached = (params, None if config is None else (config, self._key(*config)))
            if t.state != TrialState.RUNNING:
                parsed_now[t._trial_id] = cached
            if cached[1] is None or cached[1][0][0] not in self.families:
                continue
            value = protocol_value(t)
            if t.state == TrialState.PRUNED and value is None:  # a skipped twin: nothing was measured
                continue
            observed.append(cached[1][0])
            keys.append(cached[1][1])
            values.append(np.nan if value is None else sign * value)
            failed.append(t.state == TrialState.FAIL)
            pending.append(t.state == TrialState.RUNNING)
        self._parsed = parsed_now
        family, config = self._choose(observed, keys, np.array(values, dtype=float), np.array(failed, dtype=bool),
                                      np.array(pending, dtype=bool))
        return fixed_params(family, config, self.task)

    def choose(self, observed: Sequence[tuple[str, Mapping[str, Any]]], values: np.ndarray, failed: np.ndarray,
               pending: np.ndarray) -> tuple[str, dict[str, Any]]:
        """The best candidate given observed configs and their values (higher is better).

        Args:
            observed: the ``(family, config)`` of the study's trials.
            values: their results, higher is better (NaN: failed or running).
            failed: which failed.
            pending: which are still running (they count as being looked at, not as results).

        Candidates: the knowledge base's configs, ``n_random`` configs of each family from the random
        pool, and perturbations of the three best observed configs; a config already observed is never
        one. Each is scored by :func:`~autometa.metamodel._acquisition.acquisition` on its prior
        (:meth:`_study_prior`) and the observations.
        """
        keys = [self._key(f, c) for f, c in observed]
        return self._choose(list(observed), keys, np.asarray(values, dtype=float), np.asarray(failed, dtype=bool),
                            np.asarray(pending, dtype=bool))

    def _choose(self, observed: list[tuple[str, Mapping[str, Any]]], keys: list[tuple[str, str]], values: np.ndarray,
                failed: np.ndarray, pending: np.ndarray) -> tuple[str, dict[str, Any]]:
        with self._lock:
            self._ensure_pool()
            table = self._table
            centres, draws, owners = self._local_draws(observed, keys, values)
            # Configs new to the table (trials of TPE or of the user, fresh perturbations) get their
            # prior in one batch.
            first = {k: i for i, k in reversed(list(enumerate(keys)))}
            new_obs = [first[k] for k in dict.fromkeys(keys) if k not in table.row]
            rows = self._add([observed[i][0] for i in new_obs] + [f for f, _ in draws],
                             [observed[i][1] for i in new_obs] + [c for _, c in draws],
                             np.array([_OBSERVED] * len(new_obs) + [_LOCAL] * len(draws)))
            for owner, row in zip(owners, rows[len(new_obs):], strict=True):
                if table.kind[row] == _LOCAL and row not in self._local[owner]:
                    self._local[owner].append(int(row))
            obs = np.array([table.row[k] for k in keys], dtype=int)
            local = list(dict.fromkeys(r for key in centres for r in self._local[key]))
            cand = np.concatenate([np.flatnonzero(table.kind == _KB),
                                   *(self._rng.permutation(pool)[: self.n_random] for pool in self._pool.values()),
                                   np.array(local, dtype=int)]).astype(int)
            # A config tried already (a perturbation can land on one: integer and categorical
            # parameters, rounded floats) is never proposed again.
            tried = np.zeros(len(table), dtype=bool)
            tried[obs] = True
            cand = cand[~tried[cand]]
            done = ~pending
            mean, std = self._study_prior(np.concatenate([cand, obs]), obs[done], values[done], failed[done])
            if len(obs):
                z = normalize_observed(values, failed)
                z[pending] = np.nan
            else:
                z = np.zeros(0)
            score = acquisition(mean[: len(cand)], std[: len(cand)], table.enc[cand], table.enc[obs],
                                mean[len(cand):], z, self.settings)
            best = int(cand[int(np.argmax(score))])
            return table.family[best], dict(table.config[best])

    def _study_prior(self, rows: np.ndarray, obs: np.ndarray, values: np.ndarray,
                     failed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The prior (mean, std) of the candidate table's ``rows`` that the acquisition corrects.

        ``obs`` are the rows of the study's finished configs and ``values``/``failed`` their results. The
        fixed prior (:meth:`_prior`, by meta-feature distance) is blended with the known datasets
        re-weighted by how well they rank these results (:mod:`autometa.metamodel._transfer`); each
        known dataset scores a config by its own table: the config itself, or the nearest config of
        the same family it evaluated (:meth:`_kb_column`).
        """
        mean, std = self._table.mean[rows], self._table.std[rows]
        if len(obs) < 2 or not self.transfer.enabled:
            return mean, std
        values = np.where(failed, np.nan, values)
        mixture, lam = transfer_mixture(self._known, self._kb_column(obs), values, self.transfer)
        if lam == 0.0:
            return mean, std
        other = mixture[self._kb_column(rows)]
        return np.where(np.isfinite(other), (1 - lam) * mean + lam * other, mean), std

    def _kb_column(self, rows: np.ndarray) -> np.ndarray:
        """For candidate-table rows: the column (knowledge-base config) that stands for each in the known
        datasets' tables: a knowledge-base config itself, else the nearest one of its family in the
        family's unit cube. Cached per row."""
        table = self._table
        if len(self._columns) < len(table):
            start = len(self._columns)
            kb_rows = np.flatnonzero((table.kind[: len(self._columns)] == _KB) & (self._columns >= 0))
            kb_enc = table.enc[kb_rows]
            extra = np.zeros(len(table) - start, dtype=int)
            new = table.enc[start:]
            # One family at a time (the random pool adds hundreds of rows at once).
            for code in np.unique(new[:, 0]):
                mine = np.flatnonzero(new[:, 0] == code)
                same = kb_rows[kb_enc[:, 0] == code]
                pool = same if len(same) else kb_rows
                if not len(pool):
                    continue
                diff = table.enc[pool, 1:][None, :, :] - new[mine, 1:][:, None, :]
                nearest = np.argmin((np.where(np.isnan(diff), 0.0, diff) ** 2).sum(axis=2), axis=1)
                extra[mine] = self._columns[pool[nearest]]
            self._columns = np.concatenate([self._columns, extra])
        return self._columns[np.asarray(rows, dtype=int)]

    # ------------------------------------------------------------- candidates
    def _prior(self, candidates: pd.DataFrame, encoded: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Prior mean and standard deviation of each candidate's normalized score on this dataset.

        ``candidates`` has ``family`` and ``config`` columns, indexed by the knowledge base's key for its
        configs (they get the nearest datasets' observed scores too) and by any other string for new
        configs. Batches are all of the knowledge base or all new (the meta-model's fill-in spread for
        new configs must not depend on the batch). Every prior goes through here, once per config: the
        values are cached, so they must depend on the config only.
        """
        pred = self.model.predict(self.metafeatures, candidates, neighbors=self._neighbors, encoded=encoded)
        return pred["mean"].to_numpy(dtype=float), pred["std"].to_numpy(dtype=float)

    def _add(self, families: list[str], configs: list[Mapping[str, Any]], kind: int | np.ndarray,
             prior: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """Add configs to the candidate table; their rows, in order.

        A config whose key is in the table already keeps its row (the knowledge base's first copy wins).
        ``kind``: the rows' kind (one for all, or one each); ``prior``: the configs' prior (else computed
        here, in one batch of new configs).
        """
        rows = np.empty(len(families), dtype=int)
        new: list[int] = []
        seen: dict[tuple[str, str], int] = {}
        keys = []
        for i, (family, config) in enumerate(zip(families, configs, strict=True)):
            key = self._key(family, config)
            keys.append(key)
            row = self._table.row.get(key, seen.get(key))
            if row is None:
                seen[key] = len(self._table) + len(new)
                new.append(i)
                rows[i] = seen[key]
            else:
                rows[i] = row
        if new:
            fam = [families[i] for i in new]
            conf = [dict(configs[i]) for i in new]
            # Each config's unit-cube point is computed once: the prior's encoding (no task) gives the
            # table's (for the task) by moving the parameters the task ignores to the centre.
            free = self.model.encoder.encode(fam, conf)
            if prior is None:
                labels = pd.Index([f"new:{len(self._table) + j}" for j in range(len(new))], name="key")
                mean, std = self._prior(pd.DataFrame({"family": fam, "config": conf}, index=labels), free)
            else:
                mean, std = prior[0][new], prior[1][new]
            enc = self.model.encoder.for_task(free, fam, self.task) if self.task else free
            self._table.extend(fam, conf, [keys[i] for i in new], enc, mean, std, np.broadcast_to(kind, len(families))[new])
        return rows

    def _ensure_pool(self) -> None:
        """Draw the random candidates of every family and compute their prior, once."""
        from autometa.spaces import get_family

        if self._pool or not self.families:
            return
        families, configs, owner = [], [], []
        size = _POOL_FACTOR * self.n_random
        for family in self.families:
            spec = get_family(family)
            for u in self._rng.random((size, len(spec.space))):
                families.append(family)
                configs.append(spec.from_unit(u))
        rows = self._add(families, configs, _POOL)
        owner = np.array(families)
        for family in self.families:
            mine = rows[owner == family]
            # A random config that is a knowledge-base config (or drawn twice) is a candidate once.
            self._pool[family] = np.unique(mine[self._table.kind[mine] == _POOL])

    def _local_draws(self, observed: Sequence[tuple[str, Mapping[str, Any]]], keys: list[tuple[str, str]],
                     values: np.ndarray) -> tuple[list[tuple[str, str]], list[tuple[str, dict[str, Any]]],
                                                  list[tuple[str, str]]]:
        """The three best observed configs (keys), and fresh perturbations to add to their local sets.

        Each centre keeps ``n_local // 3`` untried perturbations, drawn once; only those tried since are
        replaced (with the centre's key as owner), so that most proposals compute no new prior.
        """
        from autometa.spaces import get_family

        per = self.n_local // 3
        finite = np.flatnonzero(np.isfinite(values))
        best = [int(j) for j in finite[np.argsort(-values[finite], kind="stable")][:3]]
        tried = set(keys)
        centres, draws, owners = [], [], []
        for j in best:
            family, config = observed[j]
            if keys[j] in centres:
                continue
            centres.append(keys[j])
            kept = [r for r in self._local.get(keys[j], []) if self._table.key[r] not in tried]
            self._local[keys[j]] = kept
            if len(kept) < per:
                spec = get_family(family)
                centre = spec.to_unit(config)
                noise = self._rng.normal(0.0, 0.1, size=(per - len(kept), len(centre)))
                for u in np.clip(centre + noise, 0.0, 1.0 - 1e-9):
                    draws.append((family, spec.from_unit(u)))
                    owners.append(keys[j])
        return centres, draws, owners

    def _key(self, family: str, config: Mapping[str, Any]) -> tuple[str, str]:
        from autometa.spaces import get_family

        trimmed = get_family(family).config_for(config, self.task) if self.task else config
        return family, _dump(trimmed)


#: Kinds of rows of the candidate table: the knowledge base's configs, the random pool, perturbations of
#: the best configs, and configs only observed (trials of TPE or of the user: never proposed).
_KB, _POOL, _LOCAL, _OBSERVED = 0, 1, 2, 3
#: Random pool per family, as a multiple of ``n_random``.
_POOL_FACTOR = 4
#: Most trials whose proposal is remembered at once (trials running in parallel on this sampler).
_MAX_PROPOSALS = 1024


class _Candidates:
    """Every config the sampler knows, with its key, encoding (for the task) and prior, as arrays."""

    def __init__(self, width: int) -> None:
        self.family: list[str] = []
        self.config: list[dict[str, Any]] = []
        self.key: list[tuple[str, str]] = []
        self.row: dict[tuple[str, str], int] = {}
        self.enc = np.zeros((0, width))
        self.mean = np.zeros(0)
        self.std = np.zeros(0)
        self.kind = np.zeros(0, dtype=int)

    def __len__(self) -> int:
        return len(self.key)

    def extend(self, families: list[str], configs: list[dict[str, Any]], keys: list[tuple[str, str]],
               enc: np.ndarray, mean: np.ndarray, std: np.ndarray, kind: np.ndarray) -> None:
        start = len(self.key)
        self.family += families
        self.config += configs
        self.key += keys
        self.row.update((k, start + i) for i, k in enumerate(keys))
        self.enc = np.vstack([self.enc, enc])
        self.mean = np.concatenate([self.mean, mean])
        self.std = np.concatenate([self.std, std])
        self.kind = np.concatenate([self.kind, np.asarray(kind, dtype=int)])


def _dump(config: Mapping[str, Any]) -> str:
    return json.dumps(dict(config), sort_keys=True, default=str)


def protocol_value(trial: FrozenTrial) -> float | None:
    """A trial's score at the fidelity the meta-model predicts: its first reported intermediate value
    (multi-fidelity tuning reports one per row budget, the protocol's 2,000 rows first), else its value.

    So trials that a multi-fidelity search stopped early (pruned) count as evidence too, and a trial
    promoted to all rows is compared on the rows every other trial was scored on.
    """
    from optuna.trial import TrialState

    if trial.intermediate_values:
        return float(trial.intermediate_values[min(trial.intermediate_values)])
    if trial.state == TrialState.COMPLETE and trial.value is not None:
        return float(trial.value)
    return None
