"""A fitted model you can ship: one or more fitted pipelines, how they combine, and a model card.

    >>> model = autometa.refit(study, "data.csv", ensemble="selection")
    >>> model.predict(new_rows), model.card["members"]

A :class:`FittedModel` holds ``members`` (each a fitted scikit-learn pipeline of one family and config,
trained on class codes ``0..K-1`` or on the regression target) and a ``combiner`` that turns the
members' predictions into one (:mod:`autometa.models._ensemble`). Its ``card`` (a JSON-able dict) says
what it is: task, target, metric, the training columns and their kinds, class labels, members and
their weights, the cross-validated score and on how many rows it was measured, package versions. The
card is what :func:`autometa.models.save_model` writes beside the members, and what a loaded model
checks new data against.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from autometa.errors import InputError

CARD_FORMAT = "autometa-model-card"
CARD_VERSION = 1
#: What a model combines its members with: one member, or one of the fusion methods.
KINDS = ("single", "selection", "stacking", "mdt")


@dataclass
class Member:
    """One fitted pipeline of a model.

    Attributes:
        family, config: what was fitted (a family of :mod:`autometa.spaces` and its config).
        estimator: the fitted scikit-learn pipeline (preprocessing + model).
        trial: the study trial it came from (None when fitted from a config).
        cv_score: its cross-validated score in the study (None when unknown).
    """

    family: str
    config: dict[str, Any]
    estimator: Any
    trial: int | None = None
    cv_score: float | None = None

    def describe(self) -> dict[str, Any]:
        return {"family": self.family, "config": self.config, "trial": self.trial, "cv_score": self.cv_score}


@dataclass
class FittedModel:
    """A fitted single model or ensemble, with its model card.

    Attributes:
        members: the fitted pipelines.
        card: the model card (see the module docstring); ``card["kind"]`` is one of :data:`KINDS`.
        combiner: the fitted fusion of the members (see :mod:`autometa.models._ensemble`).
    """

    members: list[Member]
    card: dict[str, Any]
    combiner: Any = None
    _classes: np.ndarray | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ what it is
    @property
    def kind(self) -> str:
        return str(self.card["kind"])

    @property
    def task(self) -> str:
        return str(self.card["task"])

    @property
    def target(self) -> str | None:
        return self.card.get("target")

    @property
    def classes(self) -> np.ndarray | None:
        """Class labels in code order (classification), ``None`` for regression."""
        if self.task != "classification":
            return None
        if self._classes is None:
            self._classes = np.asarray(self.card["classes"], dtype=object)
        return self._classes

    @property
    def family(self) -> str:
        """The family of a single model; ``"ensemble"`` for a fused one."""
        return self.members[0].family if self.kind == "single" else "ensemble"

    @property
    def config(self) -> dict[str, Any]:
        """The config of a single model; the members' for an ensemble."""
        return self.members[0].config if self.kind == "single" else {"members": [m.describe() for m in self.members]}

    @property
    def estimator(self) -> Any:
        """The fitted pipeline of a single model."""
        if self.kind != "single":
            raise AttributeError("an ensemble has one estimator per member: model.members[i].estimator")
        return self.members[0].estimator

    @property
    def columns(self) -> dict[str, dict[str, Any]]:
        """Training column -> ``{"kind": "numeric"|"categorical", "categories": [...]}``."""
        return self.card["columns"]

    # ------------------------------------------------------------------ predictions
    def predict(self, X: Any) -> np.ndarray:
        """Predictions for a table with the training columns (extra columns are ignored)."""
        if self.task == "classification":
            return self.classes[self.decide(self._proba(align_columns(X, self.columns)))]
        from autometa.models._ensemble import combine

        return combine(self, self._member_outputs(align_columns(X, self.columns)))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of :attr:`classes` (classification only)."""
        if self.task != "classification":
            raise InputError("predict_proba is for classification models; this one is a regression model.")
        return self._proba(align_columns(X, self.columns))

    def decide(self, proba: np.ndarray) -> np.ndarray:
        """Class codes from the model's probabilities under its decision rule (``card["decision"]``: the
        most probable class, or class weights learned for a balanced-accuracy study; see
        :mod:`autometa.models._decision`)."""
        from autometa.models._decision import decide

        return decide(proba, self.card.get("decision"))

    def _proba(self, X: pd.DataFrame) -> np.ndarray:
        from autometa.models._ensemble import combine

        return combine(self, self._member_outputs(X))

    def _member_outputs(self, X: pd.DataFrame) -> list[np.ndarray]:
        if self.task == "classification":
            from autometa.evaluation import full_proba

            return [full_proba(m.estimator, X, len(self.classes)) for m in self.members]
        return [np.asarray(m.estimator.predict(X), dtype=float) for m in self.members]

    def __repr__(self) -> str:
        what = self.family if self.kind == "single" else f"{self.kind} of {len(self.members)}"
        return f"FittedModel({what}, task={self.task!r}, target={self.target!r})"


# ---------------------------------------------------------------------- the training columns
def describe_columns(X: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """The card's record of the training columns: kind, and the levels of a categorical one."""
    out: dict[str, dict[str, Any]] = {}
    for name in X.columns:
        dtype = X[name].dtype
        if isinstance(dtype, pd.CategoricalDtype):
            out[str(name)] = {"kind": "categorical", "categories": [_plain(c) for c in dtype.categories]}
        else:
            out[str(name)] = {"kind": "numeric"}
    return out


