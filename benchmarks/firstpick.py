"""The first recommendation under leave-one-origin-group-out: which design picks a config that is safe on
data nobody has seen?

For each held-out dataset, its whole origin group (:meth:`KnowledgeBase.origin_groups`: copies,
generator siblings, one raw data's feature sets) is removed from the knowledge base, each design picks
one config from what is left, and the pick is scored on the held-out dataset's real table: its
normalized score (0 = worst, 1 = best known config there), whether it beats LightGBM's default
(strictly better raw score), and whether its family is within 1 % of the best family.

Designs (``--designs``):

``lgbm-default``   LightGBM's default config (the baseline users have for free);
``blend``          autometa's shipped ranking before this study (neighbours blended with the surrogate,
                   greedy portfolio, first pick);
``global-mean``    the config with the best mean normalized score over all training datasets;
``global-q25``     the best 25 % quantile of normalized score over all training datasets;
``global-win``     the config that beats the LightGBM default on most training datasets (ties: mean);
``knn<k>-mean``    the best mean normalized score over the k nearest training datasets;
``knn<k>-win``     the best share of the k nearest datasets on which it beats the default, shrunk
                   towards the global share with weight ``m`` (``win = (k * local + m * global) / (k + m)``);
``safe``           :func:`autometa.metamodel.safe_first_pick` opening the ``blend`` list;
``gbm-win``        a learned choice (:class:`PairModel`): gradient-boosted trees over (meta-features, config)
                   pairs of the training datasets predict whether a config beats the default; the most
                   probable winner;
``gbm-gap``        the same fitted to the normalized score minus the default's; the largest predicted gain;
``gbm-win+knn<k>-win``  the mean of ``gbm-win``'s probability and ``knn<k>-win``'s shrunk share;
``soft:<design>``  any design with its win labels counted per fold (:func:`soft_wins_matrix`: the share of
                   the three folds on which a config beats the default) instead of on three-fold means;
``auto``           what autometa ships (``Settings.first_pick="auto"``): ``safe`` for classification,
                   ``blend`` for regression.

Designs that use LCDB's OpenML histories (classification only; the knowledge base's ``lcdb/*``
datasets, accuracy of scikit-learn defaults; see :class:`LcdbEvidence` and :data:`LCDB_FAMILY_MAP` for how that accuracy is mapped
to autometa's families, and benchmarks/results/firstpick_lcdb.md). LCDB datasets of the held-out
dataset's origin group are left out with it.

``<base>+lcdb<k>-<l>``  a ``knn<k>-win`` / ``knn<k>-mean`` design whose per-config score gets ``l`` times
                   the LCDB deviation of the config's family: over the ``k`` nearest LCDB datasets, the
                   (inverse-distance weighted) share on which the family is good minus its share over
                   all LCDB datasets, shrunk like the selector (``k / (k + 2)``); e.g.
                   ``knn40-win+lcdb20-0.2``;
``<base>+kbfam<a>``  the same with ``a`` times the knowledge base's own family vote
                   (:class:`FamilySelector`: P(family within 1 % of the best), 10 nearest, prior weight 2);
                   terms add up (``knn40-win+kbfam0.1+lcdb40-0.3``);
``famkb``          family first: the knowledge base's family vote (:class:`FamilySelector`, as shipped:
                   10 nearest, prior weight 2), then the ``knn40-win`` config of that family;
``famkb+lcdb<k>-<l>``  the same with ``l`` times the LCDB deviation added to the family vote;
``famlcdb<k>``     family first by LCDB alone (the shrunk vote of the ``k`` nearest LCDB datasets; the
                   boosting learner stands for both lightgbm and hist_gradient_boosting, ties go to the
                   knowledge base's own vote), then the ``knn40-win`` config of that family.

``--paired <design>`` adds each design's per-dataset difference to that design, with 95 % intervals from
resampling origin groups.

``--train-only REGEX`` (meta-data augmentation, benchmarks/augment_corpus.py): datasets whose id matches
are meta-training data only, never held-out targets, and only where at least half of the candidates
were evaluated on them; they leave with their origin group like any dataset. ``<design>@base`` is the same design trained without them, so that one run compares both on the
same targets and groups (``--designs safe,safe@base --paired safe@base``).

    python -m benchmarks.firstpick --tasks classification --designs knn40-win,knn40-win+lcdb20-0.2 --paired knn40-win
    python benchmarks/firstpick.py --designs lgbm-default,blend,global-mean,global-win,knn20-win,safe
    python -m benchmarks.firstpick --kb work/augment/kb --train-only _aug- --designs safe,safe@base --paired safe@base
"""

from __future__ import annotations

