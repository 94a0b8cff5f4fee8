"""The evaluation protocol: rows, folds, metrics, limits, and the one normalization."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris
from sklearn.metrics import log_loss, roc_auc_score

from autometa.data import load_dataset
from autometa.errors import InputError
from autometa.evaluation import (
    DEFAULT_PROTOCOL,
    Protocol,
    WorkerPool,
    evaluate_config,
    fold_indices,
    normalize,
    prepare_data,
    run_cv,
    score_classification,
    score_regression,
    subsample_indices,
)


@pytest.fixture(scope="module")
def pool():
    with WorkerPool(1) as shared:
        yield shared


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True, as_frame=True)
    return load_dataset(X, y=y, task="classification", name="iris")


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    return load_dataset(X, y=y, task="regression", name="diabetes")


def test_protocol_is_frozen_validated_and_round_trips():
    assert DEFAULT_PROTOCOL.k == 3 and DEFAULT_PROTOCOL.row_cap == 2000
    from dataclasses import FrozenInstanceError

    with pytest.raises(FrozenInstanceError):
        DEFAULT_PROTOCOL.k = 5
    assert Protocol.from_dict(DEFAULT_PROTOCOL.to_dict()) == DEFAULT_PROTOCOL
    with pytest.raises(InputError, match="at least 2 folds"):
        Protocol(k=1)
    with pytest.raises(InputError, match="time limit"):
        Protocol(time_limit=0)


def test_row_cap_subsamples_stratified_deterministic_and_keeps_rare_classes():
    rng = np.random.default_rng(0)
    y = np.array(["a"] * 5000 + ["b"] * 900 + ["rare"] * 2)
    rng.shuffle(y)
    protocol = Protocol(row_cap=600)
    keep = subsample_indices(y, "classification", protocol)
    assert len(keep) == 600 and len(set(keep)) == 600
    np.testing.assert_array_equal(keep, subsample_indices(y, "classification", protocol))
    counts = pd.Series(y[keep]).value_counts()
    assert counts["rare"] == 2  # min(count, k) rows of every class survive
    assert abs(counts["b"] / counts["a"] - 900 / 5000) < 0.01  # proportions kept
    assert len(subsample_indices(y[:300], "classification", protocol)) == 300  # under the cap: all rows
    reg = subsample_indices(np.arange(1000.0), "regression", protocol)
    assert len(reg) == 600 and np.all(np.diff(reg) > 0)
    assert not np.array_equal(reg, subsample_indices(np.arange(1000.0), "regression", Protocol(row_cap=600, seed=1)))


def test_folds_are_stratified_deterministic_and_cope_with_tiny_classes():
    y = np.array([0] * 30 + [1] * 12 + [2])  # class 2 has fewer rows than folds
    folds = fold_indices(y, "classification", DEFAULT_PROTOCOL)
    again = fold_indices(y, "classification", DEFAULT_PROTOCOL)
    assert len(folds) == 3
    for (_, test), (_, test2) in zip(folds, again, strict=True):
        np.testing.assert_array_equal(test, test2)
        assert np.bincount(y[test], minlength=3)[1] == 4  # 12 / 3
    assert sorted(np.concatenate([t for _, t in folds])) == list(range(len(y)))


def test_fold_metrics_agree_with_scikit_learn():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, size=200)
    proba = rng.dirichlet(np.ones(3), size=200)
    scores = score_classification(y, proba, 3)
    assert scores["log_loss"] == pytest.approx(log_loss(y, proba, labels=[0, 1, 2]))
    assert scores["roc_auc"] == pytest.approx(roc_auc_score(y, proba, multi_class="ovr", average="macro"))
    binary = score_classification(y % 2, np.column_stack([1 - proba[:, 0], proba[:, 0]]), 2)
    assert binary["roc_auc"] == pytest.approx(roc_auc_score(y % 2, proba[:, 0]))
    reg = score_regression(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0]))
    assert reg["rmse"] == pytest.approx(math.sqrt(1 / 3)) and reg["r2"] == pytest.approx(0.5)


def test_cross_validation_scores_real_data_in_process(iris, diabetes):
    result = run_cv(prepare_data(iris, DEFAULT_PROTOCOL), "linear", {}, DEFAULT_PROTOCOL)
    assert result.ok, result.error
    assert result.scores["balanced_accuracy"] > 0.9 and result.scores["roc_auc"] > 0.95
    assert len(result.fold_scores["balanced_accuracy"]) == 3
    assert math.isnan(result.scores.get("r2", math.nan))
    assert result.n_rows_used == 150 and result.protocol_version == DEFAULT_PROTOCOL.version
    reg = run_cv(prepare_data(diabetes, DEFAULT_PROTOCOL), "linear", {"C": 1.0}, DEFAULT_PROTOCOL)
    assert reg.ok and 0.3 < reg.scores["r2"] < 0.6 and reg.scores["rmse"] > 0


def test_classes_missing_from_a_training_fold_get_zero_probability():
    X, y = load_iris(return_X_y=True, as_frame=True)
    y = y.astype(str).to_numpy()
    y[0] = "singleton"  # one row: absent from two training folds
    dataset = load_dataset(X, y=y, task="classification")
    result = run_cv(prepare_data(dataset, DEFAULT_PROTOCOL), "knn", {}, DEFAULT_PROTOCOL)
    assert result.ok, result.error
    assert np.isfinite(result.scores["log_loss"]) and result.scores["balanced_accuracy"] > 0.6


def test_worker_pool_evaluates_and_results_match_in_process(pool, iris):
    isolated = evaluate_config(iris, "knn", {"n_neighbors": 7}, pool=pool)
    local = evaluate_config(iris, "knn", {"n_neighbors": 7}, isolate=False)
    assert isolated.ok
    assert isolated.fold_scores == local.fold_scores  # same folds, same model, same numbers
    assert isolated.config == {"n_neighbors": 7, "weights": "uniform", "p": 2}


def test_the_worker_never_reuses_other_data_under_the_same_name(pool):
    # The worker keeps the last data it was sent. Every DataFrame is named "dataset", and one file can be
    # typed as either task: tables that differ only in content or task must each be evaluated on their own.
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame  # integer classes: a classification or a regression
    X, y = frame.drop(columns="target"), frame["target"]
    tables = [load_dataset(X, y=y, task="classification"), load_dataset(X, y=y, task="regression"),
              load_dataset(X, y=np.random.default_rng(0).permutation(y.to_numpy()), task="regression")]
    assert len({t.name for t in tables}) == 1 and len({t.n_rows for t in tables}) == 1
    for table in tables:
        isolated = evaluate_config(table, "linear", {}, pool=pool)
        assert isolated.ok and isolated.fold_scores == evaluate_config(table, "linear", {}, isolate=False).fold_scores


def test_timeout_is_a_result_and_the_pool_recovers(pool):
    X, y = load_digits(return_X_y=True, as_frame=True)
    digits = load_dataset(X, y=y, task="classification")
    slow = Protocol(time_limit=0.5)
    result = evaluate_config(digits, "random_forest", {"n_estimators": 300, "max_features": 1.0}, slow, pool=pool)
    assert result.status == "timeout" and "limit of 0.5 s" in result.error
    assert result.wall_seconds < 10
    after = evaluate_config(digits, "linear", {}, pool=pool)  # a fresh worker replaced the killed one
    assert after.ok


def test_memory_limit_is_a_result_not_a_crash(pool):
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    big = load_dataset(pd.concat([X] * 4, ignore_index=True), y=np.tile(y, 4), task="classification")
    tight = Protocol(memory_limit_mb=256)  # below what the worker process already maps
    result = evaluate_config(big, "svm", {}, tight, pool=pool)
    assert result.status == "memory" and "256 MiB" in result.error, result.error
    assert evaluate_config(big, "linear", {}, pool=pool).ok


def test_model_errors_are_failed_results(pool, iris):
    result = evaluate_config(iris, "svm", {"C": -5.0}, pool=pool)  # outside the space: refused in the worker
    assert result.status == "failed" and "outside" in result.error
    with pytest.raises(InputError, match="Unknown model family"):
        evaluate_config(iris, "gbdt")


def test_normalize_per_dataset_best_is_one_worst_is_zero():
    matrix = pd.DataFrame({"a": [0.9, 0.5, 0.7], "b": [0.7, 0.5, np.nan], "c": [0.8, 0.5, 0.1]}, index=["d1", "d2", "d3"])
    out = normalize(matrix, "balanced_accuracy")
    assert out.loc["d1"].tolist() == pytest.approx([1.0, 0.0, 0.5])
    assert out.loc["d2"].tolist() == [1.0, 1.0, 1.0]  # all equal: nothing observed is worse
    assert out.loc["d3", "a"] == 1.0 and np.isnan(out.loc["d3", "b"]) and out.loc["d3", "c"] == 0.0
    lower_better = normalize(matrix, "rmse")
    assert lower_better.loc["d1"].tolist() == pytest.approx([0.0, 1.0, 0.5])
    long = normalize(pd.Series([0.9, 0.7, 0.2, 0.4]), "r2", groups=["x", "x", "y", "y"])
    assert long.tolist() == [1.0, 0.0, 0.0, 1.0]
    with pytest.raises(InputError):
        normalize(matrix, "f1")  # not a metric of ours (accuracy now is: LCDB reports it)
