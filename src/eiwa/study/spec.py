"""Experiment files (experiments/*.toml): read into typed values, every key and value checked.

An experiment is a set of grids. Each grid crosses module subsets, the two input choices,
training-set sizes and feature sets; every cell of it is trained and tested once per seed. Paths in
the file (`out`, `data.path`) are relative to the directory the command runs in, as on the command
line. A key the study does not read is refused, with the keys it knows.

    name = "hironsan"
    out = "results/hironsan"          # default: results/<name>
    seeds = [1, 2, 3]
    [data]
    lang = "ja"
    format = "hironsan"               # or spans / conll with path = "..." (columns, token_prefix for conll)
    protocol = "kfold"                # kfold (folds = 5) or split (the Stockmark rule: i % 10 == 8 dev, 9 test)
    folds = 5
    allow_empty = false               # Label Studio: keep tasks nobody annotated (as eiwa train --allow-empty)
    [source]
    model = "conll03-en"
    label_map = "PER=PSN,LOC=LOC,ORG=ORG,MISC=ART"   # or auto (not for size 0)
    [train]
    config = "small-data"
    set = ["max_epochs=40"]
    [[grid]]
    name = "modules"
    modules = ["none", "char", "char,classifier"]
    word_input = ["native"]
    char_input = ["romaji"]
    sizes = [0, 100, 500]             # optional; default all; 0 (zero-shot) only for cells that transfer the
                                      # classifier and every feature (char,word,classifier by default);
                                      # a size covering the whole training set reuses the full-size cell
    features = ["char,word", "char,word,pos"]   # optional; default: the [train] config's features

A cell with its own `features` is compared with scratch of the same features (Δ, p) and, when it
trains from scratch, also with scratch of the config's default features ("Δ default", "p default"):
that is how a feature's own gain is read.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from eiwa.arguments import SEED_LIMIT
from eiwa.config import INPUTS, Config, load_config
from eiwa.errors import EiwaError
from eiwa.persist.files import read_text
from eiwa.readers import READERS

SCRATCH = "none"  # the modules of a cell trained from scratch
PROTOCOLS = ("kfold", "split")
LANGUAGES = ("en", "ja")


@dataclass(frozen=True)
class DataSpec:
    """[data]: the target corpus, read as `eiwa train` reads it, and how it is split."""

    format: str
    lang: str = "ja"
    path: str | None = None
    columns: tuple[str, ...] | None = None
    token_prefix: str | None = None
    protocol: str = "kfold"
    folds: int = 5
    allow_empty: bool = False  # Label Studio: keep tasks nobody annotated


@dataclass(frozen=True)
class SourceSpec:
    """[source]: the model transfer cells start from, and how its types map to the target's."""

    model: str
    label_map: str = "auto"


@dataclass(frozen=True)
class TrainSpec:
    """[train]: the base training config (a built-in name or a file) and its `--set` overrides."""

    config: str | None = None
    set: tuple[str, ...] = ()


@dataclass(frozen=True)
class GridSpec:
    """One [[grid]]: every combination of its lists is a cell."""

    name: str
    modules: tuple[str, ...] = (SCRATCH,)
    word_input: tuple[str, ...] = ("native",)
    char_input: tuple[str, ...] = ("native",)
    sizes: tuple[int | None, ...] = (None,)  # None: all training sentences
    features: tuple[str | None, ...] = (None,)  # None: the [train] config's features


@dataclass(frozen=True)
class ExperimentSpec:
    """A whole experiment file, checked, with its defaults filled in."""

    name: str
    out: str
    data: DataSpec
    grids: tuple[GridSpec, ...]
    seeds: tuple[int, ...] = (1, 2, 3)
    source: SourceSpec | None = None
    train: TrainSpec = TrainSpec()
    device: str = "cpu"  # set by `eiwa experiment --device`, never by the file

    def base_config(self) -> Config:
        """The [train] config: what every cell starts from, and whose features cells without `features` use."""
        return load_config(self.train.config, list(self.train.set), lang=self.data.lang)

    def for_run(self, overrides: Sequence[str], device: str) -> ExperimentSpec:
        """The spec as one run uses it: `--set` overrides after the file's own, on `device`."""
        return replace(self, train=replace(self.train, set=(*self.train.set, *overrides)), device=device)


def _is_string(value: Any) -> bool:
    return isinstance(value, str)


