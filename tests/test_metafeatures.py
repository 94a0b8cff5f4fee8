"""metafeatures: API, definitions on small data, and robustness on awkward inputs."""

from __future__ import annotations

import importlib.util
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.datasets import load_diabetes, load_iris, load_wine
from sklearn.metrics import mutual_info_score

import metafeatures
from metafeatures import _sampling, _weka
from metafeatures._summary import summarize

ALL_GROUPS = ("general", "statistical", "info-theory", "landmarking", "model-based")


def _lcdb_quality_names() -> list[str]:
    """Column names of lcdb's datasets.csv (OpenML's qualities), read without importing lcdb."""
    spec = importlib.util.find_spec("lcdb")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("lcdb is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets.csv"
    return [c for c in pd.read_csv(path, nrows=0).columns if c not in ("openmlid", "Name")]


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True, as_frame=True)


@pytest.fixture(scope="module")
def iris_mf(iris):
    X, y = iris
    return metafeatures.extract(X, y)


def _mixed_frame(n: int = 120, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "num": rng.normal(size=n),
            "num_nan": np.where(rng.random(n) < 0.2, np.nan, rng.exponential(size=n)),
            "cat": pd.Categorical(rng.choice(["a", "b", "c"], n), categories=["a", "b", "c", "unused"]),
            "text": rng.choice(["x", "y"], n).astype(object),
            "flag": rng.random(n) < 0.5,
            "string": pd.array(rng.choice(["p", "q", "r"], n), dtype="string"),
        }
    )
    X.loc[3, "text"] = None
    y = pd.Series(rng.choice(["yes", "no"], n))
    return X, y


# -- API ---------------------------------------------------------------------------------------
def test_names_are_known_in_advance_and_grouped(iris, iris_mf):
    assert list(iris_mf) == metafeatures.list_metafeatures()
    assert set(iris_mf.groups.values()) == set(ALL_GROUPS)
    for group in ALL_GROUPS:
        names = metafeatures.list_metafeatures(group)
        assert names and all(iris_mf.groups[n] == group for n in names)
    X, y = iris
    only = metafeatures.extract(X, y, groups=["statistical", "general"])
    assert list(only) == metafeatures.list_metafeatures(["general", "statistical"])
    assert len(iris_mf) > 150
    assert iris_mf.errors == {}


def test_every_openml_quality_in_lcdb_is_produced():
    names = set(metafeatures.list_metafeatures())
    missing = [q for q in _lcdb_quality_names() if q not in names]
    assert missing == []


def test_result_conversions(iris_mf):
    as_dict = iris_mf.to_dict()
    assert list(as_dict) == list(iris_mf)
    series = iris_mf.to_pandas()
    assert series.equals(pd.Series(as_dict, dtype=float).rename_axis("metafeature").rename("value"))
    assert series.index.tolist() == list(iris_mf)
    assert series.dtype == float
    assert series.attrs["groups"]["ClassEntropy"] == "info-theory"
    text = repr(iris_mf)
    assert "classification" in text and "landmarking" in text
    with pytest.raises(TypeError):
        iris_mf["ClassEntropy"] = 1.0  # read-only mapping


def test_bad_input_is_refused_with_a_clear_message(iris):
    X, y = iris
    with pytest.raises(ValueError, match="rows"):
        metafeatures.extract(X, y[:-1])
    with pytest.raises(ValueError, match="unknown meta-feature group"):
        metafeatures.extract(X, y, groups=["statistics"])
    with pytest.raises(ValueError, match="task"):
        metafeatures.extract(X, y, task="ranking")
    with pytest.raises(ValueError, match="no rows"):
        metafeatures.extract(X.iloc[:0], y.iloc[:0])
    with pytest.raises(ValueError, match="numeric target"):
        metafeatures.extract(X, y.map({0: "a", 1: "b", 2: "c"}), task="regression")
    with pytest.raises(ValueError, match="neither a column name nor a column index"):
        metafeatures.extract(X, y, categorical=["no such column"])
    words = np.array([["1.5", "a"], ["2.5", "b"], ["3.0", "c"]], dtype=object)
    with pytest.raises(ValueError, match="column '1'.*non-numeric"):
        metafeatures.extract(words, [0, 1, 0])
    assert metafeatures.extract(words, [0, 1, 0], categorical=[1])["NumberOfSymbolicFeatures"] == 2


