"""``autometa predict MODEL DATA``: predictions and class probabilities as CSV (to --out or stdout), JSON for
scripts, notes for unseen categories and missing values, and one sentence with exit code 2 for a missing
column, a column of the wrong kind, or a model file that is not ours."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_wine

import autometa
from autometa.models import Candidate, fit_model, save_model

REPO = Path(__file__).resolve().parents[1]


def one_sentence(err: str) -> bool:
    return err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def lightgbm(dataset, metric):
    from autometa.spaces import get_family

    config = {**get_family("lightgbm").default, "n_estimators": 50, "num_leaves": 8}
    return fit_model([Candidate("lightgbm", config)], dataset, metric=metric)


@pytest.fixture(scope="module")
def wine(tmp_path_factory):
    """A wine model (text labels, a categorical column, a date column, missing values) and its data."""
    folder = tmp_path_factory.mktemp("wine")
    data = load_wine(as_frame=True)
    frame = data.frame.copy()
    rng = np.random.default_rng(0)
    frame["colour"] = np.where(frame["alcohol"] > 13, "red", "white")
    frame["bottled"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, len(frame)), unit="D")
    frame.loc[rng.random(len(frame)) < 0.1, "malic_acid"] = np.nan
    frame["target"] = np.asarray(data.target_names)[data.target]
    csv = folder / "wine.csv"
    frame.to_csv(csv, index=False)
    dataset = autometa.load_dataset(csv, target="target")
    model = lightgbm(dataset, "balanced_accuracy")
    return {"model": model, "path": save_model(model, folder / "wine.autometa"), "csv": csv,
            "frame": pd.read_csv(csv), "dataset": dataset}


@pytest.fixture(scope="module")
def diabetes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("diabetes")
    frame = load_diabetes(as_frame=True).frame
    csv = folder / "diabetes.csv"
    frame.to_csv(csv, index=False)
    dataset = autometa.load_dataset(csv, target="target")
    model = lightgbm(dataset, "r2")
    return {"model": model, "path": save_model(model, folder / "diabetes.autometa"), "csv": csv, "frame": frame,
            "dataset": dataset}


def test_predictions_to_a_file_equal_the_models_own(wine, run_cli, tmp_path):
    out = tmp_path / "preds.csv"
    code, stdout, err = run_cli(["predict", str(wine["path"]), str(wine["csv"]), "--out", str(out)])
    assert code == 0, err
    written = pd.read_csv(out)
    assert list(written.columns) == ["target"] and len(written) == len(wine["frame"])
    assert written["target"].tolist() == list(wine["model"].predict(wine["dataset"].X))
    assert "Wrote 178 predictions of target" in stdout and "lightgbm" in stdout
    assert "Ignored the target column 'target'" in err  # the target column of the file is not a feature
    assert "Expanded datetime column 'bottled'" in err  # as in training


def test_probabilities_one_column_per_class_label_on_stdout(wine, run_cli):
    code, stdout, err = run_cli(["predict", str(wine["path"]), str(wine["csv"]), "--proba"])
    assert code == 0, err
    from io import StringIO

    proba = pd.read_csv(StringIO(stdout))
    assert list(proba.columns) == ["class_0", "class_1", "class_2"] and len(proba) == 178
    assert np.allclose(proba.sum(axis=1), 1.0)
    expected = wine["model"].predict_proba(wine["dataset"].X)
    assert np.allclose(proba.to_numpy(), expected, rtol=0, atol=1e-12)


def test_json_for_scripts(diabetes, run_cli, tmp_path):
    code, stdout, err = run_cli(["predict", str(diabetes["path"]), str(diabetes["csv"]), "--json"])
    assert code == 0, err
    payload = json.loads(stdout)
    assert payload["task"] == "regression" and payload["n_rows"] == 442 and payload["columns"] == ["target"]
    assert np.allclose(payload["predictions"]["target"], diabetes["model"].predict(diabetes["dataset"].X))
    code, stdout, err = run_cli(["predict", str(diabetes["path"]), str(diabetes["csv"]), "--json",
                                 "--out", str(tmp_path / "p.csv")])
    payload = json.loads(stdout)
    assert code == 0 and "predictions" not in payload and payload["out"] == str(tmp_path / "p.csv")
    assert len(pd.read_csv(tmp_path / "p.csv")) == 442


def test_unseen_categories_and_missing_values_are_predicted_and_noted(wine, run_cli, tmp_path):
    rows = wine["frame"].drop(columns="target").head(20).copy()
    rows.loc[0, "colour"] = "rosé"
    rows.loc[1, ["alcohol", "malic_acid", "ash"]] = np.nan
    rows.loc[2, "colour"] = np.nan
    path = tmp_path / "new.csv"
    rows.to_csv(path, index=False)
    code, stdout, err = run_cli(["predict", str(wine["path"]), str(path), "--out", str(tmp_path / "p.csv")])
    assert code == 0, err
    assert "1 cell(s) in 1 column(s) hold a category the model never saw (e.g. 'rosé' in 'colour')" in err
    assert "missing value(s) in the model's columns, handled as in training" in err
    written = pd.read_csv(tmp_path / "p.csv")["target"]
    assert len(written) == 20 and written.notna().all()


@pytest.mark.parametrize("edit, words", [
    (lambda f: f.drop(columns=["alcohol"]), "lacks column 'alcohol' that the model was fitted on"),
    (lambda f: f.assign(ash="high"), "Column 'ash' was numeric in training, but the data to predict holds 'high'"),
    (lambda f: f.assign(colour=3.5), "Column 'colour' was categorical in training .levels 'red', 'white'., but "
                                     "the data to predict holds numbers there"),
], ids=["missing column", "text in a numeric column", "numbers in a categorical column"])
def test_a_column_that_does_not_fit_is_one_sentence(wine, run_cli, tmp_path, edit, words):
    path = tmp_path / "bad.csv"
    edit(wine["frame"]).to_csv(path, index=False)
    out = tmp_path / "p.csv"
    code, stdout, err = run_cli(["predict", str(wine["path"]), str(path), "--out", str(out)])
    assert code == 2 and one_sentence(err), err
    import re

    assert re.search(words, err), err
    assert not out.exists()


@pytest.mark.parametrize("model_file, words", [
    (lambda p, tmp: p.parent / "wine.csv", "is not an autometa model file"),
    (lambda p, tmp: (tmp.joinpath("half.autometa").write_bytes(p.read_bytes()[:500]), tmp / "half.autometa")[1],
     "damaged or truncated"),
    (lambda p, tmp: tmp / "none.autometa", "does not exist"),
    (lambda p, tmp: (tmp.joinpath("old.json").write_text(json.dumps({"format": "autometa-model", "format_version": 1})),
                     tmp / "old.json")[1], "holds the best config of a study, not a fitted model"),
], ids=["csv", "truncated", "missing", "config only"])
def test_a_model_file_that_is_not_ours_is_one_sentence(wine, run_cli, tmp_path, model_file, words):
    code, stdout, err = run_cli(["predict", str(model_file(wine["path"], tmp_path)), str(wine["csv"])])
    assert code == 2 and one_sentence(err) and words in err, err
    assert stdout == ""


def test_misuse_is_one_sentence(diabetes, wine, run_cli, tmp_path):
    code, _, err = run_cli(["predict", str(diabetes["path"]), str(diabetes["csv"]), "--proba"])
    assert code == 2 and one_sentence(err) and "are for classification models" in err
    code, _, err = run_cli(["predict", str(wine["path"]), str(tmp_path / "no.csv")])
    assert code == 2 and one_sentence(err) and "does not exist" in err
    code, _, err = run_cli(["predict", str(wine["path"]), str(wine["csv"]), "--out", str(tmp_path / "no" / "p.csv")])
    assert code == 2 and one_sentence(err) and "Cannot write the predictions file" in err
    header_only = tmp_path / "empty.csv"
    header_only.write_text("alcohol,ash\n")
    code, _, err = run_cli(["predict", str(wine["path"]), str(header_only)])
    assert code == 2 and one_sentence(err) and "no data rows" in err


def test_a_model_of_one_feature_predicts_a_table_of_one_column(run_cli, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    dataset = autometa.load_dataset(pd.DataFrame({"x": x, "y": 3 * x + rng.normal(size=200)}), target="y")
    path = save_model(lightgbm(dataset, "r2"), tmp_path / "one.autometa")
    pd.DataFrame({"x": x[:5]}).to_csv(tmp_path / "x.csv", index=False)
    code, stdout, err = run_cli(["predict", str(path), str(tmp_path / "x.csv")])
    assert code == 0, err
    assert stdout.splitlines()[0] == "y" and len(stdout.splitlines()) == 6


def test_help_teaches_with_examples(run_cli):
    code, stdout, _ = run_cli(["predict", "--help"])
    assert code == 0
    text = " ".join(stdout.split())
    assert "autometa predict churn.autometa customers.csv --out predictions.csv" in text
    assert "--proba" in text and "--json" in text


def test_the_console_script_predicts_without_skops_or_a_traceback(wine, tmp_path):
    """The real entry point, in a child process: a LightGBM model loads without skops (fast start), and a
    bad file is one line on stderr."""
    probe = ("import sys, cli; code = cli.main(sys.argv[1:]); "
             "sys.stderr.write('skops loaded\\n' if 'skops' in sys.modules else ''); sys.exit(code)")
    out = tmp_path / "p.csv"
    done = subprocess.run([sys.executable, "-c", probe, "predict", str(wine["path"]), str(wine["csv"]), "--out",
                           str(out)], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "skops loaded" not in done.stderr and len(pd.read_csv(out)) == 178
    done = subprocess.run([sys.executable, "-c", probe, "predict", str(wine["csv"]), str(wine["csv"])],
                          capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 2 and one_sentence(done.stderr.replace("skops loaded\n", "")), done.stderr
