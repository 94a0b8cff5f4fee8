"""Saved fitted models (autometa.save_model / autometa.load_model): round trips of every family and of
the fused ensembles with identical predictions, a file that runs no code when read (skops' allow-list,
no pickle ever unpickled, trees checked), and one sentence for every file that is not a loadable model."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_wine

import autometa
from autometa.errors import InputError
from autometa.models import Candidate, fit_model, load_model, save_model

#: Cheap configs (within each family's space), so that fitting all of them stays fast.
CHEAP = {
    "lightgbm": {"n_estimators": 50, "num_leaves": 8},
    "random_forest": {"n_estimators": 50},
    "extra_trees": {"n_estimators": 50},
    "hist_gradient_boosting": {"max_iter": 50, "max_leaf_nodes": 8},
    "linear": {},
    "svm": {},
    "knn": {},
    "mlp": {"n_layers": 1, "width": 16, "batch_size": 64, "learning_rate": 1e-2},
}
FAMILIES = list(CHEAP)


def config(family: str) -> dict:
    from autometa.spaces import get_family

    return {**get_family(family).default, **CHEAP[family]}


def with_mess(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """A categorical text column and some missing values, as real tables have."""
    rng = np.random.default_rng(seed)
    frame = frame.copy()
    first = frame.columns[0]
    frame["colour"] = np.where(frame[first] > frame[first].median(), "red", "blue")
    frame.loc[rng.random(len(frame)) < 0.1, "colour"] = "green"
    frame.loc[rng.random(len(frame)) < 0.08, frame.columns[1]] = np.nan
    return frame


@pytest.fixture(scope="module")
def wine_frame() -> pd.DataFrame:
    data = load_wine(as_frame=True)
    frame = with_mess(data.frame)
    frame["target"] = np.asarray(data.target_names)[data.target]  # text labels: class_0, class_1, class_2
    return frame


@pytest.fixture(scope="module")
def diabetes_frame() -> pd.DataFrame:
    return with_mess(load_diabetes(as_frame=True).frame)


@pytest.fixture(scope="module")
def datasets(wine_frame, diabetes_frame):
    return {"classification": autometa.load_dataset(wine_frame, target="target"),
            "regression": autometa.load_dataset(diabetes_frame, target="target")}


def features(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns="target")


def outputs(model, X) -> np.ndarray:
    return model.predict_proba(X) if model.task == "classification" else model.predict(X)


def assert_same_model(model, loaded, X) -> None:
    assert np.array_equal(outputs(model, X), outputs(loaded, X))
    assert np.array_equal(model.predict(X), loaded.predict(X))
    assert loaded.card == json.loads(json.dumps(model.card))  # the card, as JSON keeps it
    assert [m.family for m in loaded.members] == [m.family for m in model.members]


# ----------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_predicts_the_same_after_a_round_trip(family, task, datasets, wine_frame, diabetes_frame,
                                                           tmp_path, torch_one_thread):
    dataset = datasets[task]
    model = fit_model([Candidate(family, config(family))], dataset,
                      metric="balanced_accuracy" if task == "classification" else "r2")
    path = save_model(model, tmp_path / "model.autometa")
    loaded = autometa.load_model(path)
    frame = wine_frame if task == "classification" else diabetes_frame
    assert_same_model(model, loaded, features(frame))
    names = zipfile.ZipFile(path).namelist()
    if family == "lightgbm":  # LightGBM's own text model and JSON: no skops needed to load it
        assert not any(n.endswith(".skops") for n in names) and any(n.endswith(".txt") for n in names)
        booster = loaded.estimator.steps[-1][1].booster_
        assert booster.model_to_string() == model.estimator.steps[-1][1].booster_.model_to_string()
    elif family == "mlp":  # the network's state_dict (weights_only), its preprocessing through skops
        assert any(n.endswith(".pt") for n in names)
    else:
        assert any(n.endswith(".skops") for n in names)


@pytest.fixture(scope="module")
def candidates(datasets):
    """Candidates with out-of-fold predictions on the protocol's folds, per task (as a study keeps them)."""
    from autometa.evaluation import DEFAULT_PROTOCOL, evaluate_config, prepare_data

    out = {}
    for task, dataset in datasets.items():
        metric = "balanced_accuracy" if task == "classification" else "r2"
        prepared = prepare_data(dataset, DEFAULT_PROTOCOL)
        found = []
        for family in ("lightgbm", "linear", "knn"):
            result = evaluate_config(prepared, family, config(family), keep_predictions=True)
            found.append(Candidate(family, config(family), None, result.scores[metric], result.predictions))
        found.sort(key=lambda c: -c.cv_score)
        out[task] = (found, {"rows": prepared.n_rows_used, "folds": 3, "y": prepared.y}, metric)
    return out


