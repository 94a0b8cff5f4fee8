"""What the importers (LCDB, OpenML, Optuna studies) share: their result and how it is written."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from autometa.kb import _schema as S

#: Imported rows were not scored under autometa's protocol (autometa.evaluation).
FOREIGN_PROTOCOL_VERSION = 0


@dataclass
class ImportResult:
    """Rows an importer produced, ready for :meth:`autometa.kb.KnowledgeBase.add`.

    Attributes:
        datasets: the ``datasets`` table (validated).
        evaluations: the ``evaluations`` table (validated).
        notes: what was skipped or approximated, one sentence each, for the user.
        record: how the rows were obtained (source, versions, options), kept in kb.json.
        saved_to: the knowledge-base folder :meth:`save` wrote (None until saved).
    """

    datasets: pd.DataFrame
    evaluations: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)
    saved_to: Path | None = None

    def __post_init__(self) -> None:
        self.datasets = S.validate_datasets(self.datasets if len(self.datasets) else S.empty_datasets())
        self.evaluations = S.validate_evaluations(self.evaluations if len(self.evaluations) else S.empty_evaluations())

    def summary(self) -> dict[str, Any]:
        """Counts for the CLI: datasets, evaluations, families, statuses."""
        ev = self.evaluations
        return {
            "datasets": int(len(self.datasets)),
            "evaluations": int(len(ev)),
            "families": {str(k): int(v) for k, v in ev["family"].value_counts().sort_index().items()},
            "status": {str(k): int(v) for k, v in ev["status"].value_counts().sort_index().items()},
        }

    def save(self, out: str | Path) -> Path:
        """Add the rows to the knowledge-base folder ``out`` (created when absent; rows already
        there for the same dataset or (dataset, family, config) are replaced) and save it."""
        from autometa.kb._knowledge_base import KnowledgeBase

        folder = Path(out).expanduser()
        kb = KnowledgeBase.load(folder) if (folder / S.META_FILE).exists() else KnowledgeBase()
        self.saved_to = self.add_to(kb).save(folder)
        return self.saved_to

    def add_to(self, kb: Any) -> Any:
        """Add the rows to the :class:`~autometa.kb.KnowledgeBase` ``kb`` (in place; rows already there
        for the same dataset or (dataset, family, config) are replaced), record the import in its
        ``meta["imports"]``, and return it."""
        kb.add(self.datasets, self.evaluations)
        record = {**self.record, "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                  "python": platform.python_version(), "autometa": _version("autometa"),
                  "counts": self.summary()}
        kb.meta.setdefault("imports", []).append(record)
        return kb


def user_kb_path() -> Path:
    """The user's own knowledge base, where imports go by default: ``$AUTOMETA_USER_KB``, else
    ``$XDG_DATA_HOME/autometa/kb`` (``~/.local/share/autometa/kb``)."""
    explicit = os.environ.get("AUTOMETA_USER_KB")
    if explicit:
        return Path(explicit).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home).expanduser() / "autometa" / "kb"


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def command_line() -> str:
    """The command that is running, for build records (passwords in URLs masked)."""
    from autometa.io import mask_url

    return " ".join(mask_url(a) if "://" in a else a for a in ["autometa", *sys.argv[1:]])