# -- general -------------------------------------------------------------------------------------
def test_general_counts_follow_openml(iris_mf):
    mf = iris_mf
    assert mf["NumberOfInstances"] == 150
    assert mf["NumberOfFeatures"] == 5  # the target counts
    assert mf["NumberOfClasses"] == 3
    assert mf["Dimensionality"] == pytest.approx(5 / 150)
    assert (mf["NumberOfNumericFeatures"], mf["NumberOfSymbolicFeatures"]) == (4, 1)
    assert mf["PercentageOfNumericFeatures"] == pytest.approx(80.0)
    assert mf["MajorityClassSize"] == mf["MinorityClassSize"] == 50
    assert mf["MinorityClassPercentage"] == pytest.approx(100 / 3)
    assert mf["MaxNominalAttDistinctValues"] == 3  # the nominal target
    assert mf["NumberOfFeaturesAfterBinarization"] == 4
    assert mf["ClassEntropy"] == pytest.approx(math.log2(3))


def test_autocorrelation_is_openml_definition():
    X = pd.DataFrame({"a": np.arange(6.0)})
    mf = metafeatures.extract(X, ["a", "a", "b", "b", "b", "a"], groups="general")
    assert mf["AutoCorrelation"] == pytest.approx((5 - 2) / 5)
    reg = metafeatures.extract(X, [3.0, 1.5, 2.0, 7.0, 1.0, 0.25], task="regression", groups="general")
    assert reg["AutoCorrelation"] == pytest.approx((5 - (3.0 - 0.25)) / 5)


def test_categorical_dtypes_and_missing_values():
    X, y = _mixed_frame()
    mf = metafeatures.extract(X, y)
    assert mf.errors == {}
    assert mf["NumberOfNumericFeatures"] == 2
    assert mf["NumberOfSymbolicFeatures"] == 5  # cat, text, flag, string + the target
    # text, flag and the target have two values; "cat" declares four categories.
    assert mf["NumberOfBinaryFeatures"] == 3
    assert mf["NumberOfMissingValues"] == X["num_nan"].isna().sum() + 1
    rows_missing = (X["num_nan"].isna() | X["text"].isna()).sum()
    assert mf["NumberOfInstancesWithMissingValues"] == rows_missing
    assert mf["PercentageOfMissingValues"] == pytest.approx(100 * mf["NumberOfMissingValues"] / (120 * 7))
    # Distinct values are the observed ones; binarization counts declared categories.
    assert mf["MaxNominalAttDistinctValues"] == 3
    assert mf["NumberOfFeaturesAfterBinarization"] == 2 + 4 + 2 + 2 + 3
    for name in (
        "MeanMutualInformation",
        "NaiveBayesAUC",
        "kNN1NAUC",
        "TreeLeaves",
        "MeanMeansOfNumericAtts",
    ):
        assert np.isfinite(mf[name]), name


def test_categorical_override_for_arrays():
    rng = np.random.default_rng(3)
    X = np.column_stack([rng.normal(size=60), rng.integers(0, 3, 60), rng.integers(0, 2, 60)])
    y = rng.integers(0, 2, 60)
    by_index = metafeatures.extract(X, y, categorical=[1, 2], groups="general")
    by_mask = metafeatures.extract(X, y, categorical=np.array([False, True, True]), groups="general")
    assert by_index.to_dict() == by_mask.to_dict()
    assert by_index["NumberOfSymbolicFeatures"] == 3
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).astype({"b": int})
    by_name = metafeatures.extract(frame, y, categorical=["b", "c"], groups="general")
    assert by_name["NumberOfSymbolicFeatures"] == 3


