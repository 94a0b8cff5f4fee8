"""The report's figures, drawn by matplotlib as inline SVG: the best score over trials, the families
compared, the meta-model's predictions against what its recommendations scored, the ensemble's weights."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

from autometa.errors import InputError
from autometa.report._facts import _Facts, _family_scores, _Trial, _within_study
from autometa.report._text import _config_text, _e, _metric_name, _rows, _score

#: Colours of the families (matplotlib's tab10, then tab20's light ones), in the order families appear.
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
            "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94")


def _family_colours(facts: _Facts) -> dict[str, str]:
    return {f: _PALETTE[i % len(_PALETTE)] for i, f in enumerate(facts.families)}


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


def _rows_figure(height: float) -> tuple[Any, Any]:
    """A figure whose rows are items (recommendations, members): one axes, vertical grid lines only."""
    _, Figure = _matplotlib()
    fig = Figure(figsize=(6.5, height), layout="constrained")
    ax = fig.add_subplot()
    _style_axes(ax)
    ax.grid(True, axis="x", color="#e5e7eb", linewidth=0.8)
    ax.grid(False, axis="y")
    return fig, ax


def _advice_figure(facts: _Facts, recs: list[_Trial], svg: _Svg) -> str | None:
    """Predicted (normalized) vs measured (normalized within the study) score of each recommendation."""
    predicted = [t for t in recs if t.predicted is not None]
    if not predicted:
        return None
    fig, ax = _rows_figure(1.1 + 0.42 * len(recs))
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


def _weights_figure(members: list[dict[str, Any]], weights: list[float], colours: Mapping[str, str],
                    svg: _Svg) -> str | None:
    if len(members) < 2 or len(weights) != len(members):
        return None
    fig, ax = _rows_figure(0.5 + 0.38 * len(members))
    ys = list(range(len(members)))[::-1]
    labels = [_label(f"{m.get('family', '?')} (trial {m.get('trial', '?')})") for m in members]
    ax.barh(ys, weights, color=[colours.get(str(m.get("family")), "#6b7280") for m in members], height=0.6)
    for y, w in zip(ys, weights, strict=True):
        ax.annotate(f"{w:.0%}", (w, y), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set_yticks(ys, labels)
    ax.set_xlim(0, max(weights) * 1.18 or 1)
    ax.set_xlabel("weight in the ensemble", fontsize=10)
    return svg(fig, {}, "ensemble weights")
