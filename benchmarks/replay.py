"""Replaying search methods over a knowledge base's complete score table (a tabular benchmark).

On a held-out dataset whose every knowledge-base config was evaluated, a "trial" is a table lookup.
Each method picks configs one at a time from that dataset's table, without repeats:

``warm``       autometa: the meta-model's top ``n_warm`` ranking, then the meta-model-guided
               acquisition (:mod:`autometa.metamodel._acquisition`) and TPE taking turns, as in
               ``autometa.tune``;
``warm-fixed`` the same with the prior fixed by meta-feature distance (no re-weighting of the known
               datasets by the study's results, :mod:`autometa.metamodel._transfer`);
``zero-shot``  autometa's first recommendation only (its curve is flat after one trial);
``tpe``        Optuna's TPESampler, cold, over the same conditional space as ``autometa.tune``; each
               proposal is snapped to the nearest configuration of the table that was not tried yet
               (nearest in the family's unit cube), and TPE is told the snapped config and its score;
``random``     a random order of the table;
``defaults``   the families' default configs (LightGBM first), then nothing more.

The meta-model must have been fitted without the held-out dataset (leave-one-dataset-out).
Results are raw scores (best so far after each trial), normalized later with everything else
observed on that dataset.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

# The harness replays the meta-model's own parts (private by design: they are what is measured).
from autometa.metamodel._acquisition import AcquisitionSettings, acquisition, meta_turn, normalize_observed
from autometa.metamodel._training import TrainingData, higher_is_better
from autometa.metamodel._transfer import TransferSettings, adapted_prior

METHODS: tuple[str, ...] = ("warm", "warm-fixed", "zero-shot", "tpe", "random", "defaults")
#: The order in which "library defaults" are tried.
DEFAULTS_ORDER: tuple[str, ...] = ("lightgbm", "hist_gradient_boosting", "random_forest", "extra_trees", "svm",
                                   "linear", "knn")


class Table:
    """One dataset's configs (model candidate order) with their scores, higher is better."""

    def __init__(self, model: Any, data: TrainingData, dataset_id: str) -> None:
        keys = list(model.candidates.index)
        raw = data.scores.loc[dataset_id].reindex(keys).to_numpy(dtype=float)
        norm = data.normalized.loc[dataset_id].reindex(keys).to_numpy(dtype=float)
        self.sign = 1.0 if higher_is_better(data.metric) else -1.0
        self.keys = keys
        self.available = np.isfinite(norm)  # evaluated (ok or failed) on this dataset
        self.value = self.sign * raw  # NaN for failures: they improve nothing
        self.failed = self.available & ~np.isfinite(raw)
        self.families = model.candidates["family"].to_numpy()
        self.encoded = model.encoder.encode(list(model.candidates["family"]), list(model.candidates["config"]),
                                            task=model.task)

    def curve(self, order: Sequence[int], n_trials: int) -> np.ndarray:
        """Best raw score (in the metric's own direction) after each of ``n_trials`` trials."""
        best = np.full(n_trials, np.nan)
        current = -np.inf
        for t in range(n_trials):
            if t < len(order) and np.isfinite(self.value[order[t]]):
                current = max(current, self.value[order[t]])
            best[t] = current if np.isfinite(current) else np.nan
        return self.sign * best


def warm_order(model: Any, mf: dict[str, float], table: Table, n_trials: int, n_warm: int = 5,
               settings: AcquisitionSettings | None = None, prediction: pd.DataFrame | None = None,
               seed: int = 0, transfer: TransferSettings | None = None) -> list[int]:
    """autometa's order: the top ``n_warm`` recommendations, then the meta-model's acquisition and TPE
    taking turns (:func:`autometa.metamodel._acquisition.meta_turn`), one config at a time."""
    settings = settings or AcquisitionSettings()
    pred = model.predict(mf) if prediction is None else prediction
    order = list(model.rank(mf, min(n_warm, n_trials), eligible=table.available, prediction=pred))
    mean, std = pred["mean"].to_numpy(), pred["std"].to_numpy()
    remaining = table.available.copy()
    remaining[order] = False
    tpe = _TPEProposer(model, table, seed, n_startup=n_warm)
    for pick in order:
        tpe.observe(pick)
    while len(order) < n_trials and remaining.any():
        if meta_turn(len(order), n_warm, settings):
            tried = np.array(order)
            z = normalize_observed(table.value[tried], table.failed[tried])
            cand = np.flatnonzero(remaining)
            prior = adapted_prior(mean, model.normalized, tried, table.value[tried], transfer or TransferSettings())
            score = acquisition(prior[cand], std[cand], table.encoded[cand], table.encoded[tried], prior[tried], z,
                                settings)
            pick = int(cand[int(np.argmax(score))])
        else:
            pick = tpe.propose(remaining)
        tpe.observe(pick)
        order.append(pick)
        remaining[pick] = False
    return order


