"""Import LCDB (the ``lcdb`` pip package) into knowledge-base tables.

LCDB 1.0 (Mohr et al., 2022) holds learning curves of 20 scikit-learn classifiers on OpenML
datasets, with OpenML's own data qualities for most of them. The package ships them as CSV files in
its install folder; this module reads those files directly (importing ``lcdb`` itself would pull in
openml, matplotlib and func_timeout for nothing).

What is taken, exactly:

- **Datasets**: every OpenML dataset that has both learning curves and a row in ``datasets.csv``
  (197 in lcdb 0.1.0; 51 more have curves but no qualities and are skipped, since a dataset without
  meta-features teaches the meta-model nothing). ``dataset_id`` is ``"lcdb/<openml id>"``; the
  meta-features are OpenML's qualities from ``datasets.csv`` as ``mf.<QualityName>`` columns
  (``NumberOfFeaturesAfterBinarization``, lcdb's own count, is left out: it is not an OpenML
  quality). ``n_features`` is ``NumberOfFeatures - 1`` because OpenML counts the target.
- **Anchor**: the largest training size of each dataset, i.e. the largest ``size_train`` any
  learner reached on it. That equals LCDB's full size ``int(max(int(0.9 n) * 0.9, n - 10000))``
  (90 % of the 90 % outer-train split, at most 5000 rows held out each for validation and test).
- **Score**: column ``score_test`` (the outer held-out test split) at that anchor, averaged over
  all (outer seed, inner seed) pairs LCDB ran there (usually 5 x 5 = 25); the individual values go
  to ``fold_scores``. ``fit_seconds`` is the mean of ``traintime``; ``n_rows_used`` is the anchor.
- **Metrics** (one CSV per metric in the package):

  ==========================  ===================  =============================================
  lcdb file                   our column           note
  ==========================  ===================  =============================================
  ``database-accuracy.csv``   ``accuracy``         plain accuracy (an imported-only metric, see
                                                   autometa.evaluation._metrics). LCDB has no
                                                   balanced accuracy, which therefore stays NaN.
  ``database-auc.csv``        ``roc_auc``          binary datasets only (LCDB computes no
                                                   multiclass AUC); learners without
                                                   ``predict_proba`` are scored from hard labels.
  ``database-logloss.csv``    ``log_loss``         learners without ``predict_proba`` are scored
                                                   from one-hot hard predictions (so huge values).
  ``database-f1.csv``         (not imported)       minority-class F1, not one of our metrics.
  ==========================  ===================  =============================================

- **Status**: a learner that has a curve on a dataset but no result at the full anchor (LCDB's
  per-job time limit usually stopped it earlier) gets a row with status ``"failed"`` and the reason
  in ``error``. (Dataset, learner) pairs that LCDB has no curve for at all are not invented.

Learners (LCDB ran each with scikit-learn's defaults on one-hot encoded, median/mode-imputed, **unscaled**
features; ``SVC_*`` are ``SVC(kernel=...)`` except ``SVC_linear``, which is ``LinearSVC``):

==============================================================  ==========================
lcdb learner                                                    family
==============================================================  ==========================
sklearn.ensemble.RandomForestClassifier                         ``random_forest``
sklearn.ensemble.ExtraTreesClassifier                           ``extra_trees``
sklearn.linear_model.LogisticRegression                         ``linear``
SVC_rbf (``SVC(kernel="rbf")``)                                 ``svm``
sklearn.neighbors.KNeighborsClassifier                          ``knn``
SVC_linear (``LinearSVC()``), SVC_poly, SVC_sigmoid             ``lcdb:SVC_linear``, ...
sklearn.ensemble.GradientBoostingClassifier                     ``lcdb:GradientBoostingClassifier``
sklearn.tree.DecisionTreeClassifier, ExtraTreeClassifier        ``lcdb:DecisionTreeClassifier``, ...
sklearn.linear_model.{PassiveAggressive,Perceptron,Ridge,SGD}*  ``lcdb:Perceptron``, ...
sklearn.neural_network.MLPClassifier                            ``lcdb:MLPClassifier``
sklearn.discriminant_analysis.{Linear,Quadratic}DA              ``lcdb:LinearDiscriminantAnalysis``, ...
sklearn.naive_bayes.{BernoulliNB, MultinomialNB}                ``lcdb:BernoulliNB``, ...
==============================================================  ==========================

LCDB has no histogram gradient boosting or LightGBM. ``config`` holds the hyperparameters the
learner ran with. For mapped families they are scikit-learn's defaults written in the terms of our
search space (:mod:`autometa.spaces`), so the meta-model can place the run in that space:
random forest / extra trees ``{"n_estimators": 100, "max_features": int(sqrt(p)) / p,
"min_samples_leaf": 1, "bootstrap": True / False}`` with ``p`` the one-hot encoded width
(``NumberOfFeaturesAfterBinarization``); linear ``{"C": 1.0}``; svm ``{"C": 1.0, "gamma": 1.0}``
(``gamma="scale"`` is our relative gamma 1); knn ``{"n_neighbors": 5, "weights": "uniform", "p": 2}``.
For the other learners it is the arguments LCDB passed (``{"kernel": "poly"}``, or ``{}`` for pure
defaults). ``config_id`` is ``"lcdb-<learner>"``. Neither the preprocessing (LCDB does not scale, our
linear, svm and knn pipelines do) nor LCDB's train/test protocol equals ours, so every row carries
``protocol_version`` 0 (foreign protocol) and ``row_cap`` 0 (no cap applied by autometa).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autometa.errors import InputError
from autometa.kb import _schema as S
from autometa.kb._import_common import FOREIGN_PROTOCOL_VERSION, ImportResult, _version, command_line
from autometa.kb._lcdb_files import METRIC_FILES, lcdb_folder, lcdb_qualities

SOURCE = "lcdb"

_CURVE_COLUMNS = ["openmlid", "learner", "size_train", "outer_seed", "inner_seed", "traintime", "score_test"]
#: Columns of datasets.csv that are not OpenML qualities.
_NOT_QUALITIES = ("openmlid", "Name", "NumberOfFeaturesAfterBinarization")


@dataclass(frozen=True)
class LcdbLearner:
    """How one LCDB learner enters the knowledge base."""

    family: str
    #: The scikit-learn estimator LCDB instantiated.
    estimator: str
    #: The hyperparameters it ran with (see the module docstring).
    config: dict[str, Any] = field(default_factory=dict)


def _own(name: str, estimator: str, **config: Any) -> tuple[str, LcdbLearner]:
    short = name.rsplit(".", 1)[-1]
    return name, LcdbLearner(f"{SOURCE}:{short}", estimator, dict(config))


# scikit-learn's defaults as LCDB 1.0 ran them, in the terms of our search spaces (autometa.spaces):
# forests' max_features="sqrt" becomes the fraction int(sqrt(p)) / p of the p one-hot encoded features
# (resolved per dataset); SVC's gamma="scale" is our relative gamma 1 (see autometa.spaces.svm).
_SQRT = "sqrt"
LEARNERS: dict[str, LcdbLearner] = dict(
    [
        ("sklearn.ensemble.RandomForestClassifier", LcdbLearner(
            "random_forest", "sklearn.ensemble.RandomForestClassifier",
            {"n_estimators": 100, "max_features": _SQRT, "min_samples_leaf": 1, "bootstrap": True})),
        ("sklearn.ensemble.ExtraTreesClassifier", LcdbLearner(
            "extra_trees", "sklearn.ensemble.ExtraTreesClassifier",
            {"n_estimators": 100, "max_features": _SQRT, "min_samples_leaf": 1, "bootstrap": False})),
        ("sklearn.linear_model.LogisticRegression", LcdbLearner(
            "linear", "sklearn.linear_model.LogisticRegression", {"C": 1.0})),
        ("SVC_rbf", LcdbLearner("svm", "sklearn.svm.SVC", {"C": 1.0, "gamma": 1.0})),
        ("sklearn.neighbors.KNeighborsClassifier", LcdbLearner(
            "knn", "sklearn.neighbors.KNeighborsClassifier", {"n_neighbors": 5, "weights": "uniform", "p": 2})),
        _own("SVC_linear", "sklearn.svm.LinearSVC"),
        _own("SVC_poly", "sklearn.svm.SVC", kernel="poly"),
        _own("SVC_sigmoid", "sklearn.svm.SVC", kernel="sigmoid"),
        _own("sklearn.ensemble.GradientBoostingClassifier", "sklearn.ensemble.GradientBoostingClassifier"),
        _own("sklearn.tree.DecisionTreeClassifier", "sklearn.tree.DecisionTreeClassifier"),
        _own("sklearn.tree.ExtraTreeClassifier", "sklearn.tree.ExtraTreeClassifier"),
        _own("sklearn.linear_model.PassiveAggressiveClassifier", "sklearn.linear_model.PassiveAggressiveClassifier"),
        _own("sklearn.linear_model.Perceptron", "sklearn.linear_model.Perceptron"),
        _own("sklearn.linear_model.RidgeClassifier", "sklearn.linear_model.RidgeClassifier"),
        _own("sklearn.linear_model.SGDClassifier", "sklearn.linear_model.SGDClassifier"),
        _own("sklearn.neural_network.MLPClassifier", "sklearn.neural_network.MLPClassifier"),
        _own("sklearn.discriminant_analysis.LinearDiscriminantAnalysis",
             "sklearn.discriminant_analysis.LinearDiscriminantAnalysis"),
        _own("sklearn.discriminant_analysis.QuadraticDiscriminantAnalysis",
             "sklearn.discriminant_analysis.QuadraticDiscriminantAnalysis"),
        _own("sklearn.naive_bayes.BernoulliNB", "sklearn.naive_bayes.BernoulliNB"),
        _own("sklearn.naive_bayes.MultinomialNB", "sklearn.naive_bayes.MultinomialNB"),
    ]
)


def _resolve_config(config: dict[str, Any], n_encoded: float) -> dict[str, Any]:
    """``config`` with max_features="sqrt" turned into the fraction scikit-learn used on this dataset."""
    if config.get("max_features") != _SQRT:
        return config
    if not (n_encoded >= 1):  # unknown width: leave the parameter out rather than guess
        return {k: v for k, v in config.items() if k != "max_features"}
    p = int(n_encoded)
    return {**config, "max_features": max(1, int(math.sqrt(p))) / p}


def import_lcdb(
    openml_ids: Iterable[int] | None = None,
    *,
    folder: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> ImportResult:
    """Read LCDB into a ``datasets`` and an ``evaluations`` table (see the module docstring).

    Args:
        openml_ids: import only these OpenML datasets (default: all that have curves and qualities).
        folder: the lcdb data folder (default: the installed package's).
        progress: called with a short message before each step (the CLI shows it).

    Returns:
        The ``datasets`` and ``evaluations`` rows, with notes on what was left out.

    Raises:
        InputError: lcdb is missing, or an id in ``openml_ids`` is not in LCDB.
    """
    say = progress or (lambda message: None)
    folder = Path(folder) if folder is not None else lcdb_folder()
    qualities = lcdb_qualities(folder)
    wanted = None if openml_ids is None else sorted({int(i) for i in openml_ids})
    if wanted is not None:
        unknown = sorted(set(wanted) - set(qualities["openmlid"].astype(int)))
        if unknown:
            raise InputError(
                f"OpenML dataset {unknown[0]} has no qualities in lcdb's datasets.csv; "
                "choose ids listed there (or import all by giving none)."
            )

    say("reading database-accuracy.csv")
    accuracy = _read_curves(folder / "database-accuracy.csv", wanted)
    ids = sorted(set(accuracy["openmlid"]) & set(qualities["openmlid"]))
    if wanted is not None and len(ids) < len(wanted):
        absent = sorted(set(wanted) - set(ids))[0]
        raise InputError(
            f"OpenML dataset {absent} has qualities but no learning curves in lcdb; leave it out and retry."
        )
    notes = []
    without = len(set(accuracy["openmlid"]) - set(ids))
    if without:
        notes.append(f"{without} LCDB datasets have learning curves but no qualities in datasets.csv; skipped.")
    curves: dict[str, pd.DataFrame] = {"accuracy": accuracy}
    for lcdb_metric in METRIC_FILES:
        if lcdb_metric not in curves:
            say(f"reading database-{lcdb_metric}.csv")
            curves[lcdb_metric] = _read_curves(folder / f"database-{lcdb_metric}.csv", wanted)
    qualities = qualities[qualities["openmlid"].isin(ids)]
    say(f"building rows for {len(ids)} datasets")
    datasets = _datasets_table(qualities)
    evaluations = _evaluations_table(curves, accuracy, qualities)
    record = {"source": SOURCE, "command": command_line(), "lcdb": _version("lcdb"), "folder": str(folder),
              "anchor": "largest size_train per dataset", "score": "score_test, mean over seeds",
              "openml_ids": wanted}
    return ImportResult(datasets, evaluations, notes, record)


def _read_curves(path: Path, wanted: Sequence[int] | None) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    table = pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(include_columns=_CURVE_COLUMNS))
    if wanted is not None:
        table = table.filter(pc.is_in(table["openmlid"], value_set=pa.array(wanted, type=pa.int64())))
    return table.to_pandas()


def _datasets_table(qualities: pd.DataFrame) -> pd.DataFrame:
    quality_names = [c for c in qualities.columns if c not in _NOT_QUALITIES]
    ids = qualities["openmlid"].astype(int)
    n_features = pd.to_numeric(qualities["NumberOfFeatures"], errors="coerce") - 1
    frame = pd.DataFrame(
        {
            "dataset_id": [S.dataset_id(SOURCE, str(i)) for i in ids],
            "source": SOURCE,
            "name": qualities["Name"].astype(str).to_numpy(),
            "openml_id": ids.to_numpy(),
            "task": "classification",
            "n_rows": pd.to_numeric(qualities["NumberOfInstances"], errors="coerce").to_numpy(),
            "n_features": n_features.to_numpy(),
            "n_classes": pd.to_numeric(qualities["NumberOfClasses"], errors="coerce").to_numpy(),
            "row_cap": 0,
            "protocol_version": FOREIGN_PROTOCOL_VERSION,
        }
    )
    mf = qualities[quality_names].apply(pd.to_numeric, errors="coerce").astype("float64")
    mf.columns = [S.MF_PREFIX + c for c in quality_names]
    return pd.concat([frame, mf.reset_index(drop=True)], axis=1)


def _at_anchor(curves: pd.DataFrame, anchors: pd.Series) -> pd.DataFrame:
    """The rows of ``curves`` at each dataset's largest anchor."""
    at = curves["size_train"].to_numpy() == curves["openmlid"].map(anchors).to_numpy()
    return curves[at]


def _evaluations_table(curves: dict[str, pd.DataFrame], accuracy: pd.DataFrame, qualities: pd.DataFrame) -> pd.DataFrame:
    ids = set(qualities["openmlid"].astype(int))
    accuracy = accuracy[accuracy["openmlid"].isin(ids)]
    # The full anchor of a dataset is the largest training size any learner reached on it.
    anchors = accuracy.groupby("openmlid")["size_train"].max()
    reached = accuracy.groupby(["openmlid", "learner"])["size_train"].max()

    grouped: dict[str, Any] = {}
    for lcdb_metric, frame in curves.items():
        top = _at_anchor(frame[frame["openmlid"].isin(ids)], anchors)
        grouped[lcdb_metric] = {key: rows for key, rows in top.groupby(["openmlid", "learner"])}

    # The width scikit-learn saw: lcdb one-hot encodes; fall back to OpenML's count without the target.
    width = qualities.set_index("openmlid")["NumberOfFeaturesAfterBinarization"].fillna(
        qualities.set_index("openmlid")["NumberOfFeatures"] - 1)
    rows = []
    for (openml_id, learner), largest in reached.items():
        spec = LEARNERS.get(learner) or _own(learner, learner)[1]
        anchor = int(anchors[openml_id])
        scores: dict[str, float] = {}
        fold_scores: dict[str, list[float]] = {}
        fit_seconds = math.nan
        for lcdb_metric, column in METRIC_FILES.items():
            part = grouped[lcdb_metric].get((openml_id, learner))
            if part is None:
                continue
            part = part.sort_values(["outer_seed", "inner_seed"])
            values = part["score_test"].to_numpy(dtype=float)
            finite = values[np.isfinite(values)]
            if len(finite) == 0:
                continue
            fold_scores[column] = [float(v) for v in values]
            scores[column] = float(finite.mean())
            if lcdb_metric == "accuracy":
                fit_seconds = float(part["traintime"].mean())
        ok = int(largest) == anchor and bool(fold_scores)
        error = "" if ok else (
            f"lcdb has no result of this learner at the full training size {anchor} "
            f"(its learning curve stops at {int(largest)} rows)"
        )
        rows.append(
            S.evaluation_row(
                dataset_id=S.dataset_id(SOURCE, str(int(openml_id))),
                family=spec.family,
                config_id=f"{SOURCE}-{learner.rsplit('.', 1)[-1]}",
                config=_resolve_config(spec.config, float(width.get(openml_id, math.nan))),
                scores=scores,
                fold_scores=fold_scores,
                fit_seconds=fit_seconds,
                status=S.STATUS_OK if ok else "failed",
                error=error,
                n_rows_used=anchor,
                source=SOURCE,
                protocol_version=FOREIGN_PROTOCOL_VERSION,
            )
        )
    return pd.DataFrame(rows) if rows else S.empty_evaluations()
