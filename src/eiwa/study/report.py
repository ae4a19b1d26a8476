"""An experiment's report, from its finished records: results.json (a row per cell), RESULTS.md
and a learning-curve plot per grid with sizes.

Every cell is compared with the scratch cell (`none`) of the same inputs, size and features: mean ±
std over seeds, the difference, and a paired approximate-randomization test over test sentences
(all seeds pooled). A scratch cell with its own features is also compared with scratch of the
config's features, and transfer with N sentences with scratch of at least 2N.
"""

from __future__ import annotations

import itertools
import json
import statistics
from pathlib import Path

import numpy as np

from eiwa.persist.atomic import write_atomic
from eiwa.study.grid import Cell, cells_of
from eiwa.study.spec import SCRATCH, ExperimentSpec
from eiwa.study.stats import approximate_randomization, mean_std

METHOD = (
    "F1 is mean ± sample std over seeds; Δ is the difference from training from scratch (`none`) with the "
    "same inputs and size, over the same seeds; p is a paired approximate-randomization test over test "
    "sentences (10,000 trials, seeds pooled). A row with fewer seeds than listed is unfinished."
)


def summarise(spec: ExperimentSpec, finished: dict[str, dict]) -> list[dict]:
    """A row per cell with finished runs (those of the spec's seeds), with its paired comparisons."""
    rows = []
    cells = cells_of(spec.grids)
    for cell in cells:
        runs = [r for r in (finished.get(f"{cell.key}|{seed}") for seed in spec.seeds) if r]
        if runs:
            rows.append(_compared(_row(cell, runs), cell, runs, finished, cells))
    return rows


def _row(cell: Cell, runs: list[dict]) -> dict:
    f1s = [r["f1"] for r in runs]
    f1_mean, f1_std = mean_std(f1s)
    row = {
        "grid": cell.grid,
        "modules": cell.modules,
        "word_input": cell.word_input,
        "char_input": cell.char_input,
        "size": cell.size,
        "features": cell.features,
        "seeds": [r["seed"] for r in runs],
        "f1_mean": f1_mean,
        "f1_std": f1_std,
        "precision_mean": statistics.fmean(r["precision"] for r in runs),
        "recall_mean": statistics.fmean(r["recall"] for r in runs),
        "f1_per_seed": f1s,
    }
    if all("dev_f1" in r for r in runs):
        row["dev_f1_mean"] = statistics.fmean(r["dev_f1"] for r in runs)
    return row


def _compared(row: dict, cell: Cell, runs: list[dict], finished: dict[str, dict], cells: list[Cell]) -> dict:
    """The row with every paired comparison whose other side has records for the row's seeds."""
    seeds = row["seeds"]
    if cell.modules != SCRATCH and cell.size != 0:
        if scratch_runs := _runs_of(finished, cell.scratch(), seeds):
            row["scratch_f1_mean"], row["difference"], row["p_value"] = _paired(runs, scratch_runs)
    if cell.features and cell.modules == SCRATCH and cell.size != 0:
        if reference_runs := _runs_of(finished, cell.reference(), seeds):
            compared = _paired(runs, reference_runs)
            row["reference_f1_mean"], row["reference_difference"], row["reference_p_value"] = compared
    if cell.modules != SCRATCH and cell.size:
        if doubled := _doubled_scratch(cell, cells, finished, seeds):
            row["double_size"] = doubled[0].size
            row["double_f1_mean"], row["double_difference"], row["double_p_value"] = _paired(runs, doubled[1])
    return row


def _doubled_scratch(
    cell: Cell, cells: list[Cell], finished: dict[str, dict], seeds: list[int]
) -> tuple[Cell, list[dict]] | None:
    """For the published "transfer with N sentences beats scratch with 2N" claim: scratch of the same
    grid and inputs at the smallest size of at least 2N that has these seeds, with its records."""
    candidates = sorted(
        (
            c
            for c in cells
            if c.grid == cell.grid
            and c.modules == SCRATCH
            and c.size
            and c.size >= 2 * cell.size
            and (c.word_input, c.char_input) == (cell.word_input, cell.char_input)
        ),
        key=lambda c: c.size,
    )
    for scratch in candidates:
        if runs := _runs_of(finished, scratch, seeds):
            return scratch, runs
    return None


def _runs_of(finished: dict[str, dict], cell: Cell, seeds: list[int]) -> list[dict] | None:
    """The cell's records for exactly these seeds, or None if one is missing."""
    runs = [finished.get(f"{cell.key}|{seed}") for seed in seeds]
    return runs if all(runs) else None


def pooled_counts(runs: list[dict]) -> np.ndarray:
    """The per-sentence counts of several runs' test sentences, one after another (seeds pooled)."""
    return np.concatenate([np.asarray(r["sentence_counts"]) for r in runs])


def _paired(runs: list[dict], other_runs: list[dict]) -> tuple[float, float, float]:
    """The other system's mean F1, the difference of means, and the paired approximate-randomization p
    over the test sentences of all seeds pooled."""
    other_mean = statistics.fmean(r["f1"] for r in other_runs)
    difference = statistics.fmean(r["f1"] for r in runs) - other_mean
    return other_mean, difference, approximate_randomization(pooled_counts(runs), pooled_counts(other_runs))


