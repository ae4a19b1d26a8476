"""Raw text into sentences: character spans, for Japanese and English, by rules.

`sentence_spans(text, lang)` gives `(start, end)` offsets into `text`, in order, never empty,
without whitespace at either edge, and with only whitespace between them, so that a document's
sentences and the gaps between them rebuild it exactly.

Rules rather than a library. The segmenters on PyPI either lose characters (ja_sentence_segmenter
returns strings without offsets, normalised, line breaks dropped), are no longer kept (pysbd's
last release is from 2021, and its offsets are recovered by searching), or pull in a dozen
packages for what is a few regular expressions (bunkai). The rules below are what a tagger needs:

* A sentence ends after a run of terminators (Japanese 。｡．！？!?‼⁇⁈⁉; English . ! ?) and the
  closing quotes or brackets right after it.
* Never inside quotes or brackets: 「…」 『…』 （…） (…) […] 【…】 〔…〕 〈…〉 《…》 “…” "…" «…» and
  the like, matched as pairs within a paragraph (「本当？嘘でしょ。」と彼は言った。 is one sentence).
  A stray opener protects nothing, and neither does a pair longer than `LONGEST_QUOTE` characters,
  so one missing bracket cannot swallow a document.
* A blank line always ends a sentence (a paragraph). In Japanese every line break ends one (text
  is rarely wrapped by hand, and headings carry no 。); in English a single line break is a space,
  since English text is often wrapped mid-sentence ("New\\nYork").
* When in doubt, no break. A sentence too long costs the tagger little, a break inside a name
  loses the name, so: in English a period ends a sentence only before whitespace and a word that
  is not lowercase, and never after a title or other abbreviation the tokenizer keeps whole (Mr.
  Dr. Jan. No.; company suffixes such as Inc. may end one) or an initial (J. Smith, U.S.); in
  Japanese ． before a digit is a decimal point, ! and ? after a Latin letter belong to a name
  (Yahoo!ニュース), and 「…。」と continues the sentence.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator

from eiwa.tokenize.english import _ABBREVIATIONS

LONGEST_QUOTE = 500  # characters: a longer "pair" is more likely a stray bracket and its partner

_PAIRS = {
    "「": "」",
    "『": "』",
    "（": "）",
    "(": ")",
    "［": "］",
    "[": "]",
    "【": "】",
    "〔": "〕",
    "〈": "〉",
    "《": "》",
    "｛": "｝",
    "{": "}",
    "〘": "〙",
    "〚": "〛",
    "“": "”",
    "«": "»",
    "〝": "〟",
    '"': '"',  # the same character opens and closes
}
OPENERS = "".join(_PAIRS)
CLOSERS = "".join(dict.fromkeys(_PAIRS.values()))
_OPENER_OF = {close: open_ for open_, close in _PAIRS.items()}
_BRACKET = re.compile(f"[{re.escape(OPENERS + CLOSERS)}]")

# Line breaks as str.splitlines knows them; \r\n is one.
_LINE_BREAK_CHARS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_LINE_BREAK = r"(?:\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028])"
_PARAGRAPH_BREAK = re.compile(rf"{_LINE_BREAK}(?:[^\S{_LINE_BREAK_CHARS}]*{_LINE_BREAK})+|\u2029")
_LINE_BREAKS = re.compile(_LINE_BREAK)

_CLOSING = f"[{re.escape(CLOSERS)}]*"
_JAPANESE_END = re.compile(rf"(?:[。｡！？‼⁇⁈⁉]|(?<![A-Za-z])[!?]|．(?![0-9０-９]))+{_CLOSING}")
_ENGLISH_END = re.compile(rf"(?:[.!?]|…)+{_CLOSING}")
# What makes a period not a sentence's end: an abbreviation or initials just before it. Company
# suffixes and "etc." often end a sentence, and a name never follows them (unlike "Mr." or "Jan.").
_MAY_END = {"Inc", "Corp", "Ltd", "Co", "Cos", "Bros", "Plc", "etc"}
_NEVER_END = "|".join(a for a in _ABBREVIATIONS.split("|") if a not in _MAY_END)
_ENGLISH_ABBREVIATION = re.compile(rf"(?<![\w.])(?:{_NEVER_END}|[A-Za-z](?:\.[A-Za-z])*)\Z")
_SPACE = re.compile(r"\s*")


def sentence_spans(text: str, lang: str) -> list[tuple[int, int]]:
    """The sentences of `text` as `(start, end)` character offsets (see the module's rules);
    Japanese rules for `lang` "ja", English ones otherwise. Blank text has none."""
    spans: list[tuple[int, int]] = []
    for begin, end in _paragraphs(text):
        cuts = _cuts(text, begin, end, lang)
        for start, stop in zip([begin, *cuts], [*cuts, end]):
            spans.extend(stripped(text, start, stop))
    return spans


def document_spans(text: str, lang: str, split: bool = True) -> list[tuple[int, int]]:
    """The spans a text is tagged as: its sentences, or with `split` false the whole text as one."""
    return sentence_spans(text, lang) if split else whole_text(text)


def whole_text(text: str) -> list[tuple[int, int]]:
    """`text` as one sentence, whitespace at its edges left out (none when it is blank)."""
    return stripped(text, 0, len(text))


def stripped(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """`text[start:end]` without whitespace at either edge, as a list of one span or none."""
    start = _SPACE.match(text, start, end).end()
    while end > start and text[end - 1].isspace():
        end -= 1
    return [(start, end)] if end > start else []


def _paragraphs(text: str) -> Iterator[tuple[int, int]]:
    begin = 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        yield begin, match.start()
        begin = match.end()
    yield begin, len(text)


def _cuts(text: str, begin: int, end: int, lang: str) -> list[int]:
    """Offsets in `text[begin:end]` (one paragraph) after which a sentence ends, in order."""
    protected = _quoted(text, begin, end)
    japanese = lang == "ja"
    pattern = _JAPANESE_END if japanese else _ENGLISH_END
    cuts = [
        match.end()
        for match in pattern.finditer(text, begin, end)
        if not _inside(protected, match.end()) and _ends_sentence(text, match, end, protected, japanese)
    ]
    if japanese:
        cuts += [m.end() for m in _LINE_BREAKS.finditer(text, begin, end) if not _inside(protected, m.end())]
    return sorted(set(cuts))


def _ends_sentence(text: str, match: re.Match, end: int, protected: list[tuple[int, int]], japanese: bool) -> bool:
    """Whether a run of terminators (and the closers after it) ends its sentence, by what is around it."""
    after = match.end()
    if japanese:
        terminated = match.start() + len(match.group().rstrip(CLOSERS))
        if terminated == after or not _inside(protected, terminated):
            return True  # no closers, or stray ones after a terminator outside any quote
        # 「…。」と言った: a quote that ends in a terminator ends the sentence only where a new one may begin.
        return after == end or text[after].isspace() or text[after] in OPENERS
    following = _SPACE.match(text, after, end).end()
    if following == end:
        return True
    if following == after or text[following].islower():
        return False
    if match.group().rstrip(CLOSERS) == ".":
        return not _ENGLISH_ABBREVIATION.search(text, max(0, match.start() - 40), match.start())
    return True


def _quoted(text: str, begin: int, end: int) -> list[tuple[int, int]]:
    """The matched quotes and brackets of `text[begin:end]` as (opener, closer) offsets, overlapping
    ones merged, in order: a sentence may not end at an offset in `(opener, closer]`."""
    stack: list[tuple[str, int]] = []
    open_count = dict.fromkeys(_PAIRS, 0)  # openers on the stack, by character: no search per closer
    pairs: list[tuple[int, int]] = []
    for match in _BRACKET.finditer(text, begin, end):
        char, at = match.group(), match.start()
        opener = _OPENER_OF.get(char)
        if opener is not None and open_count[opener]:
            while True:  # openers left unclosed inside this pair protect nothing
                top, start = stack.pop()
                open_count[top] -= 1
                if top == opener:
                    break
            if at - start <= LONGEST_QUOTE:
                pairs.append((start, at))
        elif char in _PAIRS:
            stack.append((char, at))
            open_count[char] += 1
    merged: list[tuple[int, int]] = []
    for start, close in sorted(pairs):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], close))
        else:
            merged.append((start, close))
    return merged


def _inside(protected: list[tuple[int, int]], offset: int) -> bool:
    """Whether a break at `offset` would fall inside a quoted span `(open, close]`."""
    index = bisect.bisect_left(protected, (offset,)) - 1
    return index >= 0 and protected[index][0] < offset <= protected[index][1]
