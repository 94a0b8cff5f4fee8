"""The decision rule of a classifier: which class to predict from its probabilities.

Predicting the most probable class maximizes accuracy. A study that optimizes balanced accuracy is
judged on every class's recall alike, and the rule that maximizes it divides each class's probability
by the class's share of the training rows (the Bayes rule for balanced accuracy, exact when the
probabilities are calibrated). On imbalanced data the difference is large: a model that never predicts
a rare class scores 1/K on it whatever its probabilities say.

The rule is learned from the search's out-of-fold probabilities: class weights ``share ** -alpha`` with
``alpha`` in :data:`ALPHAS` (0 = the most probable class), chosen by the study's metric. It is kept only
when it wins on rows it was not chosen on (:data:`CHECK_FOLDS` splits of the out-of-fold rows), so a
small dataset's noise does not pick it. The probabilities themselves (``predict_proba``) are unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Exponents tried: the weight of a class is its share of the training rows to the power ``-alpha``.
ALPHAS = (0.0, 0.5, 1.0)
#: The out-of-fold rows are split this many times to check the rule on rows it was not chosen on.
CHECK_FOLDS = 5
#: Metrics whose best decision is not the most probable class.
RECALL_METRICS = ("balanced_accuracy",)


def fit_decision(proba: np.ndarray, y: np.ndarray, metric: str, shares: np.ndarray,
                 random_state: int = 0) -> dict[str, Any] | None:
    """The decision rule for ``metric``, learned from out-of-fold probabilities; None for the most probable class.

    Args:
        proba: ``(n, K)`` out-of-fold class probabilities of the model (or fusion) to ship.
        y: the class codes of those rows.
        metric: the study's metric; only :data:`RECALL_METRICS` get another rule.
        shares: each class's share of the training rows (sums to 1).
        random_state: seed of the check's splits.

    Returns:
        ``{"rule": "class_weights", "alpha": a, "class_weights": [...], "check": {...}}`` when weights win
        on held-out out-of-fold rows, else None.
    """
    from autometa.evaluation import metric_score

    proba, y = np.asarray(proba, dtype=float), np.asarray(y, dtype=int)
    shares = np.asarray(shares, dtype=float)
    n_classes = proba.shape[1] if proba.ndim == 2 else 0
    if metric not in RECALL_METRICS or n_classes < 2 or len(y) < 2 * CHECK_FOLDS or len(shares) != n_classes:
        return None
    if np.ptp(shares) < 1e-9:
        return None  # balanced classes: every alpha is the most probable class

    weights = {a: _weights(shares, a) for a in ALPHAS}

    def scores(rows: np.ndarray) -> dict[float, float]:
        return {a: metric_score(metric, y[rows], proba[rows] * w, n_classes) for a, w in weights.items()}

    # Choose alpha on 4/5 of the rows, score the choice and the plain rule on the other fifth.
    rng = np.random.default_rng(random_state)
    folds = np.array_split(rng.permutation(len(y)), CHECK_FOLDS)
    chosen_scores, plain_scores = [], []
    for i, test in enumerate(folds):
        train = np.concatenate([f for j, f in enumerate(folds) if j != i])
        on_train = scores(train)
        best = max(ALPHAS, key=lambda a: (on_train[a], -a))
        held_out = scores(test)
        chosen_scores.append(held_out[best])
        plain_scores.append(held_out[0.0])
    on_all = scores(np.arange(len(y)))
    alpha = max(ALPHAS, key=lambda a: (on_all[a], -a))
    check = {"weighted": float(np.mean(chosen_scores)), "most_probable": float(np.mean(plain_scores)),
             "folds": CHECK_FOLDS}
    if alpha == 0.0 or not check["weighted"] > check["most_probable"]:
        return None
    return {"rule": "class_weights", "alpha": alpha, "class_weights": weights[alpha].tolist(),
            "metric": metric, "oof_score": {"weighted": on_all[alpha], "most_probable": on_all[0.0]},
            "check": check}


def decide(proba: np.ndarray, decision: dict[str, Any] | None) -> np.ndarray:
    """Class codes from ``(n, K)`` probabilities under ``decision`` (None: the most probable class)."""
    proba = np.asarray(proba, dtype=float)
    if not decision:
        return proba.argmax(axis=1)
    return (proba * np.asarray(decision["class_weights"], dtype=float)).argmax(axis=1)


def _weights(shares: np.ndarray, alpha: float) -> np.ndarray:
    # A class absent from the training rows never wins; the floor keeps the power finite.
    w = np.power(np.maximum(shares, 1e-12), -alpha)
    return w / w.max()
