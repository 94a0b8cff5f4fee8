"""Plain coercion of the CLI's simple option types, so that a command does not import pydantic.

typer (0.2x) converts every option value through a pydantic ``TypeAdapter`` that it builds on first
use. Importing pydantic and building the adapters cost about 0.2 s of CPU on every ``autometa`` call,
a tenth of ``autometa recommend`` once its own work is done. Every autometa option is a ``str``,
``int`` / ``float`` (perhaps with ``min``/``max``), ``bool``, ``Path`` or ``list[str]``, and the
values a user types convert with Python alone: :func:`install` gives each such parameter of the
built command a converter here. A value it does not recognise (``-n abc``, ``-n 0`` under
``min=1``, an empty path) goes to typer's own converter, so errors read exactly as typer words them;
any other annotation keeps typer's converter. Only the command objects built by
:func:`autometa._cli._app.main` are touched, never typer's classes.

The converters follow typer's internals (``typer._coercion.RuntimeParam``, the parameters'
``type_descriptor`` and ``_runtime_param``); when these are not there (another typer version),
:func:`install` does nothing and typer converts as before.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

_INT = re.compile(r"-?[0-9]+")
_FLOAT = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
#: Which plain converter an annotation gets (anything else keeps typer's own).
_KINDS: dict[Any, str] = {str: "str", int: "int", float: "float", bool: "bool", Path: "path", list[str]: "list_str"}


class _NotPlain(Exception):
    """The value is not one of the plain forms: typer's own converter handles it."""


def install(command: Any) -> int:
    """Give every parameter of ``command`` (a click command or group, recursively) with a plain
    annotation the plain converter; returns how many got it (0 when typer's internals differ)."""
    try:
        from typer._coercion import RuntimeParam, build_runtime_param

        plain_class = _plain_runtime_param_class(RuntimeParam, build_runtime_param)
    except Exception:  # another typer: its internals differ, so typer converts as it always did
        return 0

    def give(param: Any) -> bool:
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is None or getattr(param, "_runtime_param", "missing") is not None:
            return False
        kind = _kind(descriptor)
        if kind is None:
            return False
        param._runtime_param = plain_class(parameter_info=descriptor.parameter_info,
                                           annotation=descriptor.annotation, kind=kind, descriptor=descriptor)
        return True

    count = 0
    for cmd in _commands(command):
        count += sum(give(param) for param in getattr(cmd, "params", ()))
        original = getattr(cmd, "get_help_option", None)
        if callable(original):  # --help is made when a command parses its arguments: give it one then
            def get_help_option(ctx: Any, _original: Any = original) -> Any:
                option = _original(ctx)
                if option is not None:
                    give(option)
                return option

            cmd.get_help_option = get_help_option
    return count


def _commands(command: Any):
    yield command
    for sub in getattr(command, "commands", {}).values():
        yield from _commands(sub)


def _kind(descriptor: Any) -> str | None:
    info = descriptor.parameter_info
    annotation = descriptor.annotation
    try:
        kind = _KINDS.get(annotation)
    except TypeError:  # an unhashable annotation
        return None
    if kind is None or descriptor.file_annotation is not None or getattr(info, "parser", None) is not None:
        return None
    if getattr(info, "click_type", None) is not None or descriptor.choices is not None:
        return None
    if kind in ("int", "float") and getattr(info, "clamp", False):
        return None
    if kind == "path" and getattr(info, "path_type", None) not in (None, Path):
        return None
    return kind


def _plain_runtime_param_class(runtime_param: type, build_runtime_param: Any) -> type:
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class PlainRuntimeParam(runtime_param):  # type: ignore[misc, valid-type]
        """typer's runtime parameter with a plain conversion; typer's own one for anything else."""

        kind: str = "str"
        descriptor: Any = None

        def _coerce_value(self, value: Any, *args: Any, **kwargs: Any) -> Any:
            # typer 0.2x calls this with param= and ctx=; whatever another version passes goes on as is
            param, ctx = kwargs.get("param"), kwargs.get("ctx")
            try:
                if len(args) + len(kwargs) != 2 or param is None or ctx is None:
                    raise _NotPlain
                return _convert(self.kind, value, self.parameter_info, param, ctx)
            except _NotPlain:
                return build_runtime_param(self.descriptor)._coerce_value(value, *args, **kwargs)

    return PlainRuntimeParam


def _convert(kind: str, value: Any, info: Any, param: Any, ctx: Any) -> Any:
    """``value`` converted as typer would convert it, or :class:`_NotPlain`."""
    if kind == "str":
        if isinstance(value, str):
            return str(value)
        raise _NotPlain
    if kind == "list_str":
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return [str(v) for v in value]
        raise _NotPlain
    if kind == "int":
        if type(value) is int:
            number: int | float = value
        elif isinstance(value, str) and _INT.fullmatch(value) and len(value) < 19:
            number = int(value)
        else:
            raise _NotPlain
        return _in_range(number, info)
    if kind == "float":
        if type(value) is float:
            number = value
        elif isinstance(value, str) and _FLOAT.fullmatch(value):
            number = float(value)
        else:
            raise _NotPlain
        if not math.isfinite(number):
            raise _NotPlain
        return _in_range(number, info)
    if kind == "bool":  # typer skips booleans that are booleans already; words ("yes", "1") are typer's
        raise _NotPlain
    if kind == "path":
        if type(value) is not str or not value or "\x00" in value:
            raise _NotPlain
        from typer._param_types import coerce_cli_path

        try:
            return coerce_cli_path(Path(value), info, path_type=Path, param=param, ctx=ctx)
        except Exception:  # a path check failed (exists=..., a directory, ...): typer's own words
            raise _NotPlain from None
    raise _NotPlain


def _in_range(number: int | float, info: Any) -> int | float:
    low, high = getattr(info, "min", None), getattr(info, "max", None)
    if (low is not None and number < low) or (high is not None and number > high):
        raise _NotPlain  # typer says what the bound is
    return number
