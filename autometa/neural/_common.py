"""Helpers every part of :mod:`autometa.neural` uses: the device choice and the tabular preprocessing.

They live here, below the estimators, meta-training and the few-shot learners, so that none of those
imports another for them (no import cycles inside the package).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from autometa.errors import InputError


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` is CUDA when available, else CPU; anything else is passed to ``torch.device``."""
    if isinstance(device, torch.device):
        dev = device
    elif device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            dev = torch.device(device)
        except RuntimeError:
            raise InputError(f"Unknown device '{device}'; use auto, cpu or cuda.") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError("device='cuda' was asked for but no CUDA device is available; use --device auto or cpu.")
    return dev


def as_frame(X: Any):
    """A DataFrame with string column names (what the shared preprocessing selects columns by)."""
    import pandas as pd

    if isinstance(X, pd.DataFrame):
        frame = X.copy(deep=False)
        frame.columns = [str(c) for c in X.columns]
        return frame
    X = np.asarray(X)
    return pd.DataFrame(X, columns=[str(i) for i in range(X.shape[1])])


def fit_preprocessor(X: Any, rows: np.ndarray):
    """The model families' shared recipe (impute, encode categoricals, standardize), fitted on ``rows``."""
    from autometa.data import encoded_features, feature_info

    frame = as_frame(X).iloc[rows]
    return encoded_features(feature_info(frame), scale=True).fit(frame)
