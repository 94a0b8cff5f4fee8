"""Where our meta-features and pymfe's agree by definition: pymfe's names mapped onto ours.

pymfe is the reference for the features OpenML does not define; the agreement test
(``tests/test_metafeatures_pymfe.py``) and the speed benchmark (``benchmarks/metafeatures_speed.py``)
compare against it through this one table. pymfe summarizes a per-attribute feature as
``<feature>.<summary>`` (``cor.mean``); ours is ``<Summary><Name>`` (``MeanCorrelationOfNumericAtts``).
Nothing here imports pymfe.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

#: pymfe's summary function -> the prefix of our summarized name.
PYMFE_SUMMARIES: dict[str, str] = {"min": "Min", "max": "Max", "mean": "Mean", "sd": "Stdv", "median": "Quartile2"}

#: pymfe's group -> {pymfe's feature: our name (the stem, for summarized features)}.
PYMFE_EQUIVALENTS: dict[str, dict[str, str]] = {
    "general": {
        "freq_class": "ClassProportion",
        "nr_inst": "NumberOfInstances",
        "nr_class": "NumberOfClasses",
    },
    "statistical": {
        "mean": "MeansOfNumericAtts",
        "sd": "StdDevOfNumericAtts",
        "skewness": "SkewnessOfNumericAtts",  # with pymfe's method=2, the estimator OpenML uses
        "kurtosis": "KurtosisOfNumericAtts",  # idem
        "cor": "CorrelationOfNumericAtts",
        "cov": "CovarianceOfNumericAtts",
        "nr_cor_attr": "PercentageOfHighlyCorrelatedAttPairs",
    },
    "info-theory": {
        "class_ent": "ClassEntropy",
        "attr_ent": "AttributeEntropyDiscretized",
        "joint_ent": "JointEntropyDiscretized",
        "mut_inf": "MutualInformationDiscretized",
        "eq_num_attr": "EquivalentNumberOfAttsDiscretized",
        "ns_ratio": "NoiseToSignalRatioDiscretized",
    },
    "model-based": {
        "leaves": "TreeLeaves",
        "nodes": "TreeNodes",
        "nodes_per_attr": "TreeNodesPerAttribute",
        "nodes_per_inst": "TreeNodesPerInstance",
        "leaves_branch": "TreeLeafDepth",
        "leaves_corrob": "LeavesCorroboration",
        "leaves_per_class": "LeavesPerClass",
        "nodes_per_level": "TreeNodesPerLevel",
        "nodes_repeated": "TreeAttributeRepetition",
        "tree_depth": "TreeNodeDepth",
        "var_importance": "FeatureImportance",
    },
}

#: Our value = pymfe's value x this (pymfe gives a proportion where we give a percentage).
PYMFE_SCALE: dict[str, float] = {"nr_cor_attr": 100.0}

#: pymfe adds 1e-8 to every joint probability, so these agree with ours to about 1e-6 only.
PYMFE_SMOOTHED: frozenset[str] = frozenset({"joint_ent", "mut_inf", "eq_num_attr", "ns_ratio"})


def pymfe_features(groups: Iterable[str] | None = None) -> list[str]:
    """pymfe's names of the features with an equivalent of ours (for ``MFE(features=...)``), sorted."""
    groups = PYMFE_EQUIVALENTS if groups is None else groups
    return sorted(name for group in groups for name in PYMFE_EQUIVALENTS[group])


def from_pymfe(values: Mapping[str, float], groups: Iterable[str] | None = None) -> dict[str, tuple[str, float]]:
    """pymfe's values (``dict(zip(*mfe.extract()))``) under our names, in our units.

    Returns:
        our name -> (pymfe's name, value x :data:`PYMFE_SCALE`), for every feature of ``groups``
        (default: all) that pymfe returned; features without an equivalent are left out.
    """
    groups = PYMFE_EQUIVALENTS if groups is None else groups
    ours = {name: stem for group in groups for name, stem in PYMFE_EQUIVALENTS[group].items()}
    out = {}
    for key, value in values.items():
        name, _, summary = key.partition(".")
        if name not in ours or (summary and summary not in PYMFE_SUMMARIES):
            continue
        our_name = PYMFE_SUMMARIES[summary] + ours[name] if summary else ours[name]
        out[our_name] = (key, float(value) * PYMFE_SCALE.get(name, 1.0))
    return out
