"""``autometa benchmark warmstart``: the warm-vs-cold-start benchmark (``benchmarks/warmstart.py``).

The benchmark script lives in the source checkout, next to its results; this verb runs it with the
same options, so ``autometa benchmark warmstart --mode replay`` equals
``python benchmarks/warmstart.py --mode replay``.
"""

from __future__ import annotations

import typer

benchmark_app = typer.Typer(name="benchmark", help="Reproducible benchmarks (results under benchmarks/results/).",
                            no_args_is_help=True)

_HELP = """Warm start vs cold start: autometa (warm start, zero-shot) against Optuna TPE, random search, library defaults and FLAML's zero-shot LightGBM.

Modes: replay (leave-one-dataset-out over the knowledge base's complete tables; fast), live (real evaluations on --corpus DIR; datasets present in the knowledge base are dropped from it for their run), designs (meta-model designs under leave-one-dataset-out, and model selection).

--lcdb DIR (an LCDB knowledge base, from 'autometa kb import-lcdb') works in every mode: in replay and live it adds LCDB's model-selection figure to the report; in designs it runs the designs on LCDB too.

Options (passed to benchmarks/warmstart.py): --mode, --kb DIR, --corpus DIR, --datasets a,b, --lcdb DIR, --tasks, --methods, --seeds N, --n-trials N, --n-warm N, --n-models N, --max-datasets N, --n-jobs N, --min-coverage F, --row-cap N, --time-limit S, --out DIR.

Examples:

  autometa benchmark warmstart --mode replay --seeds 3

  autometa benchmark warmstart --mode live --corpus ../shared/datasets/pmlb --datasets 1028_SWD,analcatdata_authorship --seeds 2 --row-cap 1000
"""


def register(app: typer.Typer) -> None:
    benchmark_app.command(name="warmstart", help=_HELP,
                          context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(warmstart_command)
    app.add_typer(benchmark_app, name="benchmark")


def warmstart_command(ctx: typer.Context) -> None:
    import importlib.util
    from pathlib import Path

    import cli
    from autometa.errors import InputError

    script = Path(cli.__file__).resolve().parent / "benchmarks" / "warmstart.py"
    if not script.exists():
        raise InputError(f"The benchmark script {script} is not here: the benchmarks come with autometa's source "
                         "checkout (git clone), not with an installed wheel.")
    spec = importlib.util.spec_from_file_location("autometa_benchmark_warmstart", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        code = module.main(list(ctx.args))
    except SystemExit as exc:  # argparse: bad options exit 2 with one line of its own
        code = exc.code if isinstance(exc.code, int) else 2
    if code:
        raise typer.Exit(code)
