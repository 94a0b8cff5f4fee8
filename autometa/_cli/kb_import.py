"""``autometa kb import-lcdb | import-openml | import-study``: task histories from elsewhere.

A thin layer over :func:`autometa.kb.import_lcdb`, :func:`~autometa.kb.import_openml` and
:func:`~autometa.kb.import_study`: each adds its rows to a knowledge-base folder (``--out``; default:
the user's knowledge base, see :func:`autometa.kb.user_kb_path`), creating it when absent and replacing
rows it already holds for the same dataset or (dataset, family, config). Added to the ``kb`` group by
``autometa._cli.kb`` through :func:`register`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from autometa._cli._common import print_json, stderr_console, stdout_console
from autometa._cli._options import JsonOption, TargetOption

OUT_HELP = "Knowledge-base folder to add the rows to (created if absent; default: $AUTOMETA_USER_KB or ~/.local/share/autometa/kb)."


def register(kb_app: typer.Typer) -> None:
    """Add the import verbs to the ``autometa kb`` group."""
    kb_app.command(name="import-lcdb", help=_LCDB_HELP)(import_lcdb_command)
    kb_app.command(name="import-openml", help=_OPENML_HELP)(import_openml_command)
    kb_app.command(name="import-study", help=_STUDY_HELP)(import_study_command)


_LCDB_HELP = """Import LCDB: 20 scikit-learn learners on ~200 OpenML datasets, with OpenML's qualities.

Needs the 'lcdb' package (pip install lcdb). Each learner's test score at the largest training size (mean over LCDB's seeds) becomes one evaluation; RandomForest, ExtraTrees, LogisticRegression, SVC(rbf) and KNeighbors map onto our families, the others stay 'lcdb:<Learner>'. Details: autometa/kb/_import_lcdb.py.

Examples:

  autometa kb import-lcdb --out kb-lcdb

  autometa kb import-lcdb --dataset 3 --dataset 31 --json
"""

_OPENML_HELP = """Import OpenML runs: flows evaluated on tasks, with setups and the datasets' qualities.

Answers come from the cache first (openml's cache directory, or --cache-dir), then from the server; whatever is fetched is cached, so the same command works offline afterwards.

Examples:

  autometa kb import-openml --task 3 --task 31 --max-runs 200

  autometa kb import-openml --suite 99 --flow 8365 --flow 8317 --cache-dir ~/openml-cache
"""

_STUDY_HELP = """Import a finished Optuna study as task history (meta-features computed from --data).

Every COMPLETE trial becomes an evaluation of its family and parameters (failed trials are kept as failed). The family comes from the trials (autometa.tune records it) or --family; the metric from the study's user attribute 'metric', --metric, or the study's direction.

Examples:

  autometa kb import-study --storage sqlite:///tuning.db --study my-study --data train.csv --target label --family lightgbm
"""


def _run(what: str, as_json: bool, work) -> None:
    """Run ``work(update)`` (an importer that saves its rows) under a spinner and report."""
    import time

    start = time.perf_counter()
    status = stderr_console().status("starting", spinner="dots")
    with status:
        result = work(status.update)
    _report(result, result.saved_to, time.perf_counter() - start, as_json, what)


def _report(result, out: Path, seconds: float, as_json: bool, what: str) -> None:
    from rich.table import Table

    summary = {**result.summary(), "out": str(out), "seconds": round(seconds, 2), "notes": result.notes}
    if as_json:
        print_json(summary)
        return
    err = stderr_console()
    for note in result.notes:
        err.print(f"[dim]note:[/dim] {note}", highlight=False)
    console = stdout_console()
    console.print(f"[bold]{what}[/bold]: {summary['datasets']} datasets, {summary['evaluations']} evaluations "
                  f"in {seconds:.1f}s -> {out}", highlight=False)
    table = Table(title="evaluations per family")
    table.add_column("family")
    table.add_column("evaluations", justify="right")
    for family, n in summary["families"].items():
        table.add_row(family, str(n))
    console.print(table)
    console.print("status: " + ", ".join(f"{k} {v}" for k, v in summary["status"].items()), highlight=False)


def import_lcdb_command(
    out: Path | None = typer.Option(None, "--out", "-o", help=OUT_HELP),
    dataset: list[int] | None = typer.Option(None, "--dataset", "-d", help="Only this OpenML dataset id (repeatable)."),
    as_json: JsonOption = False,
) -> None:
    from autometa import kb

    _run("lcdb", as_json, lambda update: kb.import_lcdb(dataset or None, out=out, progress=update))


def import_openml_command(
    task: list[int] | None = typer.Option(None, "--task", "-t", help="OpenML task id (repeatable)."),
    suite: str | None = typer.Option(None, "--suite", help="OpenML benchmark suite id or alias (with --flow)."),
    flow: list[int] | None = typer.Option(None, "--flow", "-f", help="Only runs of this flow id (repeatable)."),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="openml's root cache directory (default: openml's own)."),
    max_runs: int = typer.Option(500, "--max-runs", help="At most this many runs per task."),
    offline: bool = typer.Option(False, "--offline", help="Use the cache only; never touch the network."),
    out: Path | None = typer.Option(None, "--out", "-o", help=OUT_HELP),
    as_json: JsonOption = False,
) -> None:
    from autometa import kb

    _run("openml", as_json, lambda update: kb.import_openml(
        task or (), suite=suite, flows=flow or (), cache_dir=cache_dir, max_runs=max_runs, offline=offline,
        out=out, progress=update))


def import_study_command(
    storage: str = typer.Option(..., "--storage", help="Optuna storage URL (sqlite:///x.db, postgresql://...)."),
    study: str = typer.Option(..., "--study", help="The study's name in that storage."),
    data: Path = typer.Option(..., "--data", help="The dataset the study tuned on (CSV/Parquet/PMLB folder)."),
    target: TargetOption = None,
    family: str | None = typer.Option(None, "--family", help="Model family of trials that do not name one."),
    metric: str | None = typer.Option(None, "--metric", help="The metric the trial values are (default: from the study)."),
    out: Path | None = typer.Option(None, "--out", "-o", help=OUT_HELP),
    as_json: JsonOption = False,
) -> None:
    from autometa import kb

    _run(f"study {study}", as_json, lambda update: kb.import_study(
        storage, study, data, target=target, family=family, metric=metric, out=out, progress=update))
