"""Tagging whole inputs: texts from a file or a stream in, records out through a writer, a chunk at a time.

What `eiwa predict` does, as functions a Python user can call too (each text is split into
sentences unless `split_sentences=False`; a pre-tokenized CoNLL sentence stays one):

    with open("tagged.jsonl", "w") as stream:
        predict_file(tagger, "sentences.txt", stream, input_format="txt", output_format="jsonl")

`workers=N` or `ray_address=...` tags the chunks in worker processes or Ray tasks (serving/bulk.py);
the output is the same, in the same order.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import itertools
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple, TextIO

import numpy as np

from eiwa.doc import Sentence, TokenColumns
from eiwa.errors import DataError, EiwaError
from eiwa.persist.files import readable_file
from eiwa.readers import raw_text, read
from eiwa.readers.files import text_records
from eiwa.serving.results import Prediction
from eiwa.serving.writers import WRITERS, TokenOffsets
from eiwa.tagger import Documents, Tagger, as_json, one_ahead

# txt: a text a line; jsonl: records with "text" (their "id" and "meta" pass through); any reader's format:
# its texts (raw-text formats) or its tokens (conll), gold entities ignored.
LINE_FORMATS = ("txt", "jsonl")
CHUNK = 1000  # texts tagged at a time: results stream out, memory stays bounded

Item = tuple[str | Sentence, dict]  # a text (or pre-tokenized sentence) and the fields passed through


def input_formats() -> tuple[str, ...]:
    from eiwa.readers import READERS

    return (*LINE_FORMATS, *(name for name in READERS if name not in ("hironsan", "parts")))


# A file of texts whose format is not given is read as its name says, and as text otherwise.
FORMATS_BY_SUFFIX = {".jsonl": "jsonl", ".conll": "conll"}


def format_of_name(path: str) -> str:
    """The input format a file's name shows (.jsonl, .conll), else txt (standard input too)."""
    return FORMATS_BY_SUFFIX.get(Path(path).suffix.lower(), "txt") if path != "-" else "txt"


def read_items(path: str, input_format: str | None, lang: str, columns=None, token_prefix=None) -> Iterator[Item]:
    """The inputs of a file (or `-`, standard input) in `input_format` (None: as its name shows,
    `format_of_name`), lazily where the format allows."""
    input_format = input_format or format_of_name(path)
    if input_format == "txt":
        return ((line, {}) for line in read_lines(path))
    if input_format == "jsonl":
        return (
            (record["text"], {k: record[k] for k in ("id", "meta") if k in record})
            for _, record in text_records(readable(path))
        )
    # Every text is an input here, annotated or not (allow_empty).
    corpus = read(
        readable(path), format=input_format, lang=lang, columns=columns, token_prefix=token_prefix, allow_empty=True
    )
    # A raw-text format's texts are tokenized again as any text would be; CoNLL keeps its tokens.
    return ((s.text if raw_text(input_format) else s, {}) for s in corpus.sentences)


def predict_items(
    tagger: Tagger,
    items: Iterable[Item],
    stream: TextIO,
    output_format: str = "jsonl",
    batch_size: int = 64,
    min_confidence: float = 0.0,
    split_sentences: bool = True,
    workers: int = 1,
    ray_address: str | None = None,
) -> int:
    """Tag `items` a chunk at a time and write each record to `stream` as it is made; returns the count.
    A text is split into sentences unless `split_sentences` is false; a pre-tokenized sentence is one.
    Nothing outlives its chunk: memory stays flat however many items there are.

    workers > 1: the chunks are tagged by that many worker processes; `ray_address` ("local", "auto"
    or HOST:PORT): by Ray tasks (serving/bulk.py). Each worker loads the model from `tagger.origin`;
    the records are written in input order, the same bytes as in one process."""
    labels, meanings, lang = tagger.entity_types, tagger.label_meanings, tagger.config.lang
    writer = WRITERS[output_format](stream, labels, meanings, lang, model=tagger.origin)
    items, count = iter(items), 0
    chunks = iter(lambda: list(itertools.islice(items, CHUNK)), [])
    options = TagOptions(batch_size, split_sentences, writer.needs_tokens)
    if workers == 1 and ray_address is None:
        tagged_chunks = _tag_here(tagger, chunks, options)
    else:
        tagged_chunks = _tag_in_workers(tagger, chunks, options, workers, ray_address)
    for extras, tagged in tagged_chunks:
        for extra, (record, tokens) in zip(extras, tagged):
            kept = [e for e in record["entities"] if e["confidence"] >= min_confidence]
            writer.write({**extra, **record, "entities": kept}, tokens)
        stream.flush()
        count += len(extras)
        del extras, tagged  # not kept while the next chunks are read and tagged
    writer.close()
    return count


