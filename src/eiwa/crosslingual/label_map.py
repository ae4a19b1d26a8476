"""Label maps: which source entity types a target type's output and CRF rows start from.

A map is written `PER=PSN,LOC=LOC` (one source type may feed several target types), or kept in a
file (one `SOURCE=TARGET` a line, or a JSON object SOURCE -> [TARGETS]).

`auto` (the default) proposes one from two kinds of evidence on the target's training data, each
counted per gold entity:

* the source's tags: the source reads the training sentences as it would before fine-tuning (every
  module it shares with the target, the target's inputs and word bridge) and each gold entity
  counts for the source type of a predicted entity covering more than half of its tokens (one that
  the source tags only in part, 日本 of 日本共産党 as LOC, says little about the whole);
* the dictionary: a gold entity whose whole text is a JMnedict name counts for each of the name's
  groups (person, place, organization, product), read as a source type through `DICTIONARY_TYPES`.

A source type counts for a target type by how many of the type's entities show it and by how much
more often than on the average entity (`association`): the English source tags Japanese names of
every kind PER, so PER is common on companies but no more than elsewhere, while the rarer ORG it
gives companies counts. Each target type takes the source type with the highest sum of both
evidences' association, or none when nothing is associated with it (its rows start fresh).
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from eiwa.config import Config
from eiwa.doc import Sentence, entity_types
from eiwa.errors import EiwaError
from eiwa.persist.atomic import is_file
from eiwa.persist.files import read_text
from eiwa.tagger import Tagger

LabelMap = dict[str, list[str]]  # source type -> target types

# A source type (or a dictionary group) must be seen on at least this many of a target type's gold
# entities to count: one or two are what a stray prediction, or a company named after its founder's
# surname, gives, and a share of a few entities is no rate to compare.
MIN_ENTITIES = 3
# JMnedict's groups (eiwa.gazetteer.names.GROUPS) as source types: the first name the source has.
# CoNLL-style sources call products and works MISC; Hironsan-style ones ART. JMnedict's "other"
# group (unclassified names, mostly of people and places) says nothing about the type.
DICTIONARY_TYPES: dict[str, tuple[str, ...]] = {
    "person": ("PER", "PERSON", "PSN"),
    "place": ("LOC", "LOCATION", "GPE"),
    "organization": ("ORG", "ORGANIZATION"),
    "product": ("MISC", "PRODUCT", "ART"),
}
NOTHING = ""  # the source tags nothing on the entity


def resolve_label_map(
    spec: str | None,
    source: Tagger,
    config: Config,
    sentences: Sequence[Sentence],
    log: Callable[[str], None] = lambda line: None,
    target_types: Sequence[str] | None = None,
) -> LabelMap:
    """An explicit map (string or file), or `auto` (also the default): proposed from the training data,
    with one line of evidence per target type and the map to copy.

    An explicit map is checked against `target_types` (default: the types in `sentences`)."""
    return label_map_and_evidence(spec, source, config, sentences, log, target_types)[0]


def label_map_and_evidence(
    spec: str | None,
    source: Tagger,
    config: Config,
    sentences: Sequence[Sentence],
    log: Callable[[str], None] = lambda line: None,
    target_types: Sequence[str] | None = None,
) -> tuple[LabelMap, dict[str, dict] | None]:
    """`resolve_label_map`, and for `auto` the evidence per target type (`propose_label_map`)."""
    if target_types is None:
        target_types = entity_types(sentences)
    if spec and spec != "auto":
        return parse_label_map(spec, source.entity_types, target_types), None
    label_map, evidence = propose_label_map(source, config, sentences, log=log)
    total = sum(e["entities"] for e in evidence.values())
    log(f"label map (auto), from the source's tags and JMnedict names on {total:,} training entities:")
    for entry in evidence.values():
        log(f"  {entry['line']}")
    log(f"label map (auto): --label-map {format_label_map(label_map)}")
    return label_map, evidence


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
    text = read_text(path, EiwaError, "label map")
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


def association(together: int, of_target: int, of_source: int, entities: int) -> float:
    """How strongly `together` of a target type's `of_target` entities point to a source type seen on
    `of_source` of all `entities`: the pair's term of the mutual information between target type and
    evidence, n * ln(P(source | target) / P(source)). It grows with the number of entities and with
    how much more often than on the average entity they show the source type; 0 below `MIN_ENTITIES`
    or at no more than the average rate."""
    if together < MIN_ENTITIES:
        return 0.0
    return max(0.0, together * math.log(together * entities / (of_target * of_source)))


@dataclass
class TypeEvidence:
    """What `--label-map auto` saw for one target type, and what it chose."""

    target: str
    entities: int  # gold entities of the type in the training data
    predicted: Counter  # source type (NOTHING: none) -> entities the source mostly tags as it
    names: Counter  # JMnedict group -> entities whose whole text is a name of it
    scores: dict[str, float] = field(default_factory=dict)  # "predicted:ORG", "names:ORG" -> association
    chosen: str | None = None

    def line(self, rates: dict[str, dict[str, float]], group_types: dict[str, str]) -> str:
        """One line in words: the decision, then each evidence's counts with their rate against the average."""
        count = f"{self.entities:,} {'entity' if self.entities == 1 else 'entities'}"
        if self.chosen:
            head = f"{self.target} -> {self.chosen} ({count}; by {self._by()})"
        else:
            head = (
                f"{self.target}: no source type, its tags start fresh ({count}; neither evidence "
                f"shows one on at least {MIN_ENTITIES} of them more often than on the average entity)"
            )
        tags = _counts_in_words(self.predicted, self.entities, rates["predicted"], {})
        names = _counts_in_words(self.names, self.entities, rates["names"], group_types)
        return f"{head}: the source tags {tags}; JMnedict names: {names or 'none'}"

    def _by(self) -> str:
        return {
            (True, True): "the source's tags and JMnedict",
            (True, False): "the source's tags",
            (False, True): "JMnedict",
        }.get((self._supports("predicted"), self._supports("names")), "no evidence")

    def _supports(self, kind: str) -> bool:
        return self.scores.get(f"{kind}:{self.chosen}", 0.0) > 0

    def to_dict(self, line: str) -> dict:
        return {
            "entities": self.entities,
            "predicted_as": {k or "nothing": v for k, v in self.predicted.most_common()},
            "jmnedict_groups": dict(self.names.most_common()),
            "scores": {k: round(v, 3) for k, v in self.scores.items() if v > 0},
            "chosen": self.chosen,
            "line": line,
        }