@pytest.mark.parametrize("task, kind", [("classification", "selection"), ("classification", "stacking"),
                                        ("classification", "mdt"), ("regression", "stacking"),
                                        ("regression", "mdt"), ("regression", "selection")])
def test_fused_models_predict_the_same_after_a_round_trip(task, kind, datasets, candidates, wine_frame,
                                                          diabetes_frame, tmp_path):
    found, cv, metric = candidates[task]
    model = fit_model(found, datasets[task], kind=kind, metric=metric, cv=dict(cv))
    loaded = load_model(save_model(model, tmp_path / "fused.model"))  # any suffix
    frame = wine_frame if task == "classification" else diabetes_frame
    assert_same_model(model, loaded, features(frame))
    assert loaded.kind == model.kind and loaded.card["weights"] == model.card["weights"]
    if model.kind in ("stacking", "mdt"):
        assert type(loaded.combiner) is type(model.combiner)


def test_unseen_categories_and_missing_values_predict_as_in_training(datasets, wine_frame, tmp_path):
    model = fit_model([Candidate("lightgbm", config("lightgbm"))], datasets["classification"],
                      metric="balanced_accuracy")
    loaded = load_model(save_model(model, tmp_path / "m.autometa"))
    rows = features(wine_frame).head(6).copy()
    rows.loc[rows.index[0], "colour"] = "ultraviolet"  # never seen in training
    rows.iloc[1, :5] = np.nan
    as_missing = rows.copy()
    as_missing.loc[as_missing.index[0], "colour"] = np.nan
    assert np.array_equal(loaded.predict_proba(rows), model.predict_proba(as_missing))
    assert np.isfinite(loaded.predict_proba(rows)).all()
    result = autometa.models.predict_table(save_model(model, tmp_path / "m2.autometa"), rows)
    assert any("never saw" in note and "'ultraviolet'" in note for note in result.notes)
    assert any("missing value" in note for note in result.notes)
    assert result.frame["target"].tolist() == list(model.predict(rows))


# ----------------------------------------------------------------------------- nothing runs on load
def rewrite(path: Path, out: Path, *, card=None, replace: dict[str, bytes] | None = None,
            fix_checksums: bool = True) -> Path:
    """A copy of the model archive ``path`` with entries replaced (checksums in the card updated)."""
    replace = dict(replace or {})
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    record = json.loads(entries["card.json"])
    for name, blob in replace.items():
        entries[name] = blob
        if fix_checksums:
            import hashlib

            record["files"][name] = {"sha256": hashlib.sha256(blob).hexdigest(), "bytes": len(blob)}
    if card is not None:
        record = card(record)
    entries["card.json"] = json.dumps(record).encode()
    with zipfile.ZipFile(out, "w") as archive:
        for name, blob in entries.items():
            archive.writestr(name, blob)
    return out


