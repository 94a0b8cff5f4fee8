"""Few-shot tasks: episodes, the N-way K-shot sampler, tabular episodes and the sinusoid family.

An :class:`Episode` is one small learning problem: a *support* set to learn from and a *query* set to be
judged on. Every task family here is a *task sampler*: an object with ``sample(rng) -> Episode`` that
draws all its randomness from the ``numpy.random.Generator`` it is given, so a meta-training run is
reproduced exactly by its seed.

Classification episodes relabel the N drawn classes ``0..N-1`` in a random order, so a learner can never
rely on a class keeping its index across episodes (the label permutation of Santoro et al., 2016 and
of the MAML/Reptile experiments). Support and query are drawn *without replacement* from the same
class pool, so no example is in both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from autometa.errors import InputError


@dataclass
class Episode:
    """One few-shot task.

    Attributes:
        support_x, support_y: the examples to adapt on; classification support rows are ordered class
            by class (``k_shot`` rows of class 0, then of class 1, ...).
        query_x, query_y: the held-back examples the adapted learner is scored on.
        task: ``"classification"`` (labels are ``int64`` in ``0..n_way-1``) or ``"regression"`` (targets
            are ``float32`` of shape ``(n, 1)``).
        n_way: number of classes (1 for regression).

    Tensors may carry a leading meta-batch dimension (see :func:`stack_episodes`).
    """

    support_x: torch.Tensor
    support_y: torch.Tensor
    query_x: torch.Tensor
    query_y: torch.Tensor
    task: str = "classification"
    n_way: int = 1

    def to(self, device: torch.device | str) -> Episode:
        return Episode(self.support_x.to(device), self.support_y.to(device), self.query_x.to(device),
                       self.query_y.to(device), self.task, self.n_way)

    @property
    def is_classification(self) -> bool:
        return self.task == "classification"


class TaskSampler(Protocol):
    """Anything that draws episodes: ``sample(rng)`` takes all randomness from ``rng``."""

    def sample(self, rng: np.random.Generator) -> Episode: ...


def stack_episodes(episodes: Sequence[Episode]) -> Episode:
    """Stack same-shaped episodes into one with a leading meta-batch dimension."""
    first = episodes[0]
    shapes = {(e.support_x.shape, e.query_x.shape, e.n_way, e.task) for e in episodes}
    if len(shapes) != 1:
        raise InputError("Episodes of one meta-batch must share their shapes; use a sampler with fixed n_way, "
                         "k_shot and n_query.")
    return Episode(torch.stack([e.support_x for e in episodes]), torch.stack([e.support_y for e in episodes]),
                   torch.stack([e.query_x for e in episodes]), torch.stack([e.query_y for e in episodes]),
                   first.task, first.n_way)


class EpisodeSampler:
    """N-way K-shot episodes over a labelled collection (image array, table rows, anything indexable).

    Args:
        X: examples, first axis indexes them (e.g. ``(n, 28, 28)`` images or ``(n, d)`` rows).
        y: one label per example (any hashable values).
        n_way: classes per episode.
        k_shot: support examples per class.
        n_query: query examples per class.
        classes: restrict episodes to these label values (e.g. the meta-training split).
        add_channel: for image arrays ``(n, H, W)``: add the channel axis convolutions expect.

    Only classes with at least ``k_shot + n_query`` examples take part.

    >>> sampler = EpisodeSampler(images, labels, n_way=5, k_shot=1, n_query=15)
    >>> ep = sampler.sample(np.random.default_rng(0))   # ep.support_x: (5, 1, 28, 28)
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, n_way: int, k_shot: int, n_query: int = 15,
                 classes: Sequence | None = None, add_channel: bool = False) -> None:
        X, y = np.asarray(X), np.asarray(y)
        if len(X) != len(y):
            raise InputError(f"X has {len(X)} examples but y has {len(y)} labels; they must match.")
        if n_way < 1 or k_shot < 1 or n_query < 0:
            raise InputError(f"Need n_way >= 1, k_shot >= 1, n_query >= 0; got {n_way}, {k_shot}, {n_query}.")
        self.X = np.ascontiguousarray(X, dtype=np.float32)
        if add_channel:
            self.X = self.X[:, None]
        self.n_way, self.k_shot, self.n_query = int(n_way), int(k_shot), int(n_query)
        wanted = None if classes is None else set(np.asarray(classes).tolist())
        labels, codes = np.unique(y, return_inverse=True)
        need = self.k_shot + self.n_query
        self.classes: list = []
        self._members: list[np.ndarray] = []
        for c, label in enumerate(labels):
            if wanted is not None and label.item() not in wanted:
                continue
            members = np.flatnonzero(codes == c)
            if len(members) >= need:
                self.classes.append(label.item())
                self._members.append(members)
        if len(self.classes) < self.n_way:
            raise InputError(f"Only {len(self.classes)} classes have the {need} examples a {self.n_way}-way "
                             f"{self.k_shot}-shot episode with {self.n_query} queries per class needs; "
                             "lower n_way, k_shot or n_query.")

    def sample(self, rng: np.random.Generator) -> Episode:
        chosen = rng.choice(len(self.classes), size=self.n_way, replace=False)
        support, query = [], []
        for c in chosen:  # position in `chosen` is the episode label: a random permutation of classes
            rows = rng.choice(self._members[c], size=self.k_shot + self.n_query, replace=False)
            support.append(rows[:self.k_shot])
            query.append(rows[self.k_shot:])
        s, q = np.concatenate(support), np.concatenate(query)
        labels = np.arange(self.n_way)
        return Episode(torch.from_numpy(self.X[s]), torch.from_numpy(np.repeat(labels, self.k_shot)),
                       torch.from_numpy(self.X[q]), torch.from_numpy(np.repeat(labels, self.n_query)),
                       "classification", self.n_way)


