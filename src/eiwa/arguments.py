"""Argument checks shared by the Python API, the CLI, the spaCy component and the server.

Each check returns the value it accepts and raises an `EiwaError` of one line naming the argument
and the value it refused, so every entry point refuses the same things with the same words.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import click

from eiwa.errors import EiwaError

# Seeds are multiplied by about 10^6 and offset before torch.manual_seed, which takes at most 64 bits;
# 2^32 leaves a wide margin and is what numpy's legacy seeding accepts too.
SEED_LIMIT = 2**32

# A model whose parameters alone would need more than this is refused before anything is allocated.
MAX_PARAMETER_BYTES = 64 * 2**30


def _describe(value) -> str:
    """The value as an error shows it: its repr, cut short, and its type where the repr hides it."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _is_integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def positive_int(name: str, value, upper: int | None = None) -> int:
    """`value` as an int of at least 1 (and at most `upper`): no bool, float or numeric string."""
    return int_in_range(name, value, 1, upper)


def int_in_range(name: str, value, low: int | None = None, upper: int | None = None) -> int:
    """`value` as an int in [low, upper] (either bound may be open); bools and floats are refused."""
    if not _is_integer(value):
        raise EiwaError(f"{name} must be an integer, got {_describe(value)}")
    if low is not None and value < low:
        raise EiwaError(f"{name} must be at least {low}, got {value}")
    if upper is not None and value > upper:
        raise EiwaError(f"{name} must be at most {upper}, got {value}")
    return value


def seed(name: str, value) -> int:
    """A random seed: an int in [0, 2^32)."""
    if _is_integer(value) and not 0 <= value < SEED_LIMIT:
        raise EiwaError(f"{name} must be in [0, 2^32), got {value}")
    return int_in_range(name, value, 0)


def finite_number(name: str, value, low: float | None = None, high: float | None = None) -> float:
    """`value` as a finite float in [low, high]: NaN, infinities, bools and strings are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise EiwaError(f"{name} must be a number, got {_describe(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise EiwaError(f"{name} must be a finite number, got {value}") from None
    if not math.isfinite(number):
        raise EiwaError(f"{name} must be a finite number, got {value}")
    if low is not None and number < low:
        raise EiwaError(f"{name} must be at least {low:g}, got {value}")
    if high is not None and number > high:
        raise EiwaError(f"{name} must be at most {high:g}, got {value}")
    return number


def text_or_texts(value) -> list[str] | Iterable[str]:
    """One text (returned as a list of one) or an iterable of texts (returned as is, read lazily;
    each element is checked where it is read). Bytes and non-iterables are refused."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        raise EiwaError(
            f"texts must be a string or an iterable of strings, got {type(value).__name__}: decode it first"
        )
    if value is None or isinstance(value, dict) or not isinstance(value, Iterable):
        raise EiwaError(f"texts must be a string or an iterable of strings, got {_describe(value)}")
    return value


def text_item(value) -> str:
    """One element of an iterable of texts."""
    if not isinstance(value, str):
        raise EiwaError(f"texts must be strings, got {_describe(value)}")
    return value


def model_name(value) -> str | Path:
    """A model name or a model directory's path."""
    if isinstance(value, Path) or (isinstance(value, str) and value.strip()):
        return value
    raise EiwaError(f"expected a model name or a model directory's path, got {_describe(value)}")


def path(name: str, value, optional: bool = False, kind: str | None = None) -> str | os.PathLike | None:
    """A file or directory's path: a non-empty string or an `os.PathLike` of text, without NUL
    characters (None too where `optional`). Bytes are refused: eiwa's paths are text. `kind` says
    what the argument is where "a path" would not (e.g. a model's name or directory)."""
    if value is None and optional:
        return None
    if isinstance(value, os.PathLike):
        text = os.fspath(value)
        if not isinstance(text, str):
            raise EiwaError(f"{name} must be a path of text, got {_describe(value)}")
    elif isinstance(value, str):
        text = value
    else:
        kind = kind or "a path (str or pathlib.Path)"
        raise EiwaError(f"{name} must be {kind}{' or None' if optional else ''}, got {_describe(value)}")
    if not text.strip():
        raise EiwaError(f"{name} must not be an empty path, got {_describe(value)}")
    if "\x00" in text:
        raise EiwaError(f"{name} must not contain a NUL character, got {_describe(value)}")
    return value


def paths(name: str, value) -> list:
    """One path or a list or tuple of paths, as a list."""
    if isinstance(value, (str, os.PathLike)):
        return [path(name, value)]
    if not isinstance(value, (list, tuple)):
        raise EiwaError(f"{name} must be a path or a list of paths, got {_describe(value)}")
    return [path(name, item) for item in value]


def seeds(name: str, value) -> list[int]:
    """A non-empty list or tuple of seeds."""
    if not isinstance(value, (list, tuple)) or not value:
        raise EiwaError(f"{name} must be a non-empty list of integers, got {_describe(value)}")
    return [seed(name, item) for item in value]


def optional_text(name: str, value, empty: bool = True) -> str | None:
    """None or a string (a non-blank one unless `empty`)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise EiwaError(f"{name} must be a string or None, got {_describe(value)}")
    if not empty and not value.strip():
        raise EiwaError(f"{name} must not be empty, got {_describe(value)}")
    return value


def flag(name: str, value) -> bool:
    """True or False, nothing that merely tests as one."""
    if not isinstance(value, bool):
        raise EiwaError(f"{name} must be True or False, got {_describe(value)}")
    return value


def strings(name: str, value, optional: bool = False) -> list[str] | None:
    """A list or tuple of non-empty strings (None too where `optional`); one string alone is refused,
    since it would be read letter by letter."""
    if value is None and optional:
        return None
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) and item for item in value):
        raise EiwaError(f"{name} must be a list of non-empty strings, got {_describe(value)}")
    return list(value)


def string_mapping(name: str, value, optional: bool = False) -> Mapping | None:
    """A mapping whose keys are strings (None too where `optional`); its values are checked by its user."""
    if value is None and optional:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        raise EiwaError(f"{name} must be a mapping with string keys, got {_describe(value)}")
    return value


def device_name(name: str, value) -> str:
    """A device's name (its value is checked by `eiwa.tagger.resolve_device`)."""
    if not isinstance(value, str):
        raise EiwaError(f"{name} must be cpu, cuda, cuda:N, auto or a torch.device, got {_describe(value)}")
    return value


def function(name: str, value) -> Callable:
    """Something callable, such as a log function."""
    if not callable(value):
        raise EiwaError(f"{name} must be callable, got {_describe(value)}")
    return value


def parameter_bytes(what: str, count: int, bytes_per_parameter: int = 4) -> int:
    """Refuse settings (`what` names them) whose `count` parameters would take more than
    `MAX_PARAMETER_BYTES`."""
    size = count * bytes_per_parameter
    if size > MAX_PARAMETER_BYTES:
        raise EiwaError(
            f"{what} is too large: the model's parameters alone would take {_human_bytes(size)} "
            f"(at most {_human_bytes(MAX_PARAMETER_BYTES)})"
        )
    return size


def _human_bytes(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{size:.3g} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


class FiniteFloatRange(click.FloatRange):
    """click's FloatRange, which accepts nan and inf, with both refused."""

    name = "finite float range"

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number
