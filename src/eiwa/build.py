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
from eiwa.crosslingual.label_map import LabelMap, format_label_map, resolve_label_map
from eiwa.crosslingual.starts import AUTO, SHARED, auto_candidates, check_modules, shared_modules, target_config
from eiwa.crosslingual.weights import bridge_words, bridges, copy_modules, inherit_tags, inherit_vocabularies
from eiwa.doc import Sentence
from eiwa.features.encoder import Encoder
from eiwa.tagger import Tagger


@dataclass
class TransferReport:
    """What a transfer copied: shown to the user and kept in the model's meta.json."""

    modules: list[str]
    label_map: LabelMap
    copied: dict[str, tuple[int, int]]  # table -> (target training items the source knows, target training items)
    mapped_tags: tuple[int, int]  # (target tags given source rows, target tags)
    fresh_inputs: list[str] = field(default_factory=list)  # classifier input blocks of features the source lacks
    bridge: BridgeReport | None = None  # the word bridge's coverage (bridge.py), when one ran

    def lines(self) -> list[str]:
        lines = [f"transferred modules: {', '.join(self.modules) or 'none (training from scratch)'}"]
        for table, (known, total) in self.copied.items():
            share = known / total if total else 0.0
            lines.append(f"  {table}: {known} of {total} target training items ({share:.1%}) have source rows")
        if "classifier" in self.modules:
            lines.append(
                f"  label map {format_label_map(self.label_map)}: {self.mapped_tags[0]} of "
                f"{self.mapped_tags[1]} target tags start from source rows"
            )
            if self.fresh_inputs:
                lines.append(
                    f"  classifier inputs from features the source lacks start fresh: {', '.join(self.fresh_inputs)}"
                )
        if self.bridge is not None:
            lines += self.bridge.lines()
        return lines

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
    report = TransferReport(modules, label_map, copied, (len(tag_rows[0]), len(encoder.tags)), fresh_inputs, bridge)
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
    sources), `modules` of the first source, or with `modules = AUTO` scratch and every source's
    `auto_candidates`. A transferred classifier's label map is `label_map`: explicit, a file, or
    auto (proposed on the training data), checked against `target_types` (default: the training data's)."""

    sources: Sequence[Tagger] = ()
    modules: Sequence[str] | str = ()  # or AUTO
    label_map: str | None = None
    target_types: Sequence[str] | None = None

    @property
    def auto(self) -> bool:
        return self.modules == AUTO

    @classmethod
    def from_names(cls, source: str, modules: str, label_map: str | None = None) -> Start:
        """From the command line's words: a source name (with `auto`, several, comma-separated), a module
        list (`shared`, `none`, `auto` or names) and a label map spec."""
        from eiwa.crosslingual.starts import parse_modules

        auto = modules.strip() == AUTO
        names = [name.strip() for name in (source.split(",") if auto else [source]) if name.strip()]
        sources = [Tagger.load(name) for name in names]
        if modules.strip() == SHARED:
            return cls(sources, SHARED, label_map)
        return cls(sources, AUTO if auto else parse_modules(modules), label_map)


def starts(
    start: Start, config: Config, sentences: Sequence[Sentence], log: Callable[[str], None] = lambda line: None
) -> list[Tagger]:
    """The start model(s) of `start` for `config` and these training sentences: one, or with
    `auto` the candidates, scratch first (exactly as `eiwa train` makes it)."""
    source = start.sources[0] if start.sources else None
    if start.modules == SHARED:
        return [_from_source(start, source, shared_modules(source, config), config, sentences, log)]
    if not start.auto:
        return [_from_source(start, source, start.modules, config, sentences, log)]
    candidates = [build(config, sentences).tagger]
    for source in start.sources:
        candidates += [
            _from_source(start, source, modules, config, sentences, log)
            for modules in auto_candidates(source, config)
            if modules
        ]
    log(
        f"--modules auto: {len(candidates)} candidates, chosen by dev F1: "
        + "; ".join(describe_start(c) for c in candidates)
    )
    return candidates


def describe_start(tagger: Tagger) -> str:
    """'char,classifier from conll03-en', or 'none' (scratch)."""
    modules = tagger.config.transferred
    source = tagger.meta.get("transfer", {}).get("source")
    return f"{modules} from {source}" if modules else "none"


def _from_source(
    start: Start,
    source: Tagger | None,
    modules: Sequence[str],
    config: Config,
    sentences: Sequence[Sentence],
    log: Callable[[str], None],
) -> Tagger:
    label_map = {}
    if source is not None and "classifier" in modules:
        label_map = resolve_label_map(start.label_map, source, config, sentences, log, start.target_types)
    tagger, report = build(config, sentences, source, modules, label_map)
    if report is not None:
        for line in report.lines():
            log(line)
    return tagger
