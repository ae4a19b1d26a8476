"""meta.json and vocab.json read as data: every field eiwa reads is checked, and a misshapen one is one
ModelError naming the file and the field, on load, `eiwa info` and predict alike."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from helpers import assert_user_error

from eiwa.cli import cli
from eiwa.errors import ModelError
from eiwa.tagger import Tagger

V1 = Path(__file__).parent.parent / "data" / "tiny-ja-v1"  # format 1: no checksums, so vocab.json is unguarded
CARD = {
    "name": "tiny",
    "summary": "A tiny model.",
    "licence": "CC0",
    "labels": {"PSN": "a person"},
    "data": {"name": "synthetic", "licence": "CC0", "attribution": "none"},
    "commands": ["eiwa train ..."],
    "seed": 1,
    "scores": {"test": {"data": "t.jsonl", "sentences": 3, "precision": 0.5, "recall": 0.5, "f1": 0.5}},
}


def edited_model(tmp_path: Path, name: str, edit) -> Path:
    """A copy of the format 1 model whose `name` JSON file has been passed through `edit` (in place)."""
    directory = tmp_path / "model"
    shutil.copytree(V1, directory)
    content = json.loads((directory / name).read_text(encoding="utf-8"))
    edit(content)
    (directory / name).write_text(json.dumps(content), encoding="utf-8")
    return directory


def with_card(meta: dict, **changes) -> None:
    meta["card"] = {**json.loads(json.dumps(CARD)), **changes}


META_CASES = {
    "card is a string": (lambda m: m.update(card="nice"), "card must be an object"),
    "card.summary is a number": (lambda m: with_card(m, summary=3), "card.summary must be a non-empty string"),
    "card.labels is a list": (lambda m: with_card(m, labels=["PSN"]), "card.labels must be an object"),
    "card without data": (lambda m: (with_card(m), m["card"].pop("data")), "card.data is missing"),
    "card.scores.test.f1 is text": (
        lambda m: (with_card(m), m["card"]["scores"]["test"].update(f1="high")),
        "card.scores.test.f1 must be a number",
    ),
    "training is a list": (lambda m: m.update(training=[1, 2]), "training must be an object"),
    "training.best_dev_f1 is text": (
        lambda m: m["training"].update(best_dev_f1="0.9"),
        "training.best_dev_f1 must be a number",
    ),
    "training.warnings is a string": (lambda m: m["training"].update(warnings="x"), "training.warnings must be a list"),
    "labels is a list": (lambda m: m.update(labels=["PSN"]), "labels must be an object"),
    "a label meaning is a number": (lambda m: m.update(labels={"PSN": 1}), "labels.PSN must be a string"),
    "entity_types holds a number": (lambda m: m.update(entity_types=["PSN", 7]), "entity_types[1] must be a string"),
    "transfer.fresh_inputs is a string": (
        lambda m: m.update(transfer={"fresh_inputs": "word"}),
        "transfer.fresh_inputs must be a list",
    ),
    "eiwa_version is a number": (lambda m: m.update(eiwa_version=1), "eiwa_version must be a string"),
}


@pytest.mark.parametrize("case", META_CASES)
def test_a_misshapen_meta_field_is_one_model_error_naming_it(tmp_path, case):
    edit, message = META_CASES[case]
    directory = edited_model(tmp_path, "meta.json", edit)
    with pytest.raises(ModelError, match=re.escape(f"meta.json: damaged: {message}")):
        Tagger.load(directory)


def test_info_and_predict_refuse_a_misshapen_card_in_one_line(tmp_path, runner):
    directory = edited_model(tmp_path, "meta.json", lambda m: m.update(card="nice"))
    for arguments in (["info", str(directory)], ["predict", str(directory), "東京"]):
        assert_user_error(runner.invoke(cli, arguments), "meta.json", "card must be an object")


def test_info_shows_a_well_formed_card(tmp_path, runner):
    directory = edited_model(tmp_path, "meta.json", with_card)
    result = runner.invoke(cli, ["info", str(directory)])
    assert result.exit_code == 0, result.output
    assert "A tiny model." in result.stdout


VOCAB_CASES = {
    "an integer among the words": (lambda v: v["words"]["items"].insert(3, 42), "word words: item 3 is 42"),
    "a word listed twice": (lambda v: v["words"]["items"].insert(3, v["words"]["items"][0]), "listed twice"),
    "a reserved entry among the bigrams": (lambda v: v["bigrams"]["items"].insert(0, "<pad>"), "is reserved"),
    "items not a list": (lambda v: v["words"].update(items="abc"), "word words must be an object with a list"),
    "counts of another length": (lambda v: v["words"].update(counts=[1, 2]), "counts must be a list of"),
    "a negative inherited count": (lambda v: v["words"].update(inherited=-1), "inherited must be an integer"),
    "a tag that is a number": (lambda v: v["tags"].append(5), "tags: item"),
}


@pytest.mark.parametrize("case", VOCAB_CASES)
def test_a_misshapen_vocabulary_is_one_model_error(tmp_path, case):
    edit, message = VOCAB_CASES[case]
    directory = edited_model(tmp_path, "vocab.json", edit)
    with pytest.raises(ModelError, match=rf"vocab\.json is damaged .*{re.escape(message)}"):
        Tagger.load(directory)