def align_columns(X: Any, columns: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """``X`` as the training table: the card's columns in order, numeric or categorical as in training.

    Extra columns are ignored; an unseen category becomes missing, which every family handles as in
    training. A missing column, a duplicated one or text in a numeric column is an InputError.
    """
    names = list(columns)
    if not isinstance(X, pd.DataFrame):
        try:
            values = np.asarray(X, dtype=object)
        except Exception:
            values = None
        if values is None or values.ndim != 2:
            raise InputError(f"The data to predict must be a table (DataFrame or 2-D array) with the "
                             f"{len(names)} columns the model was fitted on; got {type(X).__name__}.")
        if values.shape[1] != len(names):
            raise InputError(f"The data to predict has {values.shape[1]} columns, but the model was fitted on "
                             f"{len(names)} ({_listed(names)}); pass those columns, in that order.")
        X = pd.DataFrame(values, columns=names)
    # No copies on the way: the DataFrame built at the end copies every column into new memory, so the
    # result never shares memory with X (a copy here would cost a pass over a big table for nothing).
    X = X.set_axis([str(c) for c in X.columns], axis=1, copy=False)
    missing = [c for c in names if c not in X.columns]
    if missing:
        raise InputError(f"The data to predict lacks column '{missing[0]}' that the model was fitted on"
                         + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "") + ".")
    out = {}
    for name, spec in columns.items():
        values = X[name]
        if isinstance(values, pd.DataFrame):
            raise InputError(f"The data to predict has two columns named '{name}'; rename one.")
        if spec["kind"] == "categorical":
            categories = spec["categories"]
            text = values.astype(str).where(values.notna())
            out[name] = pd.Categorical(text if _all_text(categories) else values, categories=categories)
        else:
            numbers = pd.to_numeric(values, errors="coerce")
            bad = numbers.isna() & values.notna()
            if bad.any():
                raise InputError(f"Column '{name}' was numeric in training, but the data to predict holds "
                                 f"{values[bad].iloc[0]!r} there; pass numbers (or leave it empty).")
            out[name] = numbers.astype(float, copy=False)
    return pd.DataFrame(out, index=X.index, copy=True)


def _all_text(categories: list[Any]) -> bool:
    return all(isinstance(c, str) for c in categories)


def _plain(value: Any) -> Any:
    """A JSON-able Python value (numpy scalars become Python numbers)."""
    return value.item() if isinstance(value, np.generic) else value


def _listed(names: list[Any], most: int = 6) -> str:
    shown = ", ".join(map(str, names[:most]))
    return shown + (f", ... {len(names) - most} more" if len(names) > most else "")


def plain(value: Any) -> Any:
    """``value`` with numpy scalars and arrays turned into JSON-able Python values (for the card)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    return _plain(value)
