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

The package reads the study (and the model card and dataset) into plain facts (``_facts``), draws the
figures (``_figures``), formats values as escaped text (``_text``) and assembles the page (``_page``).
"""

from __future__ import annotations

from autometa._lazy import lazy_exports

_LAZY: dict[str, str] = {
    "write_report": "autometa.report._page",
    "render_report": "autometa.report._page",
}

__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)

__all__ = sorted(_LAZY)
