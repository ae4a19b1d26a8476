"""What `Tagger.predict` and `pipe` return: typed JSON records, with a checked round trip.

They are TypedDicts, so a result is a plain dict (`result["entities"][0]["start"]`) that type
checkers know the shape of, and that `json.dumps` writes as it is.

    {"text": "田中さんは東京に住んでいる。",
     "entities": [{"start": 0, "end": 2, "type": "人名", "text": "田中", "confidence": 0.9731}]}

`confidence` is the probability, under the model, of the entity's tags (the CRF marginal of
exactly those tags on those tokens). Records read back by `from_json` are checked: each entity's
offsets must slice its text to its `text`.
"""

from __future__ import annotations

import json
from typing import NotRequired, TypedDict

from eiwa.errors import DataError
from eiwa.persist.atomic import json_text


class Entity(TypedDict):
    start: int  # character offset into the text, inclusive
    end: int  # exclusive
    type: str
    text: str  # text[start:end]
    confidence: NotRequired[float]  # 0..1; absent for entities that are not predictions


class Prediction(TypedDict):
    id: NotRequired[object]  # passed through from the input record (eiwa predict --format jsonl)
    meta: NotRequired[object]
    text: str
    entities: list[Entity]


def to_json(prediction: Prediction) -> str:
    """One line of JSON; text UTF-8 cannot hold (a lone surrogate) is \\u-escaped (persist.json_text)."""
    return json_text(prediction)


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
    return value
