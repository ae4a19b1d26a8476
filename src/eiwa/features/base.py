"""The feature contract: `Feature` (one token input of the tagger), its `Setting`s, and the registry.

Each input is one `Feature` subclass in a file of its own (char.py, word.py, ...), declared once: its
name (also the name of its module in the network and of its unit for transfer), its settings with
defaults and bounds (config.py makes them `Config` attributes), the vocabularies it keeps, how it
turns sentences into integer arrays and those into a batch's tensors, and its `nn.Module`. A config
enables any of them (`features = "char,word,pos"`); encoding, saving, loading and the transfer
tables are derived from this registry.

    sentences --Feature.encode--> FeatureData (per-sentence int arrays) --Encoder.batch--> Batch
    Batch.inputs[name] --module `name`--> [batch, time, output_dim] --concatenated--> classifier

To add an input: write its file (the Feature subclass, decorated with `@register`, and its module)
and import it in features/__init__.py.
"""

from __future__ import annotations

import copy
import inspect
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import torch
from torch import nn

from eiwa.errors import EiwaError
from eiwa.features.vocab import Vocab

if TYPE_CHECKING:
    from eiwa.config import Config
    from eiwa.doc import Sentence
    from eiwa.features.encoder import FeatureData, Inputs

FEATURES: dict[str, type[Feature]] = {}  # name -> class, as registered


def register(cls: type[Feature]) -> type[Feature]:
    """Class decorator: adds the feature to the registry under its name."""
    FEATURES[cls.name] = cls
    return cls


@dataclass(frozen=True)
class Setting:
    """A config setting of a feature: its type (int, float, bool or str), default and allowed values."""

    type: type
    default: object
    help: str
    minimum: float | None = None
    below: float | None = None  # values must be smaller (with `minimum`: a range [minimum, below))
    choices: tuple[str, ...] = ()
    optional: bool = False  # None is a value too: "not set"
    shapes_weights: bool = False  # a transferred module keeps the source's value, since its weights only fit it

    @property
    def annotation(self) -> str:
        """The type as config.py reads values by it: 'int', 'str | None', ..."""
        return self.type.__name__ + (" | None" if self.optional else "")

    def check(self, name: str, value) -> None:
        """Raise an EiwaError naming the setting when `value` is out of bounds."""
        if value is None:
            return
        if self.choices and value not in self.choices:
            raise EiwaError(f"{name} must be one of {', '.join(self.choices)}, got {value!r}")
        if self.below is not None:
            if not self.minimum <= value < self.below:  # `not` also refuses nan
                raise EiwaError(f"{name} must be in [{self.minimum:g}, {self.below:g}), got {value}")
        elif self.minimum is not None and value < self.minimum:
            raise EiwaError(f"{name} must be at least {self.minimum}, got {value}")


