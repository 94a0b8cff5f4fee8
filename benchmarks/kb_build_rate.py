"""Per-family evaluation cost of a running knowledge-base build (from its logs) and the ETA of its passes.

    python benchmarks/kb_build_rate.py work/kb-build > benchmarks/results/kb_build_rate.md
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import statistics
import sys
from pathlib import Path

PASSES = (("pass 1 (8 configs per family)", 8), ("pass 2 (16)", 16), ("pass 3 (32)", 32))


def main(folder: Path, n_datasets: int = 271, n_families: int = 7) -> None:
    walls: dict[str, list[float]] = collections.defaultdict(list)
    statuses: collections.Counter = collections.Counter()
    times = []
    for path in (folder / "logs").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            result = record["result"]
            walls[record["family"]].append(result["wall_seconds"])
            statuses[(record["family"], result["status"])] += 1
            times.append(dt.datetime.fromisoformat(record["finished_at"]))
    n = sum(len(v) for v in walls.values())
    hours = (max(times) - min(times)).total_seconds() / 3600
    rate = n / hours
    mean = statistics.mean(x for v in walls.values() for x in v)
    print("# Knowledge-base build: measured cost\n")
    print(f"Measured {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC from `{folder}/logs` with "
          f"`python benchmarks/kb_build_rate.py {folder}`.\n")
    print(f"{n} evaluations in {hours:.2f} h of build time: **{rate:.0f} evaluations/hour** with `--n-jobs 1` on a "
          "2-core machine shared with other work (load average 8-10: the build gets a fraction of one core). "
          "Wall seconds include the three folds, the protocol's limits and the worker round trip.\n")
    print("| family | evaluations | mean s | median s | p90 s | timeouts |\n|---|---:|---:|---:|---:|---:|")
    for family, values in sorted(walls.items()):
        values = sorted(values)
        print(f"| {family} | {len(values)} | {statistics.mean(values):.2f} | {statistics.median(values):.2f} | "
              f"{values[int(0.9 * len(values))]:.2f} | {statuses[(family, 'timeout')]} |")
    print()
    for label, n_configs in PASSES:
        total = n_datasets * n_families * n_configs
        left = max(total - n, 0)
        print(f"- {label}: {total} evaluations in all, {left} left: about {left / rate:.1f} h at the measured rate, "
              f"{left * mean / 3600 / 14:.1f} h on 14 unshared cores at the measured mean of {mean:.2f} s.")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