def test_class_imbalance_measures():
    y = ["a"] * 30 + ["b"] * 10
    mf = metafeatures.extract(np.arange(40.0)[:, None], y, groups="general")
    assert mf["ImbalanceRatio"] == pytest.approx(10 / 30)
    assert mf["MaxClassProportion"] == pytest.approx(0.75)
    assert mf["StdvClassProportion"] == pytest.approx(np.std([0.75, 0.25], ddof=1))


# -- statistical ---------------------------------------------------------------------------------
def test_numeric_statistics_match_pandas_and_weka_quartiles():
    X, y = load_wine(return_X_y=True, as_frame=True)
    mf = metafeatures.extract(X, y, groups="statistical")
    for name, values in {
        "MeansOfNumericAtts": X.mean(),
        "StdDevOfNumericAtts": X.std(),
        "SkewnessOfNumericAtts": X.skew(),  # bias-corrected, as commons-math
        "KurtosisOfNumericAtts": X.kurt(),
    }.items():
        v = values.to_numpy()
        assert mf[f"Mean{name}"] == pytest.approx(v.mean(), rel=1e-12)
        assert mf[f"Min{name}"] == pytest.approx(v.min(), rel=1e-12)
        assert mf[f"Max{name}"] == pytest.approx(v.max(), rel=1e-12)
        for q, p in ((1, 25), (2, 50), (3, 75)):
            assert mf[f"Quartile{q}{name}"] == pytest.approx(np.percentile(v, p, method="weibull"), rel=1e-12)
    corr = X.corr().abs().to_numpy()[np.triu_indices(13, 1)]
    assert mf["MeanCorrelationOfNumericAtts"] == pytest.approx(corr.mean(), rel=1e-12)
    assert mf["PercentageOfHighlyCorrelatedAttPairs"] == pytest.approx(100 * np.mean(corr >= 0.5))


def test_summary_statistics_drop_non_finite_and_use_weka_percentiles():
    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 7, 10, 31):
        v = rng.normal(size=n)
        s = summarize(np.concatenate([v, [np.nan, np.inf]]))
        assert s["Quartile1"] == pytest.approx(np.percentile(v, 25, method="weibull"))
        assert s["Quartile3"] == pytest.approx(np.percentile(v, 75, method="weibull"))
        assert s["Quartile2"] == pytest.approx(np.median(v))
        assert s["Stdv"] == pytest.approx(np.std(v, ddof=1) if n > 1 else 0.0)
    assert all(math.isnan(x) for x in summarize(np.array([np.nan])).values())


def test_pairwise_complete_correlation_with_missing_values():
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(300, 5)))
    X[1] += X[0]
    X = X.mask(rng.random(X.shape) < 0.15)
    mf = metafeatures.extract(X, rng.integers(0, 2, 300), groups="statistical")
    ref = X.corr().abs().to_numpy()[np.triu_indices(5, 1)]  # pandas: pairwise complete
    assert mf["MaxCorrelationOfNumericAtts"] == pytest.approx(ref.max(), rel=1e-12)
    assert mf["MeanCorrelationOfNumericAtts"] == pytest.approx(ref.mean(), rel=1e-12)
    cov = X.cov().abs().to_numpy()[np.triu_indices(5, 1)]
    assert mf["MeanCovarianceOfNumericAtts"] == pytest.approx(cov.mean(), rel=1e-12)


def test_pca_features():
    rng = np.random.default_rng(2)
    base = rng.normal(size=(500, 1))
    X = np.hstack([base + 0.01 * rng.normal(size=(500, 1)) for _ in range(4)] + [rng.normal(size=(500, 1))])
    mf = metafeatures.extract(X, rng.integers(0, 2, 500), groups="statistical")
    eig = np.sort(np.linalg.eigvalsh(np.corrcoef(X, rowvar=False)))[::-1]
    assert mf["PCAExplainedVarianceFirstPC"] == pytest.approx(eig[0] / eig.sum())
    assert mf["PCAFractionOfComponentsFor95PercentVariance"] == pytest.approx(2 / 5)


