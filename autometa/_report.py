"""``autometa.write_report``: one self-contained HTML page about a tuning study.

    >>> study = autometa.tune("data.csv", n_trials=50)
    >>> autometa.write_report(study, "report.html", model=model, dataset=dataset)

The page is a single file that needs no network: its figures are inline SVG drawn by matplotlib, its
style is inline CSS, and it has no script. It shows, from the top: what was tuned (the data's shape,
the task and metric, the trials and how they ended, the best score and on how many rows it was
measured, the time taken); the best score over the trials, each trial a point coloured by its model
family (trials that a multi-fidelity search stopped on fewer rows hollow, the meta-model's
recommendations ringed); the families compared; what the meta-model predicted of its recommendations
against what they scored; the best trials; the fitted model (single or fused: its members, their
trials, cross-validated scores and weights, from the model card); and the notes taken while loading
the data and fitting the model, and the errors of failed trials.

Everything comes from the study's user attributes (what :func:`autometa.tune` records): the study's
``"autometa"`` record (task, metric, families, rows, features, dataset, protocol), and each trial's
``autometa.family``, ``autometa.config``, ``autometa.<metric>``, ``autometa.fit_seconds``,
``autometa.status``, ``autometa.origin``, and, when present, ``autometa.rows`` (the rows its value was
measured on), ``autometa.predicted`` (the meta-model's prediction for a recommendation) and its
intermediate values (scores per row budget). Every text that comes from the data or the study is
HTML-escaped.
"""

from __future__ import annotations

import datetime as _dt
import html
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autometa.errors import InputError
from autometa.io import atomic_write, check_writable

#: The study user attribute that :func:`autometa.tune` records what was tuned in.
STUDY_ATTR = "autometa"
#: Trials listed in the "best trials" table.
N_TOP = 10
#: Colours of the families (matplotlib's tab10, then tab20's light ones), in the order families appear.
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
            "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94")
_METRIC_NAMES = {"balanced_accuracy": "balanced accuracy", "roc_auc": "ROC AUC", "log_loss": "log loss",
                 "r2": "R²", "rmse": "RMSE"}


def write_report(study: Any, path: str | Path, *, model: Any = None, dataset: Any = None) -> Path:
    """Write a self-contained HTML report of a study of :func:`autometa.tune` to ``path``.

    Args:
        study: an ``optuna.Study`` made by :func:`autometa.tune` (``optuna.load_study(...)`` for one in a
            storage). A study with no finished trial, or none at all, still gets a page that says so.
        path: the HTML file to write (replaced atomically if it exists).
        model: the fitted model (:class:`autometa.models.FittedModel`, e.g. from :func:`autometa.refit`),
            or its model card as a dict; its kind, members, weights and notes get a section. None: the
            page says that no fitted model was given.
        dataset: the :class:`autometa.data.Dataset` the study tuned on, for the notes taken while
            loading it (which target, which columns dropped and why). None: the page uses the study's
            record of the data (name, rows, features) and says that the notes were not given.

    Returns:
        The path written.

    Raises:
        InputError: ``path`` cannot be written (see :func:`autometa.io.check_writable`), ``study`` is
            not a single-objective Optuna study, or matplotlib (a dependency of autometa) is missing.
    """
    path = check_writable(path, "report")
    page = render_report(study, model=model, dataset=dataset)
    try:
        atomic_write(path, page)
    except OSError as exc:
        raise InputError(f"Cannot write the report '{path}': {exc.strerror or exc}.") from None
    return path


def render_report(study: Any, *, model: Any = None, dataset: Any = None) -> str:
    """The report's HTML, as :func:`write_report` writes it."""
    facts = _facts(study, dataset)
    card = _card_of(model)
    colours = _family_colours(facts)
    svg = _Svg()  # numbers the page's figures, so that their ids are unique and the page is reproducible
    parts = [_head(facts), _header(facts, dataset), _progress_section(facts, colours, svg),
             _families_section(facts, colours, svg), _advice_section(facts, colours, svg), _top_section(facts),
             _model_section(card, facts, colours, svg), _notes_section(facts, dataset, card), _footer(facts)]
    return "".join(parts) + "</main>\n</body>\n</html>\n"


