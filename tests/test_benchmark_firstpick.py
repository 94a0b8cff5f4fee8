"""The first-pick benchmark (benchmarks/firstpick.py): its LCDB evidence on the shipped knowledge base, the
learned choice and the noise ceiling (benchmarks/firstpick_ceiling.py)."""

from __future__ import annotations

import numpy as np
import pytest

FAMILIES = ["extra_trees", "hist_gradient_boosting", "knn", "lightgbm", "linear", "random_forest", "svm"]


@pytest.fixture(scope="module")
def kb():
    from autometa.kb import KnowledgeBase

    return KnowledgeBase.load()


@pytest.fixture(scope="module")
def evidence(kb):
    from benchmarks.firstpick import LcdbEvidence

    return LcdbEvidence(kb, FAMILIES)


def test_lcdb_copies_share_the_origin_group_of_their_pmlb_copy(kb):
    # Leave-one-origin-group-out must leave the LCDB copy of a held-out dataset out with it.
    origin = kb.origin_groups()
    names = kb.datasets.set_index("dataset_id")["name"].astype(str)
    for lcdb_name, pmlb_id in [("mushroom", "pmlb/mushroom"), ("credit-g", "pmlb/german"),
                               ("letter", "pmlb/letter"), ("mfeat-factors", "pmlb/mfeat_factors")]:
        lcdb_ids = [d for d in names.index if d.startswith("lcdb/") and names[d] == lcdb_name]
        assert lcdb_ids and pmlb_id in origin.index, (lcdb_name, pmlb_id)
        assert all(origin[d] == origin[pmlb_id] for d in lcdb_ids), (lcdb_name, pmlb_id)


def test_lcdb_evidence_maps_accuracy_to_good_families(evidence):
    good = evidence.good
    assert len(evidence.dataset_ids) == 197 and all(d.startswith("lcdb/") for d in evidence.dataset_ids)
    assert good.shape == (197, len(FAMILIES))
    # One LCDB learner (GradientBoostingClassifier) speaks for both boosting families.
    lgbm, hgb = FAMILIES.index("lightgbm"), FAMILIES.index("hist_gradient_boosting")
    assert np.array_equal(good[:, lgbm], good[:, hgb], equal_nan=True)
    # Every dataset has at least one good family (the best one), and values are 0, 1 or NaN.
    assert (np.nansum(good, axis=1) >= 1).all()
    assert set(np.unique(good[np.isfinite(good)])) <= {0.0, 1.0}


def test_lcdb_deviation_is_local_minus_global_and_honours_exclusion(evidence, kb):
    mf_row = kb.datasets.set_index("dataset_id").loc["pmlb/mushroom"]
    mf = {c[3:]: float(v) for c, v in mf_row.items() if str(c).startswith("mf.") and v == v}
    dev = evidence.deviation(mf, 20, set())
    assert dev.shape == (len(FAMILIES),) and np.all(np.abs(dev) <= 1.0)
    # All datasets as neighbours: the local share is the global one, so nothing deviates.
    assert np.allclose(evidence.deviation(mf, 10_000, set()), 0.0, atol=0.15)
    # The nearest LCDB dataset (mushroom's own copy) is not used once its group is excluded.
    z = evidence.scaler.transform(mf)[0]
    nearest = evidence.dataset_ids[int(np.argmin(np.abs(evidence.Z - z).sum(axis=1)))]
    out = set(kb.origin_groups().pipe(lambda g: g.index[g == g["pmlb/mushroom"]]))
    assert nearest in out
    assert not np.allclose(evidence.deviation(mf, 1, set()), evidence.deviation(mf, 1, out))


def test_zero_weight_lcdb_term_leaves_the_pick_unchanged(evidence):
    from benchmarks.firstpick import pick

    rng = np.random.default_rng(0)
    norm = rng.random((30, len(FAMILIES) * 2))
    wins = (norm > norm[:, [0]]).astype(float)
    families = np.array(FAMILIES * 2)
    z_train, z = rng.normal(size=(30, 4)), rng.normal(size=4)
    common = dict(normalized=norm, wins=wins, z_train=z_train, z=z, default_col=0, families=families,
                  lcdb=evidence, mf={"NumberOfInstances": 1000.0, "NumberOfFeatures": 10.0})
    assert pick("knn20-win+lcdb20-0", **common) == pick("knn20-win", **common)
    # A large weight makes the pick come from a family the LCDB neighbours favour most.
    dev = evidence.deviation(common["mf"], 20, set())
    chosen = families[pick("knn20-win+lcdb20-100", **common)]
    assert dev[FAMILIES.index(chosen)] == pytest.approx(dev.max())


