"""word2vec/fastText text files: the pretrained vectors `word_vectors` initialises the word module with."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from eiwa.errors import DataError
from eiwa.features.vocab import normalize_word
from eiwa.persist.files import readable_file


@functools.cache  # read once per process: the vocabulary and the initial rows both need it
def read_vectors(path: str | Path, lowercase: bool, limit: int) -> tuple[list[str], np.ndarray]:
    """A word2vec/fastText text file (optional 'count dim' header line): words and their vectors."""
    words, rows, dim = [], [], None
    seen = set()
    with open(readable_file(path, DataError, "vectors file"), "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise DataError(path, number, "invalid UTF-8") from None
            fields = line.rstrip().split(" ")
            if number == 1 and len(fields) == 2 and all(f.isdigit() for f in fields):
                continue  # header
            if len(fields) < 2:
                continue
            if dim is None:
                dim = len(fields) - 1
            if len(fields) - 1 != dim:
                raise DataError(path, number, f"expected {dim} numbers after the word, found {len(fields) - 1}")
            word = normalize_word(fields[0], lowercase)
            if word in seen:
                continue
            try:
                rows.append(np.asarray(fields[1:], dtype=np.float32))
            except ValueError:
                raise DataError(path, number, "vector values must be numbers") from None
            seen.add(word)
            words.append(word)
            if len(words) >= limit:
                break
    if not words:
        raise DataError(path, None, "no vectors found")
    return words, np.stack(rows)
