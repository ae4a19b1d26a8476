"""Tests for eiwa.readers: CoNLL, character-span and Hironsan readers, the registry, and their error messages."""

from __future__ import annotations

import json

import pytest
from helpers import shared_file

from eiwa.doc import Span
from eiwa.errors import DataError, EiwaError
from eiwa.readers import read
from eiwa.readers.conll import read_conll
from eiwa.readers.hironsan import read_hironsan
from eiwa.readers.spans import read_span_records, read_spans


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def entity_texts(sentence):
    return [(sentence.text[e.start : e.end], e.type) for e in sentence.entities]


# ----------------------------------------------------------------------------- CoNLL


def test_conll_default_columns_first_is_token_last_is_tag(tmp_path):
    path = write(
        tmp_path,
        "a.conll",
        "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n\n"
        "Peter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n",
    )
    corpus = read_conll(path)
    assert [s.words for s in corpus.sentences] == [["EU", "rejects", "German"], ["Peter", "Blackburn"]]
    assert entity_texts(corpus.sentences[0]) == [("EU", "ORG"), ("German", "MISC")]
    assert entity_texts(corpus.sentences[1]) == [("Peter Blackburn", "PER")]
    assert corpus.sentences[0].readings is None
    assert corpus.entity_types() == ["MISC", "ORG", "PER"]


def test_conll_named_columns_pick_the_tag_column_not_the_chunk(tmp_path):
    # With the chunk column (B-NP) taken as the tag, entity types would be "NP"/"VP".
    path = write(tmp_path, "a.conll", "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n")
    corpus = read_conll(path, columns=["token", "pos", "chunk", "tag"])
    assert entity_texts(corpus.sentences[0]) == [("EU", "ORG")]
    corpus = read_conll(path, columns=["token", "pos", "tag", "ner"])
    assert {e.type for e in corpus.sentences[0].entities} == {"NP", "VP"}


def test_conll_reading_column_kept_and_placeholders_are_none(tmp_path):
    path = write(tmp_path, "ja.conll", "東京 トウキョウ B-LOC\nに * O\n行っ イッ O\n")
    sentence = read_conll(path, lang="ja", columns=["token", "reading", "tag"]).sentences[0]
    assert sentence.words == ["東京", "に", "行っ"]
    assert sentence.readings == ["トウキョウ", None, "イッ"]


def test_conll_docstart_lines_are_skipped(tmp_path):
    path = write(
        tmp_path, "a.conll", "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\n\n-DOCSTART- -X- -X- O\nPeter NNP B-NP B-PER\n"
    )
    corpus = read_conll(path)
    assert [s.words for s in corpus.sentences] == [["EU"], ["Peter"]]
    assert all("-DOCSTART-" not in s.text for s in corpus.sentences)


def test_conll_token_prefix_is_stripped_wikiann_style(tmp_path):
    path = write(tmp_path, "wikiann", "en:R.H.\tB-ORG\nen:Saunders\tI-ORG\nen:(\tO\n")
    sentence = read_conll(path, token_prefix="en:").sentences[0]
    assert sentence.words == ["R.H.", "Saunders", "("]
    assert sentence.text == "R.H. Saunders ("
    assert entity_texts(sentence) == [("R.H. Saunders", "ORG")]


@pytest.mark.parametrize(
    "tags",
    [
        # IOB1: I- throughout, B- only between two adjacent entities of the same type.
        ["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "O", "I-ORG"],
        ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "O", "B-ORG"],  # IOB2
        ["B-PER", "E-PER", "O", "S-LOC", "S-LOC", "O", "S-ORG"],  # BIOES
    ],
    ids=["iob1", "iob2", "bioes"],
)
def test_conll_tag_schemes_give_the_same_character_spans(tmp_path, tags):
    tokens = ["John", "Smith", "in", "Paris", "Lyon", "at", "Sony"]
    path = write(tmp_path, "a.conll", "".join(f"{t} {g}\n" for t, g in zip(tokens, tags)))
    sentence = read_conll(path).sentences[0]
    assert [e.as_tuple() for e in sentence.entities] == [
        (0, 10, "PER"),
        (14, 19, "LOC"),
        (20, 24, "LOC"),
        (28, 32, "ORG"),
    ]


