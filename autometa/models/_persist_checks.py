"""What a loaded model file may hold: the skops allow-list (:data:`TRUSTED_TYPES`), and bounds checks of
the index arrays that scikit-learn (decision trees, boosted trees, neighbour indexes) and LightGBM (its
text model) follow without checks, so that a damaged or crafted file is refused before it is used."""

from __future__ import annotations

import functools
import sys
import types
from typing import Any

import numpy as np

from autometa.errors import InputError

#: Types skops does not trust by itself that a fitted model of autometa's families needs, by name:
#: autometa's preprocessing steps, scikit-learn's tree structures, neighbour indexes and distance
#: metrics, and histogram gradient boosting's predictors and validation partial. Anything else that
#: skops does not trust is refused, on saving and on loading.
TRUSTED_TYPES: tuple[str, ...] = (
    "autometa.data._preprocessing.NativeCategorical",
    "autometa.data._preprocessing._AsObject",
    "collections.OrderedDict",
    "numpy.dtype",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "functools.partial",
    "sklearn.utils.validation.check_array",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.metrics._dist_metrics.ManhattanDistance64",
    "sklearn.metrics._dist_metrics.MinkowskiDistance64",
)
_REMEDY = "save the model again (autometa.save_model, or 'autometa tune ... --save-model')"


#: A package scikit-learn ships that imports torch when it is imported (its array-API adapter).
_TORCH_ADAPTER = "sklearn.externals.array_api_compat.torch"


def skops_io() -> types.ModuleType:
    """``skops.io``, imported without importing torch.

    On import skops lists scikit-learn's estimators, which imports every package of scikit-learn,
    its array-API adapter for torch included, and that imports torch (1-2 s, more than the rest of a
    small prediction). Nothing a saved model holds needs the adapter, so while skops is imported the
    adapter's import fails (scikit-learn's listing skips packages that fail to import); afterwards it
    imports normally again.
    """
    if "skops.io" in sys.modules or "torch" in sys.modules or _TORCH_ADAPTER in sys.modules:
        import skops.io as sio

        return sio
    sys.modules[_TORCH_ADAPTER] = None  # type: ignore[assignment]  # None in sys.modules: ImportError
    try:
        import skops.io as sio
    finally:
        if sys.modules.get(_TORCH_ADAPTER, 0) is None:
            del sys.modules[_TORCH_ADAPTER]
    return sio


def _refused_types(blob: bytes) -> list[str]:
    sio = skops_io()

    return [t for t in sio.get_untrusted_types(data=blob) if t not in TRUSTED_TYPES]


