"""`eiwa predict --output-format`: predictions written as they are made, as JSON Lines, CoNLL
columns (token and BIO tag) or one standalone HTML page with the entities highlighted in place.

Each writer takes (record, sentence) pairs: the JSON-ready record (`results.Prediction`, with any
`id`/`meta` of the input passed through) and the tokenized sentence it came from.
"""

from __future__ import annotations

import html
from typing import TextIO

from eiwa.doc import Sentence
from eiwa.serving.results import Prediction, to_json

OUTPUT_FORMATS = ("jsonl", "conll", "html")

# Colour-blind-safe hues (Okabe-Ito and Tol), cycled over the model's labels.
_COLOURS = (
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
    "#88CCEE",
    "#DDCC77",
    "#AA4499",
    "#44AA99",
    "#999933",
)


class JsonlWriter:
    def __init__(self, stream: TextIO, labels: list[str]):
        self.stream = stream

    def write(self, record: Prediction, sentence: Sentence) -> None:
        self.stream.write(to_json(record) + "\n")

    def close(self) -> None:
        pass


class ConllWriter:
    """One token a line (`token<TAB>tag`, IOB2: B- at an entity's first token, I- after), a blank
    line after each sentence (of a text's sentences too). A token only partly inside an entity takes
    the entity's tag."""

    def __init__(self, stream: TextIO, labels: list[str]):
        self.stream = stream

    def write(self, record: Prediction, sentence: Sentence) -> None:
        tags = ["O"] * len(sentence.tokens)
        for entity in record["entities"]:
            inside = [i for i, t in enumerate(sentence.tokens) if t.start < entity["end"] and t.end > entity["start"]]
            for position, index in enumerate(inside):
                tags[index] = ("B-" if position == 0 else "I-") + entity["type"]
        breaks = {s["start"] for s in record.get("sentences", [])[1:]}  # a blank line before each later sentence
        lines = [
            ("\n" if t.start in breaks else "") + f"{sentence.text[t.start : t.end]}\t{tag}"
            for t, tag in zip(sentence.tokens, tags)
        ]
        self.stream.write("\n".join(lines) + "\n\n")

    def close(self) -> None:
        pass


def entity_colours(labels: list[str]) -> dict[str, str]:
    return {label: _COLOURS[i % len(_COLOURS)] for i, label in enumerate(labels)}


def highlight(record: Prediction, colours: dict[str, str]) -> str:
    """The text as HTML, each entity a <mark> with its type and confidence."""
    text, parts, cursor = record["text"], [], 0
    for entity in sorted(record["entities"], key=lambda e: e["start"]):
        parts.append(html.escape(text[cursor : entity["start"]]))
        confidence = entity.get("confidence")
        title = entity["type"] + (f" {confidence:.2f}" if confidence is not None else "")
        parts.append(
            f'<mark class="entity" data-type="{html.escape(entity["type"])}" title="{html.escape(title)}" '
            f'style="background:{colours.get(entity["type"], "#ccc")}">{html.escape(entity["text"])}'
            f'<span class="label">{html.escape(title)}</span></mark>'
        )
        cursor = entity["end"]
    parts.append(html.escape(text[cursor:]))
    return "".join(parts)


STYLE = """body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;line-height:2.2}
mark.entity{padding:.1em .3em;border-radius:.3em}
mark.entity .label{font-size:.65em;font-weight:bold;margin-left:.3em;vertical-align:middle}
.legend span{padding:.1em .4em;margin-right:.5em;border-radius:.3em}
p.text{border-bottom:1px solid #eee;padding-bottom:.5em}"""


class HtmlWriter:
    """A standalone page: a legend of the model's labels, then each text with its entities."""

    def __init__(self, stream: TextIO, labels: list[str]):
        self.stream = stream
        self.colours = entity_colours(labels)
        legend = "".join(
            f'<span style="background:{c}">{html.escape(label)}</span>' for label, c in self.colours.items()
        )
        stream.write(
            f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>eiwa entities</title>'
            f'<style>{STYLE}</style></head><body>\n<p class="legend">{legend}</p>\n'
        )

    def write(self, record: Prediction, sentence: Sentence) -> None:
        self.stream.write(f'<p class="text">{highlight(record, self.colours)}</p>\n')

    def close(self) -> None:
        self.stream.write("</body></html>\n")


WRITERS = {"jsonl": JsonlWriter, "conll": ConllWriter, "html": HtmlWriter}
