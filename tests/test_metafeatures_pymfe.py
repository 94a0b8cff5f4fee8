"""metafeatures against pymfe, for the features whose definitions agree.

pymfe summarizes a feature's values as ``<feature>.<summary>``; ours are ``<Summary><Name>``.
Skewness and kurtosis are compared with pymfe's ``method=2`` (the bias-corrected estimators that
OpenML uses). pymfe adds 1e-8 to every joint probability, so joint entropy, mutual information and
what derives from them agree to about 1e-6 only.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris, load_wine

import metafeatures

pymfe_mfe = pytest.importorskip("pymfe.mfe")

SUMMARIES = {"min": "Min", "max": "Max", "mean": "Mean", "sd": "Stdv", "median": "Quartile2"}
SUMMARIZED = {
    "freq_class": "ClassProportion",
    "mean": "MeansOfNumericAtts",
    "sd": "StdDevOfNumericAtts",
    "skewness": "SkewnessOfNumericAtts",
    "kurtosis": "KurtosisOfNumericAtts",
    "cor": "CorrelationOfNumericAtts",
    "cov": "CovarianceOfNumericAtts",
    "attr_ent": "AttributeEntropyDiscretized",
    "leaves_branch": "TreeLeafDepth",
    "leaves_corrob": "LeavesCorroboration",
    "leaves_per_class": "LeavesPerClass",
    "nodes_per_level": "TreeNodesPerLevel",
    "nodes_repeated": "TreeAttributeRepetition",
    "tree_depth": "TreeNodeDepth",
    "var_importance": "FeatureImportance",
}
SCALARS = {
    "nr_inst": ("NumberOfInstances", 1.0),
    "nr_class": ("NumberOfClasses", 1.0),
    "nr_cor_attr": ("PercentageOfHighlyCorrelatedAttPairs", 0.01),  # ours is a percentage
    "class_ent": ("ClassEntropy", 1.0),
    "leaves": ("TreeLeaves", 1.0),
    "nodes": ("TreeNodes", 1.0),
    "nodes_per_attr": ("TreeNodesPerAttribute", 1.0),
    "nodes_per_inst": ("TreeNodesPerInstance", 1.0),
}
SMOOTHED = {  # pymfe's epsilon: agreement to ~1e-6
    "joint_ent": "JointEntropyDiscretized",
    "mut_inf": "MutualInformationDiscretized",
}
SMOOTHED_SCALARS = {
    "eq_num_attr": "EquivalentNumberOfAttsDiscretized",
    "ns_ratio": "NoiseToSignalRatioDiscretized",
}


def _pymfe(X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    features = sorted(set(SUMMARIZED) | set(SCALARS) | set(SMOOTHED) | set(SMOOTHED_SCALARS))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mfe = pymfe_mfe.MFE(features=features, summary=list(SUMMARIES), random_state=0)
        mfe.fit(X, y)
        names, values = mfe.extract(skewness={"method": 2}, kurtosis={"method": 2})
    return dict(zip(names, values, strict=True))


@pytest.mark.parametrize("loader", [load_iris, load_wine, load_breast_cancer])
def test_values_equal_pymfe_where_definitions_agree(loader):
    X, y = loader(return_X_y=True)
    ref = _pymfe(X, y)
    ours = metafeatures.extract(X, y, random_state=0)
    compared = 0
    for pname, oname in SUMMARIZED.items():
        for psum, osum in SUMMARIES.items():
            assert ours[osum + oname] == pytest.approx(ref[f"{pname}.{psum}"], rel=1e-9, abs=1e-12), (
                pname,
                psum,
            )
            compared += 1
    for pname, (oname, scale) in SCALARS.items():
        assert ours[oname] * scale == pytest.approx(ref[pname], rel=1e-9), pname
        compared += 1
    for pname, oname in SMOOTHED.items():
        for psum, osum in SUMMARIES.items():
            assert ours[osum + oname] == pytest.approx(ref[f"{pname}.{psum}"], rel=1e-4, abs=1e-6), (
                pname,
                psum,
            )
    for pname, oname in SMOOTHED_SCALARS.items():
        assert ours[oname] == pytest.approx(ref[pname], rel=1e-4), pname
    assert compared == len(SUMMARIZED) * len(SUMMARIES) + len(SCALARS)
