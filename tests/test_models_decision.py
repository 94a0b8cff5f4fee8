"""The decision rule of a balanced-accuracy model (autometa.models._decision), on real data.

The imbalanced case is scikit-learn's diabetes data with its target turned into "disease progression in
the top 15 %": a noisy, imbalanced binary problem where the most probable class is nearly always "no",
so balanced accuracy gains from weighting the rare class. Iris (three classes of 50 rows) is the
balanced case, where no weighting can change a prediction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_iris

import autometa
from autometa.errors import InputError
from autometa.models import Candidate, fit_model, load_model, save_model
from autometa.models._decision import ALPHAS, decide, fit_decision


def _candidate(frame: pd.DataFrame, family: str, metric: str = "balanced_accuracy"):
    from autometa.evaluation import DEFAULT_PROTOCOL, evaluate_config, prepare_data

    dataset = autometa.load_dataset(frame, target="target")
    prepared = prepare_data(dataset, DEFAULT_PROTOCOL)
    result = evaluate_config(prepared, family, {}, keep_predictions=True)
    assert result.ok, result.error
    return dataset, prepared, Candidate(family, {}, 0, result.scores[metric], result.predictions)


@pytest.fixture(scope="module")
def rare_progression():
    data = load_diabetes(as_frame=True).frame
    frame = data.drop(columns="target").assign(
        target=np.where(data["target"] > data["target"].quantile(0.85), "fast", "slow"))
    return _candidate(frame, "linear")


@pytest.fixture(scope="module")
def iris():
    return _candidate(load_iris(as_frame=True).frame, "lightgbm")


def _balanced_accuracy(y, codes):
    return float(np.mean([np.mean(codes[y == c] == c) for c in np.unique(y)]))


def test_an_imbalanced_study_gets_class_weights_that_raise_balanced_accuracy_on_held_out_rows(rare_progression):
    dataset, prepared, candidate = rare_progression
    model = fit_model([candidate], dataset, metric="balanced_accuracy", cv={"y": prepared.y})
    decision = model.card["decision"]
    assert decision is not None and decision["alpha"] in ALPHAS and decision["alpha"] > 0
    assert decision["check"]["weighted"] > decision["check"]["most_probable"]
    # The rare class ("fast", code 0) gets the larger weight, and the out-of-fold rows bear the rule out.
    assert decision["class_weights"][0] > decision["class_weights"][1]
    weighted = decide(candidate.oof, decision)
    plain = candidate.oof.argmax(axis=1)
    assert _balanced_accuracy(prepared.y, weighted) > _balanced_accuracy(prepared.y, plain)
    assert (weighted == 0).sum() > (plain == 0).sum()
    assert any("predict_proba is unchanged" in note for note in model.card["notes"])


def test_predict_follows_the_rule_and_predict_proba_does_not_change(rare_progression):
    dataset, prepared, candidate = rare_progression
    weighted = fit_model([candidate], dataset, metric="balanced_accuracy", cv={"y": prepared.y})
    plain = fit_model([candidate], dataset, metric="balanced_accuracy")  # no out-of-fold targets: no rule
    assert plain.card["decision"] is None
    X = dataset.X
    np.testing.assert_allclose(weighted.predict_proba(X), plain.predict_proba(X))
    proba = weighted.predict_proba(X)
    expected = weighted.classes[(proba * np.asarray(weighted.card["decision"]["class_weights"])).argmax(axis=1)]
    assert list(weighted.predict(X)) == list(expected)
    assert list(plain.predict(X)) == list(plain.classes[proba.argmax(axis=1)])
    assert (weighted.predict(X) == "fast").sum() > (plain.predict(X) == "fast").sum()


def test_balanced_classes_and_other_metrics_keep_the_most_probable_class(iris, rare_progression):
    dataset, prepared, candidate = iris
    assert fit_model([candidate], dataset, metric="balanced_accuracy", cv={"y": prepared.y}).card["decision"] is None
    _, prepared, candidate = rare_progression
    shares = np.bincount(prepared.y) / len(prepared.y)
    for metric in ("accuracy", "log_loss", "roc_auc"):
        assert fit_decision(candidate.oof, prepared.y, metric, shares) is None


def test_the_rule_is_kept_only_when_it_wins_on_rows_it_was_not_chosen_on(rare_progression):
    _, prepared, candidate = rare_progression
    shares = np.bincount(prepared.y) / len(prepared.y)
    # Probabilities that say nothing about the rows: weighting only moves predictions at random.
    noise = np.random.default_rng(0).dirichlet([1.0, 1.0], size=len(prepared.y))
    decision = fit_decision(noise, prepared.y, "balanced_accuracy", shares)
    if decision is not None:  # it may win by chance, but then only where held-out rows agreed
        assert decision["check"]["weighted"] > decision["check"]["most_probable"]
    # Well-separated probabilities of a rare class: the most probable class is already right.
    perfect = np.eye(2)[prepared.y] * 0.9 + 0.05
    assert fit_decision(perfect, prepared.y, "balanced_accuracy", shares) is None


def test_the_rule_survives_a_round_trip_and_a_forged_one_is_refused(rare_progression, tmp_path):
    from test_models_persist import rewrite

    dataset, prepared, candidate = rare_progression
    model = fit_model([candidate], dataset, metric="balanced_accuracy", cv={"y": prepared.y})
    path = save_model(model, tmp_path / "model.autometa")
    loaded = load_model(path)
    assert loaded.card["decision"] == model.card["decision"]
    assert list(loaded.predict(dataset.X)) == list(model.predict(dataset.X))

    def forged(card):
        card["decision"]["class_weights"] = [1.0, 1.0, 1.0]  # one weight too many for two classes
        return card

    with pytest.raises(InputError, match="decision rule"):
        load_model(rewrite(path, tmp_path / "forged.autometa", card=forged))


def test_refit_of_a_tuned_study_learns_the_rule_from_the_best_trials_out_of_fold_predictions(tmp_path):
    data = load_diabetes(as_frame=True).frame
    frame = data.drop(columns="target").assign(
        target=np.where(data["target"] > data["target"].quantile(0.85), "fast", "slow"))
    study = autometa.tune(frame, target="target", n_trials=3, family="linear",
                          storage=f"sqlite:///{tmp_path / 'study.db'}", random_state=0)
    model = autometa.refit(study, frame)
    assert model.card["decision"] is not None and model.card["decision"]["alpha"] > 0
    assert model.card["members"][0]["trial"] == study.best_trial.number