class TagOptions(NamedTuple):
    batch_size: int
    split_sentences: bool
    with_tokens: bool


class ShardContext(NamedTuple):
    """What a worker process needs to tag shards: the model (an absolute path, or a built-in name)."""

    model: str
    device: str
    options: TagOptions


def _tag_here(tagger: Tagger, chunks: Iterator[list[Item]], options: TagOptions) -> Iterator:
    """Each chunk's passed-through fields and results, tagged in this process, one chunk prepared ahead."""
    prepare = functools.partial(_prepare_items, tagger, split_sentences=options.split_sentences)
    tag = functools.partial(_tag_items, tagger, batch_size=options.batch_size, with_tokens=options.with_tokens)
    for chunk, tagged in one_ahead(chunks, prepare, tag):
        yield [extra for _, extra in chunk], tagged


def _tag_in_workers(
    tagger: Tagger, chunks: Iterator[list[Item]], options: TagOptions, workers: int, ray_address: str | None
) -> Iterator:
    """Each chunk's passed-through fields and results, the chunks tagged as shards by worker processes
    or Ray tasks (serving/bulk.py), which load the tagger's model themselves; results in input order."""
    from eiwa.serving.bulk import map_shards

    context = ShardContext(_portable_origin(tagger), str(tagger.device), options)
    extras: collections.deque = collections.deque()  # of the shards in flight, oldest first

    def shards() -> Iterator[list]:
        for chunk in chunks:
            extras.append([extra for _, extra in chunk])
            yield [item for item, _ in chunk]

    gpus = 1 if context.device.startswith("cuda") else 0
    for tagged in map_shards(_tag_shard, shards(), workers, ray_address, context, gpus_per_shard=gpus):
        yield extras.popleft(), tagged


def _portable_origin(tagger: Tagger) -> str:
    """Where worker processes load the tagger from: its directory as an absolute path (a worker may
    start in another folder), or its built-in name."""
    if tagger.origin is None:
        raise EiwaError("tagging in workers needs a tagger loaded by path or built-in name (Tagger.load)")
    path = Path(tagger.origin)
    return str(path.resolve()) if path.is_dir() else tagger.origin


@functools.lru_cache(maxsize=1)
def _worker_tagger(model: str, device: str) -> Tagger:
    """A worker process's tagger, loaded once for all the shards it tags."""
    return Tagger.load(model).to(device)


def _tag_shard(context: ShardContext, shard: list[str | Sentence]) -> list[tuple[Prediction, TokenOffsets | None]]:
    """A worker's task: the results of a shard of texts (or pre-tokenized sentences)."""
    tagger = _worker_tagger(context.model, context.device)
    chunk = [(item, {}) for item in shard]
    prepared = _prepare_items(tagger, chunk, context.options.split_sentences)
    return _tag_items(tagger, prepared, context.options.batch_size, context.options.with_tokens)[1]


