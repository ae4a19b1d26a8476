"""The checkpoint a training run leaves in its model directory after every epoch, and `--resume` reads.

One safetensors file: the weights (`model.*`) and the optimizer's tensors (`optimizer.<group
index>.<name>`), with the training state, the config and the vocabularies as JSON in its header,
so that it is written (and renamed) as one unit.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from eiwa.config import Config
from eiwa.errors import EiwaError
from eiwa.features.encoder import Encoder
from eiwa.persist.atomic import fault_point, json_text
from eiwa.persist.migrations import checkpoint_state
from eiwa.tagger import Tagger

CHECKPOINT = "checkpoint.safetensors"  # inside the model directory while training runs


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
    fault_point("write checkpoint")
    save_file(tensors, path, metadata={key: json_text(value) for key, value in header.items()})


def checkpoint_config(path: Path) -> Config:
    """The settings a checkpoint continues with."""
    try:
        return Config.from_dict(_header(path)["config"], str(path)).validate()
    except KeyError:
        raise EiwaError(f"{path}: damaged checkpoint (no config); train again with --force") from None


def read_checkpoint(path: Path) -> tuple[Tagger, dict, dict]:
    """The tagger, optimizer state and training state of a checkpoint file."""
    header = _header(path)
    try:
        tensors = load_file(path)
        state = header["state"]
        config = Config.from_dict(header["config"], str(path)).validate()
        encoder = Encoder.from_json(config, header["vocab"])
    except (SafetensorError, OSError, ValueError, KeyError, TypeError) as error:
        raise _damaged(path, error) from None
    tagger = Tagger.create(config, encoder)
    tagger.model.load_state_dict({k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")})
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
        with safe_open(path, "pt") as handle:
            return {key: json.loads(value) for key, value in (handle.metadata() or {}).items()}
    except (SafetensorError, OSError, ValueError) as error:
        raise _damaged(path, error) from None


def _damaged(path: Path, error: Exception) -> EiwaError:
    return EiwaError(f"{path}: damaged checkpoint ({type(error).__name__}: {error}); train again with --force")
