"""scikit-learn's histogram gradient boosting, with native categorical support."""

from __future__ import annotations

from optuna.distributions import FloatDistribution, IntDistribution

from autometa.data import native_categorical
from autometa.spaces._base import Family

SPACE = {
    "max_iter": IntDistribution(50, 500, log=True),  # capped for cost
    "learning_rate": FloatDistribution(0.01, 0.3, log=True),
    "max_leaf_nodes": IntDistribution(4, 256, log=True),
    "min_samples_leaf": IntDistribution(2, 100, log=True),
    "l2_regularization": FloatDistribution(1e-6, 10.0, log=True),
    "max_features": FloatDistribution(0.3, 1.0),
}
DEFAULT = {  # scikit-learn's defaults (l2 at the bottom of its log range)
    "max_iter": 100,
    "learning_rate": 0.1,
    "max_leaf_nodes": 31,
    "min_samples_leaf": 20,
    "l2_regularization": 1e-6,
    "max_features": 1.0,
}


def _build(config, task, info, random_state):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.pipeline import Pipeline

    model_class = HistGradientBoostingClassifier if task == "classification" else HistGradientBoostingRegressor
    # No early stopping: it would hold out a validation split that depends on the data size.
    model = model_class(**config, early_stopping=False, categorical_features="from_dtype", random_state=random_state)
    return Pipeline([("prepare", native_categorical(info)), ("model", model)])


FAMILY = Family("hist_gradient_boosting", "scikit-learn histogram gradient boosting", SPACE, DEFAULT, _build)
