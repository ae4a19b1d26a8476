"""Token features: the registry of the tagger's inputs, and the `Encoder` that runs them.

Each input is one `Feature` class, declared once: its name (also the name of its module in the
network and of its unit for transfer), the settings that shape its weights, the vocabularies it
keeps, how it turns sentences into integer arrays, how it turns those into a batch's tensors, and
its `nn.Module` (model.py). A config enables any of them (`features = "char,word,pos"`); encoding,
batching, saving, loading and the transfer tables (transfer.py) are derived from this registry.

    sentences --Feature.encode--> FeatureData (per-sentence int arrays) --Encoder.batch--> Batch
    Batch.inputs[name] --module `name`--> [batch, time, output_dim] --concatenated--> classifier

To add an input: write its module in model.py and a Feature subclass here, decorated with
`@register`; nothing else changes.
"""

from __future__ import annotations

import copy
import functools
import unicodedata
import zlib
from collections import Counter
from typing import ClassVar, Sequence

import numpy as np
import torch
from torch import nn

from eiwa import model as modules
from eiwa.config import Config
from eiwa.readers.core import Sentence
from eiwa.features.encoding import (Batch, Encoded, FeatureData, Inputs, TagVocab, Vocab, bigrams, casing, form_chunks,
                       normalize_word, pad, read_vectors)
from eiwa.errors import EiwaError
from eiwa.tags import parse_tag, tags_from_spans

FEATURES: dict[str, type["Feature"]] = {}  # name -> class, in registration order (the order modules are created)


def register(cls: type["Feature"]) -> type["Feature"]:
    FEATURES[cls.name] = cls
    return cls


class Feature:
    """One token input. Subclasses set the class attributes and implement fit/encode/module."""

    name: ClassVar[str]
    # Config settings that shape this feature's weights: a transferred module keeps the source's.
    settings: ClassVar[tuple[str, ...]] = ()
    # Parameters (within the module) whose rows follow a vocabulary: parameter -> vocabulary name.
    vocab_tables: ClassVar[dict[str, str]] = {}
    # Parameters that belong to the target's own resources and are never copied by transfer.
    own_tables: ClassVar[tuple[str, ...]] = ()
    # Initialise the module from a seed of its own (the config's seed and the feature's name), so that
    # its weights do not depend on which features come before it. The first five features predate
    # this and draw from the shared stream in registry order, which keeps their models and runs as they were.
    seeded_by_name: ClassVar[bool] = False

    def __init__(self, config: Config, vocabs: dict[str, Vocab] | None = None, state: dict | None = None):
        self.config = config
        self.vocabs = vocabs or {}
        self.state = state or {}

    @classmethod
    def fit(cls, config: Config, sentences: Sequence[Sentence], inputs: Inputs) -> "Feature":
        """The feature with vocabularies from the training sentences."""
        return cls(config)

    def encode(self, sentences: Sequence[Sentence], inputs: Inputs) -> FeatureData:
        raise NotImplementedError

    def batch(self, data: FeatureData, indices: np.ndarray, lengths: np.ndarray) -> dict:
        """The batch's tensors: by default every column padded to [batch, time, ...]."""
        return {name: torch.from_numpy(pad([column[i] for i in indices], lengths)) for name, column in data.columns.items()}

    def module(self) -> nn.Module:
        raise NotImplementedError

    def initialise(self, module: nn.Module) -> None:
        """Fill a freshly created module with what the feature brings (pretrained rows); default: nothing."""

    def attach(self, module: nn.Module) -> None:
        """After saved weights were loaded into the module: take back what lives in them; default: nothing."""

    def with_config(self, config: Config) -> "Feature":
        """The same feature (vocabularies, resources) reading inputs as `config` says (transfer's source view)."""
        view = copy.copy(self)
        view.config = config
        return view

    def lines(self, sentences: Sequence[Sentence]) -> list[str]:
        """What the feature reports at the start of training: how much of the training data its
        resources cover."""
        return []

    def to_json(self) -> dict:
        return {"vocabs": {name: vocab.to_json() for name, vocab in self.vocabs.items()}, "state": self.state}

    @classmethod
    def from_json(cls, config: Config, data: dict) -> "Feature":
        return cls(config, {name: Vocab.from_json(v) for name, v in data.get("vocabs", {}).items()}, data.get("state"))


