"""Multi-fidelity tuning: configs climb from the protocol's rows to all rows; fusion from out-of-fold predictions.

Real data: scikit-learn's digits (1,797 rows, 10 classes) under a protocol whose row cap is 300, so the
rungs are 300 rows then all 1,797 (the shipped protocol's 2,000-row cap would leave digits one rung).
"""

from __future__ import annotations

import time

import numpy as np
import optuna
import pytest
from sklearn.datasets import load_digits

pytestmark = pytest.mark.usefixtures("metamodel_cache")

FAMILIES = ["linear", "knn"]  # fast on digits; the climbing logic is the same for every family


@pytest.fixture(scope="module")
def digits():
    return load_digits(as_frame=True).frame


@pytest.fixture(scope="module")
def climbed(tiny_kb, digits, tmp_path_factory):
    """A study of 8 trials on digits, rungs 300 and 1,797 rows (shared: tuning is the slow part)."""
    import autometa

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTOMETA_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "metamodel-cache"))
        return autometa.tune(digits, target="target", family=FAMILIES, n_trials=8, kb=tiny_kb, protocol=_protocol(),
                             random_state=0)


def _protocol():
    from autometa.evaluation import Protocol

    return Protocol(row_cap=300)


def test_rungs_grow_fourfold_to_all_rows():
    from autometa._rungs import rung_rows

    assert rung_rows(100_000, 2000) == [2000, 8000, 32000, 100_000]
    assert rung_rows(1500, 2000) == [1500]  # at or under the cap: one rung, as before
    assert rung_rows(2500, 2000) == [2000, 2500]
    assert rung_rows(10_000, 2000) == [2000, 10_000]  # 8,000 then 10,000 is not worth a rung
    assert rung_rows(100_000, 2000, max_rows=2000) == [2000]
    assert rung_rows(100_000, 2000, max_rows=20_000) == [2000, 8000, 20_000]


def test_rung_pruner_promotes_the_best_so_far_then_the_top_quarter():
    from autometa._rungs import RungPruner

    pruner = RungPruner()
    study = optuna.create_study(direction="maximize")

    def decide(score: float) -> bool:
        trial = study.ask()
        trial.report(score, step=300)
        frozen = study._storage.get_trial(trial._trial_id)
        promoted = not pruner.prune(study, frozen)
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        return promoted

    assert decide(0.5)            # the first is the best so far
    assert not decide(0.4)        # worse than the best so far
    assert decide(0.6)            # better again
    assert not decide(0.6)        # a tie goes to the earlier trial
    assert not decide(0.55)       # 5 scored: top max(1, 5 // 4) = 1 only
    for score in (0.1, 0.2, 0.3):
        decide(score)
    assert not decide(0.58)       # 9 scored: the top 2 climb, and 0.58 is third (0.6 twice above it)
    for score in (0.05, 0.01):
        decide(score)
    assert decide(0.59)           # 12 scored: the top 3 climb, and 0.59 is third
    minimize = optuna.create_study(direction="minimize")
    trial = minimize.ask()
    trial.report(float("nan"), step=300)
    assert pruner.prune(minimize, minimize._storage.get_trial(trial._trial_id))  # no score, no climb


def test_the_best_configs_climb_to_all_rows_and_the_best_value_is_measured_there(climbed):
    study = climbed
    assert study.user_attrs["autometa.rungs"] == [300, 1797]
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    stopped = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert complete and stopped and len(complete) + len(stopped) == 8
    for t in complete:
        assert sorted(t.intermediate_values) == [300, 1797] and t.user_attrs["autometa.rows"] == 1797
        assert t.value == t.intermediate_values[1797]
    for t in stopped:  # stopped on the protocol's rows: not among the best there
        assert list(t.intermediate_values) == [300] and t.user_attrs["autometa.rows"] == 300
    # The protocol's scores stay in the user attributes (the knowledge base's and meta-model's fidelity).
    first = study.trials[0]
    assert first.user_attrs["autometa.balanced_accuracy"] == pytest.approx(first.intermediate_values[300])
    assert first.state == optuna.trial.TrialState.COMPLETE  # the best so far when it was scored
    best_at_300 = max(study.trials, key=lambda t: (t.intermediate_values[300], -t.number))
    assert best_at_300.state == optuna.trial.TrialState.COMPLETE
    assert study.best_value == max(t.value for t in complete)
    assert study.best_trial.user_attrs["autometa.rows"] == 1797
    assert isinstance(first.user_attrs.get("autometa.predicted"), float)  # a recommendation's prediction
    assert first.user_attrs["autometa.uncertainty"] >= 0  # and its uncertainty, drawn as an error bar in the report

    from pathlib import Path

    folder = Path(study.user_attrs["autometa.oof_dir"])
    for t in study.trials:
        oof = np.load(folder / f"trial-{t.number:05d}-rows-300.npy")
        assert oof.shape == (300, 10) and np.allclose(oof.sum(axis=1), 1.0, atol=1e-4)
    assert all((folder / f"trial-{t.number:05d}-rows-1797.npy").is_file() for t in complete)


