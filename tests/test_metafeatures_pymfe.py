"""metafeatures against pymfe, for the features whose definitions agree.

The features and how pymfe's names map onto ours are listed once, in ``metafeatures._pymfe`` (the speed
benchmark uses the same table). Skewness and kurtosis are compared with pymfe's ``method=2`` (the
bias-corrected estimators that OpenML uses). pymfe adds 1e-8 to every joint probability, so joint
entropy, mutual information and what derives from them agree to about 1e-6 only.
"""

from __future__ import annotations

import warnings
from collections import Counter

import pytest
from sklearn.datasets import load_breast_cancer, load_iris, load_wine

import metafeatures
from metafeatures._pymfe import PYMFE_SMOOTHED, PYMFE_SUMMARIES, from_pymfe, pymfe_features

pymfe_mfe = pytest.importorskip("pymfe.mfe")


def _pymfe(X, y) -> dict[str, tuple[str, float]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mfe = pymfe_mfe.MFE(features=pymfe_features(), summary=list(PYMFE_SUMMARIES), random_state=0)
        mfe.fit(X, y)
        names, values = mfe.extract(skewness={"method": 2}, kurtosis={"method": 2})
    return from_pymfe(dict(zip(names, values, strict=True)))


@pytest.mark.parametrize("loader", [load_iris, load_wine, load_breast_cancer])
def test_values_equal_pymfe_where_definitions_agree(loader):
    X, y = loader(return_X_y=True)
    ref = _pymfe(X, y)
    ours = metafeatures.extract(X, y, random_state=0)
    for name, (pname, value) in ref.items():
        if pname.partition(".")[0] in PYMFE_SMOOTHED:
            assert ours[name] == pytest.approx(value, rel=1e-4, abs=1e-6), pname
        else:
            assert ours[name] == pytest.approx(value, rel=1e-9, abs=1e-12), pname
    # Every feature of the table was compared: once, or under each summary.
    compared = Counter(pname.partition(".")[0] for pname, _ in ref.values())
    assert set(compared) == set(pymfe_features())
    assert set(compared.values()) == {1, len(PYMFE_SUMMARIES)}
