"""The knowledge-base table contract (see notes/KB_SCHEMA.md): names, dtypes and validation.

The builder, the importers and the meta-model use these constants, never string literals of their own.

Table ``datasets`` (one row per dataset)::

    dataset_id source name openml_id task n_rows n_features n_classes row_cap protocol_version mf.<Name>...

Table ``evaluations`` (one row per (dataset, family, config))::

    dataset_id family config_id config param.<name>... balanced_accuracy roc_auc log_loss r2 rmse accuracy
    fold_scores fit_seconds predict_seconds status error n_rows_used source protocol_version

``accuracy`` is optional: only imported histories report it (LCDB); our protocol does not compute it, so
its rows hold NaN there, and a table written before the column existed reads back with NaN.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from autometa.errors import ArtifactError
from autometa.evaluation import (
    CLASSIFICATION_METRICS,
    HIGHER_IS_BETTER,
    IMPORTED_METRICS,
    METRIC_TASK,
    METRICS,
    PARAM_PREFIX,
    PRIMARY_METRIC,
    REGRESSION_METRICS,
    STATUS_OK,
    STATUSES,
    evaluation_row,
)

#: Version of the on-disk layout (datasets.parquet, evaluations.parquet, kb.json). Bump on any change
#: that an older reader would misread. (The optional ``accuracy`` column did not need one: tables
#: without it read back with NaN, and an older reader refuses a table with it rather than misread it.)
FORMAT_VERSION = 1
#: The ``format`` field of kb.json: anything else is not an autometa knowledge base.
FORMAT_NAME = "autometa-kb"
DATASETS_FILE = "datasets.parquet"
EVALUATIONS_FILE = "evaluations.parquet"
META_FILE = "kb.json"
PARQUET_COMPRESSION = "zstd"

#: The model families of autometa.spaces (the neural "mlp" joins later).
FAMILIES: tuple[str, ...] = (
    "lightgbm",
    "random_forest",
    "extra_trees",
    "hist_gradient_boosting",
    "linear",
    "svm",
    "knn",
    "mlp",
)
TASKS: tuple[str, ...] = ("classification", "regression")
SOURCES_BUILT: tuple[str, ...] = ("pmlb", "keel", "sklearn", "csv")  # sources of our own builder
DEFAULT_CONFIG_ID = "default"

MF_PREFIX = "mf."

#: Fixed columns of ``datasets`` and their pandas dtypes (meta-feature columns ``mf.*`` are float64).
DATASET_COLUMNS: dict[str, str] = {
    "dataset_id": "string",
    "source": "string",
    "name": "string",
    "openml_id": "Int64",
    "task": "string",
    "n_rows": "int64",
    "n_features": "int64",
    "n_classes": "Int64",
    "row_cap": "int64",
    "protocol_version": "int64",
}
#: Fixed columns of ``evaluations`` and their pandas dtypes (``param.*`` columns are float64 when every
#: value is a number, else string).
EVALUATION_COLUMNS: dict[str, str] = {
    "dataset_id": "string",
    "family": "string",
    "config_id": "string",
    "config": "string",
    **{metric: "float64" for metric in METRICS},
    "fold_scores": "string",
    "fit_seconds": "float64",
    "predict_seconds": "float64",
    "status": "string",
    "error": "string",
    "n_rows_used": "int64",
    "source": "string",
    "protocol_version": "int64",
}
EVALUATION_KEY: tuple[str, ...] = ("dataset_id", "family", "config_id")

__all__ = [
    "CLASSIFICATION_METRICS",
    "DATASET_COLUMNS",
    "DEFAULT_CONFIG_ID",
    "EVALUATION_COLUMNS",
    "EVALUATION_KEY",
    "FAMILIES",
    "FORMAT_VERSION",
    "HIGHER_IS_BETTER",
    "IMPORTED_METRICS",
    "METRICS",
    "METRIC_TASK",
    "MF_PREFIX",
    "PARAM_PREFIX",
    "PRIMARY_METRIC",
    "REGRESSION_METRICS",
    "STATUSES",
    "STATUS_OK",
    "TASKS",
    "dataset_id",
    "empty_datasets",
    "empty_evaluations",
    "evaluation_row",
    "validate_datasets",
    "validate_evaluations",
]


def dataset_id(source: str, name: str) -> str:
    """The KB id of a dataset: ``"<source>/<name>"`` (e.g. ``"pmlb/iris"``)."""
    return f"{source}/{name}"


def empty_datasets() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in DATASET_COLUMNS.items()})


def empty_evaluations() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in EVALUATION_COLUMNS.items()})


def validate_datasets(frame: pd.DataFrame, *, where: str = "datasets table") -> pd.DataFrame:
    """Check ``frame`` against the ``datasets`` contract and return it with canonical dtypes.

    Raises:
        ArtifactError: a required column is missing, a value is out of its domain, or ids repeat.
    """
    frame = _with_columns(frame, DATASET_COLUMNS, required=("dataset_id", "source", "name", "task"), where=where)
    if frame["dataset_id"].isna().any():
        raise ArtifactError(f"The {where} has rows without a dataset_id.")
    duplicated = frame["dataset_id"][frame["dataset_id"].duplicated()]
    if len(duplicated):
        raise ArtifactError(f"The {where} lists dataset '{duplicated.iloc[0]}' twice; dataset_id must be unique.")
    _check_domain(frame["task"], TASKS, "task", where)
    extra = [c for c in frame.columns if c not in DATASET_COLUMNS]
    bad = [c for c in extra if not c.startswith(MF_PREFIX)]
    if bad:
        raise ArtifactError(f"The {where} has column '{bad[0]}'; extra columns must be meta-features named 'mf.<Name>'.")
    for column in extra:
        if frame[column].dtype != np.float64:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame[list(DATASET_COLUMNS) + sorted(extra)].reset_index(drop=True)


def validate_evaluations(frame: pd.DataFrame, *, where: str = "evaluations table") -> pd.DataFrame:
    """Check ``frame`` against the ``evaluations`` contract and return it with canonical dtypes.

    Missing metric columns are added as NaN; ``param.*`` columns become float64 when all their values
    are numbers, else strings. Raises :class:`ArtifactError` on a broken contract.
    """
    frame = _with_columns(
        frame, EVALUATION_COLUMNS, required=("dataset_id", "family", "config_id", "status"), where=where
    )
    frame["error"] = frame["error"].fillna("")
    for text_column in ("config", "fold_scores"):
        frame[text_column] = frame[text_column].fillna("{}")
    _check_domain(frame["status"], STATUSES, "status", where)
    keys = frame[list(EVALUATION_KEY)]
    duplicated = keys.duplicated()
    if duplicated.any():
        first = keys[duplicated].iloc[0].tolist()
        raise ArtifactError(f"The {where} has two rows for (dataset, family, config) = {tuple(first)}.")
    extra = [c for c in frame.columns if c not in EVALUATION_COLUMNS]
    bad = [c for c in extra if not c.startswith(PARAM_PREFIX)]
    if bad:
        raise ArtifactError(f"The {where} has column '{bad[0]}'; extra columns must be params named 'param.<name>'.")
    for column in extra:
        frame[column] = _param_column(frame[column])
    return frame[list(EVALUATION_COLUMNS) + sorted(extra)].reset_index(drop=True)


def _with_columns(frame: pd.DataFrame, columns: dict[str, str], *, required: Iterable[str], where: str) -> pd.DataFrame:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ArtifactError(f"The {where} lacks the required column '{missing[0]}'.")
    frame = frame.copy()
    for column, dtype in columns.items():
        if column not in frame.columns:
            frame[column] = pd.Series(pd.NA if dtype in ("string", "Int64") else np.nan, index=frame.index)
        try:
            if dtype == "int64":
                frame[column] = pd.to_numeric(frame[column], errors="coerce").fillna(0).astype("int64")
            elif dtype == "Int64":
                frame[column] = pd.to_numeric(frame[column], errors="coerce").round().astype("Int64")
            elif dtype == "float64":
                frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
            else:
                frame[column] = frame[column].astype("string")
        except (TypeError, ValueError) as exc:
            raise ArtifactError(f"Column '{column}' of the {where} cannot be read as {dtype} ({exc}).") from None
    return frame


def _check_domain(values: pd.Series, allowed: tuple[str, ...], column: str, where: str) -> None:
    bad = values[~values.isin(allowed)]
    if len(bad):
        raise ArtifactError(
            f"Column '{column}' of the {where} has value '{bad.iloc[0]}'; allowed: {', '.join(allowed)}."
        )


def _param_column(values: pd.Series) -> pd.Series:
    # Fast paths for columns read back from Parquet, which already have the canonical dtypes.
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return pd.Series(values.to_numpy(dtype="float64", na_value=np.nan), index=values.index, dtype="float64")
    if isinstance(values.dtype, pd.StringDtype):
        return values.astype("string")
    present = values.dropna()
    # Booleans count as numbers (0/1): the meta-model reads params as numeric features.
    if all(isinstance(v, (int, float, bool, np.number, np.bool_)) for v in present):
        return pd.Series([np.nan if _missing(v) else float(v) for v in values], index=values.index, dtype="float64")
    return pd.Series([pd.NA if _missing(v) else str(v) for v in values], index=values.index, dtype="string")


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, (float, np.floating)) and math.isnan(value))
