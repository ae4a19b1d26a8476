"""The one model factory: a fresh tagger from a config and its training sentences, or one whose
modules start from a source model (transfer).

`build` makes one model: features fitted on the training sentences (vocabularies, pretrained
tables, dictionaries), weights initialised under `config.seed`, then, with a source, the chosen
modules copied from it (crosslingual/weights.py). A `Start` says what to start from before the target
data is at hand (scratch; modules of a source; or `auto`, several candidates), and `starts` makes
its model(s) for a config and training sentences.

A transferred target inherits the source's architecture (the classifier's sizes and tag scheme,
and the settings of each feature the source has), since the copied weights only fit it; its
inputs, any features the source lacks, and its training settings are its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import torch

from eiwa.config import Config
from eiwa.crosslingual.bridge import BridgeReport
from eiwa.crosslingual.label_map import LabelMap, format_label_map, label_map_and_evidence
from eiwa.crosslingual.starts import (
    AUTO,
    DEFAULT_MODULES,
    SHARED,
    auto_candidates,
    check_modules,
    parse_start_modules,
    shared_modules,
    target_config,
)
from eiwa.crosslingual.weights import bridge_words, bridges, copy_modules, inherit_tags, inherit_vocabularies
from eiwa.doc import Sentence
from eiwa.features.encoder import Encoder
from eiwa.tagger import Tagger

# What the items of each transferable vocabulary are, for the report's lines.
ITEMS = {
    "bigrams": "character bigrams",
    "words": "words",
    "upos": "universal part-of-speech tags",
    "levels": "UniDic part-of-speech levels",
}
LANGUAGE_NAMES = {"en": "English", "ja": "Japanese"}
# Why few items of a vocabulary match across languages, where that is the rule rather than a problem.
WHY_FEW = {
    "words": "word_bridge=jmdict gives Japanese words rows through their English glosses",
    "levels": "UniDic levels are Japanese, an English source has none",
}


@dataclass
class TransferReport:
    """What a transfer copied: shown to the user and kept in the model's meta.json."""

    modules: list[str]
    label_map: LabelMap
    copied: dict[str, tuple[int, int]]  # table -> (target training items the source knows, target training items)
    mapped_tags: tuple[int, int]  # (target tags given source rows, target tags)
    fresh_inputs: list[str] = field(default_factory=list)  # classifier input blocks of features the source lacks
    bridge: BridgeReport | None = None  # the word bridge's coverage (bridge.py), when one ran
    languages: tuple[str, str] = ("", "")  # (source, target), for saying what coverage to expect
    new_rows: str = "random"  # how rows of items the source lacks start (the target's `new_rows`)
    fresh_types: list[str] = field(default_factory=list)  # target types without a source type in the map

    def lines(self) -> list[str]:
        lines = [f"transferred modules: {', '.join(self.modules) or 'none (training from scratch)'}"]
        lines += [f"  {self._coverage(table, known, total)}" for table, (known, total) in self.copied.items()]
        if "classifier" in self.modules:
            fresh = f"; the tags of {', '.join(self.fresh_types)} start fresh" if self.fresh_types else ""
            lines.append(
                f"  output and CRF rows: {self.mapped_tags[0]} of {self.mapped_tags[1]} target tags start from "
                f"their source type's rows (label map {format_label_map(self.label_map)}){fresh}"
            )
            if self.fresh_inputs:
                lines.append(
                    f"  classifier inputs from features the source lacks start fresh: {', '.join(self.fresh_inputs)}"
                )
        if self.bridge is not None:
            lines += self.bridge.lines()
        return lines

    def _coverage(self, table: str, known: int, total: int) -> str:
        """'words: 67 of 2,998 in the training data (2.2%) are the source's too ...', with what to expect."""
        share = known / total if total else 0.0
        items = ITEMS.get(table, table)
        source, target = (LANGUAGE_NAMES.get(lang, lang) for lang in self.languages)
        line = f"{items}: {known:,} of {total:,} in the training data ({share:.1%}) are the source's too"
        if table == "words" and self.bridge is not None:
            return f"{line} (expected from {source} to {target}: the others come through the word bridge, below)"
        if known:
            line += f" and start from its rows; the others start {self._new_rows()}"
        else:
            line += f": all start {self._new_rows()}"
        if source != target and table in WHY_FEW:
            line += f" (expected from {source} to {target}: {WHY_FEW[table]})"
        return line

    def _new_rows(self) -> str:
        return "as the source's unknown row" if self.new_rows == "unknown" else "fresh"

    def to_dict(self) -> dict:
        return {
            "modules": self.modules,
            "label_map": self.label_map,
            "copied": {k: {"known": a, "total": b} for k, (a, b) in self.copied.items()},
            "mapped_tags": {"mapped": self.mapped_tags[0], "total": self.mapped_tags[1]},
            "fresh_inputs": self.fresh_inputs,
            **({"bridge": self.bridge.to_dict()} if self.bridge else {}),
        }


class Built(NamedTuple):
    tagger: Tagger
    report: TransferReport | None  # None for a model without a source


