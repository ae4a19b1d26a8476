"""Tests for eiwa.tokenize.sentences: the rules on examples, and properties on generated text (the
sentences and the whitespace between them rebuild the input, none is empty, none breaks a quote)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eiwa.tokenize.sentences import LONGEST_QUOTE, sentence_spans, stripped, whole_text

# database=None keeps hypothesis from writing a .hypothesis/ folder into the repository.
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, database=None)


def sentences(text: str, lang: str) -> list[str]:
    return [text[start:end] for start, end in sentence_spans(text, lang)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("田中さんは東京に住んでいる。鈴木さんも。", ["田中さんは東京に住んでいる。", "鈴木さんも。"]),
        ("本当？嘘！まさか!?そう。", ["本当？", "嘘！", "まさか!?", "そう。"]),
        ("「本当？嘘でしょ。」と彼は言った。次。", ["「本当？嘘でしょ。」と彼は言った。", "次。"]),
        ("「行こう。」\n「うん。」", ["「行こう。」", "「うん。」"]),
        ("彼は『はい。いいえ。』と答えた。", ["彼は『はい。いいえ。』と答えた。"]),
        ("最後（注。これは括弧）です。次。", ["最後（注。これは括弧）です。", "次。"]),
        ("そうだ。」次は。", ["そうだ。」", "次は。"]),  # a stray closer stays with its sentence
        ("見出し\n本文です。\n\n　二段落目。", ["見出し", "本文です。", "二段落目。"]),
        ("Yahoo!ニュースで見た。", ["Yahoo!ニュースで見た。"]),
        ("成長率は３．５％だった。次．", ["成長率は３．５％だった。", "次．"]),
        ("（閉じない括弧。次の文。", ["（閉じない括弧。", "次の文。"]),
        ("モーニング娘。", ["モーニング娘。"]),
        ("", []),
        (" \n\u3000 ", []),
    ],
)
def test_japanese_rules(text, expected):
    assert sentences(text, "ja") == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("John lives in Paris. Mary works for Sony.", ["John lives in Paris.", "Mary works for Sony."]),
        ("Mr. Smith met Dr. Lee at Acme Inc. in Jan. 2020.", ["Mr. Smith met Dr. Lee at Acme Inc. in Jan. 2020."]),
        ("J. Smith moved to the U.S. Later he left.", ["J. Smith moved to the U.S. Later he left."]),
        ("He works for Acme Corp. The firm grew.", ["He works for Acme Corp.", "The firm grew."]),
        ("It grew 3.5 percent. See example.com today.", ["It grew 3.5 percent.", "See example.com today."]),
        ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
        ('He said "Stop. Now!" and left.', ['He said "Stop. Now!" and left.']),
        ("Wait... what? Yes! (See above.) Next", ["Wait... what?", "Yes!", "(See above.)", "Next"]),
        ("Lines wrapped in New\nYork stay.\n\nA paragraph.", ["Lines wrapped in New\nYork stay.", "A paragraph."]),
        ("Windows\r\n\r\nline breaks.", ["Windows", "line breaks."]),
        ("etc. and so on.", ["etc. and so on."]),
        ("John Smith lives in Paris .", ["John Smith lives in Paris ."]),
        ("  padded.  ", ["padded."]),
    ],
)
def test_english_rules(text, expected):
    assert sentences(text, "en") == expected


def test_a_pair_longer_than_the_limit_does_not_hold_sentences_together():
    inner = "あ。" * (LONGEST_QUOTE // 2 + 1)
    assert len(sentences(f"「{inner}」", "ja")) > 1
    assert len(sentences(f"「{'あ。' * 10}」", "ja")) == 1


def test_whole_text_and_stripped():
    assert whole_text("  John. Mary.\n") == [(2, 13)]
    assert whole_text(" \t") == []
    assert stripped("ab  cd", 1, 4) == [(1, 2)]


def test_ten_thousand_characters_split_quickly():
    import time

    text = "田中さんは東京の日本銀行に勤めている。" * 600
    began = time.perf_counter()
    spans = sentence_spans(text, "ja")
    assert len(spans) == 600 and spans[-1][1] == len(text)
    assert time.perf_counter() - began < 0.5
    for unmatched in ("「" * 20_000 + "。", "」" * 20_000 + "。", "(」" * 10_000):
        began = time.perf_counter()
        assert sentence_spans(unmatched, "ja")
        assert time.perf_counter() - began < 0.5


# ----------------------------------------------------------------------------- properties

_CHARS = list("あい東京田中abcXY19 .,!?！？。．、\n\r\u3000\t「」『』（）()\"“”»«[]】【'") + [
    "\u2029",
    "\x85",
    "\u0301",
]


def check_partition(text: str, spans: list[tuple[int, int]]) -> None:
    """In order, inside the text, never empty, no whitespace at the edges, only whitespace between:
    the sentences and their gaps concatenate back to the text."""
    cursor, rebuilt = 0, []
    for start, end in spans:
        assert cursor <= start < end <= len(text)
        assert not text[start].isspace() and not text[end - 1].isspace()
        assert text[cursor:start].isspace() or cursor == start
        rebuilt += [text[cursor:start], text[start:end]]
        cursor = end
    assert text[cursor:].isspace() or cursor == len(text)
    assert "".join(rebuilt) + text[cursor:] == text
    assert bool(spans) == bool(text.strip())


@PROPERTY_SETTINGS
@given(st.text(st.sampled_from(_CHARS), max_size=80), st.sampled_from(["ja", "en"]))
def test_sentences_partition_any_text(text, lang):
    check_partition(text, sentence_spans(text, lang))


@PROPERTY_SETTINGS
@given(st.text(max_size=60), st.sampled_from(["ja", "en"]))
def test_sentences_partition_any_unicode(text, lang):
    check_partition(text, sentence_spans(text, lang))


_PLAIN = st.text(st.sampled_from(list("あ東a X9.!?。！？．、\n")), max_size=12)
_QUOTES = [("「", "」"), ("『", "』"), ("（", "）"), ("(", ")"), ('"', '"'), ("“", "”"), ("【", "】")]


@st.composite
def quoted_texts(draw):
    """Plain text with quoted parts (no quote character inside them, no blank line), and the
    offsets of each quote's opener and closer."""
    parts, pairs, length = [], [], 0
    for plain, quote in draw(st.lists(st.tuples(_PLAIN, st.none() | st.sampled_from(_QUOTES)), max_size=6)):
        parts.append(plain)
        length += len(plain)
        if quote is not None:
            inner = re.sub(r"\n(\s*\n)+", "\n", draw(_PLAIN))  # a line break, but no paragraph break
            parts.append(quote[0] + inner + quote[1])
            pairs.append((length, length + len(inner) + 1))
            length += len(inner) + 2
    return "".join(parts), pairs


@PROPERTY_SETTINGS
@given(quoted_texts(), st.sampled_from(["ja", "en"]))
def test_no_sentence_ends_inside_quotes(case, lang):
    text, pairs = case
    spans = sentence_spans(text, lang)
    check_partition(text, spans)
    for opener, closer in pairs:
        # Every sentence that touches the quote holds all of it.
        holding = [(s, e) for s, e in spans if s <= closer and e > opener]
        assert len(holding) == 1 and holding[0][0] <= opener and closer < holding[0][1], (text, opener, spans)


@PROPERTY_SETTINGS
@given(st.lists(st.text(st.sampled_from(list("あい東京田中は、")), min_size=1, max_size=8), min_size=1, max_size=6))
def test_japanese_sentences_ending_in_a_full_stop_are_found(bodies):
    text = "".join(body + "。" for body in bodies)
    assert sentences(text, "ja") == [body + "。" for body in bodies]
