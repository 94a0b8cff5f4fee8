"""The ``recommend`` table on a narrow terminal: cells break after '=' / ',' / '_' / spaces, never mid-word."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from autometa import Recommendation, Recommendations
from autometa._cli.recommend import _config_text, _print  # the verb's table itself is what is tested
from autometa._recommend import Evidence  # not re-exported: users get it inside a Recommendation
from autometa.spaces import get_family

FAMILIES = ("hist_gradient_boosting", "random_forest", "lightgbm", "extra_trees", "svm")


def _recommendations() -> Recommendations:
    """Configs of the real families' spaces with every parameter moved off its default."""
    items = []
    for rank, family in enumerate(FAMILIES, start=1):
        config = {}
        for key, value in get_family(family).default.items():
            if isinstance(value, bool) or value is None:
                config[key] = value
            elif isinstance(value, (int, float)):
                config[key] = value * 1.7 + 0.8461  # "max_features=0.846": the example
            else:
                config[key] = f"{value}_x"
        items.append(Recommendation(
            rank=rank, family=family, config=config, config_id=f"sobol-{rank:04d}", predicted_score=0.8461,
            uncertainty=0.0512, predicted_fit_seconds=1.25, predicted_fit_seconds_full=12.5,
            evidence=(Evidence("pmlb/analcatdata_boxing1", 0.1, 0.953), Evidence("keel/wdbc", 0.2, 1.0))))
    return Recommendations(items=tuple(items), dataset={"name": "wine", "n_rows": 178, "n_features": 13},
                           task="classification", metric="balanced_accuracy",
                           neighbors=({"dataset_id": "pmlb/wine_recognition", "distance": 0.1},))


def _render(width: int) -> list[str]:
    buffer = io.StringIO()
    _print(_recommendations(), console=Console(width=width, file=buffer, force_terminal=False, color_system=None))
    return buffer.getvalue().splitlines()


def _column(lines: list[str], index: int) -> list[str]:
    """The body cells of one column, line by line (rows of the table proper only)."""
    return [line.split("│")[index].strip() for line in lines if line.startswith("│") and line.count("│") == 7]


def _joined(cells: list[str], breaks: str) -> list[str]:
    """Cell lines put back together where a line ended with a break character."""
    out: list[str] = []
    pending = ""
    for cell in cells:
        if not cell:
            continue
        text = pending + cell
        if text[-1] in breaks:
            pending = text
            continue
        out.append(text)
        pending = ""
    return out


@pytest.mark.parametrize("width", [80, 100])
def test_narrow_table_folds_only_at_break_points(width):
    lines = _render(width)
    assert max(len(line) for line in lines) <= width
    recs = _recommendations()
    expected = [p for r in recs for p in _config_text(r.family, r.config).split("\n")]
    config_lines = _column(lines, 3)
    assert not any(line.startswith(".") for line in config_lines)  # never "max_features=0" / ".846"
    assert _joined(config_lines, "=,") == expected  # every "key=value" whole once rejoined at '=' / ','
    assert _joined(_column(lines, 2), "_") == list(FAMILIES)
    evidence = " ".join(_column(lines, 6))
    assert "analcatdata_boxing1" in evidence.replace("_ ", "_")  # split after '_' at most


def test_wide_table_keeps_every_parameter_on_one_line():
    lines = _render(250)
    recs = _recommendations()
    config_lines = [c for c in _column(lines, 3) if c]
    assert config_lines == [p for r in recs for p in _config_text(r.family, r.config).split("\n")]
