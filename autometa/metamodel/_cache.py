"""Fitting the meta-model once per knowledge base, shipping it, and keeping it on disk.

A fitted meta-model is a folder of plain files, one per (knowledge-base fingerprint, task, metric)::

    model.json          format, version, fingerprint, settings, scaling, candidates, and the SHA-256
                        of every other file (written last: it is the folder's manifest)
    datasets.parquet    known datasets: id, name, scaled meta-features
    normalized.parquet  their normalized scores of every candidate
    surrogate-<i>.txt   LightGBM text models (and time.txt)
    selector.parquet    the family selector's datasets (good families)

Where it is found, in this order:

1. shipped with autometa (``autometa/data/metamodel/<task>-<metric>/``), fitted on the shipped
   knowledge base: used when the knowledge base is the shipped one alone and the settings are the
   default ones, so a fresh install answers without fitting. ``python -m autometa.metamodel.ship``
   writes it again (after the knowledge base or the meta-model's design changed);
2. the cache, ``$AUTOMETA_CACHE_DIR`` (else ``$XDG_CACHE_HOME/autometa``, else ``~/.cache/autometa``),
   ``metamodel/<fingerprint>-<task>-<metric>/``;
3. else it is fitted, and written to the cache.

Nothing is pickled: a cache folder may be shared, and loading it runs no code. Every file is checked
against its SHA-256 before LightGBM or Arrow parses it (a truncated LightGBM model would abort the
process inside LightGBM), so a damaged folder is rebuilt once with a warning; a folder of another
format version or another knowledge base is rebuilt quietly. Writes are atomic per file with the
manifest last, and one process at a time fits a folder (a lock file beside it): a second process
waits, then reads what the first wrote.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autometa.errors import ArtifactError, StaleArtifactError
from autometa.io import atomic_write, read_json, read_verified, sha256_file, write_json
from autometa.metamodel._features import ConfigEncoder, MetaFeatureScaler
from autometa.metamodel._model import MetaModel, Settings
from autometa.metamodel._select import FamilySelector
from autometa.metamodel._surrogate import Surrogate

logger = logging.getLogger(__name__)

FORMAT_NAME = "autometa-metamodel"
#: Bump when the files change meaning; older folders are rebuilt (and the shipped one must be rewritten).
#: 3: model.json lists every file's SHA-256.
FORMAT_VERSION = 3
MODEL_FILE = "model.json"
#: An empty file in the folder, locked (flock) while a process fits the model.
LOCK_FILE = "fit.lock"
_REMEDY = "it is rebuilt"


def cache_dir() -> Path:
    """Where autometa keeps its caches (see the module docstring)."""
    explicit = os.environ.get("AUTOMETA_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "autometa"


def shipped_metamodel_path(task: str | None = None, metric: str | None = None) -> Path:
    """The folder of the meta-models shipped with autometa (``autometa/data/metamodel``), or of one."""
    from autometa.data import artifact_path

    return artifact_path("metamodel", f"{task}-{metric}") if task else artifact_path("metamodel")


def kb_fingerprint(kb: Any = None, folders: list[Path] | None = None) -> str:
    """A SHA-256 (hex, 16 digits) of knowledge-base folders' files, or of an in-memory KB's tables.

    A folder whose kb.json lists its tables' SHA-256 is fingerprinted by kb.json alone (it stands
    for the tables); an older folder by all three files.
    """
    digest = hashlib.sha256()
    if folders:
        from autometa.kb import schema as S

        for folder in folders:
            meta_file = Path(folder) / S.META_FILE
            covered = _lists_table_hashes(meta_file)
            for name in (S.META_FILE, S.DATASETS_FILE, S.EVALUATIONS_FILE):
                path = Path(folder) / name
                if path.exists() and (name == S.META_FILE or not covered):
                    digest.update(name.encode())
                    digest.update(bytes.fromhex(sha256_file(path)))
    else:
        for table in (kb.datasets, kb.evaluations):
            digest.update(",".join(map(str, table.columns)).encode())
            digest.update(pd.util.hash_pandas_object(table.astype(str), index=False).to_numpy().tobytes())
    digest.update(f"{FORMAT_NAME}-{FORMAT_VERSION}".encode())
    return digest.hexdigest()[:16]


def _lists_table_hashes(meta_file: Path) -> bool:
    import json

    try:
        files = json.loads(meta_file.read_bytes()).get("files")
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(files, dict) and len(files) >= 2


def save_model(model: MetaModel, folder: str | Path, fingerprint: str) -> Path:
    """Write ``model`` into ``folder``: each file atomically, then model.json with their SHA-256."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}

    def put(name: str, data: str | bytes | pd.DataFrame) -> None:
        if isinstance(data, pd.DataFrame):
            buffer = io.BytesIO()
            data.to_parquet(buffer, index=False)
            data = buffer.getvalue()
        files[name] = atomic_write(folder / name, data)

    put("datasets.parquet", pd.DataFrame({"dataset_id": model.dataset_ids, "name": model.dataset_names,
                                          **{f"z.{n}": model.Z[:, j] for j, n in enumerate(model.scaler.names)}}))
    put("normalized.parquet", pd.DataFrame(model.normalized, columns=list(model.candidates.index)))
    surrogate = model.surrogate.to_dict()
    for i, text in enumerate(surrogate["models"]):
        put(f"surrogate-{i}.txt", text)
    if model.time_model:
        put("time.txt", model.time_model.to_dict()["models"][0])
    if model.selector:
        put("selector.parquet", model.selector.table())
    meta = {
        "fingerprint": fingerprint, "task": model.task, "metric": model.metric,
        "settings": model.settings.to_dict(), "scaler": model.scaler.to_dict(), "encoder": model.encoder.to_dict(),
        "row_cap": model.row_cap,
        "candidates": [{"key": k, "family": r.family, "config_id": r.config_id, "config": r.config}
                       for k, r in model.candidates.iterrows()],
        "n_surrogates": len(surrogate["models"]),
        "surrogate": {k: v for k, v in surrogate.items() if k != "models"},
        "time_model": ({k: v for k, v in model.time_model.to_dict().items() if k != "models"}
                       if model.time_model else None),
        "selector": model.selector.to_dict() if model.selector else None,
        "files": files,
    }
    write_json(folder / MODEL_FILE, meta, format=FORMAT_NAME, version=FORMAT_VERSION)
    return folder


