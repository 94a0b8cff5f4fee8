"""A saved LightGBM member predicted through LightGBM's C library alone: no scikit-learn, no lightgbm import.

``import lightgbm`` imports scikit-learn (its ``compat`` module does, for the scikit-learn wrappers),
which costs about a second of ``autometa predict``'s 3 s budget on a 100,000-row table. A saved
LightGBM member is a LightGBM text model and the pipeline's preprocessing as JSON
(:mod:`autometa.models._persist`), so predicting it needs neither: :class:`LightPipeline` applies the
preprocessing (:func:`autometa.data.native_frame`, the very function behind
:class:`~autometa.data.NativeCategorical`), turns the frame into the matrix LightGBM's Python package
would build from it (categorical columns as their codes in the booster's own ``pandas_categorical``
order, missing as NaN, float64) and calls the same C function (``LGBM_BoosterPredictForMat``) with the
same iterations, so that the predictions are the ones the scikit-learn pipeline gives, bit for bit
(``tests/test_models_persist.py`` checks it).

Only members whose parameters cannot change a prediction (no prediction-time LightGBM parameter among
them) are predicted this way; :func:`autometa.models._persist` falls back to the scikit-learn pipeline for
everything else, and when LightGBM's library cannot be found.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: LightGBM's C API constants (c_api.h).
_DTYPE_FLOAT64 = 1
_PREDICT_NORMAL = 0
#: Parameter names (and parts of names) that may change what LightGBM predicts: a member holding one is
#: predicted by the scikit-learn pipeline instead (prediction early stopping, raw scores, leaves, SHAP, a
#: chosen number of iterations, the shape check).
_PREDICT_TIME_PARAMS = ("pred", "raw_score", "rawscore", "leaf_index", "contrib", "iteration", "shape_check",
                        "early_stop")

_LIB: Any = None


def _library() -> Any:
    """LightGBM's shared library, loaded from the installed ``lightgbm`` package without importing it."""
    global _LIB
    if _LIB is None:
        loaded = sys.modules.get("lightgbm.basic")
        if loaded is not None and getattr(loaded, "_LIB", None) is not None:
            _LIB = loaded._LIB
        else:
            spec = importlib.util.find_spec("lightgbm")
            folders = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
            names = {"win32": "lib_lightgbm.dll", "darwin": "lib_lightgbm.dylib"}.get(sys.platform, "lib_lightgbm.so")
            paths = [p for folder in folders for p in (folder / "lib" / names, folder / "bin" / names,
                                                       folder.parent / names) if p.is_file()]
            if not paths:
                raise OSError("LightGBM's library was not found")
            _LIB = ctypes.cdll.LoadLibrary(str(paths[0]))
        _LIB.LGBM_GetLastError.restype = ctypes.c_char_p
    return _LIB


def _check(ret: int) -> None:
    if ret != 0:
        raise ValueError(_LIB.LGBM_GetLastError().decode("utf-8", errors="replace"))


def predict_time_params(state: dict[str, Any]) -> list[str]:
    """The parameters of a LightGBM wrapper's state that could change a prediction (empty: none)."""
    params = {k: v for k, v in state.items() if not k.startswith("_")}
    params.update(state.get("_other_params") or {})
    return [k for k, v in params.items() if v is not None and any(p in k.lower() for p in _PREDICT_TIME_PARAMS)]


def _pandas_categorical(text: str) -> list[list[Any]] | None:
    """The categories LightGBM's Python package saved at the end of the model (as it reads them back)."""
    key = "pandas_categorical:"
    idx = text.rfind("\n", 0, -len(key))
    last = text[idx:].strip()
    return json.loads(last[len(key):]) if last.startswith(key) else None


