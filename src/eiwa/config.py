"""Hyper-parameters: one dataclass, loadable from TOML or JSON, overridable with `--set key=value`.

`Config` has one attribute per setting: the core ones declared here (language and inputs,
classifier, transfer, training) and every feature's, declared with its bounds in its own file
(eiwa.features: `Feature.settings`) and collected from the registry.

Defaults follow Lample et al. (2016, "Neural Architectures for Named Entity Recognition") where
they apply: 25-dimensional character embeddings and 25 hidden units per direction in the
character BiLSTM, 100-dimensional word embeddings, 100 hidden units per direction in the word
BiLSTM, dropout 0.5, singleton words replaced by the unknown word with probability 0.5, gradient
clipping at 5, and BIOES tags. Where eiwa departs (Adam instead of plain SGD, mini-batches of 32,
a small casing embedding to make up for lowercased words) it is for speed on CPUs.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from eiwa import arguments, features
from eiwa.errors import EiwaError
from eiwa.persist.atomic import is_file
from eiwa.persist.files import read_text
from eiwa.persist.migrations import config_values

INPUTS = ("native", "romaji")


@dataclass
class _InputSettings:
    # Data and inputs. For Japanese each module's input is chosen independently.
    lang: str = "en"
    word_input: str = "native"
    char_input: str = "native"
    tag_scheme: str = "bioes"
    # Token features, comma-separated (any order): eiwa.features.names().
    features: str = "char,word"


@dataclass
class _ModelSettings:
    # classifier module: dropout -> word BiLSTM -> linear -> CRF (or softmax).
    hidden_dim: int = 100  # per direction
    dropout: float = 0.5
    decoder: str = "crf"

    # Transfer (set by `eiwa transfer`; empty for a model trained from scratch).
    transferred: str = ""  # comma-separated modules whose weights came from the source model
    fine_tune: str = "all"  # all: train every weight; frozen: keep transferred weights; lower-lr: see below
    transferred_lr_scale: float = 0.1  # lower-lr: transferred modules learn at lr * this
    # Rows of a transferred table for target items the source lacks: random (as a fresh model) or
    # unknown (the source's unknown row, so that the target at first reads them as the source would).
    new_rows: str = "random"
    # Japanese words of a transferred word module: none, jmdict (mean of the source rows of their
    # JMdict glosses) or jmdict+map (and a chiVe -> source map for the rest); see bridge.py.
    word_bridge: str = "none"

    # Training.
    optimizer: str = "adam"
    lr: float = 0.002
    lr_decay: float = 0.0  # lr_epoch = lr / (1 + lr_decay * epoch), as in NCRF++
    batch_size: int = 32
    max_epochs: int = 50
    patience: int = 8  # epochs without a better dev F1 before stopping
    # No early stop before this many optimizer updates: on a few hundred sentences an epoch is a
    # handful of updates, and a model that has not yet found any entity would stop at dev F1 0.
    min_updates: int = 0
    clip: float = 5.0
    seed: int = 1
    dev_fraction: float = 0.1  # held out from training data when no dev set is given
    # Japanese: the probability that a training entity of a type the data shows followed by an honorific
    # (さん, 氏...) gets one appended, outside it (training/honorifics.py); 0 leaves the data as it is.
    honorifics: float = 0.0

    # Training with unlabelled text (--unlabelled; training/unlabelled.py): a teacher's tag
    # distributions per token (soft) or its confident paths (hard) beside the gold sentences.
    pseudo_labels: str = "soft"  # soft: the teacher's marginals; hard: its most likely tags, confident sentences only
    pseudo_label_threshold: float = 0.9  # hard: keep a sentence when every token's top tag has at least this P
    unlabelled_weight: float = 1.0  # the weight of an unlabelled sentence's loss against a gold sentence's
    unlabelled_ratio: float = 1.0  # unlabelled sentences drawn per gold sentence each epoch (all, without gold)
    self_training_rounds: int = 2  # rounds of teaching; each round after the first is taught by the last student
    threads: int = 0  # torch intra-op threads; 0 = leave PyTorch's default


class _ConfigMethods:
    """What `Config` does with its settings (the class itself is built below, from every setting)."""

    def validate(self) -> Config:
        if self.lang not in ("en", "ja"):
            raise EiwaError(f"lang must be 'en' or 'ja', got {self.lang!r}")
        for name in ("word_input", "char_input"):
            if getattr(self, name) not in INPUTS:
                raise EiwaError(f"{name} must be one of {', '.join(INPUTS)}, got {getattr(self, name)!r}")
        if self.lang == "en":
            # English has no romanization: both modules read the words as written.
            self.word_input = self.char_input = "native"
        names = self.feature_names()
        known = features.names()
        if [n for n in names if n not in known] or not names:
            raise EiwaError(f"features must be a comma-separated subset of {','.join(known)}, got {self.features!r}")
        for name, setting in features.all_settings().items():
            setting.check(name, getattr(self, name))
        self._validate_model_settings()
        self._validate_sizes()
        return self

    def _validate_sizes(self) -> None:
        """Refuse sizes whose weights alone would not fit in memory, before anything is allocated: the
        recurrent layers' weights (8 * hidden * (input + hidden) floats a BiLSTM) dominate; tables
        have rows as many as their vocabularies, unknown here, so each counts as one row."""
        dims = {n: getattr(self, n) for f in self.feature_names() for n in features.FEATURES[f].settings}
        dims = {n: v for n, v in dims.items() if n.endswith("_dim") and v is not None}
        char_hidden = dims.get("char_hidden_dim", 0)
        token_dim = sum(dims.values()) + char_hidden  # the character BiLSTM gives 2 * hidden per token
        floats = 8 * self.hidden_dim * (token_dim + self.hidden_dim) + token_dim
        floats += 8 * char_hidden * (dims.get("char_embedding_dim", 0) + char_hidden)
        largest = max({"hidden_dim": self.hidden_dim, **dims}.items(), key=lambda item: item[1])
        arguments.parameter_bytes(f"{largest[0]}={largest[1]}", floats)

    def _validate_model_settings(self) -> None:
        if self.decoder not in ("crf", "softmax"):
            raise EiwaError(f"decoder must be 'crf' or 'softmax', got {self.decoder!r}")
        if self.optimizer not in ("adam", "sgd"):
            raise EiwaError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        if self.tag_scheme not in ("bioes", "iob2"):
            raise EiwaError(f"tag_scheme must be 'bioes' or 'iob2', got {self.tag_scheme!r}")
        if self.new_rows not in ("random", "unknown"):
            raise EiwaError(f"new_rows must be random or unknown, got {self.new_rows!r}")
        if self.word_bridge not in ("none", "jmdict", "jmdict+map"):
            raise EiwaError(f"word_bridge must be none, jmdict or jmdict+map, got {self.word_bridge!r}")
        if self.fine_tune not in ("all", "frozen", "lower-lr"):
            raise EiwaError(f"fine_tune must be all, frozen or lower-lr, got {self.fine_tune!r}")
        if self.pseudo_labels not in ("soft", "hard"):
            raise EiwaError(f"pseudo_labels must be soft or hard, got {self.pseudo_labels!r}")
        if not 0.0 <= self.pseudo_label_threshold <= 1.0:
            raise EiwaError(f"pseudo_label_threshold must be in [0, 1], got {self.pseudo_label_threshold}")
        if self.self_training_rounds < 1:
            raise EiwaError(f"self_training_rounds must be at least 1, got {self.self_training_rounds}")
        for name in ("dropout", "dev_fraction"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise EiwaError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if not 0.0 <= self.honorifics <= 1.0:
            raise EiwaError(f"honorifics must be in [0, 1], got {self.honorifics}")
        if self.honorifics and self.lang != "ja":
            raise EiwaError("honorifics adds Japanese honorifics to training data: it needs lang ja")
        for name in ("hidden_dim", "batch_size", "max_epochs"):
            if getattr(self, name) < 1:
                raise EiwaError(f"{name} must be at least 1, got {getattr(self, name)}")
        arguments.seed("seed", self.seed)
        for name in ("min_updates", "threads"):
            if getattr(self, name) < 0:
                raise EiwaError(f"{name} must be at least 0, got {getattr(self, name)}")
        if self.patience < 1:  # 0 would train no epoch at all and save an untrained model
            raise EiwaError(f"patience must be at least 1, got {self.patience}")
        # `not x > 0` also refuses nan, which compares false with everything.
        if not (0 < self.lr < math.inf):
            raise EiwaError(f"lr must be a positive number, got {self.lr}")
        for name in ("lr_decay", "clip", "transferred_lr_scale", "unlabelled_weight", "unlabelled_ratio"):
            if not (0 <= getattr(self, name) < math.inf):
                raise EiwaError(f"{name} must be a number of at least 0, got {getattr(self, name)}")

    def feature_names(self) -> list[str]:
        return [n.strip() for n in self.features.split(",") if n.strip()]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict, origin: str = "config") -> Config:
        if not isinstance(values, dict):
            raise EiwaError(f"{origin}: expected a table of settings (a JSON object), found {type(values).__name__}")
        known = {f.name for f in fields(cls)}
        values = config_values(values)
        unknown = sorted(set(values) - known)
        if unknown:
            raise EiwaError(f"{origin}: unknown setting(s) {', '.join(unknown)}")
        config = cls()
        for key, value in values.items():
            setattr(config, key, _coerce(key, value, origin))
        return config

    def with_overrides(self, assignments: list[str]) -> Config:
        """Apply `key=value` strings (values parsed as the field's type)."""
        values = self.to_dict()
        for assignment in assignments:
            key, sep, raw = assignment.partition("=")
            key = key.strip().replace("-", "_")
            if not sep or not key:
                raise EiwaError(f"--set expects key=value, got {assignment!r}")
            if key not in values:
                raise EiwaError(f"--set: unknown setting {key!r}; settings: {', '.join(values)}")
            values[key] = _parse_value(key, raw.strip())
        return Config.from_dict(values, "--set")

    def describe(self) -> str:
        return "\n".join(f"  {key} = {value!r}" for key, value in self.to_dict().items())


def _fields(settings: type) -> list[tuple]:
    return [(f.name, f.type, dataclasses.field(default=f.default)) for f in fields(settings)]


def _feature_fields() -> list[tuple]:
    return [(name, s.annotation, dataclasses.field(default=s.default)) for name, s in features.all_settings().items()]


# The inputs first, then each feature's settings, then the classifier's, transfer's and training's:
# the order of config.json and of `describe()`.
Config = dataclasses.make_dataclass(
    "Config",
    [*_fields(_InputSettings), *_feature_fields(), *_fields(_ModelSettings)],
    bases=(_ConfigMethods,),
    namespace={"__module__": __name__, "__doc__": "Every setting of a model and its training, with defaults."},
)


def _field_type(key: str) -> str:
    return {f.name: str(f.type) for f in fields(Config)}[key]


def _parse_value(key: str, raw: str):
    kind = _field_type(key)
    if "None" in kind and raw.lower() in ("none", "null", ""):
        return None
    if kind.startswith("bool"):
        if raw.lower() in ("true", "1", "yes", "on"):
            return True
        if raw.lower() in ("false", "0", "no", "off"):
            return False
        raise EiwaError(f"--set {key}: expected true or false, got {raw!r}")
    if kind.startswith("int"):
        try:
            return int(raw)
        except ValueError:
            raise EiwaError(f"--set {key}: expected an integer, got {raw!r}") from None
    if kind.startswith("float"):
        try:
            return float(raw)
        except ValueError:
            raise EiwaError(f"--set {key}: expected a number, got {raw!r}") from None
    return raw


def _coerce(key: str, value, origin: str):
    kind = _field_type(key)
    if value is None and "None" in kind:
        return None
    if kind.startswith("bool") and isinstance(value, bool):
        return value
    if kind.startswith("int") and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind.startswith("float") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind.startswith("str") and isinstance(value, str):
        return value
    raise EiwaError(f"{origin}: setting {key} should be {kind}, got {value!r}")


BUILTIN_CONFIGS = Path(__file__).parent / "configs"


# The best recipe for each language, chosen on dev data (docs/RESULTS.md); used when no --config is given.
DEFAULT_RECIPES = {"ja": "ja-small"}
# The source `eiwa transfer` starts a model for this language from when none is named: English with
# the inputs both languages share (the quickstart's and the study's source).
DEFAULT_SOURCES = {"ja": "conll03-en-shared"}


def builtin_configs() -> list[str]:
    return sorted(p.stem for p in BUILTIN_CONFIGS.glob("*.toml"))


def default_recipe(lang: str | None) -> str | None:
    """The recipe a command uses for `lang` when none is named (None: the built-in defaults)."""
    return DEFAULT_RECIPES.get(lang or "en")


def recipe_summaries() -> dict[str, str]:
    """Each recipe shipped with eiwa and its one-line summary (the first comment line of its file)."""
    summaries = {}
    for name in builtin_configs():
        first = read_text(BUILTIN_CONFIGS / f"{name}.toml", EiwaError, "config file").splitlines()[0]
        summaries[name] = first.removeprefix("#").strip()
    return summaries


def resolve_config(name_or_path: str | Path) -> Path:
    """A config file, or the name of a recipe shipped with eiwa (e.g. `small-data`)."""
    path = Path(name_or_path)
    if is_file(path):
        return path
    if str(name_or_path) in builtin_configs():
        return BUILTIN_CONFIGS / f"{name_or_path}.toml"
    raise EiwaError(
        f"{name_or_path}: no such config file or built-in config (built-in: {', '.join(builtin_configs())})"
    )


def read_config_values(name_or_path: str | Path) -> dict:
    """The settings a TOML or JSON config file (or built-in recipe) gives, as written."""
    path = resolve_config(name_or_path)
    text = read_text(path, EiwaError, "config file")
    try:
        values = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as error:
        raise EiwaError(f"{path}: invalid config: {error}") from None
    except RecursionError:
        raise EiwaError(f"{path}: invalid config: nested too deeply") from None
    if not isinstance(values, dict):
        raise EiwaError(f"{path}: invalid config: expected a table of settings, found {type(values).__name__}")
    return values


def load_config(path: str | Path | None, overrides: list[str] | None = None, **fixed) -> Config:
    """Defaults, then a TOML/JSON file, then `--set` overrides, then values fixed by command-line flags."""
    config = Config()
    if path is not None:
        config = Config.from_dict(read_config_values(path), str(resolve_config(path)))
    if overrides:
        config = config.with_overrides(overrides)
    for key, value in fixed.items():
        if value is not None:
            setattr(config, key, value)
    return config.validate()


def asked_settings(config_path: str | Path | None, overrides, **flags) -> frozenset[str]:
    """The names of the settings a command line gives: flags given, --set keys, the --config file's keys."""
    names = {key for key, value in flags.items() if value is not None}
    names |= {o.partition("=")[0].strip().replace("-", "_") for o in overrides}
    if config_path:
        names |= set(read_config_values(config_path))
    return frozenset(names)
