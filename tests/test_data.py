"""autometa.data: reading tables, choosing the target and task, typing columns, and refusing bad input."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_iris

from autometa.data import FeatureKind, load_dataset
from autometa.errors import InputError


@pytest.fixture()
def iris_frame() -> pd.DataFrame:
    frame = load_iris(as_frame=True).frame
    frame["target"] = load_iris().target_names[frame["target"]]
    return frame


def test_csv_tsv_gzip_and_parquet_load_the_same_data(tmp_path, iris_frame):
    iris_frame.to_csv(tmp_path / "iris.csv", index=False)
    iris_frame.to_csv(tmp_path / "iris.tsv", index=False, sep="\t")
    with gzip.open(tmp_path / "iris.csv.gz", "wt") as handle:
        iris_frame.to_csv(handle, index=False)
    iris_frame.to_parquet(tmp_path / "iris.parquet")
    loaded = [load_dataset(tmp_path / name) for name in ("iris.csv", "iris.tsv", "iris.csv.gz", "iris.parquet")]
    for ds in loaded:
        assert ds.name == "iris"
        assert ds.task == "classification"
        assert ds.target == "target"
        assert ds.X.shape == (150, 4)
        assert ds.n_classes == 3
        np.testing.assert_allclose(ds.X.to_numpy(), iris_frame.drop(columns="target").to_numpy())
        assert list(ds.y) == list(iris_frame["target"])


def test_target_defaults_to_a_named_column_then_the_last(iris_frame):
    ds = load_dataset(iris_frame)
    assert ds.target == "target" and any("Using column 'target'" in n for n in ds.notes)
    renamed = iris_frame.rename(columns={"target": "species"})
    ds = load_dataset(renamed)
    assert ds.target == "species" and any("last column" in n for n in ds.notes)
    ds = load_dataset(renamed, target="sepal length (cm)")
    assert ds.task == "regression" and "species" in ds.categorical_columns


def test_task_is_inferred_and_can_be_overridden():
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    assert load_dataset(X, y=y).task == "regression"
    integer_labels = pd.Series(np.arange(60) % 3)
    frame = pd.DataFrame({"a": np.linspace(0, 1, 60)})
    inferred = load_dataset(frame, y=integer_labels)
    assert inferred.task == "classification"
    assert any(n.startswith("Task inferred as classification") and "3 distinct values" in n for n in inferred.notes)
    assert load_dataset(frame, y=integer_labels, task="regression").task == "regression"
    with pytest.raises(InputError, match="Unknown task"):
        load_dataset(frame, y=integer_labels, task="clustering")
    # A continuous target is not a set of classes (it would make one class per row).
    with pytest.raises(InputError, match=r"fractional values \(e.g. 0.151\).*--task regression"):
        load_dataset(X, y=y / 1000.0, task="classification")
    assert load_dataset(frame, y=integer_labels.astype(float), task="classification").n_classes == 3


def test_feature_kinds_id_constant_datetime_categorical_and_missing_values():
    n = 40
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "customer_id": np.arange(1000, 1000 + n),
        "name": [f"person {i}" for i in range(n)],
        "constant": 7,
        "when": pd.date_range("2020-01-01", periods=n, freq="37h").astype(str),
        "colour": rng.choice(["red", "green", "blue"], n),
        "flag": rng.choice([True, False], n),
        "x": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
        "label": rng.choice(["yes", "no"], n),
    })
    ds = load_dataset(frame)
    kinds = ds.feature_kinds
    assert kinds["customer_id"] is FeatureKind.ID_LIKE
    assert kinds["name"] is FeatureKind.ID_LIKE
    assert kinds["constant"] is FeatureKind.CONSTANT
    assert kinds["when"] is FeatureKind.DATETIME
    assert kinds["colour"] is FeatureKind.CATEGORICAL and kinds["flag"] is FeatureKind.CATEGORICAL
    assert kinds["x"] is FeatureKind.NUMERIC
    assert {"when_month", "when_day", "when_weekday", "when_hour"} <= set(ds.X.columns)
    assert "when_year" not in ds.X.columns  # every date falls in 2020: a constant part is not kept
    assert "customer_id" not in ds.X.columns and "constant" not in ds.X.columns
    assert ds.X["x"].isna().sum() == frame["x"].isna().sum()  # missing values are kept
    assert set(ds.categorical_columns) == {"colour", "flag"}
    joined = " ".join(ds.notes)
    assert "ID-like" in joined and "constant" in joined and "datetime" in joined


def test_real_valued_unique_columns_are_not_mistaken_for_ids():
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    ds = load_dataset(X, y=y)
    assert all(kind is FeatureKind.NUMERIC for col, kind in ds.feature_kinds.items() if col != "sex")


def test_rows_with_missing_target_are_dropped_and_said(iris_frame):
    iris_frame.loc[[0, 5], "target"] = None
    ds = load_dataset(iris_frame)
    assert ds.n_rows == 148
    assert any("Dropped 2 rows" in n for n in ds.notes)


def test_pmlb_folder_uses_declared_target_task_and_categoricals(pmlb_dir):
    ds = load_dataset(pmlb_dir / "mushroom")
    assert ds.target == "target" and ds.task == "classification"
    assert ds.n_rows == 8124
    assert "cap-shape" in ds.categorical_columns  # integer coded by PMLB, declared categorical in metadata
    ds = load_dataset(pmlb_dir / "1027_ESL")
    assert ds.task == "regression"


@pytest.mark.parametrize(
    "frame, kwargs, message",
    [
        (pd.DataFrame({"a": range(20), "b": ["x"] * 20}), {"target": "b"}, "single class"),
        (pd.DataFrame({"a": [np.nan] * 20, "b": range(20), "y": [0, 1] * 10}), {}, "entirely missing"),
        (pd.DataFrame({"a": [1.0, np.inf] * 10, "y": [0, 1] * 10}), {}, "infinite"),
        (pd.DataFrame({"a": range(5), "y": [0, 1, 0, 1, 0]}), {}, "at least 10"),
        (pd.DataFrame({"a": range(20), "y": [0, 1] * 10}), {"target": "nope"}, "not in"),
        (pd.DataFrame({"a": [str(i) for i in range(19)] + ["oops"], "y": [0, 1] * 10}), {}, "mixes numbers and text"),
        (pd.DataFrame({"a": range(20), "label": [0, 1] * 10, "class": [1, 0] * 10}), {}, "several columns"),
        (pd.DataFrame({"a": range(20), "y": [np.nan] * 20}), {}, "entirely missing"),
    ],
)
def test_bad_input_raises_one_clear_sentence(frame, kwargs, message):
    with pytest.raises(InputError, match=message) as info:
        load_dataset(frame, **kwargs)
    text = str(info.value)
    assert "\n" not in text and text.endswith(".")


@pytest.mark.parametrize("n_text", [0, 1, 10, 11, 50, 100])
def test_text_among_numbers_first_in_the_column(n_text):
    # Text cells at the top of a column of 100: all numbers is numeric, up to 10% text is a mixed-up
    # column (refused), more is a text column. Text first exercises the early exit that looks only at
    # the column's first tenth.
    values = [f"t{i % 3}" for i in range(n_text)] + [str(i % 7) for i in range(100 - n_text)]
    frame = pd.DataFrame({"a": values, "y": [0, 1] * 50})
    if 1 <= n_text <= 10:
        with pytest.raises(InputError, match="mixes numbers and text"):
            load_dataset(frame)
        return
    expected = FeatureKind.NUMERIC if n_text == 0 else FeatureKind.CATEGORICAL
    assert load_dataset(frame).feature_kinds["a"] == expected


def test_duplicate_column_names_are_refused(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("a,a,y\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(20)))
    with pytest.raises(InputError, match="two columns named 'a'"):
        load_dataset(path)
    frame = pd.DataFrame(np.zeros((20, 3)), columns=["a", "a", "y"])
    with pytest.raises(InputError, match="two columns named 'a'"):
        load_dataset(frame)


def test_blank_lines_before_the_header_are_skipped_as_pandas_does(tmp_path):
    path = tmp_path / "blank_first.csv"
    path.write_text("\n\na,b,y\n" + "".join(f"{i * 7 % 5},{i % 3},{i % 2}\n" for i in range(20)))
    dataset = load_dataset(path, target="y")
    assert list(dataset.X.columns) == ["a", "b"] and dataset.n_rows == 20
    path.write_text("\n\na,a,y\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(20)))
    with pytest.raises(InputError, match="two columns named 'a'"):  # the header is still checked
        load_dataset(path)


def test_files_that_are_missing_empty_or_not_tables(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_dataset(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match="empty"):
        load_dataset(tmp_path / "empty.csv")
    (tmp_path / "blob.csv").write_bytes(bytes(range(256)) * 10)
    with pytest.raises(InputError, match="not a text table"):
        load_dataset(tmp_path / "blob.csv")
    (tmp_path / "notes.txt").write_text("just one line of prose without separators\nand another\n")
    with pytest.raises(InputError, match="1 column"):
        load_dataset(tmp_path / "notes.txt")
    (tmp_path / "fake.parquet").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="not a readable Parquet"):
        load_dataset(tmp_path / "fake.parquet")


def test_arrays_with_y_and_length_mismatch():
    X = np.random.default_rng(0).normal(size=(30, 3))
    ds = load_dataset(X, y=np.arange(30) % 2)
    assert list(ds.X.columns) == ["x0", "x1", "x2"] and ds.task == "classification"
    with pytest.raises(InputError, match="same length"):
        load_dataset(X, y=np.arange(29) % 2)
    with pytest.raises(InputError, match="not both"):
        load_dataset(pd.DataFrame(X), target="0", y=np.arange(30) % 2)


# --- task inference beyond 20 integer values (issue 14) ---------------------------------------------


def _digits():
    from sklearn.datasets import load_digits

    digits = load_digits(as_frame=True)
    return digits.data, digits.target.to_numpy()


def _within_digit_rank(X: pd.DataFrame, digit: np.ndarray, n_bins: int) -> np.ndarray:
    """Each image's ink, binned into n_bins equal-count bins within its digit: a real-data sub-label."""
    ink = X.sum(axis=1).to_numpy()
    ranks = np.zeros(len(ink), dtype=int)
    for d in np.unique(digit):
        rows = np.flatnonzero(digit == d)
        order = np.argsort(np.argsort(ink[rows], kind="stable"), kind="stable")
        ranks[rows] = order * n_bins // len(rows)
    return ranks


