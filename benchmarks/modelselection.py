"""Model selection under leave-one-dataset-out: does autometa's first recommendation come from a good family?

    python benchmarks/modelselection.py --kb DIR                 # our knowledge base's families
    python benchmarks/modelselection.py --lcdb DIR --no-kb       # LCDB's 20 learners (kb import-lcdb)

Definition (the issue's target): on a held-out dataset a family is *good* when its best config in the
knowledge base's table reaches within 1 % (relative, ``best - 0.01 * |best|``; for a loss 1 % above
the best loss) of the best family's best config, on the task's primary metric (balanced accuracy /
R2; LCDB: accuracy at the largest training size). Every dataset whose every config was evaluated is
held out in turn (LCDB: at least 18 of the 20 learners), together with its copies under other sources (``KnowledgeBase.duplicate_groups()``).
The designs (:func:`benchmarks.lodo.lodo_selection`) are compared with three references:

- ``prior``: always the family most often good on the training datasets (no meta-features);
- chance: the expected rate of a family drawn at random (mean share of good families);
- the noise floor: choose the family on some cross-validation folds (LCDB: seeds) of the held-out
  dataset itself and judge it on the other folds, the best any selector could hope for if it knew
  the dataset's own noisy scores on part of the data (``split-fold``); and the rate at which the
  best family of a copy of the same data (another source) is good on this copy (``copies``).

Outputs: ``modelselection_<source>.csv`` (one row per dataset and design) and ``.md`` under ``--out``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
TOLERANCES = (0.01, 0.02, 0.05)


def selector_grid() -> list[Any]:
    # private on purpose: the harness measures the meta-model's own parts
    from autometa.metamodel._select import SelectorSettings

    shipped = SelectorSettings()
    grid = [SelectorSettings(k=k, prior_weight=m, metafeatures=f) for f in ("all", "compact")
            for k in (5, 10, 20, 40) for m in (0.0, 2.0, 5.0)]
    return [shipped, *[s for s in grid if s != shipped]]  # the shipped one first (it feeds vote+lgbm)


def noise_floor(kb: Any, data: Any, datasets: list[str], groups: dict[str, str], tolerance: float = 0.01) -> dict[str, float]:
    """Split-fold self-agreement and copies' agreement (see the module docstring)."""
    # private on purpose: the harness measures the meta-model's own parts
    from autometa.metamodel._features import config_key
    from autometa.metamodel._select import family_table, good_families
    from autometa.metamodel._training import higher_is_better

    sign = 1.0 if higher_is_better(data.metric) else -1.0
    ev = kb.evaluations
    ev = ev[ev["dataset_id"].isin(datasets) & (ev["status"] == "ok")]
    keys = set(data.candidates.index)
    family_of = data.candidates["family"].to_dict()
    families = sorted(set(family_of.values()))
    folds: dict[str, dict[str, list[float]]] = {}
    for dataset_id, family, config_id, text in ev[["dataset_id", "family", "config_id", "fold_scores"]].itertuples(index=False):
        key = config_key(family, config_id)
        values = json.loads(text or "{}").get(data.metric)
        if key in keys and values and all(v is not None and np.isfinite(v) for v in values):
            folds.setdefault(dataset_id, {})[key] = [sign * float(v) for v in values]
    agree = []
    for per_config in folds.values():
        n = min(len(v) for v in per_config.values())
        if n < 2:
            continue
        hits = []
        for part in _splits(n):
            rest = [j for j in range(n) if j not in part]
            best_a, best_b = np.full(len(families), -np.inf), np.full(len(families), -np.inf)
            for key, values in per_config.items():
                j = families.index(family_of[key])
                best_a[j] = max(best_a[j], np.mean([values[i] for i in part]))
                best_b[j] = max(best_b[j], np.mean([values[i] for i in rest]))
            hits.append(good_families(best_b[None, :], tolerance)[0, int(np.argmax(best_a))])
        agree.append(float(np.mean(hits)))
    table = family_table(data, tolerance)
    copies = []
    for dataset_id in datasets:
        mates = [d for d in datasets if d != dataset_id and groups.get(d) == groups.get(dataset_id)]
        for mate in mates:
            copies.append(float(table.good.loc[dataset_id, table.best.loc[mate].idxmax()]))
    return {"split-fold": float(np.mean(agree)) if agree else np.nan, "split-fold datasets": len(agree),
            "copies": float(np.mean(copies)) if copies else np.nan, "copy pairs": len(copies)}


