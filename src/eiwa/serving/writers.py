"""`eiwa predict --output-format`: predictions written as they are made, as JSON Lines, CoNLL
columns (token and BIO tag), one standalone HTML page with the entities highlighted in place, or
pre-annotations to correct in Doccano or Label Studio.

A writer is made with the output stream, the model's entity types, their meanings, the model's
language (the last three for the HTML page's legend and fonts) and its name (Label Studio's
`model_version`), then takes (record,
tokens) pairs: the JSON-ready record (`results.Prediction`, with any `id`/`meta` of the input
passed through) and, for a writer that `needs_tokens`, its tokens as offsets into the record's
text (`TokenOffsets`; None for the others). A writer keeps nothing of a record once written.

Every format but HTML reads back with eiwa's own readers as the same texts and entities, one
record per input in input order, empty texts included (tests/serving/test_round_trip.py): JSONL
with `results.from_json` and the `spans` reader, Doccano's with the `doccano` reader, Label
Studio's once its predictions are accepted as annotations, CoNLL as the same tokens and tags.
"""

from __future__ import annotations

import html
import re
from typing import NamedTuple, TextIO

import numpy as np

from eiwa.errors import EiwaError
from eiwa.serving.colours import label_style
from eiwa.serving.results import Prediction, to_json
from eiwa.tags import type_problem

OUTPUT_FORMATS = ("jsonl", "conll", "html", "doccano", "label-studio")


class TokenOffsets(NamedTuple):
    """A record's tokens, all its sentences' in order, as character offsets into its text (int64)."""

    starts: np.ndarray
    ends: np.ndarray


class LineWriter:
    """What every writer takes; a line per record and nothing around them unless a writer adds it."""

    needs_tokens = False

    def __init__(
        self,
        stream: TextIO,
        labels: list[str],
        meanings: dict[str, str] | None = None,
        lang: str | None = None,
        model: str | None = None,
    ):
        self.stream = stream

    def close(self) -> None:
        pass


class JsonlWriter(LineWriter):
    def write(self, record: Prediction, tokens: TokenOffsets | None = None) -> None:
        self.stream.write(to_json(record) + "\n")


# Starts each record of the CoNLL output, CoNLL-2003's document marker: eiwa's CoNLL reader,
# conlleval and seqeval's readers skip it, and the i-th marker is the i-th input, empty or not.
DOCUMENT_MARKER = "-DOCSTART-\tO\n\n"


class ConllWriter(LineWriter):
    """Each record as a document: a `-DOCSTART-` line (`DOCUMENT_MARKER`) and a blank line, then one
    token a line (`token<TAB>tag`, IOB2: B- at an entity's first token, I- after), a blank line after
    each sentence (of a text's sentences too). A token only partly inside an entity takes the
    entity's tag. An empty or blank text is its marker alone, so the output stays aligned with the
    input. A model whose entity types hold whitespace is refused: no CoNLL tag column can hold them."""

    needs_tokens = True

    def __init__(self, stream: TextIO, labels: list[str], meanings=None, lang=None, model: str | None = None):
        super().__init__(stream, labels)
        problems = [problem for problem in map(type_problem, labels) if problem]
        if problems:
            raise EiwaError(f"--output-format conll: {problems[0]}; write jsonl, doccano or label-studio instead")

    def write(self, record: Prediction, tokens: TokenOffsets | None) -> None:
        text, (starts, ends) = record["text"], tokens
        words = map(text.__getitem__, map(slice, starts.tolist(), ends.tolist()))
        lines = list(map("\t".join, zip(words, iob_tags(starts, ends, record["entities"]))))
        # A blank line before the first token of each later sentence.
        breaks = [s["start"] for s in record.get("sentences", [])[1:]]
        for index in np.flatnonzero(np.isin(starts, breaks)).tolist():
            lines[index] = "\n" + lines[index]
        self.stream.write(DOCUMENT_MARKER + ("\n".join(lines) + "\n\n" if lines else ""))


