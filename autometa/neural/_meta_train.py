"""Meta-training of the learned update rule by truncated backpropagation through long training runs.

Each *trajectory* draws K datasets (never a held-out family), one architecture, one pair of losses,
one mini-batch size, K random initialisations and a *horizon* (100 to 2,000 base steps, see
``MetaTrainConfig.horizons``), and trains the K base networks side by side (:class:`TaskBatch`) with
the rule as their optimizer. The trajectory is cut into unrolls of ``unroll`` steps; after each unroll
the meta-loss

    (1 / unroll) * sum_{t in unroll} mean_k log((L_k(theta_t) + f_k) / (L_k(phi_t) + f_k))

is backpropagated into the rule's weights, which take one Adam step with clipped gradient norm; then
the graph is cut and the trajectory goes on. ``phi_t`` are the weights of a *reference* run, Adam with
lr ``reference_lr`` (0.01: what the untrained rule is) from the same initialisation on the same
mini-batches, and ``L_k`` is task k's loss on the mini-batch of step t (drawn before the step, so an
unbiased sample of the training loss). So 0 means "as good as Adam(0.01)" on every task, every task
counts the same, and the paired batches cancel most of the mini-batch noise in the value. The floor
``f_k = loss_floor * L_k(theta_0)`` (0.1% of the task's initial full training loss) stops tasks that
go to ~0 loss from dominating: the gradient of ``log L`` is ``grad L / L``, which grows without bound,
and is mostly mini-batch noise, as ``L -> 0``. (Measured on the first shipped checkpoint, trained with
``log(L / L_0)`` clamped at 1e-6, a 3x faster lr for the output scale and linear path and meta-lr 3e-3:
on held-IN tasks it ended 2.4x / 8.0x above the best Adam of lr {3e-3, 1e-2, 3e-2} at 100 / 1,000
steps, while its own initialisation, Adam(0.01), was 1.65x at 1,000; see issue 16.) ``reference_lr=None``
and ``loss_floor=0`` give the old meta-loss, ``log(L_k(theta_t) / L_k(theta_0))``. The rule sees the
step count through its progress inputs, so the late unrolls of long trajectories teach it what to do
late in training (anneal), which a 100-step horizon never did. As in Andrychowicz et al. (2016) the
base gradients are inputs, not differentiated through.

The meta-gradients are noisy (4 random tasks per step) and the rule's quality on held-in tasks swings
from checkpoint to checkpoint (on the first run of this objective, geometric-mean loss ratios to the
best Adam at 1,000 steps of 1.5x, 1.2x and 3.7x at meta-steps 2,136, 3,036 and 4,000), so
``average_from`` can make the written weights the running mean of the rule's weights at the end of
every trajectory after that fraction of the steps (stochastic weight averaging; training itself goes
on from the raw weights).

With ``cnn_share > 0`` that fraction of the trajectories trains K small convnets on image problems
instead (:mod:`autometa.neural._cnn_tasks`: generated shapes, and Omniglot's background alphabets when
``images`` names its folder; never the held-out handwritten digits). Whether a trajectory is a CNN one is
drawn from its own random stream, so every MLP trajectory is the one a run without CNNs would draw at
that meta-step.

A curriculum allows only the shortest horizon at first and all of them after a fraction
``curriculum`` of the steps. Random streams are derived from ``(seed, step)`` at every trajectory
start, so a run resumed from a checkpoint continues exactly as the uninterrupted run would.
"""

from __future__ import annotations

import math
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
from autometa.neural._cnn_tasks import IMAGE_SIZES, TRAIN_CNN_ARCHITECTURES, ImagePool, sample_cnn_tasks
from autometa.neural._common import resolve_device
from autometa.neural._datasets import (
    EXCLUDED_FROM_META_TRAINING,
    HELD_OUT_FAMILIES,
    TaskData,
    load_pool,
    meta_training_names,
)
from autometa.neural._progress import LossProgress, ProgressCallback, logger
from autometa.neural._rule import LearnedRule
from autometa.neural._tasks import LOSSES, TRAIN_ARCHITECTURES, TaskBatch

__all__ = ["MetaTrainConfig", "meta_train", "resolve_device", "evaluate_meta_loss"]


