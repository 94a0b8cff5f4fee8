"""Multilayer perceptron (torch), trained with Adam, SGD with momentum, or the learned optimizer.

The estimator is :class:`autometa.neural.TabularMLPClassifier` / ``TabularMLPRegressor``; it applies
the families' shared preprocessing itself (impute, encode categoricals, standardize) and stops early on
a validation split. ``learning_rate`` and ``weight_decay`` do not apply to ``optimizer="learned"``
(the meta-trained update rule sets its own step sizes). torch is imported only when an estimator is
built.
"""

from __future__ import annotations

from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from autometa.spaces._base import Family

SPACE = {
    "n_layers": IntDistribution(1, 3),
    "width": IntDistribution(16, 256, log=True),
    "activation": CategoricalDistribution(["relu", "tanh"]),
    "optimizer": CategoricalDistribution(["adam", "sgd", "learned"]),
    "learning_rate": FloatDistribution(1e-4, 1e-1, log=True),
    "weight_decay": FloatDistribution(1e-7, 1e-2, log=True),
    "batch_size": IntDistribution(16, 512, log=True),
}
DEFAULT = {"n_layers": 2, "width": 64, "activation": "relu", "optimizer": "adam", "learning_rate": 1e-3,
           "weight_decay": 1e-6, "batch_size": 128}
#: Epoch cap: with early stopping most fits end far sooner; bounds the cost of a knowledge-base build.
MAX_EPOCHS = 200


def _build(config, task, info, random_state):
    from autometa.neural import TabularMLPClassifier, TabularMLPRegressor

    model_class = TabularMLPClassifier if task == "classification" else TabularMLPRegressor
    return model_class(hidden_layer_sizes=(config["width"],) * config["n_layers"], activation=config["activation"],
                       optimizer=config["optimizer"], learning_rate=config["learning_rate"],
                       weight_decay=config["weight_decay"], batch_size=config["batch_size"], max_epochs=MAX_EPOCHS,
                       random_state=random_state)


FAMILY = Family("mlp", "multilayer perceptron (torch; Adam, SGD or the learned optimizer)", SPACE, DEFAULT, _build)