def build(
    config: Config,
    sentences: Sequence[Sentence],
    source: Tagger | None = None,
    modules: Sequence[str] = (),
    label_map: LabelMap | None = None,
) -> Built:
    """A model for `config` fitted on `sentences`, with `modules` copied from `source`, the
    classifier's tag rows following `label_map`. With a source and no modules the result is
    exactly a fresh model of the source's architecture, so that transfer and scratch differ only
    in what is transferred."""
    if source is None:
        return Built(_initialised(config, Encoder.build(config, sentences)), None)
    modules, label_map = list(modules), label_map or {}
    config = replace(target_config(source.config, config), transferred=",".join(modules))
    check_modules(source, config, modules)
    encoder = Encoder.build(config, sentences)
    copied, headwords = inherit_vocabularies(source, config, encoder, modules)
    tag_rows = ([], [])
    if "classifier" in modules:
        tag_rows = inherit_tags(source.encoder.tags, encoder, label_map, config.tag_scheme)
    target = _initialised(config, encoder)
    fresh_inputs = [name for name in target.model.feature_names if name not in source.model.feature_names]
    copy_modules(source, target, modules, tag_rows)
    bridge = bridge_words(source, target, sentences) if "word" in modules and bridges(source.config, config) else None
    if bridge is not None:
        bridge.added_headwords = headwords
    mapped_types = {kind for kinds in label_map.values() for kind in kinds}
    report = TransferReport(
        modules,
        label_map,
        copied,
        (len(tag_rows[0]), len(encoder.tags)),
        fresh_inputs,
        bridge,
        (source.config.lang, config.lang),
        config.new_rows,
        [kind for kind in encoder.tags.entity_types() if kind not in mapped_types],
    )
    target.meta["transfer"] = {"source": source.origin, **report.to_dict()}
    return Built(target, report)


def _initialised(config: Config, encoder: Encoder) -> Tagger:
    """A tagger with weights drawn under `config.seed`, each feature filling its own tables."""
    torch.manual_seed(config.seed)
    tagger = Tagger.create(config, encoder)
    for name, feature in encoder.features.items():
        feature.initialise(getattr(tagger.model, name))
    return tagger


@dataclass(frozen=True)
class Start:
    """What the model(s) to train start from, before the target data is at hand: scratch (no
    sources), `modules` of the first source (by default SHARED: every module it shares with the
    target), or with `modules = AUTO` every source's `auto_candidates` and scratch. A transferred
    classifier's label map is `label_map`: explicit, a file, or auto (proposed on the training data),
    checked against `target_types` (default: the training data's)."""

    sources: Sequence[Tagger] = ()
    modules: Sequence[str] | str = DEFAULT_MODULES  # SHARED, AUTO, or module names
    label_map: str | None = None
    target_types: Sequence[str] | None = None

    @property
    def auto(self) -> bool:
        return self.modules == AUTO

    @classmethod
    def from_names(cls, source: str, modules: str | None = None, label_map: str | None = None) -> Start:
        """From the command line's words: a source name (with `auto`, several, comma-separated), a module
        list (`shared`, `auto`, `none` or names; None: the default, `shared`) and a label map spec."""
        parsed = parse_start_modules(modules)
        names = [name.strip() for name in (source.split(",") if parsed == AUTO else [source]) if name.strip()]
        return cls([Tagger.load(name) for name in names], parsed, label_map)


def starts(
    start: Start, config: Config, sentences: Sequence[Sentence], log: Callable[[str], None] = lambda line: None
) -> list[Tagger]:
    """The start model(s) of `start` for `config` and these training sentences: one, or with
    `auto` the candidates, the default (`shared` of the first source) first and scratch last
    (exactly as `eiwa train` makes it). The label map is resolved once per source."""
    if not start.sources:
        return [build(config, sentences).tagger]
    maps = _LabelMaps(start, config, sentences, log)
    source = start.sources[0]
    if not start.auto:
        modules = shared_modules(source, config) if start.modules == SHARED else start.modules
        return [_from_source(source, modules, config, sentences, maps, log)]
    candidates = [
        _from_source(source, modules, config, sentences, maps, log)
        for source in start.sources
        for modules in _auto_order(source, config)
    ]
    candidates.append(build(config, sentences).tagger)
    log(
        f"--modules auto: {len(candidates)} candidates, the first the default, which another replaces only if "
        "better on dev beyond chance: " + "; ".join(describe_start(c) for c in candidates)
    )
    return candidates


def _auto_order(source: Tagger, config: Config) -> list[list[str]]:
    """The source's non-empty auto candidates, the default (every shared module) first."""
    default = shared_modules(source, config)
    return [default] + [m for m in auto_candidates(source, config) if m and m != default]


class _LabelMaps:
    """Each source's label map and, for `auto`, its evidence: resolved (and logged) once, however many
    candidates use it."""

    def __init__(self, start: Start, config: Config, sentences: Sequence[Sentence], log: Callable[[str], None]):
        self.start, self.config, self.sentences, self.log = start, config, sentences, log
        self.resolved: dict[int, tuple[LabelMap, dict | None]] = {}

    def of(self, source: Tagger) -> tuple[LabelMap, dict | None]:
        if id(source) not in self.resolved:
            self.resolved[id(source)] = label_map_and_evidence(
                self.start.label_map, source, self.config, self.sentences, self.log, self.start.target_types
            )
        return self.resolved[id(source)]


def describe_start(tagger: Tagger) -> str:
    """'char,classifier from conll03-en', or 'none' (scratch)."""
    modules = tagger.config.transferred
    source = tagger.meta.get("transfer", {}).get("source")
    return f"{modules} from {source}" if modules else "none"


def _from_source(
    source: Tagger,
    modules: Sequence[str],
    config: Config,
    sentences: Sequence[Sentence],
    maps: _LabelMaps,
    log: Callable[[str], None],
) -> Tagger:
    label_map, evidence = maps.of(source) if "classifier" in modules else ({}, None)
    tagger, report = build(config, sentences, source, modules, label_map)
    if evidence is not None:  # kept with the model, so that `eiwa info --json` shows why the map is as it is
        tagger.meta["transfer"]["label_map_evidence"] = {kind: entry["line"] for kind, entry in evidence.items()}
    if report is not None:
        for line in report.lines():
            log(line)
    return tagger
