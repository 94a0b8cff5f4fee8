"""Group "model-based": the shape of a decision tree grown on the data (pymfe's definitions).

One unpruned CART tree (scikit-learn ``DecisionTreeClassifier``, or ``DecisionTreeRegressor`` for
regression, default settings, ``random_state``) is fitted on the same subsample of at most
:data:`metafeatures._landmarking.MAX_ROWS` rows and the same model matrix (numeric attributes, then
one-hot nominal levels) as the landmarkers. On data within the cap and with numeric attributes
only, the tree is the one pymfe grows with the same ``random_state``, and the values equal pymfe's.
"""

from __future__ import annotations

import numpy as np
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from ._context import Context
from ._landmarking import MAX_ROWS
from ._registry import summarized
from ._sampling import model_matrix, subsample

NAN = float("nan")


def _tree(ctx: Context) -> dict | None:
    """The fitted tree's arrays plus node depths, or None when no tree can be grown."""

    def compute() -> dict | None:
        rows = subsample(ctx, MAX_ROWS)
        X = model_matrix(ctx, rows)["X"]
        if rows.size == 0 or X.shape[1] == 0:
            return None
        if ctx.is_classification:
            model = DecisionTreeClassifier(random_state=ctx.random_state)
            model.fit(X, ctx.y_codes[rows])
        else:
            model = DecisionTreeRegressor(random_state=ctx.random_state)
            model.fit(X, ctx.y_float[rows])
        tree = model.tree_
        depth = np.zeros(tree.node_count, dtype=np.int64)
        # Nodes are stored in depth-first pre-order, so a parent is always seen before its children.
        for node in range(tree.node_count):
            for child in (tree.children_left[node], tree.children_right[node]):
                if child >= 0:
                    depth[child] = depth[node] + 1
        is_leaf = tree.children_left < 0
        return {
            "tree": tree,
            "model": model,
            "depth": depth,
            "is_leaf": is_leaf,
            "n_rows": rows.size,
            "n_columns": X.shape[1],
        }

    return ctx.memo("tree", compute)


def ft_TreeNodes(ctx: Context) -> float:
    """Internal (splitting) nodes (pymfe's ``nodes``)."""
    t = _tree(ctx)
    return NAN if t is None else int((~t["is_leaf"]).sum())


def ft_TreeLeaves(ctx: Context) -> float:
    t = _tree(ctx)
    return NAN if t is None else int(t["is_leaf"].sum())


def ft_TreeDepth(ctx: Context) -> float:
    """Depth of the deepest leaf (a single leaf has depth 0)."""
    t = _tree(ctx)
    return NAN if t is None else int(t["depth"].max())


def ft_TreeNodesPerAttribute(ctx: Context) -> float:
    """Internal nodes / columns of the model matrix (pymfe's ``nodes_per_attr``)."""
    t = _tree(ctx)
    return NAN if t is None else (~t["is_leaf"]).sum() / t["n_columns"]


def ft_TreeNodesPerInstance(ctx: Context) -> float:
    """Internal nodes / rows the tree was fitted on (pymfe's ``nodes_per_inst``)."""
    t = _tree(ctx)
    return NAN if t is None else (~t["is_leaf"]).sum() / t["n_rows"]


@summarized
def ft_TreeNodeDepth(ctx: Context) -> np.ndarray:
    """Depth of every node (pymfe's ``tree_depth``)."""
    t = _tree(ctx)
    return np.zeros(0) if t is None else t["depth"]


@summarized
def ft_TreeLeafDepth(ctx: Context) -> np.ndarray:
    """Depth of every leaf, i.e. the length of each branch (pymfe's ``leaves_branch``)."""
    t = _tree(ctx)
    return np.zeros(0) if t is None else t["depth"][t["is_leaf"]]


@summarized
def ft_LeavesPerClass(ctx: Context) -> np.ndarray:
    """Share of the leaves predicting each class that some leaf predicts (pymfe's ``leaves_per_class``)."""
    t = _tree(ctx)
    if t is None or not ctx.is_classification:
        return np.zeros(0)
    predicted = t["tree"].value[t["is_leaf"], 0].argmax(axis=1)
    counts = np.bincount(predicted)
    return counts[counts > 0] / t["is_leaf"].sum()


@summarized
def ft_LeavesCorroboration(ctx: Context) -> np.ndarray:
    """Share of the training rows that reach each leaf (pymfe's ``leaves_corrob``)."""
    t = _tree(ctx)
    if t is None:
        return np.zeros(0)
    samples = t["tree"].n_node_samples
    return samples[t["is_leaf"]] / samples[0]


@summarized
def ft_TreeNodesPerLevel(ctx: Context) -> np.ndarray:
    """Internal nodes at each depth that has some (pymfe's ``nodes_per_level``)."""
    t = _tree(ctx)
    if t is None:
        return np.zeros(0)
    counts = np.bincount(t["depth"][~t["is_leaf"]])
    return counts[counts > 0]


@summarized
def ft_TreeAttributeRepetition(ctx: Context) -> np.ndarray:
    """How many nodes split on each attribute that is used (pymfe's ``nodes_repeated``)."""
    t = _tree(ctx)
    if t is None:
        return np.zeros(0)
    used = t["tree"].feature[~t["is_leaf"]]
    counts = np.bincount(used)
    return counts[counts > 0]


@summarized
def ft_FeatureImportance(ctx: Context) -> np.ndarray:
    """Impurity-based importance of every model-matrix column (pymfe's ``var_importance``)."""
    t = _tree(ctx)
    return np.zeros(0) if t is None else t["model"].feature_importances_