class Opens:
    """Unpickling this creates a file: the proof that something was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.fixture(scope="module")
def linear_model(datasets):
    return fit_model([Candidate("linear", config("linear"))], datasets["classification"], metric="balanced_accuracy")


def test_a_skops_blob_with_an_untrusted_type_is_refused(linear_model, tmp_path):
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    from autometa.models import FittedModel, Member

    path = save_model(linear_model, tmp_path / "m.autometa")
    member = next(n for n in zipfile.ZipFile(path).namelist() if n.endswith(".skops"))
    evil = sio.dumps(FunctionTransformer(func=eval))  # a transformer that would call eval
    bad = rewrite(path, tmp_path / "evil.autometa", replace={member: evil})
    with pytest.raises(InputError, match="builtins.eval.*which autometa does not load") as raised:
        load_model(bad)
    assert "\n" not in str(raised.value)
    # Saving such a member is refused too: autometa never writes a file it would not read back.
    sneaky = FittedModel([Member("linear", {}, FunctionTransformer(func=eval))], linear_model.card)
    with pytest.raises(InputError, match="Cannot save the linear member: it holds builtins.eval"):
        save_model(sneaky, tmp_path / "no.autometa")
    assert not (tmp_path / "no.autometa").exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch, reading the pickle it then refuses
@pytest.mark.parametrize("where", ["skops member", "torch weights", "unknown codec"])
def test_a_pickle_inside_the_archive_is_never_unpickled(where, linear_model, tmp_path):
    marker = tmp_path / "unpickled"
    blob = pickle.dumps(Opens(marker))
    path = save_model(linear_model, tmp_path / "m.autometa")
    member = next(n for n in zipfile.ZipFile(path).namelist() if n.endswith(".skops"))
    if where == "skops member":
        bad = rewrite(path, tmp_path / "bad.autometa", replace={member: blob})
        words = "not in skops' format"
    elif where == "unknown codec":
        def as_pickle(card):
            card["storage"]["members"][0] = {"codec": "pickle", "file": member}
            return card

        bad = rewrite(path, tmp_path / "bad.autometa", replace={member: blob}, card=as_pickle)
        words = "stores its linear member as 'pickle', which this autometa does not read"
    else:
        def as_torch(card):
            card["storage"]["members"][0] = {"codec": "pipeline", "steps": [{
                "name": None, "codec": "torch", "class": "TabularMLPClassifier", "state": "state.json",
                "weights": member}]}
            card["files"]["state.json"] = {"sha256": __import__("hashlib").sha256(b"{}").hexdigest(), "bytes": 2}
            return card

        bad = rewrite(path, tmp_path / "bad.autometa", replace={member: blob, "state.json": b"{}"}, card=as_torch)
        words = "network weights that are not a plain state_dict"
    with pytest.raises(InputError, match=words) as raised:
        load_model(bad)
    assert "\n" not in str(raised.value)
    assert not marker.exists()


def test_a_tree_whose_nodes_point_outside_it_is_refused(datasets, wine_frame, tmp_path):
    from sklearn.pipeline import Pipeline
    from sklearn.tree import DecisionTreeClassifier

    from autometa.models import FittedModel, Member

    X = features(wine_frame).select_dtypes("number").fillna(0)
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, np.arange(len(X)) % 3)
    state = tree.tree_.__getstate__()
    nodes = state["nodes"].copy()
    nodes["left_child"][0] = 10**6  # scikit-learn would read far outside the tree
    state["nodes"] = nodes
    tree.tree_.__setstate__(state)
    card = fit_model([Candidate("linear", config("linear"))], datasets["classification"],
                     metric="balanced_accuracy").card
    crafted = FittedModel([Member("random_forest", {}, Pipeline([("model", tree)]))], card)
    path = save_model(crafted, tmp_path / "tree.autometa")
    with pytest.raises(InputError, match="a decision tree whose nodes point outside it"):
        load_model(path)


# ----------------------------------------------------------------------------- files that are not loadable
@pytest.fixture(scope="module")
def saved(linear_model, tmp_path_factory) -> Path:
    return save_model(linear_model, tmp_path_factory.mktemp("saved") / "model.autometa")


def _truncate(path: Path, out: Path) -> Path:
    out.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return out


def _flip(path: Path, out: Path) -> Path:
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith(".skops"))
    raw[info.header_offset + 30 + len(info.filename) + info.compress_size // 2] ^= 0xFF
    out.write_bytes(bytes(raw))
    return out


def _other_member(path: Path, out: Path) -> Path:
    member = next(n for n in zipfile.ZipFile(path).namelist() if n.endswith(".skops"))
    return rewrite(path, out, replace={member: b"PK not the member that was saved"}, fix_checksums=False)


def _config_only(path: Path, out: Path) -> Path:
    out.write_text(json.dumps({"format": "autometa-model", "format_version": 1, "family": "knn", "config": {}}))
    return out


def _zip_without_card(path: Path, out: Path) -> Path:
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "hi")
    return out


def _card(edit):
    return lambda path, out: rewrite(path, out, card=edit)


@pytest.mark.parametrize("make, words", [
    (lambda path, out: out, "does not exist"),
    (_truncate, "damaged or truncated"),
    (_flip, "damaged|cannot be read to its end"),
    (_other_member, "does not match the checksum in its card"),
    (lambda path, out: (out.write_text("a,b\n1,2\n"), out)[1], "is not an autometa model file"),
    (lambda path, out: (out.write_bytes(b""), out)[1], "is not an autometa model file"),
    (_zip_without_card, "not an autometa model file .it has no card.json"),
    (_config_only, "holds the best config of a study, not a fitted model.*--save-model"),
    (lambda path, out: (out.write_text(json.dumps({"format": "other"})), out)[1], "is not an autometa model file"),
    (_card(lambda c: {**c, "format_version": 99}), "format version 99, but this autometa reads version 1; upgrade"),
    (_card(lambda c: {**c, "format_version": 0}), "format version 0.*save the model again"),
    (_card(lambda c: {**c, "format": "autometa-metamodel"}), "not of the format 'autometa-model-card'"),
    (_card(lambda c: {**c, "kind": "voting"}), "damaged .its card has an unknown kind 'voting'"),
    (_card(lambda c: {**c, "members": []}), "members that do not match"),
    (_card(lambda c: [1, 2]), "holds a JSON list"),
], ids=["missing", "truncated", "flipped byte", "checksum", "csv", "empty", "zip without card", "config only",
        "other json", "newer version", "older version", "other format", "unknown kind", "no members", "json list"])
def test_a_file_that_is_not_a_loadable_model_is_one_sentence(make, words, saved, tmp_path):
    path = make(saved, tmp_path / "broken.autometa")
    with pytest.raises(InputError, match=words) as raised:
        load_model(path)
    assert "\n" not in str(raised.value) and str(raised.value).endswith(".")


def test_save_model_refuses_what_it_cannot_write(linear_model, tmp_path):
    with pytest.raises(InputError, match="takes a fitted model"):
        save_model("model", tmp_path / "m.autometa")
    with pytest.raises(InputError, match="it is a folder"):
        save_model(linear_model, tmp_path)
    with pytest.raises(InputError, match="does not exist"):
        save_model(linear_model, tmp_path / "no" / "m.autometa")


def test_a_member_that_is_not_plain_data_is_refused_not_pickled(datasets, tmp_path):
    model = fit_model([Candidate("lightgbm", config("lightgbm"))], datasets["classification"],
                      metric="balanced_accuracy")
    model.estimator.steps[-1][1].random_state = np.random.RandomState(0)
    with pytest.raises(InputError, match="Cannot save the lightgbm member: a RandomState cannot be written as plain"):
        save_model(model, tmp_path / "m.autometa")
    assert not (tmp_path / "m.autometa").exists()


def test_a_save_replaces_the_file_whole(linear_model, datasets, tmp_path):
    path = save_model(linear_model, tmp_path / "m.autometa")
    other = fit_model([Candidate("knn", config("knn"))], datasets["classification"], metric="balanced_accuracy")
    save_model(other, path)
    assert load_model(path).family == "knn"
    assert [p.name for p in tmp_path.iterdir()] == ["m.autometa"]  # no temporary file left behind
    assert io.BytesIO(path.read_bytes()).read(2) == b"PK"


# ----------------------------------------------------------------------------- predicting a saved model
def test_a_read_model_predicts_with_threads_but_keeps_its_preprocessing_in_process(datasets, wine_frame, tmp_path):
    """predict_table gives n_jobs to the forest; the ColumnTransformer keeps its own, since joblib would
    start worker processes for it (seconds, for any number of rows)."""
    from autometa.models import predict_table

    model = fit_model([Candidate("random_forest", config("random_forest"))], datasets["classification"],
                      metric="balanced_accuracy")
    path = save_model(model, tmp_path / "forest.autometa")
    result = predict_table(path, features(wine_frame), n_jobs=-1)
    params = result.model.estimator.get_params(deep=True)
    jobs = {key: value for key, value in params.items() if key == "n_jobs" or key.endswith("__n_jobs")}
    transformers = {key for key in jobs if "__" in key
                    and type(params[key.rsplit("__", 1)[0]]).__name__ in ("ColumnTransformer", "FeatureUnion")}
    assert transformers and all(jobs[key] is None for key in transformers), jobs
    assert any(value == -1 for key, value in jobs.items() if key not in transformers), jobs
    assert np.array_equal(result.frame.iloc[:, 0].to_numpy(), model.predict(features(wine_frame)))


def test_skops_is_imported_without_torch(tmp_path):
    """skops lists scikit-learn's estimators on import, which would import torch through scikit-learn's
    array-API adapter; autometa blocks that adapter for the duration, and only then."""
    import subprocess
    import sys

    code = ("import sys; from autometa.models._persist_checks import skops_io; sio = skops_io(); "
            "adapter = 'sklearn.externals.array_api_compat.torch'; "
            "assert sio.loads and 'torch' not in sys.modules, sorted(sys.modules)[:5]; "
            "assert sys.modules.get(adapter, 'absent') is not None, 'adapter left blocked'; "
            "import importlib; importlib.import_module(adapter); assert 'torch' in sys.modules")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
