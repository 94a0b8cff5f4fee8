"""The learned optimizer vs hand-designed ones on held-out base-network training tasks.

Every run trains an ordinary ``torch.nn`` network with a real ``torch.optim`` optimizer (the learned one
through :class:`LearnedOptimizer`, exactly as a user would) on one held-out dataset, for the longest
horizon (2,000 steps by default) of mini-batch training. The networks are MLPs of widths and depths
meta-training never saw, and a small CNN on the 8x8 handwritten digits (a held-out family: CNN
meta-training tasks never use its images nor this shape, and the shipped checkpoint saw no CNN). The full training loss is recorded along the way, the test score (balanced accuracy or
R2) at every horizon. Mini-batches and initial weights depend only on the seed, so all optimizers see
the same ones. Baselines get their learning rate tuned per task on a grid, separately for each
horizon: the lr with the lowest mean training loss over the seeds at that step (an oracle tuning that
favours the baselines). A run *diverged* at horizon T when its training loss at T is not finite or
more than 10% above the minimum of its own curve up to T.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from autometa.neural._datasets import HELD_OUT_DATASETS, TaskData, load_task_data
from autometa.neural._mlp import make_mlp
from autometa.neural._optimizer import LearnedOptimizer
from autometa.neural._progress import LossProgress, ProgressCallback
from autometa.neural._rule import LearnedRule
from autometa.neural._tasks import HELD_OUT_ARCHITECTURES, Architecture

#: Learning-rate grids of the baselines (log-spaced, half-decade steps).
LR_GRIDS: dict[str, tuple[float, ...]] = {
    "adam": (1e-3, 3e-3, 1e-2, 3e-2, 1e-1),
    "rmsprop": (3e-4, 1e-3, 3e-3, 1e-2, 3e-2),
    "sgd_momentum": (1e-2, 3e-2, 1e-1, 3e-1, 1.0),
}
#: The three middle points of each grid: the cheap benchmark (edge hits are flagged in the report).
LR_GRIDS_SMALL: dict[str, tuple[float, ...]] = {name: grid[1:4] for name, grid in LR_GRIDS.items()}
HORIZONS: tuple[int, ...] = (100, 1000, 2000)
DIVERGENCE_FACTOR = 1.1  # a run diverged when its loss at T is above 1.1 x its minimum up to T
CNN_DATASET = "sklearn/digits"


@dataclass
class Task:
    """A held-out training problem: a dataset and a network (an MLP shape, or ``None`` for the CNN)."""

    data: TaskData
    arch: Architecture | None
    batch_size: int = 128

    @property
    def name(self) -> str:
        return f"{self.data.name} @ {self.arch.name if self.arch is not None else 'cnn8x8'}"

    def build(self) -> nn.Module:
        if self.arch is None:
            return digits_cnn(self.data.n_outputs)
        return make_mlp(self.data.n_features, self.arch.hidden, self.data.n_outputs, self.arch.activation)


def digits_cnn(n_out: int = 10) -> nn.Sequential:
    """A small CNN for flattened 8x8 images: a strided 3x3 convolution (8 channels, 8x8 -> 4x4), a 3x3
    convolution (16 channels), linear (2,474 parameters for 10 classes)."""
    return nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(),
                         nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 4 * 4, n_out))


def held_out_tasks(data_dir: str | Path | None, datasets: tuple[str, ...] = HELD_OUT_DATASETS,
                   max_rows: int = 2048, cnn: bool = True) -> list[Task]:
    """The benchmark tasks: each held-out dataset with a held-out MLP shape (in turn), plus the CNN."""
    tasks = []
    for i, name in enumerate(datasets):
        data = load_task_data(name, data_dir, max_rows=max_rows, seed=0)
        tasks.append(Task(data, HELD_OUT_ARCHITECTURES[i % len(HELD_OUT_ARCHITECTURES)]))
    if cnn:
        tasks.append(Task(load_task_data(CNN_DATASET, None, max_rows=max_rows, seed=0), None))
    return tasks


def make_optimizer(name: str, params, lr: float, network: LearnedRule | None = None) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    if name == "sgd_momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    if name == "learned":
        return LearnedOptimizer(params, lr=lr, network=network)
    raise ValueError(f"unknown optimizer {name!r}")


def _loss_fn(data: TaskData) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if data.task == "classification":
        return nn.functional.cross_entropy
    return lambda out, y: nn.functional.mse_loss(out[:, 0], y)


def _test_score(model: nn.Module, data: TaskData) -> float:
    from sklearn.metrics import balanced_accuracy_score, r2_score

    with torch.no_grad():
        out = model(torch.from_numpy(data.X_test))
    if not torch.isfinite(out).all():
        return float("nan")
    if data.task == "classification":
        return float(balanced_accuracy_score(data.y_test, out.argmax(1).numpy()))
    return float(r2_score(data.y_test, out[:, 0].numpy()))


def record_steps(total: int, per_decade: int = 10) -> list[int]:
    """Steps at which the full training loss is recorded: 0, then ~``per_decade`` per decade, and ``total``."""
    steps = {0, total}
    steps.update(int(round(s)) for s in np.logspace(0, math.log10(max(total, 1)),
                                                    per_decade * max(1, round(math.log10(max(total, 10))))))
    return sorted(s for s in steps if s <= total)


def train_run(task: Task, optimizer: str, lr: float, steps: int, seed: int, network: LearnedRule | None = None,
              score_at: tuple[int, ...] = ()) -> dict[str, Any]:
    """Train one network; return its loss curve (full training loss at :func:`record_steps` and at
    ``score_at``) and the test scores at ``score_at``."""
    data = task.data
    torch.manual_seed(seed)
    model = task.build()
    opt = make_optimizer(optimizer, model.parameters(), lr, network)
    X = torch.from_numpy(data.X_train)
    y = torch.from_numpy(data.y_train)
    loss_fn = _loss_fn(data)
    gen = torch.Generator().manual_seed(10_000 + seed)
    curve, scores = {}, {}
    marks = set(record_steps(steps)) | set(score_at)
    for t in range(steps + 1):
        if t in marks:
            with torch.no_grad():
                full = float(loss_fn(model(X), y))
            curve[t] = full if math.isfinite(full) else float("inf")
        if t in score_at:
            scores[t] = _test_score(model, data)
        if t == steps or not math.isfinite(curve.get(t, 0.0)):
            break
        idx = torch.randint(len(X), (task.batch_size,), generator=gen)
        loss = loss_fn(model(X[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    for t in score_at:  # a run that blew up early has no score later
        scores.setdefault(t, float("nan"))
    return {"curve": curve, "scores": scores}


def run_all(tasks: list[Task], network: LearnedRule, horizons: tuple[int, ...] = HORIZONS,
            seeds: tuple[int, ...] = (0, 1), grids: dict[str, tuple[float, ...]] | None = None,
            progress: bool | ProgressCallback = False) -> pd.DataFrame:
    """All runs (each as long as the longest horizon): one row per (task, optimizer, lr, seed, recorded step)."""
    grids = LR_GRIDS if grids is None else grids
    total = max(horizons)
    plan = [("learned", 1.0)] + [(name, lr) for name, grid in grids.items() for lr in grid]
    bar = LossProgress("training runs", len(tasks) * len(plan) * len(seeds), enabled=progress, info="{what}")
    rows = []
    for task in tasks:
        for name, lr in plan:
            for seed in seeds:
                run = train_run(task, name, lr, total, seed, network, score_at=tuple(horizons))
                initial = run["curve"][0]
                for t, value in run["curve"].items():
                    rows.append({"task": task.name, "dataset": task.data.name,
                                 "arch": task.arch.name if task.arch is not None else "cnn8x8",
                                 "task_type": task.data.task, "optimizer": name, "lr": lr, "seed": seed, "step": t,
                                 "train_loss": value, "initial_loss": initial,
                                 "test_score": run["scores"].get(t, float("nan"))})
                bar.advance(math.nan, what=f"{task.name} {name} lr={lr:g} seed={seed}")
    return pd.DataFrame(rows)


def _diverged(curve: pd.Series, T: int) -> bool:
    """Loss at T not finite, the run stopped before T, or loss at T > 1.1 x the run's minimum up to T."""
    upto = curve[curve.index <= T]
    if T not in upto.index or not np.isfinite(upto.loc[T]):
        return True
    return bool(upto.loc[T] > DIVERGENCE_FACTOR * upto.min())


