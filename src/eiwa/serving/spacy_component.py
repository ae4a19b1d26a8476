"""An `eiwa` spaCy pipeline component: sets `doc.ents` from an eiwa model.

    import spacy
    nlp = spacy.blank("ja")                       # or spacy.load("ja_ginza"), or any English pipeline
    nlp.add_pipe("eiwa", config={"model": "conll03-en"})   # a model directory or built-in name
    doc = nlp("田中さんは東京に住んでいる。")
    [(e.text, e.label_, e._.eiwa_confidence) for e in doc.ents]

Registered through the `spacy_factories` entry point (pip install 'eiwa[spacy]' or '[vectors]'),
so `add_pipe("eiwa")` works without importing eiwa first. eiwa tags `doc.text` with its own
tokenizer (the one its model was trained with) and maps each entity's character offsets onto the
Doc's tokens: an entity that does not start and end on token boundaries of spaCy's tokenizer
(GiNZA, say, splits differently from eiwa's MeCab) is widened to the tokens it touches
(`alignment_mode="expand"`); of widened entities that then overlap, the longest is kept
(spaCy's `filter_spans`). Entities already on the Doc
are replaced unless `overwrite` is false, in which case eiwa's only fill the gaps.
"""

from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from eiwa.tagger import Tagger

if not Span.has_extension("eiwa_confidence"):
    Span.set_extension("eiwa_confidence", default=None)


class EiwaComponent:
    def __init__(self, nlp: Language, name: str, model: str, batch_size: int, overwrite: bool):
        self.name = name
        self.tagger = Tagger.load(model)
        self.batch_size = batch_size
        self.overwrite = overwrite

    def __call__(self, doc: Doc) -> Doc:
        return next(iter(self.pipe([doc])))

    def pipe(self, docs, batch_size: int | None = None):
        docs = list(docs)
        results = self.tagger.predict([doc.text for doc in docs], batch_size or self.batch_size)
        for doc, result in zip(docs, results):
            spans = []
            for entity in result["entities"]:
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
            yield doc


@Language.factory("eiwa", default_config={"model": "conll03-en", "batch_size": 64, "overwrite": True})
def make_eiwa(nlp: Language, name: str, model: str, batch_size: int, overwrite: bool) -> EiwaComponent:
    return EiwaComponent(nlp, name, model, batch_size, overwrite)
