"""Transfer: start a target-language tagger from a source tagger, module by module.

Each module is a set of parameters named by its prefix (see model.py). Transferring a module
copies its weights, except for three kinds of tables whose rows mean something that differs
between the two models and are therefore matched up rather than copied wholesale:

* embedding tables (`char.embedding`, `word.embedding`, `pos.upos`, ...: each feature declares
  its own in features.py) are indexed by vocabulary items: the target vocabulary starts with
  every source item, in source order (rows copied), followed by the target training items the
  source does not know (rows initialised as in a fresh model);
* the output layer and the CRF (`classifier.output`, `classifier.crf`) are indexed by tags: a
  target tag takes the row of the source tag its type maps to under the label map (B-PSN from
  B-PER under PER=PSN); tags of unmapped target types start fresh;
* the classifier's input weights are indexed by the features' output blocks: the block of each
  feature both models have is copied, and a feature the source lacks starts fresh, so that the
  classifier transfers to a target with more inputs than its source.

Tables of the target's own resources (a pretrained vectors table) are never copied. The target
inherits the source's architecture (the classifier's sizes and tag scheme, and the settings of each
feature the source has), since the copied weights only fit it; its inputs, any features the source
lacks, and its training settings are its own.

Every model, trained from scratch or transferred, is built by `build` (no source: a fresh model).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from eiwa.transfer.bridge import BridgeReport, bridge_word_rows, headwords_to_add
from eiwa.config import Config
from eiwa.readers.core import Sentence, entity_types
from eiwa.features.encoding import TagVocab, Vocab, normalize_word
from eiwa.errors import EiwaError
from eiwa.features.registry import FEATURES, Encoder
from eiwa.persist.atomic import is_file
from eiwa.tagger import Tagger
from eiwa.tags import parse_tag, tags_from_spans

# Vocabulary-indexed tables -> (feature, vocabulary name); tables never copied; from the registry.
VOCAB_TABLES = {f"{name}.{table}": (name, vocab) for name, feature in FEATURES.items()
                for table, vocab in feature.vocab_tables.items()}
OWN_TABLES = {f"{name}.{table}" for name, feature in FEATURES.items() for table in feature.own_tables}
# Tag-indexed parameters, and which of their dimensions run over tags.
TAG_TABLES = {
    "classifier.output.weight": (0,),
    "classifier.output.bias": (0,),
    "classifier.crf.transitions": (0, 1),
    "classifier.crf.start": (0,),
    "classifier.crf.end": (0,),
}
# The classifier's input weights: their columns run over the features' output blocks.
CLASSIFIER_INPUTS = ("classifier.lstm.forward_lstm.weight_ih_l0", "classifier.lstm.backward_lstm.weight_ih_l0")
# Settings that shape each module's weights: a transferred module keeps the source's.
ARCHITECTURE = {"classifier": ("hidden_dim", "decoder", "tag_scheme"),
                **{name: feature.settings for name, feature in FEATURES.items()}}
MODULES = (*FEATURES, "classifier")

LabelMap = dict[str, list[str]]  # source type -> target types


AUTO = "auto"  # --modules auto: the subset (and source) chosen on the target's dev data


def shared_modules(source: Tagger, config: Config) -> list[str]:
    """Every module the source can hand to a target of `config`: the features both have, and the classifier."""
    return [m for m in MODULES if m == "classifier" or (m in source.encoder.features and m in config.feature_names())]


def auto_candidates(source: Tagger, config: Config) -> list[list[str]]:
    """The subsets `--modules auto` tries for this source and target, in order: scratch, the
    published best (char, classifier), every module both models have, that without `word` (the
    module whose rows least often match across scripts) and that without `char` (best on
    Stockmark's dev data at 250 sentences in the issue-10 study: romaji bigrams from English
    helped less than a fresh character module). Trying every subset would cost 2**modules
    trainings; these five span what the studies found to matter."""
    shared = shared_modules(source, config)
    candidates = [[], ["char", "classifier"], shared, [m for m in shared if m != "word"], [m for m in shared if m != "char"]]
    unique = []
    for modules in candidates:
        modules = [m for m in shared if m in modules]
        if modules not in unique:
            unique.append(modules)
    return unique


def auto_starts(config: Config, sentences: Sequence[Sentence], sources: Sequence[Tagger], start) -> list[Tagger]:
    """`--modules auto`'s candidate start models: scratch (exactly as `eiwa train` and the scratch
    cells make it), then every source's `auto_candidates` subsets, each built by `start(source, modules)`."""
    candidates = [build(config, sentences)[0]]
    for source in sources:
        candidates += [start(source, modules) for modules in auto_candidates(source, config) if modules]
    return candidates


