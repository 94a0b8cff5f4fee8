"""What autometa writes into an Optuna study: the name of every study and trial user attribute.

A study tuned by :func:`autometa.tune` is plain Optuna, readable with ``optuna.load_study``; these
attributes are how the search, ``refit``, the report, the CLI and ``kb import-study`` read it back. They
are part of the stored format (a study outlives the code that wrote it), so a name never changes.
"""

from __future__ import annotations

# ------------------------------------------------------------------------------- study attributes
#: What autometa needs to resume or refit the study: dataset fingerprint, task, target, metric, protocol.
STUDY = "autometa"
#: Set once the warm start is queued: how many recommendations.
WARM_START = "autometa.warm_start"
#: The folder of the trials' out-of-fold predictions (for model fusion and the decision rule).
OOF_DIR = "autometa.oof_dir"
#: The rung row budgets of a multi-fidelity search (set once; lowered only when the budget ends early).
RUNGS = "autometa.rungs"

# ------------------------------------------------------------------------------- trial attributes
#: The family and config (JSON) the trial evaluated.
FAMILY = "autometa.family"
CONFIG = "autometa.config"
#: The evaluation's status ("ok", "timeout", "failed", ...), fit seconds, and its error when it failed.
STATUS = "autometa.status"
FIT_SECONDS = "autometa.fit_seconds"
ERROR = "autometa.error"
#: The rows of the highest rung the trial was scored on, and every rung's score and seconds.
ROWS = "autometa.rows"
RUNG_SCORES = "autometa.rung_scores"
#: Where an enqueued trial came from ("recommendation 3").
ORIGIN = "autometa.origin"
#: Of a recommendation: the meta-model's predicted normalized score (1 = as good as the best config
#: known for similar datasets, 0 = the worst) and its uncertainty.
PREDICTED = "autometa.predicted"
UNCERTAINTY = "autometa.uncertainty"
#: Why a trial stopped below the top rung when its score was not the reason.
STOPPED = "autometa.stopped"
#: Of a completed copy (the budget ended before any trial reached the top rung): the trial it copies.
COMPLETED_FROM = "autometa.completed_from"


def metric_attr(metric: str) -> str:
    """The trial attribute holding the first rung's score in ``metric`` (every metric of the protocol is kept)."""
    return f"autometa.{metric}"
