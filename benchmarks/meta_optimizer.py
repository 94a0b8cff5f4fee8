"""The learned LSTM optimizer vs Adam, RMSprop and SGD+momentum with tuned learning rates.

    python benchmarks/meta_optimizer.py                       # the shipped checkpoint, 3 seeds, T=100 and 1000
    python benchmarks/meta_optimizer.py --checkpoint ckpt/    # another checkpoint
    python benchmarks/meta_optimizer.py --quick               # 2 datasets, 1 seed, T=20 (a smoke test)

Held-out datasets (``autometa.neural._datasets.HELD_OUT``) each paired with a held-out architecture
(widths/depths meta-training never saw); every baseline's lr is tuned per task on a grid, separately
at T and at 10T (the lr with the lowest mean training loss over the seeds: an oracle tuning). Results:
``benchmarks/results/meta_optimizer_{summary.csv,curves.csv,results.md,curves_T*.png,headline.json}``.
Same as ``autometa meta-optimizer eval --out benchmarks/results``, plus the headline JSON.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
PMLB = REPO.parent / "shared" / "datasets" / "pmlb"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="pretrained")
    parser.add_argument("--data-dir", type=Path, default=PMLB)
    parser.add_argument("--horizon", type=int, default=100)
    parser.add_argument("--long-factor", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: fastest for tiny nets on a busy CPU)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--quick", action="store_true", help="2 datasets, 1 seed, T=20: a smoke test")
    args = parser.parse_args(argv)

    from autometa.neural._datasets import HELD_OUT_DATASETS
    from autometa.neural._evaluate import run_benchmark

    datasets, prefix = None, "meta_optimizer_"
    if args.quick:
        datasets, prefix = HELD_OUT_DATASETS[:2], "meta_optimizer_quick_"
        args.horizon, args.seeds = 20, 1
    command = "python benchmarks/meta_optimizer.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    start = time.perf_counter()
    head = run_benchmark(args.checkpoint, data_dir=args.data_dir, horizon=args.horizon, long_factor=args.long_factor,
                         seeds=tuple(range(args.seeds)), datasets=datasets, out=args.out, prefix=prefix,
                         threads=args.threads, command=command)
    head["wall_seconds"] = round(time.perf_counter() - start, 1)
    head["command"] = command
    (args.out / f"{prefix}headline.json").write_text(json.dumps(head, indent=2) + "\n")
    print(json.dumps(head, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
