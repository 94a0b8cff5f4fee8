"""k-nearest neighbours on standardized features (neighbours capped by the training rows)."""

from __future__ import annotations

from optuna.distributions import CategoricalDistribution, IntDistribution

from autometa.data import encoded_features
from autometa.spaces._base import Family

SPACE = {
    "n_neighbors": IntDistribution(1, 64, log=True),
    "weights": CategoricalDistribution(["uniform", "distance"]),
    "p": CategoricalDistribution([1, 2]),
}
DEFAULT = {"n_neighbors": 5, "weights": "uniform", "p": 2}


def _build(config, task, info, random_state):
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    from sklearn.pipeline import Pipeline

    model_class = KNeighborsClassifier if task == "classification" else KNeighborsRegressor
    n_neighbors = config["n_neighbors"] if info.n_rows <= 0 else max(1, min(config["n_neighbors"], info.n_rows))
    model = model_class(n_neighbors=n_neighbors, weights=config["weights"], p=config["p"], n_jobs=1)
    return Pipeline([("prepare", encoded_features(info, scale=True)), ("model", model)])


FAMILY = Family("knn", "k-nearest neighbours", SPACE, DEFAULT, _build)
