"""``MetaSampler`` as an Optuna component: Optuna's own sampler test suites, and the contract's edges
(multi-objective studies, search spaces that are not autometa's, a user's ``family`` parameter, trials
that never finish)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import optuna
import pytest
from optuna.testing.pytest_samplers import BasicSamplerTestCase, SingleOnlySamplerTestCase
from optuna.trial import TrialState

from autometa.metamodel import MetaSampler, suggest_config, trial_config

FAMILIES = ["linear", "knn", "lightgbm", "random_forest"]


@pytest.fixture(scope="module")
def small():
    """A small meta-model fitted on every 8th classification dataset of the shipped knowledge base, and
    the meta-features of a dataset it did not see."""
    from autometa.kb import KnowledgeBase
    from autometa.metamodel import MetaModel, Settings, training_data

    data = training_data(KnowledgeBase.load(), "classification")
    ids = data.dataset_ids
    model = MetaModel.fit(data.subset(ids[::8]), Settings(n_models=2, num_boost_round=20, k=4), time_model=False)
    return model, data.metafeatures.loc[ids[1]].to_dict()


@pytest.fixture()
def make(small):
    model, mf = small

    def factory(**kwargs):
        kwargs = {"seed": 0, "n_random": 16, "n_local": 12, **kwargs}
        return MetaSampler(model, mf, kwargs.pop("families", FAMILIES), **kwargs)

    return factory


class TestOptunaBasicSuite(BasicSamplerTestCase):
    @pytest.fixture
    def sampler(self, make):
        return make


class TestOptunaSingleOnlySuite(SingleOnlySamplerTestCase):
    @pytest.fixture
    def sampler(self, make):
        return make


def _count_proposals(sampler, monkeypatch):
    calls = []
    propose = sampler.propose

    def counted(study, trial):
        calls.append(trial.number)
        return propose(study, trial)

    monkeypatch.setattr(sampler, "propose", counted)
    return calls


def test_autometa_space_gets_meta_proposals_then_tpe_turns(make, monkeypatch):
    sampler = make(n_warm=3)
    calls = _count_proposals(sampler, monkeypatch)
    study = optuna.create_study(direction="maximize", sampler=sampler)

    def objective(trial):
        family, config = suggest_config(trial, FAMILIES, "classification")
        return {"lightgbm": 0.9, "random_forest": 0.8}.get(family, 0.5) - 0.01 * trial.number

    study.optimize(objective, n_trials=9)
    assert calls == [0, 1, 2, 3, 5, 7]  # the warm trials, then every other one
    parsed = [trial_config(t.params) for t in study.trials]
    assert all(p is not None and p[0] in FAMILIES for p in parsed)
    assert len({repr(p) for p in parsed}) == len(parsed)  # never a config twice
    assert sampler._proposals == {}  # every finished trial's proposal is forgotten


def test_one_family_study_still_gets_meta_proposals(make, monkeypatch):
    # suggest_categorical with one choice never reaches the sampler: the family's parameters do.
    sampler = make(families=["knn"], n_warm=2)
    calls = _count_proposals(sampler, monkeypatch)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(lambda t: -abs(suggest_config(t, ["knn"], "classification")[1]["n_neighbors"] - 7), n_trials=4)
    assert calls == [0, 1, 2]
    assert {t.params["family"] for t in study.trials} == {"knn"}


def test_first_proposal_is_the_acquisitions_best_knowledge_base_config(small):
    # Without random or local candidates the proposal is the knowledge base's config with the best
    # prior + exploration bonus, computed here from the meta-model directly.
    from autometa.metamodel._acquisition import (  # the internal part is the unit under test
        AcquisitionSettings,
        acquisition,
    )

    model, mf = small
    sampler = MetaSampler(model, mf, FAMILIES, seed=0, n_random=0, n_local=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    trial = study.ask()
    family, config = suggest_config(trial, FAMILIES, "classification")
    kb = model.candidates[model.candidates["family"].isin(FAMILIES)]
    pred = model.predict(mf, kb, neighbors=model.neighbors(mf))
    enc = model.encoder.encode(list(kb["family"]), list(kb["config"]), "classification")
    score = acquisition(pred["mean"].to_numpy(), pred["std"].to_numpy(), enc, enc[:0], np.zeros(0), np.zeros(0),
                        AcquisitionSettings())
    best = kb.iloc[int(np.argmax(score))]
    expected = {k: v for k, v in best["config"].items() if k in config}
    assert family == best["family"] and config == expected


def test_a_trial_still_asking_for_its_params_is_not_proposed_again(make):
    # Two threads of one process (n_jobs=2): the first trial has its family but not yet its other
    # params when the second asks; its proposal counts as being looked at.
    sampler = make(n_random=0, n_local=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    first = study.ask()
    family = first.suggest_categorical("family", FAMILIES)
    proposal = sampler._proposals[first._trial_id][1]
    assert proposal["family"] == family
    second = study.ask()
    assert suggest_config(second, FAMILIES, "classification") != trial_config(proposal)
    # Without that, the second trial gets the same knowledge-base config (nothing else differs).
    alone = make(n_random=0, n_local=0)
    trial = optuna.create_study(direction="maximize", sampler=alone).ask()
    assert suggest_config(trial, FAMILIES, "classification") == trial_config(proposal)


def test_fast_acquisition_matches_the_posterior_and_the_near_copy_rule():
    from autometa.metamodel._acquisition import (  # the internal part is the unit under test
        AcquisitionSettings,
        acquisition,
        posterior,
        too_close,
    )

    rng = np.random.default_rng(0)
    columns = [(0, 3), (3, 5), (5, 5)]  # the third family has no parameters

    def encoded(n):
        x = np.full((n, 6), np.nan)
        x[:, 0] = rng.integers(0, 3, n)
        for row in x:
            start, stop = columns[int(row[0])]
            row[1 + start:1 + stop] = rng.random(stop - start)
        return x

    for case in range(60):
        cand, obs = encoded(int(rng.integers(0, 40))), encoded(int(rng.integers(0, 12)))
        if len(cand) and len(obs):
            cand[0] = obs[0]  # an exact copy
        mean, std, obs_mean = rng.random(len(cand)), 0.3 * rng.random(len(cand)), rng.random(len(obs))
        z = np.where(rng.random(len(obs)) < 0.3, np.nan, rng.random(len(obs)))
        settings = AcquisitionSettings(min_distance=(0.05, 0.3)[case % 2])
        mu, sigma = posterior(mean, std, cand, obs, obs_mean, z, settings)
        expected = np.where(too_close(cand, obs, settings.min_distance), -np.inf, mu + settings.kappa * sigma)
        np.testing.assert_allclose(acquisition(mean, std, cand, obs, obs_mean, z, settings), expected, rtol=0,
                                   atol=1e-12)


def test_multi_objective_study_is_refused_with_a_value_error(make):
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=make())

    def objective(trial):
        family, config = suggest_config(trial, FAMILIES, "classification")
        return 1.0, 2.0

    with pytest.raises(ValueError, match="MetaSampler optimizes one objective.*NSGAIISampler"):
        study.optimize(objective, n_trials=1)
    assert study.trials[0].state == TrialState.FAIL  # the trial is closed, not left running


@pytest.mark.parametrize("space", ["numbers", "user family"])
def test_foreign_space_is_plain_tpe_and_makes_no_proposal(make, monkeypatch, space):
    def objective(trial):
        if space == "user family":  # a user's own parameter named family: never autometa's
            kind = trial.suggest_categorical("family", ["a", "b"])
            return trial.suggest_float("x", -1, 1) ** 2 + (kind == "b")
        return trial.suggest_float("x", -1, 1) ** 2 + trial.suggest_int("y", 0, 5)

    sampler = make(n_warm=3)
    calls = _count_proposals(sampler, monkeypatch)
    ours = optuna.create_study(sampler=sampler)
    ours.optimize(objective, n_trials=12)
    tpe = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=3))
    tpe.optimize(objective, n_trials=12)
    assert calls == [] and sampler._pool == {}
    assert [t.params for t in ours.trials] == [t.params for t in tpe.trials]
    if space == "user family":
        assert {t.params["family"] for t in ours.trials} <= {"a", "b"}


def test_proposals_of_trials_that_never_finish_are_dropped(make, monkeypatch):
    import autometa.metamodel._sampler as module  # the internal part is the unit under test

    sampler = make(n_warm=10)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    abandoned = study.ask()
    suggest_config(abandoned, FAMILIES, "classification")
    assert abandoned._trial_id in sampler._proposals  # running: its params may still be asked for
    second = study.ask()
    suggest_config(second, FAMILIES, "classification")
    assert abandoned._trial_id in sampler._proposals
    # A dead worker's trial, closed by the storage (heartbeat) or by another process: never told here.
    study._storage.set_trial_state_values(abandoned._trial_id, TrialState.FAIL)
    suggest_config(study.ask(), FAMILIES, "classification")
    assert abandoned._trial_id not in sampler._proposals and second._trial_id in sampler._proposals

    monkeypatch.setattr(module, "_MAX_PROPOSALS", 3)
    for _ in range(6):
        suggest_config(study.ask(), FAMILIES, "classification")
    assert len(sampler._proposals) <= 3


def test_sampler_survives_pickling(make):
    import pickle

    sampler = make()
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(lambda t: float(suggest_config(t, FAMILIES, "classification")[0] == "lightgbm"), n_trials=2)
    copy = pickle.loads(pickle.dumps(sampler))  # as multiprocessing hands it to a worker
    study.sampler = copy
    study.optimize(lambda t: float(suggest_config(t, FAMILIES, "classification")[0] == "lightgbm"), n_trials=2)
    assert len({repr(trial_config(t.params)) for t in study.trials}) == 4


def test_meta_sampler_is_exported_lazily():
    import autometa
    import autometa.metamodel

    assert autometa.MetaSampler is autometa.metamodel.MetaSampler is MetaSampler
    assert autometa.metamodel.suggest_config is suggest_config and autometa.metamodel.trial_config is trial_config
    probe = "import sys, autometa, autometa.metamodel; print('optuna' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_task_encoding_from_the_free_one_is_encoding_with_the_task(small, task):
    """The sampler encodes each config once (ConfigEncoder.for_task): the same numbers as encoding again."""
    from autometa.spaces import get_family

    model, _ = small
    families, configs = list(model.candidates["family"]), list(model.candidates["config"])
    rng = np.random.default_rng(0)
    for family in FAMILIES:  # random configs too: every parameter of every family
        spec = get_family(family)
        for u in rng.random((5, len(spec.space))):
            families.append(family)
            configs.append(spec.from_unit(u))
    free = model.encoder.encode(families, configs)
    assert np.array_equal(model.encoder.for_task(free, families, task), model.encoder.encode(families, configs, task),
                          equal_nan=True)
