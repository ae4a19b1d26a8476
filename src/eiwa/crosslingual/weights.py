"""Copying modules of a source model into a target model, table by table.

Each module is a set of parameters named by its prefix (see model.py). Transferring a module
copies its weights, except for three kinds of tables whose rows mean something that differs
between the two models and are therefore matched up rather than copied wholesale:

* embedding tables (`char.embedding`, `word.embedding`, `pos.upos`, ...: each feature declares
  its own) are indexed by vocabulary items: the target vocabulary starts with every source item,
  in source order (rows copied), followed by the target training items the source does not know
  (rows initialised as in a fresh model, or as the source's unknown row, or through the word bridge);
* the output layer and the CRF (`classifier.output`, `classifier.crf`) are indexed by tags: a
  target tag takes the row of the source tag its type maps to under the label map (B-PSN from
  B-PER under PER=PSN); tags of unmapped target types start fresh;
* the classifier's input weights are indexed by the features' output blocks: the block of each
  feature both models have is copied, and a feature the source lacks starts fresh, so that the
  classifier transfers to a target with more inputs than its source.

Tables of the target's own resources (a pretrained vectors table) are never copied.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from eiwa.config import Config
from eiwa.crosslingual.bridge import BridgeReport, bridge_word_rows, headwords_to_add
from eiwa.crosslingual.label_map import LabelMap
from eiwa.doc import Sentence
from eiwa.errors import EiwaError
from eiwa.features import FEATURES
from eiwa.features.encoder import Encoder
from eiwa.features.vocab import TagVocab, Vocab, normalize_word
from eiwa.tagger import Tagger
from eiwa.tags import parse_tag, tags_from_spans

# Vocabulary-indexed tables -> (feature, vocabulary name); tables never copied; from the registry.
VOCAB_TABLES = {
    f"{name}.{table}": (name, vocab)
    for name, feature in FEATURES.items()
    for table, vocab in feature.vocab_tables.items()
}
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

TagRows = tuple[list[int], list[int]]  # parallel lists: target tag ids, and the source tag ids whose rows they take


# ----------------------------------------------------------------------------- vocabularies and tags


def inherit_vocabularies(
    source: Tagger, config: Config, encoder: Encoder, modules: Sequence[str]
) -> tuple[dict[str, tuple[int, int]], int]:
    """Give each transferred feature of `encoder` the source's vocabularies extended by its own.

    Returns, per vocabulary, (target training items the source knows, target training items), and
    the number of JMdict headwords the word bridge added."""
    copied, headwords = {}, 0
    for name in modules:
        if name == "classifier":
            continue
        fresh, known = encoder.features[name], source.encoder.features[name]
        vocabs = {vocab: extend(known.vocabs[vocab], fresh.vocabs[vocab]) for vocab in fresh.vocabs}
        if name == "word" and bridges(source.config, config):
            headwords = _add_headwords(source, config, vocabs)
        for vocab in vocabs:
            items = fresh.vocabs[vocab].items[2:]
            copied[vocab] = (sum(item in known.vocabs[vocab] for item in items), len(items))
        encoder.features[name] = fresh.with_vocabs(vocabs)
    return copied, headwords


def extend(source: Vocab, target: Vocab) -> Vocab:
    """Every source item (same ids), then the target's new items; counts are the target's."""
    merged = Vocab(source.items[2:] + [item for item in target.items[2:] if item not in source], inherited=len(source))
    target_counts = dict(zip(target.items, target.counts))
    merged.counts = [target_counts.get(item, 0) for item in merged.items]
    return merged


def inherit_tags(source_tags: TagVocab, encoder: Encoder, label_map: LabelMap, scheme: str) -> TagRows:
    """Add every tag of the mapped target types to `encoder`'s tags, so that the source's knowledge
    of them survives even when the target training data is small (or empty: the zero-shot case);
    returns which target tags start from which source rows."""
    mapped_types = sorted({t for targets in label_map.values() for t in targets})
    encoder.tags = TagVocab(list(encoder.tags.items) + tags_from_scheme(mapped_types, scheme))
    target_rows, source_rows = _tag_correspondence(source_tags, encoder.tags, label_map)
    encoder.tags.inherited = [encoder.tags.items[i] for i in target_rows]
    return target_rows, source_rows


def tags_from_scheme(types: Sequence[str], scheme: str) -> list[str]:
    """Every tag the scheme has for these types."""
    tags = []
    for kind in types:
        # A three-token and a one-token entity between them use every prefix of the scheme.
        tags += tags_from_spans([(0, 3, kind), (3, 4, kind)], 4, scheme)
    return sorted(set(tags) - {"O"})


def _tag_correspondence(source_tags: TagVocab, target_tags: TagVocab, label_map: LabelMap) -> TagRows:
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


# ----------------------------------------------------------------------------- weights


def copy_modules(source: Tagger, target: Tagger, modules: Sequence[str], tag_rows: TagRows) -> None:
    """Copy the weights of `modules` from `source` into `target` (whose vocabularies and tags
    already inherit the source's): each table as the module docstring says."""
    source_state = source.model.state_dict()
    with torch.no_grad():
        for name, value in target.model.state_dict().items():
            if name.split(".")[0] in modules and name not in OWN_TABLES:
                _copy_table(name, value, source_state[name], source, target, tag_rows)
        if target.config.new_rows == "unknown":
            _new_rows_from_unknown(source, target, modules)


def _copy_table(
    name: str, value: torch.Tensor, source_value: torch.Tensor, source: Tagger, target: Tagger, tag_rows: TagRows
) -> None:
    if name in VOCAB_TABLES:
        feature, vocab = VOCAB_TABLES[name]
        value[: len(source.encoder.features[feature].vocabs[vocab])] = source_value
    elif name in TAG_TABLES:
        _copy_tag_rows(value, source_value, TAG_TABLES[name], *tag_rows)
    elif name in CLASSIFIER_INPUTS:
        for target_block, source_block in _shared_blocks(source, target):
            value[:, target_block] = source_value[:, source_block]
    elif value.shape != source_value.shape:
        raise EiwaError(
            f"transfer: {name} has shape {tuple(source_value.shape)} in the source and "
            f"{tuple(value.shape)} in the target; the module cannot be copied"
        )
    else:
        value.copy_(source_value)


def _copy_tag_rows(target: torch.Tensor, source: torch.Tensor, dims: tuple[int, ...], target_rows, source_rows) -> None:
    t, s = torch.tensor(target_rows, dtype=torch.long), torch.tensor(source_rows, dtype=torch.long)
    if dims == (0, 1):
        target[t.unsqueeze(1), t.unsqueeze(0)] = source[s.unsqueeze(1), s.unsqueeze(0)]
    else:
        target[t] = source[s]


def _new_rows_from_unknown(source: Tagger, target: Tagger, modules: Sequence[str]) -> None:
    """`new_rows = unknown`: rows of target items the source lacks start as the source's unknown
    row, so that before fine-tuning the target reads them exactly as the source would."""
    state = target.model.state_dict()
    for name, (feature, vocab) in VOCAB_TABLES.items():
        if name.split(".")[0] in modules and name in state:
            first_new = len(source.encoder.features[feature].vocabs[vocab])
            state[name][first_new:] = state[name][1]


def input_blocks(model) -> dict[str, slice]:
    """Each feature's columns in the classifier's input weights."""
    blocks, start = {}, 0
    for name, width in model.layout():
        blocks[name] = slice(start, start + width)
        start += width
    return blocks


def _shared_blocks(source: Tagger, target: Tagger) -> list[tuple[slice, slice]]:
    """(target columns, source columns) of the classifier input blocks of features both models have."""
    source_blocks, target_blocks = input_blocks(source.model), input_blocks(target.model)
    width = lambda block: block.stop - block.start  # noqa: E731
    return [
        (block, source_blocks[name])
        for name, block in target_blocks.items()
        if name in source_blocks and width(source_blocks[name]) == width(block)
    ]


# ----------------------------------------------------------------------------- the word bridge (bridge.py)


def bridges(source: Config, target: Config) -> bool:
    """Whether the word bridge runs: asked for, English source, Japanese target reading native
    words (romaji words meet English rows by spelling)."""
    return (
        target.word_bridge != "none" and source.lang == "en" and target.lang == "ja" and target.word_input == "native"
    )


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
    normalise = lambda word: normalize_word(word, config.word_lowercase)  # noqa: E731
    added = headwords_to_add(set(words.items), _source_word_row(source), normalise)
    extended = Vocab(words.items[2:] + added, inherited=words.inherited)
    extended.counts = words.counts + [0] * len(added)
    vocabs["words"] = extended
    return len(added)


def bridge_words(source: Tagger, target: Tagger, sentences: Sequence[Sentence]) -> BridgeReport | None:
    """`word_bridge`: new Japanese words start from their English glosses' source rows (bridge.py)."""
    config = target.config
    words = target.encoder.features["word"].vocabs["words"]
    lemma_of: dict[str, str | None] = {}
    for sentence in sentences:
        for token in sentence.tokens:
            lemma_of.setdefault(normalize_word(token.text, config.word_lowercase), token.lemma)
    vectors = _vector_rows(config.vectors_table) if config.word_bridge == "jmdict+map" else None
    counts = words.counts + [0] * (len(words) - len(words.counts))
    return bridge_word_rows(
        config.word_bridge,
        target.model.word.embedding.weight,
        words.items,
        words.inherited,
        _source_word_row(source),
        lemma_of,
        counts,
        int(sum(counts[: words.inherited])),
        vectors,
    )


def _vector_rows(vectors_table: str):
    """(surfaces, lemmas) -> their pretrained vectors, NaN rows for words without one."""
    from eiwa.resources.chive import VectorTable

    table = VectorTable.load(vectors_table)
    rows = np.asarray(table.rows, np.float32)

    def vectors(surfaces, lemmas):
        found = table.lookup(surfaces, lemmas)
        out = np.full((len(found), rows.shape[1]), np.nan, np.float32)
        out[found >= 0] = rows[found[found >= 0]]
        return out

    return vectors