def write_report(spec: ExperimentSpec, finished: dict[str, dict], out: Path) -> None:
    """results.json, RESULTS.md and the plots in `out`, from the finished records."""
    rows = summarise(spec, finished)
    write_atomic(out / "results.json", lambda p: Path(p).write_text(json.dumps(rows, indent=1, ensure_ascii=False)))
    data = spec.data
    folds = f", {data.folds} folds pooled" if data.protocol == "kfold" else ""
    lines = [
        f"# Experiment {spec.name}",
        "",
        f"Seeds {', '.join(map(str, spec.seeds))}; data {data.format} {data.path or ''} ({data.protocol}{folds}).",
        METHOD,
        "",
    ]
    for grid in spec.grids:
        grid_rows = [r for r in rows if r["grid"] == grid.name]
        if grid_rows:
            lines += _grid_section(spec, grid.name, grid_rows, out)
    write_atomic(out / "RESULTS.md", lambda p: Path(p).write_text("\n".join(lines), encoding="utf-8"))


def _grid_section(spec: ExperimentSpec, name: str, rows: list[dict], out: Path) -> list[str]:
    """A grid's table, its N-against-2N table, and its curve (when it has sizes)."""
    lines = [f"## {name}", "", *_table(spec, rows), ""]
    if doubled := [r for r in rows if "double_size" in r]:
        lines += [*_doubled_table(name, doubled), ""]
    if any(r["size"] is not None for r in rows):
        plot = _plot_curve(name, rows, out)
        lines += [f"![{name}]({plot.name})", ""]
    return lines


def _table(spec: ExperimentSpec, rows: list[dict]) -> list[str]:
    """A row per cell; with features columns when any cell of the grid names its features."""
    with_features = any(r["features"] for r in rows)
    extra_head, extra_rule = (" features |", "---|") if with_features else ("", "")
    tail_head, tail_rule = (" Δ default | p default |", "---|---|") if with_features else ("", "")
    default_features = spec.base_config().features if with_features and not all(r["features"] for r in rows) else None
    return [
        f"|{extra_head} modules | word input | char input | sentences | seeds | F1 | P | R | Δ F1 | p |{tail_head}",
        f"|{extra_rule}---|---|---|---|---|---|---|---|---|---|{tail_rule}",
        *(_table_row(r, with_features, default_features) for r in rows),
    ]


def _table_row(r: dict, with_features: bool, default_features: str | None) -> str:
    size = "all" if r["size"] is None else str(r["size"])
    delta = f"{r['difference']:+.4f}" if "difference" in r else ""
    p = f"{r['p_value']:.4f}" if "p_value" in r else ""
    features = f" {r['features'] or default_features} |" if with_features else ""
    reference = ""
    if with_features:
        reference = (
            f" {r['reference_difference']:+.4f} | {r['reference_p_value']:.4f} |"
            if "reference_difference" in r
            else " | |"
        )
    return (
        f"|{features} {r['modules']} | {r['word_input']} | {r['char_input']} | {size} | {len(r['seeds'])} | "
        f"{r['f1_mean']:.4f} ± {r['f1_std']:.4f} | {r['precision_mean']:.4f} | {r['recall_mean']:.4f} | "
        f"{delta} | {p} |{reference}"
    )


def _doubled_table(name: str, rows: list[dict]) -> list[str]:
    return [
        f"Transfer with N sentences against scratch with at least 2N ({name}; same seeds, paired p):",
        "",
        "| modules | word input | char input | N | transfer F1 | scratch sentences | scratch F1 | Δ F1 | p |",
        "|---|---|---|---|---|---|---|---|---|",
        *(
            f"| {r['modules']} | {r['word_input']} | {r['char_input']} | {r['size']} | {r['f1_mean']:.4f} | "
            f"{r['double_size']} | {r['double_f1_mean']:.4f} | {r['double_difference']:+.4f} | "
            f"{r['double_p_value']:.4f} |"
            for r in rows
        ),
    ]


def _plot_curve(name: str, rows: list[dict], out: Path) -> Path:
    """Test F1 (mean ± std over seeds) against training sentences, a line per module subset and inputs."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for (modules, word_input, char_input), group in itertools.groupby(
        sorted(rows, key=lambda r: (r["modules"], r["word_input"], r["char_input"], r["size"] or 0)),
        key=lambda r: (r["modules"], r["word_input"], r["char_input"]),
    ):
        group = [r for r in group if r["size"] is not None]
        axes.errorbar(
            [r["size"] for r in group],
            [r["f1_mean"] for r in group],
            yerr=[r["f1_std"] for r in group],
            marker="o",
            capsize=3,
            label=f"{modules} (word {word_input}, char {char_input})",
        )
    size_axis(axes, sorted({r["size"] for r in rows if r["size"] is not None}))
    axes.set_ylabel("test F1")
    axes.set_title(name)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)
    path = out / f"{name}.png"
    figure.tight_layout()
    write_atomic(path, lambda p: figure.savefig(p, format="png", dpi=120))
    plt.close(figure)
    return path


def size_axis(axes, sizes: list[int]) -> None:
    # Sizes usually grow geometrically: a log axis spaces them evenly; linear below the smallest
    # positive size, so that 0 (zero-shot) still has a place.
    positive = [size for size in sizes if size > 0]
    if positive:
        axes.set_xscale("symlog", linthresh=positive[0], linscale=0.5)
        axes.set_xticks(sizes, [str(size) for size in sizes], fontsize=7)
        axes.minorticks_off()
    axes.set_xlabel("target training sentences")
