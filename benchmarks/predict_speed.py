"""How long the whole ``autometa predict`` CLI call takes with a saved LightGBM model on a 100,000 x 50 CSV.

    python benchmarks/predict_speed.py                      # 100,000 rows x 50 features, 3 repeats
    python benchmarks/predict_speed.py --rows 20000 --repeats 5

The target (issue 15): ``autometa predict`` on 100,000 rows x 50 features with a saved LightGBM model
takes at most 3 s end to end.

The table is the seeded mixed table of ``benchmarks/recommend_speed.py`` (46 numeric columns, a few
with 2-10% missing values, and 4 categorical string columns), once with a 3-class target and once with
a real-valued one. A LightGBM model with the family's default config (100 boosting rounds: 300 trees
for 3 classes, 100 for regression) is fitted on each with :func:`autometa.models.fit_model` and saved
with :func:`autometa.save_model`; the features (without the target) are written to a CSV. Then::

    autometa predict model.autometa data.csv --out preds.csv --json

runs ``--repeats`` times per task as a child process, timed by wall clock from start to exit: the installed
``autometa`` console script, exactly as a user types it, after one untimed call that compiles the
bytecode (as a wheel install does; it goes to a temporary ``PYTHONPYCACHEPREFIX``). Each run's own
``seconds`` (from its JSON: load the model, read, check and predict, write) is kept; the rest of the
wall time is interpreter start and imports. One more child process per task measures the parts separately
(imports, loading the model, reading the CSV, aligning the columns, predicting, writing), to show
where the time goes.

Results: ``benchmarks/results/predict_speed.{csv,md}``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: the repository's packages (benchmarks.*) on the path
    sys.path.insert(0, str(REPO))

from benchmarks.recommend_speed import _load_remark, autometa_executable, make_table, timed  # noqa: E402  (the same table)

RESULTS = REPO / "benchmarks" / "results"
#: The issue's target, seconds.
PREDICT_TARGET = 3.0

#: Run in a child process: each part of a predict call timed on its own (imports first, cold).
_PARTS = r"""
import json, sys, time
t = {}
start = time.perf_counter()
import pandas
t["import pandas"] = time.perf_counter() - start
mark = time.perf_counter()
import autometa._cli._app
from autometa.models import align_columns
from autometa.models._persist import _load_model
from autometa.models._predict import _set_threads
from autometa.data import read_table
t["import autometa + CLI"] = time.perf_counter() - mark
mark = time.perf_counter()
model = _load_model(sys.argv[1], light=True)  # as autometa predict loads it: LightGBM's C library, no sklearn
_set_threads(model, -1)  # as autometa predict does: every core
t["load the model"] = time.perf_counter() - mark
mark = time.perf_counter()
frame = read_table(sys.argv[2], min_columns=1).frame  # as autometa predict reads it
t["read the CSV"] = time.perf_counter() - mark
mark = time.perf_counter()
X = align_columns(frame, model.columns)
t["align the columns"] = time.perf_counter() - mark
mark = time.perf_counter()
# As autometa predict does on the aligned table (model.predict would check the columns again); the
# internal part (the model's own steps) is what the harness measures.
from autometa.models._ensemble import combine
pred = (model.classes[model._proba(X).argmax(axis=1)] if model.task == "classification" else
        combine(model, model._member_outputs(X)))
