"""Meta-training of the coordinatewise LSTM optimizer by truncated backpropagation through time.

Each *trajectory* draws K datasets (never the held-out ones), one architecture, one mini-batch size
and K random initialisations, and trains the K base networks side by side (:class:`TaskBatch`) with
the LSTM as their optimizer for ``horizon`` steps. The trajectory is cut into unrolls of ``unroll``
steps; after each unroll the meta-loss

    (1 / unroll) * sum_{t=1..unroll} mean_k L_k(theta_t) / L_k(theta_0)

(every task's mini-batch loss along the unroll, normalized by its loss at initialisation so that
easy and hard tasks weigh alike) is backpropagated into the LSTM weights, which take one Adam step
with clipped gradient norm; then the graph is cut and the trajectory goes on. As in the paper the
base gradients are inputs to the LSTM, not differentiated through (no second derivatives).

A curriculum grows the trajectory length from one unroll to the full horizon over the first part of
training (Chen et al., 2020: short truncations first are stable, long ones remove the short-horizon
bias). Random streams are derived from ``(seed, step)`` at every trajectory start, so a run resumed
from a checkpoint continues exactly as the uninterrupted run would.
"""

from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from autometa.errors import InputError
from autometa.neural import _checkpoint
from autometa.neural._datasets import TaskData, load_pool, meta_training_names
from autometa.neural._lstm import CoordinateLSTM
from autometa.neural._progress import LossProgress
from autometa.neural._tasks import TRAIN_ARCHITECTURES, TaskBatch


@dataclass
class MetaTrainConfig:
    """Settings of a meta-training run (all recorded in the checkpoint's ``record.json``)."""

    steps: int = 1000  # meta-gradient steps, one per unroll
    unroll: int = 20
    horizon: int = 100  # base-training steps per trajectory once the curriculum is done
    tasks_per_step: int = 8  # K base networks trained side by side
    meta_lr: float = 1e-3
    fast_lr_factor: float = 10.0  # the output scale and the linear skip path learn this much faster
    clip_norm: float = 1.0
    curriculum: float = 0.3  # fraction of the steps over which the trajectory grows to the horizon
    batch_sizes: tuple[int, ...] = (32, 64, 128)
    max_features: int = 32
    max_rows: int = 1024
    seed: int = 0
    checkpoint_every: int = 25
    network: dict[str, Any] = field(default_factory=dict)  # CoordinateLSTM keyword arguments

    def validate(self) -> None:
        if self.unroll < 1 or self.horizon < self.unroll:
            raise InputError(f"Need 1 <= unroll <= horizon, got unroll={self.unroll}, horizon={self.horizon}.")
        if self.steps < 1 or self.tasks_per_step < 1:
            raise InputError("steps and tasks_per_step must be at least 1.")


