"""The seams: the kb verbs as a Python API (logging, not printing), one meaning of -n across verbs, the
benchmark verb inside and outside a checkout, optional dependencies named by their extra, Linux only
for the worker pool, Optuna's verbosity left alone, and one version."""

from __future__ import annotations

import importlib.metadata
import logging
import subprocess
import sys

import optuna
import pytest

import autometa
from autometa import kb
from autometa.errors import InputError
from autometa.evaluation import Protocol, WorkerPool

FAST = Protocol(time_limit=20.0)


def test_kb_verbs_from_python_build_export_and_report_through_logging(tmp_path, caplog, capsys):
    caplog.set_level(logging.INFO, logger="autometa")
    stats = kb.build(["sklearn:iris"], tmp_path / "build", families=["knn"], configs_per_family=2, protocol=FAST,
                     metafeatures=False)
    assert (stats.done, stats.failures, stats.datasets_done) == (2, 0, 1)
    knowledge = kb.export(tmp_path / "build", tmp_path / "kb")
    assert (tmp_path / "kb" / "BUILD.md").is_file()
    counts = kb.info(tmp_path / "kb")["counts"]
    assert counts["datasets"] == 1 and counts["evaluations"] == 2 == len(knowledge.evaluations)
    assert set(knowledge.evaluations["status"]) == {"ok"}
    # Resumable: the same call again evaluates nothing.
    assert kb.build(["sklearn:iris"], tmp_path / "build", families=["knn"], configs_per_family=2, protocol=FAST,
                    metafeatures=False).done == 0
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("autometa.kb")]
    assert any("2/2 done" in m for m in logged) and any(m.startswith("kb export: 1 datasets") for m in logged)
    printed = capsys.readouterr()
    assert printed.out == "" and printed.err == ""  # the library logs; only the CLI prints


def test_kb_build_refuses_bad_input_before_any_work(tmp_path):
    with pytest.raises(InputError, match="Unknown model family 'xgboost'"):
        kb.build(["sklearn:iris"], tmp_path / "b", families=["xgboost"])
    with pytest.raises(InputError, match="retry takes failed, timeout, memory; got 'ok'"):
        kb.build(["sklearn:iris"], tmp_path / "b", retry=["ok"])
    with pytest.raises(InputError, match="build folder"):
        kb.build(["sklearn:iris"])
    assert not (tmp_path / "b").exists()


def test_import_study_from_python_adds_rows_to_the_given_folder(tmp_path):
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True, as_frame=True)
    data = tmp_path / "iris.csv"
    X.assign(species=y).to_csv(data, index=False)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="s", storage=url, direction="maximize")
    study.optimize(lambda t: 1.0 / t.suggest_int("n_neighbors", 1, 9), n_trials=3)

    rows = kb.import_study(url, "s", data, family="knn", save=False)
    assert rows.saved_to is None and len(rows.evaluations) == 3
    result = kb.import_study(url, "s", data, family="knn", out=tmp_path / "kb")
    assert result.saved_to == tmp_path / "kb"
    loaded = kb.KnowledgeBase.load(tmp_path / "kb")
    assert sorted(loaded.evaluations["param.n_neighbors"]) == sorted(t.params["n_neighbors"] for t in study.trials)


def _command(*names: str):
    import typer

    from autometa._cli._app import app  # the CLI's click commands, to read their options

    command = typer.main.get_command(app)
    for name in names:
        command = command.commands[name]
    return command


@pytest.mark.parametrize("verb, long_name", [(("recommend",), "--n-recommendations"), (("tune",), "--n-trials"),
                                             (("kb", "build"), "--configs-per-family")])
def test_dash_n_counts_configs_in_every_verb(verb, long_name):
    option = next(p for p in _command(*verb).params if "-n" in p.opts)
    assert long_name in option.opts
    assert option.help.startswith("How many configs")


def test_old_spellings_still_work(run_cli, wine_csv, tiny_kb, metamodel_cache, tmp_path):
    import json

    code, out, err = run_cli(["recommend", str(wine_csv), "--kb", str(tiny_kb), "--n", "2", "--json"])
    assert code == 0, err
    assert len(json.loads(out)["recommendations"]) == 2
    code, _, err = run_cli(["kb", "build", "sklearn:iris", "--out", str(tmp_path / "b"), "--families", "knn,xgboost"])
    assert code == 2 and "Unknown model family 'xgboost'" in err


def test_benchmark_verb_runs_the_package_module_of_the_checkout():
    from autometa._cli.benchmark import load_benchmark  # the verb's loader, without running a benchmark

    module = load_benchmark("warmstart")
    assert module.__name__ == "benchmarks.warmstart" and callable(module.main)


def test_benchmark_verb_outside_a_checkout_says_so_in_one_line(run_cli, tmp_path, monkeypatch):
    site = tmp_path / "site-packages" / "autometa"
    site.mkdir(parents=True)
    monkeypatch.setattr(autometa, "__file__", str(site / "__init__.py"))  # as installed from a wheel
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(["benchmark", "warmstart", "--mode", "replay"])
    lines = err.strip().splitlines()
    assert code == 2 and out == "" and len(lines) == 1
    assert "needs autometa's source checkout" in lines[0] and "Traceback" not in err


