"""Typed CLI options shared by the verbs, so that one option has one name and one help text everywhere.

A verb declares ``target: TargetOption = None`` instead of repeating ``typer.Option(...)``. Counts have
their own long names; the short ``-n`` always counts configs (to recommend, to try as trials, to
evaluate per family in a knowledge-base build), and ``--n`` (recommend's old spelling) still works.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DATA_HELP = "The dataset: CSV/TSV (.gz), Parquet or a PMLB folder."

DataArgument = Annotated[Path, typer.Argument(help=DATA_HELP, show_default=False)]
TargetOption = Annotated[str | None, typer.Option(
    "--target", "-t", help="Target column (default: target/class/label/y, else the last column).")]
TaskOption = Annotated[str | None, typer.Option(
    "--task", help="classification or regression (default: inferred from the target; integers count as classes "
    "when they take at most 20 values or look like coded labels 0..k or 1..k; the notes say why).")]
FamilyOption = Annotated[list[str] | None, typer.Option(
    "--family", "-f", help="Only this model family (repeatable, or comma-separated); default: all.")]
MetricOption = Annotated[str | None, typer.Option(
    "--metric", "-m", help="Metric to optimize (default: balanced_accuracy or r2).")]
EncodingOption = Annotated[str | None, typer.Option(
    "--encoding", help="Text encoding of a CSV/TSV file (default: utf-8), e.g. latin-1 or cp1252.")]
KbOption = Annotated[Path | None, typer.Option("--kb", help="Knowledge-base folder (default: the shipped one).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts) instead of tables.")]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of subsampling, folds and models.")]
NJobsOption = Annotated[int, typer.Option("--n-jobs", "-j", min=1, help="Parallel worker processes.")]

# -n counts configs in every verb; each count has its own long name.
NRecommendationsOption = Annotated[int, typer.Option(
    "--n-recommendations", "-n", "--n", min=1, help="How many configs to recommend.")]
NTrialsOption = Annotated[int | None, typer.Option(
    "--n-trials", "-n", min=1, help="How many configs to try (trials) in this call.")]
ConfigsPerFamilyOption = Annotated[int, typer.Option(
    "--configs-per-family", "-n", min=1, help="How many configs to evaluate per family: the default + N-1 Sobol points.")]


def split_families(values: list[str] | None) -> list[str] | None:
    """``--family a --family b,c`` as ``["a", "b", "c"]``; None when none was given."""
    return [f.strip() for value in (values or []) for f in value.split(",") if f.strip()] or None
