"""Model families: search spaces, config sets, and the estimators they build on real data."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from sklearn.datasets import load_diabetes, load_wine

from autometa.errors import InputError
from autometa.kb import schema
from autometa.spaces import (
    MAX_ONEHOT_LEVELS,
    FeatureInfo,
    NativeCategorical,
    build_estimator,
    config_set,
    encoded_features,
    feature_info,
    get_family,
    list_families,
)


@pytest.fixture(autouse=True)
def _one_thread():
    # As in the evaluation workers: OpenMP models on a shared, busy machine are far faster single-threaded.
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


FAMILIES = ["lightgbm", "random_forest", "extra_trees", "hist_gradient_boosting", "linear", "svm", "knn", "mlp"]


def _mixed_frame(n: int = 90, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Numbers with missing values, a narrow and a wide categorical, and two targets that depend on them."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    b = rng.normal(size=n)
    b[rng.random(n) < 0.1] = np.nan
    colour = pd.Categorical(rng.choice(["red", "green", "blue"], size=n))
    city = pd.Categorical([f"c{i}" for i in rng.integers(0, 30, size=n)])
    X = pd.DataFrame({"a": a, "b": b, "colour": colour, "city (name)": city})
    y_class = np.where(a + (colour == "red") > 0.3, "yes", "no")
    y_reg = 2 * a + np.nan_to_num(b) + (colour == "blue")
    return X, y_class, y_reg


def test_registry_lists_families_and_rejects_unknown_names():
    assert list_families() == FAMILIES
    assert set(FAMILIES) <= set(schema.FAMILIES)
    for name in FAMILIES:
        assert get_family(name).name == name
    with pytest.raises(InputError, match="Unknown model family 'xgboost'"):
        get_family("xgboost")


@pytest.mark.parametrize("name", FAMILIES)
def test_config_set_is_seeded_prefix_stable_and_inside_the_space(name):
    family = get_family(name)
    big = config_set(name, 32)
    small = config_set(name, 8)
    assert list(big)[:8] == list(small) == ["default"] + [f"sobol-{i:04d}" for i in range(1, 8)]
    assert [big[k] for k in small] == list(small.values())
    assert big == family.config_set(32)  # deterministic
    assert big["default"] == family.default_config()
    for config in big.values():
        assert family.validate_config(config) == config
    # the Sobol configs spread over the space: every numeric parameter takes many values
    for param, dist in family.space.items():
        values = {c[param] for c in big.values()}
        if isinstance(dist, CategoricalDistribution):
            assert values == set(dist.choices)
        else:
            assert len(values) >= min(10, dist.high - dist.low + 1 if isinstance(dist, IntDistribution) else 10)


def test_unit_cube_mapping_round_trips_and_hits_the_bounds():
    family = get_family("lightgbm")
    low = family.from_unit(np.zeros(len(family.space)))
    high = family.from_unit(np.ones(len(family.space)))
    for name, dist in family.space.items():
        assert low[name] == pytest.approx(dist.low)
        assert high[name] == pytest.approx(dist.high, rel=1e-5)
    config = family.config_set(4)["sobol-0003"]
    assert family.from_unit(family.to_unit(config)) == pytest.approx(config, rel=1e-5)
    with pytest.raises(InputError, match="has 8 parameters"):
        family.from_unit([0.5])


def test_suggest_samples_define_by_run_inside_the_space():
    family = get_family("knn")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    seen = []

    def objective(trial):
        config = family.suggest(trial)
        seen.append(config)
        return float(config["n_neighbors"])

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(objective, n_trials=15)
    assert all(family.validate_config(c) == c for c in seen)
    assert set(study.trials[0].distributions) == set(family.space)
    assert isinstance(family.space["n_neighbors"], IntDistribution)
    assert isinstance(get_family("svm").space["C"], FloatDistribution)


def test_configs_shown_for_a_task_leave_out_what_does_not_apply():
    svm = get_family("svm")
    assert svm.params_for("classification") == ["C", "gamma"]
    assert svm.params_for("regression") == ["C", "gamma", "epsilon"]
    stored = config_set("svm", 4)
    assert all(set(c) == {"C", "gamma", "epsilon"} for c in stored.values())  # stored whole, for both tasks
    config = stored["sobol-0001"]
    assert svm.config_for(config, "classification") == {"C": config["C"], "gamma": config["gamma"]}
    assert svm.config_for(config, "regression") == config
    for name in FAMILIES:  # SVR's epsilon is the only parameter of one task
        family = get_family(name)
        assert family.params_for("regression") == list(family.space)
        assert family.params_for("classification") == [p for p in family.space if (name, p) != ("svm", "epsilon")]


def test_invalid_configs_are_input_errors():
    family = get_family("svm")
    with pytest.raises(InputError, match="no parameter 'kernel'"):
        family.validate_config({"kernel": "poly"})
    with pytest.raises(InputError, match="outside"):
        family.validate_config({"C": -1.0})
    with pytest.raises(InputError, match="Task must be"):
        family.build_estimator(None, "ranking", FeatureInfo(columns=("a",)))


@pytest.mark.parametrize("name", FAMILIES)
def test_every_family_fits_mixed_data_for_both_tasks(name):
    X, y_class, y_reg = _mixed_frame()
    train, test = X.iloc[:60], X.iloc[60:].copy()
    # a level never seen in training must not break prediction
    test["colour"] = test["colour"].cat.add_categories(["violet"])
    test.iloc[0, test.columns.get_loc("colour")] = "violet"
    for config_id, config in config_set(name, 2).items():
        clf = build_estimator(name, config, "classification", train, random_state=0)
        get_family(name).fit(clf, train, y_class[:60])
        proba = clf.predict_proba(test)
        assert proba.shape == (30, 2), config_id
        assert np.allclose(proba.sum(axis=1), 1.0)
        reg = build_estimator(name, config, "regression", train, random_state=0)
        get_family(name).fit(reg, train, y_reg[:60])
        pred = reg.predict(test)
        assert pred.shape == (30,) and np.isfinite(pred).all()


def test_default_models_learn_real_data():
    X, y = load_wine(return_X_y=True, as_frame=True)
    Xr, yr = load_diabetes(return_X_y=True, as_frame=True)
    rng = np.random.default_rng(0)
    idx, idx_r = rng.permutation(len(y)), rng.permutation(len(yr))
    for name in FAMILIES:
        clf = build_estimator(name, None, "classification", X.iloc[idx[:120]], random_state=0)
        get_family(name).fit(clf, X.iloc[idx[:120]], y.iloc[idx[:120]])
        assert (clf.predict(X.iloc[idx[120:]]) == y.iloc[idx[120:]]).mean() > 0.85, name
        reg = build_estimator(name, None, "regression", Xr.iloc[idx_r[:300]], random_state=0)
        get_family(name).fit(reg, Xr.iloc[idx_r[:300]], yr.iloc[idx_r[:300]])
        pred = reg.predict(Xr.iloc[idx_r[300:]])
        r2 = 1 - np.sum((yr.iloc[idx_r[300:]] - pred) ** 2) / np.sum((yr.iloc[idx_r[300:]] - yr.iloc[idx_r[300:]].mean()) ** 2)
        assert r2 > 0.2, name


def test_encoded_features_one_hot_narrow_and_ordinal_wide_categoricals():
    X, _, _ = _mixed_frame()
    info = feature_info(X)
    n_cities = X["city (name)"].nunique()
    assert info.categorical == {"colour": 3, "city (name)": n_cities} and n_cities > MAX_ONEHOT_LEVELS
    transformer = encoded_features(info, scale=True).fit(X)
    out = transformer.transform(X)
    # 2 numeric + 3 one-hot colour levels + 1 ordinal city column
    assert out.shape == (len(X), 2 + 3 + 1)
    assert not np.isnan(out).any()
    assert np.allclose(out[:, :2].mean(axis=0), 0.0, atol=1e-9)  # imputed, then standardized


def test_native_categorical_keeps_training_levels_and_plain_names():
    X, _, _ = _mixed_frame()
    step = NativeCategorical(categorical=("colour", "city (name)"), max_levels=10).fit(X.iloc[:50])
    out = step.transform(X.iloc[50:])
    assert list(out.columns) == ["f0", "f1", "f2", "f3"]
    assert isinstance(out["f2"].dtype, pd.CategoricalDtype)
    assert set(out["f2"].cat.categories) == set(X["colour"].iloc[:50].dropna())
    assert out["f3"].dtype == np.float64  # 30 levels > max_levels: numeric codes
    assert step.categorical_mask() == [False, False, True, False]


def test_the_conditional_encoding_round_trips_through_a_trial():
    import optuna

    from autometa.spaces import FAMILY_PARAM, fixed_params, get_family, suggest_config, trial_config

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for task in ("classification", "regression"):
        for _ in range(10):
            trial = study.ask()
            family, config = suggest_config(trial, ["svm", "lightgbm", "knn"], task)
            # Only the task's parameters, each under "<family>.<param>"; SVR's epsilon only for regression.
            assert set(trial.params) == {FAMILY_PARAM} | {f"{family}.{p}" for p in get_family(family).params_for(task)}
            assert ("svm.epsilon" in trial.params) == (family == "svm" and task == "regression")
            assert trial_config(trial.params) == (family, config)
            assert fixed_params(family, config, task) == trial.params
            study.tell(trial, 0.0)


def test_svm_fits_without_the_warning_about_how_autometa_builds_it():
    """scikit-learn 1.9 deprecates SVC(probability=True), which the svm family keeps on purpose (libsvm's
    Platt scaling copes with one-row classes): users are not shown a warning they cannot act on."""
    import warnings

    data = load_wine(as_frame=True)
    family = get_family("svm")
    estimator = family.build_estimator(family.default_config(), "classification", data.data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        family.fit(estimator, data.data, data.target)
    assert not [w for w in caught if "probability" in str(w.message)], [str(w.message) for w in caught]
    assert estimator.predict_proba(data.data.head(3)).shape == (3, 3)


def test_family_fit_silences_only_its_own_warnings():
    import warnings
    from dataclasses import replace

    class Noisy:
        def fit(self, X, y):
            warnings.warn("The `probability` parameter was deprecated in 9.9", FutureWarning, stacklevel=2)
            warnings.warn("something the user should see", UserWarning, stacklevel=2)
            return self

    quiet = replace(get_family("linear"), fit_warnings=("The `probability` parameter was deprecated",))
    for family, expected in ((quiet, ["something the user should see"]),
                             (get_family("linear"), ["The `probability` parameter was deprecated in 9.9",
                                                     "something the user should see"])):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert isinstance(family.fit(Noisy(), None, None), Noisy)
        assert [str(w.message) for w in caught] == expected
