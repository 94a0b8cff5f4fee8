"""``autometa.refit``: the model to ship from a study of :func:`autometa.tune`.

    >>> model = autometa.refit(study, "data.csv", target="label")                  # the best config
    >>> model = autometa.refit(study, "data.csv", target="label", ensemble="selection")
    >>> autometa.save_model(model, "churn.autometa")

The best config, or a fusion of the best trials, is fitted on every row of the data the study tuned on
(its fingerprint is checked). A fusion learns from the trials' out-of-fold predictions, kept on disk
beside the study, on the highest rung where enough trials have them; members whose refit on all rows
would cost far more than the best's are left out. The fitting itself is :func:`autometa.models.fit_model`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from autometa import _study_attrs as attr
from autometa._rungs import best_rows
from autometa._study_record import best_config, dataset_fingerprint, describe_record, oof_name
from autometa.errors import InputError


def refit(study: Any, data: Any, target: str | None = None, ensemble: str | None = None, *,
          oof_dir: str | Path | None = None) -> Any:
    """Fit the study's best config, or a fusion of its best trials, on every row of ``data``.

    Args:
        study: a study of :func:`tune` (``optuna.load_study(...)`` for one in a storage).
        data: the data the study tuned on (its fingerprint is checked).
        target: its target column (default: the study's).
        ensemble: None for the best single config; ``"selection"`` (Caruana's ensemble selection),
            ``"stacking"`` or ``"mdt"`` (a meta-decision tree) to fuse the best trials from their
            out-of-fold predictions on the top rung's rows (see :mod:`autometa.models`). With fewer
            than two such trials the best single config is fitted, and the model card says why.
        oof_dir: the folder of the out-of-fold predictions (default: the one the study recorded).

    Returns:
        An :class:`autometa.models.FittedModel` (``predict``, ``predict_proba``, ``card``), ready for
        :func:`autometa.save_model`.
    """
    import optuna
    from optuna.trial import TrialState

    from autometa.data import load_dataset
    from autometa.evaluation import Protocol, prepare_data
    from autometa.models import MAX_CANDIDATES, Candidate, fit_model

    if not isinstance(study, optuna.study.Study):
        raise InputError(f"refit takes an optuna.Study, not {type(study).__name__} {_clip(study)}; load it first "
                         "with optuna.load_study(study_name=..., storage=...).")
    if ensemble not in (None, "single", "selection", "stacking", "mdt"):
        raise InputError(f"Unknown ensemble {ensemble!r}; choose selection, stacking, mdt or none.")
    best_config(study)  # a study without a finished trial of autometa's is refused here
    record = study.user_attrs.get(attr.STUDY, {})
    # The study's task, not one inferred again: tune may have been told the task (--task).
    dataset = load_dataset(data, target=target or record.get("target"), task=record.get("task"))
    if record.get("task") and record["task"] != dataset.task:
        raise InputError(f"The study tuned {record['task']}, but this data's target is {dataset.task}.")
    if record.get("fingerprint") and dataset_fingerprint(dataset) != record["fingerprint"]:
        here = {"dataset": dataset.name, "n_rows": dataset.n_rows, "n_features": dataset.n_features}
        raise InputError(f"Study '{study.study_name}' was tuned on other data ({describe_record(record)}), not on this "
                         f"{describe_record(here)}; refit on the data the study tuned on.")
    protocol = Protocol.from_dict(record.get("protocol") or {})
    rows = best_rows(study) or min(protocol.row_cap, dataset.n_rows)
    recorded = oof_dir or study.user_attrs.get(attr.OOF_DIR)
    folder = Path(recorded).expanduser() if recorded else None
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.user_attrs.get(attr.ROWS, rows) == rows]
    done.sort(key=lambda t: t.value, reverse=maximize)
    fuse_rows, scored = rows, [(t, float(t.value)) for t in done]
    if ensemble not in (None, "single") and folder is not None:
        fuse_rows, scored = _fusion_rung(study, folder, rows, maximize)
        # The study's best (on the top rung's rows) leads, whatever its rank on a lower rung: it is the
        # model a fusion must beat, and the one fitted when the fusion does not.
        best = _original(done[0]) if done else None
        scored.sort(key=lambda item: _original(item[0]) != best)
    candidates, seen, first_cost = [], set(), 0.0
    # A single model needs the best only; a fusion reads no more predictions than it may use.
    wanted = 1 if ensemble in (None, "single") else MAX_CANDIDATES
    for t, value in scored:
        if len(candidates) >= wanted:
            break
        parsed = _task_config(t.params, dataset.task)
        key = json.dumps(parsed, sort_keys=True, default=str)
        if parsed is None or key in seen:
            continue  # a twin config fuses as one member
        cost = _refit_seconds(t, fuse_rows, dataset.n_rows)
        if candidates and cost > min(MAX_MEMBER_REFIT_SECONDS, max(10.0, 5 * first_cost)):
            continue  # e.g. a kernel SVM that did well on 2,000 rows would take hours on all of them
        first_cost = cost if not candidates else first_cost
        seen.add(key)
        # A single model's out-of-fold predictions choose its decision rule (autometa.models._decision).
        oof = _load_oof(folder, t, fuse_rows) if folder is not None else None
        candidates.append(Candidate(parsed[0], parsed[1], t.number, value, oof))
    cv: dict[str, Any] = {"rows": rows, "folds": protocol.k, "seed": protocol.seed,
                          "score": float(done[0].value) if done else None}
    if ensemble not in (None, "single"):
        cv["fusion_rows"] = fuse_rows
    if candidates and candidates[0].oof is not None:
        import dataclasses

        cv["y"] = prepare_data(dataset, dataclasses.replace(protocol, row_cap=max(fuse_rows, 2 * protocol.k))).y
    notes = [] if ensemble in (None, "single") or folder is not None else [
        "the study recorded no folder of out-of-fold predictions"]
    return fit_model(candidates, dataset, kind=ensemble, metric=record.get("metric") or "", cv=cv,
                     random_state=protocol.seed, notes=notes)


def _load_oof(folder: Path, trial: Any, rows: int) -> Any:
    """The out-of-fold predictions of ``trial`` on ``rows`` rows (a completed copy's are its original's);
    None when the study kept none."""
    import numpy as np

    for number in dict.fromkeys((trial.number, _original(trial))):
        path = folder / oof_name(number, rows)
        if path.is_file():
            return np.load(path, allow_pickle=False).astype(float)
    return None


#: A fusion learns from the highest rung where at least this many trials have out-of-fold predictions.
MIN_FUSION_CANDIDATES = 3


def _original(trial: Any) -> int:
    """The number of the trial that was evaluated (a completed copy points at it)."""
    return int(trial.user_attrs.get(attr.COMPLETED_FROM, trial.number))


#: A fusion leaves out candidates whose refit on all rows is estimated to take longer than this.
MAX_MEMBER_REFIT_SECONDS = 120.0


def _refit_seconds(trial: Any, rows: int, n_rows: int) -> float:
    """Estimated seconds to fit ``trial``'s config on ``n_rows`` rows, from its cross-validation on ``rows``."""
    from autometa._rungs import climb_cost

    seconds = (trial.user_attrs.get(attr.RUNG_SCORES) or {}).get(str(rows), {}).get("seconds")
    if seconds is None:
        return 0.0
    # The cross-validation fitted k models on (k-1)/k of the rows each: about one fit on all of them.
    return climb_cost(float(seconds), rows, n_rows, trial.user_attrs.get(attr.FAMILY, ""))


def _fusion_rung(study: Any, folder: Path, top: int, maximize: bool) -> tuple[int, list[tuple[Any, float]]]:
    """``(rows, [(trial, score on those rows)])``: the rung whose out-of-fold predictions a fusion learns
    from, the highest where ``MIN_FUSION_CANDIDATES`` trials have them (on big data few trials reach
    all rows, and members learn their weights on a lower rung's rows), best first."""
    from optuna.trial import TrialState

    by_rows: dict[int, list[tuple[Any, float]]] = {}
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)):
        for step, value in t.intermediate_values.items():
            if value is not None and math.isfinite(value) and (folder / oof_name(t.number, step)).is_file():
                by_rows.setdefault(int(step), []).append((t, float(value)))
    if not by_rows:
        return top, []
    enough = [r for r, items in by_rows.items() if len(items) >= MIN_FUSION_CANDIDATES]
    rows = max(enough) if enough else max(by_rows, key=lambda r: (len(by_rows[r]), r))
    return rows, sorted(by_rows[rows], key=lambda item: item[1], reverse=maximize)


def _task_config(params: dict[str, Any], task: str) -> tuple[str, dict[str, Any]] | None:
    from autometa.metamodel import trial_config
    from autometa.spaces import get_family

    parsed = trial_config(params)
    if parsed is None:
        return None
    return parsed[0], get_family(parsed[0]).config_for(parsed[1], task)


def _clip(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
