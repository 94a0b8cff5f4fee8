"""Tables, headline numbers and a plot of a learned-optimizer evaluation (CSV, Markdown, PNG)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

BASELINES = ("adam", "rmsprop", "sgd_momentum")
_LABELS = {"learned": "learned", "adam": "Adam", "rmsprop": "RMSprop", "sgd_momentum": "SGD+momentum"}
#: Win-rate targets vs per-horizon-tuned Adam (issue 16), by horizon.
WIN_TARGETS = {100: 0.7, 1000: 0.5}


def headline(summary: pd.DataFrame, horizons: tuple[int, ...], timing: dict[str, dict[str, float]] | None = None
             ) -> dict[str, Any]:
    """The targets, measured: win rates vs tuned baselines per horizon, divergence, step cost."""
    out: dict[str, Any] = {"tasks": int(summary["task"].nunique()), "horizons": [int(h) for h in horizons],
                           "win_rate": {}, "learned_diverged_tasks": {}, "learned_diverged_seeds": {},
                           "targets": {}}
    learned = summary[summary["optimizer"] == "learned"]
    for T in horizons:
        at = summary[summary["steps"] == T].pivot(index="task", columns="optimizer", values="train_loss")
        out["win_rate"][int(T)] = {b: float((at["learned"] < at[b]).mean()) for b in BASELINES if b in at}
        lt = learned[learned["steps"] == T]
        out["learned_diverged_tasks"][int(T)] = sorted(lt.loc[lt["mean_diverged"], "task"])
        out["learned_diverged_seeds"][int(T)] = int(lt["diverged_seeds"].sum())
        if T in WIN_TARGETS:
            out["targets"][f"win_rate_vs_adam_at_{T}>={WIN_TARGETS[T]:.0%}"] = bool(
                out["win_rate"][int(T)].get("adam", 0.0) >= WIN_TARGETS[T])
    longest = int(max(horizons))
    out["targets"][f"no_task_above_1.1x_min_at_{longest}"] = not out["learned_diverged_tasks"][longest]
    out["baseline_lr_at_grid_edge"] = int(summary["lr_at_grid_edge"].sum())
    if timing:
        ratios = {name: t["learned"] / t["adam"] for name, t in timing.items()}
        out.update({"seconds_per_step": timing, "step_cost_ratio_vs_adam": ratios})
        big = [name for name, t in timing.items() if t["n_params"] >= 90_000]
        if big:
            out["targets"]["step_cost_<=3x_adam_at_100k"] = bool(max(ratios[n] for n in big) <= 3.0)
    return out


def mean_curves(runs: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """Mean (over seeds) training-loss curve of every optimizer at its tuned lr, per task and horizon."""
    parts = []
    for (task, opt, steps), row in summary.set_index(["task", "optimizer", "steps"]).iterrows():
        sel = runs[(runs["task"] == task) & (runs["optimizer"] == opt) & (runs["lr"] == row["lr"])]
        curve = sel.groupby("step")["train_loss"].mean().reset_index()
        curve.insert(0, "tuned_for", steps)
        curve.insert(0, "lr", row["lr"])
        curve.insert(0, "optimizer", opt)
        curve.insert(0, "task", task)
        parts.append(curve)
    return pd.concat(parts, ignore_index=True)


def markdown(summary: pd.DataFrame, head: dict[str, Any], meta: dict[str, Any]) -> str:
    """A Markdown report: setup, headline, and a per-task table per horizon."""
    lines = ["# Learned optimizer vs per-horizon-tuned Adam / RMSprop / SGD+momentum", ""]
    for key, value in meta.items():
        lines.append(f"- **{key}**: {value}")
    lines += ["", "## Headline (measured)", ""]
    for T in head["horizons"]:
        wins = head["win_rate"][T]
        target = WIN_TARGETS.get(T)
        met = "" if target is None else (f" (target >= {target:.0%}: "
                                         f"{'met' if wins.get('adam', 0.0) >= target else 'NOT met'})")
        div = head["learned_diverged_tasks"][T]
        lines.append(f"- T={T}: learned lower training loss than tuned Adam on {wins.get('adam', float('nan')):.0%} "
                     f"of {head['tasks']} held-out tasks{met}; vs RMSprop {wins.get('rmsprop', 0):.0%}, vs "
                     f"SGD+momentum {wins.get('sgd_momentum', 0):.0%}. Learned loss at T more than 1.1x its "
                     f"minimum (mean curve): {len(div)} task(s){': ' + ', '.join(div) if div else ''}; "
                     f"diverged seeds {head['learned_diverged_seeds'][T]}.")
    lines.append(f"- Baseline lrs tuned to the edge of their grid: {head['baseline_lr_at_grid_edge']} of "
                 f"{int((summary['optimizer'] != 'learned').sum())} (task, optimizer, T) cases.")
    if "step_cost_ratio_vs_adam" in head:
        lines += ["", "Wall time per training step (forward, backward, optimizer step), learned / Adam, CPU:", "",
                  "| network | parameters | learned ms/step | Adam ms/step | ratio |", "|---|---:|---:|---:|---:|"]
        for name, t in head["seconds_per_step"].items():
            lines.append(f"| {name} | {int(t['n_params'])} | {t['learned'] * 1e3:.2f} | {t['adam'] * 1e3:.2f} | "
                         f"{t['learned'] / t['adam']:.2f}x |")
    lines += ["", "Targets: " + ", ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in head["targets"].items())]
    for steps in sorted(summary["steps"].unique()):
        at = summary[summary["steps"] == steps]
        lines += ["", f"## After {steps} steps (baselines' lr tuned for {steps} steps)", "",
                  "Training loss (mean over seeds; lr in brackets; * = more than 1.1x the minimum of its curve) and "
                  "test score (balanced accuracy or R2).", "",
                  "| task | " + " | ".join(_LABELS[o] for o in ("learned", *BASELINES)) + " | learned < Adam | "
                  + " | ".join(f"test {_LABELS[o]}" for o in ("learned", "adam")) + " |",
                  "|---|" + "---:|" * 4 + ":---:|---:|---:|"]
        for task, grp in at.groupby("task", sort=True):
            g = grp.set_index("optimizer")
            cells = []
            for o in ("learned", *BASELINES):
                if o not in g.index:
                    cells.append("-")
                    continue
                r = g.loc[o]
                flag = "*" if r["mean_diverged"] else ""
                lr = "" if o == "learned" else f" [{r['lr']:g}]"
                cells.append(f"{r['train_loss']:.4f}{flag}{lr}")
            win = "yes" if g.loc["learned", "train_loss"] < g.loc["adam", "train_loss"] else "no"
            tests = [f"{g.loc[o, 'test_score']:.3f}" for o in ("learned", "adam")]
            lines.append(f"| {task} | " + " | ".join(cells) + f" | {win} | " + " | ".join(tests) + " |")
    return "\n".join(lines) + "\n"


def plot_curves(curves: pd.DataFrame, tuned_for: int, horizons: tuple[int, ...], path: Path, title: str) -> None:
    """One panel per task: mean training loss vs step of every optimizer (log-log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sel = curves[curves["tuned_for"] == tuned_for]
    tasks = sorted(dict.fromkeys(sel["task"]))
    cols = 5
    rows = math.ceil(len(tasks) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.8 * rows), squeeze=False)
    colors = {"learned": "C3", "adam": "C0", "rmsprop": "C2", "sgd_momentum": "C1"}
    for ax, task in zip(axes.flat, tasks, strict=False):  # more panels than tasks
        for opt, grp in sel[sel["task"] == task].groupby("optimizer"):
            g = grp[grp["step"] > 0]
            y = g["train_loss"].replace([np.inf], np.nan)
            label = _LABELS[opt] + ("" if opt == "learned" else f" lr={grp['lr'].iloc[0]:g}")
            ax.plot(g["step"], y, color=colors[opt], label=label, lw=2 if opt == "learned" else 1.2)
        for h in horizons:
            ax.axvline(h, color="gray", ls=":", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(task.replace(" @ ", "\n"), fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def write_report(runs: pd.DataFrame, summary: pd.DataFrame, horizons: tuple[int, ...], out_dir: str | Path,
                 prefix: str, timing: dict[str, dict[str, float]] | None, meta: dict[str, Any],
                 head: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``<prefix>summary.csv``, ``<prefix>curves.csv``, ``<prefix>results.md`` and one PNG."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    head = headline(summary, horizons, timing) if head is None else head
    summary.to_csv(out / f"{prefix}summary.csv", index=False)
    curves = mean_curves(runs, summary)
    curves.to_csv(out / f"{prefix}curves.csv", index=False)
    (out / f"{prefix}results.md").write_text(markdown(summary, head, meta))
    longest = int(max(horizons))
    plot_curves(curves, longest, horizons, out / f"{prefix}curves_T{longest}.png",
                f"Training loss, baselines tuned for {longest} steps (dotted: compared horizons)")
    return head
