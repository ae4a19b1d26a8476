"""`eiwa split`: a data file into train, dev and test files, in its own format (study/split.py)."""

from __future__ import annotations

from pathlib import Path

import click

from eiwa.cli import cli
from eiwa.cli.options import SEED, console, settled_format, split_columns
from eiwa.study.split import split_file, splittable


class PartSize(click.ParamType):
    """A count of records (100) or a fraction of them (0.1)."""

    name = "count|fraction"

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)):
            return value
        text = str(value).strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            return float(text)
        except ValueError:
            self.fail(f"expected a count (100) or a fraction (0.1), got {value!r}", param, ctx)


@cli.command()
@click.argument("data", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--format", "fmt", type=click.Choice(splittable()), help="The file's format (default: inferred from its content)."
)
@click.option("--dev", type=PartSize(), help="Dev records: a count (100) or a fraction (0.1).")
@click.option("--test", type=PartSize(), help="Test records: a count (100) or a fraction (0.1).")
@click.option("--shuffle", is_flag=True, help="Shuffle the records (by --seed) before cutting; else file order.")
@click.option("--seed", type=SEED, default=1, show_default=True, help="Seed of --shuffle.")
@click.option(
    "--columns",
    callback=split_columns,
    help="CoNLL: the columns' names, to check the file as eiwa train --columns would read it.",
)
@click.option("--out-dir", required=True, type=click.Path(file_okay=False), help="Where to write train/dev/test files.")
def split(data, fmt, dev, test, shuffle, seed, columns, out_dir):
    """Split a data file into train, dev and test files, each in the file's own format.

    Without --dev, --test and --shuffle, the shared protocol's rule: record i (0-based, in file
    order) is dev when i % 10 == 8, test when i % 10 == 9 and train otherwise, as
    ../shared/data/README.md fixes for the Stockmark set. With --dev/--test (counts or fractions;
    one left out is 0 when the other is given), the last records are test and those before them
    dev; --shuffle cuts the records in an order drawn from --seed instead (a tenth each for dev and
    test unless given). Records are copied as they stand: CoNLL sentence blocks, JSON Lines for
    spans and Doccano (a pretty-printed JSON array's records each on one line), JSON lists for
    Label Studio; the installed Hironsan corpus as CoNLL columns token,pos,reading,tag; a parts
    file as one parts file per split, listing a file per part.

    \b
    Examples:
      eiwa split ../shared/data/stockmark-wikipedia-ner/ner.json --out-dir data/stockmark
      eiwa split annotations.jsonl --dev 0.1 --test 0.1 --shuffle --out-dir data/mine
      eiwa split corpus.conll --format conll --dev 500 --test 500 --out-dir data/corpus
      eiwa split --format hironsan --test 0.2 --shuffle --seed 3 --out-dir data/hironsan
      eiwa train --lang ja --format spans --train data/stockmark/train.jsonl \\
                 --dev data/stockmark/dev.jsonl --out models/stockmark
    """
    result = split_file(data, out_dir, settled_format(fmt, data), dev, test, shuffle, seed, columns)
    counts = ", ".join(f"{name} {count}" for name, count in result.counts.items())
    files = ", ".join(path.name for path in result.files.values() if path is not None)
    console.print(f"{counts} records written to {out_dir} ({files}); read them with {result.read_as}")
    for name, count in result.counts.items():
        if not count:
            earlier = [path.name for path in sorted(Path(out_dir).glob(f"{name}.*"))]
            left = f" ({', '.join(earlier)} there is from an earlier split)" if earlier else ""
            console.print(f"no {name} records: no {name} file written{left}")
