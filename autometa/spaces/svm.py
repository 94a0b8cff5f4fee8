"""Support vector machine with an RBF kernel (SVC with probabilities / SVR on a standardized target).

``gamma`` is relative: the kernel's gamma is ``gamma / n_encoded_features`` on standardized features,
so ``gamma = 1`` is scikit-learn's ``"scale"`` and a config means the same on narrow and wide tables.
``epsilon`` (SVR only, on the standardized target) is ignored for classification, and not shown for it
(``task_params``); configs keep it for both tasks, so the knowledge base's configs are the same for both.
"""

from __future__ import annotations

from optuna.distributions import FloatDistribution

from autometa.data import encoded_features
from autometa.spaces._base import Family

SPACE = {
    "C": FloatDistribution(1e-2, 1e3, log=True),
    "gamma": FloatDistribution(1e-2, 1e2, log=True),
    "epsilon": FloatDistribution(1e-3, 1.0, log=True),
}
DEFAULT = {"C": 1.0, "gamma": 1.0, "epsilon": 0.1}
# libsvm iteration cap: bounds the cost of badly conditioned configs (a capped fit still predicts).
MAX_ITER = 200_000
CACHE_MB = 200


def _build(config, task, info, random_state):
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC, SVR

    gamma = config["gamma"] / max(info.n_encoded(), 1)
    if task == "classification":
        model = _probabilistic_svc(SVC, C=config["C"], gamma=gamma, cache_size=CACHE_MB, max_iter=MAX_ITER,
                                   random_state=random_state)
    else:
        svr = SVR(C=config["C"], gamma=gamma, epsilon=config["epsilon"], cache_size=CACHE_MB, max_iter=MAX_ITER)
        model = TransformedTargetRegressor(regressor=svr, transformer=StandardScaler())
    return Pipeline([("prepare", encoded_features(info, scale=True)), ("model", model)])


FAMILY = Family("svm", "RBF support vector machine", SPACE, DEFAULT, _build, task_params={"epsilon": "regression"},
                fit_warnings=("The `probability` parameter was deprecated",))


def _probabilistic_svc(svc_class, **params):
    """An SVC with ``predict_proba``: libsvm's own Platt scaling while scikit-learn has it (it copes
    with classes of one or two rows), else the calibrated wrapper scikit-learn recommends."""
    import inspect
    import warnings

    if "probability" in inspect.signature(svc_class.__init__).parameters:
        with warnings.catch_warnings():  # deprecated in 1.9, removed in 1.11: handled below
            warnings.simplefilter("ignore", FutureWarning)
            return svc_class(probability=True, **params)
    from sklearn.calibration import CalibratedClassifierCV

    return CalibratedClassifierCV(svc_class(**params), method="sigmoid", cv=3, ensemble=False)
