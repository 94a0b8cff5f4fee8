"""Leave-one-dataset-out evaluation of meta-model designs.

For every held-out dataset the meta-model is refitted without it, asked for its ranking from the
held-out dataset's meta-features only, and the ranking is scored with the held-out dataset's real
(normalized) scores: the best normalized score among the first ``k`` configs (1 = it found the best
config the knowledge base knows for that dataset). Prediction quality (Spearman correlation between
predicted and real normalized scores, and how often the real score lies within one predicted
standard deviation) is recorded too. Model selection: whether the family of the top-ranked config
reaches, with its best config, within 1 % of the best family's best score.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

# The harness replays the meta-model's own parts (private by design: they are what is measured).
from autometa.metamodel import DESIGNS, MetaModel, Settings
from autometa.metamodel._select import SelectorSettings
from autometa.metamodel._training import TrainingData, higher_is_better

KS: tuple[int, ...] = (1, 3, 5, 10)


def held_out(dataset_id: str, groups: Mapping[str, str] | None, dataset_ids: Sequence[str]) -> list[str]:
    """``dataset_id`` and every dataset of its duplicate group (:meth:`KnowledgeBase.duplicate_groups`)
    among ``dataset_ids``: what leave-one-dataset-out must leave out together."""
    if groups is None or dataset_id not in groups:
        return [dataset_id]
    group = groups[dataset_id]
    return [d for d in dataset_ids if d == dataset_id or (d in groups and groups[d] == group)]


def lodo(data: TrainingData, settings: Sequence[Settings] | None = None, *, designs: Sequence[str] = DESIGNS,
         datasets: Sequence[str] | None = None, ks: Sequence[int] = KS, seed: int = 0, n_jobs: int = 1,
         groups: Mapping[str, str] | None = None,
         on_dataset: Callable[[int, int, str], None] | None = None) -> pd.DataFrame:
    """Leave-one-dataset-out scores of each (settings, design) on each held-out dataset.

    Args:
        data: the training tables (all datasets).
        settings: meta-model settings to compare (default: the defaults); the ``design`` field is
            ignored: every design in ``designs`` is scored from one fitted model.
        designs: ranking designs to score.
        datasets: held-out datasets (default: those with every candidate evaluated).
        ks: list lengths to score.
        groups: dataset_id -> duplicate group (``KnowledgeBase.duplicate_groups()``); a held-out
            dataset's whole group is left out of training.

    Returns:
        One row per (dataset, settings, design) with columns ``top<k>`` (best normalized score among
        the first k), ``spearman``, ``coverage_1sd``, ``family_ok`` (model selection within 1 %) and
        ``family`` (the recommended one).
    """
    from scipy.stats import spearmanr

    settings = list(settings or [Settings()])
    targets = list(datasets) if datasets is not None else data.complete_datasets(1.0)
    rows: list[dict[str, Any]] = []
    for i, dataset_id in enumerate(targets):
        if on_dataset is not None:
            on_dataset(i, len(targets), dataset_id)
        train = data.without(held_out(dataset_id, groups, data.dataset_ids))
        mf = data.metafeatures.loc[dataset_id].to_dict()
        truth = data.normalized.loc[dataset_id].to_numpy(dtype=float)
        raw = data.scores.loc[dataset_id].to_numpy(dtype=float)
        evaluated = np.isfinite(truth)
        fitted: dict[tuple[int, int, str], MetaModel] = {}
        for s_index, s in enumerate(settings):
            # k, alpha and the design do not change what is fitted: one fit serves them all.
            shape = (s.n_models, s.num_boost_round, s.metafeatures)
            if shape not in fitted:
                fitted[shape] = MetaModel.fit(train, s, seed=seed, n_jobs=n_jobs, time_model=False)
            model = fitted[shape]
            model.settings = s
            pred = model.predict(mf)
            ok = evaluated & np.isfinite(pred["mean"].to_numpy())
            rho = spearmanr(pred["mean"].to_numpy()[ok], truth[ok]).statistic if ok.sum() > 2 else np.nan
            inside = np.abs(pred["mean"].to_numpy() - truth) <= pred["std"].to_numpy()
            for design in designs:
                order = model.rank(mf, max(ks), design=design, eligible=evaluated, prediction=pred)
                row = {"dataset_id": dataset_id, "settings": s_index, **{f"s.{k}": v for k, v in s.to_dict().items()},
                       "design": design, "spearman": rho, "coverage_1sd": float(inside[ok].mean()) if ok.any() else np.nan}
                for k in ks:
                    row[f"top{k}"] = float(np.nanmax(truth[order[:k]])) if order else np.nan
                family = str(model.candidates["family"].iloc[order[0]]) if order else ""
                row["family"] = family
                row["family_ok"] = family_within(raw, list(model.candidates["family"]), family, data.metric)
                rows.append(row)
    return pd.DataFrame(rows)


def family_within(raw: np.ndarray, families: Sequence[str], family: str, metric: str, tolerance: float = 0.01) -> float:
    """1.0 if ``family``'s best raw score is within ``tolerance`` (relative) of the best family's, else 0.0.

    For lower-is-better metrics the comparison is on the loss (within 1 % above the best loss).
    NaN when the dataset has no finite score.
    """
    raw = np.asarray(raw, dtype=float)
    fam = np.asarray(families)
    if not np.isfinite(raw).any():
        return np.nan
    up = higher_is_better(metric)
    best = np.nanmax(raw) if up else np.nanmin(raw)
    mine = raw[(fam == family) & np.isfinite(raw)]
    if not len(mine):
        return 0.0
    value = mine.max() if up else mine.min()
    if up:
        return float(value >= best - tolerance * abs(best))
    return float(value <= best + tolerance * abs(best))


def summarize(results: pd.DataFrame, ks: Sequence[int] = KS) -> pd.DataFrame:
    """Mean of each score per (settings, design), with the number of held-out datasets."""
    columns = [f"top{k}" for k in ks if f"top{k}" in results.columns] + ["spearman", "coverage_1sd", "family_ok"]
    keys = [c for c in results.columns if c.startswith("s.")] + ["design"]
    summary = results.groupby(keys, dropna=False)[columns].mean()
    summary["datasets"] = results.groupby(keys, dropna=False)["dataset_id"].nunique()
    return summary.reset_index().sort_values("top1", ascending=False)


#: Model-selection designs scored by :func:`lodo_selection` (``knn-vote`` is the shipped one).
SELECTION_DESIGNS: tuple[str, ...] = ("prior", "knn-vote", "lgbm-good", "lgbm-best", "lgbm-rank", "vote+lgbm",
                                      "metamodel-surrogate", "metamodel-blend", "portfolio-top1", "selector-top1")


def lodo_selection(data: TrainingData, *, groups: Mapping[str, str] | None = None,
                   datasets: Sequence[str] | None = None, selectors: Sequence[SelectorSettings] = (SelectorSettings(),),
                   lgbm: bool = True, metamodel: Settings | None = None, seed: int = 0, tolerance: float = 0.01,
                   on_dataset: Callable[[int, int, str], None] | None = None) -> pd.DataFrame:
    """Leave-one-dataset-out model selection: which family each design picks, and whether it is good.

    A family is good on a dataset when its best config is within ``tolerance`` (relative; 1 %) of the
    best family's best score (:func:`autometa.metamodel._select.family_table`); the selector learns
    and is judged with the same tolerance. Designs: ``prior`` (the family most
    often good on the training datasets: no meta-features), ``knn-vote`` (:class:`FamilySelector`,
    one row per ``selectors`` entry), ``lgbm-good`` / ``lgbm-best`` / ``lgbm-rank`` (one LightGBM over
    meta-features + family code: P(good); the family's normalized best score; a pairwise (lambdarank)
    ranking of the families), ``vote+lgbm`` (the mean of the first selector's and lgbm-good's
    probabilities), and with ``metamodel`` settings: the family of the best predicted config
    (``metamodel-surrogate``, ``metamodel-blend``), of the greedy portfolio's first pick without the
    selector (``portfolio-top1``: autometa's first recommendation as shipped) and with it
    (``selector-top1``: ``Settings.select_family``).

    Returns:
        One row per (dataset, design, variant): dataset_id, design, variant, family, good (1/0),
        n_good (good families on the dataset), n_families.
    """
    from dataclasses import replace

    from autometa.metamodel._select import FamilySelector, family_table, lgbm_family_scores

    table = family_table(data, tolerance)
    good = table.good
    families = table.families
    targets = list(datasets) if datasets is not None else table.complete
    normalized_best = pd.DataFrame({f: data.normalized.loc[:, data.candidates["family"].to_numpy() == f].max(axis=1)
                                    for f in families})
    graded = good + (table.best.eq(table.best.max(axis=1), axis=0) & good.eq(1.0)).astype(float)
    rows: list[dict[str, Any]] = []
    for i, dataset_id in enumerate(targets):
        if on_dataset is not None:
            on_dataset(i, len(targets), dataset_id)
        out = set(held_out(dataset_id, groups, data.dataset_ids))
        train_ids = [d for d in data.dataset_ids if d not in out]
        train = data.subset(train_ids)
        mf = data.metafeatures.loc[dataset_id].to_dict()
        truth = good.loc[dataset_id]
        base = {"dataset_id": dataset_id, "n_good": float(truth.sum()), "n_families": int(truth.notna().sum())}

        def add(design: str, variant: str, scores: Mapping[str, float] | np.ndarray, *, _base=base,
                _truth=truth) -> None:
            s = pd.Series(np.asarray(list(scores.values()) if isinstance(scores, Mapping) else scores, dtype=float),
                          index=list(scores) if isinstance(scores, Mapping) else families)
            s = s[_truth.reindex(s.index).notna()]  # only families evaluated on the held-out dataset
            family = str(s.idxmax()) if len(s) and s.notna().any() else ""
            rows.append({**_base, "design": design, "variant": variant, "family": family,
                         "good": float(_truth.get(family, 0.0)) if family else 0.0})

        train_table = type(table)(families, table.best.loc[train_ids], good.loc[train_ids])
        votes, fitted = [], {}
        for settings in selectors:
            # k and the prior weight do not change what is fitted: one fit per meta-feature set.
            if settings.metafeatures not in fitted:
                fitted[settings.metafeatures] = FamilySelector(settings).fit(train, train_table)
            selector = fitted[settings.metafeatures]
            selector.settings = settings
            votes.append(selector.predict(mf))
            add("knn-vote", f"k={settings.k},m={settings.prior_weight:g},mf={settings.metafeatures}",
                votes[-1].to_dict())
        add("prior", "", dict(zip(selector.families, selector.prior, strict=True)))
        if lgbm:
            from autometa.metamodel._features import COMPACT_METAFEATURES, MetaFeatureScaler

            usable = [d for d in train_ids if good.loc[d].notna().sum() >= 2]
            scaler = MetaFeatureScaler().fit(data.metafeatures.loc[usable], list(COMPACT_METAFEATURES))
            X, x = scaler.raw(data.metafeatures.loc[usable]), scaler.raw(data.metafeatures.loc[[dataset_id]])
            p_good = lgbm_family_scores(X, good.loc[usable].to_numpy(dtype=float), x, "binary", seed)[0]
            add("lgbm-good", "", p_good)
            add("lgbm-best", "", lgbm_family_scores(X, normalized_best.loc[usable].to_numpy(dtype=float), x,
                                                    "regression", seed)[0])
            add("lgbm-rank", "", lgbm_family_scores(X, graded.loc[usable].to_numpy(dtype=float), x, "lambdarank",
                                                    seed)[0])
            add("vote+lgbm", "", 0.5 * votes[0].reindex(families).to_numpy() + 0.5 * p_good)
        if metamodel is not None:
            model = MetaModel.fit(train, metamodel, seed=seed, time_model=False)
            pred = model.predict(mf)
            fam = model.candidates["family"].to_numpy()
            for column, design in (("surrogate_mean", "metamodel-surrogate"), ("mean", "metamodel-blend")):
                v = pred[column].to_numpy()
                add(design, "", {f: float(np.nanmax(np.where(fam == f, v, -np.inf))) for f in families})
            evaluated = np.isfinite(data.normalized.loc[dataset_id].to_numpy(dtype=float))
            for design, select in (("portfolio-top1", False), ("selector-top1", True)):
                model.settings = replace(metamodel, select_family=select)
                order = model.rank(mf, 1, eligible=evaluated, prediction=pred)
                add(design, "", {str(fam[order[0]]): 1.0} if order else {})
    return pd.DataFrame(rows)


def summarize_selection(results: pd.DataFrame) -> pd.DataFrame:
    """Share of held-out datasets where each (design, variant) picked a good family, with a binomial
    standard error, and the chance rate (mean share of good families)."""
    g = results.groupby(["design", "variant"], dropna=False)
    out = pd.DataFrame({"good": g["good"].mean(), "datasets": g["dataset_id"].nunique()})
    out["stderr"] = np.sqrt(out["good"] * (1 - out["good"]) / out["datasets"].clip(lower=1))
    chance = (results.drop_duplicates("dataset_id")["n_good"] / results.drop_duplicates("dataset_id")["n_families"]).mean()
    out["chance"] = chance
    return out.reset_index().sort_values("good", ascending=False, ignore_index=True)
