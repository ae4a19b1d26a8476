"""Reading what older eiwa versions saved: every allowance for an older format, in one place.

meta.json names the format version a model was saved in (`model_dir.FORMAT_VERSION` is the one
written now). An older model is read by bringing its files into the current shape as they are
loaded, so that nothing past loading knows about it, and it predicts exactly as it did
(tests/test_tagger.py checks a format 1 model against the outputs it gave when it was saved).

* Format 1: the char and word features only; vocab.json holds their vocabularies at its top level,
  and config.json's `vectors` initialised the word module (today's `word_vectors`).
* Format 2: each feature's vocabularies under its name in vocab.json.
* meta.json's `files` (each file's sha256) is absent from models saved before checksums were
  recorded: such a model loads without the check.
* Training checkpoints written before `min_updates` existed have no update count; a checkpoint folder
  (`checkpoint/state.json`, before the one-file checkpoint) cannot be resumed.
"""

from __future__ import annotations

from pathlib import Path

from eiwa.errors import EiwaError

READS_VERSIONS = (1, 2)  # the model format versions this eiwa reads


def recorded_checksums(meta: dict) -> dict:
    """The sha256 of each file that meta.json records; none for a model saved before checksums were."""
    return meta.get("files", {})


def config_values(values: dict) -> dict:
    """config.json's settings in today's names (format 1 called the word module's vectors `vectors`)."""
    if "features" not in values and "vectors" in values:
        values = {**values, "word_vectors": values["vectors"]}
        del values["vectors"]
    return values


def vocab_data(data: dict) -> dict:
    """vocab.json in today's layout: format 1 kept the word and bigram vocabularies at its top level."""
    if "features" in data:
        return data
    return {
        **data,
        "features": {"word": {"vocabs": {"words": data["words"]}}, "char": {"vocabs": {"bigrams": data["bigrams"]}}},
    }


def checkpoint_state(state: dict) -> dict:
    """A checkpoint's training state with every field today's loop reads."""
    state.setdefault("updates", 0)
    return state


def check_resumable(directory: Path, checkpoint: Path) -> None:
    """Refuse, in words, a checkpoint of a format that cannot be resumed."""
    if not checkpoint.exists() and (directory / "checkpoint" / "state.json").exists():
        raise EiwaError(
            f"{directory} holds a checkpoint of eiwa 0.2 (a checkpoint/ folder), which this eiwa does "
            "not resume: train again with --force"
        )
