"""The knowledge base of task histories: which (family, config) scored what on which dataset.

    >>> from autometa.kb import KnowledgeBase
    >>> kb = KnowledgeBase.load()                       # shipped with autometa, no network needed
    >>> kb.datasets, kb.evaluations                     # the two tables (see autometa.kb.schema)
    >>> kb.matrix("random_forest", "balanced_accuracy") # datasets x config_id
    >>> kb.duplicate_groups()                           # copies of one dataset across sources

The table contract (column names, dtypes, families, metrics, statuses) lives in
:mod:`autometa.kb._schema` and is re-exported as ``autometa.kb.schema``; importers and the meta-model
use its constants. The builder (``autometa kb build``) fills a knowledge base from a corpus; ``autometa kb
export BUILD_DIR --out DIR --with-lcdb`` writes it with LCDB's histories merged in.
"""

from __future__ import annotations

from autometa.kb import _schema as schema
from autometa.kb._knowledge_base import KnowledgeBase, shipped_kb_path

__all__ = ["KnowledgeBase", "schema", "shipped_kb_path"]