def read_model(folder: str | Path, fingerprint: str | None = None, n_jobs: int = 1) -> MetaModel:
    """Read a meta-model folder, every file checked against its SHA-256 before it is parsed.

    Raises:
        StaleArtifactError: another format version, or fitted on another knowledge base.
        ArtifactError: missing, foreign or damaged (truncated, overwritten) files.
    """
    folder = Path(folder)
    where = f"The meta-model '{folder}'"
    meta = read_json(folder / MODEL_FILE, format=FORMAT_NAME, version=FORMAT_VERSION, what="meta-model",
                     remedy=_REMEDY)
    if fingerprint is not None and meta.get("fingerprint") != fingerprint:
        raise StaleArtifactError(f"{where} was fitted on another knowledge base; {_REMEDY}.")
    files = meta.get("files")
    if not isinstance(files, dict):
        raise ArtifactError(f"{where} lists no file checksums; {_REMEDY}.")

    def raw(name: str) -> bytes:
        if name not in files:
            raise ArtifactError(f"{where} lacks '{name}' in its manifest; {_REMEDY}.")
        return read_verified(folder / name, files[name], what="meta-model file", remedy=_REMEDY)

    def parquet(name: str) -> pd.DataFrame:
        return pd.read_parquet(io.BytesIO(raw(name)))

    try:
        # Every file is read and verified first: LightGBM and Arrow see only complete, unaltered bytes.
        n_surrogates = int(meta["n_surrogates"])
        texts = [raw(f"surrogate-{i}.txt").decode("utf-8") for i in range(n_surrogates)]
        time_text = raw("time.txt").decode("utf-8") if meta.get("time_model") else None
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
        datasets = parquet("datasets.parquet")
        model.dataset_ids = datasets["dataset_id"].astype(str).tolist()
        model.dataset_names = datasets["name"].astype(str).tolist()
        model.Z = datasets[[f"z.{n}" for n in model.scaler.names]].to_numpy(dtype=float)
        model.normalized = parquet("normalized.parquet")[list(model.candidates.index)].to_numpy(dtype=float)
        model.surrogate = Surrogate.from_dict({**meta["surrogate"], "models": texts}, n_jobs=n_jobs)
        if time_text is not None:
            model.time_model = Surrogate.from_dict({**meta["time_model"], "models": [time_text]}, n_jobs=n_jobs)
        if meta.get("selector"):
            model.selector = FamilySelector.from_dict(meta["selector"], parquet("selector.parquet"))
    except ArtifactError:
        raise
    except Exception as exc:  # verified bytes that still do not fit together: rebuilt, never trusted
        raise ArtifactError(f"{where} is damaged ({type(exc).__name__}: {exc}); {_REMEDY}.") from None
    return model


