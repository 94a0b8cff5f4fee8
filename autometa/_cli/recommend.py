"""``autometa recommend FILE``: ranked models + configs for a dataset, with predicted scores and evidence."""

from __future__ import annotations

import typer

from autometa._cli._common import print_json, stdout_console
from autometa._cli._options import (
    DataArgument,
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
    as_json: JsonOption = False,
) -> None:
    from autometa._recommend import recommend

    families = [f.strip() for value in (family or []) for f in value.split(",") if f.strip()] or None
    recs = recommend(file, target=target, metric=metric, families=families, n=n, time_budget=time_budget,
                     task=task, kb=kb)
    if as_json:
        print_json(recs.to_dict())
        return
    _print(recs)


def _print(recs) -> None:
    from rich.table import Table

    out = stdout_console()
    ds = recs.dataset
    shape = f"{ds['n_rows']} rows x {ds['n_features']} features"
    out.print(f"[bold]{ds['name']}[/bold]: {recs.task}, {shape}; metric {recs.metric}", highlight=False)
    table = Table(title="recommendations (try in this order)")
    # One parameter and one dataset per line (a comma-separated run folds mid-word on a narrow terminal).
    for column, justify in (("#", "right"), ("family", "left"), ("config", "left"), ("predicted", "right"),
                            ("fit s", "right"), ("on the nearest datasets", "left")):
        table.add_column(column, justify=justify, overflow="fold")
    for r in recs:
        config = _config_text(r.family, r.config)
        evidence = ("\n".join(f"{e.dataset_id.split('/', 1)[-1]} {_short(e.normalized_score)}" for e in r.evidence)
                    or "no known dataset ran it")
        table.add_row(str(r.rank), r.family, config, f"{r.predicted_score:.3f} ± {r.uncertainty:.3f}",
                      _short(r.predicted_fit_seconds_full), evidence)
    out.print(table)
    near = ", ".join(f"{n['dataset_id']} ({n['distance']:.2f})" for n in recs.neighbors[:5])
    out.print(f"nearest known datasets: {near}", highlight=False)
    out.print("[dim]predicted: normalized score, 1 = best config known on similar datasets; config: what differs "
              "from the family's defaults (--json has every parameter); fit s: one fit on all rows (predicted); "
              "last column: the config's normalized score on the nearest known datasets that ran it[/dim]")


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