def test_conll_invalid_sequences_are_repaired_like_conlleval(tmp_path):
    # O I-PER starts an entity; a type change inside an entity splits it (conlleval rules).
    path = write(tmp_path, "a.conll", "a O\nb I-PER\nc I-PER\nd I-LOC\ne O\nf E-ORG\n")
    sentence = read_conll(path).sentences[0]
    assert entity_texts(sentence) == [("b c", "PER"), ("d", "LOC"), ("f", "ORG")]


def test_conll_english_text_is_space_joined_with_exact_offsets(tmp_path):
    path = write(tmp_path, "a.conll", "New B-LOC\nYork I-LOC\nis O\nbig O\n")
    sentence = read_conll(path, lang="en").sentences[0]
    assert sentence.text == "New York is big"
    assert sentence.offsets == [(0, 3), (4, 8), (9, 11), (12, 15)]
    assert all(sentence.text[s:e] == t for t, (s, e) in zip(sentence.words, sentence.offsets))
    assert [e.as_tuple() for e in sentence.entities] == [(0, 8, "LOC")]


def test_conll_japanese_text_has_no_separator(tmp_path):
    path = write(tmp_path, "a.conll", "東京 B-LOC\n都 I-LOC\nに O\n行く O\n")
    sentence = read_conll(path, lang="ja").sentences[0]
    assert sentence.text == "東京都に行く"
    assert sentence.offsets == [(0, 2), (2, 3), (3, 4), (4, 6)]
    assert [e.as_tuple() for e in sentence.entities] == [(0, 3, "LOC")]


def test_conll_single_column_file_gives_tokens_without_entities(tmp_path):
    path = write(tmp_path, "tokens.txt", "John\nlives\nhere\n\nB-PER\n")
    corpus = read_conll(path)
    # "B-PER" is a token here, not a tag: a one-column file holds tokens only.
    assert [s.words for s in corpus.sentences] == [["John", "lives", "here"], ["B-PER"]]
    assert all(s.entities == [] for s in corpus.sentences)


def test_conll_columns_without_token_is_a_user_error(tmp_path):
    path = write(tmp_path, "a.conll", "a O\n")
    with pytest.raises(EiwaError, match="token"):
        read_conll(path, columns=["word", "tag"])


# ----------------------------------------------------------------------------- malformed input: path and line


def assert_data_error(excinfo, path, line):
    error = excinfo.value
    assert str(path) in str(error)
    if line is None:
        assert error.line is None
    else:
        assert error.line == line
        assert f"{path}:{line}:" in str(error)


def test_conll_wrong_column_count_names_the_bad_row(tmp_path):
    path = write(tmp_path, "a.conll", "a NN O\nb NN O\n\nc NN O\nd O\ne NN O\n")
    with pytest.raises(DataError) as excinfo:
        read_conll(path)
    assert_data_error(excinfo, path, 5)
    assert "columns" in str(excinfo.value)


def test_conll_wrong_column_count_against_named_columns(tmp_path):
    path = write(tmp_path, "a.conll", "a NN O\nb O\n")
    with pytest.raises(DataError) as excinfo:
        read_conll(path, columns=["token", "pos", "tag"])
    assert_data_error(excinfo, path, 2)


def test_conll_unknown_tag_names_its_line(tmp_path):
    path = write(tmp_path, "a.conll", "a O\n\nb O\nc B_PER\n")
    with pytest.raises(DataError) as excinfo:
        read_conll(path)
    assert_data_error(excinfo, path, 4)
    assert "B_PER" in str(excinfo.value)


def test_invalid_utf8_names_the_line_of_the_bad_byte(tmp_path):
    path = tmp_path / "a.conll"
    path.write_bytes(b"a O\nb O\n\nc O\nd\xff O\n")
    with pytest.raises(DataError) as excinfo:
        read_conll(path)
    assert_data_error(excinfo, path, 5)
    assert "UTF-8" in str(excinfo.value)


def test_invalid_utf8_after_a_byte_order_mark_names_the_right_line(tmp_path):
    path = tmp_path / "a.conll"
    path.write_bytes(b"\xef\xbb\xbfa O\n\xffb O\n")  # the bad byte is on line 2
    with pytest.raises(DataError) as excinfo:
        read_conll(path)
    assert_data_error(excinfo, path, 2)


def test_utf8_byte_order_mark_is_not_part_of_the_first_token(tmp_path):
    path = tmp_path / "a.conll"
    path.write_bytes("\ufeffJohn B-PER\n".encode("utf-8"))
    assert read_conll(path).sentences[0].words == ["John"]


