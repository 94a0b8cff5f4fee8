"""Model fusion (autometa.models): ensemble selection, stacking and meta-decision trees on real predictions.

The candidates are real models' out-of-fold predictions under the protocol, on scikit-learn's breast
cancer and diabetes data; one hand-made case checks that a meta-decision tree learns whom to trust.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes


def _candidates(frame, families):
    import autometa
    from autometa.evaluation import DEFAULT_PROTOCOL, evaluate_config, prepare_data
    from autometa.models import Candidate

    dataset = autometa.load_dataset(frame, target="target")
    prepared = prepare_data(dataset, DEFAULT_PROTOCOL)
    metric = "balanced_accuracy" if dataset.task == "classification" else "r2"
    out = []
    for family, config in families:
        result = evaluate_config(prepared, family, config, keep_predictions=True)
        assert result.ok, result.error
        out.append(Candidate(family, config, len(out), result.scores[metric], result.predictions))
    out.sort(key=lambda c: -c.cv_score)
    return dataset, prepared, metric, out


@pytest.fixture(scope="module")
def cancer():
    return _candidates(load_breast_cancer(as_frame=True).frame,
                       [("lightgbm", {}), ("random_forest", {}), ("linear", {}), ("knn", {}), ("extra_trees", {})])


@pytest.fixture(scope="module")
def diabetes():
    return _candidates(load_diabetes(as_frame=True).frame,
                       [("lightgbm", {"learning_rate": 0.03}), ("random_forest", {}), ("linear", {}), ("knn", {})])


def test_out_of_fold_predictions_reproduce_the_protocols_scores(cancer):
    from autometa.evaluation import DEFAULT_PROTOCOL, fold_indices, metric_score

    _, prepared, metric, candidates = cancer
    best = candidates[0]
    folds = fold_indices(prepared.y, prepared.task, DEFAULT_PROTOCOL)
    per_fold = [metric_score(metric, prepared.y[test], best.oof[test], 2) for _, test in folds]
    assert np.mean(per_fold) == pytest.approx(best.cv_score)


@pytest.mark.parametrize("task_fixture", ["cancer", "diabetes"])
def test_ensemble_selection_is_never_worse_than_the_best_candidate_on_its_own_rows(task_fixture, request):
    from autometa.evaluation import metric_score
    from autometa.models import ensemble_selection

    dataset, prepared, metric, candidates = request.getfixturevalue(task_fixture)
    n_classes = prepared.n_classes
    outputs = [c.oof for c in candidates]
    counts = ensemble_selection(outputs, prepared.y, dataset.task, metric, n_classes)
    assert counts.sum() >= 1 and counts[0] >= 0
    mixed = sum(w * o for w, o in zip(counts, outputs, strict=True)) / counts.sum()
    assert metric_score(metric, prepared.y, mixed, n_classes) >= candidates[0].cv_score - 1e-9


@pytest.mark.parametrize("kind", ["selection", "stacking", "mdt"])
@pytest.mark.parametrize("task_fixture", ["cancer", "diabetes"])
def test_fused_models_fit_on_all_rows_and_predict_new_ones(kind, task_fixture, request):
    from autometa.models import fit_model

    dataset, prepared, metric, candidates = request.getfixturevalue(task_fixture)
    model = fit_model(candidates, dataset, kind=kind, metric=metric,
                      cv={"rows": prepared.n_rows_used, "folds": 3, "y": prepared.y})
    X = dataset.X.sample(50, random_state=0)
    check = model.card["cv"]["fusion_check"]  # the fusion against the best model on rows it did not learn from
    assert check["folds"] == 5 and np.isfinite([check["fusion"], check["best_single"]]).all()
    if model.kind == "single":  # not better on held-out rows (or selection kept one model): said
        assert model.card["notes"] and model.family == candidates[0].family
        assert check["fusion"] <= check["best_single"] or kind == "selection"
    else:
        assert check["fusion"] > check["best_single"]
        assert model.kind == kind and len(model.members) >= 2
        assert [m["family"] for m in model.card["members"]] == [m.family for m in model.members]
    assert abs(sum(model.card["weights"]) - 1.0) < 1e-9
    prediction = model.predict(X)
    assert prediction.shape == (50,)
    if dataset.task == "classification":
        proba = model.predict_proba(X)
        assert proba.shape == (50, 2) and np.allclose(proba.sum(axis=1), 1.0)
        assert set(prediction) <= set(model.classes)
        assert model.card["classes"] == [0, 1]
    else:
        assert np.isfinite(prediction).all()
        with pytest.raises(Exception, match="predict_proba is for classification"):
            model.predict_proba(X)


def test_a_meta_decision_tree_learns_which_member_to_trust():
    from autometa.models import fuse

    rng = np.random.default_rng(0)
    n = 2000
    y = rng.integers(0, 2, n)
    # Member A is confident and right on the first half, unsure elsewhere; member B the other way round.
    first = np.arange(n) < n // 2
    sure_a = np.where(first, 0.95, 0.55)
    sure_b = np.where(first, 0.55, 0.95)

    def member(sure, right):
        p1 = np.where(right == (y == 1), sure, 1 - sure)
        return np.column_stack([1 - p1, p1])

    a = member(sure_a, np.where(first, True, rng.random(n) < 0.5))
    b = member(sure_b, np.where(first, rng.random(n) < 0.5, True))
    _, tree = fuse("mdt", [a, b], y, "classification", "balanced_accuracy", 2)
    from autometa.models._ensemble import _tree_mixture

    mixed = _tree_mixture(tree, [a, b], "classification")
    assert (mixed.argmax(axis=1) == y).mean() > 0.97
    assert max((a.argmax(axis=1) == y).mean(), (b.argmax(axis=1) == y).mean()) < 0.8


def test_a_fusion_without_out_of_fold_predictions_falls_back_to_the_best_model_and_says_so(cancer):
    from autometa.models import Candidate, fit_model

    dataset, prepared, metric, candidates = cancer
    bare = [Candidate(c.family, c.config, c.trial, c.cv_score) for c in candidates]
    model = fit_model(bare, dataset, kind="stacking", metric=metric, cv={"rows": 569, "folds": 3})
    assert model.kind == "single" and model.family == candidates[0].family
    assert "out-of-fold predictions" in model.card["notes"][0]