def test_many_labelled_integer_classes_are_classes_not_regression():
    X, digit = _digits()
    assert load_dataset(X, y=digit).task == "classification"  # 10 classes
    # Letter-like: 26 classes 0..25 (digit x ink tercile, the first 26 of 30), 50-70 rows each.
    letter = digit * 3 + _within_digit_rank(X, digit, 3)
    keep = letter < 26
    ds = load_dataset(X[keep], y=letter[keep])
    assert ds.task == "classification" and ds.n_classes == 26
    assert any("26 integer values 0..25" in n and "class labels" in n for n in ds.notes)
    assert load_dataset(X[keep], y=letter[keep] + 1).task == "classification"  # labels 1..26, as in letter
    # 200 classes 0..199 (digit x ink decile... x20), about 9 rows each.
    many = digit * 20 + _within_digit_rank(X, digit, 20)
    ds200 = load_dataset(X, y=many)
    assert ds200.task == "classification" and ds200.n_classes == 200
    # --task still overrides.
    assert load_dataset(X, y=many, task="regression").task == "regression"


def test_integer_quantities_are_regressed():
    from sklearn.datasets import load_breast_cancer

    X, y = load_diabetes(return_X_y=True, as_frame=True)  # disease progression, integers 25..346
    ds = load_dataset(X, y=y)
    assert ds.task == "regression"
    assert any("look like quantities" in n for n in ds.notes)
    cancer = load_breast_cancer(as_frame=True).frame
    area = cancer.pop("mean area").round().astype(int)  # an integer-valued size, 143..2501, house-price-like
    assert load_dataset(cancer.drop(columns="target"), y=area).task == "regression"
    signed = (X["s5"] * 1000).round().astype(int)  # integers with negative values
    assert load_dataset(X.drop(columns="s5"), y=signed).task == "regression"
    # A contiguous 0..99 range with single-row values (a percentage, like PMLB's cpu_act): regressed.
    percent = np.clip(np.round(y.to_numpy() / 3.5), 0, 99).astype(int)
    assert load_dataset(X, y=percent).task == "regression"