def iob_tags(starts: np.ndarray, ends: np.ndarray, entities) -> list[str]:
    """Each token's IOB2 tag: the tokens an entity overlaps (found by binary search over the sorted,
    non-overlapping token offsets) take B- then I- and its type."""
    tags = ["O"] * len(starts)
    for entity in entities:
        first = int(np.searchsorted(ends, entity["start"], side="right"))  # the first token ending after its start
        last = int(np.searchsorted(starts, entity["end"], side="left"))  # after the last token starting before its end
        if first < last:
            tags[first:last] = ["B-" + entity["type"]] + ["I-" + entity["type"]] * (last - first - 1)
    return tags


# What HTML forbids in a page (the HTML standard's "control" and "noncharacter" code points, and lone
# surrogates, which no encoding can hold); tab, line feed, form feed and carriage return are allowed.
FORBIDDEN_IN_HTML = re.compile(
    "[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef"
    + "".join(f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17))
    + "]"
)


def _visible(match: re.Match) -> str:
    """One character for one: a C0 control or DEL as its Control Pictures symbol (NUL: ␀), anything
    else forbidden as U+FFFD, so that the page holds exactly as many characters as the text."""
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)
    return "\u2421" if code == 0x7F else "\ufffd"


def escape(text: str) -> str:
    """`text` as HTML text or attribute value: markup characters escaped, each character HTML forbids
    (NUL, other controls, lone surrogates, noncharacters) shown as one visible stand-in, and a carriage
    return as a reference (a raw one the browser would merge into the line feed after it)."""
    return html.escape(FORBIDDEN_IN_HTML.sub(_visible, text)).replace("\r", "&#13;")


def highlight(record: Prediction) -> str:
    """The text as HTML, each entity a <mark> with its type and confidence, coloured by its type.
    Character for character the text (`escape`), so an entity's offsets still count its place."""
    text, parts, cursor = record["text"], [], 0
    for entity in sorted(record["entities"], key=lambda e: e["start"]):
        parts.append(escape(text[cursor : entity["start"]]))
        confidence = entity.get("confidence")
        title = entity["type"] + (f" {confidence:.2f}" if confidence is not None else "")
        parts.append(
            f'<mark class="entity" data-type="{escape(entity["type"])}" title="{escape(title)}" '
            f'style="{label_style(entity["type"])}">{escape(entity["text"])}'
            f'<span class="label">{escape(title)}</span></mark>'
        )
        cursor = entity["end"]
    parts.append(escape(text[cursor:]))
    return "".join(parts)


def legend(labels: list[str], meanings: dict[str, str] | None = None) -> str:
    """The labels as they are highlighted, each followed by its meaning where the model gives one."""
    items = []
    for label in labels:
        meaning = (meanings or {}).get(label, "")
        items.append(
            f'<li><mark class="key" style="{label_style(label)}">{escape(label)}</mark>'
            + (f' <span class="meaning">{escape(meaning)}</span>' if meaning else "")
            + "</li>"
        )
    return f'<ul class="legend">{"".join(items)}</ul>'


# Japanese fonts first, so that kana and kanji never fall back to boxes where one of them is
# installed (on Debian: fonts-noto-cjk); `lang` on <html> picks the Japanese glyph forms.
FONTS = (
    '"Hiragino Sans","Hiragino Kaku Gothic ProN","Noto Sans CJK JP","Noto Sans JP","Yu Gothic",YuGothic,'
    "Meiryo,system-ui,sans-serif"
)

# nowrap: an entity is never split across lines, while the text between entities still wraps
# (anywhere in Japanese, at spaces in English, and inside a long unbroken run: overflow-wrap).
STYLE = f"""body{{font-family:{FONTS};max-width:60em;margin:2em auto;padding:0 1em;line-height:2.2}}
mark.entity,mark.key{{white-space:nowrap;padding:.1em .3em;border-radius:.3em;
-webkit-box-decoration-break:clone;box-decoration-break:clone}}
mark.entity .label{{font-size:.65em;font-weight:bold;margin-left:.3em;vertical-align:middle}}
ul.legend{{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:0 1.5em}}
p.text{{border-bottom:1px solid #eee;padding-bottom:.5em;overflow-wrap:anywhere}}"""


