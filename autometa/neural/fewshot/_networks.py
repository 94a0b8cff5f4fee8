"""The networks the few-shot learners share: a small conv encoder for images, an MLP for vectors.

Both are plain ``nn.Module`` bodies that map an input to a feature vector; gradient-based learners add a
linear head, metric learners use the features as the embedding. A body is described by a JSON-able
dict (stored in checkpoints) and rebuilt from it by :func:`build_body`:

* ``{"kind": "conv", "in_channels": 1, "channels": 64, "blocks": 4}``: the encoder of Vinyals et al.
  (2016), also used by MAML, Reptile and Prototypical Networks: ``blocks`` x [3x3 conv, batch norm,
  ReLU, 2x2 max-pool]; 28x28 Omniglot images end as a ``channels``-dimensional vector.
* ``{"kind": "mlp", "in_features": 1, "hidden": [40, 40]}``: Linear + ReLU layers (the MAML sinusoid
  network is ``hidden=[40, 40]`` plus a 1-unit head).

Batch norm keeps no running statistics and always normalizes with the current batch (as in the MAML
reference code): the same module then serves every task, under ``torch.func.vmap`` too, and predictions
on a query set use that set's statistics (transductive, as in the MAML and Reptile papers' Omniglot runs).
It is written out in elementary operations (:class:`BatchStatNorm`) rather than ``nn.BatchNorm2d``:
with torch 2.13, ``F.batch_norm`` under ``vmap`` returns wrong second derivatives for the layers
before it (checked against a per-task loop; the test suite compares the two), and MAML needs them.

The MLP body's layers are :func:`autometa.neural._mlp.hidden_layers`, the same that autometa.neural's
tabular estimators and learned-optimizer benchmark build.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from autometa.errors import InputError
from autometa.neural._mlp import hidden_layers


class BatchStatNorm(nn.Module):
    """Batch normalization over (N, H, W) with the current batch's statistics and an affine map."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        var = x.var(dim=(0, 2, 3), keepdim=True, unbiased=False)
        return (x - mean) * torch.rsqrt(var + self.eps) * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class ConvEncoder(nn.Module):
    """``blocks`` x [conv 3x3, batch norm, ReLU, max-pool 2x2], flattened."""

    def __init__(self, in_channels: int = 1, channels: int = 64, blocks: int = 4) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(blocks):
            layers += [nn.Conv2d(in_channels if i == 0 else channels, channels, 3, padding=1),
                       BatchStatNorm(channels), nn.ReLU(), nn.MaxPool2d(2)]
        self.layers = nn.Sequential(*layers, nn.Flatten())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class MLPBody(nn.Module):
    """Linear + ReLU layers; the output is the last hidden layer."""

    def __init__(self, in_features: int, hidden: list[int] | tuple[int, ...] = (40, 40)) -> None:
        super().__init__()
        self.layers = nn.Sequential(*hidden_layers(in_features, hidden, "relu"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class WithHead(nn.Module):
    """A body followed by a linear head (the model of the gradient-based learners)."""

    def __init__(self, body: nn.Module, n_features: int, n_outputs: int) -> None:
        super().__init__()
        self.body = body
        self.head = nn.Linear(n_features, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def build_body(config: dict[str, Any]) -> nn.Module:
    """A body from its JSON description (see the module docstring)."""
    kind = config.get("kind")
    if kind == "conv":
        return ConvEncoder(int(config.get("in_channels", 1)), int(config.get("channels", 64)),
                           int(config.get("blocks", 4)))
    if kind == "mlp":
        return MLPBody(int(config["in_features"]), [int(h) for h in config.get("hidden", (40, 40))])
    raise InputError(f"Unknown network kind {kind!r}; use 'conv' (images) or 'mlp' (vectors).")


def complete_config(config: dict[str, Any], example: torch.Tensor) -> dict[str, Any]:
    """Fill in the input size of ``config`` from one example input (without its batch axis)."""
    config = dict(config)
    if config.get("kind") == "mlp":
        if example.dim() != 1:
            raise InputError(f"An 'mlp' network needs vector inputs; got examples of shape {tuple(example.shape)}.")
        config.setdefault("in_features", int(example.shape[0]))
    elif config.get("kind") == "conv":
        if example.dim() != 3:
            raise InputError("A 'conv' network needs (channels, height, width) inputs; got examples of shape "
                             f"{tuple(example.shape)}.")
        config.setdefault("in_channels", int(example.shape[0]))
    return config


def feature_size(body: nn.Module, example: torch.Tensor) -> int:
    """Width of the body's output for inputs shaped like ``example`` (no batch axis)."""
    with torch.no_grad():
        return int(body(example.unsqueeze(0).expand(2, *example.shape)).shape[-1])
