"""Fitted models you can ship: single pipelines and fused ensembles, with a model card.

    >>> from autometa.models import Candidate, fit_model
    >>> model = fit_model([Candidate("lightgbm", {})], dataset, metric="balanced_accuracy")
    >>> model.predict(rows), model.card

:func:`autometa.refit` builds these from a study; this package fits them (:func:`fit_model`), fuses
members from their out-of-fold predictions (:mod:`autometa.models._ensemble`), holds the model card,
saves and loads them as one file that runs no code when read (:func:`save_model`, :func:`load_model`,
:mod:`autometa.models._persist`) and predicts a table read from disk (:func:`predict_table`, behind
``autometa predict``).
"""

from __future__ import annotations

from autometa._lazy import lazy_exports

_LAZY: dict[str, str] = {
    "Candidate": "autometa.models._build",
    "class_codes": "autometa.models._build",
    "fit_model": "autometa.models._build",
    "package_versions": "autometa.models._build",
    "FittedModel": "autometa.models._fitted",
    "Member": "autometa.models._fitted",
    "KINDS": "autometa.models._fitted",
    "align_columns": "autometa.models._fitted",
    "fuse": "autometa.models._ensemble",
    "MAX_CANDIDATES": "autometa.models._ensemble",
    "ensemble_selection": "autometa.models._ensemble",
    "save_model": "autometa.models._persist",
    "load_model": "autometa.models._persist",
    "TRUSTED_TYPES": "autometa.models._persist_checks",
    "predict_table": "autometa.models._predict",
    "Predictions": "autometa.models._predict",
}

__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)

__all__ = sorted(_LAZY)
