"""The ``autometa`` command line (console script ``autometa._cli._app:main``).

    autometa metafeatures data.csv --target label     # named meta-features of a dataset
    autometa kb build|info|import-*                    # the knowledge base of task histories
    autometa recommend data.csv                        # ranked models + configs for a dataset
    autometa tune data.csv --n-trials 50               # warm-started Optuna search
    autometa predict model.autometa new.csv            # predictions of a saved model
    autometa benchmark warmstart                       # warm vs cold-start search
    autometa meta-optimizer train|eval                 # the learned LSTM optimizer

Bad input (missing file, unknown column, one class, ...) prints one sentence and exits with code 2.
Heavy libraries are imported inside commands, so ``autometa --help`` starts in well under a second.
"""

from __future__ import annotations

import importlib
import sys

import typer

app = typer.Typer(
    name="autometa",
    help="Meta-learning AutoML for tabular data: characterize a dataset, recommend models and "
    "hyperparameters from the histories of many earlier datasets, and warm-start Optuna searches.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)



def _version(value: bool) -> None:
    if value:
        from autometa import __version__

        typer.echo(f"autometa {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """Meta-learning AutoML for tabular data."""


# Each entry is a module under autometa._cli with a ``register(app)`` function.
_COMMAND_MODULES = (
    "metafeatures",
    "kb",
    "meta_optimizer",
    "recommend",
    "tune",
    "predict",
    "benchmark",
)

for _name in _COMMAND_MODULES:
    importlib.import_module(f"autometa._cli.{_name}").register(app)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: run the CLI and map errors to exit codes.

    This is the one place where errors become exit codes: user errors (:class:`autometa.errors.InputError`,
    a stale artifact, bad options) print one line on stderr and return 2, never a traceback.
    """
    from autometa._cli._coercion import install
    from autometa._cli._common import library_log
    from autometa.errors import AutometaError

    command = typer.main.get_command(app)
    install(command)  # plain option conversion: no pydantic import (about 0.2 s of CPU per call)
    try:
        with library_log():
            result = command.main(args=argv, prog_name="autometa", standalone_mode=False)
    except AutometaError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except ModuleNotFoundError as exc:  # an optional dependency (torch, openml, ...) that is not installed
        from autometa._lazy import missing_extra_message

        message = missing_extra_message(exc, "This command")
        if message is None:
            raise
        sys.stderr.write(f"error: {message}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        return 130
    except Exception as exc:
        code = _framework_exit_code(exc)
        if code is None:
            raise
        return code
    return result if isinstance(result, int) else 0


def _framework_exit_code(exc: Exception) -> int | None:
    """Map typer/click's control-flow exceptions to an exit code (printing their one line); None if foreign.

    typer >= 0.20 runs on a vendored click (``typer._click``), older typer on the click package, so the
    classes are looked up by module rather than imported from one place.
    """
    for module in _click_exception_modules():
        if isinstance(exc, getattr(module, "Exit", ())):
            return int(getattr(exc, "exit_code", 0) or 0)
        if isinstance(exc, getattr(module, "Abort", ())):
            sys.stderr.write("Aborted.\n")
            return 130
        if type(exc).__name__ == "NoArgsIsHelpError":
            return 0  # the help text has been shown: asking for it is not an error
        if isinstance(exc, getattr(module, "ClickException", ())):
            hint = ""
            ctx = getattr(exc, "ctx", None)
            if ctx is not None and isinstance(exc, getattr(module, "UsageError", ())):
                hint = f" (see '{ctx.command_path} --help')"
            sys.stderr.write(f"error: {exc.format_message()}{hint}\n")
            return int(getattr(exc, "exit_code", 2) or 2)
    return None


def _click_exception_modules() -> list:
    import importlib

    modules = []
    for name in ("typer.exceptions", "typer._click.exceptions", "click.exceptions"):
        try:
            modules.append(importlib.import_module(name))
        except ImportError:
            continue
    return modules


if __name__ == "__main__":
    sys.exit(main())
