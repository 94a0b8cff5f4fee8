"""``autometa tune FILE``: a warm-started Optuna search, with a progress bar, any storage, resumable."""

from __future__ import annotations

from pathlib import Path

import typer

from autometa._cli._common import print_json, stderr_console, stdout_console
from autometa._cli._options import (
    DataArgument,
    FamilyOption,
    JsonOption,
    KbOption,
    MetricOption,
    NTrialsOption,
    TargetOption,
    TaskOption,
)

_HELP = """Tune a model on a dataset: the meta-model's recommendations first, then a meta-model-guided Optuna sampler.

Every trial is scored by the knowledge base's protocol (3-fold CV, fixed seed, row cap). With --storage the study lives in a SQLite file or any Optuna RDB (PostgreSQL for many workers on many machines: run the same command on each); run it again with the same --study-name to resume. The study opens in optuna-dashboard.

Examples:

  autometa tune data.csv --target label --n-trials 50

  autometa tune grades.csv --target grade --task regression --metric rmse

  autometa tune data.csv --family lightgbm --storage study.db --study-name churn --save-model best.json

  autometa tune data.csv --storage postgresql://user:pw@host/db --study-name churn --timeout 3600
"""


def register(app: typer.Typer) -> None:
    app.command(name="tune", help=_HELP)(tune_command)


def tune_command(
    file: DataArgument,
    target: TargetOption = None,
    task: TaskOption = None,
    family: FamilyOption = None,
    metric: MetricOption = None,
    n_trials: NTrialsOption = 50,
    timeout: float | None = typer.Option(None, "--timeout", help="Stop starting trials after this many seconds."),
    storage: str | None = typer.Option(None, "--storage", help="Optuna storage: a SQLite file, sqlite:///..., postgresql://... (default: in memory)."),
    study_name: str | None = typer.Option(None, "--study-name", help="Study name (to resume or share a study)."),
    seed: int | None = typer.Option(None, "--seed", help="Seed of the sampler."),
    save_model: Path | None = typer.Option(None, "--save-model", help="Write the best config as a model file (JSON; refit on load)."),
    kb: KbOption = None,
    as_json: JsonOption = False,
) -> None:
    import optuna
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from autometa._tune import save_model as write_model
    from autometa._tune import tune

    families = [f.strip() for value in (family or []) for f in value.split(",") if f.strip()] or None
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    console = stderr_console()
    progress = Progress(TextColumn("[bold]tune[/bold]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TextColumn("{task.fields[best]}"), console=console, transient=False)
    task_id = progress.add_task("trials", total=n_trials, best="")

    def on_trial(study, trial) -> None:
        try:
            best = f"best {study.best_value:.4f} ({study.best_trial.params.get('family')})"
        except ValueError:
            best = "no finished trial yet"
        progress.update(task_id, advance=1, best=best)

    # The bar appears once the input is checked and the warm start is ready (bad input: one line only).
    try:
        study = tune(file, target=target, family=families, n_trials=n_trials, timeout=timeout, storage=storage,
                     study_name=study_name, metric=metric, random_state=seed, task=task, kb=kb, callbacks=[on_trial],
                     on_ready=progress.start)
    finally:
        # Only a bar that started is stopped: a non-interactive console prints a blank line on stop(),
        # which would come before the one-line error of bad input.
        if progress.live.is_started:
            progress.stop()
    summary = _summary(study)
    if save_model is not None:
        summary["model_file"] = str(write_model(study, save_model, data=file))
    if as_json:
        print_json(summary)
        return
    _print(summary)


def _summary(study) -> dict:
    from optuna.trial import TrialState

    from autometa._tune import STUDY_ATTR, best_config

    record = study.user_attrs.get(STUDY_ATTR, {})
    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    failed = [t for t in trials if t.state == TrialState.FAIL]
    out = {"study_name": study.study_name, "metric": record.get("metric"), "direction": study.direction.name.lower(),
           "n_trials": len(trials), "n_complete": len(done), "n_failed": len(failed)}
    if done:
        family, config = best_config(study)
        out.update(best_value=study.best_value, best_family=family, best_config=config,
                   best_trial=study.best_trial.number)
        reverse = study.direction.name == "MAXIMIZE"
        top = sorted(done, key=lambda t: t.value, reverse=reverse)[:5]
        out["top"] = [{"trial": t.number, "value": t.value, "family": t.params.get("family"),
                       "origin": t.user_attrs.get("autometa.origin", "sampler")} for t in top]
    return out


def _print(summary: dict) -> None:
    from rich.table import Table

    out = stdout_console()
    out.print(f"study [bold]{summary['study_name']}[/bold]: {summary['n_complete']} trials done, "
              f"{summary['n_failed']} failed; metric {summary['metric']} ({summary['direction']})", highlight=False)
    if "best_value" not in summary:
        return
    config = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in summary["best_config"].items())
    out.print(f"best: [bold]{summary['best_value']:.4f}[/bold] {summary['best_family']} ({config}), "
              f"trial {summary['best_trial']}", highlight=False)
    table = Table(title="best trials")
    for column in ("trial", "value", "family", "origin"):
        table.add_column(column, justify="right" if column in ("trial", "value") else "left")
    for row in summary["top"]:
        table.add_row(str(row["trial"]), f"{row['value']:.4f}", str(row["family"]), str(row["origin"]))
    out.print(table)
    if summary.get("model_file"):
        out.print(f"model saved to {summary['model_file']} (the best config; refit with autometa.load_model)",
                  highlight=False)
