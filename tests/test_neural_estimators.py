"""The scikit-learn MLP estimators: sklearn's own estimator checks, real data, and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_diabetes, load_digits, load_wine  # noqa: E402
from sklearn.metrics import r2_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from autometa.errors import InputError  # noqa: E402
from autometa.neural import TabularMLPClassifier, TabularMLPRegressor  # noqa: E402

# Small and short, so the ~50 checks per estimator (each fitting a few times) run in seconds.
_FAST = {"hidden_layer_sizes": (16,), "max_epochs": 30, "learning_rate": 1e-2}


pytestmark = pytest.mark.usefixtures("torch_one_thread")  # conftest.py


@parametrize_with_checks([TabularMLPClassifier(**_FAST), TabularMLPRegressor(**_FAST, optimizer="learned")])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.slow
@parametrize_with_checks([cls(**_FAST, optimizer=opt) for cls in (TabularMLPClassifier, TabularMLPRegressor)
                          for opt in ("adam", "sgd", "learned")])
def test_sklearn_estimator_checks_every_optimizer(estimator, check):
    check(estimator)


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "learned"])
def test_classifier_learns_digits_with_every_optimizer(optimizer):
    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    lr = 0.05 if optimizer == "sgd" else 1e-3
    clf = TabularMLPClassifier(hidden_layer_sizes=(32,), optimizer=optimizer, learning_rate=lr, max_epochs=40,
                               random_state=0).fit(X_tr, y_tr)
    assert clf.score(X_te, y_te) > 0.9
    proba = clf.predict_proba(X_te)
    assert proba.shape == (len(X_te), 10) and np.allclose(proba.sum(1), 1.0)
    assert clf.device_ == "cpu"  # "auto" without a GPU
    assert clf.n_iter_ <= 40 and len(clf.loss_curve_) == clf.n_iter_
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


def test_regressor_learns_diabetes_and_is_reproducible():
    X, y = load_diabetes(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=0)
    reg = TabularMLPRegressor(hidden_layer_sizes=(32,), learning_rate=3e-3, random_state=3).fit(X_tr, y_tr)
    assert r2_score(y_te, reg.predict(X_te)) > 0.3
    again = clone(reg).fit(X_tr, y_tr)
    assert np.array_equal(reg.predict(X_te), again.predict(X_te))
    other = clone(reg).set_params(random_state=4).fit(X_tr, y_tr)
    assert not np.array_equal(reg.predict(X_te), other.predict(X_te))


def test_mixed_table_with_categoricals_and_missing_values():
    X, y = load_wine(return_X_y=True, as_frame=True)
    X = X.copy()
    rng = np.random.default_rng(0)
    X.loc[rng.random(len(X)) < 0.1, "alcohol"] = np.nan
    X["colour"] = pd.Categorical(np.where(y == 0, "red", np.where(y == 1, "white", "rose")))
    X.loc[:5, "colour"] = np.nan
    labels = np.array(["barolo", "grignolino", "barbera"])[y]
    clf = TabularMLPClassifier(random_state=0, max_epochs=50).fit(X.iloc[::2], labels[::2])
    assert list(clf.feature_names_in_) == list(X.columns)
    assert (clf.predict(X.iloc[1::2]) == labels[1::2]).mean() > 0.9
    assert set(clf.classes_) == set(labels)


def test_bad_input_raises_clear_errors():
    X, y = load_wine(return_X_y=True)
    with pytest.raises(InputError, match="optimizer must be one of 'adam', 'sgd', 'learned'; got 'adagrad'"):
        TabularMLPClassifier(optimizer="adagrad").fit(X, y)
    with pytest.raises(InputError, match="activation"):
        TabularMLPClassifier(activation="swish").fit(X, y)
    with pytest.raises(InputError, match="hidden_layer_sizes"):
        TabularMLPClassifier(hidden_layer_sizes=(8, 0)).fit(X, y)
    y_nan = y.astype(float)
    y_nan[[3, 7]] = np.nan
    with pytest.raises(InputError, match="y contains 2 missing"):
        TabularMLPClassifier().fit(X, y_nan)
    with pytest.raises(InputError, match="y contains 2 missing"):
        TabularMLPRegressor().fit(X, y_nan)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        TabularMLPClassifier().fit(X, y[:-5])
    clf = TabularMLPClassifier(max_epochs=2).fit(X, y)
    with pytest.raises(ValueError, match="X has 12 features, but TabularMLPClassifier is expecting 13"):
        clf.predict(X[:, :12])
    with pytest.raises(ValueError, match="1 class"):
        TabularMLPClassifier().fit(X, np.zeros(len(X)))
    with pytest.raises(InputError, match="Unknown device"):
        TabularMLPClassifier(device="tpu").fit(X, y)


@pytest.mark.gpu
def test_fits_on_cuda():
    X, y = load_digits(return_X_y=True)
    clf = TabularMLPClassifier(device="auto", max_epochs=5, random_state=0).fit(X, y)
    assert clf.device_.startswith("cuda")
    assert clf.score(X, y) > 0.8
