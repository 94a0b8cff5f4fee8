"""The `autometa` command: help, the metafeatures verb, and bad input answered with exit 2 and one line."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

# Fixtures wine_csv and run_cli: conftest.py.


def test_help_lists_the_verbs(run_cli):
    code, out, _ = run_cli(["--help"])
    assert code == 0
    assert "metafeatures" in out


def test_help_does_not_import_heavy_libraries():
    probe = (
        "import sys, cli; cli.main(['--help']); "
        "heavy = [m for m in ('torch', 'sklearn', 'lightgbm', 'optuna', 'pandas') if m in sys.modules]; "
        "print('HEAVY=' + ','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "HEAVY="


def test_metafeatures_json_is_parseable_and_named(wine_csv, run_cli):
    code, out, _ = run_cli(["metafeatures", str(wine_csv), "--json"])
    assert code == 0
    payload = json.loads(out)
    assert payload["dataset"]["n_rows"] == 178
    values = payload["metafeatures"]
    assert values["NumberOfInstances"] == 178
    assert values["NumberOfClasses"] == 3
    assert set(payload["groups"]) == set(values)


def test_metafeatures_table_for_people(wine_csv, run_cli):
    code, out, err = run_cli(["metafeatures", str(wine_csv), "--groups", "general"])
    assert code == 0
    assert "NumberOfInstances" in out and "meta-features of wine" in out
    assert "Using column 'target'" in err  # the target choice is said


def _write(tmp_path, name: str, frame: pd.DataFrame) -> str:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


def _raw(tmp_path, name: str, content: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


BAD_INPUTS = {
    "missing file": (lambda tmp: str(tmp / "absent.csv"), [], "does not exist"),
    "empty file": (lambda tmp: _raw(tmp, "empty.csv", b""), [], "empty"),
    "not a table": (lambda tmp: _raw(tmp, "x.csv", b"\x00\x01\x02" * 100), [], "not a text table"),
    "unknown target": (lambda tmp: _write(tmp, "a.csv", pd.DataFrame({"a": range(20), "y": [0, 1] * 10})), ["--target", "nope"], "not in"),
    "single class": (lambda tmp: _write(tmp, "b.csv", pd.DataFrame({"a": range(20), "y": ["one"] * 20})), [], "single class"),
    "all-missing column": (lambda tmp: _write(tmp, "c.csv", pd.DataFrame({"a": [np.nan] * 20, "b": range(20), "y": [0, 1] * 10})), [], "entirely missing"),
    "inf values": (lambda tmp: _write(tmp, "d.csv", pd.DataFrame({"a": [1.0, np.inf] * 10, "y": [0, 1] * 10})), [], "infinite"),
    "duplicate columns": (lambda tmp: _raw(tmp, "e.csv", b"a,a,y\n" + b"1,2,0\n" * 20), [], "two columns named"),
    "too small": (lambda tmp: _write(tmp, "f.csv", pd.DataFrame({"a": range(4), "y": [0, 1, 0, 1]})), [], "at least 10"),
    "unknown group": (lambda tmp: _write(tmp, "g.csv", pd.DataFrame({"a": range(20), "y": [0, 1] * 10})), ["--groups", "astrology"], "Unknown meta-feature group"),
    "unknown task": (lambda tmp: _write(tmp, "h.csv", pd.DataFrame({"a": range(20), "y": [0, 1] * 10})), ["--task", "clustering"], "Unknown task"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_exits_2_with_one_line(case, tmp_path, run_cli):
    make_path, extra, message = BAD_INPUTS[case]
    code, out, err = run_cli(["metafeatures", make_path(tmp_path), *extra])
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and message in lines[0]
    assert "Traceback" not in err


def test_console_script_exit_code_is_2_for_bad_input(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", "import sys, cli; sys.exit(cli.main())", "metafeatures", str(tmp_path / "nope.csv")],
        capture_output=True, text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: File")


@pytest.mark.parametrize(
    "args, message",
    [(["metafeatures", "x.csv", "--bogus"], "No such option"), (["nosuchverb"], "No such command"),
     (["metafeatures"], "Missing argument")],
)
def test_usage_errors_exit_2_with_one_line(args, message, run_cli):
    code, out, err = run_cli(args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert "--help" in lines[0]


def test_no_arguments_shows_help_and_succeeds(run_cli):
    code, out, _ = run_cli([])
    assert code == 0 and "Commands" in out
