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


TWO_SENTENCES = "John Smith lives in Paris. Mary works for Acme Corp in Tokyo."


def test_a_two_sentence_doc_is_tagged_sentence_by_sentence_and_gets_doc_sents(tiny_model_dir):
    nlp = spacy.blank("en")
    nlp.add_pipe("eiwa", config={"model": str(tiny_model_dir)})
    doc = nlp(TWO_SENTENCES)
    [expected] = Tagger.load(tiny_model_dir).predict(TWO_SENTENCES)
    assert len(expected["sentences"]) == 2 and expected["entities"]
    assert [(e.start_char, e.end_char, e.label_) for e in doc.ents] == [
        (e["start"], e["end"], e["type"]) for e in expected["entities"]
    ]
    assert [(s.start_char, s.end_char) for s in doc.sents] == [(s["start"], s["end"]) for s in expected["sentences"]]


def test_sentences_set_by_an_earlier_component_are_the_ones_tagged(tiny_model_dir):
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer", config={"punct_chars": ["!"]})  # no boundary at "."
    nlp.add_pipe("eiwa", config={"model": str(tiny_model_dir)})
    doc = nlp(TWO_SENTENCES)
    assert len(list(doc.sents)) == 1  # eiwa kept the Doc's boundaries
    [expected] = Tagger.load(tiny_model_dir).predict(TWO_SENTENCES, split_sentences=False)
    assert [(e.start_char, e.end_char) for e in doc.ents] == [(e["start"], e["end"]) for e in expected["entities"]]


def test_without_splitting_the_doc_is_one_sentence_and_gets_no_boundaries(tiny_model_dir):
    nlp = spacy.blank("en")
    nlp.add_pipe("eiwa", config={"model": str(tiny_model_dir), "split_sentences": False})
    doc = nlp(TWO_SENTENCES)
    [expected] = Tagger.load(tiny_model_dir).predict(TWO_SENTENCES, split_sentences=False)
    assert [(e.start_char, e.end_char) for e in doc.ents] == [(e["start"], e["end"]) for e in expected["entities"]]
    assert not doc.has_annotation("SENT_START")
    assert list(nlp.pipe([])) == [] and not nlp(" \n").ents  # nothing, and a blank Doc, are fine
    splitting = spacy.blank("en")
    splitting.add_pipe("eiwa", config={"model": str(tiny_model_dir)})
    assert [len(list(d.sents)) for d in splitting.pipe(["", " \n", TWO_SENTENCES])] == [0, 1, 2]


@pytest.mark.parametrize("batch_size", [0, -1])
def test_a_batch_size_below_one_is_refused_when_the_component_is_added(tiny_model_dir, batch_size):
    from eiwa.errors import EiwaError

    nlp = spacy.blank("en")
    with pytest.raises(EiwaError, match=f"^batch_size must be at least 1, got {batch_size}$"):
        nlp.add_pipe("eiwa", config={"model": str(tiny_model_dir), "batch_size": batch_size})
