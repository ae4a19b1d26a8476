"""`eiwa predict` on documents (serving/predict.py): texts split into sentences by default, offsets into
the whole text, CoNLL output a block per sentence, and --no-split-sentences."""

from __future__ import annotations

import io
import json

from eiwa.cli import cli
from eiwa.readers.conll import read_conll
from eiwa.serving.predict import predict_items
from eiwa.tagger import Tagger

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
    assert [block.splitlines()[0].split("\t")[0] for block in blocks] == ["John", "Mary", "Reuters", "Mary"]
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