t["predict"] = time.perf_counter() - mark
mark = time.perf_counter()
pandas.DataFrame({"target": pred}).to_csv(sys.argv[3], index=False)
t["write the CSV"] = time.perf_counter() - mark
t["scikit-learn / lightgbm imported"] = float("sklearn" in sys.modules or "lightgbm" in sys.modules)
print(json.dumps(t))
"""


def fit_and_save(frame: pd.DataFrame, path: Path, metric: str = "balanced_accuracy") -> float:
    """Fit the default LightGBM on ``frame`` (target ``target``) and save it; returns the fit seconds."""
    import autometa
    from autometa.models import Candidate, fit_model
    from autometa.spaces import get_family

    dataset = autometa.load_dataset(frame, target="target")
    start = time.perf_counter()
    model = fit_model([Candidate("lightgbm", dict(get_family("lightgbm").default))], dataset,
                      metric=metric)
    seconds = time.perf_counter() - start
    autometa.save_model(model, path)
    return seconds


#: task -> (metric, what the model is) of the two models timed.
TASKS = {"classification": ("balanced_accuracy", "3 classes: 300 trees"),
         "regression": ("r2", "regression: 100 trees")}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    exe = autometa_executable()
    records, parts, facts = [], {}, {}
    with tempfile.TemporaryDirectory(prefix="autometa-predict-speed-") as tmp:
        tmp = Path(tmp)
        env = {**os.environ, "PYTHONPYCACHEPREFIX": str(tmp / "pycache")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        load_before = None
        for task, (metric, _) in TASKS.items():
            frame = make_table(args.rows, args.features, task, seed=args.seed)
            model, data, preds = tmp / f"{task}.autometa", tmp / f"{task}.csv", tmp / f"{task}-preds.csv"
            fit_seconds = fit_and_save(frame, model, metric)
            frame.drop(columns="target").to_csv(data, index=False)
            print(f"{task}: data {data.stat().st_size / 1e6:.1f} MB; model {model.stat().st_size / 1e3:.0f} kB "
                  f"(fitted in {fit_seconds:.1f} s)", flush=True)
            command = [exe, "predict", str(model), str(data), "--out", str(preds), "--json"]
            timed(command, env)  # untimed: compiles the bytecode, as a wheel install does
            load_before = load_before or os.getloadavg()
            for repeat in range(args.repeats):
                wall, cpu, out = timed(command, env)
                inside = json.loads(out)["seconds"]
                records.append({"task": task, "repeat": repeat, "wall_s": wall, "cpu_s": cpu, "inside_s": inside})
                print(f"  predict #{repeat}: {wall:.2f} s wall, CPU {cpu:.2f} s, inside predict {inside:.2f} s",
                      flush=True)
            parts[task] = json.loads(subprocess.run(
                [sys.executable, "-c", _PARTS, str(model), str(data), str(tmp / "parts.csv")], env=env,
                capture_output=True, text=True, check=True).stdout)
            facts[task] = {"data": data.stat().st_size, "model": model.stat().st_size, "fit_s": fit_seconds,
                           "rows": len(pd.read_csv(preds)),
                           "heavy": bool(parts[task].pop("scikit-learn / lightgbm imported", 0))}
        load_after = os.getloadavg()

    table = pd.DataFrame(records)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "predict_speed.csv", index=False, float_format="%.4f")
    report = render(table, parts, facts, args, load_before, load_after, argv if argv is not None else sys.argv[1:])
    (args.out / "predict_speed.md").write_text(report)
    print(report)


def render(table: pd.DataFrame, parts: dict[str, dict[str, float]], facts: dict[str, dict], args: argparse.Namespace,
           load_before: tuple[float, ...], load_after: tuple[float, ...], argv: list[str]) -> str:
    sizes = ", ".join(f"{task} CSV {f['data'] / 1e6:.0f} MB, model {f['model'] / 1e3:.0f} kB (fitted in "
                      f"{f['fit_s']:.0f} s)" for task, f in facts.items())
    lines = [
        "# `autometa predict` with a saved LightGBM model: wall time of the whole CLI call",
        "",
        f"Command: `{shlex.join(['python', 'benchmarks/predict_speed.py', *argv])}`  ",
        f"Date: {dt.datetime.now():%Y-%m-%d %H:%M}; machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after "
        "(1-minute)" + _load_remark(load_before) + ".  ",
        f"Data: {args.rows:,} rows x {args.features} features (46 numeric, some with 2-10% missing values, 4 "
        f"categorical strings), seeded (seed {args.seed}), written without the target; {sizes}.  ",
        "Models: LightGBM, the family's default config (100 boosting rounds of 31 leaves), fitted with "
        "`autometa.models.fit_model` and saved with `autometa.save_model` (the booster as LightGBM text, the "
        "preprocessing as JSON: loading it needs no skops; `autometa predict` predicts it through LightGBM's C "
        "library, importing neither scikit-learn nor lightgbm). The members were fitted with one thread; "
        "`autometa predict` predicts with every core.  ",
        f"`autometa predict MODEL DATA --out preds.csv --json` ran {args.repeats} times per model as a child "
        "process (the installed console script; bytecode compiled beforehand by an untimed call), wall clock "
        "from start to exit; CPU s is the child's user + system time (steadier than wall time on a loaded "
        "machine); `inside` is the call's own `seconds` (load the model, read, check, predict, write); the "
        "rest is interpreter start and imports.",
        "",
        f"Target: at most {PREDICT_TARGET:g} s (issue 15).",
        "",
        "| model | rows written | wall s median | wall s max | target | met | CPU s median | inside s median "
        "| start + imports |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for task, group in table.groupby("task", sort=False):
        median, worst = statistics.median(group["wall_s"]), group["wall_s"].max()
        met = "yes" if worst <= PREDICT_TARGET else ("median only" if median <= PREDICT_TARGET else "no")
        lines.append(f"| LightGBM, {TASKS[task][1]} | {facts[task]['rows']:,} | {median:.2f} | {worst:.2f} | "
                     f"{PREDICT_TARGET:g} | {met} | {group['cpu_s'].median():.2f} | {group['inside_s'].median():.2f} "
                     f"| {(group['wall_s'] - group['inside_s']).median():.2f} |")
    names = list(next(iter(parts.values())))
    lines += [
        "",
        "Where the time goes (one more child process per model, each part timed on its own, imports cold; "
        "wall seconds):",
        "",
        "| part | " + " | ".join(TASKS[task][1] for task in parts) + " |",
        "| --- | " + " | ".join("---" for _ in parts) + " |",
        *(f"| {name} | " + " | ".join(f"{parts[task][name]:.2f}" for task in parts) + " |" for name in names),
        "| total | " + " | ".join(f"{sum(parts[task].values()):.2f}" for task in parts) + " |",
        "",
        "scikit-learn or lightgbm imported by the predict path: " + ", ".join(
            f"{TASKS[task][1]}: {'yes' if f['heavy'] else 'no'}" for task, f in facts.items()) + ".",
        "",
        "Raw times per run: `benchmarks/results/predict_speed.csv`.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
