"""Omniglot (Lake et al., 2015) read straight from its zip files, and the 20 official one-shot runs.

The background zips hold ``<set>/<Alphabet>/characterNN/<id>_<drawer>.png`` (105x105, black strokes on
white). Images are inverted (ink = 1), area-downsampled to ``size x size`` and returned as float32 in
[0, 1]. A character that appears in several zips (``images_background_small1`` and ``..._small2``
share Greek and Latin) is read once. With ``rotations=True`` each character also gives three new
classes rotated by 90, 180 and 270 degrees (Santoro et al., 2016; Vinyals et al., 2016).

``all_runs.zip`` holds ``runNN/training/classNN.png`` (one image per class), ``runNN/test/itemNN.png`` and
``runNN/class_labels.txt`` (``runNN/test/itemNN.png runNN/training/classMM.png`` per line): each run is one 20-way
one-shot episode on alphabets that the background sets do not contain.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from autometa.errors import InputError
from autometa.neural.fewshot._episodes import Episode

BACKGROUND_ZIPS = ("images_background_small1.zip", "images_background_small2.zip")
RUNS_ZIP = "all_runs.zip"


@dataclass
class OmniglotData:
    """Omniglot characters as arrays.

    Attributes:
        images: ``(n, size, size)`` float32, ink = 1.
        labels: ``(n,)`` int64 class index into ``classes``.
        classes: class names ``"Alphabet/characterNN"`` (``"...@90"`` etc. for rotated copies).
    """

    images: np.ndarray
    labels: np.ndarray
    classes: list[str]

    def alphabet(self, label: int) -> str:
        return self.classes[label].split("/")[0]

    @property
    def alphabets(self) -> list[str]:
        return sorted({c.split("/")[0] for c in self.classes})

    def classes_of(self, alphabets: Sequence[str]) -> list[int]:
        """Class indices of the characters (and their rotations) of the given alphabets."""
        wanted = set(alphabets)
        return [i for i, c in enumerate(self.classes) if c.split("/")[0] in wanted]


def load_omniglot(folder: str | Path, size: int = 28, rotations: bool = False,
                  zips: Sequence[str] = BACKGROUND_ZIPS) -> OmniglotData:
    """Read the Omniglot background zips in ``folder`` (see the module docstring)."""
    folder = Path(folder)
    per_class: dict[str, list[np.ndarray]] = {}
    seen: set[str] = set()
    for name in zips:
        path = folder / name
        if not path.exists():
            raise InputError(f"Omniglot zip '{path}' does not exist; pass the folder holding {', '.join(zips)}.")
        with zipfile.ZipFile(path) as archive:
            for member in sorted(archive.namelist()):
                parts = member.split("/")
                if not member.endswith(".png") or len(parts) != 4:
                    continue
                key = "/".join(parts[1:])  # Alphabet/characterNN/file.png, the same in every zip
                if key in seen:
                    continue
                seen.add(key)
                per_class.setdefault(f"{parts[1]}/{parts[2]}", []).append(_read_png(archive.read(member), size))
    if not per_class:
        raise InputError(f"No Omniglot images found in the zips of '{folder}'.")
    images, labels, classes = [], [], []
    angles = (0, 90, 180, 270) if rotations else (0,)
    for name in sorted(per_class):
        drawings = np.stack(per_class[name])
        for angle in angles:
            classes.append(name if angle == 0 else f"{name}@{angle}")
            images.append(np.rot90(drawings, k=angle // 90, axes=(1, 2)))
            labels.append(np.full(len(drawings), len(classes) - 1, dtype=np.int64))
    return OmniglotData(np.ascontiguousarray(np.concatenate(images)), np.concatenate(labels), classes)


def load_omniglot_runs(folder_or_zip: str | Path, size: int = 28) -> list[Episode]:
    """The 20 official 20-way one-shot runs as episodes (support: one image per class, labels 0..19)."""
    path = Path(folder_or_zip)
    if path.is_dir():
        path = path / RUNS_ZIP
    if not path.exists():
        raise InputError(f"'{path}' does not exist; pass the Omniglot folder holding {RUNS_ZIP}.")
    episodes = []
    with zipfile.ZipFile(path) as archive:
        runs = sorted({m.split("/")[0] for m in archive.namelist() if m.endswith("class_labels.txt")})
        for run in runs:
            # Lines read "runNN/test/itemNN.png runNN/training/classMM.png" (paths from the zip's root).
            pairs = [line.split() for line in archive.read(f"{run}/class_labels.txt").decode().splitlines()
                     if line.strip()]
            train_files = sorted({p[1] for p in pairs})
            index = {f: i for i, f in enumerate(train_files)}
            support = np.stack([_read_png(archive.read(f), size) for f in train_files])
            query = np.stack([_read_png(archive.read(test), size) for test, _ in pairs])
            query_y = np.array([index[train] for _, train in pairs], dtype=np.int64)
            episodes.append(Episode(torch.from_numpy(support[:, None]), torch.arange(len(train_files)),
                                    torch.from_numpy(query[:, None]), torch.from_numpy(query_y),
                                    "classification", len(train_files)))
    if not episodes:
        raise InputError(f"'{path}' holds no runNN/class_labels.txt; is it Omniglot's all_runs.zip?")
    return episodes


def _read_png(data: bytes, size: int) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        gray = image.convert("L")
        if gray.size != (size, size):
            # BOX = area averaging: thin strokes keep partial intensity instead of vanishing.
            gray = gray.resize((size, size), Image.Resampling.BOX)
        return 1.0 - np.asarray(gray, dtype=np.float32) / 255.0
