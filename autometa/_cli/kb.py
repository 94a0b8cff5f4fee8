"""``autometa kb``: build, inspect, refresh and export knowledge bases of task histories.

A thin layer over :mod:`autometa.kb`'s verbs (``build``, ``export``, ``info``, ``refresh_metafeatures``):
parse, call, print. The importers (``import-lcdb``, ``import-openml``, ``import-study``) live in
``autometa._cli.kb_import`` and are added to this group through its ``register(kb_app)``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import typer

from autometa._cli._common import print_json, stderr_console, stdout_console, verbose_log
from autometa._cli._options import ConfigsPerFamilyOption, JsonOption, NJobsOption, SeedOption, split_families

kb_app = typer.Typer(
    name="kb",
    help="The knowledge base of task histories: build it over a corpus, inspect it, export it.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    kb_app.command(name="build", help=_BUILD_HELP)(build_command)
    kb_app.command(name="info", help="Counts of a knowledge base (default: the shipped one): datasets per "
                   "source and task, evaluations and failures per family, the protocol.")(info_command)
    kb_app.command(name="export", help=_EXPORT_HELP)(export_command)
    kb_app.command(name="refresh-metafeatures", help="Compute (missing) meta-features of every dataset of a "
                   "build; re-runnable.")(refresh_metafeatures_command)
    try:
        extra = importlib.import_module("autometa._cli.kb_import")
    except ModuleNotFoundError as exc:
        if exc.name != "autometa._cli.kb_import":
            raise
    else:
        extra.register(kb_app)
    app.add_typer(kb_app, name="kb")


_BUILD_HELP = """Evaluate every family's config set on every dataset of the corpora (resumable, parallel).

CORPUS is a PMLB-layout folder, a folder of CSV/Parquet files, 'keel', 'keel-imbalanced' or 'sklearn'; append ':a,b' to keep only some datasets (e.g. sklearn:iris,wine). Every family's default is evaluated on every dataset first, then the rest dataset by dataset. Kill it at any time and run the same command again: finished evaluations are kept and skipped. Raising --configs-per-family later adds configs without redoing any (the config sets are prefix-stable).

