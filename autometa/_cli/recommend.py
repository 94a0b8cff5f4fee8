"""``autometa recommend FILE``: ranked models + configs for a dataset, with predicted scores and evidence."""

from __future__ import annotations

import typer

from autometa._cli._common import print_json, stdout_console
from autometa._cli._options import (
    DataArgument,
    EncodingOption,
    FamilyOption,
    JsonOption,
    KbOption,
    MetricOption,
    NRecommendationsOption,
    TargetOption,
    TaskOption,
)

_HELP = """Recommend the models and hyperparameters to try first on a dataset.

Ranked and diverse: each line is a model family with a config, its predicted normalized score (1 = as good as the best config known on similar datasets) with an uncertainty, the predicted seconds of one fit, and the nearest known datasets as evidence.

Examples:

  autometa recommend data.csv --target label

  autometa recommend data.csv --family lightgbm --family svm -n 5 --json

  autometa recommend grades.csv --target grade --task regression
"""


def register(app: typer.Typer) -> None:
    app.command(name="recommend", help=_HELP)(recommend_command)


def recommend_command(
    file: DataArgument,
    target: TargetOption = None,
    task: TaskOption = None,
    family: FamilyOption = None,
    metric: MetricOption = None,
    n: NRecommendationsOption = 10,
    time_budget: float | None = typer.Option(None, "--time-budget", help="Leave out configs predicted to take longer to fit on all rows (seconds)."),
    kb: KbOption = None,
    encoding: EncodingOption = None,
    as_json: JsonOption = False,
) -> None:
    from autometa._recommend import recommend

    families = [f.strip() for value in (family or []) for f in value.split(",") if f.strip()] or None
    recs = recommend(file, target=target, metric=metric, families=families, n=n, time_budget=time_budget,
                     task=task, kb=kb, encoding=encoding)
    if as_json:
        print_json(recs.to_dict())
        return
    _print(recs)


#: The table's columns: header, justification, and where a cell may break when the column is narrow
#: (after these characters; a config breaks after '=' or ',', never inside a name or a number).
_COLUMNS = (("#", "right", ""), ("family", "left", "_"), ("config", "left", "=,"), ("predicted", "right", " "),
            ("fit s", "right", ""), ("on the nearest datasets", "left", " _"))


def _print(recs, console=None) -> None:
    from rich.table import Table

    out = console or stdout_console()
    ds = recs.dataset
    shape = f"{ds['n_rows']} rows x {ds['n_features']} features"
    out.print(f"[bold]{ds['name']}[/bold]: {recs.task}, {shape}; metric {recs.metric}", highlight=False)
    rows = []
    for r in recs:
        evidence = ("\n".join(f"{e.dataset_id.split('/', 1)[-1]} {_short(e.normalized_score)}" for e in r.evidence)
                    or "no known dataset ran it")
        rows.append([str(r.rank), r.family, _config_text(r.family, r.config),
                     f"{r.predicted_score:.3f} ± {r.uncertainty:.3f}", _short(r.predicted_fit_seconds_full), evidence])
    # One parameter and one dataset per line. Left to itself, rich folds a narrow column anywhere
    # ("max_features=0" / ".846"), so the widths are chosen here and cells broken only where they may.
    widths = _column_widths(rows, out.width)
    table = Table(title="recommendations (try in this order)")
    for (header, justify, _), width in zip(_COLUMNS, widths, strict=True):
        table.add_column(_fold(header, width, " "), justify=justify, width=width, overflow="fold")
    for row in rows:
        table.add_row(*(_fold(cell, width, breaks) for cell, width, (_, _, breaks) in zip(row, widths, _COLUMNS,
                                                                                          strict=True)))
    out.print(table)
    near = ", ".join(f"{n['dataset_id']} ({n['distance']:.2f})" for n in recs.neighbors[:5])
    out.print(f"nearest known datasets: {near}", highlight=False)
    out.print("[dim]order: a portfolio to try in turn, not a sort by predicted score: each line is chosen to do well "
              "on the similar datasets where the lines above it do worst (in classification #1 is the config that "
              "beat LightGBM's default on the most similar datasets)[/dim]")
    out.print("[dim]predicted: normalized score, 1 = best config known on similar datasets; config: what differs "
              "from the family's defaults (--json has every parameter); fit s: one fit on all rows (predicted); "
              "last column: the config's normalized score on the nearest known datasets that ran it[/dim]")


def _column_widths(rows: list[list[str]], total: int) -> list[int]:
    """Each column's width: its longest line, the widest narrowed first (never below its longest
    unbreakable piece) until the table fits ``total`` characters with rich's borders and padding."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(_COLUMNS)
    natural, least = [], []
    for (header, _, breaks), cells in zip(_COLUMNS, columns, strict=True):
        lines = [line for text in cells for line in text.split("\n")]
        natural.append(max(len(line) for line in [*lines, header]))
        pieces = [p for line in lines for p in _pieces(line, breaks)] + _pieces(header, " ")
        least.append(max(len(p) for p in pieces))
    widths = list(natural)
    room = total - (3 * len(widths) + 1)  # a border and two spaces of padding per column, one closing border
    while sum(widths) > room:
        narrowable = [i for i, w in enumerate(widths) if w > least[i]]
        if not narrowable:
            break  # cannot fit without breaking inside a word: rich folds what is left
        widths[max(narrowable, key=lambda i: widths[i])] -= 1
    return widths


def _pieces(line: str, breaks: str) -> list[str]:
    """``line`` cut after each break character (trailing spaces dropped): what may not be split further."""
    pieces, start = [], 0
    for i, char in enumerate(line):
        if char in breaks:
            pieces.append(line[start:i + 1].rstrip())
            start = i + 1
    return [*pieces, line[start:]]


def _fold(text: str, width: int, breaks: str) -> str:
    """``text`` with every line longer than ``width`` broken after its last break character that fits."""
    out = []
    for line in text.split("\n"):
        while len(line) > width:
            cut = max((i + 1 for i, char in enumerate(line[:width + 1]) if char in breaks and
                       len(line[:i + 1].rstrip()) <= width), default=0)
            if cut == 0:
                break  # no break point fits: rich folds it
            out.append(line[:cut].rstrip())
            line = line[cut:].lstrip()
        out.append(line)
    return "\n".join(out)


def _config_text(family: str, config: dict) -> str:
    # Only what differs from the family's defaults (the JSON output has every parameter).
    from autometa.spaces import get_family

    default = get_family(family).default
    changed = {k: v for k, v in config.items() if default.get(k) != v}
    return "\n".join(f"{k}={_short(v)}" for k, v in changed.items()) or "(defaults)"


def _short(value) -> str:
    if isinstance(value, float):
        if value != value:
            return "-"
        return f"{value:.3g}"
    return str(value)
