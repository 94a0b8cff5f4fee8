"""Predicting a table read from disk with a saved model: what ``autometa predict`` does.

    >>> result = predict_table("model.autometa", "new.csv")           # or a FittedModel, a DataFrame
    >>> result.frame.to_csv("preds.csv", index=False); result.notes

The table is read as :func:`autometa.load_dataset` reads one (CSV/TSV, gzip, Parquet, PMLB folder; the
same missing-value markers), but without a target: a column named like the model's target is ignored,
like every column the model was not fitted on. The model card's columns are then checked and typed
(:func:`autometa.models.align_columns`): a missing column or text in a numeric column is an
:class:`~autometa.errors.InputError`; a category not seen in training becomes missing, which every
family handles as in training (and a note says how many cells). Datetime columns are expanded into the
parts the model was fitted on, as in training.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autometa.errors import InputError
from autometa.models._fitted import FittedModel, align_columns


@dataclass
class Predictions:
    """What :func:`predict_table` returns.

    Attributes:
        frame: one column named after the target (predictions), or one column per class label
            (probabilities, ``proba=True``); one row per input row, in order.
        notes: sentences on what was done to the data (unseen categories, missing values, ignored columns).
        model: the model that predicted.
    """

    frame: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    model: FittedModel | None = None

    @property
    def n_rows(self) -> int:
        return len(self.frame)


def predict_table(model: FittedModel | str | Path, data: Any, *, proba: bool = False,
                  encoding: str | None = None, n_jobs: int | None = -1) -> Predictions:
    """Predict every row of ``data`` (a path or a DataFrame) with ``model`` (fitted, or a saved model's path).

    Args:
        model: a :class:`FittedModel`, or the path of a saved one (:func:`autometa.load_model`).
        data: the rows to predict: a file (CSV/TSV, gzip, Parquet, PMLB folder) or a DataFrame.
        proba: class probabilities (one column per class label) instead of predictions.
        encoding: the text encoding of a CSV/TSV file (default UTF-8).
        n_jobs: threads of the members that have them (LightGBM, forests, k-NN) when the model is read
            from a path here: members are fitted with one thread each (a search runs trials side by side),
            a prediction may use every core (-1, the default). None leaves them as saved; a FittedModel
            passed in is never changed.

    Raises:
        InputError: the model file or the data cannot be used (missing column, wrong kind, ...), or
            ``proba`` was asked of a regression model.
    """
    if not isinstance(model, FittedModel):
        from autometa.models._persist import _load_model

        # LightGBM members predict through LightGBM's C library here: the same predictions, without
        # importing scikit-learn (about a second of `autometa predict`); other models load as usual.
        model = _load_model(model, light=True)
        if n_jobs is not None:
            _set_threads(model, n_jobs)
    if proba and model.task != "classification":
        raise InputError("Class probabilities (--proba) are for classification models; this one is a regression "
                         f"model of '{model.target}'.")
    frame = _read(data, encoding)
    notes: list[str] = []
    frame = _expand_datetimes(frame, model.columns, notes)
    frame = _text_categories(frame, model.columns)
    X = align_columns(frame, model.columns)
    _say_what_changed(frame, X, model, notes)
    # X is aligned already: the model's own steps from here (model.predict would align it again).
    if model.task == "classification":
        probabilities = model._proba(X)
        if proba:
            out = pd.DataFrame(probabilities, columns=[str(c) for c in model.classes])
        else:
            out = pd.DataFrame({str(model.target or "prediction"): model.classes[model.decide(probabilities)]})
    else:
        from autometa.models._ensemble import combine

        out = pd.DataFrame({str(model.target or "prediction"): combine(model, model._member_outputs(X))})
    return Predictions(out, notes, model)


def _set_threads(model: FittedModel, n_jobs: int) -> None:
    """Give ``n_jobs`` to the members' thread-parallel parts (LightGBM, forests, k-NN).

    A column transformer or feature union keeps its own: joblib runs those in worker processes, whose
    start costs seconds, more than a whole prediction of a few thousand rows.
    """
    # Looked up, not imported: a model without them has not imported these modules (and the light
    # LightGBM path imports no scikit-learn at all).
    process_parallel = tuple(cls for cls in (getattr(sys.modules.get("sklearn.compose"), "ColumnTransformer", None),
                                             getattr(sys.modules.get("sklearn.pipeline"), "FeatureUnion", None))
                             if cls is not None)
    for member in model.members:
        params = member.estimator.get_params(deep=True)
        threads = {}
        for key in params:
            if key != "n_jobs" and not key.endswith("__n_jobs"):
                continue
            owner = params[key.rsplit("__", 1)[0]] if "__" in key else member.estimator
            if not isinstance(owner, process_parallel):
                threads[key] = n_jobs
        if threads:
            member.estimator.set_params(**threads)


def _read(data: Any, encoding: str | None) -> pd.DataFrame:
    from autometa.data import read_table

    if isinstance(data, pd.DataFrame):
        frame = data.set_axis([str(c) for c in data.columns], axis=1)  # the caller's frame is never changed
    elif isinstance(data, (str, Path)):
        frame = read_table(data, encoding=encoding, min_columns=1).frame
        frame.columns = [str(c) for c in frame.columns]  # read here: renamed in place, not copied
    else:
        raise InputError(f"The data to predict must be a file path or a DataFrame; got {type(data).__name__}.")
    if len(frame) == 0:
        raise InputError("The data to predict has no rows.")
    return frame


def _expand_datetimes(frame: pd.DataFrame, columns: dict[str, dict[str, Any]], notes: list[str]) -> pd.DataFrame:
    """Training expanded a datetime column ``d`` into ``d_year``, ``d_month``...: do the same here."""
    from autometa.data import DATETIME_PARTS

    added: dict[str, pd.Series] = {}
    for name in columns:
        if name in frame.columns:
            continue
        base, _, part = name.rpartition("_")
        if part not in DATETIME_PARTS or base not in frame.columns:
            continue
        values = frame[base]
        if not pd.api.types.is_datetime64_any_dtype(values):
            with warnings.catch_warnings():  # as in training: pandas warns about mixed formats
                warnings.simplefilter("ignore")
                values = pd.to_datetime(values, errors="coerce", format="mixed")
        if values.notna().sum() < 0.95 * frame[base].notna().sum():
            continue  # not dates: the column stays missing, and the check below names it
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_convert(None)
        added[name] = getattr(values.dt, part).astype(float)
    if not added:
        return frame
    bases = sorted({name.rpartition("_")[0] for name in added})
    notes.append(f"Expanded datetime column{'s' if len(bases) > 1 else ''} {', '.join(map(repr, bases))} into the parts "
                 "the model was fitted on.")
    return pd.concat([frame, pd.DataFrame(added, index=frame.index)], axis=1)


def _text_categories(frame: pd.DataFrame, columns: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """A categorical column whose training levels are text ("1", "2") may be read here as numbers, as floats
    when a cell is empty ("1.0"): whole numbers are written as in training. Numbers that match no level
    are a column of the wrong kind."""
    changed: dict[str, pd.Series] = {}
    for name, spec in columns.items():
        if spec["kind"] != "categorical" or name not in frame.columns:
            continue
        values = frame[name]
        if isinstance(values, pd.DataFrame) or not pd.api.types.is_numeric_dtype(values) or \
                pd.api.types.is_bool_dtype(values):
            continue
        categories = spec["categories"]
        if not all(isinstance(c, str) for c in categories):
            continue
        present = values.dropna()
        if pd.api.types.is_float_dtype(values) and np.all(np.mod(present.to_numpy(), 1) == 0):
            values = values.astype("Int64")
        text = values.astype(str).where(values.notna())
        if len(present) and not text.dropna().isin(categories).any() and not any(_is_number(c) for c in categories):
            raise InputError(f"Column '{name}' was categorical in training (levels {_levels(categories)}), but the "
                             f"data to predict holds numbers there (e.g. {present.iloc[0]!r}); pass the column's "
                             "levels as text.")
        changed[name] = text
    if not changed:
        return frame
    frame = frame.copy(deep=False)
    for name, values in changed.items():
        frame[name] = values
    return frame


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _levels(categories: list[Any], most: int = 4) -> str:
    shown = ", ".join(repr(c) for c in categories[:most])
    return shown + (f", ... {len(categories) - most} more" if len(categories) > most else "")


def _say_what_changed(raw: pd.DataFrame, X: pd.DataFrame, model: FittedModel, notes: list[str]) -> None:
    unseen: dict[str, int] = {}
    for name, spec in model.columns.items():
        if spec["kind"] == "categorical":
            lost = int((raw[name].notna().to_numpy() & X[name].isna().to_numpy()).sum())
            if lost:
                unseen[name] = lost
    if unseen:
        first = next(iter(unseen))
        example = raw[first][raw[first].notna() & X[first].isna()].iloc[0]
        notes.append(f"{sum(unseen.values()):,} cell(s) in {len(unseen)} column(s) hold a category the model never "
                     f"saw (e.g. {example!r} in '{first}'); predicted as missing values.")
    missing = int(X.isna().to_numpy().sum()) - sum(unseen.values())
    if missing:
        notes.append(f"{missing:,} missing value(s) in the model's columns, handled as in training.")
    ignored = [c for c in raw.columns if c not in model.columns]
    others = [c for c in ignored if c != model.target]
    said = []
    if len(others) < len(ignored):
        said.append(f"the target column '{model.target}'")
    if others:
        listed = ", ".join(map(repr, others[:6])) + (f" and {len(others) - 6} more" if len(others) > 6 else "")
        said.append(f"{len(others)} column{'s' if len(others) > 1 else ''} the model was not fitted on ({listed})")
    if said:
        notes.append(f"Ignored {' and '.join(said)}.")
