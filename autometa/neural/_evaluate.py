"""Learned optimizer vs hand-designed ones on held-out base-network training tasks.

Every run trains an ordinary ``torch.nn.Sequential`` MLP with a real ``torch.optim`` optimizer (the
learned one through :class:`LearnedOptimizer`, exactly as a user would), on one held-out dataset with
one held-out architecture, for ``long_factor * horizon`` steps of mini-batch training. The full
training loss is recorded along the way; the test score (balanced accuracy or R2) at ``horizon`` and
at the end. Mini-batches and initial weights depend only on the seed, so all optimizers see the same
ones. Baselines get their learning rate tuned per task on a grid, separately for each reported step
count: the lr with the lowest mean training loss over the seeds at that step (an oracle tuning that
favours the baselines).
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
from autometa.neural._lstm import CoordinateLSTM
from autometa.neural._mlp import make_mlp
from autometa.neural._optimizer import LearnedOptimizer
from autometa.neural._tasks import HELD_OUT_ARCHITECTURES, Architecture

#: Learning-rate grids of the baselines (log-spaced, wide enough that the best is interior).
LR_GRIDS: dict[str, tuple[float, ...]] = {
    "adam": (3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1),
    "rmsprop": (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1),
    "sgd_momentum": (3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0, 3.0),
}


@dataclass
class Task:
    """A held-out training problem: a dataset and an architecture."""

    data: TaskData
    arch: Architecture
    batch_size: int = 128

    @property
    def name(self) -> str:
        return f"{self.data.name} @ {self.arch.name}"


def held_out_tasks(data_dir: str | Path | None, datasets: tuple[str, ...] = HELD_OUT_DATASETS,
                   max_rows: int = 2048) -> list[Task]:
    """The benchmark tasks: each held-out dataset paired with a held-out architecture (in turn)."""
    tasks = []
    for i, name in enumerate(datasets):
        data = load_task_data(name, data_dir, max_rows=max_rows, seed=0)
        tasks.append(Task(data, HELD_OUT_ARCHITECTURES[i % len(HELD_OUT_ARCHITECTURES)]))
    return tasks


def arch_mlp(n_in: int, arch: Architecture, n_out: int) -> nn.Sequential:
    """A plain ``nn.Sequential`` MLP of the architecture's shape."""
    return make_mlp(n_in, arch.hidden, n_out, arch.activation)


def make_optimizer(name: str, params, lr: float, network: CoordinateLSTM | None = None) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    if name == "sgd_momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    if name == "learned":
        return LearnedOptimizer(params, scale=lr, network=network)
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


def record_steps(total: int) -> list[int]:
    """Steps at which the full training loss is recorded: 0, then ~12 per decade up to ``total``."""
    steps = {0, total}
    steps.update(int(round(s)) for s in np.logspace(0, math.log10(total), 12 * max(1, round(math.log10(total)))))
    return sorted(s for s in steps if s <= total)


def train_run(task: Task, optimizer: str, lr: float, steps: int, seed: int, network: CoordinateLSTM | None = None,
              score_at: tuple[int, ...] = ()) -> dict[str, Any]:
    """Train one network; return its loss curve (full training loss at :func:`record_steps`) and scores."""
    data = task.data
    torch.manual_seed(seed)
    model = arch_mlp(data.n_features, task.arch, data.n_outputs)
    opt = make_optimizer(optimizer, model.parameters(), lr, network)
    X = torch.from_numpy(data.X_train)
    y = torch.from_numpy(data.y_train)
    loss_fn = _loss_fn(data)
    gen = torch.Generator().manual_seed(10_000 + seed)
    curve, scores = {}, {}
    marks = set(record_steps(steps)) | set(score_at)  # the compared step counts are always recorded
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


