"""Token features (src/eiwa/features/): the registry, part of speech, pretrained vectors and the
name dictionary as model inputs; saving, loading and transferring models that use them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import synthetic_sentences, synthetic_tagged, tiny_config, write_conll

from eiwa.build import build
from eiwa.crosslingual.starts import MODULES, parse_modules
from eiwa.crosslingual.weights import VOCAB_TABLES
from eiwa.doc import sentence_from_tags
from eiwa.errors import EiwaError
from eiwa.features import names
from eiwa.readers.conll import read_conll
from eiwa.readers.hironsan import read_hironsan
from eiwa.resources.upos import UPOS, level_names, upos_japanese, upos_ptb
from eiwa.tagger import Tagger
from eiwa.tokenize import tokenizer_for
from eiwa.training.optim import make_optimizer
from eiwa.training.train import train


@pytest.fixture(scope="module")
def ja_sentences():
    return read_hironsan().sentences[:40]


def ja_config(**overrides):
    return tiny_config(**{"lang": "ja", "char_input": "romaji", "seed": 3, "threads": 1, **overrides})


# ----------------------------------------------------------------------------- the registry


def test_every_registered_feature_is_a_transfer_unit_with_its_tables():
    assert names() == ["char", "word", "pos", "vectors", "gazetteer", "chartype"]  # whatever the import order
    assert MODULES == ("char", "word", "pos", "vectors", "gazetteer", "chartype", "classifier")
    assert parse_modules("pos,classifier") == ["pos", "classifier"]
    assert VOCAB_TABLES["char.embedding.weight"] == ("char", "bigrams")
    assert VOCAB_TABLES["pos.upos.weight"] == ("pos", "upos")
    assert VOCAB_TABLES["pos.levels.weight"] == ("pos", "levels")


def test_a_config_enables_features_and_the_classifier_reads_them_in_registry_order(ja_sentences):
    tagger = build(ja_config(features="pos,char,word"), ja_sentences).tagger
    assert list(tagger.encoder.features) == ["char", "word", "pos"]
    # word first (eiwa 0.1's layout), then the others in registry order
    assert [name for name, _ in tagger.model.layout()] == ["word", "char", "pos"]
    widths = dict(tagger.model.layout())
    assert widths["pos"] == 16 + 3 * 16
    assert tagger.model.classifier.lstm.forward_lstm.weight_ih_l0.shape[1] == sum(widths.values())
    encoded = tagger.encoder.encode(ja_sentences[:5])
    batch = tagger.encoder.batch(encoded, np.arange(5))
    assert tagger.model.emissions(batch).shape[:2] == batch.mask.shape


def test_unknown_feature_is_a_config_error():
    with pytest.raises(EiwaError, match="features must be a comma-separated subset"):
        tiny_config(features="char,spelling")


# ----------------------------------------------------------------------------- part of speech


def test_upos_from_unidic_ipadic_and_penn_treebank():
    assert upos_japanese(("名詞", "固有名詞", "人名", "姓")) == "PROPN"
    assert upos_japanese(("名詞", "数詞", "*", "*")) == "NUM"  # UniDic
    assert upos_japanese(("名詞", "数", "*", "*")) == "NUM"  # IPAdic (the Hironsan corpus's columns)
    assert upos_japanese(("助詞", "格助詞", "*", "*")) == "ADP"
    assert upos_japanese(("助動詞", "*", "*", "*")) == "AUX"
    assert upos_japanese(("補助記号", "句点", "*", "*")) == "PUNCT"
    assert upos_japanese(("未知語",)) == "X"
    assert (upos_ptb("NNP"), upos_ptb("VBD"), upos_ptb("."), upos_ptb("???")) == ("PROPN", "VERB", "PUNCT", "X")
    assert set(map(upos_ptb, ["CC", "CD", "DT", "IN", "JJ", "MD", "NN", "PRP", "RB", "TO", "UH"])) <= set(UPOS)


def test_pos_levels_are_cumulative_names():
    assert level_names(("名詞", "固有名詞", "人名", "姓")) == ("名詞", "名詞-固有名詞", "名詞-固有名詞-人名")
    assert level_names(("助詞", "格助詞", "*", "*")) == ("助詞", "助詞-格助詞", "")


def test_raw_japanese_text_gets_unidic_pos_and_lemmas():
    sentence = tokenizer_for("ja").sentence("田中さんは東京で勤めている。")
    by_text = {t.text: t for t in sentence.tokens}
    assert by_text["田中"].pos[:3] == ("名詞", "固有名詞", "人名")
    assert by_text["東京"].pos[:3] == ("名詞", "固有名詞", "地名")
    assert by_text["勤め"].lemma == "勤める"


def test_pre_tokenized_japanese_is_aligned_to_the_tokenizer():
    # 東京都 is one corpus token that MeCab splits (東京|都): it takes the POS of the MeCab token
    # covering its first character, and no lemma, since MeCab has no token exactly like it.
    sentence = sentence_from_tags(["東京都", "に", "行く"], ["B-LOC", "I-LOC", "O"], "ja")
    first, particle, verb = sentence.tokens
    assert first.pos[:3] == ("名詞", "固有名詞", "地名") and first.lemma is None
    assert particle.pos[:2] == ("助詞", "格助詞") and particle.lemma == "に"
    assert verb.lemma == "行く" and verb.corpus_pos is None


def test_hironsan_keeps_its_own_pos_columns_and_gets_the_tokenizers(ja_sentences):
    token = ja_sentences[0].tokens[0]  # 2005, a number
    assert token.corpus_pos == ("名詞", "数", "*", "*")
    assert token.pos[0] == "名詞"
    # A full-width space's row lost its surface upstream: its POS columns are read one place left.
    spaces = [t for s in read_hironsan().sentences for t in s.tokens if t.text == "\u3000"]
    assert spaces and all(t.corpus_pos == ("記号", "空白", "*", "*") for t in spaces)


def test_corpus_pos_model_refuses_input_without_the_column(ja_sentences):
    tagger = build(ja_config(features="char,word,pos", pos_source="corpus"), ja_sentences).tagger
    assert tagger.tag_sentences(ja_sentences[:2]) is not None  # the corpus has the column
    with pytest.raises(EiwaError, match="pos_source = corpus"):
        tagger.predict(["東京に行く。"])


def test_english_pos_reads_the_conll_column_and_refuses_raw_text(tmp_path):
    lines = []
    for tokens, tags in synthetic_tagged(30):
        lines += [f"{t} {'NNP' if tag != 'O' else 'NN'} {tag}" for t, tag in zip(tokens, tags)] + [""]
    path = tmp_path / "train.conll"
    path.write_text("\n".join(lines), encoding="utf-8")
    sentences = read_conll(path, columns=["token", "pos", "tag"]).sentences
    assert sentences[0].tokens[0].corpus_pos in (("NNP",), ("NN",))
    tagger = build(tiny_config(features="char,word,pos"), sentences).tagger
    upos = tagger.encoder.features["pos"].vocabs["upos"]
    assert upos.items[2:] and "PROPN" in upos
    tagger.tag_sentences(sentences[:3])
    with pytest.raises(EiwaError, match="raw English text does not have"):
        tagger.predict(["John lives in Paris."])
    without = read_conll(write_conll(tmp_path / "plain.conll", synthetic_tagged(3))).sentences
    with pytest.raises(EiwaError, match="POS column"):
        tagger.tag_sentences(without)


def test_pos_model_saves_loads_and_tags_the_same(ja_sentences, tmp_path):
    config = ja_config(features="char,word,pos", max_epochs=2)
    result = train(config, ja_sentences[:30], ja_sentences[30:], out=tmp_path / "m", progress=False, log=lambda _: None)
    loaded = Tagger.load(tmp_path / "m")
    assert loaded.config.features == "char,word,pos"
    encoded = loaded.encoder.encode(ja_sentences[30:])
    batch = loaded.encoder.batch(encoded, np.arange(len(encoded)))
    loaded.model.eval(), result.tagger.model.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded.model.emissions(batch), result.tagger.model.emissions(batch))


# ----------------------------------------------------------------------------- pretrained vectors


@pytest.fixture
def vectors_folder(tmp_path):
    """A tiny spaCy vocab folder (written with spaCy's own classes): 東京 and 大阪 share a row."""
    pytest.importorskip("spacy", reason="spaCy is needed to write a spaCy vocab folder")
    from spacy.strings import StringStore
    from spacy.vectors import Vectors

    strings = StringStore()
    rows = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]], dtype=np.float32)
    table = Vectors(strings=strings, data=rows)
    for key, row in (("東京", 0), ("大阪", 0), ("銀行", 1), ("行く", 2), ("年", 1)):
        table.add(strings.add(key), row=row)
    folder = tmp_path / "vocab"
    table.to_disk(folder)
    return folder