def parse_modules(text: str) -> list[str]:
    """'char,classifier' -> ['char', 'classifier']; 'none' -> [] (training from scratch)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == ["none"]:
        return []
    unknown = [n for n in names if n not in MODULES]
    if unknown or not names:
        raise EiwaError(f"--modules: expected a comma-separated subset of {','.join(MODULES)} or 'none', got {text!r}")
    return [m for m in MODULES if m in names]


def parse_label_map(spec: str, source_types: Sequence[str], target_types: Sequence[str]) -> LabelMap:
    """`PER=PSN,LOC=LOC`, or a file with one `SOURCE=TARGET` a line (or a JSON object SOURCE -> [TARGETS])."""
    path = Path(spec)
    if is_file(path):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise EiwaError(f"{path}: cannot read the label map ({error})") from None
        if text.lstrip().startswith("{"):
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
        else:
            pairs = [_pair(line, f"{path}:{n}") for n, line in enumerate(text.splitlines(), 1) if line.strip() and not line.startswith("#")]
    else:
        pairs = [_pair(item, "--label-map") for item in spec.split(",") if item.strip()]
    label_map: LabelMap = defaultdict(list)
    for source, target in pairs:
        if source not in source_types:
            raise EiwaError(f"--label-map: source type {source!r} is not one of the source model's ({', '.join(source_types)})")
        if target_types and target not in target_types:
            raise EiwaError(f"--label-map: target type {target!r} does not occur in the target data ({', '.join(target_types)})")
        if target not in label_map[source]:
            label_map[source].append(target)
    return dict(label_map)


def _pair(item: str, where: str) -> tuple[str, str]:
    source, sep, target = item.strip().partition("=")
    if not sep or not source.strip() or not target.strip():
        raise EiwaError(f"{where}: expected SOURCE=TARGET, got {item.strip()!r}")
    return source.strip(), target.strip()


def format_label_map(label_map: LabelMap) -> str:
    return ",".join(f"{s}={t}" for s, targets in sorted(label_map.items()) for t in targets) or "(empty)"


def target_config(source: Config, target: Config) -> Config:
    """The target's own settings, with the source's architecture: the classifier's, and that of
    every feature the source has."""
    modules = ["classifier", *source.feature_names()]
    return replace(target, **{key: getattr(source, key) for module in modules for key in ARCHITECTURE[module]})


def source_view(source: Tagger, config: Config) -> Tagger:
    """The source model reading the target's inputs (language, native script or romaji)."""
    view_config = replace(source.config, lang=config.lang, word_input=config.word_input, char_input=config.char_input)
    features = {name: feature.with_config(view_config) for name, feature in source.encoder.features.items()}
    return Tagger(view_config, Encoder(view_config, features, source.encoder.tags), source.model, source.meta)


def propose_label_map(source: Tagger, config: Config, sentences: Sequence[Sentence], min_share: float = 0.1) -> tuple[LabelMap, dict]:
    """`--label-map auto`: tag the target training data with the source model and map each target
    type to the source type most often predicted on its gold tokens (if on at least `min_share` of them)."""
    view = source_view(source, config)
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
    label_map: LabelMap = defaultdict(list)
    for target_type, counts in sorted(overlap.items()):
        source_type, count = counts.most_common(1)[0]
        if count >= max(1, min_share * gold_tokens[target_type]):
            label_map[source_type].append(target_type)
    evidence = {t: {"gold_tokens": gold_tokens[t], "predicted_as": dict(overlap[t])} for t in sorted(gold_tokens)}
    return dict(label_map), evidence


@dataclass
class TransferReport:
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
            lines.append(f"  label map {format_label_map(self.label_map)}: {self.mapped_tags[0]} of "
                         f"{self.mapped_tags[1]} target tags start from source rows")
            if self.fresh_inputs:
                lines.append(f"  classifier inputs from features the source lacks start fresh: {', '.join(self.fresh_inputs)}")
        if self.bridge is not None:
            lines += self.bridge.lines()
        return lines

    def to_dict(self) -> dict:
        return {"modules": self.modules, "label_map": self.label_map,
                "copied": {k: {"known": a, "total": b} for k, (a, b) in self.copied.items()},
                "mapped_tags": {"mapped": self.mapped_tags[0], "total": self.mapped_tags[1]},
                "fresh_inputs": self.fresh_inputs, **({"bridge": self.bridge.to_dict()} if self.bridge else {})}