@dataclass
class MetaTrainConfig:
    """Settings of a meta-training run (all recorded in the checkpoint's ``record.json``)."""

    steps: int = 2000  # meta-gradient steps, one per unroll
    unroll: int = 25
    horizons: tuple[int, ...] = (100, 300, 1000, 2000)  # base steps per trajectory, sampled uniformly
    tasks_per_step: int = 4  # K base networks trained side by side
    meta_lr: float = 1e-3
    fast_lr_factor: float = 1.0  # the output scale and the linear path learn this much faster
    reference_lr: float | None = 0.01  # the meta-loss is relative to Adam with this lr (None: to L(theta_0))
    loss_floor: float = 1e-3  # f_k = loss_floor x task k's initial loss, added to both losses
    average_from: float | None = None  # written weights: mean over trajectory ends after this fraction of steps
    clip_norm: float = 1.0
    curriculum: float = 0.2  # fraction of the steps after which every horizon may be drawn
    batch_sizes: tuple[int, ...] = (32, 64, 128)
    max_features: int = 32
    max_rows: int = 1024
    seed: int = 0
    cnn_share: float = 0.0  # fraction of trajectories on small CNNs over image problems (0: MLPs only)
    checkpoint_every: int = 50
    network: dict[str, Any] = field(default_factory=dict)  # LearnedRule keyword arguments

    def validate(self) -> None:
        if self.unroll < 1 or not self.horizons or min(self.horizons) < self.unroll:
            raise InputError(f"Need 1 <= unroll <= every horizon, got unroll={self.unroll}, "
                             f"horizons={self.horizons}.")
        if self.steps < 1 or self.tasks_per_step < 1:
            raise InputError("steps and tasks_per_step must be at least 1.")
        if self.reference_lr is not None and not self.loss_floor > 0:
            raise InputError("A meta-loss relative to an Adam reference needs loss_floor > 0.")
        if not 0.0 <= self.cnn_share <= 1.0:
            raise InputError(f"cnn_share must be in [0, 1], got {self.cnn_share}.")


