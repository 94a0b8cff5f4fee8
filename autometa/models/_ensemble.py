"""Model fusion from out-of-fold predictions: ensemble selection, stacking, meta-decision trees.

Every candidate was cross-validated on the same rows with the same folds (one rung of the search), so
its out-of-fold predictions say how it does on rows it did not train on; the fusion is learned from
them, then the chosen members are refitted on all rows.

- ``selection``: Caruana et al. (2004), "Ensemble selection from libraries of models", greedy forward
  selection with replacement of the member that most improves the study's metric of the averaged
  predictions (50 rounds, started from the best single model, as auto-sklearn does). The weights are
  the counts.
- ``stacking``: a linear model over the members' predictions, as scikit-learn's
  ``StackingClassifier``/``StackingRegressor`` do, but fitted on the study's out-of-fold predictions
  instead of a second cross-validation of every member: the search already paid for those fits, and
  a time budget has none to spare. Logistic regression on the members' probabilities (class-balanced
  when the metric is balanced accuracy); non-negative least squares for regression (Breiman 1996).
- ``mdt``: meta-decision trees (Todorovski & Dzeroski 2003): a shallow decision tree over the members'
  confidence attributes (for each member its highest class probability and the entropy of its
  probabilities) that learns, row by row, which member to trust: its target is the member that gave
  the true class the highest probability. Its leaf frequencies weight the members' probabilities. For
  regression (outside the paper) the attributes are the members' predictions and their spread, and the
  target the member with the smallest error.

A fusion is judged on rows it did not learn from before it is kept (:func:`held_out_check`: learned on
4/5 of the out-of-fold rows, scored on the other fifth, 5 times); when it does not beat the best single
model there, :func:`autometa.models.fit_model` fits the best single model and the card says why.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autometa.errors import InputError

#: Rounds of ensemble selection (auto-sklearn's ensemble_size).
SELECTION_ROUNDS = 50
#: At most this many candidates (the best trials) enter ensemble selection, which keeps few of them.
MAX_CANDIDATES = 20
#: Stacking and meta-decision trees use every candidate they are given: the best few.
MAX_STACKED = 5


def fuse(kind: str, outputs: list[np.ndarray], y: np.ndarray, task: str, metric: str, n_classes: int,
         random_state: int = 0) -> tuple[np.ndarray, Any]:
    """Learn how to combine ``outputs`` (one out-of-fold prediction array per candidate) for targets ``y``.

    Args:
        kind: ``"selection"``, ``"stacking"`` or ``"mdt"``.
        outputs: per candidate, ``(n, n_classes)`` probabilities or ``(n,)`` predictions; best first.
        y: class codes or regression targets of the same rows.
        task, metric, n_classes: the study's.
        random_state: seed of the tree (mdt).

    Returns:
        ``(weights, combiner)``: one weight per candidate (0 = left out; for stacking and mdt, 1 for
        every candidate), and the fitted combiner (None for selection).
    """
    if not outputs:
        raise InputError("There is no candidate to fuse: no trial of the study has out-of-fold predictions.")
    if kind == "selection":
        return ensemble_selection(outputs, y, task, metric, n_classes), None
    if kind == "stacking":
        return np.ones(len(outputs)), _fit_stacker(outputs, y, task, metric)
    if kind == "mdt":
        return np.ones(len(outputs)), _fit_meta_tree(outputs, y, task, random_state)
    raise InputError(f"Unknown ensemble {kind!r}; choose selection, stacking or mdt.")


def combine(model: Any, outputs: list[np.ndarray]) -> np.ndarray:
    """The fused prediction of a :class:`~autometa.models.FittedModel` from its members' outputs."""
    return apply_fusion(model.kind, np.asarray(model.card["weights"], dtype=float), model.combiner, outputs, model.task)


def apply_fusion(kind: str, weights: np.ndarray, combiner: Any, outputs: list[np.ndarray], task: str) -> np.ndarray:
    """Combine members' outputs the way ``kind`` learned to (see :func:`fuse`)."""
    if kind == "single":
        return outputs[0]
    if kind == "selection":
        return _weighted(outputs, weights)
    if kind == "stacking":
        features = _stacking_features(outputs, task)
        if task == "classification":
            from autometa.evaluation import full_proba

            return full_proba(combiner, features, outputs[0].shape[1])
        return np.asarray(combiner.predict(features), dtype=float)
    if kind == "mdt":
        return _tree_mixture(combiner, outputs, task)
    raise InputError(f"The model's card names an unknown kind {kind!r}.")


#: Folds of the check that a fusion beats the best single model on rows it did not learn from.
CHECK_FOLDS = 5


