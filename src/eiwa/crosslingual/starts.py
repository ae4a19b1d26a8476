"""What a transfer starts from: the transferable modules, the settings that shape them, and the
module subsets (`--modules char,classifier`, the modules two models share, `--modules auto`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from eiwa.config import Config
from eiwa.errors import EiwaError
from eiwa.features import FEATURES, names
from eiwa.tagger import Tagger

MODULES = (*names(), "classifier")
# Settings that shape each module's weights: a transferred module keeps the source's.
ARCHITECTURE = {
    "classifier": ("hidden_dim", "decoder", "tag_scheme"),
    **{name: feature.architecture() for name, feature in FEATURES.items()},
}
AUTO = "auto"  # --modules auto: the subset (and source) chosen on the target's dev data
SHARED = "shared"  # --modules shared: every module the source can hand to the target
NONE = "none"  # --modules none: training from scratch, through the transfer code path
# The default of `eiwa transfer` and `eiwa.transfer`: the subset best on dev in the transfer studies
# (docs/RESULTS.md, section 1) is every shared module; `auto` costs several trainings.
DEFAULT_MODULES = SHARED


def parse_modules(text: str) -> list[str]:
    """'char,classifier' -> ['char', 'classifier']; 'none' -> [] (training from scratch)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == [NONE]:
        return []
    unknown = [n for n in names if n not in MODULES]
    if unknown or not names:
        raise EiwaError(
            f"--modules: expected {SHARED} (every module the source shares with the target), {AUTO} (chosen "
            f"on dev), {NONE}, or a comma-separated subset of {','.join(MODULES)}; got {text!r}"
        )
    return [m for m in MODULES if m in names]


def parse_start_modules(text: str | None) -> list[str] | str:
    """What a module option asks for: SHARED, AUTO, or a list of modules ([] for none); None is the default."""
    text = DEFAULT_MODULES if text is None else text.strip()
    return text if text in (SHARED, AUTO) else parse_modules(text)


def shared_modules(source: Tagger, config: Config) -> list[str]:
    """Every module the source can hand to a target of `config`: the features both have, and the classifier."""
    return [m for m in MODULES if m == "classifier" or (m in source.encoder.features and m in config.feature_names())]


def auto_candidates(source: Tagger, config: Config) -> list[list[str]]:
    """The subsets `--modules auto` tries for this source and target, in order: scratch, the
    published best (char, classifier), every module both models have, that without `word` (the
    module whose rows least often match across scripts) and that without `char` (romaji bigrams
    from English can help less than a fresh character module). Trying every subset would cost
    2**modules trainings; these five span what the studies found to matter (docs/RESULTS.md)."""
    shared = shared_modules(source, config)
    candidates = [
        [],
        ["char", "classifier"],
        shared,
        [m for m in shared if m != "word"],
        [m for m in shared if m != "char"],
    ]
    unique = []
    for modules in candidates:
        modules = [m for m in shared if m in modules]
        if modules not in unique:
            unique.append(modules)
    return unique


def check_modules(source: Tagger, config: Config, modules: Sequence[str]) -> None:
    """Every feature module to transfer must be one the source has and the target uses."""
    for name in modules:
        if name == "classifier":
            continue
        if name not in source.encoder.features:
            raise EiwaError(
                f"--modules: the source model has no {name} module (it has: "
                f"{', '.join([*source.encoder.features, 'classifier'])})"
            )
        if name not in config.feature_names():
            raise EiwaError(
                f"--modules: {name} is transferred but the target's features ({config.features}) do "
                f"not include it: add it, e.g. --set features={config.features},{name}"
            )


def target_config(source: Config, target: Config) -> Config:
    """The target's own settings, with the source's architecture: the classifier's, and that of
    every feature the source has."""
    modules = ["classifier", *source.feature_names()]
    return replace(target, **{key: getattr(source, key) for module in modules for key in ARCHITECTURE[module]})
