"""Write the meta-models fitted on the shipped knowledge base into ``autometa/data/metamodel/``.

    python -m autometa.metamodel.ship          # both tasks' primary metrics (about 20 s on one core)

A fresh install then loads these folders instead of fitting (see :mod:`autometa.metamodel._cache`):
the first ``autometa recommend`` or ``tune`` answers in seconds. Each folder is what the cache holds
(LightGBM text, JSON, Parquet, every file's SHA-256 in ``model.json``), keyed by the shipped knowledge
base's fingerprint and the cache's format version; a folder that no longer matches (the knowledge base,
``DEFAULT_SETTINGS`` or the format changed) is ignored, and the model is fitted and cached as before.

Run this after changing the shipped knowledge base or the meta-model's design, and commit the folder;
``tests/test_reliability.py`` fails while the shipped model does not match.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from autometa.metamodel._cache import (
    DEFAULT_SETTINGS,
    fit_metamodel,
    kb_fingerprint,
    read_model,
    save_model,
    shipped_metamodel_path,
)

#: The (task, metric) pairs shipped: the metrics ``recommend`` and ``tune`` use unless told otherwise.
SHIPPED: tuple[tuple[str, str], ...] = (("classification", "balanced_accuracy"), ("regression", "r2"))


def ship(out: str | Path | None = None, pairs: tuple[tuple[str, str], ...] = SHIPPED, *, n_jobs: int = 1,
         verbose: bool = True) -> list[Path]:
    """Fit the meta-model of each ``(task, metric)`` on the shipped knowledge base and write it.

    Args:
        out: the folder to write (default: ``autometa/data/metamodel`` in the package).
        pairs: the (task, metric) pairs.
        n_jobs: LightGBM threads.

    Returns:
        The folders written, one per pair; each is read back and checked before this returns.
    """
    from autometa.kb import KnowledgeBase, shipped_kb_path

    out = Path(out) if out is not None else shipped_metamodel_path()
    fingerprint = kb_fingerprint(folders=[shipped_kb_path()])
    kb = KnowledgeBase.load()
    written = []
    for task, metric in pairs:
        start = time.perf_counter()
        model = fit_metamodel(kb, task, metric, DEFAULT_SETTINGS, n_jobs=n_jobs)
        folder = out / f"{task}-{metric}"
        if folder.exists():
            shutil.rmtree(folder)  # no file of an older model stays behind in the package
        save_model(model, folder, fingerprint)
        (folder / "fit.lock").unlink(missing_ok=True)
        read_model(folder, fingerprint)  # what a fresh install will do
        size = sum(p.stat().st_size for p in folder.iterdir())
        if verbose:
            print(f"{folder}: {len(model.dataset_ids)} datasets, {len(model.candidates)} configs, "
                  f"{size / 1e6:.1f} MB, fitted in {time.perf_counter() - start:.1f} s", flush=True)
        written.append(folder)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="folder to write (default: the package's)")
    parser.add_argument("--n-jobs", type=int, default=1, help="LightGBM threads")
    args = parser.parse_args(argv)
    ship(args.out, n_jobs=args.n_jobs)


if __name__ == "__main__":
    main()
