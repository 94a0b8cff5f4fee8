"""Reliability: unusual or damaged data is one sentence and exit 2 from every data verb, never a traceback.

The cases of issue 14 that concern reading and typing data: a truncated or CRC-corrupt ``.csv.gz``, a
Latin-1 file, a ';'-separated file with decimal commas, a class target that cannot be cross-validated,
misuse of the Python API (``recommend(pd.DataFrame())``, ...). Each CLI case is run through the same
entry point as the ``autometa`` command and must give exit code 2, nothing on stdout and exactly one
line on stderr. They all fail while loading the data, before any meta-model or trial, so they are fast.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris

import autometa
from autometa.data import load_dataset
from autometa.errors import InputError

REPO = Path(__file__).resolve().parents[1]
#: Every verb that reads a dataset file, with the options that make it cheap if it got that far.
DATA_VERBS = {
    "metafeatures": ["--groups", "general"],
    "recommend": ["-n", "1"],
    "tune": ["--n-trials", "1"],
}


def _iris() -> pd.DataFrame:
    frame = load_iris(as_frame=True).frame
    frame["target"] = load_iris().target_names[frame["target"]]
    return frame


def _gzip_bytes(frame: pd.DataFrame) -> bytes:
    text = pd.concat([frame] * 100).to_csv(index=False)  # 15,000 rows: the damage lies past the first 64 KiB read
    return gzip.compress(text.encode(), mtime=0)


def _truncated_gz(tmp_path: Path) -> Path:
    data = _gzip_bytes(_iris())
    path = tmp_path / "iris.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    return path


def _crc_corrupt_gz(tmp_path: Path) -> Path:
    data = bytearray(_gzip_bytes(_iris()))
    data[-8] ^= 0xFF  # the CRC-32 in the gzip trailer
    path = tmp_path / "iris.csv.gz"
    path.write_bytes(bytes(data))
    return path


def _not_gzip(tmp_path: Path) -> Path:
    path = tmp_path / "iris.csv.gz"
    _iris().to_csv(path, index=False, compression=None)
    return path


def _latin1(tmp_path: Path) -> Path:
    frame = _iris()
    frame["target"] = frame["target"].map({"setosa": "sétosa", "versicolor": "versicolör", "virginica": "virginicà"})
    path = tmp_path / "iris.csv"
    path.write_bytes(frame.to_csv(index=False).encode("latin-1"))
    return path


def _unique_target(tmp_path: Path) -> Path:
    frame = _iris().drop(columns="target")
    frame["target"] = [f"plant-{i}" for i in range(len(frame))]
    path = tmp_path / "ids.csv"
    frame.to_csv(path, index=False)
    return path


def _tiny_classes(tmp_path: Path) -> Path:
    frame = _iris().drop(columns="target").iloc[:40]
    frame["target"] = [f"c{i // 2}" for i in range(40)]  # 20 classes of 2 rows: 3-fold CV cannot stratify
    path = tmp_path / "pairs.csv"
    frame.to_csv(path, index=False)
    return path


def _thousands_or_decimal(tmp_path: Path) -> Path:
    frame = _iris()
    frame["area"] = [f"{1 + i % 9},{100 + i:03d}" for i in range(len(frame))]  # "1,100": which comma?
    path = tmp_path / "area.csv"
    frame.to_csv(path, index=False, sep=";")
    return path


def _utf16(tmp_path: Path) -> Path:
    path = tmp_path / "iris.csv"
    path.write_text(_iris().to_csv(index=False), encoding="utf-16")  # Excel's "Unicode text"
    return path


def _xlsx(tmp_path: Path) -> Path:
    import zipfile

    path = tmp_path / "iris.xlsx"  # a workbook is a ZIP archive; this one holds the CSV itself
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("iris.csv", _iris().to_csv(index=False))
    return path


def _bz2(tmp_path: Path) -> Path:
    import bz2

    path = tmp_path / "iris.csv.bz2"
    path.write_bytes(bz2.compress(_iris().to_csv(index=False).encode()))
    return path


def _json(tmp_path: Path) -> Path:
    path = tmp_path / "iris.json"
    _iris().to_json(path, orient="records")
    return path


CASES = {
    "utf-16 text": (_utf16, "is UTF-16 text"),
    "excel workbook": (_xlsx, "ZIP archive"),
    "bzip2": (_bz2, "bzip2-compressed"),
    "json": (_json, "looks like JSON"),
    "truncated gzip": (_truncated_gz, "damaged gzip file"),
    "corrupt gzip CRC": (_crc_corrupt_gz, "damaged gzip file"),
    "gz that is not gzip": (_not_gzip, "not gzip-compressed"),
    "latin-1 text": (_latin1, "not UTF-8 text"),
    "target unique per row": (_unique_target, "different value on every row"),
    "classes smaller than the folds": (_tiny_classes, "no class with 3 rows"),
    "ambiguous comma": (_thousands_or_decimal, "decimal comma or a thousands separator"),
}


@pytest.mark.parametrize("verb", sorted(DATA_VERBS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_data_verb_answers_bad_data_with_exit_2_and_one_line(tmp_path, run_cli, monkeypatch, verb, case):
    monkeypatch.setenv("AUTOMETA_CACHE_DIR", str(tmp_path / "cache"))
    make, message = CASES[case]
    path = make(tmp_path)
    code, out, err = run_cli([verb, str(path), *DATA_VERBS[verb]])
    lines = err.strip().splitlines()
    assert code == 2, err
    assert out == ""
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and message in lines[0]
    assert "Traceback" not in err
    if case not in ("target unique per row", "classes smaller than the folds", "ambiguous comma"):
        assert str(path) in lines[0]  # the sentence names the file


def test_a_damaged_gzip_is_one_line_from_the_installed_command_too(tmp_path):
    """The whole process (not only cli.main): no 'Aborted.', no exit 130, no traceback."""
    done = subprocess.run([sys.executable, "-m", "cli", "metafeatures", str(_truncated_gz(tmp_path))], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "damaged gzip file" in done.stderr
    assert "Traceback" not in done.stderr and "Aborted" not in done.stderr


def test_latin1_reads_with_an_encoding(tmp_path, run_cli):
    path = _latin1(tmp_path)
    code, out, err = run_cli(["metafeatures", str(path), "--groups", "general", "--encoding", "latin-1", "--json"])
    assert code == 0, err
    assert '"NumberOfClasses": 3' in out
    assert set(load_dataset(path, encoding="latin-1").y) == {"sétosa", "versicolör", "virginicà"}
    utf16 = tmp_path / "utf16"
    utf16.mkdir()
    assert load_dataset(_utf16(utf16), encoding="utf-16").n_rows == 150
    code, _, err = run_cli(["metafeatures", str(path), "--encoding", "klingon"])
    assert code == 2 and "Unknown text encoding 'klingon'" in err and err.count("\n") == 1
    study = autometa.tune(path, encoding="latin-1", n_trials=1, family="linear", warm_start=False)
    assert study.trials[0].state.name == "COMPLETE"


def test_semicolon_file_with_decimal_commas_is_read_as_numbers(tmp_path, run_cli):
    frame = _iris()
    path = tmp_path / "iris_eu.csv"
    # As a European spreadsheet saves it: ';' between fields, ',' as the decimal mark.
    path.write_text(frame.to_csv(index=False, sep=";", decimal=","))
    assert "5,1" in path.read_text()
    ds = load_dataset(path)
    assert ds.numeric_columns == list(frame.columns[:4])  # never silently categorical
    np.testing.assert_allclose(ds.X.to_numpy(), frame.iloc[:, :4].to_numpy())
    assert sum("decimal comma" in n for n in ds.notes) == 4
    code, out, err = run_cli(["metafeatures", str(path), "--groups", "general", "--json"])
    assert code == 0, err
    assert '"NumberOfNumericFeatures": 4' in out and '"NumberOfSymbolicFeatures": 1' in out
    # The same from a DataFrame of text cells, with thousands dots.
    text = pd.DataFrame({"price": ["1.234,5", "980,25", "12,0"] * 10, "label": ["a", "b", "c"] * 10})
    typed = load_dataset(text, target="label")
    assert typed.X["price"].tolist()[:3] == [1234.5, 980.25, 12.0]
    # Commas that first appear past the first tenth of the column (which decides cheaply) count too.
    late = pd.DataFrame({"dose": ["0"] * 20 + ["0,5", "1,25", "3"] * 10, "label": ["a", "b"] * 25})
    typed = load_dataset(late, target="label")
    assert typed.numeric_columns == ["dose"] and typed.X["dose"].iloc[20:23].tolist() == [0.5, 1.25, 3.0]
    assert any("(e.g. '0,5')" in n for n in typed.notes)


def _build_once(corpus: Path, folder: Path):
    """One run of ``autometa kb build`` (from Python) over ``corpus``: the linear family's default."""
    from autometa.evaluation import Protocol
    from autometa.kb import build

    return build([str(corpus)], folder, families=["linear"], configs_per_family=1, protocol=Protocol(time_limit=20.0),
                 metafeatures=False)


