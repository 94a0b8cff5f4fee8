"""Plain state as JSON: an estimator's fitted attributes written as tagged JSON and read back, for the
parts of a saved model stored without skops (LightGBM's wrapper, the mlp estimator, NativeCategorical).
Only the few tagged types below are ever decoded; anything else is refused on saving (:class:`_NotPlain`)."""

from __future__ import annotations

import base64
import json
from collections import OrderedDict, defaultdict
from typing import Any

import numpy as np


class _NotPlain(Exception):
    """A value that the tagged JSON below cannot hold exactly."""


def _state_json(state: dict[str, Any]) -> bytes:
    encoded = {str(k): _encode(v) for k, v in state.items()}
    return json.dumps(encoded, allow_nan=False, separators=(",", ":")).encode("utf-8")


def _encode(value: Any) -> Any:
    """``value`` as JSON, tagged where JSON alone would lose its type (tuples, arrays, numpy scalars,
    non-finite floats, dicts with other keys). Only these few types are ever decoded."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int) and not isinstance(value, np.integer):
        return value
    if isinstance(value, float) and not isinstance(value, np.floating):
        return value if np.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, np.generic):
        if value.dtype.kind not in "biuf":
            raise _NotPlain(f"a numpy {value.dtype} scalar")
        return {"__scalar__": value.dtype.str, "value": _encode(value.item())}
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biuf":
            data = np.ascontiguousarray(value).tobytes()
            return {"__ndarray__": value.dtype.str, "shape": list(value.shape),
                    "base64": base64.b64encode(data).decode("ascii")}
        if value.dtype.kind in "OU" and value.ndim == 1 and all(isinstance(v, str) for v in value.tolist()):
            return {"__ndarray__": value.dtype.str if value.dtype.kind == "U" else "object", "items": value.tolist()}
        raise _NotPlain(f"an array of {value.dtype}")
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, defaultdict):
        factory = {OrderedDict: "OrderedDict", dict: "dict", list: "list"}.get(value.default_factory)
        if factory is None:
            raise _NotPlain("a defaultdict of another factory")
        return {"__defaultdict__": factory, "items": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in value) and type(value) is dict:
            return {k: _encode(v) for k, v in value.items()}
        return {"__dict__": [[_encode(k), _encode(v)] for k, v in value.items()],
                "ordered": isinstance(value, OrderedDict)}
    if type(value).__name__ == "LabelEncoder" and type(value).__module__.startswith("sklearn."):
        return {"__label_encoder__": _encode(getattr(value, "classes_", None))}
    raise _NotPlain(f"a {type(value).__name__}")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__float__" in value:
        text = value["__float__"]
        if text not in ("inf", "-inf", "nan"):
            raise ValueError(f"bad float {text!r}")
        return float(text)
    if "__scalar__" in value:
        return np.dtype(_numeric_dtype(value["__scalar__"])).type(_decode(value["value"]))
    if "__ndarray__" in value:
        kind = value["__ndarray__"]
        if "items" in value:
            items = value["items"]
            if not all(isinstance(v, str) for v in items):
                raise ValueError("an array of text holds something else")
            return np.asarray(items, dtype=object if kind == "object" else np.dtype(kind))
        dtype = np.dtype(_numeric_dtype(kind))
        shape = tuple(int(s) for s in value["shape"])
        data = base64.b64decode(value["base64"], validate=True)
        return np.frombuffer(data, dtype=dtype).reshape(shape).copy()
    if "__tuple__" in value:
        return tuple(_decode(v) for v in value["__tuple__"])
    if "__defaultdict__" in value:
        factory = {"OrderedDict": OrderedDict, "dict": dict, "list": list}[value["__defaultdict__"]]
        return defaultdict(factory, ((_decode(k), _decode(v)) for k, v in value["items"]))
    if "__dict__" in value:
        pairs = ((_hashable(_decode(k)), _decode(v)) for k, v in value["__dict__"])
        return OrderedDict(pairs) if value.get("ordered") else dict(pairs)
    if "__label_encoder__" in value:
        from sklearn.preprocessing import LabelEncoder

        encoder = LabelEncoder()
        classes = _decode(value["__label_encoder__"])
        if classes is not None:
            encoder.classes_ = classes
        return encoder
    return {k: _decode(v) for k, v in value.items()}


def _numeric_dtype(text: Any) -> str:
    dtype = np.dtype(str(text))
    if dtype.kind not in "biuf":
        raise ValueError(f"dtype {text!r} is not numeric")
    return dtype.str


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
