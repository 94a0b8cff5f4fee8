"""The meta-model: training tables, predictions, nearest datasets, portfolios, acquisition, disk cache, LODO.

The knowledge base used here is made by the test itself (``tiny_kb``): real evaluations under the
protocol of two cheap families on small scikit-learn and synthetic datasets, with real meta-features;
one dataset appears twice under two names, so the nearest-dataset search has a known answer.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

FAMILIES = ("linear", "knn")
N_CONFIGS = 5
PROTOCOL_CAP = 300


def _datasets():
    from sklearn.datasets import (
        load_breast_cancer,
        load_diabetes,
        load_iris,
        load_wine,
        make_classification,
        make_friedman1,
        make_regression,
    )

    out = {}
    for name, loader in (("iris", load_iris), ("wine", load_wine), ("breast_cancer", load_breast_cancer)):
        X, y = loader(return_X_y=True, as_frame=True)
        out[name] = (X, y, "classification")
    X, y = load_iris(return_X_y=True, as_frame=True)
    out["iris_twin"] = (X.copy(), y.copy(), "classification")  # the same data under another name
    for i, (informative, sep, flip) in enumerate(((2, 0.5, 0.2), (5, 1.5, 0.0), (3, 1.0, 0.1), (8, 0.8, 0.05))):
        X, y = make_classification(n_samples=240, n_features=10, n_informative=informative, n_redundant=1,
                                   class_sep=sep, flip_y=flip, random_state=i)
        out[f"synth_{i}"] = (pd.DataFrame(X, columns=[f"x{j}" for j in range(10)]), pd.Series(y), "classification")
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    out["diabetes"] = (X, y, "regression")
    for i, noise in enumerate((0.5, 5.0)):
        X, y = make_friedman1(n_samples=200, noise=noise, random_state=i)
        out[f"friedman_{i}"] = (pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])]), pd.Series(y), "regression")
    X, y = make_regression(n_samples=200, n_features=6, noise=10.0, random_state=3)
    out["linear_reg"] = (pd.DataFrame(X, columns=[f"x{j}" for j in range(6)]), pd.Series(y), "regression")
    return out


def build_tiny_kb(folder: Path) -> Path:
    """Evaluate every config of FAMILIES on every dataset of ``_datasets()`` and save the KB."""
    from threadpoolctl import threadpool_limits

    if (folder / "kb.json").exists():
        return folder
    # Load the native (BLAS, OpenMP) libraries before limiting threads: the limit applies to loaded ones.
    import sklearn.linear_model  # noqa: F401
    import sklearn.neighbors  # noqa: F401

    import metafeatures  # noqa: F401

    with threadpool_limits(1):  # as in the protocol's workers; many BLAS threads only spin on 2 cores
        return _build(folder)


def _build(folder: Path) -> Path:
    import metafeatures
    from autometa.data import load_dataset
    from autometa.evaluation import Protocol, evaluate_config, prepare_data
    from autometa.kb import KnowledgeBase
    from autometa.spaces import config_set

    protocol = Protocol(row_cap=PROTOCOL_CAP)
    dataset_rows, evaluation_rows = [], []
    for name, (X, y, task) in _datasets().items():
        dataset = load_dataset(X, y=y, task=task, name=name)
        data = prepare_data(dataset, protocol)
        mf = metafeatures.extract(data.X, data.y, task=task, random_state=protocol.seed)
        dataset_id = f"test/{name}"
        dataset_rows.append({"dataset_id": dataset_id, "source": "test", "name": name, "task": task,
                             "n_rows": dataset.n_rows, "n_features": dataset.n_features,
                             "n_classes": dataset.n_classes, "row_cap": protocol.row_cap,
                             "protocol_version": protocol.version,
                             **{f"mf.{k}": v for k, v in dict(mf).items()}})
        for family in FAMILIES:
            for config_id, config in config_set(family, N_CONFIGS).items():
                result = evaluate_config(data, family, config, protocol, isolate=False)
                evaluation_rows.append(result.to_row(dataset_id, config_id, "test"))
    kb = KnowledgeBase(pd.DataFrame(dataset_rows), pd.DataFrame(evaluation_rows), meta={"protocol": protocol.to_dict()})
    return kb.save(folder)


# tiny_kb: conftest.py (it calls build_tiny_kb above).


@pytest.fixture()
def cache(tmp_path, monkeypatch) -> Path:
    # Not conftest's session-wide metamodel_cache: the cache tests count and corrupt the files of their
    # own fits, so each needs an empty folder of its own.
    folder = tmp_path / "cache"
    monkeypatch.setenv("AUTOMETA_CACHE_DIR", str(folder))
    return folder


def fast_settings(**kw):
    from autometa.metamodel import Settings

    return Settings(n_models=2, num_boost_round=40, k=4, **kw)


# ----------------------------------------------------------------------------- training tables
def test_training_tables_are_normalized_per_dataset(tiny_kb):
    from autometa.kb import KnowledgeBase
    from autometa.metamodel import training_data

    data = training_data(KnowledgeBase.load(tiny_kb), "classification")
    assert data.metric == "balanced_accuracy"
    assert len(data) == 8 and data.normalized.shape[1] == len(FAMILIES) * N_CONFIGS
    norm = data.normalized
    assert ((norm >= 0) & (norm <= 1) | norm.isna()).all().all()
    assert np.allclose(norm.max(axis=1), 1.0)  # the best config of every dataset is 1
    # A dataset's best config by raw score is its normalized 1.
    for dataset_id in data.dataset_ids:
        assert norm.loc[dataset_id].idxmax() == data.scores.loc[dataset_id].idxmax()
    assert set(data.candidates["family"]) == set(FAMILIES)


def test_lower_is_better_metric_is_flipped(tiny_kb):
    from autometa.kb import KnowledgeBase
    from autometa.metamodel import training_data

    data = training_data(KnowledgeBase.load(tiny_kb), "regression", "rmse")
    for dataset_id in data.dataset_ids:
        assert data.normalized.loc[dataset_id].idxmax() == data.scores.loc[dataset_id].idxmin()


def test_unknown_metric_is_an_input_error(tiny_kb):
    from autometa.errors import InputError
    from autometa.kb import KnowledgeBase
    from autometa.metamodel import training_data

    with pytest.raises(InputError, match="Unknown metric"):
        training_data(KnowledgeBase.load(tiny_kb), "classification", "accuracyy")


# ----------------------------------------------------------------------------- the model
@pytest.fixture(scope="module")
def fitted(tiny_kb):
    from autometa.kb import KnowledgeBase
    from autometa.metamodel import MetaModel, training_data

    data = training_data(KnowledgeBase.load(tiny_kb), "classification")
    return data, MetaModel.fit(data.without("test/iris"), fast_settings())


def test_nearest_dataset_of_a_twin_is_the_twin(fitted):
    data, model = fitted
    nb = model.neighbors(data.metafeatures.loc["test/iris"].to_dict(), k=3)
    assert nb["dataset_id"].iloc[0] == "test/iris_twin"
    assert nb["distance"].iloc[0] == pytest.approx(0.0, abs=1e-9)
    assert nb["distance"].is_monotonic_increasing
    assert "test/iris" not in set(nb["dataset_id"])  # it was left out of the fit
    assert nb["weight"].sum() == pytest.approx(1.0)


def test_predictions_cover_every_candidate_with_an_uncertainty(fitted):
    data, model = fitted
    pred = model.predict(data.metafeatures.loc["test/iris"].to_dict())
    assert list(pred.index) == list(model.candidates.index)
    assert np.isfinite(pred[["mean", "std", "surrogate_mean"]].to_numpy()).all()
    assert (pred["std"] > 0).all()
    # A config the knowledge base never evaluated is scored by the surrogate alone.
    new = pd.DataFrame({"family": ["linear"], "config": [{"C": 0.0123}]}, index=["new"])
    other = model.predict(data.metafeatures.loc["test/iris"].to_dict(), new)
    assert np.isnan(other.loc["new", "knn_mean"]) and np.isfinite(other.loc["new", "mean"])


def test_knn_design_recovers_the_twins_best_config(fitted):
    data, model = fitted
    mf = data.metafeatures.loc["test/iris"].to_dict()
    first = model.rank(mf, 1, design="knn")[0]
    twin_best = data.normalized.loc["test/iris_twin"].to_numpy().argmax()
    assert first == twin_best


@pytest.mark.parametrize("design", ["portfolio", "knn", "knn-avg", "surrogate", "blend"])
def test_every_design_ranks_distinct_eligible_configs(fitted, design):
    data, model = fitted
    eligible = (model.candidates["family"] == "knn").to_numpy()
    order = model.rank(data.metafeatures.loc["test/wine"].to_dict(), 4, design=design, eligible=eligible)
    assert len(order) == 4 and len(set(order)) == 4
    assert all(eligible[i] for i in order)


def test_fit_time_is_predicted_and_grows_with_rows(fitted):
    data, model = fitted
    mf = data.metafeatures.loc["test/wine"].to_dict()
    small = model.predict_fit_seconds(mf)
    large = model.predict_fit_seconds(mf, n_rows=100_000)
    assert (small > 0).all() and (large > small).all()


# ----------------------------------------------------------------------------- portfolio, acquisition
def test_greedy_portfolio_covers_complementary_datasets():
    from autometa.metamodel._portfolio import greedy_portfolio  # the internal part is the unit under test

    # Config 0 is good on average; configs 1 and 2 are each best on half the datasets.
    scores = np.array([[0.8, 1.0, 0.0], [0.8, 1.0, 0.0], [0.8, 0.0, 1.0], [0.8, 0.0, 1.0]])
    assert greedy_portfolio(scores, 1) == [0]
    assert sorted(greedy_portfolio(scores, 3)[1:]) == [1, 2]
    assert greedy_portfolio(scores, 2, weights=np.array([1, 1, 0, 0]))[0] == 1


def test_posterior_follows_observations_and_keeps_the_prior_far_away():
    from autometa.metamodel._acquisition import (  # the internal part is the unit under test
        AcquisitionSettings,
        posterior,
    )

    settings = AcquisitionSettings(length_scale=0.1, family_corr=0.0)
    cand = np.array([[0, 0.50], [0, 0.52], [0, 0.95], [1, 0.5]])
    obs = np.array([[0, 0.5], [0, 0.1]])
    prior = np.array([0.9, 0.9, 0.9, 0.9])
    mu, sigma = posterior(prior, np.full(4, 0.2), cand, obs, np.array([0.9, 0.9]), np.array([0.0, 1.0]), settings)
    assert mu[0] < 0.5 and mu[1] < 0.6  # observed bad right there
    assert mu[2] == pytest.approx(0.9, abs=0.01) and mu[3] == pytest.approx(0.9)  # far away / other family
    assert sigma[0] < sigma[2] and sigma[3] == pytest.approx(0.2)


# ----------------------------------------------------------------------------- cache
def test_cache_is_reused_and_holds_no_pickles(tiny_kb, cache, monkeypatch):
    from autometa.metamodel import MetaModel, load_metamodel

    first = load_metamodel("classification", kb=tiny_kb, settings=fast_settings())
    files = [p for p in cache.rglob("*") if p.is_file() and p.suffix != ".lock"]  # locks are empty files
    assert {p.suffix for p in files} <= {".json", ".parquet", ".txt"}
    meta = json.loads(next(p for p in files if p.name == "model.json").read_text())
    assert meta["format"] == "autometa-metamodel" and meta["format_version"] >= 1

    def no_fit(*a, **k):
        raise AssertionError("refitted although the cache is valid")

    monkeypatch.setattr(MetaModel, "fit", no_fit)
    again = load_metamodel("classification", kb=tiny_kb, settings=fast_settings())
    mf = {"NumberOfInstances": 150.0, "NumberOfFeatures": 5.0, "ClassEntropy": 1.5}
    pd.testing.assert_frame_equal(first.predict(mf), again.predict(mf))


def test_stale_or_broken_cache_is_rebuilt(tiny_kb, cache):
    from autometa.metamodel import load_metamodel

    load_metamodel("classification", kb=tiny_kb, settings=fast_settings())
    model_json = next(cache.rglob("model.json"))
    meta = json.loads(model_json.read_text())
    meta["format_version"] = 999
    model_json.write_text(json.dumps(meta))
    load_metamodel("classification", kb=tiny_kb, settings=fast_settings())
    assert json.loads(model_json.read_text())["format_version"] != 999
    next(model_json.parent.glob("surrogate-0.txt")).write_text("not a model")
    model = load_metamodel("classification", kb=tiny_kb, settings=fast_settings())
    assert model.surrogate is not None and (model_json.parent / "surrogate-0.txt").read_text().startswith("tree")


def test_another_knowledge_base_gets_another_model(tiny_kb, cache, tmp_path):
    from autometa.kb import KnowledgeBase
    from autometa.metamodel import kb_fingerprint, load_metamodel

    kb = KnowledgeBase.load(tiny_kb)
    smaller = KnowledgeBase(kb.datasets[kb.datasets["dataset_id"] != "test/wine"],
                            kb.evaluations[kb.evaluations["dataset_id"] != "test/wine"])
    smaller.save(tmp_path / "smaller")
    assert kb_fingerprint(folders=[tiny_kb]) != kb_fingerprint(folders=[tmp_path / "smaller"])
    a = load_metamodel("classification", kb=tiny_kb, settings=fast_settings())
    b = load_metamodel("classification", kb=tmp_path / "smaller", settings=fast_settings())
    assert "test/wine" in a.dataset_ids and "test/wine" not in b.dataset_ids
    assert len(list((cache / "metamodel").iterdir())) == 2


# ----------------------------------------------------------------------------- leave one dataset out
def test_lodo_scores_every_design_without_the_held_out_dataset(tiny_kb):
    from autometa.kb import KnowledgeBase
    from autometa.metamodel import training_data
    from benchmarks.lodo import lodo, summarize

    data = training_data(KnowledgeBase.load(tiny_kb), "classification")
    results = lodo(data, [fast_settings()], datasets=["test/iris", "test/synth_1"], ks=(1, 3))
    assert set(results["design"]) == {"portfolio", "knn", "knn-avg", "surrogate", "blend"}
    assert ((results["top1"] <= results["top3"]) & (results["top3"] <= 1.0)).all()
    # iris has a twin in the KB: the nearest-dataset designs find its best config at once.
    iris = results[(results["dataset_id"] == "test/iris") & (results["design"] == "knn")]
    assert iris["top1"].iloc[0] == pytest.approx(1.0)
    summary = summarize(results, ks=(1, 3))
    assert set(summary["datasets"]) == {2}


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    from autometa.metamodel import cache_dir

    monkeypatch.setenv("AUTOMETA_CACHE_DIR", str(tmp_path / "x"))
    assert cache_dir() == tmp_path / "x"
    monkeypatch.delenv("AUTOMETA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "autometa"
    assert os.environ.get("AUTOMETA_CACHE_DIR") is None


def test_meta_model_and_tpe_take_turns_after_the_warm_start():
    from autometa.metamodel._acquisition import (  # the internal part is the unit under test
        AcquisitionSettings,
        meta_turn,
    )

    turns = [meta_turn(n, 5, AcquisitionSettings(meta_every=2)) for n in range(12)]
    assert turns == [True] * 5 + [True, False, True, False, True, False, True]
    assert not any(meta_turn(n, 5, AcquisitionSettings(meta_every=0)) for n in range(5, 20))


def test_near_copies_of_tried_configs_are_never_proposed():
    from autometa.metamodel._acquisition import (  # the internal part is the unit under test
        AcquisitionSettings,
        acquisition,
    )

    cand = np.array([[0, 0.501], [0, 0.7], [1, 0.5], [2, np.nan]])
    obs = np.array([[0, 0.5], [2, np.nan]])
    score = acquisition(np.full(4, 0.9), np.full(4, 0.1), cand, obs, np.full(2, 0.9), np.array([1.0, 0.0]),
                        AcquisitionSettings(min_distance=0.05))
    assert score[0] == -np.inf and score[3] == -np.inf  # a near-copy; a family without parameters, tried
    assert np.isfinite(score[1]) and np.isfinite(score[2])


# ----------------------------------------------------------------------------- model selection
def test_good_families_use_a_relative_tolerance_in_the_metric_direction():
    from autometa.metamodel._select import good_families  # the internal part is the unit under test

    best = np.array([[0.90, 0.895, 0.88, np.nan],     # 0.895 >= 0.90 - 0.009: good; 0.88 not; NaN not run
                     [-1.00, -1.009, -np.inf, -1.02]])  # a loss, negated: 1.009 is within 1 % of 1.0; -inf failed
    good = good_families(best)
    assert good[0, :3].tolist() == [1.0, 1.0, 0.0] and np.isnan(good[0, 3])
    assert good[1].tolist() == [1.0, 1.0, 0.0, 0.0]


def test_family_table_matches_each_familys_best_config(tiny_kb):
    from autometa.kb import KnowledgeBase
    from autometa.metamodel import training_data
    from autometa.metamodel._select import family_table  # the internal part is the unit under test
    from benchmarks.lodo import family_within

    data = training_data(KnowledgeBase.load(tiny_kb), "regression", "rmse")  # lower is better
    table = family_table(data)
    assert table.families == sorted(FAMILIES)
    for dataset_id in data.dataset_ids:
        raw = data.scores.loc[dataset_id]
        for family in FAMILIES:
            cols = (data.candidates["family"] == family).to_numpy()
            assert table.best.loc[dataset_id, family] == pytest.approx(-raw[cols].min())
            assert table.good.loc[dataset_id, family] == family_within(raw.to_numpy(), list(data.candidates["family"]),
                                                                       family, "rmse")
        assert table.good.loc[dataset_id].max() == 1.0  # the best family is always good


def test_selector_votes_with_the_nearest_datasets(fitted):
    from autometa.metamodel._select import (  # the internal part is the unit under test
        FamilySelector,
        SelectorSettings,
        family_table,
    )

    data, _ = fitted
    train = data.without("test/iris")
    twin = family_table(data).good.loc["test/iris_twin"]
    mf = data.metafeatures.loc["test/iris"].to_dict()
    selector = FamilySelector(SelectorSettings(k=1, prior_weight=0.0)).fit(train)
    assert selector.predict(mf).to_dict() == pytest.approx(twin.to_dict(), abs=1e-6)  # its twin's good families
    # Known datasets in `exclude` do not vote: with all but one excluded, that one decides.
    good = family_table(data).good
    for voter in ("test/synth_0", "test/wine"):
        others = [d for d in selector.dataset_ids if d != voter]
        assert selector.predict(mf, exclude=others).to_dict() == pytest.approx(good.loc[voter].to_dict(), abs=1e-6)
    # A large prior weight gives the families' shares of good datasets.
    shrunk = FamilySelector(SelectorSettings(k=1, prior_weight=1e6)).fit(train)
    expected = good.loc[train.dataset_ids].mean()
    assert shrunk.predict(mf).to_dict() == pytest.approx(expected.to_dict(), abs=1e-5)


def test_first_recommendation_comes_from_the_selected_family(fitted):
    from dataclasses import replace

    data, model = fitted
    families = model.candidates["family"].to_numpy()
    off = model.settings
    assert not off.select_family  # the default (see Settings)
    model.settings = replace(off, select_family=True)
    try:
        for dataset_id in ("test/iris", "test/wine", "test/synth_0"):
            mf = data.metafeatures.loc[dataset_id].to_dict()
            chosen = model.selector.choose(mf)
            order = model.rank(mf, 4)
            assert families[order[0]] == chosen and len(set(order)) == 4
            # Within the family, the first pick is the greedy's best config of that family.
            only = families == chosen
            model.settings = replace(off, first_pick="blend")
            assert order[0] == model.rank(mf, 1, eligible=only)[0]
            model.settings = replace(off, select_family=True)
        # A family filter wins over the selector.
        linear = families == "linear"
        assert all(linear[i] for i in model.rank(data.metafeatures.loc["test/wine"].to_dict(), 3, eligible=linear))
    finally:
        model.settings = off


def test_cached_model_keeps_its_family_selector(tiny_kb, cache):
    from autometa.metamodel import load_metamodel

    first = load_metamodel("classification", kb=tiny_kb, settings=fast_settings())
    again = load_metamodel("classification", kb=tiny_kb, settings=fast_settings())
    assert again is not first and again.selector is not None
    mf = {"NumberOfInstances": 150.0, "NumberOfFeatures": 5.0, "ClassEntropy": 1.5}
    pd.testing.assert_series_equal(first.selector.predict(mf), again.selector.predict(mf))
    assert first.rank(mf, 3) == again.rank(mf, 3)


def test_lodo_leaves_out_the_whole_duplicate_group(tiny_kb, monkeypatch):
    from autometa.kb import KnowledgeBase
    from autometa.metamodel import training_data
    from autometa.metamodel._select import (  # the internal part is the unit under test
        FamilySelector,
        SelectorSettings,
    )
    from benchmarks.lodo import held_out, lodo_selection, summarize_selection

    kb = KnowledgeBase.load(tiny_kb)
    groups = kb.duplicate_groups().to_dict()
    assert groups["test/iris"] == groups["test/iris_twin"]  # the same data under two names
    data = training_data(kb, "classification")
    assert sorted(held_out("test/iris", groups, data.dataset_ids)) == ["test/iris", "test/iris_twin"]
    assert held_out("test/wine", groups, data.dataset_ids) == ["test/wine"]
    seen = []
    fit = FamilySelector.fit
    monkeypatch.setattr(FamilySelector, "fit", lambda self, d, t=None: seen.append(d.dataset_ids) or fit(self, d, t))
    results = lodo_selection(data, groups=groups, datasets=["test/iris", "test/wine"],
                             selectors=[SelectorSettings(k=2)], lgbm=True)
    assert "test/iris_twin" not in seen[0] and "test/iris" not in seen[0] and "test/iris_twin" in seen[1]
    assert {"prior", "knn-vote", "lgbm-good", "lgbm-best", "lgbm-rank", "vote+lgbm"} <= set(results["design"])
    assert results["good"].isin([0.0, 1.0]).all() and (results["n_good"] >= 1).all()
    summary = summarize_selection(results)
    assert summary["good"].between(0, 1).all() and set(summary["datasets"]) == {2}


def test_a_metric_missing_from_its_column_is_read_from_the_fold_scores(tiny_kb):
    from autometa.kb import KnowledgeBase
    from autometa.metamodel import training_data

    kb = KnowledgeBase.load(tiny_kb)
    ev = kb.evaluations.copy()
    # LCDB's accuracy lives in the fold scores; an empty column of that name (a newer schema) must not hide it.
    ev["fold_scores"] = [json.dumps({**json.loads(t or "{}"), "accuracy": json.loads(t or "{}").get("balanced_accuracy")})
                         for t in ev["fold_scores"]]
    ev["accuracy"] = np.nan
    data = training_data(KnowledgeBase(kb.datasets, ev, meta=kb.meta), "classification", "accuracy")
    reference = training_data(kb, "classification")
    pd.testing.assert_frame_equal(data.scores, reference.scores, check_exact=False, rtol=1e-9)


# ----------------------------------------------------------------------------- safe first pick
def test_safe_first_pick_beats_the_reference_default_on_most_similar_datasets(fitted):
    from dataclasses import replace

    from autometa.metamodel import safe_first_pick
    from autometa.metamodel._safe import (  # the internal part is the unit under test
        reference_default,
        win_shares,
    )

    data, model = fitted
    mf = data.metafeatures.loc["test/iris"].to_dict()
    pick = safe_first_pick(model, mf)
    allowed = np.ones(len(model.candidates), dtype=bool)
    ref = reference_default(model, allowed)
    # No default of LightGBM in this KB: the reference is the first default the families hold (linear).
    assert model.candidates.iloc[ref][["family", "config_id"]].tolist() == ["linear", "default"]
    wins = win_shares(model.normalized, ref)
    share = np.nanmean(wins, axis=0)  # safe_k (40) exceeds the 7 training datasets: every one is near
    assert share[pick] == pytest.approx(np.nanmax(share))
    assert share[pick] > share[ref] == 0.0
    # The list opens with it, and the greedy continues from it without repeating it.
    order = model.rank(mf, 3)
    assert order[0] == pick and len(set(order)) == 3
    shipped = model.settings
    try:
        model.settings = replace(shipped, first_pick="blend")
        assert model.rank(mf, 3)[0] == model.rank(mf, 3, design="blend")[0]
    finally:
        model.settings = shipped


def test_safe_first_pick_stays_inside_the_eligible_configs(fitted):
    from autometa.metamodel import safe_first_pick

    data, model = fitted
    knn_only = (model.candidates["family"] == "knn").to_numpy()
    pick = safe_first_pick(model, data.metafeatures.loc["test/wine"].to_dict(), eligible=knn_only)
    assert knn_only[pick]
    # The reference is then knn's own default, which the pick must not be unless nothing beats it.
    assert model.candidates["config_id"].iloc[pick] != "default" or np.nanmax(model.normalized[:, knn_only]) == 0


# ----------------------------------------------------------------------------- adaptive transfer
def test_the_known_dataset_that_ranks_the_study_like_it_takes_over_the_prior(fitted):
    from autometa.metamodel._transfer import (  # the internal part is the unit under test
        TransferSettings,
        adapted_prior,
        dataset_weights,
        ranking_agreement,
    )

    data, model = fitted
    normalized = model.normalized
    twin = model.dataset_ids.index("test/iris_twin")
    # A study on iris (held out of the fit): its real scores of 8 configs.
    rng = np.random.default_rng(0)
    tried = rng.choice(np.flatnonzero(np.isfinite(normalized[twin])), size=8, replace=False)
    values = data.scores.loc["test/iris"].to_numpy(dtype=float)[tried]
    tau, pairs = ranking_agreement(normalized[:, tried], values)
    assert pairs > 0 and np.all((tau >= -1) & (tau <= 1))
    assert int(np.argmax(tau)) == twin and tau[twin] == pytest.approx(1.0)  # the same data ranks alike
    w = dataset_weights(tau, pairs, TransferSettings())
    assert int(np.argmax(w)) == twin and w.sum() == pytest.approx(1.0)
    flat = np.full(normalized.shape[1], 0.5)
    prior = adapted_prior(flat, normalized, tried, values)
    # The adapted prior moved from the flat prior towards the twin's scores: it now correlates with them.
    truth = data.normalized.loc["test/iris"].to_numpy(dtype=float)
    assert np.corrcoef(prior, truth)[0, 1] > 0.5
    assert np.array_equal(adapted_prior(flat, normalized, tried, values, TransferSettings(enabled=False)), flat)
    # A failed trial ranks below every finished one, and one result alone teaches nothing.
    assert ranking_agreement(normalized[:, tried[:2]], np.array([np.nan, 0.5]))[1] == 1
    assert np.array_equal(adapted_prior(flat, normalized, tried[:1], values[:1]), flat)


def test_sampler_prior_follows_the_known_datasets_that_rank_the_study_alike(fitted):
    # Through the sampler's private prior hook: the public proposal mixes in the acquisition and TPE.
    from autometa.metamodel import MetaSampler
    from autometa.metamodel._transfer import TransferSettings  # the internal part is the unit under test

    data, model = fitted
    # A misleading prior: the meta-features say "like synth_0", the results are iris's (whose twin the
    # knowledge base holds).
    mf = data.metafeatures.loc["test/synth_0"].to_dict()
    truth = data.normalized.loc["test/iris"].reindex(model.candidates.index).to_numpy(dtype=float)
    observed_cols = np.flatnonzero(np.isfinite(truth))[::3][:8]
    correlations = {}
    for enabled in (True, False):
        sampler = MetaSampler(model, mf, list(FAMILIES), seed=0, transfer=TransferSettings(enabled=enabled))
        rows = np.arange(len(model.candidates))
        obs = rows[observed_cols]
        mean, std = sampler._study_prior(rows, obs, truth[observed_cols], np.zeros(len(obs), dtype=bool))
        assert np.isfinite(mean).all() and (std > 0).all()
        correlations[enabled] = np.corrcoef(mean, np.nan_to_num(truth))[0, 1]
    assert correlations[True] > correlations[False]
