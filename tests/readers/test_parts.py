"""`--format parts`: several corpora read as one, and parts without a POS column."""

from __future__ import annotations

import pytest
from helpers import tiny_config

from eiwa.errors import EiwaError
from eiwa.features.encoder import Encoder
from eiwa.readers import read


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def parts(tmp_path):
    write(tmp_path / "a.conll", "John NNP B-PER\nlives VBZ O\nin IN O\nParis NNP B-LOC\n\n")
    write(tmp_path / "b.tsv", "en:Tokyo\tB-LOC\nen:is\tO\nen:big\tO\n\n")
    return write(
        tmp_path / "parts.toml",
        f"""
[[part]]
path = "{tmp_path / "a.conll"}"
columns = "token,pos,tag"
[[part]]
path = "{tmp_path / "b.tsv"}"
columns = ["token", "tag"]
token_prefix = "en:"
pos = "missing"
""",
    )


def test_parts_are_read_in_order_each_in_its_own_columns(parts):
    sentences = read(parts, "parts", "en").sentences
    assert [s.words for s in sentences] == [["John", "lives", "in", "Paris"], ["Tokyo", "is", "big"]]
    assert [t.corpus_pos for t in sentences[0].tokens] == [("NNP",), ("VBZ",), ("IN",), ("NNP",)]
    assert [t.corpus_pos for t in sentences[1].tokens] == [(), (), ()]
    assert [e.type for s in sentences for e in s.entities] == ["PER", "LOC", "LOC"]


def test_a_part_without_pos_reads_the_unknown_tag(parts):
    sentences = read(parts, "parts", "en").sentences
    config = tiny_config(features="char,word,pos")
    encoder = Encoder.build(config, sentences)
    upos = encoder.features["pos"].vocabs["upos"]
    assert set(upos.items[2:]) == {"PROPN", "VERB", "ADP"}  # nothing made up for the part without POS
    encoded = encoder.encode(sentences).features["pos"].columns
    assert list(encoded["upos"][1]) == [1, 1, 1]  # unknown
    assert encoded["levels"][1].tolist() == [[1, 1, 1]] * 3
    assert list(encoded["upos"][0]) == [upos.index("PROPN"), upos.index("VERB"), upos.index("ADP"), upos.index("PROPN")]
    # English has no POS levels of its own: unknown (1), not padding (0), so that their row is trained
    assert encoded["levels"][0].tolist() == [[1, 1, 1]] * 4


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "expected one or more \\[\\[part\\]\\] tables"),
        ("[[part]]\npath = 'x'\ncolour = 'red'\n", "part 1: unknown key\\(s\\) colour"),
        ("[[part]]\npath = 'x'\nformat = 'parts'\n", "part 1: format must be"),
        ("[[part]]\npath = 'x'\npos = 'maybe'\n", "part 1: pos must be present or missing"),
        ("[[part", "invalid TOML"),
    ],
)
def test_bad_parts_files_name_the_file_and_part(tmp_path, text, fragment):
    path = write(tmp_path / "parts.toml", text)
    with pytest.raises(EiwaError, match=fragment) as error:
        read(path, "parts", "en")
    assert str(path) in str(error.value)


def test_without_the_missing_mark_a_part_without_pos_is_refused(tmp_path):
    write(tmp_path / "b.tsv", "Tokyo\tB-LOC\nis\tO\n\n")
    path = write(tmp_path / "parts.toml", f'[[part]]\npath = "{tmp_path / "b.tsv"}"\n')
    sentences = read(path, "parts", "en").sentences
    with pytest.raises(EiwaError, match="raw English text does not have"):
        Encoder.build(tiny_config(features="char,word,pos"), sentences)


def test_a_bad_format_is_told_every_format_a_part_can_have(tmp_path):
    path = write(tmp_path / "parts.toml", "[[part]]\npath = 'x'\nformat = 'xml'\n")
    with pytest.raises(
        EiwaError, match="format must be one of conll, spans, doccano, label-studio, hironsan, got 'xml'"
    ):
        read(path, "parts", "en")


def test_invalid_toml_names_the_line(tmp_path):
    path = write(tmp_path / "parts.toml", "[[part]]\npath = 'x'\ncolumns = \n")
    with pytest.raises(EiwaError, match=r"parts\.toml:3: invalid TOML: .* \(column \d+\)"):
        read(path, "parts", "en")
