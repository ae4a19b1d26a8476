"""`eiwa evaluate`: score a model on gold data."""

from __future__ import annotations

import json

import click

from eiwa.cli import cli
from eiwa.cli.options import console, data_options, device_option, print_scores, settled_format
from eiwa.errors import EiwaError
from eiwa.readers import raw_text, read_gold, reader_of
from eiwa.tagger import Tagger


@cli.command()
@click.argument("model")
@data_options
@click.option("--data", "data_path", type=click.Path(), help="Data to score (not needed for --format hironsan).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: precision, recall, f1, per_type.")
@device_option
def evaluate(model, fmt, columns, token_prefix, allow_empty, data_path, as_json, device):
    """Score a model: entity-level exact match, micro and per type.

    MODEL is a model directory or the name of a built-in model. Raw-text data (spans, doccano,
    label-studio) is scored on character spans of the original text.

    \b
    Examples:
      eiwa evaluate models/conll03 --data ../shared/data/conll2003/test.txt
      eiwa evaluate models/ja --format spans --data test.jsonl --json
    """
    tagger = Tagger.load(model).to(device)
    fmt = settled_format(fmt, data_path)
    corpus_lang = reader_of(fmt).lang
    if corpus_lang and corpus_lang != tagger.config.lang:  # the reader's advice would name a language to give
        raise EiwaError(
            f"--format {fmt} is {corpus_lang} data and {model} tags {tagger.config.lang} text: "
            f"evaluate a {corpus_lang} model on it"
        )
    corpus = read_gold(
        data_path, fmt, tagger.config.lang, columns=columns, token_prefix=token_prefix, allow_empty=allow_empty
    )
    scores = tagger.evaluate(corpus.sentences)
    for warning in scores.warnings:  # on stderr, as training warns, also with --json (whose object has them)
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        result = scores.to_dict()
        if raw_text(fmt):
            result["entities_lost_to_token_boundaries"] = corpus.misaligned_entities()
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    print_scores(f"{model} on {data_path or fmt} ({len(corpus.sentences)} sentences)", scores)
    if note := corpus.misaligned_note():
        console.print(note)