def _counts_in_words(counts: Counter, entities: int, rates: dict[str, float], group_types: dict[str, str]) -> str:
    """'ORG on 12 (1.9x its average rate), PER on 30 (0.8x), none on 93': most common first."""
    parts = []
    for kind, count in sorted(counts.items(), key=lambda item: (item[0] == NOTHING, -item[1], item[0])):
        if kind == NOTHING:
            parts.append(f"none on {count:,}")
            continue
        rate = count / entities / rates[kind] if rates.get(kind) else 0.0
        mapped = f" ({group_types[kind]})" if kind in group_types else ""
        parts.append(f"{kind}{mapped} on {count:,} ({rate:.1f}x{' its average rate' if not parts else ''})")
    return ", ".join(parts)


def propose_label_map(
    source: Tagger,
    config: Config,
    sentences: Sequence[Sentence],
    dictionary=None,
    log: Callable[[str], None] = lambda line: None,
) -> tuple[LabelMap, dict[str, dict]]:
    """`--label-map auto` (module docstring): the map, and per target type its evidence (counts,
    associations, choice and the line shown to the user). `dictionary`: a `Gazetteer` for the target's
    language (default: JMnedict's, when it can be had; without it the source's tags decide alone)."""
    if dictionary is None:
        dictionary = _jmnedict(config.lang, log)
    gold = [sentence.token_spans() for sentence in sentences]
    predicted = _predicted_by_entity(zero_shot_view(source, config, sentences), sentences, gold)
    names = _names_by_entity(dictionary, sentences, gold) if dictionary is not None else {}
    group_types = {
        group: next(t for t in kinds if t in source.entity_types)
        for group, kinds in DICTIONARY_TYPES.items()
        if any(t in source.entity_types for t in kinds)
    }
    evidence = _evidence(gold, predicted, names)
    rates = {"predicted": _rates(evidence, "predicted"), "names": _rates(evidence, "names")}
    label_map: LabelMap = defaultdict(list)
    for entry in evidence.values():
        _decide(entry, evidence, group_types)
        if entry.chosen:
            label_map[entry.chosen].append(entry.target)
    report = {t: entry.to_dict(entry.line(rates, group_types)) for t, entry in evidence.items()}
    return dict(label_map), report


