"""Few-shot meta-learning: learn from many small tasks how to learn a new one from a handful of examples.

    >>> from autometa.neural.fewshot import EpisodeSampler, MAML, ProtoNet, SinusoidTasks, load_learner
    >>> maml = MAML(inner_lr=0.01).meta_fit(SinusoidTasks(k_shot=10), n_iterations=5000)
    >>> predictor = maml.adapt(episode)            # gradient steps on episode.support_x / support_y
    >>> predictor.score(episode.query_x, episode.query_y)
    >>> maml.save("ckpt/"); maml = load_learner("ckpt/")

Task samplers (anything with ``sample(rng) -> Episode``): :class:`EpisodeSampler` (N-way K-shot over
any labelled array), :class:`TabularEpisodes` (over many tables), :class:`SinusoidTasks` (the MAML
regression family); Omniglot from its zip files with :func:`load_omniglot` and its 20 official
one-shot runs with :func:`load_omniglot_runs`.

Learners (``meta_fit(task_sampler, ...)``, ``adapt(support) -> Predictor``, ``evaluate``, ``save``):
:class:`MAML` (second-order, ``torch.func``), :class:`FOMAML`, :class:`Reptile`, :class:`ProtoNet`,
:class:`MatchingNet`, and the baselines :class:`Pretrained` and :class:`FromScratch`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from autometa._lazy import lazy_exports

_LAZY: dict[str, str] = {
    "Episode": "autometa.neural.fewshot._episodes",
    "EpisodeSampler": "autometa.neural.fewshot._episodes",
    "TabularEpisodes": "autometa.neural.fewshot._episodes",
    "SinusoidTasks": "autometa.neural.fewshot._episodes",
    "stack_episodes": "autometa.neural.fewshot._episodes",
    "OmniglotData": "autometa.neural.fewshot._omniglot",
    "load_omniglot": "autometa.neural.fewshot._omniglot",
    "load_omniglot_runs": "autometa.neural.fewshot._omniglot",
    "MAML": "autometa.neural.fewshot._gradient",
    "FOMAML": "autometa.neural.fewshot._gradient",
    "Reptile": "autometa.neural.fewshot._gradient",
    "Pretrained": "autometa.neural.fewshot._gradient",
    "FromScratch": "autometa.neural.fewshot._gradient",
    "ProtoNet": "autometa.neural.fewshot._metric",
    "MatchingNet": "autometa.neural.fewshot._metric",
    "Predictor": "autometa.neural.fewshot._base",
    "load_learner": "autometa.neural.fewshot._loading",
}

if TYPE_CHECKING:  # pragma: no cover
    from autometa.neural.fewshot._base import Predictor  # noqa: F401
    from autometa.neural.fewshot._episodes import (  # noqa: F401
        Episode,
        EpisodeSampler,
        SinusoidTasks,
        TabularEpisodes,
        stack_episodes,
    )
    from autometa.neural.fewshot._gradient import FOMAML, MAML, FromScratch, Pretrained, Reptile  # noqa: F401
    from autometa.neural.fewshot._loading import load_learner  # noqa: F401
    from autometa.neural.fewshot._metric import MatchingNet, ProtoNet  # noqa: F401
    from autometa.neural.fewshot._omniglot import OmniglotData, load_omniglot, load_omniglot_runs  # noqa: F401


__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)


__all__ = sorted(_LAZY)
