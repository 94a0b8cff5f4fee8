"""The report's HTML page: :func:`write_report` and :func:`render_report`, the style, the header's
tiles and the page's sections, in the order they appear."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autometa.errors import InputError
from autometa.io import atomic_write, check_writable
from autometa.report._facts import (
    _busy_seconds,
    _card_of,
    _Facts,
    _facts,
    _family_scores,
    _finite,
    _int,
    _protocol_rows,
    _strictly,
)
from autometa.report._figures import (
    _advice_figure,
    _families_figure,
    _family_colours,
    _progress_figure,
    _Svg,
    _weights_figure,
)
from autometa.report._text import _config_text, _duration, _e, _metric_name, _numbers, _plural, _rows, _score

#: Trials listed in the "best trials" table.
N_TOP = 10


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
