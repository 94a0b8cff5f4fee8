"""Progress display of ``autometa kb build``: a rich bar on a terminal, periodic lines otherwise.

The library reports progress as :class:`autometa.kb.BuildStats` through ``build(on_progress=...)``;
showing it is the CLI's business.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from autometa.kb import BuildStats


def _fmt_seconds(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


class BuildProgress:
    """Shows datasets done, evaluations done, failures and the ETA, on stderr.

    On a terminal it is a rich progress bar; when stderr is a file (a background build) it writes one
    plain line every ``interval`` seconds instead, so logs stay readable.
    """

    def __init__(self, console: Any, interval: float = 60.0) -> None:
        self.console = console
        self.interval = interval
        self._last = 0.0
        self._progress = None
        self._task = None

    def __enter__(self) -> BuildProgress:
        if self.console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]kb build"), BarColumn(), MofNCompleteColumn(), TextColumn("evaluations"),
                TextColumn("{task.fields[datasets]}"), TextColumn("[red]{task.fields[failures]} failed"),
                TimeElapsedColumn(), TextColumn("ETA {task.fields[eta]}"), console=self.console,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("build", total=None, datasets="", failures=0, eta="?")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def __call__(self, stats: BuildStats) -> None:
        datasets = f"datasets {stats.datasets_done}/{stats.datasets_total}"
        if self._progress is not None:
            self._progress.update(self._task, total=stats.total, completed=stats.done_before + stats.done,
                                  datasets=datasets, failures=stats.failures,
                                  eta=_fmt_seconds(stats.eta_seconds()))
            return
        now = time.perf_counter()
        if now - self._last >= self.interval or stats.remaining == 0:
            self._last = now
            rate = stats.done / max(now - stats.started, 1e-9)
            self.console.print(
                f"{time.strftime('%H:%M:%S')} evaluations {stats.done_before + stats.done}/{stats.total} "
                f"(+{stats.done} this run, {rate * 3600:.0f}/h), {datasets}, failures {stats.failures}, "
                f"ETA {_fmt_seconds(stats.eta_seconds())}",
                highlight=False, soft_wrap=True,
            )
