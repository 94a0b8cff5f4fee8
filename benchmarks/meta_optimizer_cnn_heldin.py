"""Learned optimizers vs tuned Adam on held-IN CNN tasks: did CNN meta-training help on CNNs at all?

    python benchmarks/meta_optimizer_cnn_heldin.py --checkpoints pretrained,/tmp/meta_opt_cnn_chosen

The held-out benchmark (``benchmarks/meta_optimizer.py``) has one CNN task (the 8x8 digits); this
check adds six image problems of the kind CNN meta-training draws from (``autometa.neural._cnn_tasks``:
Omniglot background alphabets and generated shapes, 8x8, seeds 0-5), each trained with the benchmark's
digits-CNN shape (``digits_cnn``, not a meta-training shape) by the benchmark's own ``train_run``, 2,000
steps, seed 0. Per horizon: the rule's full training loss against the best Adam of lr {1e-3 ... 1e-1}
(wins, and the geometric mean of ``(L_rule + f) / (L_adam + f)``, ``f`` = 0.1% of the initial loss).
Training loss only (the problems are meta-training material, not test sets).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OMNIGLOT = REPO.parent / "shared" / "datasets" / "omniglot"
ADAM_LRS = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
if str(REPO) not in sys.path:  # run as a script: the repository's packages (benchmarks.*) on the path
    sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoints", default="pretrained", help="comma-separated checkpoint folders")
    parser.add_argument("--omniglot", type=Path, default=OMNIGLOT)
    parser.add_argument("--horizons", default="100,1000,2000")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    import torch

    from autometa.neural import load_network
    from autometa.neural._cnn_tasks import ImagePool  # the harness measures this internal part
    from autometa.neural._evaluate import Task, train_run  # the harness measures this internal part
    from benchmarks.meta_optimizer_select import scores_against_adam

    torch.set_num_threads(args.threads)
    horizons = tuple(int(h) for h in args.horizons.split(","))
    pool = ImagePool(args.omniglot if args.omniglot.is_dir() else None)
    tasks = []
    for seed in range(6):
        data = pool.task(8, np.random.default_rng(seed))
        data.X_test, data.y_test = data.X_train, data.y_train  # train_run scores a test set; unused here
        tasks.append(Task(data, None))

    def losses(optimizer: str, lr: float, network=None) -> np.ndarray:
        runs = [train_run(task, optimizer, lr, max(horizons), 0, network, score_at=horizons)["curve"]
                for task in tasks]
        return np.array([[run.get(t, np.inf) for t in (0, *horizons)] for run in runs])

    adam = np.min([losses("adam", lr) for lr in ADAM_LRS], axis=0)[:, 1:]
    results = {}
    for folder in args.checkpoints.split(","):
        net, _ = load_network(folder)
        rule = losses("learned", 1.0, net)
        results[folder] = {**scores_against_adam(rule[:, 1:], adam, rule[:, 0]),
                           "loss": [[float(f"{v:.3g}") for v in row] for row in rule[:, 1:]]}
        print(folder, results[folder], flush=True)
    print(json.dumps({"tasks": [t.data.name for t in tasks], "horizons": list(horizons),
                      "best_adam_loss": [[float(f"{v:.3g}") for v in row] for row in adam], "results": results},
                     indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
