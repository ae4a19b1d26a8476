"""`eiwa experiment`: run (or report) a transfer study described by a TOML file."""

from __future__ import annotations

from pathlib import Path

import click

from eiwa.cli import cli
from eiwa.cli.options import QUIET_HELP, console, device_option, ray_option
from eiwa.errors import EiwaError


@cli.command()
@click.argument("config_file", type=click.Path(dir_okay=False))
@click.option("--report-only", is_flag=True, help="Rewrite the report from finished cells without training.")
@click.option("--grid", "grids", multiple=True, help="Run only this grid (repeatable).")
@click.option(
    "--modules",
    "module_sets",
    multiple=True,
    help="Run only cells with this module subset, e.g. char,classifier (repeatable).",
)
@click.option("--size", "sizes", multiple=True, help="Run only cells with this training size, or `all` (repeatable).")
@click.option(
    "--features",
    "feature_sets",
    multiple=True,
    help="Run only cells with these features, e.g. char,word,pos (repeatable).",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a training setting for this run, e.g. threads=1 (repeatable; not for settings that change results).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Run this many (cell, seed) trainings at once, each in its own process (records equal a serial run's).",
)
@ray_option("Run every (cell, seed) as a Ray task")
@click.option("--quiet", is_flag=True, help=QUIET_HELP)
@device_option
def experiment(
    config_file, report_only, grids, module_sets, sizes, feature_sets, overrides, workers, ray_address, quiet, device
):
    """Run a transfer study from a TOML file: module grid, input grid, data-size curves.

    Every (cell, seed) result is kept as soon as it finishes, so running the same command again
    after an interruption resumes. Writes cells.jsonl, results.json, RESULTS.md (mean ± std,
    difference from scratch, paired approximate-randomization p) and PNG curves to the
    experiment's `out` folder. See experiments/*.toml and src/eiwa/study/spec.py for the format.
    --grid, --modules and --size run part of the study first (the report always covers every
    finished cell). --workers 2 runs two trainings at once (one torch thread each: --set threads=1).

    \b
    Examples:
      eiwa experiment experiments/hironsan.toml --workers 2
      eiwa experiment experiments/hironsan.toml --ray auto --set threads=1
      eiwa experiment experiments/stockmark.toml --grid curve --modules none --modules char,classifier
      eiwa experiment experiments/stockmark.toml --report-only
    """
    from eiwa.study.annotation import is_annotation_study
    from eiwa.study.grid import cells_of, select_cells
    from eiwa.study.report import write_report
    from eiwa.study.runner import read_finished, run_experiment
    from eiwa.study.spec import load_experiment
    from eiwa.training.train import silent

    if is_annotation_study(config_file):
        return _annotation_study(
            config_file, report_only, workers, quiet, grids or module_sets or sizes or feature_sets
        )
    spec = load_experiment(config_file)
    if report_only:
        out = Path(spec.out)
        if not (out / "cells.jsonl").exists():
            raise EiwaError(f"{out}: no results yet (no cells.jsonl); run `eiwa experiment {config_file}` first")
        write_report(spec, read_finished(out / "cells.jsonl"), out)
    else:
        spec = spec.for_run(overrides, str(device))
        cells = select_cells(
            cells_of(spec.grids), grids or None, module_sets or None, sizes or None, feature_sets or None
        )
        if ray_address is not None and workers > 1:
            raise EiwaError("--ray and --workers: choose one (Ray places the runs itself)")
        out = run_experiment(
            spec, log=silent if quiet else console.print, cells=cells, workers=workers, ray_address=ray_address
        )
    click.echo(f"report: {out / 'RESULTS.md'}")  # the result, on stdout


def _annotation_study(config_file, report_only: bool, workers: int, quiet: bool, filtered) -> None:
    """An annotation study (study/annotation.py: a file with [arms]): its runs, then its report."""
    from eiwa.study.annotation import AnnotationSpec, run_study, write_annotation_report
    from eiwa.training.train import silent

    if filtered:
        raise EiwaError(
            f"{config_file}: an annotation study runs whole (--grid, --modules, --size, --features are for grids)"
        )
    spec = AnnotationSpec.read(config_file)
    log = silent if quiet else console.print
    path = write_annotation_report(spec) if report_only else run_study(spec, workers, log)
    click.echo(f"report: {path}")
