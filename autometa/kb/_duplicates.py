"""Which datasets of a knowledge base hold the same data (copies across sources).

The same data appears under several sources: iris, wine or WDBC in PMLB, KEEL and scikit-learn; about
50 PMLB datasets are OpenML datasets that LCDB also has. Leave-one-dataset-out evaluation must hold
out a dataset together with its copies, or the meta-model is asked about data it has seen.

Two datasets are copies when they have the same task and one of these holds:

- **same table** -- the same numbers of rows, features and classes, the same class counts, and at least
  90 % of the order-invariant meta-features both have (attribute statistics and their quartiles,
  attribute entropies, mutual information, type counts, class entropy, target moments) agree to 1e-4
  relative. Our meta-features of the same data agree almost exactly whatever the source calls it
  (pmlb/heart_h is pmlb/hungarian; keel/pima is pmlb/diabetes; lcdb/31 is pmlb/credit_g);
- **same name, same shape** -- the same name (see :func:`name_key`: numeric prefix, case and
  punctuation dropped, known aliases such as PMLB's ``german`` for OpenML's ``credit-g``, KEEL's
  ``penbased`` for ``pendigits``; a few names mean different data in different sources and are read
  per source: scikit-learn's ``breast_cancer`` is WDBC, PMLB's the Ljubljana data), the same
  numbers of rows, features and classes and the same class counts. This is how copies that were
  rescaled, re-typed or reordered are found (README "Meta-features": PMLB reorders rows, types
  numeric attributes as categorical, codes missing values as a category; OpenML's phoneme is
  standardized; KEEL discretizes some attributes), and how sklearn's iris (two corrected values) is
  pmlb's;
- **same name, cleaned** -- the same name and the same number of classes, at most 2 features and at
  most 10 % of the rows apart: the same source data after a different cleaning (KEEL drops rows with
  missing values, e.g. crx 653 vs 690 rows, or constant columns, e.g. optdigits). One class fewer
  is allowed only with fewer rows (at most 1 % fewer): a tiny class dropped (PMLB's nursery, yeast).

Class counts are compared exactly, except where the meta-features were computed after the protocol's
row cap (``mf.NumberOfInstances < n_rows``): then the capped counts are compared with the
stratified allocation of the other side's counts (within one row per class).

Not copies: OpenML's binarized variants (the same features with a one-vs-rest target; another
number of classes), and LCDB's binarized-target copies of PMLB regression datasets (another task).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd

from autometa.kb import _schema as S

#: PMLB dataset names whose OpenML (LCDB) name differs beyond case, punctuation and numeric prefix.
ALIASES: dict[str, str] = {
    "segmentation": "segment",
    "magic": "MagicTelescope",
    "ann_thyroid": "thyroid-ann",
    "krkopt": "kropt",
    "german": "credit-g",
    "waveform_40": "waveform-5000",
    "contraceptive": "cmc",
}
# More names of the same data across PMLB, KEEL, scikit-learn and OpenML (normalized keys). Used only
# together with equal shapes (or nearly equal, for "cleaned" copies), so a shared name alone groups nothing.
_SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("wdbc", "breastcancerwisconsin"),
    ("wine", "winerecognition"),
    ("diabetes", "pima", "pimaindiansdiabetes"),
    ("pendigits", "penbased"),
    ("krvskp", "chess"),
    ("crx", "credita", "buggycrx", "australian"),  # Statlog's Australian credit is crx, re-coded
    ("musk", "clean2"),
    ("mushroom", "agaricuslepiota"),
)
_CANONICAL = {name: group[0] for group in _SYNONYMS for name in group}
# Names that mean different data in different sources: scikit-learn's breast_cancer is WDBC, PMLB's is
# the Ljubljana data (KEEL's "breast"); PMLB's "breast" is Wisconsin's original data (KEEL's "wisconsin").
_SOURCE_NAMES: dict[tuple[str, str], str] = {
    ("sklearn", "breastcancer"): "wdbc",
    ("keel", "breast"): "breastcancer",
    ("pmlb", "breast"): "breastw",
    ("keel", "wisconsin"): "breastw",
}

#: Relative tolerance of "the same meta-feature value", and the share of values that must agree.
REL_TOL = 1e-4
_ABS_TOL = 1e-6
MIN_AGREEMENT = 0.9
#: Fewest statistics (not counts) both datasets must have for the meta-feature test to count.
_MIN_STATISTICS = 3
_SUMMARIES = ("Min", "Quartile1", "Quartile2", "Quartile3", "Max", "Mean")
_STATISTICS = tuple(
    s + name
    for name in ("MeansOfNumericAtts", "StdDevOfNumericAtts", "SkewnessOfNumericAtts", "KurtosisOfNumericAtts",
                 "AttributeEntropy", "MutualInformation", "TargetCorrelationOfNumericAtts",
                 "AttributeEntropyDiscretized", "MutualInformationDiscretized")
    for s in _SUMMARIES
) + ("ClassEntropy", "MeanNominalAttDistinctValues", "TargetSkewness", "TargetKurtosis")
_COUNTS = ("NumberOfNumericFeatures", "NumberOfSymbolicFeatures", "NumberOfBinaryFeatures", "NumberOfMissingValues",
           "MaxNominalAttDistinctValues", "MinNominalAttDistinctValues")
#: Folds of the protocol: the stratified row cap keeps min(count, k) rows of every class first.
_K = 3


def name_key(name: str) -> str:
    """A dataset name reduced for matching: PMLB alias resolved, numeric prefix ("197_"), case and
    punctuation dropped (``"197_cpu_act"`` and ``"cpu_act"`` give ``"cpuact"``)."""
    name = str(name)
    name = ALIASES.get(name, re.sub(r"^\d+_", "", name))
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _group_key(name: str, source: str = "") -> str:
    key = name_key(name)
    key = _SOURCE_NAMES.get((str(source), key), key)
    return _CANONICAL.get(key, key)


def openml_copies(name: str, *, n_rows: int, n_features: int, n_classes: int | None, task: str,
                  qualities: pd.DataFrame) -> list[pd.Series]:
    """The rows of ``qualities`` (OpenML's qualities, e.g. LCDB's ``datasets.csv``) that are the
    dataset ``name``: the same :func:`name_key`, rows and columns (OpenML's ``NumberOfFeatures`` counts
    the target) and, for classification, classes. LCDB's copies of regression datasets have a
    binarized target, so for ``task="regression"`` the classes are not compared."""
    key = name_key(name)
    keys = qualities["Name"].map(name_key)
    rows = []
    for _, row in qualities[keys == key].iterrows():
        same_shape = row["NumberOfInstances"] == n_rows and row["NumberOfFeatures"] == n_features + 1
        same_classes = task != "classification" or row["NumberOfClasses"] == n_classes
        if same_shape and same_classes:
            rows.append(row)
    return rows


def pmlb_openml_pairs(
    pmlb_dir: str | Path,
    qualities: pd.DataFrame | None = None,
    load: Callable[[Path], tuple[pd.DataFrame, pd.Series, str]] | None = None,
) -> list[tuple[str, pd.Series]]:
    """(PMLB name, qualities row) for every PMLB dataset under ``pmlb_dir`` that is an OpenML dataset
    of ``qualities`` (default: LCDB's ``datasets.csv``), by :func:`openml_copies`.

    Args:
        pmlb_dir: a folder in PMLB layout (``<name>/<name>.tsv.gz`` with a ``target`` column).
        qualities: OpenML's qualities (columns ``Name``, ``NumberOfInstances``, ``NumberOfFeatures``,
            ``NumberOfClasses``).
        load: reads a PMLB folder into ``(X, y, task)`` (default: the TSV and ``metadata.yaml``);
            called only for folders whose name matches, so callers can pass their cached loader.
    """
    if qualities is None:
        from autometa.kb._lcdb_files import lcdb_qualities

        qualities = lcdb_qualities()
    load = load or _load_pmlb
    keys = set(qualities["Name"].map(name_key))
    pairs = []
    for folder in sorted(p for p in Path(pmlb_dir).iterdir() if p.is_dir()):
        if name_key(folder.name) not in keys:
            continue
        X, y, task = load(folder)[:3]
        n_classes = int(y.nunique()) if task == "classification" else None
        for row in openml_copies(folder.name, n_rows=len(X), n_features=X.shape[1], n_classes=n_classes,
                                 task=task, qualities=qualities):
            pairs.append((folder.name, row))
    return pairs


def _load_pmlb(folder: Path) -> tuple[pd.DataFrame, pd.Series, str]:
    import yaml

    meta = yaml.safe_load((folder / "metadata.yaml").read_text())
    frame = pd.read_csv(folder / f"{folder.name}.tsv.gz", sep="\t")
    return frame.drop(columns="target"), frame["target"], meta["task"]


# ------------------------------------------------------------------------------------------ groups
def duplicate_pairs(datasets: pd.DataFrame) -> pd.DataFrame:
    """Every pair of copies in a ``datasets`` table, with the rule that found it.

    Returns:
        Columns ``a``, ``b`` (dataset ids, ``a < b``) and ``rule`` (``"same table"``, ``"same name"``
        or ``"same name, cleaned"``; the first that holds), sorted.
    """
    rows = _rows(datasets)
    found: dict[tuple[str, str], str] = {}
    ids = datasets["dataset_id"].astype(str).to_numpy()
    exact = ["task", "n_rows", "n_features", "n_classes"]
    for members in datasets.groupby(exact, dropna=False, sort=False).indices.values():
        for a, b in itertools.combinations(sorted(ids[members]), 2):
            if not _class_counts_agree(rows[a], rows[b]):
                continue
            if _metafeatures_agree(rows[a], rows[b]):
                found[a, b] = "same table"
            elif rows[a]["key"] == rows[b]["key"]:
                found[a, b] = "same name"
    keys = pd.Series([_group_key(n, s) for n, s in zip(datasets["name"], datasets["source"], strict=True)],
                     index=datasets.index)
    for members in datasets.groupby([datasets["task"], keys], sort=False).indices.values():
        for a, b in itertools.combinations(sorted(ids[members]), 2):
            if (a, b) not in found and _cleaned_copy(rows[a], rows[b]):
                found[a, b] = "same name, cleaned"
    frame = pd.DataFrame([(a, b, rule) for (a, b), rule in found.items()], columns=["a", "b", "rule"])
    return frame.sort_values(["a", "b"], ignore_index=True)


def duplicate_groups(datasets: pd.DataFrame) -> pd.Series:
    """The copy group of every dataset of a ``datasets`` table (see the module docstring).

    Returns:
        A string Series indexed by ``dataset_id`` (in the table's order): the group id, which is the
        smallest ``dataset_id`` of the group (so a dataset without copies is its own group, and ids
        are stable when unrelated datasets are added).
    """
    ids = [str(i) for i in datasets["dataset_id"]]
    groups = linked_groups(ids, duplicate_pairs(datasets)[["a", "b"]].itertuples(index=False))
    return pd.Series([groups[i] for i in ids], index=pd.Index(ids, name="dataset_id"), name="group",
                     dtype="string")


def linked_groups(ids: list[str], links: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Each id's group (the smallest id of its connected component) when ``links`` join pairs of ids:
    union-find, shared by the duplicate and the origin groups."""
    parent = {i: i for i in ids}

    def find(i: str) -> str:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in links:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)  # the root is always the smallest id of its component
    return {i: find(i) for i in ids}


