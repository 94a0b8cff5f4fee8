"""THE evaluation protocol: one frozen definition of how a (family, config) is scored on a dataset.

    Protocol(version=1, k=3, seed=0, row_cap=2000, time_limit=30.0, memory_limit_mb=4096)

- Rows: a dataset with more rows than ``row_cap`` is subsampled once, with ``seed``: stratified for
  classification (every class keeps ``min(count, k)`` rows at least, the rest is allotted in proportion
  by largest remainders), uniformly for regression. The cap is recorded with every result.
- Folds: classification uses ``StratifiedKFold(k, shuffle=True, random_state=seed)``; regression uses
  ``KFold(k, shuffle=True, random_state=seed)``. Classes with fewer than ``k`` rows are kept:
  scikit-learn's stratification places their rows deterministically (same seed, same folds), so some
  training folds lack them; the model's probabilities are mapped onto the full class list (a class never
  seen in training gets probability 0) and ROC AUC averages over the classes present in the test fold.
- Limits: every evaluation runs in a worker process under ``time_limit`` seconds of wall time (the
  worker is killed when it runs over) and ``memory_limit_mb`` of address space (``RLIMIT_AS``).
- Models run single-threaded (``n_jobs=1``) so that timings are comparable and parallel builds scale.

Any change to what a score means must bump ``version``: knowledge bases record it on every row.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

#: The version of the protocol below; rows scored under another version are not comparable.
PROTOCOL_VERSION = 1


@dataclass(frozen=True)
class Protocol:
    """How every evaluation is done; see the module docstring for the full statement.

    Attributes:
        version: the protocol version (bump when the meaning of a score changes).
        k: number of cross-validation folds.
        seed: the seed of subsampling, fold assignment and models.
        row_cap: datasets with more rows are subsampled to this many (with ``seed``).
        time_limit: wall-time limit of one evaluation (all folds), in seconds.
        memory_limit_mb: address-space limit of the worker process, in MiB.
    """

    version: int = PROTOCOL_VERSION
    k: int = 3
    seed: int = 0
    row_cap: int = 2000
    time_limit: float = 30.0
    memory_limit_mb: int = 4096

    def __post_init__(self) -> None:
        from autometa.errors import InputError

        if self.k < 2:
            raise InputError(f"The protocol needs at least 2 folds; got k={self.k}.")
        if self.row_cap < 2 * self.k:
            raise InputError(f"The row cap must be at least {2 * self.k} rows; got {self.row_cap}.")
        if self.time_limit <= 0:
            raise InputError(f"The time limit must be positive; got {self.time_limit} seconds.")
        if self.memory_limit_mb < 256:
            raise InputError(f"The memory limit must be at least 256 MiB; got {self.memory_limit_mb}.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Protocol:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def scoring_key(self) -> tuple[int, int, int, int]:
        """What makes two scores comparable: version, folds, seed and row cap (not the limits)."""
        return (self.version, self.k, self.seed, self.row_cap)


DEFAULT_PROTOCOL = Protocol()


def subsample_indices(y: pd.Series | np.ndarray, task: str, protocol: Protocol) -> np.ndarray:
    """Row positions kept under the row cap (all rows, in order, when there are not more than the cap)."""
    y = np.asarray(y)
    n = len(y)
    if n <= protocol.row_cap:
        return np.arange(n)
    rng = np.random.default_rng(protocol.seed)
    if task != "classification":
        return np.sort(rng.choice(n, size=protocol.row_cap, replace=False))
    labels, codes = np.unique(y.astype(str), return_inverse=True)
    counts = np.bincount(codes, minlength=len(labels))
    floor_ = np.minimum(counts, protocol.k)
    if floor_.sum() >= protocol.row_cap:  # more classes than the cap can hold: proportional only
        floor_ = np.zeros_like(counts)
    budget = protocol.row_cap - floor_.sum()
    share = (counts - floor_) * budget / max((counts - floor_).sum(), 1)
    alloc = floor_ + np.floor(share).astype(int)
    remainder = share - np.floor(share)
    # Largest remainders get the leftover rows; ties break by class order, so it is deterministic.
    for c in np.argsort(-remainder, kind="stable")[: protocol.row_cap - alloc.sum()]:
        alloc[c] += 1
    alloc = np.minimum(alloc, counts)
    keep = [rng.choice(np.flatnonzero(codes == c), size=alloc[c], replace=False) for c in range(len(labels))]
    return np.sort(np.concatenate(keep))


def fold_indices(y_codes: np.ndarray, task: str, protocol: Protocol) -> list[tuple[np.ndarray, np.ndarray]]:
    """The ``k`` (train, test) index pairs of the protocol for targets ``y_codes``."""
    import warnings

    from sklearn.model_selection import KFold, StratifiedKFold

    placeholder = np.zeros(len(y_codes))
    if task == "classification":
        splitter = StratifiedKFold(n_splits=protocol.k, shuffle=True, random_state=protocol.seed)
        with warnings.catch_warnings():  # "least populated class has only n members": handled, see above
            warnings.simplefilter("ignore", UserWarning)
            return list(splitter.split(placeholder, y_codes))
    splitter = KFold(n_splits=protocol.k, shuffle=True, random_state=protocol.seed)
    return list(splitter.split(placeholder))