# PMLB datasets whose integer target has more than 20 values, with the task PMLB declares for them.
PMLB_MANY_INTEGER_VALUES = {
    "kddcup": "classification", "letter": "classification", "687_sleuth_ex1605": "regression",
    "1089_USCrime": "regression", "659_sleuth_ex1714": "regression", "485_analcatdata_vehicle": "regression",
    "712_chscase_geyser1": "regression", "562_cpu_small": "regression", "197_cpu_act": "regression",
    "527_analcatdata_election2000": "regression", "561_cpu": "regression", "195_auto_price": "regression",
    "557_analcatdata_apnea1": "regression", "556_analcatdata_apnea2": "regression",
    "690_visualizing_galaxy": "regression", "574_house_16H": "regression", "537_houses": "regression",
}


def test_inferred_task_agrees_with_pmlb_on_integer_targets_with_many_values(pmlb_dir):
    from autometa.data import infer_task

    disagree = {}
    for name, declared in PMLB_MANY_INTEGER_VALUES.items():
        y = pd.read_csv(pmlb_dir / name / f"{name}.tsv.gz", sep="\t", usecols=["target"])["target"]
        assert y.nunique() > 20 and (y == y.round()).all(), name
        if infer_task(y) != declared:
            disagree[name] = declared
    assert disagree == {}


