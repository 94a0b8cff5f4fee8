"""The CLI's plain option conversion (autometa._cli._coercion) gives what typer's pydantic one gives.

Every parameter of every ``autometa`` command is converted both ways for a range of typed values,
good and bad: the same value of the same type, or the same error in the same words.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer._click import Context
from typer._coercion import build_runtime_param

from autometa._cli._app import app
from autometa._cli._coercion import _commands, install

SAMPLES = {
    "str": ["abc", "", " x ", "ü", "10", None],
    "int": ["10", "-3", "0", "007", "abc", "1.5", " 5", "+5", "99999999999999999999", "", 10, 0, None],
    "float": ["1.5", "-2", ".5", "1e3", "1E-2", "5.", "inf", "nan", "abc", "1_0", "", 3.0, None],
    "list_str": [("a", "b"), ["x"], ("a,b",), None],
    "path": ["/tmp", "rel/file.csv", "", ".", "~/x.csv", Path("x"), None],
    "bool": ["yes", "true", "0", "", None],
}


def _outcome(runtime, value, param, ctx):
    try:
        result = runtime.coerce(value, param=param, ctx=ctx)
    except Exception as exc:  # compared by type and words
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        return ("error", type(exc).__name__, message)
    return ("value", type(result).__name__, repr(result))  # repr: nan equals nan


def _plain_parameters():
    command = typer.main.get_command(app)
    assert install(command) > 50  # typer's internals are as expected: the plain conversion is in place
    for cmd in _commands(command):
        for param in cmd.params:
            runtime = getattr(param, "_runtime_param", None)
            if runtime is not None and type(runtime).__name__ == "PlainRuntimeParam":
                yield cmd, param, runtime


def test_every_plain_parameter_converts_as_typer_does():
    checked = set()
    for cmd, param, runtime in _plain_parameters():
        ctx = Context(cmd)
        typer_runtime = build_runtime_param(param.type_descriptor)
        for value in SAMPLES[runtime.kind]:
            if (param.multiple or param.nargs == -1) and isinstance(value, str):
                continue
            assert _outcome(runtime, value, param, ctx) == _outcome(typer_runtime, value, param, ctx), (
                cmd.name, param.name, value)
        checked.add(runtime.kind)
    assert checked == set(SAMPLES)


def test_min_bound_errors_are_typers():
    for cmd, param, runtime in _plain_parameters():
        if cmd.name == "recommend" and param.name == "n":
            ctx = Context(cmd)
            plain, typer_runtime = _outcome(runtime, "0", param, ctx), _outcome(
                build_runtime_param(param.type_descriptor), "0", param, ctx)
            assert plain == typer_runtime and plain[0] == "error"
            assert _outcome(runtime, "3", param, ctx) == ("value", "int", "3")
            return
    raise AssertionError("recommend -n not found")


def test_a_cli_call_does_not_import_pydantic(tmp_path):
    code = ("import sys, cli\n"
            "code = cli.main(['metafeatures', '--help'])\n"
            "assert 'pydantic' not in sys.modules, 'pydantic was imported'\n"
            "sys.exit(code)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize("argv, message", [(["recommend", "x.csv", "-n", "zero"], "valid integer"),
                                           (["recommend", "x.csv", "-n", "0"], "greater than or equal to 1")])
def test_bad_values_still_get_typers_message(argv, message, capsys):
    from autometa._cli._app import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err
