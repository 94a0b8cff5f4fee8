"""Origin groups: what a held-out evaluation must leave out together with a dataset."""

from __future__ import annotations

import pandas as pd


def _groups(names: list[str], duplicates: dict[str, str] | None = None) -> pd.Series:
    from autometa.kb._origins import origin_groups  # the internal part is the unit under test

    table = pd.DataFrame({"dataset_id": [f"pmlb/{n}" for n in names], "name": names})
    dup = None if duplicates is None else pd.Series({f"pmlb/{k}": v for k, v in duplicates.items()})
    return origin_groups(table, dup)


def test_generator_siblings_and_feature_sets_of_one_raw_data_share_a_group():
    names = ["579_fri_c0_250_5", "588_fri_c4_1000_100", "1193_BNG_lowbwt", "1199_BNG_echoMonths", "lowbwt",
             "mfeat_zernike", "optdigits", "pendigits", "GAMETES_Epistasis_2_Way", "GAMETES_Heterogeneity_20atts",
             "ring", "twonorm", "waveform_40", "iris", "wine", "parity5+5", "threeOf9", "monk-2"]
    g = _groups(names).rename(lambda d: d.split("/", 1)[1])
    assert g["579_fri_c0_250_5"] == g["588_fri_c4_1000_100"]
    assert g["1193_BNG_lowbwt"] == g["lowbwt"] == g["1199_BNG_echoMonths"]  # every BNG sample with its base
    assert g["mfeat_zernike"] == g["optdigits"] == g["pendigits"]
    assert g["GAMETES_Epistasis_2_Way"] == g["GAMETES_Heterogeneity_20atts"]
    assert g["ring"] == g["twonorm"] == g["waveform_40"]
    assert g["parity5+5"] == g["threeOf9"] == g["monk-2"]
    assert len({g["iris"], g["wine"], g["ring"], g["579_fri_c0_250_5"], g["mfeat_zernike"]}) == 5
    # The value is the smallest id of the group (the contract of duplicate_groups).
    assert g["lowbwt"] == "pmlb/1193_BNG_lowbwt"


def test_copies_join_through_the_duplicate_groups():
    g = _groups(["heart_h", "hungarian_copy_x", "zoo"], duplicates={"hungarian_copy_x": "g1", "zoo": "g1",
                                                                   "heart_h": "g2"})
    assert g["pmlb/hungarian_copy_x"] == g["pmlb/zoo"]  # a duplicate pair, whatever the names
    assert g["pmlb/heart_h"] == g["pmlb/hungarian_copy_x"]  # heart and hungarian share the heart origin


def test_shipped_kb_duplicate_groups_lie_inside_origin_groups():
    from autometa.kb import KnowledgeBase

    kb = KnowledgeBase.load()
    origin, dup = kb.origin_groups(), kb.duplicate_groups()
    assert list(origin.index) == list(kb.datasets["dataset_id"].astype(str))
    joined = pd.DataFrame({"origin": origin, "dup": dup.reindex(origin.index)})
    assert (joined.groupby("dup")["origin"].nunique() == 1).all()
    built = origin[~origin.index.str.startswith("lcdb/")]
    # The Friedman generator's 49 datasets are one group, so the 270 built datasets make far fewer groups.
    fri = [d for d in built.index if "_fri_c" in d]
    assert len(fri) >= 40 and built[fri].nunique() == 1
    assert built.nunique() < dup[built.index].nunique() * 0.6