def summarize(runs: pd.DataFrame, horizons: tuple[int, ...] = HORIZONS) -> pd.DataFrame:
    """Per task, optimizer and horizon T: the lr tuned for T and its mean results at T.

    ``diverged_seeds`` counts the seeds whose run diverged (see the module docstring); ``mean_diverged``
    applies the same test to the mean curve over the seeds.
    """
    out = []
    curves = {key: grp.set_index("step")["train_loss"].sort_index()
              for key, grp in runs.groupby(["task", "optimizer", "lr", "seed"])}
    for T in horizons:
        at = runs[runs["step"] == T]
        for (task, opt), grp in at.groupby(["task", "optimizer"]):
            by_lr = grp.groupby("lr")["train_loss"].mean().replace(np.nan, np.inf)
            best_lr = float(by_lr.idxmin())
            edge = opt != "learned" and best_lr in (float(by_lr.index.min()), float(by_lr.index.max()))
            best = grp[grp["lr"] == best_lr]
            seeds = sorted(best["seed"].unique())
            run_curves = [curves[(task, opt, best_lr, s)] for s in seeds]
            diverged = sum(_diverged(c, T) for c in run_curves)
            mean_curve = pd.concat(run_curves, axis=1).mean(axis=1)
            out.append({"task": task, "dataset": grp["dataset"].iloc[0], "arch": grp["arch"].iloc[0],
                        "steps": T, "optimizer": opt, "lr": best_lr,
                        "train_loss": float(best["train_loss"].mean()),
                        "train_loss_std": float(best["train_loss"].std(ddof=0)),
                        "min_train_loss": float(mean_curve[mean_curve.index <= T].min()),
                        "test_score": float(best["test_score"].mean()),
                        "initial_loss": float(best["initial_loss"].mean()), "diverged_seeds": int(diverged),
                        "mean_diverged": bool(_diverged(mean_curve, T)), "lr_at_grid_edge": bool(edge)})
    return pd.DataFrame(out)


