"""Pre-annotations for Doccano and Label Studio (serving/writers.py): what eiwa writes, eiwa's
readers read back as the same texts and entities (any record: tests/serving/test_round_trip.py)."""

from __future__ import annotations

import io
import json

from eiwa.cli import cli
from eiwa.readers.spans import read_doccano_records, read_label_studio_records
from eiwa.serving.predict import predict_items
from eiwa.serving.writers import LabelStudioWriter
from eiwa.tagger import Tagger

TEXTS = ["John Smith lives in Paris.", "Mary works for Acme Corp in Tokyo. Tom lives in Osaka.", "", "Nothing."]


def entities_of(records) -> list[tuple[str, list[tuple[int, int, str]]]]:
    return [(text, [(s.start, s.end, s.type) for s in spans]) for text, spans, _ in records]


def predicted(tagger) -> list[tuple[str, list[tuple[int, int, str]]]]:
    return [(r["text"], [(e["start"], e["end"], e["type"]) for e in r["entities"]]) for r in tagger.predict(TEXTS)]


def accepted(task: dict) -> dict:
    """A task as Label Studio exports it once an annotator accepts the model's predictions."""
    return {"id": 1, "data": task["data"], "annotations": [{"result": task["predictions"][0]["result"]}]}


def test_doccano_pre_annotations_read_back(tiny_model_dir, tmp_path):
    tagger = Tagger.load(tiny_model_dir)
    path = tmp_path / "tasks.jsonl"
    with open(path, "w", encoding="utf-8") as stream:
        assert predict_items(tagger, [(text, {}) for text in TEXTS], stream, "doccano") == len(TEXTS)
    found = predicted(tagger)
    assert any(entities for _, entities in found)
    assert entities_of(read_doccano_records(path, warn=print)) == found
    assert json.loads(path.read_text(encoding="utf-8").splitlines()[0]).keys() == {"text", "label"}


def test_label_studio_predictions_accepted_read_back(tiny_model_dir, tmp_path):
    tagger = Tagger.load(tiny_model_dir)
    stream = io.StringIO()
    predict_items(tagger, [(text, {"meta": {"n": i}}) for i, text in enumerate(TEXTS)], stream, "label-studio")
    tasks = json.loads(stream.getvalue())
    [prediction] = tasks[1]["predictions"]
    assert prediction["model_version"] == tagger.origin and "score" not in prediction  # no uncertainty measured
    region = prediction["result"][0]
    assert region["from_name"] == "label" and region["to_name"] == "text" and region["type"] == "labels"
    assert 0 <= region["score"] <= 1 and tasks[1]["meta"] == {"n": 1}
    path = tmp_path / "export.json"
    path.write_text(json.dumps([accepted(task) for task in tasks]), encoding="utf-8")
    assert entities_of(read_label_studio_records(path, warn=print)) == predicted(tagger)


def test_empty_label_studio_output_is_an_empty_list():
    stream = io.StringIO()
    writer = LabelStudioWriter(stream, ["PER"])
    writer.close()
    assert json.loads(stream.getvalue()) == []


def test_predict_command_writes_either_format(runner, tiny_model_dir, tmp_path):
    for name in ("doccano", "label-studio"):
        out = tmp_path / f"out.{name}"
        result = runner.invoke(
            cli, ["predict", str(tiny_model_dir), *TEXTS[:2], "--output-format", name, "--output", str(out)]
        )
        assert result.exit_code == 0, result.output
    assert len((tmp_path / "out.doccano").read_text(encoding="utf-8").splitlines()) == 2
    assert len(json.loads((tmp_path / "out.label-studio").read_text(encoding="utf-8"))) == 2
