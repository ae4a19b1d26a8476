"""eiwa (英和): Japanese named-entity recognition by transfer from English.

    import eiwa
    tagger = eiwa.load("path/to/model")          # or the name of a built-in model
    tagger.predict(["田中さんは東京に住んでいる。"])
    # [{"text": ..., "entities": [{"start": 0, "end": 2, "type": "PSN", "text": "田中"}, ...]}]
"""

__version__ = "0.3.0"


def load(name_or_path):
    """Load a model directory (or a built-in model by name) as a `Tagger`."""
    from eiwa.tagger import Tagger

    return Tagger.load(name_or_path)


__all__ = ["load", "__version__"]
