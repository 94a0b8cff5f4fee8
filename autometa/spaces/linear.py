"""Linear models: L2-regularized logistic regression (classification) or ridge regression.

One parameter serves both tasks: ``C`` is the inverse regularization strength (logistic ``C``;
ridge ``alpha = 1 / C``), so ``C = 1`` is each library's default.
"""

from __future__ import annotations

from optuna.distributions import FloatDistribution

from autometa.data import encoded_features
from autometa.spaces._base import Family

SPACE = {"C": FloatDistribution(1e-4, 1e4, log=True)}
DEFAULT = {"C": 1.0}


def _build(config, task, info, random_state):
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import Pipeline

    if task == "classification":
        model = LogisticRegression(C=config["C"], max_iter=1000, random_state=random_state)
    else:
        model = Ridge(alpha=1.0 / config["C"], random_state=random_state)
    return Pipeline([("prepare", encoded_features(info, scale=True)), ("model", model)])


FAMILY = Family("linear", "logistic regression / ridge regression (L2)", SPACE, DEFAULT, _build)
