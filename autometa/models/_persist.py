"""Saving and loading fitted models: one file that runs no code when it is read.

    >>> path = save_model(model, "churn.autometa")
    >>> model = load_model(path)          # autometa.load_model; `autometa predict churn.autometa data.csv`

A saved model is one zip archive (any name; ``.autometa`` by convention) holding

* ``card.json``: the model card (:mod:`autometa.models._fitted`; its ``format`` and ``format_version``
  are the file's header), plus ``storage`` (how each member and the combiner are stored) and ``files``
  (the SHA-256 and size of every other entry, checked before anything parses it);
* each member, in a format that cannot run code when loaded:

  - LightGBM: the booster in LightGBM's own text model format (``model_to_string``), and the
    scikit-learn wrapper's fitted attributes as plain JSON; the pipeline's preprocessing
    (:class:`~autometa.data.NativeCategorical`) as JSON too, so that loading a LightGBM model needs
    neither skops nor pickle (and ``autometa predict`` starts fast);
  - the neural ``mlp``: the network's ``state_dict`` (read back with ``torch.load(weights_only=True)``),
    its fitted preprocessing through skops, the rest of the estimator as JSON;
  - every other family and the combiner of a fusion: skops' secure format, loaded only when every type
    it names is scikit-learn, numpy, scipy or on :data:`TRUSTED_TYPES` (the few types of scikit-learn
    and autometa that skops does not trust by itself). Trees and neighbour indexes, whose arrays
    scikit-learn indexes without bounds checks, are checked before the model is returned.

No pickle is ever read: a blob that is not what the card says is refused, never unpickled. Every
problem (missing file, not ours, truncated, damaged, another format version, an old config-only model
file) is an :class:`~autometa.errors.InputError` whose one sentence says what to do.

The plain JSON state of estimators is :mod:`autometa.models._persist_state`; what a loaded file may
hold (the skops allow-list, the bounds checks of trees, neighbour indexes and LightGBM text models) is
:mod:`autometa.models._persist_checks`.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import pickle  # only for its error class: nothing here unpickles
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from autometa.errors import ArtifactError, InputError, StaleArtifactError
from autometa.io import atomic_path, check_header, check_writable, dumps, parse_json, sha256_bytes
from autometa.models._fitted import CARD_FORMAT, CARD_VERSION, KINDS, FittedModel, Member
from autometa.models._persist_checks import (
    _REMEDY,
    TRUSTED_TYPES,
    _refused_types,
    check_structures,
    checked_booster_text,
    skops_io,
)
from autometa.models._persist_state import _decode, _NotPlain, _state_json

#: The archive entry holding the model card.
CARD_FILE = "card.json"
#: Old JSON model files that held the best config, not a fitted model (autometa <= 0.1 ``--save-model``).
CONFIG_ONLY_FORMAT = "autometa-model"
#: Estimator classes rebuilt from plain JSON state (never looked up by a name the file chooses freely).
_STATE_CLASSES = {
    "NativeCategorical": ("autometa.data", "NativeCategorical"),
    "LGBMClassifier": ("lightgbm", "LGBMClassifier"),
    "LGBMRegressor": ("lightgbm", "LGBMRegressor"),
    "TabularMLPClassifier": ("autometa.neural", "TabularMLPClassifier"),
    "TabularMLPRegressor": ("autometa.neural", "TabularMLPRegressor"),
}


# ====================================================================== saving
def save_model(model: FittedModel, path: str | Path) -> Path:
    """Write ``model`` (members, combiner and card) to ``path`` as one file; returns the path.

    The file is written atomically (a temporary file in the same folder, then renamed), so a reader
    sees the old file or the new one, never half of one.

    Raises:
        InputError: ``model`` is not a :class:`FittedModel`, ``path`` cannot be written, or a member
            holds a type that could not be loaded back safely (see :data:`TRUSTED_TYPES`).
    """
    if not isinstance(model, FittedModel):
        raise InputError(f"save_model takes a fitted model (autometa.refit or autometa.models.fit_model), "
                         f"not {type(model).__name__}.")
    path = check_writable(path, "model file")
    files: dict[str, bytes] = {}
    storage = {"members": [_store_estimator(m.estimator, m.family, f"members/{i}", files)
                           for i, m in enumerate(model.members)],
               "combiner": None if model.combiner is None else _store_skops(model.combiner, "combiner.skops", files,
                                                                            "the combiner")}
    card = {k: v for k, v in model.card.items() if k not in ("storage", "files")}
    card.update(format=CARD_FORMAT, format_version=CARD_VERSION, storage=storage,
                files={name: {"sha256": sha256_bytes(blob), "bytes": len(blob)} for name, blob in files.items()},
                saved_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    try:
        with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(CARD_FILE, dumps(card))
            for name, blob in files.items():
                archive.writestr(name, blob)
    except OSError as exc:
        raise InputError(f"Cannot write the model file '{path}': {exc.strerror or exc}.") from None
    return path


def _store_estimator(estimator: Any, family: str, prefix: str, files: dict[str, bytes]) -> dict[str, Any]:
    """How one member is stored (the blobs go into ``files``)."""
    from sklearn.pipeline import Pipeline

    final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    if not (_is_lightgbm(final) or _is_mlp(final)):
        return _store_skops(estimator, f"{prefix}.skops", files, f"the {family} member")
    try:
        if not isinstance(estimator, Pipeline):
            return {"codec": "pipeline", "steps": [{"name": None, **_store_part(estimator, f"{prefix}/model", files,
                                                                                family)}]}
        steps = [{"name": name, **_store_part(step, f"{prefix}/{i}-{name}", files, family)}
                 for i, (name, step) in enumerate(estimator.steps)]
    except _NotPlain as exc:  # e.g. a RandomState as random_state: not plain data, and no pickle instead
        raise InputError(f"Cannot save the {family} member: {exc} cannot be written as plain data; fit it with "
                         "plain parameters (an integer random_state).") from None
    return {"codec": "pipeline", "steps": steps}


def _store_part(part: Any, prefix: str, files: dict[str, bytes], family: str) -> dict[str, Any]:
    if _is_lightgbm(part):
        state = {k: v for k, v in vars(part).items() if k != "_Booster"}
        files[f"{prefix}.json"] = _state_json(state)
        files[f"{prefix}.txt"] = part.booster_.model_to_string().encode("utf-8")
        return {"codec": "lightgbm", "class": type(part).__name__, "state": f"{prefix}.json", "booster": f"{prefix}.txt"}
    if _is_mlp(part):
        return _store_mlp(part, prefix, files, family)
    if type(part).__name__ == "NativeCategorical" and type(part).__module__.startswith("autometa."):
        try:
            blob = _state_json(vars(part))
        except _NotPlain:  # levels JSON cannot hold exactly (dates, ...): skops keeps them
            return _store_skops(part, f"{prefix}.skops", files, f"the {family} member")
        files[f"{prefix}.json"] = blob
        return {"codec": "state", "class": "NativeCategorical", "state": f"{prefix}.json"}
    return _store_skops(part, f"{prefix}.skops", files, f"the {family} member")


def _store_mlp(part: Any, prefix: str, files: dict[str, bytes], family: str) -> dict[str, Any]:
    import torch

    state = {k: v for k, v in vars(part).items() if k not in ("model_", "preprocessor_")}
    files[f"{prefix}.json"] = _state_json(state)
    out = {"codec": "torch", "class": type(part).__name__, "state": f"{prefix}.json", "weights": f"{prefix}.pt"}
    if getattr(part, "preprocessor_", None) is not None:
        out["preprocessor"] = _store_skops(part.preprocessor_, f"{prefix}-preprocessor.skops", files,
                                           f"the {family} member's preprocessing")["file"]
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu().clone() for k, v in part.model_.state_dict().items()}, buffer)
    files[f"{prefix}.pt"] = buffer.getvalue()
    return out


def _store_skops(obj: Any, name: str, files: dict[str, bytes], what: str) -> dict[str, Any]:
    sio = skops_io()

    blob = sio.dumps(obj)
    refused = _refused_types(blob)
    if refused:
        raise InputError(f"Cannot save {what}: it holds {refused[0]}, a type a saved model may not load "
                         f"(only scikit-learn, numpy, scipy and autometa's own types are trusted).")
    files[name] = blob
    return {"codec": "skops", "file": name}


def _is_lightgbm(obj: Any) -> bool:
    return type(obj).__module__.startswith("lightgbm.") and type(obj).__name__ in ("LGBMClassifier", "LGBMRegressor")


def _is_mlp(obj: Any) -> bool:
    return type(obj).__module__.startswith("autometa.neural") and type(obj).__name__ in (
        "TabularMLPClassifier", "TabularMLPRegressor")


# ====================================================================== loading
def load_model(path: str | Path) -> FittedModel:
    """Read a model written by :func:`save_model` (or ``autometa tune --save-model``).

    Raises:
        InputError: the file is missing, is not an autometa model, is truncated or damaged (a checksum
            that does not match), was written in another format version, or is an old model file that
            holds a config rather than a fitted model. The message says what to do.
    """
    return _load_model(path)


def _load_model(path: str | Path, *, light: bool = False) -> FittedModel:
    """:func:`load_model`; with ``light``, a model whose members are all LightGBM pipelines (single or
    selection) gets :class:`~autometa.models._booster.LightPipeline` members, which predict the same
    through LightGBM's C library without importing scikit-learn (what ``autometa predict`` uses). Any
    other model, or anything unusual, is loaded as :func:`load_model` loads it."""
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(f"Model file '{path}' does not exist; check the path.")
    if path.is_dir():
        raise InputError(f"'{path}' is a folder, not a model file; give the file written by --save-model.")
    try:
        with open(path, "rb") as handle:
            head = handle.read(512)
    except OSError as exc:
        raise InputError(f"Cannot read the model file '{path}' ({exc.strerror or exc}).") from None
    if not head.startswith(b"PK"):
        _not_an_archive(path, head)
    try:
        with zipfile.ZipFile(path) as archive:
            card = _read_card(archive, path)
            blobs = {name: _read_entry(archive, name, spec, path) for name, spec in card["files"].items()}
    except zipfile.BadZipFile as exc:
        raise InputError(f"The model file '{path}' is damaged or truncated ({_first_line(exc)}); {_REMEDY}.") from None
    except (OSError, EOFError, RuntimeError, NotImplementedError, zlib.error) as exc:  # damage inside an entry
        raise InputError(f"The model file '{path}' cannot be read to its end ({_first_line(exc)}); {_REMEDY}.") from None
    if light:
        model = _rebuild_light(card, blobs, path)
        if model is not None:
            return model
    return _rebuild(card, blobs, path)


def _not_an_archive(path: Path, head: bytes) -> None:
    stripped = head.lstrip()
    if stripped.startswith(b"{"):
        try:
            record = json.loads(path.read_bytes())
        except (ValueError, UnicodeDecodeError, OSError):
            record = None
        if isinstance(record, dict) and record.get("format") == CONFIG_ONLY_FORMAT:
            raise InputError(f"The model file '{path}' holds the best config of a study, not a fitted model "
                             f"(an older autometa wrote it); run 'autometa tune DATA --save-model MODEL.autometa' "
                             f"again (or autometa.save_model(autometa.refit(study, data), path)) to save a fitted model.")
    raise InputError(f"'{path}' is not an autometa model file; give a file written by autometa.save_model or "
                     f"'autometa tune ... --save-model'.")


def _read_card(archive: zipfile.ZipFile, path: Path) -> dict[str, Any]:
    try:
        raw = archive.read(CARD_FILE)
    except KeyError:
        raise InputError(f"'{path}' is a zip archive but not an autometa model file (it has no {CARD_FILE}); give "
                         f"a file written by autometa.save_model or 'autometa tune ... --save-model'.") from None
    where = f"The model file '{path}'"
    try:
        card = parse_json(raw, where=where, remedy=_REMEDY)
        check_header(card, format=CARD_FORMAT, version=None, where=where, remedy=_REMEDY)
    except ArtifactError as exc:
        raise InputError(str(exc)) from None
    version = card.get("format_version")
    if version != CARD_VERSION:
        newer = isinstance(version, int) and not isinstance(version, bool) and version > CARD_VERSION
        advice = ("upgrade autometa to read it" if newer else
                  "save the model again with this autometa (autometa.save_model or 'autometa tune ... --save-model')")
        raise InputError(f"{where} has format version {version!r}, but this autometa reads version "
                         f"{CARD_VERSION}; {advice}.")
    _check_card(card, where)
    return card


def _valid_decision(decision: Any, classes: Any) -> bool:
    """A class-weight decision rule: one finite, positive weight per class."""
    weights = decision.get("class_weights") if isinstance(decision, dict) else None
    return (isinstance(weights, list) and isinstance(classes, list) and len(weights) == len(classes)
            and all(isinstance(w, (int, float)) and not isinstance(w, bool) and 0 < w < float("inf") for w in weights))


def _check_card(card: dict[str, Any], where: str) -> None:
    """The card's structure, before anything is built from it."""
    from autometa.data import TASKS

    problem = None
    storage, files, members = card.get("storage"), card.get("files"), card.get("members")
    if card.get("kind") not in KINDS:
        problem = f"an unknown kind {card.get('kind')!r}"
    elif card.get("task") not in TASKS:
        problem = f"an unknown task {card.get('task')!r}"
    elif not isinstance(card.get("columns"), dict) or not card["columns"] or not all(
            isinstance(spec, dict) and (spec.get("kind") == "numeric" or (
                spec.get("kind") == "categorical" and isinstance(spec.get("categories"), list)))
            for spec in card["columns"].values()):
        problem = "no valid training columns"
    elif card["task"] == "classification" and not (isinstance(card.get("classes"), list) and len(card["classes"]) >= 2):
        problem = "no class labels"
    elif not isinstance(files, dict) or not all(
            isinstance(s, dict) and isinstance(s.get("sha256"), str) for s in files.values()):
        problem = "no checksums of its members"
    elif not isinstance(storage, dict) or not isinstance(storage.get("members"), list) or not isinstance(members, list):
        problem = "no stored members"
    elif not members or len(members) != len(storage["members"]) or not all(
            isinstance(m, dict) and isinstance(m.get("family"), str) for m in members):
        problem = "members that do not match what it stores"
    elif card.get("decision") is not None and not _valid_decision(card["decision"], card.get("classes")):
        problem = "a decision rule that does not fit its classes"
    if problem is not None:
        raise InputError(f"{where} is damaged (its card has {problem}); {_REMEDY}.")


