"""Tables, headline numbers and plots of a learned-optimizer evaluation (CSV, Markdown, PNG)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

BASELINES = ("adam", "rmsprop", "sgd_momentum")
_LABELS = {"learned": "learned (LSTM)", "adam": "Adam", "rmsprop": "RMSprop", "sgd_momentum": "SGD+momentum"}


def headline(summary: pd.DataFrame, horizon: int, timing: dict[str, dict[str, float]] | None = None
             ) -> dict[str, Any]:
    """The targets of the issue, measured: win rate vs tuned Adam at T, divergence at 10T, step cost."""
    at_t = summary[summary["steps"] == horizon].pivot(index="task", columns="optimizer", values="train_loss")
    longest = summary["steps"].max()
    long = summary[(summary["steps"] == longest) & (summary["optimizer"] == "learned")]
    wins = {b: float((at_t["learned"] < at_t[b]).mean()) for b in BASELINES if b in at_t}
    at_long = summary[summary["steps"] == longest].pivot(index="task", columns="optimizer", values="train_loss")
    out: dict[str, Any] = {
        "tasks": int(len(at_t)),
        "horizon": int(horizon),
        "long_steps": int(longest),
        "win_rate_vs_tuned_at_horizon": wins,
        "win_rate_vs_tuned_at_long": {b: float((at_long["learned"] < at_long[b]).mean()) for b in BASELINES
                                      if b in at_long},
        "learned_diverged_tasks_at_long": int((long["diverged_seeds"] > 0).sum()),
        # Not divergence, but instability: the training loss is higher at the long horizon than at T.
        "learned_loss_rose_after_horizon": int((at_long["learned"] > at_t["learned"].reindex(at_long.index)).sum()),
        "target_win_rate_met": bool(wins.get("adam", 0.0) >= 0.7),
        "target_no_divergence_met": bool((long["diverged_seeds"] == 0).all()),
    }
    out["baseline_lr_at_grid_edge"] = int(summary["lr_at_grid_edge"].sum())
    if timing:
        ratios = {task: t["learned"] / t["adam"] for task, t in timing.items()}
        out.update({"seconds_per_step": timing, "step_cost_ratio_vs_adam": ratios,
                    "step_cost_ratio_median": float(np.median(list(ratios.values()))),
                    "step_cost_ratio_max": float(max(ratios.values())),
                    "target_step_cost_met": bool(max(ratios.values()) <= 3.0)})
    return out


def mean_curves(runs: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """Mean (over seeds) training-loss curve of every optimizer at its tuned lr, per task and tuning T."""
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
    """A Markdown report: setup, headline, and per-task tables at T and at the long horizon."""
    lines = ["# Learned LSTM optimizer vs tuned Adam / RMSprop / SGD+momentum", ""]
    for key, value in meta.items():
        lines.append(f"- **{key}**: {value}")
    lines += ["", "## Headline (measured)", ""]
    wins = head["win_rate_vs_tuned_at_horizon"]
    lines.append(f"- Training loss at T={head['horizon']}: learned lower than tuned Adam on "
                 f"{wins.get('adam', float('nan')):.0%} of {head['tasks']} held-out tasks (target >= 70%: "
                 f"{'met' if head['target_win_rate_met'] else 'NOT met'}); vs RMSprop {wins.get('rmsprop', 0):.0%}, "
                 f"vs SGD+momentum {wins.get('sgd_momentum', 0):.0%}.")
    lw = head["win_rate_vs_tuned_at_long"]
    lines.append(f"- At {head['long_steps']} steps (10x): learned lower than tuned Adam on {lw.get('adam', 0):.0%} "
                 f"of tasks; learned diverged (loss not finite or above its initial value) on "
                 f"{head['learned_diverged_tasks_at_long']} task(s) (target 0: "
                 f"{'met' if head['target_no_divergence_met'] else 'NOT met'}); but its mean training loss at "
                 f"{head['long_steps']} steps is higher than at T={head['horizon']} on "
                 f"{head['learned_loss_rose_after_horizon']} task(s) (it does not anneal its steps).")
    lines.append(f"- Baseline lrs tuned to the edge of their grid: {head['baseline_lr_at_grid_edge']} of "
                 f"{int((summary['optimizer'] != 'learned').sum())} (task, optimizer, T) cases.")
    if "step_cost_ratio_vs_adam" in head:
        lines.append(f"- Wall time per training step, learned / Adam on the same network: median "
                     f"{head['step_cost_ratio_median']:.2f}x, max {head['step_cost_ratio_max']:.2f}x (target <= 3x: "
                     f"{'met' if head['target_step_cost_met'] else 'NOT met'}):")
        lines += ["", "| network | parameters | learned ms/step | Adam ms/step | ratio |", "|---|---:|---:|---:|---:|"]
        for task, t in head["seconds_per_step"].items():
            lines.append(f"| {task} | {int(t['n_params'])} | {t['learned'] * 1e3:.2f} | {t['adam'] * 1e3:.2f} | "
                         f"{t['learned'] / t['adam']:.2f}x |")
    for steps in sorted(summary["steps"].unique()):
        at = summary[summary["steps"] == steps]
        lines += ["", f"## After {steps} steps (baselines' lr tuned for {steps} steps)", "",
                  "Training loss (mean over seeds; lr in brackets) and test score (balanced accuracy or R2).", "",
                  "| task | " + " | ".join(_LABELS[o] for o in ("learned", *BASELINES)) + " | learned < Adam | "
                  + " | ".join(f"test {_LABELS[o]}" for o in ("learned", "adam")) + " |",
                  "|---|" + "---:|" * 4 + ":---:|---:|---:|"]
        for task, grp in at.groupby("task", sort=False):
            g = grp.set_index("optimizer")
            cells = []
            for o in ("learned", *BASELINES):
                if o not in g.index:
                    cells.append("-")
                    continue
                r = g.loc[o]
                flag = " (diverged)" if r["diverged_seeds"] else ""
                lr = "" if o == "learned" else f" [{r['lr']:g}]"
                cells.append(f"{r['train_loss']:.4f}{lr}{flag}")
            win = "yes" if g.loc["learned", "train_loss"] < g.loc["adam", "train_loss"] else "no"
            tests = [f"{g.loc[o, 'test_score']:.3f}" for o in ("learned", "adam")]
            lines.append(f"| {task} | " + " | ".join(cells) + f" | {win} | " + " | ".join(tests) + " |")
    return "\n".join(lines) + "\n"


def plot_curves(curves: pd.DataFrame, tuned_for: int, horizon: int, path: Path, title: str) -> None:
    """One panel per task: mean training loss vs step of every optimizer (log-log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sel = curves[curves["tuned_for"] == tuned_for]
    tasks = list(dict.fromkeys(sel["task"]))
    cols = 4
    rows = math.ceil(len(tasks) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    colors = {"learned": "C3", "adam": "C0", "rmsprop": "C2", "sgd_momentum": "C1"}
    for ax, task in zip(axes.flat, tasks, strict=False):  # more panels than tasks
        for opt, grp in sel[sel["task"] == task].groupby("optimizer"):
            g = grp[grp["step"] > 0]
            y = g["train_loss"].replace([np.inf], np.nan)
            label = _LABELS[opt] + ("" if opt == "learned" else f" lr={grp['lr'].iloc[0]:g}")
            ax.plot(g["step"], y, color=colors[opt], label=label, lw=2 if opt == "learned" else 1.2)
        ax.axvline(horizon, color="gray", ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(task.replace(" @ ", "\n"), fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_report(runs: pd.DataFrame, summary: pd.DataFrame, horizon: int, out_dir: str | Path, prefix: str,
                 timing: dict[str, float] | None, meta: dict[str, Any]) -> dict[str, Any]:
    """Write ``<prefix>summary.csv``, ``<prefix>curves.csv``, ``<prefix>results.md`` and two PNGs."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    head = headline(summary, horizon, timing)
    summary.to_csv(out / f"{prefix}summary.csv", index=False)
    curves = mean_curves(runs, summary)
    curves.to_csv(out / f"{prefix}curves.csv", index=False)
    (out / f"{prefix}results.md").write_text(markdown(summary, head, meta))
    longest = int(summary["steps"].max())
    plot_curves(curves, horizon, horizon, out / f"{prefix}curves_T{horizon}.png",
                f"Training loss, baselines tuned for T={horizon} steps (dotted line)")
    if longest != horizon:
        plot_curves(curves, longest, horizon, out / f"{prefix}curves_T{longest}.png",
                    f"Training loss, baselines tuned for {longest} steps")
    return head
