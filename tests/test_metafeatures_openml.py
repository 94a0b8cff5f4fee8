"""metafeatures against OpenML's own data qualities.

The reference is lcdb's ``datasets.csv``: the qualities OpenML's evaluation engine (Java/Weka)
computed for 219 OpenML datasets. Many PMLB datasets in ``shared/datasets/pmlb`` are copies of
those OpenML datasets; a pair is the same dataset when the names agree and so do the numbers of
rows, columns (target included) and classes.

Some pairs hold exactly the same table -- same rows in the same order, same attribute types in
PMLB's metadata. On those every OpenML quality must come out equal (1e-6 relative), except the few
that need what PMLB threw away: categories that OpenML's ARFF header declares but no row uses.
Other pairs differ for known reasons (PMLB reordered the rows, re-typed attributes as categorical,
encoded missing values as a category, or OpenML's copy is rescaled); they still share sizes and the
class distribution, which are checked on every pair.
"""

from __future__ import annotations

import importlib.util
import math
from functools import cache
from pathlib import Path

import pandas as pd
import pytest
import yaml

import metafeatures
from autometa.kb import lcdb_qualities, pmlb_openml_pairs

REL_TOL = 1e-6
# One home for which PMLB tables are OpenML's tables: the benchmark that measures the same thing.
_spec = importlib.util.spec_from_file_location(
    "metafeatures_openml_benchmark", Path(__file__).resolve().parents[1] / "benchmarks" / "metafeatures_openml.py")
_benchmark = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_benchmark)
IDENTICAL: dict[str, int] = _benchmark.SAME_TABLE
SAME_ATTRIBUTES: dict[str, int] = _benchmark.SAME_ATTRIBUTES
NAIVE_BAYES: set[str] = _benchmark.NAIVE_BAYES
DECLARED_LEVELS: dict[str, set[str]] = _benchmark.DECLARED_LEVELS
FAST_GROUPS = ["general", "statistical", "info-theory"]


@cache
def _lcdb() -> pd.DataFrame:
    if importlib.util.find_spec("lcdb") is None:
        pytest.skip("lcdb is not installed")
    return lcdb_qualities()


def _quality_names() -> list[str]:
    return [c for c in _lcdb().columns if c not in ("openmlid", "Name")]


@cache
def _load(pmlb_dir: Path, name: str):
    folder = pmlb_dir / name
    meta = yaml.safe_load((folder / "metadata.yaml").read_text())
    frame = pd.read_csv(folder / f"{name}.tsv.gz", sep="\t")
    y = frame.pop("target")
    categorical = [f["name"] for f in meta["features"] if f["type"] != "continuous"]
    return frame, y, meta["task"], categorical


@cache
def _pairs(pmlb_dir: Path) -> list[tuple[str, pd.Series]]:
    """(PMLB name, lcdb row) for every PMLB dataset that is an OpenML dataset of lcdb."""
    return pmlb_openml_pairs(pmlb_dir, _lcdb(), load=lambda folder: _load(pmlb_dir, folder.name))


def _agrees(ours: float, ref: float) -> bool:
    return abs(ours - ref) <= REL_TOL * abs(ref) or abs(ours - ref) <= 1e-12


def _mismatches(mf, row: pd.Series, names) -> dict[str, tuple[float, float]]:
    out = {}
    for name in names:
        ref = row[name]
        if pd.isna(ref):  # OpenML did not compute it for this dataset
            continue
        if math.isnan(mf[name]) or not _agrees(mf[name], ref):
            out[name] = (mf[name], float(ref))
    return out


def _extract(pmlb_dir: Path, name: str, groups):
    X, y, task, categorical = _load(pmlb_dir, name)
    return metafeatures.extract(X, y, task=task, categorical=categorical, groups=groups)


def test_pmlb_copies_of_openml_datasets_are_found(pmlb_dir):
    found = {name for name, _ in _pairs(pmlb_dir)}
    assert set(IDENTICAL) <= found
    assert len(found) >= 30


def test_sizes_and_class_distribution_match_on_every_pair(pmlb_dir):
    checked = 0
    for name, row in _pairs(pmlb_dir):
        X, y, task, categorical = _load(pmlb_dir, name)
        mf = metafeatures.extract(X, y, task=task, categorical=categorical, groups="general")
        names = ["NumberOfInstances", "NumberOfFeatures", "Dimensionality"]
        if task == "classification":  # OpenML's binarized copies of regression data have other targets
            names += ["NumberOfClasses", "MajorityClassSize", "MinorityClassSize", "MinorityClassPercentage"]
        assert _mismatches(mf, row, names) == {}, name
        checked += 1
    assert checked >= 30


