"""Reading models of older formats: every allowance for what an older eiwa saved, in one place.

meta.json names the format version a model was saved in (`model_dir.FORMAT_VERSION` is the one
written now). An older model is read by bringing its files into the current shape as they are
loaded, so that nothing past loading knows about it, and it predicts exactly as it did
(tests/test_tagger.py checks a format 1 model against the outputs it gave when it was saved).

* Format 1: the char and word features only; vocab.json holds their vocabularies at its top level,
  and config.json's `vectors` initialised the word module.
* Format 2: each feature's vocabularies under its name in vocab.json.
* meta.json's `files` (each file's sha256) is absent from models saved before checksums were
  recorded: such a model loads without the check.
"""

from __future__ import annotations

READS_VERSIONS = (1, 2)  # the model format versions this eiwa reads


def recorded_checksums(meta: dict) -> dict:
    """The sha256 of each file that meta.json records; none for a model saved before checksums were."""
    return meta.get("files", {})
