"""``LearnedOptimizer``: the meta-trained update rule as a drop-in ``torch.optim.Optimizer``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch

from autometa.errors import InputError
from autometa.neural._checkpoint import load_network
from autometa.neural._rule import LearnedRule

_NET_KEY = "learned_rule"


class LearnedOptimizer(torch.optim.Optimizer):
    """A meta-trained, sign-symmetric per-coordinate update rule usable in any torch training loop.

    >>> opt = LearnedOptimizer(model.parameters())                 # the pretrained rule, lr 1.0
    >>> sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=1000)
    >>> loss.backward(); opt.step(); sched.step(); opt.zero_grad()

    The rule (:class:`~autometa.neural._rule.LearnedRule`) is frozen; every coordinate keeps its own
    moving averages and every parameter its own step count (``self.state[p]["step"]``), which feeds
    the rule's bias corrections and its training-progress inputs. All coordinates of all parameters
    with the same step count (normally all of them) go through the rule in one batched call.

    Args:
        params: parameters or parameter groups, as for any torch optimizer.
        lr: multiplies the learned update (1.0 = as meta-trained). Every param group has an ``lr``,
            so ``torch.optim.lr_scheduler`` schedulers work on it.
        checkpoint: ``"pretrained"`` (the checkpoint shipped with autometa), a checkpoint folder
            written by :func:`autometa.neural.meta_train`, or ``None`` for an untrained rule (which is
            Adam with learning rate 0.01 times ``lr``).
        network: an in-memory :class:`LearnedRule` to use instead of ``checkpoint``.

    ``state_dict()`` holds the per-parameter states *and* the rule's weights, so ``load_state_dict``
    restores the optimizer exactly, whatever checkpoint it was built with and whichever device the
    state was saved on (the states follow the parameters' devices).
    """

    def __init__(self, params: Iterable[Any], lr: float = 1.0, checkpoint: str | Path | None = "pretrained", *,
                 network: LearnedRule | None = None) -> None:
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr >= 0:
            raise InputError(f"LearnedOptimizer lr must be a non-negative number, got {lr!r}.")
        super().__init__(params, {"lr": float(lr)})
        if network is not None:
            self.network = network
            self.record: dict[str, Any] = {}
        elif checkpoint is None:
            self.network, self.record = LearnedRule(), {}
        else:
            self.network, self.record = load_network(checkpoint)
        self._freeze()
        self._flat_cache: dict[tuple[int, ...], tuple[dict[str, torch.Tensor], list[torch.Tensor]]] = {}

    def _freeze(self) -> None:
        for p in self.network.parameters():
            p.requires_grad_(False)
        self.network.eval()

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """Apply one learned update to every parameter that has a gradient; returns the closure's loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        buckets: dict[tuple[torch.device, float], list[tuple[torch.Tensor, float]]] = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("LearnedOptimizer does not support sparse gradients.")
                state = self.state[p]
                if "step" not in state:
                    state["step"] = torch.zeros((), dtype=torch.float32)
                buckets.setdefault((p.device, float(state["step"])), []).append((p, float(group["lr"])))
        used = set()
        for (device, step), items in buckets.items():
            params = [p for p, _ in items]
            flat = self._flat_state(params, device)
            used.add(tuple(id(p) for p in params))
            grad = torch.cat([p.grad.reshape(-1) for p in params]).to(torch.float32)
            net = self._network_on(device)
            update = net.step_(grad, flat, step + 1.0)  # one call for every coordinate of the bucket
            for (p, lr), u in zip(items, update.split([p.numel() for p in params]), strict=True):
                if lr != 0.0:
                    p.add_(u.view_as(p).to(p.dtype), alpha=lr)
                self.state[p]["step"].add_(1.0)
        for key in [k for k in self._flat_cache if k not in used]:
            del self._flat_cache[key]
        return loss

    def _flat_state(self, params: list[torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
        """One flat state for all coordinates of ``params``; each parameter's state holds views of it.

        Rebuilt (by concatenation) only when the set of parameters changes or the states were
        replaced (``load_state_dict``); otherwise the rule updates the buffers in place.
        """
        key = tuple(id(p) for p in params)
        cached = self._flat_cache.get(key)
        if cached is not None and all(self.state[p].get("exp_avg_sq") is v for p, v in zip(params, cached[1],
                                                                                             strict=True)):
            return cached[0]
        k = len(self.network.config["betas"])
        avgs, sqs = [], []
        for p in params:
            st = self.state[p]
            if "exp_avg_sq" in st:
                avgs.append(st["exp_avgs"].to(device=device, dtype=torch.float32).reshape(k, -1))
                sqs.append(st["exp_avg_sq"].to(device=device, dtype=torch.float32).reshape(-1))
            else:
                avgs.append(torch.zeros(k, p.numel(), device=device))
                sqs.append(torch.zeros(p.numel(), device=device))
        flat = {"exp_avgs": torch.cat(avgs, dim=1), "exp_avg_sq": torch.cat(sqs)}
        offset, views = 0, []
        for p in params:
            n = p.numel()
            self.state[p]["exp_avgs"] = flat["exp_avgs"][:, offset:offset + n]
            self.state[p]["exp_avg_sq"] = flat["exp_avg_sq"][offset:offset + n]
            views.append(self.state[p]["exp_avg_sq"])
            offset += n
        self._flat_cache[key] = (flat, views)
        return flat

    def _network_on(self, device: torch.device) -> LearnedRule:
        if self.network.log_scale.device != device:
            self.network.to(device)
        return self.network

    def state_dict(self) -> dict[str, Any]:
        sd = super().state_dict()
        # Independent copies: the live states are views of shared flat buffers.
        sd["state"] = {k: {name: (v.clone() if torch.is_tensor(v) else v) for name, v in s.items()}
                       for k, s in sd["state"].items()}
        sd[_NET_KEY] = {"config": dict(self.network.config),
                        "weights": {k: v.detach().cpu().clone() for k, v in self.network.state_dict().items()}}
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state_dict = dict(state_dict)
        saved = state_dict.pop(_NET_KEY, None)
        if saved is not None:
            device = self.network.log_scale.device
            net = LearnedRule.from_config(saved["config"])
            net.load_state_dict(saved["weights"])
            self.network = net.to(device)
            self._freeze()
        self._flat_cache = {}
        super().load_state_dict(state_dict)
        for st in self.state.values():  # step counts stay float32 scalars on the CPU, as created
            if "step" in st:
                st["step"] = st["step"].detach().to("cpu", torch.float32)
