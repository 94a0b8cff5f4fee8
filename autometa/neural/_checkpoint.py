"""Reading and writing learned-optimizer checkpoints.

A checkpoint is a folder holding

* ``optimizer.pt``: the :class:`~autometa.neural._rule.LearnedRule` ``state_dict`` (tensors only, read back with
  ``torch.load(weights_only=True)``, so loading it cannot run code);
* ``record.json``: the network's configuration, the format version, and how it was trained
  (command, seeds, datasets, steps, date, library versions, final meta-loss);
* ``training_state.pt`` (only while training): the meta-optimizer's state and the history, for
  ``--resume``. The shipped checkpoint leaves it out.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import torch

from autometa.errors import ArtifactError, InputError
from autometa.io import atomic_path, atomic_write, check_header, dumps
from autometa.neural._rule import LearnedRule

FORMAT_VERSION = 2  # 2: the sign-symmetric LearnedRule (1 was the coordinatewise LSTM)
WEIGHTS_FILE = "optimizer.pt"
RECORD_FILE = "record.json"
TRAINING_STATE_FILE = "training_state.pt"


def pretrained_path() -> Path:
    """The folder of the pretrained checkpoint shipped with autometa."""
    from autometa.data import artifact_path

    return artifact_path("meta_optimizer")


def resolve(checkpoint: str | Path) -> Path:
    """A checkpoint folder from ``"pretrained"``, a folder, or the path of its ``optimizer.pt``."""
    if isinstance(checkpoint, str) and checkpoint == "pretrained":
        folder = pretrained_path()
        if not (folder / WEIGHTS_FILE).exists():
            raise ArtifactError(
                f"The pretrained meta-optimizer is missing from '{folder}'; reinstall autometa or train one "
                "with 'autometa meta-optimizer train --out DIR' and pass checkpoint=DIR."
            )
        return folder
    path = Path(checkpoint)
    if path.is_file() and path.name == WEIGHTS_FILE:
        path = path.parent
    if not (path / WEIGHTS_FILE).exists() or not (path / RECORD_FILE).exists():
        raise InputError(
            f"'{checkpoint}' is not a meta-optimizer checkpoint: expected a folder with {WEIGHTS_FILE} and "
            f"{RECORD_FILE} (as written by 'autometa meta-optimizer train --out')."
        )
    return path


def read_record(folder: Path) -> dict[str, Any]:
    """The JSON record of a checkpoint folder, checked for its format version (:mod:`autometa.io`)."""
    try:
        record = json.loads((folder / RECORD_FILE).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"Cannot read '{folder / RECORD_FILE}' ({exc}); retrain the checkpoint.") from None
    check_header(record, format=None, version=FORMAT_VERSION, where=f"Checkpoint '{folder}'",
                 remedy="retrain it with 'autometa meta-optimizer train'")
    return record


def load_network(checkpoint: str | Path, map_location: str | torch.device = "cpu"
                 ) -> tuple[LearnedRule, dict[str, Any]]:
    """The trained update rule and its record, from a checkpoint folder or ``"pretrained"``."""
    folder = resolve(checkpoint)
    record = read_record(folder)
    net = LearnedRule.from_config(record["network"])
    try:
        state = torch.load(folder / WEIGHTS_FILE, map_location=map_location, weights_only=True)
        net.load_state_dict(state)
    except (RuntimeError, KeyError, OSError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        raise ArtifactError(f"Cannot load '{folder / WEIGHTS_FILE}' ({str(exc).splitlines()[0]}); "
                            "retrain the checkpoint.") from None
    return net.to(map_location), record


def save_network(folder: str | Path, net: LearnedRule, record: dict[str, Any]) -> Path:
    """Write ``optimizer.pt`` and ``record.json`` (the record gains the format version and config)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    _atomic_torch_save(state, folder / WEIGHTS_FILE)
    full = {"format_version": FORMAT_VERSION, "network": net.config, **record}
    atomic_write(folder / RECORD_FILE, dumps(full, indent=2) + "\n")
    return folder


def save_training_state(folder: Path, state: dict[str, Any]) -> None:
    _atomic_torch_save(state, folder / TRAINING_STATE_FILE)


def load_training_state(folder: Path) -> dict[str, Any]:
    path = folder / TRAINING_STATE_FILE
    if not path.exists():
        raise InputError(f"Cannot resume: '{path}' does not exist; start without --resume.")
    return torch.load(path, map_location="cpu", weights_only=True)


def _atomic_torch_save(obj: Any, path: Path) -> None:
    # Write then rename (autometa.io), so an interrupted run never leaves a truncated checkpoint behind.
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