def test_class_entropy_matches_on_every_classification_pair(pmlb_dir):
    for name, row in _pairs(pmlb_dir):
        X, y, task, categorical = _load(pmlb_dir, name)
        if task != "classification":
            continue
        mf = metafeatures.extract(X, y, task=task, categorical=categorical, groups="info-theory")
        assert _mismatches(mf, row, ["ClassEntropy"]) == {}, name


@pytest.mark.parametrize("name", sorted(IDENTICAL))
def test_identical_tables_match_every_openml_quality(pmlb_dir, name):
    row = _lcdb().set_index("openmlid").loc[IDENTICAL[name]]
    mf = _extract(pmlb_dir, name, FAST_GROUPS)
    names = [q for q in _quality_names() if q not in NAIVE_BAYES and q not in DECLARED_LEVELS.get(name, ())]
    assert _mismatches(mf, row, names) == {}
    assert sum(not pd.isna(row[q]) for q in names) >= 20  # the comparison is not vacuous


def _check_naive_bayes(pmlb_dir: Path, name: str) -> None:
    row = _lcdb().set_index("openmlid").loc[IDENTICAL[name]]
    assert not pd.isna(row["NaiveBayesAUC"])
    mf = _extract(pmlb_dir, name, "landmarking")
    assert _mismatches(mf, row, sorted(NAIVE_BAYES)) == {}


@pytest.mark.parametrize("name", ["cmc", "kr_vs_kp", "letter", "mfeat_morphological"])
def test_weka_naive_bayes_landmarker_matches_openml(pmlb_dir, name):
    _check_naive_bayes(pmlb_dir, name)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        "letter",
        "pendigits",
        "waveform_40",
        "mfeat_factors",
        "mfeat_fourier",
        "mfeat_karhunen",
        "mfeat_zernike",
    ],
)
def test_weka_naive_bayes_landmarker_matches_openml_larger(pmlb_dir, name):
    _check_naive_bayes(pmlb_dir, name)


@pytest.mark.parametrize("name", sorted(SAME_ATTRIBUTES))
def test_numeric_statistics_of_binarized_regression_copies(pmlb_dir, name):
    """OpenML's binarized copy of a regression dataset has the same attributes, so the same statistics."""
    row = _lcdb().set_index("openmlid").loc[SAME_ATTRIBUTES[name]]
    mf = _extract(pmlb_dir, name, "statistical")
    names = [q for q in _quality_names() if q.endswith("OfNumericAtts")]
    assert _mismatches(mf, row, names) == {}


# --- the user's path: load_dataset + Dataset.as_given() (issue 14) ---------------------------------


def test_constant_columns_count_as_openml_counts_them(pmlb_dir):
    """201_pol has 22 constant attributes: through load_dataset they are left out of X, yet the
    meta-features (on the data as given) equal OpenML's, as they do on the raw table."""
    from autometa.data import load_dataset

    ds = load_dataset(pmlb_dir / "201_pol")
    assert ds.n_features == 26 and ds.constants is not None and ds.constants.shape[1] == 22
    given = ds.as_given()
    mf = metafeatures.extract(given.X, given.y, task=given.task, groups=["general", "statistical"])
    row = _lcdb().set_index("openmlid").loc[SAME_ATTRIBUTES["201_pol"]]
    names = [q for q in _quality_names() if _benchmark.target_free(q)]
    assert mf["NumberOfFeatures"] == 49
    assert _mismatches(mf, row, names) == {}


def test_letter_as_a_plain_csv_is_26_classes_with_openmls_qualities(pmlb_dir, tmp_path):
    """No metadata: the task is inferred from the integer target 1..26, and the class qualities agree."""
    from autometa.data import load_dataset

    X, y, _, _ = _load(pmlb_dir, "letter")
    path = tmp_path / "letter.csv"
    X.assign(target=y).to_csv(path, index=False)
    given = load_dataset(path).as_given()
    assert given.task == "classification" and given.n_classes == 26
    mf = metafeatures.extract(given.X, given.y, task=given.task, groups=FAST_GROUPS)
    row = _lcdb().set_index("openmlid").loc[IDENTICAL["letter"]]
    names = [q for q in _quality_names() if q not in NAIVE_BAYES]
    assert _mismatches(mf, row, names) == {}
    assert sum(not pd.isna(row[q]) for q in names) >= 20
