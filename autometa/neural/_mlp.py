"""The plain multilayer perceptron every part of :mod:`autometa.neural` builds.

One definition for the tabular estimators' network, the held-out training tasks of the learned-optimizer
benchmark and the few-shot learners' vector body: [Linear, activation] per hidden layer, optionally
followed by a linear output layer. Layers are created in order, so a seeded ``torch.manual_seed`` gives
the same initial weights wherever the network is built.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

#: Activation name -> module class.
ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def hidden_layers(n_in: int, hidden: Sequence[int], activation: str = "relu") -> list[nn.Module]:
    """[Linear, activation] for each width in ``hidden``, starting from ``n_in`` inputs."""
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(n_in, int(width)), ACTIVATIONS[activation]()]
        n_in = int(width)
    return layers


def make_mlp(n_in: int, hidden: Sequence[int], n_out: int, activation: str = "relu") -> nn.Sequential:
    """An ``nn.Sequential`` MLP: the hidden layers, then a linear layer to ``n_out`` outputs."""
    width = int(hidden[-1]) if len(hidden) else n_in
    return nn.Sequential(*hidden_layers(n_in, hidden, activation), nn.Linear(width, n_out))
