"""Many workers through a real PostgreSQL server: 4 worker processes, one killed, every config once.

Needs ``AUTOMETA_TEST_POSTGRES_URL`` (a database this test may empty): it skips without it on a
developer's machine and fails without it in CI, where ``.ci/run`` starts PostgreSQL and sets it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.postgres
REPO = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
DATASETS = ("iris", "wine", "breast_cancer", "diabetes")
FAMILIES = ("linear", "knn", "random_forest")
N_CONFIGS = 3


@pytest.fixture
def postgres_url() -> str:
    url = os.environ.get("AUTOMETA_TEST_POSTGRES_URL")
    if not url:
        if IN_CI:
            pytest.fail("AUTOMETA_TEST_POSTGRES_URL is not set; .ci/run must start PostgreSQL and export it")
        pytest.skip("AUTOMETA_TEST_POSTGRES_URL not set (a PostgreSQL database this test may empty)")
    import optuna

    from autometa.kb._rdb import STUDY_PREFIX, open_storage  # the internal part is the unit under test

    storage = open_storage(url)
    for summary in storage.get_all_studies():  # a clean slate: earlier runs' studies would be counted
        if summary.study_name.startswith(STUDY_PREFIX):
            optuna.delete_study(study_name=summary.study_name, storage=storage)
    return url


def _states(url: str) -> dict[str, Counter]:
    import optuna

    from autometa.kb._rdb import STUDY_PREFIX, open_storage  # the internal part is the unit under test

    storage = open_storage(url)
    out = {}
    for summary in storage.get_all_studies():
        if summary.study_name.startswith(STUDY_PREFIX):
            study = optuna.load_study(study_name=summary.study_name, storage=storage)
            out[summary.study_name] = Counter(t.state.name for t in study.get_trials(deepcopy=False))
    return out


def test_four_workers_one_killed_every_config_exactly_once(postgres_url, tmp_path):
    import optuna

    from autometa.kb._rdb import (  # the internal part is the unit under test
        STUDY_PREFIX,
        mask_url,
        open_storage,
        storage_to_kb,
    )

    command = [sys.executable, "-m", "cli", "kb", "build", "sklearn:" + ",".join(DATASETS), "--storage", postgres_url,
               "--families", ",".join(FAMILIES), "-n", str(N_CONFIGS), "--heartbeat-interval", "1", "--grace-period", "3"]
    logs = [open(tmp_path / f"worker{i}.log", "w") for i in range(4)]
    workers = [subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
               for log in logs]
    victim = workers[0]
    # Kill worker 0 (and its evaluation process) once the build is under way.
    deadline = time.time() + 120
    while time.time() < deadline:
        done = sum(c.get("COMPLETE", 0) for c in _states(postgres_url).values())
        if done >= 6 or victim.poll() is not None:
            break
        time.sleep(0.2)
    assert victim.poll() is None, "worker 0 ended before it could be killed"
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    for worker in workers[1:]:
        assert worker.wait(timeout=240) == 0, (tmp_path / "worker1.log").read_text()
    for log in logs:
        log.close()

    storage = open_storage(postgres_url)
    expected = {(f, c) for f in FAMILIES for c in ["default"] + [f"sobol-{i:04d}" for i in range(1, N_CONFIGS)]}
    studies = [s for s in storage.get_all_studies() if s.study_name.startswith(STUDY_PREFIX)]
    assert len(studies) == len(DATASETS)
    for summary in studies:
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        trials = study.get_trials(deepcopy=False)
        complete = Counter((t.user_attrs["family"], t.user_attrs["config_id"]) for t in trials
                           if t.state == optuna.trial.TrialState.COMPLETE)
        assert set(complete) == expected, summary.study_name  # none lost
        assert set(complete.values()) == {1}, summary.study_name  # none twice
        assert not [t for t in trials if t.state in (optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.WAITING)]
        for t in trials:
            if t.state == optuna.trial.TrialState.COMPLETE:
                assert json.loads(t.user_attrs["result"])["status"] == "ok"

    kb = storage_to_kb(postgres_url)
    assert len(kb.datasets) == len(DATASETS) and len(kb.evaluations) == len(DATASETS) * len(expected)
    assert kb.info()["build"]["storage"] == mask_url(postgres_url)
    for i in range(1, 4):  # no worker ever prints the password
        password = postgres_url.split("://", 1)[1].split("@", 1)[0].partition(":")[2]
        if password:
            assert password not in (tmp_path / f"worker{i}.log").read_text()


def test_unreachable_storage_is_one_clear_error_without_the_password():
    result = subprocess.run(
        [sys.executable, "-m", "cli", "kb", "build", "sklearn:iris", "--storage",
         "postgresql://someone:s3cret-pw@127.0.0.1:1/nodb", "--families", "linear", "-n", "1"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert "Cannot open the Optuna storage postgresql://someone:***@127.0.0.1:1/nodb" in result.stderr
    assert "s3cret-pw" not in result.stderr and "Traceback" not in result.stderr
