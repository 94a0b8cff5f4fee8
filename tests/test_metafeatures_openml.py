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
from autometa.kb._duplicates import pmlb_openml_pairs
from autometa.kb._import_lcdb import lcdb_qualities

REL_TOL = 1e-6
# PMLB copies identical to OpenML's table (same row order: AutoCorrelation, which depends on it,
# agrees; same nominal attributes), with the OpenML id they copy.
IDENTICAL = {
    "cmc": 23,
    "credit_g": 31,
    "dna": 40670,
    "kr_vs_kp": 3,
    "krkopt": 184,
    "letter": 6,
    "mfeat_factors": 12,
    "mfeat_fourier": 14,
    "mfeat_karhunen": 16,
    "mfeat_morphological": 18,
    "mfeat_zernike": 22,
    "pendigits": 32,
    "shuttle": 40685,
    "waveform_40": 60,
    "wine_quality_white": 40498,
}
# PMLB regression datasets whose attributes equal those of OpenML's binarized-target copy.
SAME_ATTRIBUTES = {
    "197_cpu_act": 761,
    "201_pol": 722,
    "215_2dplanes": 727,
    "503_wind": 847,
    "562_cpu_small": 735,
    "573_cpu_act": 761,
}
# Qualities that depend on declared-but-unused categories (binary = two declared values; one-hot
# width; NaiveBayes' Laplace correction adds one count per declared value).
NAIVE_BAYES = {"NaiveBayesAUC", "NaiveBayesErrRate", "NaiveBayesKappa"}
DECLARED_LEVELS = {
    "kr_vs_kp": {"NumberOfBinaryFeatures", "PercentageOfBinaryFeatures", "NumberOfFeaturesAfterBinarization"},
    "credit_g": {"NumberOfFeaturesAfterBinarization"} | NAIVE_BAYES,
    "krkopt": {"NumberOfFeaturesAfterBinarization"} | NAIVE_BAYES,
}
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
