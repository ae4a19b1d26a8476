"""Tests for eiwa.config: defaults, TOML/JSON files, `--set` parsing and validation."""

from __future__ import annotations

import json

import pytest

from eiwa.config import Config, load_config
from eiwa.errors import EiwaError


def test_defaults_validate_and_follow_lample():
    config = Config().validate()
    dims = (config.char_embedding_dim, config.char_hidden_dim, config.word_embedding_dim, config.hidden_dim)
    assert dims == (25, 25, 100, 100)
    assert config.dropout == 0.5 and config.tag_scheme == "bioes" and config.decoder == "crf"
    assert load_config(None) == config


def test_toml_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        'lang = "ja"\nchar_input = "romaji"\nhidden_dim = 32\ndropout = 0.25\nchar_lowercase = true\nlr = 1\n'
    )
    config = load_config(path)
    read = (config.lang, config.char_input, config.hidden_dim, config.dropout, config.char_lowercase)
    assert read == ("ja", "romaji", 32, 0.25, True)
    assert config.lr == 1.0 and isinstance(config.lr, float)  # an int is accepted for a float setting


def test_json_file_then_overrides_then_fixed_flags(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"hidden_dim": 16, "max_epochs": 7, "word_vectors": None}))
    config = load_config(path, ["max_epochs=3"], seed=9, lang=None)
    read = (config.hidden_dim, config.max_epochs, config.seed, config.word_vectors, config.lang)
    assert read == (16, 3, 9, None, "en")


@pytest.mark.parametrize(
    "content, suffix, match",
    [
        ("hiden_dim = 3\n", ".toml", "unknown setting"),
        ('hidden_dim = "big"\n', ".toml", "hidden_dim"),
        ("hidden_dim = 2.5\n", ".toml", "hidden_dim"),
        ("char_lowercase = 1\n", ".toml", "char_lowercase"),
        ("hidden_dim = \n", ".toml", "invalid config"),
        ('{"lang": ', ".json", "invalid config"),
        ('{"lang": "fr"}', ".json", "lang"),
    ],
)
def test_bad_config_files_are_user_errors_naming_the_file(tmp_path, content, suffix, match):
    path = tmp_path / f"c{suffix}"
    path.write_text(content)
    with pytest.raises(EiwaError, match=match) as excinfo:
        load_config(path)
    if match != "lang":
        assert str(path) in str(excinfo.value)


def test_missing_config_file_names_it_and_the_built_in_recipes(tmp_path):
    with pytest.raises(EiwaError, match=r"none\.toml: no such config file.*small-data"):
        load_config(tmp_path / "none.toml")


def test_built_in_recipe_by_name():
    config = load_config("small-data")
    assert (config.batch_size, config.patience, config.threads) == (8, 15, 1)


def test_set_parses_each_field_type():
    config = Config().with_overrides(
        [
            "hidden_dim=12",
            "dropout=0.3",
            "char_lowercase=yes",
            "word_lowercase=off",
            "word_vectors=none",
            "optimizer=sgd",
            "char-embedding-dim = 7",
        ]
    )
    assert config.hidden_dim == 12 and isinstance(config.hidden_dim, int)
    assert config.dropout == 0.3 and isinstance(config.dropout, float)
    assert config.char_lowercase is True and config.word_lowercase is False
    assert config.word_vectors is None
    assert config.optimizer == "sgd"
    assert config.char_embedding_dim == 7  # dashes read as underscores
    assert Config().with_overrides(["word_vectors=vec.txt"]).word_vectors == "vec.txt"
    assert Config().with_overrides(["lr=1"]).lr == 1.0


@pytest.mark.parametrize(
    "assignment, match",
    [
        ("hidden=3", "unknown setting"),
        ("hidden_dim=3.5", "integer"),
        ("hidden_dim=", "integer"),
        ("dropout=half", "number"),
        ("char_lowercase=maybe", "true or false"),
        ("max_epochs", "key=value"),
        ("=3", "key=value"),
    ],
)
def test_set_errors(assignment, match):
    with pytest.raises(EiwaError, match=match):
        Config().with_overrides([assignment])