class Feature:
    """One token input. Subclasses set the class attributes and implement fit/encode/module."""

    name: ClassVar[str]
    # Its config settings (config.py makes each an attribute of Config): setting name -> Setting.
    settings: ClassVar[dict[str, Setting]] = {}
    # Parameters (within the module) whose rows follow a vocabulary: parameter -> vocabulary name.
    vocab_tables: ClassVar[dict[str, str]] = {}
    # Parameters that belong to the target's own resources and are never copied by transfer.
    own_tables: ClassVar[tuple[str, ...]] = ()
    # The first five features predate per-feature seeds: their modules draw initial weights from the
    # shared random stream in this rank order, which keeps their models and runs as they were. Any
    # other feature (None) is seeded by its own name, so that what comes before it does not shape it.
    legacy_init_rank: ClassVar[int | None] = None
    # The classifier reads these features' outputs before the others' (word, then char: the layout of
    # format-1 models); saved models depend on this order.
    classifier_first: ClassVar[bool] = False
    # In eval mode the module's output for a token depends on that token's own inputs alone (each
    # tensor of `inference_batch` shaped [batch, time, ...]): tagging then runs it once per distinct
    # token (inference.window_gates). A module that looks at neighbouring tokens sets this False.
    token_local: ClassVar[bool] = True

    def __init__(self, config: Config, vocabs: dict[str, Vocab] | None = None, state: dict | None = None):
        self.config = config
        self.vocabs = vocabs or {}
        self.state = state or {}

    @classmethod
    def fit(cls, config: Config, sentences: Sequence[Sentence], inputs: Inputs) -> Feature:
        """The feature with vocabularies from the training sentences."""
        return cls(config)

    @classmethod
    def architecture(cls) -> tuple[str, ...]:
        """The settings that shape this feature's weights."""
        return tuple(name for name, setting in cls.settings.items() if setting.shapes_weights)

    def encode(self, sentences: Sequence[Sentence], inputs: Inputs) -> FeatureData:
        raise NotImplementedError

    def batch(self, data: FeatureData, indices: np.ndarray, lengths: np.ndarray) -> dict:
        """The batch's tensors: by default every column padded to [batch, time, ...]."""
        return data.padded(indices, lengths)

    def inference_batch(self, data: FeatureData, indices: np.ndarray, lengths: np.ndarray) -> dict:
        """The batch's tensors at inference, where the module also reads `precompute`'s: by default `batch`'s."""
        return self.batch(data, indices, lengths)

    def module(self) -> nn.Module:
        raise NotImplementedError

    def new_module(self) -> nn.Module:
        """`module()` with initial weights from the shared random stream (legacy features) or from
        a seed of its own: the config's seed and the feature's name."""
        if self.legacy_init_rank is not None:
            return self.module()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed * 1_000_003 + zlib.crc32(self.name.encode()))
            return self.module()

    def initialise(self, module: nn.Module) -> None:
        """Fill a freshly created module with what the feature brings (pretrained rows); default: nothing."""

    def attach(self, module: nn.Module) -> None:
        """After saved weights were loaded into the module: take back what lives in them; default: nothing."""

    def precompute(self, module: nn.Module, data: FeatureData, run: Callable, device: torch.device) -> dict:
        """Tensors over the whole encoded corpus that the module's forward reads from every batch's
        inputs at inference, computed once instead of per batch; `run(function, items)` maps over
        items as the tagger's threads do. Default: none."""
        return {}

    def with_vocabs(self, vocabs: dict[str, Vocab]) -> Feature:
        """The same feature with other vocabularies (transfer's: the source's items, then the target's)."""
        return type(self)(self.config, vocabs, self.state)

    def with_config(self, config: Config) -> Feature:
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
    def from_json(cls, config: Config, data: dict) -> Feature:
        vocabs = {name: Vocab.from_json(v, f"{cls.name} {name}") for name, v in data.get("vocabs", {}).items()}
        return cls(config, vocabs, data.get("state"))


# ----------------------------------------------------------------------------- the registry's order and help


def module_order(enabled: Iterable[str]) -> list[str]:
    """The registered ones of `enabled`, in the order their modules are made: the legacy features by
    rank, then the others by name."""

    def key(name: str) -> tuple:
        rank = FEATURES[name].legacy_init_rank
        return (0, rank, "") if rank is not None else (1, 0, name)

    wanted = set(enabled)
    return sorted((name for name in FEATURES if name in wanted), key=key)


def classifier_order(enabled: Iterable[str]) -> list[str]:
    """`enabled` in the order the classifier reads their outputs: `classifier_first` ones, then module order."""
    return sorted(module_order(enabled), key=lambda name: not FEATURES[name].classifier_first)


def names() -> list[str]:
    """Every registered feature, in module order (the order help and error messages list them in)."""
    return module_order(FEATURES)


def description(name: str) -> str:
    """A feature's one-line description: the first line of its class docstring."""
    return (inspect.getdoc(FEATURES[name]) or "").partition("\n")[0]


def all_settings() -> dict[str, Setting]:
    """Every registered feature's settings, feature by feature in module order."""
    return {key: setting for name in names() for key, setting in FEATURES[name].settings.items()}