def random_order(table: Table, n_trials: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    return [int(i) for i in rng.permutation(np.flatnonzero(table.available))[:n_trials]]


def defaults_order(model: Any, table: Table) -> list[int]:
    ids = model.candidates["config_id"].to_numpy()
    order = []
    for family in DEFAULTS_ORDER:
        hit = np.flatnonzero((table.families == family) & (ids == "default") & table.available)
        order.extend(int(i) for i in hit[:1])
    return order


def tpe_order(model: Any, table: Table, n_trials: int, seed: int) -> list[int]:
    """Cold TPE over the conditional space, proposals snapped to the nearest untried table config."""
    tpe = _TPEProposer(model, table, seed)
    remaining = table.available.copy()
    order: list[int] = []
    while len(order) < n_trials and remaining.any():
        pick = tpe.propose(remaining)
        tpe.observe(pick)
        order.append(pick)
        remaining[pick] = False
    return order


class _TPEProposer:
    """Optuna's TPESampler over the conditional space of ``autometa.tune``, on a table: each proposal
    is snapped to the nearest untried config of the table, and TPE is told that config and its score."""

    def __init__(self, model: Any, table: Table, seed: int, n_startup: int | None = None) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        self.model, self.table = model, table
        self.families = [f for f in DEFAULTS_ORDER if ((table.families == f) & table.available).any()]
        kwargs = {} if n_startup is None else {"n_startup_trials": n_startup}
        self.study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed, **kwargs))

    def propose(self, remaining: np.ndarray) -> int:
        from optuna.trial import TrialState

        from autometa.spaces import suggest_config

        trial = self.study.ask()
        family, config = suggest_config(trial, self.families, self.model.task)
        self.study.tell(trial, state=TrialState.FAIL)  # the proposal itself is replaced by the snapped config
        return _nearest(self.model, self.table, remaining, family, config)

    def observe(self, pick: int) -> None:
        import optuna
        from optuna.trial import TrialState, create_trial

        from autometa.spaces import FAMILY_PARAM, fixed_params, get_family, param_name, search_params

        family = str(self.table.families[pick])
        params = fixed_params(family, self.model.candidates["config"].iloc[pick], self.model.task)
        space = get_family(family).space
        distributions = {FAMILY_PARAM: optuna.distributions.CategoricalDistribution(self.families),
                         **{param_name(family, n): space[n] for n in search_params(family, self.model.task)}}
        value = self.table.value[pick]
        if np.isfinite(value):
            self.study.add_trial(create_trial(params=params, distributions=distributions, value=float(value)))
        else:
            self.study.add_trial(create_trial(params=params, distributions=distributions, state=TrialState.FAIL))


def _nearest(model: Any, table: Table, remaining: np.ndarray, family: str, config: dict[str, Any]) -> int:
    point = model.encoder.encode([family], [config], task=model.task)[0]
    same = np.flatnonzero(remaining & (table.families == family))
    pool = same if len(same) else np.flatnonzero(remaining)
    if not len(same):  # the family is exhausted: any untried config, nearest by nothing in particular
        return int(pool[0])
    cols = 1 + np.flatnonzero(np.isfinite(point[1:]))
    d = ((table.encoded[np.ix_(pool, cols)] - point[cols]) ** 2).sum(axis=1) if len(cols) else np.zeros(len(pool))
    return int(pool[int(np.argmin(d))])


