"""The evaluation worker process: ``python -m autometa.evaluation._worker``.

It imports the model libraries once, says "ready", then loops: read a request from stdin, run the
cross-validation under an address-space limit, write the result. Requests and results are pickled
objects on the process's own pipes (never read from disk). Anything a library prints goes to stderr,
so the result channel stays clean. The process ends when its stdin closes (its parent went away).
"""

from __future__ import annotations

import os
import pickle
import sys
import warnings


def _set_memory_limit(limit_mb: int | None) -> None:
    """Limit this process's address space to ``limit_mb`` MiB (``None``: back to the hard limit)."""
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = hard if limit_mb is None else limit_mb * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def main() -> None:
    # The result channel is a private copy of stdout; fd 1 then points at stderr so that C libraries
    # printing to stdout cannot corrupt it.
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    requests = sys.stdin.buffer
    warnings.simplefilter("ignore")  # model warnings (convergence, ...) are not results

    import lightgbm  # noqa: F401  (imported once, before the first time limit starts)
    import sklearn.ensemble  # noqa: F401

    from autometa.evaluation._protocol import Protocol
    from autometa.evaluation._run import STATUS_MEMORY, failed_result, run_cv

    pickle.dump(("ready", os.getpid()), channel)
    channel.flush()
    cache: dict[str, object] = {}
    while True:
        try:
            request = pickle.load(requests)
        except EOFError:
            return
        kind, key, data, family, config, protocol_dict, keep_predictions = request
        if kind != "eval":
            continue
        if data is not None:
            cache.clear()  # one dataset at a time: the parent sends the data again when it changes
            cache[key] = data
        protocol = Protocol.from_dict(protocol_dict)
        try:
            _set_memory_limit(protocol.memory_limit_mb)
            result = run_cv(cache[key], family, config, protocol, keep_predictions=keep_predictions)
        except MemoryError:  # raised outside the model code (e.g. while importing it)
            result = failed_result(family, config, STATUS_MEMORY, "MemoryError: out of memory under the "
                                   f"protocol's limit of {protocol.memory_limit_mb} MiB", cache[key], protocol)
        finally:
            _set_memory_limit(None)  # the result must be written whatever the model left behind
        pickle.dump(("result", result.to_dict()), channel)
        channel.flush()


if __name__ == "__main__":
    main()
