"""``autometa.recommend``: the models and hyperparameters to try first on a new dataset, with evidence.

    >>> recs = autometa.recommend("data.csv", target="label")
    >>> recs[0].family, recs[0].config, recs[0].predicted_score
    >>> recs.to_frame()

The dataset's meta-features are computed on the rows the evaluation protocol would use (the
protocol's seeded row cap, 2,000 rows), exactly as they were for the knowledge base, so a 100,000-row
table costs no more than a 2,000-row one. The meta-model (fitted once per knowledge base and cached)
ranks the knowledge base's configs with a greedy portfolio over the nearest known datasets, which
keeps the list diverse.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autometa.errors import InputError

#: Known datasets shown as evidence for each recommendation: the nearest that evaluated its config.
N_EVIDENCE = 3
#: Rows of a big table that recommend types and characterizes. Meta-features use the protocol's
#: 2,000-row subsample anyway (as in the knowledge base), so typing every row of a huge table would
#: cost seconds for nothing; a seeded uniform subsample of this many rows stands for the table.
#: 5,000 leaves the protocol a 2,000-row subsample drawn from 2.5 times as many rows, and saved about
#: 0.35 s of recommend's 5 s budget on a 100,000 x 50 CSV against 20,000. The price: a class rarer
#: than about 1 in 5,000 rows may be missing from the sample, so class counts can differ slightly
#: from the knowledge base's full-table ones for such tables.
TYPE_ROWS = 5_000
#: Plain CSV/TSV files larger than this are sampled line by line before parsing.
_FAST_READ_BYTES = 8 << 20


@dataclass(frozen=True)
class Evidence:
    """How a recommended config did on one of the nearest known datasets that evaluated it.

    Attributes:
        dataset_id: the known dataset (e.g. ``"pmlb/iris"``).
        distance: meta-feature distance to the new dataset (mean absolute difference of scaled
            meta-features; 0 = identical).
        normalized_score: the config's normalized score there (1 = best config known there, 0 = the
            worst; a failed, timed-out or out-of-memory evaluation is 0).
    """

    dataset_id: str
    distance: float
    normalized_score: float


@dataclass(frozen=True)
class Recommendation:
    """One recommended (family, config).

    Attributes:
        rank: 1 = try first.
        family: the model family (:mod:`autometa.spaces`).
        config: its hyperparameters (every parameter of the family's space that applies to the task).
        config_id: the config's id in the knowledge base (``"default"``, ``"sobol-0003"``, ...).
        predicted_score: predicted normalized score on the new dataset (1 = as good as the best
            config known on similar datasets, 0 = as bad as the worst).
        uncertainty: standard deviation of that prediction.
        predicted_fit_seconds: predicted seconds of one fit on the protocol's rows (what one fold of
            a tuning trial costs).
        predicted_fit_seconds_full: the same extrapolated to all rows of the dataset (rough).
        evidence: the config's results on the nearest known datasets that evaluated it (at most
            ``N_EVIDENCE``, nearest first).
    """

    rank: int
    family: str
    config: dict[str, Any]
    config_id: str
    predicted_score: float
    uncertainty: float
    predicted_fit_seconds: float
    predicted_fit_seconds_full: float
    evidence: tuple[Evidence, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Recommendations(Sequence[Recommendation]):
    """A ranked list of :class:`Recommendation` (indexable, iterable), with what it was based on.

    Attributes:
        items: the recommendations, best first.
        dataset: a summary of the dataset (name, task, shape, ...).
        task, metric: what the scores predict.
        neighbors: the nearest known datasets (id, name, distance), nearest first.
        metafeatures: the dataset's meta-features (on the protocol's rows).
        seconds: time taken per step (load, metafeatures, model, rank).
    """

    items: tuple[Recommendation, ...]
    dataset: dict[str, Any]
    task: str
    metric: str
    neighbors: tuple[dict[str, Any], ...] = ()
    metafeatures: dict[str, float] = field(default_factory=dict, repr=False)
    seconds: dict[str, float] = field(default_factory=dict)

    def __getitem__(self, index):  # type: ignore[override]
        return self.items[index]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Recommendation]:
        return iter(self.items)

    @property
    def best(self) -> Recommendation:
        return self.items[0]

    def to_frame(self):
        """One row per recommendation (config as a dict column, evidence as dataset ids)."""
        import pandas as pd

        return pd.DataFrame([{**{k: v for k, v in r.to_dict().items() if k != "evidence"},
                              "evidence": ", ".join(e.dataset_id for e in r.evidence)} for r in self.items])

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "task": self.task, "metric": self.metric,
                "recommendations": [r.to_dict() for r in self.items], "neighbors": list(self.neighbors),
                "seconds": self.seconds}

    def __repr__(self) -> str:
        lines = [f"Recommendations for {self.dataset.get('name')!r} ({self.task}, {self.metric}):"]
        for r in self.items:
            lines.append(f"  {r.rank:>2}. {r.family:<22} {r.predicted_score:.3f} +- {r.uncertainty:.3f}  {r.config}")
        return "\n".join(lines)


def recommend(data: Any, target: str | None = None, metric: str | None = None,
              families: Sequence[str] | str | None = None, n: int = 10, time_budget: float | None = None,
              *, task: str | None = None, kb: Any = None, encoding: str | None = None) -> Recommendations:
    """Recommend the (family, config) pairs to try first on a dataset.

    Args:
        data: a path (CSV, Parquet, PMLB folder), a DataFrame, or a :class:`~autometa.data.Dataset`.
        target: the target column (default: ``target``/``class``/``label``/``y`` or the last column).
        metric: the metric to optimize (default: balanced accuracy or R2).
        families: only recommend these model families (default: all).
        n: how many recommendations.
        time_budget: leave out configs whose predicted fit on all rows takes longer (seconds).
        task: ``"classification"`` or ``"regression"`` (default: inferred from the target, see
            :func:`autometa.data.load_dataset`).
        kb: the knowledge base (default: the shipped one plus the user's imports), a folder or a
            :class:`~autometa.kb.KnowledgeBase`.
        encoding: the text encoding of a CSV/TSV file (default UTF-8), e.g. ``"latin-1"``.

    Returns:
        :class:`Recommendations`, best first.

    Raises:
        InputError: unreadable data, an unknown family, task or metric, a metric of the other task, a
            target that cannot be regressed, ``n < 1``.
    """
    seconds: dict[str, float] = {}
    start = time.perf_counter()

    _check_arguments(n, time_budget, metric, kb)
    family_list = check_families(families)
    dataset, n_rows = _load(data, target, task, encoding)
    metric = check_metric(metric, dataset.task)
    seconds["load"] = time.perf_counter() - start

    t = time.perf_counter()
    from autometa.kb import dataset_metafeatures

    mf = dataset_metafeatures(dataset)
    seconds["metafeatures"] = time.perf_counter() - t

    t = time.perf_counter()
    from autometa.metamodel import load_metamodel

    model = load_metamodel(dataset.task, metric, kb)
    seconds["model"] = time.perf_counter() - t

    t = time.perf_counter()
    items, neighbors = rank_candidates(model, mf, n, families=family_list, time_budget=time_budget,
                                       n_rows=n_rows)
    seconds["rank"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - start
    if not items:
        raise InputError(f"No known config fits a fit-time budget of {time_budget:g} s on this dataset; "
                         "raise --time-budget or leave it out.")
    summary = {**dataset.summary(), "n_rows": n_rows}
    if n_rows > dataset.n_rows:
        summary["notes"] = [*summary["notes"], f"Typed and characterized on a seeded sample of {dataset.n_rows} of "
                            f"the {n_rows} rows (meta-features use the protocol's row cap anyway)."]
    if isinstance(data, (str, Path)):
        summary["source"] = str(data)
    return Recommendations(items=tuple(items), dataset=summary, task=dataset.task, metric=metric,
                           neighbors=tuple(neighbors), metafeatures=dict(mf), seconds=seconds)


def _check_arguments(n: Any, time_budget: Any, metric: Any, kb: Any) -> None:
    """The scalar arguments of :func:`recommend`, checked before any work (a wrong type is an InputError)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InputError(f"n is how many recommendations to make, a whole number of at least 1; got {n!r}.")
    if time_budget is not None and (isinstance(time_budget, bool) or not isinstance(time_budget, (int, float))
                                    or not time_budget > 0):
        raise InputError(f"The time budget must be a positive number of seconds; got {time_budget!r}.")
    if metric is not None and not isinstance(metric, str):
        raise InputError(f"metric= names a metric (e.g. 'balanced_accuracy'); got a {type(metric).__name__}.")
    if kb is not None and not isinstance(kb, (str, Path)) and not hasattr(kb, "evaluations"):
        raise InputError(f"kb= is a knowledge-base folder or a KnowledgeBase; got a {type(kb).__name__}.")


def _load(data: Any, target: str | None, task: str | None = None,
          encoding: str | None = None) -> tuple[Any, int]:
    """The dataset to characterize (at most TYPE_ROWS rows of it) and its full number of rows."""
    import pandas as pd

    from autometa.data import Dataset, load_dataset, read_table

    if isinstance(data, Dataset):
        check_task(data, task)
        return data, data.n_rows
    if not isinstance(data, (str, Path)):
        if isinstance(data, pd.DataFrame) and len(data) > TYPE_ROWS:
            sample = data.sample(n=TYPE_ROWS, random_state=0).sort_index()
            return load_dataset(sample, target=target, task=task), len(data)
        dataset = load_dataset(data, target=target, task=task)
        return dataset, dataset.n_rows
    path = Path(data).expanduser()
    sampled = _sampled_read(path, encoding)
    if sampled is not None:
        raw, n_rows = sampled
        frame = raw.frame
    else:
        raw = read_table(path, encoding=encoding)
        frame, n_rows = raw.frame, len(raw.frame)
        if n_rows > TYPE_ROWS:
            frame = frame.sample(n=TYPE_ROWS, random_state=0).sort_index().reset_index(drop=True)
    dataset = load_dataset(frame, target=target or raw.target, task=task or raw.task, name=raw.name,
                           categorical=list(raw.categorical) or None)
    if len(frame) == n_rows:  # read whole: rows without a target are gone, not sampled away
        n_rows = dataset.n_rows
    return dataset, n_rows


def _sampled_read(path: Path, encoding: str | None = None) -> tuple[Any, int] | None:
    """A seeded sample of TYPE_ROWS data lines of a big plain CSV/TSV (``.gz`` too), parsed alone.

    Only the sampled lines are parsed, which is what makes ``recommend`` fast on big files. Files with
    quotes (a quoted field may span lines) or anything unusual return None: ``read_table`` then reads
    the whole file and reports problems in its own words.
    """
    name = path.name.lower()
    plain = name.removesuffix(".gz")
    if not path.is_file() or not plain.endswith((".csv", ".tsv")) or path.stat().st_size < _FAST_READ_BYTES:
        return None
    try:
        import gzip
        import io

        import numpy as np
        import pandas as pd

        from autometa.data import RawTable

        data = gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()
        if b'"' in data or b"\x00" in data:
            return None
        ends = _newlines(data)
        if not len(ends):
            return None
        starts = np.concatenate([[0], ends + 1])
        stops = np.concatenate([ends, [len(data)]])
        lengths = stops - starts
        header, body = 0, np.flatnonzero(lengths[1:] > 1) + 1  # blank lines (or a lone \r) are no rows
        if len(body) <= TYPE_ROWS:
            return None
        rng = np.random.default_rng(0)
        keep = np.sort(rng.choice(body, size=TYPE_ROWS, replace=False))
        text = b"\n".join(data[starts[i]:stops[i]] for i in [header, *keep]) + b"\n"
        first = data[starts[0]:stops[0]].decode(encoding or "utf-8", errors="replace")
        sep = "\t" if plain.endswith(".tsv") or ("\t" in first and "," not in first) else ","
        frame = pd.read_csv(io.BytesIO(text), sep=sep, skipinitialspace=True, low_memory=False, encoding=encoding,
                            na_values=["?", "NA", "N/A", "na", "nan", "NaN", "null", "NULL", ""])
        names = [str(c).strip() for c in frame.columns]
        if len(set(names)) != len(names) or len(names) < 2:
            return None
        frame.columns = names
        stem = path.name[: -len(".gz")] if name.endswith(".gz") else path.name
        return RawTable(frame=frame, name=stem.rsplit(".", 1)[0], source=str(path)), int(len(body))
    except Exception:  # anything unusual: the careful reader decides
        return None


def _newlines(data: bytes, block: int = 1 << 18) -> Any:
    """Positions of the line feeds of ``data``, ascending: the same as
    ``np.flatnonzero(np.frombuffer(data, np.uint8) == 10)``, a cache-sized block at a time (the mask of
    a whole 44 MB file is 44 MB to allocate and fault in: 0.05 s of CPU against 0.016 s by blocks)."""
    import numpy as np

    view = np.frombuffer(data, dtype=np.uint8)
    parts = [np.flatnonzero(view[start:start + block] == 10) + start for start in range(0, len(view), block)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.intp)


def check_families(families: Sequence[str] | str | None) -> list[str] | None:
    """Validate family names (a list, or one comma-separated string); unknown ones raise InputError."""
    if families is None:
        return None
    if isinstance(families, str):
        families = [f.strip() for f in families.split(",") if f.strip()]
    elif not isinstance(families, Sequence | set | frozenset) or not all(isinstance(f, str) for f in families):
        raise InputError(f"families= is a list of family names (or one comma-separated string); got {families!r}.")
    from autometa.spaces import get_family

    names = []
    for name in families:
        get_family(name)  # unknown family -> InputError naming the known ones
        if name not in names:
            names.append(name)
    if not names:
        raise InputError("The family filter is empty; name at least one family or leave it out.")
    return names


def check_task(dataset: Any, task: str | None) -> None:
    """A :class:`~autometa.data.Dataset` is typed already: a ``task`` other than its own raises InputError."""
    if task is not None and task != dataset.task:
        raise InputError(f"The dataset '{dataset.name}' was loaded as {dataset.task}, not {task}; load it again "
                         f"with task='{task}' (autometa.load_dataset) or pass the table itself.")


def check_metric(metric: str | None, task: str) -> str:
    """The metric to use for ``task`` (its primary metric by default); others raise InputError."""
    from autometa.evaluation import IMPORTED_METRICS, METRICS, PRIMARY_METRIC, metrics_for

    if metric is None:
        return PRIMARY_METRIC[task]
    if metric not in METRICS:
        raise InputError(f"Unknown metric '{metric}'; choose one of {', '.join(metrics_for(task))} for {task}.")
    if metric in IMPORTED_METRICS:
        # Such a metric is a column of imported histories (LCDB, OpenML) only: the protocol never
        # computes it, so there is nothing to predict it from for our configs, nor to score a trial by.
        raise InputError(f"Metric '{metric}' is only recorded for imported histories (LCDB, OpenML), not by "
                         f"autometa's evaluation protocol; use one of: {', '.join(metrics_for(task))}.")
    if metric not in metrics_for(task):
        raise InputError(f"Metric '{metric}' does not apply to a {task} dataset; choose one of "
                         f"{', '.join(metrics_for(task))}.")
    return metric


def _evidence(model: Any, ranked: Any, c: int) -> tuple[Evidence, ...]:
    """Candidate ``c``'s normalized scores on the ``N_EVIDENCE`` first datasets of ``ranked`` that evaluated it."""
    scores = model.normalized[ranked["index"].to_numpy(dtype=int), c]
    return tuple(Evidence(str(ranked["dataset_id"].iloc[j]), float(ranked["distance"].iloc[j]), float(scores[j]))
                 for j in np.flatnonzero(np.isfinite(scores))[:N_EVIDENCE])


def rank_candidates(model: Any, mf: dict[str, float], n: int, *, families: list[str] | None = None,
                    time_budget: float | None = None, n_rows: int | None = None,
                    exclude_datasets: Sequence[str] = ()) -> tuple[list[Recommendation], list[dict[str, Any]]]:
    """The meta-model's top ``n`` knowledge-base configs for meta-features ``mf``, as recommendations.

    A recommendation's config holds the parameters that apply to the model's task (no SVR ``epsilon``
    for classification); ``model.candidates`` keeps the whole stored config under its ``config_id``.
    """
    from autometa.spaces import get_family

    cands = model.candidates
    eligible = np.ones(len(cands), dtype=bool)
    if families is not None:
        eligible &= cands["family"].isin(families).to_numpy()
    nb = model.neighbors(mf, exclude=exclude_datasets)
    pred = model.predict(mf, neighbors=nb)
    fit = model.predict_fit_seconds(mf)
    fit_full = model.predict_fit_seconds(mf, n_rows=n_rows) if n_rows else fit
    if time_budget is not None:
        eligible &= ~(np.nan_to_num(fit_full, nan=0.0) > time_budget)
    order = model.rank(mf, n, eligible=eligible, exclude_datasets=exclude_datasets, prediction=pred)
    # Every known dataset, nearest first: the evidence for a config is where it was evaluated. The
    # nearest datasets overall often did not evaluate it (a knowledge base still being built, big
    # datasets with part of the config set), and a row of "not evaluated" is no evidence.
    ranked = model.neighbors(mf, k=len(model.dataset_ids), exclude=exclude_datasets)
    items = []
    for rank, c in enumerate(order, start=1):
        row = cands.iloc[c]
        evidence = _evidence(model, ranked, c)
        family = str(row["family"])
        items.append(Recommendation(
            rank=rank, family=family, config=get_family(family).config_for(row["config"], model.task),
            config_id=str(row["config_id"]),
            predicted_score=float(pred["mean"].iloc[c]), uncertainty=float(pred["std"].iloc[c]),
            predicted_fit_seconds=float(fit[c]), predicted_fit_seconds_full=float(fit_full[c]), evidence=evidence))
    neighbors = [{"dataset_id": d, "name": name, "distance": float(dist)}
                 for d, name, dist in zip(nb["dataset_id"], nb["name"], nb["distance"], strict=True)]
    return items, neighbors
