"""Few-shot learner checkpoints: a folder with ``weights.pt`` and ``record.json``.

``weights.pt`` is the model's ``state_dict`` (tensors only, read back with ``torch.load(weights_only=True)``,
so loading cannot run code); ``record.json`` holds the format version, the learner class and its
constructor arguments, the completed network description and shapes, and the training history. The
meta-optimizer's moments are not saved: a loaded learner adapts and evaluates exactly as the saved one,
and further ``meta_fit`` calls start a fresh Adam.

This module only writes and checks the files; :func:`~autometa.neural.fewshot._loading.load_learner`
(which needs every learner class) lives above the learners, so the learners can save themselves
without an import cycle.
"""

from __future__ import annotations

import json
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from autometa.errors import ArtifactError, InputError
from autometa.io import atomic_write, dumps
from autometa.neural._checkpoint import _atomic_torch_save  # write-then-rename, as for the learned optimizer

FORMAT_VERSION = 1
WEIGHTS_FILE = "weights.pt"
RECORD_FILE = "record.json"
_KIND = "autometa.neural.fewshot"


def save_learner(learner, folder: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write a meta-trained learner to ``folder`` (created if needed)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone() for k, v in learner.model_.state_dict().items()}
    _atomic_torch_save(state, folder / WEIGHTS_FILE)
    record = {
        "format_version": FORMAT_VERSION, "kind": _KIND, "algorithm": type(learner).__name__,
        "params": learner.get_params(), "network": learner.network_, "task": learner.task_,
        "n_features": learner.n_features_, "n_outputs": learner.n_outputs_, "iterations": learner.iterations_,
        "history": [round(v, 6) for v in learner.history_],
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
        **(extra or {}),
    }
    atomic_write(folder / RECORD_FILE, dumps(record, indent=1) + "\n")
    return folder


def read_record(folder: str | Path) -> dict[str, Any]:
    """The checked ``record.json`` of a learner checkpoint folder."""
    folder = Path(folder)
    if not (folder / WEIGHTS_FILE).exists() or not (folder / RECORD_FILE).exists():
        raise InputError(f"'{folder}' is not a few-shot learner checkpoint: expected {WEIGHTS_FILE} and "
                         f"{RECORD_FILE} (as written by learner.save).")
    try:
        record = json.loads((folder / RECORD_FILE).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"Cannot read '{folder / RECORD_FILE}' ({exc}); save the learner again.") from None
    if record.get("kind") != _KIND or record.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(f"'{folder}' holds format {record.get('kind')!r} version {record.get('format_version')!r}; "
                            f"this autometa reads {_KIND} version {FORMAT_VERSION}. Save the learner again.")
    return record
