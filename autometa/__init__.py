"""autometa: meta-learning AutoML for tabular data.

The public surface is small and re-exported here; the modules behind it are private. Heavy parts
(scikit-learn models, torch) load on first use, so ``import autometa`` is cheap.

    >>> import autometa
    >>> ds = autometa.load_dataset("data.csv", target="label")
    >>> recs = autometa.recommend(ds)            # ranked (family, config) with predicted scores
    >>> study = autometa.tune(ds, n_trials=50)   # warm-started optuna.Study
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from autometa._lazy import lazy_exports

__version__ = "0.1.0"

# public name -> module that defines it; resolved lazily (PEP 562) to keep start-up fast.
_LAZY: dict[str, str] = {
    "Dataset": "autometa.data",
    "FeatureKind": "autometa.data",
    "load_dataset": "autometa.data",
    "InputError": "autometa.errors",
    "recommend": "autometa._recommend",
    "Recommendation": "autometa._recommend",
    "Recommendations": "autometa._recommend",
    "tune": "autometa._tune",
    "refit": "autometa._refit",
    "load_model": "autometa.models",
    "save_model": "autometa.models",
    "write_report": "autometa.report",
    "MetaSampler": "autometa.metamodel",
}

if TYPE_CHECKING:  # pragma: no cover
    from autometa.data import Dataset, FeatureKind, load_dataset  # noqa: F401
    from autometa.errors import InputError  # noqa: F401


__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)


__all__ = sorted(_LAZY) + ["__version__"]
