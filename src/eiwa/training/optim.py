"""The optimizer: its parameter groups, the learning-rate schedule, and how a transferred model's
copied weights are held (fine_tune: all, frozen, lower-lr)."""

from __future__ import annotations

import torch

from eiwa.config import Config
from eiwa.crosslingual.weights import CLASSIFIER_INPUTS, OWN_TABLES, TAG_TABLES, VOCAB_TABLES, input_blocks
from eiwa.tagger import Tagger


def make_optimizer(tagger: Tagger) -> torch.optim.Optimizer:
    """The optimizer, with the fine-tuning choice of a transferred model applied."""
    config = tagger.config
    if config.fine_tune == "frozen":
        freeze_transferred(tagger)
    groups = parameter_groups(tagger)
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=0.9)
    # The fused kernel updates all parameters in one pass: same arithmetic, faster epochs (CPU and CUDA).
    return torch.optim.Adam(groups, lr=config.lr, fused=True)


def set_learning_rate(optimizer: torch.optim.Optimizer, config: Config, epoch: int) -> None:
    """Each group's rate for this epoch: lr times its scale, decayed as lr / (1 + lr_decay * (epoch - 1))."""
    for group in optimizer.param_groups:
        group["lr"] = config.lr * group["scale"] / (1 + config.lr_decay * (epoch - 1))


def parameter_groups(tagger: Tagger) -> list[dict]:
    """Optimizer groups: with `fine_tune = lower-lr`, transferred modules learn at lr * transferred_lr_scale."""
    config = tagger.config
    modules = _transferred_modules(config)
    if config.fine_tune != "lower-lr" or not modules:
        return [{"params": list(tagger.model.parameters()), "scale": 1.0}]
    moved = [p for n, p in tagger.model.named_parameters() if n.split(".")[0] in modules]
    kept = [p for n, p in tagger.model.named_parameters() if n.split(".")[0] not in modules]
    return [{"params": kept, "scale": 1.0}, {"params": moved, "scale": config.transferred_lr_scale}]


def freeze_transferred(tagger: Tagger) -> None:
    """`fine_tune = frozen`: transferred weights stay as they came, except rows the source had
    nothing for, which must still learn: embeddings of new items and the output and CRF rows of
    unmapped target types. Their gradients are masked rather than the whole table's."""
    modules = _transferred_modules(tagger.config)
    for name, parameter in tagger.model.named_parameters():
        if name.split(".")[0] not in modules or name in OWN_TABLES:
            continue
        trainable = _trainable_entries(tagger, name, parameter)
        if trainable is None:
            parameter.requires_grad_(False)
            continue
        while trainable.dim() < parameter.dim():
            trainable = trainable.unsqueeze(-1)
        parameter.register_hook(lambda grad, keep=trainable: grad * keep.to(grad.dtype))


def _trainable_entries(tagger: Tagger, name: str, parameter: torch.nn.Parameter) -> torch.Tensor | None:
    """Which rows (or columns, or transitions) of a transferred parameter still learn; None: none of it."""
    if name in VOCAB_TABLES:
        feature, vocab = VOCAB_TABLES[name]
        return torch.arange(parameter.shape[0]) >= tagger.encoder.features[feature].vocabs[vocab].inherited
    if name in CLASSIFIER_INPUTS:  # columns of features the source lacked have nothing to keep
        fresh_inputs = tagger.meta.get("transfer", {}).get("fresh_inputs", [])
        trainable = torch.zeros(parameter.shape[1], dtype=torch.bool)
        for feature, block in input_blocks(tagger.model).items():
            if feature in fresh_inputs:
                trainable[block] = True
        return trainable.unsqueeze(0)
    if name in TAG_TABLES:
        tags = tagger.encoder.tags
        new_tag = torch.tensor([tag not in tags.inherited for tag in tags.items])
        if TAG_TABLES[name] == (0, 1):  # a transition is new if either end is
            return new_tag.unsqueeze(1) | new_tag.unsqueeze(0)
        return new_tag
    return None


def _transferred_modules(config: Config) -> list[str]:
    return [m for m in config.transferred.split(",") if m]
