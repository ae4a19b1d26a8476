"""`eiwa predict` on documents (serving/predict.py): texts split into sentences by default, offsets into
the whole text, CoNLL output a document per text and a block per sentence, and --no-split-sentences."""

from __future__ import annotations

import gc
import importlib
import inspect
import io
import json
import os
import pkgutil
import tracemalloc

import numpy as np
from helpers import FIXTURES

import eiwa.features
import eiwa.gazetteer
import eiwa.tokenize
from eiwa.cli import cli
from eiwa.readers.conll import read_conll
from eiwa.serving import predict as serving_predict
from eiwa.serving.predict import predict_items
from eiwa.serving.writers import ConllWriter, TokenOffsets
from eiwa.tagger import Tagger
from eiwa.tokenize import tokenizer_for
from eiwa.tokenize.romaji import Romanizer

DOCUMENT = "John Smith lives in Paris. Mary works for Acme Corp in Tokyo.\n\nReuters said that Tom had left."


def test_a_document_becomes_one_record_with_its_sentences(runner, tiny_model_dir):
    result = runner.invoke(cli, ["predict", str(tiny_model_dir), DOCUMENT])
    assert result.exit_code == 0, result.output
    [record] = [json.loads(line) for line in result.stdout.splitlines()]
    assert record == Tagger.load(tiny_model_dir).predict(DOCUMENT)[0]
    assert [DOCUMENT[s["start"] : s["end"]] for s in record["sentences"]] == [
        "John Smith lives in Paris.",
        "Mary works for Acme Corp in Tokyo.",
        "Reuters said that Tom had left.",
    ]
    unsplit = runner.invoke(cli, ["predict", str(tiny_model_dir), DOCUMENT, "--no-split-sentences"])
    assert json.loads(unsplit.stdout) == Tagger.load(tiny_model_dir).predict(DOCUMENT, split_sentences=False)[0]
    assert json.loads(unsplit.stdout)["sentences"] == [{"start": 0, "end": len(DOCUMENT)}]


def test_conll_output_has_a_block_per_sentence_and_reads_back(tiny_model_dir, tmp_path):
    tagger = Tagger.load(tiny_model_dir)
    stream = io.StringIO()
    assert predict_items(tagger, [(DOCUMENT, {}), ("Mary lives in Osaka.", {})], stream, "conll") == 2
    blocks = stream.getvalue().strip("\n").split("\n\n")
    firsts = [block.splitlines()[0].split("\t")[0] for block in blocks]
    assert firsts == ["-DOCSTART-", "John", "Mary", "Reuters", "-DOCSTART-", "Mary"]
    path = tmp_path / "out.conll"
    path.write_text(stream.getvalue(), encoding="utf-8")
    sentences = read_conll(path).sentences
    [record] = tagger.predict(DOCUMENT)
    found = [(e["text"], e["type"]) for e in record["entities"]]
    read_back = [(" ".join(s.words[i] for i in range(a, b)), t) for s in sentences[:3] for a, b, t in s.token_spans()]
    assert found and read_back == found


def test_min_confidence_keeps_the_sentences(tiny_model_dir):
    tagger = Tagger.load(tiny_model_dir)
    stream = io.StringIO()
    predict_items(tagger, [(DOCUMENT, {"id": 7})], stream, min_confidence=0.9)
    record, [full] = json.loads(stream.getvalue()), tagger.predict(DOCUMENT)
    assert record == {"id": 7, **full, "entities": [e for e in full["entities"] if e["confidence"] >= 0.9]}
    assert len(record["sentences"]) == 3


def test_conll_tags_cover_every_token_an_entity_overlaps():
    stream = io.StringIO()
    text = "Acme Corporation in New York"
    record = {
        "text": text,
        "entities": [{"start": 0, "end": 7, "type": "ORG"}, {"start": 20, "end": 28, "type": "LOC"}],
        "sentences": [{"start": 0, "end": 16}, {"start": 17, "end": 28}],
    }
    offsets = [(0, 4), (5, 16), (17, 19), (20, 23), (24, 28)]
    starts, ends = np.array(offsets, np.int64).T
    ConllWriter(stream, []).write(record, TokenOffsets(starts, ends))
    # "Corporation" is only partly inside the ORG entity and takes its tag; a blank line before "in".
    body = "Acme\tB-ORG\nCorporation\tI-ORG\n\nin\tO\nNew\tB-LOC\nYork\tI-LOC\n\n"
    assert stream.getvalue() == "-DOCSTART-\tO\n\n" + body


def test_predict_keeps_nothing_per_text(monkeypatch):
    """Records stream out and nothing of them stays: after a warm-up, tagging ten times the same texts
    (so that the caches learn nothing new) leaves the traced memory almost where it was. Keeping each
    record would leave ~700 bytes a text."""
    tagger = Tagger.load(FIXTURES / "tiny-ja-v1")
    monkeypatch.setattr(serving_predict, "CHUNK", 50)
    texts = [
        f"{n}さんは{p}の会社に勤めている。{p}に行った。"
        for n in ("田中", "鈴木", "佐藤", "高橋")
        for p in "東京 大阪 京都 札幌 福岡 神戸 横浜 仙台 広島 那覇".split()
    ]
    with open(os.devnull, "w") as sink:
        for output_format in ("jsonl", "conll", "html"):
            predict_items(tagger, ((text, {}) for text in texts), sink, output_format)
        gc.collect()
        tracemalloc.start()
        try:
            items = ((text, {"id": i}) for i, text in enumerate(texts * 10))
            assert predict_items(tagger, items, sink, "conll") == 10 * len(texts)
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
    assert grown < 200 * 10 * len(texts)


def test_caches_on_the_tagging_path_are_bounded():
    """Every cache that tagging fills by argument keeps at most a fixed number of entries, so that
    memory stays flat over any number of distinct texts."""
    packages = [eiwa.tokenize, eiwa.gazetteer, eiwa.features]
    modules = [
        importlib.import_module(m.name) for p in packages for m in pkgutil.iter_modules(p.__path__, f"{p.__name__}.")
    ]
    modules += [importlib.import_module(f"eiwa.{name}") for name in ("tags", "inference", "resources.upos")]
    modules += [
        serving_predict,
        importlib.import_module("eiwa.serving.writers"),
        importlib.import_module("eiwa.serving.colours"),
    ]
    caches = {
        f"{module.__name__}.{name}": value
        for module in modules
        for name, value in vars(module).items()
        if hasattr(value, "cache_info")
        and hasattr(value, "__wrapped__")
        and inspect.signature(value.__wrapped__).parameters
    }
    caches["Romanizer"] = Romanizer()._cached
    caches["JapaneseTokenizer.reading"] = tokenizer_for("ja").tokenizer._reading_cached
    assert len(caches) >= 8
    unbounded = [name for name, cache in caches.items() if not cache.cache_info().maxsize]
    assert not unbounded


def test_a_file_named_jsonl_or_conll_is_read_in_that_format_unless_told(tmp_path):
    from eiwa.serving.predict import read_items

    records = tmp_path / "docs.jsonl"
    records.write_text('{"text": "John lives in Paris .", "id": 7}\n', encoding="utf-8")
    assert list(read_items(str(records), None, "en")) == [("John lives in Paris .", {"id": 7})]
    assert [text for text, _ in read_items(str(records), "txt", "en")] == ['{"text": "John lives in Paris .", "id": 7}']
    tokens = tmp_path / "docs.conll"
    tokens.write_text("John\nlives\n", encoding="utf-8")
    [(sentence, _)] = read_items(str(tokens), None, "en")
    assert [token.text for token in sentence.tokens] == ["John", "lives"]
