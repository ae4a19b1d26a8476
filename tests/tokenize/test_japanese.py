"""Tests for eiwa.tokenize.japanese: exact offsets, whitespace, readings, boundary splits."""

from __future__ import annotations

import random

import pytest

from eiwa.doc import Token, split_at_boundaries
from eiwa.tokenize.japanese import JapaneseTokenizer

try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ModuleNotFoundError:  # a test extra; the seeded test below checks the same invariants
    given = None

TOKENIZER = JapaneseTokenizer()

# Kana, kanji, ASCII, full-width and half-width forms, every kind of space, emoji, NUL.
_ALPHABET = list(
    "あいうえおかきくけこっゃーアイウエオカキクケコッャ東京都大阪人々行株式会社日本語"
    "abcXYZ019.,!?-'ＡＢＣ１２３！？（）、。「」・〜ｶﾞｷﾞ😀🇯🇵한"
) + [" ", "\t", "\n", "\r", "\u3000", "\xa0", "\u2003", "\u200b", "\x00"]


def _check_invariants(text: str) -> None:
    tokens = TOKENIZER.tokenize(text)
    covered = set()
    previous_end = 0
    for token in tokens:
        assert text[token.start : token.end] == token.text
        assert token.text and not any(char.isspace() for char in token.text)
        assert token.start >= previous_end  # in order, no overlap
        previous_end = token.end
        covered.update(range(token.start, token.end))
    # Nothing but whitespace is left out.
    assert all(text[i].isspace() for i in range(len(text)) if i not in covered)


@pytest.mark.parametrize(
    "text",
    [
        "東京タワーに行った。",
        "ＡＢＣ株式会社は２００５年に設立された",
        "a b\tc\nd\r\ne\u3000f\xa0g\u2003h",
        "  東京  ",
        "ｶﾞｷﾞ😀🇯🇵한국",
        "ab\x00cd 東京",  # MeCab stops at NUL
        "か\u3099",  # decomposed が
    ],
)
def test_offsets_match_text(text):
    _check_invariants(text)


def test_offsets_on_seeded_random_strings():
    rng = random.Random(0)
    for _ in range(200):
        _check_invariants("".join(rng.choices(_ALPHABET, k=rng.randint(0, 20))))


if given is None:

    def test_offsets_property():
        pytest.skip("hypothesis is not installed: offsets checked on seeded random strings only")

else:

    @settings(max_examples=200, deadline=None)
    @given(st.text(alphabet=st.sampled_from(_ALPHABET), max_size=30))
    def test_offsets_property(text):
        _check_invariants(text)


@pytest.mark.parametrize("text", ["", " ", "\u3000\u3000", " \t\n\r\xa0"])
def test_empty_and_whitespace_only(text):
    assert TOKENIZER.tokenize(text) == []


def test_whitespace_is_not_a_token():
    tokens = TOKENIZER.tokenize("東京\u3000タワー 大阪")
    assert [(t.text, t.start, t.end) for t in tokens] == [
        ("東京", 0, 2),
        ("タワー", 3, 6),
        ("大阪", 7, 9),
    ]


def test_readings_of_common_words():
    tokens = TOKENIZER.tokenize("東京タワーに行った")
    assert [(t.text, t.reading) for t in tokens] == [
        ("東京", "トウキョウ"),
        ("タワー", "タワー"),
        ("に", "ニ"),
        ("行っ", "イッ"),
        ("た", "タ"),
    ]
    assert TOKENIZER.tokenize("大阪")[0].reading == "オオサカ"


@pytest.mark.parametrize("text", ["😀", "。", "xyzzy"])
def test_reading_none_when_dictionary_has_none(text):
    (token,) = TOKENIZER.tokenize(text)
    assert token.reading is None


def test_reading_of_arbitrary_strings():
    assert TOKENIZER.reading("東京") == "トウキョウ"
    assert TOKENIZER.reading("東京都") == "トウキョウト"
    assert TOKENIZER.reading("ABC株式会社") == "ABCカブシキカイシャ"  # ASCII morphemes pass through
    assert TOKENIZER.reading("東京😀") is None
    assert TOKENIZER.reading("") is None


def test_split_at_boundaries_counts_and_offsets():
    text = "は東京都庁"
    tokens = TOKENIZER.tokenize(text)
    assert [t.text for t in tokens] == ["は", "東京", "都庁"]
    # 3 is a token edge (no split), 0 and 5 are outside; 2 and 4 cut a token each.
    new_tokens, splits = split_at_boundaries(tokens, {0, 2, 3, 4, 5}, TOKENIZER.piece)
    assert splits == 2
    # Each piece is analysed on its own: 東 alone is a noun, with its own dictionary form.
    assert new_tokens[1].pos[0] == "名詞" and new_tokens[1].lemma == "東"
    assert [(t.text, t.start, t.end, t.reading) for t in new_tokens] == [
        ("は", 0, 1, "ハ"),
        ("東", 1, 2, "ヒガシ"),
        ("京", 2, 3, "キョウ"),
        ("都", 3, 4, "ト"),
        ("庁", 4, 5, "チョウ"),
    ]
    assert all(text[t.start : t.end] == t.text for t in new_tokens)


def test_split_at_boundaries_several_cuts_in_one_token():
    token = Token("株式会社", 10, 14, "カブシキガイシャ")
    readings = {"株": "カブ", "式": "シキ", "会社": "カイシャ"}
    new_tokens, splits = split_at_boundaries([token], {11, 12}, lambda text, s, e: Token(text, s, e, readings[text]))
    assert splits == 2
    assert new_tokens == [
        Token("株", 10, 11, "カブ"),
        Token("式", 11, 12, "シキ"),
        Token("会社", 12, 14, "カイシャ"),
    ]


def test_split_at_boundaries_without_inner_boundaries_changes_nothing():
    tokens = TOKENIZER.tokenize("東京タワー")
    assert split_at_boundaries(tokens, {0, 2, 5}, TOKENIZER.piece) == (tokens, 0)
    assert split_at_boundaries([], {1}, TOKENIZER.piece) == ([], 0)


def test_two_tokenizers_agree():
    tokenizer = JapaneseTokenizer()
    text = "東京タワーに行った"
    assert tokenizer.tokenize(text) == TOKENIZER.tokenize(text)
    assert len(tokenizer.tokenize(text)) == 5
    assert tokenizer.reading("東京") == TOKENIZER.reading("東京") == "トウキョウ"
