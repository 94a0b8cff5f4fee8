"""The meta-feature step of a build: a separate, re-runnable pass over the build's datasets.

Meta-features are computed on the data the protocol evaluates (after the row cap, with the protocol's
seed), so they describe exactly what the evaluations saw; ``n_rows`` in the ``datasets`` table keeps
the size before the cap. A dataset whose meta-features exist is skipped unless ``force``.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from autometa.evaluation import Protocol, prepare_data
from autometa.kb._corpus import load_locator
from autometa.kb._export import open_build


def dataset_metafeatures(dataset: Any, protocol: Protocol | None = None, *, key: str | None = None) -> dict[str, float]:
    """The meta-features of ``dataset`` as the knowledge base has them: on the data as given (constant
    columns included, as OpenML counts them), on the rows the protocol evaluates (its seeded row cap),
    with the protocol's seed; non-finite values are left out. The one definition used by ``kb build``
    (:func:`refresh_metafeatures`), ``recommend``, ``tune`` and ``kb import-study``.

    Args:
        dataset: a :class:`~autometa.data.Dataset`.
        protocol: the evaluation protocol (default: autometa's).
        key: a cache key for the prepared rows (a dataset id).
    """
    import metafeatures
    from autometa.evaluation import DEFAULT_PROTOCOL

    protocol = protocol or DEFAULT_PROTOCOL
    data = prepare_data(dataset.as_given(), protocol, key=key)
    values = metafeatures.extract(data.X, data.y, task=data.task, random_state=protocol.seed)
    return {str(k): float(v) for k, v in dict(values).items() if v is not None and math.isfinite(float(v))}


def refresh_metafeatures(build_dir: str | Path, *, shard_dir: str | Path | None = None,
                         pmlb_root: str | Path | None = None, force: bool = False, console: Any = None) -> dict[str, int]:
    """Fill ``SHARDS/metafeatures/<dataset>.json`` for every dataset of the build that lacks it.

    Returns counts: computed, skipped (already present), failed. When the ``metafeatures`` package is
    not importable, nothing is computed and a note says so (run this again later).
    """
    try:
        import metafeatures  # noqa: F401 - only to say so when it is missing
    except ImportError:
        if console is not None:
            console.print("refresh-metafeatures: the metafeatures package is not available yet; run "
                          "'autometa kb refresh-metafeatures DIR' later.", highlight=False)
        return {"computed": 0, "skipped": 0, "failed": 0}
    store, record = open_build(build_dir, shard_dir)
    protocol = Protocol.from_dict(record["protocol"])
    existing = store.read_metafeatures()
    counts = {"computed": 0, "skipped": 0, "failed": 0}
    for dataset_id, row in sorted(store.read_datasets().items()):
        if dataset_id in existing and not force:
            counts["skipped"] += 1
            continue
        start = time.perf_counter()
        try:
            dataset = load_locator(row["locator"], pmlb_root=pmlb_root)
            values: dict[str, float | None] = dict(dataset_metafeatures(dataset, protocol, key=dataset_id))
        except Exception as exc:  # one dataset's failure must not stop the pass
            counts["failed"] += 1
            if console is not None:
                console.print(f"refresh-metafeatures: {dataset_id} failed: {type(exc).__name__}: {exc}", highlight=False)
            continue
        store.write_metafeatures(dataset_id, values, time.perf_counter() - start)
        counts["computed"] += 1
    if console is not None:
        console.print(f"refresh-metafeatures: {counts['computed']} computed, {counts['skipped']} already present, "
                      f"{counts['failed']} failed", highlight=False)
    return counts