import argparse
import datetime as _dt
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DEFAULT_KEY = "lightgbm/default"
BASE = "@base"  # design suffix: trained without the --train-only datasets


def beats_default_matrix(scores: np.ndarray, default_col: int, up: bool) -> np.ndarray:
    """datasets x configs: 1 where the config's raw score is strictly better than the LightGBM default's,
    0 where not, NaN where either is missing. A failed config (NaN score) never beats it."""
    sign = 1.0 if up else -1.0
    s = sign * scores
    d = s[:, [default_col]]
    out = np.where(np.isfinite(s) & np.isfinite(d), (s > d + 1e-12).astype(float), 0.0)
    return np.where(np.isfinite(d), out, np.nan)


SOFT = "soft:"  # design prefix: the design's win shares count folds, not three-fold means


def soft_wins_matrix(kb: Any, task: str, dataset_ids: list[str], keys: list[str], wins: np.ndarray) -> np.ndarray:
    """datasets x configs: the share of the three folds on which the config beats LightGBM's default on
    that fold (0, 1/3, 2/3, 1), a less noisy label than the one win of the three-fold means; the binary
    ``wins`` where a pair has no fold scores (imported histories)."""
    # private on purpose: the harness measures the meta-model's own parts
    from autometa.metamodel._training import higher_is_better
    from benchmarks.firstpick_ceiling import fold_tables

    tables, metric = fold_tables(kb, task, set(dataset_ids))
    sign = 1.0 if higher_is_better(metric) else -1.0
    out = wins.copy()
    column = {k: j for j, k in enumerate(keys)}
    for i, dataset in enumerate(dataset_ids):
        table = tables.get(dataset, {})
        default = table.get(DEFAULT_KEY)
        if default is None:
            continue
        for key, folds in table.items():
            if key in column:
                out[i, column[key]] = float(np.mean(sign * folds > sign * default + 1e-12))
    return out


def _nearest(z_train: np.ndarray, z: np.ndarray, k: int) -> np.ndarray:
    """Rows of the ``k`` training datasets nearest to ``z`` (L1 over scaled meta-features, as the meta-model)."""
    return np.argsort(np.abs(z_train - z).sum(axis=1), kind="stable")[:k]


#: How LCDB's learners (scikit-learn defaults, accuracy) speak for autometa's families: a family's score
#: on an LCDB dataset is the best accuracy of the learners mapped to it. Learners of no autometa family
#: (naive Bayes, single trees, MLP, QDA, polynomial/sigmoid SVC, SGD/perceptron-style linear models whose
#: default runs are noisy) are not used. LCDB has no LightGBM or histogram boosting: its
#: ``GradientBoostingClassifier`` stands for both.
LCDB_FAMILY_MAP: dict[str, tuple[str, ...]] = {
    "random_forest": ("random_forest",), "extra_trees": ("extra_trees",), "svm": ("svm",), "knn": ("knn",),
    "linear": ("linear",), "lcdb:SVC_linear": ("linear",), "lcdb:RidgeClassifier": ("linear",),
    "lcdb:LinearDiscriminantAnalysis": ("linear",),
    "lcdb:GradientBoostingClassifier": ("lightgbm", "hist_gradient_boosting"),
}