def _rows(datasets: pd.DataFrame) -> dict[str, dict]:
    wanted = (*_STATISTICS, *_COUNTS, "NumberOfInstances", "MajorityClassSize", "MinorityClassSize")
    mf = [S.MF_PREFIX + name for name in wanted if S.MF_PREFIX + name in datasets.columns]
    out = {}
    columns = ["dataset_id", "source", "name", "task", "n_rows", "n_features", "n_classes", *mf]
    for record in datasets[columns].to_dict("records"):
        row = {k[len(S.MF_PREFIX):] if k.startswith(S.MF_PREFIX) else k: v for k, v in record.items()}
        row["key"] = _group_key(row["name"], row["source"])
        counted = _num(row.get("NumberOfInstances"))
        row["counted"] = counted if counted > 0 else float(row["n_rows"])
        out[str(row["dataset_id"])] = row
    return out


def _num(value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return math.nan
    return value if math.isfinite(value) else math.nan


def _capped(row: dict) -> bool:
    return row["counted"] < row["n_rows"]


def _allocated(count: float, row: dict, cap: float) -> float:
    """How many rows of a class of ``count`` rows the stratified row cap keeps (see
    autometa.evaluation._protocol.subsample_indices), assuming every class has at least k rows."""
    n, classes = float(row["n_rows"]), float(row["n_classes"] or 0)
    floor_total = _K * classes
    if n <= cap or floor_total >= cap:
        return count * cap / n
    floor_ = min(count, _K)
    return floor_ + (count - floor_) * (cap - floor_total) / max(n - floor_total, 1.0)


def _class_counts_agree(a: dict, b: dict) -> bool:
    if a["task"] != "classification":
        return True
    for name in ("MajorityClassSize", "MinorityClassSize"):
        x, y = _num(a.get(name)), _num(b.get(name))
        if math.isnan(x) or math.isnan(y):
            continue  # unknown: the other evidence decides
        if _capped(a) == _capped(b):
            if a["counted"] != b["counted"]:  # capped to different caps: compare proportions
                if abs(x / a["counted"] - y / b["counted"]) * min(a["counted"], b["counted"]) > 1 + _K:
                    return False
            elif abs(x - y) > (1 if _capped(a) else 0.5):  # largest-remainder ties may move one row
                return False
            continue
        capped, full, cx, fy = (a, b, x, y) if _capped(a) else (b, a, y, x)
        slack = 1.5 + (_K * float(full["n_classes"] or 0) if _num(full.get("MinorityClassSize")) < _K else 0)
        if abs(cx - _allocated(fy, full, capped["counted"])) > slack:
            return False
    return True


def _metafeatures_agree(a: dict, b: dict) -> bool:
    # Statistics of different subsamples differ: compare only what was computed on the same rows.
    if a["counted"] != b["counted"]:
        return False
    n_statistics, agree, total = 0, 0, 0
    for name in _STATISTICS + _COUNTS:
        x, y = _num(a.get(name)), _num(b.get(name))
        if math.isnan(x) or math.isnan(y):
            continue
        total += 1
        n_statistics += name in _STATISTICS
        agree += abs(x - y) <= REL_TOL * max(abs(x), abs(y)) + _ABS_TOL
    return n_statistics >= _MIN_STATISTICS and agree >= MIN_AGREEMENT * total


def _cleaned_copy(a: dict, b: dict) -> bool:
    if a["key"] != b["key"] or a["task"] != b["task"]:
        return False
    if abs(int(a["n_features"]) - int(b["n_features"])) > 2:
        return False
    fewer, more = (a, b) if a["n_rows"] <= b["n_rows"] else (b, a)
    ratio = fewer["n_rows"] / max(more["n_rows"], 1)
    if a["task"] != "classification":
        return ratio >= 0.9
    if fewer["n_rows"] == more["n_rows"]:  # only columns dropped: the very same targets
        return fewer["n_classes"] == more["n_classes"] and _class_counts_agree(a, b)
    if fewer["n_classes"] == more["n_classes"]:
        return ratio >= 0.9 and _rows_dropped(fewer, more, ("MajorityClassSize", "MinorityClassSize"))
    # One class fewer and at most 1 % fewer rows: a tiny class dropped (its rows with it).
    return (_num(more["n_classes"]) - _num(fewer["n_classes"]) == 1 and ratio >= 0.99
            and _rows_dropped(fewer, more, ("MajorityClassSize",)))


def _rows_dropped(fewer: dict, more: dict, names: tuple[str, ...]) -> bool:
    """Whether ``fewer``'s class sizes can be ``more``'s with some rows dropped: every class loses
    between none and all of the dropped rows (compared as proportions after a row cap)."""
    dropped = more["n_rows"] - fewer["n_rows"]
    for name in names:
        x, y = _num(fewer.get(name)), _num(more.get(name))
        if math.isnan(x) or math.isnan(y):
            continue
        if _capped(fewer) or _capped(more):
            x, y = x / fewer["counted"] * fewer["n_rows"], y / more["counted"] * more["n_rows"]
            slack = (1 + _K * _num(more["n_classes"])) * more["n_rows"] / min(fewer["counted"], more["counted"])
        else:
            slack = 0.5
        if not (-slack <= y - x <= dropped + slack):
            return False
    return True
