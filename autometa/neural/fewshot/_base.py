"""What every few-shot learner shares: lazy network building, the meta-training loop, evaluation.

A learner is configured in ``__init__`` (hyperparameters only, no work, as for scikit-learn
estimators) and builds its network on the first ``meta_fit`` call, from the shapes of the first episode.
``meta_fit`` draws episode ``i`` of a run from ``numpy.random.default_rng([seed, i])``, so a second
``meta_fit`` call continues the run exactly as one longer call would have.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from autometa.errors import InputError
from autometa.neural._progress import LossProgress, ProgressCallback
from autometa.neural.fewshot._episodes import Episode, TaskSampler, stack_episodes
from autometa.neural.fewshot._networks import WithHead, build_body, complete_config, feature_size


class Predictor:
    """A learner adapted to one task: ``predictor(x)`` gives logits (classification) or values (regression)."""

    def __init__(self, forward: Callable[[torch.Tensor], torch.Tensor], task: str, device: torch.device) -> None:
        self._forward, self.task, self.device = forward, task, device

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self._forward(torch.as_tensor(x).to(self.device))

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Class indices (classification) or predicted values (regression)."""
        out = self(x)
        return out.argmax(dim=-1) if self.task == "classification" else out

    def score(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """Accuracy (classification) or mean squared error (regression) on ``(x, y)``."""
        pred, y = self.predict(x), torch.as_tensor(y).to(self.device)
        if self.task == "classification":
            return float((pred == y).float().mean())
        return float(((pred - y) ** 2).mean())


class FewShotLearner:
    """Base class of the few-shot learners (see the module docstring)."""

    uses_head: ClassVar[bool] = True  # gradient-based learners add a linear head to the body

    # Every learner takes these constructor arguments (and its own hyperparameters).
    network: dict[str, Any] | None
    meta_lr: float
    meta_batch_size: int
    device: str
    seed: int

    # -- configuration -----------------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """The constructor arguments (as for scikit-learn estimators), stored in checkpoints."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- building ------------------------------------------------------------------------------------
    @property
    def device_(self) -> torch.device:
        from autometa.neural._common import resolve_device

        return resolve_device(self.device)

    def _build(self, episode: Episode) -> None:
        """Create the network for inputs and outputs shaped like ``episode``'s (unbatched)."""
        example = episode.support_x[0]
        default = {"kind": "conv", "channels": 64, "blocks": 4} if example.dim() == 3 else \
            {"kind": "mlp", "hidden": [40, 40]}
        config = complete_config(self.network or default, example)
        n_outputs = episode.n_way if episode.is_classification else int(episode.support_y.shape[-1])
        self._setup(config, episode.task, feature_size(build_body(config), example), n_outputs)

    def _setup(self, config: dict[str, Any], task: str, n_features: int, n_outputs: int) -> None:
        """Create the model and its meta-optimizer (from an episode's shapes or a checkpoint's record)."""
        self.network_, self.task_, self.n_features_, self.n_outputs_ = config, task, n_features, n_outputs
        self.model_ = self._make_model().to(self.device_)
        self.meta_optimizer_ = torch.optim.Adam(self.model_.parameters(), lr=self.meta_lr)
        self.history_: list[float] = []
        self.iterations_ = 0

    def _make_model(self, n_outputs: int | None = None) -> nn.Module:
        """A freshly initialized model (body, plus a linear head for gradient-based learners)."""
        body = build_body(self.network_)
        return WithHead(body, self.n_features_, n_outputs or self.n_outputs_) if self.uses_head else body

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise InputError(f"This {type(self).__name__} is not meta-trained yet; call meta_fit first "
                             "(or load a checkpoint).")

    def _check_task(self, episode: Episode) -> None:
        if episode.task != self.task_:
            raise InputError(f"This learner was meta-trained on {self.task_} episodes and cannot adapt to a "
                             f"{episode.task} episode.")

    # -- meta-training -------------------------------------------------------------------------------
    def meta_fit(self, task_sampler: TaskSampler, n_iterations: int = 1000, meta_batch_size: int | None = None,
                 progress: bool | ProgressCallback = True) -> FewShotLearner:
        """Meta-train on episodes from ``task_sampler`` for ``n_iterations`` meta-updates.

        Args:
            task_sampler: any object with ``sample(rng) -> Episode`` (e.g. :class:`EpisodeSampler`,
                :class:`SinusoidTasks`, :class:`TabularEpisodes`).
            n_iterations: meta-updates to run (a further call continues from where this one stopped).
            meta_batch_size: episodes per meta-update (default: the learner's own).
            progress: ``True`` logs progress (logger ``autometa.neural``); a callable receives a
                :class:`~autometa.neural._progress.ProgressUpdate` per iteration.
        """
        if n_iterations < 0:
            raise InputError(f"n_iterations must be >= 0, got {n_iterations}.")
        batch_size = int(meta_batch_size or self.meta_batch_size)
        with LossProgress(type(self).__name__, n_iterations, enabled=progress) as bar:
            for i in range(n_iterations):
                self._run_fraction = i / n_iterations  # for schedules within one meta_fit call (Reptile)
                rng = np.random.default_rng([self.seed, getattr(self, "iterations_", 0)])
                episodes = [task_sampler.sample(rng) for _ in range(batch_size)]
                if not hasattr(self, "model_"):
                    with torch.random.fork_rng(devices=[]):
                        torch.manual_seed(self.seed)
                        self._build(episodes[0])
                self._check_task(episodes[0])
                batch = stack_episodes(episodes).to(self.device_)
                self.model_.train()
                loss = float(self._meta_step(batch, rng))
                self.history_.append(loss)
                self.iterations_ += 1
                bar.advance(loss)
        return self

    def _meta_step(self, batch: Episode, rng: np.random.Generator) -> float:
        """One meta-update on a meta-batch (tensors with a leading batch axis); returns the meta-loss."""
        raise NotImplementedError

    # -- adaptation ----------------------------------------------------------------------------------
    def adapt(self, support: Episode | tuple[torch.Tensor, torch.Tensor]) -> Predictor:
        """A predictor for the task whose labelled examples are ``support`` (an episode or ``(x, y)``)."""
        self._check_fitted()
        if isinstance(support, Episode):
            self._check_task(support)
            x, y = support.support_x, support.support_y
        else:
            x, y = support
        x, y = torch.as_tensor(x).to(self.device_), torch.as_tensor(y).to(self.device_)
        if self.task_ == "classification":
            y = y.long()
            n_way = int(y.max()) + 1
            if sorted(torch.unique(y).tolist()) != list(range(n_way)):
                raise InputError(f"Support labels must be 0..N-1 with every class present; got {sorted(set(y.tolist()))}.")
        else:
            n_way = 1
        self.model_.eval()
        return self._adapt(x, y, n_way)

    def _adapt(self, x: torch.Tensor, y: torch.Tensor, n_way: int) -> Predictor:
        raise NotImplementedError

    def evaluate(self, episodes: TaskSampler | Sequence[Episode], n_episodes: int = 100, seed: int = 0,
                 progress: bool | ProgressCallback = False) -> dict[str, Any]:
        """Mean query accuracy (classification) or MSE (regression) over episodes, with a 95% interval.

        ``episodes`` is a task sampler (``n_episodes`` are drawn with ``seed``) or a fixed list.
        """
        self._check_fitted()
        if isinstance(episodes, Sequence):
            fixed = list(episodes)
        else:
            rng = np.random.default_rng(seed)
            fixed = [episodes.sample(rng) for _ in range(n_episodes)]
        scores = []
        with LossProgress("evaluating", len(fixed), enabled=progress) as bar:
            for ep in fixed:
                scores.append(self.adapt(ep).score(ep.query_x, ep.query_y))
                bar.advance(scores[-1])
        values = np.array(scores)
        half = 1.96 * values.std(ddof=1) / math.sqrt(len(values)) if len(values) > 1 else float("nan")
        metric = "accuracy" if self.task_ == "classification" else "mse"
        return {"metric": metric, "mean": float(values.mean()), "ci95": float(half), "n_episodes": len(values),
                "scores": values.tolist()}

    # -- checkpoints ---------------------------------------------------------------------------------
    def save(self, folder) -> Any:
        """Write the learner to ``folder`` (``weights.pt`` state_dict + ``record.json``); see :func:`load_learner`."""
        from autometa.neural.fewshot._checkpoint import save_learner

        self._check_fitted()
        return save_learner(self, folder)
