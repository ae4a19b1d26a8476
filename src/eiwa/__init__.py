"""eiwa (英和): Japanese named-entity recognition from little data, by transfer from English.

    import eiwa
    tagger = eiwa.load("ja-wiki")                    # a built-in model, or a model directory
    tagger.predict("田中さんは東京の日本銀行に勤めている。")
    result = eiwa.train("train.conll", dev="dev.conll", out="models/en")
    result = eiwa.transfer("conll03-en-shared", "mine.jsonl", format="doccano", out="models/ja")
    corpus = eiwa.read("ner.json", format="spans", lang="ja")
    scores = result.tagger.evaluate("test.jsonl", format="doccano")
    chosen = eiwa.select_texts(tagger, unlabelled_texts, 100)  # what to annotate next

The names are imported on first use, so that `import eiwa` stays quick.
"""

__version__ = "0.3.0"

_EXPORTS = {
    "train": "eiwa.api",
    "transfer": "eiwa.api",
    "cross_validate": "eiwa.api",
    "make_config": "eiwa.api",
    "read": "eiwa.readers",
    "select": "eiwa.selection",
    "select_texts": "eiwa.selection",
    "Tagger": "eiwa.tagger",
    "Config": "eiwa.config",
}


def load(name_or_path):
    """Load a model directory (or a built-in model by name) as a `Tagger`."""
    from eiwa.tagger import Tagger

    return Tagger.load(name_or_path)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'eiwa' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)


__all__ = ["load", "__version__", *_EXPORTS]