def evaluate_optimizers(tasks: list[Task], network: CoordinateLSTM, horizon: int = 100, long_factor: int = 10,
                        seeds: tuple[int, ...] = (0, 1, 2), grids: dict[str, tuple[float, ...]] | None = None,
                        progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """All runs: one row per (task, optimizer, lr, seed, recorded step) with train loss and test score."""
    grids = LR_GRIDS if grids is None else grids
    total = horizon * long_factor
    plan = [("learned", 1.0)] + [(name, lr) for name, grid in grids.items() for lr in grid]
    rows = []
    for task in tasks:
        for name, lr in plan:
            for seed in seeds:
                run = train_run(task, name, lr, total, seed, network, score_at=(horizon, total))
                initial = run["curve"][0]
                for t, value in run["curve"].items():
                    rows.append({"task": task.name, "dataset": task.data.name, "arch": task.arch.name,
                                 "task_type": task.data.task, "optimizer": name, "lr": lr, "seed": seed, "step": t,
                                 "train_loss": value, "initial_loss": initial,
                                 "test_score": run["scores"].get(t, float("nan"))})
                if progress is not None:
                    progress(f"{task.name} {name} lr={lr:g} seed={seed}")
    return pd.DataFrame(rows)


def summarize(runs: pd.DataFrame, horizon: int, long_factor: int = 10) -> pd.DataFrame:
    """Per task, optimizer and step count (T and long_factor*T): the tuned lr and its mean results.

    A run counts as diverged when its training loss is not finite, or ends above its initial loss.
    """
    out = []
    for T in (horizon, horizon * long_factor):
        at = runs[runs["step"] == T]
        last = runs.sort_values("step").groupby(["task", "optimizer", "lr", "seed"]).tail(1)
        for (task, opt), grp in at.groupby(["task", "optimizer"]):
            by_lr = grp.groupby("lr")["train_loss"].mean().replace(np.nan, np.inf)
            best_lr = float(by_lr.idxmin())
            edge = opt != "learned" and best_lr in (float(by_lr.index.min()), float(by_lr.index.max()))
            best = grp[grp["lr"] == best_lr]
            stopped = last[(last["task"] == task) & (last["optimizer"] == opt) & (last["lr"] == best_lr)]
            diverged = int(((~np.isfinite(stopped["train_loss"])) | (stopped["step"] < T)
                            | (stopped["train_loss"] > stopped["initial_loss"])).sum()) if T > horizon else int(
                (~np.isfinite(best["train_loss"]) | (best["train_loss"] > best["initial_loss"])).sum())
            out.append({"task": task, "dataset": grp["dataset"].iloc[0], "arch": grp["arch"].iloc[0],
                        "steps": T, "optimizer": opt, "lr": best_lr,
                        "train_loss": float(best["train_loss"].mean()),
                        "train_loss_std": float(best["train_loss"].std(ddof=0)),
                        "test_score": float(best["test_score"].mean()),
                        "initial_loss": float(best["initial_loss"].mean()), "diverged_seeds": diverged,
                        "lr_at_grid_edge": bool(edge)})
    return pd.DataFrame(out)


def time_per_step(task: Task, network: CoordinateLSTM, optimizers: tuple[str, ...] = ("learned", "adam"),
                  steps: int = 200, repeats: int = 7) -> dict[str, float]:
    """Median wall seconds per training step (forward, backward, optimizer step) on the same network.

    Optimizers are timed in turn within each repeat, so a busy machine slows them alike.
    """
    times: dict[str, list[float]] = {name: [] for name in optimizers}
    X, y = torch.from_numpy(task.data.X_train), torch.from_numpy(task.data.y_train)
    loss_fn = _loss_fn(task.data)
    for r in range(repeats):
        for name in optimizers:
            torch.manual_seed(r)
            model = arch_mlp(task.data.n_features, task.arch, task.data.n_outputs)
            opt = make_optimizer(name, model.parameters(), 1.0 if name == "learned" else 1e-3, network)
            batches = [torch.randint(len(X), (task.batch_size,)) for _ in range(steps + 10)]
            for i, idx in enumerate(batches):
                if i == 10:  # the first steps allocate optimizer state
                    start = time.perf_counter()
                loss = loss_fn(model(X[idx]), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            times[name].append((time.perf_counter() - start) / steps)
    return {name: float(np.median(ts)) for name, ts in times.items()}


def run_benchmark(checkpoint: str | Path = "pretrained", *, data_dir: str | Path | None, horizon: int = 100,
                  long_factor: int = 10, seeds: tuple[int, ...] = (0, 1, 2), datasets: tuple[str, ...] | None = None,
                  out: str | Path | None = None, prefix: str = "meta_optimizer_", threads: int | None = None,
                  progress: bool = True, command: str | None = None, timing_steps: int = 200,
                  timing_repeats: int = 7, timing_tasks: int = 4) -> dict[str, Any]:
    """Evaluate a checkpoint on the held-out tasks; write CSV/Markdown/PNG under ``out`` when given.

    Returns the headline numbers (:func:`autometa.neural._report.headline`), plus ``files`` written.
    """
    from datetime import datetime, timezone

    from rich.progress import Progress

    from autometa._cli._common import stderr_console
    from autometa.errors import InputError
    from autometa.neural import _report
    from autometa.neural._checkpoint import load_network
    from autometa.neural._datasets import EXCLUDED_FROM_META_TRAINING

    if threads is not None:
        torch.set_num_threads(threads)
    if horizon < 1 or long_factor < 1 or not seeds:
        raise InputError("horizon, long_factor and seeds must be at least 1.")
    names = HELD_OUT_DATASETS if datasets is None else tuple(datasets)
    not_held_out = [n for n in names if n not in EXCLUDED_FROM_META_TRAINING]
    if not_held_out:
        raise InputError(f"{not_held_out} are not held-out datasets; the benchmark only uses datasets that "
                         f"meta-training never saw: {', '.join(HELD_OUT_DATASETS)}.")
    if any(n.startswith("pmlb/") for n in names) and data_dir is None:
        raise InputError("The held-out PMLB datasets need --data-dir (a PMLB folder such as ../shared/datasets/pmlb).")
    network, record = load_network(checkpoint)
    tasks = held_out_tasks(data_dir, names)
    plan_size = len(tasks) * len(seeds) * (1 + sum(len(g) for g in LR_GRIDS.values()))
    with Progress(console=stderr_console(), disable=not progress, transient=True) as bar:
        job = bar.add_task("training runs", total=plan_size)
        runs = evaluate_optimizers(tasks, network, horizon, long_factor, seeds,
                                   progress=lambda _msg: bar.advance(job))
        bar.update(job, description="timing")
        timing = {}
        for task in tasks[:timing_tasks]:  # networks of different shapes and sizes
            n_params = sum(p.numel() for p in arch_mlp(task.data.n_features, task.arch, task.data.n_outputs).parameters())
            timing[task.name] = {**time_per_step(task, network, steps=timing_steps, repeats=timing_repeats),
                                 "n_params": n_params}
    summary = summarize(runs, horizon, long_factor)
    head = _report.headline(summary, horizon, timing)
    if out is not None:
        meta = {"command": command or "autometa meta-optimizer eval", "date":
                datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "checkpoint": str(checkpoint), "checkpoint trained": f"{record.get('steps_done')} meta-steps, "
                f"horizon {record.get('config', {}).get('horizon')}, {record.get('date')}",
                "tasks": ", ".join(t.name for t in tasks), "seeds": list(seeds),
                "lr grids": {k: list(v) for k, v in LR_GRIDS.items()},
                "timing": f"median of {timing_repeats} interleaved repeats of {timing_steps} steps (forward, "
                f"backward, optimizer step), batch {tasks[0].batch_size}, torch threads {torch.get_num_threads()}"}
        head = _report.write_report(runs, summary, horizon, out, prefix, timing, meta)
        head["files"] = sorted(str(p) for p in Path(out).glob(f"{prefix}*"))
    return head