#: Held-out datasets need this share of the candidates evaluated: every config of our knowledge base;
#: for LCDB at least 18 of its 20 learners (some never run on some datasets, e.g. MultinomialNB needs
#: non-negative features); a learner that did not run there is simply not a choice on that dataset.
COVERAGE = {"kb": 1.0, "lcdb": 0.9}


def _splits(n: int, most: int = 20, seed: int = 0) -> list[tuple[int, ...]]:
    """Ways to split ``n`` folds (LCDB: seeds) in two: every one for a few folds, else ``most`` random halves."""
    if n <= 5:
        return [part for size in range(1, n) for part in itertools.combinations(range(n), size)]
    rng = np.random.default_rng(seed)
    return [tuple(sorted(rng.choice(n, n // 2, replace=False).tolist())) for _ in range(most)]


def run_source(name: str, kb: Any, tasks: list[tuple[str, str | None, int | None]], args: argparse.Namespace) -> tuple[pd.DataFrame, dict]:
    """LODO model selection of every task of one knowledge base; returns rows and the references."""
    from autometa.metamodel import Settings, training_data

    # private on purpose: the harness measures the meta-model's own parts
    from autometa.metamodel._select import SelectorSettings
    from benchmarks.lodo import lodo_selection

    groups = kb.duplicate_groups().to_dict()
    frames, extra = [], {}
    for task, metric, version in tasks:
        data = training_data(kb, task, metric, protocol_version=version, min_coverage=0.0)
        # Held out: datasets with every config evaluated (as in the warm-start replay); the selectors
        # still learn from every dataset on which at least two families were evaluated.
        datasets = data.complete_datasets(COVERAGE[name])[: args.max_datasets or None]
        start = time.perf_counter()
        print(f"{name} {task}: {len(datasets)} datasets with every config evaluated", file=sys.stderr, flush=True)
        metamodel = Settings(n_models=args.n_models) if args.metamodel else None
        result = lodo_selection(data, groups=groups, datasets=datasets, selectors=selector_grid(), lgbm=True,
                                metamodel=metamodel,
                                on_dataset=lambda i, n, d: print(f"  {i}/{n}", file=sys.stderr, flush=True)
                                if i % 25 == 0 else None)
        result["tolerance"] = 0.01
        sweep = [lodo_selection(data, groups=groups, datasets=datasets, selectors=[SelectorSettings()], lgbm=False,
                                tolerance=t).assign(tolerance=t) for t in TOLERANCES[1:]]
        result = pd.concat([result, *sweep], ignore_index=True)
        result["source"], result["task"], result["metric"] = name, task, data.metric
        frames.append(result)
        extra[task] = {"metric": data.metric, "datasets": len(datasets), "seconds": time.perf_counter() - start,
                       "held out with copies": int(sum(sum(groups.get(x) == groups.get(d) for x in data.dataset_ids) > 1
                                                       for d in datasets)),
                       **noise_floor(kb, data, datasets, groups)}
    return pd.concat(frames, ignore_index=True), extra


def report(frame: pd.DataFrame, extra: dict, name: str, args: argparse.Namespace) -> str:
    from benchmarks.lodo import summarize_selection

    main = frame[frame["tolerance"] == 0.01]
    tasks = list(dict.fromkeys(main["task"]))
    summary = summarize_selection(main)
    for task in tasks if len(tasks) > 1 else []:
        part = summarize_selection(main[main["task"] == task])[["design", "variant", "good"]]
        summary = summary.merge(part.rename(columns={"good": task}), on=["design", "variant"], how="left")
    lines = [f"# Model selection under leave-one-dataset-out ({name})", "",
             f"- date: {_dt.datetime.now(_dt.timezone.utc).isoformat(timespec='minutes')}",
             f"- command: `{' '.join(['python benchmarks/modelselection.py', *args.argv])}`",
             "- definition: a family is *good* on a dataset when its best config in the table reaches within 1 % "
             "(relative: best - 0.01 |best|) of the best family's best config, on "
             + ", ".join(f"{t}: {extra[t]['metric']}" for t in tasks)
             + f"; every dataset with {COVERAGE[name]:.0%} of the configs evaluated is held out with its copies "
             "(duplicate groups)",
             *[f"- {t}: {extra[t]['datasets']} datasets ({extra[t]['held out with copies']} held out with copies "
               f"under other sources), {extra[t]['seconds'] / 60:.1f} min" for t in tasks],
             "- `portfolio-top1` is the family of autometa's first recommendation as shipped; `selector-top1` the same "
             "with `Settings(select_family=True)`, which opens the list with the family of `knn-vote`'s first variant "
             "below (k nearest datasets, prior weight m, meta-feature set)",
             ""]
    lines += ["## References", "",
              "| task | prior (always the globally best family) | chance (random family) | noise floor: split folds | "
              "noise floor: copies of the same data |", "|---|---:|---:|---:|---:|"]
    for t in tasks:
        part = main[main["task"] == t]
        prior = part[part["design"] == "prior"]["good"].mean()
        first = part.drop_duplicates("dataset_id")
        chance = (first["n_good"] / first["n_families"]).mean()
        e = extra[t]
        lines.append(f"| {t} | {prior:.3f} | {chance:.3f} | {e['split-fold']:.3f} ({e['split-fold datasets']} datasets) | "
                     f"{e['copies']:.3f} ({e['copy pairs']} pairs) |")
    lines += ["", "Mean number of good families per dataset: "
              + ", ".join(f"{t} {main[main['task'] == t].drop_duplicates('dataset_id')['n_good'].mean():.2f} of "
                          f"{main[main['task'] == t].drop_duplicates('dataset_id')['n_families'].mean():.0f}" for t in tasks),
              ""]
    lines += ["## Share of held-out datasets whose chosen family is good (tolerance 1 %)", "",
              "stderr: binomial standard error of the share; variants of knn-vote are k nearest datasets, prior "
              "weight m and meta-feature set.", "", _table(summary), ""]
    sweep = frame[frame["design"].isin(["knn-vote", "prior"])]
    sweep = sweep[(sweep["design"] == "prior") | (sweep["variant"] == main[main["design"] == "knn-vote"]["variant"].iloc[0])]
    pivot = sweep.groupby(["design", "tolerance"])["good"].mean().unstack("tolerance")
    first = frame.drop_duplicates(["dataset_id", "task", "tolerance"])
    pivot.loc["mean good families"] = first.groupby("tolerance")["n_good"].mean()
    lines += ["## Other tolerances (knn-vote's first variant and the prior; all tasks)", "",
              "| | " + " | ".join(f"{t:.0%}" for t in pivot.columns) + " |", "|---|" + "---:|" * len(pivot.columns),
              *[f"| {idx} | " + " | ".join(f"{v:.3f}" for v in row) + " |" for idx, row in pivot.iterrows()], ""]
    return "\n".join(lines)


def _table(frame: pd.DataFrame) -> str:
    def cell(v: Any) -> str:
        return f"{v:.3f}" if isinstance(v, (float, np.floating)) else str(v)

    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    return "\n".join([head, rule, *("| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False))])


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="modelselection", description=__doc__.split("\n\n")[0])
    p.add_argument("--kb", type=Path, default=None, help="knowledge-base folder (default: the shipped one)")
    p.add_argument("--no-kb", action="store_true", help="skip our knowledge base (only --lcdb)")
    p.add_argument("--lcdb", type=Path, default=None, help="an LCDB knowledge base (autometa kb import-lcdb --out DIR)")
    p.add_argument("--tasks", type=lambda s: s.split(","), default=["classification", "regression"])
    p.add_argument("--no-metamodel", dest="metamodel", action="store_false",
                   help="skip the meta-model designs (they refit the meta-model per held-out dataset)")
    p.add_argument("--n-models", type=int, default=1, help="surrogate ensemble members in the meta-model designs")
    p.add_argument("--max-datasets", type=int, default=None)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = p.parse_args(argv)
    args.argv = argv
    return args


def main(argv: list[str] | None = None) -> int:
    from autometa.metamodel import load_kb

    args = parse(list(sys.argv[1:] if argv is None else argv))
    args.out.mkdir(parents=True, exist_ok=True)
    sources = [] if args.no_kb else [("kb", load_kb(args.kb), [(t, None, None) for t in args.tasks])]
    if args.lcdb:
        sources.append(("lcdb", load_kb(args.lcdb), [("classification", "accuracy", -1)]))
    for name, kb, tasks in sources:
        frame, extra = run_source(name, kb, tasks, args)
        frame.to_csv(args.out / f"modelselection_{name}.csv", index=False)
        text = report(frame, extra, name, args)
        (args.out / f"modelselection_{name}.md").write_text(text)
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