class LcdbEvidence:
    """Which autometa families are good on LCDB's OpenML datasets, and a nearest-dataset vote over them.

    Accuracy is used only as a rank signal inside one LCDB dataset: a family is *good* there when its
    best mapped learner's accuracy is within 1 % (relative) of the best mapped learner's, exactly the
    definition the knowledge base's balanced accuracy gets in :mod:`autometa.metamodel._select`.
    No accuracy value is ever compared with or mixed into a balanced-accuracy value. What transfers is
    the deviation of the nearest LCDB datasets' share of good datasets from LCDB's own base rate, so that
    LCDB's protocol (unscaled features for SVC and k-NN, scikit-learn's GradientBoosting for LightGBM)
    shifts every dataset alike and cancels.
    """

    def __init__(self, kb: Any, families: list[str]) -> None:
        # private on purpose: the harness measures the meta-model's own parts
        from autometa.metamodel._features import COMPACT_METAFEATURES, MetaFeatureScaler
        from autometa.metamodel._select import good_families

        # Read straight from the tables: training_data() drops datasets with under 25 % of the meta-feature
        # columns, and LCDB ships only OpenML's simple qualities (about 23 % of them) for most datasets.
        datasets = kb.datasets[kb.datasets["source"] == "lcdb"].set_index("dataset_id")
        ev = kb.evaluations
        ev = ev[ev["dataset_id"].isin(datasets.index) & ev["config_id"].astype(str).str.startswith("lcdb-")]
        ids = sorted(set(ev["dataset_id"].astype(str)))
        accuracy = pd.to_numeric(ev["accuracy"], errors="coerce").where(ev["status"] == "ok", -np.inf)
        best = np.full((len(ids), len(families)), np.nan)
        row = {d: i for i, d in enumerate(ids)}
        for dataset_id, learner, value in zip(ev["dataset_id"].astype(str), ev["family"].astype(str), accuracy,
                                              strict=True):
            for family in LCDB_FAMILY_MAP.get(learner, ()):
                if family in families and not np.isnan(value):  # a failed run counts, worth -inf
                    j = families.index(family)
                    best[row[dataset_id], j] = np.fmax(best[row[dataset_id], j], value)
        mf = datasets.loc[ids, [c for c in datasets.columns if c.startswith("mf.")]].astype(float)
        mf.columns = [c[3:] for c in mf.columns]
        self.families = families
        self.dataset_ids = ids
        self.good = good_families(best)
        self.scaler = MetaFeatureScaler().fit(mf, list(COMPACT_METAFEATURES))
        self.Z = self.scaler.transform(mf)

    def deviation(self, metafeatures: dict[str, float], k: int, exclude: set[str], m: float = 2.0) -> np.ndarray:
        """Per family: shrunk local share of good LCDB datasets minus the global share (0 where unknown)."""
        from autometa.metamodel._select import _shares  # private on purpose: the selector's own vote

        keep = np.array([d not in exclude for d in self.dataset_ids], dtype=bool)
        z = self.scaler.transform(metafeatures)[0]
        distance = np.abs(self.Z - z).sum(axis=1) / max(len(z), 1)
        order = [i for i in np.argsort(distance, kind="stable") if keep[i]][:k]
        d = distance[order]
        w = 1.0 / (d + max(float(np.median(d)), 1e-6) * 0.25)
        local = _shares(self.good[order], w)
        glob = _shares(self.good[keep], np.ones(int(keep.sum())))
        return np.nan_to_num(len(order) / (len(order) + m) * (local - glob))

    def vote(self, metafeatures: dict[str, float], k: int, exclude: set[str], m: float = 2.0) -> np.ndarray:
        """Per family: the shrunk share of good LCDB datasets among the ``k`` nearest (NaN where unknown)."""
        from autometa.metamodel._select import _shares  # private on purpose: the selector's own vote

        keep = np.array([d not in exclude for d in self.dataset_ids], dtype=bool)
        glob = _shares(self.good[keep], np.ones(int(keep.sum())))
        return glob + self.deviation(metafeatures, k, exclude, m)


class PairModel:
    """A learned choice over (dataset, config) pairs: gradient-boosted trees on the training datasets'
    scaled meta-features plus the config (one categorical feature), fitted to ``win`` (does the config
    beat LightGBM's default there; binary) or ``gap`` (its normalized score minus the default's).

    Unlike the neighbour designs it learns which meta-features matter for which config, instead of
    weighing all 54 alike in one distance.
    """

    def __init__(self, kind: str, z_train: np.ndarray, wins: np.ndarray, normalized: np.ndarray,
                 default_col: int, seed: int = 0) -> None:
        import lightgbm

        n_configs = wins.shape[1]
        if kind == "win":
            target = wins
        elif kind == "gap":
            target = normalized - normalized[:, [default_col]]
        else:
            raise ValueError(f"unknown pair model {kind!r}")
        rows, cols = np.nonzero(np.isfinite(target))
        frame = self._frame(z_train[rows], cols, n_configs)
        params = dict(n_estimators=300, learning_rate=0.03, num_leaves=15, min_child_samples=40, subsample=0.8,
                      subsample_freq=1, colsample_bytree=0.8, reg_lambda=1.0, n_jobs=1, verbose=-1,
                      random_state=seed)
        model_class = lightgbm.LGBMClassifier if kind == "win" else lightgbm.LGBMRegressor
        self.kind, self.n_configs = kind, n_configs
        self.model = model_class(**params).fit(frame, target[rows, cols])

    @staticmethod
    def _frame(z: np.ndarray, configs: np.ndarray, n_configs: int) -> pd.DataFrame:
        frame = pd.DataFrame(z, columns=[f"z{i}" for i in range(z.shape[1])])
        frame["config"] = pd.Categorical(configs, categories=range(n_configs))
        return frame

    def scores(self, z: np.ndarray) -> np.ndarray:
        """Per config: the predicted win probability or normalized gap on a dataset with scaled features ``z``."""
        frame = self._frame(np.repeat(z[None, :], self.n_configs, axis=0), np.arange(self.n_configs), self.n_configs)
        if self.kind == "win":
            return self.model.predict_proba(frame)[:, 1]
        return self.model.predict(frame)