# --- constant columns: left out of X, counted by the meta-features (issue 14) -------------------------


def test_constant_columns_are_kept_aside_for_the_data_as_given():
    import metafeatures

    X, digit = _digits()
    ds = load_dataset(X, y=digit)
    constant = [c for c, k in ds.feature_kinds.items() if k is FeatureKind.CONSTANT]
    assert len(constant) == 3 and ds.n_features == 61
    given = ds.as_given()
    assert list(given.X.columns) == list(X.columns)  # the table's 64 pixels, in its order
    np.testing.assert_array_equal(given.X.to_numpy(), X.to_numpy(dtype=float))
    assert given.y is ds.y and ds.X.shape[1] == 61  # models still see 61
    values = metafeatures.extract(given.X, given.y, task="classification", groups="general")
    assert values["NumberOfFeatures"] == 65  # OpenML counts the target too
    assert values["NumberOfNumericFeatures"] == 64
    assert ds.as_given() is not ds and load_dataset(X.iloc[:, 2:4], y=digit).as_given().X.shape[1] == 2


def test_as_given_keeps_text_constants_and_datetime_parts_in_order():
    frame = pd.DataFrame({
        "when": pd.date_range("2020-01-01", periods=60, freq="D").astype(str),
        "same": ["a"] * 60,
        "x": np.linspace(0, 1, 60),
        "id": np.arange(60),
        "y": ["p", "q", "r"] * 20,
    })
    ds = load_dataset(frame, target="y")
    given = ds.as_given()
    assert list(given.X.columns) == ["when_month", "when_day", "when_weekday", "same", "x"]
    assert isinstance(given.X["same"].dtype, pd.CategoricalDtype)
    assert "same" not in ds.X.columns
