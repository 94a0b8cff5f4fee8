"""``autometa metafeatures FILE``: the named meta-features of a dataset, as a table or JSON."""

from __future__ import annotations

from pathlib import Path

import typer

from autometa._cli._common import print_json, stderr_console, stdout_console
from autometa._cli._options import EncodingOption

GROUPS_HELP = (
    "Comma-separated groups to compute: general, statistical, info-theory, landmarking, model-based "
    "(default: all)."
)


def register(app: typer.Typer) -> None:
    app.command(name="metafeatures", help=_HELP)(metafeatures_command)


_HELP = """Characterize a dataset with named meta-features (OpenML quality names where they exist).

FILE is a CSV/TSV (gzip allowed), a Parquet file, or a PMLB dataset folder. Without --target the column named target/class/label/y is used, else the last column. Decisions taken while loading (dropped ID-like or constant columns, the inferred task) are printed as notes on stderr.

Examples:

  autometa metafeatures data.csv --target label

  autometa metafeatures data.csv --groups general,statistical --json
"""


def metafeatures_command(
    file: Path = typer.Argument(..., help="The dataset: CSV/TSV (.gz ok), Parquet, or a PMLB folder."),
    target: str | None = typer.Option(None, "--target", "-t", help="Target column (default: target/class/label/y, else the last)."),
    task: str | None = typer.Option(None, "--task", help="classification or regression (default: inferred)."),
    groups: str | None = typer.Option(None, "--groups", "-g", help=GROUPS_HELP),
    random_state: int = typer.Option(0, "--seed", help="Seed for subsampling and landmarkers."),
    encoding: EncodingOption = None,
    as_json: bool = typer.Option(False, "--json", help="Print JSON (for scripts) instead of a table."),
) -> None:
    import time

    import metafeatures
    from autometa.data import load_dataset
    from autometa.errors import InputError

    group_list = _parse_groups(groups, metafeatures)
    dataset = load_dataset(file, target=target, task=task, encoding=encoding)
    if not as_json:
        for note in dataset.notes:
            stderr_console().print(f"[dim]note:[/dim] {note}")
    start = time.perf_counter()
    try:
        given = dataset.as_given()  # constant columns count, as in OpenML's qualities
        values = metafeatures.extract(given.X, given.y, task=dataset.task, groups=group_list,
                                      random_state=random_state)
    except ValueError as exc:  # the extractor's own validation, reported as input error
        raise InputError(f"Cannot characterize '{file}': {exc}") from None
    seconds = time.perf_counter() - start
    if as_json:
        print_json({"dataset": dataset.summary(), "seconds": round(seconds, 4), "metafeatures": dict(values),
                    "groups": {name: values.groups[name] for name in values}})
        return
    _print_table(dataset, values, seconds)


def _parse_groups(groups: str | None, metafeatures_module) -> list[str] | None:
    from autometa.errors import InputError

    if not groups:
        return None
    chosen = [g.strip() for g in groups.split(",") if g.strip()]
    known = list(metafeatures_module.GROUPS)
    unknown = [g for g in chosen if g not in known]
    if unknown:
        raise InputError(f"Unknown meta-feature group '{unknown[0]}'; choose from {', '.join(known)}.")
    return chosen


def _print_table(dataset, values, seconds: float) -> None:
    import math

    from rich.table import Table

    table = Table(
        title=f"{len(values)} meta-features of {dataset.name} ({dataset.task}, {dataset.n_rows} rows x "
        f"{dataset.n_features} features) in {seconds:.2f} s",
        title_justify="left",
    )
    table.add_column("group", style="cyan")
    table.add_column("meta-feature")
    table.add_column("value", justify="right")
    for name in values:
        value = values[name]
        shown = "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.6g}"
        table.add_row(values.groups[name], name, shown)
    stdout_console().print(table)
