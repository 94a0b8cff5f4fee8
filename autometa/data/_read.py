"""Reading a table from disk: CSV/TSV (optionally gzip), Parquet, and PMLB dataset folders.

Every failure becomes an :class:`~autometa.errors.InputError` that names the file and says what to do.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from autometa.errors import InputError

_PARQUET_SUFFIXES = (".parquet", ".pq")
_TEXT_SUFFIXES = (".csv", ".tsv", ".tab", ".txt", ".data", ".dat")
# Feature types in PMLB's metadata.yaml that mean "categorical" (PMLB stores them integer coded).
_PMLB_CATEGORICAL_TYPES = {"categorical", "nominal", "binary"}


@dataclass(frozen=True)
class RawTable:
    """A table as read from disk, before typing: the frame plus what the file itself says."""

    frame: pd.DataFrame
    name: str
    source: str
    target: str | None = None  # a target declared by the format (PMLB: "target")
    task: str | None = None  # a task declared by the format (PMLB metadata)
    categorical: tuple[str, ...] = ()  # columns the format declares categorical


def read_table(path: str | Path, *, encoding: str | None = None, min_columns: int = 2) -> RawTable:
    """Read ``path``: a CSV/TSV file (``.gz`` allowed), a Parquet file, or a PMLB dataset folder.

    Text is read as UTF-8 unless ``encoding`` names another codec (e.g. ``"latin-1"``); a file that is
    not valid in that encoding is refused with advice rather than guessed at. A text table needs
    ``min_columns`` columns (a feature and a target; 1 for a table of features to predict).
    """
    path = Path(path).expanduser()
    if encoding is not None:
        check_encoding(encoding)
    if not path.exists():
        raise InputError(f"File '{path}' does not exist; check the path.")
    if path.is_dir():
        return _read_pmlb_folder(path, encoding)
    if path.stat().st_size == 0:
        raise InputError(f"File '{path}' is empty; give a CSV, TSV or Parquet file with a header row and data.")
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _PARQUET_SUFFIXES:
        frame = _read_parquet(path)
    else:
        frame = _read_text(path, compressed=bool(suffixes) and suffixes[-1] in (".gz", ".gzip"), encoding=encoding,
                           min_columns=min_columns)
    return RawTable(frame=frame, name=_stem(path), source=str(path))


def check_encoding(encoding: str) -> str:
    """``encoding`` if Python knows the codec, else an InputError naming common ones."""
    try:
        return codecs.lookup(str(encoding)).name
    except (LookupError, TypeError):
        raise InputError(f"Unknown text encoding '{encoding}'; use one Python knows, e.g. utf-8, latin-1 or cp1252.") from None


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".gzip", *_PARQUET_SUFFIXES, *_TEXT_SUFFIXES):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name or path.name


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise InputError(f"File '{path}' is not a readable Parquet file ({_first_line(exc)}).") from None
    names = table.column_names
    _check_duplicate_names(names, path)
    return table.to_pandas()


#: File signatures of formats that are not text tables, and what to do with such a file.
_SIGNATURES = (
    (b"PK\x03\x04", "is a ZIP archive (an Excel .xlsx workbook is one); export the sheet as CSV, or unzip it"),
    (b"\xd0\xcf\x11\xe0", "is an old Office file (.xls); export the sheet as CSV"),
    (b"BZh", "is bzip2-compressed; decompress it, or compress it with gzip (.gz)"),
    (b"\xfd7zXZ", "is xz-compressed; decompress it, or compress it with gzip (.gz)"),
    (b"\x28\xb5\x2f\xfd", "is zstd-compressed; decompress it, or compress it with gzip (.gz)"),
    (b"PAR1", "is a Parquet file; name it with the .parquet suffix"),
    (b"\xff\xfe", "is UTF-16 text; re-save it as UTF-8, or pass --encoding utf-16 (encoding='utf-16' in Python)"),
    (b"\xfe\xff", "is UTF-16 text; re-save it as UTF-8, or pass --encoding utf-16 (encoding='utf-16' in Python)"),
)


def _check_signature(path: Path, encoding: str | None) -> None:
    """A file in a known non-table format is named as such (text tables never start with these bytes;
    'BZh' and 'PAR1' could, so bzip2 needs its block-size digit and Parquet its closing 'PAR1')."""
    with open(path, "rb") as handle:
        start = handle.read(4)
        handle.seek(max(path.stat().st_size - 4, 0))
        end = handle.read(4)
    for signature, what in _SIGNATURES:
        if not start.startswith(signature) or (encoding and what.startswith("is UTF-16")):
            continue
        if (signature == b"BZh" and start[3:4] not in b"123456789") or (signature == b"PAR1" and end != b"PAR1"):
            continue
        raise InputError(f"File '{path}' {what}.")


def _read_text(path: Path, compressed: bool, encoding: str | None = None, min_columns: int = 2) -> pd.DataFrame:
    if not compressed:
        _check_signature(path, encoding)
    opener = gzip.open if compressed else open
    try:
        with opener(path, "rt", encoding=encoding or "utf-8", errors="replace", newline="") as handle:
            head = handle.read(64 * 1024)
    except (OSError, EOFError, zlib.error) as exc:
        raise _unreadable(path, exc, compressed) from None
    if "\x00" in head:
        raise InputError(f"File '{path}' is not a text table (it contains binary data); give a CSV, TSV or Parquet file.")
    if not head.strip():
        raise InputError(f"File '{path}' is empty; give a CSV, TSV or Parquet file with a header row and data.")
    if head.lstrip()[:1] in ("{", "["):
        raise InputError(f"File '{path}' looks like JSON, not a table; give a CSV, TSV or Parquet file.")
    sep = _sniff_separator(path, head)
    # pandas skips blank lines before the header, and so does this check of its names.
    first = next(line for line in head.splitlines() if line.strip())
    header = next(csv.reader(io.StringIO(first), delimiter=sep))
    _check_duplicate_names([h.strip() for h in header], path)
    frame = None if compressed else _read_in_parts(path, sep, encoding)
    try:
        if frame is None:
            frame = pd.read_csv(path, sep=sep, compression="gzip" if compressed else None, **_CSV_OPTIONS,
                                encoding=encoding or "utf-8")
    except UnicodeDecodeError as exc:
        raise _not_decodable(path, exc, encoding) from None
    except (EOFError, OSError, zlib.error) as exc:  # a truncated or corrupt .gz surfaces only here
        raise _unreadable(path, exc, compressed) from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise InputError(f"File '{path}' is not a well-formed table ({_first_line(exc)}).") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.shape[1] < min_columns:
        raise InputError(
            f"File '{path}' has {frame.shape[1]} column; a table needs at least one feature and a target "
            "(is the separator a comma or a tab?)."
        )
    if frame.shape[0] == 0:
        raise InputError(f"File '{path}' has a header but no data rows.")
    return frame


#: How every text table is parsed (pandas' C parser), whole or in parts.
_CSV_OPTIONS = {"skipinitialspace": True, "na_values": ["?", "NA", "N/A", "na", "nan", "NaN", "null", "NULL", ""],
                "keep_default_na": True, "low_memory": False}
#: Plain text tables at least this big are parsed in parts side by side (one per core, at most 4).
PARALLEL_READ_BYTES = 8 << 20


def _read_in_parts(path: Path, sep: str, encoding: str | None) -> pd.DataFrame | None:
    """A big plain UTF-8 table parsed by pandas' C parser in line-aligned parts on several threads (the
    parser releases the GIL while it tokenizes and converts), or None to read it whole.

    Each part is parsed exactly as the whole file would be (the header line, then its own lines; same
    options), so every value is the one a whole read gives. The parts are joined only when they agree
    on every column's type (whole numbers in one part and decimals in another are decimals, as a whole
    read makes them, while they are exact as floats); anything else (quotes, which may hold a line
    break; leading blank lines; an index pandas would infer; any error) returns None, and the whole
    read decides, with its own messages.
    """
    import os

    if encoding is not None and codecs.lookup(encoding).name != "utf-8":
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    parts = min(cores, 4)
    try:
        if parts < 2 or path.stat().st_size < PARALLEL_READ_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b'"' in data:
        return None
    end = data.find(b"\n")
    if end < 0 or not data[:end].strip() or sep.encode() not in data[:end]:
        return None
    header = data[: end + 1]
    cuts = [end + 1]
    for k in range(1, parts):
        cut = data.find(b"\n", max(len(data) * k // parts, cuts[-1]))
        if cut < 0 or cut + 1 >= len(data):
            break
        cuts.append(cut + 1)
    cuts.append(len(data))
    if len(cuts) < 3:
        return None

    def parse(i: int) -> pd.DataFrame:
        return pd.read_csv(io.BytesIO(header + data[cuts[i]:cuts[i + 1]]), sep=sep, **_CSV_OPTIONS,
                           encoding=encoding or "utf-8")

    from concurrent.futures import ThreadPoolExecutor

    try:
        with ThreadPoolExecutor(max_workers=len(cuts) - 1) as pool:
            frames = list(pool.map(parse, range(len(cuts) - 1)))
    except Exception:  # noqa: BLE001 - the whole read reports it in its own words
        return None
    first = frames[0]
    for frame in frames:
        if not isinstance(frame.index, pd.RangeIndex) or list(frame.columns) != list(first.columns):
            return None
    for column in range(first.shape[1]):
        dtypes = {frame.dtypes.iloc[column] for frame in frames}
        if len(dtypes) == 1:
            continue
        if dtypes != {np.dtype("int64"), np.dtype("float64")}:
            return None
        biggest = max(float(np.abs(frame.iloc[:, column].to_numpy(dtype=float)).max(initial=0))
                      for frame in frames if frame.dtypes.iloc[column] == np.dtype("int64"))
        if biggest > 2 ** 53:
            return None
    return pd.concat(frames, ignore_index=True)


def _unreadable(path: Path, exc: BaseException, compressed: bool) -> InputError:
    """One sentence for a file the OS or gzip cannot read to its end (EOFError, BadGzipFile, zlib.error)."""
    if not compressed or isinstance(exc, PermissionError):
        return InputError(f"File '{path}' cannot be read ({_first_line(exc)}).")
    if isinstance(exc, gzip.BadGzipFile) and "not a gzipped file" in str(exc).lower():
        return InputError(f"File '{path}' ends in .gz but is not gzip-compressed; rename it without .gz or compress it.")
    reason = "it ends before its compressed data does" if isinstance(exc, EOFError) else _first_line(exc)
    return InputError(f"File '{path}' is a damaged gzip file ({reason}); download or compress it again.")


def _not_decodable(path: Path, exc: UnicodeDecodeError, encoding: str | None) -> InputError:
    byte = exc.object[exc.start:exc.start + 1].hex() if isinstance(exc.object, bytes) else "?"
    if encoding is None:
        return InputError(
            f"File '{path}' is not UTF-8 text (byte 0x{byte} cannot be decoded); re-save it as UTF-8, or pass its "
            "encoding (--encoding latin-1 on the command line, encoding='latin-1' in Python)."
        )
    return InputError(f"File '{path}' is not valid {encoding} text (byte 0x{byte} cannot be decoded); pass its "
                      "real encoding with --encoding (encoding= in Python).")


def _sniff_separator(path: Path, head: str) -> str:
    lower = path.name.lower()
    if ".tsv" in lower or ".tab" in lower:
        return "\t"
    first = head.splitlines()[0]
    if ".csv" in lower and "," in first:
        return ","
    counts = {sep: first.count(sep) for sep in (",", "\t", ";", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else ","


def _check_duplicate_names(names: list[str], path: Path) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InputError(f"File '{path}' has two columns named '{name}'; give every column a unique name.")
        seen.add(name)


def _read_pmlb_folder(folder: Path, encoding: str | None = None) -> RawTable:
    """A PMLB dataset folder: ``<name>/<name>.tsv.gz`` (label column ``target``) + ``metadata.yaml``."""
    name = folder.name
    candidates = [folder / f"{name}.tsv.gz", folder / f"{name}.tsv", folder / f"{name}.csv"]
    data_file = next((c for c in candidates if c.exists()), None)
    if data_file is None:
        raise InputError(
            f"Folder '{folder}' is not a dataset folder: expected '{name}.tsv.gz' inside it (PMLB layout)."
        )
    frame = _read_text(data_file, compressed=data_file.suffix == ".gz", encoding=encoding)
    task, categorical = None, ()
    meta_file = folder / "metadata.yaml"
    if meta_file.exists():
        task, categorical = _read_pmlb_metadata(meta_file)
    return RawTable(frame=frame, name=name, source=str(data_file), target="target", task=task,
                    categorical=tuple(c for c in categorical if c in frame.columns))


def _read_pmlb_metadata(meta_file: Path) -> tuple[str | None, list[str]]:
    import yaml

    try:
        meta = yaml.safe_load(meta_file.read_text()) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"File '{meta_file}' is not valid YAML ({_first_line(exc)}).") from None
    task = meta.get("task")
    categorical = [
        str(f.get("name"))
        for f in meta.get("features") or []
        if isinstance(f, dict) and str(f.get("type", "")).lower() in _PMLB_CATEGORICAL_TYPES
    ]
    return (task if task in ("classification", "regression") else None), categorical


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
