"""`eiwa predict`: tag texts or a file, writing JSONL, CoNLL or HTML as results are made."""

from __future__ import annotations

import contextlib
import os
import sys

import click

from eiwa.arguments import FiniteFloatRange
from eiwa.cli import cli, lasting_objects, utf8_texts
from eiwa.cli.options import device_option, get_console, ray_option, text_input_options
from eiwa.errors import EiwaError
from eiwa.persist.atomic import atomic_text, check_writable
from eiwa.serving.bulk import import_ray
from eiwa.serving.predict import predict_file, predict_items
from eiwa.serving.writers import OUTPUT_FORMATS
from eiwa.tagger import Tagger

# oneDNN, which runs torch's LSTMs on the CPU, keeps a compiled primitive for each input shape it has
# seen, 1,024 by default: batches of every (sentences, longest) pair made that grow with the input,
# about 1 MB a thousand texts. 32 keeps it flat, with the same kernels and results. oneDNN reads the
# setting when it makes its first primitive, so setting it before the model runs is enough; a value
# set in the environment is kept.
ONEDNN_CACHE_CAPACITY = "32"


@cli.command()
@click.argument("model")
@click.argument("texts", nargs=-1, callback=utf8_texts)
@click.option(
    "--input",
    "input_path",
    type=click.Path(allow_dash=True),
    help="Read the inputs from this file (- for standard input) instead of TEXT arguments.",
)
@text_input_options("The inputs' format")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Write here (default, or -: standard output); a symbolic link is written through, to the file it names.",
)
@click.option(
    "--output-format",
    type=click.Choice(OUTPUT_FORMATS),
    default="jsonl",
    show_default=True,
    help="jsonl: one JSON record a line; conll: a -DOCSTART- line a text, then token and IOB2 tag a line; "
    "html: one page with the entities highlighted; doccano, label-studio: pre-annotations to import and "
    "correct (docs/ANNOTATION.md).",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option(
    "--min-confidence",
    type=FiniteFloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Leave out entities whose confidence (the model's probability of their tags) is lower.",
)
@click.option(
    "--split-sentences/--no-split-sentences",
    default=True,
    show_default=True,
    help="Split each text into sentences (。！？ . ! ?, never inside quotes or brackets) and tag them "
    "together, offsets into the whole text; --no-split-sentences tags each text as one sentence.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Tag in this many worker processes (one torch thread each), a thousand texts a task; the output "
    "is the same, in input order.",
)
@ray_option("Tag a thousand texts a Ray task (one CPU each)")
@device_option
def predict(
    model,
    texts,
    input_path,
    input_format,
    columns,
    token_prefix,
    output,
    output_format,
    batch_size,
    min_confidence,
    split_sentences,
    workers,
    ray_address,
    device,
):
    """Tag raw text or a file; write JSONL lines {"text", "entities": [{"start", "end", "type",
    "text", "confidence"}], "sentences": [{"start", "end"}]} (or CoNLL, or HTML). A text may be a
    whole document: it is split into sentences.

    Results are written as they are made, a thousand texts at a time; a file named by
    --output appears whole when the run ends.

    \b
    Examples:
      eiwa predict models/conll03 "John lives in New York."
      eiwa predict ja-wiki "田中さんは東京の日本銀行に勤めている。"
      eiwa predict models/ja --input sentences.txt --output tagged.jsonl
      cat sentences.txt | eiwa predict models/ja --input - --output-format conll
      eiwa predict models/ja --input docs.jsonl --input-format jsonl --output-format html --output entities.html
      eiwa predict models/conll03 --input test.txt --input-format conll
      eiwa predict ja-wiki --input pool.txt --output tagged.jsonl --workers 2
    """
    to_file = output not in (None, "-")
    if to_file:
        check_writable(output, "predictions")
    if input_path and texts:
        raise EiwaError("give either TEXT arguments or --input, not both")
    if input_path is None and not texts:
        raise EiwaError("nothing to tag: give TEXT arguments or --input PATH")
    if ray_address is not None and workers > 1:
        raise EiwaError("--ray and --workers: choose one (Ray places the tasks itself)")
    if ray_address is not None:
        import_ray()  # before the model loads: a missing Ray is told at once
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", ONEDNN_CACHE_CAPACITY)
    with lasting_objects():
        tagger = Tagger.load(model).to(device)
    if to_file:
        destination = atomic_text(output)
    else:
        sys.stdout.reconfigure(errors="backslashreplace")  # a lone surrogate in the input, in CoNLL or HTML
        destination = contextlib.nullcontext(sys.stdout)
    with destination as stream:
        if texts:
            items = ((text, {}) for text in texts)
            count = predict_items(
                tagger, items, stream, output_format, batch_size, min_confidence, split_sentences, workers, ray_address
            )
        else:
            count = predict_file(
                tagger,
                input_path,
                stream,
                input_format,
                output_format,
                batch_size,
                min_confidence,
                columns,
                token_prefix,
                split_sentences,
                workers,
                ray_address,
            )
    if to_file:
        get_console().print(f"wrote {count} results to {output}")
