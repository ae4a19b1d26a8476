"""Japanese tokenization with exact character offsets and kana readings.

Built on fugashi (a C wrapper around MeCab) with the unidic-lite dictionary, which also gives
each token its part of speech (UniDic pos1-pos4) and dictionary form (orthBase).
MeCab is fast enough for bulk tagging and unidic-lite is a small wheel, which
is why we use it rather than Sudachi.

MeCab reports surfaces but not offsets, and it skips some whitespace silently while returning
other whitespace (``\\r``, U+3000, U+00A0...) as tokens of its own. A text is analysed in one
MeCab call whose output format (``COLUMNS_ARGS``) gives each token's surface with the whitespace
skipped before it, its surface, POS levels, dictionary form and reading, separated by one control
character; the output is split once, each field read as a column by slicing, and offsets are
cumulative lengths (NumPy). Whitespace is removed from the result, so that for every token
``text[token.start:token.end] == token.text`` and no token contains whitespace. Tokens stay
columns (`eiwa.doc.TokenColumns`) until a caller asks for `Token` objects.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import replace

import fugashi
import numpy as np
import unidic_lite

from eiwa.doc import Token, TokenColumns

_CACHE_SIZE = 100_000
_NON_SPACE = re.compile(r"\S+")
_SPACE = re.compile(r"\s")
# MeCab reads UTF-8, which cannot hold a lone surrogate: it is analysed as U+FFFD, one character
# for one, so that offsets stay those of the caller's text.
_SURROGATE = re.compile("[\ud800-\udfff]")


def encodable(text: str) -> str:
    return _SURROGATE.sub("\ufffd", text)


def _parseable(text: str) -> str:
    """`text` as MeCab's column output can take it, one character for one."""
    return _UNSAFE.sub("\ufffd", text)


# unidic-lite's feature columns: pos1-pos4 are the first four, orthBase the 11th, the kana reading the 18th.
_POS_FIELDS = 4
_BASE_FIELD = 10
_KANA_FIELD = 17


# fugashi on its own prefers the full ``unidic`` package when that is installed;
# pinning unidic-lite keeps tokenization identical to what the models were trained on.
MECAB_ARGS = f'-d "{unidic_lite.DICDIR}" -r "{os.path.join(unidic_lite.DICDIR, "mecabrc")}"'


# The output format of `Tagger.parse`: per token, 5 fields each followed by _SEPARATOR (a control
# character that Python's strip, which fugashi applies, leaves alone; a text's own is read as
# U+FFFD): the surface with the whitespace MeCab skipped before it (%M), the surface, pos1-pos4
# joined by commas, orthBase and the kana reading. MeCab writes "" for a "*" field. The output
# starts with one _SEPARATOR (BOS), so that whitespace at the start of the text is not stripped.
_SEPARATOR = "\x07"
_FIELDS = 5
_POS = "%f[0],%f[1],%f[2],%f[3]"
_NODE = _SEPARATOR.join(["%M", "%m", _POS, "%f[10]", "%f[17]"]) + _SEPARATOR
_UNKNOWN = _SEPARATOR.join(["%M", "%m", _POS, "*", "*"]) + _SEPARATOR
COLUMNS_ARGS = (
    f"--output-format-type= --node-format={_NODE} --unk-format={_UNKNOWN} --bos-format={_SEPARATOR} --eos-format="
)
_UNSAFE = re.compile(f"[\ud800-\udfff{_SEPARATOR}]")


def new_tagger() -> fugashi.Tagger:
    """A fugashi Tagger using unidic-lite (see ``MECAB_ARGS``), whose `parse` writes columns
    (``COLUMNS_ARGS``); iterating over it gives fugashi's nodes as usual."""
    return fugashi.Tagger(f"{MECAB_ARGS} {COLUMNS_ARGS}")


def thread_tagger(local: threading.local) -> fugashi.Tagger:
    """The calling thread's tagger kept in `local`, made on first need: MeCab's lattice and the
    nodes it returns belong to one tagger, so two threads must not parse with the same one."""
    tagger = getattr(local, "tagger", None)
    if tagger is None:
        tagger = local.tagger = new_tagger()
    return tagger


