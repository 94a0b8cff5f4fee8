"""The :class:`KnowledgeBase`: two tables of task histories, stored as a folder of Parquet + JSON."""

from __future__ import annotations

import datetime as _dt
import io
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from autometa.errors import ArtifactError, InputError
from autometa.io import atomic_write, check_parquet_bytes, read_json, read_verified, write_json
from autometa.kb import _schema as S


def shipped_kb_path() -> Path:
    """Where the knowledge base shipped inside the package lives (``autometa/data/kb``)."""
    from autometa.data import artifact_path

    return artifact_path("kb")


class KnowledgeBase:
    """Evaluation histories of (family, config) on many datasets: the meta-model's training data.

    Two tables (see :mod:`autometa.kb._schema`): ``datasets`` (one row per dataset, with meta-features
    in ``mf.*`` columns) and ``evaluations`` (one row per (dataset, family, config)).

        >>> kb = KnowledgeBase.load()                      # the shipped KB
        >>> kb.matrix("lightgbm", "balanced_accuracy")     # datasets x config_id
        >>> kb.add(datasets_df, evaluations_df).save("my-kb")

    Args:
        datasets: the ``datasets`` table (validated and given canonical dtypes).
        evaluations: the ``evaluations`` table.
        meta: free-form build record kept in kb.json (protocol, build command, counts, ...).
    """

    def __init__(
        self,
        datasets: pd.DataFrame | None = None,
        evaluations: pd.DataFrame | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        self._datasets = S.validate_datasets(datasets if datasets is not None else S.empty_datasets())
        self._evaluations = S.validate_evaluations(evaluations if evaluations is not None else S.empty_evaluations())
        self.meta: dict[str, Any] = dict(meta or {})

    # ------------------------------------------------------------------ tables
    @property
    def datasets(self) -> pd.DataFrame:
        """The ``datasets`` table (a copy)."""
        return self._datasets.copy()

    @property
    def evaluations(self) -> pd.DataFrame:
        """The ``evaluations`` table (a copy)."""
        return self._evaluations.copy()

    @property
    def metafeature_names(self) -> list[str]:
        """Meta-feature names (without the ``mf.`` prefix) present in the ``datasets`` table."""
        return [c[len(S.MF_PREFIX):] for c in self._datasets.columns if c.startswith(S.MF_PREFIX)]

    def __len__(self) -> int:
        return len(self._evaluations)

    def __repr__(self) -> str:
        return f"KnowledgeBase(datasets={len(self._datasets)}, evaluations={len(self._evaluations)})"

    def matrix(self, family: str, metric: str | None = None, *, task: str | None = None,
               only_ok: bool = True, protocol_version: int | None = None) -> pd.DataFrame:
        """Mean scores as a datasets x config_id table (rows ``dataset_id``, NaN where not evaluated).

        Args:
            family: the family (or imported learner name, e.g. ``"lcdb:GradientBoostingClassifier"``).
            metric: a metric name; default: the primary metric of ``task`` (balanced accuracy, or R2
                when ``task="regression"``).
            task: keep only datasets of this task (default: the task ``metric`` belongs to).
            only_ok: leave failed and timed-out evaluations out (NaN).
            protocol_version: keep only rows scored under this protocol version (imported histories
                carry 0, a foreign protocol); default: all.

        Rows that do not report ``metric`` at all (LCDB has no balanced accuracy; our protocol no plain
        accuracy) are left out, so they add no all-NaN row or column.
        """
        if metric is None:
            metric = S.PRIMARY_METRIC[task or "classification"]
        if metric not in S.METRICS:
            raise InputError(f"Unknown metric '{metric}'; choose one of {', '.join(S.METRICS)}.")
        if task is None:
            task = S.METRIC_TASK[metric]
        rows = self._evaluations[self._evaluations["family"] == family]
        if only_ok:
            rows = rows[rows["status"] == S.STATUS_OK]
        if protocol_version is not None:
            rows = rows[rows["protocol_version"] == protocol_version]
        rows = rows[rows[metric].notna() | (rows["status"] != S.STATUS_OK)]
        ids = self._datasets.loc[self._datasets["task"] == task, "dataset_id"]
        rows = rows[rows["dataset_id"].isin(ids)]
        table = rows.pivot(index="dataset_id", columns="config_id", values=metric)
        table.index = table.index.astype(str)
        table.columns = table.columns.astype(str)
        table.index.name, table.columns.name = "dataset_id", "config_id"
        return table.sort_index().reindex(columns=_config_order(table.columns))

    def duplicate_groups(self) -> pd.Series:
        """Which datasets hold the same data, for leave-one-dataset-out evaluation.

        The same data appears under several sources (iris in PMLB, KEEL and scikit-learn; PMLB copies of
        OpenML datasets that LCDB also has). Hold a dataset out together with every dataset of its
        group, or the meta-model is asked about data it has seen.

        Contract: a string Series indexed by ``dataset_id`` (every dataset of :attr:`datasets`, in its
        order); equal values mean copies of the same data. The value is the smallest ``dataset_id`` of
        the group, so a dataset without copies is its own group and its value is its own id. Copies
        have the same task; they are found from what the ``datasets`` table stores (shape, class counts,
        meta-features, names), with the rules of :mod:`autometa.kb._duplicates`. The pairs and the rule
        that joined each are in ``autometa.kb._duplicates.duplicate_pairs(kb.datasets)``.
        """
        from autometa.kb._duplicates import duplicate_groups

        return duplicate_groups(self._datasets)

    def origin_groups(self) -> pd.Series:
        """Which datasets share an origin (copies, generator siblings, feature sets of one raw data, one
        study's several tables), for evaluation on data that is really unseen.

        Contract as :meth:`duplicate_groups` (a string Series indexed by ``dataset_id``, the value the
        smallest id of the group); every duplicate group lies inside one origin group. The rules are in
        :mod:`autometa.kb._origins`.
        """
        from autometa.kb._origins import origin_groups

        return origin_groups(self._datasets, self.duplicate_groups())

    # --------------------------------------------------------------- changes
    def add(self, datasets: pd.DataFrame | None = None, evaluations: pd.DataFrame | None = None) -> KnowledgeBase:
        """Add rows in place and return ``self``. A dataset or (dataset, family, config) already
        present is replaced by the new row."""
        if datasets is not None and len(datasets):
            new = S.validate_datasets(datasets, where="datasets being added")
            old = self._datasets[~self._datasets["dataset_id"].isin(new["dataset_id"])]
            self._datasets = S.validate_datasets(_concat(old, new))
        if evaluations is not None and len(evaluations):
            new = S.validate_evaluations(evaluations, where="evaluations being added")
            key = list(S.EVALUATION_KEY)
            merged = _concat(self._evaluations, new).drop_duplicates(subset=key, keep="last")
            self._evaluations = S.validate_evaluations(merged)
        return self

    def merge(self, other: KnowledgeBase) -> KnowledgeBase:
        """A new knowledge base with the rows of both (``other`` wins where both have a row)."""
        merged = KnowledgeBase(self._datasets, self._evaluations, meta=self.meta)
        merged.add(other._datasets, other._evaluations)
        # Keep how the other's rows were made: its build record and its imports (e.g. LCDB's).
        if other.meta.get("build"):
            merged.meta["merged"] = [*merged.meta.get("merged", []), other.meta["build"]]
        if other.meta.get("imports"):
            merged.meta["imports"] = [*merged.meta.get("imports", []), *other.meta["imports"]]
        return merged

    # ------------------------------------------------------------------- disk
    @classmethod
    def load(cls, path: str | Path | None = None) -> KnowledgeBase:
        """Read a knowledge-base folder (``None``: the one shipped with autometa).

        Raises:
            InputError: the folder does not exist or is not a knowledge base.
            ArtifactError: it was written in another format version (stale or foreign).
        """
        folder = shipped_kb_path() if path is None else Path(path).expanduser()
        meta_file = folder / S.META_FILE
        if not meta_file.exists():
            if path is None:
                raise ArtifactError(
                    f"The shipped knowledge base is missing ({meta_file}); reinstall autometa or build one "
                    "with 'autometa kb build'."
                )
            raise InputError(f"'{folder}' is not a knowledge base: it has no {S.META_FILE}; build one with 'autometa kb build'.")
        remedy = "rebuild it with 'autometa kb build' or 'autometa kb export'"
        meta = read_json(meta_file, format=S.FORMAT_NAME, version=S.FORMAT_VERSION, what="knowledge-base file",
                         remedy=remedy)
        files = meta.get("files") if isinstance(meta.get("files"), dict) else {}
        datasets = _read_parquet(folder / S.DATASETS_FILE, files.get(S.DATASETS_FILE), remedy)
        evaluations = _read_parquet(folder / S.EVALUATIONS_FILE, files.get(S.EVALUATIONS_FILE), remedy)
        kb = cls(datasets, evaluations, meta={k: v for k, v in meta.items() if k not in _GENERATED_META})
        return kb

    def save(self, path: str | Path) -> Path:
        """Write the folder ``path`` (datasets.parquet, evaluations.parquet, kb.json), atomically per file."""
        folder = Path(path).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        files = {S.DATASETS_FILE: _write_parquet(self._datasets, folder / S.DATASETS_FILE),
                 S.EVALUATIONS_FILE: _write_parquet(self._evaluations, folder / S.EVALUATIONS_FILE)}
        meta = {
            **self.meta,
            "saved_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "counts": self.info()["counts"],
            # Checked before Arrow reads the tables: a damaged file is one sentence, never a crash.
            "files": files,
        }
        # kb.json last: it names the tables' checksums, so it must not point at tables not yet written.
        write_json(folder / S.META_FILE, meta, format=S.FORMAT_NAME, version=S.FORMAT_VERSION, indent=2,
                   sort_keys=True)
        return folder

    # ------------------------------------------------------------------ report
    def info(self) -> dict[str, Any]:
        """Counts for people and scripts: datasets per source and task, evaluations and failures per
        family (with the sources of its rows and the most common error texts), which metrics each
        source reports, and the protocol(s) recorded."""
        ds, ev = self._datasets, self._evaluations
        per_source: dict[str, dict[str, int]] = {}
        for (source, task), n in ds.groupby(["source", "task"]).size().items():
            per_source.setdefault(str(source), {})[str(task)] = int(n)
        per_family: dict[str, dict[str, Any]] = {}
        for family, rows in ev.groupby("family"):
            statuses = rows["status"].value_counts()
            errors = rows.loc[rows["status"] != S.STATUS_OK, "error"].map(_error_kind).value_counts()
            per_family[str(family)] = {
                "evaluations": int(len(rows)),
                "datasets": int(rows["dataset_id"].nunique()),
                "configs": int(rows["config_id"].nunique()),
                "configs_per_dataset": _configs_per_dataset(rows),
                **{status: int(statuses.get(status, 0)) for status in S.STATUSES},
                "sources": {str(k): int(v) for k, v in rows["source"].value_counts().sort_index().items()},
                "top_errors": {str(k): int(v) for k, v in errors.head(5).items()},
            }
        # Which metric columns each source fills (LCDB: accuracy, ROC AUC of binary data, log loss).
        metrics = ev[list(S.METRICS)].notna().groupby(ev["source"]).sum()
        per_source_metrics = {str(source): {m: int(n) for m, n in row.items() if n}
                              for source, row in metrics.iterrows()}
        failures = int((ev["status"] != S.STATUS_OK).sum())
        return {
            "counts": {
                "datasets": int(len(ds)),
                "evaluations": int(len(ev)),
                "failures": failures,
                "metafeatures": len(self.metafeature_names),
            },
            "datasets_per_source": per_source,
            "families": per_family,
            "metrics_per_source": per_source_metrics,
            "protocol": self.meta.get("protocol"),
            "protocol_versions": sorted(int(v) for v in ev["protocol_version"].unique()),
            "build": self.meta.get("build"),
        }


_GENERATED_META = ("format", "format_version", "saved_at", "counts", "files")


def _configs_per_dataset(rows: pd.DataFrame) -> dict[str, int]:
    """Fewest and most configs of a family on one dataset, over the rows of our own protocol where there
    are any (an imported history has one config per dataset: it would hide an unfinished build)."""
    ours = rows[rows["protocol_version"] > 0]
    counts = (ours if len(ours) else rows).groupby("dataset_id")["config_id"].nunique()
    return {"min": int(counts.min()), "max": int(counts.max())}


def configs_range_text(per_dataset: dict[str, int]) -> str:
    """``info()``'s ``configs_per_dataset`` for people: ``"32"``, or ``"16-32"`` when datasets differ."""
    low, high = per_dataset["min"], per_dataset["max"]
    return str(low) if low == high else f"{low}-{high}"


def _config_order(columns: pd.Index) -> list[str]:
    # "default" first, then the rest in their natural (sorted) order: sobol-0001, sobol-0002, ...
    names = sorted(map(str, columns))
    return [c for c in names if c == S.DEFAULT_CONFIG_ID] + [c for c in names if c != S.DEFAULT_CONFIG_ID]


def _error_kind(error: str) -> str:
    # The first line, numbers masked, so that errors of one kind count together (sizes, seconds).
    first = (error or "").strip().splitlines()
    return re.sub(r"\d+(\.\d+)?", "N", first[0] if first else "")[:120]


def _concat(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    if not len(a):
        return b
    if not len(b):
        return a
    return pd.concat([a, b], ignore_index=True, sort=False)


def _read_parquet(path: Path, sha256: str | None, remedy: str) -> pd.DataFrame:
    """A table of the folder, its bytes checked (SHA-256 from kb.json, else Parquet's end markers) before
    Arrow parses them: Arrow can crash the process on damaged bytes."""
    if not path.exists():
        raise ArtifactError(f"The knowledge-base file '{path}' is missing; {remedy}.")
    raw = read_verified(path, sha256, what="knowledge-base file", remedy=remedy)
    check_parquet_bytes(raw, where=f"The knowledge-base file '{path}'", remedy=remedy)
    try:
        return pd.read_parquet(io.BytesIO(raw))
    except Exception as exc:  # pyarrow raises many types for damaged files
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ArtifactError(f"The knowledge-base file '{path}' is not readable Parquet ({reason}); {remedy}.") from None


def _write_parquet(frame: pd.DataFrame, path: Path) -> str:
    """Write ``frame`` atomically; returns the file's SHA-256."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, compression=S.PARQUET_COMPRESSION)
    return atomic_write(path, buffer.getvalue())