def _read_entry(archive: zipfile.ZipFile, name: str, spec: dict[str, Any], path: Path) -> bytes:
    try:
        blob = archive.read(name)
    except KeyError:
        raise InputError(f"The model file '{path}' is damaged (it lacks '{name}' that its card lists); {_REMEDY}.") from None
    if sha256_bytes(blob) != spec["sha256"]:
        raise InputError(f"The model file '{path}' is damaged ('{name}' does not match the checksum in its card); "
                         f"{_REMEDY}.")
    return blob


def _rebuild(card: dict[str, Any], blobs: dict[str, bytes], path: Path) -> FittedModel:
    where = f"The model file '{path}'"
    loader = _Loader(blobs, where)
    try:
        members = []
        for described, stored in zip(card["members"], card["storage"]["members"], strict=True):
            estimator = loader.member(stored, described["family"])
            members.append(Member(described["family"], dict(described.get("config") or {}), estimator,
                                  described.get("trial"), described.get("cv_score")))
        combiner = None if card["storage"].get("combiner") is None else loader.skops(card["storage"]["combiner"])
    except InputError:
        raise
    except StaleArtifactError as exc:
        raise InputError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - whatever a damaged or foreign part raises while being decoded
        raise InputError(f"{where} cannot be loaded ({type(exc).__name__}: {_first_line(exc)}); it may have been saved "
                         f"with other package versions ({_versions(card)}); {_REMEDY}.") from None
    if card["kind"] in ("stacking", "mdt") and combiner is None:
        raise InputError(f"{where} is damaged (a {card['kind']} model without its combiner); {_REMEDY}.")
    kept = {k: v for k, v in card.items() if k not in ("storage", "files", "saved_at")}
    return FittedModel(members=members, card=kept, combiner=combiner)


