"""Giving a saved model the resources its features read, so that it tags with nothing else installed.

Models saved today carry them: the gazetteer's lookup and the vectors' key index live in
the weights. :func:`embed_resources` brings an older model directory to the same state, in place
and atomically (the directory is rebuilt beside itself and swapped in whole); its predictions do
not change. It needs what the model needed before: the compiled JMnedict of the version the model
was trained with (or jamdict-data to compile it).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from eiwa.features.gazetteer import embed_dictionary
from eiwa.features.vectors import embed_key_index
from eiwa.persist.model_dir import rewrite_model


def embed_resources(directory: str | Path, log: Callable[[str], None] = lambda line: None) -> list[str]:
    """Embed what the model at ``directory`` reads from outside into its weights; returns the
    features changed (none: it was self-contained already, and the directory is left as it was)."""
    changed: list[str] = []

    def change(weights: dict, vocab: dict, config: dict) -> bool:
        features = vocab.get("features", {})
        if "gazetteer" in features and embed_dictionary(weights, features["gazetteer"]["state"], config, log):
            changed.append("gazetteer")
        if "vectors" in features and embed_key_index(weights, features["vectors"]["state"], config):
            changed.append("vectors")
        return bool(changed)

    rewrite_model(Path(directory), change)
    return changed
