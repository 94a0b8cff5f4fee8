"""Files autometa writes and reads back: atomic writes, SHA-256, versioned JSON headers, numpy in JSON.

Every artifact (the knowledge base, the meta-model cache and the shipped meta-model, build shards,
saved models) goes through these helpers, so that:

* a write is all or nothing: a temporary file in the same folder, flushed and fsync'ed, then
  ``os.replace``'d onto the name (readers see the old file or the new one, never half of one, and two
  concurrent writers of the same name leave one complete file);
* a reader can check a file's content against the SHA-256 recorded when it was written before native
  code (LightGBM, Arrow) parses it: a truncated or overwritten file is an :class:`ArtifactError`, not
  an abort of the process;
* every JSON record starts with ``format`` and ``format_version``, and one function checks them with
  one wording (foreign file, other version, damaged JSON);
* numpy scalars serialize as plain JSON numbers.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from autometa.errors import ArtifactError, InputError, StaleArtifactError

_BLOCK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    """The SHA-256 of ``data`` (hex)."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    """The SHA-256 of a file's content (hex), read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path next to ``path`` to write to; on success it is fsync'ed and renamed onto ``path``.

        >>> with atomic_path("kb/evaluations.parquet") as tmp:
        ...     frame.to_parquet(tmp)

    On an exception the temporary file is removed and ``path`` is left as it was. The temporary name
    is unique (``mkstemp``), so concurrent writers never write into each other's file.
    """
    path = Path(path)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    tmp = Path(name)
    os.chmod(tmp, _file_mode())  # mkstemp makes 0600; a file in a shared cache must stay readable
    try:
        yield tmp
        with open(tmp, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def _file_mode() -> int:
    """The mode ``open()`` would give a new file (0666 less the umask)."""
    global _MODE
    if _MODE is None:
        mask = os.umask(0o022)
        os.umask(mask)
        _MODE = 0o666 & ~mask
    return _MODE


_MODE: int | None = None


def atomic_write(path: str | Path, data: str | bytes) -> str:
    """Write ``data`` (text is UTF-8) to ``path`` atomically; returns the SHA-256 of the bytes written."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    with atomic_path(path) as tmp:
        tmp.write_bytes(raw)
    return sha256_bytes(raw)


def _fsync_folder(folder: Path) -> None:
    # The rename itself is durable only once the folder's entry is on disk (POSIX); best effort elsewhere.
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def json_default(value: Any) -> Any:
    """``json.dumps(default=...)``: numpy scalars and arrays as JSON numbers and lists (non-finite floats
    become ``null``); anything else JSON does not know (paths, dates) as its text."""
    import numpy as np

    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)


def dumps(payload: Any, *, indent: int | None = 1, sort_keys: bool = False) -> str:
    """``payload`` as JSON text (numpy-aware, see :func:`json_default`), ending with a newline."""
    return json.dumps(payload, indent=indent, sort_keys=sort_keys, default=json_default) + "\n"


def write_json(path: str | Path, payload: dict[str, Any], *, format: str, version: int,
               indent: int | None = 1, sort_keys: bool = False) -> str:
    """Write ``{"format": format, "format_version": version, **payload}`` atomically; returns its SHA-256."""
    record = {"format": format, "format_version": version,
              **{k: v for k, v in payload.items() if k not in ("format", "format_version")}}
    return atomic_write(path, dumps(record, indent=indent, sort_keys=sort_keys))


def parse_json(raw: bytes | str, *, where: str, remedy: str) -> Any:
    """JSON from bytes or text; damage (bad UTF-8, bad JSON) is an :class:`ArtifactError` naming ``where``."""
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ArtifactError(f"{where} is not readable JSON ({reason}); {remedy}.") from None


def read_json(path: str | Path, *, format: str | None = None, version: int | None = None,
              what: str = "file", remedy: str = "write it again") -> dict[str, Any]:
    """Read a JSON record written by :func:`write_json` and check its header.

    Args:
        path: the file.
        format, version: the expected ``format`` and ``format_version`` (None: not checked).
        what: what the file is, for messages (``"meta-model cache"``, ``"model file"``).
        remedy: what the user should do, ending the message (``"rebuild the knowledge base"``).

    Raises:
        ArtifactError: the file is unreadable, not JSON, not an object, or of another format.
        StaleArtifactError: the format is right but the version is not (an :class:`ArtifactError` too).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ArtifactError(f"Cannot read the {what} '{path}' ({exc.strerror or exc}); {remedy}.") from None
    record = parse_json(raw, where=f"The {what} '{path}'", remedy=remedy)
    check_header(record, format=format, version=version, where=f"The {what} '{path}'", remedy=remedy)
    return record


def check_header(record: Any, *, format: str | None, version: int | None, where: str, remedy: str) -> None:
    """Check a JSON record's ``format`` / ``format_version`` (see :func:`read_json` for the errors)."""
    if not isinstance(record, dict):
        raise ArtifactError(f"{where} holds a JSON {type(record).__name__}, not an autometa record; {remedy}.")
    if format is not None and record.get("format") != format:
        raise ArtifactError(f"{where} is not of the format '{format}' (it says {_short(record.get('format'))}); "
                            f"{remedy}.")
    if version is not None and record.get("format_version") != version:
        raise StaleArtifactError(f"{where} has format version {_short(record.get('format_version'))}, but this "
                                 f"autometa reads version {version}; {remedy}.")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def read_verified(path: str | Path, sha256: str | None, *, what: str = "file", remedy: str = "write it again") -> bytes:
    """A file's bytes, checked against the SHA-256 recorded when it was written (None: not checked).

    Raises:
        ArtifactError: the file is missing or unreadable, or its content is not what was written
            (truncated, overwritten, damaged).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ArtifactError(f"Cannot read the {what} '{path}' ({exc.strerror or exc}); {remedy}.") from None
    if sha256 is not None and sha256_bytes(raw) != sha256:
        raise ArtifactError(f"The {what} '{path}' is damaged (its content is not what was written: "
                            f"{len(raw):,} bytes, another checksum); {remedy}.")
    return raw


def check_parquet_bytes(raw: bytes, *, where: str, remedy: str) -> None:
    """A Parquet file starts and ends with ``PAR1``: a cheap completeness check where no checksum exists."""
    if len(raw) < 12 or raw[:4] != b"PAR1" or raw[-4:] != b"PAR1":
        raise ArtifactError(f"{where} is not a complete Parquet file ({len(raw):,} bytes); {remedy}.")


def check_writable(path: str | Path, what: str = "file") -> Path:
    """Check, before any long work, that a file can be written at ``path``; returns it (user-expanded).

    Raises:
        InputError: ``path`` is a folder, its folder does not exist, or nothing can be written there.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        raise InputError(f"Cannot write the {what} to '{path}': it is a folder; give a file name.")
    if not path.parent.is_dir():
        raise InputError(f"Cannot write the {what} to '{path}': its folder '{path.parent}' does not exist.")
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError(f"Cannot write the {what} to '{path}': the file is read-only.")
    try:
        handle, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=path.parent)
    except OSError as exc:
        raise InputError(f"Cannot write the {what} to '{path}': nothing can be written in '{path.parent}' "
                         f"({exc.strerror or exc}).") from None
    os.close(handle)
    os.unlink(probe)
    return path