def _rebuild_light(card: dict[str, Any], blobs: dict[str, bytes], path: Path) -> FittedModel | None:
    """The model with :class:`~autometa.models._booster.LightPipeline` members, or None when one member is
    not such a LightGBM pipeline (or anything fails: :func:`_rebuild` then says what, in its words)."""
    if card["kind"] not in ("single", "selection") or card["storage"].get("combiner") is not None:
        return None
    loader = _Loader(blobs, f"The model file '{path}'")
    try:
        members = []
        for described, stored in zip(card["members"], card["storage"]["members"], strict=True):
            estimator = loader.light_member(stored)
            if estimator is None:
                return None
            members.append(Member(described["family"], dict(described.get("config") or {}), estimator,
                                  described.get("trial"), described.get("cv_score")))
    except Exception:  # noqa: BLE001 - the full loader reports it
        return None
    kept = {k: v for k, v in card.items() if k not in ("storage", "files", "saved_at")}
    return FittedModel(members=members, card=kept, combiner=None)


def _versions(card: dict[str, Any]) -> str:
    versions = card.get("versions") or {}
    return ", ".join(f"{k} {v}" for k, v in versions.items() if k in ("scikit-learn", "lightgbm", "torch")) or "unknown"


class _Loader:
    """Builds members from their blobs; every blob was checked against its SHA-256 already."""

    def __init__(self, blobs: dict[str, bytes], where: str) -> None:
        self.blobs = blobs
        self.where = where

    def blob(self, name: Any) -> bytes:
        if not isinstance(name, str) or name not in self.blobs:
            raise InputError(f"{self.where} is damaged (its card names a part '{name}' it does not list); {_REMEDY}.")
        return self.blobs[name]

    def member(self, stored: Any, family: str) -> Any:
        if not isinstance(stored, dict):
            raise InputError(f"{self.where} is damaged (a member without storage); {_REMEDY}.")
        if stored.get("codec") == "skops":
            return self.skops(stored)
        if stored.get("codec") != "pipeline" or not isinstance(stored.get("steps"), list) or not stored["steps"]:
            raise InputError(f"{self.where} stores its {family} member as {stored.get('codec')!r}, which this autometa "
                             f"does not read; {_REMEDY}.")
        steps = [(step.get("name"), self.part(step)) for step in stored["steps"]]
        if len(steps) == 1 and steps[0][0] is None:
            return steps[0][1]
        from sklearn.pipeline import Pipeline

        return Pipeline([(str(name), part) for name, part in steps])

    def part(self, stored: dict[str, Any]) -> Any:
        codec = stored.get("codec")
        if codec == "skops":
            return self.skops(stored)
        if codec == "state" and stored.get("class") == "NativeCategorical":
            return self.from_state("NativeCategorical", stored["state"])
        if codec == "lightgbm" and stored.get("class") in ("LGBMClassifier", "LGBMRegressor"):
            return self.lightgbm(stored)
        if codec == "torch" and stored.get("class") in ("TabularMLPClassifier", "TabularMLPRegressor"):
            return self.mlp(stored)
        raise InputError(f"{self.where} stores a part as {codec!r} ({stored.get('class')!r}), which this autometa "
                         f"does not read; {_REMEDY}.")

    def from_state(self, class_name: str, name: str, drop: tuple[str, ...] = ()) -> Any:
        import importlib

        module, attribute = _STATE_CLASSES[class_name]
        cls = getattr(importlib.import_module(module), attribute)
        state = _decode(parse_json(self.blob(name), where=f"{self.where} ('{name}')", remedy=_REMEDY))
        if not isinstance(state, dict):
            raise InputError(f"{self.where} is damaged ('{name}' is not an estimator's state); {_REMEDY}.")
        params = cls().get_params(deep=False)
        obj = cls(**{k: state[k] for k in params if k in state})
        for key, value in state.items():
            if key not in params and key not in drop:
                setattr(obj, key, value)
        return obj

    def lightgbm(self, stored: dict[str, Any]) -> Any:
        import lightgbm

        model = self.from_state(stored["class"], stored["state"], drop=("_Booster",))
        text = checked_booster_text(self.blob(stored["booster"]).decode("utf-8"), self.where,
                                    n_classes=getattr(model, "_n_classes", None) or 1)
        model._Booster = lightgbm.Booster(model_str=text)
        return model

    def light_member(self, stored: Any) -> Any:
        """A member stored as [NativeCategorical state +] LightGBM as a LightPipeline (no scikit-learn), or
        None when it is stored otherwise or has a parameter that could change a prediction."""
        from autometa.models._booster import CBooster, LightPipeline, predict_time_params

        steps = stored.get("steps") if isinstance(stored, dict) and stored.get("codec") == "pipeline" else None
        if not isinstance(steps, list) or not steps or not all(isinstance(s, dict) for s in steps):
            return None
        *before, last = steps
        if last.get("codec") != "lightgbm" or last.get("class") not in ("LGBMClassifier", "LGBMRegressor"):
            return None
        if len(before) > 1 or any(s.get("codec") != "state" or s.get("class") != "NativeCategorical" for s in before):
            return None
        preprocessing = None
        if before:
            native = _decode(parse_json(self.blob(before[0]["state"]), where=self.where, remedy=_REMEDY))
            preprocessing = {"columns": [str(c) for c in native["columns_"]], "levels": dict(native["levels_"]),
                             "max_levels": int(native["max_levels"])}
        raw = parse_json(self.blob(last["state"]), where=self.where, remedy=_REMEDY)
        # The label encoder is left out: decoding it imports scikit-learn, and _classes says the same.
        state = {k: _decode(v) for k, v in raw.items() if k != "_le"}
        if predict_time_params(state) or not isinstance(state.get("_objective"), str):
            return None
        classifier = last["class"] == "LGBMClassifier"
        classes = np.asarray(state["_classes"]) if classifier else None
        text = checked_booster_text(self.blob(last["booster"]).decode("utf-8"), self.where,
                                    n_classes=state.get("_n_classes") or 1)
        return LightPipeline(preprocessing, CBooster(text), classifier=classifier, classes=classes,
                             n_jobs=state.get("n_jobs"))

    def mlp(self, stored: dict[str, Any]) -> Any:
        import torch

        model = self.from_state(stored["class"], stored["state"], drop=("model_", "preprocessor_"))
        if "preprocessor" in stored:
            model.preprocessor_ = self.skops({"file": stored["preprocessor"]})
        try:  # weights_only: tensors and plain containers, never an arbitrary object
            weights = torch.load(io.BytesIO(self.blob(stored["weights"])), map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError):  # torch's advice to trust it: not given
            raise InputError(f"{self.where} holds network weights that are not a plain state_dict of tensors; they are "
                             f"not loaded; {_REMEDY}.") from None
        if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
            raise InputError(f"{self.where} is damaged (the network's weights are not a state_dict); {_REMEDY}.")
        first = next((v for k, v in weights.items() if k.endswith("weight")), None)
        if first is None or first.ndim != 2:
            raise InputError(f"{self.where} is damaged (the network's weights have no first layer); {_REMEDY}.")
        network = model._build(int(first.shape[1]))  # the estimator's own architecture for its classes / outputs
        network.load_state_dict(weights, strict=True)
        model.model_ = network.eval()
        model.device_ = "cpu"
        return model

    def skops(self, stored: Any) -> Any:
        if not isinstance(stored, dict) or stored.get("codec", "skops") != "skops":
            raise InputError(f"{self.where} is damaged (a part stored as {stored!r}); {_REMEDY}.")
        sio = skops_io()

        blob = self.blob(stored.get("file"))
        if not blob.startswith(b"PK"):
            raise InputError(f"{self.where} holds a part '{stored.get('file')}' that is not in skops' format; "
                             f"it is not loaded; {_REMEDY}.")
        untrusted = sio.get_untrusted_types(data=blob)
        refused = [t for t in untrusted if t not in TRUSTED_TYPES]
        if refused:
            raise InputError(f"{self.where} holds a part of type '{refused[0]}', which autometa does not load "
                             f"(only scikit-learn, numpy, scipy and autometa's own types are trusted); use a model "
                             f"file from a source you trust, saved by autometa.")
        obj = sio.loads(blob, trusted=untrusted)
        check_structures(obj, self.where)
        return obj


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
