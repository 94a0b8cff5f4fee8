"""Shared pytest fixtures.

Tests that need the real corpora in ``../shared`` use the ``shared_dir`` / ``pmlb_dir`` fixtures: they
skip on a user's machine without that folder, but fail (never skip) in CI (``CI=true``), where the
folder is always present.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("AUTOMETA_SHARED_DIR", REPO_ROOT.parent / "shared"))
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


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