@pytest.mark.parametrize("content", ["", "\n\n  \n"], ids=["empty", "blank"])
def test_empty_file_is_a_data_error(tmp_path, content):
    path = write(tmp_path, "a.conll", content)
    with pytest.raises(DataError) as excinfo:
        read_conll(path)
    assert str(path) in str(excinfo.value)
    assert "empty" in str(excinfo.value)


def test_file_of_only_docstart_has_no_sentences(tmp_path):
    path = write(tmp_path, "a.conll", "-DOCSTART- -X- -X- O\n\n")
    with pytest.raises(DataError, match="no sentences"):
        read_conll(path)


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_conll(tmp_path / "nope.conll")


def test_spans_out_of_range_names_the_record_line(tmp_path):
    records = [{"text": "abc", "entities": []}, {"text": "Paris", "entities": [{"start": 2, "end": 9, "type": "LOC"}]}]
    path = write(tmp_path, "a.jsonl", "\n".join(json.dumps(r) for r in records) + "\n")
    with pytest.raises(DataError) as excinfo:
        read_span_records(path)
    assert_data_error(excinfo, path, 2)
    assert "out of range" in str(excinfo.value)


def test_json_array_bad_record_names_the_line_where_it_starts(tmp_path):
    # Pretty-printed like Stockmark's ner.json: the reader must count the lines of each element.
    good = {"text": "東京", "entities": [{"span": [0, 2], "type": "地名"}]}
    bad = {"text": "大阪", "entities": [{"span": [0, 5], "type": "地名"}]}
    text = json.dumps([good, good, bad], ensure_ascii=False, indent=4)
    path = write(tmp_path, "ner.json", text)
    starts = [i + 1 for i, line in enumerate(text.splitlines()) if line == "    {"]  # each element's first line
    assert len(starts) == 3
    with pytest.raises(DataError) as excinfo:
        read_span_records(path)
    assert_data_error(excinfo, path, starts[2])


def test_json_array_syntax_error_names_its_line(tmp_path):
    path = write(tmp_path, "a.json", '[\n {"text": "a"},\n {"text": "b"},\n {"text" "c"}\n]\n')
    with pytest.raises(DataError) as excinfo:
        read_span_records(path)
    assert_data_error(excinfo, path, 4)
    assert "invalid JSON" in str(excinfo.value)


def test_unterminated_json_array_is_a_data_error(tmp_path):
    path = write(tmp_path, "a.json", '[\n {"text": "a"},\n')
    with pytest.raises(DataError, match="unterminated"):
        read_span_records(path)


def test_invalid_jsonl_line_is_named(tmp_path):
    path = write(tmp_path, "a.jsonl", '{"text": "a"}\n\n{"text": "b"}\n{"text": b}\n')
    with pytest.raises(DataError) as excinfo:
        read_span_records(path)
    assert_data_error(excinfo, path, 4)


def test_record_without_text_is_named(tmp_path):
    path = write(tmp_path, "a.jsonl", '{"text": "a"}\n{"sentence": "b"}\n')
    with pytest.raises(DataError) as excinfo:
        read_span_records(path)
    assert_data_error(excinfo, path, 2)
    assert '"text"' in str(excinfo.value)


@pytest.mark.parametrize(
    "entity",
    [
        {"start": "0", "end": 1, "type": "X"},
        {"start": 0, "end": 1},
        {"span": [0], "type": "X"},
        {"start": True, "end": 1, "type": "X"},
        {"start": 1, "end": 1, "type": "X"},
        "PER",
    ],
    ids=["string-offset", "no-type", "short-span", "bool-offset", "empty-span", "not-object"],
)
def test_malformed_entities_are_data_errors(tmp_path, entity):
    path = write(
        tmp_path,
        "a.jsonl",
        json.dumps({"text": "abc"}) + "\n" + json.dumps({"text": "abc", "entities": [entity]}) + "\n",
    )
    with pytest.raises(DataError) as excinfo:
        read_span_records(path)
    assert_data_error(excinfo, path, 2)


# ----------------------------------------------------------------------------- character spans, Japanese


def check_offsets(sentence):
    assert len(sentence.words) == len(sentence.offsets)
    for token, (start, end) in zip(sentence.words, sentence.offsets):
        assert sentence.text[start:end] == token


