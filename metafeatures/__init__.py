"""Meta-features of tabular datasets: a table in, a named vector of numbers out.

    >>> import metafeatures
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True, as_frame=True)
    >>> mf = metafeatures.extract(X, y)
    >>> mf["NumberOfInstances"], mf["ClassEntropy"]
    (150.0, 1.584962500721156)

Groups: "general", "statistical", "info-theory", "landmarking", "model-based". Where OpenML
defines a data quality (ClassEntropy, MeanSkewnessOfNumericAtts, NaiveBayesAUC, ...) the feature
has that exact name and definition, so values computed here and qualities downloaded from OpenML
are interchangeable. This package is standalone: it imports nothing from autometa.
"""

from ._extract import GROUPS, extract, list_metafeatures
from ._result import MetaFeatures

__all__ = ["GROUPS", "MetaFeatures", "extract", "list_metafeatures"]
