"""Telling a data file's format and language from its content (readers.infer_format, training.run.settle)."""

from __future__ import annotations

import json

import pytest
from helpers import assert_user_error

from eiwa.cli import cli
from eiwa.config import default_recipe
from eiwa.errors import DataError, EiwaError
from eiwa.readers import infer_format, read
from eiwa.tokenize.script import japanese_share, language_of
from eiwa.training.run import Data, settle

JA_TEXT = "田中さんは東京の日本銀行に勤めている。"
JA_RECORD = {"text": JA_TEXT, "label": [[0, 2, "PERSON"], [5, 7, "LOCATION"], [8, 12, "COMPANY"]]}


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(tmp_path, name, records):
    return write(tmp_path, name, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


FILES = {
    "conll": ("a.txt", "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-NP B-PER\n"),
    "doccano": ("a.jsonl", json.dumps(JA_RECORD, ensure_ascii=False) + "\n"),
    "spans": ("a.json", json.dumps([{"text": JA_TEXT, "entities": [{"span": [0, 2], "type": "人名"}]}])),
    "label-studio": (
        "a.json",
        json.dumps([{"data": {"text": JA_TEXT}, "annotations": [{"result": []}]}], ensure_ascii=False),
    ),
    "parts": ("a.toml", '[[part]]\npath = "a.txt"\n'),
}


@pytest.mark.parametrize("expected", sorted(FILES))
def test_each_format_is_told_by_its_content_whatever_the_file_is_called(tmp_path, expected):
    name, text = FILES[expected]
    assert infer_format(write(tmp_path, "data" + name[1:].replace(".", "_"), text)) == expected


def test_doccano_1x_entities_are_doccano_and_plain_entities_are_spans(tmp_path):
    doccano = {"text": JA_TEXT, "entities": [{"start_offset": 0, "end_offset": 2, "label": "PERSON"}]}
    assert infer_format(jsonl(tmp_path, "a.jsonl", [doccano])) == "doccano"
    spans = {"text": JA_TEXT, "entities": [{"start": 0, "end": 2, "type": "PERSON"}]}
    assert infer_format(jsonl(tmp_path, "b.jsonl", [spans])) == "spans"
    assert infer_format(jsonl(tmp_path, "c.jsonl", [{"text": JA_TEXT}])) == "spans"


def test_a_file_of_no_known_shape_names_the_formats_it_tried(tmp_path):
    with pytest.raises(DataError, match=r"a\.txt.*cannot tell the format.*conll.*doccano.*give --format"):
        infer_format(write(tmp_path, "a.txt", "just some words\nwithout tags\n"))
    with pytest.raises(DataError, match="cannot tell the format"):
        infer_format(jsonl(tmp_path, "b.jsonl", [{"sentence": "no text key"}]))


def test_read_without_a_format_reads_what_the_content_shows(tmp_path):
    corpus = read(jsonl(tmp_path, "a.jsonl", [JA_RECORD]), lang="ja")
    assert [e.type for e in corpus.sentences[0].entities] == ["PERSON", "LOCATION", "COMPANY"]


def test_japanese_is_told_by_the_share_of_kana_and_kanji_among_letters():
    assert japanese_share(JA_TEXT) == 1.0
    assert japanese_share("John Smith lives in New York.") == 0.0
    assert japanese_share("123 !?") == 0.0
    assert language_of("iPhone 15を発売したAppleは、カリフォルニア州に本社を置く") == "ja"
    assert language_of("Tokyo (東京) is the capital of Japan.") == "en"


def test_settle_infers_the_format_and_language_and_says_so(tmp_path):
    lines = []
    data, lang = settle(Data(jsonl(tmp_path, "mine.jsonl", [JA_RECORD] * 3)), None, lines.append)
    assert (data.format, lang) == ("doccano", "ja")
    assert "as doccano (inferred from its content" in lines[0] and "language: ja (inferred" in lines[1]
    assert default_recipe(lang) == "ja-small" and default_recipe("en") is None


def test_settle_refuses_a_language_the_text_contradicts(tmp_path):
    japanese = jsonl(tmp_path, "ja.jsonl", [JA_RECORD] * 3)
    with pytest.raises(EiwaError, match=r"ja\.jsonl: the text is Japanese \(100% .*--lang is en"):
        settle(Data(japanese), "en")
    english = write(tmp_path, "en.txt", "".join(f"Word{i} NN O\nLondon NNP B-LOC\n\n" for i in range(30)))
    with pytest.raises(EiwaError, match=r"en\.txt: --lang is ja but the text has no kana or kanji"):
        settle(Data(english), "ja")
    assert settle(Data(japanese), "ja", lambda _: None)[1] == "ja"


def test_settle_takes_the_language_of_a_fixed_corpus():
    assert settle(Data(None, format="hironsan"), None, lambda _: None) == (Data(None, format="hironsan"), "ja")
    with pytest.raises(EiwaError, match="no training data: give --train"):
        settle(Data(None), None)


def test_train_without_format_or_lang_on_japanese_doccano_says_what_it_inferred(runner, tmp_path):
    train = jsonl(tmp_path, "mine.jsonl", [JA_RECORD] * 20)
    args = ["train", "--train", str(train), "--out", str(tmp_path / "m"), "--config", "small-data"]
    result = runner.invoke(cli, [*args, "--features", "char,word", "--set", "max_epochs=1"])
    assert result.exit_code == 0, result.output
    assert "as doccano (inferred" in result.stderr and "language: ja" in result.stderr
    assert json.loads((tmp_path / "m" / "config.json").read_text())["lang"] == "ja"
    result = runner.invoke(cli, ["train", "--lang", "en", "--train", str(train), "--out", str(tmp_path / "n")])
    assert_user_error(result, "mine.jsonl", "the text is Japanese", "--lang is en")
    assert not (tmp_path / "n").exists()