def check_structures(obj: Any, where: str = "The model") -> None:
    """Check the index arrays of trees and neighbour indexes inside ``obj`` (scikit-learn follows them
    without bounds checks, so a crafted file could read outside memory). Raises InputError."""
    seen: set[int] = set()
    stack = [(obj, None)]
    while stack:
        item, owner = stack.pop()
        if id(item) in seen or item is None or isinstance(item, _LEAVES):
            continue
        seen.add(id(item))
        name = type(item).__name__
        if name == "Tree" and type(item).__module__.startswith("sklearn.tree"):
            _check_tree(item, getattr(owner, "n_features_in_", None), where)
            continue
        if name == "TreePredictor":
            _check_predictor(item, getattr(owner, "n_features_in_", None), where)
            continue
        if name in ("KDTree", "BallTree") and type(item).__module__.startswith("sklearn.neighbors"):
            _check_neighbors(item, where)
            continue
        if isinstance(item, dict):
            stack.extend((v, owner) for v in item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend((v, owner) for v in item)
        elif hasattr(item, "__dict__"):
            stack.extend((v, item) for v in vars(item).values())


_LEAVES = (str, bytes, int, float, bool, np.ndarray, np.generic, np.dtype, type, types.ModuleType,
           types.FunctionType, types.BuiltinFunctionType)


def _bad(where: str, what: str) -> InputError:
    return InputError(f"{where} holds {what}; it is refused (the file was damaged or crafted); {_REMEDY}.")


def _check_tree(tree: Any, n_features: Any, where: str) -> None:
    count = int(tree.node_count)
    left, right, feature = (np.asarray(a) for a in (tree.children_left, tree.children_right, tree.feature))
    if not (len(left) == len(right) == len(feature) == count):
        raise _bad(where, "a decision tree whose arrays disagree on its size")
    inner = left != -1
    if np.any((right != -1) != inner) or np.any(left[inner] <= 0) or np.any(left[inner] >= count) or \
            np.any(right[inner] <= 0) or np.any(right[inner] >= count):
        raise _bad(where, "a decision tree whose nodes point outside it")
    limit = int(tree.n_features) if n_features is None else min(int(n_features), int(tree.n_features))
    if np.any(feature[inner] < 0) or np.any(feature[inner] >= limit):
        raise _bad(where, "a decision tree that splits on a feature it does not have")


def _check_predictor(predictor: Any, n_features: Any, where: str) -> None:
    nodes = np.asarray(predictor.nodes)
    count = len(nodes)
    if count == 0:
        raise _bad(where, "an empty boosted tree")
    inner = nodes["is_leaf"] == 0
    for side in ("left", "right"):
        if np.any(nodes[side][inner] >= count) or np.any(nodes[side][inner] == 0):
            raise _bad(where, "a boosted tree whose nodes point outside it")
    features = nodes["feature_idx"][inner]
    if np.any(features < 0) or (n_features is not None and np.any(features >= int(n_features))):
        raise _bad(where, "a boosted tree that splits on a feature it does not have")
    categorical = inner & (nodes["is_categorical"] != 0)
    bitsets = min(len(predictor.raw_left_cat_bitsets), len(predictor.binned_left_cat_bitsets))
    if np.any(nodes["bitset_idx"][categorical] >= bitsets):
        raise _bad(where, "a boosted tree whose category sets are missing")


def _check_neighbors(index: Any, where: str) -> None:
    data, idx, node_data, _ = index.get_arrays()
    n = len(data)
    idx = np.asarray(idx)
    if len(idx) != n or np.any(idx < 0) or np.any(idx >= n):
        raise _bad(where, "a neighbour index that points outside its data")
    starts, ends = np.asarray(node_data["idx_start"]), np.asarray(node_data["idx_end"])
    if np.any(starts < 0) or np.any(ends > n) or np.any(starts > ends):
        raise _bad(where, "a neighbour index whose nodes point outside its data")


def checked_booster_text(text: str, where: str = "The model", n_classes: int = 1) -> str:
    """A LightGBM text model, checked before LightGBM's parser reads it; returns it without ``tree_sizes``.

    LightGBM parses a model's trees in parallel at the byte offsets of ``tree_sizes``, and a format
    error there aborts the process; at prediction it follows child and feature indexes without bounds
    checks. So every tree is checked here: its arrays have the lengths its ``num_leaves`` says, every
    node but the root has one parent and every leaf is reached once (a tree, so a prediction ends),
    features and category sets are in range, numbers are numbers. Without ``tree_sizes`` LightGBM
    parses the trees one after the other, where an error is an exception.

    Raises:
        InputError: the text is not such a model.
    """
    bad = functools.partial(_bad, where)
    head, found, rest = text.partition("\nTree=")
    trees_text, ended, tail = rest.partition("\nend of trees")
    if not found or not ended or not head.startswith("tree\n"):
        raise bad("a LightGBM model that is not a complete text model")
    header = dict(line.split("=", 1) for line in head.splitlines()[1:] if "=" in line)
    try:
        n_features = int(header["max_feature_idx"]) + 1
        per_iteration = int(header["num_tree_per_iteration"])
        n_class = int(header["num_class"])
    except (KeyError, ValueError):
        raise bad("a LightGBM model without its feature and class counts") from None
    expected = n_classes if n_classes > 2 else 1
    if n_features < 1 or n_class != expected or per_iteration != n_class:
        raise bad(f"a LightGBM model of {n_class} class output(s) where the card says {expected}")
    if len(header.get("feature_names", "").split()) != n_features:
        raise bad("a LightGBM model whose feature names do not match its feature count")
    blocks = ("Tree=" + trees_text).split("\nTree=")
    blocks[0] = blocks[0][len("Tree="):]
    if len(blocks) % per_iteration:
        raise bad("a LightGBM model with an incomplete boosting round")
    for block in blocks:
        _check_lightgbm_tree(block, n_features, bad)
    kept = "\n".join(line for line in head.splitlines() if not line.startswith("tree_sizes="))
    return kept + found + rest


def _check_lightgbm_tree(block: str, n_features: int, bad) -> None:
    lines = block.splitlines()
    fields = dict(line.split("=", 1) for line in lines[1:] if "=" in line)
    try:
        leaves = int(fields["num_leaves"])
        n_cat = int(fields.get("num_cat", "0"))
        if fields.get("is_linear", "0") != "0":
            raise bad("a LightGBM linear-tree model, which autometa never writes")
        leaf_value = np.array(fields["leaf_value"].split(), dtype=float)
        if leaves < 1 or len(leaf_value) != leaves or n_cat < 0:
            raise bad("a LightGBM tree whose leaves do not match its size")
        if leaves == 1:
            return
        split = np.array(fields["split_feature"].split(), dtype=np.int64)
        left = np.array(fields["left_child"].split(), dtype=np.int64)
        right = np.array(fields["right_child"].split(), dtype=np.int64)
        decision = np.array(fields["decision_type"].split(), dtype=np.int64)
        threshold = np.array(fields["threshold"].split(), dtype=float)
        for name in ("split_gain", "internal_value", "internal_weight", "internal_count", "leaf_weight", "leaf_count"):
            if name in fields:
                np.array(fields[name].split(), dtype=float)
        boundaries = np.array(fields.get("cat_boundaries", "").split(), dtype=np.int64)
        categories = np.array(fields.get("cat_threshold", "").split(), dtype=np.int64)
    except (KeyError, ValueError):
        raise bad("a LightGBM tree with missing or unreadable fields") from None
    inner = leaves - 1
    if not all(len(a) == inner for a in (split, left, right, decision, threshold)):
        raise bad("a LightGBM tree whose arrays do not match its size")
    children = np.concatenate([left, right])
    nodes, ends = children[children >= 0], ~children[children < 0]
    if not (np.array_equal(np.sort(nodes), np.arange(1, inner)) and np.array_equal(np.sort(ends), np.arange(leaves))):
        raise bad("a LightGBM tree whose nodes do not form a tree")
    if np.any(split < 0) or np.any(split >= n_features):
        raise bad("a LightGBM tree that splits on a feature it does not have")
    categorical = (decision & 1) == 1
    if categorical.any():
        if n_cat < 1 or len(boundaries) != n_cat + 1 or boundaries[0] != 0 or np.any(np.diff(boundaries) < 0) or \
                boundaries[-1] != len(categories):
            raise bad("a LightGBM tree whose category sets are malformed")
        index = threshold[categorical]
        if np.any(index != np.round(index)) or np.any(index < 0) or np.any(index >= n_cat):
            raise bad("a LightGBM tree whose splits point to category sets it does not have")
