"""How long one :class:`~autometa.MetaSampler` proposal takes with the shipped knowledge base.

    python benchmarks/sampler_speed.py                       # breast_cancer + diabetes, 40 trials, seed 0
    python benchmarks/sampler_speed.py --revision 7bc13f9    # also time the sampler of that git revision

The target (issue 12, item 4): one proposal takes at most 20 ms (median) with the shipped knowledge
base, on the development machine.

The sampler is built as :func:`autometa.tune` builds it: the dataset's meta-features under the default
protocol, the shipped knowledge base's meta-model (``load_metamodel(task, metric)``, from the package or
the cache), every family the model knows, ``n_warm`` = 5. Each dataset's study runs ``--n-trials``
trials of a cheap stand-in objective (a fixed function of the config, no model is fitted), so that the
times are the sampler's alone: every call of ``MetaSampler.propose`` (the meta-model's turns: the first
5 trials, then every other one) is timed with ``time.perf_counter``. The study's own overhead (TPE's
turns, Optuna's bookkeeping) is reported as the mean time per trial.

``--revision REV`` (repeatable) loads ``autometa/metamodel/_sampler.py`` as it was at git revision ``REV``
(into a module of its own, beside the rest of the current code) and runs the same studies with it, so
that one run gives every figure on the same machine under the same load; it also counts the trials in
which each sampler chose the same config as the first one.

Results: ``benchmarks/results/sampler_speed.md`` (with ``--write``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
TARGET_MS = 20.0


def _datasets() -> dict[str, tuple[Any, str]]:
    from sklearn.datasets import load_breast_cancer, load_diabetes

    return {"sklearn/breast_cancer": (load_breast_cancer(as_frame=True).frame, "target"),
            "sklearn/diabetes": (load_diabetes(as_frame=True).frame, "target")}


def _revision_module(rev: str) -> Any:
    """``autometa/metamodel/_sampler.py`` at git revision ``rev``, as a separate module."""
    source = subprocess.run(["git", "show", f"{rev}:autometa/metamodel/_sampler.py"], cwd=REPO, check=True,
                            capture_output=True, text=True).stdout
    name = f"_sampler_{rev}".replace("-", "_").replace("~", "_").replace("^", "_")
    path = Path(tempfile.mkdtemp()) / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _objective_value(family: str, config: dict[str, Any]) -> float:
    """A cheap, fixed stand-in for an evaluation: a smooth function of the config's unit-cube point."""
    from autometa.spaces import get_family

    u = get_family(family).to_unit(config)
    bonus = {"lightgbm": 0.1, "hist_gradient_boosting": 0.08, "random_forest": 0.05}.get(family, 0.0)
    return float(bonus + 0.8 - np.mean((u - 0.3) ** 2))


def run_study(sampler_cls: Any, model: Any, mf: dict[str, float], families: list[str], task: str,
              n_trials: int, seed: int) -> tuple[list[float], list[float], float, list[Any]]:
    """Propose wall and CPU times (ms), mean seconds per trial, and the trials' (family, config) in order."""
    import optuna

    from autometa.metamodel import suggest_config, trial_config

    sampler = sampler_cls(model, mf, families, seed=seed, n_warm=5)
    times: list[float] = []
    cpu: list[float] = []
    propose = sampler.propose

    def timed(study: Any, trial: Any) -> dict[str, Any]:
        start, start_cpu = time.perf_counter(), time.thread_time()
        out = propose(study, trial)
        times.append(1000 * (time.perf_counter() - start))
        cpu.append(1000 * (time.thread_time() - start_cpu))
        return out

    sampler.propose = timed
    study = optuna.create_study(direction="maximize", sampler=sampler)

    def objective(trial: Any) -> float:
        family, config = suggest_config(trial, families, task)
        return _objective_value(family, config)

    start = time.perf_counter()
    study.optimize(objective, n_trials=n_trials)
    per_trial = (time.perf_counter() - start) / n_trials
    return times, cpu, per_trial, [trial_config(t.params) for t in study.trials]


