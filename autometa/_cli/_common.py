"""Output helpers shared by the CLI commands: JSON for scripts, rich tables for people."""

from __future__ import annotations

import json
import math
import sys
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
