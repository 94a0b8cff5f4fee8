"""What a study holds, as plain facts for the report: its trials (state, family, config, scores per
row budget, origin, the meta-model's prediction), the families, the data's shape, the best trial, and
the model card; with the few numbers derived from them that the figures and the page share."""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from autometa import _study_attrs as attr
from autometa.errors import InputError

#: The study user attribute that :func:`autometa.tune` records what was tuned in.


@dataclass
class _Trial:
    number: int
    state: str  # complete, pruned (stopped on fewer rows), skipped (pruned with nothing measured), failed, running
    family: str | None
    config: dict[str, Any]
    value: float | None  # the study's value (complete trials)
    rows: int | None  # the rows ``value`` was measured on
    first: float | None  # the score on the protocol's rows (the lowest rung)
    rungs: dict[int, float]  # rows -> score (intermediate values)
    origin: str | None
    predicted: float | None
    uncertainty: float | None
    fit_seconds: float | None
    seconds: float | None
    error: str | None
    stopped: str | None
    start: _dt.datetime | None = None
    end: _dt.datetime | None = None

    @property
    def shown(self) -> float | None:
        """The score the trial is plotted at: its value, or the score on the most rows it reached."""
        if self.value is not None:
            return self.value
        return self.rungs[max(self.rungs)] if self.rungs else None

    @property
    def shown_rows(self) -> int | None:
        return self.rows if self.value is not None else (max(self.rungs) if self.rungs else None)

    @property
    def rank(self) -> int | None:
        """The recommendation's rank (``"recommendation 3"`` -> 3); None for the sampler's trials."""
        match = re.fullmatch(r"recommendation (\d+)", self.origin or "")
        return int(match.group(1)) if match else None


@dataclass
class _Facts:
    name: str
    record: dict[str, Any]
    metric: str
    maximize: bool
    trials: list[_Trial]
    families: list[str]
    n_rows: int | None
    n_features: int | None
    task: str | None
    best: _Trial | None
    started: _dt.datetime | None
    finished: _dt.datetime | None
    retried: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def better(self, a: float, b: float) -> bool:
        return a > b if self.maximize else a < b


def _facts(study: Any, dataset: Any) -> _Facts:
    import optuna
    from optuna.trial import TrialState

    if not isinstance(study, optuna.study.Study):
        raise InputError(f"write_report takes an optuna.Study, not {type(study).__name__}; load one first "
                         "with optuna.load_study(study_name=..., storage=...).")
    if len(study.directions) != 1:
        raise InputError(f"Study '{study.study_name}' optimizes {len(study.directions)} objectives; the report "
                         "is for studies of autometa.tune, which optimize one.")
    record = study.user_attrs.get(attr.STUDY)
    record = dict(record) if isinstance(record, Mapping) else {}
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    metric = str(record.get("metric") or "score")
    frozen = study.get_trials(deepcopy=False)
    # A trial of a killed worker is failed by the heartbeat check and retried: its copy names it.
    retried = {n for t in frozen for n in (t.system_attrs.get("retry_history") or [])}
    trials = []
    for t in frozen:
        if t.state == TrialState.FAIL and t.number in retried:
            continue
        trials.append(_trial(t, metric))
    trials.sort(key=lambda t: t.number)
    known = [f for f in record.get("families") or [] if isinstance(f, str)]
    families = known + sorted({t.family for t in trials if t.family and t.family not in known})
    best = None
    for t in trials:
        if t.state == "complete" and t.value is not None and (best is None or _strictly(t.value, best.value, maximize)):
            best = t
    starts = [t.datetime_start for t in frozen if t.datetime_start is not None]
    ends = [t.datetime_complete for t in frozen if t.datetime_complete is not None]
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.state] = counts.get(t.state, 0) + 1
    return _Facts(
        name=str(getattr(dataset, "name", None) or record.get("dataset") or study.study_name),
        record=record, metric=metric, maximize=maximize, trials=trials, families=families,
        n_rows=_int(getattr(dataset, "n_rows", None) if dataset is not None else record.get("n_rows")),
        n_features=_int(getattr(dataset, "n_features", None) if dataset is not None else record.get("n_features")),
        task=getattr(dataset, "task", None) or record.get("task"), best=best,
        started=min(starts) if starts else None, finished=max(ends) if ends else None,
        retried=len(retried), counts=counts)


def _strictly(a: float, b: float | None, maximize: bool) -> bool:
    return b is None or (a > b if maximize else a < b)


