"""A progress bar for training loops: steps done, time left, and an exponentially smoothed loss."""

from __future__ import annotations

import math
from typing import Any


class LossProgress:
    """A rich progress bar on stderr showing a smoothed loss; a no-op when disabled.

    Args:
        label: text before the bar.
        total: steps in all; ``completed`` of them done already (a resumed run).
        enabled: show the bar (off: only the smoothed loss is kept).
        smoothing: weight of the old value in the moving average of the loss.
        info: the text after the bar, formatted with ``ema`` (the smoothed loss) and the keyword
            arguments of :meth:`advance`.

    Use as a context manager, or call :meth:`close` when done.
    """

    def __init__(self, label: str, total: int, *, enabled: bool = True, completed: int = 0,
                 smoothing: float = 0.98, info: str = "{ema:.4f}") -> None:
        self.smoothing, self.info = smoothing, info
        self.ema = math.nan
        self.bar: Any = None
        if enabled and total > 0:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            from autometa._cli._common import stderr_console

            self.bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[info]}"), TimeRemainingColumn(), console=stderr_console())
            self.bar.start()
            self.job = self.bar.add_task(label, total=total, completed=completed, info="")

    def advance(self, loss: float, **fields: Any) -> None:
        """One step done; ``loss`` enters the moving average unless it is NaN or infinite."""
        if math.isfinite(loss):
            self.ema = loss if math.isnan(self.ema) else self.smoothing * self.ema + (1 - self.smoothing) * loss
        if self.bar is not None:
            self.bar.update(self.job, advance=1, info=self.info.format(ema=self.ema, **fields))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()

    def __enter__(self) -> LossProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
