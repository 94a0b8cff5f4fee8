"""Reliability: damaged artifacts, killed workers, concurrent workers, passwords (issue 14).

Every artifact autometa reads back is damaged here the ways disks and people damage files (cut short,
overwritten inside, replaced by foreign JSON) and must give one sentence (exit 2 from the CLI) or a
rebuild with a warning, never an abort of the process. A ``tune`` worker killed with SIGKILL is
resumed and the trials are counted: none lost, none duplicated, none left RUNNING. Cases that could
abort the interpreter run in a child process, so that a regression fails the test instead of killing
the test run. The 10-kill loops are marked ``slow``; one quick kill runs by default.
"""

from __future__ import annotations

import functools
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from autometa.errors import ArtifactError, InputError

REPO = Path(__file__).resolve().parents[1]
# Not a word of it may appear in any output; it holds every character that breaks naive URL parsing.
PASSWORD = "p/a@s:s%w0rd"
SECRET_PIECES = ("p/a@s:s%w0rd", "a@s:s", "s%w0rd", "p%2Fa%40s%3As%25w0rd")


def cli_child(args: list[str], env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """The CLI in a child process (an abort there fails the test, not the test run)."""
    return subprocess.run([sys.executable, "-c", "import sys, cli; sys.exit(cli.main(sys.argv[1:]))", *args],
                          cwd=REPO, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout)


def one_sentence(err: str) -> bool:
    return err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


# ----------------------------------------------------------------------------- the artifact layer
def test_atomic_writes_leave_one_complete_file_under_concurrent_writers(tmp_path):
    from autometa.io import atomic_write, read_verified, sha256_bytes

    target = tmp_path / "artifact.txt"
    payloads = [(f"writer {i} " * 20_000).encode() for i in range(4)]
    script = ("import sys; from autometa.io import atomic_write\n"
              "for _ in range(30): atomic_write(sys.argv[1], sys.argv[2] * 20000)")
    writers = [subprocess.Popen([sys.executable, "-c", script, str(target), f"writer {i} "], cwd=REPO)
               for i in range(4)]
    assert all(w.wait(timeout=120) == 0 for w in writers)
    data = target.read_bytes()
    assert data in payloads  # one writer's whole file, never a mix or a cut
    assert [p.name for p in tmp_path.iterdir()] == ["artifact.txt"]  # no temporary file left behind
    digest = atomic_write(target, b"final")
    assert read_verified(target, digest) == b"final" and digest == sha256_bytes(b"final")
    target.write_bytes(b"fina")
    with pytest.raises(ArtifactError, match="damaged"):
        read_verified(target, digest)


@pytest.mark.parametrize("content, words", [
    (b"[1, 2]", "holds a JSON list"),
    (b'{"format": "autometa-kb", "format_', "not readable JSON"),
    (bytes(range(256)), "not readable JSON"),
    (b'{"format": "something-else", "format_version": 1}', "not of the format 'x'"),
    (b'{"format": "x", "format_version": 99}', "format version 99, but this autometa reads version 1"),
])
def test_versioned_json_is_checked_with_one_wording(tmp_path, content, words):
    from autometa.errors import StaleArtifactError
    from autometa.io import read_json, write_json

    path = tmp_path / "record.json"
    write_json(path, {"value": np.float32(0.5), "n": np.int64(3), "nan": np.float32("nan")}, format="x", version=1)
    assert read_json(path, format="x", version=1) == {"format": "x", "format_version": 1, "value": 0.5, "n": 3,
                                                       "nan": None}
    path.write_bytes(content)
    with pytest.raises(ArtifactError, match=words) as raised:
        read_json(path, format="x", version=1, what="record", remedy="write it again")
    assert str(raised.value).endswith("write it again.") and "\n" not in str(raised.value)
    assert isinstance(raised.value, StaleArtifactError) == ("99" in words)


# ----------------------------------------------------------------------------- the meta-model cache
def _fast_settings():
    from autometa.metamodel import Settings

    return Settings(n_models=2, num_boost_round=40, k=4)


_LOAD_AND_REPORT = """
import logging, sys, time
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
from autometa.metamodel import Settings, load_metamodel
fits = []
model = load_metamodel("classification", kb=sys.argv[1], settings=Settings(n_models=2, num_boost_round=40, k=4),
                       on_fit=lambda: fits.append(1))
mf = {"NumberOfInstances": 150.0, "NumberOfFeatures": 5.0, "ClassEntropy": 1.5}
print("FITS", len(fits), "MEAN", round(float(model.predict(mf)["mean"].sum()), 9))
"""


def _load_in_child(tiny_kb: Path, cache: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _LOAD_AND_REPORT, str(tiny_kb)], cwd=REPO, capture_output=True,
                          text=True, env={**os.environ, "AUTOMETA_CACHE_DIR": str(cache)}, timeout=300)


