"""How datasets and configs become numbers for the meta-model.

- :class:`MetaFeatureScaler`: the meta-features a model uses (those present on most training datasets),
  ``log1p`` for heavy-tailed non-negative ones (counts, sizes), then a robust centre/scale (median and
  inter-quartile range) and clipping, so that no single quality dominates an L1 distance (as
  auto-sklearn scales its meta-features before its nearest-dataset search).
- :class:`ConfigEncoder`: a (family, config) as a family code plus the config's position in the
  family's unit cube (``Family.to_unit``), one column per ``family:param``; families that are not in
  :mod:`autometa.spaces` (imported learners such as ``lcdb:SVC_poly``) are encoded by their code only.

Both serialize to plain JSON (``to_dict`` / ``from_dict``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

#: The compact meta-feature set (about auto-sklearn's size): sizes and types, class balance, a few
#: distribution and correlation summaries, entropy and mutual information, the landmarkers (cheap
#: models' scores, the most telling about which family will do well) and the decision tree's shape.
COMPACT_METAFEATURES: tuple[str, ...] = (
    "NumberOfInstances", "NumberOfFeatures", "NumberOfClasses", "Dimensionality", "PercentageOfMissingValues",
    "PercentageOfInstancesWithMissingValues", "PercentageOfNumericFeatures", "PercentageOfSymbolicFeatures",
    "PercentageOfBinaryFeatures", "MajorityClassPercentage", "MinorityClassPercentage", "ImbalanceRatio",
    "NumberOfFeaturesAfterBinarization", "MeanNominalAttDistinctValues", "MaxNominalAttDistinctValues",
    "AutoCorrelation",
    "MeanSkewnessOfNumericAtts", "MaxSkewnessOfNumericAtts", "MeanKurtosisOfNumericAtts", "MaxKurtosisOfNumericAtts",
    "PCAFractionOfComponentsFor95PercentVariance", "PCAExplainedVarianceFirstPC", "MeanCorrelationOfNumericAtts",
    "PercentageOfHighlyCorrelatedAttPairs", "TargetSkewness", "TargetKurtosis",
    "MeanTargetCorrelationOfNumericAtts", "MaxTargetCorrelationOfNumericAtts",
    "ClassEntropy", "NormalizedClassEntropy", "MeanAttributeEntropy", "MeanMutualInformation",
    "MaxMutualInformation", "EquivalentNumberOfAtts", "MeanNoiseToSignalRatio",
    "NaiveBayesAUC", "NaiveBayesErrRate", "DecisionStumpAUC", "DecisionStumpErrRate", "DecisionStumpR2",
    "kNN1NAUC", "kNN1NErrRate", "kNN1NR2", "RandomTreeDepth1ErrRate", "RandomTreeDepth3ErrRate",
    "RandomTreeDepth3R2", "LinearDiscriminantAUC", "LinearDiscriminantErrRate", "LinearRegressionR2",
    "TreeNodes", "TreeDepth", "TreeNodesPerInstance", "MaxFeatureImportance", "MeanLeavesCorroboration",
)
#: Fraction of training datasets on which a meta-feature must be defined to be used.
MIN_PRESENT = 0.5
#: Scaled meta-features are clipped to this many robust standard deviations.
CLIP = 4.0


class MetaFeatureScaler:
    """Choose, transform and scale meta-features (fitted on the training datasets)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.log: list[bool] = []
        self.center = np.zeros(0)
        self.scale = np.ones(0)
        self.fill = np.zeros(0)

    def fit(self, frame: pd.DataFrame, names: Sequence[str] | None = None) -> MetaFeatureScaler:
        """Fit on a datasets x meta-feature table (raw values, NaN where undefined)."""
        frame = frame.astype(float).replace([np.inf, -np.inf], np.nan)
        candidates = list(names) if names is not None else list(frame.columns)
        chosen = []
        for name in candidates:
            if name not in frame.columns:
                continue
            column = frame[name]
            if column.notna().mean() < MIN_PRESENT or column.nunique(dropna=True) < 2:
                continue
            chosen.append(name)
        self.names = chosen
        logs, centers, scales, fills = [], [], [], []
        for name in chosen:
            values = frame[name].to_numpy(dtype=float)
            finite = values[np.isfinite(values)]
            # Heavy-tailed non-negative qualities (counts, sizes, ratios) are compared on a log scale.
            use_log = bool(finite.min() >= 0 and np.quantile(finite, 0.9) > 10 * max(np.median(finite), 1e-9)
                           and finite.max() > 10)
            t = np.log1p(finite) if use_log else finite
            center = float(np.median(t))
            q1, q3 = np.quantile(t, [0.25, 0.75])
            scale = float(q3 - q1) / 1.349  # IQR of a normal distribution is 1.349 sigma
            if not scale > 1e-12:
                scale = float(np.std(t)) or 1.0
            logs.append(use_log)
            centers.append(center)
            scales.append(scale)
            fills.append(0.0)  # a missing quality sits at the centre after scaling
        self.log, self.center, self.scale, self.fill = logs, np.array(centers), np.array(scales), np.array(fills)
        return self

    def raw(self, data: pd.DataFrame | Mapping[str, float]) -> np.ndarray:
        """The chosen meta-features as a float matrix (rows: datasets), NaN where missing."""
        if isinstance(data, pd.DataFrame):
            out = np.full((len(data), len(self.names)), np.nan)
            for j, name in enumerate(self.names):
                if name in data.columns:
                    out[:, j] = pd.to_numeric(data[name], errors="coerce").to_numpy(dtype=float)
        else:
            out = np.array([[_as_float(data.get(name)) for name in self.names]])
        out[~np.isfinite(out)] = np.nan
        return out

    def transform(self, data: pd.DataFrame | Mapping[str, float]) -> np.ndarray:
        """Scaled meta-features (rows: datasets), missing values at the centre, clipped to +-CLIP."""
        raw = self.raw(data)
        logs = np.array(self.log, dtype=bool)
        raw[:, logs] = np.log1p(np.clip(raw[:, logs], 0, None))
        z = (raw - self.center) / self.scale
        z = np.where(np.isnan(z), self.fill, z)
        return np.clip(z, -CLIP, CLIP)

    def to_dict(self) -> dict[str, Any]:
        return {"names": self.names, "log": self.log, "center": self.center.tolist(),
                "scale": self.scale.tolist(), "fill": self.fill.tolist()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetaFeatureScaler:
        self = cls()
        self.names = list(data["names"])
        self.log = [bool(v) for v in data["log"]]
        self.center = np.asarray(data["center"], dtype=float)
        self.scale = np.asarray(data["scale"], dtype=float)
        self.fill = np.asarray(data["fill"], dtype=float)
        return self


class ConfigEncoder:
    """(family, config) -> [family code, unit-cube params of every known family] (NaN elsewhere)."""

    def __init__(self, families: Sequence[str] = ()) -> None:
        self.families = list(families)
        self.columns: list[str] = []
        self._offsets: dict[str, tuple[int, list[str]]] = {}
        self._build()

    def _build(self) -> None:
        from autometa.spaces import list_families

        known = set(list_families())
        self.columns, self._offsets = [], {}
        for family in self.families:
            if family not in known:
                continue
            from autometa.spaces import get_family

            params = list(get_family(family).space)
            self._offsets[family] = (len(self.columns), params)
            self.columns.extend(f"{family}:{p}" for p in params)

    @property
    def width(self) -> int:
        """Number of columns of :meth:`encode` (1 family code + the param columns)."""
        return 1 + len(self.columns)

    def family_code(self, family: str) -> int:
        return self.families.index(family) if family in self.families else -1

    def unit(self, family: str, config: Mapping[str, Any]) -> np.ndarray | None:
        """The config's point of its family's unit cube, or None for families without a space."""
        if family not in self._offsets:
            return None
        from autometa.spaces import get_family

        spec = get_family(family)
        try:
            return spec.to_unit(config)
        except Exception:  # an imported config outside our space: clip it into the space first
            return spec.to_unit(_clip_into(spec.space, {**spec.default, **{k: v for k, v in config.items()
                                                                            if k in spec.space}}))

    def encode(self, families: Sequence[str], configs: Sequence[Mapping[str, Any]], task: str | None = None) -> np.ndarray:
        """Rows ``[family code, params...]`` for the given candidates.

        With ``task``, parameters that do not apply to it (SVR's ``epsilon`` for classification) sit
        at the centre of their axis, so that distances between configs ignore them.
        """
        from autometa.spaces import get_family

        out = np.full((len(families), self.width), np.nan)
        for i, (family, config) in enumerate(zip(families, configs, strict=True)):
            out[i, 0] = self.family_code(family)
            point = self.unit(family, config)
            if point is not None:
                start, params = self._offsets[family]
                point = np.clip(point, 0.0, 1.0)
                if task is not None:
                    applies = get_family(family).params_for(task)
                    point = np.where([p in applies for p in params], point, 0.5)
                out[i, 1 + start: 1 + start + len(point)] = point
        return out

    def for_task(self, encoded: np.ndarray, families: Sequence[str], task: str) -> np.ndarray:
        """:meth:`encode` with ``task`` from the rows :meth:`encode` gave without one (a copy): the
        parameters that do not apply to ``task`` moved to the centre of their axis. The same numbers as
        encoding again, without computing every config's unit-cube point twice."""
        from autometa.spaces import get_family

        out = np.array(encoded, dtype=float, copy=True)
        masks: dict[str, np.ndarray] = {}
        for i, family in enumerate(families):
            if family not in self._offsets:
                continue
            start, params = self._offsets[family]
            if family not in masks:
                applies = get_family(family).params_for(task)
                masks[family] = np.array([p in applies for p in params], dtype=bool)
            block = out[i, 1 + start: 1 + start + len(params)]
            out[i, 1 + start: 1 + start + len(params)] = np.where(masks[family], block, 0.5)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"families": self.families, "columns": self.columns}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConfigEncoder:
        self = cls(data["families"])
        if self.columns != list(data["columns"]):
            from autometa.errors import ArtifactError

            raise ArtifactError("The meta-model was fitted on other search spaces than this autometa's; it is rebuilt.")
        return self


def _clip_into(space: Mapping[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, IntDistribution

    out = {}
    for name, dist in space.items():
        value = config[name]
        if isinstance(dist, CategoricalDistribution):
            out[name] = value if value in dist.choices else dist.choices[0]
        else:
            value = min(max(float(value), dist.low), dist.high)
            out[name] = int(round(value)) if isinstance(dist, IntDistribution) else value
    return out


def _as_float(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out if math.isfinite(out) else math.nan


def config_key(family: str, config_id: str) -> str:
    """The candidate key used in score matrices: ``family/config_id``."""
    return f"{family}/{config_id}"


def config_json(config: Mapping[str, Any]) -> str:
    return json.dumps(dict(config), sort_keys=True, default=str)
