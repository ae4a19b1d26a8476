"""The bulk column tokenizer gives what the node-walking one gave (tests/walking_reference.py):
the same tokens, offsets, readings, POS and lemmas, on edge cases, on generated text and on every text
of the shared Japanese corpora."""

from __future__ import annotations

import json

import pytest
from walking_reference import WalkingTokenizer

from eiwa.doc import Token, TokenColumns
from eiwa.tokenize.japanese import JapaneseTokenizer

try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ModuleNotFoundError:  # a test extra
    given = None

BULK, WALKING = JapaneseTokenizer(), WalkingTokenizer()

EDGE_CASES = [
    "",
    "   ",
    "\x00",
    "a\x00",
    "東京\x00都に\x00\x00住む",
    "  先頭の空白と末尾の空白  ",
    "\u3000全角\u3000空白\r\n改行",
    "ａ\u00a0ｂ x\u2028y",
    "𠮷野家ｱｲｳ☃★😀🇯🇵",
    'a,b"c,"d"',  # commas and quotes inside surfaces
    "\ud800壊れた\udfff文字",  # lone surrogates: MeCab reads U+FFFD, offsets stay the caller's
    "\x07ベルと\x07区切り",  # the column output's separator inside the text
    "ＡＢＣ１２３とabc123",
]


def assert_same(text: str) -> None:
    assert list(BULK.tokenize(text)) == WALKING.tokenize(text), repr(text)


@pytest.mark.parametrize("text", EDGE_CASES)
def test_edge_cases_tokenize_as_the_walking_tokenizer_did(text):
    assert_same(text)


def test_many_texts_at_once_equal_one_at_a_time():
    texts = EDGE_CASES + ["東京タワーに行った。", "田中さんは大阪に住む"]
    assert [list(t) for t in BULK.tokenize_many(texts)] == [list(BULK.tokenize(t)) for t in texts]


if given is not None:
    _ALPHABET = list(
        "あいうえおかきくけこっゃーアイウエオカキクケコッャ東京都大阪人々行株式会社日本語"
        "abcXYZ019.,!?-'\"ＡＢＣ１２３！？（）、。「」・〜ｶﾞｷﾞ😀한\x07"
    ) + [" ", "\t", "\n", "\r", "\u3000", "\xa0", "\u2003", "\u200b", "\x00", "\ud800"]

    @settings(max_examples=150, deadline=None)
    @given(st.lists(st.text(alphabet=_ALPHABET, max_size=40), min_size=1, max_size=4))
    def test_generated_texts_tokenize_as_the_walking_tokenizer_did(texts):
        for text, tokens in zip(texts, BULK.tokenize_many(texts)):
            assert list(tokens) == WALKING.tokenize(text), repr(text)


def test_every_shared_corpus_text_tokenizes_as_the_walking_tokenizer_did(shared_data):
    from hironsan.corpus import hiron2016

    records = json.loads((shared_data / "stockmark-wikipedia-ner" / "ner.json").read_text(encoding="utf-8"))
    texts = [record["text"] for record in records]
    texts += [
        "".join(row[0] for row in sentence) for part in ("train", "test") for sentence in hiron2016.iob_sents(part)
    ]
    differ = [text for text, tokens in zip(texts, BULK.tokenize_many(texts)) if list(tokens) != WALKING.tokenize(text)]
    assert not differ, f"{len(differ)} of {len(texts)} texts differ, the first: {differ[0]!r}"


def test_token_columns_behave_as_a_list_of_tokens():
    tokens = BULK.tokenize("東京タワーに行った")
    assert isinstance(tokens, TokenColumns)
    as_list = list(tokens)
    assert all(isinstance(t, Token) for t in as_list)
    assert tokens == as_list and len(tokens) == len(as_list) == 5
    assert tokens[0] == as_list[0] and tokens[-1] == as_list[-1] and tokens[1:3] == as_list[1:3]
    assert tokens[0].pos == ("名詞", "固有名詞", "地名", "一般")
    with pytest.raises(IndexError):
        tokens[5]
