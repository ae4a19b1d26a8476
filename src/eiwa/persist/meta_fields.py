"""The shape of every meta.json field that eiwa reads, checked in one place when a model is loaded.

meta.json is outside the model's checksums (labels and the card are written after training), so a
hand-edited or damaged field must be refused here, in one line naming the file and the field, rather
than end in an AttributeError where `eiwa info`, the server or transfer reads it. Fields eiwa only
writes (the history of candidates or rounds) are not checked; unknown fields are kept as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from eiwa.errors import ModelError


@dataclass(frozen=True)
class Table:
    """A JSON object: these fields have these shapes (others are allowed); `required` must be there."""

    fields: Mapping[str, object]
    required: tuple[str, ...] = ()


@dataclass(frozen=True)
class MapOf:
    """A JSON object of any keys, each value of one shape."""

    value: object


@dataclass(frozen=True)
class ListOf:
    item: object


NUMBER = "number"  # an int or a float, not a bool
TEXT = "text"  # a non-empty string
_MISSING = object()  # a required field that is absent
_WHAT = {str: "a string", int: "an integer", NUMBER: "a number", TEXT: "a non-empty string"}

_RATES = {"precision": NUMBER, "recall": NUMBER, "f1": NUMBER}
_SCORES = Table(
    {**_RATES, "data": str, "sentences": int, "per_type": MapOf(Table({**_RATES, "gold": int}, (*_RATES, "gold")))},
    ("data", "sentences", *_RATES),
)
CARD = Table(
    {
        "name": str,
        "summary": TEXT,
        "licence": TEXT,
        "labels": MapOf(str),
        "data": Table(
            {"name": str, "licence": str, "attribution": str, "url": str}, ("name", "licence", "attribution")
        ),
        "commands": ListOf(str),
        "seed": int,
        "scores": MapOf(_SCORES),
        "versions": MapOf(str),
    },
    ("summary", "licence", "labels", "data", "commands", "seed"),
)
TRAINING = Table(
    {
        "train_sentences": int,
        "dev_sentences": int,
        "best_dev_f1": NUMBER,
        "best_epoch": int,
        "epochs": int,
        "seconds": NUMBER,
        "warnings": ListOf(str),
    }
)
META = Table(
    {
        "format": str,
        "eiwa_version": str,
        "lang": str,
        "entity_types": ListOf(str),
        "files": MapOf(str),
        "labels": MapOf(str),
        "card": CARD,
        "training": TRAINING,
        "transfer": Table({"source": str, "fresh_inputs": ListOf(str)}),
    }
)


def check_meta(path: Path, meta: object) -> dict:
    """`meta` (meta.json's content, read from `path`) if every field eiwa reads has its shape; else a
    ModelError naming the first field that does not."""
    problem = misshapen(meta, META)
    if problem is not None:
        raise ModelError(f"{path}: damaged: {problem}")
    return meta


def misshapen(value: object, shape: object, where: str = "") -> str | None:
    """What is wrong with the first field of `value` (named under `where`) that does not have its
    `shape`, in words; None when every field has it."""
    problem = _problem(value, shape, where)
    if problem is None:
        return None
    where, expected, found = problem
    if found is _MISSING:
        return f"{where} is missing"
    return f"{where or 'the file'} must be {expected}, got {_describe(found)}"


def _problem(value: object, shape: object, where: str) -> tuple[str, str, object] | None:
    """(field, what it must be, its value) of the first misshapen field under `where`, or None."""
    if isinstance(shape, Table):
        return _table_problem(value, shape, where)
    if isinstance(shape, MapOf):
        if not isinstance(value, dict):
            return where, "an object", value
        return next((p for k, v in value.items() if (p := _problem(v, shape.value, _join(where, k)))), None)
    if isinstance(shape, ListOf):
        if not isinstance(value, list):
            return where, "a list", value
        return next((p for i, v in enumerate(value) if (p := _problem(v, shape.item, f"{where}[{i}]"))), None)
    return None if _scalar_fits(value, shape) else (where, _WHAT[shape], value)


def _table_problem(value: object, table: Table, where: str) -> tuple[str, str, object] | None:
    if not isinstance(value, dict):
        return where, "an object", value
    missing = next((key for key in table.required if key not in value), None)
    if missing is not None:
        return _join(where, missing), "present", _MISSING
    return next(
        (p for k, s in table.fields.items() if k in value and (p := _problem(value[k], s, _join(where, k)))), None
    )


def _scalar_fits(value: object, shape: object) -> bool:
    if isinstance(value, bool):
        return False
    if shape is NUMBER:
        return isinstance(value, (int, float))
    if shape is TEXT:
        return isinstance(value, str) and bool(value.strip())
    return isinstance(value, shape)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else str(key)


def _describe(value: object) -> str:
    text = repr(value)
    return f"{text[:57]}... ({type(value).__name__})" if len(text) > 60 else f"{text} ({type(value).__name__})"


__all__ = ["check_meta", "misshapen", "CARD", "TRAINING", "META"]