def page_head(title: str, lang: str | None, extra_style: str = "") -> str:
    """The start of a page, up to and including <body>."""
    lang_attribute = f' lang="{escape(lang)}"' if lang else ""
    return (
        f'<!DOCTYPE html>\n<html{lang_attribute}><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
        f"<style>{STYLE}{extra_style}</style></head><body>"
    )


class HtmlWriter(LineWriter):
    """A standalone page: a legend of the model's labels, then each text with its entities."""

    def __init__(self, stream: TextIO, labels: list[str], meanings=None, lang=None, model: str | None = None):
        super().__init__(stream, labels)
        stream.write(page_head("eiwa entities", lang) + f"\n{legend(labels, meanings)}\n")

    def write(self, record: Prediction, tokens: TokenOffsets | None = None) -> None:
        self.stream.write(f'<p class="text">{highlight(record)}</p>\n')

    def close(self) -> None:
        self.stream.write("</body></html>\n")


class DoccanoWriter(LineWriter):
    """Doccano's sequence-labelling import, JSON Lines: `{"text": ..., "label": [[start, end, "TYPE"]]}`
    (character offsets, end exclusive), with the input's "id" and "meta" where it had them: what
    eiwa's doccano reader reads back."""

    def write(self, record: Prediction, tokens: TokenOffsets | None = None) -> None:
        task = {k: record[k] for k in ("id", "meta") if k in record}
        task["text"] = record["text"]
        task["label"] = [[e["start"], e["end"], e["type"]] for e in record["entities"]]
        self.stream.write(to_json(task) + "\n")


class LabelStudioWriter(LineWriter):
    """A Label Studio task list (one JSON array, written an item at a time) with the entities as
    `predictions`, which Label Studio shows for the annotator to correct
    (https://labelstud.io/guide/predictions): per task `{"data": {"text"}, "predictions": [{"model_version",
    "score", "result": [{"id", "from_name": "label", "to_name": "text", "type": "labels", "value":
    {"start", "end", "text", "labels": [TYPE]}, "score"}]}]}`. A region's score is the entity's
    confidence; the task's, the model's confidence in the whole text (1 - its uncertainty, where
    `eiwa select` measured it; Label Studio shows the lowest first). The labelling config this fits:
    `<Labels name="label" toName="text">` and `<Text name="text" value="$text"/>`."""

    def __init__(self, stream: TextIO, labels: list[str], meanings=None, lang=None, model: str | None = None):
        super().__init__(stream, labels)
        self.model = model or "eiwa"
        self.count = 0
        stream.write("[")

    def write(self, record: Prediction, tokens: TokenOffsets | None = None) -> None:
        self.stream.write((",\n" if self.count else "\n") + to_json(self.task(record, self.count)))
        self.count += 1

    def task(self, record: Prediction, number: int) -> dict:
        results = [
            {
                "id": f"t{number}e{index}",
                "from_name": "label",
                "to_name": "text",
                "type": "labels",
                "value": {"start": e["start"], "end": e["end"], "text": e["text"], "labels": [e["type"]]},
                **({"score": e["confidence"]} if "confidence" in e else {}),
            }
            for index, e in enumerate(record["entities"])
        ]
        prediction = {"model_version": self.model, "result": results}
        if record.get("uncertainty") is not None:
            prediction["score"] = round(1.0 - record["uncertainty"], 4)
        data = {"text": record["text"], **({"id": record["id"]} if "id" in record else {})}
        return {"data": data, **({"meta": record["meta"]} if "meta" in record else {}), "predictions": [prediction]}

    def close(self) -> None:
        self.stream.write("\n]\n" if self.count else "]\n")


WRITERS = {
    "jsonl": JsonlWriter,
    "conll": ConllWriter,
    "html": HtmlWriter,
    "doccano": DoccanoWriter,
    "label-studio": LabelStudioWriter,
}
