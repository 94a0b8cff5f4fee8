"""One evaluation as one row of a history table: statuses, the ``param.`` columns, the row itself.

The knowledge base's ``evaluations`` table (:mod:`autometa.kb`) is made of these rows, and so are the
rows of every importer; the protocol's results turn into them with
:meth:`autometa.evaluation.EvaluationResult.to_row`. They live here, below the knowledge base, so that
the protocol needs nothing of the knowledge base.
"""

from __future__ import annotations

import json
import math
from typing import Any

from autometa.evaluation._metrics import METRICS
from autometa.io import json_default

STATUS_OK, STATUS_FAILED, STATUS_TIMEOUT, STATUS_MEMORY = "ok", "failed", "timeout", "memory"
#: Every status an evaluation can end with; only ``ok`` rows carry scores.
STATUSES: tuple[str, ...] = (STATUS_OK, STATUS_FAILED, STATUS_TIMEOUT, STATUS_MEMORY)
#: A config's parameters are flattened into columns named ``param.<name>``.
PARAM_PREFIX = "param."


def evaluation_row(
    *,
    dataset_id: str,
    family: str,
    config_id: str,
    config: dict[str, Any],
    scores: dict[str, float] | None = None,
    fold_scores: dict[str, list[float]] | None = None,
    fit_seconds: float = math.nan,
    predict_seconds: float = math.nan,
    status: str = STATUS_OK,
    error: str = "",
    n_rows_used: int = 0,
    source: str = "",
    protocol_version: int = 0,
) -> dict[str, Any]:
    """One ``evaluations`` row as a dict (params flattened into ``param.<name>``), for importers too."""
    row: dict[str, Any] = {
        "dataset_id": dataset_id,
        "family": family,
        "config_id": config_id,
        "config": json.dumps(config, sort_keys=True, default=json_default),
    }
    for metric in METRICS:
        value = (scores or {}).get(metric)
        row[metric] = math.nan if value is None else float(value)
    row.update(
        fold_scores=json.dumps(fold_scores or {}, sort_keys=True, default=json_default),
        fit_seconds=float(fit_seconds),
        predict_seconds=float(predict_seconds),
        status=status,
        error=error or "",
        n_rows_used=int(n_rows_used),
        source=source,
        protocol_version=int(protocol_version),
    )
    for name, value in config.items():
        row[PARAM_PREFIX + name] = value
    return row