@pytest.mark.parametrize("damage", ["truncate surrogate", "truncate time model", "flip bytes in datasets",
                                    "foreign model.json", "delete a file"])
def test_damaged_cache_is_rebuilt_once_with_a_warning_and_never_aborts(tiny_kb, tmp_path, damage):
    from autometa.metamodel import load_metamodel

    cache = tmp_path / "cache"
    os.environ["AUTOMETA_CACHE_DIR"] = str(cache)
    try:
        load_metamodel("classification", kb=tiny_kb, settings=_fast_settings())
    finally:
        del os.environ["AUTOMETA_CACHE_DIR"]
    folder = next(cache.glob("metamodel/*-classification-balanced_accuracy"))
    name = {"truncate surrogate": "surrogate-0.txt", "truncate time model": "time.txt",
            "flip bytes in datasets": "datasets.parquet", "foreign model.json": "model.json",
            "delete a file": "normalized.parquet"}[damage]
    path = folder / name
    if damage.startswith("truncate"):
        os.truncate(path, path.stat().st_size // 2)  # LightGBM aborted the process on this before
    elif damage.startswith("flip"):
        raw = bytearray(path.read_bytes())
        raw[len(raw) // 2: len(raw) // 2 + 64] = os.urandom(64)
        path.write_bytes(bytes(raw))
    elif damage.startswith("foreign"):
        path.write_text("[1, 2]")
    else:
        path.unlink()
    first = _load_in_child(tiny_kb, cache)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "FITS 1" in first.stdout
    if damage != "foreign model.json":  # a foreign record is rebuilt like a stale one, quietly
        warnings = [line for line in first.stderr.splitlines() if line.startswith("WARNING")]
        assert len(warnings) == 1 and name in warnings[0] and "rebuilt" in warnings[0], first.stderr
    second = _load_in_child(tiny_kb, cache)  # rebuilt once: the next call reads it
    assert second.returncode == 0 and "FITS 0" in second.stdout and "WARNING" not in second.stderr, second.stderr
    assert first.stdout.split("MEAN")[1] == second.stdout.split("MEAN")[1]


def test_two_processes_on_an_empty_cache_fit_once(tiny_kb, tmp_path):
    cache = tmp_path / "cache"
    env = {**os.environ, "AUTOMETA_CACHE_DIR": str(cache)}
    children = [subprocess.Popen([sys.executable, "-c", _LOAD_AND_REPORT, str(tiny_kb)], cwd=REPO, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [c.communicate(timeout=300) for c in children]
    assert all(c.returncode == 0 for c in children), outs
    fits = sorted(out.split("FITS ")[1].split()[0] for out, _ in outs)
    assert fits == ["0", "1"]  # the second waited for the first's fit and read it
    assert len({out.split("MEAN")[1] for out, _ in outs}) == 1


def test_fresh_install_uses_the_shipped_metamodel_without_fitting(tmp_path, monkeypatch):
    """The shipped meta-model matches the shipped knowledge base and the default settings; if this fails,
    the knowledge base or the meta-model's design changed: run ``python -m autometa.metamodel.ship``."""
    from autometa.metamodel import MetaModel, load_metamodel
    from autometa.metamodel.ship import SHIPPED, shipped_metamodel_path

    monkeypatch.setenv("AUTOMETA_CACHE_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("AUTOMETA_USER_KB", str(tmp_path / "no-user-kb"))

    def no_fit(*args, **kwargs):
        raise AssertionError("fitted although a shipped meta-model exists: run python -m autometa.metamodel.ship")

    monkeypatch.setattr(MetaModel, "fit", no_fit)
    for task, metric in SHIPPED:
        model = load_metamodel(task)
        assert (model.task, model.metric) == (task, metric) and len(model.dataset_ids) > 20
        files = {p.suffix for p in shipped_metamodel_path(task, metric).iterdir()}
        assert files == {".json", ".parquet", ".txt"}  # never a pickle
    assert not (tmp_path / "empty-cache").exists() or not any((tmp_path / "empty-cache").rglob("model.json"))


# ----------------------------------------------------------------------------- the knowledge base
@pytest.fixture()
def kb_copy(tiny_kb, tmp_path) -> Path:
    import shutil

    return Path(shutil.copytree(tiny_kb, tmp_path / "kb"))


def _random_bytes_inside(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    middle = len(raw) // 2
    raw[middle: middle + 2000] = os.urandom(min(2000, len(raw) - middle - 8))[: len(raw[middle: middle + 2000])]
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("damage, words", [
    ("kb.json is [1,2]", "holds a JSON list"),
    ("kb.json cut short", "not readable JSON"),
    ("random bytes inside evaluations.parquet", "is damaged"),
    ("evaluations.parquet cut short", "is damaged"),
    ("datasets.parquet missing", "is missing"),
    ("an old KB without checksums, cut short", "not a complete Parquet file"),
])
def test_damaged_knowledge_base_is_one_sentence_and_exit_2(kb_copy, wine_csv, tmp_path, damage, words):
    meta_file = kb_copy / "kb.json"
    if damage == "kb.json is [1,2]":
        meta_file.write_text("[1,2]")
    elif damage == "kb.json cut short":
        os.truncate(meta_file, meta_file.stat().st_size // 2)
    elif damage.startswith("random bytes"):
        _random_bytes_inside(kb_copy / "evaluations.parquet")
    elif damage == "evaluations.parquet cut short":
        os.truncate(kb_copy / "evaluations.parquet", (kb_copy / "evaluations.parquet").stat().st_size // 2)
    elif damage == "datasets.parquet missing":
        (kb_copy / "datasets.parquet").unlink()
    else:
        meta = json.loads(meta_file.read_text())
        del meta["files"]
        meta_file.write_text(json.dumps(meta))
        os.truncate(kb_copy / "evaluations.parquet", (kb_copy / "evaluations.parquet").stat().st_size - 100)
    result = cli_child(["recommend", str(wine_csv), "--kb", str(kb_copy)],
                       env={"AUTOMETA_CACHE_DIR": str(tmp_path / "cache")})
    assert result.returncode == 2, result.stderr[-2000:]
    assert one_sentence(result.stderr) and words in result.stderr, result.stderr


def test_knowledge_base_without_the_metrics_scores_is_one_sentence(kb_copy, wine_csv, tmp_path):
    from autometa.kb import KnowledgeBase

    kb = KnowledgeBase.load(kb_copy)
    evaluations = kb.evaluations.drop(columns=["balanced_accuracy"])
    KnowledgeBase(kb.datasets, evaluations, meta=kb.meta).save(kb_copy)
    result = cli_child(["recommend", str(wine_csv), "--kb", str(kb_copy)],
                       env={"AUTOMETA_CACHE_DIR": str(tmp_path / "cache")})
    assert result.returncode == 2 and one_sentence(result.stderr), result.stderr[-2000:]
    assert "has no" in result.stderr and "balanced_accuracy" in result.stderr


# ----------------------------------------------------------------------------- saved models and refit
@pytest.fixture()
def wine_study(tiny_kb, wine_csv, metamodel_cache):
    import autometa

    return autometa.tune(wine_csv, n_trials=2, kb=tiny_kb, n_warm=2, random_state=0)


def _model_entries(path: Path) -> dict[str, bytes]:
    import zipfile

    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write_entries(path: Path, entries: dict[str, bytes], fix: tuple[str, ...] = ()) -> Path:
    """Write a model archive; the card's checksums of ``fix`` are made to match (a crafted file, not a damaged one)."""
    import hashlib
    import zipfile

    card = json.loads(entries["card.json"])
    for name in fix:
        card["files"][name] = {"sha256": hashlib.sha256(entries[name]).hexdigest(), "bytes": len(entries[name])}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("card.json", json.dumps(card))
        for name, blob in entries.items():
            if name != "card.json":
                archive.writestr(name, blob)
    return path


@pytest.mark.parametrize("damage, words", [
    ("cut short", "damaged or truncated"),
    ("overwritten inside", "damaged|cannot be read to its end|does not match the checksum"),
    ("member replaced", "does not match the checksum in its card"),
    ("foreign JSON", "is not an autometa model file"),
    ("old config-only file", "holds the best config of a study, not a fitted model"),
    ("other version", "format version 2, but this autometa reads version 1"),
])
def test_damaged_model_file_is_one_input_error(wine_study, wine_csv, tmp_path, damage, words):
    import autometa

    path = autometa.save_model(autometa.refit(wine_study, wine_csv), tmp_path / "best.autometa")
    raw = path.read_bytes()
    entries = _model_entries(path)
    member = next(name for name in entries if name != "card.json")
    if damage == "cut short":
        path.write_bytes(raw[: len(raw) * 2 // 3])
    elif damage == "overwritten inside":
        middle = len(raw) // 2
        path.write_bytes(raw[:middle] + b"\x00" * 64 + raw[middle + 64:])
    elif damage == "member replaced":
        _write_entries(path, {**entries, member: entries[member][:-10] + b"0123456789"})
    elif damage == "foreign JSON":
        path.write_text(json.dumps({"format": "autometa-metamodel", "format_version": 1}))
    elif damage == "old config-only file":  # what --save-model wrote before models were fitted on save
        path.write_text(json.dumps({"format": "autometa-model", "format_version": 1, "family": "knn", "config": {}}))
    else:
        card = json.loads(entries["card.json"])
        _write_entries(path, {**entries, "card.json": json.dumps({**card, "format_version": 2}).encode()})
    with pytest.raises(InputError, match=words) as raised:
        autometa.load_model(path)
    assert "\n" not in str(raised.value)
    result = cli_child(["predict", str(path), str(wine_csv)]) if damage == "cut short" else None
    if result is not None:  # and from the command line: one sentence, exit 2
        assert result.returncode == 2 and one_sentence(result.stderr), result.stderr[-2000:]


_MUTATE = r"""
import json, sys, zipfile, hashlib, random
from pathlib import Path
import numpy as np, pandas as pd
from autometa.errors import InputError
from autometa.models import load_model

source, rows, folder, n = Path(sys.argv[1]), pd.read_csv(sys.argv[2]).drop(columns="target"), Path(sys.argv[3]), int(sys.argv[4])
with zipfile.ZipFile(source) as archive:
    entries = {name: archive.read(name) for name in archive.namelist()}
booster = next(name for name in entries if name.endswith(".txt"))
lines = entries[booster].decode().split("\n")
rng = random.Random(0)
outcomes = []
for i in range(n):
    mutated = list(lines)
    way = i % 4
    if way == 0:  # a number replaced by another, possibly out of range
        j = rng.randrange(len(mutated))
        key, _, values = mutated[j].partition("=")
        tokens = values.split(" ")
        tokens[rng.randrange(len(tokens))] = str(rng.choice([-1, 0, 1, 7, 64, 10**6, -(10**6), "nan", "x"]))
        mutated[j] = key + "=" + " ".join(tokens)
    elif way == 1:  # a line dropped
        del mutated[rng.randrange(len(mutated))]
    elif way == 2:  # a line repeated
        j = rng.randrange(len(mutated))
        mutated.insert(j, mutated[j])
    else:  # cut short at a line
        mutated = mutated[: rng.randrange(len(mutated))]
    blob = "\n".join(mutated).encode()
    card = json.loads(entries["card.json"])
    card["files"][booster] = {"sha256": hashlib.sha256(blob).hexdigest(), "bytes": len(blob)}
    path = folder / f"m{i}.autometa"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in {**entries, booster: blob, "card.json": json.dumps(card).encode()}.items():
            archive.writestr(name, data)
    try:
        model = load_model(path)
        model.predict_proba(rows)
        outcomes.append("loaded")
    except InputError as exc:
        assert "\n" not in str(exc)
        outcomes.append("refused")
    except Exception as exc:
        outcomes.append(f"{type(exc).__name__}: {exc}")
print(json.dumps(outcomes))
"""


def test_a_crafted_lightgbm_text_model_never_aborts_the_process(wine_csv, tmp_path):
    """LightGBM's own parser aborts the process on some format errors and its prediction follows indexes
    without bounds checks; a saved model's booster text (its checksum made to match, as a crafted file
    would) is checked first: every mutation loads or is refused with one sentence, in a child process
    that must not die."""
    import autometa
    from autometa.models import Candidate, fit_model

    dataset = autometa.load_dataset(wine_csv, target="target")
    model = fit_model([Candidate("lightgbm", {"n_estimators": 50, "learning_rate": 0.1, "num_leaves": 8,
                                              "min_child_samples": 20, "subsample": 1.0, "colsample_bytree": 1.0,
                                              "reg_lambda": 1e-3, "reg_alpha": 1e-3})], dataset,
                      metric="balanced_accuracy")
    path = autometa.save_model(model, tmp_path / "lgbm.autometa")
    (tmp_path / "mutants").mkdir()
    done = subprocess.run([sys.executable, "-c", _MUTATE, str(path), str(wine_csv), str(tmp_path / "mutants"), "60"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]  # a negative code: LightGBM aborted the process
    outcomes = json.loads(done.stdout)
    assert len(outcomes) == 60 and set(outcomes) <= {"loaded", "refused"}, outcomes
    assert outcomes.count("refused") >= 10


def test_predict_and_refit_misuse_are_input_errors(wine_study, wine_csv, tmp_path):
    import autometa

    model = autometa.refit(wine_study, wine_csv)
    assert model.predict(np.zeros((3, 13))).shape == (3,)
    with pytest.raises(InputError, match="has 7 columns, but the model was fitted on 13"):
        model.predict(np.zeros((3, 7)))
    with pytest.raises(InputError, match="must be a table"):
        model.predict(np.zeros(13))
    with pytest.raises(InputError, match="refit takes an optuna.Study, not str"):
        autometa.refit("study.db", pd.read_csv(wine_csv))


def test_a_study_of_other_data_is_refused_on_resume_and_on_refit(tiny_kb, wine_csv, tmp_path, run_cli,
                                                                  metamodel_cache):
    import autometa

    db = tmp_path / "s.db"
    study = autometa.tune(wine_csv, n_trials=1, kb=tiny_kb, n_warm=1, storage=str(db), study_name="wine")
    frame = pd.read_csv(wine_csv)
    other = frame.sample(frac=1.0, random_state=0).head(150)  # another table with the same columns and target
    other_csv = tmp_path / "other.csv"
    other.to_csv(other_csv, index=False)
    code, out, err = run_cli(["tune", str(other_csv), "--kb", str(tiny_kb), "-n", "1", "--storage", str(db),
                              "--study-name", "wine"])
    assert code == 2 and one_sentence(err) and "was tuned on other data" in err, err
    assert len(optuna.load_study(study_name="wine", storage=f"sqlite:///{db}").trials) == 1  # nothing mixed in
    with pytest.raises(InputError, match="was tuned on other data"):
        autometa.refit(study, other)
    assert autometa.refit(study, frame).predict(frame.drop(columns="target")).shape == (len(frame),)


@pytest.mark.parametrize("where", ["folder", "missing folder", "/proc"])
def test_unwritable_save_model_path_is_refused_before_any_trial(tiny_kb, wine_csv, tmp_path, run_cli, where):
    path = {"folder": tmp_path, "missing folder": tmp_path / "nope" / "best.json",
            "/proc": Path("/proc/best.json")}[where]
    db = tmp_path / "s.db"
    start = time.perf_counter()
    code, out, err = run_cli(["tune", str(wine_csv), "--kb", str(tiny_kb), "-n", "50", "--storage", str(db),
                              "--save-model", str(path)])
    assert code == 2 and one_sentence(err) and "Cannot write the model file" in err, err
    assert not db.exists() and time.perf_counter() - start < 30  # refused before the study was even opened


# ----------------------------------------------------------------------------- storages and passwords
def test_url_masking_hides_every_password(monkeypatch):
    from autometa.io import mask_url, scrub, storage_url

    for url in [f"postgresql://user:{PASSWORD}@127.0.0.1:1/db", "postgresql://u:p%2Fa%40s%3As%25w0rd@h:5/db",
                f"mysql+pymysql://user:{PASSWORD}@h/db?charset=utf8", f"weird://user:{PASSWORD}@@", "x://u:pw@h"]:
        masked = mask_url(url)
        assert "***" in masked and not any(piece in masked for piece in SECRET_PIECES + ("pw",)), masked
    assert mask_url(f"postgresql://user:{PASSWORD}@127.0.0.1:1/db") == "postgresql://user:***@127.0.0.1:1/db"
    assert mask_url("sqlite:///a/b.db") == "sqlite:///a/b.db" and mask_url(None) == "memory"
    # The password is meant up to the last '@': it reaches the driver whole, percent-encoded.
    assert "p%2Fa%40s%3As%25w0rd@127.0.0.1" in storage_url(f"postgresql://user:{PASSWORD}@127.0.0.1:1/db")
    message = f"connection to user:{PASSWORD}@127.0.0.1 failed (password p%2Fa%40s%3As%25w0rd); p happy"
    cleaned = scrub(message, f"postgresql://user:{PASSWORD}@127.0.0.1:1/db")
    assert not any(piece in cleaned for piece in SECRET_PIECES) and "p happy" in cleaned


@pytest.mark.parametrize("verb", ["tune", "kb build", "kb import-study"])
def test_no_password_is_printed_by_any_verb(tiny_kb, wine_csv, run_cli, tmp_path, verb):
    pytest.importorskip("psycopg2")
    url = f"postgresql://user:{PASSWORD}@127.0.0.1:1/db"
    args = {"tune": ["tune", str(wine_csv), "--kb", str(tiny_kb), "-n", "1", "--storage", url],
            "kb build": ["kb", "build", "sklearn:iris", "--storage", url],
            "kb import-study": ["kb", "import-study", "--storage", url, "--study", "s", "--data", str(wine_csv)]}[verb]
    code, out, err = run_cli(args)
    lines = err.strip().splitlines()
    assert code == 2 and lines[-1].startswith("error: ") and "Traceback" not in err, err
    assert len(lines) == 1 or (verb == "kb build" and len(lines) == 2)  # kb build first says what it will do
    assert "user:***@127.0.0.1" in lines[-1]
    assert not any(piece in out + err for piece in SECRET_PIECES), err


def test_in_memory_sqlite_is_refused(tiny_kb, wine_csv, run_cli):
    for url in ("sqlite://", "sqlite:///:memory:"):
        code, _, err = run_cli(["tune", str(wine_csv), "--kb", str(tiny_kb), "-n", "1", "--storage", url])
        assert code == 2 and one_sentence(err) and "nothing would be saved" in err, err


# ----------------------------------------------------------------------------- workers: together, killed
def _tune_args(tiny_kb: Path, data: Path, storage: str, n: int, name: str = "s") -> list[str]:
    return ["tune", str(data), "--kb", str(tiny_kb), "-n", str(n), "--storage", storage, "--study-name", name,
            "--heartbeat-interval", "1", "--grace-period", "2", "--json"]


@functools.cache
def _opened(storage: str):
    """The storage as autometa opens it (the installed PostgreSQL driver named), without heartbeats; one
    per URL, since each holds a pool of connections (PostgreSQL's slots run out if polling opens more)."""
    from autometa.io import open_storage

    return open_storage(storage, heartbeat_interval=None)


def _counts(storage: str, name: str = "s") -> dict[str, object]:
    """What the study holds: states, and how often each recommendation finished."""
    study = optuna.load_study(study_name=name, storage=_opened(storage))
    trials = study.get_trials(deepcopy=False)
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
    finished = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE
                or (t.state == optuna.trial.TrialState.FAIL and t.number not in retried)]
    return {"states": Counter(t.state.name for t in trials), "retried": retried,
            "origins": Counter(t.user_attrs.get("autometa.origin") for t in finished
                               if t.user_attrs.get("autometa.origin")),
            "finished": len(finished), "queued": study.user_attrs.get("autometa.warm_start")}


def test_two_workers_started_together_on_a_new_sqlite_study(tiny_kb, wine_csv, tmp_path, metamodel_cache):
    import autometa

    autometa.recommend(wine_csv, kb=tiny_kb)  # the meta-model cache exists, as after any first call
    storage = f"sqlite:///{tmp_path / 'new.db'}"
    env = {**os.environ, "AUTOMETA_CACHE_DIR": str(metamodel_cache)}
    command = [sys.executable, "-c", "import sys, cli; sys.exit(cli.main(sys.argv[1:]))",
               *_tune_args(tiny_kb, wine_csv, storage, 3)]
    workers = [subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    outs = [w.communicate(timeout=600) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [err[-1500:] for _, err in outs]
    counts = _counts(storage)
    assert counts["finished"] == 6 and counts["states"]["RUNNING"] == 0 and counts["states"]["WAITING"] == 0
    assert set(counts["origins"].values()) == {1}  # each recommendation evaluated once


def _kill_and_resume(tiny_kb: Path, data: Path, storage: str, env: dict[str, str], rng: random.Random,
                     name: str = "s") -> dict:
    """Start a worker, SIGKILL it (and its evaluation process) at a random moment, then resume the study."""
    command = [sys.executable, "-c", "import sys, cli; sys.exit(cli.main(sys.argv[1:]))",
               *_tune_args(tiny_kb, data, storage, 8, name)]
    worker = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    before = _wait_for_trials(storage, worker, at_least=rng.randint(0, 4), timeout=180, name=name)
    time.sleep(rng.uniform(0.0, 1.5))  # a random point: evaluating, telling, enqueueing, sampling
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    killed = _counts(storage, name) if _study_exists(storage, name) else None
    time.sleep(2.5)  # past the grace period: the dead worker's trial is stale
    resumed = cli_child(_tune_args(tiny_kb, data, storage, 6, name), env=env)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    after = _counts(storage, name)
    return {"before": before, "killed": killed, "after": after, "summary": json.loads(resumed.stdout)}


def _study_exists(storage: str, name: str) -> bool:
    try:
        optuna.load_study(study_name=name, storage=_opened(storage))
    except KeyError:
        return False
    return True


def _wait_for_trials(storage: str, worker: subprocess.Popen, at_least: int, timeout: float, name: str) -> int:
    deadline = time.time() + timeout
    path = storage.split("sqlite:///", 1)[1] if storage.startswith("sqlite") else None
    while time.time() < deadline and worker.poll() is None:
        try:
            if path is not None:
                with sqlite3.connect(path, timeout=5) as db:
                    done = db.execute("select count(*) from trials where state in ('COMPLETE', 'FAIL')").fetchone()[0]
            else:
                trials = optuna.load_study(study_name=name, storage=_opened(storage)).trials
                done = sum(t.state.is_finished() for t in trials)
            if done >= at_least:
                return done
        except (sqlite3.Error, KeyError):
            pass
        time.sleep(0.1)
    assert worker.poll() is None, "the worker ended before it could be killed"
    return -1


def _check_nothing_lost(run: dict, n_warm: int = 5) -> None:
    after = run["after"]
    assert after["states"]["RUNNING"] == 0 and after["states"]["WAITING"] == 0, after  # none stuck
    assert after["queued"], after
    assert all(n == 1 for n in after["origins"].values()), after  # none duplicated
    assert len(after["origins"]) == after["queued"], after  # none lost: every recommendation finished once
    killed_finished = run["killed"]["finished"] if run["killed"] else 0
    assert after["finished"] == killed_finished + 6, (run["killed"], after)  # the resumed call ran its 6
    assert run["summary"]["n_worker_died"] == len(after["retried"])


def _kill_env(metamodel_cache: Path) -> dict[str, str]:
    return {**os.environ, "AUTOMETA_CACHE_DIR": str(metamodel_cache), "OMP_NUM_THREADS": "1"}


def test_killed_tune_worker_resumes_with_nothing_lost(tiny_kb, wine_csv, tmp_path, metamodel_cache):
    import autometa

    autometa.recommend(wine_csv, kb=tiny_kb)  # fill the cache first: the kill must hit the search
    run = _kill_and_resume(tiny_kb, wine_csv, f"sqlite:///{tmp_path / 'k.db'}", _kill_env(metamodel_cache),
                           random.Random(0))
    _check_nothing_lost(run)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_ten_kills_of_tune_lose_nothing(tiny_kb, wine_csv, tmp_path, metamodel_cache, backend):
    import autometa

    url = os.environ.get("AUTOMETA_TEST_POSTGRES_URL")
    if backend == "postgresql" and not url:
        pytest.skip("AUTOMETA_TEST_POSTGRES_URL not set")
    autometa.recommend(wine_csv, kb=tiny_kb)
    rng = random.Random(1)
    report = []
    for i in range(10):
        storage = f"sqlite:///{tmp_path / f'k{i}.db'}" if backend == "sqlite" else url
        name = f"autometa-reliability-{os.getpid()}-{i}"
        try:
            run = _kill_and_resume(tiny_kb, wine_csv, storage, _kill_env(metamodel_cache), rng, name)
        finally:
            if backend != "sqlite" and _study_exists(storage, name):
                optuna.delete_study(study_name=name, storage=_opened(storage))
        _check_nothing_lost(run)
        report.append((i, run["before"], dict(run["after"]["states"]), len(run["after"]["retried"])))
    print("\n".join(f"kill {i}: after >= {b} trials; final states {s}; {r} retried" for i, b, s, r in report))


# ----------------------------------------------------------------------------- kb build: killed and resumed
_BUILD_FAMILIES, _BUILD_CONFIGS = ("linear", "knn"), 4


def _build_args(out: Path) -> list[str]:
    return ["kb", "build", "sklearn:iris,wine", "--out", str(out), "--families", ",".join(_BUILD_FAMILIES),
            "--configs-per-family", str(_BUILD_CONFIGS), "--time-limit", "60"]


def _evaluations_logged(out: Path) -> int:
    """Evaluations the build has appended to its per-dataset logs so far (one JSON line each)."""
    count = 0
    for log in (out / "logs").glob("*.jsonl"):
        try:
            count += log.read_bytes().count(b"\n")
        except FileNotFoundError:
            pass
    return count


def _kill_build_and_resume(out: Path, rng: random.Random) -> dict[str, int]:
    """Start a build, SIGKILL it (and its worker processes) at a random moment, run it again to the end,
    and count what the exported knowledge base holds."""
    command = [sys.executable, "-c", "import sys, cli; sys.exit(cli.main(sys.argv[1:]))", *_build_args(out)]
    build = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    # The moment is a count of logged evaluations, not a delay: a delay that lands mid-build on one machine
    # lands after the end on a faster one. 0 is while loading, the rest between evaluations and shards.
    expected = 2 * len(_BUILD_FAMILIES) * _BUILD_CONFIGS
    moment = rng.randrange(expected)
    if moment == 0:
        time.sleep(rng.uniform(0.2, 1.0))
    deadline = time.monotonic() + 120
    while build.poll() is None and _evaluations_logged(out) < moment and time.monotonic() < deadline:
        time.sleep(0.002)
    killed = build.poll() is None
    if killed:
        os.killpg(build.pid, signal.SIGKILL)
    build.wait()
    resumed = cli_child(_build_args(out))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    exported = cli_child(["kb", "export", str(out), "--out", str(out / "kb")])
    assert exported.returncode == 0, exported.stderr[-2000:]
    evaluations = pd.read_parquet(out / "kb" / "evaluations.parquet")
    keys = evaluations[["dataset_id", "family", "config_id"]].astype(str).agg("/".join, axis=1)
    return {"killed": int(killed), "rows": len(evaluations), "unique": keys.nunique(),
            "expected": expected}


def test_killed_kb_build_resumes_with_nothing_lost_or_duplicated(tmp_path):
    counts = _kill_build_and_resume(tmp_path / "build", random.Random(0))
    assert counts["killed"] and counts["rows"] == counts["unique"] == counts["expected"], counts


@pytest.mark.slow
def test_ten_kills_of_kb_build_lose_and_duplicate_nothing(tmp_path):
    rng = random.Random(14)
    report = [_kill_build_and_resume(tmp_path / f"build{i}", rng) for i in range(10)]
    print("\n".join(f"kill {i}: {c}" for i, c in enumerate(report)))
    assert all(c["rows"] == c["unique"] == c["expected"] for c in report), report
