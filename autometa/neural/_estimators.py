"""``TabularMLPClassifier`` / ``TabularMLPRegressor``: scikit-learn estimators around a torch MLP.

Preprocessing is part of the estimator, so raw tables go in: the shared recipe of the model families
(:func:`autometa.data.encoded_features`: impute, one-hot or ordinal-encode
categoricals, standardize). Training
is mini-batch with Adam, SGD with momentum, or the learned optimizer, with early stopping on a
held-back validation split (or on the training loss when that is off or the data are too few).
Prediction runs in float64, so a row's prediction does not depend on which other rows share its batch.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from autometa.errors import InputError
from autometa.neural._common import as_frame as _as_frame
from autometa.neural._common import fit_preprocessor as _preprocessor
from autometa.neural._common import resolve_device
from autometa.neural._mlp import ACTIVATIONS, make_mlp

OPTIMIZERS = ("adam", "sgd", "learned")
_MIN_VALIDATION_ROWS = 20  # below this a validation split is too noisy to stop on


class _TabularMLP(BaseEstimator):
    """Shared fitting logic; see :class:`TabularMLPClassifier` for the parameters."""

    def __init__(self, hidden_layer_sizes: tuple[int, ...] = (64, 64), activation: str = "relu",
                 optimizer: str = "adam", learning_rate: float = 1e-3, momentum: float = 0.9,
                 weight_decay: float = 0.0, batch_size: int = 128, max_epochs: int = 200,
                 early_stopping: bool = True, validation_fraction: float = 0.1, n_iter_no_change: int = 10,
                 tol: float = 1e-4, checkpoint: str | None = "pretrained", device: str = "auto",
                 random_state: int | np.random.RandomState | None = None) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.checkpoint = checkpoint
        self.device = device
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # missing values are imputed
        return tags

    # -- validation -----------------------------------------------------------------------------
    def _check_params(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"optimizer must be one of {', '.join(map(repr, OPTIMIZERS))}; got {self.optimizer!r}.")
        if self.activation not in ACTIVATIONS:
            raise InputError(f"activation must be one of {', '.join(map(repr, ACTIVATIONS))}; got {self.activation!r}.")
        sizes = (self.hidden_layer_sizes,) if isinstance(self.hidden_layer_sizes, int) else self.hidden_layer_sizes
        if not all(isinstance(s, (int, np.integer)) and s > 0 for s in sizes):
            raise InputError(f"hidden_layer_sizes must be positive integers; got {self.hidden_layer_sizes!r}.")
        for name in ("learning_rate", "batch_size", "max_epochs", "n_iter_no_change"):
            if not getattr(self, name) > 0:
                raise InputError(f"{name} must be positive; got {getattr(self, name)!r}.")
        if not 0.0 < self.validation_fraction < 1.0:
            raise InputError(f"validation_fraction must be in (0, 1); got {self.validation_fraction!r}.")

    def _validate_X(self, X: Any, reset: bool, y: Any = None):
        import pandas as pd

        if isinstance(X, pd.DataFrame):  # keep the frame: categorical columns are one-hot encoded
            if y is None:
                validate_data(self, X, reset=reset, skip_check_array=True)
                return X
            validate_data(self, X, reset=reset, skip_check_array=True)
            return X, self._validate_y(np.asarray(y) if not hasattr(y, "to_numpy") else y.to_numpy())
        if y is None:
            return validate_data(self, X, reset=reset, dtype=np.float64, ensure_all_finite="allow-nan")
        X, y = validate_data(self, X, y, reset=reset, dtype=np.float64, ensure_all_finite="allow-nan",
                             y_numeric=not self._is_classifier)
        return X, self._validate_y(y)

    # -- fitting --------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any) -> _TabularMLP:
        """Fit the preprocessing and the network on ``X`` (table or array) and ``y``."""
        self._check_params()
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None.")
        _check_y_missing(y)
        X, y_enc = self._validate_X(X, reset=True, y=y)
        if len(y_enc) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 samples to fit, got n_samples = {len(y_enc)}.")
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        self.device_ = str(resolve_device(self.device))
        train_idx, val_idx = self._split(len(y_enc), y_enc, rng)
        self.preprocessor_ = _preprocessor(X, train_idx)
        Xt = self.preprocessor_.transform(_as_frame(X)).astype(np.float32)
        target = self._target_tensor(y_enc)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.model_ = self._build(Xt.shape[1]).to(self.device_)
        self._train(Xt, target, train_idx, val_idx, seed)
        return self

    def _split(self, n: int, y: np.ndarray, rng: np.random.RandomState):
        n_val = int(math.floor(self.validation_fraction * n))
        if not self.early_stopping or n_val < _MIN_VALIDATION_ROWS:
            return np.arange(n), np.arange(0)
        from sklearn.model_selection import train_test_split

        stratify = y if self._is_classifier and np.bincount(y).min() >= 2 else None
        try:
            tr, va = train_test_split(np.arange(n), test_size=n_val, random_state=rng, stratify=stratify)
        except ValueError:  # too few rows per class for a stratified split
            tr, va = train_test_split(np.arange(n), test_size=n_val, random_state=rng)
        return np.sort(tr), np.sort(va)

    def _build(self, n_in: int) -> nn.Sequential:
        sizes = (self.hidden_layer_sizes,) if isinstance(self.hidden_layer_sizes, int) else self.hidden_layer_sizes
        return make_mlp(n_in, sizes, self._n_outputs(), self.activation)

    def _make_optimizer(self, params) -> torch.optim.Optimizer:
        if self.optimizer == "adam":
            return torch.optim.Adam(params, lr=self.learning_rate, weight_decay=self.weight_decay)
        if self.optimizer == "sgd":
            return torch.optim.SGD(params, lr=self.learning_rate, momentum=self.momentum,
                                   weight_decay=self.weight_decay)
        from autometa.neural._optimizer import LearnedOptimizer

        return LearnedOptimizer(params, checkpoint=self.checkpoint)

    def _train(self, Xt: np.ndarray, target: torch.Tensor, train_idx, val_idx, seed: int) -> None:
        dev = torch.device(self.device_)
        X = torch.from_numpy(Xt).to(dev)
        target = target.to(dev)
        X_tr, y_tr = X[train_idx], target[train_idx]
        X_va, y_va = X[val_idx], target[val_idx]
        opt = self._make_optimizer(self.model_.parameters())
        gen = torch.Generator().manual_seed(seed)
        batch = min(int(self.batch_size), len(train_idx))
        best, best_state, stale = math.inf, None, 0
        self.loss_curve_, self.validation_loss_curve_ = [], []
        epochs = 0
        for _ in range(int(self.max_epochs)):
            epochs += 1
            self.model_.train()
            order = torch.randperm(len(train_idx), generator=gen).to(dev)
            total = 0.0
            for start in range(0, len(order), batch):
                idx = order[start:start + batch]
                loss = self._loss(self.model_(X_tr[idx]), y_tr[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            train_loss = total / len(order)
            if not math.isfinite(train_loss):
                break  # diverged: keep the best weights seen so far
            self.loss_curve_.append(train_loss)
            monitored = train_loss
            if len(val_idx):
                with torch.no_grad():
                    monitored = float(self._loss(self.model_(X_va), y_va))
                self.validation_loss_curve_.append(monitored)
            if monitored < best - self.tol:
                best, stale = monitored, 0
                best_state = copy.deepcopy(self.model_.state_dict())
            else:
                stale += 1
                if stale >= self.n_iter_no_change:
                    break
        if best_state is not None:
            self.model_.load_state_dict(best_state)
        self.n_iter_ = epochs
        self.best_loss_ = best
        self.model_.eval()

    def _forward64(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = self._validate_X(X, reset=False)
        Xt = torch.from_numpy(self.preprocessor_.transform(_as_frame(X)).astype(np.float64))
        params = {k: v.detach().to("cpu", torch.float64) for k, v in self.model_.state_dict().items()}
        with torch.no_grad():  # every parameter is replaced, so the module's own device does not matter
            out = torch.func.functional_call(self.model_, params, (Xt,))
        return out.numpy()


def _check_y_missing(y: Any) -> None:
    import pandas as pd

    try:
        missing = pd.isna(np.asarray(y, dtype=object)).sum()
    except (TypeError, ValueError):
        return  # not array-like: the validation that follows says so
    if missing:
        raise InputError(f"y contains {int(missing)} missing (NaN) values; drop those rows or fill them before fitting.")


class TabularMLPClassifier(ClassifierMixin, _TabularMLP):
    """A multilayer perceptron classifier for tabular data, trained with torch.

    Args:
        hidden_layer_sizes: widths of the hidden layers.
        activation: ``"relu"``, ``"tanh"`` or ``"sigmoid"``.
        optimizer: ``"adam"``, ``"sgd"`` (with ``momentum``) or ``"learned"`` (the meta-trained
            optimizer from ``checkpoint``; it sets its own step sizes, so ``learning_rate``,
            ``momentum`` and ``weight_decay`` do not apply to it).
        learning_rate: step size of Adam / SGD.
        momentum: SGD momentum.
        weight_decay: L2 penalty of Adam / SGD.
        batch_size: mini-batch size (capped at the number of training rows).
        max_epochs: passes over the training data at most.
        early_stopping: hold back ``validation_fraction`` of the rows (stratified) and stop when their
            loss has not improved by ``tol`` for ``n_iter_no_change`` epochs, keeping the best weights.
            Without it (or with fewer than 20 validation rows) the training loss is monitored instead.
        checkpoint: the learned optimizer's checkpoint (``"pretrained"`` or a folder).
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``...
        random_state: seed of the initial weights, the validation split and the mini-batch order.

    Attributes:
        classes_, n_features_in_, preprocessor_, model_, n_iter_ (epochs run), loss_curve_,
        validation_loss_curve_, best_loss_, device_.
    """

    _is_classifier = True

    def _validate_y(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes in the data, got 1 class.")
        return encoded.astype(np.int64)

    def _n_outputs(self) -> int:
        return len(self.classes_)

    def _target_tensor(self, y: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(y)

    def _loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(out, y)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        out = self._forward64(X)
        out = out - out.max(axis=1, keepdims=True)
        p = np.exp(out)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        out = self._forward64(X)  # checks that the estimator is fitted before touching classes_
        return self.classes_[np.argmax(out, axis=1)]


class TabularMLPRegressor(RegressorMixin, _TabularMLP):
    """A multilayer perceptron regressor for tabular data (squared error on a standardized target).

    Parameters and attributes as :class:`TabularMLPClassifier` (no ``classes_``); ``y_mean_`` and
    ``y_scale_`` undo the target standardization.
    """

    _is_classifier = False

    def _validate_y(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        if y.ndim != 1:
            raise InputError(f"y must be one column of numbers; got shape {y.shape}.")
        if not np.isfinite(y).all():
            raise InputError(f"y contains {int((~np.isfinite(y)).sum())} infinite values; drop those rows "
                             "or fix them before fitting.")
        self.y_mean_ = float(y.mean())
        self.y_scale_ = float(y.std()) or 1.0
        return y

    def _n_outputs(self) -> int:
        return 1

    def _target_tensor(self, y: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(((y - self.y_mean_) / self.y_scale_).astype(np.float32))

    def _loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return nn.functional.mse_loss(out[:, 0], y)

    def predict(self, X: Any) -> np.ndarray:
        return self._forward64(X)[:, 0] * self.y_scale_ + self.y_mean_