def test_refit_fuses_the_best_trials_and_says_on_which_rows(climbed, digits):
    from pathlib import Path

    import autometa
    from autometa.evaluation import metric_score

    study = climbed
    single = autometa.refit(study, digits)
    assert single.kind == "single" and single.card["cv"]["rows"] == 1797
    assert single.members[0].trial == study.best_trial.number
    X, y = digits.drop(columns="target"), digits["target"].to_numpy()
    for kind in ("selection", "stacking", "mdt"):
        model = autometa.refit(study, digits, ensemble=kind)
        assert model.card["cv"]["rows"] == 1797
        # With fewer than 3 trials on all rows the fusion learns on the 300-row rung, where all 8 were scored.
        n_complete = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
        assert model.card["cv"]["fusion_rows"] == (1797 if n_complete >= 3 else 300)
        # The fusion is judged against the study's best trial (best on all rows), whatever its rank on
        # the fusion's rung; when it does not beat it, that trial is the model.
        best = study.best_trial
        assert model.card["cv"]["fusion_check"]["best_single"] == pytest.approx(
            metric_score(
                "balanced_accuracy", _codes(digits, model.card["cv"]["fusion_rows"]),
                np.load(Path(study.user_attrs["autometa.oof_dir"]) /
                        f"trial-{best.number:05d}-rows-{model.card['cv']['fusion_rows']}.npy"), 10), abs=1e-6)
        if model.kind == "single":
            assert model.members[0].trial == best.number
        else:
            assert len(model.members) >= 2 and abs(sum(model.card["weights"]) - 1) < 1e-9
        proba = model.predict_proba(X)
        assert proba.shape == (len(X), 10) and np.allclose(proba.sum(axis=1), 1.0)
        assert (model.predict(X) == y).mean() > 0.9  # fitted on these rows


def _codes(frame, rows):
    """Class codes of the rows a rung of the test protocol scored."""
    import dataclasses

    import autometa
    from autometa.evaluation import prepare_data

    dataset = autometa.load_dataset(frame, target="target")
    return prepare_data(dataset, dataclasses.replace(_protocol(), row_cap=rows)).y


def test_max_rows_at_the_cap_scores_every_trial_on_the_protocols_rows(tiny_kb, digits):
    import autometa

    study = autometa.tune(digits, target="target", family=FAMILIES, n_trials=4, kb=tiny_kb, protocol=_protocol(),
                          max_rows=300, random_state=0)
    assert study.user_attrs["autometa.rungs"] == [300]
    assert all(t.state == optuna.trial.TrialState.COMPLETE and t.user_attrs["autometa.rows"] == 300
               for t in study.trials)


def test_a_time_budget_bounds_the_whole_search(tiny_kb, digits):
    import autometa

    start = time.monotonic()
    study = autometa.tune(digits, target="target", family=FAMILIES, n_trials=None, time_budget=6, kb=tiny_kb,
                          protocol=_protocol(), random_state=0)
    elapsed = time.monotonic() - start
    assert len(study.trials) >= 2 and study.best_trial.user_attrs["autometa.rows"] in (300, 1797)
    assert elapsed < 6 + 8  # setup (meta-features, warm start) and the last evaluation's slack