def test_a_damaged_gzip_in_a_corpus_is_skipped_and_retried_once_repaired(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _iris().to_csv(corpus / "good.csv", index=False)
    data = _gzip_bytes(_iris())
    (corpus / "broken.csv.gz").write_bytes(data[: len(data) // 2])
    for attempt in range(2):  # a rerun is not stopped by it either
        stats = _build_once(corpus, tmp_path / "build")
        assert list(stats.skipped) == ["csv/broken"]
        assert "damaged gzip file" in stats.skipped["csv/broken"] and "broken.csv.gz" in stats.skipped["csv/broken"]
        assert stats.done == (1 if attempt == 0 else 0)
    (corpus / "broken.csv.gz").write_bytes(data)  # repaired: the next run evaluates it
    stats = _build_once(corpus, tmp_path / "build")
    assert stats.skipped == {} and stats.done == 1


# --- the Python API: misuse is an InputError, never IndexError / TypeError / AttributeError -------------

FRAME = _iris()
API_MISUSE = {
    "empty DataFrame": lambda: autometa.recommend(pd.DataFrame()),
    "no rows": lambda: autometa.recommend(FRAME.iloc[:0]),
    "1-D array": lambda: autometa.recommend(np.zeros(5)),
    "None": lambda: autometa.recommend(None),
    "a dict": lambda: autometa.recommend({"a": [1, 2], "target": [0, 1]}),
    "target a float": lambda: autometa.recommend(FRAME, target=1.5),
    "n as text": lambda: autometa.recommend(FRAME, n="3"),
    "n fractional": lambda: autometa.recommend(FRAME, n=2.5),
    "n None": lambda: autometa.recommend(FRAME, n=None),
    "families an int": lambda: autometa.recommend(FRAME, families=5),
    "metric an int": lambda: autometa.recommend(FRAME, metric=5),
    "task an int": lambda: autometa.recommend(FRAME, task=5),
    "time budget text": lambda: autometa.recommend(FRAME, time_budget="5"),
    "kb an int": lambda: autometa.recommend(FRAME, kb=5),
    "y 2-D": lambda: load_dataset(FRAME.drop(columns="target"), y=np.zeros((150, 2))),
    "y and target values": lambda: load_dataset(FRAME.drop(columns="target"), target=FRAME["target"], y=[0] * 150),
    "unknown categorical": lambda: load_dataset(FRAME, categorical=["nope"]),
    "lists in cells": lambda: load_dataset(pd.DataFrame({"a": [[1, 2]] * 20, "target": [0, 1] * 10})),
    "unique class target": lambda: load_dataset(FRAME.assign(target=[f"r{i}" for i in range(150)])),
    "unknown encoding": lambda: load_dataset("data.csv", encoding="nope"),
}


@pytest.mark.parametrize("case", sorted(API_MISUSE))
def test_python_api_misuse_is_an_input_error(case):
    with pytest.raises(InputError) as info:
        API_MISUSE[case]()
    message = str(info.value)
    assert message and "\n" not in message


def test_target_values_given_as_target_are_taken_as_y():
    X = FRAME.drop(columns="target")
    ds = load_dataset(X, target=FRAME["target"])  # the DESIGN's load_dataset(X, y) spelled with target=
    assert ds.n_classes == 3 and ds.n_rows == 150
    assert load_dataset(FRAME.rename(columns={"target": 7}), target=7).target == "7"  # integer column labels


def test_a_rare_class_is_kept_and_said():
    frame = _iris()
    frame.loc[:1, "target"] = "rare"  # 2 rows: fewer than the 3 folds, yet cross-validation can run
    ds = load_dataset(frame)
    assert ds.n_classes == 4
    assert any("1 class has fewer rows than the 3 cross-validation folds ('rare' (2))" in n for n in ds.notes)