def pick(design: str, *, normalized: np.ndarray, wins: np.ndarray, z_train: np.ndarray, z: np.ndarray,
         default_col: int, model: Any = None, mf: dict[str, float] | None = None, m: float = 10.0,
         families: np.ndarray | None = None, lcdb: LcdbEvidence | None = None, exclude: set[str] = frozenset(),
         selector: Any = None, pair: dict[str, PairModel] | None = None) -> int:
    """Column index of the design's first pick (see the module docstring)."""
    norm = np.where(np.isfinite(normalized), normalized, np.nan)
    if design in ("gbm-win", "gbm-gap"):
        return int(np.argmax(pair[design[4:]].scores(z)))
    if design.startswith("gbm-win+knn"):  # gbm-win+knn40-win: the two scores averaged
        return int(np.argmax(0.5 * pair["win"].scores(z) + 0.5 * _score(design[8:], norm=norm, wins=wins,
                                                                          z_train=z_train, z=z, m=m)))
    if "+" in design or design.startswith("fam"):
        base, *terms = design.split("+")
        fam_list = list(lcdb.families)
        family_score = np.zeros(len(fam_list))  # per family: the terms' sum (see the module docstring)
        for term in terms:
            if term.startswith("lcdb"):
                k_text, lam_text = term[4:].split("-")
                family_score += float(lam_text) * lcdb.deviation(mf, int(k_text), exclude)
            elif term.startswith("kbfam"):
                p_kb = selector.predict(mf).reindex(fam_list).to_numpy(dtype=float)
                family_score += float(term[5:]) * np.nan_to_num(p_kb)
            else:
                raise ValueError(f"unknown term {term!r} of design {design!r}")
        if base.startswith("fam"):  # family first, then the knn40-win config of that family
            p_kb = selector.predict(mf).reindex(fam_list).to_numpy(dtype=float)
            if base.startswith("famlcdb"):
                p = lcdb.vote(mf, int(base[7:]), exclude)
                p = np.where(np.isfinite(p), p, -np.inf) + 1e-6 * np.nan_to_num(p_kb) + family_score
            else:
                p = np.nan_to_num(p_kb, nan=-1.0) + family_score
            chosen = fam_list[int(np.argmax(p))]
            score = _score("knn40-win", norm=norm, wins=wins, z_train=z_train, z=z, m=m)
            return int(np.nanargmax(np.where(families == chosen, score, -np.inf)))
        bonus = np.array([family_score[fam_list.index(f)] for f in families])
        return int(np.nanargmax(_score(base, norm=norm, wins=wins, z_train=z_train, z=z, m=m) + bonus))
    if design == "lgbm-default":
        return default_col
    if design == "global-mean":
        return int(np.nanargmax(np.nanmean(norm, axis=0)))
    if design == "global-q25":
        return int(np.nanargmax(np.nanquantile(norm, 0.25, axis=0)))
    if design == "global-win":
        w = np.nanmean(wins, axis=0) + 1e-6 * np.nanmean(norm, axis=0)
        return int(np.nanargmax(w))
    if design.startswith("robust"):  # robust<k>-<q>: among configs beating the default on >= q of all
        k_text, q_text = design[6:].split("-")  # training datasets, the best mean over the k nearest
        k, q = int(k_text), float(q_text)
        glob = np.nanmean(wins, axis=0)
        near = _nearest(z_train, z, k)
        local = np.nanmean(norm[near], axis=0)
        ok = glob >= min(q, float(np.nanmax(glob)))
        return int(np.nanargmax(np.where(ok, local, -np.inf)))
    if design.startswith("combo"):  # combo<k>-<lambda>: shrunk win share + lambda x shrunk mean score
        k_text, lam_text = design[5:].split("-")
        k, lam = int(k_text), float(lam_text)
        near = _nearest(z_train, z, k)
        win = (k * np.nan_to_num(np.nanmean(wins[near], axis=0)) + m * np.nan_to_num(np.nanmean(wins, axis=0))) / (k + m)
        mean = (k * np.nan_to_num(np.nanmean(norm[near], axis=0)) + m * np.nan_to_num(np.nanmean(norm, axis=0))) / (k + m)
        return int(np.nanargmax(win + lam * mean))
    if design.startswith("knn"):
        return int(np.nanargmax(_score(design, norm=norm, wins=wins, z_train=z_train, z=z, m=m)))
    if design in ("blend", "safe", "auto"):
        from dataclasses import replace

        shipped = model.settings
        model.settings = replace(shipped, first_pick=design)
        try:
            return int(model.rank(mf, 1)[0])
        finally:
            model.settings = shipped
    raise ValueError(f"unknown design {design!r}")


