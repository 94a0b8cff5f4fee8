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
        self._weights: tuple[torch.device, list] | None = None  # inference weights, per device
        self._flat_cache: dict[tuple[int, ...], tuple[dict, list]] = {}

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
        net, weights = self._network_on(device)
        flat = self._flat_state(params, device)
        grad = torch.cat([p.grad.reshape(-1) for p in params]).to(torch.float32)
        update = net.step_(grad, flat, weights)  # updates flat, and so every parameter's state views
        for p, u in zip(params, update.split([p.numel() for p in params]), strict=True):
            p.add_(u.view_as(p).to(p.dtype), alpha=scale)

    def _flat_state(self, params: list[torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
        """One flat state for all coordinates of ``params``; each parameter's state holds views of it.

        Rebuilt (by concatenation) only when the set of parameters changes or the states were
        replaced, e.g. by ``load_state_dict``.
        """
        key = tuple(id(p) for p in params)
        cache = self._flat_cache.get(key)
        if cache is not None and all(self.state[p].get("h") is h for p, h in zip(params, cache[1], strict=True)):
            return cache[0]
        net = self.network
        states = [self.state[p] if self.state[p] else net.initial_state(p.numel(), device=device) for p in params]
        flat = {"step": states[0]["step"].detach().to(device=device, dtype=torch.float32).clone()}
        for key_ in states[0]:
            if key_ != "step":
                dim = 1 if key_ in ("h", "c") else 0
                flat[key_] = torch.cat([s[key_].to(device=device, dtype=torch.float32) for s in states], dim=dim)
        offset = 0
        for p in params:
            n = p.numel()
            self.state[p] = {k: (v if k == "step" else v[:, offset:offset + n] if k in ("h", "c") else
                                 v[offset:offset + n]) for k, v in flat.items()}
            offset += n
        self._flat_cache[key] = (flat, [self.state[p]["h"] for p in params])
        return flat

    def _network_on(self, device: torch.device) -> tuple[CoordinateLSTM, list]:
        cached = self._weights
        if cached is None or cached[0] != device:
            self.network.to(device)
            self._weights = (device, self.network.inference_weights())
        return self.network, self._weights[1]

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
        self._weights, self._flat_cache = None, {}
        super().load_state_dict(state_dict)