def reference_network(n_params: int = 100_000) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """An MLP of about ``n_params`` parameters (64 inputs, three hidden layers, 10 classes) and data."""
    width = int(round((-(64 + 10 + 3) + math.sqrt((64 + 10 + 3) ** 2 + 8 * n_params)) / 4))  # 2w^2 + 77w ~ n
    model = nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                          nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 10))
    gen = torch.Generator().manual_seed(0)
    return model, torch.randn(2048, 64, generator=gen), torch.randint(10, (2048,), generator=gen)


def time_per_step(model_factory: Callable[[], nn.Module], X: torch.Tensor, y: torch.Tensor,
                  loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], network: LearnedRule,
                  optimizers: tuple[str, ...] = ("learned", "adam"), steps: int = 100, repeats: int = 5,
                  batch_size: int = 128) -> dict[str, float]:
    """Median wall seconds per training step (forward, backward, optimizer step) on the same network.

    Optimizers are timed in turn within each repeat, so a busy machine slows them alike.
    """
    times: dict[str, list[float]] = {name: [] for name in optimizers}
    for r in range(repeats):
        for name in optimizers:
            torch.manual_seed(r)
            model = model_factory()
            opt = make_optimizer(name, model.parameters(), 1.0 if name == "learned" else 1e-3, network)
            batches = [torch.randint(len(X), (batch_size,)) for _ in range(steps + 10)]
            for i, idx in enumerate(batches):
                if i == 10:  # the first steps allocate optimizer state
                    start = time.perf_counter()
                loss = loss_fn(model(X[idx]), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            times[name].append((time.perf_counter() - start) / steps)
    return {name: float(np.median(ts)) for name, ts in times.items()}


def measure_step_cost(network: LearnedRule, tasks: list[Task], sizes: tuple[int, ...] = (10_000, 100_000),
                      steps: int = 100, repeats: int = 5) -> dict[str, dict[str, float]]:
    """Learned vs Adam time per step: on reference MLPs of the given sizes and on the first two tasks."""
    timing: dict[str, dict[str, float]] = {}
    for size in sizes:
        model, X, y = reference_network(size)
        n = sum(p.numel() for p in model.parameters())
        timing[f"reference MLP, {n} parameters"] = {
            **time_per_step(lambda size=size: reference_network(size)[0], X, y, nn.functional.cross_entropy,
                            network, steps=steps, repeats=repeats), "n_params": n}
    for task in tasks[:2]:
        n = sum(p.numel() for p in task.build().parameters())
        X, y = torch.from_numpy(task.data.X_train), torch.from_numpy(task.data.y_train)
        timing[task.name] = {**time_per_step(task.build, X, y, _loss_fn(task.data), network, steps=steps,
                                             repeats=repeats), "n_params": n}
    return timing


def evaluate(checkpoint: str | Path = "pretrained", *, data_dir: str | Path | None,
             horizons: tuple[int, ...] = HORIZONS, seeds: tuple[int, ...] = (0, 1),
             datasets: tuple[str, ...] | None = None, cnn: bool = True, out: str | Path | None = None,
             prefix: str = "meta_optimizer_", threads: int | None = None,
             progress: bool | ProgressCallback = False, command: str | None = None,
             timing_sizes: tuple[int, ...] = (10_000, 100_000), timing_steps: int = 100,
             timing_repeats: int = 5, notes: dict[str, str] | None = None,
             grids: dict[str, tuple[float, ...]] | None = None) -> dict[str, Any]:
    """Compare a learned-optimizer checkpoint with Adam, RMSprop and SGD+momentum on held-out tasks.

    Args:
        checkpoint: ``"pretrained"`` or a checkpoint folder written by :func:`meta_train`.
        data_dir: PMLB-layout folder of the held-out PMLB datasets.
        horizons: step counts at which the optimizers are compared (baselines tuned for each).
        seeds: seeds per (task, optimizer, lr).
        datasets: held-out datasets to use (default: all of :data:`HELD_OUT_DATASETS`).
        cnn: add the CNN task on the 8x8 digits.
        out: folder for ``<prefix>summary.csv``, ``<prefix>curves.csv``, ``<prefix>results.md`` and a
            PNG of the loss curves (nothing written when ``None``).
        threads: torch CPU threads.
        progress: ``True`` logs progress; a callable receives a ``ProgressUpdate`` per run.
        command: the command line, for the report.
        timing_sizes: parameter counts of the reference MLPs timed (learned vs Adam per step).
        notes: extra lines for the report's header (e.g. the machine it ran on).
        grids: the baselines' learning-rate grids (default :data:`LR_GRIDS`).

    Returns:
        The headline numbers (:func:`autometa.neural._report.headline`), plus ``files`` written.
    """
    from datetime import datetime, timezone

    from autometa.errors import InputError
    from autometa.neural import _report
    from autometa.neural._checkpoint import load_network
    from autometa.neural._datasets import EXCLUDED_FROM_META_TRAINING

    if threads is not None:
        torch.set_num_threads(threads)
    horizons = tuple(sorted(set(int(h) for h in horizons)))
    if not horizons or horizons[0] < 1 or not seeds:
        raise InputError("horizons must be positive and at least one seed is needed.")
    names = HELD_OUT_DATASETS if datasets is None else tuple(datasets)
    not_held_out = [n for n in names if n not in EXCLUDED_FROM_META_TRAINING]
    if not_held_out:
        raise InputError(f"{not_held_out} are not held-out datasets; the benchmark only uses datasets that "
                         f"meta-training never saw: {', '.join(HELD_OUT_DATASETS)}.")
    if any(n.startswith("pmlb/") for n in names) and data_dir is None:
        raise InputError("The held-out PMLB datasets need data_dir (a PMLB folder such as ../shared/datasets/pmlb).")
    network, record = load_network(checkpoint)
    tasks = held_out_tasks(data_dir, names, cnn=cnn)
    started = time.perf_counter()
    grids = LR_GRIDS if grids is None else grids
    runs = run_all(tasks, network, horizons, seeds, grids=grids, progress=progress)
    timing = measure_step_cost(network, tasks, timing_sizes, timing_steps, timing_repeats) if timing_sizes else {}
    summary = summarize(runs, horizons)
    head = _report.headline(summary, horizons, timing)
    head["wall_seconds"] = round(time.perf_counter() - started, 1)
    if out is not None:
        meta = {"command": command or "autometa meta-optimizer eval", "date":
                datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "checkpoint": str(checkpoint), "checkpoint trained": f"{record.get('steps_done')} meta-steps "
                f"({record.get('base_steps_done')} base steps), horizons {record.get('config', {}).get('horizons')}, "
                f"{record.get('date')}",
                "tasks": ", ".join(t.name for t in tasks), "seeds": list(seeds),
                "lr grids": {k: list(v) for k, v in grids.items()},
                "divergence": f"loss at T not finite or > {DIVERGENCE_FACTOR} x the minimum of the run's curve up to T",
                "timing": f"median of {timing_repeats} interleaved repeats of {timing_steps} steps (forward, "
                f"backward, optimizer step), batch 128, torch threads {torch.get_num_threads()}, CPU",
                **(notes or {})}
        head = _report.write_report(runs, summary, horizons, out, prefix, timing, meta, head)
        head["files"] = sorted(str(p) for p in Path(out).glob(f"{prefix}*"))
    return head
