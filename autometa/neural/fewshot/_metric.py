"""Metric-based learners: Prototypical Networks and Matching Networks.

Both meta-learn an embedding and classify a query by comparing its embedding with the support set's,
so adapting to a new task is a forward pass, with no gradient step. Support and query are embedded in
one batch (the conv encoder normalizes with batch statistics, so both see the same ones, in training
and at test time alike).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call, vmap

from autometa.errors import InputError
from autometa.neural.fewshot._base import FewShotLearner, Predictor
from autometa.neural.fewshot._episodes import Episode


class _MetricLearner(FewShotLearner):
    uses_head = False

    def _build(self, episode: Episode) -> None:
        if not episode.is_classification:
            raise InputError(f"{type(self).__name__} classifies; it cannot learn from regression episodes.")
        super()._build(episode)

    def _logits(self, params: dict[str, torch.Tensor], sx: torch.Tensor, sy: torch.Tensor, qx: torch.Tensor,
                n_way: int) -> torch.Tensor:
        emb = functional_call(self.model_, params, (torch.cat([sx, qx]),))
        return self._compare(emb[:len(sx)], F.one_hot(sy, n_way).to(emb.dtype), emb[len(sx):])

    def _compare(self, support: torch.Tensor, onehot: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _meta_step(self, batch: Episode, rng: np.random.Generator) -> float:
        params = dict(self.model_.named_parameters())
        n_way = batch.n_way

        def episode_loss(params, sx, sy, qx, qy):
            return F.cross_entropy(self._logits(params, sx, sy, qx, n_way), qy)

        losses = vmap(episode_loss, in_dims=(None, 0, 0, 0, 0))(params, batch.support_x, batch.support_y,
                                                                batch.query_x, batch.query_y)
        self.meta_optimizer_.zero_grad(set_to_none=True)
        losses.mean().backward()
        self.meta_optimizer_.step()
        return float(losses.mean().detach())

    def _adapt(self, x: torch.Tensor, y: torch.Tensor, n_way: int) -> Predictor:
        params = {k: v.detach() for k, v in self.model_.named_parameters()}
        return Predictor(lambda q: self._logits(params, x, y, q, n_way), self.task_, self.device_)


class ProtoNet(_MetricLearner):
    """Prototypical Networks (Snell, Swersky & Zemel, 2017) with the squared Euclidean distance.

    A class's prototype is the mean embedding of its support examples; the logits of a query are its
    negative squared distances to the prototypes.

    Args:
        network: body description (default: the 4-block, 64-channel conv encoder for images).
        meta_lr: Adam step size (paper: 1e-3, halved every 2000 episodes).
        meta_batch_size: episodes per update (paper: 1).
        device, seed: as for :class:`~autometa.neural.fewshot.MAML`.
    """

    def __init__(self, network: dict[str, Any] | None = None, *, meta_lr: float = 1e-3, meta_batch_size: int = 1,
                 device: str = "auto", seed: int = 0) -> None:
        self.network, self.meta_lr, self.meta_batch_size, self.device, self.seed = (
            network, meta_lr, meta_batch_size, device, seed)

    def _compare(self, support, onehot, query):
        prototypes = (onehot.T @ support) / onehot.sum(0).unsqueeze(1)
        # ||q - c||^2 expanded: one matrix product instead of an (n_query, n_way, d) difference tensor.
        d2 = (query ** 2).sum(1, keepdim=True) - 2 * query @ prototypes.T + (prototypes ** 2).sum(1)
        return -d2


class MatchingNet(_MetricLearner):
    """Matching Networks (Vinyals et al., 2016): cosine attention over the support set.

    A query's class distribution is ``sum_i a_i onehot(y_i)`` with ``a = softmax(temperature * cos(f(q),
    f(x_i)))`` over the support examples; the loss is its negative log-likelihood. The embedding is
    shared by support and query and has no full-context (LSTM) encoding, as in the paper's Omniglot
    experiments.

    Args:
        temperature: multiplies the cosine similarities before the softmax. 1 is the paper's plain
            softmax over cosines; a larger value lets the attention become sharp, which trains faster.
        Other arguments as for :class:`ProtoNet`.
    """

    def __init__(self, network: dict[str, Any] | None = None, *, temperature: float = 10.0, meta_lr: float = 1e-3,
                 meta_batch_size: int = 1, device: str = "auto", seed: int = 0) -> None:
        self.network, self.temperature, self.meta_lr, self.meta_batch_size, self.device, self.seed = (
            network, temperature, meta_lr, meta_batch_size, device, seed)

    def _compare(self, support, onehot, query):
        cosine = F.normalize(query, dim=1, eps=1e-8) @ F.normalize(support, dim=1, eps=1e-8).T
        attention = torch.softmax(self.temperature * cosine, dim=1)
        # Log-probabilities: cross_entropy's log-softmax of them is the identity (they already sum to 1).
        return torch.log(attention @ onehot + 1e-8)