@contextlib.contextmanager
def _fit_lock(folder: Path) -> Iterator[None]:
    """One process at a time fits ``folder``; without a writable cache, no lock (and no cache) at all."""
    import fcntl

    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / LOCK_FILE, "a")
    except OSError:
        yield
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        handle.close()  # closing releases the lock


def _kb_folders(kb: Any) -> list[Path] | None:
    """The folders a knowledge-base argument stands for (None for an in-memory KnowledgeBase)."""
    from autometa.kb import shipped_kb_path

    if kb is None:
        from autometa.kb import user_kb_path

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

    metric = metric or PRIMARY_METRIC[task]
    settings = settings or DEFAULT_SETTINGS
    folders = _kb_folders(kb)
    if folders is not None and kb is None and not (folders[0] / "kb.json").exists():
        raise ArtifactError(f"The shipped knowledge base is missing ({folders[0]}); reinstall autometa or give "
                            "a knowledge-base folder (--kb).")
    fingerprint = kb_fingerprint(kb, folders)
    folder = cache_dir() / "metamodel" / f"{fingerprint}-{task}-{metric}"
    if not refresh:
        # The shipped model answers for the shipped knowledge base (its fingerprint says which).
        for candidate in (shipped_metamodel_path(task, metric), folder):
            model, _ = _read_usable(candidate, fingerprint, settings, n_jobs)
            if model is not None:
                return model
    with _fit_lock(folder):
        damage = None
        if not refresh:  # another process may have fitted it while this one waited for the lock
            model, damage = _read_usable(folder, fingerprint, settings, n_jobs)
            if model is not None:
                return model
        if damage:
            logger.warning("%s", damage)
        if on_fit is not None:
            on_fit()
        model = fit_metamodel(load_kb(kb), task, metric, settings, n_jobs=n_jobs, where=folders)
        try:
            save_model(model, folder, fingerprint)
        except OSError:  # a read-only cache costs time on the next call, never a failure
            pass
    return model


def fit_metamodel(kb: Any, task: str, metric: str, settings: Settings, *, n_jobs: int = 1,
                  where: list[Path] | None = None) -> MetaModel:
    """Fit the meta-model of ``task`` and ``metric`` on a loaded knowledge base (what the cache and the
    shipped model hold).

    Raises:
        ArtifactError: the knowledge base has no score of ``metric`` on a dataset of ``task`` (LightGBM
            would stop on an empty training set).
    """
    from autometa.metamodel._training import training_data

    data = training_data(kb, task, metric)
    if not len(data) or not np.isfinite(data.normalized.to_numpy(dtype=float)).any():
        named = " " + ", ".join(f"'{f}'" for f in where) if where else ""
        raise ArtifactError(f"The knowledge base{named} has no {metric} scores of {task} datasets to learn from; "
                            "give one that has (--kb) or choose another metric.")
    return MetaModel.fit(data, settings, n_jobs=n_jobs)


def _read_usable(folder: Path, fingerprint: str, settings: Settings, n_jobs: int) -> tuple[MetaModel | None, str | None]:
    """``(model, None)`` if ``folder`` holds a sound model of ``fingerprint`` and ``settings``; else
    ``(None, why)``, where ``why`` says what was damaged (None when it is merely absent or stale)."""
    if not (folder / MODEL_FILE).exists():
        return None, None
    try:
        model = read_model(folder, fingerprint, n_jobs=n_jobs)
    except StaleArtifactError:
        return None, None
    except ArtifactError as exc:
        return None, str(exc)
    return (model, None) if model.settings == settings else (None, None)


#: The settings autometa uses (chosen under leave-one-dataset-out; see benchmarks/results/warmstart_*).
DEFAULT_SETTINGS = Settings()