def resolve_device(device: str) -> torch.device:
    """``"auto"`` is CUDA when available, else CPU; anything else is passed to ``torch.device``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise InputError(f"Unknown device '{device}'; use auto, cpu or cuda.") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError("device='cuda' was asked for but no CUDA device is available; use --device auto or cpu.")
    return dev


def meta_train(out: str | Path, config: MetaTrainConfig | None = None, *, data_dir: str | Path | None = None,
               datasets: list[str] | None = None, resume: bool = False, device: str = "auto",
               progress: bool = True, command: str | None = None, time_limit: float | None = None) -> dict[str, Any]:
    """Meta-train an LSTM optimizer and write the checkpoint folder ``out``.

    Args:
        out: checkpoint folder (``optimizer.pt``, ``record.json``, ``training_state.pt``).
        config: the run's settings (defaults: :class:`MetaTrainConfig`).
        data_dir: a PMLB-layout folder whose datasets join the task distribution.
        datasets: explicit dataset names (``pmlb/x``, ``keel/x``, ``sklearn/x``) instead of all of them;
            held-out ones are refused.
        resume: continue from ``out/training_state.pt``.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``...
        progress: show a progress bar on stderr.
        command: the command line, for the record.
        time_limit: stop (with a checkpoint) at the first trajectory end after this many seconds;
            continue later with ``resume=True``.

    Returns:
        The training record (also written to ``out/record.json``).
    """
    config = config or MetaTrainConfig()
    config.validate()
    out, dev = Path(out), resolve_device(device)
    names = list(datasets) if datasets is not None else meta_training_names(data_dir)
    forbidden = [n for n in names if n in _held_out()]
    if forbidden:
        raise InputError(f"Datasets {forbidden} are held out for evaluation and cannot be used for meta-training.")
    if not names:
        raise InputError("No datasets to meta-train on; pass data_dir (a PMLB folder) or dataset names.")

    with torch.random.fork_rng(devices=[]):  # seeded initial weights, global RNG left alone
        torch.manual_seed(config.seed)
        net = CoordinateLSTM(**config.network).to(dev)
    # The two global knobs (output scale, linear path) are few and matter most early: a larger meta
    # learning rate lets them move within a short CPU run, the LSTM weights keep the paper's 1e-3.
    fast = [p for name, p in net.named_parameters() if name == "log_scale" or name.startswith("skip.")]
    slow = [p for name, p in net.named_parameters() if not (name == "log_scale" or name.startswith("skip."))]
    meta_opt = torch.optim.Adam([{"params": slow}, {"params": fast, "lr": config.meta_lr * config.fast_lr_factor}],
                                lr=config.meta_lr)
    step, history, elapsed = 0, [], 0.0
    if resume:
        saved = _checkpoint.load_training_state(out)
        # The step budget may grow on resume; everything else must match the interrupted run.
        free = ("steps", "checkpoint_every")
        if {k: v for k, v in saved["config"].items() if k not in free} != {
                k: v for k, v in _jsonable_config(config).items() if k not in free}:
            raise InputError(f"Cannot resume '{out}': it was started with other settings ({saved['config']}).")
        net.load_state_dict(saved["network"])
        meta_opt.load_state_dict(saved["meta_optimizer"])
        step, history, elapsed = int(saved["step"]), list(saved["history"]), float(saved["elapsed_s"])

    pool = _load_pool_with_progress(names, data_dir, config, out, progress)
    if len(pool) < config.tasks_per_step:
        raise InputError(f"Only {len(pool)} usable datasets for {config.tasks_per_step} tasks per step; "
                         "lower --tasks-per-step or add datasets.")
    record_base = {
        "command": command, "config": _jsonable_config(config), "device": str(dev),
        "datasets": [d.name for d in pool], "held_out": sorted(_held_out()),
        "architectures": [a.name for a in TRAIN_ARCHITECTURES],
        "versions": {"autometa": _autometa_version(), "torch": torch.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
    }

    def save() -> dict[str, Any]:
        tail = [h["meta_loss"] for h in history[-50:]]
        record = {**record_base, "steps_done": step, "wall_seconds": round(elapsed, 1),
                  "final_meta_loss": float(np.mean(tail)) if tail else None,
                  "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        _checkpoint.save_network(out, net, record)
        _checkpoint.save_training_state(out, {
            "config": _jsonable_config(config), "network": net.state_dict(), "meta_optimizer": meta_opt.state_dict(),
            "step": step, "history": history, "elapsed_s": elapsed})
        return record

    bar = LossProgress("meta-training", config.steps, enabled=progress, completed=step, smoothing=0.95,
                       info="meta-loss {ema:.4f}  horizon {unrolls} unrolls")
    last_saved, started = step, time.perf_counter()
    try:
        while step < config.steps:
            t0 = time.perf_counter()
            step = _trajectory(net, meta_opt, pool, config, step, dev, history, bar)
            elapsed += time.perf_counter() - t0
            out_of_time = time_limit is not None and time.perf_counter() - started >= time_limit
            if step - last_saved >= config.checkpoint_every or step >= config.steps or out_of_time:
                save()
                last_saved = step
            if out_of_time:
                break
    finally:
        bar.close()
    return save()


def _trajectory(net: CoordinateLSTM, meta_opt: torch.optim.Optimizer | None, pool: list[TaskData],
                config: MetaTrainConfig, step: int, dev: torch.device, history: list, bar: LossProgress | None,
                n_unrolls: int | None = None) -> int:
    """Run one trajectory (several unrolls, one meta-update each); return the new step count.

    Without ``meta_opt`` nothing is updated: the meta-losses are only recorded (evaluation).
    """
    rng = np.random.default_rng([config.seed, step])
    gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
    n_unrolls_max = config.horizon // config.unroll
    if n_unrolls is None:
        ramp = max(1, int(config.curriculum * config.steps))
        n_unrolls = min(n_unrolls_max, 1 + (n_unrolls_max * step) // ramp)
    chosen = rng.choice(len(pool), size=config.tasks_per_step, replace=False)
    arch = TRAIN_ARCHITECTURES[rng.integers(len(TRAIN_ARCHITECTURES))]
    batch_size = int(rng.choice(config.batch_sizes))
    tasks = TaskBatch([pool[i] for i in chosen], arch, batch_size, rng, device=dev,
                      max_features=config.max_features, max_rows=config.max_rows)
    theta = tasks.init_params(gen)
    with torch.no_grad():
        initial = tasks.full_loss(theta).clamp(min=1e-3)
    state = net.initial_state(len(tasks.live_index), device=dev)
    for _ in range(n_unrolls):
        if meta_opt is not None and step >= config.steps:
            break
        meta_loss, theta, state = _unroll(net, tasks, theta, state, initial, gen, config.unroll,
                                          differentiable=meta_opt is not None)
        finite = bool(torch.isfinite(meta_loss))
        if meta_opt is not None:
            meta_opt.zero_grad(set_to_none=True)
            if finite:
                meta_loss.backward()
                norm = torch.nn.utils.clip_grad_norm_(net.parameters(), config.clip_norm)
                finite = bool(torch.isfinite(norm))
                if finite:
                    meta_opt.step()
        step += 1
        value = float(meta_loss.detach()) if finite else float("nan")
        history.append({"step": step, "meta_loss": value, "unrolls": n_unrolls, "arch": arch.name})
        if bar is not None:
            bar.advance(value, unrolls=n_unrolls)
        if not finite:  # a base network blew up: drop the rest of this trajectory
            break
    return step


def _unroll(net: CoordinateLSTM, tasks: TaskBatch, theta: torch.Tensor, state: dict, initial: torch.Tensor,
            gen: torch.Generator, unroll: int, differentiable: bool) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """``unroll`` optimizer steps from ``theta``; the meta-loss and the (graph-cut) end state."""
    theta = theta.detach().requires_grad_(True)
    state = {k: v.detach() for k, v in state.items()}
    fused = None
    if not differentiable:
        with torch.no_grad():
            fused = net.fused_weights()
    meta_loss = torch.zeros((), device=theta.device)
    for t in range(unroll + 1):
        x, y_cls, y_reg = tasks.sample_batch(gen)
        loss = tasks.loss(theta, x, y_cls, y_reg)
        if t > 0:  # theta_0 of the unroll does not depend on the LSTM weights
            meta_loss = meta_loss + (loss / initial).mean()
        if t == unroll:
            break
        (grad,) = torch.autograd.grad(loss.sum(), theta, retain_graph=differentiable)
        with torch.set_grad_enabled(differentiable):
            update, state = net(grad.reshape(-1)[tasks.live_index], state, fused)
            new_theta = torch.index_add(theta.reshape(-1), 0, tasks.live_index, update).view_as(theta)
        if not differentiable:
            new_theta = new_theta.detach().requires_grad_(True)
        theta = new_theta
    meta_loss = meta_loss / unroll
    return meta_loss.detach() if not differentiable else meta_loss, theta.detach(), {
        k: v.detach() for k, v in state.items()}


def evaluate_meta_loss(net: CoordinateLSTM, pool: list[TaskData], config: MetaTrainConfig,
                       trajectories: int = 4, seed: int = 10_000, device: str | torch.device = "cpu") -> float:
    """Mean meta-loss of ``net`` over fixed full-horizon trajectories (no update): lower is better."""
    history: list = []
    fixed = MetaTrainConfig(**{**_jsonable_config(config), "seed": seed, "batch_sizes": tuple(config.batch_sizes)})
    for i in range(trajectories):
        _trajectory(net, None, pool, fixed, i, torch.device(device), history, None,
                    n_unrolls=config.horizon // config.unroll)
    return float(np.mean([h["meta_loss"] for h in history]))


def _load_pool_with_progress(names, data_dir, config, out, progress) -> list[TaskData]:
    from rich.progress import Progress

    from autometa._cli._common import stderr_console

    with Progress(console=stderr_console(), disable=not progress, transient=True) as bar:
        job = bar.add_task("loading datasets", total=len(names))
        return load_pool(names, data_dir, max_rows=config.max_rows, seed=config.seed,
                         cache=out / "task_cache.npz", progress=lambda _msg: bar.advance(job))


def _held_out() -> frozenset[str]:
    from autometa.neural._datasets import EXCLUDED_FROM_META_TRAINING

    return EXCLUDED_FROM_META_TRAINING


def _jsonable_config(config: MetaTrainConfig) -> dict[str, Any]:
    d = asdict(config)
    d["batch_sizes"] = list(d["batch_sizes"])
    return d


def _autometa_version() -> str:
    import autometa

    return autometa.__version__