def test_vectors_feature_keeps_the_whole_table_so_unseen_words_get_their_rows(ja_sentences, vectors_folder, tmp_path):
    config = ja_config(features="char,word,vectors", vectors_table=str(vectors_folder), vectors_dim=5, max_epochs=1)
    result = train(config, ja_sentences[:30], ja_sentences[30:], out=tmp_path / "m", progress=False, log=lambda _: None)
    module = result.tagger.model.vectors
    assert module.table.dtype == torch.float16 and module.table.shape == (4, 4)  # 3 rows + the zero row
    assert dict(result.tagger.model.layout())["vectors"] == 5
    loaded = Tagger.load(tmp_path / "m")
    # 大阪 does not occur in the training sentences, yet finds its row (shared with 東京).
    sentence = tokenizer_for("ja").sentence("大阪の銀行に行く。")
    rows = loaded.encoder.encode([sentence], with_tags=False).features["vectors"].columns["rows"][0]
    by_word = dict(zip(sentence.words, rows.tolist()))
    assert by_word["大阪"] == 0 and by_word["銀行"] == 1 and by_word["行く"] == 2
    assert by_word["の"] == 3  # not in the table: the zero row
    assert torch.count_nonzero(loaded.model.vectors.table[3]) == 0
    assert loaded.predict(["大阪の銀行に行く。"])[0]["text"] == "大阪の銀行に行く。"