def _score(design: str, *, norm: np.ndarray, wins: np.ndarray, z_train: np.ndarray, z: np.ndarray,
           m: float) -> np.ndarray:
    """Per-config score of a ``knn<k>-mean`` / ``knn<k>-win[m<m>]`` design (its pick is the argmax)."""
    k_text, kind = design[3:].split("-")
    k = int(k_text)
    near = _nearest(z_train, z, k)
    if kind == "mean":
        return np.nanmean(norm[near], axis=0)
    local = np.nanmean(wins[near], axis=0)
    glob = np.nanmean(wins, axis=0)
    if "m" in kind:  # knn20-win m5: another shrinkage weight
        kind, m_text = kind.split("m")
        m = float(m_text)
    score = (k * np.nan_to_num(local) + m * np.nan_to_num(glob)) / (k + m)
    return score + 1e-6 * np.nanmean(norm[near], axis=0)


def run(args: argparse.Namespace) -> pd.DataFrame:
    from dataclasses import replace

    from autometa.metamodel import DEFAULT_SETTINGS, MetaModel, load_kb, training_data

    # private on purpose: the harness measures the meta-model's own parts
    from autometa.metamodel._training import higher_is_better
    from benchmarks.lodo import family_within

    kb = load_kb(args.kb)
    groups = kb.origin_groups() if args.groups == "origin" else kb.duplicate_groups()
    train_only = re.compile(args.train_only) if getattr(args, "train_only", None) else None
    derived = (lambda d: bool(train_only.search(str(d)))) if train_only else (lambda d: False)
    if any(d.endswith(BASE) for d in args.designs) and train_only is None:
        raise SystemExit(f"designs ending in {BASE} need --train-only (the datasets they are trained without)")
    variants = sorted({BASE if d.endswith(BASE) else "" for d in args.designs})
    rows = []
    plain = [d.removesuffix(BASE) for d in args.designs]
    needs_model = any(d in ("blend", "safe", "auto") for d in plain)
    uses_lcdb = any("lcdb" in d for d in plain)
    needs_selector = any(d.startswith("fam") or "+kbfam" in d for d in plain)
    for task in args.tasks:
        if task != "classification" and uses_lcdb:
            raise SystemExit("LCDB designs are for classification only (LCDB has no regression): --tasks classification")
        data = training_data(kb, task, min_coverage=0.5)
        families = data.candidates["family"].to_numpy()
        lcdb = LcdbEvidence(kb, sorted(set(families))) if uses_lcdb or needs_selector or any(
            "+" in d for d in plain) else None
        up = higher_is_better(data.metric)
        keys = list(data.candidates.index)
        default_col = keys.index(DEFAULT_KEY)
        targets = [t for t in data.complete_datasets(1.0) if not derived(t)]
        if args.max_datasets:
            targets = targets[: args.max_datasets]
        by_group: dict[str, list[str]] = {}
        for t in targets:
            by_group.setdefault(str(groups.get(t, t)), []).append(t)
        # Training-only datasets teach only with at least half of the candidates evaluated (a build in
        # progress evaluates every family's default first: those alone are not a table).
        usable = set(data.complete_datasets(0.5))
        n_derived = sum(derived(d) and d in usable for d in data.dataset_ids)
        print(f"{task}: {len(targets)} held-out datasets in {len(by_group)} groups"
              + (f"; {n_derived} training-only datasets with >= half a table" if train_only else ""),
              file=sys.stderr, flush=True)
        scores = data.scores.to_numpy(dtype=float)
        wins_all = beats_default_matrix(scores, default_col, up)
        if train_only:  # a config that a training-only dataset's partial table never evaluated is unknown there,
            part = [i for i, d in enumerate(data.dataset_ids) if derived(d)]  # not a loss to the default
            wins_all[part] = np.where(np.isfinite(scores[part]), wins_all[part], np.nan)
        soft_all = soft_wins_matrix(kb, task, data.dataset_ids, keys, wins_all) if any(
            d.startswith(SOFT) for d in plain) else None
        # private on purpose: the harness measures the meta-model's own parts
        from autometa.metamodel._features import COMPACT_METAFEATURES, MetaFeatureScaler

        for gi, (group, members) in enumerate(by_group.items()):
            out = set(groups.index[groups == group]) | set(members)
            context = {}
            for variant in variants:  # "": every training dataset; BASE: without the --train-only ones
                train_ids = [d for d in data.dataset_ids if d not in out
                             and not (derived(d) and (variant == BASE or d not in usable))]
                pos = [data.dataset_ids.index(d) for d in train_ids]
                scaler = MetaFeatureScaler().fit(data.metafeatures.loc[train_ids], list(COMPACT_METAFEATURES))
                z_train = scaler.transform(data.metafeatures.loc[train_ids])
                selector = None
                if needs_selector:
                    # private on purpose: the harness measures the meta-model's own parts
                    from autometa.metamodel._select import FamilySelector

                    selector = FamilySelector().fit(data.subset(train_ids))
                model = None
                if needs_model:
                    model = MetaModel.fit(data.subset(train_ids), replace(DEFAULT_SETTINGS, n_models=args.n_models),
                                          time_model=False)
                pair = {kind: PairModel(kind, z_train, wins_all[pos], data.normalized.iloc[pos].to_numpy(dtype=float),
                                        default_col)
                        for kind in ("win", "gap") if any(d.startswith(f"gbm-{kind}") for d in plain)}
                context[variant] = (pos, scaler, z_train, selector, model, pair)
            for dataset_id in members:
                i = data.dataset_ids.index(dataset_id)
                mf = data.metafeatures.loc[dataset_id].to_dict()
                truth = data.normalized.iloc[i].to_numpy(dtype=float)
                for design in args.designs:
                    variant = BASE if design.endswith(BASE) else ""
                    pos, scaler, z_train, selector, model, pair = context[variant]
                    labels = soft_all if design.startswith(SOFT) else wins_all
                    c = pick(design.removesuffix(BASE).removeprefix(SOFT),
                             normalized=data.normalized.iloc[pos].to_numpy(dtype=float), wins=labels[pos],
                             z_train=z_train, z=scaler.transform(mf)[0], default_col=default_col, model=model,
                             mf=mf, families=families, lcdb=lcdb, exclude=out, selector=selector, pair=pair)
                    rows.append({"task": task, "dataset_id": dataset_id, "group": group, "design": design,
                                 "config": keys[c], "family": data.candidates["family"].iloc[c],
                                 "normalized": truth[c], "beats_default": wins_all[i, c],
                                 "default_normalized": truth[default_col],
                                 "family_ok": family_within(scores[i], list(data.candidates["family"]),
                                                            data.candidates["family"].iloc[c], data.metric)})
            if (gi + 1) % 10 == 0:
                print(f"{task}: {gi + 1}/{len(by_group)} groups", file=sys.stderr, flush=True)
    return pd.DataFrame(rows)


