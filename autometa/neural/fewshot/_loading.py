"""Loading few-shot learner checkpoints: the one place that knows every learner class."""

from __future__ import annotations

from pathlib import Path

import torch

from autometa.errors import ArtifactError
from autometa.neural.fewshot._checkpoint import WEIGHTS_FILE, read_record
from autometa.neural.fewshot._gradient import FOMAML, MAML, FromScratch, Pretrained, Reptile
from autometa.neural.fewshot._metric import MatchingNet, ProtoNet

_LEARNERS: dict[str, type] = {cls.__name__: cls for cls in (MAML, FOMAML, Reptile, Pretrained, FromScratch, ProtoNet,
                                                            MatchingNet)}


def load_learner(folder: str | Path, device: str | None = None):
    """A learner saved by ``learner.save(folder)``, ready to ``adapt`` (``device`` overrides the saved one)."""
    folder = Path(folder)
    record = read_record(folder)
    cls = _LEARNERS.get(record.get("algorithm"))
    if cls is None:
        raise ArtifactError(f"'{folder}' holds an unknown learner {record.get('algorithm')!r}.")
    params = dict(record["params"])
    if device is not None:
        params["device"] = device
    learner = cls(**params)
    learner._setup(record["network"], record["task"], int(record["n_features"]), int(record["n_outputs"]))
    try:
        state = torch.load(folder / WEIGHTS_FILE, map_location=learner.device_, weights_only=True)
        learner.model_.load_state_dict(state)
    except (RuntimeError, KeyError, OSError) as exc:
        raise ArtifactError(f"Cannot load '{folder / WEIGHTS_FILE}' ({str(exc).splitlines()[0]}); "
                            "save the learner again.") from None
    learner.history_ = list(record.get("history", []))
    learner.iterations_ = int(record.get("iterations", 0))
    return learner
