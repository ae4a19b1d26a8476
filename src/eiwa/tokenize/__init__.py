"""Tokenizers: raw text into a `Sentence` for each language (English: a CoNLL-2003 regular expression;
Japanese: MeCab with offsets, readings and part of speech), and romaji for Japanese tokens."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import replace

from eiwa.doc import Sentence, Span, split_at_boundaries
from eiwa.tokenize.english import EnglishTokenizer


class RawTextTokenizer:
    """Turns raw text into a `Sentence`, for one language."""

    def __init__(self, lang: str):
        self.lang = lang
        if lang == "ja":
            from eiwa.tokenize.japanese import JapaneseTokenizer

            self.tokenizer = JapaneseTokenizer()
        else:
            self.tokenizer = EnglishTokenizer()

    def sentence(self, text: str, entities: list[Span] | None = None, origin: str | None = None) -> Sentence:
        """Tokens of `text` with offsets into `text` itself. Decomposed text (NFD: an accent or a
        dakuten as its own combining character) is tokenized in its composed form (NFC), which both
        tokenizers expect, and each token's offsets are mapped back to the caller's characters."""
        if _composed(text):
            return Sentence(text, self.tokenizer.tokenize(text), entities or [], origin)
        composed, starts, ends = composed_with_offsets(text)
        tokens = [replace(t, start=starts[t.start], end=ends[t.end - 1]) for t in self.tokenizer.tokenize(composed)]
        return Sentence(text, tokens, entities or [], origin)

    def sentences(self, texts: Sequence[str]) -> list[Sentence]:
        """`sentence(text)` for each text; Japanese texts in composed form are tokenized in bulk."""
        bulk = getattr(self.tokenizer, "tokenize_many", None)
        if bulk is None or not all(map(_composed, texts)):
            return [self.sentence(text) for text in texts]
        return [Sentence(text, tokens) for text, tokens in zip(texts, bulk(texts))]

    def split_for_entities(self, sentence: Sentence) -> tuple[Sentence, int]:
        """Split tokens at entity boundaries that fall inside them; returns the new sentence and the split count."""
        if sentence.misaligned_entities() == 0:
            return sentence, 0
        boundaries = {e.start for e in sentence.entities} | {e.end for e in sentence.entities}
        pieces, splits = split_at_boundaries(sentence.tokens, boundaries, self.tokenizer.piece)
        return replace(sentence, tokens=pieces), splits


def _composed(text: str) -> bool:
    return unicodedata.is_normalized("NFC", text)


def composed_with_offsets(text: str) -> tuple[str, list[int], list[int]]:
    """NFC of `text`, with, for each of its characters, the start and end of the original
    characters it came from. Each base character and the combining characters after it (and a
    Hangul syllable's conjoining vowel and final jamo) are composed as one cluster."""
    clusters, begin = [], 0
    for index in range(1, len(text) + 1):
        if index == len(text) or not (unicodedata.combining(text[index]) or "\u1160" <= text[index] <= "\u11ff"):
            clusters.append((begin, index))
            begin = index
    pieces, starts, ends = [], [], []
    for begin, end in clusters:
        piece = unicodedata.normalize("NFC", text[begin:end])
        pieces.append(piece)
        starts += [begin] * len(piece)
        ends += [end] * len(piece)
    return "".join(pieces), starts, ends


def document_sentences(
    texts: Sequence[str], lang: str, spans: Sequence | None = None, split: bool = True
) -> tuple[list, list[Sentence]]:
    """Each text's sentence spans (`spans` as given, else found: tokenize/sentences.py; `split` False:
    the whole text) and those sentences tokenized in bulk, all texts' in order."""
    from eiwa.tokenize.sentences import document_spans

    if spans is None:
        spans = [document_spans(text, lang, split) for text in texts]
    pieces = [text[start:end] for text, found in zip(texts, spans) for start, end in found]
    return list(spans), tokenizer_for(lang).sentences(pieces)


_tokenizers: dict[str, RawTextTokenizer] = {}


def tokenizer_for(lang: str) -> RawTextTokenizer:
    """One shared tokenizer per language (MeCab start-up and its caches are worth keeping)."""
    if lang not in _tokenizers:
        _tokenizers[lang] = RawTextTokenizer(lang)
    return _tokenizers[lang]
