"""An `eiwa` spaCy pipeline component: sets `doc.ents` from an eiwa model.

    import spacy
    nlp = spacy.blank("ja")                       # or spacy.load("ja_ginza"), or any English pipeline
    nlp.add_pipe("eiwa", config={"model": "conll03-en"})   # a model directory or built-in name
    doc = nlp("田中さんは東京に住んでいる。")
    [(e.text, e.label_, e._.eiwa_confidence) for e in doc.ents]
    [s.text for s in doc.sents]                   # the sentences eiwa tagged (unless set before it)

Registered through the `spacy_factories` entry point (pip install 'eiwa[spacy]' or '[vectors]'),
so `add_pipe("eiwa")` works without importing eiwa first. eiwa tags `doc.text` with its own
tokenizer (the one its model was trained with) and maps each entity's character offsets onto the
Doc's tokens: an entity that does not start and end on token boundaries of spaCy's tokenizer
(GiNZA, say, splits differently from eiwa's MeCab) is widened to the tokens it touches
(`alignment_mode="expand"`); of widened entities that then overlap, the longest is kept
(spaCy's `filter_spans`). Entities already on the Doc
are replaced unless `overwrite` is false, in which case eiwa's only fill the gaps.

A Doc may hold many sentences; eiwa tags them one by one, all the Docs' sentences of a `pipe` call
in shared batches. Where an earlier component set sentence boundaries (a parser, spaCy's
sentencizer or senter) eiwa tags those sentences; otherwise it splits the text with its own rules
(`eiwa.tokenize.sentences`) and, as spaCy's sentencizer does, sets `token.is_sent_start` on every
token, so that `doc.sents` gives the sentences it tagged. `split_sentences=False` tags each Doc as
one sentence and sets no boundaries.
"""

from __future__ import annotations

import numpy as np
from spacy.attrs import SENT_START
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from eiwa import arguments
from eiwa.tagger import Tagger
from eiwa.tokenize.sentences import sentence_spans, stripped, whole_text

if not Span.has_extension("eiwa_confidence"):
    Span.set_extension("eiwa_confidence", default=None)


class EiwaComponent:
    def __init__(self, nlp: Language, name: str, model: str, batch_size: int, overwrite: bool, split_sentences: bool):
        self.name = name
        self.batch_size = arguments.positive_int("batch_size", batch_size)  # checked before the model loads
        self.tagger = Tagger.load(model)
        self.overwrite = overwrite
        self.split_sentences = split_sentences

    def __call__(self, doc: Doc) -> Doc:
        return next(iter(self.pipe([doc])))

    def pipe(self, docs, batch_size: int | None = None):
        docs = list(docs)
        sentences = [self.sentences_of(doc) for doc in docs]
        tagged = self.tagger.tag_documents([doc.text for doc in docs], sentences, batch_size or self.batch_size)
        for doc, spans, (result, _) in zip(docs, sentences, tagged):
            if self.split_sentences and not doc.has_annotation("SENT_START"):
                set_sentence_starts(doc, spans)
            self.set_entities(doc, result["entities"])
            yield doc

    def sentences_of(self, doc: Doc) -> list[tuple[int, int]]:
        """The character spans eiwa tags as sentences: the Doc's own where an earlier component set
        them (a parser, a sentencizer), else eiwa's; the whole text without `split_sentences`."""
        if not self.split_sentences:
            return whole_text(doc.text)
        if doc.has_annotation("SENT_START"):
            return [span for s in doc.sents for span in stripped(doc.text, s.start_char, s.end_char)]
        return sentence_spans(doc.text, self.tagger.config.lang)

    def set_entities(self, doc: Doc, entities: list) -> None:
        spans = []
        for entity in entities:
            span = doc.char_span(entity["start"], entity["end"], label=entity["type"], alignment_mode="expand")
            if span is not None:
                span._.eiwa_confidence = entity.get("confidence")
                spans.append(span)
        if self.overwrite:
            doc.ents = filter_spans(spans)
        else:
            taken = {i for ent in doc.ents for i in range(ent.start, ent.end)}
            free = [s for s in filter_spans(spans) if not any(i in taken for i in range(s.start, s.end))]
            doc.ents = filter_spans([*doc.ents, *free])


def set_sentence_starts(doc: Doc, spans: list[tuple[int, int]]) -> None:
    """Mark the token at (or around) each sentence's first character as a sentence start and every
    other token as not one, as spaCy's sentencizer does, so that `doc.sents` gives eiwa's sentences."""
    if len(doc) == 0:
        return
    token_starts = doc.to_array("IDX").astype(np.int64)
    first_tokens = np.searchsorted(token_starts, [start for start, _ in spans], side="right") - 1
    values = np.full(len(doc), -1, dtype=np.int64)  # spaCy's SENT_START: 1 starts a sentence, -1 does not
    values[np.maximum(first_tokens, 0)] = 1
    values[0] = 1
    doc.from_array([SENT_START], values.view(np.uint64).reshape(-1, 1))


@Language.factory(
    "eiwa", default_config={"model": "conll03-en", "batch_size": 64, "overwrite": True, "split_sentences": True}
)
def make_eiwa(
    nlp: Language, name: str, model: str, batch_size: int, overwrite: bool, split_sentences: bool
) -> EiwaComponent:
    return EiwaComponent(nlp, name, model, batch_size, overwrite, split_sentences)
