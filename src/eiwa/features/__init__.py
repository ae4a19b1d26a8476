"""Token features: one file per input (its Feature, its nn.Module, its settings), the registry and the Encoder.

Importing the package registers every feature (base.FEATURES); `names()` lists them and
`description(name)` gives each one's help line.
"""

from eiwa.features import char, chartype, gazetteer, pos, vectors, word  # noqa: F401 (each registers its feature)
from eiwa.features.base import FEATURES, Feature, Setting, all_settings, description, names, register
from eiwa.features.encoder import Encoder

__all__ = ["FEATURES", "Encoder", "Feature", "Setting", "all_settings", "description", "names", "register"]
