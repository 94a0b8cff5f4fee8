"""Greedy portfolios (auto-sklearn 2.0, TabRepo): pick configs that together cover many datasets.

Given scenario scores ``S`` (scenarios x candidates, normalized, higher is better) and scenario
weights ``w``, the greedy portfolio adds, one at a time, the candidate that most raises the weighted
mean over scenarios of the best score found so far, ``sum_i w_i max_{c in P} S[i, c]``. A scenario is
a known dataset (a zero-shot portfolio) or one of the nearest datasets of a new one; either way the
second pick covers the datasets where the first does badly, which is what makes the list diverse.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def greedy_portfolio(scores: np.ndarray, n: int, weights: np.ndarray | None = None,
                     eligible: np.ndarray | None = None, tie_break: np.ndarray | None = None,
                     start: Sequence[int] = ()) -> list[int]:
    """Indices of ``n`` candidates chosen greedily (see the module docstring).

    Args:
        scores: scenarios x candidates; NaN (not evaluated) counts as 0.
        n: portfolio size (at most the number of eligible candidates).
        weights: scenario weights (default: equal).
        eligible: boolean mask of candidates that may be chosen.
        tie_break: per-candidate score used when gains tie (e.g. the mean prediction); higher first.
        start: candidates already chosen (they open the list, in this order, and the greedy
            continues from them).
    """
    S = np.nan_to_num(np.asarray(scores, dtype=float), nan=0.0)
    n_scenarios, n_candidates = S.shape
    w = np.ones(n_scenarios) if weights is None else np.asarray(weights, dtype=float)
    w = w / w.sum() if w.sum() > 0 else np.full(n_scenarios, 1.0 / max(n_scenarios, 1))
    allowed = np.ones(n_candidates, dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool).copy()
    tie = np.zeros(n_candidates) if tie_break is None else np.nan_to_num(np.asarray(tie_break, dtype=float))
    # Scale the tie-break far below any real gain so it only orders exact ties.
    tie = 1e-9 * (tie - tie.min()) / (np.ptp(tie) + 1e-12)
    best = np.zeros(n_scenarios)
    chosen: list[int] = []
    for pick in list(start)[:n]:
        chosen.append(int(pick))
        allowed[pick] = False
        best = np.maximum(best, S[:, pick])
    for _ in range(min(n - len(chosen), int(allowed.sum()))):
        gain = w @ np.maximum(S - best[:, None], 0.0) + tie
        gain[~allowed] = -np.inf
        pick = int(np.argmax(gain))
        chosen.append(pick)
        allowed[pick] = False
        best = np.maximum(best, S[:, pick])
    return chosen