def test_vectors_trainable_is_a_float32_parameter(ja_sentences, vectors_folder):
    tagger = build(
        ja_config(features="char,word,vectors", vectors_table=str(vectors_folder), vectors_trainable=True),
        ja_sentences[:10],
    ).tagger
    table = tagger.model.vectors.table
    assert isinstance(table, torch.nn.Parameter) and table.dtype == torch.float32
    assert torch.equal(tagger.model.vectors.table[0], torch.tensor([1.0, 0, 0, 0]))


def test_vectors_without_the_extra_name_the_install_command(ja_sentences, monkeypatch):
    import eiwa.resources.chive

    def missing(source="chive"):
        raise EiwaError(f"vectors: the chiVe vectors need spaCy and ja-ginza: {eiwa.resources.chive.INSTALL_HINT}")

    monkeypatch.setattr(eiwa.resources.chive.VectorTable, "load", staticmethod(missing))
    with pytest.raises(EiwaError, match=r"pip install 'eiwa\[vectors\]'"):
        build(ja_config(features="char,word,vectors"), ja_sentences[:5])


def test_a_nonexistent_vectors_path_is_an_error_on_every_construction_path(ja_sentences, tmp_path):
    missing = str(tmp_path / "nowhere")
    source = build(tiny_config(), synthetic_sentences(20)).tagger
    for make in (lambda c: build(c, ja_sentences[:5]), lambda c: build(c, ja_sentences[:5], source, ["char"], {})):
        with pytest.raises(EiwaError, match="nowhere"):
            make(ja_config(features="char,word,vectors", vectors_table=missing))
        with pytest.raises(EiwaError, match="nowhere"):
            make(ja_config(word_vectors=missing))