def test_a_missing_optional_package_names_its_extra(monkeypatch, tmp_path):
    from autometa._lazy import require  # the optional-import helper itself

    assert require("json", purpose="p").dumps([]) == "[]"
    monkeypatch.setitem(sys.modules, "openml", None)  # as if not installed
    with pytest.raises(InputError, match=r"Importing OpenML runs needs the 'openml' package.*autometa\[openml\]"):
        kb.import_openml([3], offline=True, cache_dir=tmp_path, out=tmp_path / "kb")
    assert not (tmp_path / "kb").exists()
    # torch: in a fresh process that cannot import it, the neural family says which extra installs it.
    probe = ("import sys\n"
             "class NoTorch:  # a finder that says torch is not installed\n"
             "    def find_spec(self, name, path=None, target=None):\n"
             "        if name.split('.')[0] == 'torch':\n"
             "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
             "sys.meta_path.insert(0, NoTorch())\n"
             "import pandas as pd\n"
             "from autometa.spaces import get_family\n"
             "try:\n"
             "    get_family('mlp').build_estimator(None, 'classification', pd.DataFrame({'a': [0.0, 1.0]}))\n"
             "except Exception as exc:\n"
             "    print(type(exc).__name__, exc)\n")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("InputError The 'mlp' family needs the 'torch' package")
    assert 'pip install "autometa[neural]"' in run.stdout


def test_the_cli_names_the_extra_of_a_missing_package_in_one_line(run_cli, monkeypatch):
    def needs_torch(path=None):
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    monkeypatch.setattr(kb, "info", needs_torch)  # as a verb that needs torch behaves without it
    code, out, err = run_cli(["kb", "info"])
    assert code == 2 and out == ""
    assert err.strip().splitlines() == ["error: This command needs the 'torch' package, which is not installed; "
                                        'install it with: pip install "autometa[neural]"']


def test_the_worker_pool_refuses_other_platforms_in_one_sentence(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    with pytest.raises(InputError, match="run on Linux only \\(this is darwin\\)"):
        WorkerPool(1)


def test_tune_leaves_optunas_verbosity_alone(tiny_kb, metamodel_cache):
    from sklearn.datasets import load_wine

    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.DEBUG)
    try:
        autometa.tune(load_wine(as_frame=True).frame, target="target", family="knn", n_trials=1, kb=tiny_kb)
        assert optuna.logging.get_verbosity() == optuna.logging.DEBUG
    finally:
        optuna.logging.set_verbosity(before)


def test_one_version():
    assert importlib.metadata.version("autometa") == autometa.__version__


# Declared but never imported, on purpose (one line each):
_DECLARED_NOT_IMPORTED = {
    "xgboost-cpu": "FLAML's AutoML (benchmarks/automl.py) imports it; autometa never does",
    "func-timeout": "lcdb imports it without declaring it",
    "lcdb": "its data files are read, the package is never imported",
    "psycopg2-binary": "SQLAlchemy loads the driver for postgresql:// URLs",
}


def _declared() -> dict[str, str]:
    """Distribution name (normalized) -> where pyproject.toml declares it (core or an extra)."""
    import re
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    groups = {"core": project["dependencies"], **project["optional-dependencies"]}
    declared = {}
    for group, requirements in groups.items():
        for requirement in requirements:
            name = re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0]
            if name != "autometa":
                declared[re.sub(r"[-_.]+", "-", name).lower()] = group
    return declared


def _imported() -> dict[str, str]:
    """Top-level third-party modules imported anywhere in autometa/, metafeatures/ and benchmarks/ -> a file."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    folders = ("autometa", "metafeatures", "benchmarks")
    # The committed files (what CI and the wheel see), not a work in progress beside them.
    listed = subprocess.run(["git", "ls-files", "--", *folders], cwd=root, capture_output=True, text=True)
    paths = ([root / f for f in listed.stdout.split() if f.endswith(".py")] if listed.returncode == 0 else
             [p for folder in folders for p in (root / folder).rglob("*.py")])
    found = {}
    for path in sorted(paths):
        if path.is_file():
            for node in ast.walk(ast.parse(path.read_text())):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                         [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in ("autometa", "metafeatures", "benchmarks"):
                        found.setdefault(top, str(path.relative_to(root)))
    return found


def test_declared_dependencies_are_the_imported_ones():
    import re

    declared = _declared()
    distributions = importlib.metadata.packages_distributions()
    imported_dists = {}
    for module, where in _imported().items():
        dists = [re.sub(r"[-_.]+", "-", d).lower() for d in distributions.get(module, [module])]
        assert any(d in declared for d in dists), f"{where} imports {module} ({dists}), which pyproject.toml does not declare"
        imported_dists.update({d: where for d in dists})
    tools = {d for d, group in declared.items() if group == "dev"}  # pytest, ruff, import-linter: run, not imported
    unused = sorted(set(declared) - set(imported_dists) - set(_DECLARED_NOT_IMPORTED) - tools)
    assert not unused, f"declared in pyproject.toml but imported nowhere: {unused}"
