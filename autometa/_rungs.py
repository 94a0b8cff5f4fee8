"""Multi-fidelity search: row budgets ("rungs") from the protocol's 2,000 rows up to all of them.

Every trial is first scored under the knowledge base's protocol (the lowest rung, where the
meta-model's predictions apply); :class:`RungPruner` promotes a trial to the next rung (``REDUCTION``
times more rows, the last rung all rows) only when it is among the best at its rung: the best so far,
or in the top ``1/REDUCTION`` of the trials scored there (asynchronous successive halving, Li et al.
2018, as Optuna's ``SuccessiveHalvingPruner`` does with steps; here a step is a row budget). A trial
reports its score at each rung (``trial.report(score, step=rows)``); one that stops below the top rung
is pruned, so ``study.best_value`` always compares scores measured on the same rows. A trial that
cannot finish its next rung within the time budget stops there too; when no trial has reached the top
yet and even the best cannot afford it, the top rung is lowered to the rows it can afford (recorded in
the study), so that a search under a short budget on big data still ends with a best trial.
"""

from __future__ import annotations

import math
from typing import Any

import optuna
from optuna.pruners import BasePruner
from optuna.trial import TrialState

#: Each rung has this many times the rows of the one below (the last one: all rows).
REDUCTION = 4
#: A last rung with fewer than this many times the rows of the one before replaces it.
MIN_LAST_STEP = 2.0
#: Study user attribute holding the rung row budgets (set once, lowered only as described above).
RUNGS_ATTR = "autometa.rungs"


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
        others = [t.intermediate_values[step] for t in study.get_trials(deepcopy=False, states=states)
                  if t.number != trial.number and step in t.intermediate_values]
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
    """The study's rungs (another worker may have lowered the top); ``default`` when none recorded."""
    rungs = study.user_attrs.get(RUNGS_ATTR)
    return [int(r) for r in rungs] if rungs else list(default)


def lower_top(study: optuna.Study, rows: int) -> list[int]:
    """Make ``rows`` the top rung (the budget cannot afford more); returns the new rungs."""
    rungs = [r for r in current_rungs(study, [rows]) if r < rows] + [rows]
    study.set_user_attr(RUNGS_ATTR, rungs)
    return rungs


def any_complete(study: optuna.Study) -> bool:
    return any(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False))


def best_rows(study: optuna.Study) -> int | None:
    """The rows the study's best score was measured on (None without a finished trial)."""
    try:
        best: Any = study.best_trial
    except ValueError:
        return None
    rows = best.user_attrs.get("autometa.rows")
    return int(rows) if rows is not None else None