@pytest.mark.parametrize(
    "overrides, match",
    [
        (["dropout=1.0"], "dropout"),
        (["dev_fraction=-0.1"], "dev_fraction"),
        (["hidden_dim=0"], "hidden_dim"),
        (["decoder=hmm"], "decoder"),
        (["tag_scheme=iob1"], "tag_scheme"),
        (["optimizer=adagrad"], "optimizer"),
        (["lang=ja", "char_input=kana"], "char_input"),
        (["char_hidden_dim=0"], "char_hidden_dim must be at least 1"),
        (["singleton_unk_rate=1.0"], r"singleton_unk_rate must be in \[0, 1\)"),
        (["pos_source=mecab"], "pos_source must be one of tokenizer, corpus"),
        (["seed=1180591620717411303424"], r"seed must be in \[0, 2\^32\), got 1180591620717411303424"),
        (["seed=-1"], r"seed must be in \[0, 2\^32\)"),
        (["case_embedding_dim=-1"], "case_embedding_dim must be at least 0, got -1"),
        (
            ["hidden_dim=10000000000"],
            r"hidden_dim=10000000000 is too large: .* would take [\d.e+]+ PiB \(at most 64 GiB\)",
        ),
        (["word_embedding_dim=1000000000"], r"word_embedding_dim=1000000000 is too large: .* 2.91 TiB"),
    ],
)
def test_validate_rejects_bad_values(overrides, match):
    with pytest.raises(EiwaError, match=match):
        load_config(None, overrides)


def test_english_forces_native_inputs_japanese_keeps_romaji():
    config = load_config(None, ["char_input=romaji", "word_input=romaji"])
    assert config.lang == "en"
    assert (config.word_input, config.char_input) == ("native", "native")
    config = load_config(None, ["char_input=romaji"], lang="ja")
    assert (config.word_input, config.char_input) == ("native", "romaji")


def test_round_trip_through_dict():
    config = Config(hidden_dim=7, word_vectors="v.txt", char_lowercase=True)
    assert Config.from_dict(config.to_dict()) == config
    assert "hidden_dim = 7" in config.describe()


def test_feature_settings_come_from_the_registry():
    from eiwa import features

    settings = features.all_settings()
    assert {"char_embedding_dim", "word_vectors", "pos_source", "vectors_dim", "gazetteer_max_tokens"} <= set(settings)
    assert not {"features", "hidden_dim", "seed"} & set(settings)  # core settings stay in config.py
    config = Config()
    assert all(getattr(config, key) == setting.default for key, setting in settings.items())
    keys = list(config.to_dict())  # config.json's order: inputs, the features' settings, then the rest
    assert keys[:6] == ["lang", "word_input", "char_input", "tag_scheme", "features", "char_embedding_dim"]
    assert keys.index("chartype_dim") + 1 == keys.index("hidden_dim") and keys[-1] == "threads"


def test_eiwa_0_1_vectors_key_reads_as_word_vectors_and_unknown_keys_are_refused():
    assert Config.from_dict({"vectors": "v.txt", "hidden_dim": 8}).word_vectors == "v.txt"
    with pytest.raises(EiwaError, match="unknown setting"):
        Config.from_dict({"vectors": "v.txt", "features": "char,word"})
    with pytest.raises(EiwaError, match=r"unknown setting\(s\) char_dim"):
        Config.from_dict({"char_dim": 3})


def test_sizes_that_fit_in_memory_and_seeds_up_to_2_to_the_32_are_accepted():
    config = load_config(None, ["hidden_dim=4000", "case_embedding_dim=0", f"seed={2**32 - 1}"])
    assert (config.hidden_dim, config.case_embedding_dim, config.seed) == (4000, 0, 2**32 - 1)
