"""Meta-data augmentation: derived tasks of knowledge-base datasets, as extra meta-training data.

A derived task is a row subsample or a random feature subset of one PMLB dataset of the knowledge
base, evaluated under the knowledge base's protocol like any other dataset (``autometa kb build``).
It is meta-training data only: never a validation target, and it belongs to its parent's origin group
(:mod:`autometa.kb._origins`), so leave-one-origin-group-out holds it out together with its parent.

Derivations (seeded, one ``numpy`` generator per derived task from ``(seed, parent, kind)``):

``rows``  a row subsample of ``max(300, f * min(n, 2000))`` rows, ``f`` uniform in [0.25, 0.5]; the
          protocol caps every table at 2,000 rows, so only a subsample below the cap is a different
          task. Classification subsamples are stratified, with at least ``min(count, 5)`` rows of every
          class (the parent's target and classes are kept). Only where the subsample has at most 80 %
          of the parent's rows (after the cap).
``cols``  a random half of the features (at least 2), all rows. Only for parents with 4+ features.

Names say parent and derivation: ``<parent>_aug-rows38-s0`` (38 % of the capped rows, seed 0),
``<parent>_aug-cols50-s0``. The name starts with the parent's name, so the origin-key rule (first
token of the name) puts it in the parent's origin group; ``_aug-`` marks every derived task
(``benchmarks/firstpick.py --train-only _aug-`` keeps them out of the validation targets).

Parents: the PMLB datasets of the knowledge base with complete tables, one per origin group (a seeded
choice inside the group, groups in a seeded order) so that no family of siblings dominates; up to
``--per-parent`` derived tasks each (the kinds in turn: the i-th parent tries ``kinds`` rotated by i,
so one task per parent alternates row and feature subsamples; a kind that does not apply is skipped).

The corpus folder is in PMLB layout (``<name>/<name>.tsv.gz`` + ``metadata.yaml``: the parent's task
and feature types, for the kept features), which ``autometa kb build`` reads, plus ``manifest.json``
(name, parent, parent_id, origin group, derivation, fraction, seed, rows, features; JSON, since the
builder reads every CSV file of the folder as a dataset).

    python -m benchmarks.augment_corpus --out work/augment/corpus --max-parents 30 --per-parent 1
    nice -n 19 autometa kb build work/augment/corpus --out work/augment/build --shard-dir benchmarks/results/augment_shards \
        --families lightgbm,random_forest,extra_trees,hist_gradient_boosting,linear,svm,knn --configs-per-family 16 --n-jobs 1

(the shipped knowledge base's seven families: without ``--families`` the build adds the neural one).

See benchmarks/results/augmentation.md for what was built and what the honest validation says.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
PMLB = Path("/work/shared/datasets/pmlb")
ROW_CAP = 2000
MIN_ROWS = 300
MIN_PER_CLASS = 5
MARK = "_aug-"


def derived_rng(seed: int, parent: str, kind: str) -> np.random.Generator:
    """The generator of one derived task: a function of (seed, parent, kind) only."""
    digest = hashlib.sha256(f"{seed}|{parent}|{kind}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def subsample_rows(frame: pd.DataFrame, task: str, rng: np.random.Generator,
                   target: str = "target") -> tuple[pd.DataFrame, float] | None:
    """A row subsample (see the module docstring) and its fraction of the capped rows, or None where
    it would not be a different task (at most 80 % of the parent's capped rows)."""
    n = len(frame)
    fraction = float(rng.uniform(0.25, 0.5))
    m = max(MIN_ROWS, int(round(fraction * min(n, ROW_CAP))))
    if m > 0.8 * min(n, ROW_CAP):
        return None
    if task == "classification":
        y = frame[target]
        picked = []
        for _, index in sorted(y.groupby(y, sort=True).groups.items(), key=lambda kv: str(kv[0])):
            index = np.asarray(index)
            take = max(min(len(index), MIN_PER_CLASS), int(round(len(index) * m / n)))
            picked.append(rng.choice(index, size=min(take, len(index)), replace=False))
        rows = np.sort(np.concatenate(picked))
    else:
        rows = np.sort(rng.choice(n, size=m, replace=False))
    return frame.iloc[rows].reset_index(drop=True), len(rows) / min(n, ROW_CAP)


def subset_features(frame: pd.DataFrame, rng: np.random.Generator,
                    target: str = "target") -> tuple[pd.DataFrame, float] | None:
    """A random half of the features (at least 2; original column order), all rows; None for parents
    with fewer than 4 features."""
    features = [c for c in frame.columns if c != target]
    if len(features) < 4:
        return None
    k = max(2, len(features) // 2)
    keep = set(rng.choice(len(features), size=k, replace=False).tolist())
    columns = [c for i, c in enumerate(features) if i in keep]
    return frame[[*columns, target]].copy(), k / len(features)


def derive(frame: pd.DataFrame, task: str, parent: str, kind: str, seed: int,
           target: str = "target") -> tuple[str, pd.DataFrame, float] | None:
    """One derived task of a parent table: (name, table, fraction), or None where the derivation does
    not apply (see the module docstring)."""
    rng = derived_rng(seed, parent, kind)
    if kind == "rows":
        out = subsample_rows(frame, task, rng, target)
    elif kind == "cols":
        out = subset_features(frame, rng, target)
    else:
        raise ValueError(f"unknown derivation {kind!r} (rows, cols)")
    if out is None:
        return None
    table, fraction = out
    return f"{parent}{MARK}{kind}{int(round(100 * fraction))}-s{seed}", table, fraction


def _metadata(parent_meta: dict[str, Any], name: str, columns: list[str]) -> dict[str, Any]:
    meta = dict(parent_meta)
    meta["dataset"] = name
    meta["description"] = f"Derived task of {parent_meta.get('dataset')} (autometa benchmarks/augment_corpus.py)."
    meta["features"] = [f for f in parent_meta.get("features") or [] if str(f.get("name")) in set(columns)]
    return meta


def write_task(out: Path, name: str, table: pd.DataFrame, parent_meta: dict[str, Any]) -> None:
    """One PMLB-layout folder: ``<name>/<name>.tsv.gz`` + ``metadata.yaml``."""
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / f"{name}.tsv.gz", sep="\t", index=False)
    (folder / "metadata.yaml").write_text(yaml.safe_dump(_metadata(parent_meta, name, list(table.columns)),
                                                         sort_keys=False))


def choose_parents(kb: Any, seed: int, max_parents: int | None) -> pd.DataFrame:
    """One PMLB dataset with a complete table per origin group, groups in a seeded order."""
    groups = kb.origin_groups()
    d = kb.datasets[kb.datasets["source"] == "pmlb"].copy()
    ev = kb.evaluations
    ev = ev[ev["source"].isin(["pmlb"]) & ~ev["family"].astype(str).str.startswith("lcdb")]
    counts = ev.groupby("dataset_id")["config_id"].nunique()
    d = d[d["dataset_id"].map(counts).fillna(0) >= counts.max()]  # complete tables only
    d["group"] = d["dataset_id"].map(groups).astype(str)
    rng = np.random.default_rng(seed)
    order = list(rng.permutation(sorted(d["group"].unique())))
    chosen = []
    for group in order:
        members = sorted(d.loc[d["group"] == group, "dataset_id"])
        chosen.append(members[int(rng.integers(len(members)))])
    out = d.set_index("dataset_id").loc[chosen, ["name", "task", "n_rows", "n_features", "group"]].reset_index()
    return out.iloc[:max_parents] if max_parents else out


def build_corpus(kb: Any, corpus: Path, out: Path, *, seed: int = 0, max_parents: int | None = None,
                 per_parent: int = 1, kinds: tuple[str, ...] = ("rows", "cols")) -> pd.DataFrame:
    """Write the derived tasks and ``manifest.json`` to ``out``; returns the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, parent in enumerate(choose_parents(kb, seed, max_parents).itertuples(index=False)):
        folder = corpus / parent.name
        frame = pd.read_csv(folder / f"{parent.name}.tsv.gz", sep="\t")
        meta = yaml.safe_load((folder / "metadata.yaml").read_text())
        made = 0
        for kind in kinds[i % len(kinds):] + kinds[:i % len(kinds)]:  # alternate which kind comes first
            if made >= per_parent:
                break
            result = derive(frame, parent.task, parent.name, kind, seed)
            if result is None:
                continue
            name, table, fraction = result
            write_task(out, name, table, meta)
            made += 1
            rows.append({"name": name, "dataset_id": f"pmlb/{name}", "parent": parent.name,
                         "parent_id": parent.dataset_id, "group": parent.group, "task": parent.task,
                         "derivation": kind, "fraction": round(fraction, 4), "seed": seed, "rows": len(table),
                         "features": table.shape[1] - 1, "parent_rows": len(frame),
                         "parent_features": frame.shape[1] - 1})
    manifest = pd.DataFrame(rows)
    manifest.to_json(out / "manifest.json", orient="records", indent=1)  # not .csv: kb build would read it
    return manifest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kb", type=Path, default=None, help="the knowledge base whose PMLB datasets are parents "
                                                         "(default: the shipped one)")
    p.add_argument("--corpus", type=Path, default=PMLB, help="the PMLB folder the parents come from")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-parents", type=int, default=None)
    p.add_argument("--per-parent", type=int, default=1)
    p.add_argument("--kinds", type=lambda s: tuple(s.split(",")), default=("rows", "cols"))
    args = p.parse_args(argv)
    from autometa.metamodel import load_kb

    manifest = build_corpus(load_kb(args.kb), args.corpus, args.out, seed=args.seed, max_parents=args.max_parents,
                            per_parent=args.per_parent, kinds=args.kinds)
    print(manifest.groupby(["task", "derivation"]).size().to_string(), file=sys.stderr)
    print(f"{len(manifest)} derived tasks of {manifest['parent'].nunique()} parents in "
          f"{manifest['group'].nunique()} origin groups -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
