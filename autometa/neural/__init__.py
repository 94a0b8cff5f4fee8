"""The neural part of autometa: a tabular MLP and a learned (meta-trained) optimizer.

    >>> from autometa.neural import TabularMLPClassifier, LearnedOptimizer, meta_train, evaluate
    >>> clf = TabularMLPClassifier(optimizer="learned").fit(X, y)     # scikit-learn estimator
    >>> opt = LearnedOptimizer(model.parameters(), lr=1.0)            # drop-in torch optimizer
    >>> meta_train("ckpt/", MetaTrainConfig(steps=500), data_dir="../shared/datasets/pmlb")
    >>> evaluate("ckpt/", data_dir="../shared/datasets/pmlb", out="results/")   # vs tuned Adam & co.

Progress is reported through :mod:`logging` (logger ``autometa.neural``) or a callback; the library
prints nothing itself.

torch is imported only inside this package, and only when one of these names is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from autometa._lazy import lazy_exports

_LAZY: dict[str, str] = {
    "TabularMLPClassifier": "autometa.neural._estimators",
    "TabularMLPRegressor": "autometa.neural._estimators",
    "LearnedOptimizer": "autometa.neural._optimizer",
    "LearnedRule": "autometa.neural._rule",
    "meta_train": "autometa.neural._meta_train",
    "MetaTrainConfig": "autometa.neural._meta_train",
    "evaluate": "autometa.neural._evaluate",
    "ProgressUpdate": "autometa.neural._progress",
    "resolve_device": "autometa.neural._common",
    "pretrained_path": "autometa.neural._checkpoint",
    "load_network": "autometa.neural._checkpoint",
}

if TYPE_CHECKING:  # pragma: no cover
    from autometa.neural._checkpoint import load_network, pretrained_path  # noqa: F401
    from autometa.neural._common import resolve_device  # noqa: F401
    from autometa.neural._estimators import TabularMLPClassifier, TabularMLPRegressor  # noqa: F401
    from autometa.neural._evaluate import evaluate  # noqa: F401
    from autometa.neural._meta_train import MetaTrainConfig, meta_train  # noqa: F401
    from autometa.neural._optimizer import LearnedOptimizer  # noqa: F401
    from autometa.neural._progress import ProgressUpdate  # noqa: F401
    from autometa.neural._rule import LearnedRule  # noqa: F401


__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)


__all__ = sorted(_LAZY)