def _working_tree_label() -> str:
    """The working tree's commit, marked when the meta-model's code differs from it."""
    def git(*cmd: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *cmd], cwd=REPO, capture_output=True, text=True)

    sha = git("rev-parse", "--short", "HEAD").stdout.strip() or "unknown"
    dirty = git("diff", "--quiet", "HEAD", "--", "autometa/metamodel").returncode != 0
    return f"{sha}+changes" if dirty else sha


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-trials", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="studies per dataset and sampler (interleaved)")
    parser.add_argument("--revision", action="append", default=[], help="git revision whose sampler is timed too")
    parser.add_argument("--write", action="store_true", help="write benchmarks/results/sampler_speed.md")
    args = parser.parse_args(argv)

    import optuna

    from autometa.data import load_dataset
    from autometa.evaluation import PRIMARY_METRIC
    from autometa.kb import dataset_metafeatures
    from autometa.metamodel import MetaSampler, load_metamodel

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    samplers = {**{rev: _revision_module(rev).MetaSampler for rev in args.revision},
                f"working tree ({_working_tree_label()})": MetaSampler}
    rows = []
    for name, (frame, target) in _datasets().items():
        dataset = load_dataset(frame, target=target)
        mf = dataset_metafeatures(dataset)
        model = load_metamodel(dataset.task, PRIMARY_METRIC[dataset.task])
        families = list(dict.fromkeys(model.candidates["family"]))
        runs: dict[str, list[tuple]] = {label: [] for label in samplers}
        # Repeats interleave the samplers, so that each meets the same (shared, changing) machine load.
        for _ in range(args.repeats):
            for label, cls in samplers.items():
                build = time.perf_counter()
                cls(model, mf, families, seed=args.seed, n_warm=5)
                build_ms = 1000 * (time.perf_counter() - build)
                runs[label].append((build_ms, *run_study(cls, model, mf, families, dataset.task, args.n_trials,
                                                         args.seed)))
        first = None
        for label, done in runs.items():
            times = [t for run in done for t in run[1][1:]]  # the first call of each study builds the pool
            cpu = [t for run in done for t in run[2][1:]]
            configs = done[0][4]
            first = first or configs
            same = sum(x == y for x, y in zip(first, configs, strict=True))
            row = {"dataset": name, "sampler": label, "candidates": len(model.candidates),
                   "proposals": len(times), "median_ms": float(np.median(times)),
                   "p90_ms": float(np.percentile(times, 90)), "max_ms": float(np.max(times)),
                   "first_ms": float(np.median([run[1][0] for run in done])), "cpu_median_ms": float(np.median(cpu)),
                   "trial_ms": 1000 * float(np.mean([run[3] for run in done])),
                   "build_ms": float(np.median([run[0] for run in done])), "same": f"{same}/{len(configs)}"}
            rows.append(row)
            print(f"{name:22s} {label:28s} n {row['proposals']:3d}  median {row['median_ms']:6.1f} ms  p90 "
                  f"{row['p90_ms']:6.1f} ms  cpu median {row['cpu_median_ms']:6.1f} ms  first {row['first_ms']:6.0f} ms  "
                  f"build {row['build_ms']:5.0f} ms  per trial {row['trial_ms']:6.1f} ms  same {row['same']}",
                  flush=True)
    if args.write:
        _write(rows, args)
    return 0


def _write(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    import pandas as pd

    frame = pd.DataFrame(rows)
    command = "python benchmarks/sampler_speed.py" + "".join(f" --revision {r}" for r in args.revision) + \
        f" --n-trials {args.n_trials} --seed {args.seed} --repeats {args.repeats} --write"
    lines = [
        "# MetaSampler: time of one proposal (shipped knowledge base)",
        "",
        f"`{command}`, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"{os.cpu_count()} cores shared with other jobs (load average {os.getloadavg()[0]:.1f} at the end), "
        f"Python {platform.python_version()}.",
        "",
        "Each study runs the sampler as `autometa.tune` builds it (shipped meta-model, every family, 5 warm "
        "trials) on a cheap stand-in objective; `propose` is the meta-model's turn (the first 5 trials, "
        f"then every other one), timed per call, {args.repeats} studies per dataset and sampler, interleaved. "
        "Wall time (median, 90th percentile, max) and the calling thread's CPU time (median: about what a "
        "call costs on an idle machine) are over every call but each study's first, reported apart as "
        "`first ms` (median over the studies: it computes the random pool's prior, in the samplers that "
        "have one). `trial ms`: mean wall time of a whole trial (TPE's turns and Optuna's bookkeeping "
        "included); `build ms`: the constructor; `same`: trials of the first study whose config is the "
        "first sampler's (same seed).",
        "",
        "| dataset | sampler | KB configs | proposals | median ms | p90 ms | max ms | first ms | CPU median ms "
        "| trial ms | build ms | same |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['sampler']} | {r['candidates']} | {r['proposals']} | "
                     f"{r['median_ms']:.1f} | {r['p90_ms']:.1f} | {r['max_ms']:.1f} | {r['first_ms']:.0f} | "
                     f"{r['cpu_median_ms']:.1f} | {r['trial_ms']:.1f} | {r['build_ms']:.0f} | {r['same']} |")
    verdicts = [f"{label}: **{'met' if (group['median_ms'] <= TARGET_MS).all() else 'missed'}** ("
                + ", ".join(f"{m:.1f}" for m in group["median_ms"]) + " ms)"
                for label, group in frame.groupby("sampler", sort=False)]
    lines += ["", f"Target, median <= {TARGET_MS:.0f} ms per proposal on both datasets: " + "; ".join(verdicts) + "."]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sampler_speed.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS / 'sampler_speed.md'}")


if __name__ == "__main__":
    sys.exit(main())
