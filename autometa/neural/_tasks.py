"""Base-network training tasks, many at once: K small MLPs trained side by side with batched weights.

A :class:`TaskBatch` holds K datasets and one architecture. Each task's parameters are one row of a
``(K, P)`` matrix; the forward pass slices it into per-layer weight tensors and runs them with
``torch.baddbmm``, so K networks cost one batched matrix product per layer (a GPU stays busy and a
CPU uses its BLAS). Datasets differ in their number of features and classes: inputs are zero-padded
to the widest, padded classes get a large negative logit. Weights attached only to padding never
influence a loss; :attr:`TaskBatch.live` marks the coordinates that do, and only those are given to
the learned optimizer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from autometa.neural._datasets import TaskData

ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}


@dataclass(frozen=True)
class Architecture:
    """An MLP shape: hidden layer widths and one activation."""

    hidden: tuple[int, ...]
    activation: str

    @property
    def name(self) -> str:
        return f"mlp{'x'.join(map(str, self.hidden))}-{self.activation}"


#: Architectures meta-training samples from: widths 8/16/32/64, one to three hidden layers.
TRAIN_ARCHITECTURES: tuple[Architecture, ...] = tuple(
    Architecture(h, a) for h in ((8,), (16,), (32,), (64,), (16, 16), (32, 32), (64, 32), (32, 16), (64, 64),
                                 (16, 16, 16), (32, 32, 32))
    for a in ("relu", "tanh", "sigmoid")
)
#: Architectures of the held-out benchmark tasks: widths and depths meta-training never saw (widths
#: 20/24/40/48/96/128, depth 4).
HELD_OUT_ARCHITECTURES: tuple[Architecture, ...] = (
    Architecture((20,), "sigmoid"),
    Architecture((48,), "relu"),
    Architecture((96, 24), "tanh"),
    Architecture((24, 24, 24, 24), "relu"),
    Architecture((40, 40), "sigmoid"),
    Architecture((128,), "tanh"),
    Architecture((24, 48), "relu"),
    Architecture((20, 20, 20), "tanh"),
)
#: Losses meta-training samples from, per task type (Huber: delta 1 on the standardized target).
LOSSES: dict[str, tuple[str, ...]] = {"classification": ("cross_entropy", "smoothed_cross_entropy"),
                                      "regression": ("squared", "huber")}


class TaskBatch:
    """K training problems sharing one architecture, with their parameters as rows of a matrix.

    Args:
        datasets: K datasets (features at most ``max_features`` wide: wider ones keep a random subset
            of columns, drawn from ``generator``).
        arch: the MLP shape shared by all K networks.
        batch_size: mini-batch size of every task.
        device: where the data and parameters live.
        losses: ``(classification loss, regression loss)`` names from :data:`LOSSES`.
    """

    def __init__(self, datasets: list[TaskData], arch: Architecture, batch_size: int, generator: np.random.Generator,
                 device: torch.device | str = "cpu", max_features: int = 32, max_rows: int | None = None,
                 losses: tuple[str, str] = ("cross_entropy", "squared")) -> None:
        self.arch, self.batch_size, self.device = arch, int(batch_size), torch.device(device)
        if losses[0] not in LOSSES["classification"] or losses[1] not in LOSSES["regression"]:
            raise ValueError(f"unknown losses {losses}")
        self.losses = tuple(losses)
        self.k = len(datasets)
        self.names = [d.name for d in datasets]
        cols = [np.sort(generator.choice(d.n_features, max_features, replace=False)) if d.n_features > max_features
                else np.arange(d.n_features) for d in datasets]
        self._set_data(datasets, cols, max_rows)
        D, n_out = int(self.n_features.max()), int(self.n_outputs.max())
        # Parameter layout: (offset, fan_in, fan_out) for each weight, followed by its bias.
        dims = [D, *arch.hidden, n_out]
        self.layers: list[tuple[int, int, int]] = []
        offset = 0
        for fan_in, fan_out in zip(dims[:-1], dims[1:], strict=True):
            self.layers.append((offset, fan_in, fan_out))
            offset += fan_in * fan_out + fan_out
        self.n_params = offset
        live = torch.ones(self.k, self.n_params, dtype=torch.bool)
        first, last = self.layers[0], self.layers[-1]
        for i in range(self.k):
            w = live[i, first[0]:first[0] + D * first[2]].view(D, first[2])
            w[self.n_features[i]:] = False  # weights from padded inputs
            off, fi, fo = last
            live[i, off:off + fi * fo].view(fi, fo)[:, self.n_outputs[i]:] = False  # to padded classes
            live[i, off + fi * fo + self.n_outputs[i]:off + fi * fo + fo] = False
        self.live = live.to(self.device)
        self.live_index = self.live.view(-1).nonzero().squeeze(1)

    def _set_data(self, datasets: list[TaskData], cols: list[np.ndarray], max_rows: int | None) -> None:
        """The K datasets (columns ``cols[i]`` of dataset i, at most ``max_rows`` rows) zero-padded into
        ``(K, N, D)`` tensors, with per-task row counts, task kinds and a bias that hides padded classes."""
        self.n_features = np.array([len(c) for c in cols])
        self.n_outputs = np.array([d.n_outputs for d in datasets])
        rows = [len(d.X_train) if max_rows is None else min(len(d.X_train), max_rows) for d in datasets]
        self.n_rows = torch.tensor(rows, device=self.device)
        D, n_out, N = int(self.n_features.max()), int(self.n_outputs.max()), max(rows)
        X = torch.zeros(self.k, N, D)
        y_cls = torch.zeros(self.k, N, dtype=torch.long)
        y_reg = torch.zeros(self.k, N)
        for i, (d, c, n) in enumerate(zip(datasets, cols, rows, strict=True)):
            X[i, :n, :len(c)] = torch.from_numpy(d.X_train[:n][:, c])
            if d.task == "classification":
                y_cls[i, :n] = torch.from_numpy(d.y_train[:n].astype(np.int64))
            else:
                y_reg[i, :n] = torch.from_numpy(d.y_train[:n].astype(np.float32))
        self.X, self.y_cls, self.y_reg = X.to(self.device), y_cls.to(self.device), y_reg.to(self.device)
        self.is_cls = torch.tensor([d.task == "classification" for d in datasets], device=self.device)
        # -1e4 rather than -inf: padded classes vanish from the softmax without risking inf - inf = nan.
        class_mask = torch.zeros(self.k, 1, n_out)
        for i, o in enumerate(self.n_outputs):
            class_mask[i, 0, o:] = -1e4
        self.class_bias = class_mask.to(self.device)

    # -- parameters -----------------------------------------------------------------------------
    def init_params(self, generator: torch.Generator) -> torch.Tensor:
        """PyTorch's default ``nn.Linear`` initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), per task."""
        theta = torch.zeros(self.k, self.n_params)
        for li, (off, fan_in, fan_out) in enumerate(self.layers):
            for i in range(self.k):
                real_in = int(self.n_features[i]) if li == 0 else fan_in
                bound = 1.0 / math.sqrt(real_in)
                size = fan_in * fan_out + fan_out
                theta[i, off:off + size] = (torch.rand(size, generator=generator) * 2 - 1) * bound
        return (theta * self.live.cpu()).to(self.device)

    # -- losses ---------------------------------------------------------------------------------
    def forward(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Outputs ``(K, B, O)`` of the K networks with parameters ``theta`` (``(K, P)``) on ``x``."""
        act = ACTIVATIONS[self.arch.activation]
        h = x
        for li, (off, fan_in, fan_out) in enumerate(self.layers):
            w = theta[:, off:off + fan_in * fan_out].view(self.k, fan_in, fan_out)
            b = theta[:, off + fan_in * fan_out:off + fan_in * fan_out + fan_out].unsqueeze(1)
            h = torch.baddbmm(b, h, w)
            if li < len(self.layers) - 1:
                h = act(h)
        return h

    def loss(self, theta: torch.Tensor, x: torch.Tensor, y_cls: torch.Tensor, y_reg: torch.Tensor,
             weight: torch.Tensor | None = None) -> torch.Tensor:
        """Per-task mean loss ``(K,)``: (label-smoothed) cross-entropy for classification, squared error or
        Huber loss for regression."""
        out = self.forward(theta, x)
        logits = out + self.class_bias
        smoothing = 0.1 if self.losses[0] == "smoothed_cross_entropy" else 0.0
        if not smoothing:
            ce = F.cross_entropy(logits.transpose(1, 2), y_cls, reduction="none")
        else:  # the smoothing mass must not go to padded classes: spread it over the real ones
            logp = torch.log_softmax(logits, dim=-1)
            real = (self.class_bias == 0).to(logp.dtype)
            nll = -logp.gather(-1, y_cls.unsqueeze(-1)).squeeze(-1)
            uniform = -(logp * real).sum(-1) / real.sum(-1)
            ce = (1 - smoothing) * nll + smoothing * uniform
        if self.losses[1] == "huber":
            se = F.huber_loss(out[..., 0], y_reg, reduction="none", delta=1.0)
        else:
            se = (out[..., 0] - y_reg) ** 2
        per_row = torch.where(self.is_cls.unsqueeze(1), ce, se)
        if weight is None:
            return per_row.mean(dim=1)
        return (per_row * weight).sum(dim=1) / weight.sum(dim=1)

    def sample_batch(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One mini-batch per task (rows drawn with replacement within each task's own rows)."""
        u = torch.rand(self.k, self.batch_size, generator=generator).to(self.device)
        idx = (u * self.n_rows.unsqueeze(1)).long()
        x = torch.gather(self.X, 1, idx.unsqueeze(-1).expand(-1, -1, self.X.shape[2]))
        return x, torch.gather(self.y_cls, 1, idx), torch.gather(self.y_reg, 1, idx)

    def full_loss(self, theta: torch.Tensor) -> torch.Tensor:
        """Per-task loss over all of each task's training rows."""
        weight = (torch.arange(self.X.shape[1], device=self.device).unsqueeze(0) < self.n_rows.unsqueeze(1)).float()
        return self.loss(theta, self.X, self.y_cls, self.y_reg, weight)
