"""Honorifics outside names: a training-data augmentation for Japanese (the setting `honorifics`).

Japanese NER corpora end a person's name before the honorific or title that follows it (田中|さん,
佐藤|氏): Stockmark's Wikipedia set puts さん, 氏, 殿... after 人名 spans and never inside one, and the
Hironsan corpus does the same with PSN. But encyclopedic text seldom uses them (Stockmark's 5,343
sentences have さん after a name 3 times), so a model trained on it has hardly seen the pattern and
takes 田中さん whole. With `honorifics = p`, every entity of a type that the training data itself
shows followed by an honorific more often than ending with one is given, with probability p, one of
`HONORIFICS` right after it, outside the entity: the data's own convention, shown more often.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace

from eiwa.doc import Sentence, Token

# Honorifics and titles that Japanese NER conventions leave outside a name. MeCab (unidic-lite) makes
# each one token after a name: a suffix (接尾辞), except 先生, a common noun.
HONORIFICS = ("さん", "様", "さま", "氏", "君", "くん", "ちゃん", "殿", "先生")


def honorific_counts(sentences: Sequence[Sentence]) -> tuple[Counter, Counter]:
    """Per entity type: how many entities an honorific token follows, and how many end with one."""
    after, inside = Counter(), Counter()
    for sentence in sentences:
        starting = {t.start: t for t in sentence.tokens}
        ending = {t.end: t for t in sentence.tokens}
        for entity in sentence.entities:
            following, last = starting.get(entity.end), ending.get(entity.end)
            if following is not None and following.text in HONORIFICS:
                after[entity.type] += 1
            if last is not None and last.text in HONORIFICS and last.start > entity.start:
                inside[entity.type] += 1
    return after, inside


def add_honorifics(
    sentences: Sequence[Sentence], rate: float, seed: int, log: Callable[[str], None] = lambda line: None
) -> list[Sentence]:
    """The sentences with an honorific token after each entity of an eligible type, with probability
    `rate` (drawn from a generator of its own, seeded by `seed`). A type is eligible when the data
    puts honorifics after its entities more often than at their end."""
    after, inside = honorific_counts(sentences)
    eligible = {name for name in after if after[name] > inside[name]}
    if not eligible:
        log("honorifics: no entity type is followed by an honorific in the training data; none added")
        return list(sentences)
    tokens = _honorific_tokens()
    generator = random.Random(seed)
    result, added = [], Counter()
    for sentence in sentences:
        types_at = {e.end: e.type for e in sentence.entities if e.type in eligible and _free(sentence, e.end)}
        chosen = [end for end in types_at if generator.random() < rate]
        for end in sorted(chosen, reverse=True):  # right to left: the offsets still to visit stay valid
            sentence = _inserted(sentence, end, tokens[generator.randrange(len(tokens))])
        added.update(types_at[end] for end in chosen)
        result.append(sentence)
    for name in sorted(eligible):
        log(
            f"honorifics: added after {added[name]} {name} entities (the data has one after {after[name]} "
            f"and at the end of {inside[name]}), so that names end before them"
        )
    return result


def _free(sentence: Sentence, end: int) -> bool:
    """Whether an honorific may go at `end`: a token boundary, no honorific there yet, no entity across it."""
    following = next((t for t in sentence.tokens if t.start == end), None)
    at_boundary = end == len(sentence.text) or following is not None
    across = any(e.start < end < e.end for e in sentence.entities)
    return at_boundary and not across and (following is None or following.text not in HONORIFICS)


def _inserted(sentence: Sentence, at: int, honorific: Token) -> Sentence:
    """`sentence` with `honorific` inserted at character offset `at` (a token boundary)."""
    width = honorific.end - honorific.start
    index = sum(t.end <= at for t in sentence.tokens)
    moved = [replace(t, start=t.start + width, end=t.end + width) for t in sentence.tokens[index:]]
    new_token = replace(honorific, start=at, end=at + width)
    if any(t.corpus_pos is not None for t in sentence.tokens):  # the data's own POS column has no row for it
        new_token = replace(new_token, corpus_pos=())  # (): the unknown part of speech
    entities = [e if e.end <= at else replace(e, start=e.start + width, end=e.end + width) for e in sentence.entities]
    text = sentence.text[:at] + honorific.text + sentence.text[at:]
    return Sentence(text, [*sentence.tokens[:index], new_token, *moved], entities, sentence.origin)


def _honorific_tokens() -> list[Token]:
    """Each honorific as MeCab analyses it after a name (reading, part of speech, lemma)."""
    from eiwa.tokenize import tokenizer_for

    tokenizer = tokenizer_for("ja")
    tokens = []
    for honorific in HONORIFICS:
        analysed = tokenizer.sentence("田中" + honorific).tokens
        if len(analysed) == 2 and analysed[1].text == honorific:
            tokens.append(replace(analysed[1], start=0, end=len(honorific)))
    return tokens
