"""`autometa predict`'s LightGBM path: a saved LightGBM model is predicted through LightGBM's C library
without importing scikit-learn (autometa.models._booster), with the very predictions of the scikit-learn
pipeline that autometa.load_model rebuilds; every other model loads as before."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from test_models_persist import with_mess

import autometa
from autometa.models import Candidate, fit_model, load_model, predict_table, save_model
from autometa.models._booster import LightPipeline
from autometa.models._persist import _load_model


def messy(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """test_models_persist's messy table, plus categorical levels that look like numbers."""
    frame = with_mess(frame, seed)
    frame["code"] = np.random.default_rng(seed + 1).choice(["1", "2", "3"], len(frame))
    return frame


def tables() -> dict[str, tuple[pd.DataFrame, str]]:
    wine = load_wine(as_frame=True)
    wine_frame = messy(wine.frame)
    wine_frame["target"] = np.asarray(wine.target_names)[wine.target]
    cancer = load_breast_cancer(as_frame=True).frame.iloc[:, list(range(8)) + [-1]]
    return {"3 classes": (wine_frame, "balanced_accuracy"), "2 classes": (messy(cancer), "balanced_accuracy"),
            "regression": (messy(load_diabetes(as_frame=True).frame), "r2")}


@pytest.mark.parametrize("name", ["3 classes", "2 classes", "regression"])
def test_a_lightgbm_model_predicts_the_same_without_scikit_learn(name, tmp_path):
    frame, metric = tables()[name]
    model = fit_model([Candidate("lightgbm", {"n_estimators": 50, "num_leaves": 8})],
                      autometa.load_dataset(frame, target="target"), metric=metric)
    path = save_model(model, tmp_path / "m.autometa")
    light, full = _load_model(path, light=True), load_model(path)
    assert isinstance(light.members[0].estimator, LightPipeline)
    rows = frame.drop(columns="target")
    rows.loc[rows.index[0], "colour"] = "ultraviolet"  # never seen: missing, as in training
    rows.iloc[1, :4] = np.nan
    if model.task == "classification":
        assert np.array_equal(light.predict_proba(rows), full.predict_proba(rows))
    assert np.array_equal(light.predict(rows), full.predict(rows))
    assert np.array_equal(predict_table(path, rows).frame.to_numpy(), predict_table(full, rows).frame.to_numpy())


def test_other_models_load_as_before(tmp_path):
    frame, metric = tables()["regression"]
    model = fit_model([Candidate("linear", {})], autometa.load_dataset(frame, target="target"), metric=metric)
    path = save_model(model, tmp_path / "m.autometa")
    assert type(_load_model(path, light=True).members[0].estimator).__name__ == "Pipeline"


def test_predicting_a_lightgbm_model_imports_neither_scikit_learn_nor_lightgbm(tmp_path):
    frame, metric = tables()["3 classes"]
    model = fit_model([Candidate("lightgbm", {"n_estimators": 50})], autometa.load_dataset(frame, target="target"),
                      metric=metric)
    path = save_model(model, tmp_path / "m.autometa")
    data = tmp_path / "rows.csv"
    frame.drop(columns="target").to_csv(data, index=False)
    code = ("import sys; from autometa.models import predict_table; "
            f"r = predict_table({str(path)!r}, {str(data)!r}); "
            "print(len(r.frame), 'sklearn' in sys.modules, 'lightgbm' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(len(frame)), "False", "False"]