def run_external(args: argparse.Namespace) -> pd.DataFrame:
    """First picks on a source the knowledge base does not hold (``--targets`` KB of its tables, the CSVs
    in ``--corpus``): the meta-model is fitted on the whole knowledge base once; every design's pick is
    looked up in the target's table or, when the table lacks it, evaluated for real under the protocol
    (cached in ``<out>_evaluations.csv``)."""
    from dataclasses import replace

    from autometa.data import load_dataset
    from autometa.evaluation import Protocol, evaluate_config, prepare_data
    from autometa.metamodel import DEFAULT_SETTINGS, MetaModel, load_kb, training_data

    # private on purpose: the harness measures the meta-model's own parts
    from autometa.metamodel._features import COMPACT_METAFEATURES, MetaFeatureScaler

    # private on purpose: the harness measures the meta-model's own parts
    from autometa.metamodel._training import higher_is_better

    kb, tkb = load_kb(args.kb), load_kb(args.targets)
    protocol = Protocol.from_dict(kb.meta.get("protocol") or {})
    cache_path = args.out.parent / f"{args.out.name}_evaluations.csv"
    cache = pd.read_csv(cache_path) if cache_path.exists() else pd.DataFrame(columns=["dataset_id", "config", "score"])
    done = {(r.dataset_id, r.config): r.score for r in cache.itertuples()}  # real evaluations, kept across runs
    rows = []
    for task in args.tasks:
        data = training_data(kb, task, min_coverage=0.5)
        up = higher_is_better(data.metric)
        keys = list(data.candidates.index)
        default_col = keys.index(DEFAULT_KEY)
        model = MetaModel.fit(data, replace(DEFAULT_SETTINGS, n_models=args.n_models), time_model=False)
        scaler = MetaFeatureScaler().fit(data.metafeatures, list(COMPACT_METAFEATURES))
        z_train = scaler.transform(data.metafeatures)
        normalized = data.normalized.to_numpy(dtype=float)
        wins = beats_default_matrix(data.scores.to_numpy(dtype=float), default_col, up)
        tdata = training_data(tkb, task, data.metric, min_coverage=0.0, min_datasets=1)
        targets = [d for d in tdata.dataset_ids if not args.datasets or d.split("/", 1)[-1] in set(args.datasets)]
        for dataset_id in targets:
            mf = tdata.metafeatures.loc[dataset_id].to_dict()
            table = tdata.scores.loc[dataset_id].dropna()
            picks = {design: keys[pick(design, normalized=normalized, wins=wins, z_train=z_train,
                                       z=scaler.transform(mf)[0], default_col=default_col, model=model, mf=mf)]
                     for design in args.designs}
            dataset = None
            raw = {}
            for key in set(picks.values()) | {DEFAULT_KEY}:
                if key in table.index:
                    raw[key] = float(table[key])
                    continue
                if (dataset_id, key) not in done:
                    if dataset is None:
                        name = dataset_id.split("/", 1)[-1]
                        dataset = prepare_data(load_dataset(next(args.corpus.rglob(f"{name}.csv")), target="target",
                                                            task=task), protocol)
                    family = data.candidates.loc[key, "family"]
                    result = evaluate_config(dataset, family, data.candidates.loc[key, "config"], protocol)
                    done[(dataset_id, key)] = result.scores.get(data.metric) if result.ok else np.nan
                    pd.DataFrame([{"dataset_id": d, "config": k, "score": v} for (d, k), v in done.items()]).to_csv(
                        cache_path, index=False)
                raw[key] = float(done[(dataset_id, key)])
            sign = 1.0 if up else -1.0
            known = sign * np.array([*table.to_numpy(dtype=float), *[v for v in raw.values() if np.isfinite(v)]])
            low, high = np.nanmin(known), np.nanmax(known)
            default = sign * raw[DEFAULT_KEY]
            for design, key in picks.items():
                value = sign * raw[key]
                norm = (value - low) / (high - low) if np.isfinite(value) and high > low else 0.0
                rows.append({"task": task, "dataset_id": dataset_id, "group": dataset_id, "design": design,
                             "config": key, "family": data.candidates.loc[key, "family"], "normalized": norm,
                             "beats_default": float(np.isfinite(value) and value > default + 1e-12),
                             "default_normalized": (default - low) / (high - low) if high > low else 0.0,
                             "family_ok": np.nan})
            print(f"{dataset_id}: " + ", ".join(f"{d}={picks[d]}" for d in args.designs), file=sys.stderr, flush=True)
    return pd.DataFrame(rows)


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per design: datasets, mean normalized, share beating the LightGBM default, share worse than it,
    family within 1 %."""
    f = frame.assign(worse=(frame["normalized"] < frame["default_normalized"] - 1e-12).astype(float))
    g = f.groupby("design", sort=False)
    out = pd.DataFrame({"datasets": g["dataset_id"].nunique(), "groups": g["group"].nunique(),
                        "normalized": g["normalized"].mean(), "beats_default": g["beats_default"].mean(),
                        "worse_than_default": g["worse"].mean(), "family_ok": g["family_ok"].mean()})
    # Each origin group weighs the same: 49 Friedman siblings would otherwise speak for half of regression.
    per_group = f.groupby(["design", "group"], sort=False)[["normalized", "beats_default", "worse"]].mean()
    per_group = per_group.groupby("design", sort=False).mean()
    out["normalized_g"] = per_group["normalized"]
    out["beats_default_g"] = per_group["beats_default"]
    out["worse_g"] = per_group["worse"]
    return out.round(3)


def paired_gains(frame: pd.DataFrame, base: str, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per design and task: mean per-dataset difference to ``base`` (normalized, beats_default,
    family_ok) with a 95 % interval from resampling whole origin groups (``n_boot`` times)."""
    rng = np.random.default_rng(seed)
    rows = []
    for task, part in frame.groupby("task", sort=False):
        wide = part.pivot_table(index=["dataset_id", "group"], columns="design",
                                values=["normalized", "beats_default", "family_ok"], dropna=False)
        groups = wide.index.get_level_values("group").to_numpy()
        members = [np.flatnonzero(groups == g) for g in np.unique(groups)]
        draws = [np.concatenate([members[i] for i in rng.integers(0, len(members), len(members))])
                 for _ in range(n_boot)]
        for design in part["design"].unique():
            if design == base:
                continue
            row = {"task": task, "design": design}
            for metric in ("normalized", "beats_default", "family_ok"):
                diff = (wide[(metric, design)] - wide[(metric, base)]).to_numpy(dtype=float)
                boot = np.array([np.nanmean(diff[d]) for d in draws])
                lo, hi = np.nanquantile(boot, [0.025, 0.975])
                row[metric] = f"{np.nanmean(diff):+.3f} [{lo:+.3f}, {hi:+.3f}]"
            rows.append(row)
    return pd.DataFrame(rows)