def test_a_budget_that_cannot_afford_all_rows_completes_the_highest_rung_reached(tiny_kb, digits, monkeypatch):
    import autometa
    import autometa._rungs as rungs

    monkeypatch.setattr(rungs, "climb_cost", lambda *args: 1e9)  # no climb ever fits
    study = autometa.tune(digits, target="target", family=FAMILIES, n_trials=3, time_budget=60, kb=tiny_kb,
                          protocol=_protocol(), random_state=0)
    assert study.user_attrs["autometa.rungs"] == [300]
    originals = study.trials[:3]
    assert all(t.state == optuna.trial.TrialState.PRUNED for t in originals)
    assert all(t.user_attrs["autometa.stopped"].startswith("the time budget") for t in originals)
    copies = study.trials[3:]  # each completed on the 300 rows it reached, pointing at its original
    assert [t.user_attrs["autometa.completed_from"] for t in copies] == [0, 1, 2]
    assert [t.value for t in copies] == [t.intermediate_values[300] for t in originals]
    assert study.best_trial.user_attrs["autometa.rows"] == 300
    model = autometa.refit(study, digits, ensemble="stacking")  # the originals' predictions are found
    assert model.card["cv"]["fusion_rows"] == 300 and model.card["cv"]["rows"] == 300


def test_a_trial_the_budget_stopped_steps_aside_for_the_next_best():
    from autometa._rungs import RungPruner

    study = optuna.create_study(direction="maximize")
    best = study.ask()
    best.report(0.9, step=300)
    best.set_user_attr("autometa.stopped", "the time budget cannot afford 1,200 rows")
    study.tell(best, state=optuna.trial.TrialState.PRUNED)
    cheaper = study.ask()
    cheaper.report(0.8, step=300)
    assert not RungPruner().prune(study, study._storage.get_trial(cheaper._trial_id))


def test_bad_budgets_are_input_errors(tiny_kb, digits):
    import autometa
    from autometa.errors import InputError

    with pytest.raises(InputError, match="time budget must be a positive"):
        autometa.tune(digits, target="target", time_budget=0, kb=tiny_kb)
    with pytest.raises(InputError, match="max_rows must be at least 1"):
        autometa.tune(digits, target="target", max_rows=0, kb=tiny_kb)



def test_an_unknown_ensemble_is_an_input_error(climbed, digits):
    import autometa
    from autometa.errors import InputError

    with pytest.raises(InputError, match="Unknown ensemble 'bagging'"):
        autometa.refit(climbed, digits, ensemble="bagging")


def test_two_workers_climb_in_one_sqlite_study(tiny_kb, tmp_path, metamodel_cache):
    """Two processes share one SQLite study: promotions compare across workers, predictions land in one folder."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    db = tmp_path / "climb.db"
    script = (
        "import sys, optuna, autometa\n"
        "from sklearn.datasets import load_digits\n"
        "from autometa.evaluation import Protocol\n"
        "optuna.logging.set_verbosity(optuna.logging.ERROR)\n"
        f"autometa.tune(load_digits(as_frame=True).frame, target='target', family={FAMILIES!r}, n_trials=4,\n"
        f"              kb={str(tiny_kb)!r}, protocol=Protocol(row_cap=300), storage={str(db)!r},\n"
        "              study_name='digits', random_state=int(sys.argv[1]))\n"
    )
    env = {**os.environ, "AUTOMETA_CACHE_DIR": str(metamodel_cache)}
    workers = [subprocess.Popen([sys.executable, "-c", script, str(seed)], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for seed in (0, 1)]
    outs = [w.communicate(timeout=600) for w in workers]
    assert all(w.returncode == 0 for w in workers), outs
    study = optuna.load_study(study_name="digits", storage=f"sqlite:///{db}")
    assert len(study.trials) == 8 and study.user_attrs["autometa.rungs"] == [300, 1797]
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert complete and all(t.user_attrs["autometa.rows"] == 1797 for t in complete)
    assert study.best_value == max(t.value for t in complete)
    folder = Path(study.user_attrs["autometa.oof_dir"])
    assert folder == db.resolve().with_name("climb.db.oof") / "digits"
    assert all((folder / f"trial-{t.number:05d}-rows-300.npy").is_file() for t in study.trials
               if t.state != optuna.trial.TrialState.FAIL)


def test_an_in_memory_studys_predictions_go_when_the_study_goes():
    import gc
    from pathlib import Path

    from sklearn.datasets import load_iris

    import autometa

    study = autometa.tune(load_iris(as_frame=True).frame, target="target", n_trials=2, family="linear",
                          random_state=0)
    folder = Path(study.user_attrs["autometa.oof_dir"])
    assert any(folder.glob("trial-*.npy"))
    assert autometa.refit(study, load_iris(as_frame=True).frame, ensemble="selection").card["task"] == "classification"
    del study
    gc.collect()
    assert not folder.exists()