def _evidence(gold: list[list[tuple]], predicted: dict, names: dict) -> dict[str, TypeEvidence]:
    evidence: dict[str, TypeEvidence] = {}
    for index, spans in enumerate(gold):
        for position, (_, _, kind) in enumerate(spans):
            entry = evidence.setdefault(kind, TypeEvidence(kind, 0, Counter(), Counter()))
            entry.entities += 1
            entry.predicted[predicted[index, position]] += 1
            entry.names.update(names.get((index, position), ()))
    return dict(sorted(evidence.items()))


def _rates(evidence: dict[str, TypeEvidence], kind: str) -> dict[str, float]:
    """Each source type's (or group's) share of all gold entities: the average rate."""
    total = sum(entry.entities for entry in evidence.values())
    counts: Counter = sum((getattr(entry, kind) for entry in evidence.values()), Counter())
    return {key: count / total for key, count in counts.items() if key != NOTHING}


def _decide(entry: TypeEvidence, evidence: dict[str, TypeEvidence], group_types: dict[str, str]) -> None:
    """Sum each evidence's association per source type; keep the per-evidence parts for the report."""
    total = sum(e.entities for e in evidence.values())
    summed: Counter = Counter()
    for kind, as_source in (("predicted", lambda key: key or None), ("names", group_types.get)):
        column: Counter = sum((getattr(e, kind) for e in evidence.values()), Counter())
        for key, together in getattr(entry, kind).items():
            source_type = as_source(key)
            if source_type is None:
                continue
            score = association(together, entry.entities, column[key], total)
            entry.scores[f"{kind}:{source_type}"] = entry.scores.get(f"{kind}:{source_type}", 0.0) + score
            summed[source_type] += score
    best = max(sorted(summed), key=summed.get, default=None)  # sorted: ties go to the first name
    entry.chosen = best if best is not None and summed[best] > 0 else None


def _predicted_by_entity(view: Tagger, sentences: Sequence[Sentence], gold: list[list[tuple]]) -> dict:
    """(sentence, gold entity) -> the source type of a predicted entity covering more than half of its
    tokens, or NOTHING."""
    predicted = view.tag_encoded(view.encoder.encode(sentences, with_tags=False))
    found = {}
    for index, (gold_spans, spans) in enumerate(zip(gold, predicted)):
        for position, (start, end, _) in enumerate(gold_spans):
            overlaps = [(min(end, e) - max(start, s), kind) for s, e, kind in spans]
            best = max(overlaps, key=lambda pair: pair[0], default=(0, NOTHING))
            found[index, position] = best[1] if 2 * best[0] > end - start else NOTHING
    return found


def _names_by_entity(dictionary, sentences: Sequence[Sentence], gold: list[list[tuple]]) -> dict:
    """(sentence, gold entity) -> the JMnedict groups of its whole text (none when it is no name)."""
    found = {}
    for index, (sentence, gold_spans) in enumerate(zip(sentences, gold)):
        offsets = sentence.offsets
        for position, (start, end, _) in enumerate(gold_spans):
            text = sentence.text[offsets[start][0] : offsets[end - 1][1]]
            found[index, position] = [group for group in dictionary.groups_of(text) if group in DICTIONARY_TYPES]
    return found


def _jmnedict(lang: str, log: Callable[[str], None]):
    """JMnedict's names in the target's spellings, or None (said in the log) where it cannot be had."""
    from eiwa.gazetteer.matcher import Gazetteer
    from eiwa.gazetteer.names import LANGUAGES

    if lang not in LANGUAGES:
        return None
    try:
        return Gazetteer.load(language=lang)
    except EiwaError as error:
        log(f"label map (auto): without JMnedict names ({error}); the source's tags decide alone")
        return None


def zero_shot_view(source: Tagger, config: Config, sentences: Sequence[Sentence]) -> Tagger:
    """The source as it would tag the target's data before fine-tuning: every module it shares with
    the target (the word bridge too, where the target's config asks for it), reading the target's
    inputs, with its own types only. Rows of target items the source lacks read its unknown row, as
    the source reads a word it has never seen."""
    from eiwa.build import build  # build.py imports this module
    from eiwa.crosslingual.starts import shared_modules

    modules = shared_modules(source, config)
    features = ",".join(m for m in modules if m != "classifier")
    view_config = replace(config, features=features, new_rows="unknown")
    untagged = [replace(sentence, entities=[]) for sentence in sentences]  # tags: the source's alone
    identity = {kind: [kind] for kind in source.entity_types}
    return build(view_config, untagged, source, modules, identity).tagger
