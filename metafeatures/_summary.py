"""The one summary mechanism shared by every group.

A feature function that returns one value per attribute (or per pair, class, tree node, ...) is
summarized into seven numbers, named with OpenML's convention of a statistic prefix:
``Min<Name>``, ``Quartile1<Name>``, ``Quartile2<Name>``, ``Quartile3<Name>``, ``Max<Name>``,
``Mean<Name>`` and ``Stdv<Name>``.

The statistics follow OpenML's evaluation engine (Apache commons-math ``DescriptiveStatistics``),
so that summarized OpenML qualities such as ``Quartile1SkewnessOfNumericAtts`` agree with OpenML:

* non-finite values are dropped first (OpenML skips a column whose skewness is undefined);
* quartiles use commons-math's default percentile estimator (Hyndman & Fan type 6, numpy's
  ``method="weibull"``): position ``p * (n + 1)``, clamped to the smallest and largest value;
* ``Stdv`` is the sample standard deviation (``ddof=1``), 0 for a single value;
* an empty input gives NaN for every statistic.
"""

from __future__ import annotations

import numpy as np

SUMMARY_STATS: tuple[str, ...] = ("Min", "Quartile1", "Quartile2", "Quartile3", "Max", "Mean", "Stdv")


def weka_percentile(sorted_values: np.ndarray, p: float) -> float:
    """commons-math's legacy percentile of an ascending array with no NaN (``p`` in percent)."""
    n = sorted_values.shape[0]
    if n == 0:
        return float("nan")
    pos = p * (n + 1) / 100.0
    if pos < 1:
        return float(sorted_values[0])
    if pos >= n:
        return float(sorted_values[-1])
    lower_index = int(np.floor(pos))
    lower = sorted_values[lower_index - 1]
    upper = sorted_values[lower_index]
    return float(lower + (pos - lower_index) * (upper - lower))


def summarize(values: np.ndarray) -> dict[str, float]:
    """The seven summary statistics of ``values``, keyed by their prefix (see the module docstring)."""
    arr = np.asarray(values, dtype=float).ravel()
    arr = np.sort(arr[np.isfinite(arr)])
    n = arr.shape[0]
    if n == 0:
        return dict.fromkeys(SUMMARY_STATS, float("nan"))
    return {
        "Min": float(arr[0]),
        "Quartile1": weka_percentile(arr, 25.0),
        "Quartile2": weka_percentile(arr, 50.0),
        "Quartile3": weka_percentile(arr, 75.0),
        "Max": float(arr[-1]),
        "Mean": float(arr.mean()),
        "Stdv": float(arr.std(ddof=1)) if n > 1 else 0.0,
    }
