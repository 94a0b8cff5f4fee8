"""Speed and agreement of ``metafeatures`` against pymfe, and our full extraction time at 100k rows.

    python benchmarks/metafeatures_speed.py                 # 1k .. 100k rows, pymfe capped per call
    python benchmarks/metafeatures_speed.py --sizes 1000 5000 --cap 60

For every size and group, each tool runs once in its own child process (``nice -n 10``, one BLAS
thread for both) on the same synthetic table: n rows x 50 numeric attributes, 3 classes.

* ``pymfe (group)``: pymfe's whole group, its default feature set;
* ``pymfe (common)``: pymfe restricted to the features both tools compute (the values compared);
* ``ours``: our whole group.

A pymfe call that exceeds ``--cap`` seconds is stopped and reported as a timeout; larger sizes of
that group are then not attempted. Values are compared wherever both finished; model-based values
only up to 5,000 rows, below our model subsample cap, where both grow the tree on the same rows.
Landmarkers are timed but not compared: pymfe reports 10-fold accuracies, we report Weka-style
2-fold AUC / error rate / kappa.

Finally our full default extraction (all groups) runs in this process, not niced, on 100,000 x 50
numeric attributes, and on the same plus 3 categorical attributes and 2% missing values.

Results: ``benchmarks/results/metafeatures_speed.{csv,md}`` and ``metafeatures_agreement.csv``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from metafeatures._pymfe import PYMFE_EQUIVALENTS, PYMFE_SUMMARIES, from_pymfe, pymfe_features  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
GROUPS = ("general", "statistical", "info-theory", "model-based", "landmarking")
N_FEATURES = 50
MODEL_ROWS_CAP = 5_000

# The features both tools compute, under pymfe's names, come from metafeatures._pymfe (shared with
# tests/test_metafeatures_pymfe.py). Landmarkers: the same learners under another protocol, so they
# are timed, not compared.
LANDMARKERS = ("naive_bayes", "one_nn", "linear_discr", "best_node", "random_node")


def make_data(n: int, seed: int = 0, categorical: bool = False) -> tuple[pd.DataFrame, np.ndarray]:
    """n x 50 numeric attributes of assorted shapes, 3 classes depending on a few of them."""
    rng = np.random.default_rng(seed)
    cols = {}
    for j in range(N_FEATURES):
        kind = j % 5
        if kind == 0:
            v = rng.normal(size=n) * (j + 1)
        elif kind == 1:
            v = rng.exponential(size=n) + j
        elif kind == 2:
            v = rng.integers(0, 10, n).astype(float)
        elif kind == 3:
            v = rng.uniform(-1, 1, n) ** 3
        else:
            v = rng.lognormal(size=n)
        cols[f"x{j}"] = v
    X = pd.DataFrame(cols)
    X["x1"] += X["x0"] / 3  # some correlation
    score = X["x0"] / 10 + X["x3"] * 2 + rng.normal(size=n)
    y = np.digitize(score, np.quantile(score, [0.5, 0.8]))
    if categorical:
        X["c_color"] = pd.Categorical(rng.choice(["red", "green", "blue", "black", "white"], n))
        X["c_flag"] = rng.random(n) < 0.3
        X["c_code"] = rng.integers(0, 40, n).astype(str)
        X = X.mask(rng.random(X.shape) < 0.02)
    return X, y


# ----------------------------------------------------------------------------------------------
# Child processes
# ----------------------------------------------------------------------------------------------
def _run_tool(tool: str, group: str, variant: str, X: pd.DataFrame, y: np.ndarray) -> dict[str, float]:
    if tool == "ours":
        import metafeatures

        return metafeatures.extract(X, y, groups=[group], random_state=0).to_dict()
    from pymfe.mfe import MFE

    if variant == "common":
        features = sorted(LANDMARKERS) if group == "landmarking" else pymfe_features([group])
    else:
        features = "all"
    mfe = MFE(groups=[group], features=features, summary=list(PYMFE_SUMMARIES), random_state=0)
    mfe.fit(X.to_numpy(), y)
    kwargs = {"skewness": {"method": 2}, "kurtosis": {"method": 2}} if group == "statistical" else {}
    names, vals = mfe.extract(**kwargs)
    return {
        k: float(v) if v is not None and np.isscalar(v) else np.nan for k, v in zip(names, vals, strict=True)
    }


def _child(tool: str, group: str, n: int, variant: str, queue) -> None:
    os.nice(10)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    warnings.simplefilter("ignore")
    # Warm up on a tiny table first, so that imports and first-call setup are not timed.
    _run_tool(tool, group, variant, *make_data(60, seed=1))
    X, y = make_data(n)
    wall, cpu = time.perf_counter(), time.process_time()
    values = _run_tool(tool, group, variant, X, y)
    queue.put({"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu, "values": values})


def run_child(tool: str, group: str, n: int, variant: str, cap: float) -> dict:
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(tool, group, n, variant, queue))
    proc.start()
    deadline = time.monotonic() + cap
    result = None
    while time.monotonic() < deadline:
        try:
            result = queue.get(timeout=0.5)
            break
        except Exception:
            if not proc.is_alive():
                break
    if result is None:
        proc.kill()
        proc.join()
        return {"status": "timeout" if proc.exitcode in (-9, None) else f"failed ({proc.exitcode})"}
    proc.join()
    return {"status": "ok", **result}


# ----------------------------------------------------------------------------------------------
# Comparison
# ----------------------------------------------------------------------------------------------
def differences(group: str, ours: dict, ref: dict) -> list[dict]:
    if group not in PYMFE_EQUIVALENTS:  # landmarking: not compared
        return []
    rows = []
    for okey, (pkey, b) in from_pymfe(ref, [group]).items():
        a = ours.get(okey, np.nan)
        rows.append({"group": group, "pymfe": pkey, "ours": okey, "abs_diff": abs(a - b),
                     "rel_diff": abs(a - b) / max(abs(b), 1e-12)})
    return rows


def full_extraction(n: int, categorical: bool, repeats: int) -> dict:
    import metafeatures

    metafeatures.extract(*make_data(60, seed=1, categorical=categorical))  # warm-up

    X, y = make_data(n, categorical=categorical)
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        mf = metafeatures.extract(X, y)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return {
        "n_values": len(mf),
        "wall_s": float(np.median(walls)),
        "cpu_s": float(np.median(cpus)),
        "walls": walls,
        "errors": dict(mf.errors),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000]
    )
    parser.add_argument(
        "--cap", type=float, default=300.0, help="seconds per pymfe call before it is stopped"
    )
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the 100k full extraction")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now()
    load_before = os.getloadavg()

    timing, agreement = [], []
    gave_up = {(g, v): False for g in GROUPS for v in ("group", "common")}
    for n in args.sizes:
        for group in GROUPS:
            ours = run_child("ours", group, n, "group", cap=max(args.cap, 600))
            timing.append(
                {
                    "n": n,
                    "group": group,
                    "tool": "ours",
                    "status": ours["status"],
                    "wall_s": ours.get("wall_s"),
                    "cpu_s": ours.get("cpu_s"),
                }
            )
            for variant in ("group", "common"):
                if gave_up[(group, variant)]:
                    timing.append({"n": n, "group": group, "tool": f"pymfe ({variant})", "status": "skipped"})
                    continue
                ref = run_child("pymfe", group, n, variant, cap=args.cap)
                timing.append(
                    {
                        "n": n,
                        "group": group,
                        "tool": f"pymfe ({variant})",
                        "status": ref["status"],
                        "wall_s": ref.get("wall_s"),
                        "cpu_s": ref.get("cpu_s"),
                    }
                )
                gave_up[(group, variant)] = ref["status"] != "ok"
                comparable = group != "model-based" or n <= MODEL_ROWS_CAP
                if variant == "common" and ref["status"] == "ok" and ours["status"] == "ok" and comparable:
                    for row in differences(group, ours["values"], ref["values"]):
                        agreement.append({"n": n, **row})
            print(
                f"n={n:>7} {group:<12} "
                + "  ".join(
                    f"{r['tool']}={r.get('wall_s') or float('nan'):.2f}s[{r['status']}]"
                    for r in timing
                    if r["n"] == n and r["group"] == group
                ),
                flush=True,
            )

    full = {
        "100k x 50 numeric": full_extraction(100_000, categorical=False, repeats=args.repeats),
        "100k x 50 numeric + 3 categorical, 2% missing": full_extraction(
            100_000, categorical=True, repeats=args.repeats
        ),
    }
    for label, res in full.items():
        print(
            f"full extraction {label}: {res['wall_s']:.2f} s wall (median of {args.repeats}), "
            f"{res['cpu_s']:.2f} s CPU, {res['n_values']} values, errors={res['errors']}",
            flush=True,
        )

    timing_df = pd.DataFrame(timing)
    agreement_df = pd.DataFrame(agreement)
    timing_df.to_csv(args.out / "metafeatures_speed.csv", index=False)
    agreement_df.to_csv(args.out / "metafeatures_agreement.csv", index=False)
    write_markdown(args, timing_df, agreement_df, full, started, load_before, os.getloadavg())


def _cell(r, ours) -> tuple[str, str]:
    if r is None or r.status != "ok":
        return (r.status if r is not None else "-", "-")
    return (f"{r.wall_s:.2f} / {r.cpu_s:.2f}", f"{r.cpu_s / max(ours.cpu_s, 1e-3):.1f}x")


def write_markdown(args, timing, agreement, full, started, load_before, load_after) -> None:
    ok = timing[timing.status == "ok"]
    lines = [
        "# metafeatures vs pymfe: speed and agreement",
        "",
        f"Command: `python benchmarks/metafeatures_speed.py --sizes {' '.join(map(str, args.sizes))} "
        f"--cap {args.cap:g} --repeats {args.repeats}`  ",
        f"Date: {started:%Y-%m-%d %H:%M}; machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after "
        "(the machine is shared, so wall times are noisy; CPU times are steadier).  ",
        f"Data: n rows x {N_FEATURES} numeric attributes, 3 classes. Each tool and group ran once per size in "
        "a child process with `nice -n 10` and one BLAS thread. pymfe calls were stopped after "
        f"{args.cap:g} s.",
        "",
        "## Our full default extraction (all groups), this process, not niced",
        "",
        "| data | wall s (median) | CPU s | values |",
        "| --- | --- | --- | --- |",
    ]
    for label, res in full.items():
        walls = ", ".join(f"{w:.2f}" for w in res["walls"])
        lines.append(f"| {label} | {res['wall_s']:.2f} ({walls}) | {res['cpu_s']:.2f} | {res['n_values']} |")
    lines += ["", "## Time per group (wall s / CPU s) and pymfe / ours CPU-time ratio", ""]
    header = "| n | group | ours | pymfe (group) | ratio | pymfe (common) | ratio |"
    lines += [header, "| --- | --- | --- | --- | --- | --- | --- |"]
    for (n, group), block in timing.groupby(["n", "group"], sort=False):
        cells = {r.tool: r for r in block.itertuples()}
        ours = cells["ours"]
        g, c = _cell(cells.get("pymfe (group)"), ours), _cell(cells.get("pymfe (common)"), ours)
        lines.append(
            f"| {n} | {group} | {ours.wall_s:.2f} / {ours.cpu_s:.2f} | {g[0]} | {g[1]} | {c[0]} | {c[1]} |"
        )
    lines += ["", "### Totals over the groups, where pymfe finished every group", ""]
    lines += [
        "| n | ours CPU s | pymfe (group) CPU s | ratio | pymfe (common) CPU s | ratio |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for n, block in ok.groupby("n"):
        ours_total = block[block.tool == "ours"].cpu_s.sum()
        row = [f"| {n} | {ours_total:.2f}"]
        for tool in ("pymfe (group)", "pymfe (common)"):
            part = block[block.tool == tool]
            if len(part) == len(GROUPS):
                row.append(f"{part.cpu_s.sum():.2f} | {part.cpu_s.sum() / ours_total:.1f}x")
            else:
                row.append("incomplete | -")
        lines.append(" | ".join(row) + " |")
    lines += ["", "## Values: features both compute (max over the sizes compared)", ""]
    if len(agreement):
        summary = (
            agreement.groupby(["group", "pymfe", "ours"], sort=False)
            .agg(
                sizes=("n", lambda s: ", ".join(map(str, sorted(s)))),
                max_abs_diff=("abs_diff", "max"),
                max_rel_diff=("rel_diff", "max"),
            )
            .reset_index()
        )
        lines += [
            "| group | pymfe | ours | sizes | max abs diff | max rel diff |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for r in summary.itertuples():
            lines.append(
                f"| {r.group} | {r.pymfe} | {r.ours} | {r.sizes} | {r.max_abs_diff:.3g} | {r.max_rel_diff:.3g} |"
            )
        exact = (summary.max_rel_diff <= 1e-9).sum()
        lines += [
            "",
            f"{exact} of {len(summary)} compared values agree to 1e-9 relative. The others are the "
            "entropy-based ones: pymfe adds 1e-8 to every joint probability.",
        ]
    (args.out / "metafeatures_speed.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
