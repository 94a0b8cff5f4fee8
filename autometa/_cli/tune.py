"""``autometa tune FILE``: a warm-started Optuna search, with a progress bar, any storage, resumable."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from autometa import _study_attrs as attr
from autometa._cli._common import print_json, stderr_console, stdout_console
from autometa._cli._options import (
    DataArgument,
    EncodingOption,
    FamilyOption,
    JsonOption,
    KbOption,
    MetricOption,
    NTrialsOption,
    TargetOption,
    TaskOption,
)
from autometa.io import GRACE_PERIOD, HEARTBEAT_INTERVAL

_HELP = """Tune a model on a dataset: the meta-model's recommendations first, then a meta-model-guided Optuna sampler.

Every trial is first scored by the knowledge base's protocol (3-fold CV on 2,000 rows, where the meta-model's advice applies); the best configs climb to 4x the rows at each rung up to all rows (--max-rows), so the best score is measured on your data, not on a sample. --time-budget bounds the whole search. --ensemble fuses the best trials (ensemble selection, stacking or a meta-decision tree) from their out-of-fold predictions; --save-model writes the fitted model (no pickle) for `autometa predict`. With --storage the study lives in a SQLite file or any Optuna RDB (PostgreSQL for many workers on many machines: run the same command on each); run it again with the same --study-name to resume. The study opens in optuna-dashboard.

