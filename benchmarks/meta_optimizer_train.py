"""Meta-train the shipped learned-optimizer checkpoint (the recipe of ``autometa/data/meta_optimizer``).

    python benchmarks/meta_optimizer_train.py --out /tmp/meta_opt16 --steps 4000 --time-limit 3900
    python benchmarks/meta_optimizer_train.py --out /tmp/meta_opt16 --resume   # continue an interrupted run

then choose and calibrate the shipped weights on held-IN tasks with ``benchmarks/meta_optimizer_select.py``
(the shipped ones: the mean of copies of ``/tmp/meta_opt16`` taken at meta-steps 2136 ... 4000, step
multiplier 3; see its ``record.json``) and copy them:

    cp /tmp/meta_opt_chosen/optimizer.pt /tmp/meta_opt_chosen/record.json autometa/data/meta_optimizer/

All PMLB (``--data-dir``), KEEL and scikit-learn datasets except the held-out families; one CPU thread.
Same as ``autometa meta-optimizer train`` with these settings. ``--cnn-share 0.2`` makes a fifth of the
trajectories small CNNs on image problems (generated shapes and Omniglot's background alphabets from
``--omniglot``; never the held-out handwritten digits):

    python benchmarks/meta_optimizer_train.py --out /tmp/meta_opt_cnn --steps 4000 --time-limit 3900 --cnn-share 0.2
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PMLB = REPO.parent / "shared" / "datasets" / "pmlb"
OMNIGLOT = REPO.parent / "shared" / "datasets" / "omniglot"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, default=PMLB)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--time-limit", type=float, default=2300.0, help="seconds (the run stops with a checkpoint)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--unroll", type=int, default=None, help="base steps per meta-gradient (default: MetaTrainConfig's)")
    parser.add_argument("--meta-lr", type=float, default=None, help="default: MetaTrainConfig's")
    parser.add_argument("--tasks-per-step", type=int, default=None, help="default: MetaTrainConfig's")
    parser.add_argument("--average-from", type=float, default=None,
                        help="write the mean of the weights over trajectory ends after this fraction of the steps")
    parser.add_argument("--seed", type=int, default=None, help="default: MetaTrainConfig's, 0")
    parser.add_argument("--cnn-share", type=float, default=None,
                        help="fraction of trajectories on small CNNs (default: MetaTrainConfig's, 0)")
    parser.add_argument("--omniglot", type=Path, default=OMNIGLOT,
                        help="Omniglot folder (background zips) for the CNN tasks; 'none': generated images only")
    args = parser.parse_args(argv)

    import torch

    from autometa.neural import MetaTrainConfig, meta_train

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    extra = {k: v for k, v in (("unroll", args.unroll), ("meta_lr", args.meta_lr),
                               ("tasks_per_step", args.tasks_per_step), ("average_from", args.average_from),
                               ("cnn_share", args.cnn_share), ("seed", args.seed))
             if v is not None}
    config = MetaTrainConfig(steps=args.steps, curriculum=0.1, **extra)
    command = "python benchmarks/meta_optimizer_train.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    images = None if str(args.omniglot) == "none" or not config.cnn_share else args.omniglot
    record = meta_train(args.out, config, data_dir=args.data_dir, resume=args.resume, device=args.device,
                        progress=True, command=command, time_limit=args.time_limit, images=images)
    print(f"{record['steps_done']} meta-steps, {record['wall_seconds']} s, final meta-loss {record['final_meta_loss']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
