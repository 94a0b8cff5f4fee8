"""The knowledge base of task histories: which (family, config) scored what on which dataset.

    >>> from autometa.kb import KnowledgeBase
    >>> kb = KnowledgeBase.load()                       # shipped with autometa, no network needed
    >>> kb.datasets, kb.evaluations                     # the two tables (see autometa.kb.schema)
    >>> kb.matrix("random_forest", "balanced_accuracy") # datasets x config_id
    >>> kb.duplicate_groups()                           # copies of one dataset across sources

The verbs of ``autometa kb`` are functions here: :func:`build` (evaluate config sets over a corpus),
:func:`export` (a build as one knowledge-base folder), :func:`import_lcdb`, :func:`import_openml`,
:func:`import_study` (histories from elsewhere, added to a folder), :func:`info` (counts) and
:func:`refresh_metafeatures`.

The table contract (column names, dtypes, families, metrics, statuses) is ``autometa.kb.schema``;
importers and the meta-model use its constants.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from autometa._lazy import lazy_exports
from autometa.kb import _schema as schema
from autometa.kb._knowledge_base import KnowledgeBase, configs_range_text, shipped_kb_path

# The verbs and their helpers load on first use (scikit-learn, Optuna, openml only when they run).
_LAZY: dict[str, str] = {
    "build": "autometa.kb._verbs",
    "export": "autometa.kb._verbs",
    "import_lcdb": "autometa.kb._verbs",
    "import_openml": "autometa.kb._verbs",
    "import_study": "autometa.kb._verbs",
    "info": "autometa.kb._verbs",
    "refresh_metafeatures": "autometa.kb._verbs",
    "dataset_metafeatures": "autometa.kb._metafeatures",
    "BuildStats": "autometa.kb._build",
    "ImportResult": "autometa.kb._import_common",
    "user_kb_path": "autometa.kb._import_common",
    "lcdb_qualities": "autometa.kb._lcdb_files",
    "duplicate_pairs": "autometa.kb._duplicates",
    "name_key": "autometa.kb._duplicates",
    "pmlb_openml_pairs": "autometa.kb._duplicates",
    "DatasetRef": "autometa.kb._corpus",
    "resolve_corpora": "autometa.kb._corpus",
}

if TYPE_CHECKING:  # pragma: no cover
    from autometa.kb._build import BuildStats  # noqa: F401
    from autometa.kb._corpus import DatasetRef, resolve_corpora  # noqa: F401
    from autometa.kb._duplicates import duplicate_pairs, name_key, pmlb_openml_pairs  # noqa: F401
    from autometa.kb._import_common import ImportResult, user_kb_path  # noqa: F401
    from autometa.kb._lcdb_files import lcdb_qualities  # noqa: F401
    from autometa.kb._metafeatures import dataset_metafeatures  # noqa: F401
    from autometa.kb._verbs import (  # noqa: F401
        build,
        export,
        import_lcdb,
        import_openml,
        import_study,
        info,
        refresh_metafeatures,
    )

__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)

__all__ = ["KnowledgeBase", "configs_range_text", "schema", "shipped_kb_path", *_LAZY]