class CBooster:
    """A LightGBM model read from its text by the C library; predicts float64 matrices."""

    def __init__(self, text: str) -> None:
        lib = _library()
        self._handle = ctypes.c_void_p()
        iterations = ctypes.c_int(0)
        _check(lib.LGBM_BoosterLoadModelFromString(ctypes.c_char_p(text.encode("utf-8")), ctypes.byref(iterations),
                                                   ctypes.byref(self._handle)))
        classes = ctypes.c_int(0)
        _check(lib.LGBM_BoosterGetNumClasses(self._handle, ctypes.byref(classes)))
        self.n_classes = classes.value
        self.pandas_categorical = _pandas_categorical(text)

    def __del__(self) -> None:
        if getattr(self, "_handle", None) is not None and self._handle.value is not None and _LIB is not None:
            _LIB.LGBM_BoosterFree(self._handle)
            self._handle = None

    def predict(self, matrix: np.ndarray, num_threads: int) -> np.ndarray:
        """As ``lightgbm.Booster.predict`` of a loaded model (every iteration: a loaded booster has no best
        iteration), one row per row; several classes give ``(n_rows, n_classes)``."""
        if matrix.ndim != 2 or matrix.dtype != np.float64:
            raise ValueError("a float64 matrix is expected")
        if matrix.flags.c_contiguous:
            data, row_major = matrix.reshape(-1), 1
        elif matrix.flags.f_contiguous:
            data, row_major = matrix.T.reshape(-1), 0
        else:
            data, row_major = np.ascontiguousarray(matrix).reshape(-1), 1
        n_rows, n_cols = matrix.shape
        n_preds = ctypes.c_int64(0)
        _check(_LIB.LGBM_BoosterCalcNumPredict(self._handle, ctypes.c_int(n_rows), ctypes.c_int(_PREDICT_NORMAL),
                                               ctypes.c_int(0), ctypes.c_int(-1), ctypes.byref(n_preds)))
        out = np.empty(n_preds.value, dtype=np.float64)
        written = ctypes.c_int64(0)
        params = f"num_threads={int(num_threads)}".encode()
        _check(_LIB.LGBM_BoosterPredictForMat(
            self._handle, data.ctypes.data_as(ctypes.POINTER(ctypes.c_double)), ctypes.c_int(_DTYPE_FLOAT64),
            ctypes.c_int32(n_rows), ctypes.c_int32(n_cols), ctypes.c_int(row_major), ctypes.c_int(_PREDICT_NORMAL),
            ctypes.c_int(0), ctypes.c_int(-1), ctypes.c_char_p(params), ctypes.byref(written),
            out.ctypes.data_as(ctypes.POINTER(ctypes.c_double))))
        if written.value != n_preds.value:
            raise ValueError("LightGBM wrote another number of predictions than it announced")
        if out.size != n_rows and out.size % n_rows == 0:
            out = out.reshape(n_rows, -1)
        return out


def _threads(n_jobs: int | None) -> int:
    """LightGBM's scikit-learn wrapper's threads for ``n_jobs`` (None: physical cores; -1: every core)."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if n_jobs is None:
        return max(count // 2, 1) if count > 1 else 1
    return max(count + 1 + n_jobs, 1) if n_jobs < 0 else int(n_jobs)


def lightgbm_matrix(frame: pd.DataFrame, pandas_categorical: list[list[Any]] | None) -> np.ndarray:
    """The float64 matrix LightGBM's Python package predicts for ``frame`` (its ``_data_from_pandas``):
    categorical columns as codes in the booster's categories (-1 as NaN), everything as float64."""
    columns: list[np.ndarray] = []
    categorical = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    if pandas_categorical is not None and len(categorical) != len(pandas_categorical):
        raise ValueError("train and valid dataset categorical_feature do not match.")
    levels = dict(zip(categorical, pandas_categorical or [], strict=True))
    for name in frame.columns:
        values = frame[name]
        if name in levels:
            if list(values.cat.categories) != list(levels[name]):
                values = values.cat.set_categories(levels[name])
            codes = values.cat.codes.to_numpy().astype(np.float64)
            codes[codes == -1] = np.nan
            columns.append(codes)
        else:
            columns.append(values.to_numpy(dtype=np.float64))
    return np.column_stack(columns) if columns else np.empty((len(frame), 0))


class LightPipeline:
    """A saved LightGBM pipeline (``NativeCategorical`` + ``LGBMClassifier``/``LGBMRegressor``) without
    scikit-learn: ``predict``, ``predict_proba``, ``classes_`` and the ``n_jobs`` parameter, as the
    pipeline has them (see the module docstring)."""

    def __init__(self, preprocessing: dict[str, Any] | None, booster: CBooster, *, classifier: bool,
                 classes: np.ndarray | None, n_jobs: int | None) -> None:
        self.preprocessing = preprocessing
        self.booster = booster
        self.classifier = classifier
        self._classes = classes
        self.n_jobs = n_jobs

    @property
    def classes_(self) -> np.ndarray:
        if not self.classifier:
            raise AttributeError("a regression model has no classes_")
        return self._classes

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"n_jobs": self.n_jobs}

    def set_params(self, **params: Any) -> LightPipeline:
        for key, value in params.items():
            if key != "n_jobs":
                raise ValueError(f"Invalid parameter {key!r} for a LightGBM member read for prediction.")
            self.n_jobs = value
        return self

    def _raw(self, X: Any) -> np.ndarray:
        from autometa.data import native_frame

        frame = X if self.preprocessing is None else native_frame(X, **self.preprocessing)
        if not isinstance(frame, pd.DataFrame):
            frame = pd.DataFrame(frame)
        if len(frame) < 1:
            raise ValueError("Input data must be 2 dimensional and non empty.")
        return self.booster.predict(lightgbm_matrix(frame, self.booster.pandas_categorical), _threads(self.n_jobs))

    def predict_proba(self, X: Any) -> np.ndarray:
        if not self.classifier:
            raise AttributeError("a regression model has no predict_proba")
        result = self._raw(X)
        if result.ndim == 2:  # several classes
            return result
        return np.vstack((1.0 - result, result)).transpose()

    def predict(self, X: Any) -> np.ndarray:
        if self.classifier:
            return self._classes[np.argmax(self.predict_proba(X), axis=1)]
        return self._raw(X)

    def __repr__(self) -> str:
        return f"LightPipeline({'classifier' if self.classifier else 'regressor'}, LightGBM C library)"
