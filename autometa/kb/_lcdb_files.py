"""Where the installed ``lcdb`` package keeps its data files, and OpenML's qualities read from them.

Read directly from the install folder (importing ``lcdb`` would pull in openml, matplotlib and
func_timeout for nothing). Used by the LCDB importer and by the duplicate finder (PMLB copies of the
OpenML datasets LCDB covers), so it sits below both.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

from autometa.errors import InputError

#: lcdb metric file -> our metric column.
METRIC_FILES: dict[str, str] = {"accuracy": "accuracy", "auc": "roc_auc", "logloss": "log_loss"}


def lcdb_folder() -> Path:
    """The install folder of the ``lcdb`` package (holding ``datasets.csv`` and ``database-*.csv``).

    Raises:
        InputError: lcdb is not installed, or its data files are missing.
    """
    spec = importlib.util.find_spec("lcdb")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("The 'lcdb' package is not installed; install it with 'pip install \"autometa[bench]\"' "
                         "(or 'pip install lcdb') and retry.")
    folder = Path(next(iter(spec.submodule_search_locations)))
    missing = [name for name in ["datasets.csv", *(f"database-{m}.csv" for m in METRIC_FILES)]
               if not (folder / name).is_file()]
    if missing:
        raise InputError(f"The lcdb package at '{folder}' lacks its data file '{missing[0]}'; reinstall lcdb.")
    return folder


def lcdb_qualities(folder: str | Path | None = None) -> pd.DataFrame:
    """LCDB's ``datasets.csv``: OpenML's qualities (``openmlid``, ``Name``, ``NumberOfInstances``, ...)
    of the OpenML datasets LCDB covers, as OpenML computed them.

    Raises:
        InputError: lcdb is not installed, or its data files are missing.
    """
    return pd.read_csv(Path(folder if folder is not None else lcdb_folder()) / "datasets.csv")