def meta_train(out: str | Path, config: MetaTrainConfig | None = None, *, data_dir: str | Path | None = None,
               datasets: list[str] | None = None, resume: bool = False, device: str = "auto",
               progress: bool | ProgressCallback = False, command: str | None = None,
               time_limit: float | None = None, images: str | Path | None = None) -> dict[str, Any]:
    """Meta-train the learned update rule and write the checkpoint folder ``out``.

    Args:
        out: checkpoint folder (``optimizer.pt``, ``record.json``, ``training_state.pt``).
        config: the run's settings (defaults: :class:`MetaTrainConfig`).
        data_dir: a PMLB-layout folder whose datasets join the task distribution.
        datasets: explicit dataset names (``pmlb/x``, ``keel/x``, ``sklearn/x``) instead of all of them;
            held-out ones (any member of a held-out family) are refused.
        resume: continue from ``out/training_state.pt``.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``...
        progress: ``True`` logs progress (logger ``autometa.neural``); a callable receives a
            :class:`~autometa.neural._progress.ProgressUpdate` after every meta-step.
        command: the command line, for the record.
        time_limit: stop (with a checkpoint) at the first trajectory end after this many seconds;
            continue later with ``resume=True``.
        images: the Omniglot folder (its background zips) for the CNN trajectories (``config.cnn_share``);
            ``None``: generated images only.

    Returns:
        The training record (also written to ``out/record.json``).
    """
    config = config or MetaTrainConfig()
    config.validate()
    out, dev = Path(out), resolve_device(device)
    names = list(datasets) if datasets is not None else meta_training_names(data_dir)
    forbidden = [n for n in names if n in EXCLUDED_FROM_META_TRAINING]
    if forbidden:
        raise InputError(f"Datasets {forbidden} are held out for evaluation and cannot be used for meta-training.")
    if not names:
        raise InputError("No datasets to meta-train on; pass data_dir (a PMLB folder) or dataset names.")

    with torch.random.fork_rng(devices=[]):  # seeded initial weights, global RNG left alone
        torch.manual_seed(config.seed)
        net = LearnedRule(**config.network).to(dev)
    fast_names = ("log_scale", "linear")
    fast = [p for name, p in net.named_parameters() if name in fast_names]
    slow = [p for name, p in net.named_parameters() if name not in fast_names]
    meta_opt = torch.optim.Adam([{"params": slow}, {"params": fast, "lr": config.meta_lr * config.fast_lr_factor}],
                                lr=config.meta_lr)
    step, history, elapsed = 0, [], 0.0
    average: dict[str, torch.Tensor] | None = None  # running mean of the weights (average_from)
    n_average = 0
    if resume:
        saved = _checkpoint.load_training_state(out)
        # The step budget may grow on resume; everything else must match the interrupted run.
        free = ("steps", "checkpoint_every")
        # Settings added since the state was written take their defaults (cnn_share: 0, what it ran with).
        saved_config = {**_jsonable_config(MetaTrainConfig()), **saved["config"]}
        if {k: v for k, v in saved_config.items() if k not in free} != {
                k: v for k, v in _jsonable_config(config).items() if k not in free}:
            raise InputError(f"Cannot resume '{out}': it was started with other settings ({saved['config']}).")
        net.load_state_dict(saved["network"])
        meta_opt.load_state_dict(saved["meta_optimizer"])
        step, history, elapsed = int(saved["step"]), list(saved["history"]), float(saved["elapsed_s"])
        average, n_average = saved.get("average"), int(saved.get("n_average", 0))

    loading = LossProgress("loading datasets", len(names), enabled=progress, info="")
    pool = load_pool(names, data_dir, max_rows=config.max_rows, seed=config.seed, cache=out / "task_cache.npz",
                     progress=lambda _msg: loading.advance(math.nan))
    if len(pool) < config.tasks_per_step:
        raise InputError(f"Only {len(pool)} usable datasets for {config.tasks_per_step} tasks per step; "
                         "lower tasks_per_step or add datasets.")
    image_pool = ImagePool(images) if config.cnn_share > 0 else None
    record_base = {
        "command": command, "config": _jsonable_config(config), "device": str(dev),
        "datasets": [d.name for d in pool], "held_out": sorted(EXCLUDED_FROM_META_TRAINING),
        "held_out_families": {k: list(v) for k, v in HELD_OUT_FAMILIES.items()},
        "architectures": [a.name for a in TRAIN_ARCHITECTURES], "losses": {k: list(v) for k, v in LOSSES.items()},
        "cnn_tasks": None if image_pool is None else {
            "share_of_trajectories": config.cnn_share, "sources": image_pool.sources,
            "architectures": [a.name for a in TRAIN_CNN_ARCHITECTURES], "image_sizes": list(IMAGE_SIZES),
            "losses": list(LOSSES["classification"]),
            "excluded": "the held-out handwritten_digits family (scikit-learn's 8x8 digits, optdigits, pendigits, "
                        "the mfeat feature sets): no image of it is used; the benchmark's digits CNN shape "
                        "(cnn8x16-k3s21-relu) is not among the architectures"},
        "versions": {"autometa": _autometa_version(), "torch": torch.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
    }

    def save() -> dict[str, Any]:
        tail = [h["meta_loss"] for h in history[-100:] if math.isfinite(h["meta_loss"])]
        record = {**record_base, "steps_done": step, "wall_seconds": round(elapsed, 1),
                  "base_steps_done": int(sum(config.unroll for _ in history)),
                  "final_meta_loss": float(np.mean(tail)) if tail else None,
                  "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        if average is not None:
            record["averaged_trajectories"] = n_average
            written = LearnedRule(**config.network).to(dev)
            written.load_state_dict(average)
        _checkpoint.save_network(out, net if average is None else written, record)
        _checkpoint.save_training_state(out, {
            "config": _jsonable_config(config), "network": net.state_dict(), "meta_optimizer": meta_opt.state_dict(),
            "step": step, "history": history, "elapsed_s": elapsed, "average": average, "n_average": n_average})
        return record

    bar = LossProgress("meta-training", config.steps, enabled=progress, completed=step, smoothing=0.98,
                       info="meta-loss {ema:.4f}  horizon {horizon}")
    last_saved, started = step, time.perf_counter()
    try:
        while step < config.steps:
            t0 = time.perf_counter()
            step = _trajectory(net, meta_opt, pool, config, step, dev, history, bar, images=image_pool)
            elapsed += time.perf_counter() - t0
            if config.average_from is not None and step > config.average_from * config.steps:
                n_average += 1
                with torch.no_grad():
                    current = {k: v.detach().clone() for k, v in net.state_dict().items()}
                    average = current if average is None else {
                        k: average[k] + (current[k] - average[k]) / n_average for k in average}
            out_of_time = time_limit is not None and time.perf_counter() - started >= time_limit
            if step - last_saved >= config.checkpoint_every or step >= config.steps or out_of_time:
                save()
                last_saved = step
                logger.info("meta-training checkpoint at step %d (%.0f s)", step, elapsed)
            if out_of_time:
                break
    finally:
        bar.close()
    return save()


def sample_horizon(config: MetaTrainConfig, step: int, rng: np.random.Generator) -> int:
    """The trajectory length at meta-step ``step``: the shortest horizon during the curriculum's start,
    then any of them, growing with the step (uniform over those allowed)."""
    horizons = sorted(config.horizons)
    ramp = max(1, int(config.curriculum * config.steps))
    allowed = horizons[:1 + min(len(horizons) - 1, (len(horizons) - 1) * step // ramp)]
    return int(rng.choice(allowed))


def _trajectory(net: LearnedRule, meta_opt: torch.optim.Optimizer | None, pool: list[TaskData],
                config: MetaTrainConfig, step: int, dev: torch.device, history: list, bar: LossProgress | None,
                horizon: int | None = None, images: ImagePool | None = None) -> int:
    """Run one trajectory (several unrolls, one meta-update each); return the new step count.

    Without ``meta_opt`` nothing is updated: the meta-losses are only recorded (evaluation). A CNN
    trajectory (``config.cnn_share``) draws its problems from ``images`` (generated shapes if ``None``).
    """
    rng = np.random.default_rng([config.seed, step])
    gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
    horizon = sample_horizon(config, step, rng) if horizon is None else horizon
    cnn_rng = np.random.default_rng([config.seed, step, 1])  # its own stream: MLP trajectories stay as they were
    tasks: TaskBatch
    if config.cnn_share > 0 and cnn_rng.random() < config.cnn_share:
        tasks = sample_cnn_tasks(images or ImagePool(), config.tasks_per_step, tuple(config.batch_sizes), cnn_rng,
                                 device=dev, max_rows=config.max_rows)
    else:
        chosen = rng.choice(len(pool), size=config.tasks_per_step, replace=False)
        arch = TRAIN_ARCHITECTURES[rng.integers(len(TRAIN_ARCHITECTURES))]
        losses = (str(rng.choice(LOSSES["classification"])), str(rng.choice(LOSSES["regression"])))
        batch_size = int(rng.choice(config.batch_sizes))
        tasks = TaskBatch([pool[i] for i in chosen], arch, batch_size, rng, device=dev,
                          max_features=config.max_features, max_rows=config.max_rows, losses=losses)
    theta = tasks.init_params(gen)
    with torch.no_grad():
        initial = tasks.full_loss(theta).clamp(min=1e-3)
    state = net.initial_state(len(tasks.live_index), device=dev)
    reference = None if config.reference_lr is None else _AdamReference(theta, config.reference_lr)
    for _ in range(horizon // config.unroll):
        if meta_opt is not None and step >= config.steps:
            break
        meta_loss, theta, state = _unroll(net, tasks, theta, state, initial, gen, config.unroll,
                                          differentiable=meta_opt is not None, reference=reference,
                                          floor=config.loss_floor)
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
        history.append({"step": step, "meta_loss": value, "horizon": horizon, "t": int(state["step"]),
                        "arch": tasks.arch.name})
        if bar is not None:
            bar.advance(value, horizon=horizon)
        if not finite:  # a base network blew up: drop the rest of this trajectory
            break
    return step


class _AdamReference:
    """The reference run of a trajectory: ``torch.optim.Adam`` (its defaults but ``lr``) on the same tasks,
    from the same initial weights, stepped on the same mini-batches as the rule's run."""

    def __init__(self, theta: torch.Tensor, lr: float) -> None:
        self.phi = theta.detach().clone().requires_grad_(True)
        self.optimizer = torch.optim.Adam([self.phi], lr=lr)

    def loss_and_step(self, tasks: TaskBatch, x: torch.Tensor, y_cls: torch.Tensor, y_reg: torch.Tensor,
                      step: bool) -> torch.Tensor:
        """Per-task loss of the current weights on this batch; then (if ``step``) one Adam step on it."""
        with torch.enable_grad() if step else torch.no_grad():
            loss = tasks.loss(self.phi, x, y_cls, y_reg)
        if step:
            self.optimizer.zero_grad(set_to_none=True)
            loss.sum().backward()
            self.optimizer.step()
        return loss.detach()


def step_meta_loss(loss: torch.Tensor, initial: torch.Tensor, reference_loss: torch.Tensor | None,
                   floor: float) -> torch.Tensor:
    """One step's meta-loss term (mean over tasks): ``log((L + f) / (L_ref + f))`` with
    ``f = floor * initial``, or ``log(L / initial)`` (clamped at 1e-6) without a reference."""
    if reference_loss is None:
        return torch.log(((loss + floor * initial) / initial).clamp(min=1e-6)).mean()
    f = floor * initial
    return (torch.log(loss + f) - torch.log(reference_loss + f)).mean()


def _unroll(net: LearnedRule, tasks: TaskBatch, theta: torch.Tensor, state: dict, initial: torch.Tensor,
            gen: torch.Generator, unroll: int, differentiable: bool, reference: _AdamReference | None = None,
            floor: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """``unroll`` optimizer steps from ``theta`` (and from the reference run's weights alongside); the
    meta-loss and the (graph-cut) end state."""
    theta = theta.detach().requires_grad_(True)
    state = {k: v.detach() for k, v in state.items()}
    meta_loss = torch.zeros((), device=theta.device)
    for t in range(unroll + 1):
        x, y_cls, y_reg = tasks.sample_batch(gen)
        loss = tasks.loss(theta, x, y_cls, y_reg)
        # the reference steps on the same batch; its last step is taken at t=0 of the next unroll
        ref = None if reference is None else reference.loss_and_step(tasks, x, y_cls, y_reg, step=t < unroll)
        if t > 0:  # theta_0 of the unroll does not depend on the rule's weights
            meta_loss = meta_loss + step_meta_loss(loss, initial, ref, floor)
        if t == unroll:
            break
        (grad,) = torch.autograd.grad(loss.sum(), theta, retain_graph=differentiable)
        with torch.set_grad_enabled(differentiable):
            update, state = net(grad.reshape(-1)[tasks.live_index], state)
            new_theta = torch.index_add(theta.reshape(-1), 0, tasks.live_index, update).view_as(theta)
        if not differentiable:
            new_theta = new_theta.detach().requires_grad_(True)
        theta = new_theta
    meta_loss = meta_loss / unroll
    return meta_loss.detach() if not differentiable else meta_loss, theta.detach(), {
        k: v.detach() for k, v in state.items()}


def evaluate_meta_loss(net: LearnedRule, pool: list[TaskData], config: MetaTrainConfig, trajectories: int = 4,
                       seed: int = 10_000, device: str | torch.device = "cpu", horizon: int | None = None) -> float:
    """Mean meta-loss of ``net`` over fixed trajectories of ``horizon`` steps (default: the longest
    horizon) without any update: lower is better."""
    history: list = []
    fixed = MetaTrainConfig(**{**_jsonable_config(config), "seed": seed, "batch_sizes": tuple(config.batch_sizes),
                               "horizons": tuple(config.horizons)})
    for i in range(trajectories):
        _trajectory(net, None, pool, fixed, i, torch.device(device), history, None,
                    horizon=horizon or max(config.horizons))
    return float(np.nanmean([h["meta_loss"] for h in history]))


def _jsonable_config(config: MetaTrainConfig) -> dict[str, Any]:
    d = asdict(config)
    d["batch_sizes"] = list(d["batch_sizes"])
    d["horizons"] = list(d["horizons"])
    return d


def _autometa_version() -> str:
    import autometa

    return autometa.__version__
