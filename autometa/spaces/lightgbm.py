"""LightGBM (gradient-boosted trees) with native categorical support."""

from __future__ import annotations

from optuna.distributions import FloatDistribution, IntDistribution

from autometa.data import native_categorical
from autometa.spaces._base import Family

SPACE = {
    "n_estimators": IntDistribution(50, 500, log=True),  # capped for cost
    "learning_rate": FloatDistribution(0.01, 0.3, log=True),
    "num_leaves": IntDistribution(4, 256, log=True),
    "min_child_samples": IntDistribution(2, 100, log=True),
    "subsample": FloatDistribution(0.5, 1.0),
    "colsample_bytree": FloatDistribution(0.3, 1.0),
    "reg_lambda": FloatDistribution(1e-3, 10.0, log=True),
    "reg_alpha": FloatDistribution(1e-3, 10.0, log=True),
}
# LightGBM's own defaults, with the regularizers at the bottom of their (log) ranges.
DEFAULT = {
    "n_estimators": 100,
    "learning_rate": 0.1,
    "num_leaves": 31,
    "min_child_samples": 20,
    "subsample": 1.0,
    "colsample_bytree": 1.0,
    "reg_lambda": 1e-3,
    "reg_alpha": 1e-3,
}


def _build(config, task, info, random_state):
    import lightgbm
    from sklearn.pipeline import Pipeline

    model_class = lightgbm.LGBMClassifier if task == "classification" else lightgbm.LGBMRegressor
    model = model_class(**config, subsample_freq=1, n_jobs=1, verbose=-1, random_state=random_state)
    return Pipeline([("prepare", native_categorical(info)), ("model", model)])


FAMILY = Family("lightgbm", "LightGBM gradient-boosted trees", SPACE, DEFAULT, _build)