Examples:

  autometa tune data.csv --target label --n-trials 50

  autometa tune grades.csv --target grade --task regression --metric rmse

  autometa tune data.csv --time-budget 60 --ensemble selection --save-model churn.autometa

  autometa tune data.csv --family lightgbm --storage study.db --study-name churn --max-rows 2000

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
    n_trials: NTrialsOption = None,
    timeout: float | None = typer.Option(None, "--timeout", help="Stop starting trials after this many seconds."),
    storage: str | None = typer.Option(None, "--storage", help="Optuna storage: a SQLite file, sqlite:///..., postgresql://... (default: in memory)."),
    study_name: str | None = typer.Option(None, "--study-name", help="Study name (to resume or share a study)."),
    seed: int | None = typer.Option(None, "--seed", help="Seed of the sampler."),
    time_budget: float | None = typer.Option(None, "--time-budget", min=1, help="Wall-clock seconds for the whole search (running evaluations included)."),
    max_rows: int | None = typer.Option(None, "--max-rows", min=1, help="Score configs on at most this many rows (default: all; 2000 = the protocol's rows only)."),
    ensemble: str | None = typer.Option(None, "--ensemble", help="Fuse the best trials into the saved model: selection, stacking or mdt (default: the best single config)."),
    save_model: Path | None = typer.Option(None, "--save-model", help="Fit the best config (or --ensemble) on all rows and save it (for autometa predict / autometa.load_model)."),
    report: Path | None = typer.Option(None, "--report", help="Write an HTML report of the search (best score over trials, families compared, the --save-model model, the data's notes): one self-contained file."),
    kb: KbOption = None,
    encoding: EncodingOption = None,
    heartbeat_interval: int = typer.Option(HEARTBEAT_INTERVAL, "--heartbeat-interval", min=1, help="With --storage: seconds between a running trial's heartbeats."),
    grace_period: int = typer.Option(GRACE_PERIOD, "--grace-period", min=1, help="With --storage: seconds without a heartbeat before a trial counts as lost with its worker; it is then failed and retried."),
    as_json: JsonOption = False,
) -> None:
    import optuna
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from autometa._refit import refit
    from autometa._tune import tune
    from autometa.errors import InputError
    from autometa.io import check_writable

    if ensemble is not None and ensemble not in ("selection", "stacking", "mdt", "none"):
        raise InputError(f"--ensemble must be selection, stacking, mdt or none; got {ensemble!r}.")
    ensemble = None if ensemble == "none" else ensemble
    if ensemble is not None and save_model is None:
        raise InputError("--ensemble fuses the model that --save-model writes; pass --save-model PATH too.")
    if save_model is not None:  # before the search: a path that cannot be written would lose its result
        save_model = check_writable(save_model, "model file")
    if report is not None:
        report = check_writable(report, "report")
    families = [f.strip() for value in (family or []) for f in value.split(",") if f.strip()] or None
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    console = stderr_console()
    progress = Progress(TextColumn("[bold]tune[/bold]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TextColumn("{task.fields[best]}"), console=console, transient=False)
    # Under a time budget the bar is the budget's seconds (trials that climb take longer), else trials.
    n_trials = n_trials if n_trials is not None or time_budget else 50  # default: 50, or until the budget
    task_id = progress.add_task("trials", total=time_budget or n_trials, best="")
    clock = time.monotonic()

    def on_trial(study, trial) -> None:
        try:
            rows = study.best_trial.user_attrs.get(attr.ROWS)
            on = f" on {rows:,} rows" if rows else ""
            best = f"best {study.best_value:.4f} ({study.best_trial.params.get('family')}{on})"
        except ValueError:
            best = "no finished trial yet"
        if time_budget:
            progress.update(task_id, completed=min(time.monotonic() - clock, time_budget), best=best)
        else:
            progress.update(task_id, advance=1, best=best)

    # The bar appears once the input is checked and the warm start is ready (bad input: one line only).
    try:
        study = tune(file, target=target, family=families, timeout=timeout, storage=storage,
                     study_name=study_name, metric=metric, random_state=seed, task=task, kb=kb, callbacks=[on_trial],
                     heartbeat_interval=heartbeat_interval, grace_period=grace_period, on_ready=progress.start,
                     encoding=encoding, time_budget=time_budget, max_rows=max_rows,
                     n_trials=n_trials)
    finally:
        # Only a bar that started is stopped: a non-interactive console prints a blank line on stop(),
        # which would come before the one-line error of bad input.
        if progress.live.is_started:
            progress.stop()
    summary = _summary(study)
    if save_model is not None and "best_value" in summary:
        from autometa.models import save_model as write_model

        model = refit(study, file, target=target, ensemble=ensemble)
        summary["model_file"] = str(write_model(model, save_model))
        summary["model"] = {"kind": model.kind, "members": model.card["members"], "weights": model.card["weights"],
                            "notes": model.card["notes"]}
    if report is not None:
        summary["report"] = str(_write_report(study, report, file, target=target, task=task, encoding=encoding,
                                              model=model if "model_file" in summary else None))
    if as_json:
        print_json(summary)
        return
    _print(summary)
    if report is not None:
        extra = "" if "model_file" in summary else " (no fitted model in it: --save-model fits one)"
        stdout_console().print(f"report written to {summary['report']}{extra}", highlight=False)


def _write_report(study, path: Path, file, *, target: str | None, task: str | None, encoding: str | None,
                  model) -> Path:
    """The HTML report of the search, with the notes taken while reading the data (read again as tune read it)."""
    from autometa.data import load_dataset
    from autometa.report import write_report

    dataset = load_dataset(file, target=target, task=task, encoding=encoding)
    return write_report(study, path, model=model, dataset=dataset)


def _summary(study) -> dict:
    from optuna.trial import TrialState

    from autometa._study_record import best_config

    record = study.user_attrs.get(attr.STUDY, {})
    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    # A trial of a killed worker is failed by the heartbeat check and retried: its copy names it.
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
    failed = [t for t in trials if t.state == TrialState.FAIL and t.number not in retried]
    out = {"study_name": study.study_name, "metric": record.get("metric"), "direction": study.direction.name.lower(),
           "n_trials": len(trials), "n_complete": len(done), "n_failed": len(failed),
           "n_worker_died": len(retried),
           "n_running": sum(t.state == TrialState.RUNNING for t in trials),
           "n_waiting": sum(t.state == TrialState.WAITING for t in trials),
           "n_skipped": sum(t.state == TrialState.PRUNED and not t.intermediate_values for t in trials),
           "n_stopped": sum(t.state == TrialState.PRUNED and bool(t.intermediate_values) for t in trials)}
    if done:
        family, config = best_config(study)
        out.update(best_value=study.best_value, best_family=family, best_config=config,
                   best_trial=study.best_trial.number, best_rows=study.best_trial.user_attrs.get(attr.ROWS),
                   n_rows=record.get("n_rows"))
        reverse = study.direction.name == "MAXIMIZE"
        top = sorted(done, key=lambda t: t.value, reverse=reverse)[:5]
        out["top"] = [{"trial": t.number, "value": t.value, "family": t.params.get("family"),
                       "origin": t.user_attrs.get(attr.ORIGIN, "sampler")} for t in top]
    return out


def _print(summary: dict) -> None:
    from rich.table import Table

    out = stdout_console()
    extra = "".join(f", {summary[key]} {words}" for key, words in (
        ("n_worker_died", "lost with a killed worker (retried)"), ("n_running", "running (other workers, or a "
         "killed one's until its grace period ends)"), ("n_waiting", "waiting"), ("n_skipped", "skipped as twins"),
        ("n_stopped", "stopped on fewer rows (not among the best, or past the time budget)"))
        if summary.get(key))
    out.print(f"study [bold]{summary['study_name']}[/bold]: {summary['n_complete']} trials done, "
              f"{summary['n_failed']} failed{extra}; metric {summary['metric']} ({summary['direction']})",
              highlight=False)
    if "best_value" not in summary:
        return
    config = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in summary["best_config"].items())
    rows = summary.get("best_rows")
    measured = f", measured on {_rows_text(rows, summary.get('n_rows'))} by 3-fold CV" if rows else ""
    out.print(f"best: [bold]{summary['best_value']:.4f}[/bold] {summary['best_family']} ({config}), "
              f"trial {summary['best_trial']}{measured}", highlight=False)
    table = Table(title="best trials")
    for column in ("trial", "value", "family", "origin"):
        table.add_column(column, justify="right" if column in ("trial", "value") else "left")
    for row in summary["top"]:
        table.add_row(str(row["trial"]), f"{row['value']:.4f}", str(row["family"]), str(row["origin"]))
    out.print(table)
    if summary.get("model_file"):
        model = summary["model"]
        what = (f"{model['members'][0]['family']}" if model["kind"] == "single"
                else f"{model['kind']} of {len(model['members'])}: " + ", ".join(
                    f"{m['family']} x{w:.2f}" for m, w in zip(model["members"], model["weights"], strict=True)))
        out.print(f"model saved to {summary['model_file']} ({what}, fitted on all rows; "
                  f"autometa predict {summary['model_file']} DATA)", highlight=False)
        for note in model["notes"]:
            out.print(f"note: {note}", highlight=False)


def _rows_text(rows: int, total: int | None) -> str:
    return f"all {rows:,} rows" if total is not None and rows >= total else f"{rows:,} rows"
