"""The `honorifics` augmentation: honorifics added after the entities of types the data itself shows
followed by one, outside them, with offsets, tokens and the rest of the sentence intact."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from eiwa.config import Config
from eiwa.doc import Span
from eiwa.errors import EiwaError
from eiwa.tokenize import tokenizer_for
from eiwa.training.honorifics import HONORIFICS, add_honorifics, honorific_counts
from eiwa.training.run import Data, training_data

TEXTS = [
    ("田中さんは東京に住んでいる。", [(0, 2, "人名"), (5, 7, "地名")]),
    ("佐藤は大阪で働く。", [(0, 2, "人名"), (3, 5, "地名")]),
    ("鈴木と山田が来た。", [(0, 2, "人名"), (3, 5, "人名")]),
    ("京都は雨だった。", [(0, 2, "地名")]),
]


@pytest.fixture(scope="module")
def sentences():
    tokenizer = tokenizer_for("ja")
    return [tokenizer.sentence(text, [Span(*span) for span in spans]) for text, spans in TEXTS]


def entity_texts(sentence):
    return [(sentence.text[e.start : e.end], e.type) for e in sentence.entities]


def test_counts_say_where_the_data_puts_honorifics(sentences):
    after, inside = honorific_counts(sentences)
    assert after == {"人名": 1} and not inside


def test_every_eligible_entity_gets_an_honorific_outside_it(sentences):
    lines = []
    augmented = add_honorifics(sentences, 1.0, seed=1, log=lines.append)
    for before, after in zip(sentences, augmented):
        assert entity_texts(after) == entity_texts(before)  # the same names, none with an honorific inside
        assert all(after.text[t.start : t.end] == t.text for t in after.tokens)
        assert after.misaligned_entities() == 0
        following = {t.start: t.text for t in after.tokens}
        for entity in after.entities:
            assert (following.get(entity.end) in HONORIFICS) == (entity.type == "人名")
    assert augmented[0].text == sentences[0].text  # already followed by さん: left as it was
    added = augmented[2].tokens[1]
    assert added.pos is not None and added.reading and added.text in HONORIFICS
    assert lines == [
        "honorifics: added after 3 人名 entities (the data has one after 1 and at the end of 0), so "
        "that names end before them"
    ]


def test_the_rate_and_seed_decide_and_zero_changes_nothing(sentences):
    assert add_honorifics(sentences, 0.0, seed=1) == sentences
    assert add_honorifics(sentences, 0.5, seed=7) == add_honorifics(sentences, 0.5, seed=7)


def test_a_type_whose_entities_end_with_honorifics_is_left_alone(sentences):
    tokenizer = tokenizer_for("ja")
    inside = tokenizer.sentence("山田様が来た。", [Span(0, 3, "人名")])
    inside2 = tokenizer.sentence("田中様が来た。", [Span(0, 3, "人名")])
    lines = []
    assert add_honorifics([*sentences, inside, inside2], 1.0, seed=1, log=lines.append)[1] == sentences[1]
    assert "none added" in lines[0]


def test_training_data_adds_them_to_training_sentences_only(tmp_path):
    records = "\n".join(
        json.dumps({"text": text, "entities": [{"span": list(spans[0][:2]), "type": spans[0][2]}]}, ensure_ascii=False)
        for text, spans in TEXTS[:3]
    )
    (tmp_path / "train.jsonl").write_text(records, encoding="utf-8")
    (tmp_path / "dev.jsonl").write_text(records, encoding="utf-8")
    config = Config(lang="ja", honorifics=1.0).validate()
    train, dev = training_data(config, Data(tmp_path / "train.jsonl", tmp_path / "dev.jsonl", "spans"), lambda _: None)
    assert (
        train[1].text != dev[1].text and train[1].text.startswith("佐藤") and train[1].text.endswith("は大阪で働く。")
    )
    assert [s.text for s in dev] == [text for text, _ in TEXTS[:3]]


@pytest.mark.parametrize(
    "values, message", [({"honorifics": 1.5}, r"in \[0, 1\]"), ({"lang": "en", "honorifics": 0.1}, "lang ja")]
)
def test_the_setting_is_checked(values, message):
    with pytest.raises(EiwaError, match=message):
        Config(**values).validate()


def test_data_with_its_own_part_of_speech_reads_the_added_honorific_as_unknown(sentences):
    with_column = [replace(s, tokens=[replace(t, corpus_pos=("名詞",)) for t in s.tokens]) for s in sentences]
    added = add_honorifics(with_column, 1.0, seed=1)[1].tokens[1]
    assert added.text in HONORIFICS and added.corpus_pos == ()
