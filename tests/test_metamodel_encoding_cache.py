"""MetaModel encodes its own candidates once per model: the cached encoding is the fresh one."""

from __future__ import annotations

import numpy as np
import pytest

from autometa.metamodel import load_metamodel


@pytest.fixture(scope="module")
def model():
    return load_metamodel("classification", "balanced_accuracy")


def test_cached_encoding_equals_a_fresh_one_and_is_shared(model):
    c = model.candidates
    fresh = model.encoder.encode(list(c["family"]), list(c["config"]))
    first = model._encode_candidates()
    np.testing.assert_array_equal(first, fresh)
    assert model._encode_candidates() is first and model._encode_candidates(model.candidates) is first
    assert not first.flags.writeable  # callers stack it into new arrays; none may change it


def test_other_candidates_are_encoded_as_given(model):
    subset = model.candidates.iloc[::7]
    got = model._encode_candidates(subset)
    np.testing.assert_array_equal(got, model.encoder.encode(list(subset["family"]), list(subset["config"])))
    assert got.shape[0] == len(subset)


def test_new_candidates_are_encoded_again(model):
    before = model._encode_candidates()
    saved = model.candidates
    try:
        model.candidates = saved.iloc[:5].copy()
        after = model._encode_candidates()
        assert after.shape[0] == 5 and after is not before
        np.testing.assert_array_equal(after, before[:5])
    finally:
        model.candidates = saved


def test_predictions_use_the_same_numbers(model):
    mf = {"NumberOfInstances": 500.0, "NumberOfFeatures": 8.0, "NumberOfClasses": 2.0}
    c = model.candidates
    fresh = model.encoder.encode(list(c["family"]), list(c["config"]))
    np.testing.assert_array_equal(model.predict(mf)["mean"].to_numpy(),
                                  model.predict(mf, encoded=fresh)["mean"].to_numpy())