def test_wide_data_bounds_the_pairwise_statistics():
    rng = np.random.default_rng(10)
    X = rng.normal(size=(40, 700))
    mf = metafeatures.extract(X, rng.integers(0, 2, 40), groups="statistical")
    assert mf.errors == {}
    assert 0 < mf["MeanCorrelationOfNumericAtts"] < 0.5
    assert 0 < mf["PCAFractionOfComponentsFor95PercentVariance"] < 1


def test_regression_target_features():
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    mf = metafeatures.extract(X, y)
    assert mf.task == "regression" and mf.errors == {}
    assert mf["NumberOfClasses"] == 0
    for name in ("ClassEntropy", "MajorityClassSize", "NaiveBayesAUC", "MeanMutualInformation", "kNN1NAUC"):
        assert math.isnan(mf[name]), name
    assert mf["TargetSkewness"] == pytest.approx(y.skew(), rel=1e-12)
    assert mf["TargetKurtosis"] == pytest.approx(y.kurt(), rel=1e-12)
    assert mf["MaxTargetCorrelationOfNumericAtts"] == pytest.approx(X.corrwith(y).abs().max(), rel=1e-12)
    assert 0.3 < mf["LinearRegressionR2"] < 0.6  # OLS on diabetes explains about half the variance
    assert mf["DecisionStumpR2"] < mf["LinearRegressionR2"]
    assert mf["NumberOfNumericFeatures"] == X.shape[1] + 1  # the numeric target counts


# -- info-theory ---------------------------------------------------------------------------------
def test_entropy_and_mutual_information_of_nominal_attributes():
    rng = np.random.default_rng(4)
    n = 400
    y = rng.integers(0, 3, n)
    X = pd.DataFrame(
        {
            "noisy_copy": np.where(rng.random(n) < 0.7, y, rng.integers(0, 3, n)).astype(str),
            "noise": rng.choice(list("abcd"), n),
            "num": rng.normal(size=n),  # numeric attributes are not part of OpenML's entropy qualities
        }
    )
    mf = metafeatures.extract(X, y, groups="info-theory")
    mi = [mutual_info_score(X[c], y) / math.log(2) for c in ("noisy_copy", "noise")]
    ent = [stats.entropy(X[c].value_counts(), base=2) for c in ("noisy_copy", "noise")]
    assert mf["MeanMutualInformation"] == pytest.approx(np.mean(mi), abs=1e-13)
    assert mf["MaxAttributeEntropy"] == pytest.approx(max(ent), rel=1e-12)
    assert mf["ClassEntropy"] == pytest.approx(stats.entropy(np.bincount(y), base=2), rel=1e-12)
    assert mf["EquivalentNumberOfAtts"] == pytest.approx(mf["ClassEntropy"] / mf["MeanMutualInformation"])
    noise_ratio = (mf["MeanAttributeEntropy"] - mf["MeanMutualInformation"]) / mf["MeanMutualInformation"]
    assert mf["MeanNoiseToSignalRatio"] == pytest.approx(noise_ratio)
    assert mf["NormalizedClassEntropy"] == pytest.approx(mf["ClassEntropy"] / math.log2(3))


def test_openml_entropy_qualities_are_nan_without_nominal_attributes(iris_mf):
    assert math.isnan(iris_mf["MeanAttributeEntropy"])
    assert math.isnan(iris_mf["EquivalentNumberOfAtts"])
    assert np.isfinite(iris_mf["MeanMutualInformationDiscretized"])  # ours covers numeric attributes


