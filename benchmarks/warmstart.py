"""Warm start vs cold start: autometa's meta-model against Optuna TPE, random search, library defaults
and FLAML's zero-shot LightGBM, on datasets the meta-model never saw.

    python benchmarks/warmstart.py --mode replay [--kb DIR] [--seeds 3]          # LODO over the KB's tables
    python benchmarks/warmstart.py --mode live --corpus DIR --datasets a,b,...   # real evaluations
    python benchmarks/warmstart.py --mode live ... --runs DIR                    # resumable, shareable
    python benchmarks/warmstart.py --mode live --from-csv a.csv.gz,b.csv.gz [--max-k 20]   # one report
    python benchmarks/warmstart.py --mode designs                                # meta-model designs, LODO
    ... [--lcdb DIR]      # any mode: LCDB's model-selection figure (replay, live) or its designs (designs)
    autometa benchmark warmstart --mode replay ...                               # the same, from the CLI

Methods: ``warm`` (autometa: recommendations, then its meta-model sampler), ``warm-fixed`` (the same
without re-weighting the known datasets by the study's results), ``zero-shot`` (autometa's
first recommendation only), ``tpe`` (Optuna TPE, cold), ``random``, ``defaults`` (each family's
library default, LightGBM first) and ``flaml`` (FLAML's zero-shot LightGBM config, ``flaml.default``).

*replay*: every dataset of the knowledge base whose table is complete is held out in turn, together
with its whole origin group (``KnowledgeBase.origin_groups()``: its copies under other sources, its
generator siblings such as every ``fri_c*``, the other feature sets of its raw data; ``--groups
duplicate`` holds out copies only, the older and more flattering protocol); the meta-model is refitted
without them (once per group) and every method picks configs from the held-out
table (see :mod:`benchmarks.replay`). FLAML's config is not in the table: it is evaluated for
real under the same protocol (cached in ``warmstart_flaml_cache.csv``). *live*: each dataset of
``--corpus`` is dropped from the knowledge base with every copy of it (same id or name, or the same
data by :func:`autometa.kb._duplicates.duplicate_groups` on its meta-features), the meta-model
refitted, and every method runs real evaluations (``autometa.tune`` with the protocol, at ``--row-cap``).
A live benchmark takes hours: with ``--runs DIR`` each finished (dataset, method, seed) run is kept as
one small JSON file and reused, so a stopped benchmark resumes, and processes given disjoint
``--datasets`` share the folder; ``--from-csv`` then reports over their ``warmstart_live.csv.gz`` files.

Model selection (both modes): the family of autometa's first recommendation is *good* when that
family's best config scores within 1 % (relative, on the primary metric) of the best family's best
config; in replay "best config" ranges over the knowledge base's table of the held-out dataset, in
live mode over everything the run evaluated. ``--lcdb DIR`` adds the same figure for LCDB's learners
(leave-one-dataset-out over an ``autometa kb import-lcdb`` folder); ``benchmarks/modelselection.py``
compares the selection designs.

Scores are normalized per dataset over everything observed on it (0 = worst, 1 = best); at k = 1, 3,
5, 10, 25, 50 trials and the budget's last the report gives the mean normalized score, the mean rank, wins/ties/losses
against cold TPE, trials-to-match and the targets. Outputs: ``warmstart_<mode>.csv.gz`` (raw),
``.md`` (summary) and ``.png`` (regret curves) under ``--out`` (default ``benchmarks/results``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
KS = (1, 3, 5, 10, 25, 50)
METHOD_ORDER = ("warm", "warm-fixed", "zero-shot", "tpe", "random", "defaults", "flaml")
#: Deterministic methods: live mode runs them for seed 0 only.
SEEDLESS = ("defaults", "flaml")
PMLB_DIR = Path(os.environ.get("AUTOMETA_SHARED_DIR", REPO.parent / "shared")) / "datasets" / "pmlb"


# ------------------------------------------------------------------------------------------- FLAML
def flaml_lgbm_config(task: str, X: pd.DataFrame, y: np.ndarray) -> dict[str, Any]:
    """FLAML's zero-shot LightGBM hyperparameters for this training data.

    ``flaml.default.suggest_hyperparams`` imports flaml.automl, which needs xgboost (not installed
    here); this is the same algorithm on FLAML's own shipped data: 1-nearest neighbour over FLAML's 4
    meta-features (standardized with FLAML's centre/scale) picks a config of FLAML's LightGBM
    portfolio (``flaml/default/lgbm/{binary,multiclass,regression}.json``), then ``log_max_bin``
    becomes ``max_bin`` as in ``flaml.automl.model.LGBMEstimator.config2params``.
    """
    import importlib.util

    spec = importlib.util.find_spec("flaml")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("FLAML is not installed: pip install flaml")
    root = Path(list(spec.submodule_search_locations)[0]) / "default" / "lgbm"
    n_classes = len(np.unique(y)) if task == "classification" else 0
    kind = "regression" if task != "classification" else ("binary" if n_classes == 2 else "multiclass")
    predictor = json.loads((root / f"{kind}.json").read_text())
    numeric = X.select_dtypes(include=[np.number]).shape[1]
    values = {"NumberOfInstances": X.shape[0], "NumberOfFeatures": X.shape[1], "NumberOfClasses": n_classes,
              "PercentageOfNumericFeatures": numeric / max(X.shape[1], 1)}
    feature = np.array([values[n] for n in predictor["meta_feature_names"]], dtype=float)
    feature = (feature - np.array(predictor["preprocessing"]["center"])) / np.array(predictor["preprocessing"]["scale"])
    neighbors = np.array([n["features"] for n in predictor["neighbors"]], dtype=float)
    nearest = int(np.argmin(np.linalg.norm(neighbors - feature, axis=1)))
    choice = predictor["neighbors"][nearest]["choice"][0]
    params = dict(predictor["portfolio"][choice]["hyperparameters"])
    params.pop("FLAML_sample_size", None)
    if "log_max_bin" in params:
        params["max_bin"] = (1 << params.pop("log_max_bin")) - 1
    return params


def evaluate_flaml(dataset: Any, protocol: Any) -> dict[str, float]:
    """FLAML's LightGBM config (chosen on each training fold, as FLAML would) under the protocol."""
    import lightgbm
    from sklearn.pipeline import Pipeline

    from autometa.evaluation import (
        fold_indices,
        mean_scores,
        metrics_for,
        prepare_data,
        score_classification,
        score_regression,
    )
    from autometa.spaces import feature_info, native_categorical

    data = prepare_data(dataset, protocol)
    folds: dict[str, list[float]] = {m: [] for m in metrics_for(data.task)}
    for train, test in fold_indices(data.y, data.task, protocol):
        X_train, X_test, y_train, y_test = data.X.iloc[train], data.X.iloc[test], data.y[train], data.y[test]
        params = flaml_lgbm_config(data.task, X_train, y_train)
        cls = lightgbm.LGBMClassifier if data.task == "classification" else lightgbm.LGBMRegressor
        model = Pipeline([("prepare", native_categorical(feature_info(X_train))),
                          ("model", cls(**params, n_jobs=1, verbose=-1, random_state=protocol.seed))])
        model.fit(X_train, y_train)
        if data.task == "classification":
            proba = np.zeros((len(test), data.n_classes))
            proba[:, np.asarray(model.classes_, dtype=int)] = model.predict_proba(X_test)
            scores = score_classification(y_test, proba, data.n_classes)
        else:
            scores = score_regression(y_test, model.predict(X_test))
        for name, value in scores.items():
            folds[name].append(value)
    return mean_scores(folds)


def _dataset_refs() -> dict[str, Any]:
    from autometa.kb import resolve_corpora

    specs = [str(PMLB_DIR)] if PMLB_DIR.exists() else []
    refs = {}
    for spec in [*specs, "keel", "sklearn"]:
        try:
            refs.update({r.dataset_id: r for r in resolve_corpora([spec])})
        except Exception as exc:  # a corpus that is not installed: its datasets get no FLAML score
            print(f"note: corpus {spec} unavailable ({exc})", file=sys.stderr)
    return refs


def flaml_scores(dataset_ids: list[str], protocol: Any, cache: Path) -> pd.DataFrame:
    """FLAML's scores on KB datasets (evaluated once, cached in a CSV)."""
    done = pd.read_csv(cache) if cache.exists() else pd.DataFrame(columns=["dataset_id"])
    todo = [d for d in dataset_ids if d not in set(done["dataset_id"])]
    if todo:
        refs = _dataset_refs()
        rows = []
        for i, dataset_id in enumerate(todo):
            start = time.perf_counter()
            try:
                scores = evaluate_flaml(refs[dataset_id].load(), protocol)
                rows.append({"dataset_id": dataset_id, **scores, "seconds": time.perf_counter() - start, "error": ""})
            except Exception as exc:  # recorded, never fatal
                rows.append({"dataset_id": dataset_id, "seconds": time.perf_counter() - start,
                             "error": f"{type(exc).__name__}: {exc}"[:300]})
            if (i + 1) % 10 == 0 or i + 1 == len(todo):
                done = pd.concat([done, pd.DataFrame(rows)], ignore_index=True)
                rows = []
                done.to_csv(cache, index=False)
                print(f"flaml: {i + 1}/{len(todo)} datasets", file=sys.stderr, flush=True)
    return done.set_index("dataset_id")


# ------------------------------------------------------------------------------------------- replay
def run_replay(args: argparse.Namespace) -> pd.DataFrame:
    from autometa.evaluation import Protocol
    from autometa.metamodel import DEFAULT_SETTINGS, load_kb, training_data
    from benchmarks.replay import lodo_replays

    kb = load_kb(args.kb)
    external: set[str] = set()
    if args.targets:
        # A source the knowledge base does not hold: its tables are the held-out datasets, all of them
        # one group with every knowledge-base dataset that is a copy or origin sibling of any of them,
        # so the meta-model is the knowledge base's alone (one fit).
        targets_kb = load_kb(args.targets)
        external = set(targets_kb.datasets["dataset_id"].astype(str))
        if args.datasets:
            external = {d for d in external if d.split("/", 1)[-1] in set(args.datasets)}
        kb = kb.merge(targets_kb)
    # Held out together: the whole origin group (copies, generator siblings, one raw data's feature
    # sets), not just the copies: leaving siblings in overstates transfer (benchmarks/results/firstpick.md).
    groups = (kb.origin_groups() if args.groups == "origin" else kb.duplicate_groups()).to_dict()
    if external:
        touched = {groups[d] for d in external if d in groups}
        groups = {d: ("~external" if g in touched or d in external else g) for d, g in groups.items()}
    settings = _settings(args, DEFAULT_SETTINGS)
    frames = []
    for task in args.tasks:
        data = training_data(kb, task, min_coverage=args.min_coverage)
        if external:
            held_out = [d for d in data.dataset_ids if d in external and data.normalized.loc[d].notna().sum() >= 2]
        else:
            held_out = data.complete_datasets(1.0)
        if args.per_group:
            # The first datasets of each group (in id order) speak for it: every origin group weighs the
            # same, and 49 Friedman siblings cost one group's time.
            taken: dict[str, int] = {}
            kept = []
            for d in held_out:
                g = str(groups.get(d, d))
                if taken.get(g, 0) < args.per_group:
                    taken[g] = taken.get(g, 0) + 1
                    kept.append(d)
            held_out = kept
        held_out = held_out[: args.max_datasets or None]
        print(f"replay {task}: {len(held_out)} complete datasets, {data.normalized.shape[1]} configs",
              file=sys.stderr, flush=True)
        protocol = Protocol.from_dict(kb.meta.get("protocol") or {})
        flaml = (flaml_scores(held_out, protocol, args.out / "warmstart_flaml_cache.csv")
                 if "flaml" in args.methods else pd.DataFrame())
        replays = lodo_replays(data, held_out, settings, groups=groups, n_jobs=args.n_jobs, seeds=range(args.seeds),
                               n_trials=args.n_trials, n_warm=args.n_warm,
                               methods=[m for m in args.methods if m != "flaml"])
        for i, (dataset_id, curves) in enumerate(replays):
            if "flaml" in args.methods and dataset_id in flaml.index and np.isfinite(flaml.loc[dataset_id].get(data.metric, np.nan)):
                value = float(flaml.loc[dataset_id, data.metric])
                curves = pd.concat([curves, pd.DataFrame({"dataset_id": dataset_id, "method": "flaml", "seed": 0,
                                                          "k": range(1, args.n_trials + 1), "best": value,
                                                          "family_first": "lightgbm"})])
            ok = data.scores.loc[dataset_id].dropna().to_numpy()
            curves["task"], curves["metric"] = task, data.metric
            curves["table_size"] = int(np.isfinite(data.normalized.loc[dataset_id].to_numpy(dtype=float)).sum())
            curves["table_min"], curves["table_max"] = ok.min(), ok.max()
            curves["family_ok"] = np.nan
            zs = curves[(curves["method"] == "zero-shot") & (curves["k"] == 1)]
            if len(zs):
                from benchmarks.lodo import family_within

                curves["family_ok"] = family_within(data.scores.loc[dataset_id].to_numpy(),
                                                    list(data.candidates["family"]), zs["family_first"].iloc[0], data.metric)
            frames.append(curves)
            if (i + 1) % 10 == 0:
                print(f"replay {task}: {i + 1}/{len(held_out)}", file=sys.stderr, flush=True)
    return pd.concat(frames, ignore_index=True)


def lcdb_selection(folder: Path, n_models: int = 1) -> dict[str, float]:
    """LCDB's learners: the share of held-out LCDB datasets (leave-one-dataset-out, duplicate groups
    together; at least 18 of 20 learners run) on which the learner of autometa's first recommendation
    (the meta-model fitted on the other LCDB datasets with OpenML's qualities) is within 1 % of the best
    learner's accuracy; also the family selector's and the prior's (``benchmarks/modelselection.py``
    has every design)."""
    from autometa.metamodel import DEFAULT_SETTINGS, load_kb, training_data
    from benchmarks.lodo import lodo_selection

    kb = load_kb(folder)
    data = training_data(kb, "classification", "accuracy", protocol_version=-1, min_coverage=0.0)
    result = lodo_selection(data, groups=kb.duplicate_groups().to_dict(), datasets=data.complete_datasets(0.9),
                            lgbm=False, metamodel=_settings_n(DEFAULT_SETTINGS, n_models))
    share = result.groupby("design")["good"].mean()
    return {"shipped": float(share["portfolio-top1"]), "selector": float(share["knn-vote"]),
            "prior": float(share["prior"]), "datasets": int(result["dataset_id"].nunique())}


def _settings_n(base: Any, n_models: int) -> Any:
    from dataclasses import replace

    return replace(base, n_models=n_models)


def _settings(args: argparse.Namespace, base: Any) -> Any:
    from dataclasses import replace

    return replace(base, n_models=args.n_models) if args.n_models else base


# --------------------------------------------------------------------------------------------- live
def run_live(args: argparse.Namespace) -> pd.DataFrame:
    from autometa.errors import InputError
    from autometa.evaluation import HIGHER_IS_BETTER, PRIMARY_METRIC, Protocol
    from autometa.kb import KnowledgeBase, resolve_corpora
    from autometa.metamodel import load_kb

    if not args.corpus:
        raise SystemExit("live mode needs --corpus DIR (a PMLB-layout folder or a folder of CSV files)")
    spec = str(args.corpus) + (":" + ",".join(args.datasets) if args.datasets else "")
    refs = resolve_corpora([spec])
    kb = load_kb(args.kb)
    protocol = Protocol(row_cap=args.row_cap, time_limit=args.time_limit)
    rows = []
    for ref in refs:
        try:
            dataset = ref.load()
        except InputError as exc:  # one unreadable file must not end an hour-long benchmark
            print(f"live {ref.dataset_id}: skipped, {exc}", file=sys.stderr, flush=True)
            continue
        metric = PRIMARY_METRIC[dataset.task]
        up = HIGHER_IS_BETTER[metric]
        ds = kb.datasets
        drop = kb_copies(kb, ref, dataset)
        reduced = KnowledgeBase(ds[~ds["dataset_id"].isin(drop)],
                                kb.evaluations[~kb.evaluations["dataset_id"].isin(drop)], meta=kb.meta)
        print(f"live {ref.dataset_id}: {dataset.task}, {dataset.n_rows} rows; dropped {len(drop)} KB dataset(s)",
              file=sys.stderr, flush=True)

        def add(method: str, seed: int, values: list, extra: dict[str, Any] | None = None, *, _ref=ref,
                _task=dataset.task, _metric=metric, _up=up) -> None:
            rows.extend(_curve_rows(_ref.dataset_id, _task, _metric, _up, method, seed, values, args.n_trials, extra))

        for seed in range(args.seeds):
            for method in args.methods:
                if method in SEEDLESS and seed > 0:
                    continue
                start = time.perf_counter()
                saved = _run_file(args, ref.dataset_id, method, seed)
                if saved is not None and saved.exists():
                    curves = [tuple(c) for c in json.loads(saved.read_text())]
                    print(f"  {method} seed {seed}: from {saved}", file=sys.stderr, flush=True)
                else:
                    curves = _live_run(method, seed, dataset, reduced, metric, protocol, args)
                    if curves is None:
                        continue
                    if saved is not None:
                        saved.parent.mkdir(parents=True, exist_ok=True)
                        # Written whole and then renamed: a run stopped mid-write leaves no half file behind.
                        tmp = saved.with_suffix(".tmp")
                        tmp.write_text(json.dumps(curves))
                        tmp.replace(saved)
                    print(f"  {method} seed {seed}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
                for name, vals, extra in curves:
                    add(name, seed, vals, extra)
    frame = pd.DataFrame(rows)
    frame["table_min"] = np.nan
    frame["table_max"] = np.nan
    return frame


def _live_run(method: str, seed: int, dataset: Any, reduced: Any, metric: str, protocol: Any,
              args: argparse.Namespace) -> list[tuple[str, list, dict[str, Any] | None]] | None:
    """The curves (name, trial values, extra columns) that one live (method, seed) run adds, or None for a method
    live mode does not run (or FLAML failing)."""
    import optuna

    from autometa import tune
    from autometa.evaluation import evaluate_config, prepare_data
    from benchmarks.replay import DEFAULTS_ORDER

    def values_of(study) -> list[float]:
        ordered = sorted(study.trials, key=lambda t: t.number)
        return [t.value if t.state == optuna.trial.TrialState.COMPLETE else None for t in ordered]

    if method == "warm":
        study = tune(dataset, n_trials=args.n_trials, kb=reduced, random_state=seed, protocol=protocol,
                     n_warm=args.n_warm)
        vals = values_of(study)
        return [("warm", vals, None),
                ("zero-shot", vals[:1], {"family_first": study.trials[0].params.get("family")})]
    if method in ("tpe", "random"):
        sampler = (optuna.samplers.TPESampler(seed=seed) if method == "tpe"
                   else optuna.samplers.RandomSampler(seed=seed))
        study = tune(dataset, n_trials=args.n_trials, warm_start=False, sampler=sampler,
                     protocol=protocol, family=_kb_families(reduced, dataset.task))
        return [(method, values_of(study), None)]
    if method == "defaults":
        data = prepare_data(dataset, protocol)
        vals = []
        for family in DEFAULTS_ORDER:
            result = evaluate_config(data, family, None, protocol)
            vals.append(result.scores.get(metric) if result.ok else None)
        return [("defaults", vals, None)]
    if method == "flaml":
        try:
            return [("flaml", [evaluate_flaml(dataset, protocol).get(metric)], None)]
        except Exception as exc:
            print(f"  flaml failed: {exc}", file=sys.stderr)
    return None


def _run_file(args: argparse.Namespace, dataset_id: str, method: str, seed: int) -> Path | None:
    """Where a finished live run is kept (``--runs DIR``), so that a stopped benchmark resumes where it was: the
    file name holds everything that changes the run (trials, warm recommendations, row cap, time limit)."""
    if args.runs is None:
        return None
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", dataset_id)
    return args.runs / (f"{safe}__{method}__s{seed}__n{args.n_trials}__w{args.n_warm}"
                        f"__r{args.row_cap}__t{args.time_limit:g}.json")


def kb_copies(kb: Any, ref: Any, dataset: Any) -> list[str]:
    """Knowledge-base datasets that are ``dataset`` or a copy of it: the same id, the same name (cleaned,
    same task), or the same data by the knowledge base's duplicate rules on its meta-features; with
    every dataset of their duplicate groups."""
    from autometa.evaluation import Protocol
    from autometa.kb import dataset_metafeatures

    # private on purpose: the harness measures the meta-model's own parts
    from autometa.kb._duplicates import duplicate_groups, name_key

    ds = kb.datasets
    same = (ds["dataset_id"] == ref.dataset_id) | ((ds["name"].astype(str).map(name_key) == name_key(ref.name))
                                                  & (ds["task"] == dataset.task))
    probe_id = f"~live/{ref.dataset_id}"  # an id no knowledge base uses
    mf = dataset_metafeatures(dataset, Protocol.from_dict(kb.meta.get("protocol") or {}))
    probe = {"dataset_id": probe_id, "source": "live", "name": ref.name, "task": dataset.task,
             "n_rows": dataset.n_rows, "n_features": dataset.n_features, "n_classes": dataset.n_classes,
             **{f"mf.{k}": v for k, v in mf.items() if f"mf.{k}" in ds.columns}}
    # The probe row in the table's own dtypes: its missing meta-features must not change a column's dtype.
    row = pd.DataFrame([probe]).reindex(columns=ds.columns).astype(ds.dtypes.to_dict(), errors="ignore")
    table = pd.concat([ds, row], ignore_index=True)
    groups = duplicate_groups(table)
    copies = set(groups.index[groups == groups[probe_id]]) - {probe_id}
    found = set(ds.loc[same, "dataset_id"]) | copies
    kb_groups = kb.duplicate_groups()
    return sorted(set(kb_groups.index[kb_groups.isin(set(kb_groups.reindex(list(found))))]) | found)


def _curve_rows(dataset_id: str, task: str, metric: str, up: bool, method: str, seed: int, values: list,
                n_trials: int, extra: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Best-so-far rows (k = 1..n_trials) of one run; a failed trial (None) improves nothing."""
    rows, best = [], -np.inf if up else np.inf
    for k in range(1, n_trials + 1):
        value = values[k - 1] if k <= len(values) else None
        if value is not None and np.isfinite(value):
            best = max(best, value) if up else min(best, value)
        rows.append({"dataset_id": dataset_id, "task": task, "metric": metric, "method": method, "seed": seed, "k": k,
                     "best": best if np.isfinite(best) else np.nan, **(extra or {})})
    return rows


def _kb_families(kb: Any, task: str) -> list[str]:
    from autometa.spaces import list_families

    ids = set(kb.datasets.loc[kb.datasets["task"] == task, "dataset_id"])
    present = set(kb.evaluations.loc[kb.evaluations["dataset_id"].isin(ids), "family"])
    return [f for f in list_families() if f in present]


# ------------------------------------------------------------------------------------------ designs
def run_designs(args: argparse.Namespace) -> pd.DataFrame:
    from autometa.metamodel import Settings, load_kb, training_data
    from benchmarks.lodo import lodo

    frames = []
    grid = [Settings(n_models=1, k=k, alpha=a, metafeatures=m) for m in ("compact", "all")
            for k in (10, 20, 40) for a in (0.25, 0.5, 0.75)]
    sources = [("kb", load_kb(args.kb), t, None) for t in args.tasks]
    if args.lcdb:
        sources.append(("lcdb", load_kb(args.lcdb), "classification", "accuracy"))
    for name, kb, task, metric in sources:
        data = training_data(kb, task, metric, protocol_version=-1 if name == "lcdb" else None,
                             min_coverage=args.min_coverage)
        held = data.complete_datasets(1.0 if name == "kb" else 0.9)[: args.max_datasets or None]
        print(f"designs {name} {task}: {len(held)} datasets", file=sys.stderr, flush=True)
        result = lodo(data, grid, datasets=held, on_dataset=lambda i, n, d: print(f"  {i}/{n}", file=sys.stderr)
                      if i % 25 == 0 else None)
        result["source"], result["task"], result["metric"] = name, task, data.metric
        frames.append(result)
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------------------------------- report
def normalize_curves(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``norm``: per dataset, 0 = worst and 1 = best of everything observed on it (table and runs)."""
    from autometa.evaluation import HIGHER_IS_BETTER

    out = frame.copy()
    norms = []
    for _, rows in out.groupby("dataset_id", sort=False):
        up = HIGHER_IS_BETTER[rows["metric"].iloc[0]]
        values = np.concatenate([rows["best"].dropna().to_numpy(), rows[["table_min", "table_max"]].dropna().to_numpy().ravel()])
        low, high = (values.min(), values.max()) if len(values) else (np.nan, np.nan)
        span = high - low if high > low else np.nan
        norm = (rows["best"] - low) / span if up else (high - rows["best"]) / span
        # Nothing found yet counts as the worst; a dataset where everything scored the same is all 1.
        norms.append(norm.fillna(0.0) if np.isfinite(span) else pd.Series(1.0, index=rows.index))
    out["norm"] = pd.concat(norms).reindex(out.index)
    return out


def summarize(frame: pd.DataFrame, ks: tuple[int, ...] = KS) -> dict[str, pd.DataFrame]:
    """Tables of the report: mean normalized score, mean rank, W/T/L and trials-to-match."""
    ks = tuple(k for k in ks if k <= frame["k"].max())
    methods = [m for m in METHOD_ORDER if m in set(frame["method"])]
    means = seed_means(frame)
    per_dataset = means[means.index.get_level_values("k").isin(ks)].unstack("k")
    score = per_dataset.groupby("method").mean().reindex(methods)
    # Ranks of the seed-averaged scores, per dataset and k, averaged over datasets.
    wide = per_dataset.stack().unstack("method")
    rank = wide.rank(axis=1, ascending=False, method="average").groupby(level="k").mean().T.reindex(methods)
    wtl_rows, match_rows = [], []
    tpe = per_dataset.loc["tpe"] if "tpe" in per_dataset.index.get_level_values(0) else None
    for method in [m for m in methods if m != "tpe"]:
        if tpe is None:
            break
        mine = per_dataset.loc[method]
        row, mrow = {"method": method}, {"method": method}
        for k in ks:
            diff = (mine[k] - tpe.reindex(mine.index)[k]).dropna()
            row[k] = f"{int((diff > 1e-9).sum())}/{int((diff.abs() <= 1e-9).sum())}/{int((diff < -1e-9).sum())}"
            # Trials-to-match: the first k' at which cold TPE (mean over seeds) reaches this method's score at k;
            # a dataset where it never does counts as more than the budget.
            need = tpe_trials_to_reach(means, method, k)
            median = float(np.median(need))
            shown = f"{median:.0f}" if np.isfinite(median) else f">{int(frame['k'].max())}"
            mrow[k] = f"{shown} ({100 * np.isfinite(need).mean():.0f}%)"
        wtl_rows.append(row)
        match_rows.append(mrow)
    return {"score": score, "rank": rank, "wtl": pd.DataFrame(wtl_rows).set_index("method") if wtl_rows else None,
            "match": pd.DataFrame(match_rows).set_index("method") if match_rows else None, "means": means}


def seed_means(frame: pd.DataFrame) -> pd.Series:
    """Each run's normalized best-so-far averaged over seeds, indexed by (method, dataset_id, k): what every
    table, target and plot of the report is made of."""
    return frame.groupby(["method", "dataset_id", "k"])["norm"].mean()


def tpe_trials_to_reach(mean: pd.Series, method: str, k: int) -> np.ndarray:
    """Per dataset, the first trial at which cold TPE reaches ``method``'s score at ``k`` (``mean``: from
    :func:`seed_means`); ``inf`` where it never does within the budget, so a median counts those as more."""
    target = mean.loc[method].xs(k, level="k")
    curve = mean.loc["tpe"].unstack("k").reindex(target.index)
    reached = curve.ge(target - 1e-9, axis=0)
    return reached.idxmax(axis=1).where(reached.any(axis=1)).fillna(np.inf).to_numpy(dtype=float)


def targets(frame: pd.DataFrame, tables: dict[str, pd.DataFrame], lcdb: dict[str, float] | None = None) -> list[str]:
    score = tables["score"]
    lines = []
    if {"warm", "tpe"} <= set(score.index):
        if 10 in score.columns and 50 in score.columns:
            w10, t50 = score.loc["warm", 10], score.loc["tpe", 50]
            lines.append(f"- warm start at 10 trials ({w10:.4f}) >= cold TPE at 50 ({t50:.4f}): "
                         f"**{'met' if w10 >= t50 - 1e-12 else 'missed'}**")
        worse = [k for k in score.columns if score.loc["warm", k] < score.loc["tpe", k] - 1e-12]
        lines.append(f"- warm start never worse than cold TPE on average at any k: "
                     f"**{'met' if not worse else 'missed at k = ' + ', '.join(map(str, worse))}**")
    if {"warm", "defaults"} <= set(score.index) and 1 in score.columns:
        w1, d1 = score.loc["warm", 1], score.loc["defaults", 1]
        lines.append(f"- first recommendation's mean score ({w1:.4f}) >= the defaults' first trial, LightGBM's "
                     f"default ({d1:.4f}): **{'met' if w1 >= d1 - 1e-12 else 'missed'}**")
    if {"warm", "tpe"} <= set(score.index) and 10 in score.columns:
        need = tpe_trials_to_reach(tables["means"], "warm", 10)
        budget = int(frame["k"].max())
        median = float(np.median(need)) if len(need) else np.nan
        shown = f"{median:.0f}" if np.isfinite(median) else f"more than {budget}"
        lines.append(f"- median cold-TPE trials to reach warm start's score at 10: {shown} (never within {budget} "
                     f"trials on {int(np.isinf(need).sum())} of {len(need)} datasets, counted as more; target 25): "
                     f"**{'met' if median >= 25 else 'missed'}**")
    first = frame[frame["k"] == 1].groupby(["method", "dataset_id"])["norm"].mean().unstack("method")
    for rival, label in (("defaults", "LightGBM defaults"), ("flaml", "FLAML's zero-shot LightGBM")):
        if "zero-shot" in first.columns and rival in first.columns:
            pair = first[["zero-shot", rival]].dropna()
            wins = (pair["zero-shot"] > pair[rival] + 1e-12).mean()
            ties = ((pair["zero-shot"] - pair[rival]).abs() <= 1e-12).mean()
            lines.append(f"- zero-shot beats {label} on {100 * wins:.0f}% of {len(pair)} datasets "
                         f"(ties {100 * ties:.0f}%; target 70%): **{'met' if wins >= 0.7 else 'missed'}**")
    if "family_ok" in frame.columns and frame["family_ok"].notna().any():
        ok = frame.drop_duplicates("dataset_id")["family_ok"].dropna()
        lines.append(f"- recommended family within 1% of the best family on {100 * ok.mean():.0f}% of {len(ok)} "
                     f"datasets (target 80%): **{'met' if ok.mean() >= 0.8 else 'missed'}** (the family of the first "
                     "recommendation; its best config in the held-out table within 1% (relative) of the best config's "
                     "score on the primary metric)")
    if lcdb:
        lines.append(f"- LCDB's learners (OpenML qualities, leave-one-dataset-out): recommended learner within 1% of the "
                     f"best learner's accuracy on {100 * lcdb['shipped']:.0f}% of {lcdb['datasets']} datasets (family "
                     f"selector: {100 * lcdb['selector']:.0f}%; always the globally best learner: "
                     f"{100 * lcdb['prior']:.0f}%; target 80%): **{'met' if lcdb['shipped'] >= 0.8 else 'missed'}**")
    return lines


def plot(frame: pd.DataFrame, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    curves = seed_means(frame).groupby(["method", "k"]).mean()
    for method in [m for m in METHOD_ORDER if m in curves.index.get_level_values(0)]:
        series = curves.loc[method]
        ax.plot(series.index, 1 - series.to_numpy(), label=method, lw=2 if method == "warm" else 1.3,
                ls="--" if method in ("zero-shot", "defaults", "flaml") else "-")
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.set_xlabel("trials (k)")
    ax.set_ylabel("mean normalized regret (1 - normalized best score)")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report(frame: pd.DataFrame, mode: str, args: argparse.Namespace, seconds: float,
           lcdb: dict[str, float] | None = None) -> str:
    last = int(frame["k"].max())
    ks = tuple(sorted({*KS, last}))  # the budget's end is always a column: where the runs stopped
    tables = summarize(frame, ks)
    n_datasets = frame["dataset_id"].nunique()
    by_task = frame.drop_duplicates("dataset_id")["task"].value_counts().to_dict()
    lines = [f"# Warm start vs cold start ({mode} mode)", "",
             f"- date: {_dt.datetime.now(_dt.timezone.utc).isoformat(timespec='minutes')}",
             f"- command: `{' '.join(['python benchmarks/warmstart.py', *args.argv])}`",
             f"- datasets: {n_datasets} ({', '.join(f'{v} {k}' for k, v in by_task.items())}); seeds: "
             f"{sorted(frame['seed'].unique().tolist())}; trials per run: {int(frame['k'].max())}; "
             + (f"curves of earlier runs: {', '.join(p.name for p in args.from_csv)}" if args.from_csv
                else f"wall time: {seconds / 60:.1f} min"),
             "- scores: per dataset, 0 = worst and 1 = best observed (table and all runs); primary metric "
             "(balanced accuracy / R2)", ""]
    lines += ["## Targets", "", *targets(frame, tables, lcdb), ""]
    if mode == "replay":
        n_configs = frame.groupby("dataset_id")["table_size"].first().median() if "table_size" in frame else np.nan
        n_trials = int(frame["k"].max())
        lines += [f"Note: a replay trial picks one config of the held-out dataset's table ({n_configs:.0f} configs "
                  f"per dataset here), without repeats. Cold TPE at {n_trials} trials has then seen "
                  f"{n_trials / n_configs:.0%} of the table, so TPE@{n_trials} is close to the table's best by "
                  "construction (random search too) and warm@10 >= TPE@50 is a hard comparison on a small table; "
                  "trials-to-match says how many cold-TPE trials reach warm start's score.", ""]
    lines += ["## Mean normalized score at k trials (higher is better)", "", _markdown(tables["score"], ".4f"), ""]
    lines += ["## Mean rank among the methods at k (1 = best)", "", _markdown(tables["rank"], ".2f"), ""]
    if tables["wtl"] is not None:
        lines += ["## Wins / ties / losses against cold TPE (per dataset, seeds averaged)", "",
                  _markdown(tables["wtl"], None), ""]
        lines += ["## Trials-to-match: median number of cold-TPE trials to reach the method's score at k "
                  "(a dataset where TPE never gets there within the budget counts as more; in brackets: share of datasets where it does)", "",
                  _markdown(tables["match"], None), ""]
    per_task = []
    for task, rows in frame.groupby("task"):
        t = summarize(rows, ks)["score"]
        per_task += [f"### {task} ({rows['dataset_id'].nunique()} datasets)", "", _markdown(t, ".4f"), ""]
    lines += ["## Per task", "", *per_task]
    if mode == "live":
        per = per_dataset_table(frame, tables["means"], last)
        if per is not None:
            lines += [f"## Per dataset: the first recommendation against LightGBM's default, and the searches at 10 "
                      f"and {last} trials (normalized, seeds averaged)", "", _plain_table(per), ""]
        lines += ["## Datasets", "", ", ".join(sorted(frame["dataset_id"].unique())), ""]
    return "\n".join(lines)


def per_dataset_table(frame: pd.DataFrame, means: pd.Series, last: int) -> pd.DataFrame | None:
    """One row per dataset: the first recommendation's family and score, LightGBM's default (the defaults'
    first trial), and warm start and cold TPE at 10 and ``last`` trials (``means``: :func:`seed_means` of
    ``frame``); None without those methods."""
    methods = set(frame["method"])
    if not {"zero-shot", "defaults", "warm", "tpe"} <= methods:
        return None
    at = means.reorder_levels(["dataset_id", "method", "k"])
    rows = []
    for dataset_id, rows_of in frame.groupby("dataset_id", sort=True):
        first = rows_of.loc[rows_of["method"] == "zero-shot"]
        families = sorted(set(first["family_first"].dropna())) if "family_first" in first else []
        pick, default = at[(dataset_id, "zero-shot", 1)], at[(dataset_id, "defaults", 1)]
        rows.append({"dataset": dataset_id.split("/", 1)[-1], "task": rows_of["task"].iloc[0],
                     "first pick": "/".join(families) or "?", "pick": pick, "LightGBM default": default,
                     "pick vs default": "win" if pick > default + 1e-12 else "tie" if pick >= default - 1e-12 else "loss",
                     "warm@10": at[(dataset_id, "warm", min(10, last))], "tpe@10": at[(dataset_id, "tpe", min(10, last))],
                     f"warm@{last}": at[(dataset_id, "warm", last)], f"tpe@{last}": at[(dataset_id, "tpe", last)]})
    return pd.DataFrame(rows)


def _markdown(table: pd.DataFrame, fmt: str | None) -> str:
    cols = list(table.columns)
    head = "| method | " + " | ".join(f"k={c}" for c in cols) + " |"
    rule = "|---|" + "---:|" * len(cols)
    body = []
    for name, row in table.iterrows():
        cells = [(format(v, fmt) if fmt and isinstance(v, (float, np.floating)) and math.isfinite(v) else str(v))
                 for v in row.tolist()]
        body.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join([head, rule, *body])


def _plain_table(frame: pd.DataFrame) -> str:
    def cell(v: Any) -> str:
        return f"{v:.4f}" if isinstance(v, (float, np.floating)) and math.isfinite(v) else str(v)

    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    return "\n".join([head, rule, *("| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False))])


def designs_report(frame: pd.DataFrame, args: argparse.Namespace) -> str:
    from benchmarks.lodo import summarize as lodo_summary

    lines = ["# Meta-model designs under leave-one-dataset-out", "",
             f"- date: {_dt.datetime.now(_dt.timezone.utc).isoformat(timespec='minutes')}",
             f"- command: `{' '.join(['python benchmarks/warmstart.py', *args.argv])}`",
             "- top<k>: best normalized score among the first k recommended configs of the held-out dataset; "
             "spearman: rank correlation of predicted and true normalized scores; coverage_1sd: share of true "
             "scores within one predicted standard deviation; family_ok: top-1's family within 1% of the best family.", ""]
    for (source, task), rows in frame.groupby(["source", "task"]):
        summary = lodo_summary(rows)
        lines += [f"## {source} / {task} ({rows['dataset_id'].nunique()} datasets, metric {rows['metric'].iloc[0]})", "",
                  _plain_table(summary.head(15)), "",
                  "Best of each design:", "",
                  _plain_table(summary.sort_values("top1", ascending=False).groupby("design").head(1)), ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- main
def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="warmstart", description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=("replay", "live", "designs"), default="replay")
    p.add_argument("--kb", type=Path, default=None, help="knowledge-base folder (default: the shipped one)")
    p.add_argument("--corpus", type=Path, default=None, help="live mode: a PMLB-layout folder or a folder of CSVs")
    p.add_argument("--datasets", type=lambda s: [x for x in s.split(",") if x], default=None)
    p.add_argument("--lcdb", type=Path, default=None,
                   help="an LCDB knowledge base (autometa kb import-lcdb --out DIR): replay and live add LCDB's "
                   "model-selection figure to the report; designs runs the designs on it too")
    p.add_argument("--tasks", type=lambda s: s.split(","), default=["classification", "regression"])
    p.add_argument("--methods", type=lambda s: s.split(","), default=list(METHOD_ORDER))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--n-trials", type=int, default=50)
    p.add_argument("--n-warm", type=int, default=5, help="recommendations tried first (autometa.tune enqueues as many)")
    p.add_argument("--n-models", type=int, default=None, help="surrogate ensemble members (default: autometa's)")
    p.add_argument("--max-datasets", type=int, default=None)
    p.add_argument("--targets", type=Path, default=None,
                   help="replay: a knowledge base of another source whose datasets are held out (all of them, "
                        "with their copies in --kb); --datasets keeps some of them")
    p.add_argument("--per-group", type=int, default=None,
                   help="replay: hold out at most this many datasets of each group (default: all)")
    p.add_argument("--groups", choices=("origin", "duplicate"), default="origin",
                   help="replay: what is held out with a dataset: its origin group (default) or only its copies")
    p.add_argument("--n-jobs", type=int, default=1,
                   help="replay: processes sharing the held-out datasets (results do not depend on it)")
    p.add_argument("--min-coverage", type=float, default=0.5,
                   help="keep configs evaluated on at least this share of the datasets (0: every config; for a KB "
                   "whose build is still running)")
    p.add_argument("--row-cap", type=int, default=2000, help="live mode: the protocol's row cap")
    p.add_argument("--time-limit", type=float, default=30.0, help="live mode: seconds per evaluation")
    p.add_argument("--runs", type=Path, default=None,
                   help="live mode: keep each finished (dataset, method, seed) run in this folder and reuse it, so "
                   "that a stopped benchmark resumes, and several processes on disjoint --datasets can share it")
    p.add_argument("--from-csv", type=lambda s: [Path(x) for x in s.split(",") if x], default=None,
                   help="report on the curves of earlier runs (their warmstart_<mode>.csv.gz, comma-separated) "
                   "instead of running: e.g. two parts of a corpus run apart")
    p.add_argument("--max-k", type=int, default=None,
                   help="report on the first K trials only (all runs then have as many; scores are normalized "
                   "over what they found by K)")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = p.parse_args(argv)
    args.argv = argv
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(list(sys.argv[1:] if argv is None else argv))
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    if args.mode == "designs":
        frame = run_designs(args)
        frame.to_csv(args.out / "warmstart_designs.csv", index=False)
        (args.out / "warmstart_designs.md").write_text(designs_report(frame, args))
        print(f"wrote {args.out / 'warmstart_designs.md'}")
        return 0
    if args.from_csv:
        # Curves of earlier runs (each file written by this script): one report over all their datasets.
        frame = pd.concat([pd.read_csv(path) for path in args.from_csv], ignore_index=True)
        frame = frame.drop(columns=["norm"], errors="ignore")
    else:
        frame = run_replay(args) if args.mode == "replay" else run_live(args)
    if args.max_k:
        frame = frame[frame["k"] <= args.max_k]
    frame = normalize_curves(frame)
    stem = args.out / f"warmstart_{args.mode}"
    # First: nothing after this can lose the runs. Six significant digits and gzip keep the file small
    # (a replay over ~200 datasets is ~18 MB of plain CSV, ~0.6 MB gzipped).
    frame.to_csv(f"{stem}.csv.gz", index=False, float_format="%.6g")
    lcdb = None
    if args.lcdb:
        try:
            lcdb = lcdb_selection(args.lcdb)
        except Exception as exc:  # the LCDB figure is an extra; its failure is reported, not fatal
            print(f"note: LCDB model selection failed ({type(exc).__name__}: {exc})", file=sys.stderr)
    seconds = time.perf_counter() - start
    text = report(frame, args.mode, args, seconds, lcdb)
    Path(f"{stem}.md").write_text(text)
    plot(frame, Path(f"{stem}.png"), f"warm vs cold start ({args.mode}, {frame['dataset_id'].nunique()} datasets)")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
