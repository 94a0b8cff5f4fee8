"""Random forest (bootstrap, best splits)."""

from __future__ import annotations

from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from autometa.data import encoded_features
from autometa.spaces._base import Family

SPACE = {
    "n_estimators": IntDistribution(50, 300, log=True),  # capped for cost
    # fraction of features tried per split; log scale: small fractions are cheap and often best
    "max_features": FloatDistribution(0.05, 1.0, log=True),
    "min_samples_leaf": IntDistribution(1, 32, log=True),
    "bootstrap": CategoricalDistribution([True, False]),
}
# max_features 0.3 is about scikit-learn's sqrt(p) for the typical p ~ 10 (a fraction is the same
# config on every dataset, which sqrt(p) is not).
DEFAULT = {"n_estimators": 100, "max_features": 0.3, "min_samples_leaf": 1, "bootstrap": True}


def forest_builder(classifier_name: str, regressor_name: str):
    """The builder shared by random forest and extra trees."""

    def _build(config, task, info, random_state):
        import sklearn.ensemble as ensemble
        from sklearn.pipeline import Pipeline

        model_class = getattr(ensemble, classifier_name if task == "classification" else regressor_name)
        model = model_class(**config, n_jobs=1, random_state=random_state)
        return Pipeline([("prepare", encoded_features(info, scale=False)), ("model", model)])

    return _build


FAMILY = Family(
    "random_forest", "random forest", SPACE, DEFAULT, forest_builder("RandomForestClassifier", "RandomForestRegressor")
)