def held_out_check(kind: str, outputs: list[np.ndarray], y: np.ndarray, task: str, metric: str, n_classes: int,
                   random_state: int = 0) -> tuple[float, float]:
    """``(fusion, best single)``: the metric of the fusion learned on 4/5 of the out-of-fold rows and
    applied to the other fifth (5 folds), and of the best candidate alone on the same rows.

    A fusion is fitted on the very predictions it is judged by, so its own score there always looks
    better; this check is how :func:`autometa.models.fit_model` decides whether the fusion is worth its
    members (ensemble selection on 300 rows easily fits the noise of a non-smooth metric).
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    from autometa.evaluation import metric_score

    y = np.asarray(y)
    n = len(y)
    if task == "classification" and np.bincount(y.astype(int)).min() >= CHECK_FOLDS:
        splits = StratifiedKFold(CHECK_FOLDS, shuffle=True, random_state=random_state).split(np.zeros(n), y)
    else:
        splits = KFold(CHECK_FOLDS, shuffle=True, random_state=random_state).split(np.zeros(n))
    fused = np.zeros_like(np.asarray(outputs[0], dtype=float))
    for train, test in splits:
        weights, combiner = fuse(kind, [o[train] for o in outputs], y[train], task, metric, n_classes, random_state)
        used = [o[test] for o in outputs]
        fused[test] = apply_fusion(kind, weights, combiner, used, task)
    return (metric_score(metric, y, fused, n_classes), metric_score(metric, y, outputs[0], n_classes))


# ---------------------------------------------------------------------------------- selection
def ensemble_selection(outputs: list[np.ndarray], y: np.ndarray, task: str, metric: str, n_classes: int,
                       rounds: int = SELECTION_ROUNDS) -> np.ndarray:
    """Caruana's greedy selection with replacement; returns the count of each candidate (sums to the
    rounds kept). Ties go to the earlier (better-ranked) candidate, and rounds stop adding once no
    candidate improves the score for 10 rounds in a row, keeping the best ensemble seen."""
    from autometa.evaluation import HIGHER_IS_BETTER, metric_score

    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
    stacked = np.stack([np.asarray(o, dtype=float) for o in outputs])
    counts = np.zeros(len(outputs))
    total = np.zeros_like(stacked[0])
    best_counts, best_score, stale = counts.copy(), -np.inf, 0
    for _ in range(rounds):
        scores = [sign * metric_score(metric, y, (total + candidate) / (counts.sum() + 1), n_classes)
                  for candidate in stacked]
        choice = int(np.nanargmax(scores))
        counts[choice] += 1
        total += stacked[choice]
        if scores[choice] > best_score + 1e-12:
            best_counts, best_score, stale = counts.copy(), scores[choice], 0
        else:
            stale += 1
            if stale >= 10:
                break
    return best_counts


def _weighted(outputs: list[np.ndarray], weights: np.ndarray) -> np.ndarray:
    used = [(w, o) for w, o in zip(weights, outputs, strict=True) if w > 0]
    return sum(w * np.asarray(o, dtype=float) for w, o in used) / sum(w for w, _ in used)


# ---------------------------------------------------------------------------------- stacking
def _stacking_features(outputs: list[np.ndarray], task: str) -> np.ndarray:
    if task != "classification":
        return np.column_stack(outputs)
    # A binary member's two columns sum to one: its second column says everything.
    return np.column_stack([o[:, 1:] if o.shape[1] == 2 else o for o in outputs])


def _fit_stacker(outputs: list[np.ndarray], y: np.ndarray, task: str, metric: str) -> Any:
    features = _stacking_features(outputs, task)
    if task == "classification":
        from sklearn.linear_model import LogisticRegression

        weight = "balanced" if metric == "balanced_accuracy" else None
        return LogisticRegression(C=1.0, max_iter=2000, class_weight=weight).fit(features, y)
    from sklearn.linear_model import LinearRegression

    return LinearRegression(positive=True).fit(features, y)


# ---------------------------------------------------------------------------------- meta-decision trees
def _confidence_attributes(outputs: list[np.ndarray], task: str) -> np.ndarray:
    if task == "classification":
        columns = []
        for proba in outputs:
            p = np.clip(np.asarray(proba, dtype=float), 1e-12, 1.0)
            columns += [p.max(axis=1), -(p * np.log(p)).sum(axis=1)]
        return np.column_stack(columns)
    preds = np.column_stack(outputs)
    return np.column_stack([preds, preds.std(axis=1)])


def _fit_meta_tree(outputs: list[np.ndarray], y: np.ndarray, task: str, random_state: int) -> Any:
    from sklearn.tree import DecisionTreeClassifier

    if task == "classification":
        on_truth = np.column_stack([o[np.arange(len(y)), np.asarray(y, dtype=int)] for o in outputs])
        best_member = on_truth.argmax(axis=1)  # ties go to the better-ranked member
    else:
        best_member = np.abs(np.column_stack(outputs) - np.asarray(y, dtype=float)[:, None]).argmin(axis=1)
    leaf = max(10, len(y) // 50)
    tree = DecisionTreeClassifier(max_depth=3, min_samples_leaf=leaf, random_state=random_state)
    return tree.fit(_confidence_attributes(outputs, task), best_member)


def _tree_mixture(tree: Any, outputs: list[np.ndarray], task: str) -> np.ndarray:
    share = tree.predict_proba(_confidence_attributes(outputs, task))  # rows x members the tree knows
    members = np.asarray(tree.classes_, dtype=int)
    mixed = np.zeros_like(np.asarray(outputs[0], dtype=float))
    for column, member in enumerate(members):
        weight = share[:, column]
        mixed += (weight[:, None] if mixed.ndim == 2 else weight) * outputs[member]
    return mixed
