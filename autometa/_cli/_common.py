"""Output shared by the CLI commands: JSON for scripts, rich tables for people, the library's log on stderr.

The library never prints: it reports progress and decisions through ``logging`` (one logger per module,
under ``autometa``). :func:`library_log` routes those records to stderr for the duration of a command,
so ``--json`` output on stdout stays clean.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import sys
from collections.abc import Iterator
from typing import Any


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _jsonable(value.item())
    return value


def print_json(payload: Any) -> None:
    """Write ``payload`` as JSON on stdout; NaN and inf become ``null`` so any JSON parser reads it."""
    sys.stdout.write(json.dumps(_jsonable(payload), indent=2) + "\n")


def stderr_console():
    """A rich console on stderr, for notes and progress that must not pollute ``--json`` output."""
    from rich.console import Console

    return Console(stderr=True)


def stdout_console():
    from rich.console import Console

    return Console()


class _StderrHandler(logging.Handler):
    """Log records as plain lines on the current stderr (looked up per record: tests swap sys.stderr)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stderr_console().print(self.format(record), highlight=False, markup=False, soft_wrap=True)
        except Exception:  # a broken stderr must not break the command
            self.handleError(record)


@contextlib.contextmanager
def library_log() -> Iterator[None]:
    """Show autometa's log records (progress and decisions, INFO and up) on stderr while a command runs."""
    logger = logging.getLogger("autometa")
    handler, level = _StderrHandler(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def verbose_log() -> None:
    """Within :func:`library_log`, show every step too (DEBUG), e.g. one line per finished evaluation."""
    logging.getLogger("autometa").setLevel(logging.DEBUG)
