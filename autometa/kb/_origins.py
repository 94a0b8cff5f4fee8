"""Origin groups: which datasets of a knowledge base share an origin, for honest held-out evaluation.

Duplicate groups (:mod:`autometa.kb._duplicates`) join copies of one table. That is not enough to say
"unseen": PMLB and friends hold families of near-siblings that are different tables of one origin --
a generator run with other settings (``fri_c*``, ``GAMETES_*``, Breiman's ring/two-norm/waveform,
Bayesian-network samples ``BNG_*`` of a base dataset), feature sets of one raw data (``mfeat_*`` and
the other handwritten-digit tables), one study's several responses (``cpu_act``/``cpu_small``,
``no2``/``pm10``) or one book's collection (``analcatdata_*``, ``sleuth_*``, ``prnn_*``). A meta-model
validated with a sibling in training looks good and fails on new data. An origin group is the
connected component of "is a copy of" (duplicate groups) and "shares an origin key" (below); holding a
dataset out means holding out its whole origin group.

Origin keys of a name (:func:`origin_keys`): the numeric prefix and ``BNG_`` dropped, the first token
(split at ``_ - + .`` and at lower-to-upper case changes) lower-cased with trailing digits dropped,
then mapped through :data:`ORIGIN_SYNONYMS`; a ``BNG_`` name also has the key ``bng``. The rule errs
towards joining: a group too large makes the validation harder, never easier.
"""

from __future__ import annotations

import re

import pandas as pd

from autometa.kb._duplicates import linked_groups

#: Names (first-token keys) of one origin that the token rule cannot see, mapped to one key.
ORIGIN_SYNONYMS: dict[str, str] = {
    # handwritten digits: one raw data set under many feature sets
    "mfeat": "digits", "pendigits": "digits", "penbased": "digits", "optdigits": "digits", "semeion": "digits",
    "digit": "digits", "usps": "digits", "mnist": "digits",
    # Breiman's generators (CART book): ring-norm, two-norm, three-norm, waveform
    "ring": "breiman", "twonorm": "breiman", "threenorm": "breiman", "waveform": "breiman", "ringnorm": "breiman",
    # boolean concept generators
    "parity": "boolean", "mofn": "boolean", "three": "boolean", "threeof": "boolean", "xd": "boolean",
    "mux": "boolean", "multiplexer": "boolean", "monk": "boolean", "led": "boolean", "corral": "boolean",
    # UCI heart disease (Cleveland, Hungary, ...)
    "heart": "heart", "cleve": "heart", "cleveland": "heart", "hungarian": "heart", "statlog": "heart",
    # breast cancer (Wisconsin and Ljubljana)
    "breast": "breast", "wdbc": "breast", "wisconsin": "breast", "wpbc": "breast",
    # credit approval / scoring
    "credit": "credit", "crx": "credit", "buggy": "credit", "german": "credit", "australian": "credit",
    # thyroid
    "allbp": "thyroid", "allhypo": "thyroid", "allrep": "thyroid", "allhyper": "thyroid", "ann": "thyroid",
    "thyroid": "thyroid", "hypothyroid": "thyroid", "sick": "thyroid", "dis": "thyroid", "newthyroid": "thyroid",
    # chess end games
    "chess": "chess", "kr": "chess", "krkopt": "chess", "krk": "chess",
    # one study, several responses or tables
    "no": "airquality", "pm": "airquality", "cpu": "cpu", "machine": "cpu", "auto": "auto", "autos": "auto",
    "autoprice": "auto", "satellite": "satimage", "satimage": "satimage", "segment": "segment",
    "segmentation": "segment", "spect": "spect", "spectf": "spect", "colic": "colic", "horse": "colic",
    "clean": "musk", "musk": "musk", "house": "house", "housevotes": "votes", "vote": "votes",
    "diabetes": "diabetes", "pima": "diabetes", "car": "car", "cars": "car", "wine": "wine",
    "agaricus": "mushroom", "mushroom": "mushroom", "contraceptive": "cmc", "cmc": "cmc", "led7digit": "boolean",
}
_PREFIX = re.compile(r"^\d+_")
_SPLIT = re.compile(r"[_\-+.\s]+|(?<=[a-z])(?=[A-Z])")


def origin_keys(name: str) -> set[str]:
    """The origin keys of a dataset name (see the module docstring)."""
    name = _PREFIX.sub("", str(name))
    keys = set()
    if name.upper().startswith("BNG_") or name.upper().startswith("BNG("):
        keys.add("bng")
        name = name[4:]
    tokens = [t for t in _SPLIT.split(name) if t]
    if not tokens:
        return keys
    first = re.sub(r"\d+$", "", tokens[0].lower()) or tokens[0].lower()
    keys.add("name:" + ORIGIN_SYNONYMS.get(first, first))
    return keys


def origin_groups(datasets: pd.DataFrame, duplicates: pd.Series | None = None) -> pd.Series:
    """Origin group of every dataset: a string Series indexed by ``dataset_id`` (in table order) whose
    value is the smallest ``dataset_id`` of the group.

    Args:
        datasets: a knowledge base's ``datasets`` table (``dataset_id``, ``name``).
        duplicates: its duplicate groups (:meth:`KnowledgeBase.duplicate_groups`); copies join a group.
    """
    ids = [str(d) for d in datasets["dataset_id"]]
    known = set(ids)
    # Every dataset is linked to the first one that shares a key with it: its origin keys, or its
    # duplicate group (a key of its own kind, so that no name can collide with a group id).
    first: dict[object, str] = {}
    links = [(d, first.setdefault(key, d))
             for d, name in zip(ids, datasets["name"].astype(str), strict=True) for key in origin_keys(name)]
    if duplicates is not None:
        links += [(str(d), first.setdefault(("duplicates", group), str(d)))
                  for d, group in duplicates.items() if str(d) in known]
    groups = linked_groups(ids, links)
    return pd.Series([groups[d] for d in ids], index=pd.Index(ids, name="dataset_id"), dtype=str)