# ----------------------------------------------------------------------------- the name dictionary


@pytest.fixture
def tiny_gazetteer(monkeypatch):
    from eiwa.gazetteer.matcher import Gazetteer

    gazetteer = Gazetteer.from_names({"東京": {"place"}, "田中": {"person"}, "日本銀行": {"organization"}})
    monkeypatch.setattr(Gazetteer, "load", classmethod(lambda cls, path=None, **kwargs: gazetteer))
    return gazetteer


def test_gazetteer_feature_marks_longest_matches_per_group(tiny_gazetteer):
    from eiwa.gazetteer.matcher import TAGS
    from eiwa.gazetteer.names import GROUPS

    sentence = sentence_from_tags(["田中", "は", "日本", "銀行", "と", "東京"], ["O"] * 6, "ja")
    tagger = build(ja_config(features="char,word,gazetteer"), [sentence]).tagger
    tags = tagger.encoder.encode([sentence]).features["gazetteer"].columns["tags"][0]
    as_names = [{GROUPS[g]: TAGS[t] for g, t in enumerate(row) if t} for row in tags]
    assert as_names == [{"person": "S"}, {}, {"organization": "B"}, {"organization": "E"}, {}, {"place": "S"}]
    assert dict(tagger.model.layout())["gazetteer"] == len(GROUPS) * 8
    assert tagger.encoder.features["gazetteer"].state["fingerprint"] == tiny_gazetteer.fingerprint()


def test_gazetteer_model_keeps_its_dictionary_and_an_older_one_refuses_another(
    tiny_gazetteer, ja_sentences, tmp_path, monkeypatch
):
    import eiwa.features.gazetteer
    from eiwa.gazetteer.matcher import Gazetteer

    config = ja_config(features="char,word,gazetteer", max_epochs=1)
    train(config, ja_sentences[:20], ja_sentences[20:25], out=tmp_path / "m", progress=False, log=lambda _: None)
    with monkeypatch.context() as older:  # a model as older eiwa saved it: the dictionary's fingerprint only
        older.setattr(eiwa.features.gazetteer, "_table_state", lambda gazetteer: {})
        train(config, ja_sentences[:20], ja_sentences[20:25], out=tmp_path / "old", progress=False, log=lambda _: None)
    other = Gazetteer.from_names({"大阪": {"place"}})
    monkeypatch.setattr(Gazetteer, "load", classmethod(lambda cls, path=None, **kwargs: other))
    feature = Tagger.load(tmp_path / "m").encoder.features["gazetteer"]
    assert feature.gazetteer.fingerprint() == tiny_gazetteer.fingerprint() != other.fingerprint()
    with pytest.raises(EiwaError, match="eiwa gazetteer build --force"):
        Tagger.load(tmp_path / "old").predict(["大阪に行く。"])


# ----------------------------------------------------------------------------- transfer with features


@pytest.fixture(scope="module")
def english_source():
    tagger = build(tiny_config(seed=7), synthetic_sentences(30, seed=3)).tagger
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for parameter in tagger.model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator))
    return tagger


