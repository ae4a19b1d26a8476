"""Model cards: `eiwa card` measures the scores and writes meta.json and MODEL_CARD.md; `eiwa info`
shows the card; a wrong card source is a one-line error that leaves the model as it was."""

import json
import shutil

import pytest
from helpers import synthetic_tagged, write_conll

from eiwa.cli import cli
from eiwa.persist.model_dir import builtin_models
from eiwa.readers.conll import read_conll
from eiwa.tagger import Tagger

CARD = """
name = "tiny"
summary = "A tiny English tagger for tests."
seed = 1
commands = ["pytest tests/test_card.py"]
licence = "Test licence."

[labels]
PER = "person"
LOC = "place"
ORG = "organization"

[data]
name = "synthetic sentences"
licence = "public domain"
attribution = "made by conftest.py"
"""


@pytest.fixture
def model(tiny_model_dir, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(tiny_model_dir, copy)
    return copy


def test_card_is_measured_written_and_shown(runner, model, tmp_path):
    (tmp_path / "card.toml").write_text(CARD, encoding="utf-8")
    test = write_conll(tmp_path / "test.txt", synthetic_tagged(20, seed=7))
    result = runner.invoke(cli, ["card", str(model), "--from", str(tmp_path / "card.toml"), "--test", str(test)])
    assert result.exit_code == 0, result.output

    expected = Tagger.load(model).evaluate(read_conll(test, "en").sentences)
    meta = json.loads((model / "meta.json").read_text(encoding="utf-8"))
    card = meta["card"]
    assert card["scores"]["test"]["f1"] == pytest.approx(expected.f1)
    assert card["scores"]["test"]["sentences"] == 20
    assert card["labels"]["PER"] == "person" and card["versions"]["eiwa"]
    assert Tagger.load(model).meta["card"] == card  # the checksums still hold: meta.json is not among them

    text = (model / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert text.startswith("# tiny") and "| PER | person |" in text and "pytest tests/test_card.py" in text
    assert f"{100 * expected.f1:.2f}" in text
    shown = runner.invoke(cli, ["info", str(model)])
    assert shown.exit_code == 0 and shown.stdout.strip() == text.strip()
    assert json.loads(runner.invoke(cli, ["info", str(model), "--json"]).stdout)["meta"]["card"] == card


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s.replace('ORG = "organization"\n', ""), "labels ['LOC', 'PER'] do not match the model's"),
        (lambda s: s.replace("seed = 1", 'seed = "one"'), "seed must be an integer"),
        (lambda s: s.replace('commands = ["pytest tests/test_card.py"]\n', ""), "the card needs commands"),
        (lambda s: "score = 1\n" + s, "unknown card field(s) score"),
        (lambda s: s.replace('attribution = "made by conftest.py"', ""), "data must be a table with"),
        (lambda s: s.replace("[labels]", "[labels"), "not valid TOML"),
        # what meta.json is checked against on load: a card that would make the model unloadable is refused
        (lambda s: s.replace('name = "tiny"', "name = 3"), "name must be a string, got 3 (int)"),
        (lambda s: s + 'url = ["x"]\n', "data.url must be a string"),
    ],
)
def test_a_wrong_card_is_refused_and_the_model_kept(runner, model, tmp_path, change, message):
    (tmp_path / "card.toml").write_text(change(CARD), encoding="utf-8")
    test = write_conll(tmp_path / "test.txt", synthetic_tagged(5, seed=7))
    before = (model / "meta.json").read_bytes()
    result = runner.invoke(cli, ["card", str(model), "--from", str(tmp_path / "card.toml"), "--test", str(test)])
    assert result.exit_code != 0 and message in result.output, result.output
    assert (model / "meta.json").read_bytes() == before and not (model / "MODEL_CARD.md").exists()


def test_info_without_a_card_summarises(runner, tiny_model_dir):
    shown = runner.invoke(cli, ["info", str(tiny_model_dir)])
    assert shown.exit_code == 0, shown.output
    assert "no model card" in shown.stdout and "labels: LOC, ORG, PER" in shown.stdout


@pytest.mark.parametrize("name", [n for n in builtin_models() if n.startswith("ja-")])
def test_builtin_japanese_models_carry_a_full_card(name):
    tagger = Tagger.load(name)
    card = tagger.meta["card"]
    assert sorted(card["labels"]) == sorted(tagger.entity_types)
    assert "CC BY-SA" in card["licence"] and card["data"]["attribution"]
    assert card["scores"]["test"]["f1"] > 0.7 and card["commands"] and isinstance(card["seed"], int)
