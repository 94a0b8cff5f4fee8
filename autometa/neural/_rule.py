"""The learned update rule shared by :class:`LearnedOptimizer` and meta-training: a per-coordinate MLP
whose update is an odd function of the gradient history, so that it cannot drift.

Per coordinate the rule keeps Adam-like moving averages of the gradient ``g``: momenta ``m_b`` for
``b`` in ``betas`` (0.5, 0.9, 0.99) and the second moment ``v`` (``beta2`` = 0.999), all bias-corrected.
Its inputs are

* sign-carrying (odd) features ``x``: ``g / sqrt(v)`` and ``m_b / sqrt(v)`` (clipped to +-``clip``).
  Flipping the sign of every gradient flips every one of them; all are exactly zero while every
  gradient so far was zero;
* sign-free (even) features ``e``, shared by all coordinates of a step: training progress
  ``tanh(t / tau)`` for ``tau`` in ``time_scales`` (10, 100, 1,000, 10,000 steps), so the rule can anneal
  without being told a horizon.

The update is ``direction x magnitude`` (Metz et al., 2020, "Tasks, stability, architecture, and
compute"; 2022, VeLO), from a small per-coordinate network (8 bias-free hidden units) whose weights are
shifted, once per step, by a tiny network of the progress features (``gain``, ``a``, ``w_d``, ``w_s``,
``c`` below are such functions of ``e``):

    t = hardtanh(diag(gain(e)) W x)                   (hidden units: odd in x, no bias)
    direction = a(e) . x + w_d(e) . t                   (odd in x)
    magnitude = exp(clip(w_s(e) . t^2 + c(e), +-3))     (even in x, positive)
    update = -lr * exp(log_scale) * direction * magnitude

So a zero gradient gives exactly zero update, and the update for a sign-flipped gradient history is
exactly the negated update: under symmetric noise the expected update is zero (no systematic drift),
whatever the weights are. The linear path ``a`` starts as Adam's direction ``m_0.9 / sqrt(v)``, the MLP
head at zero and ``exp(log_scale)`` at 0.01: the untrained rule is Adam(lr=0.01) exactly.

Cost: one ``(H + 1, k) x (k, n)`` product, two matrix-vector products and a handful of elementwise
passes over ``(H, n)`` per step for all ``n`` coordinates together (no tanh or sigmoid over them: CPU
transcendental kernels cost several times a clamp); the progress features cost nothing per coordinate.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

# State of one block of coordinates: momenta (len(betas), n), second moment (n,), step (scalar).
State = dict[str, torch.Tensor]


class LearnedRule(nn.Module):
    """A per-coordinate, sign-symmetric MLP update rule (see the module docstring).

    Args:
        hidden_size: width of the per-coordinate MLP.
        betas: decay rates of the momenta fed to the rule.
        beta2: decay rate of the second moment that normalizes them.
        time_scales: ``tau`` of the progress features ``tanh(t / tau)``.
        clip: bound of the normalized inputs.
        output_scale: initial ``exp(log_scale)`` (learned).
        max_log_magnitude: the log-magnitude is soft-clipped to +- this.
        eps: added to ``sqrt(v)``.
    """

    def __init__(self, hidden_size: int = 8, betas: tuple[float, ...] = (0.5, 0.9, 0.99), beta2: float = 0.999,
                 time_scales: tuple[float, ...] = (10.0, 100.0, 1000.0, 10000.0), clip: float = 5.0,
                 output_scale: float = 0.01, max_log_magnitude: float = 3.0, eps: float = 1e-8,
                 conditioning_size: int = 32) -> None:
        super().__init__()
        self.config: dict[str, Any] = {
            "hidden_size": int(hidden_size), "betas": [float(b) for b in betas], "beta2": float(beta2),
            "time_scales": [float(t) for t in time_scales], "clip": float(clip),
            "output_scale": float(output_scale), "max_log_magnitude": float(max_log_magnitude), "eps": float(eps),
            "conditioning_size": int(conditioning_size),
        }
        if hidden_size < 1 or not betas or not all(0.0 <= b < 1.0 for b in (*betas, beta2)):
            raise ValueError("LearnedRule needs hidden_size >= 1 and betas in [0, 1).")
        h, k = int(hidden_size), 1 + len(betas)
        self.n_odd = k
        self.w_in = nn.Parameter(torch.empty(h, k))            # odd inputs -> hidden units (no bias)
        self.log_gain = nn.Parameter(torch.zeros(h))           # hidden pre-activation gains (log)
        self.w_dir = nn.Parameter(torch.zeros(h))              # hidden -> direction
        self.w_mag = nn.Parameter(torch.zeros(h))              # squared hidden -> log-magnitude
        self.linear = nn.Parameter(torch.zeros(k))             # odd inputs -> direction
        # Training progress -> offsets of all of the above (and the log-magnitude), once per step.
        self.cond_hidden = nn.Linear(len(time_scales), int(conditioning_size))
        self.cond_out = nn.Linear(int(conditioning_size), 3 * h + k + 1)
        self.log_scale = nn.Parameter(torch.tensor(math.log(output_scale)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Random hidden layer; zero heads; the linear path set to Adam's direction (untrained = Adam)."""
        with torch.no_grad():
            nn.init.normal_(self.w_in, 0.0, 1.0 / math.sqrt(self.n_odd))
            self.log_gain.zero_()
            self.w_dir.zero_()
            self.w_mag.zero_()
            self.linear.zero_()
            betas = self.config["betas"]
            self.linear[1 + (betas.index(0.9) if 0.9 in betas else len(betas) // 2)] = 1.0
            self.cond_hidden.reset_parameters()
            self.cond_out.weight.zero_()
            self.cond_out.bias.zero_()
            self.log_scale.fill_(math.log(self.config["output_scale"]))

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearnedRule:
        keys = ("hidden_size", "betas", "beta2", "time_scales", "clip", "output_scale", "max_log_magnitude", "eps",
                "conditioning_size")
        return cls(**{k: (tuple(config[k]) if isinstance(config[k], list) else config[k]) for k in keys if k in config})

    # -- state ----------------------------------------------------------------------------------
    def initial_state(self, n: int, device: torch.device | str | None = None,
                      dtype: torch.dtype = torch.float32) -> State:
        """Zero state for ``n`` coordinates (step 0)."""
        return {"exp_avgs": torch.zeros(len(self.config["betas"]), n, device=device, dtype=dtype),
                "exp_avg_sq": torch.zeros(n, device=device, dtype=dtype),
                "step": torch.zeros((), dtype=torch.float32)}

    def progress_features(self, step: float | torch.Tensor) -> torch.Tensor:
        """The even, per-step inputs: ``tanh(t / tau)`` for each time scale."""
        scales = torch.tensor(self.config["time_scales"], dtype=self.log_scale.dtype, device=self.log_scale.device)
        t = torch.as_tensor(step, dtype=scales.dtype).to(scales.device)
        return torch.tanh(t / scales)

    # -- one step -------------------------------------------------------------------------------
    def _odd_inputs(self, grad: torch.Tensor, m: torch.Tensor, v: torch.Tensor, step: float) -> torch.Tensor:
        cfg = self.config
        corr = torch.tensor([1.0 / (1.0 - b ** step) for b in cfg["betas"]], dtype=grad.dtype, device=grad.device)
        inv = (v / (1.0 - cfg["beta2"] ** step)).sqrt_().add_(cfg["eps"]).reciprocal_()
        if torch.is_grad_enabled():
            x = torch.cat((grad.unsqueeze(0), m * corr.unsqueeze(1)), dim=0) * inv  # (k, n)
            return x.clamp(-cfg["clip"], cfg["clip"])
        x = torch.empty(len(corr) + 1, grad.numel(), dtype=grad.dtype, device=grad.device)
        x[0].copy_(grad)
        torch.mul(m, corr.unsqueeze(1), out=x[1:])
        return x.mul_(inv).clamp_(-cfg["clip"], cfg["clip"])

    def _update(self, x: torch.Tensor, step: float) -> torch.Tensor:
        """The update for odd inputs ``x`` of shape ``(k, n)`` at step ``step`` (before ``lr``)."""
        h, k = self.config["hidden_size"], self.n_odd
        cond = self.cond_out(torch.tanh(self.cond_hidden(self.progress_features(step))))
        gain = (self.log_gain + cond[:h]).exp()
        w_dir, w_mag = self.w_dir + cond[h:2 * h], self.w_mag + cond[2 * h:3 * h]
        linear, log_mag0 = self.linear + cond[3 * h:3 * h + k], cond[-1]
        # hidden units and the linear path in one product: rows 0..h-1 and row h of z
        z = torch.cat((self.w_in * gain.unsqueeze(1), linear.unsqueeze(0)), dim=0) @ x  # (h + 1, n)
        lim = self.config["max_log_magnitude"]
        if torch.is_grad_enabled():
            # hardtanh: odd, and one cheap pass (a CPU's tanh costs ~8x more over n x h values)
            t = z[:h].clamp(-1.0, 1.0)  # (h, n): odd in x
            direction = z[h] + w_dir @ t  # odd in x, no bias
            log_mag = (w_mag @ (t * t) + log_mag0).clamp(-lim, lim)  # even in x
            return -(self.log_scale.exp() * direction * log_mag.exp())
        t = z[:h].clamp_(-1.0, 1.0)
        direction = torch.addmv(z[h], t.t(), w_dir)
        log_mag = torch.addmv(log_mag0.expand(t.shape[1]), t.square_().t(), w_mag).clamp_(-lim, lim)
        return direction.mul_(log_mag.exp_()).mul_(-self.log_scale.exp())

    def forward(self, grad: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """Update for a flat gradient ``grad`` (``(n,)``) and the new state (the old one untouched).

        Differentiable in the rule's weights; the gradient is an input (no second derivatives).
        """
        step = float(state["step"]) + 1.0
        cfg = self.config
        betas = torch.tensor(cfg["betas"], dtype=grad.dtype, device=grad.device).unsqueeze(1)
        m = state["exp_avgs"] * betas + grad.unsqueeze(0) * (1 - betas)
        v = torch.lerp(state["exp_avg_sq"], grad * grad, 1 - cfg["beta2"])
        x = self._odd_inputs(grad, m, v, step)
        new = {"exp_avgs": m, "exp_avg_sq": v, "step": state["step"] + 1}
        return self._update(x, step), new

    @torch.no_grad()
    def step_(self, grad: torch.Tensor, state: State, step: float) -> torch.Tensor:
        """:meth:`forward` without autograd for step number ``step`` (1 for the first), updating the
        momenta and second moment of ``state`` in place (its ``"step"`` is not read: the optimizer keeps
        one step count per parameter)."""
        cfg = self.config
        m, v = state["exp_avgs"], state["exp_avg_sq"]
        betas = torch.tensor(cfg["betas"], dtype=grad.dtype, device=grad.device).unsqueeze(1)
        m.mul_(betas).add_(grad.unsqueeze(0) * (1 - betas))
        v.lerp_(grad * grad, 1 - cfg["beta2"])
        return self._update(self._odd_inputs(grad, m, v, step), step)
