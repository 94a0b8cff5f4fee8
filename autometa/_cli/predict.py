"""``autometa predict MODEL DATA``: predictions (or class probabilities) of a saved model for a table."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from autometa._cli._common import print_json, stderr_console, stdout_console
from autometa._cli._options import EncodingOption, JsonOption

_HELP = """Predict a table with a saved model (written by 'autometa tune --save-model' or autometa.save_model).

DATA is read like a training table (CSV/TSV, gzip, Parquet) but needs no target: a target column, and any other column the model was not fitted on, is ignored. The model's columns must be there, of the same kind as in training; a category never seen in training and empty cells are handled as in training (the notes on stderr say how many).

Writes one column named after the target (or, with --proba, one column of probabilities per class label), one row per input row, as CSV to --out, or to stdout without --out.

Examples:

  autometa predict churn.autometa customers.csv --out predictions.csv

  autometa predict churn.autometa customers.csv --proba --out probabilities.csv

  autometa predict price.autometa houses.parquet > predictions.csv

  autometa predict churn.autometa customers.csv --out predictions.csv --json
"""

ModelArgument = Annotated[Path, typer.Argument(
    help="The saved model (a .autometa file from 'autometa tune --save-model' or autometa.save_model).",
    show_default=False)]
FeaturesArgument = Annotated[Path, typer.Argument(
    help="The rows to predict: CSV/TSV (.gz), Parquet or a PMLB folder, with the model's columns.",
    show_default=False)]
OutOption = Annotated[Path | None, typer.Option(
    "--out", "-o", help="Write the predictions here (CSV); default: CSV on stdout.")]
ProbaOption = Annotated[bool, typer.Option(
    "--proba", help="Class probabilities, one column per class label (classification models).")]


def register(app: typer.Typer) -> None:
    app.command(name="predict", help=_HELP)(predict_command)


def predict_command(
    model: ModelArgument,
    data: FeaturesArgument,
    out: OutOption = None,
    proba: ProbaOption = False,
    encoding: EncodingOption = None,
    as_json: JsonOption = False,
) -> None:
    import time

    from autometa.io import atomic_path, check_writable
    from autometa.models import predict_table

    start = time.perf_counter()
    if out is not None:  # before any work: a path that cannot be written would lose the predictions
        out = check_writable(out, "predictions file")
    result = predict_table(model, data, proba=proba, encoding=encoding)
    if out is not None:
        with atomic_path(out) as tmp:
            result.frame.to_csv(tmp, index=False)
    seconds = time.perf_counter() - start
    fitted = result.model
    summary = {
        "model": str(model), "data": str(data), "out": None if out is None else str(out),
        "kind": fitted.kind, "family": fitted.family, "task": fitted.task, "target": fitted.target,
        "proba": proba, "n_rows": result.n_rows, "columns": list(result.frame.columns),
        "notes": result.notes, "seconds": round(seconds, 3),
    }
    if as_json:
        if out is None:
            summary["predictions"] = {c: result.frame[c].tolist() for c in result.frame.columns}
        print_json(summary)
        return
    notes = stderr_console()
    for note in result.notes:
        notes.print(f"[dim]note:[/dim] {note}", highlight=False, soft_wrap=True)
    if out is None:
        result.frame.to_csv(sys.stdout, index=False)
        return
    what = "class probabilities" if proba else "predictions"
    stdout_console().print(
        f"Wrote {result.n_rows:,} {what} of [bold]{fitted.target}[/bold] to {out} ({_describe(fitted)}, "
        f"{seconds:.2f} s).", highlight=False)


def _describe(model) -> str:
    if model.kind == "single":
        return f"{model.family} model"
    return f"{model.kind} ensemble of {len(model.members)}: {', '.join(m.family for m in model.members)}"
