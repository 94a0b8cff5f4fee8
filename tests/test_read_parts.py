"""A big plain CSV is parsed in parts on several threads (autometa.data._read._read_in_parts): the frame
must be the one a whole read gives, value for value and dtype for dtype, on tricky tables too."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from autometa.data import _read, read_table


def whole_and_parts(path, monkeypatch, cores: int = 2):
    monkeypatch.setattr(_read, "PARALLEL_READ_BYTES", 0)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    parts = _read._read_in_parts(path, ",", None)
    in_parts = read_table(path).frame
    with monkeypatch.context() as m:
        m.setattr(_read, "_read_in_parts", lambda *a: None)
        whole = read_table(path).frame
    pd.testing.assert_frame_equal(in_parts, whole, check_exact=True)
    return parts, whole


LINES = [
    "num,text_num,flag,word,mixed,late_missing,ints",
    "1.5,1,True,red,1,1,7",
    " 2.25, 2,False,  light blue,2,2,8",
    "NA,3,TRUE,?,x,3,9",
    "nan,4,false,NULL,4,4,10",
    "1e5,5,True,red,5.5,5,11",
    "-0.1,6,,n/a,6,,12",
    "0.30000000000000004,7,False,blue,7,7,13",
    "1.7976931348623157e308,8,True,red,8,8,14",
]


@pytest.mark.parametrize("cores", [2, 3, 4])
def test_a_table_read_in_parts_is_the_whole_read(tmp_path, monkeypatch, cores):
    path = tmp_path / "t.csv"
    path.write_text("\n".join(LINES[:1] + LINES[1:] * 10) + "\n")  # every part meets every kind of cell
    parts, whole = whole_and_parts(path, monkeypatch, cores)
    assert parts is not None  # the parts agreed: they were joined
    assert whole["num"].dtype == float and whole["ints"].dtype == np.int64 and whole["word"].dtype == object


def test_whole_numbers_in_one_part_and_decimals_in_another(tmp_path, monkeypatch):
    rows = [f"{i},{i if i < 50 else i + 0.5},{'' if i == 99 else i}" for i in range(100)]
    path = tmp_path / "t.csv"
    path.write_text("a,b,c\n" + "\n".join(rows) + "\n")
    parts, whole = whole_and_parts(path, monkeypatch)
    assert parts is not None and whole["b"].dtype == float and whole["c"].dtype == float


def test_parts_that_disagree_fall_back_to_the_whole_read(tmp_path, monkeypatch):
    rows = [f"{i},{i if i < 50 else 'word'},{'True' if i < 50 else i}" for i in range(100)]
    path = tmp_path / "t.csv"
    path.write_text("a,b,c\r\n" + "\r\n".join(rows) + "\r\n")
    parts, whole = whole_and_parts(path, monkeypatch)
    assert parts is None and whole["b"].dtype == object


@pytest.mark.parametrize("text", ['a,b\n"1,5",2\n"x\ny",3\n4,5\n6,7\n',  # quotes: a line break may be in one
                                  "a,b\n1,2,3\n4,5,6\n7,8,9\n1,2,3\n"])  # an index pandas infers
def test_unusual_tables_are_read_whole(tmp_path, monkeypatch, text):
    path = tmp_path / "t.csv"
    path.write_text(text)
    parts, _ = whole_and_parts(path, monkeypatch)
    assert parts is None


def test_a_blank_first_line_is_left_to_the_whole_read(tmp_path, monkeypatch):
    path = tmp_path / "t.csv"
    path.write_text("\na,b\n1,2\n3,4\n5,6\n")
    monkeypatch.setattr(_read, "PARALLEL_READ_BYTES", 0)
    assert _read._read_in_parts(path, ",", None) is None


def test_a_bad_byte_in_a_later_part_is_reported_as_by_the_whole_read(tmp_path, monkeypatch):
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,b\n" + b"1,2\n" * 50 + b"3,\xff\n" + b"4,5\n" * 50)
    monkeypatch.setattr(_read, "PARALLEL_READ_BYTES", 0)
    with pytest.raises(Exception) as in_parts:
        read_table(path)
    monkeypatch.setattr(_read, "_read_in_parts", lambda *a: None)
    with pytest.raises(Exception) as whole:
        read_table(path)
    assert str(in_parts.value) == str(whole.value)