def test_classifier_transfers_to_a_target_with_more_features(english_source, ja_sentences):
    target, report = build(
        ja_config(features="char,word,pos"),
        ja_sentences,
        english_source,
        ["char", "word", "classifier"],
        {"PER": ["PSN"]},
    )
    assert report.fresh_inputs == ["pos"]
    assert "start fresh: pos" in "\n".join(report.lines())
    # The same vocabularies and seed without the classifier transferred: what an untransferred block holds.
    fresh, _ = build(ja_config(features="char,word,pos"), ja_sentences, english_source, ["char", "word"], {})
    width = dict(english_source.model.layout())
    source_columns = width["word"] + width["char"]
    for name in ("classifier.lstm.forward_lstm.weight_ih_l0", "classifier.lstm.backward_lstm.weight_ih_l0"):
        value = target.model.state_dict()[name]
        assert torch.equal(value[:, :source_columns], english_source.model.state_dict()[name])
        assert torch.equal(value[:, source_columns:], fresh.model.state_dict()[name][:, source_columns:])
    assert torch.equal(target.model.pos.upos.weight, fresh.model.pos.upos.weight)


def test_frozen_fine_tuning_trains_only_the_new_features_classifier_columns(english_source, ja_sentences):
    target, _ = build(
        ja_config(features="char,word,pos", fine_tune="frozen"),
        ja_sentences,
        english_source,
        ["char", "word", "classifier"],
        {"PER": ["PSN"]},
    )
    name = "classifier.lstm.forward_lstm.weight_ih_l0"
    before = target.model.state_dict()[name].clone()
    optimizer = make_optimizer(target)
    encoded = target.encoder.encode(ja_sentences[:8])
    optimizer.zero_grad()
    target.model.loss(target.encoder.batch(encoded, np.arange(8))).backward()
    optimizer.step()
    after = target.model.state_dict()[name]
    source_columns = sum(width for feature, width in target.model.layout() if feature in ("word", "char"))
    assert torch.equal(after[:, :source_columns], before[:, :source_columns])
    assert not torch.equal(after[:, source_columns:], before[:, source_columns:])


def test_transferring_a_module_the_source_lacks_is_an_error(english_source, ja_sentences):
    with pytest.raises(EiwaError, match="the source model has no pos module"):
        build(ja_config(features="char,word,pos"), ja_sentences, english_source, ["pos"], {})
    with pytest.raises(EiwaError, match="do not include it"):
        build(ja_config(features="word"), ja_sentences, english_source, ["char"], {})


def test_features_are_saved_under_their_names(ja_sentences, tmp_path):
    config = ja_config(features="char,word,pos", max_epochs=1)
    train(config, ja_sentences[:20], ja_sentences[20:25], out=tmp_path / "m", progress=False, log=lambda _: None)
    vocab = json.loads((tmp_path / "m" / "vocab.json").read_text(encoding="utf-8"))
    assert set(vocab["features"]) == {"char", "word", "pos"}
    assert set(vocab["features"]["pos"]["vocabs"]) == {"upos", "levels"}
    assert "名詞-固有名詞" in vocab["features"]["pos"]["vocabs"]["levels"]["items"]
    assert json.loads((tmp_path / "m" / "meta.json").read_text())["format_version"] == 2


def test_english_models_read_the_english_side_of_the_dictionary(monkeypatch):
    from eiwa.gazetteer.matcher import TAGS, Gazetteer
    from eiwa.gazetteer.names import GROUPS

    english = Gazetteer.from_names({"New York": {"place"}, "Smith": {"person"}})
    japanese = Gazetteer.from_names({"東京": {"place"}})
    monkeypatch.setattr(
        Gazetteer,
        "load",
        classmethod(lambda cls, path=None, language="ja", **kwargs: english if language == "en" else japanese),
    )
    sentence = sentence_from_tags(["Smith", "left", "New", "York"], ["B-PER", "O", "B-LOC", "I-LOC"], "en")
    tagger = build(tiny_config(features="char,word,gazetteer"), [sentence]).tagger
    tags = tagger.encoder.encode([sentence]).features["gazetteer"].columns["tags"][0]
    place, person = GROUPS.index("place"), GROUPS.index("person")
    assert "".join(TAGS[t] for t in tags[:, place]) == "OOBE" and "".join(TAGS[t] for t in tags[:, person]) == "SOOO"
    assert tagger.encoder.features["gazetteer"].state["fingerprint"] == english.fingerprint()