def _prepare_items(tagger: Tagger, chunk: list[Item], split_sentences: bool) -> tuple[list[Item], Documents]:
    """A chunk's texts made ready for the model (Tagger.prepare_documents); pre-tokenized sentences wait."""
    texts = [item for item, _ in chunk if isinstance(item, str)]
    return chunk, tagger.prepare_documents(texts, split_sentences=split_sentences)


def _tag_items(
    tagger: Tagger, prepared: tuple[list[Item], Documents], batch_size: int, with_tokens: bool
) -> tuple[list[Item], list[tuple[Prediction, TokenOffsets | None]]]:
    """Each item's record and, `with_tokens`, its tokens' offsets into the record's text (for writers
    that need tokens): texts from their prepared documents, pre-tokenized sentences as given."""
    chunk, documents = prepared
    given = [item for item, _ in chunk if not isinstance(item, str)]
    tagged_texts = iter(tagger.tag_prepared(documents, batch_size))
    tagged_given = iter(tagger.tag_sentences(given, batch_size, confidence=True) if given else [])
    results = []
    for item, _ in chunk:
        if isinstance(item, str):
            record, sentences = next(tagged_texts)
            shifts = [s["start"] for s in record["sentences"]]
        else:
            whole = [(item.tokens[0].start, item.tokens[-1].end)] if item.tokens else []
            record, sentences, shifts = as_json(item.text, next(tagged_given), whole), [item], [0]
        results.append((record, token_offsets(sentences, shifts) if with_tokens else None))
    return chunk, results


def token_offsets(sentences: Sequence[Sentence], shifts: Sequence[int]) -> TokenOffsets:
    """The tokens of a record's sentences as offsets into the record's text: each sentence's own
    offsets moved by where the sentence starts."""
    starts, ends = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for sentence, shift in zip(sentences, shifts):
        tokens = sentence.tokens
        if isinstance(tokens, TokenColumns):
            starts.append(tokens.starts + shift)
            ends.append(tokens.ends + shift)
        else:
            offsets = np.asarray(sentence.offsets, np.int64).reshape(-1, 2) + shift
            starts.append(offsets[:, 0])
            ends.append(offsets[:, 1])
    return TokenOffsets(np.concatenate(starts), np.concatenate(ends))


def predict_file(
    tagger: Tagger,
    path: str,
    stream: TextIO,
    input_format: str | None = None,
    output_format: str = "jsonl",
    batch_size: int = 64,
    min_confidence: float = 0.0,
    columns=None,
    token_prefix=None,
    split_sentences: bool = True,
    workers: int = 1,
    ray_address: str | None = None,
) -> int:
    """Tag every input of `path` (or `-`) into `stream`, read in `input_format` (None: as the file's
    name shows, else txt); returns how many were written (`workers`, `ray_address`: as for predict_items)."""
    items = read_items(path, input_format, tagger.config.lang, columns, token_prefix)
    return predict_items(
        tagger, items, stream, output_format, batch_size, min_confidence, split_sentences, workers, ray_address
    )


def readable(path: str) -> str:
    """A path for readers that take one: standard input is read into a temporary file first."""
    if path != "-":
        return path
    import atexit
    import os
    import tempfile

    handle = tempfile.NamedTemporaryFile("wb", suffix=".stdin", delete=False)
    with handle:
        handle.write(sys.stdin.buffer.read())
    atexit.register(os.unlink, handle.name)
    return handle.name


def read_lines(path: str) -> Iterator[str]:
    """The lines of a text file or of standard input, read as they come (a bad byte names its line)."""
    name = "<stdin>" if path == "-" else path
    stream = sys.stdin.buffer if path == "-" else open(readable_file(path, DataError), "rb")  # noqa: SIM115 (closed below)
    with contextlib.closing(stream) if path != "-" else contextlib.nullcontext(stream):
        for number, raw in enumerate(stream, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise DataError(name, number, f"invalid UTF-8 ({error.reason})") from None
            yield (line.removeprefix("\ufeff") if number == 1 else line).rstrip("\r\n")
