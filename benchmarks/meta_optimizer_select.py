"""Choose the shipped learned-optimizer checkpoint on held-IN tasks, and calibrate its step size there.

    python benchmarks/meta_optimizer_select.py --candidates /tmp/meta_opt/snap_a,/tmp/meta_opt/snap_b \\
        --multipliers 1,1.5,2,3 --out /tmp/meta_opt_chosen
    cp /tmp/meta_opt_chosen/optimizer.pt /tmp/meta_opt_chosen/record.json autometa/data/meta_optimizer/

Why a step-size calibration: truncated-BPTT meta-training (25-step unrolls) has a short-horizon bias
(Wu et al., 2018, "Understanding short-horizon bias in stochastic meta-optimization"): what lowers the
loss over the next 25 steps is a smaller step than what lowers it over 1,000. Measured in issue 16: every
meta-trained rule's effective step shrank during meta-training (along Adam's direction, from 0.01 to
0.003-0.0005 by step 1,000 of a run), and a global multiplier of 2 on the learned update took one
checkpoint from a geometric-mean loss ratio to the best of Adam lr {3e-3, 1e-2, 3e-2} of 1.09 / 1.22 /
1.33 at 100 / 1,000 / 2,000 steps to 0.95 / 0.95 / 1.02 on the held-in tasks below. A global
multiplier is exactly ``log_scale += log(multiplier)``, so the chosen one is folded into the weights.

A candidate may be the mean of the weights of several checkpoints of one run (``a+b+c``): meta-training
is noisy (held-in ratios at 1,000 steps of 1.5x, 1.2x and 3.7x at meta-steps 2,136, 3,036 and 4,000 of
one run) and averaging its late checkpoints smooths that out.

Every (candidate, multiplier) trains each held-in task below (meta-training datasets, never a held-out
family, with MLP shapes meta-training never saw) for the longest horizon with ``LearnedOptimizer``;
Adam with lr 3e-3, 1e-2 and 3e-2 trains the same networks on the same batches (seed 0). The choice:
the highest mean over the horizons of the fraction of tasks where the rule's full training loss is
below the best Adam's, ties broken by the geometric mean of ``(L_rule + f) / (L_adam + f)``
(``f`` = 0.1% of the task's initial loss, so tasks at ~0 loss do not dominate), among those with no
task whose loss at the longest horizon is above 1.1x its curve's minimum (if any). The held-out benchmark
(``benchmarks/meta_optimizer.py``) is never looked at.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
PMLB = REPO.parent / "shared" / "datasets" / "pmlb"
#: Held-in selection tasks: (dataset, hidden widths, activation).
SELECTION_TASKS = (
    ("pmlb/twonorm", (40,), "relu"), ("pmlb/201_pol", (24, 24), "tanh"), ("pmlb/phoneme", (96,), "sigmoid"),
    ("pmlb/letter", (48, 48), "relu"), ("sklearn/diabetes", (20,), "sigmoid"),
    ("pmlb/574_house_16H", (24, 24, 24, 24), "relu"), ("keel/australian", (128,), "tanh"),
    ("pmlb/krkopt", (40, 40), "sigmoid"), ("pmlb/1199_BNG_echoMonths", (20, 20, 20), "tanh"),
    ("pmlb/analcatdata_authorship", (24, 48), "relu"),
)
ADAM_LRS = (3e-3, 1e-2, 3e-2)


def scores_against_adam(rule: np.ndarray, adam: np.ndarray, initial: np.ndarray) -> dict[str, list[float]]:
    """Per horizon, from (tasks, horizons) full training losses: the share of tasks where the rule's loss is
    below the best Adam's, and the geometric mean of ``(L_rule + f) / (L_adam + f)``, ``f`` = 0.1% of each
    task's initial loss (so that tasks at ~0 loss do not dominate); a non-finite rule loss counts as inf."""
    f = 1e-3 * np.asarray(initial, dtype=float).reshape(-1, 1)
    ratio = np.exp(np.mean(np.log((np.nan_to_num(rule, nan=math.inf) + f) / (adam + f)), axis=0))
    return {"win_rate": [round(float(w), 2) for w in np.mean(rule < adam, axis=0)],
            "geomean_ratio": [round(float(r), 3) for r in ratio]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", required=True,
                        help="comma-separated checkpoint folders ('untrained': Adam 0.01; 'a+b+c': the mean of the "
                             "weights of folders a, b and c, e.g. checkpoints of one run at several meta-steps)")
    parser.add_argument("--multipliers", default="1", help="comma-separated global step multipliers to try")
    parser.add_argument("--horizons", default="100,1000,2000")
    parser.add_argument("--data-dir", type=Path, default=PMLB)
    parser.add_argument("--out", type=Path, required=True, help="folder for the chosen, calibrated checkpoint")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    import torch

    from autometa.neural import LearnedRule, load_network
    from autometa.neural._checkpoint import save_network  # the harness writes the chosen checkpoint
    from autometa.neural._datasets import EXCLUDED_FROM_META_TRAINING, load_task_data  # harness internals
    from autometa.neural._evaluate import (  # the harness measures this internal part
        Task,
        _diverged,
        train_run,
    )
    from autometa.neural._tasks import Architecture  # the harness measures this internal part

    torch.set_num_threads(args.threads)
    horizons = tuple(int(h) for h in args.horizons.split(","))
    steps = max(horizons)
    assert not {name for name, _, _ in SELECTION_TASKS} & EXCLUDED_FROM_META_TRAINING
    tasks = [Task(load_task_data(name, args.data_dir, max_rows=2048, seed=0), Architecture(hidden, act))
             for name, hidden, act in SELECTION_TASKS]

    def losses(optimizer: str, lr: float, network=None) -> tuple[np.ndarray, np.ndarray, int]:
        """(tasks, horizons) losses, the tasks' initial losses and the number of tasks whose loss at the
        longest horizon is above 1.1x the minimum of their curve (the benchmark's divergence)."""
        runs = [train_run(task, optimizer, lr, steps, 0, network, score_at=horizons)["curve"] for task in tasks]
        above = sum(_diverged(pd.Series(run), steps) for run in runs)
        return (np.array([[run.get(t, math.inf) for t in horizons] for run in runs]),
                np.array([run[0] for run in runs]), above)

    adam = np.min([losses("adam", lr)[0] for lr in ADAM_LRS], axis=0)
    results, networks = {}, {}
    def load(cand: str):
        if cand == "untrained":
            return LearnedRule(), {}
        loaded = [load_network(folder) for folder in cand.split("+")]
        net, record = loaded[-1]
        if len(loaded) > 1:
            states = [n.state_dict() for n, _ in loaded]
            net.load_state_dict({k: torch.stack([st[k] for st in states]).mean(0) for k in states[0]})
            record = {**record, "weights": "mean of the weights of the checkpoints at meta-steps "
                      f"{[r.get('steps_done') for _, r in loaded]} ({cand.split('+')}); record of the last"}
        return net, record

    for cand in args.candidates.split(","):
        net, record = load(cand)
        networks[cand] = (net, record)
        for mult in (float(m) for m in args.multipliers.split(",")):
            rule, initial, above = losses("learned", mult, net)
            results[(cand, mult)] = {**scores_against_adam(rule, adam, initial), "above_1.1x_min": above}
            print(f"{cand} x{mult:g}: {results[(cand, mult)]}", flush=True)
    best = max(results, key=lambda k: (results[k]["above_1.1x_min"] == 0, np.mean(results[k]["win_rate"]),
                                       -np.mean(np.log(results[k]["geomean_ratio"]))))
    cand, mult = best
    net, record = networks[cand]
    with torch.no_grad():
        net.log_scale.add_(math.log(mult))
    command = "python benchmarks/meta_optimizer_select.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    record = {k: v for k, v in record.items() if k not in ("format_version", "network")}
    record["selection"] = {
        "command": command, "chosen": cand, "step_multiplier": mult,
        "note": f"chosen among the candidates x step multipliers on held-IN tasks only (never a held-out family); "
                f"the multiplier {mult:g} is folded into log_scale (corrects the short-horizon bias of truncated "
                f"meta-training toward small steps)",
        "criterion": "no task above 1.1x its curve's minimum at the longest T (if any such), then mean over T of the fraction of tasks where the rule's full training loss at T is below the best "
                     f"Adam's (lr {list(ADAM_LRS)}), ties: geometric mean of (L_rule + f) / (L_adam + f), f = 0.1% of "
                     f"the initial loss; tasks {[f'{n} @ {Architecture(h, a).name}' for n, h, a in SELECTION_TASKS]}, "
                     f"seed 0, horizons {list(horizons)}",
        "results": {f"{c} x{m:g}": v for (c, m), v in results.items()},
    }
    save_network(args.out, net, record)
    print(json.dumps(record["selection"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
