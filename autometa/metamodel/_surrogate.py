"""A LightGBM surrogate: (dataset meta-features, family, config) -> normalized score, with an uncertainty.

An ensemble of gradient-boosted tree models; member 0 sees every training dataset, the others a
bootstrap sample of the datasets (resampling whole datasets, since rows of one dataset are not
independent). The spread of the members is the model's uncertainty about a prediction. Models are
kept as LightGBM's text format, never pickled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

_PARAMS: dict[str, Any] = {
    "objective": "regression",
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.7,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "max_bin": 63,
    "verbose": -1,
    "deterministic": True,
    "force_row_wise": True,
}


class Surrogate:
    """Bagged LightGBM regressors.

    Args:
        n_models: ensemble members (1 = a single model, no uncertainty from the spread).
        num_boost_round: trees per member.
        objective: a LightGBM objective (``"regression"`` for scores, also used for log seconds).
        seed: seed of the bootstrap and of LightGBM.
        n_jobs: LightGBM threads.
    """

    def __init__(self, n_models: int = 5, num_boost_round: int = 300, objective: str = "regression",
                 seed: int = 0, n_jobs: int = 1) -> None:
        self.n_models = n_models
        self.num_boost_round = num_boost_round
        self.objective = objective
        self.seed = seed
        self.n_jobs = n_jobs
        self.boosters: list[Any] = []
        self.categorical: list[int] = []

    def fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray, categorical: list[int] | None = None,
            weight: np.ndarray | None = None) -> Surrogate:
        """Fit on rows ``X`` (features), targets ``y``, dataset of each row ``groups``."""
        import lightgbm as lgb

        self.categorical = list(categorical or [])
        X = _categorical_ready(np.asarray(X, dtype=float), self.categorical)
        y = np.asarray(y, dtype=float)
        groups = np.asarray(groups)
        unique = np.unique(groups)
        rng = np.random.default_rng(self.seed)
        self.boosters = []
        for member in range(self.n_models):
            if member == 0:
                rows = np.arange(len(y))
            else:
                drawn = rng.choice(unique, size=len(unique), replace=True)
                counts = dict(zip(*np.unique(drawn, return_counts=True), strict=True))
                repeat = np.array([counts.get(g, 0) for g in groups])
                rows = np.repeat(np.arange(len(y)), repeat)
            params = {**_PARAMS, "objective": self.objective, "seed": self.seed + member,
                      "num_threads": self.n_jobs}
            data = lgb.Dataset(X[rows], y[rows], weight=None if weight is None else weight[rows],
                               categorical_feature=self.categorical or "auto", free_raw_data=True,
                               params={"max_bin": _PARAMS["max_bin"], "verbose": -1})
            self.boosters.append(lgb.train(params, data, num_boost_round=self.num_boost_round))
        return self

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation over the members (std 0 with one member)."""
        X = _categorical_ready(np.asarray(X, dtype=float), self.categorical)
        preds = np.stack([b.predict(X, num_threads=self.n_jobs) for b in self.boosters])
        return preds.mean(axis=0), preds.std(axis=0)

    def feature_importance(self) -> np.ndarray:
        return np.mean([b.feature_importance("gain") for b in self.boosters], axis=0)

    def to_dict(self) -> dict[str, Any]:
        return {"n_models": self.n_models, "num_boost_round": self.num_boost_round, "objective": self.objective,
                "seed": self.seed, "categorical": self.categorical,
                "models": [b.model_to_string() for b in self.boosters]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], n_jobs: int = 1) -> Surrogate:
        import lightgbm as lgb

        self = cls(int(data["n_models"]), int(data["num_boost_round"]), str(data["objective"]),
                   int(data["seed"]), n_jobs)
        self.categorical = [int(i) for i in data["categorical"]]
        self.boosters = [lgb.Booster(model_str=text) for text in data["models"]]
        return self


def _categorical_ready(X: np.ndarray, categorical: list[int]) -> np.ndarray:
    # LightGBM reads negative category codes as missing; we use -1 for an unknown family.
    if categorical:
        X = X.copy()
        for j in categorical:
            X[:, j] = np.where(X[:, j] < 0, np.nan, X[:, j])
    return X
