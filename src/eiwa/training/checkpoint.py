"""The checkpoint a training run leaves in its model directory after every epoch, and `--resume` reads.

One safetensors file: the weights (`model.*`) and the optimizer's tensors (`optimizer.<group
index>.<name>`), with the training state, the config and the vocabularies as JSON in its header,
so that it is written (and renamed) as one unit. The header's `checksum` is the sha256 of the other
header fields and of every tensor's bytes; a checkpoint written before it existed is read unchecked.
Every header field is checked for its shape before use, so a hand-edited header ends in a sentence.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from eiwa.config import Config
from eiwa.doc import Sentence
from eiwa.errors import EiwaError
from eiwa.features.encoder import Encoder
from eiwa.persist.atomic import fault_point, json_text
from eiwa.persist.files import readable_file
from eiwa.persist.migrations import checkpoint_state
from eiwa.tagger import Tagger

CHECKPOINT = "checkpoint.safetensors"  # inside the model directory while training runs
_CHECKSUM = "checksum"  # the header field that holds the checkpoint's sha256


def write_checkpoint(path: Path, tagger: Tagger, optimizer: torch.optim.Optimizer, state: dict) -> None:
    """Write the weights, the optimizer and the training loop's `state` to `path`."""
    tensors = {f"model.{k}": v for k, v in tagger.cpu_weights().items()}
    optimizer_state = optimizer.state_dict()
    plain_state = {}
    for index, values in optimizer_state["state"].items():
        for name, value in values.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.{index}.{name}"] = value.detach().cpu().contiguous()
            else:
                plain_state.setdefault(str(index), {})[name] = value
    header = {
        "state": {**state, "optimizer_groups": optimizer_state["param_groups"], "optimizer_plain": plain_state},
        "config": tagger.config.to_dict(),
        "vocab": tagger.encoder.to_json(),
    }
    metadata = {key: json_text(value) for key, value in header.items()}
    metadata[_CHECKSUM] = _digest(metadata, tensors)
    fault_point("write checkpoint")
    save_file(tensors, path, metadata=metadata)


def data_fingerprint(sentences: Sequence[Sentence]) -> str:
    """The sha256 of the sentences' texts and gold entities, to tell the data a run trained on."""
    digest = hashlib.sha256()
    for sentence in sentences:
        entities = [entity.as_tuple() for entity in sentence.entities]
        digest.update(json.dumps([sentence.text, entities], ensure_ascii=True).encode() + b"\n")
    return "sha256:" + digest.hexdigest()


def checkpoint_config(path: Path) -> Config:
    """The settings a checkpoint continues with."""
    config = _header(path).get("config")
    if not isinstance(config, dict):
        raise _bad_field(path, "config", "is not an object")
    return Config.from_dict(config, str(path)).validate()


def read_checkpoint(path: Path) -> tuple[Tagger, dict, dict]:
    """The tagger, optimizer state and training state of a checkpoint file."""
    header = _header(path)
    _check_fields(path, header)
    state = header["state"]
    try:
        tensors = load_file(path)
        config = Config.from_dict(header["config"], str(path)).validate()
    except (SafetensorError, OSError, ValueError, KeyError, TypeError) as error:
        raise _damaged(path, error) from None
    try:  # the vocabularies are read as a model directory's are: a value of the wrong shape fails in there
        tagger = Tagger.create(config, Encoder.from_json(config, header["vocab"]))
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as error:
        raise _bad_field(path, "vocab", f"cannot be read ({type(error).__name__}: {error})") from None
    weights = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    _check_shapes(path, tagger.model.state_dict(), weights)
    _check_digest(path, tensors)
    tagger.model.load_state_dict(weights)
    tagger.attach_features()
    optimizer_state = _optimizer_state(tensors, state.pop("optimizer_groups"), state.pop("optimizer_plain"))
    return tagger, optimizer_state, checkpoint_state(state)


def _optimizer_state(tensors: dict[str, torch.Tensor], groups: list, plain: dict) -> dict:
    """The optimizer's state_dict again, from its tensors and the header's groups and plain values."""
    optimizer_state: dict = {"state": {}, "param_groups": groups}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            optimizer_state["state"].setdefault(int(index), {})[name] = value
    for index, values in plain.items():
        optimizer_state["state"].setdefault(int(index), {}).update(values)
    return optimizer_state


