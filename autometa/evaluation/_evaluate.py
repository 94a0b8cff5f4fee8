"""``evaluate_config``: one (family, config) on one dataset under the protocol, with its limits."""

from __future__ import annotations

import atexit
from typing import Any

from autometa.evaluation._pool import Job, WorkerPool
from autometa.evaluation._protocol import DEFAULT_PROTOCOL, Protocol
from autometa.evaluation._run import EvaluationResult, PreparedData, prepare_data, run_cv

_shared_pool: WorkerPool | None = None


def _pool() -> WorkerPool:
    # One long-lived worker serves every evaluate_config() call of this process.
    global _shared_pool
    if _shared_pool is None:
        _shared_pool = WorkerPool(1)
        atexit.register(_shared_pool.close)
    return _shared_pool


def evaluate_config(
    dataset: Any,
    family: str,
    config: dict[str, Any] | None = None,
    protocol: Protocol = DEFAULT_PROTOCOL,
    *,
    pool: WorkerPool | None = None,
    isolate: bool = True,
    keep_predictions: bool = False,
) -> EvaluationResult:
    """Score ``family`` with ``config`` on ``dataset`` under ``protocol``.

    Args:
        dataset: a :class:`~autometa.data.Dataset` (or :class:`PreparedData`).
        family: a family name of :mod:`autometa.spaces`.
        config: its hyperparameters (missing ones take the family default).
        protocol: the evaluation protocol (folds, seed, row cap, time and memory limits).
        pool: the worker pool to run in (default: one shared long-lived worker).
        isolate: run in a worker under the time and memory limits (True), or in this process without
            limits (False; for debugging).
        keep_predictions: also return the out-of-fold predictions (``result.predictions``: class
            probabilities or regression predictions, one row per row of the prepared data).

    Returns:
        An :class:`EvaluationResult`. A model error, a timeout or running out of memory is returned as
        a result with that status and the error text; it is never raised. An unknown family or an
        invalid config is a failed result as well.
    """
    from autometa.spaces import get_family

    spec = get_family(family)  # an unknown family is the caller's error: InputError
    config = dict(config or {})
    data = dataset if isinstance(dataset, PreparedData) else prepare_data(dataset, protocol)
    if not isolate:
        return run_cv(data, spec.name, config, protocol, keep_predictions=keep_predictions)
    return (pool or _pool()).evaluate(Job(data=data, family=spec.name, config=config, protocol=protocol,
                                           keep_predictions=keep_predictions))
