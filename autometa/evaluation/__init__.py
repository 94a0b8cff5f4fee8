"""THE evaluation protocol: how a (family, config) is scored on a dataset, everywhere in autometa.

    >>> from autometa.evaluation import DEFAULT_PROTOCOL, evaluate_config, normalize
    >>> result = evaluate_config(dataset, "lightgbm", {"learning_rate": 0.05}, DEFAULT_PROTOCOL)
    >>> result.status, result.scores["balanced_accuracy"]

See :mod:`autometa.evaluation._protocol` for the full statement of the protocol.
"""

from __future__ import annotations

from autometa._lazy import lazy_exports
from autometa.evaluation._metrics import (
    CLASSIFICATION_METRICS,
    HIGHER_IS_BETTER,
    IMPORTED_METRICS,
    METRIC_TASK,
    METRICS,
    PRIMARY_METRIC,
    REGRESSION_METRICS,
    mean_scores,
    metric_score,
    metrics_for,
    score_classification,
    score_regression,
)
from autometa.evaluation._protocol import (
    DEFAULT_PROTOCOL,
    PROTOCOL_VERSION,
    Protocol,
    fold_indices,
    subsample_indices,
)
from autometa.evaluation._row import (
    PARAM_PREFIX,
    STATUS_FAILED,
    STATUS_MEMORY,
    STATUS_OK,
    STATUS_TIMEOUT,
    STATUSES,
    evaluation_row,
)

# The knowledge base's schema imports the metric names, statuses and row format from here, so those load
# eagerly (numpy only); the parts that need scikit-learn load on first use.
_LAZY: dict[str, str] = {
    "EvaluationResult": "autometa.evaluation._run",
    "PreparedData": "autometa.evaluation._run",
    "prepare_data": "autometa.evaluation._run",
    "run_cv": "autometa.evaluation._run",
    "failed_result": "autometa.evaluation._run",
    "full_proba": "autometa.evaluation._run",
    "evaluate_config": "autometa.evaluation._evaluate",
    "WorkerPool": "autometa.evaluation._pool",
    "SLACK_SECONDS": "autometa.evaluation._pool",
    "Job": "autometa.evaluation._pool",
    "normalize": "autometa.evaluation._normalize",
}

__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)

__all__ = [
    *_LAZY,
    "CLASSIFICATION_METRICS",
    "DEFAULT_PROTOCOL",
    "HIGHER_IS_BETTER",
    "IMPORTED_METRICS",
    "METRICS",
    "METRIC_TASK",
    "PARAM_PREFIX",
    "PRIMARY_METRIC",
    "PROTOCOL_VERSION",
    "Protocol",
    "REGRESSION_METRICS",
    "STATUSES",
    "STATUS_FAILED",
    "STATUS_MEMORY",
    "STATUS_OK",
    "STATUS_TIMEOUT",
    "evaluation_row",
    "fold_indices",
    "mean_scores",
    "metric_score",
    "metrics_for",
    "score_classification",
    "score_regression",
    "subsample_indices",
]
