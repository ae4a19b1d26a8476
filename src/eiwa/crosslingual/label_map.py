"""Label maps: which source entity types a target type's output and CRF rows start from.

A map is written `PER=PSN,LOC=LOC` (one source type may feed several target types), or kept in a
file (one `SOURCE=TARGET` a line, or a JSON object SOURCE -> [TARGETS]); `auto` proposes one by
tagging the target training data with the source model.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from eiwa.config import Config
from eiwa.doc import Sentence, entity_types
from eiwa.errors import EiwaError
from eiwa.features.encoder import Encoder
from eiwa.persist.atomic import is_file
from eiwa.tagger import Tagger

LabelMap = dict[str, list[str]]  # source type -> target types


def resolve_label_map(
    spec: str | None,
    source: Tagger,
    config: Config,
    sentences: Sequence[Sentence],
    log: Callable[[str], None] = lambda line: None,
    target_types: Sequence[str] | None = None,
) -> LabelMap:
    """An explicit map (string or file), or `auto` (also the default): proposed from the training data.

    An explicit map is checked against `target_types` (default: the types in `sentences`)."""
    if target_types is None:
        target_types = entity_types(sentences)
    if spec and spec != "auto":
        return parse_label_map(spec, source.entity_types, target_types)
    label_map, evidence = propose_label_map(source, config, sentences)
    log(f"label map (auto): {format_label_map(label_map)}")
    for kind, seen in evidence.items():
        predicted = ", ".join(f"{s} {n}" for s, n in sorted(seen["predicted_as"].items(), key=lambda x: -x[1]))
        log(f"  {kind}: {seen['gold_tokens']} gold tokens, source predicts {predicted or 'nothing'}")
    return label_map


def parse_label_map(spec: str, source_types: Sequence[str], target_types: Sequence[str]) -> LabelMap:
    """`PER=PSN,LOC=LOC`, or a file with one `SOURCE=TARGET` a line (or a JSON object SOURCE -> [TARGETS])."""
    path = Path(spec)
    pairs = (
        _pairs_in_file(path)
        if is_file(path)
        else [_pair(item, "--label-map") for item in spec.split(",") if item.strip()]
    )
    label_map: LabelMap = defaultdict(list)
    for source, target in pairs:
        if source not in source_types:
            raise EiwaError(
                f"--label-map: source type {source!r} is not one of the source model's ({', '.join(source_types)})"
            )
        if target_types and target not in target_types:
            raise EiwaError(
                f"--label-map: target type {target!r} does not occur in the target data ({', '.join(target_types)})"
            )
        if target not in label_map[source]:
            label_map[source].append(target)
    return dict(label_map)


def _pairs_in_file(path: Path) -> list[tuple[str, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise EiwaError(f"{path}: cannot read the label map ({error})") from None
    if text.lstrip().startswith("{"):
        return _pairs_in_json(path, text)
    return [
        _pair(line, f"{path}:{n}")
        for n, line in enumerate(text.splitlines(), 1)
        if line.strip() and not line.startswith("#")
    ]


def _pairs_in_json(path: Path, text: str) -> list[tuple[str, str]]:
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise EiwaError(f"{path}: invalid JSON label map: {error}") from None
    if not isinstance(raw, dict):
        raise EiwaError(f"{path}: a JSON label map is an object SOURCE -> TARGET or [TARGETS]")
    pairs = []
    for source, targets in raw.items():
        targets = [targets] if isinstance(targets, str) else targets
        if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
            raise EiwaError(f"{path}: key {source!r}: expected a target type or a list of them, got {targets!r}")
        pairs += [(source, t) for t in targets]
    return pairs


def _pair(item: str, where: str) -> tuple[str, str]:
    source, sep, target = item.strip().partition("=")
    if not sep or not source.strip() or not target.strip():
        raise EiwaError(f"{where}: expected SOURCE=TARGET, got {item.strip()!r}")
    return source.strip(), target.strip()


def format_label_map(label_map: LabelMap) -> str:
    return ",".join(f"{s}={t}" for s, targets in sorted(label_map.items()) for t in targets) or "(empty)"


def propose_label_map(
    source: Tagger, config: Config, sentences: Sequence[Sentence], min_share: float = 0.1
) -> tuple[LabelMap, dict]:
    """`--label-map auto`: tag the target training data with the source model and map each target
    type to the source type most often predicted on its gold tokens (if on at least `min_share` of them)."""
    gold_tokens, overlap = _overlap(source_view(source, config), sentences)
    label_map: LabelMap = defaultdict(list)
    for target_type, counts in sorted(overlap.items()):
        source_type, count = counts.most_common(1)[0]
        if count >= max(1, min_share * gold_tokens[target_type]):
            label_map[source_type].append(target_type)
    evidence = {t: {"gold_tokens": gold_tokens[t], "predicted_as": dict(overlap[t])} for t in sorted(gold_tokens)}
    return dict(label_map), evidence


def _overlap(view: Tagger, sentences: Sequence[Sentence]) -> tuple[Counter, dict[str, Counter]]:
    """Gold tokens per target type, and per target type the source types predicted on its gold tokens."""
    overlap: dict[str, Counter] = defaultdict(Counter)
    gold_tokens: Counter = Counter()
    predicted = view.tag_encoded(view.encoder.encode(sentences, with_tags=False))
    for sentence, spans in zip(sentences, predicted):
        gold = [None] * len(sentence)
        for start, end, kind in sentence.token_spans():
            gold[start:end] = [kind] * (end - start)
        for kind in gold:
            if kind:
                gold_tokens[kind] += 1
        for start, end, kind in spans:
            for position in range(start, end):
                if gold[position]:
                    overlap[gold[position]][kind] += 1
    return gold_tokens, overlap


def source_view(source: Tagger, config: Config) -> Tagger:
    """The source model reading the target's inputs (language, native script or romaji)."""
    view_config = replace(source.config, lang=config.lang, word_input=config.word_input, char_input=config.char_input)
    features = {name: feature.with_config(view_config) for name, feature in source.encoder.features.items()}
    return Tagger(view_config, Encoder(view_config, features, source.encoder.tags), source.model, source.meta)
