"""`eiwa split`: a data file into train, dev and test files by the shared protocol's index rule."""

from __future__ import annotations

import click

from eiwa.cli import cli
from eiwa.cli.options import console
from eiwa.study.split import SPLITTABLE, split_file


@cli.command()
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(SPLITTABLE), default="spans", show_default=True)
@click.option("--every", type=int, default=10, show_default=True, help="Cycle length of the index rule.")
@click.option(
    "--dev", "dev_slot", type=int, default=8, show_default=True, help="Sentence i is dev when i % every == this."
)
@click.option(
    "--test", "test_slot", type=int, default=9, show_default=True, help="Sentence i is test when i % every == this."
)
@click.option("--out-dir", required=True, type=click.Path(file_okay=False), help="Where to write train/dev/test files.")
def split(data, fmt, every, dev_slot, test_slot, out_dir):
    """Split a data file into train, dev and test by sentence index (the shared protocol's rule).

    With the defaults, sentence i (0-based, in file order) is dev when i % 10 == 8, test when
    i % 10 == 9 and train otherwise, as ../shared/data/README.md fixes for the Stockmark set.
    Records are copied unchanged: sentence blocks for CoNLL, JSON Lines for spans and Doccano,
    JSON lists for Label Studio.

    \b
    Examples:
      eiwa split ../shared/data/stockmark-wikipedia-ner/ner.json --out-dir data/stockmark
      eiwa train --lang ja --format spans --train data/stockmark/train.jsonl \\
                 --dev data/stockmark/dev.jsonl --out models/stockmark
    """
    counts = split_file(data, out_dir, fmt, every, dev_slot, test_slot)
    console.print(", ".join(f"{name} {count}" for name, count in counts.items()) + f" records written to {out_dir}")