def extend(source: Vocab, target: Vocab) -> Vocab:
    """Every source item (same ids), then the target's new items; counts are the target's."""
    merged = Vocab(source.items[2:] + [item for item in target.items[2:] if item not in source], inherited=len(source))
    target_counts = dict(zip(target.items, target.counts))
    merged.counts = [target_counts.get(item, 0) for item in merged.items]
    return merged


def build(
    config: Config,
    sentences: Sequence[Sentence],
    source: Tagger | None = None,
    modules: Sequence[str] = (),
    label_map: LabelMap | None = None,
) -> tuple[Tagger, TransferReport | None]:
    """The one way eiwa makes a model: features fitted on `sentences` (vocabularies, pretrained
    tables, dictionaries), weights initialised under `config.seed`, then, with a source, `modules`
    copied from it. With a source and no modules the result is exactly a fresh model of the
    source's architecture, so that transfer and scratch differ only in what is transferred."""
    label_map = label_map or {}
    headwords = 0
    if source is not None:
        config = replace(target_config(source.config, config), transferred=",".join(modules))
        _check_modules(source, config, modules)
    encoder = Encoder.build(config, sentences)
    copied = {}
    for name in modules:
        if name == "classifier":
            continue
        fresh, known = encoder.features[name], source.encoder.features[name]
        vocabs = {vocab: extend(known.vocabs[vocab], fresh.vocabs[vocab]) for vocab in fresh.vocabs}
        if name == "word" and _bridges(source.config, config):
            headwords = _add_headwords(source, config, vocabs)
        for vocab, merged in vocabs.items():
            items = fresh.vocabs[vocab].items[2:]
            copied[vocab] = (sum(item in known.vocabs[vocab] for item in items), len(items))
        encoder.features[name] = type(fresh)(config, vocabs, fresh.state)
    if "classifier" in modules:
        # Mapped target types get all their tags, so that the source's knowledge of them survives
        # even when the target training data is small (or empty: the zero-shot case).
        mapped_types = sorted({t for targets in label_map.values() for t in targets})
        encoder.tags = TagVocab(list(encoder.tags.items) + tags_from_scheme(mapped_types, config.tag_scheme))
        target_rows, source_rows = _tag_correspondence(source.encoder.tags, encoder.tags, label_map)
        encoder.tags.inherited = [encoder.tags.items[i] for i in target_rows]
    torch.manual_seed(config.seed)
    target = Tagger.create(config, encoder)
    for name, feature in encoder.features.items():
        feature.initialise(getattr(target.model, name))
    if source is None:
        return target, None

    fresh_inputs = [name for name in target.model.feature_names if name not in source.model.feature_names]
    source_state = source.model.state_dict()
    with torch.no_grad():
        for name, value in target.model.state_dict().items():
            if name.split(".")[0] not in modules or name in OWN_TABLES:
                continue
            if name in VOCAB_TABLES:
                feature, vocab = VOCAB_TABLES[name]
                rows = len(source.encoder.features[feature].vocabs[vocab])
                value[:rows] = source_state[name]
            elif name in TAG_TABLES:
                _copy_tag_rows(value, source_state[name], TAG_TABLES[name], target_rows, source_rows)
            elif name in CLASSIFIER_INPUTS:
                for target_block, source_block in _shared_blocks(source, target):
                    value[:, target_block] = source_state[name][:, source_block]
            elif value.shape != source_state[name].shape:
                raise EiwaError(f"transfer: {name} has shape {tuple(source_state[name].shape)} in the source and "
                                f"{tuple(value.shape)} in the target; the module cannot be copied")
            else:
                value.copy_(source_state[name])
        if config.new_rows == "unknown":
            _new_rows_from_unknown(source, target, modules)
    bridge = _bridge_words(source, target, sentences) if "word" in modules and _bridges(source.config, config) else None
    if bridge is not None:
        bridge.added_headwords = headwords
    mapped = (len(target_rows), len(encoder.tags)) if "classifier" in modules else (0, len(encoder.tags))
    report = TransferReport(list(modules), label_map, copied, mapped, fresh_inputs, bridge)
    target.meta["transfer"] = {"source": source.origin, **report.to_dict()}
    return target, report


