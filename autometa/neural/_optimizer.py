"""``LearnedOptimizer``: the meta-trained LSTM update rule as a drop-in ``torch.optim.Optimizer``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch

from autometa.errors import InputError
from autometa.neural._checkpoint import load_network
from autometa.neural._lstm import CoordinateLSTM

_NET_KEY = "learned_network"


class LearnedOptimizer(torch.optim.Optimizer):
    """A coordinatewise LSTM optimizer (Andrychowicz et al., 2016) usable in any training loop.

    >>> opt = LearnedOptimizer(model.parameters())          # the pretrained update rule
    >>> loss.backward(); opt.step(); opt.zero_grad()

    Every coordinate of every parameter keeps its own LSTM state; the LSTM weights are shared and
    frozen (they were meta-trained, see :func:`autometa.neural.meta_train`).

    Args:
        params: parameters or parameter groups, as for any torch optimizer.
        checkpoint: ``"pretrained"`` (the checkpoint shipped with autometa), a checkpoint folder
            written by ``autometa meta-optimizer train``, or ``None`` for an untrained network (which
            starts out equal to Adam with learning rate 0.01).
        scale: multiplies every update, like a learning-rate multiplier (1.0 = as meta-trained).
        network: an in-memory :class:`CoordinateLSTM` to use instead of ``checkpoint``.

    ``state_dict()`` holds the per-coordinate states *and* the LSTM weights, so
    ``load_state_dict`` restores the optimizer exactly, whatever checkpoint it was built with.
    """

    def __init__(self, params: Iterable[Any], checkpoint: str | Path | None = "pretrained", scale: float = 1.0,
                 *, network: CoordinateLSTM | None = None) -> None:
        if not (isinstance(scale, (int, float)) and scale > 0):
            raise InputError(f"LearnedOptimizer scale must be a positive number, got {scale!r}.")
        super().__init__(params, {"scale": float(scale)})
        if network is not None:
            self.network = network
            self.record: dict[str, Any] = {}
        elif checkpoint is None:
            self.network, self.record = CoordinateLSTM(), {}
        else:
            self.network, self.record = load_network(checkpoint)
        for p in self.network.parameters():
            p.requires_grad_(False)
        self.network.eval()

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """Apply one LSTM update to every parameter that has a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if any(p.grad.is_sparse for p in params):
                raise RuntimeError("LearnedOptimizer does not support sparse gradients.")
            # One LSTM call per device for all coordinates of the group: per-call overhead, not
            # arithmetic, dominates the cost of a small coordinatewise LSTM.
            by_device: dict[torch.device, list[torch.Tensor]] = {}
            for p in params:
                by_device.setdefault(p.device, []).append(p)
            for device, ps in by_device.items():
                self._step_flat(ps, device, group["scale"])
        return loss

    def _step_flat(self, params: list[torch.Tensor], device: torch.device, scale: float) -> None:
        net, fused = self._network_on(device)
        sizes = [p.numel() for p in params]
        for p in params:
            if not self.state[p]:
                self.state[p].update(net.initial_state(p.numel(), device=device))
        flat = self._flat_state(params)
        grad = torch.cat([p.grad.reshape(-1).to(torch.float32) for p in params])
        update, new = net(grad, flat, fused)
        step = new["step"]
        # Per-parameter states are views of the new flat state (cheap to split, and recognized by
        # _flat_state next step so that it does not copy them back together).
        pieces = {k: v.split(sizes, dim=-1 if k in ("exp_avg", "exp_avg_sq") else 1)
                  for k, v in new.items() if k != "step"}
        for i, p in enumerate(params):
            self.state[p].update({k: pieces[k][i] for k in pieces})
            self.state[p]["step"] = step
        self._flat_cache = (tuple(id(p) for p in params), new, [self.state[p]["h"] for p in params])
        for p, u in zip(params, update.split(sizes)):
            p.add_(u.view_as(p).to(p.dtype), alpha=scale)

    def _flat_state(self, params: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        cache = getattr(self, "_flat_cache", None)
        if cache is not None and cache[0] == tuple(id(p) for p in params) and all(
                self.state[p]["h"] is h for p, h in zip(params, cache[2])):
            return cache[1]
        states = [self.state[p] for p in params]
        flat = {"step": states[0]["step"].to(device=params[0].device, dtype=torch.float32)}
        for key in states[0]:
            if key != "step":
                dim = -1 if key in ("exp_avg", "exp_avg_sq") else 1
                flat[key] = torch.cat([s[key].to(torch.float32) for s in states], dim=dim)
        return flat

    def _network_on(self, device: torch.device) -> tuple[CoordinateLSTM, list]:
        cached = getattr(self, "_fused", None)
        if cached is None or cached[0] != device:
            self.network.to(device)
            self._fused = (device, self.network.fused_weights())
        return self.network, self._fused[1]

    def state_dict(self) -> dict[str, Any]:
        sd = super().state_dict()
        sd[_NET_KEY] = {"config": dict(self.network.config),
                        "weights": {k: v.detach().cpu().clone() for k, v in self.network.state_dict().items()}}
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state_dict = dict(state_dict)
        saved = state_dict.pop(_NET_KEY, None)
        if saved is not None:
            device = next(self.network.parameters()).device
            net = CoordinateLSTM.from_config(saved["config"])
            net.load_state_dict(saved["weights"])
            self.network = net.to(device)
            for p in self.network.parameters():
                p.requires_grad_(False)
            self.network.eval()
        self._fused = self._flat_cache = None
        super().load_state_dict(state_dict)
