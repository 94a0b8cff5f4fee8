"""recommend's sampled CSV read finds line feeds block by block: the same positions as one whole-file mask."""

from __future__ import annotations

import numpy as np
import pytest

from autometa._recommend import _newlines


def _reference(data: bytes) -> np.ndarray:
    return np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)


@pytest.mark.parametrize("block", [1, 2, 3, 7, 64, 1 << 18])
def test_block_scan_equals_the_whole_file_mask(block):
    rng = np.random.default_rng(0)
    for size in (0, 1, 5, 63, 64, 65, 1000):
        data = bytes(rng.choice(np.frombuffer(b"ab,\n\r1", dtype=np.uint8), size=size))
        got = _newlines(data, block=block)
        np.testing.assert_array_equal(got, _reference(data))
    data = b"\n" * 10 + b"x" * 10 + b"\n"  # line feeds on both sides of block edges
    np.testing.assert_array_equal(_newlines(data, block=block), _reference(data))


def test_a_table_file(tmp_path):
    rows = "\n".join(f"{i},{i * 0.5},level_{i % 3}" for i in range(20_000))
    data = ("a,b,c\n" + rows + "\n\n").encode()
    np.testing.assert_array_equal(_newlines(data), _reference(data))
    assert _newlines(data).dtype.kind == "i"
