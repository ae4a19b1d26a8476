"""`eiwa quickstart`: the main job of a fresh install (study/quickstart.py), shown as a table."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from eiwa.cli import cli
from eiwa.cli.options import QUIET_HELP, SEED, console, module_names
from eiwa.config import load_config
from eiwa.crosslingual.starts import parse_modules
from eiwa.study.quickstart import (
    EXAMPLE,
    HIRONSAN_LABEL_MAP,
    MAX_EPOCHS,
    RECIPE,
    SOURCE,
    Quickstart,
    run_quickstart,
)
from eiwa.tagger import Tagger
from eiwa.training.train import silent


@cli.command()
@click.option(
    "--out",
    default="eiwa-quickstart",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where to save the Japanese model.",
)
@click.option("--seed", type=SEED, default=1, show_default=True)
@click.option("--source", default=SOURCE, show_default=True, help="English source model (directory or built-in name).")
@click.option(
    "--modules",
    default="shared",
    show_default=True,
    help="Modules to transfer: shared (every module the source and the recipe both have, and the "
    f"classifier), or a comma-separated subset of {','.join(module_names())}.",
)
@click.option("--label-map", default=HIRONSAN_LABEL_MAP, show_default=True, help="Source types to Hironsan types.")
@click.option(
    "--config",
    "config_path",
    default=RECIPE,
    show_default=True,
    help="Recipe (built-in name or file); small-data has characters and words only.",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override one hyper-parameter of the recipe; repeatable.",
)
@click.option("--quiet", is_flag=True, help=QUIET_HELP)
def quickstart(out, seed, source, modules, label_map, config_path, overrides, quiet):
    """Transfer the built-in English model to Japanese and compare it with training from scratch.

    On the installed Hironsan corpus: trains on four of the five protocol folds (sentences i with
    i % 5 != 0; every 10th of them for early stopping), once from scratch and once starting from
    every module the English model shares with the recipe (conll03-en-shared: characters, words
    through the JMdict bridge, universal part of speech, names, and the classifier; native words,
    romaji characters), both with the ja-small recipe's features (part of speech, chiVe vectors,
    JMnedict names: pip install -e '.[ja]'), scores both on the fifth fold, saves the transferred
    model to --out and tags an example sentence. Both arms train until early stopping ends them
    (max_epochs 200 is only a safety cap; a run it ends is warned about): about five minutes of one
    CPU core. For the full 5-fold comparison over seeds, see `eiwa cv`.

    \b
    Examples:
      eiwa quickstart
      eiwa quickstart --out my-model --seed 2
      eiwa quickstart --modules char,classifier
      eiwa quickstart --set max_epochs=10      # quicker, less accurate
    """
    chosen = None if modules == "shared" else parse_modules(modules)
    if chosen == []:
        raise click.BadParameter(
            "name at least one module to transfer (scratch is always trained)", param_hint="--modules"
        )
    # The quickstart's own cap comes before the user's --set, so that --set max_epochs=N still wins.
    overrides = [f"max_epochs={MAX_EPOCHS}", *overrides]
    config = load_config(config_path, overrides, lang="ja", word_input="native", char_input="romaji", seed=seed)
    log = silent if quiet else console.print
    result = run_quickstart(config, out, Tagger.load(source), chosen, label_map, log=log, progress=not quiet)
    _show(result, source, seed)
    for arm, trained in (("from scratch", result.scratch), ("transfer", result.transferred)):
        if trained.warnings:  # each arm's own warning was printed as it ended; this is what it means here
            click.echo(
                f"warning: the {arm} arm stopped at max_epochs, not by early stopping: the difference compares "
                "an unfinished run",
                err=True,
            )
    click.echo(json.dumps(result.transferred.tagger.predict([EXAMPLE])[0], ensure_ascii=False))
    if not quiet:
        _advise(result, source, config_path)
        console.print(f'transferred model saved to {Path(out)}; try: eiwa predict {Path(out)} "東京で会議が開かれた。"')


def _show(result: Quickstart, source: str, seed: int) -> None:
    test_size = result.sizes[2]
    table = Table(title=f"Hironsan fold 1 of 5 ({test_size} test sentences), seed {seed}")
    for column in ("system", "precision", "recall", "F1"):
        table.add_column(column, justify="left" if column == "system" else "right")
    for name, scores in (
        ("from scratch", result.scratch_scores),
        (f"transfer from {source}", result.transferred_scores),
    ):
        table.add_row(name, f"{scores.precision:.4f}", f"{scores.recall:.4f}", f"{scores.f1:.4f}")
    table.add_row("difference", "", "", f"{result.transferred_scores.f1 - result.scratch_scores.f1:+.4f}")
    Console(soft_wrap=True).print(table)


def _advise(result: Quickstart, source: str, config_path: str) -> None:
    label_map = f" --label-map {result.label_map}" if result.label_map else ""
    console.print(
        "One fold and one seed: on this small corpus single runs differ by several F1 points. "
        f"For 5 folds over 3 seeds: eiwa cv --lang ja --format hironsan --config {config_path} --seeds 1,2,3 "
        f"--word-input native --char-input romaji --source {source} --modules {','.join(result.modules)}"
        f"{label_map} (and without the transfer options for scratch); measured figures are in "
        "docs/RESULTS.md."
    )
    console.print(
        "With your own data: eiwa select MODEL --pool your-texts.txt --n 100 --out batch.json picks what to "
        "annotate next, pre-annotated for Label Studio or Doccano, and eiwa transfer --train yours.jsonl "
        "--unlabelled your-texts.txt --out MODEL learns from the texts you have not annotated too "
        '(docs/ANNOTATION.md; what they gained on Stockmark: docs/RESULTS.md, "Annotation curves").'
    )
