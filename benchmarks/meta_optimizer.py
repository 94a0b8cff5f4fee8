"""The learned optimizer vs Adam, RMSprop and SGD+momentum with learning rates tuned per horizon.

    python benchmarks/meta_optimizer.py                       # the shipped checkpoint, 2 seeds, T=100/1000/2000
    python benchmarks/meta_optimizer.py --checkpoint ckpt/    # another checkpoint
    python benchmarks/meta_optimizer.py --quick               # 2 datasets + the CNN, 1 seed, T=20/50 (smoke test)

Held-out dataset families (``autometa.neural._datasets.HELD_OUT_FAMILIES``), each evaluated dataset paired
with an MLP shape meta-training never saw, plus a CNN on the 8x8 digits (held out: CNN meta-training tasks
never use its images nor its shape; the shipped checkpoint saw no CNN). Every baseline's lr is tuned per task on a grid, separately for each horizon (the lr with the lowest
mean training loss over the seeds at that step: an oracle tuning). Divergence: loss at T above 1.1x the
minimum of the run's own curve. Time per step, learned / Adam, on reference MLPs of 10k and 100k
parameters (CPU). Results: ``benchmarks/results/meta_optimizer_{summary.csv,curves.csv,results.md,
curves_T2000.png,headline.json}``. Same as ``autometa meta-optimizer eval --out benchmarks/results``, plus
the headline JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
PMLB = REPO.parent / "shared" / "datasets" / "pmlb"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="pretrained")
    parser.add_argument("--data-dir", type=Path, default=PMLB)
    parser.add_argument("--horizons", default="100,1000,2000")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: fastest for tiny nets on a busy CPU)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--small-grids", action="store_true",
                        help="3 learning rates per baseline instead of 5 (the grids' middle points)")
    parser.add_argument("--quick", action="store_true", help="2 datasets and the CNN, 1 seed, T=20/50: a smoke test")
    args = parser.parse_args(argv)

    from autometa.neural import evaluate
    from autometa.neural._datasets import HELD_OUT_DATASETS  # the harness measures this internal part
    from autometa.neural._evaluate import LR_GRIDS, LR_GRIDS_SMALL  # the harness measures this internal part

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    datasets, prefix, horizons = None, "meta_optimizer_", tuple(int(h) for h in args.horizons.split(","))
    if args.quick:
        datasets, prefix, horizons, args.seeds = HELD_OUT_DATASETS[:2], "meta_optimizer_quick_", (20, 50), 1
    command = "python benchmarks/meta_optimizer.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    import os

    start_load = os.getloadavg()[0]
    machine = f"{os.cpu_count()} CPU cores (shared), no GPU; load average {start_load:.1f} at the start"
    head = evaluate(args.checkpoint, data_dir=args.data_dir, horizons=horizons, seeds=tuple(range(args.seeds)),
                    datasets=datasets, out=args.out, prefix=prefix, threads=args.threads, command=command,
                    progress=True, notes={"machine": machine},
                    grids=LR_GRIDS_SMALL if args.small_grids else LR_GRIDS)
    head["command"] = command
    (args.out / f"{prefix}headline.json").write_text(json.dumps(head, indent=2) + "\n")
    print(json.dumps(head, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
