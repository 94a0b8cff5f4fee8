"""The report's values as text: HTML escaping, scores, row counts, durations, metric names, configs."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

_METRIC_NAMES = {"balanced_accuracy": "balanced accuracy", "roc_auc": "ROC AUC", "log_loss": "log loss",
                 "r2": "R²", "rmse": "RMSE"}


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


def _numbers(numbers: list[int], most: int = 12) -> str:
    shown = ", ".join(map(str, numbers[:most]))
    return shown + (f", … {len(numbers) - most} more" if len(numbers) > most else "")