def _is_strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _is_integer(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


# Per table: key -> (the test its value passes, what the error says it must be).
Rules = dict[str, tuple[Callable[[Any], bool], str]]
TOP_KEYS: Rules = {
    "name": (lambda v: _is_string(v) and bool(v), "a non-empty string"),
    "out": (_is_string, "a string"),
    "seeds": (
        lambda v: isinstance(v, list) and bool(v) and all(_is_integer(s, 0) and s < SEED_LIMIT for s in v),
        "a non-empty list of integers in [0, 2^32)",
    ),
    "data": (lambda v: isinstance(v, dict), "a table"),
    "source": (lambda v: isinstance(v, dict), "a table"),
    "train": (lambda v: isinstance(v, dict), "a table"),
    "grid": (
        lambda v: isinstance(v, list) and bool(v) and all(isinstance(g, dict) for g in v),
        "one or more [[grid]] tables",
    ),
}
DATA_KEYS: Rules = {
    "lang": (lambda v: _is_string(v) and v in LANGUAGES, " or ".join(LANGUAGES)),
    "format": (lambda v: _is_string(v) and v in READERS, f"one of {', '.join(READERS)}"),
    "path": (_is_string, "a string"),
    "columns": (_is_strings, "a list of strings"),
    "token_prefix": (_is_string, "a string"),
    "protocol": (lambda v: _is_string(v) and v in PROTOCOLS, " or ".join(PROTOCOLS)),
    "folds": (lambda v: _is_integer(v, 2), "an integer of at least 2"),
    "allow_empty": (lambda v: isinstance(v, bool), "true or false"),
}
SOURCE_KEYS: Rules = {"model": (_is_string, "a string"), "label_map": (_is_string, "a string")}
TRAIN_KEYS: Rules = {"config": (_is_string, "a string"), "set": (_is_strings, 'a list of "key=value" strings')}
_STRINGS: tuple[Callable[[Any], bool], str] = (_is_strings, "a list of strings")
_INPUTS: tuple[Callable[[Any], bool], str] = (
    lambda v: _is_strings(v) and set(v) <= set(INPUTS),
    f"a list of {' or '.join(INPUTS)}",
)
GRID_KEYS: Rules = {
    "name": (_is_string, "a string"),
    "modules": _STRINGS,
    "word_input": _INPUTS,
    "char_input": _INPUTS,
    "features": _STRINGS,
    "sizes": (lambda v: isinstance(v, list) and all(_is_integer(n, 0) for n in v), "a list of integers of at least 0"),
}

# An annotation study's file (study/annotation.py): one table, with [arms], [variants] and [zero_shot].
ANNOTATION_KEYS: Rules = {
    **{key: (lambda v: _is_string(v) and bool(v), "a non-empty string") for key in ("name", "path", "source")},
    **{key: (_is_string, "a string") for key in ("out", "label_map", "modules", "config")},
    "seeds": TOP_KEYS["seeds"],
    "set": TRAIN_KEYS["set"],
    "arms": (
        lambda v: isinstance(v, dict) and all(GRID_KEYS["sizes"][0](sizes) for sizes in v.values()),
        "a table of arm = [sizes] (integers of at least 0)",
    ),
    "variants": (
        lambda v: isinstance(v, dict) and all(_is_strings(values) for values in v.values()),
        'a table of variant = ["key=value", ...]',
    ),
    "zero_shot": (
        lambda v: isinstance(v, dict) and set(v) <= {f.name for f in fields(Config)},
        "a table of config settings",
    ),
}


def annotation_values(values: dict, path: str | Path) -> dict:
    """An annotation study file's parsed contents, every key known and every value of its shape."""
    return _checked(values, ANNOTATION_KEYS, path, "", required=("name", "path", "source", "label_map", "arms"))


def read_toml(path: Path) -> dict:
    """A TOML file's contents; an unreadable or invalid file is one EiwaError naming it."""
    text = read_text(path, EiwaError, "experiment file")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise EiwaError(f"{path}: invalid TOML: {error}") from None


def load_experiment(path: str | Path) -> ExperimentSpec:
    path = Path(path)
    spec = experiment_spec(read_toml(path), path)
    check_out(spec.out, path)
    return spec


def check_out(out: str | Path, path: str | Path) -> None:
    """Refuse an `out` folder that cannot be one: it, or a folder above it, is a file."""
    for folder in (Path(out), *Path(out).parents):
        if folder.exists() and not folder.is_dir():
            raise EiwaError(f"{path}: out {str(out)!r} cannot be a folder: {folder} is a file")


def experiment_spec(values: dict, path: str | Path = "experiment") -> ExperimentSpec:
    """An experiment file's parsed contents, checked and with its defaults filled in."""
    top = _checked(values, TOP_KEYS, path, "", required=("name", "data", "grid"))
    data = DataSpec(**_checked(top.pop("data"), DATA_KEYS, path, "[data]: ", required=("format",)))
    if "source" in top:
        top["source"] = SourceSpec(**_checked(top["source"], SOURCE_KEYS, path, "[source]: ", required=("model",)))
    if "train" in top:
        top["train"] = TrainSpec(**_checked(top["train"], TRAIN_KEYS, path, "[train]: "))
    grids = tuple(
        GridSpec(**_checked(grid, GRID_KEYS, path, f"grid {_grid_label(grid, number)}: ", required=("name",)))
        for number, grid in enumerate(top.pop("grid"), start=1)
    )
    top.setdefault("out", f"results/{top['name']}")
    return ExperimentSpec(data=data, grids=grids, **top)


def _grid_label(grid: dict, number: int) -> str:
    return repr(grid["name"]) if isinstance(grid.get("name"), str) else str(number)


def _checked(table: dict, rules: Rules, path: str | Path, where: str, required: Sequence[str] = ()) -> dict:
    """The table's values, lists as tuples, once every key is known, every value passes its rule and
    every required key is there (in that order: a wrong value is named before a missing one)."""
    for key, value in table.items():
        if key not in rules:
            raise EiwaError(f"{path}: {where}unknown key {key!r} (known: {', '.join(rules)})")
        test, expected = rules[key]
        if not test(value):
            raise EiwaError(f"{path}: {where}{key} must be {expected}")
    for key in required:
        if key not in table:
            raise EiwaError(f"{path}: {where}missing {key!r}")
    return {key: tuple(value) if isinstance(value, list) else value for key, value in table.items()}
