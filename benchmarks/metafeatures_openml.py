"""How many of OpenML's data qualities ``metafeatures`` reproduces, on the PMLB copies of OpenML datasets.

    python benchmarks/metafeatures_openml.py [--pmlb ../shared/datasets/pmlb]

The reference is lcdb's ``datasets.csv``: the qualities OpenML computed (Java/Weka) for 219
datasets. A PMLB dataset is paired with an lcdb dataset when the names agree (a few aliases) and so
do the numbers of rows, columns (target included) and, for classification, classes
(``autometa.kb._duplicates.pmlb_openml_pairs``, also used by the tests and the knowledge base). Every quality
OpenML reported is compared with ours at 1e-6 relative tolerance. Pairs are not always the same
table -- PMLB sometimes reorders rows, re-types attributes or re-encodes missing values, and lcdb
holds binarized-target copies of regression datasets -- so the report splits the pairs by that.

Results: ``benchmarks/results/metafeatures_openml.{csv,md}``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import metafeatures  # noqa: E402
from autometa.kb._duplicates import pmlb_openml_pairs  # noqa: E402
from autometa.kb._import_lcdb import lcdb_qualities  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
REL_TOL = 1e-6
# Why a pair differs, found by inspecting the values (see the README's "Meta-features" section).
REASONS = {
    "car": "PMLB rows in another order (AutoCorrelation differs), so Weka's folds differ",
    "german": "PMLB rows in another order",
    "vehicle": "PMLB rows in another order",
    "segmentation": "PMLB rows in another order; OpenML 40984 also has other attribute values",
    "mushroom": "PMLB codes OpenML's 2480 missing values as a category",
    "phoneme": "OpenML's copy is standardized (means 0, sd 1)",
    "spambase": "PMLB types 2 numeric attributes as categorical",
    "churn": "PMLB types 4 numeric attributes (e.g. phone number) as categorical",
    "contraceptive": "PMLB types all attributes as categorical (OpenML: 2 numeric)",
    "credit_g": "declared-but-unused categories (binarization width, NaiveBayes' Laplace counts)",
    "kr_vs_kp": "declared-but-unused categories (binary count, binarization width)",
    "krkopt": "declared-but-unused categories (binarization width, NaiveBayes' Laplace counts)",
    "connect_4": "lcdb lacks most of OpenML's values for it",
    "344_mv": "OpenML has 3 nominal attributes that PMLB codes as numbers",
    "485_analcatdata_vehicle": "OpenML has 4 nominal attributes that PMLB codes as numbers",
    "537_houses": "different attribute values (PMLB's 537 vs OpenML's 823)",
    "574_house_16H": "values stored with fewer digits (differences ~1e-5)",
}
REGRESSION_NOTE = (
    "values stored with ~8 digits: means that are zero up to ~1e-8 (and a skewness quartile in the "
    "6th digit) differ"
)


def target_free(quality: str) -> bool:
    """Qualities that do not involve the target: the only comparable ones on lcdb's binarized-target
    copies of regression datasets."""
    return quality.endswith("OfNumericAtts") or quality in {
        "NumberOfInstances",
        "NumberOfFeatures",
        "Dimensionality",
        "NumberOfMissingValues",
        "NumberOfInstancesWithMissingValues",
        "PercentageOfMissingValues",
        "PercentageOfInstancesWithMissingValues",
        "NumberOfFeaturesAfterBinarization",
    }


def load(folder: Path):
    meta = yaml.safe_load((folder / "metadata.yaml").read_text())
    frame = pd.read_csv(folder / f"{folder.name}.tsv.gz", sep="\t")
    y = frame.pop("target")
    categorical = [f["name"] for f in meta["features"] if f["type"] != "continuous"]
    return frame, y, meta["task"], categorical


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pmlb", type=Path, default=REPO.parent / "shared" / "datasets" / "pmlb")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    lcdb = lcdb_qualities()
    qualities = [c for c in lcdb.columns if c not in ("openmlid", "Name")]
    started = dt.datetime.now()
    rows, seconds = [], {}
    cached = functools.cache(load)  # the pairing reads each matching folder once
    pairs: dict[str, list[pd.Series]] = {}
    for name, row in pmlb_openml_pairs(args.pmlb, lcdb, load=cached):
        pairs.setdefault(name, []).append(row)
    for name, candidates in pairs.items():
        folder = args.pmlb / name
        X, y, task, categorical = cached(folder)
        start = time.perf_counter()
        mf = metafeatures.extract(X, y, task=task, categorical=categorical)
        seconds[folder.name] = time.perf_counter() - start
        for ref_row in candidates:
            for q in qualities:
                ref, ours = ref_row[q], mf[q]
                if pd.isna(ref):
                    status = "no reference"
                elif task == "regression" and not target_free(q):
                    status = "target differs"  # lcdb's copy has a binarized target
                elif pd.isna(ours):
                    status = "differs"
                else:
                    same = abs(ours - ref) <= REL_TOL * abs(ref) or abs(ours - ref) <= 1e-12
                    status = "match" if same else "differs"
                rows.append(
                    {
                        "pmlb": folder.name,
                        "openmlid": int(ref_row.openmlid),
                        "task": task,
                        "quality": q,
                        "openml": ref,
                        "ours": ours,
                        "status": status,
                    }
                )
        print(f"{folder.name:<28} {seconds[folder.name]:6.2f}s", flush=True)
    table = pd.DataFrame(rows)
    table.to_csv(args.out / "metafeatures_openml.csv", index=False)
    write_markdown(args, table, seconds, started)


def write_markdown(args, table: pd.DataFrame, seconds: dict, started) -> None:
    compared = table[~table.status.isin(["no reference", "target differs"])]
    pairs = compared.groupby(["pmlb", "openmlid"], sort=True)
    per_pair = pairs.agg(
        task=("task", "first"),
        compared=("status", "size"),
        matched=("status", lambda s: int((s == "match").sum())),
    ).reset_index()
    complete = per_pair[per_pair.matched == per_pair.compared]
    classification = compared[compared.task == "classification"]
    lines = [
        "# metafeatures vs OpenML's qualities (lcdb) on the PMLB copies of OpenML datasets",
        "",
        "Command: `python benchmarks/metafeatures_openml.py`  ",
        f"Date: {started:%Y-%m-%d %H:%M}. Tolerance: {REL_TOL:g} relative.",
        "",
        f"- {len(per_pair)} (PMLB, OpenML) pairs, {table.pmlb.nunique()} PMLB datasets, "
        f"{table.quality.nunique()} qualities.",
        f"- {int((compared.status == 'match').sum())} of {len(compared)} comparisons match "
        f"({100 * (compared.status == 'match').mean():.1f}%); classification pairs: "
        f"{int((classification.status == 'match').sum())} of {len(classification)}.",
        "- Regression pairs: lcdb holds OpenML's binarized-target copies, so only the "
        f"{sum(target_free(q) for q in table.quality.unique())} qualities that do not involve the target "
        "are compared there.",
        f"- {len(complete)} pairs match on every quality OpenML reported: "
        + ", ".join(f"{r.pmlb} ({r.openmlid})" for r in complete.itertuples())
        + ".",
        "",
        "## Per pair",
        "",
        "| PMLB | OpenML id | task | matched / compared | why not all |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in per_pair.itertuples():
        why = (
            ""
            if r.matched == r.compared
            else REASONS.get(r.pmlb, REGRESSION_NOTE if r.task == "regression" else "")
        )
        lines.append(f"| {r.pmlb} | {r.openmlid} | {r.task} | {r.matched} / {r.compared} | {why} |")
    lines += [
        "",
        "## Per quality (classification pairs only for qualities involving the target)",
        "",
        "| quality | matched / compared |",
        "| --- | --- |",
    ]
    for q, block in compared.groupby("quality", sort=False):
        lines.append(f"| {q} | {int((block.status == 'match').sum())} / {len(block)} |")
    lines += [
        "",
        f"Extraction time per dataset (all groups): median {pd.Series(seconds).median():.2f} s, "
        f"max {max(seconds.values()):.2f} s ({max(seconds, key=seconds.get)}).",
    ]
    (args.out / "metafeatures_openml.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