def _analysis(word) -> tuple[str | None, tuple[str, ...], str | None]:
    """A MeCab node's kana reading, POS levels and dictionary form; unidic gives None, "" or "*"
    for a missing value, and unknown words have fewer fields."""
    # Splitting the raw feature string is 3x cheaper than fugashi's named tuple; a quoted field
    # (a comma inside a value) needs the real CSV parse.
    raw = word.feature_raw
    fields = list(word.feature) if '"' in raw else raw.split(",")
    pos = tuple(fields[:_POS_FIELDS]) + ("*",) * max(0, _POS_FIELDS - len(fields))
    kana = fields[_KANA_FIELD] if len(fields) > _KANA_FIELD else None
    base = fields[_BASE_FIELD] if len(fields) > _BASE_FIELD else None
    return (None if not kana or kana == "*" else kana), pos, (None if not base or base == "*" else base)


def _kana_of(word) -> str | None:
    return _analysis(word)[0]


def _columns(
    outputs: list[str], texts: Sequence[str], leads: Sequence[int], as_given: Sequence[bool]
) -> list[TokenColumns]:
    """Tokens of each text from MeCab's column output for it (see COLUMNS_ARGS): the outputs are
    joined and split once, offsets are cumulative lengths, and each text takes its slice of every
    column. MeCab saw text i from `leads[i]` on (after its leading whitespace); `as_given[i]`:
    whether it saw text i's characters unchanged (so that its surfaces are the text's own)."""
    counts = np.fromiter((output.count(_SEPARATOR) - 1 for output in outputs), np.int64, len(outputs)) // _FIELDS
    joined = "".join(output[1:] for output in outputs)  # without each output's leading separator
    twice = _SEPARATOR * 2
    joined = joined.replace(twice, f"{_SEPARATOR}*{_SEPARATOR}").replace(twice, f"{_SEPARATOR}*{_SEPARATOR}")
    fields = joined.split(_SEPARATOR)[:-1]  # an empty field ("*" once written by MeCab) is now "*"
    spaced, surfaces = fields[0::_FIELDS], fields[1::_FIELDS]
    total = len(surfaces)
    ends = np.cumsum(np.fromiter(map(len, spaced), np.int64, total))
    first = np.cumsum(counts) - counts  # each text's first token
    ends += np.repeat(np.asarray(leads, np.int64) - np.concatenate([[0], ends])[first], counts)  # within each text
    starts = ends - np.fromiter(map(len, surfaces), np.int64, total)
    pos = fields[2::_FIELDS]
    lemmas, readings = fields[3::_FIELDS], fields[4::_FIELDS]
    # "*" (no value) -> None, by a C-level map: dict.get(field, field)
    lemmas, readings = list(map(_NONE.get, lemmas, lemmas)), list(map(_NONE.get, readings, readings))
    result = []
    for text, given, begin, end in zip(texts, as_given, first.tolist(), (first + counts).tolist()):
        tokens = TokenColumns(
            surfaces[begin:end],
            starts[begin:end],
            ends[begin:end],
            readings[begin:end],
            pos[begin:end],
            lemmas[begin:end],
        )
        if not given:
            tokens.texts = [text[s:e] for s, e in zip(tokens.starts.tolist(), tokens.ends.tolist())]
        if _SPACE.search(text) and any(map(_SPACE.search, tokens.texts)):
            tokens = _without_whitespace(text, tokens)
        result.append(tokens)
    return result


_NONE = {"*": None}


def _without_whitespace(text: str, tokens: TokenColumns) -> TokenColumns:
    """`tokens` with whitespace dropped: a whitespace token goes, and a token with whitespace inside
    becomes its pieces (without reading or lemma: those were the whole token's)."""
    kept: list[Token] = []
    for token in tokens:
        start = token.start + len(token.text) - len(token.text.lstrip())
        end = start + len(token.text.strip())
        if start >= end:
            continue
        if not _SPACE.search(text, start, end):
            kept.append(replace(token, text=text[start:end], start=start, end=end))
            continue
        kept += [Token(p.group(), p.start(), p.end(), None, token.pos) for p in _NON_SPACE.finditer(text, start, end)]
    return _from_tokens(kept)


def _from_tokens(tokens: Sequence[Token]) -> TokenColumns:
    return TokenColumns(
        [t.text for t in tokens],
        np.fromiter((t.start for t in tokens), np.int64, len(tokens)),
        np.fromiter((t.end for t in tokens), np.int64, len(tokens)),
        [t.reading for t in tokens],
        [None if t.pos is None else ",".join(t.pos) for t in tokens],
        [t.lemma for t in tokens],
    )


