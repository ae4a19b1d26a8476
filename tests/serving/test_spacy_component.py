"""The `eiwa` spaCy component: doc.ents from an eiwa model, after spaCy's own tokenizer."""

from __future__ import annotations

import pytest

spacy = pytest.importorskip("spacy", reason="the spaCy component needs the spacy extra")

from eiwa.tagger import Tagger  # noqa: E402


def test_the_component_is_registered_and_sets_doc_ents(tiny_model_dir):
    nlp = spacy.blank("en")
    nlp.add_pipe("eiwa", config={"model": str(tiny_model_dir)})  # found through the entry point
    text = "John Smith lives in Paris and works for Acme Corp"
    doc = nlp(text)
    expected = Tagger.load(tiny_model_dir).predict(text)[0]["entities"]
    assert expected
    assert [(e.start_char, e.end_char, e.label_) for e in doc.ents] == [
        (e["start"], e["end"], e["type"]) for e in expected
    ]
    assert all(0 < e._.eiwa_confidence <= 1 for e in doc.ents)
    assert [[(e.start_char, e.end_char) for e in d.ents] for d in nlp.pipe([text, text])] == [
        [(e["start"], e["end"]) for e in expected]
    ] * 2


def test_entities_are_widened_to_the_docs_tokens(tiny_model_dir):
    nlp = spacy.blank("en")
    nlp.add_pipe("eiwa", config={"model": str(tiny_model_dir)})
    doc = nlp("JohnSmith-Paris lives in Paris")  # one spaCy token where eiwa may see several
    for ent in doc.ents:
        assert doc.text[ent.start_char : ent.end_char] == ent.text
        assert ent.start_char == doc[ent.start].idx and ent.end_char == doc[ent.end - 1].idx + len(doc[ent.end - 1])


def test_after_a_japanese_tokenizer(tiny_model_dir):
    nlp = spacy.blank("ja")  # spaCy's Japanese tokenizer (SudachiPy) where installed
    try:
        nlp("東京")
    except Exception as error:  # spaCy's ja needs sudachipy, which the extras do not bring
        pytest.skip(f"spaCy's Japanese tokenizer is not usable here: {error}")
    nlp.add_pipe("eiwa", config={"model": str(tiny_model_dir)})
    doc = nlp("田中さんは東京に住んでいる。")
    assert all(doc.text[e.start_char : e.end_char] == e.text for e in doc.ents)
