"""The neural part of autometa: a tabular MLP and a learned (meta-trained) LSTM optimizer.

    >>> from autometa.neural import TabularMLPClassifier, LearnedOptimizer, meta_train
    >>> clf = TabularMLPClassifier(optimizer="learned").fit(X, y)     # scikit-learn estimator
    >>> opt = LearnedOptimizer(model.parameters())                    # drop-in torch optimizer
    >>> meta_train("ckpt/", MetaTrainConfig(steps=500), data_dir="../shared/datasets/pmlb")

torch is imported only inside this package, and only when one of these names is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from autometa._lazy import lazy_exports

_LAZY: dict[str, str] = {
    "TabularMLPClassifier": "autometa.neural._estimators",
    "TabularMLPRegressor": "autometa.neural._estimators",
    "LearnedOptimizer": "autometa.neural._optimizer",
    "CoordinateLSTM": "autometa.neural._lstm",
    "meta_train": "autometa.neural._meta_train",
    "MetaTrainConfig": "autometa.neural._meta_train",
    "evaluate_optimizers": "autometa.neural._evaluate",
    "pretrained_path": "autometa.neural._checkpoint",
    "load_network": "autometa.neural._checkpoint",
}

if TYPE_CHECKING:  # pragma: no cover
    from autometa.neural._checkpoint import load_network, pretrained_path  # noqa: F401
    from autometa.neural._estimators import TabularMLPClassifier, TabularMLPRegressor  # noqa: F401
    from autometa.neural._evaluate import evaluate_optimizers  # noqa: F401
    from autometa.neural._lstm import CoordinateLSTM  # noqa: F401
    from autometa.neural._meta_train import MetaTrainConfig, meta_train  # noqa: F401
    from autometa.neural._optimizer import LearnedOptimizer  # noqa: F401


__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)


__all__ = sorted(_LAZY)
