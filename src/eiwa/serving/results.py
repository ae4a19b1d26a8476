"""What `Tagger.predict` and `pipe` return: typed JSON records, with a checked round trip.

They are TypedDicts, so a result is a plain dict (`result["entities"][0]["start"]`) that type
checkers know the shape of, and that `json.dumps` writes as it is.

    {"text": "田中さんは東京に住んでいる。鈴木さんも。",
     "entities": [{"start": 0, "end": 2, "type": "人名", "text": "田中", "confidence": 0.9731},
                  {"start": 14, "end": 16, "type": "人名", "text": "鈴木", "confidence": 0.9612}],
     "sentences": [{"start": 0, "end": 14}, {"start": 14, "end": 20}]}

Offsets are characters of the whole given text. `sentences` are the stretches of it that were
tagged as one sentence each, in order, whitespace around them left out (`eiwa.tokenize.sentences`;
one, the whole text, when splitting was turned off; none for a blank text). `confidence` is the
probability, under the model, of the entity's tags (the CRF marginal of exactly those tags on
those tokens). Records read back by `from_json` are checked: each entity's offsets must slice its
text to its `text`, and sentences must be in order and inside the text.

The TypedDicts come from typing_extensions so that pydantic (the server's OpenAPI schema) reads
them on Python 3.11 too.
"""

from __future__ import annotations

import json
from typing import NotRequired

from typing_extensions import TypedDict  # typing's before 3.12 lacks what pydantic needs to read it

from eiwa.errors import DataError
from eiwa.persist.atomic import json_text


class Entity(TypedDict):
    """An entity found in the text: its character offsets, type and text, and the model's probability of it."""

    start: int  # character offset into the text, inclusive
    end: int  # exclusive
    type: str
    text: str  # text[start:end]
    confidence: NotRequired[float]  # 0..1; absent for entities that are not predictions


class SentenceSpan(TypedDict):
    """A stretch of the text tagged as one sentence, as character offsets."""

    start: int  # character offset into the text of the whole record, inclusive
    end: int  # exclusive


class Prediction(TypedDict):
    """One text's result: the text, its entities and its sentences (offsets into the text)."""

    id: NotRequired[object]  # passed through from the input record (eiwa predict --format jsonl)
    meta: NotRequired[object]
    text: str
    entities: list[Entity]
    sentences: NotRequired[list[SentenceSpan]]  # always in eiwa's results; absent in records of eiwa < 0.3


# Line breaks to str.splitlines (and to JavaScript before ES2019) that JSON leaves raw inside strings.
LINE_BREAKS_IN_STRINGS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def to_json(value) -> str:
    """One line of JSON that stays one line to any line splitter: text UTF-8 cannot hold (a lone
    surrogate) is \\u-escaped (persist.json_text), and so are U+0085, U+2028 and U+2029 (which JSON
    allows raw, but str.splitlines breaks at); all read back as the same characters."""
    return json_text(value).translate(LINE_BREAKS_IN_STRINGS)


def from_json(line: str, origin: str = "<json>") -> Prediction:
    """A prediction record from its JSON, checked for shape and offsets (DataError otherwise)."""
    try:
        value = json.loads(line)
    except (json.JSONDecodeError, RecursionError) as error:
        raise DataError(origin, None, f"invalid JSON: {error}") from None
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("text"), str)
        or not isinstance(value.get("entities"), list)
    ):
        raise DataError(origin, None, 'a prediction is an object with a "text" string and an "entities" list')
    text = value["text"]
    for entity in value["entities"]:
        if not isinstance(entity, dict):
            raise DataError(origin, None, f"entity must be an object, got {entity!r}")
        start, end = entity.get("start"), entity.get("end")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)) or not 0 <= start < end <= len(
            text
        ):
            raise DataError(origin, None, f"entity offsets out of range: {entity!r}")
        if not isinstance(entity.get("type"), str) or entity.get("text") != text[start:end]:
            raise DataError(origin, None, f"entity needs a type and the text its offsets slice: {entity!r}")
        confidence = entity.get("confidence")
        if confidence is not None and not (isinstance(confidence, (int, float)) and 0 <= confidence <= 1):
            raise DataError(origin, None, f"confidence must be a number in [0, 1]: {entity!r}")
    check_sentences(value.get("sentences", []), len(text), origin)
    return value


def check_sentences(sentences: object, length: int, origin: str) -> None:
    """A record's sentences: a list of `{"start", "end"}` in order, not overlapping, inside its text."""
    if not isinstance(sentences, list):
        raise DataError(origin, None, f'"sentences" must be a list, got {type(sentences).__name__}')
    previous_end = 0
    for sentence in sentences:
        start, end = (sentence.get("start"), sentence.get("end")) if isinstance(sentence, dict) else (None, None)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)) or not (
            previous_end <= start < end <= length
        ):
            raise DataError(origin, None, f"sentence offsets out of order or range: {sentence!r}")
        previous_end = end
