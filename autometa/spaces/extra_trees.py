"""Extremely randomized trees (random splits, no bootstrap by default)."""

from __future__ import annotations

from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from autometa.spaces._base import Family
from autometa.spaces.random_forest import forest_builder

SPACE = {
    "n_estimators": IntDistribution(50, 300, log=True),  # capped for cost
    "max_features": FloatDistribution(0.05, 1.0, log=True),
    "min_samples_leaf": IntDistribution(1, 32, log=True),
    "bootstrap": CategoricalDistribution([False, True]),
}
DEFAULT = {"n_estimators": 100, "max_features": 0.3, "min_samples_leaf": 1, "bootstrap": False}

FAMILY = Family(
    "extra_trees", "extremely randomized trees", SPACE, DEFAULT, forest_builder("ExtraTreesClassifier", "ExtraTreesRegressor")
)