def _plain_table(frame: pd.DataFrame) -> str:
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    return "\n".join([head, rule, *("| " + " | ".join(str(v) for v in row) + " |"
                                     for row in frame.itertuples(index=False))])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kb", type=Path, default=None)
    p.add_argument("--designs", type=lambda s: s.split(","),
                   default=["lgbm-default", "blend", "global-mean", "global-q25", "global-win", "knn20-mean",
                            "knn20-win", "knn40-win", "safe"])
    p.add_argument("--tasks", type=lambda s: s.split(","), default=["classification", "regression"])
    p.add_argument("--groups", choices=("origin", "duplicate"), default="origin")
    p.add_argument("--n-models", type=int, default=1, help="surrogate members of the blend design")
    p.add_argument("--max-datasets", type=int, default=None)
    p.add_argument("--targets", type=Path, default=None,
                   help="a knowledge base of another source (e.g. benchmarks/rdatasets_corpus.py + kb build): "
                        "score first picks there instead of leave-one-origin-group-out")
    p.add_argument("--corpus", type=Path, default=None, help="with --targets: the folder of its CSV files")
    p.add_argument("--datasets", type=lambda s: [x for x in s.split(",") if x], default=None,
                   help="with --targets: keep these dataset names only")
    p.add_argument("--paired", default=None, metavar="DESIGN",
                   help="also report every design's per-dataset difference to DESIGN, with 95 %% intervals from "
                        "resampling origin groups")
    p.add_argument("--train-only", default=None, metavar="REGEX",
                   help="datasets whose id matches are meta-training data only, never targets (e.g. '_aug-', "
                        f"derived tasks); DESIGN{BASE} is DESIGN trained without them")
    p.add_argument("--ceiling", action="store_true",
                   help="also report the noise ceiling: how often the best config by two of a dataset's three "
                        "folds beats the default on the third (benchmarks/firstpick_ceiling.py)")
    p.add_argument("--from-csv", type=Path, default=None, metavar="CSV",
                   help="re-summarize the picks of an earlier run (its .csv) instead of running again")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "firstpick")
    args = p.parse_args(argv)
    start = time.time()
    if args.from_csv:
        frame = pd.read_csv(args.from_csv)
    else:
        frame = run_external(args) if args.targets else run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out.with_suffix(".csv"), index=False)
    table = pd.concat({task: summary(frame[frame["task"] == task]) for task in frame["task"].unique()}
                      | {"all": summary(frame)})
    print(table.to_string())
    where = (f"datasets of `{args.targets}` (a source the knowledge base does not hold; one meta-model fitted on "
             "the whole knowledge base)" if args.targets else
             f"leave-one-{args.groups}-group-out over the knowledge base's complete tables")
    lines = [f"# First recommendation vs LightGBM's default: {where}", "",
             f"`python benchmarks/firstpick.py {' '.join(argv if argv is not None else sys.argv[1:])}` "
             f"({time.time() - start:.0f} s, {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC)", "",
             "Columns: `normalized` = mean normalized score of the pick (0 = worst config of the dataset's "
             "table, 1 = best); `beats_default` = share of datasets where the pick's score is strictly better "
             "than LightGBM's default; `worse_than_default` = strictly worse; `family_ok` = the pick's family "
             "is within 1 % of the best family; `_g` columns weigh every origin group equally.", "",
             _plain_table(table.reset_index().rename(columns={"level_0": "task"})), ""]
    if args.paired:
        gains = paired_gains(frame, args.paired)
        print(gains.to_string())
        lines += [f"Per-dataset difference to `{args.paired}` (mean [95 % interval, origin groups resampled "
                  "2000 times]):", "", _plain_table(gains), ""]
    if args.ceiling and not args.targets:
        from benchmarks.firstpick_ceiling import noise_ceiling

        ceiling = noise_ceiling(args.kb, frame)
        print(ceiling.to_string())
        lines += ["Noise ceiling (`benchmarks/firstpick_ceiling.py`): share of datasets x folds on which a pick beats LightGBM's default "
                  "on one fold (`one_fold`) and on the three-fold mean (`three_fold_mean`, the scale above), and "
                  "how often its family is within 1 % of the best family (`family_*`, on the same two scales); the "
                  "in-dataset oracle picks with two of the dataset's own three folds and is scored on the third:",
                  "", _plain_table(ceiling), ""]
    args.out.with_suffix(".md").write_text("\n".join(lines))
    print(f"{time.time() - start:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
