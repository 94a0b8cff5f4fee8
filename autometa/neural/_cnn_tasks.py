"""Small-CNN training tasks for meta-training, K at once: grouped convolutions over K image problems.

Meta-training on MLPs alone never shows the rule a convolution's gradients (weights shared across
positions, so far larger and more correlated gradients per weight than a dense layer's). A
:class:`CNNTaskBatch` trains K small convnets side by side: the K single-channel inputs are stacked as
K channels and every convolution runs once with ``groups=K`` (task k's filters only see task k's
channels), the classifier on top is one ``torch.baddbmm`` as in :class:`TaskBatch`. Each task's
parameters are one row of a ``(K, P)`` matrix, as for the MLPs, so the meta-training loop and the rule
do not know which kind of network they train.

Image sources, never the held-out handwritten-digits family (scikit-learn's 8x8 digits, optdigits,
pendigits, the mfeat feature sets: the benchmark's CNN task is on the 8x8 digits):

- *generated*: shapes drawn by :func:`generated_task` (bars, diagonals, squares, rings, crosses, blobs,
  stripes and checkers at random positions, sizes, intensities and noise levels); classes are shape
  kinds, a fresh problem every time;
- *Omniglot* (Lake et al., 2015) background alphabets, when a folder is given: an N-way problem on the
  characters of one alphabet (20 drawings each), downsampled by area averaging.

Images are 8x8 or 12x12, standardized per pixel like the tabular tasks' features. Classification only
(cross-entropy, with or without label smoothing).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from autometa.neural._datasets import TaskData
from autometa.neural._tasks import LOSSES, TaskBatch

CNN_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"relu": torch.relu, "tanh": torch.tanh}
IMAGE_SIZES: tuple[int, ...] = (8, 12)
#: Image sources, for the checkpoint's record.
GENERATED_SOURCE = "generated/shapes"
OMNIGLOT_SOURCE = "omniglot/images_background_small1+2"


@dataclass(frozen=True)
class ConvArchitecture:
    """A small convnet: convolutions (``channels[i]`` filters of ``kernel`` x ``kernel``, stride
    ``strides[i]``, 'same' padding) with one activation, then a linear classifier."""

    channels: tuple[int, ...]
    kernel: int
    strides: tuple[int, ...]
    activation: str

    @property
    def name(self) -> str:
        strides = "".join(map(str, self.strides))
        return f"cnn{'x'.join(map(str, self.channels))}-k{self.kernel}s{strides}-{self.activation}"

    def out_size(self, size: int) -> int:
        """Side of the last feature map for ``size`` x ``size`` inputs."""
        for s in self.strides:
            size = (size + 2 * (self.kernel // 2) - self.kernel) // s + 1
        return size


#: Shapes meta-training samples from: one to three convolutions, 4 to 16 channels, kernels 3 and 5,
#: strides that keep the classifier small. The held-out benchmark's digits CNN (8 then 16 channels,
#: 3x3, strides 2 and 1, ReLU) is deliberately not among them.
TRAIN_CNN_ARCHITECTURES: tuple[ConvArchitecture, ...] = tuple(
    ConvArchitecture(c, k, s, a)
    for c, k, s in (((4, 8), 3, (2, 2)), ((8, 8), 3, (2, 1)), ((6, 12), 3, (1, 2)), ((8,), 5, (2,)),
                    ((4, 8, 16), 3, (1, 2, 2)), ((8, 16), 3, (2, 2)), ((12,), 3, (2,)))
    for a in ("relu", "tanh")
)
HELD_OUT_CNN_NAME = "cnn8x16-k3s21-relu"  # the benchmark's digits_cnn in this notation


class CNNTaskBatch(TaskBatch):
    """K image-classification problems with one convnet shape, parameters as rows of a ``(K, P)`` matrix.

    Inherits the losses, mini-batch sampling and full-data loss of :class:`TaskBatch` (inputs are the
    flattened images, ``(K, N, size * size)``); only the layout, initialisation and forward pass differ.

    Args:
        datasets: K classification datasets of flattened ``size`` x ``size`` images.
        arch: the convnet shape shared by all K networks.
        size: image side.
        loss: a classification loss name from :data:`LOSSES`.
    """

    def __init__(self, datasets: list[TaskData], arch: ConvArchitecture, size: int, batch_size: int,
                 device: torch.device | str = "cpu", max_rows: int | None = None,
                 loss: str = "cross_entropy") -> None:
        if loss not in LOSSES["classification"]:
            raise ValueError(f"unknown loss {loss}")
        if any(d.task != "classification" or d.n_features != size * size for d in datasets):
            raise ValueError(f"CNN tasks need classification datasets of {size}x{size} images")
        self.arch, self.size, self.batch_size, self.device = arch, int(size), int(batch_size), torch.device(device)
        self.losses = (loss, "squared")
        self.k = len(datasets)
        self.names = [d.name for d in datasets]
        self._set_data(datasets, [np.arange(size * size)] * self.k, max_rows)  # every pixel, as TaskBatch packs
        n_out = int(self.n_outputs.max())
        # Layout: (offset, in channels, out channels, stride) per convolution (weight, then bias), then
        # the classifier (offset, fan_in, fan_out) like an MLP layer.
        self.convs: list[tuple[int, int, int, int]] = []
        offset, c_in, kk = 0, 1, arch.kernel * arch.kernel
        for c_out, stride in zip(arch.channels, arch.strides, strict=True):
            self.convs.append((offset, c_in, c_out, stride))
            offset += c_out * c_in * kk + c_out
            c_in = c_out
        fan_in = c_in * arch.out_size(size) ** 2
        self.layers = [(offset, fan_in, n_out)]
        self.n_params = offset + fan_in * n_out + n_out
        live = torch.ones(self.k, self.n_params, dtype=torch.bool)
        for i, o in enumerate(self.n_outputs):
            live[i, offset:offset + fan_in * n_out].view(fan_in, n_out)[:, o:] = False  # to padded classes
            live[i, offset + fan_in * n_out + o:] = False
        self.live = live.to(self.device)
        self.live_index = self.live.view(-1).nonzero().squeeze(1)

    def init_params(self, generator: torch.Generator) -> torch.Tensor:
        """PyTorch's default ``nn.Conv2d`` / ``nn.Linear`` initialisation, U(+-1/sqrt(fan_in)), per task."""
        theta = torch.zeros(self.k, self.n_params)
        kk = self.arch.kernel ** 2
        blocks = [(off, c_in * kk, c_out * c_in * kk + c_out) for off, c_in, c_out, _ in self.convs]
        blocks += [(off, fan_in, fan_in * fan_out + fan_out) for off, fan_in, fan_out in self.layers]
        for off, fan_in, size in blocks:
            bound = 1.0 / math.sqrt(fan_in)
            theta[:, off:off + size] = (torch.rand(self.k, size, generator=generator) * 2 - 1) * bound
        return (theta * self.live.cpu()).to(self.device)

    def forward(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Outputs ``(K, B, O)`` of the K convnets with parameters ``theta`` on flattened images ``x``."""
        act = CNN_ACTIVATIONS[self.arch.activation]
        k, kernel, batch = self.k, self.arch.kernel, x.shape[1]
        h = x.reshape(k, batch, self.size, self.size).transpose(0, 1)  # task k's image is channel k
        for off, c_in, c_out, stride in self.convs:
            n_w = c_out * c_in * kernel * kernel
            w = theta[:, off:off + n_w].reshape(k * c_out, c_in, kernel, kernel)
            b = theta[:, off + n_w:off + n_w + c_out].reshape(k * c_out)
            h = act(F.conv2d(h, w, b, stride=stride, padding=kernel // 2, groups=k))
        h = h.reshape(batch, k, -1).transpose(0, 1)  # (K, B, c * H * W), each task's nn.Flatten order
        off, fan_in, fan_out = self.layers[0]
        w = theta[:, off:off + fan_in * fan_out].view(k, fan_in, fan_out)
        b = theta[:, off + fan_in * fan_out:off + fan_in * fan_out + fan_out].unsqueeze(1)
        return torch.baddbmm(b, h, w)


# -- image problems -------------------------------------------------------------------------------------

SHAPES: tuple[str, ...] = ("hbar", "vbar", "diag", "antidiag", "square", "ring", "cross", "blob", "stripes",
                           "checker")


def _shape(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """One ``size`` x ``size`` image of a shape kind at a random place, extent and intensity."""
    img = np.zeros((size, size), dtype=np.float32)
    yy, xx = np.mgrid[0:size, 0:size]
    ext = int(rng.integers(max(2, size // 3), size + 1))  # extent of the shape
    r0, c0 = (int(v) for v in rng.integers(0, size - ext + 1, size=2))
    thick = int(rng.integers(1, max(2, size // 5) + 1))
    r, c = int(rng.integers(r0, r0 + ext)), int(rng.integers(c0, c0 + ext))
    inside = (yy >= r0) & (yy < r0 + ext) & (xx >= c0) & (xx < c0 + ext)
    if kind == "hbar":
        img[max(0, r - thick // 2):r - thick // 2 + thick, c0:c0 + ext] = 1
    elif kind == "vbar":
        img[r0:r0 + ext, max(0, c - thick // 2):c - thick // 2 + thick] = 1
    elif kind == "diag":
        img[inside & (np.abs((yy - r0) - (xx - c0)) < thick)] = 1
    elif kind == "antidiag":
        img[inside & (np.abs((yy - r0) + (xx - c0) - (ext - 1)) < thick)] = 1
    elif kind == "square":
        img[inside] = 1
    elif kind == "ring":
        border = (yy < r0 + thick) | (yy >= r0 + ext - thick) | (xx < c0 + thick) | (xx >= c0 + ext - thick)
        img[inside & border] = 1
    elif kind == "cross":
        img[inside & ((np.abs(yy - r) < thick) | (np.abs(xx - c) < thick))] = 1
    elif kind == "blob":
        radius = ext / 2
        img[(yy - r0 - radius + 0.5) ** 2 + (xx - c0 - radius + 0.5) ** 2 <= radius ** 2] = 1
    elif kind == "stripes":
        period = int(rng.integers(2, 5))
        img[((yy + int(rng.integers(period))) // max(1, period // 2)) % 2 == 0] = 1
    elif kind == "checker":
        cell = int(rng.integers(1, 4))
        img[((yy // cell) + (xx // cell)) % 2 == 0] = 1
    else:
        raise ValueError(f"unknown shape {kind}")
    return img * float(rng.uniform(0.5, 1.0))


def _standardized_task(name: str, images: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> TaskData:
    """Flatten, shuffle, and standardize per pixel (a constant pixel becomes 0), as the tabular tasks'
    shared preprocessing does with features; all rows are training rows (meta-training never tests)."""
    order = rng.permutation(len(images))
    X = images[order].reshape(len(images), -1).astype(np.float64)
    sd = X.std(axis=0)
    X = ((X - X.mean(axis=0)) / np.where(sd > 1e-8, sd, 1.0)).astype(np.float32)
    y = labels[order].astype(np.int64)
    empty = np.zeros((0, X.shape[1]), dtype=np.float32)
    return TaskData(name, "classification", X, y, empty, np.zeros(0, dtype=np.int64), int(y.max()) + 1)


def generated_task(size: int, rng: np.random.Generator, n_rows: int = 512) -> TaskData:
    """A fresh problem: 2 to 8 shape kinds as classes, ``n_rows`` noisy images of them."""
    kinds = rng.choice(len(SHAPES), size=int(rng.integers(2, 9)), replace=False)
    labels = rng.integers(len(kinds), size=n_rows)
    noise = float(rng.uniform(0.05, 0.4))
    images = np.stack([_shape(SHAPES[kinds[y]], size, rng) for y in labels])
    images += rng.normal(0.0, noise, size=images.shape).astype(np.float32)
    return _standardized_task(f"{GENERATED_SOURCE}/{'+'.join(SHAPES[i] for i in kinds)}", images, labels, rng)


class ImagePool:
    """Where CNN problems come from: generated shapes, and Omniglot's background alphabets when given.

    Args:
        omniglot: the folder of Omniglot's background zips, or ``None`` (generated images only).
        omniglot_share: the fraction of problems drawn from Omniglot when it is there.
    """

    def __init__(self, omniglot: str | Path | None = None, omniglot_share: float = 0.5) -> None:
        self.omniglot_share = omniglot_share if omniglot is not None else 0.0
        self._characters: dict[int, tuple[np.ndarray, np.ndarray, list[str]]] = {}
        self.alphabets: list[str] = []
        if omniglot is not None:
            from autometa.neural.fewshot import load_omniglot

            data = load_omniglot(omniglot, size=24)  # 24 = 3 x 8 = 2 x 12: exact area downsampling
            for size in IMAGE_SIZES:
                f = 24 // size
                small = data.images.reshape(len(data.images), size, f, size, f).mean(axis=(2, 4))
                self._characters[size] = (small.astype(np.float32), data.labels, data.classes)
            self.alphabets = data.alphabets

    @property
    def sources(self) -> list[str]:
        """The image sources, for the checkpoint's record."""
        return [GENERATED_SOURCE] + [f"{OMNIGLOT_SOURCE}/{a}" for a in self.alphabets]

    def task(self, size: int, rng: np.random.Generator) -> TaskData:
        """One image-classification problem of ``size`` x ``size`` images."""
        if not self.alphabets or rng.random() >= self.omniglot_share:
            return generated_task(size, rng)
        images, labels, classes = self._characters[size]
        alphabet = self.alphabets[int(rng.integers(len(self.alphabets)))]
        members = [i for i, c in enumerate(classes) if c.split("/")[0] == alphabet]
        n_way = min(len(members), int(rng.choice((5, 10, 20))))
        chosen = rng.choice(members, size=n_way, replace=False)
        rows = np.flatnonzero(np.isin(labels, chosen))
        relabel = {int(c): j for j, c in enumerate(chosen)}
        y = np.array([relabel[int(v)] for v in labels[rows]])
        return _standardized_task(f"{OMNIGLOT_SOURCE}/{alphabet}/{n_way}-way", images[rows], y, rng)


def sample_cnn_tasks(pool: ImagePool, k: int, batch_sizes: tuple[int, ...], rng: np.random.Generator,
                     device: torch.device | str = "cpu", max_rows: int | None = None) -> CNNTaskBatch:
    """K image problems, one convnet shape, one image size, one loss and one batch size, all drawn."""
    arch = TRAIN_CNN_ARCHITECTURES[int(rng.integers(len(TRAIN_CNN_ARCHITECTURES)))]
    size = int(rng.choice(IMAGE_SIZES))
    loss = str(rng.choice(LOSSES["classification"]))
    batch_size = int(rng.choice(batch_sizes))
    return CNNTaskBatch([pool.task(size, rng) for _ in range(k)], arch, size, batch_size, device=device,
                        max_rows=max_rows, loss=loss)