def _trial(t: Any, metric: str) -> _Trial:
    from optuna.trial import TrialState

    attrs = t.user_attrs
    family = attrs.get(attr.FAMILY) or t.params.get("family")
    config: dict[str, Any] = {}
    raw = attrs.get(attr.CONFIG)
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw)
            config = parsed if isinstance(parsed, dict) else {}
        except ValueError:
            config = {}
    elif isinstance(raw, Mapping):
        config = dict(raw)
    if not config and family:
        prefix = f"{family}."
        config = {k[len(prefix):]: v for k, v in t.params.items() if k.startswith(prefix)}
    rungs = {int(k): float(v) for k, v in (t.intermediate_values or {}).items() if _finite(v) is not None}
    if t.state == TrialState.COMPLETE:
        state = "complete"
    elif t.state == TrialState.PRUNED:
        state = "pruned" if rungs else "skipped"
    elif t.state == TrialState.FAIL:
        state = "failed"
    else:
        state = t.state.name.lower()  # running, waiting
    value = _finite(t.value) if state == "complete" and t.values is not None else None
    rows = _int(attrs.get(attr.ROWS))
    first = _finite(attrs.get(attr.metric_attr(metric)))
    if rungs:  # multi-fidelity: the first reported score is the protocol's
        first = rungs[min(rungs)]
    elif first is None and value is not None:
        first = value
    seconds = None
    if t.datetime_start is not None and t.datetime_complete is not None:
        seconds = (t.datetime_complete - t.datetime_start).total_seconds()
    error = attrs.get(attr.ERROR)
    stopped = attrs.get(attr.STOPPED)
    return _Trial(number=int(t.number), state=state, family=str(family) if family else None, config=config,
                  value=value, rows=rows, first=first, rungs=rungs,
                  origin=str(attrs[attr.ORIGIN]) if attrs.get(attr.ORIGIN) else None,
                  predicted=_finite(attrs.get(attr.PREDICTED)),
                  uncertainty=_finite(attrs.get(attr.UNCERTAINTY)),
                  fit_seconds=_finite(attrs.get(attr.FIT_SECONDS)), seconds=seconds,
                  error=str(error) if error else None, stopped=str(stopped) if stopped else None,
                  start=t.datetime_start, end=t.datetime_complete)


def _finite(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _int(value: Any) -> int | None:
    number = _finite(value)
    return int(number) if number is not None else None


def _card_of(model: Any) -> dict[str, Any] | None:
    if model is None:
        return None
    card = model if isinstance(model, Mapping) else getattr(model, "card", None)
    if not isinstance(card, Mapping):
        raise InputError(f"write_report's model must be a fitted model of autometa.refit (with a model card) or "
                         f"its card as a dict, not {type(model).__name__}.")
    return dict(card)


def _family_scores(facts: _Facts) -> dict[str, list[float]]:
    scores: dict[str, list[float]] = {}
    for t in facts.trials:
        if t.state == "complete" and t.value is not None:
            scores.setdefault(t.family or "?", []).append(t.value)
    return scores


def _within_study(facts: _Facts, trial: _Trial) -> float | None:
    """A trial's score on the protocol's rows, normalized over this study's trials (0 worst, 1 best),
    as the knowledge base normalizes a dataset's scores."""
    values = [t.first for t in facts.trials if t.first is not None and t.state in ("complete", "pruned")]
    if trial.first is None or len(values) < 2:
        return None
    lo, hi = min(values), max(values)
    if hi == lo:
        return 1.0
    position = (trial.first - lo) / (hi - lo)
    return position if facts.maximize else 1.0 - position


def _busy_seconds(trials: list[_Trial]) -> float:
    """Wall seconds during which at least one trial ran: the union of the trials' intervals, so that
    parallel workers are not counted twice and the pauses between resumed runs are not counted."""
    spans = sorted((t.start, t.end) for t in trials if t.start is not None and t.end is not None)
    busy, current = 0.0, None
    for start, end in spans:
        if current is None or start > current[1]:
            if current is not None:
                busy += (current[1] - current[0]).total_seconds()
            current = [start, end]
        else:
            current[1] = max(current[1], end)
    if current is not None:
        busy += (current[1] - current[0]).total_seconds()
    return busy


def _protocol_rows(facts: _Facts) -> int | None:
    cap = _int((facts.record.get("protocol") or {}).get("row_cap"))
    if cap is None:
        return facts.n_rows
    return min(cap, facts.n_rows) if facts.n_rows else cap
