"""``autometa benchmark warmstart``: the warm-vs-cold-start benchmark (``benchmarks.warmstart``).

The benchmarks live in the source checkout, next to their results, and are not part of the installed
wheel; this verb imports ``benchmarks.warmstart`` as a package module and runs its ``main`` with the same
options, so ``autometa benchmark warmstart --mode replay`` equals ``python -m benchmarks.warmstart
--mode replay``. From an installed wheel it says, in one sentence, that it needs a source checkout.
"""

from __future__ import annotations

import typer

benchmark_app = typer.Typer(name="benchmark", help="Reproducible benchmarks (results under benchmarks/results/).",
                            no_args_is_help=True)

_HELP = """Warm start vs cold start: autometa (warm start, zero-shot) against Optuna TPE, random search, library defaults and FLAML's zero-shot LightGBM.

Modes: replay (leave-one-dataset-out over the knowledge base's complete tables; fast), live (real evaluations on --corpus DIR; datasets present in the knowledge base are dropped from it for their run), designs (meta-model designs under leave-one-dataset-out, and model selection).

--lcdb DIR (an LCDB knowledge base, from 'autometa kb import-lcdb') works in every mode: in replay and live it adds LCDB's model-selection figure to the report; in designs it runs the designs on LCDB too.

Options (passed to benchmarks/warmstart.py): --mode, --kb DIR, --corpus DIR, --datasets a,b, --lcdb DIR, --tasks, --methods, --seeds N, --n-trials N, --n-warm N, --n-models N, --max-datasets N, --n-jobs N, --min-coverage F, --row-cap N, --time-limit S, --out DIR.

Needs autometa's source checkout (git clone): run it from the checkout, or from an editable install of it.

Examples:

  autometa benchmark warmstart --mode replay --seeds 3

  autometa benchmark warmstart --mode live --corpus ../shared/datasets/pmlb --datasets 1028_SWD,analcatdata_authorship --seeds 2 --row-cap 1000
"""


def register(app: typer.Typer) -> None:
    benchmark_app.command(name="warmstart", help=_HELP,
                          context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(warmstart_command)
    app.add_typer(benchmark_app, name="benchmark")


def warmstart_command(ctx: typer.Context) -> None:
    module = load_benchmark("warmstart")
    try:
        code = module.main(list(ctx.args))
    except SystemExit as exc:  # argparse: bad options exit 2 with one line of its own
        code = exc.code if isinstance(exc.code, int) else 2
    if code:
        raise typer.Exit(code)


def load_benchmark(name: str):
    """The module ``benchmarks.<name>`` of autometa's source checkout.

    The checkout is the folder above the imported ``autometa`` package (an editable install, or Python
    started in the checkout), else the current directory.

    Raises:
        InputError: no checkout is found (autometa was installed from a wheel).
    """
    import importlib
    import sys
    from pathlib import Path

    import autometa
    from autometa.errors import InputError

    candidates = [Path(autometa.__file__).resolve().parents[1], Path.cwd()]
    root = next((c for c in candidates if (c / "benchmarks" / "__init__.py").is_file()
                 and (c / "autometa" / "__init__.py").is_file()), None)
    if root is None:
        raise InputError("'autometa benchmark' needs autometa's source checkout (the benchmarks are not part of the "
                         "installed wheel): git clone it and run the command inside the checkout.")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    package = importlib.import_module("benchmarks")
    if Path(package.__file__).resolve().parent != root / "benchmarks":  # another project's 'benchmarks'
        raise InputError(f"Python found another 'benchmarks' package ({package.__file__}) before autometa's; "
                         f"run the command inside the checkout ({root}).")
    return importlib.import_module(f"benchmarks.{name}")