def replay(model: Any, data: TrainingData, dataset_id: str, *, seeds: Sequence[int] = (0, 1, 2),
           n_trials: int = 50, n_warm: int = 5, methods: Sequence[str] = METHODS,
           settings: AcquisitionSettings | None = None) -> pd.DataFrame:
    """Best-so-far curves of each method (and seed) on one held-out dataset.

    Returns long rows: dataset_id, method, seed, k (1..n_trials), best (raw metric), family_first
    (the family of the method's first trial).
    """
    table = Table(model, data, dataset_id)
    mf = data.metafeatures.loc[dataset_id].to_dict()
    pred = model.predict(mf)
    rows = []
    deterministic: dict[str, list[int]] = {}
    for method in methods:
        for seed in seeds:
            if method in ("zero-shot", "defaults") and method in deterministic:
                order = deterministic[method]
            elif method in ("warm", "warm-fixed"):
                transfer = TransferSettings(enabled=method == "warm")
                order = warm_order(model, mf, table, n_trials, n_warm, settings, prediction=pred, seed=seed,
                                   transfer=transfer)
            elif method == "zero-shot":
                order = list(model.rank(mf, 1, eligible=table.available, prediction=pred))
            elif method == "defaults":
                order = defaults_order(model, table)
            elif method == "tpe":
                order = tpe_order(model, table, n_trials, seed)
            elif method == "random":
                order = random_order(table, n_trials, seed)
            else:
                raise ValueError(f"unknown method {method!r}")
            if method in ("zero-shot", "defaults"):
                deterministic[method] = order
            curve = table.curve(order, n_trials)
            first = str(table.families[order[0]]) if order else ""
            rows.extend({"dataset_id": dataset_id, "method": method, "seed": seed, "k": k + 1, "best": curve[k],
                         "family_first": first} for k in range(n_trials))
    return pd.DataFrame(rows)


def lodo_replays(data: TrainingData, dataset_ids: Sequence[str], settings: Any, *,
                 groups: dict[str, str] | None = None, n_jobs: int = 1,
                 **replay_kwargs: Any) -> Iterator[tuple[str, pd.DataFrame]]:
    """``(dataset_id, curves)`` of :func:`replay` for each held-out dataset, with the meta-model refitted
    without that dataset's whole group (``groups``: dataset_id -> group, e.g. origin groups; one fit
    serves every held-out dataset of a group). Datasets come grouped, groups in order of first
    appearance.

    ``n_jobs`` processes share the groups (each refit is single-threaded); the results do not depend
    on it.
    """
    batches: dict[str, list[str]] = {}
    for dataset_id in dataset_ids:
        key = str(groups.get(dataset_id, dataset_id)) if groups else dataset_id
        batches.setdefault(key, []).append(dataset_id)
    work = list(batches.values())
    if n_jobs <= 1 or len(work) <= 1:
        for members in work:
            yield from _lodo_replay(data, members, settings, groups, replay_kwargs)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn: a forked child would inherit the parent's OpenMP state, which LightGBM can hang on.
    with ProcessPoolExecutor(max_workers=n_jobs, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_init_worker, initargs=(data, settings, groups, replay_kwargs)) as pool:
        for result in pool.map(_replay_in_worker, work):
            yield from result


def _lodo_replay(data: TrainingData, members: list[str], settings: Any, groups: dict[str, str] | None,
                 replay_kwargs: dict[str, Any]) -> list[tuple[str, pd.DataFrame]]:
    from autometa.metamodel._model import MetaModel
    from benchmarks.lodo import held_out

    out = {d for member in members for d in held_out(member, groups, data.dataset_ids)}
    model = MetaModel.fit(data.without(sorted(out)), settings, time_model=False)
    return [(dataset_id, replay(model, data, dataset_id, **replay_kwargs)) for dataset_id in members]


_WORKER: dict[str, Any] = {}


def _init_worker(data: TrainingData, settings: Any, groups: dict[str, str] | None,
                 replay_kwargs: dict[str, Any]) -> None:
    _WORKER.update(data=data, settings=settings, groups=groups, replay_kwargs=replay_kwargs)


def _replay_in_worker(members: list[str]) -> list[tuple[str, pd.DataFrame]]:
    return _lodo_replay(_WORKER["data"], members, _WORKER["settings"], _WORKER["groups"], _WORKER["replay_kwargs"])