# -- landmarking and Weka emulation ----------------------------------------------------------------
def test_java_random_is_javas():
    # Published values of java.util.Random: new Random(0).nextInt(), new Random(42).nextInt().
    for seed, expected in ((0, -1155484576), (42, -1170105035)):
        value = _weka.JavaRandom(seed)._next(32)
        assert (value - (1 << 32) if value >= 1 << 31 else value) == expected


def test_weka_folds_are_a_stratified_partition():
    y = np.array([0] * 7 + [1] * 4 + [2] * 1)
    folds = _weka.cv_folds(y.size, y, n_folds=2, seed=1)
    assert sorted(np.concatenate(folds).tolist()) == list(range(12))
    assert [f.size for f in folds] == [6, 6]
    per_fold = [np.bincount(y[f], minlength=3) for f in folds]
    assert abs(per_fold[0][0] - per_fold[1][0]) <= 1 and abs(per_fold[0][1] - per_fold[1][1]) <= 1
    assert [f.tolist() for f in _weka.cv_folds(12, y)] == [f.tolist() for f in folds]  # deterministic


def test_weka_scores():
    y = np.array([0, 0, 1, 1, 2, 2])
    proba = np.eye(3)[[0, 0, 1, 2, 2, 2]]
    s = _weka.scores(y, proba)
    assert s["ErrRate"] == pytest.approx(1 / 6)
    confusion = np.array([[2, 0, 0], [0, 1, 1], [0, 0, 2]])
    po, pe = 5 / 6, (confusion.sum(0) @ confusion.sum(1)) / 36
    assert s["Kappa"] == pytest.approx((po - pe) / (1 - pe))
    from sklearn.metrics import roc_auc_score

    expected = np.mean([roc_auc_score(y == c, proba[:, c]) for c in range(3)])  # equal class counts
    assert s["AUC"] == pytest.approx(expected)


def test_landmarkers_are_sensible(iris_mf):
    mf = iris_mf
    assert mf["NaiveBayesErrRate"] < 0.1 and mf["NaiveBayesAUC"] > 0.95
    assert mf["LinearDiscriminantErrRate"] < 0.1
    assert mf["kNN1NErrRate"] < 0.1
    assert mf["DecisionStumpErrRate"] == pytest.approx(1 / 3, abs=0.05)  # one split separates one class
    assert mf["RandomTreeDepth3AUC"] >= mf["RandomTreeDepth1AUC"]
    assert math.isnan(mf["LinearRegressionR2"]) and math.isnan(mf["DecisionStumpR2"])


def test_stratified_subsample_keeps_every_class():
    rng = np.random.default_rng(5)
    n = 12_000
    y = np.where(rng.random(n) < 0.001, "rare", np.where(rng.random(n) < 0.3, "b", "a"))
    y[:2] = "single"  # two rows of a class
    X = pd.DataFrame({"x": rng.normal(size=n)})
    from metafeatures._context import build_context

    ctx = build_context(X, y, None, None, random_state=0)
    rows = _sampling.subsample(ctx, 5_000)
    assert abs(rows.size - 5_000) <= ctx.y_levels
    assert np.all(np.diff(rows) > 0)
    kept = np.bincount(ctx.y_codes[rows], minlength=ctx.y_levels)
    assert np.all(kept[ctx.class_counts > 0] >= 1)
    np.testing.assert_allclose(kept / rows.size, ctx.class_counts / n, atol=0.002)
    again = build_context(X, y, None, None, random_state=0)
    assert np.array_equal(_sampling.subsample(again, 5_000), rows)


