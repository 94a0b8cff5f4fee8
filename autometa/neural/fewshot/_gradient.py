"""Learners that adapt by gradient descent from a meta-learned initialization: MAML, FOMAML, Reptile,
and two reference points: a network pretrained on all tasks jointly, and one trained from scratch.

The per-task inner loop is written with ``torch.func`` (``functional_call`` + ``grad``) over a dict of
parameters, and ``vmap`` runs it for all episodes of a meta-batch at once. For second-order MAML the
outer ``backward`` differentiates through the inner updates (Hessian-vector products included); the
first-order variants never build that graph.

``zero_head=True`` (classification only) starts every task's linear head at zero instead of a
meta-learned value (the "zeroing trick" of Kao et al., 2022). With labels permuted at random between
episodes a meta-learned head can only learn to be symmetric anyway; at zero it is exactly symmetric, and
the meta-learned body then serves any number of classes, e.g. a 5-way meta-trained model on 20-way runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, grad_and_value, vmap

from autometa.errors import InputError
from autometa.neural.fewshot._base import FewShotLearner, Predictor
from autometa.neural.fewshot._episodes import Episode, TaskSampler

Params = dict[str, torch.Tensor]
_HEAD = ("head.weight", "head.bias")


class _GradientLearner(FewShotLearner):
    """Shared inner loop, task losses and adaptation of the gradient-based learners."""

    zero_head: bool = False

    def _adapt_settings(self) -> tuple[int, float]:
        """Steps and step size of gradient descent when adapting to a new task."""
        return (self.inner_steps if self.adapt_steps is None else self.adapt_steps), self.inner_lr

    def _loss(self, params: Params, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = functional_call(self.model_, params, (x,))
        if self.task_ == "classification":
            return F.cross_entropy(out, y)
        return F.mse_loss(out, y)

    def _task_params(self, theta: Params, n_way: int) -> Params:
        """The parameters a task starts from (the shared ones, with a zero head when asked for)."""
        if not (self.zero_head and self.task_ == "classification"):
            if self.task_ == "classification" and n_way != self.n_outputs_:
                raise InputError(f"This learner's head has {self.n_outputs_} outputs but the episode is {n_way}-way; "
                                 "meta-train with the same n_way or use zero_head=True.")
            return theta
        ref = theta["head.weight"]
        return {**theta, "head.weight": ref.new_zeros(n_way, ref.shape[1]), "head.bias": ref.new_zeros(n_way)}

    def _meta_learned(self, name: str) -> bool:
        return not (self.zero_head and self.task_ == "classification" and name in _HEAD)

    def _sgd(self, params: Params, x: torch.Tensor, y: torch.Tensor, steps: int, lr: float) -> Params:
        """``steps`` full-batch gradient-descent steps (differentiable when the caller's graph is kept)."""
        for _ in range(steps):
            g = grad(self._loss)(params, x, y)
            params = {k: params[k] - lr * g[k] for k in params}
        return params

    def _adapt(self, x: torch.Tensor, y: torch.Tensor, n_way: int) -> Predictor:
        theta = {k: v.detach() for k, v in self.model_.named_parameters()}
        steps, lr = self._adapt_settings()
        phi = self._sgd(self._task_params(theta, n_way), x, y, steps, lr)
        model = self.model_
        return Predictor(lambda q: functional_call(model, phi, (q,)), self.task_, self.device_)


class MAML(_GradientLearner):
    """Model-Agnostic Meta-Learning (Finn, Abbeel & Levine, 2017) with exact second-order gradients.

    Args:
        network: body description (see :mod:`~autometa.neural.fewshot._networks`); default: the 4-block,
            64-channel conv encoder for images, an MLP with two hidden layers of 40 for vectors.
        inner_lr: step size of the inner gradient steps (paper: 0.01 sinusoid, 0.4 Omniglot 5-way).
        inner_steps: inner steps during meta-training (paper: 1).
        adapt_steps: inner steps when adapting to a new task (default: ``inner_steps``).
        first_order: drop the second-order terms (FOMAML; see also :class:`FOMAML`).
        zero_head: start each classification task's head at zero (see the module docstring).
        meta_lr: Adam step size of the meta-update (paper: 1e-3).
        meta_batch_size: episodes per meta-update (paper: 25 sinusoid, 32 Omniglot 5-way).
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``.
        seed: seeds the initialization and the episode stream.
    """

    def __init__(self, network: dict[str, Any] | None = None, *, inner_lr: float = 0.01, inner_steps: int = 1,
                 adapt_steps: int | None = None, first_order: bool = False, zero_head: bool = False,
                 meta_lr: float = 1e-3, meta_batch_size: int = 4, device: str = "auto", seed: int = 0) -> None:
        self.network, self.inner_lr, self.inner_steps, self.adapt_steps = network, inner_lr, inner_steps, adapt_steps
        self.first_order, self.zero_head, self.meta_lr, self.meta_batch_size = first_order, zero_head, meta_lr, meta_batch_size
        self.device, self.seed = device, seed

    def _meta_step(self, batch: Episode, rng: np.random.Generator) -> float:
        theta = dict(self.model_.named_parameters())
        n_way, steps, lr = batch.n_way, self.inner_steps, self.inner_lr
        self.meta_optimizer_.zero_grad(set_to_none=True)
        if self.first_order:
            fixed = {k: v.detach() for k, v in theta.items()}

            def task_grad(sx, sy, qx, qy):
                phi = self._sgd(self._task_params(fixed, n_way), sx, sy, steps, lr)
                return grad_and_value(self._loss)(phi, qx, qy)

            grads, losses = vmap(task_grad)(batch.support_x, batch.support_y, batch.query_x, batch.query_y)
            for name, p in theta.items():
                if self._meta_learned(name):
                    p.grad = grads[name].mean(0)
        else:
            def task_loss(theta, sx, sy, qx, qy):
                phi = self._sgd(self._task_params(theta, n_way), sx, sy, steps, lr)
                return self._loss(phi, qx, qy)

            losses = vmap(task_loss, in_dims=(None, 0, 0, 0, 0))(theta, batch.support_x, batch.support_y,
                                                                 batch.query_x, batch.query_y)
            losses.mean().backward()
        self.meta_optimizer_.step()
        return float(losses.mean().detach())


class FOMAML(MAML):
    """First-order MAML: the meta-gradient is the query-loss gradient at the adapted parameters.

    Same arguments as :class:`MAML`, without ``first_order``.
    """

    def __init__(self, network: dict[str, Any] | None = None, *, inner_lr: float = 0.01, inner_steps: int = 1,
                 adapt_steps: int | None = None, zero_head: bool = False, meta_lr: float = 1e-3,
                 meta_batch_size: int = 4, device: str = "auto", seed: int = 0) -> None:
        super().__init__(network, inner_lr=inner_lr, inner_steps=inner_steps, adapt_steps=adapt_steps,
                         first_order=True, zero_head=zero_head, meta_lr=meta_lr, meta_batch_size=meta_batch_size,
                         device=device, seed=seed)


class Reptile(_GradientLearner):
    """Reptile (Nichol, Achiam & Schulman, 2018): train on a task, move the initialization toward the result.

    Each meta-update runs ``inner_steps`` gradient steps on every episode of the meta-batch (support and
    query together: Reptile needs no split) and moves the initialization by
    ``epsilon * (mean adapted weights - weights)``, with ``epsilon = meta_lr`` linearly annealed to 0 over
    each ``meta_fit`` call when ``anneal`` (as in the paper).

    Args:
        inner_lr: inner SGD step size.
        inner_steps: inner steps per task during meta-training (paper: 5 Omniglot, 32 sinusoid).
        adapt_steps: inner steps when adapting to a new task (default: ``inner_steps``; paper: 50).
        meta_lr: outer step size epsilon (paper: 1.0 annealed to 0 for Omniglot).
        anneal: anneal epsilon linearly to 0 within each ``meta_fit`` call.
        Other arguments as for :class:`MAML`.
    """

    def __init__(self, network: dict[str, Any] | None = None, *, inner_lr: float = 0.02, inner_steps: int = 5,
                 adapt_steps: int | None = None, zero_head: bool = False, meta_lr: float = 1.0,
                 anneal: bool = True, meta_batch_size: int = 5, device: str = "auto", seed: int = 0) -> None:
        self.network, self.inner_lr, self.inner_steps, self.adapt_steps = network, inner_lr, inner_steps, adapt_steps
        self.zero_head, self.meta_lr, self.anneal, self.meta_batch_size = zero_head, meta_lr, anneal, meta_batch_size
        self.device, self.seed = device, seed

    def _meta_step(self, batch: Episode, rng: np.random.Generator) -> float:
        theta = {k: v.detach() for k, v in self.model_.named_parameters()}
        n_way, steps, lr = batch.n_way, self.inner_steps, self.inner_lr
        x = torch.cat([batch.support_x, batch.query_x], dim=1)
        y = torch.cat([batch.support_y, batch.query_y], dim=1)

        def train_task(x, y):
            phi = self._sgd(self._task_params(theta, n_way), x, y, steps, lr)
            return phi, self._loss(phi, x, y)

        phis, losses = vmap(train_task)(x, y)
        epsilon = self.meta_lr * (1.0 - self._run_fraction if self.anneal else 1.0)
        with torch.no_grad():
            for name, p in self.model_.named_parameters():
                if self._meta_learned(name):
                    p.add_(phis[name].mean(0) - p, alpha=epsilon)
        return float(losses.mean())


class Pretrained(_GradientLearner):
    """Baseline: one network trained on the pooled data of all tasks, fine-tuned by SGD on a new task.

    This is the "pretrained" reference of the MAML paper's sinusoid experiment. It only makes sense for
    task families whose outputs mean the same in every task (regression); with labels permuted per
    episode it learns nothing transferable.

    Args:
        adapt_lr, adapt_steps: the fine-tuning SGD step size and number of steps.
        meta_lr: Adam step size of the pretraining.
        meta_batch_size: episodes per pretraining step.
    """

    def __init__(self, network: dict[str, Any] | None = None, *, adapt_lr: float = 0.01, adapt_steps: int = 10,
                 meta_lr: float = 1e-3, meta_batch_size: int = 4, device: str = "auto", seed: int = 0) -> None:
        self.network, self.adapt_lr, self.adapt_steps = network, adapt_lr, adapt_steps
        self.meta_lr, self.meta_batch_size, self.device, self.seed = meta_lr, meta_batch_size, device, seed

    def _adapt_settings(self) -> tuple[int, float]:
        return self.adapt_steps, self.adapt_lr

    def _meta_step(self, batch: Episode, rng: np.random.Generator) -> float:
        x = torch.cat([batch.support_x, batch.query_x], dim=1).flatten(0, 1)
        y = torch.cat([batch.support_y, batch.query_y], dim=1).flatten(0, 1)
        loss = self._loss(dict(self.model_.named_parameters()), x, y)
        self.meta_optimizer_.zero_grad(set_to_none=True)
        loss.backward()
        self.meta_optimizer_.step()
        return float(loss.detach())


class FromScratch(_GradientLearner):
    """Baseline: a freshly initialized network trained by Adam on the support set alone (no meta-learning).

    ``meta_fit`` only looks at one episode to size the network. Each ``adapt`` call starts from a new
    random initialization (seeded by ``seed`` and the call count, so results are reproducible).

    Args:
        adapt_lr: Adam step size.
        adapt_steps: full-batch Adam steps on the support set.
    """

    def __init__(self, network: dict[str, Any] | None = None, *, adapt_lr: float = 0.01, adapt_steps: int = 100,
                 device: str = "auto", seed: int = 0) -> None:
        self.network, self.adapt_lr, self.adapt_steps, self.device, self.seed = network, adapt_lr, adapt_steps, device, seed
        self.meta_lr, self.meta_batch_size = 0.0, 1  # nothing is meta-learned

    def meta_fit(self, task_sampler: TaskSampler, n_iterations: int = 0, meta_batch_size: int | None = None,
                 progress: bool = False) -> FromScratch:
        """Size the network from one episode; there is nothing to meta-train."""
        episode = task_sampler.sample(np.random.default_rng([self.seed, 0]))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self._build(episode)
        self._adapt_calls = 0
        return self

    def _adapt(self, x: torch.Tensor, y: torch.Tensor, n_way: int) -> Predictor:
        self._adapt_calls = getattr(self, "_adapt_calls", 0) + 1
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed * 1_000_003 + self._adapt_calls)
            model = self._make_model(n_way if self.task_ == "classification" else None).to(self.device_)
        opt = torch.optim.Adam(model.parameters(), lr=self.adapt_lr)
        loss_fn = F.cross_entropy if self.task_ == "classification" else F.mse_loss
        model.train()
        with torch.enable_grad():
            for _ in range(self.adapt_steps):
                opt.zero_grad(set_to_none=True)
                loss_fn(model(x), y).backward()
                opt.step()
        return Predictor(model, self.task_, self.device_)
