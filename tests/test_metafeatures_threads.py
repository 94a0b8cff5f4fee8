"""Meta-feature values do not depend on how many threads computed them.

``metafeatures.extract`` runs single-threaded (BLAS and OpenMP, ``threadpool_limits(limits=1)``): the
1-NN landmarker's neighbor search is scikit-learn's OpenMP pairwise-distance reduction, which burned
about 0.15 s of CPU per fold spin-waiting with 2 threads on a busy machine. The shipped meta-model was
trained on values computed with OpenMP's default thread count, so these tests compute every
meta-feature the previous way (only BLAS limited, OpenMP with several threads) as the reference and
compare, on scikit-learn's bundled datasets and on a made-up mixed table with missing values,
categoricals, tied rows and more than 15 columns (so that the 1-NN search is the brute-force OpenMP
one, over several chunks of rows).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine
from threadpoolctl import threadpool_info, threadpool_limits

import metafeatures
from metafeatures import _extract


def _mixed_table(n: int = 2_600, seed: int = 3) -> tuple[pd.DataFrame, pd.Series]:
    """Coarsely rounded numeric columns (tied distances, duplicate rows), missing values, categoricals."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, 4))
    numeric = (latent @ rng.normal(size=(4, 20)) + rng.normal(scale=0.5, size=(n, 20))).round(0)
    X = pd.DataFrame(numeric, columns=[f"num_{j}" for j in range(20)])
    X.iloc[: n // 10] = X.iloc[n // 2: n // 2 + n // 10].to_numpy()  # exact duplicates of other rows
    for j in (0, 7, 13):
        X.loc[rng.random(n) < 0.08, f"num_{j}"] = np.nan
    X["cat_a"] = pd.Categorical(rng.choice(["a", "b", "c"], n))
    X["cat_b"] = rng.choice(["x", "y", "z", "w"], n).astype(object)
    X.loc[rng.random(n) < 0.05, "cat_b"] = None
    X["flag"] = rng.random(n) < 0.3
    signal = latent[:, 0] - latent[:, 1] + (X["cat_a"] == "a").to_numpy()
    y = pd.Series(np.array(["low", "mid", "high"])[np.digitize(signal, [-0.5, 0.8])])
    return X, y


def _datasets() -> dict[str, tuple]:
    cases = {}
    for name, loader in (("iris", load_iris), ("wine", load_wine), ("breast_cancer", load_breast_cancer),
                         ("diabetes", load_diabetes)):
        X, y = loader(return_X_y=True, as_frame=True)
        cases[name] = (X, y, None)
    X, y = _mixed_table()
    cases["mixed"] = (X, y, None)
    regression_target = X["num_1"].fillna(0.0) * 0.5 + (X["cat_a"] == "b").astype(float)
    cases["mixed_regression"] = (X.drop(columns="num_1"), regression_target, "regression")
    return cases


def _reference(X, y, task, monkeypatch) -> dict[str, float]:
    """The previous implementation: BLAS limited to one thread, OpenMP left at several threads."""
    real = _extract.threadpool_limits
    with monkeypatch.context() as patch:
        patch.setattr(_extract, "threadpool_limits", lambda limits=None, user_api=None: real(limits=1, user_api="blas"))
        with threadpool_limits(limits=4, user_api="openmp"):
            return dict(metafeatures.extract(X, y, task=task))


@pytest.mark.parametrize("case", list(_datasets()))
def test_values_equal_the_multithreaded_reference(case, monkeypatch):
    X, y, task = _datasets()[case]
    expected = _reference(X, y, task, monkeypatch)
    got = dict(metafeatures.extract(X, y, task=task))
    assert got.keys() == expected.keys()
    differ = {name: (got[name], expected[name]) for name in got
              if not (math.isnan(got[name]) and math.isnan(expected[name]))
              and not abs(got[name] - expected[name]) <= 1e-9 * max(1.0, abs(expected[name]))}
    assert not differ
    landmarkers = [name for name in got if name.startswith("kNN1N")]
    assert landmarkers and any(math.isfinite(got[name]) for name in landmarkers)


def test_extraction_runs_openmp_single_threaded(monkeypatch):
    seen = []
    real = metafeatures._landmarking._cross_validate

    def spy(*args, **kwargs):
        seen.extend(info["num_threads"] for info in threadpool_info() if info["user_api"] in ("openmp", "blas"))
        return real(*args, **kwargs)

    monkeypatch.setattr(metafeatures._landmarking, "_cross_validate", spy)
    X, y, _ = _datasets()["breast_cancer"]
    metafeatures.extract(X, y, groups="landmarking")
    assert seen and set(seen) == {1}
