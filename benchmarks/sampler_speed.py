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

    from autometa.metamodel._sampler import suggest_config, trial_config

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-trials", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--revision", action="append", default=[], help="git revision whose sampler is timed too")
    parser.add_argument("--write", action="store_true", help="write benchmarks/results/sampler_speed.md")
    args = parser.parse_args(argv)

    import optuna

    from autometa._recommend import dataset_metafeatures
    from autometa.data import load_dataset
    from autometa.evaluation import PRIMARY_METRIC
    from autometa.metamodel import MetaSampler, load_metamodel

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    samplers = {**{rev: _revision_module(rev).MetaSampler for rev in args.revision}, "working tree": MetaSampler}
    rows = []
    for name, (frame, target) in _datasets().items():
        dataset = load_dataset(frame, target=target)
        mf = dataset_metafeatures(dataset)
        model = load_metamodel(dataset.task, PRIMARY_METRIC[dataset.task])
        families = list(dict.fromkeys(model.candidates["family"]))
        first = None
        for label, cls in samplers.items():
            build = time.perf_counter()
            cls(model, mf, families, seed=args.seed, n_warm=5)
            build_ms = 1000 * (time.perf_counter() - build)
            times, cpu, per_trial, configs = run_study(cls, model, mf, families, dataset.task, args.n_trials, args.seed)
            first = first or configs
            same = sum(x == y for x, y in zip(first, configs, strict=True))
            rows.append({"dataset": name, "sampler": label, "candidates": len(model.candidates),
                         "proposals": len(times), "median_ms": float(np.median(times)),
                         "p90_ms": float(np.percentile(times, 90)), "max_ms": float(np.max(times)),
                         "first_ms": times[0], "cpu_median_ms": float(np.median(cpu)), "trial_ms": 1000 * per_trial,
                         "build_ms": build_ms, "same": f"{same}/{len(configs)}"})
            print(f"{name:24s} {label:14s} proposals {len(times):3d}  median {np.median(times):7.1f} ms  "
                  f"p90 {np.percentile(times, 90):7.1f} ms  cpu median {np.median(cpu):6.1f} ms  first {times[0]:7.1f} "
                  f"ms  build {build_ms:6.0f} ms  per trial {1000 * per_trial:7.1f} ms  same {same}/{len(configs)}",
                  flush=True)
    if args.write:
        _write(rows, args)
    return 0


def _write(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    import pandas as pd

    frame = pd.DataFrame(rows)
    current = frame[frame["sampler"] == "working tree"]
    met = bool((current["median_ms"] <= TARGET_MS).all())
    command = "python benchmarks/sampler_speed.py" + "".join(f" --revision {r}" for r in args.revision) + \
        f" --n-trials {args.n_trials} --seed {args.seed} --write"
    lines = [
        "# MetaSampler: time of one proposal (shipped knowledge base)",
        "",
        f"`{command}`, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"{os.cpu_count()} cores shared with other jobs (load average {os.getloadavg()[0]:.1f} at the end), "
        f"Python {platform.python_version()}.",
        "",
        "Each study runs the sampler as `autometa.tune` builds it (shipped meta-model, every family, 5 warm "
        "trials) on a cheap stand-in objective; `propose` is the meta-model's turn (the first 5 trials, "
        "then every other one), timed per call: wall time (median, 90th percentile, max, the first call) and "
        "the calling thread's CPU time (median; what the call costs on an idle machine). `trial ms`: the mean "
        "wall time of a whole trial (TPE's turns and Optuna's bookkeeping included); `build ms`: the "
        "constructor; `same`: trials whose config is the first sampler's (same seed).",
        "",
        "| dataset | sampler | KB configs | proposals | median ms | p90 ms | max ms | first ms | CPU median ms "
        "| trial ms | build ms | same |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['sampler']} | {r['candidates']} | {r['proposals']} | "
                     f"{r['median_ms']:.1f} | {r['p90_ms']:.1f} | {r['max_ms']:.1f} | {r['first_ms']:.0f} | "
                     f"{r['cpu_median_ms']:.1f} | {r['trial_ms']:.1f} | {r['build_ms']:.0f} | {r['same']} |")
    lines += ["", f"Target: median <= {TARGET_MS:.0f} ms per proposal (working tree): "
              f"**{'met' if met else 'missed'}** ({', '.join(f'{m:.1f} ms' for m in current['median_ms'])})."]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sampler_speed.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS / 'sampler_speed.md'}")


if __name__ == "__main__":
    sys.exit(main())