def _new_rows_from_unknown(source: Tagger, target: Tagger, modules: Sequence[str]) -> None:
    """`new_rows = unknown`: rows of target items the source lacks start as the source's unknown
    row, so that before fine-tuning the target reads them exactly as the source would."""
    state = target.model.state_dict()
    for name, (feature, vocab) in VOCAB_TABLES.items():
        if name.split(".")[0] in modules and name in state:
            first_new = len(source.encoder.features[feature].vocabs[vocab])
            state[name][first_new:] = state[name][1]


def _bridges(source: Config, target: Config) -> bool:
    """Whether the word bridge runs: asked for, English source, Japanese target reading native
    words (romaji words meet English rows by spelling)."""
    return target.word_bridge != "none" and source.lang == "en" and target.lang == "ja" and target.word_input == "native"


def _source_word_row(source: Tagger):
    source_words = source.encoder.features["word"].vocabs["words"]
    lowercase = source.config.word_lowercase

    def source_row(english: str) -> int | None:
        row = source_words.ids.get(normalize_word(english, lowercase))
        return row if row is not None and row > 1 else None

    return source_row


def _add_headwords(source: Tagger, config: Config, vocabs: dict[str, Vocab]) -> int:
    """Extend the merged word vocabulary with JMdict's common headwords the bridge reaches."""
    words = vocabs["words"]
    added = headwords_to_add(set(words.items), _source_word_row(source), lambda w: normalize_word(w, config.word_lowercase))
    extended = Vocab(words.items[2:] + added, inherited=words.inherited)
    extended.counts = words.counts + [0] * len(added)
    vocabs["words"] = extended
    return len(added)


def _bridge_words(source: Tagger, target: Tagger, sentences: Sequence[Sentence]) -> BridgeReport | None:
    """`word_bridge`: new Japanese words start from their English glosses' source rows (bridge.py)."""
    config = target.config
    words = target.encoder.features["word"].vocabs["words"]
    source_row = _source_word_row(source)
    lemma_of: dict[str, str | None] = {}
    for sentence in sentences:
        for token in sentence.tokens:
            lemma_of.setdefault(normalize_word(token.text, config.word_lowercase), token.lemma)
    vectors = None
    if config.word_bridge == "jmdict+map":
        from eiwa.resources.chive import VectorTable

        table = VectorTable.load(config.vectors_table)
        rows = np.asarray(table.rows, np.float32)

        def vectors(surfaces, lemmas):
            found = table.lookup(surfaces, lemmas)
            out = np.full((len(found), rows.shape[1]), np.nan, np.float32)
            out[found >= 0] = rows[found[found >= 0]]
            return out

    counts = words.counts + [0] * (len(words) - len(words.counts))
    return bridge_word_rows(config.word_bridge, target.model.word.embedding.weight, words.items, words.inherited,
                            source_row, lemma_of, counts, int(sum(counts[:words.inherited])), vectors)


def transfer(
    source: Tagger, config: Config, sentences: Sequence[Sentence], modules: Sequence[str], label_map: LabelMap
) -> tuple[Tagger, TransferReport]:
    """A target tagger for `config` whose `modules` start from `source`; the rest is initialised fresh."""
    return build(config, sentences, source, modules, label_map)


def _check_modules(source: Tagger, config: Config, modules: Sequence[str]) -> None:
    for name in modules:
        if name == "classifier":
            continue
        if name not in source.encoder.features:
            raise EiwaError(f"--modules: the source model has no {name} module (it has: "
                            f"{', '.join([*source.encoder.features, 'classifier'])})")
        if name not in config.feature_names():
            raise EiwaError(f"--modules: {name} is transferred but the target's features ({config.features}) do not "
                            f"include it: add it, e.g. --set features={config.features},{name}")


def _blocks(model) -> dict[str, slice]:
    blocks, start = {}, 0
    for name, width in model.layout():
        blocks[name] = slice(start, start + width)
        start += width
    return blocks


def _shared_blocks(source: Tagger, target: Tagger) -> list[tuple[slice, slice]]:
    """(target columns, source columns) of the classifier input blocks of features both models have."""
    source_blocks, target_blocks = _blocks(source.model), _blocks(target.model)
    return [(block, source_blocks[name]) for name, block in target_blocks.items()
            if name in source_blocks and source_blocks[name].stop - source_blocks[name].start == block.stop - block.start]


