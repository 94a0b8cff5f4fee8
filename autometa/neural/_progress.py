"""Progress of training loops without any terminal output of its own: a smoothed loss, reported to a
callback and to :mod:`logging` (logger ``autometa.neural``). Rich progress bars belong to the CLI,
which passes a callback that draws one."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger("autometa.neural")


@dataclass(frozen=True)
class ProgressUpdate:
    """What a progress callback receives after every step."""

    label: str
    completed: int
    total: int
    loss: float  # the smoothed loss (NaN until a finite loss was seen)
    info: str  # a short text, e.g. "meta-loss 0.41  horizon 1000"


#: A progress callback: called once per step with a :class:`ProgressUpdate`.
ProgressCallback = Callable[[ProgressUpdate], None]


class LossProgress:
    """Counts steps and keeps an exponentially smoothed loss; reports both.

    Args:
        label: what is running (e.g. ``"meta-training"``).
        total: steps in all; ``completed`` of them done already (a resumed run).
        enabled: ``True`` logs a line (INFO, logger ``autometa.neural``) at most every
            ``log_every`` seconds; a callable is called with a :class:`ProgressUpdate` at every step;
            ``False`` reports nothing.
        smoothing: weight of the old value in the moving average of the loss.
        info: the text of the report, formatted with ``ema`` (the smoothed loss) and the keyword
            arguments of :meth:`advance`.

    Use as a context manager, or call :meth:`close` when done.
    """

    def __init__(self, label: str, total: int, *, enabled: bool | ProgressCallback = True, completed: int = 0,
                 smoothing: float = 0.98, info: str = "{ema:.4f}", log_every: float = 10.0) -> None:
        self.label, self.total, self.completed = label, int(total), int(completed)
        self.smoothing, self.info, self.log_every = smoothing, info, log_every
        self.ema = math.nan
        self.callback: ProgressCallback | None = enabled if callable(enabled) else None
        self.log = enabled is True
        self._last_log = time.monotonic()

    def advance(self, loss: float, **fields: Any) -> None:
        """One step done; ``loss`` enters the moving average unless it is NaN or infinite."""
        self.completed += 1
        if math.isfinite(loss):
            self.ema = loss if math.isnan(self.ema) else self.smoothing * self.ema + (1 - self.smoothing) * loss
        if self.callback is None and not self.log:
            return
        text = self.info.format(ema=self.ema, **fields)
        if self.callback is not None:
            self.callback(ProgressUpdate(self.label, self.completed, self.total, self.ema, text))
        now = time.monotonic()
        if self.log and (now - self._last_log >= self.log_every or self.completed >= self.total):
            self._last_log = now
            logger.info("%s %d/%d  %s", self.label, self.completed, self.total, text)

    def close(self) -> None:
        """Nothing to release; kept so that callers can treat it as a resource."""

    def __enter__(self) -> LossProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
