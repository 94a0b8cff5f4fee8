"""The coordinatewise LSTM update rule shared by :class:`LearnedOptimizer` and meta-training.

One small two-layer LSTM (hidden size 20) is applied independently to every coordinate of every
parameter tensor: the coordinates form the batch dimension, so the same weights serve networks of any
size, and each coordinate carries its own recurrent state (Andrychowicz et al., 2016, section 2.1).

Inputs per coordinate (``features``):

* ``"logsign"``: the paper's gradient preprocessing (section 3.1 / appendix A) with ``p = 10``:
  ``(log|g| / p, sign(g))`` when ``|g| >= exp(-p)``, else ``(-1, exp(p) g)``; computed in the clamped,
  branch-free form of the reference implementation, which is the same function.
* ``"adam"``: two scale-free statistics, ``m_hat / (sqrt(v_hat) + eps)`` and ``g / (sqrt(v_hat) + eps)``
  with Adam's moving averages (beta1 = 0.9, beta2 = 0.999). They are not in the paper; they give the
  LSTM the moments it would otherwise have to learn to track, which is what lets a short CPU
  meta-training run produce a useful optimizer (the same idea as Wichrowska et al., 2017).

Output: ``update = scale * (head(h2) + skip . x)``, with ``scale`` a learned scalar initialised to
0.01 (the paper's fixed output scale). With ``skip`` enabled the linear path from the inputs starts as
``-m_hat / sqrt(v_hat)``, i.e. the untrained optimizer *is* Adam(lr=0.01) and meta-training learns a
correction; the head starts at zero so that the LSTM path grows from there.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

FEATURES: tuple[str, ...] = ("logsign", "adam")
_WIDTH = {"logsign": 2, "adam": 2}
_BETA1, _BETA2, _EPS = 0.9, 0.999, 1e-8

# State of one coordinate block: LSTM (h, c) per layer, Adam moments, and the step count.
State = dict[str, torch.Tensor]


def log_and_sign(grad: torch.Tensor, p: float = 10.0) -> torch.Tensor:
    """The paper's gradient preprocessing: ``(..., 2)`` tensor of (log-magnitude / p, sign) features."""
    log_part = (torch.log(grad.abs() + 1e-30) / p).clamp(min=-1.0)
    sign_part = (grad * math.exp(p)).clamp(-1.0, 1.0)
    return torch.stack((log_part, sign_part), dim=-1)


