"""What a tuned study records about its data, read back by the search (resume), ``refit`` and the CLI.

One home for these facts: the dataset's fingerprint (so trials of two datasets never mix), the
record's one-line description in error messages, the best trial's ``(family, config)`` and the file
name of a trial's out-of-fold predictions.
"""

from __future__ import annotations

import json
from typing import Any

from autometa import _study_attrs as attr
from autometa.errors import InputError


def dataset_fingerprint(dataset: Any) -> str:
    """A SHA-256 (hex, 16 digits) of a prepared dataset: task, target and every value of X and y.

    Recorded with a study and checked on resume and on :func:`refit`, so that trials of two datasets
    never mix. Values are hashed, not dtypes, so the same table read from a file or passed as a
    DataFrame has the same fingerprint.
    """
    import hashlib

    import pandas as pd

    columns = sorted(map(str, dataset.X.columns))
    X = dataset.X.set_axis(list(map(str, dataset.X.columns)), axis=1)[columns]
    digest = hashlib.sha256(json.dumps([dataset.task, str(dataset.target), columns]).encode())
    digest.update(pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes())
    digest.update(pd.util.hash_pandas_object(pd.Series(dataset.y).reset_index(drop=True), index=False)
                  .to_numpy().tobytes())
    return digest.hexdigest()[:16]


def oof_name(number: int, rows: int) -> str:
    """File name of a trial's out-of-fold predictions on ``rows`` rows."""
    return f"trial-{number:05d}-rows-{rows}.npy"


def describe_record(record: dict[str, Any]) -> str:
    """'iris' (150 rows x 4 features), from a study's record."""
    return (f"'{record.get('dataset')}', {record.get('n_rows', '?'):,} rows x {record.get('n_features', '?')} features"
            if isinstance(record.get("n_rows"), int) else f"'{record.get('dataset')}'")


def best_config(study: Any) -> tuple[str, dict[str, Any]]:
    """``(family, config)`` of the study's best trial (the parameters that apply to its task)."""
    from autometa.metamodel import trial_config
    from autometa.spaces import get_family

    try:
        best = study.best_trial
    except ValueError:
        raise InputError(f"Study '{study.study_name}' has no finished trial yet; run some trials first.") from None
    parsed = trial_config(best.params)
    if parsed is None:
        raise InputError(f"The best trial of study '{study.study_name}' was not made by autometa.tune.")
    family, config = parsed
    task = study.user_attrs.get(attr.STUDY, {}).get("task")
    return family, get_family(family).config_for(config, task) if task else config