# ============================================================================ what the study holds
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
    record = study.user_attrs.get(STUDY_ATTR)
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
    family = attrs.get("autometa.family") or t.params.get("family")
    config: dict[str, Any] = {}
    raw = attrs.get("autometa.config")
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
    rows = _int(attrs.get("autometa.rows"))
    first = _finite(attrs.get(f"autometa.{metric}"))
    if rungs:  # multi-fidelity: the first reported score is the protocol's
        first = rungs[min(rungs)]
    elif first is None and value is not None:
        first = value
    seconds = None
    if t.datetime_start is not None and t.datetime_complete is not None:
        seconds = (t.datetime_complete - t.datetime_start).total_seconds()
    error = attrs.get("autometa.error")
    stopped = attrs.get("autometa.stopped")
    return _Trial(number=int(t.number), state=state, family=str(family) if family else None, config=config,
                  value=value, rows=rows, first=first, rungs=rungs,
                  origin=str(attrs["autometa.origin"]) if attrs.get("autometa.origin") else None,
                  predicted=_finite(attrs.get("autometa.predicted")),
                  uncertainty=_finite(attrs.get("autometa.uncertainty")),
                  fit_seconds=_finite(attrs.get("autometa.fit_seconds")), seconds=seconds,
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


def _family_colours(facts: _Facts) -> dict[str, str]:
    return {f: _PALETTE[i % len(_PALETTE)] for i, f in enumerate(facts.families)}


# ============================================================================ text helpers
def _e(value: Any) -> str:
    """HTML-escaped text of any value (quotes too: safe in attributes)."""
    return html.escape(str(value), quote=True)


def _score(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.4f}" if abs(value) < 1000 else f"{value:,.1f}"


def _rows(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _metric_name(metric: str) -> str:
    return _METRIC_NAMES.get(metric, metric.replace("_", " "))


def _config_text(config: Mapping[str, Any], most: int = 160) -> str:
    text = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in config.items()) or "defaults"
    return text if len(text) <= most else text[: most - 1] + "…"


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


# ============================================================================ figures (inline SVG)
def _matplotlib() -> Any:
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ModuleNotFoundError as exc:  # a core dependency: only a broken install lacks it
        raise InputError(f"The HTML report draws its figures with matplotlib, which is not installed ({exc.name}); "
                         "install it with: pip install matplotlib (a dependency of autometa).") from None
    return matplotlib, Figure


class _Svg:
    """Figures to inline SVG: no XML prolog, no metadata, ids unique on the page, tooltips on points."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, fig: Any, tooltips: Mapping[str, Sequence[str]] = (), label: str = "") -> str:
        matplotlib, _ = _matplotlib()
        self.count += 1
        prefix = f"f{self.count}-"
        buffer = io.StringIO()
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"autometa-report-{self.count}"}):
            fig.savefig(buffer, format="svg", bbox_inches="tight",
                        metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
        svg = buffer.getvalue()
        svg = svg[svg.index("<svg"):]
        svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
        for gid, texts in dict(tooltips).items():
            svg = _add_titles(svg, gid, texts)
        # Several SVGs share one page: every id and every reference to one gets the figure's prefix.
        svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', svg)
        svg = re.sub(r'url\(#([^)]+)\)', lambda m: f"url(#{prefix}{m.group(1)})", svg)
        svg = re.sub(r'xlink:href="#([^"]+)"', lambda m: f'xlink:href="#{prefix}{m.group(1)}"', svg)
        svg = svg.replace("<svg ", f'<svg role="img" aria-label="{_e(label)}" class="figure" ', 1)
        return svg.strip()


def _add_titles(svg: str, gid: str, texts: Sequence[str]) -> str:
    """Give the points of the scatter with gid ``gid`` a ``<title>`` each (the browser's tooltip)."""
    start = svg.find(f'<g id="{gid}">')
    if start < 0 or not texts:
        return svg
    out, pos = [svg[:start]], start
    for text in texts:
        use = svg.find("<use ", pos)
        end = svg.find("/>", use) if use >= 0 else -1
        if use < 0 or end < 0:
            break
        out.append(svg[pos:end] + f"><title>{_e(text)}</title></use>")
        pos = end + 2
    out.append(svg[pos:])
    return "".join(out)


def _style_axes(ax: Any) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(True, axis="y", color="#e5e7eb", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(colors="#374151", labelsize=9)


def _label(text: str) -> str:
    """Text for matplotlib that is never read as mathtext."""
    return text.replace("$", r"\$")


def _limits(values: Sequence[float], maximize: bool) -> tuple[float, float] | None:
    """Score-axis limits that keep the good end readable: a few very bad trials (a score of 0.33
    among 0.95s) fall off the bad end and are drawn at its edge instead of squashing the rest."""
    import numpy as np

    v = np.asarray([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return None
    lo, hi = float(v.min()), float(v.max())
    if v.size >= 5:
        q25, q75 = (float(q) for q in np.quantile(v, [0.25, 0.75]))
        spread = max(q75 - q25, 0.05 * (hi - lo))
        if maximize:
            lo = max(lo, q25 - 3.0 * spread)
        else:
            hi = min(hi, q75 + 3.0 * spread)
    pad = (hi - lo) * 0.08 or max(abs(hi) * 0.05, 0.01)
    return lo - pad, hi + pad


def _progress_figure(facts: _Facts, colours: Mapping[str, str], svg: _Svg) -> str | None:
    import numpy as np
    from matplotlib.lines import Line2D

    _, Figure = _matplotlib()
    measured = [t for t in facts.trials if t.shown is not None]
    failed = [t for t in facts.trials if t.state == "failed"]
    if not measured and not failed:
        return None
    fig = Figure(figsize=(9.5, 4.2), layout="constrained")
    ax = fig.add_subplot()
    _style_axes(ax)
    lo, hi = _limits([t.shown for t in measured], facts.maximize) or (0.0, 1.0)

    def clip(value: float) -> float:
        return min(max(value, lo), hi)

    tooltips: dict[str, list[str]] = {}
    handles: list[Any] = []
    present = [f for f in facts.families if any(t.family == f for t in measured)]
    if any(t.family is None for t in measured):
        present.append("?")
    for fam in present:
        colour = colours.get(fam, "#6b7280")
        handles.append(Line2D([], [], linestyle="none", marker="o", markersize=6, color=colour, label=_label(fam)))
        for state, hollow in (("complete", False), ("pruned", True)):
            group = [t for t in measured if (t.family or "?") == fam and t.state == state]
            for off, marker in ((False, "o"), (True, "v" if facts.maximize else "^")):
                # Scores beyond the axis' bad end sit at its edge, as triangles pointing off the chart.
                points = [t for t in group if (t.shown < lo or t.shown > hi) == off]
                if not points:
                    continue
                gid = f"pts-{fam}-{state}-{'off' if off else 'in'}"
                drawn = ax.scatter([t.number for t in points], [clip(t.shown) for t in points], marker=marker,
                                   s=30 if hollow else 38, zorder=3, facecolors="none" if hollow else colour,
                                   edgecolors=colour, linewidths=1.4 if hollow else 0.6, clip_on=False)
                drawn.set_gid(gid)
                tooltips[gid] = [_tip(t) for t in points]
    # The running best, over the finished trials in trial order.
    done = [t for t in facts.trials if t.state == "complete" and t.value is not None]
    if done:
        values = np.asarray([t.value for t in done], dtype=float)
        running = np.maximum.accumulate(values) if facts.maximize else np.minimum.accumulate(values)
        last = max(t.number for t in facts.trials)
        line = ax.step([t.number for t in done] + [last], [clip(float(v)) for v in running] + [clip(float(running[-1]))],
                       where="post", color="#111827", linewidth=1.8, zorder=2, label="best so far")
        handles.append(line[0])
    # The meta-model's recommendations: ringed, with their rank.
    recommended = [t for t in measured if t.rank is not None]
    if recommended:
        ax.scatter([t.number for t in recommended], [clip(t.shown) for t in recommended], s=130, zorder=2,
                   facecolors="none", edgecolors="#111827", linewidths=1.0, clip_on=False)
        for t in recommended:
            ax.annotate(f"R{t.rank}", (t.number, clip(t.shown)), xytext=(0, 9), textcoords="offset points",
                        ha="center", fontsize=8, color="#111827")
        handles.append(Line2D([], [], linestyle="none", marker="o", markersize=11, markerfacecolor="none",
                              color="#111827", label="recommended by the meta-model"))
    if any(t.state == "pruned" for t in measured):
        handles.append(Line2D([], [], linestyle="none", marker="o", markersize=5.5, markerfacecolor="none",
                              markeredgewidth=1.4, color="#6b7280", label="stopped on fewer rows"))
    n_off = sum(1 for t in measured if t.shown < lo or t.shown > hi)
    if n_off:
        handles.append(Line2D([], [], linestyle="none", marker="v" if facts.maximize else "^", markersize=6,
                              color="#6b7280", label=f"off the chart ({n_off})"))
    if failed:
        ax.scatter([t.number for t in failed], [0.03] * len(failed), marker="x", s=28, color="#dc2626",
                   transform=ax.get_xaxis_transform(), zorder=4, clip_on=False)
        handles.append(Line2D([], [], linestyle="none", marker="x", markersize=6, color="#dc2626",
                              label=f"failed ({len(failed)})"))
    ax.set_ylim(lo, hi)
    ax.set_xlabel("trial", fontsize=10)
    ax.set_ylabel(_label(_metric_name(facts.metric)) + (" (higher is better)" if facts.maximize else " (lower is better)"),
                  fontsize=10)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=9)
    return svg(fig, tooltips, "best score over trials")


def _tip(t: _Trial) -> str:
    rows = t.shown_rows
    where = f" on {_rows(rows)} rows" if rows else ""
    what = " (stopped there)" if t.state == "pruned" else ""
    origin = f" · {t.origin}" if t.origin else ""
    return f"trial {t.number} · {t.family or '?'} · {_score(t.shown)}{where}{what}{origin} · {_config_text(t.config, 120)}"


def _families_figure(facts: _Facts, colours: Mapping[str, str], svg: _Svg) -> str | None:
    import numpy as np

    _, Figure = _matplotlib()
    scores = _family_scores(facts)
    stopped: dict[str, list[float]] = {}
    for t in facts.trials:
        if t.state == "pruned" and t.shown is not None:
            stopped.setdefault(t.family or "?", []).append(t.shown)
    if not scores and not stopped:
        return None

    def rank(fam: str) -> tuple[int, float]:
        values = scores.get(fam)
        if not values:
            return (1, 0.0)
        return (0, -max(values) if facts.maximize else min(values))

    order = sorted(set(scores) | set(stopped), key=lambda f: (rank(f), f))
    order.reverse()  # matplotlib draws the first row at the bottom: the best family on top
    fig = Figure(figsize=(9.5, 0.9 + 0.55 * len(order)), layout="constrained")
    ax = fig.add_subplot()
    _style_axes(ax)
    ax.grid(True, axis="x", color="#e5e7eb", linewidth=0.8)
    ax.grid(False, axis="y")
    lo, hi = _limits([v for f in order for v in scores.get(f, []) + stopped.get(f, [])], facts.maximize) or (0.0, 1.0)
    rng = np.random.default_rng(0)
    tooltips: dict[str, list[str]] = {}
    for i, fam in enumerate(order):
        colour = colours.get(fam, "#6b7280")
        values = np.asarray(scores.get(fam, []), dtype=float)
        if values.size >= 3:
            box = ax.boxplot(np.clip(values, lo, hi), positions=[i], widths=0.5, showfliers=False,
                             patch_artist=True, manage_ticks=False, **_horizontal())
            for patch in box["boxes"]:
                patch.set(facecolor=colour, alpha=0.18, edgecolor=colour)
            for part in ("whiskers", "caps", "medians"):
                for line in box[part]:
                    line.set(color=colour, linewidth=1.1)
        lower = np.asarray(stopped.get(fam, []), dtype=float)
        if lower.size:
            drawn = ax.scatter(np.clip(lower, lo, hi), i + rng.uniform(-0.16, 0.16, lower.size), s=18,
                               facecolors="none", edgecolors=colour, linewidths=1.1, alpha=0.8, zorder=3)
            drawn.set_gid(f"fam-{fam}-stopped")
            tooltips[f"fam-{fam}-stopped"] = [f"{fam}: {_score(v)} (stopped on fewer rows)" for v in lower]
        if values.size:
            jitter = rng.uniform(-0.16, 0.16, values.size)
            for off, marker in ((False, "o"), (True, "<" if facts.maximize else ">")):
                # Scores beyond the axis' bad end sit at its edge, as triangles pointing off the chart.
                pick = ((values < lo) | (values > hi)) == off
                if not pick.any():
                    continue
                gid = f"fam-{fam}-{'off' if off else 'in'}"
                drawn = ax.scatter(np.clip(values[pick], lo, hi), i + jitter[pick], marker=marker, s=16 if not off else 26,
                                   color=colour, alpha=0.75, zorder=3, clip_on=False)
                drawn.set_gid(gid)
                tooltips[gid] = [f"{fam}: {_score(v)}" for v in values[pick]]
            best = float(values.max() if facts.maximize else values.min())
            at = min(max(best, lo), hi)
            ax.scatter([at], [i], marker="D", s=60, color=colour, edgecolors="#111827", linewidths=1.0, zorder=4)
            ax.annotate(_score(best), (at, i), xytext=(7, 5), textcoords="offset points", fontsize=8,
                        color="#111827")
    ax.set_yticks(range(len(order)), [_label(f) for f in order])
    ax.set_ylim(-0.6, len(order) - 0.4)
    ax.set_xlim(lo, hi)
    label = _label(_metric_name(facts.metric)) + " (◆ best finished trial"
    label += ", ○ stopped on fewer rows)" if stopped else ")"
    ax.set_xlabel(label, fontsize=10)
    return svg(fig, tooltips, "families compared")


def _horizontal() -> dict[str, Any]:
    """boxplot's keyword for horizontal boxes: ``orientation`` since matplotlib 3.10, ``vert`` before."""
    import inspect

    from matplotlib.axes import Axes

    if "orientation" in inspect.signature(Axes.boxplot).parameters:
        return {"orientation": "horizontal"}
    return {"vert": False}


def _family_scores(facts: _Facts) -> dict[str, list[float]]:
    scores: dict[str, list[float]] = {}
    for t in facts.trials:
        if t.state == "complete" and t.value is not None:
            scores.setdefault(t.family or "?", []).append(t.value)
    return scores


def _advice_figure(facts: _Facts, recs: list[_Trial], svg: _Svg) -> str | None:
    """Predicted (normalized) vs measured (normalized within the study) score of each recommendation."""
    _, Figure = _matplotlib()
    predicted = [t for t in recs if t.predicted is not None]
    if not predicted:
        return None
    fig = Figure(figsize=(6.5, 1.1 + 0.42 * len(recs)), layout="constrained")
    ax = fig.add_subplot()
    _style_axes(ax)
    ax.grid(True, axis="x", color="#e5e7eb", linewidth=0.8)
    ax.grid(False, axis="y")
    positions = {t.number: len(recs) - 1 - i for i, t in enumerate(recs)}
    for t in recs:
        y = positions[t.number]
        measured = _within_study(facts, t)
        if t.predicted is not None and measured is not None:
            ax.plot([t.predicted, measured], [y, y], color="#9ca3af", linewidth=1.5, zorder=1)
        if t.predicted is not None:
            if t.uncertainty is not None:
                ax.errorbar([t.predicted], [y], xerr=[t.uncertainty], fmt="none", ecolor="#6b7280", capsize=3,
                            linewidth=1, zorder=2)
            ax.scatter([t.predicted], [y], marker="D", s=48, facecolors="white", edgecolors="#111827", zorder=3)
        if measured is not None:
            ax.scatter([measured], [y], s=48, color="#2563eb", zorder=3)
    ax.scatter([], [], marker="D", s=48, facecolors="white", edgecolors="#111827", label="predicted by the meta-model")
    ax.scatter([], [], s=48, color="#2563eb", label="measured (1 = best trial of this study)")
    ax.set_yticks([positions[t.number] for t in recs], [_label(f"R{t.rank} {t.family or '?'}") for t in recs])
    ax.set_xlim(-0.05, 1.08)
    ax.set_ylim(-0.6, len(recs) - 0.4)
    ax.set_xlabel("normalized score (0 = worst, 1 = best)", fontsize=10)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False, fontsize=9)
    return svg(fig, {}, "the meta-model's predictions and what its recommendations scored")


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


def _weights_figure(members: list[dict[str, Any]], weights: list[float], colours: Mapping[str, str],
                    svg: _Svg) -> str | None:
    _, Figure = _matplotlib()
    if len(members) < 2 or len(weights) != len(members):
        return None
    fig = Figure(figsize=(6.5, 0.5 + 0.38 * len(members)), layout="constrained")
    ax = fig.add_subplot()
    _style_axes(ax)
    ax.grid(True, axis="x", color="#e5e7eb", linewidth=0.8)
    ax.grid(False, axis="y")
    ys = list(range(len(members)))[::-1]
    labels = [_label(f"{m.get('family', '?')} (trial {m.get('trial', '?')})") for m in members]
    ax.barh(ys, weights, color=[colours.get(str(m.get("family")), "#6b7280") for m in members], height=0.6)
    for y, w in zip(ys, weights, strict=True):
        ax.annotate(f"{w:.0%}", (w, y), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set_yticks(ys, labels)
    ax.set_xlim(0, max(weights) * 1.18 or 1)
    ax.set_xlabel("weight in the ensemble", fontsize=10)
    return svg(fig, {}, "ensemble weights")


# ============================================================================ page sections
_CSS = """
:root { --ink: #111827; --muted: #6b7280; --line: #e5e7eb; --bg: #f9fafb; --accent: #2563eb; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--ink); background: var(--bg); }
main { max-width: 1100px; margin: 0 auto; padding: 24px 20px 48px; }
header h1 { font-size: 26px; margin: 0 0 4px; }
header p.sub { color: var(--muted); margin: 0 0 18px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: 12px; }
.tile { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; }
.tile .k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.tile .v { font-size: 22px; font-weight: 650; margin-top: 2px; }
.tile .d { color: var(--muted); font-size: 13px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 16px 20px;
          margin-top: 18px; }
section h2 { font-size: 18px; margin: 0 0 6px; }
p.cap { color: var(--muted); font-size: 13px; margin: 4px 0 10px; }
svg.figure { display: block; max-width: 100%; height: auto; }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; margin-top: 8px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
code { font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; overflow-wrap: anywhere; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 6px; }
.empty { color: var(--muted); font-style: italic; }
ul.notes li { margin: 3px 0; }
details summary { cursor: pointer; color: var(--accent); margin-top: 8px; }
.pill { display: inline-block; padding: 1px 8px; border-radius: 999px; background: #eef2ff; color: #3730a3;
        font-size: 12.5px; font-weight: 600; }
footer { color: var(--muted); font-size: 12.5px; margin-top: 22px; }
"""


def _head(facts: _Facts) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>autometa report: {_e(facts.name)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n")


def _header(facts: _Facts, dataset: Any) -> str:
    counts = facts.counts
    n_done, n_pruned, n_failed = counts.get("complete", 0), counts.get("pruned", 0), counts.get("failed", 0)
    direction = "higher is better" if facts.maximize else "lower is better"
    shape = f"{_rows(facts.n_rows)} rows × {_rows(facts.n_features)} features"
    tiles = [("data", _e(facts.name), _e(shape))]
    task = facts.task or "?"
    classes = getattr(dataset, "n_classes", None) if dataset is not None else None
    tiles.append(("task", _e(task), _e(f"{_metric_name(facts.metric)} ({direction})"
                                        + (f", {classes} classes" if classes else ""))))
    others = []
    if counts.get("skipped"):
        others.append(f"{counts['skipped']} skipped as twins")
    if facts.retried:
        others.append(f"{facts.retried} lost with a killed worker (retried)")
    for state in ("running", "waiting"):
        if counts.get(state):
            others.append(f"{counts[state]} {state}")
    tiles.append(("trials", f"{n_done + n_pruned + n_failed + sum(counts.get(s, 0) for s in ('skipped', 'running', 'waiting')):,}",
                  _e(f"{n_done} complete · {n_pruned} stopped on fewer rows (pruned) · {n_failed} failed"
                     + "".join(f" · {o}" for o in others))))
    if facts.best is not None:
        best = facts.best
        rows = best.rows or _protocol_rows(facts)
        of = f" of {_rows(facts.n_rows)}" if rows and facts.n_rows and rows < facts.n_rows else ""
        folds = (facts.record.get("protocol") or {}).get("k")
        how = f"{folds}-fold CV on {_rows(rows)}{of} rows" if folds else f"on {_rows(rows)}{of} rows"
        tiles.append((f"best {_metric_name(facts.metric)}", _score(best.value),
                      _e(f"{how} · trial {best.number}, {best.family or '?'}")))
    else:
        tiles.append((f"best {_metric_name(facts.metric)}", "–", "no trial finished"))
    if facts.started and facts.finished:
        busy = _busy_seconds(facts.trials)
        total = sum(t.seconds or 0.0 for t in facts.trials)
        workers = f" ({total / busy:.1f} trials at a time)" if busy > 0 and total > 1.2 * busy else ""
        tiles.append(("time taken", _duration(busy), _e(f"with trials running{workers}, from "
                                                        f"{facts.started:%Y-%m-%d %H:%M}")))
    else:
        tiles.append(("time taken", "–", "no trial ran"))
    body = "".join(f'<div class="tile"><div class="k">{_e(k)}</div><div class="v">{v}</div><div class="d">{d}</div></div>'
                   for k, v, d in tiles)
    searched = ", ".join(facts.families) or "?"
    return (f"<header>\n<h1>Tuning report: {_e(facts.name)}</h1>\n"
            f"<p class=\"sub\">{_e(f'autometa tune · {task} · families searched: {searched}')}</p>\n"
            f"<div class=\"tiles\">{body}</div>\n</header>\n")


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


def _progress_section(facts: _Facts, colours: Mapping[str, str], svg: _Svg) -> str:
    figure = _progress_figure(facts, colours, svg)
    if figure is None:
        return _section("progress", "Best score over trials", '<p class="empty">No trial was scored.</p>')
    rung_note = ""
    if any(t.state == "pruned" for t in facts.trials):
        rung_note = (" Hollow points are trials the multi-fidelity search stopped on fewer rows: their score "
                     "there (on fewer rows, so not comparable with the filled ones).")
    caption = ("Each point is a trial, coloured by model family, at its score on the rows the search measured it "
               "on; the line is the best score so far." + rung_note
               + (" Ringed points (R1, R2, …) are the meta-model's recommendations, tried first."
                  if any(t.rank is not None for t in facts.trials) else "")
               + " Hover a point for its config.")
    return _section("progress", "Best score over trials", f'<p class="cap">{_e(caption)}</p>{figure}')


def _families_section(facts: _Facts, colours: Mapping[str, str], svg: _Svg) -> str:
    figure = _families_figure(facts, colours, svg)
    rows = []
    scores = _family_scores(facts)
    for fam in facts.families + (["?"] if any(t.family is None and t.state != "skipped" for t in facts.trials) else []):
        mine = [t for t in facts.trials if (t.family or "?") == fam]
        if not mine:
            continue
        values = scores.get(fam, [])
        done = [t for t in mine if t.state == "complete" and t.value is not None]
        best = None
        for t in done:
            if best is None or _strictly(t.value, best.value, facts.maximize):
                best = t
        median = sorted(values)[len(values) // 2] if values else None
        if values and len(values) % 2 == 0:
            median = (sorted(values)[len(values) // 2 - 1] + sorted(values)[len(values) // 2]) / 2
        colour = colours.get(fam, "#6b7280")
        rows.append((best.value if best else None, fam,
                     f'<tr><td><span class="swatch" style="background:{colour}"></span>{_e(fam)}</td>'
                     f'<td class="n">{len(done)}</td><td class="n">{sum(t.state == "pruned" for t in mine)}</td>'
                     f'<td class="n">{sum(t.state == "failed" for t in mine)}</td>'
                     f'<td class="n">{_score(best.value if best else None)}</td><td class="n">{_score(median)}</td>'
                     f'<td class="n">{best.number if best else "–"}</td>'
                     f'<td><code>{_e(_config_text(best.config)) if best else ""}</code></td></tr>'))
    if not rows:
        return _section("families", "Families compared", '<p class="empty">No family was tried.</p>')
    sign = -1.0 if facts.maximize else 1.0
    rows.sort(key=lambda r: (r[0] is None, sign * (r[0] or 0.0), r[1]))
    table = ("<table><thead><tr><th>family</th><th class=\"n\">finished</th><th class=\"n\">stopped</th>"
             "<th class=\"n\">failed</th><th class=\"n\">best</th><th class=\"n\">median</th>"
             "<th class=\"n\">best trial</th><th>best config</th></tr></thead><tbody>"
             + "".join(r[2] for r in rows) + "</tbody></table>")
    caption = ("The finished trials' scores per family: each dot a trial, the box their middle half, ◆ the best"
               + ("; hollow dots are trials stopped on fewer rows, at their score there." if any(
                   t.state == "pruned" for t in facts.trials) else ".")
               if figure else "No trial finished, so there are no scores to compare.")
    return _section("families", "Families compared", f'<p class="cap">{_e(caption)}</p>{figure or ""}{table}')


def _advice_section(facts: _Facts, colours: Mapping[str, str], svg: _Svg) -> str:
    # A twin (a recommendation queued twice by racing workers, skipped) is not a recommendation of its own.
    recs = sorted([t for t in facts.trials if t.rank is not None and t.state != "skipped"],
                  key=lambda t: (t.rank, t.number))
    if not recs:
        return ""
    figure = _advice_figure(facts, recs, svg)
    measured = sorted((t for t in facts.trials if t.first is not None and t.state in ("complete", "pruned")),
                      key=lambda t: -t.first if facts.maximize else t.first)
    place = {t.number: i + 1 for i, t in enumerate(measured)}
    body = []
    for t in recs:
        colour = colours.get(t.family or "?", "#6b7280")
        pred = "–" if t.predicted is None else (_score(t.predicted) + (f" ± {t.uncertainty:.3f}" if t.uncertainty else ""))
        where = f"{place[t.number]} of {len(measured)}" if t.number in place else t.state
        body.append(f'<tr><td>R{t.rank}</td><td class="n">{t.number}</td>'
                    f'<td><span class="swatch" style="background:{colour}"></span>{_e(t.family or "?")}</td>'
                    f'<td class="n">{_e(pred)}</td><td class="n">{_score(t.first)}</td><td class="n">{_e(where)}</td>'
                    f'<td><code>{_e(_config_text(t.config))}</code></td></tr>')
    table = ("<table><thead><tr><th>rank</th><th class=\"n\">trial</th><th>family</th>"
             "<th class=\"n\">predicted</th><th class=\"n\">scored (protocol rows)</th>"
             "<th class=\"n\">place among trials</th><th>config</th></tr></thead><tbody>" + "".join(body)
             + "</tbody></table>")
    caption = ("The meta-model's recommendations, tried first. Its predictions are normalized scores (1 = as good "
               "as the best config known on similar datasets, 0 = the worst); beside them, each recommendation's "
               "score on the protocol's rows normalized the same way over this study's trials."
               if figure else
               "The meta-model's recommendations, tried first, and where their scores on the protocol's rows "
               "placed them among all trials (its predicted scores were not recorded with this study).")
    return _section("advice", "The meta-model's advice", f'<p class="cap">{_e(caption)}</p>{figure or ""}{table}')


def _top_section(facts: _Facts) -> str:
    done = [t for t in facts.trials if t.state == "complete" and t.value is not None]
    if not done:
        return ""
    done.sort(key=lambda t: (-t.value if facts.maximize else t.value, t.number))
    body = []
    for i, t in enumerate(done[:N_TOP], 1):
        body.append(f'<tr><td class="n">{i}</td><td class="n">{t.number}</td><td>{_e(t.family or "?")}</td>'
                    f'<td class="n">{_score(t.value)}</td><td class="n">{_rows(t.rows or _protocol_rows(facts))}</td>'
                    f'<td class="n">{_duration(t.seconds)}</td><td>{_e(t.origin or "sampler")}</td>'
                    f'<td><code>{_e(_config_text(t.config))}</code></td></tr>')
    table = ("<table><thead><tr><th class=\"n\">#</th><th class=\"n\">trial</th><th>family</th>"
             f"<th class=\"n\">{_e(_metric_name(facts.metric))}</th><th class=\"n\">rows</th>"
             "<th class=\"n\">time</th><th>origin</th><th>config</th></tr></thead><tbody>" + "".join(body)
             + "</tbody></table>")
    title = "The best trial" if len(done) == 1 else f"The best {min(N_TOP, len(done))} trials"
    return _section("top", title, table)


def _model_section(card: dict[str, Any] | None, facts: _Facts, colours: Mapping[str, str], svg: _Svg) -> str:
    if card is None:
        return _section("model", "The fitted model",
                        '<p class="empty">No fitted model was given to the report (autometa.write_report(..., '
                        'model=autometa.refit(study, data)) adds it).</p>')
    kind = str(card.get("kind") or "?")
    members = [m for m in card.get("members") or [] if isinstance(m, Mapping)]
    weights = [w for w in (_finite(w) for w in card.get("weights") or []) if w is not None]
    if len(weights) != len(members):
        weights = [1.0 / len(members)] * len(members) if members else []
    words = {"single": "the best single model", "selection": "ensemble selection (Caruana et al. 2004)",
             "stacking": "stacking", "mdt": "a meta-decision tree (Todorovski & Džeroski 2003)"}
    cv = card.get("cv") if isinstance(card.get("cv"), Mapping) else {}
    trained = card.get("trained_on") if isinstance(card.get("trained_on"), Mapping) else {}
    facts_list = [f'<span class="pill">{_e(kind)}</span> {_e(words.get(kind, kind))}']
    if cv.get("rows"):
        facts_list.append(_e(f"members scored by {cv.get('folds', '?')}-fold CV on {_rows(_int(cv.get('rows')))} rows"))
    if trained.get("rows"):
        facts_list.append(_e(f"fitted on {_rows(_int(trained.get('rows')))} rows"))
    classes = card.get("classes")
    if isinstance(classes, list) and classes:
        shown = ", ".join(map(str, classes[:12])) + (f", … {len(classes) - 12} more" if len(classes) > 12 else "")
        facts_list.append(_e(f"classes: {shown}"))
    body = []
    for m, w in zip(members, weights, strict=True):
        fam = str(m.get("family") or "?")
        config = m.get("config") if isinstance(m.get("config"), Mapping) else {}
        body.append(f'<tr><td><span class="swatch" style="background:{colours.get(fam, "#6b7280")}"></span>{_e(fam)}</td>'
                    f'<td class="n">{_e(m.get("trial") if m.get("trial") is not None else "–")}</td>'
                    f'<td class="n">{_score(_finite(m.get("cv_score")))}</td><td class="n">{w:.1%}</td>'
                    f'<td><code>{_e(_config_text(config))}</code></td></tr>')
    table = ("<table><thead><tr><th>member</th><th class=\"n\">trial</th><th class=\"n\">CV score</th>"
             "<th class=\"n\">weight</th><th>config</th></tr></thead><tbody>" + "".join(body) + "</tbody></table>"
             if body else '<p class="empty">The model card lists no members.</p>')
    figure = _weights_figure(members, weights, colours, svg) or ""
    columns = card.get("columns") if isinstance(card.get("columns"), Mapping) else {}
    column_list = ""
    if columns:
        items = "".join(f"<li><code>{_e(name)}</code> · {_e((spec or {}).get('kind', '?') if isinstance(spec, Mapping) else '?')}"
                        + (f" ({len(spec['categories'])} levels)" if isinstance(spec, Mapping)
                           and isinstance(spec.get("categories"), list) else "") + "</li>"
                        for name, spec in columns.items())
        column_list = (f"<details><summary>{_e(_plural(len(columns), 'training column'))} (what new data to "
                       f"predict must have)</summary><ul>{items}</ul></details>")
    return _section("model", "The fitted model",
                    f'<p>{" · ".join(facts_list)}</p>{figure}{table}{column_list}')


def _notes_section(facts: _Facts, dataset: Any, card: dict[str, Any] | None) -> str:
    parts = []
    if dataset is not None:
        notes = [str(n) for n in getattr(dataset, "notes", ()) or ()]
        parts.append("<h3>Loading the data</h3>" + (
            "<ul class=\"notes\">" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>" if notes
            else '<p class="empty">Nothing to say: every column was used as it was.</p>'))
    else:
        parts.append("<h3>Loading the data</h3><p class=\"empty\">The data's notes were not given to the report "
                     "(autometa.write_report(..., dataset=autometa.load_dataset(...)) adds them).</p>")
    if card is not None:
        notes = [str(n) for n in card.get("notes") or []]
        parts.append("<h3>Fitting the model</h3>" + (
            "<ul class=\"notes\">" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>" if notes
            else '<p class="empty">Nothing to say.</p>'))
    failed = [t for t in facts.trials if t.state == "failed"]
    if failed:
        grouped: dict[tuple[str, str], list[int]] = {}
        for t in failed:
            first = (t.error or "no error recorded").strip().splitlines()[0][:300] if (t.error or "").strip() else "no error recorded"
            grouped.setdefault((t.family or "?", first), []).append(t.number)
        items = "".join(f"<li><b>{_e(fam)}</b>, {_e(_plural(len(ns), 'trial'))} ({_e(_numbers(ns))}): "
                        f"<code>{_e(message)}</code></li>" for (fam, message), ns in grouped.items())
        parts.append(f"<h3>Failed trials</h3><ul class=\"notes\">{items}</ul>")
    stopped = [t for t in facts.trials if t.state == "pruned" and t.stopped]
    if stopped:
        grouped_stops: dict[str, list[int]] = {}
        for t in stopped:
            grouped_stops.setdefault(t.stopped or "", []).append(t.number)
        items = "".join(f"<li>{_e(reason)}: {_e(_plural(len(ns), 'trial'))} ({_e(_numbers(ns))})</li>"
                        for reason, ns in grouped_stops.items())
        parts.append(f"<h3>Trials stopped early for other reasons than their score</h3><ul class=\"notes\">{items}</ul>")
    return _section("notes", "Notes", "".join(parts))


def _numbers(numbers: list[int], most: int = 12) -> str:
    shown = ", ".join(map(str, numbers[:most]))
    return shown + (f", … {len(numbers) - most} more" if len(numbers) > most else "")


def _footer(facts: _Facts) -> str:
    from autometa import __version__

    protocol = facts.record.get("protocol") or {}
    bits = []
    if protocol:
        bits.append(f"protocol: {protocol.get('k', '?')}-fold CV, seed {protocol.get('seed', '?')}, "
                    f"first {_rows(_int(protocol.get('row_cap')))} rows, {protocol.get('time_limit', '?')} s per fit")
    if facts.record.get("fingerprint"):
        bits.append(f"data fingerprint {facts.record['fingerprint']}")
    bits.append(f"autometa {__version__}")
    bits.append(f"written {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC")
    return f"<footer>{_e(' · '.join(bits))}</footer>\n"


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}">\n<h2>{_e(title)}</h2>\n{body}\n</section>\n'
