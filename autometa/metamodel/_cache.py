"""Fitting the meta-model once per knowledge base, and keeping it on disk.

The cache lives in ``$AUTOMETA_CACHE_DIR`` (else ``$XDG_CACHE_HOME/autometa``, else
``~/.cache/autometa``), one folder per (knowledge-base fingerprint, task, metric)::

    metamodel/<fingerprint>-<task>-<metric>/model.json          format, version, settings, scaling, candidates
    metamodel/<fingerprint>-<task>-<metric>/datasets.parquet    known datasets: id, name, scaled meta-features
    metamodel/<fingerprint>-<task>-<metric>/normalized.parquet  their normalized scores of every candidate
    metamodel/<fingerprint>-<task>-<metric>/surrogate-<i>.txt   LightGBM text models (and time.txt)
    metamodel/<fingerprint>-<task>-<metric>/selector.parquet    the family selector's datasets (good families)

Nothing is pickled: a cache folder may be shared, and loading it runs no code. The fingerprint is a
SHA-256 of the knowledge base's files (or tables), so a new knowledge base gets a new model; a folder
of another format version, another autometa search space, or a broken one is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autometa.errors import ArtifactError
from autometa.metamodel._features import ConfigEncoder, MetaFeatureScaler
from autometa.metamodel._model import MetaModel, Settings
from autometa.metamodel._select import FamilySelector
from autometa.metamodel._surrogate import Surrogate

FORMAT_NAME = "autometa-metamodel"
#: Bump when the cached files change meaning; older folders are rebuilt.
FORMAT_VERSION = 2


def cache_dir() -> Path:
    """Where autometa keeps its caches (see the module docstring)."""
    explicit = os.environ.get("AUTOMETA_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "autometa"


def kb_fingerprint(kb: Any = None, folders: list[Path] | None = None) -> str:
    """A SHA-256 (hex, 16 digits) of knowledge-base folders' files, or of an in-memory KB's tables."""
    digest = hashlib.sha256()
    if folders:
        for folder in folders:
            for name in ("kb.json", "datasets.parquet", "evaluations.parquet"):
                path = Path(folder) / name
                if path.exists():
                    digest.update(name.encode())
                    with open(path, "rb") as handle:
                        for block in iter(lambda: handle.read(1 << 20), b""):
                            digest.update(block)
    else:
        for table in (kb.datasets, kb.evaluations):
            digest.update(",".join(map(str, table.columns)).encode())
            digest.update(pd.util.hash_pandas_object(table.astype(str), index=False).to_numpy().tobytes())
    digest.update(f"{FORMAT_NAME}-{FORMAT_VERSION}".encode())
    return digest.hexdigest()[:16]


def save_model(model: MetaModel, folder: str | Path, fingerprint: str) -> Path:
    """Write ``model`` into ``folder`` (atomically: a temporary folder renamed into place)."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
    try:
        meta = {
            "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "fingerprint": fingerprint,
            "task": model.task, "metric": model.metric, "settings": model.settings.to_dict(),
            "scaler": model.scaler.to_dict(), "encoder": model.encoder.to_dict(), "row_cap": model.row_cap,
            "candidates": [{"key": k, "family": r.family, "config_id": r.config_id, "config": r.config}
                           for k, r in model.candidates.iterrows()],
            "n_surrogates": len(model.surrogate.boosters) if model.surrogate else 0,
            "surrogate": {k: v for k, v in model.surrogate.to_dict().items() if k != "models"},
            "time_model": ({k: v for k, v in model.time_model.to_dict().items() if k != "models"}
                           if model.time_model else None),
            "selector": model.selector.to_dict() if model.selector else None,
        }
        (tmp / "model.json").write_text(json.dumps(meta, indent=1, default=_json_default))
        pd.DataFrame({"dataset_id": model.dataset_ids, "name": model.dataset_names,
                      **{f"z.{n}": model.Z[:, j] for j, n in enumerate(model.scaler.names)}}
                     ).to_parquet(tmp / "datasets.parquet", index=False)
        pd.DataFrame(model.normalized, columns=list(model.candidates.index)).to_parquet(
            tmp / "normalized.parquet", index=False)
        for i, text in enumerate(model.surrogate.to_dict()["models"]):
            (tmp / f"surrogate-{i}.txt").write_text(text)
        if model.time_model:
            (tmp / "time.txt").write_text(model.time_model.to_dict()["models"][0])
        if model.selector:
            model.selector.table().to_parquet(tmp / "selector.parquet", index=False)
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def read_model(folder: str | Path, fingerprint: str | None = None, n_jobs: int = 1) -> MetaModel:
    """Read a cached model; raises :class:`ArtifactError` if it is missing, stale, foreign or broken."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / "model.json").read_text())
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"No readable meta-model in '{folder}' ({exc}).") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME or meta.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(f"'{folder}' holds a meta-model of another format; it is rebuilt.")
    if fingerprint is not None and meta.get("fingerprint") != fingerprint:
        raise ArtifactError(f"'{folder}' was fitted on another knowledge base; it is rebuilt.")
    try:
        model = MetaModel()
        model.task, model.metric = meta["task"], meta["metric"]
        model.settings = Settings(**meta["settings"])
        model.scaler = MetaFeatureScaler.from_dict(meta["scaler"])
        model.encoder = ConfigEncoder.from_dict(meta["encoder"])
        model.row_cap = int(meta["row_cap"])
        cands = meta["candidates"]
        model.candidates = pd.DataFrame({"family": [c["family"] for c in cands],
                                         "config_id": [c["config_id"] for c in cands],
                                         "config": [c["config"] for c in cands]},
                                        index=pd.Index([c["key"] for c in cands], name="key"))
        datasets = pd.read_parquet(folder / "datasets.parquet")
        model.dataset_ids = datasets["dataset_id"].astype(str).tolist()
        model.dataset_names = datasets["name"].astype(str).tolist()
        model.Z = datasets[[f"z.{n}" for n in model.scaler.names]].to_numpy(dtype=float)
        normalized = pd.read_parquet(folder / "normalized.parquet")
        model.normalized = normalized[list(model.candidates.index)].to_numpy(dtype=float)
        texts = [(folder / f"surrogate-{i}.txt").read_text() for i in range(int(meta["n_surrogates"]))]
        model.surrogate = Surrogate.from_dict({**meta["surrogate"], "models": texts}, n_jobs=n_jobs)
        if meta.get("time_model"):
            model.time_model = Surrogate.from_dict({**meta["time_model"], "models": [(folder / "time.txt").read_text()]},
                                                   n_jobs=n_jobs)
        if meta.get("selector"):
            model.selector = FamilySelector.from_dict(meta["selector"], pd.read_parquet(folder / "selector.parquet"))
    except ArtifactError:
        raise
    except Exception as exc:  # a damaged cache is rebuilt, never trusted
        raise ArtifactError(f"The meta-model cache '{folder}' is damaged ({type(exc).__name__}: {exc}); it is rebuilt.") from None
    return model


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _kb_folders(kb: Any) -> list[Path] | None:
    """The folders a knowledge-base argument stands for (None for an in-memory KnowledgeBase)."""
    from autometa.kb import shipped_kb_path

    if kb is None:
        from autometa.kb._import_common import user_kb_path

        folders = [shipped_kb_path()]
        user = user_kb_path()
        if (user / "kb.json").exists():  # the user's own imported histories join the shipped ones
            folders.append(user)
        return folders
    if isinstance(kb, (str, Path)):
        return [Path(kb).expanduser()]
    return None


def load_kb(kb: Any = None) -> Any:
    """A :class:`KnowledgeBase` from ``None`` (shipped + the user's own), a folder, or a KB object."""
    from autometa.kb import KnowledgeBase

    folders = _kb_folders(kb)
    if folders is None:
        return kb
    merged = KnowledgeBase.load(None if kb is None else folders[0])
    for extra in folders[1:]:
        merged = merged.merge(KnowledgeBase.load(extra))
    return merged


def load_metamodel(task: str, metric: str | None = None, kb: Any = None, *, settings: Settings | None = None,
                   refresh: bool = False, n_jobs: int = 1, on_fit: Any = None) -> MetaModel:
    """The meta-model of ``task`` and ``metric`` fitted on ``kb``, from the disk cache when it is there.

    Args:
        task: ``"classification"`` or ``"regression"``.
        metric: the metric (default: the task's primary metric).
        kb: ``None`` (the shipped knowledge base, plus the user's own imports if any), a knowledge-base
            folder, or a :class:`~autometa.kb.KnowledgeBase`.
        settings: meta-model settings (default: :data:`DEFAULT_SETTINGS`).
        refresh: refit even if a cached model exists.
        n_jobs: LightGBM threads for fitting (1: OpenMP threads spin badly on a busy machine).
        on_fit: called with no arguments before a (slow) fit starts, e.g. to tell the user.
    """
    from autometa.evaluation import PRIMARY_METRIC
    from autometa.metamodel._training import training_data

    metric = metric or PRIMARY_METRIC[task]
    settings = settings or DEFAULT_SETTINGS
    folders = _kb_folders(kb)
    if folders is not None and kb is None and not (folders[0] / "kb.json").exists():
        raise ArtifactError(f"The shipped knowledge base is missing ({folders[0]}); reinstall autometa or give "
                            "a knowledge-base folder (--kb).")
    fingerprint = kb_fingerprint(kb, folders)
    folder = cache_dir() / "metamodel" / f"{fingerprint}-{task}-{metric}"
    if not refresh:
        try:
            model = read_model(folder, fingerprint)
            if model.settings == settings:
                return model
        except ArtifactError:
            pass
    if on_fit is not None:
        on_fit()
    data = training_data(load_kb(kb), task, metric)
    model = MetaModel.fit(data, settings, n_jobs=n_jobs)
    try:
        save_model(model, folder, fingerprint)
    except OSError:  # a read-only cache costs time on the next call, never a failure
        pass
    return model


#: The settings autometa uses (chosen under leave-one-dataset-out; see benchmarks/results/warmstart_*).
DEFAULT_SETTINGS = Settings()