class TabularEpisodes:
    """N-way K-shot episodes drawn from many tables, all given the same number of feature columns.

    Each episode picks a table (uniformly), then ``n_features`` of its columns in a random order
    (tables with fewer columns are zero-padded), then an N-way K-shot episode of its rows. Random column
    choice and order keep a meta-learned model from relying on what column ``j`` means in one table.

    Args:
        tables: ``(X, y)`` pairs, features already numeric and standardized.
        n_way, k_shot, n_query: as for :class:`EpisodeSampler`.
        n_features: width of every episode's rows.
    """

    def __init__(self, tables: Sequence[tuple[np.ndarray, np.ndarray]], n_way: int, k_shot: int,
                 n_query: int = 15, n_features: int = 16) -> None:
        self.n_features = int(n_features)
        self.samplers: list[EpisodeSampler] = []
        for X, y in tables:
            try:
                self.samplers.append(EpisodeSampler(X, y, n_way, k_shot, n_query))
            except InputError:  # too few classes or rows for this episode shape: not a usable table
                continue
        if not self.samplers:
            raise InputError(f"No table has {n_way} classes with {k_shot + n_query} rows each; "
                             "lower n_way, k_shot or n_query.")

    def sample(self, rng: np.random.Generator) -> Episode:
        sampler = self.samplers[rng.integers(len(self.samplers))]
        ep = sampler.sample(rng)
        d = sampler.X.shape[1]
        cols = torch.from_numpy(rng.permutation(d)[:self.n_features])
        return Episode(_fit_width(ep.support_x[:, cols], self.n_features), ep.support_y,
                       _fit_width(ep.query_x[:, cols], self.n_features), ep.query_y, ep.task, ep.n_way)


def _fit_width(x: torch.Tensor, width: int) -> torch.Tensor:
    return torch.nn.functional.pad(x, (0, width - x.shape[1])) if x.shape[1] < width else x


class SinusoidTasks:
    """The sinusoid regression family of the MAML paper (Finn et al., 2017, section 5.1).

    A task is ``y = A sin(x - phi)`` with amplitude ``A ~ U[0.1, 5]``, phase ``phi ~ U[0, pi]`` and inputs
    ``x ~ U[-5, 5]``; the support holds ``k_shot`` points, the query ``n_query`` others of the same task.
    """

    def __init__(self, k_shot: int = 10, n_query: int = 10, amplitude: tuple[float, float] = (0.1, 5.0),
                 phase: tuple[float, float] = (0.0, math.pi), x_range: tuple[float, float] = (-5.0, 5.0)) -> None:
        if k_shot < 1 or n_query < 1:
            raise InputError(f"SinusoidTasks needs k_shot >= 1 and n_query >= 1, got {k_shot}, {n_query}.")
        self.k_shot, self.n_query = int(k_shot), int(n_query)
        self.amplitude, self.phase, self.x_range = amplitude, phase, x_range

    def sample_function(self, rng: np.random.Generator) -> tuple[float, float]:
        """One task's ``(amplitude, phase)``."""
        return float(rng.uniform(*self.amplitude)), float(rng.uniform(*self.phase))

    def sample(self, rng: np.random.Generator) -> Episode:
        amplitude, phase = self.sample_function(rng)
        x = rng.uniform(*self.x_range, size=(self.k_shot + self.n_query, 1)).astype(np.float32)
        y = (amplitude * np.sin(x - phase)).astype(np.float32)
        x_t, y_t = torch.from_numpy(x), torch.from_numpy(y)
        k = self.k_shot
        return Episode(x_t[:k], y_t[:k], x_t[k:], y_t[k:], "regression", 1)