def test_spans_json_list_stockmark_form(tmp_path):
    records = [
        {
            "curid": "1",
            "text": "田中さんは東京に住んでいる。",
            "entities": [
                {"name": "田中", "span": [0, 2], "type": "人名"},
                {"name": "東京", "span": [5, 7], "type": "地名"},
            ],
        },
        {"curid": "2", "text": "何もない。", "entities": []},
    ]
    path = write(tmp_path, "ner.json", json.dumps(records, ensure_ascii=False, indent=4))
    corpus = read_spans(path, "ja")
    first = corpus.sentences[0]
    assert first.text == records[0]["text"]
    assert "".join(first.words) == first.text.replace(" ", "")
    check_offsets(first)
    assert [e.as_tuple() for e in first.entities] == [(0, 2, "人名"), (5, 7, "地名")]
    assert first.misaligned_entities() == 0
    assert first.readings is not None and len(first.readings) == len(first.words)
    assert any(r for r in first.readings)  # MeCab gives katakana readings
    assert corpus.sentences[1].entities == []


def test_spans_jsonl_start_end_form(tmp_path):
    lines = [
        {"text": "大阪で会議があった。", "entities": [{"start": 0, "end": 2, "type": "LOC"}]},
        {
            "text": "ソニーは日本の会社だ。",
            "entities": [{"start": 0, "end": 3, "type": "ORG"}, {"start": 4, "end": 6, "type": "LOC"}],
        },
    ]
    path = write(tmp_path, "a.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in lines) + "\n")
    corpus = read_spans(path, "ja")
    assert len(corpus.sentences) == 2
    for sentence, record in zip(corpus.sentences, lines):
        check_offsets(sentence)
        assert [e.as_tuple() for e in sentence.entities] == [
            (e["start"], e["end"], e["type"]) for e in record["entities"]
        ]
        assert sentence.token_spans()  # entities are aligned to tokens
    assert [sentence.text[e.start : e.end] for e in corpus.sentences[1].entities] == ["ソニー", "日本"]


def test_spans_english_raw_text_is_tokenized(tmp_path):
    path = write(
        tmp_path,
        "a.jsonl",
        json.dumps({"text": "John lives in New York.", "entities": [{"start": 14, "end": 22, "type": "LOC"}]}) + "\n",
    )
    sentence = read_spans(path, "en").sentences[0]
    assert sentence.words == ["John", "lives", "in", "New", "York", "."]
    check_offsets(sentence)
    assert sentence.token_spans() == [(3, 5, "LOC")]


def test_split_tokens_splits_a_token_at_an_entity_boundary(tmp_path):
    # "東京" is one MeCab token; an entity "東" ends inside it.
    record = {"text": "東京に行った。", "entities": [{"start": 0, "end": 1, "type": "LOC"}]}
    path = write(tmp_path, "a.jsonl", json.dumps(record, ensure_ascii=False) + "\n")

    plain = read_spans(path, "ja", split_tokens=False)
    assert plain.token_splits == 0
    assert plain.sentences[0].words[0] == "東京"
    assert plain.sentences[0].misaligned_entities() == 1  # counted as lost

    split = read_spans(path, "ja", split_tokens=True)
    sentence = split.sentences[0]
    assert split.token_splits == 1
    assert sentence.words[:2] == ["東", "京"]
    check_offsets(sentence)
    assert sentence.misaligned_entities() == 0
    assert sentence.token_spans() == [(0, 1, "LOC")]
    assert len(sentence.readings) == len(sentence.words)


def test_read_dispatch_and_errors(tmp_path):
    path = write(tmp_path, "a.conll", "John B-PER\n")
    assert read(path, "conll", "en").sentences[0].words == ["John"]
    with pytest.raises(EiwaError, match="needs a data path"):
        read(None, "conll", "en")
    with pytest.raises(EiwaError, match="its language is ja, not en"):
        read(None, "hironsan", "en")
    with pytest.raises(EiwaError, match="unknown format"):
        read(path, "xml", "en")


# ----------------------------------------------------------------------------- Hironsan corpus


def test_hironsan_corpus():
    corpus = read_hironsan()
    assert len(corpus.sentences) == 500
    types = set(corpus.entity_types())
    assert {"PSN", "LOC", "ORG"} <= types
    readings = [r for s in corpus.sentences for r in (s.readings or [])]
    assert sum(r is not None for r in readings) > 1000  # the reading column is kept
    for sentence in corpus.sentences[:50]:
        check_offsets(sentence)
        assert sentence.misaligned_entities() == 0
        assert sentence.readings is not None and len(sentence.readings) == len(sentence.words)
    assert " " not in corpus.sentences[0].text  # Japanese: tokens are joined without spaces


# ----------------------------------------------------------------------------- real data (skipped when absent)


def test_real_conll2003_train(shared_data):
    corpus = read_conll(
        shared_file(shared_data, "conll2003", "train.txt"), "en", columns=["token", "pos", "chunk", "tag"]
    )
    assert len(corpus.sentences) == 14041
    assert corpus.entity_types() == ["LOC", "MISC", "ORG", "PER"]
    first = corpus.sentences[0]
    assert first.text == "EU rejects German call to boycott British lamb ."
    assert entity_texts(first) == [("EU", "ORG"), ("German", "MISC"), ("British", "MISC")]


def test_real_wikiann_en_train(shared_data):
    corpus = read_conll(shared_file(shared_data, "wikiann-en", "train"), "en", token_prefix="en:")
    assert len(corpus.sentences) == 20000
    assert corpus.entity_types() == ["LOC", "ORG", "PER"]
    assert not any(t.startswith("en:") for s in corpus.sentences[:200] for t in s.words)


def test_real_stockmark_records(shared_data):
    records = read_span_records(shared_file(shared_data, "stockmark-wikipedia-ner", "ner.json"))
    assert len(records) == 5343
    text, entities, origin = records[0]
    assert text == "SPRiNGSと最も仲の良いライバルグループ。"
    assert entities == [Span(0, 7, "その他の組織名")]
    assert origin.endswith(":2")  # the first record starts on line 2 of the pretty-printed array


# ----------------------------------------------------------------------------- pretrained vectors (word2vec text)


def test_read_vectors_header_normalization_duplicates_and_limit(tmp_path):
    from eiwa.resources.word2vec import read_vectors

    path = write(tmp_path, "v.vec", "4 3\nThe 0.1 0.2 0.3\nthe 9 9 9\nParis1 1 2 3\nBerlin 4 5 6\n")
    words, vectors = read_vectors(path, lowercase=True, limit=10)
    assert words == ["the", "paris0", "berlin"]  # lowercased, digits -> 0, the second "the" skipped
    assert vectors.shape == (3, 3) and vectors[0].tolist() == pytest.approx([0.1, 0.2, 0.3])
    words, _ = read_vectors(path, lowercase=True, limit=2)
    assert words == ["the", "paris0"]


@pytest.mark.parametrize(
    "content, line, match",
    [
        ("the 0.1 0.2 0.3\nparis 0.1 0.2\n", 2, "expected 3 numbers"),
        ("the 0.1 0.2 0.3\nbig 1 2 3\nparis 0.1 0.2 x\n", 3, "numbers"),
    ],
)
def test_read_vectors_errors_name_the_line(tmp_path, content, line, match):
    from eiwa.resources.word2vec import read_vectors

    path = write(tmp_path, "v.vec", content)
    with pytest.raises(DataError, match=match) as excinfo:
        read_vectors(path, lowercase=True, limit=10)
    assert_data_error(excinfo, path, line)


def test_read_vectors_invalid_utf8_is_a_data_error_naming_the_line(tmp_path):
    from eiwa.resources.word2vec import read_vectors

    path = tmp_path / "v.vec"
    path.write_bytes(b"2 3\nthe 0.1 0.2 0.3\npar\xffis 0.1 0.2 0.3\n")
    with pytest.raises(DataError) as excinfo:
        read_vectors(path, lowercase=True, limit=10)
    assert_data_error(excinfo, path, 3)


# ----------------------------------------------------------------------------- annotation tool exports


def test_doccano_export(tmp_path):
    from eiwa.readers import read

    path = tmp_path / "doccano.jsonl"
    path.write_text(
        json.dumps({"id": 1, "text": "John lives in Paris", "label": [[0, 4, "PER"], [14, 19, "LOC"]], "Comments": []})
        + "\n"
        + json.dumps({"id": 2, "text": "Nothing here", "label": [], "extra": 1})
        + "\n"
        + json.dumps(
            {
                "id": 3,
                "text": "Acme Corp",
                "entities": [{"start_offset": 0, "end_offset": 9, "label": "ORG"}],
                "extra": 2,
            }
        )
        + "\n",
        encoding="utf-8",
    )
    warnings = []
    corpus = read(path, "doccano", "en", warn=warnings.append)
    assert [[(e.start, e.end, e.type) for e in s.entities] for s in corpus.sentences] == [
        [(0, 4, "PER"), (14, 19, "LOC")],
        [],
        [(0, 9, "ORG")],
    ]
    assert warnings == [f"{path}: ignored keys: 'extra' (first on line 2)"]  # once, not per record
    path.write_text(json.dumps({"text": "John", "label": [[0, 9, "PER"]]}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"doccano.jsonl:1: span \[0, 9\) out of range"):
        read(path, "doccano", "en")


def test_label_studio_export(tmp_path):
    from eiwa.readers import read

    tasks = [
        {
            "id": 7,
            "data": {"text": "田中さんは東京に住む。"},
            "annotations": [
                {"was_cancelled": True, "result": []},
                {
                    "result": [
                        {
                            "type": "labels",
                            "from_name": "label",
                            "to_name": "text",
                            "value": {"start": 0, "end": 2, "text": "田中", "labels": ["人名"]},
                        },
                        {"type": "labels", "value": {"start": 5, "end": 7, "text": "東京", "labels": ["地名"]}},
                        {"type": "choices", "value": {"choices": ["ok"]}},
                    ]
                },
            ],
            "predictions": [{"result": [{"value": {"start": 0, "end": 4, "labels": ["X"]}}]}],
        },
        {"id": 8, "data": {"text": "何もない。"}, "annotations": []},
    ]
    path = tmp_path / "ls.json"
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    corpus = read(path, "label-studio", "ja", warn=pytest.fail, allow_empty=True)
    assert [[(e.start, e.end, e.type) for e in s.entities] for s in corpus.sentences] == [
        [(0, 2, "人名"), (5, 7, "地名")],
        [],
    ]
    tasks[0]["annotations"][1]["result"][0]["value"]["text"] = "田中さ"
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(DataError, match="the export says '田中さ'"):
        read(path, "label-studio", "ja")


def test_evaluating_on_data_without_gold_entities_is_an_error(runner, tiny_model_dir, tmp_path):
    from helpers import assert_user_error

    from eiwa.cli import cli

    path = tmp_path / "plain.jsonl"
    path.write_text(json.dumps({"text": "John lives in Paris", "label": []}) + "\n", encoding="utf-8")
    assert_user_error(
        runner.invoke(cli, ["evaluate", str(tiny_model_dir), "--format", "doccano", "--data", str(path)]),
        "no gold entities",
    )


# ----------------------------------------------------------------------------- the registry and raw text


def test_the_registry_names_every_format_and_which_are_raw_text():
    from eiwa.readers import READERS, raw_text

    assert tuple(READERS) == ("conll", "spans", "doccano", "label-studio", "hironsan", "parts")
    assert [name for name in READERS if raw_text(name)] == ["spans", "doccano", "label-studio"]
    assert all(reader.help and reader.name == name for name, reader in READERS.items())
    with pytest.raises(EiwaError, match="expected one of conll, spans, doccano, label-studio, hironsan, parts"):
        raw_text("xml")


def raw_text_examples(count: int, seed: int) -> list[tuple[str, list[tuple[int, int, str]]]]:
    """Synthetic sentences as raw text, each place written with a suffix ("Paris-area"): its gold
    span ends inside a token, which only the training view splits."""
    from helpers import synthetic_tagged

    examples = []
    for tokens, tags in synthetic_tagged(count, seed):
        words, entities, position = [], [], 0
        for index, (token, tag) in enumerate(zip(tokens, tags)):
            if tag.startswith("B-"):
                entities.append([position, None, tag[2:]])
            if tag != "O":
                entities[-1][1] = position + len(token)
            if tag.endswith("-LOC") and (index + 1 == len(tags) or not tags[index + 1].startswith("I-")):
                token += "-area"
            words.append(token)
            position += len(token) + 1
        examples.append((" ".join(words), [tuple(e) for e in entities]))
    return examples


def write_raw_text(path, fmt: str, examples) -> str:
    """The examples as a spans, Doccano or Label Studio file."""
    if fmt == "spans":
        records = [
            {"text": t, "entities": [{"start": s, "end": e, "type": k} for s, e, k in spans]} for t, spans in examples
        ]
    elif fmt == "doccano":
        records = [{"text": t, "label": [list(span) for span in spans]} for t, spans in examples]
    else:
        records = [
            {
                "data": {"text": t},
                "annotations": [
                    {
                        "result": [
                            {"type": "labels", "value": {"start": s, "end": e, "text": t[s:e], "labels": [k]}}
                            for s, e, k in spans
                        ]
                    }
                ],
            }
            for t, spans in examples
        ]
    if fmt == "label-studio":
        path.write_text(json.dumps(records), encoding="utf-8")
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return str(path)


def test_every_raw_text_format_cross_validates_on_plainly_tokenized_test_folds(runner, tmp_path):
    """Doccano and Label Studio data are scored as spans data is: on test folds tokenized plainly,
    where a place written "Paris-area" cannot be found, not on tokens split at the gold boundaries."""
    from helpers import TINY_SET

    from eiwa.cli import cli

    examples = raw_text_examples(60, seed=3)
    results = {}
    for fmt in ("spans", "doccano", "label-studio"):
        data = write_raw_text(tmp_path / f"data.{fmt}", fmt, examples)
        result = runner.invoke(
            cli,
            [
                "cv",
                "--format",
                fmt,
                "--data",
                data,
                "--folds",
                "2",
                "--seeds",
                "1",
                "--json",
                *TINY_SET,
                "--set",
                "max_epochs=8",
            ],
        )
        assert result.exit_code == 0, result.output
        results[fmt] = json.loads(result.stdout)
    assert results["doccano"] == results["spans"]
    assert results["label-studio"] == results["spans"]


def test_an_experiment_on_raw_text_scores_a_plainly_tokenized_view(tmp_path):
    from eiwa.study.runner import Study
    from eiwa.study.spec import experiment_spec

    examples = raw_text_examples(6, seed=3)
    views = {}
    for fmt in ("spans", "doccano", "label-studio"):
        data = write_raw_text(tmp_path / f"data.{fmt}", fmt, examples)
        study = Study(
            experiment_spec(
                {"name": "raw", "data": {"format": fmt, "path": data, "lang": "en"}, "grid": [{"name": "curve"}]}
            )
        )
        views[fmt] = [s.words for s in study.test_view]
        assert [s.words for s in study.train_view] != views[fmt]  # places split off their suffix for training
    assert views["doccano"] == views["label-studio"] == views["spans"]


# ----------------------------------------------------------------------------- English tokenization


def test_english_tokenizer_follows_conll_2003(shared_data):
    """CoNLL-2003 sentences joined back into text (no space before , . 's n't and the like) are
    tokenized into exactly CoNLL's tokens, for at least 97% of the test and valid sentences, with
    offsets that slice the text."""
    from helpers import shared_file

    from eiwa.tokenize.english import EnglishTokenizer

    glued_left = {
        ",",
        ".",
        ";",
        ":",
        ")",
        "'s",
        "'S",
        "n't",
        "N'T",
        "%",
        "'",
        "?",
        "!",
        "'re",
        "'ve",
        "'ll",
        "'d",
        "'m",
        "]",
        "}",
    }
    glued_right = {"(", "$", "[", "{"}
    tokenizer = EnglishTokenizer()
    for name in ("test.txt", "valid.txt"):
        sentences = read_conll(shared_file(shared_data, "conll2003", name), "en").sentences
        same = 0
        for sentence in sentences:
            words = [t.text for t in sentence.tokens]
            text = "".join(
                ("" if i == 0 or w in glued_left or words[i - 1] in glued_right else " ") + w
                for i, w in enumerate(words)
            )
            tokens = tokenizer.tokenize(text)
            assert all(text[t.start : t.end] == t.text for t in tokens)
            same += [t.text for t in tokens] == words
        assert same / len(sentences) >= 0.97, (name, same, len(sentences))


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("Smith's U.S. unit didn't win.", ["Smith", "'s", "U.S.", "unit", "did", "n't", "win", "."]),
        (
            "Acme Inc. beat pro-democracy rivals 2-0 on 1996-12-06.",
            ["Acme", "Inc.", "beat", "pro-democracy", "rivals", "2-0", "on", "1996-12-06", "."],
        ),
        (
            "O'Neill -- J. Smith's aide -- earned 15,000 dollars...",
            ["O'Neill", "--", "J.", "Smith", "'s", "aide", "--", "earned", "15,000", "dollars", "..."],
        ),
    ],
)
def test_english_tokenizer_cases(text, tokens):
    from eiwa.tokenize.english import EnglishTokenizer

    assert [t.text for t in EnglishTokenizer().tokenize(text)] == tokens
