"""THE evaluation protocol: how a (family, config) is scored on a dataset, everywhere in autometa.

    >>> from autometa.evaluation import DEFAULT_PROTOCOL, evaluate_config, normalize
    >>> result = evaluate_config(dataset, "lightgbm", {"learning_rate": 0.05}, DEFAULT_PROTOCOL)
    >>> result.status, result.scores["balanced_accuracy"]

See :mod:`autometa.evaluation._protocol` for the full statement of the protocol.
"""

from __future__ import annotations

from autometa.evaluation._metrics import (
    CLASSIFICATION_METRICS,
    HIGHER_IS_BETTER,
    METRICS,
    PRIMARY_METRIC,
    REGRESSION_METRICS,
    metrics_for,
)
from autometa.evaluation._protocol import DEFAULT_PROTOCOL, PROTOCOL_VERSION, Protocol

__all__ = [
    "CLASSIFICATION_METRICS",
    "DEFAULT_PROTOCOL",
    "HIGHER_IS_BETTER",
    "METRICS",
    "PRIMARY_METRIC",
    "PROTOCOL_VERSION",
    "Protocol",
    "REGRESSION_METRICS",
    "metrics_for",
]