# -- robustness -----------------------------------------------------------------------------------
def _degenerate_cases() -> dict[str, tuple]:
    rng = np.random.default_rng(6)
    X_mixed, y_mixed = _mixed_frame(40, seed=7)
    return {
        "constant and all-NaN columns": (
            pd.DataFrame({"a": rng.normal(size=30), "const": 1.0, "empty": np.nan}),
            rng.integers(0, 2, 30),
        ),
        "single feature": (rng.normal(size=(25, 1)), rng.integers(0, 3, 25)),
        "one row per class": (rng.normal(size=(5, 3)), ["a", "b", "c", "d", "e"]),
        "classes with one member": (rng.normal(size=(30, 2)), ["x"] * 27 + ["y", "z", "w"]),
        "one class only": (rng.normal(size=(20, 2)), ["only"] * 20),
        "two rows": (np.array([[1.0, 2.0], [3.0, 4.0]]), [0, 1]),
        "single row": (np.array([[1.0, 2.0]]), ["a"]),
        "categorical only": (X_mixed[["cat", "text", "flag"]], y_mixed),
        "all-missing categorical": (
            pd.DataFrame({"c": pd.Series([None] * 12, dtype=object), "x": np.arange(12.0)}),
            [0, 1] * 6,
        ),
        "missing target values": (rng.normal(size=(30, 2)), [0, 1, None] * 10),
        "inf values": (np.array([[np.inf, 1.0], [2.0, -np.inf], [3.0, 1.0], [4.0, 2.0]] * 5), [0, 1] * 10),
        "regression with missing values": (
            pd.DataFrame({"a": [1.0, np.nan, 3.0, 4.0, 5.0, 6.0], "b": list("aabbcc")}),
            [0.5, 1.5, 2.25, np.nan, 4.75, 5.5],
        ),
    }


@pytest.mark.parametrize("case", list(_degenerate_cases()))
def test_degenerate_inputs_give_values_not_errors_or_warnings(case):
    X, y = _degenerate_cases()[case]
    task = "regression" if case.startswith("regression") else None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning escaping extract fails the test
        mf = metafeatures.extract(X, y, task=task)
    assert mf.errors == {}, mf.errors
    assert list(mf) == metafeatures.list_metafeatures()
    assert mf["NumberOfInstances"] == len(y)
    assert all(isinstance(v, float) and not math.isinf(v) for v in mf.values())


def test_degenerate_values_follow_the_definitions():
    cases = _degenerate_cases()
    X, y = cases["constant and all-NaN columns"]
    mf = metafeatures.extract(X, y, groups=["general", "statistical"])
    assert mf["MinStdDevOfNumericAtts"] == 0.0  # the constant column keeps its std ...
    skew_a = pd.Series(X["a"]).skew()
    assert mf["MaxSkewnessOfNumericAtts"] == pytest.approx(skew_a)  # ... but has no skewness
    assert mf["NumberOfMissingValues"] == 30
    X, y = cases["classes with one member"]
    mf = metafeatures.extract(X, y)
    assert mf["MinorityClassSize"] == 1 and 0 <= mf["NaiveBayesErrRate"] <= 1
    assert 0 <= mf["LinearDiscriminantErrRate"] <= 1
    X, y = cases["missing target values"]
    mf = metafeatures.extract(X, y)
    assert mf["NumberOfMissingValues"] == 10 and mf["NumberOfClasses"] == 2


def test_task_inference():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(100, 2))
    assert metafeatures.extract(X, rng.integers(0, 4, 100), groups="general").task == "classification"
    assert metafeatures.extract(X, rng.normal(size=100), groups="general").task == "regression"
    assert (
        metafeatures.extract(X, rng.integers(0, 90, 100).astype(float), groups="general").task == "regression"
    )
    assert metafeatures.extract(X, rng.choice(["u", "v"], 100), groups="general").task == "classification"
    forced = metafeatures.extract(X, rng.integers(0, 4, 100), task="regression", groups="general")
    assert forced.task == "regression" and forced["NumberOfClasses"] == 0


def test_input_is_not_modified_and_results_are_reproducible():
    X, y = _mixed_frame(200, seed=9)
    X.loc[0, "num"] = np.inf
    before = X.copy()
    first = metafeatures.extract(X, y, random_state=3)
    pd.testing.assert_frame_equal(X, before)
    second = metafeatures.extract(X, y, random_state=3)
    assert first.to_pandas().equals(second.to_pandas())