def _vocab(counts: Counter, min_count: int = 1, extra: Sequence[str] = ()) -> Vocab:
    """Items by frequency (at least min_count), then `extra` items; counts kept for singleton dropout."""
    items = [item for item, n in counts.most_common() if n >= min_count]
    items += [item for item in extra if item not in counts]
    vocab = Vocab(items)
    vocab.counts = [0, 0] + [counts.get(item, 0) for item in vocab.items[2:]]
    return vocab


@register
class CharFeature(Feature):
    """Overlapping character bigrams of the token (native script or romaji).

    Each token carries an index into the corpus's table of distinct forms; the module runs once
    per distinct form of a batch (training) or of the whole input (inference: Tagger.tag_encoded).
    """

    name = "char"
    settings = ("char_embedding_dim", "char_hidden_dim", "char_lowercase")
    vocab_tables = {"embedding.weight": "bigrams"}

    @classmethod
    def fit(cls, config, sentences, inputs):
        counts: Counter[str] = Counter()
        for sentence in sentences:
            for form in inputs.char_forms(sentence):
                counts.update(bigrams(form))
        return cls(config, {"bigrams": _vocab(counts)})

    def encode(self, sentences, inputs):
        form_index: dict[str, int] = {}
        form_ids = []
        for sentence in sentences:
            forms = inputs.char_forms(sentence)
            form_ids.append(np.fromiter((form_index.setdefault(f, len(form_index)) for f in forms), np.int64, len(forms)))
        table, lengths = self._bigram_table(list(form_index))
        return FeatureData({"form_ids": form_ids}, {"form_bigrams": table, "form_lengths": lengths})

    def _bigram_table(self, forms: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """[forms, longest] bigram ids (right-padded) and [forms] lengths, filled in one NumPy step."""
        index = self.vocabs["bigrams"].index
        rows = [[index(b) for b in bigrams(form)] for form in forms] or [[0]]
        lengths = np.fromiter(map(len, rows), np.int64, len(rows))
        return torch.from_numpy(pad([np.asarray(r, np.int64) for r in rows], lengths)), torch.from_numpy(lengths)

    def batch(self, data, indices, lengths):
        forms = pad([data.columns["form_ids"][i] for i in indices], lengths)
        mask = np.arange(forms.shape[1])[None, :] < lengths[:, None]
        # Run the character module once per distinct form in the batch.
        distinct, token_forms = np.unique(forms[mask], return_inverse=True)
        chunks, chunk_row = form_chunks(data.shared["form_lengths"], data.shared["form_bigrams"], distinct)
        grid = np.zeros(forms.shape, np.int64)
        grid[mask] = chunk_row[token_forms]
        return {"form_ids": torch.from_numpy(forms), "token_forms": torch.from_numpy(grid), "form_chunks": chunks}

    def module(self):
        return modules.CharModule(len(self.vocabs["bigrams"]), self.config.char_embedding_dim, self.config.char_hidden_dim)


@register
class WordFeature(Feature):
    """The normalised word (native script or romaji) and its casing."""

    name = "word"
    settings = ("word_embedding_dim", "case_embedding_dim", "word_lowercase")
    vocab_tables = {"embedding.weight": "words"}

    @classmethod
    def fit(cls, config, sentences, inputs):
        counts: Counter[str] = Counter()
        for sentence in sentences:
            counts.update(normalize_word(w, config.word_lowercase) for w in inputs.words(sentence))
        extra = read_vectors(config.word_vectors, config.word_lowercase, config.vectors_limit)[0] if config.word_vectors else ()
        return cls(config, {"words": _vocab(counts, config.min_word_count, extra)})

    def __init__(self, config, vocabs=None, state=None):
        super().__init__(config, vocabs, state)
        words = self.vocabs.get("words")
        counts = np.asarray(words.counts + [0] * (len(words) - len(words.counts))) if words else np.zeros(0)
        self.is_singleton = torch.from_numpy(counts == 1)

    def encode(self, sentences, inputs):
        index, lowercase = self.vocabs["words"].index, self.config.word_lowercase
        word_ids, case_ids = [], []
        for sentence in sentences:
            words = inputs.words(sentence)
            word_ids.append(np.fromiter((index(normalize_word(w, lowercase)) for w in words), np.int64, len(words)))
            case_ids.append(np.fromiter((casing(w) for w in words), np.int64, len(words)))
        return FeatureData({"word_ids": word_ids, "case_ids": case_ids})

    def batch(self, data, indices, lengths):
        tensors = super().batch(data, indices, lengths)
        tensors["singletons"] = self.is_singleton[tensors["word_ids"]]
        return tensors

    def module(self):
        c = self.config
        return modules.WordModule(len(self.vocabs["words"]), c.word_embedding_dim, c.case_embedding_dim, c.singleton_unk_rate)

    def initialise(self, module):
        if not self.config.word_vectors:
            return
        words, vectors = read_vectors(self.config.word_vectors, self.config.word_lowercase, self.config.vectors_limit)
        if vectors.shape[1] != self.config.word_embedding_dim:
            raise EiwaError(
                f"{self.config.word_vectors}: vectors have {vectors.shape[1]} dimensions but word_embedding_dim is "
                f"{self.config.word_embedding_dim}; use --set word_embedding_dim={vectors.shape[1]}"
            )
        rows = torch.tensor([self.vocabs["words"].index(w) for w in words])
        with torch.no_grad():
            module.embedding.weight[rows] = torch.from_numpy(vectors)


@register
class PosFeature(Feature):
    """Part of speech: the universal tag (UPOS, shared by Japanese and English) and, for Japanese,
    the UniDic levels pos1-pos3 as cumulative names (名詞, 名詞-固有名詞, 名詞-固有名詞-人名).

    `pos_source = "tokenizer"` reads eiwa's own tokenizer's analysis (raw text gets it when it is
    tokenized, corpora by alignment: `JapaneseTokenizer.analyse`); `"corpus"` reads the data's own
    POS column, and then every input must have one. English has no tokenizer POS: it reads the
    CoNLL POS column (Penn Treebank tags) either way.
    """

    name = "pos"
    settings = ("upos_dim", "pos_dim")
    vocab_tables = {"upos.weight": "upos", "levels.weight": "levels"}
    DEPTH = 3

    def _tags(self, sentence: Sentence) -> list[tuple[str, ...]]:
        """Each token's POS as the model reads it: the tokenizer's levels or the corpus column."""
        own = self.config.pos_source == "tokenizer" and self.config.lang == "ja"
        tags = [t.pos if own else t.corpus_pos for t in sentence.tokens]  # () from a part without POS: unknown
        if own:  # a character MeCab could not analyse (a NUL) has no POS: unknown, as () is
            tags = [() if tag is None else tag for tag in tags]
        if None in tags:
            where = sentence.origin or f"the input {sentence.text[:30]!r}"
            if self.config.lang == "en":
                raise EiwaError(f"{where}: this model uses part of speech (the pos feature), which raw English text does "
                                "not have: give CoNLL input with a POS column (--format conll --columns token,pos,...)")
            raise EiwaError(f"{where}: this model reads part of speech from the data's own POS column "
                            "(pos_source = corpus), and this input has none")
        return tags

    def _parts(self, tag: tuple[str, ...]) -> tuple[str, tuple[str | None, ...]]:
        """(UPOS, the language's own levels as cumulative names). English has no levels: None, read
        as the unknown level (id 1), so that its row and the classifier's weights for it are trained
        and mean "no level known" to a Japanese model that inherits them (see transfer.new_rows)."""
        from eiwa.resources.upos import level_names, upos_japanese, upos_ptb

        if not tag:  # a token of a corpus part without POS (data.read_parts, pos = "missing"): all unknown
            return None, (None,) * self.DEPTH
        if self.config.lang == "en":
            return upos_ptb(tag[0]), (None,) * self.DEPTH
        return upos_japanese(tag), level_names(tag, self.DEPTH)

    @classmethod
    def fit(cls, config, sentences, inputs):
        feature = cls(config)
        upos, levels = Counter(), Counter()
        for sentence in sentences:
            for tag in feature._tags(sentence):
                universal, names = feature._parts(tag)
                if universal is not None:
                    upos[universal] += 1
                levels.update(name for name in names if name)
        feature.vocabs = {"upos": _vocab(upos), "levels": _vocab(levels)}
        return feature

    def encode(self, sentences, inputs):
        upos_index, level_index = self.vocabs["upos"].index, self.vocabs["levels"].ids
        ids_of: dict[tuple[str, ...], tuple[int, ...]] = {}  # a few hundred distinct tags: look each up once

        def ids(tag):
            universal, names = self._parts(tag)
            # An empty level is padding (0): a Japanese tag with fewer levels; None (English) is unknown (1).
            return (1 if universal is None else upos_index(universal), *(1 if n is None else level_index.get(n, 1) if n else 0 for n in names))

        columns = []
        for sentence in sentences:
            rows = [ids_of.get(tag) or ids_of.setdefault(tag, ids(tag)) for tag in self._tags(sentence)]
            columns.append(np.asarray(rows, np.int64).reshape(len(rows), 1 + self.DEPTH))
        return FeatureData({"upos": [c[:, 0] for c in columns], "levels": [c[:, 1:] for c in columns]})

    def module(self):
        c = self.config
        return modules.PosModule(len(self.vocabs["upos"]), c.upos_dim, len(self.vocabs["levels"]), c.pos_dim, self.DEPTH)


@register
class VectorsFeature(Feature):
    """Pretrained word vectors (chiVe for Japanese, from ja-ginza's vocab/), looked up by surface,
    then dictionary form, then normalised form. The model keeps the whole key -> row index and the
    distinct rows (float16), so that words never seen in training still get their vectors; a linear
    projection brings them to `vectors_dim`, so that the table's size never shapes the classifier."""

    name = "vectors"
    settings = ("vectors_dim",)
    own_tables = ("table",)

    def __init__(self, config, vocabs=None, state=None):
        super().__init__(config, vocabs, state)
        self.table = None  # the VectorTable (key index; rows live in the module)

    @classmethod
    def fit(cls, config, sentences, inputs):
        from eiwa.resources.chive import VectorTable

        feature = cls(config)
        feature.table = VectorTable.load(config.vectors_table)
        feature.state = {"table": feature.table.to_json(), "rows": int(feature.table.rows.shape[0]),
                         "dim": int(feature.table.dim)}
        return feature

    def attach(self, module):
        from eiwa.resources.chive import VectorTable

        rows = module.table.detach()[:-1].to(torch.float16).numpy()
        self.table = VectorTable.from_json(self.state["table"], rows, check=not self.config.vectors_trainable)

    def encode(self, sentences, inputs):
        missing = self.state["rows"]  # the extra zero row
        rows = []
        for sentence in sentences:
            found = self.table.lookup(sentence.words, [t.lemma for t in sentence.tokens])
            rows.append(np.where(found < 0, missing, found))
        return FeatureData({"rows": rows})

    def coverage(self, sentences: Sequence[Sentence]) -> dict:
        words = [w for s in sentences for w in s.words]
        lemmas = [t.lemma for s in sentences for t in s.tokens]
        return self.table.coverage(words, lemmas)

    def module(self):
        c = self.config
        return modules.VectorsModule(self.state["rows"] + 1, self.state["dim"], c.vectors_dim, c.vectors_trainable)

    def initialise(self, module):
        with torch.no_grad():
            module.table[:-1] = torch.from_numpy(np.array(self.table.rows)).to(module.table.dtype)

    def lines(self, sentences):
        found = self.coverage(sentences)
        return [f"vectors: {self.table.source}, {len(self.table.keys):,} keys over {self.state['rows']:,} rows of "
                f"{self.state['dim']} dimensions, projected to {self.config.vectors_dim}; {found['share']:.1%} of "
                f"training tokens have a vector ({found['by_surface']:,} by surface, {found['by_lemma']:,} by "
                f"dictionary form, {found['by_normalised']:,} by normalised form)"]


@register
class GazetteerFeature(Feature):
    """Name dictionary (JMnedict): per type group, whether the token begins, continues or ends the
    longest dictionary match over the sentence's tokens (or is a one-token match).

    Japanese reads JMnedict's kanji and kana spellings, English its English glosses (the same
    types), so that the module of an English source means the same thing to a Japanese target."""

    name = "gazetteer"
    settings = ("gazetteer_dim",)

    def __init__(self, config, vocabs=None, state=None):
        super().__init__(config, vocabs, state)
        self.gazetteer = None

    def dictionary(self):
        from eiwa.gazetteer.matcher import Gazetteer

        if self.gazetteer is None:
            self.gazetteer = Gazetteer.load(max_tokens=self.config.gazetteer_max_tokens, language=self.config.lang)
            if self.state and self.state.get("fingerprint") != self.gazetteer.fingerprint():
                raise EiwaError(f"gazetteer: the model was trained with dictionary {self.state.get('fingerprint')}, "
                                f"but the compiled one is {self.gazetteer.fingerprint()}: rebuild it from the same "
                                "jamdict-data version (eiwa gazetteer build --force)")
        return self.gazetteer

    def attach(self, module):
        self.dictionary()  # at load time: a model whose dictionary differs fails now, not at its first input

    @classmethod
    def fit(cls, config, sentences, inputs):
        feature = cls(config)
        gazetteer = feature.dictionary()
        feature.state = {"fingerprint": gazetteer.fingerprint(), "groups": list(gazetteer.groups)}
        return feature

    def encode(self, sentences, inputs):
        separator = "" if self.config.lang == "ja" else " "
        return FeatureData({"tags": self.dictionary().match_many([s.words for s in sentences], separator)})

    def lines(self, sentences):
        separator = "" if self.config.lang == "ja" else " "
        stats = self.dictionary().statistics([s.words for s in sentences], separator)
        shares = ", ".join(f"{group} {share:.1%}" for group, share in stats["share"].items())
        return [f"gazetteer: {stats['share_any']:.1%} of training tokens inside a dictionary match ({shares})"]

    def module(self):
        from eiwa.gazetteer.matcher import TAGS

        return modules.GazetteerModule(len(self.state["groups"]), len(TAGS), self.config.gazetteer_dim)


class AttributeFeature(Feature):
    """Any categorical token attribute -> an embedding (AllenNLP's `SingleIdTokenIndexer(feature_name=...)`,
    flair's `OneHotEmbeddings(field=...)`). A subclass names the attribute by `value(token_text)`; its
    vocabulary is the training data's values by frequency, and unseen values read the unknown row."""

    dim_setting: ClassVar[str]
    vocab_tables = {"embedding.weight": "values"}
    seeded_by_name = True

    @staticmethod
    def value(word: str) -> str:
        raise NotImplementedError

    @classmethod
    def fit(cls, config, sentences, inputs):
        return cls(config, {"values": _vocab(Counter(cls.value(w) for s in sentences for w in s.words))})

    def encode(self, sentences, inputs):
        index, value = self.vocabs["values"].index, functools.lru_cache(maxsize=100_000)(self.value)
        return FeatureData({"ids": [np.fromiter((index(value(w)) for w in s.words), np.int64, len(s)) for s in sentences]})

    def module(self):
        return modules.AttributeModule(len(self.vocabs["values"]), getattr(self.config, self.dim_setting))


@register
class CharTypeFeature(AttributeFeature):
    """The token's character types: kanji, hiragana, katakana, latin, digit, symbol, or their mix
    (e.g. kanji+hiragana for 食べ, katakana+latin for ビタミンC)."""

    name = "chartype"
    settings = ("chartype_dim",)
    dim_setting = "chartype_dim"

    @staticmethod
    def value(word: str) -> str:
        return "+".join(sorted({_char_type(c) for c in word}, key=_CHAR_TYPES.index)) or "empty"


_CHAR_TYPES = ("kanji", "hiragana", "katakana", "latin", "digit", "symbol")


def _char_type(c: str) -> str:
    if "\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf" or "\U00020000" <= c <= "\U0002ffff" or c in "々〆ヵヶ":
        return "kanji"
    if "\u3041" <= c <= "\u309f":
        return "hiragana"
    if "\u30a0" <= c <= "\u30ff" or "\uff66" <= c <= "\uff9f" or "\u31f0" <= c <= "\u31ff":
        return "katakana"
    if c.isdigit():
        return "digit"
    if c.isalpha() and unicodedata.name(c, "").startswith(("LATIN", "FULLWIDTH LATIN")):
        return "latin"
    return "symbol"


# ----------------------------------------------------------------------------- the encoder


class Encoder:
    """The enabled features and the tag vocabulary: sentences -> `Encoded` arrays -> `Batch`es."""

    def __init__(self, config: Config, features: dict[str, Feature], tags: TagVocab):
        self.config = config
        self.features = features  # in registry order
        self.tags = tags
        self.inputs = Inputs(config)

    @staticmethod
    def enabled(config: Config) -> list[str]:
        return [name for name in FEATURES if name in config.feature_names()]

    @classmethod
    def build(cls, config: Config, sentences: Sequence[Sentence]) -> "Encoder":
        """Vocabularies and resources of every enabled feature, and the tags, from training data."""
        inputs = Inputs(config)
        features = {name: FEATURES[name].fit(config, sentences, inputs) for name in cls.enabled(config)}
        tag_set = set()
        for sentence in sentences:
            tag_set.update(tags_from_spans(sentence.token_spans(), len(sentence), config.tag_scheme))
        return cls(config, features, TagVocab(tag_set))

    def modules(self) -> dict[str, nn.Module]:
        """A fresh module per feature, created in registry order (char first, as eiwa 0.1 did, so
        that a seed gives the same initial weights as before)."""
        return {name: _module_of(feature) for name, feature in self.features.items()}

    def to_json(self) -> dict:
        return {"features": {name: f.to_json() for name, f in self.features.items()}, "tags": self.tags.items,
                "inherited_tags": self.tags.inherited}

    @classmethod
    def from_json(cls, config: Config, data: dict) -> "Encoder":
        for tag in data["tags"]:
            parse_tag(tag)  # a tag the decoder cannot read is a damaged file, found now, not mid-prediction
        tags = TagVocab(data["tags"], data.get("inherited_tags", ()))
        if "features" not in data:  # eiwa 0.1 (format 1): the word and bigram vocabularies at the top
            data = {"features": {"word": {"vocabs": {"words": data["words"]}}, "char": {"vocabs": {"bigrams": data["bigrams"]}}}}
        features = {name: FEATURES[name].from_json(config, data["features"][name]) for name in cls.enabled(config)}
        return cls(config, features, tags)

    def encode(self, sentences: Sequence[Sentence], with_tags: bool = True) -> Encoded:
        features = {name: feature.encode(sentences, self.inputs) for name, feature in self.features.items()}
        tag_ids = None
        if with_tags:
            tag_ids = []
            for sentence in sentences:
                tags = tags_from_spans(sentence.token_spans(), len(sentence), self.config.tag_scheme)
                tag_ids.append(np.fromiter((self.tags.ids.get(t, 0) for t in tags), np.int64, len(tags)))
        lengths = np.fromiter(map(len, sentences), np.int64, len(sentences))
        return Encoded(features, tag_ids, lengths)

    def batch(self, encoded: Encoded, indices: np.ndarray) -> Batch:
        lengths = encoded.lengths[indices]
        mask = np.arange(int(lengths.max()))[None, :] < lengths[:, None]
        inputs = {name: feature.batch(encoded.features[name], indices, lengths) for name, feature in self.features.items()}
        tags = None if encoded.tag_ids is None else torch.from_numpy(pad([encoded.tag_ids[i] for i in indices], lengths))
        return Batch(inputs, torch.from_numpy(lengths), torch.from_numpy(mask), tags, np.asarray(indices))

    def batches(self, encoded: Encoded, batch_size: int, shuffle_seed: int | None = None,
                shard: tuple[int, int] | None = None):
        """Length-bucketed batches: similar lengths together waste little padding.

        With a seed, sentences are shuffled, sorted by length within pools of 50 batches, and
        the batches shuffled again, so that each epoch sees a different, repeatable order.
        `shard` = (rank, world): this process's share of each batch (sentences rank, rank +
        world, ...), for data-parallel training; every rank gets the same number of batches
        (a batch with fewer sentences than processes is left out).
        """
        lengths = encoded.lengths
        if shuffle_seed is None:
            order = np.argsort(-lengths, kind="stable")
            chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        else:
            rng = np.random.default_rng(shuffle_seed)
            order = rng.permutation(len(encoded))
            pool = batch_size * 50
            chunks = []
            for start in range(0, len(order), pool):
                part = order[start : start + pool]
                part = part[np.argsort(lengths[part], kind="stable")]
                chunks.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
            chunks = [chunks[i] for i in rng.permutation(len(chunks))]
        for chunk in chunks:
            chunk = chunk[lengths[chunk] > 0]
            if shard is not None:
                if len(chunk) < shard[1]:
                    continue
                chunk = chunk[shard[0]::shard[1]]
            if len(chunk):
                yield self.batch(encoded, chunk)


def _module_of(feature: Feature) -> nn.Module:
    if not feature.seeded_by_name:
        return feature.module()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(feature.config.seed * 1_000_003 + zlib.crc32(feature.name.encode()))
        return feature.module()