def _header(path: Path) -> dict:
    try:
        with safe_open(readable_file(path, EiwaError, "checkpoint"), "pt") as handle:
            metadata = handle.metadata() or {}
        header = {key: json.loads(value) for key, value in metadata.items() if key != _CHECKSUM}
    except (SafetensorError, OSError, ValueError) as error:
        raise _damaged(path, error) from None
    return header


def _digest(metadata: dict[str, str], tensors: dict[str, torch.Tensor]) -> str:
    """The sha256 of the header's JSON texts and of each tensor's name, type, shape and bytes."""
    digest = hashlib.sha256()
    for key in sorted(metadata):
        if key != _CHECKSUM:
            digest.update(json.dumps([key, metadata[key]]).encode())
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(json.dumps([name, str(tensor.dtype), list(tensor.shape)]).encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    return "sha256:" + digest.hexdigest()


def _check_digest(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    with safe_open(path, "pt") as handle:
        metadata = handle.metadata() or {}
    recorded = metadata.get(_CHECKSUM)
    if recorded is not None and recorded != _digest(metadata, tensors):
        raise EiwaError(
            f"{path}: damaged checkpoint (its checksum differs from its contents); train again with --force"
        )


# What the loop reads from a checkpoint's state, with the test each value must pass.
_COUNTS = ("epoch", "best_epoch", "bad_epochs", "updates")
_NUMBERS = ("best_dev_f1", "seconds")


def _check_fields(path: Path, header: dict) -> None:
    """Refuse, naming the field, a header whose fields have the wrong shape for the loop to read."""
    for key in ("state", "config", "vocab"):
        if not isinstance(header.get(key), dict):
            raise _bad_field(path, key, "is not an object")
    state = header["state"]
    for key in _COUNTS:
        value = state.get(key, 0) if key == "updates" else state.get(key)
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            raise _bad_field(path, f"state.{key}", "is not a count (a whole number, 0 or more)")
    for key in _NUMBERS:
        value = state.get(key)
        if not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)):
            raise _bad_field(path, f"state.{key}", "is not a finite number")
    if not (isinstance(state.get("history"), list) and all(isinstance(row, dict) for row in state["history"])):
        raise _bad_field(path, "state.history", "is not a list of objects")
    groups = state.get("optimizer_groups")
    if not (isinstance(groups, list) and all(isinstance(group, dict) for group in groups)):
        raise _bad_field(path, "state.optimizer_groups", "is not a list of objects")
    plain = state.get("optimizer_plain")
    if not (isinstance(plain, dict) and all(k.isdigit() and isinstance(v, dict) for k, v in plain.items())):
        raise _bad_field(path, "state.optimizer_plain", "is not an object of objects by parameter index")
    data = state.get("data", {})
    if not (isinstance(data, dict) and all(v is None or isinstance(v, str) for v in data.values())):
        raise _bad_field(path, "state.data", "is not an object of fingerprints")


def _check_shapes(path: Path, expected: dict[str, torch.Tensor], weights: dict[str, torch.Tensor]) -> None:
    """The weights must be those of the model the header's config and vocabularies make."""
    for name, tensor in expected.items():
        found = weights.get(name)
        if found is None or found.shape != tensor.shape:
            shape = "missing" if found is None else f"of shape {list(found.shape)}"
            raise _bad_field(
                path, "config", f"does not match the weights ({name} {shape}, expected {list(tensor.shape)})"
            )
    if extra := sorted(set(weights) - set(expected)):
        raise _bad_field(path, "config", f"does not match the weights ({extra[0]} is not in its model)")


def _bad_field(path: Path, field: str, problem: str) -> EiwaError:
    return EiwaError(f"{path}: damaged checkpoint ({field} {problem}); train again with --force")


def _damaged(path: Path, error: Exception) -> EiwaError:
    return EiwaError(f"{path}: damaged checkpoint ({type(error).__name__}: {error}); train again with --force")
