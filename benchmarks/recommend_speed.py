"""How long the whole ``autometa recommend`` CLI call takes on a 100,000 x 50 CSV, and ``autometa --help``.

    python benchmarks/recommend_speed.py                    # 100,000 rows x 50 features, 5 repeats
    python benchmarks/recommend_speed.py --rows 20000 --repeats 3

The targets: the whole CLI call on a 100,000 x 50 CSV takes at most 5 s once the meta-model cache
exists (issue 4), the first call after install at most 3 s (issue 12: the meta-model of the shipped
knowledge base ships with the package, so a fresh install does not fit it), and ``autometa --help``
starts in under 1 s.

Two seeded CSVs are written to a temporary folder, one per task: 50 feature columns (46 numeric, of
which a few have 2-10% missing values, and 4 categorical strings with 3 to 12 levels) plus the target
(a 3-class string label, or a real-valued target). The meta-model cache is a fresh folder
(``AUTOMETA_CACHE_DIR``), and the first call per task is timed as "first call" (a fresh install: empty
meta-model cache; the bytecode is compiled first by an untimed call with a cache folder of its own, as
a wheel install compiles it); then each command runs ``--repeats``
times as a child process, timed by wall clock from start to exit: the full ``autometa`` console
script (the one installed next to this Python, not a pyenv shim), exactly as a user types it::

    autometa recommend FILE --target target --json
    autometa --help

Python's bytecode cache is on for the child processes, as on a normal install (this sandbox sets
``PYTHONDONTWRITEBYTECODE``, which would recompile autometa's own modules on every call): it goes to
a temporary ``PYTHONPYCACHEPREFIX``, filled by the warm-up calls, so the working tree is not touched.

Each ``recommend`` run's own breakdown (load, metafeatures, model, rank; from its JSON ``seconds``)
is kept too: the rest of the wall time is interpreter start and imports. A run whose ``model`` step
took over a second rebuilt the meta-model (the shipped knowledge base changed during the benchmark,
e.g. while a knowledge-base build exports): it is flagged in the table.

Results: ``benchmarks/results/recommend_speed.{csv,md}``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
#: The issue's targets, seconds.
RECOMMEND_TARGET = 5.0
FIRST_CALL_TARGET = 3.0
HELP_TARGET = 1.0
#: A ``model`` step slower than this loaded no cache: it fitted the meta-model.
REBUILD_SECONDS = 1.0


def make_table(n_rows: int, n_features: int, task: str, seed: int = 0) -> pd.DataFrame:
    """A seeded mixed table: numeric and categorical features, some missing values, and a target."""
    rng = np.random.default_rng(seed)
    n_cat = min(4, n_features // 2)
    n_num = n_features - n_cat
    # Correlated numeric columns on a few scales, so that the meta-features are not all trivial.
    latent = rng.normal(size=(n_rows, 5))
    mixing = rng.normal(size=(5, n_num))
    numeric = latent @ mixing + rng.normal(scale=0.5, size=(n_rows, n_num))
    numeric *= rng.choice([1.0, 10.0, 1000.0], size=n_num)
    frame = pd.DataFrame(numeric.round(4), columns=[f"num_{j:02d}" for j in range(n_num)])
    for j in range(0, n_num, 9):  # every ninth numeric column has 2-10% missing values
        frame.loc[rng.random(n_rows) < rng.uniform(0.02, 0.10), frame.columns[j]] = np.nan
    for j in range(n_cat):
        levels = np.array([f"level_{k}" for k in range(3 + 3 * j)])
        codes = np.clip((latent[:, j % 5] * 1.5 + len(levels) / 2 + rng.normal(size=n_rows)).astype(int),
                        0, len(levels) - 1)
        frame[f"cat_{j}"] = levels[codes]
    signal = latent[:, 0] - 0.7 * latent[:, 1] + 0.3 * latent[:, 2] * latent[:, 3]
    if task == "classification":
        edges = np.quantile(signal, [0.5, 0.8])
        frame["target"] = np.array(["low", "mid", "high"])[np.searchsorted(edges, signal)]
    else:
        frame["target"] = (signal + rng.normal(scale=0.3, size=n_rows)).round(5)
    return frame


def autometa_executable() -> str:
    """The installed console script next to this interpreter (a pyenv shim would add its own start-up)."""
    script = Path(sys.executable).with_name("autometa")
    if not script.exists():
        raise SystemExit(f"No autometa console script next to {sys.executable}; run pip install -e . first.")
    return str(script)


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall and CPU seconds of one child process from start to exit, and its stdout; a failure stops the run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"{shlex.join(command)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return wall, cpu, done.stdout


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    exe = autometa_executable()
    records = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="autometa-recommend-speed-") as tmp:
        env = {**os.environ, "AUTOMETA_CACHE_DIR": str(Path(tmp) / "cache"),
               "PYTHONPYCACHEPREFIX": str(Path(tmp) / "pycache"),
               "AUTOMETA_USER_KB": str(Path(tmp) / "no-user-kb")}  # as on a fresh install: no imports of one's own
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        files = {}
        for task in ("classification", "regression"):
            path = Path(tmp) / f"{task}_{args.rows}x{args.features}.csv"
            make_table(args.rows, args.features, task, seed=args.seed).to_csv(path, index=False)
            files[task] = path
            command = [exe, "recommend", str(path), "--target", "target", "--json"]
            # Untimed: compiles the bytecode of everything imported (a wheel install compiles it at install
            # time), with a cache folder of its own, so the timed call below still meets an empty cache.
            timed(command, {**env, "AUTOMETA_CACHE_DIR": str(Path(tmp) / f"warm-up-cache-{task}")})
            warm, cpu, out = timed(command, env)  # a fresh install's first call: empty meta-model cache
            # The shipped meta-model is read in place; a fitted one is written to the cache.
            fitted = any((Path(env["AUTOMETA_CACHE_DIR"]) / "metamodel").glob(f"*-{task}-*/model.json"))
            records.append({"command": f"first call ({task})", "repeat": 0, "wall_s": warm, "cpu_s": cpu,
                            "fitted": fitted, **{f"{k}_s": v for k, v in json.loads(out)["seconds"].items()}})
            print(f"{task}: {path.stat().st_size / 1e6:.1f} MB; first call (empty meta-model cache) {warm:.2f} s, "
                  f"{'fitted' if fitted else 'shipped'} meta-model", flush=True)
            for repeat in range(args.repeats):
                wall, cpu, out = timed(command, env)
                steps = json.loads(out)["seconds"]
                records.append({"command": f"recommend ({task})", "repeat": repeat, "wall_s": wall, "cpu_s": cpu,
                                **{f"{k}_s": v for k, v in steps.items()}})
                print(f"  recommend {task} #{repeat}: {wall:.2f} s, CPU {cpu:.2f} s "
                      f"({', '.join(f'{k} {v:.2f}' for k, v in steps.items())})", flush=True)
        for repeat in range(args.repeats):
            wall, cpu, _ = timed([exe, "--help"], env)
            records.append({"command": "--help", "repeat": repeat, "wall_s": wall, "cpu_s": cpu})
            print(f"  --help #{repeat}: {wall:.2f} s, CPU {cpu:.2f} s", flush=True)
        sizes = {task: path.stat().st_size for task, path in files.items()}
    load_after = os.getloadavg()

    frame = pd.DataFrame(records)
    args.out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out / "recommend_speed.csv", index=False, float_format="%.4f")
    report = render(frame, args, sizes, load_before, load_after, argv if argv is not None else sys.argv[1:])
    (args.out / "recommend_speed.md").write_text(report)
    print(report)


def _autogroup() -> bool:
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        return False


def _load_remark(load_before: tuple[float, ...]) -> str:
    """What the load average means for the wall times (said only when other work shared the cores)."""
    cores = os.cpu_count() or 1
    if load_before[0] < 0.5 * cores:
        return "; the machine was otherwise idle"
    return ("; other work shared the cores, so these are times under load"
            + ("; the kernel schedules by session (sched_autogroup is on), so niceness gives these calls no "
               "priority, and with a load above the cores a call gets only part of a core: wall time then "
               "exceeds CPU time by that share" if _autogroup() else ""))


def render(frame: pd.DataFrame, args: argparse.Namespace, sizes: dict[str, int],
           load_before: tuple[float, ...], load_after: tuple[float, ...], argv: list[str]) -> str:
    command = shlex.join(["python", "benchmarks/recommend_speed.py", *argv])
    niceness = os.nice(0)
    lines = [
        "# `autometa recommend` and `autometa --help`: wall time of the whole CLI call",
        "",
        f"Command: `{command}`  ",
        f"Date: {dt.datetime.now():%Y-%m-%d %H:%M}; machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, this process at nice {niceness}; load average "
        f"{load_before[0]:.1f} before, {load_after[0]:.1f} after (1-minute)" + _load_remark(load_before) + ".  ",
        f"Data: {args.rows:,} rows x {args.features} features + target, seeded (seed {args.seed}): numeric "
        "columns (some with 2-10% missing values) and 4 categorical string columns; "
        + ", ".join(f"{task} CSV {size / 1e6:.0f} MB" for task, size in sizes.items()) + ".  ",
        f"Each command ran {args.repeats} times as a child process, after a first call per task on an empty "
        "meta-model cache (bytecode compiled beforehand by an untimed call with a cache folder of its own, as "
        "a wheel install compiles it). CPU s is the child's user + system time "
        "(steadier than wall time on a loaded machine). Steps are the call's own `seconds` from its JSON; "
        "`start + imports` is the wall time not inside `recommend()`.",
        "",
        f"Targets: recommend at most {RECOMMEND_TARGET:g} s (issue 4), the first call after install at most "
        f"{FIRST_CALL_TARGET:g} s (issue 12), `--help` under {HELP_TARGET:g} s.",
        "",
        "| command | wall s median | wall s max | target | met | CPU s median | load | metafeatures | model "
        "| rank | start + imports |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, group in frame.groupby("command", sort=False):
        median, worst = statistics.median(group["wall_s"]), group["wall_s"].max()
        if name.startswith("first call"):  # a fresh install: empty meta-model cache
            fitted = "fitted" in group and bool(group["fitted"].map(lambda value: value is True).any())
            label = (f"same, first call after install (empty meta-model cache): "
                     f"{'fits the meta-model' if fitted else 'reads the shipped meta-model'} ({name[12:-1]})")
            target = FIRST_CALL_TARGET
            met = "yes" if worst <= target else "no"
            target = f"{target:g}"
        else:
            target = HELP_TARGET if name == "--help" else RECOMMEND_TARGET
            label = (f"`autometa {name}`" if name == "--help"
                     else f"`autometa recommend FILE --target target --json` ({name[11:-1]})")
            met = "yes" if worst <= target else ("median only" if median <= target else "no")
            target = f"{target:g}"
        cells = [label, f"{median:.2f}", f"{worst:.2f}", target, met, f"{group['cpu_s'].median():.2f}"]
        if "total_s" in group and group["total_s"].notna().any():
            for step in ("load", "metafeatures", "model", "rank"):
                cells.append(f"{group[f'{step}_s'].median():.2f}")
            cells.append(f"{(group['wall_s'] - group['total_s']).median():.2f}")
        else:
            cells += ["", "", "", "", ""]
        lines.append("| " + " | ".join(cells) + " |")
    timed_runs = frame[~frame["command"].str.startswith("first call")]
    rebuilt = timed_runs[timed_runs.get("model_s", pd.Series(dtype=float)) > REBUILD_SECONDS]
    lines.append("")
    if len(rebuilt):
        lines.append(f"{len(rebuilt)} run(s) refitted the meta-model (the shipped knowledge base changed during "
                     "the benchmark); they are in the max column.")
    else:
        lines.append("No timed run refitted the meta-model (every `model` step loaded the cache).")
    lines.append("")
    lines.append("Raw times per run: `benchmarks/results/recommend_speed.csv`.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