class CoordinateLSTM(nn.Module):
    """A two-layer LSTM applied to each parameter coordinate independently.

    Args:
        hidden_size: LSTM width (20 in the paper).
        num_layers: stacked LSTM layers (2 in the paper).
        features: input statistics per coordinate, a subset of :data:`FEATURES`.
        p: the LogAndSign constant (10 in the paper).
        output_scale: initial (or fixed) multiplier of the network output.
        learn_scale: meta-learn the output scale (stored as its logarithm).
        skip: add a linear path from the inputs to the output (initialised to Adam's direction when
            ``"adam"`` is among the features).
    """

    def __init__(self, hidden_size: int = 20, num_layers: int = 2, features: tuple[str, ...] = FEATURES,
                 p: float = 10.0, output_scale: float = 0.01, learn_scale: bool = True,
                 skip: bool = True) -> None:
        super().__init__()
        features = tuple(features)
        unknown = [f for f in features if f not in _WIDTH]
        if not features or unknown:
            raise ValueError(f"features must be a non-empty subset of {FEATURES}, got {features}")
        self.config: dict[str, Any] = {
            "hidden_size": int(hidden_size), "num_layers": int(num_layers), "features": list(features),
            "p": float(p), "output_scale": float(output_scale), "learn_scale": bool(learn_scale),
            "skip": bool(skip),
        }
        n_in = sum(_WIDTH[f] for f in features)
        self.cells = nn.ModuleList(
            nn.LSTMCell(n_in if i == 0 else hidden_size, hidden_size) for i in range(num_layers)
        )
        self.head = nn.Linear(hidden_size, 1)
        log_scale = torch.tensor(math.log(output_scale))
        if learn_scale:
            self.log_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer("log_scale", log_scale)
        self.skip = nn.Linear(n_in, 1, bias=False) if skip else None
        self.reset_parameters()

    # -- construction ---------------------------------------------------------------------------
    def reset_parameters(self) -> None:
        for cell in self.cells:
            cell.reset_parameters()
            with torch.no_grad():  # forget-gate bias 1: remember by default (Jozefowicz et al., 2015)
                h = cell.hidden_size
                cell.bias_ih[h:2 * h].fill_(1.0)
                cell.bias_hh[h:2 * h].zero_()
        if self.skip is not None:
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)
            with torch.no_grad():
                self.skip.weight.zero_()
                if "adam" in self.config["features"]:
                    self.skip.weight[0, self._offset("adam")] = -1.0
                else:  # sign descent as the starting point
                    self.skip.weight[0, self._offset("logsign") + 1] = -1.0

    def _offset(self, feature: str) -> int:
        offset = 0
        for f in self.config["features"]:
            if f == feature:
                return offset
            offset += _WIDTH[f]
        raise KeyError(feature)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> CoordinateLSTM:
        keys = ("hidden_size", "num_layers", "features", "p", "output_scale", "learn_scale", "skip")
        return cls(**{k: (tuple(config[k]) if k == "features" else config[k]) for k in keys if k in config})

    # -- recurrent state ------------------------------------------------------------------------
    def initial_state(self, n: int, device: torch.device | str | None = None,
                      dtype: torch.dtype = torch.float32) -> State:
        """Zero state for ``n`` coordinates."""
        hs, layers = self.config["hidden_size"], self.config["num_layers"]
        state = {
            "h": torch.zeros(layers, n, hs, device=device, dtype=dtype),
            "c": torch.zeros(layers, n, hs, device=device, dtype=dtype),
            "step": torch.zeros((), device=device, dtype=dtype),
        }
        if "adam" in self.config["features"]:
            state["exp_avg"] = torch.zeros(n, device=device, dtype=dtype)
            state["exp_avg_sq"] = torch.zeros(n, device=device, dtype=dtype)
        return state

    # -- one step -------------------------------------------------------------------------------
    def fused_weights(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per layer, ``(W, b)`` with ``W = [W_ih | W_hh]^T`` and the cell-gate rows doubled.

        One matrix product per layer then gives all four gates, and one sigmoid call all their
        activations, since ``tanh(z) = 2 sigmoid(2z) - 1`` (fewer, larger kernels: on a CPU the
        LSTM's cost is mostly per-call overhead and elementwise passes). :class:`LearnedOptimizer`
        computes these once; meta-training recomputes them (differentiably) at every step.
        """
        fused = []
        for cell in self.cells:
            h = cell.hidden_size
            w = torch.cat((cell.weight_ih, cell.weight_hh), dim=1)
            b = cell.bias_ih + cell.bias_hh
            gain = torch.ones(4 * h, dtype=w.dtype, device=w.device)
            gain[2 * h:3 * h] = 2.0
            fused.append(((w * gain[:, None]).t().contiguous(), b * gain))
        return fused

    def features(self, grad: torch.Tensor, state: State, new: State) -> torch.Tensor:
        """The ``(n, n_in)`` input statistics of each coordinate; moment updates go into ``new``."""
        feats = []
        for f in self.config["features"]:
            if f == "logsign":
                feats.append(log_and_sign(grad, self.config["p"]))
            else:
                step = new["step"]
                m = torch.lerp(state["exp_avg"], grad, 1 - _BETA1)
                v = torch.lerp(state["exp_avg_sq"], grad * grad, 1 - _BETA2)
                new["exp_avg"], new["exp_avg_sq"] = m, v
                inv = 1.0 / ((v / (1 - _BETA2 ** step)).sqrt() + _EPS)
                feats.append(torch.stack((m * (inv / (1 - _BETA1 ** step)), grad * inv), dim=-1))
        return torch.cat(feats, dim=-1) if len(feats) > 1 else feats[0]

    def forward(self, grad: torch.Tensor, state: State,
                fused: list[tuple[torch.Tensor, torch.Tensor]] | None = None) -> tuple[torch.Tensor, State]:
        """Update for a flat gradient ``grad`` (shape ``(n,)``) and the new state (old one untouched).

        Differentiable in the network's weights; the gradient itself is treated as an input.
        ``fused`` are precomputed :meth:`fused_weights` (for frozen weights).
        """
        new: State = {"step": state["step"] + 1}
        x = self.features(grad, state, new)
        fused = self.fused_weights() if fused is None else fused
        hs, cs = [], []
        inp = x
        for i, (w, b) in enumerate(fused):
            hsz = w.shape[1] // 4
            gates = torch.sigmoid(torch.addmm(b, torch.cat((inp, state["h"][i]), dim=1), w))
            i_g, f_g, g_g, o_g = gates.split(hsz, dim=1)
            c = torch.addcmul(f_g * state["c"][i], i_g, g_g * 2 - 1)
            h = o_g * torch.tanh(c)
            hs.append(h)
            cs.append(c)
            inp = h
        new["h"], new["c"] = torch.stack(hs), torch.stack(cs)
        out = self.head(inp).squeeze(-1)
        if self.skip is not None:
            out = out + self.skip(x).squeeze(-1)
        return out * self.log_scale.exp(), new

    # -- in-place inference (LearnedOptimizer) --------------------------------------------------
    def inference_weights(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per layer ``(W, b)`` for :meth:`step_`: gates reordered to (i, f, o, g), and the rows of the
        three sigmoid gates halved, since ``sigmoid(z) = (tanh(z / 2) + 1) / 2``: one ``tanh`` then
        serves all four gates (tanh is the faster kernel on CPUs)."""
        out = []
        with torch.no_grad():
            for cell in self.cells:
                h = cell.hidden_size
                w = torch.cat((cell.weight_ih, cell.weight_hh), dim=1)
                b = cell.bias_ih + cell.bias_hh
                order = torch.cat((torch.arange(0, 2 * h), torch.arange(3 * h, 4 * h), torch.arange(2 * h, 3 * h)))
                gain = torch.ones(4 * h, dtype=w.dtype, device=w.device)
                gain[:3 * h] = 0.5
                w, b = w[order] * gain[:, None], b[order] * gain
                out.append((w.t().contiguous(), b.contiguous()))
        return out

    @torch.no_grad()
    def step_(self, grad: torch.Tensor, state: State, weights: list[tuple[torch.Tensor, torch.Tensor]]
              ) -> torch.Tensor:
        """:meth:`forward` without autograd, updating ``state`` in place (fewer, allocation-free
        kernels). ``weights`` come from :meth:`inference_weights`. Returns the update."""
        state["step"].add_(1)
        step = state["step"]
        feats = []
        for f in self.config["features"]:
            if f == "logsign":
                feats.append(log_and_sign(grad, self.config["p"]))
            else:
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.lerp_(grad, 1 - _BETA1)
                v.lerp_(grad * grad, 1 - _BETA2)
                inv = (v / (1 - _BETA2 ** step)).sqrt_().add_(_EPS).reciprocal_()
                feats.append(torch.stack((m * inv / (1 - _BETA1 ** step), grad * inv), dim=-1))
        x = torch.cat(feats, dim=-1) if len(feats) > 1 else feats[0]
        inp = x
        for i, (w, b) in enumerate(weights):
            hsz = w.shape[1] // 4
            h, c = state["h"][i], state["c"][i]
            gates = torch.addmm(b, torch.cat((inp, h), dim=1), w).tanh_()
            sig = gates[:, :3 * hsz].add_(1.0).mul_(0.5)
            c.mul_(sig[:, hsz:2 * hsz]).addcmul_(sig[:, :hsz], gates[:, 3 * hsz:])
            torch.tanh(c, out=h)
            h.mul_(sig[:, 2 * hsz:])
            inp = h
        out = torch.addmm(self.head.bias, inp, self.head.weight.t()).squeeze_(-1)
        if self.skip is not None:
            out.add_(x @ self.skip.weight[0])
        return out.mul_(self.log_scale.exp())