class JapaneseTokenizer:
    """Tokenizes Japanese text into tokens with readings, part of speech and dictionary forms, kept
    as columns (`TokenColumns`: a sequence of `Token`).

    The underlying Tagger is public as ``tagger`` so that other components
    (for example :class:`eiwa.tokenize.romaji.Romanizer`) can share it.
    """

    def __init__(self):
        self._local = threading.local()
        # A per-instance cache: an lru_cache on the method itself would be shared by all instances
        # and keep them alive. Readings are asked for per distinct surface, so it stays small.
        self._reading_cached = functools.lru_cache(maxsize=_CACHE_SIZE)(self._reading_uncached)

    @property
    def tagger(self) -> fugashi.Tagger:
        """This thread's MeCab tagger (unidic-lite)."""
        return thread_tagger(self._local)

    def tokenize(self, text: str) -> TokenColumns:
        """Tokens of ``text`` in order; whitespace never becomes a token."""
        return self.tokenize_many([text])[0]

    def tokenize_many(self, texts: Sequence[str]) -> list[TokenColumns]:
        """The tokens of each text: one MeCab call per text, the rest in bulk (`_columns`)."""
        safe = [_parseable(text) for text in texts]
        if any("\0" in text for text in texts):
            return [self._around_nul(text) if "\0" in text else self.tokenize(text) for text in texts]
        # Leading whitespace is left out of MeCab's input: what it makes of a text's first word
        # depends on what comes before (U+00A0 then ア: a noun; ア alone: a symbol).
        leads = [len(text) - len(text.lstrip()) for text in safe]
        parse = self.tagger.parse
        outputs = [parse(text[lead:]) for text, lead in zip(safe, leads)]
        return _columns(outputs, texts, leads, [a == b for a, b in zip(safe, texts)])

    def _around_nul(self, text: str) -> TokenColumns:
        """MeCab stops at a NUL character: each stretch between NULs is tagged on its own, and a
        NUL is a token of its own with no analysis."""
        tokens: list[Token] = []
        offset = 0
        for part in text.split("\0"):
            tokens += [replace(t, start=t.start + offset, end=t.end + offset) for t in self.tokenize(part)]
            offset += len(part)
            if offset < len(text):
                tokens.append(Token(text[offset], offset, offset + 1))
                offset += 1
        return _from_tokens(tokens)

    def reading(self, surface: str) -> str | None:
        """Katakana reading of an arbitrary string: the morpheme readings concatenated.

        A morpheme without a reading contributes its surface when that is ASCII
        (letters, digits); otherwise the whole reading is None.
        """
        return self._reading_cached(surface)

    def piece(self, text: str, start: int, end: int) -> Token:
        """A piece of a token split at an entity boundary, analysed on its own: its reading, and
        the part of speech of its first morpheme."""
        first = self.tokenize(text)[:1]
        pos = first[0].pos if first else None
        lemma = first[0].lemma if first and first[0].text == text else None
        return Token(text, start, end, self.reading(text), pos, lemma)

    def analyse(self, text: str, tokens: Sequence[Token]) -> list[Token]:
        """Given tokens of `text` (a pre-tokenized corpus), with part of speech and lemma from this
        tokenizer: each token takes the POS of the MeCab token covering its first character, and its
        lemma only when MeCab has exactly the same token. Readings and corpus POS stay as given."""
        analysed = self.tokenize(text)
        if not len(analysed):
            return [replace(token, pos=None, lemma=None) for token in tokens]
        starts = np.fromiter((t.start for t in tokens), np.int64, len(tokens))
        ends = np.fromiter((t.end for t in tokens), np.int64, len(tokens))
        cover = np.maximum(np.searchsorted(analysed.starts, starts, side="right") - 1, 0)
        same = (analysed.starts[cover] == starts) & (analysed.ends[cover] == ends)
        return [
            replace(token, pos=analysed.levels(c), lemma=analysed.lemmas[c] if s else None)
            for token, c, s in zip(tokens, cover.tolist(), same.tolist())
        ]

    def _reading_uncached(self, surface: str) -> str | None:
        parts = []
        for word in self.tagger(encodable(surface)):
            if word.surface.isspace():
                continue
            kana = _kana_of(word)
            if kana is None:
                if not word.surface.isascii():
                    return None
                kana = word.surface
            parts.append(kana)
        return "".join(parts) or None
