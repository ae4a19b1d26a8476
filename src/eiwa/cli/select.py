"""`eiwa select`: the texts of a pool to annotate next, written with the model's pre-annotations."""

from __future__ import annotations

import click
import numpy as np

from eiwa.arguments import SEED_LIMIT, FiniteFloatRange
from eiwa.cli import cli, lasting_objects
from eiwa.cli.options import device_option, get_console, text_input_options
from eiwa.doc import Sentence
from eiwa.errors import EiwaError
from eiwa.persist.atomic import atomic_text, check_writable
from eiwa.readers import infer_format, raw_text
from eiwa.selection import DIVERSITY, STRATEGIES, Pool, choose
from eiwa.serving.predict import Item, predict_items, read_items
from eiwa.tagger import Tagger

SELECTION_FORMATS = ("label-studio", "doccano", "jsonl")


@cli.command()
@click.argument("model")
@click.option(
    "--pool",
    "pool_path",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="The texts to choose from (unlabelled; - for standard input).",
)
@click.option("--n", "n", type=int, required=True, help="How many texts to choose.")
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False), help="Write the chosen texts, pre-annotated, here."
)
@text_input_options("The pool's format")
@click.option(
    "--strategy",
    type=click.Choice(list(STRATEGIES)),
    default="uncertainty",
    show_default=True,
    help="; ".join(f"{s.name}: {s.help}" for s in STRATEGIES.values()) + ".",
)
@click.option(
    "--seed", type=click.IntRange(0, SEED_LIMIT - 1), default=0, show_default=True, help="The random strategy's seed."
)
@click.option(
    "--diversity",
    type=FiniteFloatRange(min=0),
    default=DIVERSITY,
    show_default=True,
    help="How much likeness to an already chosen text counts against a candidate (0: rank by uncertainty alone).",
)
@click.option(
    "--output-format",
    type=click.Choice(SELECTION_FORMATS),
    default="label-studio",
    show_default=True,
    help="label-studio: a task list with the entities as predictions (scores included); doccano: JSONL "
    '{"text", "label"} to import; jsonl: eiwa predict\'s records with each text\'s "uncertainty".',
)
@click.option(
    "--exclude",
    "exclude_path",
    type=click.Path(exists=True, dir_okay=False),
    help='Texts already annotated, never chosen: a Doccano or Label Studio export, JSONL with "text", or a '
    "file in the pool's format.",
)
@click.option(
    "--split-sentences/--no-split-sentences",
    default=True,
    show_default=True,
    help="Split each text into sentences for the model, as eiwa predict does; a text stays one unit.",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@device_option
def select(
    model,
    pool_path,
    n,
    out,
    input_format,
    columns,
    token_prefix,
    strategy,
    seed,
    diversity,
    output_format,
    exclude_path,
    split_sentences,
    batch_size,
    device,
):
    """Choose the N texts of a pool whose annotation should help MODEL most and write them with the
    model's entities, for an annotator to correct in Label Studio or Doccano (docs/ANNOTATION.md).
    Texts the model is least sure of come first, kept varied (--diversity); --strategy random
    draws a uniform sample instead.

    \b
    Examples:
      eiwa select models/ja --pool unlabelled.txt --n 100 --out round1.json
      eiwa select models/ja --pool unlabelled.txt --n 100 --out round2.jsonl --output-format doccano \\
          --exclude round1-export.json
    """
    if n < 1:
        raise EiwaError(f"--n must be at least 1, got {n}")
    check_writable(out, "the selection")
    with lasting_objects():
        tagger = Tagger.load(model).to(device)
    lang = tagger.config.lang
    items = list(read_items(pool_path, input_format, lang, columns, token_prefix))
    if not items:
        raise EiwaError(f"{pool_path}: the pool holds no texts")
    pool = _pool(tagger, items, split_sentences, batch_size)
    excluded = _excluded(pool, exclude_path, input_format, lang, columns, token_prefix)
    chosen = choose(pool, n, strategy, seed, excluded, diversity)
    scores = pool.uncertainty
    picked = [(items[i][0], {**items[i][1], "uncertainty": _rounded(scores[i])}) for i in chosen]
    with atomic_text(out) as stream:
        predict_items(tagger, picked, stream, output_format, batch_size, split_sentences=split_sentences)
    left = np.setdiff1d(np.arange(len(pool)), excluded)
    get_console().print(
        f"chose {len(chosen)} of the {len(left)} texts left in a pool of {len(pool)} ({strategy}); mean uncertainty "
        f"{_mean(scores[chosen])} chosen, {_mean(scores[left])} in the pool; wrote {out}"
    )


def _pool(tagger: Tagger, items: list[Item], split_sentences: bool, batch_size: int) -> Pool:
    """Texts are split and tokenized as predict does; a pre-tokenized (CoNLL) pool keeps its tokens."""
    if isinstance(items[0][0], Sentence):
        return Pool(tagger, [item for item, _ in items], batch_size=batch_size)
    return Pool.from_texts(tagger, [item for item, _ in items], split_sentences, batch_size)


def _excluded(pool: Pool, path, pool_format: str, lang: str, columns, token_prefix) -> list[int]:
    """The pool's indices whose text is one of the file's: an export (its format told by its content)
    or a file in the pool's own format."""
    if path is None:
        return []
    try:
        found = infer_format(path)
    except EiwaError:
        found = None
    file_format = found if found is not None and raw_text(found) else pool_format
    done = {
        item.text if isinstance(item, Sentence) else item
        for item, _ in read_items(path, file_format, lang, columns, token_prefix)
    }
    return [index for index, text in enumerate(pool.texts) if text in done]


def _rounded(score: float) -> float | None:
    return None if np.isnan(score) else round(float(score), 4)


def _mean(scores: np.ndarray) -> str:
    scored = scores[~np.isnan(scores)]
    return f"{scored.mean():.4f}" if len(scored) else "-"