With --storage (any Optuna RDB URL, e.g. postgresql://user:pw@host/db) many workers on many machines share the work: run the same command on each; then 'autometa kb export --storage URL --out KB'.

Examples:

  autometa kb build /data/pmlb keel sklearn --out work/kb --configs-per-family 8 --n-jobs 2

  autometa kb build sklearn --out work/kb --storage postgresql://kb@dbhost/kb
"""


def build_command(
    corpus: list[str] = typer.Argument(..., help="Corpora: PMLB/CSV folder, keel, keel-imbalanced, sklearn (optionally ':name,...')."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Build folder (logs, shards); required without --storage."),
    families: list[str] | None = typer.Option(None, "--family", "-f", "--families", help="Only this model family "
                                              "(repeatable, or comma-separated); default: all."),
    configs_per_family: ConfigsPerFamilyOption = 8,
    n_jobs: NJobsOption = 1,
    row_cap: int = typer.Option(2000, "--row-cap", help="Datasets with more rows are subsampled (seeded) to this many."),
    time_limit: float = typer.Option(30.0, "--time-limit", help="Wall-time limit of one evaluation, in seconds."),
    memory_limit: int = typer.Option(4096, "--memory-limit", help="Memory limit of one evaluation, in MiB."),
    seed: SeedOption = 0,
    storage: str | None = typer.Option(None, "--storage", help="Optuna RDB URL shared by many workers."),
    shard_dir: Path | None = typer.Option(None, "--shard-dir", help="Where finished datasets' shards and the record of build runs go (default: OUT/shards). Commit it, and a build in a fresh --out folder (another machine) continues from it."),
    metafeatures: bool = typer.Option(True, "--metafeatures/--no-metafeatures", help="Compute missing meta-features at the end."),
    worker_log: Path | None = typer.Option(None, "--worker-log", help="Append the workers' stderr to this file."),
    heartbeat_interval: int = typer.Option(10, "--heartbeat-interval", min=1, help="With --storage: seconds between heartbeats."),
    grace_period: int | None = typer.Option(None, "--grace-period", min=1, help="With --storage: seconds without a heartbeat before a trial is retried (default: 2 heartbeats)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="With --storage: one line per finished evaluation."),
    retry: str | None = typer.Option(None, "--retry", help="Evaluate again finished evaluations with these statuses "
                                     "(comma-separated: timeout,memory,failed), e.g. timeouts of a busy machine."),
) -> None:
    import shlex
    import sys

    from autometa import kb
    from autometa._cli._progress import BuildProgress
    from autometa.errors import InputError
    from autometa.evaluation import Protocol

    if verbose:
        verbose_log()
    if storage is None and out is None:
        raise InputError("Give --out DIR (the build folder) or --storage URL.")
    protocol = Protocol(k=3, seed=seed, row_cap=row_cap, time_limit=time_limit, memory_limit_mb=memory_limit)
    options = {
        "families": split_families(families), "configs_per_family": configs_per_family, "protocol": protocol,
        "n_jobs": n_jobs, "storage": storage, "shard_dir": shard_dir, "metafeatures": metafeatures,
        "retry": tuple(v.strip() for v in (retry or "").split(",") if v.strip()), "worker_log": worker_log,
        "heartbeat_interval": heartbeat_interval, "grace_period": grace_period,
        "command": " ".join(["autometa", *map(shlex.quote, sys.argv[1:])]),
    }
    if storage:
        kb.build(corpus, out, **options)
        return
    with BuildProgress(stderr_console()) as progress:
        kb.build(corpus, out, on_progress=progress, **options)


def info_command(
    path: Path | None = typer.Argument(None, help="A knowledge-base folder or a build folder (default: the shipped KB)."),
    as_json: JsonOption = False,
) -> None:
    from autometa import kb

    info = kb.info(path)
    if as_json:
        print_json(info)
        return
    _print_info(info, str(path) if path else "shipped knowledge base")


def _print_info(info: dict, title: str) -> None:
    from rich.table import Table

    from autometa.kb import configs_range_text

    console = stdout_console()
    counts = info["counts"]
    console.print(f"[bold]{title}[/bold]: {counts['datasets']} datasets, {counts['evaluations']} evaluations, "
                  f"{counts['failures']} failed, {counts['metafeatures']} meta-features")
    table = Table(title="datasets per source and task")
    for column in ("source", "classification", "regression"):
        table.add_column(column, justify="right" if column != "source" else "left")
    for source, tasks in sorted(info["datasets_per_source"].items()):
        table.add_row(source, str(tasks.get("classification", 0)), str(tasks.get("regression", 0)))
    console.print(table)
    # Sources get their own table: as one comma-joined column they wrapped every row on an 80-column terminal.
    # One "not ok" column (its reasons follow the tables; --json has the split) keeps LCDB's long learner names
    # whole on an 80-column terminal.
    table = Table(title="evaluations per family")
    table.add_column("family", no_wrap=True)
    for column in ("evals", "datasets", "configs", "not ok"):
        table.add_column(column, justify="right")
    for family, row in sorted(info["families"].items()):
        not_ok = row["failed"] + row["timeout"] + row["memory"]
        table.add_row(family, *(str(row[c]) for c in ("evaluations", "datasets")),
                      configs_range_text(row["configs_per_dataset"]), str(not_ok))
    console.print(table)
    console.print("[dim]configs: per dataset (fewest-most), under the protocol where the family has such rows[/dim]")
    sources = sorted({s for row in info["families"].values() for s in row.get("sources", {})})
    if sources:
        table = Table(title="evaluations per family and source")
        table.add_column("family", no_wrap=True)
        for source in sources:
            table.add_column(source, justify="right")
        for family, row in sorted(info["families"].items()):
            table.add_row(family, *(str(row.get("sources", {}).get(s, "")) for s in sources))
        console.print(table)
    for source, metrics in sorted(info.get("metrics_per_source", {}).items()):
        console.print(f"  [dim]{source} reports[/dim] " + ", ".join(f"{m} ({n})" for m, n in metrics.items()),
                      highlight=False)
    errors = {f: row["top_errors"] for f, row in info["families"].items() if row["top_errors"]}
    for family, top in sorted(errors.items()):
        for text, n in top.items():
            console.print(f"  [dim]{family}[/dim] {n} x {text}", highlight=False)
    if info.get("protocol"):
        console.print("protocol: " + ", ".join(f"{k}={v}" for k, v in info["protocol"].items()), highlight=False)


def export_command(
    build_dir: Path | None = typer.Argument(None, help="The build folder (omit with --storage)."),
    out: Path = typer.Option(..., "--out", "-o", help="The knowledge-base folder to write."),
    storage: str | None = typer.Option(None, "--storage", help="Export from this Optuna RDB URL instead."),
    shard_dir: Path | None = typer.Option(None, "--shard-dir", help="The build's shard folder (default: as recorded)."),
    with_lcdb: bool = typer.Option(False, "--with-lcdb", help="Add LCDB's histories (from the installed lcdb package), "
                                   "as 'autometa kb import-lcdb' makes them."),
    merge: list[Path] | None = typer.Option(None, "--merge", help="Add the rows of this knowledge-base folder too "
                                            "(repeatable), e.g. an 'autometa kb import-openml' result."),
    notes: bool = typer.Option(True, "--notes/--no-notes", help="Write BUILD.md (how it was built, counts) beside it."),
) -> None:
    from autometa import kb

    with stderr_console().status("exporting", spinner="dots") as status:
        kb.export(build_dir, out, storage=storage, shard_dir=shard_dir, with_lcdb=with_lcdb, merge=merge or (),
                  notes=notes, progress=status.update)


_EXPORT_HELP = """Merge a build's shards and logs (or an Optuna storage) into one knowledge-base folder (Parquet + kb.json), with BUILD.md (commands, versions, build time, size) beside it.

--with-lcdb adds LCDB's histories (20 scikit-learn learners on ~200 OpenML datasets); --merge adds any other knowledge-base folder. Rows of both keep their own source and protocol_version 0.

Examples:

  autometa kb export work/kb-build --out autometa/data/kb --with-lcdb     (the shipped knowledge base)

  autometa kb export --storage postgresql://kb@dbhost/kb --out kb --merge my-openml-import
"""


def refresh_metafeatures_command(
    build_dir: Path = typer.Argument(..., help="The build folder."),
    shard_dir: Path | None = typer.Option(None, "--shard-dir", help="The build's shard folder (default: as recorded)."),
    pmlb_root: Path | None = typer.Option(None, "--pmlb-root", help="Where the PMLB folders are now, if moved."),
    force: bool = typer.Option(False, "--force", help="Recompute meta-features that exist already."),
) -> None:
    from autometa import kb

    kb.refresh_metafeatures(build_dir, shard_dir=shard_dir, pmlb_root=pmlb_root, force=force)