def tags_from_scheme(types: Sequence[str], scheme: str) -> list[str]:
    """Every tag the scheme has for these types."""
    tags = []
    for kind in types:
        # A three-token and a one-token entity between them use every prefix of the scheme.
        tags += tags_from_spans([(0, 3, kind), (3, 4, kind)], 4, scheme)
    return sorted(set(tags) - {"O"})


def _tag_correspondence(source_tags: TagVocab, target_tags: TagVocab, label_map: LabelMap) -> tuple[list[int], list[int]]:
    """Parallel lists: target tag ids and the source tag ids whose rows they take."""
    source_of_type = {}
    for source_type, targets in label_map.items():
        for target_type in targets:
            source_of_type.setdefault(target_type, source_type)
    target_rows, source_rows = [], []
    for index, tag in enumerate(target_tags.items):
        prefix, kind = parse_tag(tag)
        source_tag = "O" if kind is None else (f"{prefix}-{source_of_type[kind]}" if kind in source_of_type else None)
        if source_tag in source_tags.ids:
            target_rows.append(index)
            source_rows.append(source_tags.ids[source_tag])
    return target_rows, source_rows


def _copy_tag_rows(target: torch.Tensor, source: torch.Tensor, dims: tuple[int, ...], target_rows, source_rows) -> None:
    t, s = torch.tensor(target_rows, dtype=torch.long), torch.tensor(source_rows, dtype=torch.long)
    if dims == (0, 1):
        target[t.unsqueeze(1), t.unsqueeze(0)] = source[s.unsqueeze(1), s.unsqueeze(0)]
    else:
        target[t] = source[s]


def freeze_transferred(tagger: Tagger) -> None:
    """`fine_tune = frozen`: transferred weights stay as they came, except rows the source had
    nothing for, which must still learn: embeddings of new items and the output and CRF rows of
    unmapped target types. Their gradients are masked rather than the whole table's."""
    modules = [m for m in tagger.config.transferred.split(",") if m]
    tags = tagger.encoder.tags
    new_tag = torch.tensor([tag not in tags.inherited for tag in tags.items])
    fresh_inputs = tagger.meta.get("transfer", {}).get("fresh_inputs", [])
    for name, parameter in tagger.model.named_parameters():
        if name.split(".")[0] not in modules or name in OWN_TABLES:
            continue
        if name in VOCAB_TABLES:
            feature, vocab = VOCAB_TABLES[name]
            inherited = tagger.encoder.features[feature].vocabs[vocab].inherited
            trainable = torch.arange(parameter.shape[0]) >= inherited
        elif name in CLASSIFIER_INPUTS:
            # Columns of features the source lacked have nothing to keep.
            trainable = torch.zeros(parameter.shape[1], dtype=torch.bool)
            for feature, block in _blocks(tagger.model).items():
                if feature in fresh_inputs:
                    trainable[block] = True
            trainable = trainable.unsqueeze(0)
        elif name in TAG_TABLES:
            trainable = new_tag
            if TAG_TABLES[name] == (0, 1):  # a transition is new if either end is
                trainable = new_tag.unsqueeze(1) | new_tag.unsqueeze(0)
        else:
            parameter.requires_grad_(False)
            continue
        while trainable.dim() < parameter.dim():
            trainable = trainable.unsqueeze(-1)
        parameter.register_hook(lambda grad, keep=trainable: grad * keep.to(grad.dtype))


def parameter_groups(tagger: Tagger) -> list[dict]:
    """Optimizer groups: with `fine_tune = lower-lr`, transferred modules learn at lr * transferred_lr_scale."""
    config = tagger.config
    modules = [m for m in config.transferred.split(",") if m]
    if config.fine_tune != "lower-lr" or not modules:
        return [{"params": list(tagger.model.parameters()), "scale": 1.0}]
    moved = [p for n, p in tagger.model.named_parameters() if n.split(".")[0] in modules]
    kept = [p for n, p in tagger.model.named_parameters() if n.split(".")[0] not in modules]
    return [{"params": kept, "scale": 1.0}, {"params": moved, "scale": config.transferred_lr_scale}]


def resolve_label_map(
    spec: str | None, source: Tagger, config: Config, sentences: Sequence[Sentence], log=lambda line: None,
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
        predicted = ", ".join(f"{s} {n}" for s, n in sorted(seen["predicted_as"].items(), key=lambda x: -x[1])) or "nothing"
        log(f"  {kind}: {seen['gold_tokens']} gold tokens, source predicts {predicted}")
    return label_map
