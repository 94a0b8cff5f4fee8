"""Multi-fidelity search: row budgets ("rungs") from the protocol's 2,000 rows up to all of them.

Every trial is first scored under the knowledge base's protocol (the lowest rung, where the
meta-model's predictions apply); :class:`RungPruner` promotes a trial to the next rung (``REDUCTION``
times more rows, the last rung all rows) only when it is among the best at its rung: the best so far,
or in the top ``1/REDUCTION`` of the trials scored there (asynchronous successive halving, Li et al.
2018, as Optuna's ``SuccessiveHalvingPruner`` does with steps; here a step is a row budget). A trial
reports its score at each rung (``trial.report(score, step=rows)``); one that stops below the top rung
is pruned, so ``study.best_value`` always compares scores measured on the same rows. A trial that
cannot finish its next rung within the time budget stops there too, and steps aside in the ranking of
its rung, so that the next best may climb if it is cheaper. When the budget ends before any trial has
reached the top, the highest rung reached becomes the top (recorded in the study) and its trials are
completed there (:func:`complete_on_highest_rung`), so that a short budget on big data still ends with
a best trial, measured on the most rows any trial could afford.
"""

from __future__ import annotations

import math
from typing import Any

import optuna
from optuna.pruners import BasePruner
from optuna.trial import TrialState

from autometa import _study_attrs as attr

#: Each rung has this many times the rows of the one below (the last one: all rows).
REDUCTION = 4
#: A last rung with fewer than this many times the rows of the one before replaces it.
MIN_LAST_STEP = 2.0
#: How a trial's stop reason (``autometa.stopped``) begins when the time budget stopped the climb.
BUDGET_STOP = "the time budget"


def rung_rows(n_rows: int, first: int, max_rows: int | None = None) -> list[int]:
    """The row budgets of the rungs: ``first`` (the protocol's cap), times ``REDUCTION`` each, up to
    ``min(n_rows, max_rows)``; a dataset of at most ``first`` rows has one rung (all its rows)."""
    top = n_rows if max_rows is None else max(min(max_rows, n_rows), 1)
    rows = [min(first, top)]
    while rows[-1] < top:
        rows.append(min(rows[-1] * REDUCTION, top))
    if len(rows) > 2 and rows[-1] < MIN_LAST_STEP * rows[-2]:
        rows[-2:] = [rows[-1]]
    return rows


class RungPruner(BasePruner):
    """Asynchronous successive halving over row budgets: see the module docstring.

    ``prune`` is asked after each rung's report (``trial.last_step`` = rows); it answers True when the
    trial is not among the best ``max(1, floor(n / REDUCTION))`` of the ``n`` trials scored at that rung
    (itself included; ties go to the earlier trial), i.e. when it should not climb.
    """

    def __init__(self, reduction: int = REDUCTION) -> None:
        self.reduction = reduction

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:  # noqa: D102
        step = trial.last_step
        if step is None:
            return False
        mine = trial.intermediate_values[step]
        sign = 1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else -1.0
        states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
        # A trial the budget stopped cannot climb: it must not hold a place a cheaper one could use.
        others = [t.intermediate_values[step] for t in study.get_trials(deepcopy=False, states=states)
                  if t.number != trial.number and step in t.intermediate_values
                  and not str(t.user_attrs.get(attr.STOPPED, "")).startswith(BUDGET_STOP)]
        others = [v for v in others if v is not None and math.isfinite(v)]
        if not math.isfinite(mine):
            return True
        better = sum(1 for v in others if sign * v >= sign * mine)
        keep = max(1, (len(others) + 1) // self.reduction)
        return better >= keep


def climb_cost(seconds: float, rows: int, next_rows: int, family: str) -> float:
    """Estimated wall seconds of the next rung from this rung's: trees and linear models grow about as
    ``rows^1.2``, kernel and neighbour methods about quadratically."""
    power = 2.0 if family in ("svm", "knn") else 1.2
    return seconds * (next_rows / rows) ** power


def current_rungs(study: optuna.Study, default: list[int]) -> list[int]:
    """The study's rungs (a search that ended below the top lowered it); ``default`` when none recorded."""
    rungs = study.user_attrs.get(attr.RUNGS)
    return [int(r) for r in rungs] if rungs else list(default)


def complete_on_highest_rung(study: optuna.Study) -> int | None:
    """When no trial reached the top rung, make the highest rung reached the top and complete each
    trial scored there: a COMPLETE copy (``autometa.completed_from``: the pruned original) with its
    score on those rows. Returns that rung (None when a trial is complete, or none has a score).

    Optuna cannot change a finished trial's state, hence copies; the originals keep their out-of-fold
    predictions, which fusion finds by their numbers.
    """
    trials = study.get_trials(deepcopy=False)
    if any(t.state == TrialState.COMPLETE for t in trials):
        return None
    scored = [t for t in trials if t.state == TrialState.PRUNED and t.intermediate_values]
    if not scored:
        return None
    top = max(max(t.intermediate_values) for t in scored)
    study.set_user_attr(attr.RUNGS, [r for r in current_rungs(study, [top]) if r < top] + [top])
    for t in scored:
        if top not in t.intermediate_values or not math.isfinite(t.intermediate_values[top]):
            continue
        attrs = {k: v for k, v in t.user_attrs.items() if k != attr.STOPPED}
        study.add_trial(optuna.trial.create_trial(
            params=t.params, distributions=t.distributions, value=t.intermediate_values[top],
            intermediate_values=t.intermediate_values, user_attrs={**attrs, attr.COMPLETED_FROM: t.number}))
    return top


def best_rows(study: optuna.Study) -> int | None:
    """The rows the study's best score was measured on (None without a finished trial)."""
    try:
        best: Any = study.best_trial
    except ValueError:
        return None
    rows = best.user_attrs.get(attr.ROWS)
    return int(rows) if rows is not None else None
