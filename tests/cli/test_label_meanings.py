"""Label meanings end to end: `--labels` on train and transfer, what meta.json records, what `eiwa info`
shows for every model, and write_label_meanings for a model already saved."""

from __future__ import annotations

import json
import shutil

import pytest
from helpers import TINY_SET, assert_user_error, synthetic_tagged, write_conll

from eiwa.cli import cli
from eiwa.errors import DataError
from eiwa.persist.model_dir import builtin_models, read_meta, resolve_model
from eiwa.readers.labels import WIKIANN
from eiwa.serving.card import write_label_meanings
from eiwa.tagger import Tagger


@pytest.fixture
def data(tmp_path):
    return write_conll(tmp_path / "train.conll", synthetic_tagged(20, seed=3))


def train(runner, data, out, *extra):
    return runner.invoke(
        cli, ["train", "--train", str(data), "--out", str(out), "--quiet", *TINY_SET, "--set", "max_epochs=1", *extra]
    )


def test_labels_file_meanings_are_saved_and_shown_by_info(runner, data, tmp_path):
    labels = tmp_path / "labels.toml"
    labels.write_text('PER = "a person, in my data"\n', encoding="utf-8")
    result = train(runner, data, tmp_path / "m", "--labels", str(labels))
    assert result.exit_code == 0, result.output
    # LOC, ORG, PER is WikiANN's label set: its documentation explains the types the file leaves out
    expected = {"LOC": WIKIANN["LOC"], "ORG": WIKIANN["ORG"], "PER": "a person, in my data"}
    assert json.loads((tmp_path / "m" / "meta.json").read_text(encoding="utf-8"))["labels"] == expected
    assert Tagger.load(tmp_path / "m").label_meanings == expected  # the checksums still hold

    shown = runner.invoke(cli, ["info", str(tmp_path / "m")])
    assert shown.exit_code == 0 and "  PER  a person, in my data" in shown.stdout
    assert f"  LOC  {WIKIANN['LOC']}" in shown.stdout
    assert json.loads(runner.invoke(cli, ["info", str(tmp_path / "m"), "--json"]).stdout)["labels"] == expected


def test_a_wrong_labels_file_stops_training_before_it_starts(runner, data, tmp_path):
    labels = tmp_path / "labels.toml"
    labels.write_text('PER = "a person"\nPERCENT = "a percentage"\n', encoding="utf-8")
    result = train(runner, data, tmp_path / "m", "--labels", str(labels))
    assert_user_error(result, f"{labels}:2:", "PERCENT is not a label of the training data (LOC, ORG, PER)")
    assert not (tmp_path / "m").exists()


def test_info_says_which_types_have_no_meaning(runner, tiny_model_dir):
    shown = runner.invoke(cli, ["info", str(tiny_model_dir)])
    assert shown.exit_code == 0, shown.output
    assert "  PER  (no meaning recorded: train with --labels FILE)" in shown.stdout
    assert json.loads(runner.invoke(cli, ["info", str(tiny_model_dir), "--json"]).stdout)["labels"] == {}


def test_write_label_meanings_changes_only_meta_labels(tiny_model_dir, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    before = {p.name: p.read_bytes() for p in model.iterdir()}
    meta_before = json.loads(before["meta.json"])
    write_label_meanings(model, {"PER": "person"})
    assert {p.name: p.read_bytes() for p in model.iterdir() if p.name != "meta.json"} == {
        name: content for name, content in before.items() if name != "meta.json"
    }
    meta = json.loads((model / "meta.json").read_text(encoding="utf-8"))
    assert meta == {**meta_before, "labels": {"PER": "person"}}
    assert Tagger.load(model).label_meanings == {"PER": "person"}
    with pytest.raises(DataError, match="MISC is not a label"):
        write_label_meanings(model, {"MISC": "other"})


def test_a_model_card_explains_the_labels_of_a_model_saved_before_labels_were_recorded(tiny_model_dir):
    tagger = Tagger.load(tiny_model_dir)
    tagger.meta = {**tagger.meta, "card": {"labels": {"PER": "person (card)"}}}
    assert tagger.label_meanings == {"PER": "person (card)"}
    tagger.meta["labels"] = {"PER": "person (meta)"}
    assert tagger.label_meanings == {"PER": "person (meta)"}


@pytest.mark.parametrize("name", builtin_models())
def test_every_builtin_model_says_what_each_label_means(name):
    meta = read_meta(resolve_model(name))  # the files' checksums hold: meta.json is not among them
    assert sorted(meta["labels"]) == sorted(meta["entity_types"])
    assert all(isinstance(meaning, str) and meaning.strip() for meaning in meta["labels"].values())