def test_the_in_dataset_oracle_picks_by_two_folds_and_is_scored_on_the_third():
    from benchmarks.firstpick_ceiling import oracle_shares, pick_shares

    default = np.array([0.50, 0.50, 0.50])
    # "lucky" is best on folds 0 and 1 only; "steady" is best on the mean and beats the default everywhere.
    table = {"lightgbm/default": default, "knn/lucky": np.array([0.90, 0.90, 0.10]),
             "svm/steady": np.array([0.60, 0.60, 0.60])}
    wins, families, used = oracle_shares({"d": table}, "balanced_accuracy")
    # Fold 0 or 1 held out: the other two folds' means are default 0.50, lucky 0.50, steady 0.60, so the
    # oracle picks steady, which beats the default there (0.60 > 0.50). Fold 2 held out: lucky (0.90 on
    # folds 0-1) is picked and loses there (0.10).
    assert used == 1 and wins == pytest.approx(2 / 3)
    # The picked family is never within 1 % of the held-out fold's best: knn's 0.90 on folds 0-1,
    # svm's 0.60 on fold 2.
    assert families == 0.0
    shares = pick_shares({"d": table}, {"d": "svm/steady"}, "balanced_accuracy")
    assert shares["one_fold"] == 1.0 and shares["three_fold_mean"] == 1.0 and shares["datasets"] == 1
    # svm is the best family on fold 2 only; on the means lucky's 0.633 beats steady's 0.60.
    assert shares["family_one_fold"] == pytest.approx(1 / 3) and shares["family_three_fold_mean"] == 0.0
    # A dataset without LightGBM's default, or a pick it never ran, counts nowhere.
    assert oracle_shares({"d": {"knn/lucky": table["knn/lucky"]}}, "balanced_accuracy")[2] == 0
    assert pick_shares({"d": table}, {"d": "rf/unknown"}, "balanced_accuracy")["datasets"] == 0


def test_the_learned_choice_learns_which_config_wins_where():
    from benchmarks.firstpick import PairModel, pick

    rng = np.random.default_rng(0)
    z_train = rng.normal(size=(120, 3))
    # Config 1 beats the default (config 0) exactly where the first meta-feature is positive, config 2
    # exactly where it is negative.
    wins = np.zeros((120, 3))
    wins[:, 1] = z_train[:, 0] > 0
    wins[:, 2] = z_train[:, 0] <= 0
    normalized = 0.5 + 0.4 * wins
    model = PairModel("win", z_train, wins, normalized, default_col=0)
    common = dict(normalized=normalized, wins=wins, z_train=z_train, default_col=0, pair={"win": model})
    assert pick("gbm-win", z=np.array([1.5, 0.0, 0.0]), **common) == 1
    assert pick("gbm-win", z=np.array([-1.5, 0.0, 0.0]), **common) == 2
    gap = PairModel("gap", z_train, wins, normalized, default_col=0)
    assert int(np.argmax(gap.scores(np.array([1.5, 0.0, 0.0])))) == 1
    with pytest.raises(ValueError, match="unknown pair model"):
        PairModel("mean", z_train, wins, normalized, default_col=0)


def test_soft_win_labels_agree_with_the_three_fold_wins_at_their_ends(kb):
    from autometa.metamodel import training_data
    from benchmarks.firstpick import DEFAULT_KEY, beats_default_matrix, soft_wins_matrix

    data = training_data(kb, "regression", min_coverage=0.5)
    keys = list(data.candidates.index)
    ids = data.dataset_ids[:12]
    wins = beats_default_matrix(data.scores.loc[ids].to_numpy(dtype=float), keys.index(DEFAULT_KEY), True)
    soft = soft_wins_matrix(kb, "regression", ids, keys, wins)
    finite = np.isfinite(soft)
    assert finite.any() and set(np.round(soft[finite] * 3, 9)) <= {0.0, 1.0, 2.0, 3.0}
    assert not np.array_equal(soft, wins, equal_nan=True)  # fold counts, not a copy of the binary label
    # Better on every fold means better on the mean; worse on every fold means not better on it.
    assert (wins[finite & (soft == 1.0)] == 1.0).all() and (wins[finite & (soft == 0.0)] == 0.0).all()
