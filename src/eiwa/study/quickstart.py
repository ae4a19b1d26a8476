"""The quickstart protocol: transfer the built-in English model to Japanese on the installed Hironsan
corpus and compare it with the same tagger trained from scratch, on one fold of the shared protocol.

Fold 1 of 5 (sentences i with i % 5 == 0) is the test part; the other four train, every 10th of them
held out for early stopping. Both arms use the same recipe and seed; only the start differs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from eiwa.build import build
from eiwa.config import Config
from eiwa.crosslingual.label_map import parse_label_map
from eiwa.crosslingual.starts import shared_modules
from eiwa.doc import entity_types
from eiwa.readers import label_meanings, read
from eiwa.scoring import Scores
from eiwa.study.folds import kfold_splits
from eiwa.tagger import Tagger
from eiwa.training.train import TrainResult, split_off_dev, train

SOURCE = "conll03-en-shared"
RECIPE = "ja-small"
# Hironsan's PER is percent, not person: the English PER has no counterpart there.
HIRONSAN_LABEL_MAP = "PER=PSN,LOC=LOC,ORG=ORG,MISC=ART"
# A safety cap well above where early stopping ends both arms on this corpus (docs/RESULTS.md, "The
# quickstart"): the recipe's own cap of 50 stopped the scratch arm while it was still improving.
MAX_EPOCHS = 200
EXAMPLE = "2019年4月1日、日本政府は新しい元号を「令和」と発表し、菅義偉官房長官が首相官邸で記者会見を開いた。"


@dataclass
class Quickstart:
    modules: list[str]
    label_map: str | None  # the map used, when the classifier was transferred
    sizes: tuple[int, int, int]  # training, dev and test sentences
    scratch: TrainResult
    transferred: TrainResult
    scratch_scores: Scores
    transferred_scores: Scores


def run_quickstart(
    config: Config,
    out: str | Path,
    source: Tagger,
    modules: Sequence[str] | None = None,
    label_map: str = HIRONSAN_LABEL_MAP,
    log: Callable[[str], None] = print,
    progress: bool = True,
) -> Quickstart:
    """Both arms on fold 1 of the Hironsan corpus; the transferred model is saved to `out`.
    `modules` None: every module the source shares with the recipe (crosslingual/starts.py).
    `log` gets every line of both trainings; warnings (an arm that max_epochs cut short) go to
    stderr and stay in each arm's `TrainResult.warnings`."""
    corpus = read(None, "hironsan", "ja").sentences
    train_ids, _, test_ids = kfold_splits(len(corpus), 5)[0]
    test = [corpus[i] for i in test_ids]
    train_part, dev = split_off_dev([corpus[i] for i in train_ids], config.dev_fraction)
    modules = list(modules) if modules is not None else shared_modules(source, config)
    # The label map matters only when the classifier (its output layer and CRF) is transferred.
    label_spec = label_map if "classifier" in modules else None
    mapping = parse_label_map(label_spec, source.entity_types, entity_types(corpus)) if label_spec else {}
    log(
        f"Hironsan corpus: {len(train_part)} training, {len(dev)} dev and {len(test)} test sentences; "
        f"word input {config.word_input}, char input {config.char_input}"
    )
    log("[1/2] training from scratch")
    scratch = train(config, train_part, dev, progress=progress, log=log)
    log(
        f"[2/2] transferring {', '.join(modules)} from {source.origin}"
        + (f" (label map {label_spec})" if label_spec else "")
        + ", fine-tuning"
    )
    start, report = build(config, train_part, source, modules, mapping)
    start.meta["labels"] = label_meanings("hironsan", entity_types(corpus))  # saved with it: PER is a percentage
    for line in report.lines():
        log(line)
    transferred = train(config, train_part, dev, tagger=start, out=out, progress=progress, log=log)
    return Quickstart(
        modules,
        label_spec,
        (len(train_part), len(dev), len(test)),
        scratch,
        transferred,
        scratch.tagger.evaluate(test),
        transferred.tagger.evaluate(test),
    )
