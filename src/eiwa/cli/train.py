"""`eiwa train` and `eiwa transfer`: options into the library's values, then `training.run.train_files`."""

from __future__ import annotations

import click

from eiwa.build import Start
from eiwa.cli import cli
from eiwa.cli.options import (
    config_for,
    console,
    data_options,
    device_option,
    model_options,
    training_options,
    transfer_options,
    unlabelled_options,
)
from eiwa.config import DEFAULT_SOURCES, asked_settings, load_config, resolve_config
from eiwa.errors import EiwaError
from eiwa.training import distributed
from eiwa.training.run import (
    Data,
    Output,
    UnlabelledText,
    settle,
    settle_transfer,
    train_files,
    train_without_gold,
)
from eiwa.training.train import silent


@cli.command()
@model_options
@data_options
@training_options
@unlabelled_options
@device_option
def train(
    lang,
    word_input,
    char_input,
    features,
    seed,
    config_path,
    overrides,
    fmt,
    columns,
    token_prefix,
    allow_empty,
    train_path,
    dev_path,
    out,
    labels_path,
    resume,
    force,
    quiet,
    nproc,
    unlabelled_path,
    unlabelled_format,
    teachers,
    device,
):
    """Train a tagger from scratch.

    The format (--format), the language (--lang) and, for Japanese, the recipe (--config ja-small)
    are inferred from the training file when not given; the command says what it chose.

    \b
    Examples:
      eiwa train --train mine.jsonl --dev dev.jsonl --out models/mine
      eiwa train --lang en --train ../shared/data/conll2003/train.txt \\
                 --dev ../shared/data/conll2003/valid.txt --out models/conll03
      eiwa train --lang ja --format spans --train ner.json --char-input romaji --out models/ja
      eiwa train --lang ja --format hironsan --config small-data --out models/hironsan
      eiwa train --lang ja --format doccano --train mine.jsonl --labels labels.toml --out models/mine
      eiwa train ... --out models/conll03 --resume      # after an interruption
      eiwa train ... --out models/conll03 --nproc 2 --set threads=1   # two processes, gradients averaged
      eiwa train --train mine.jsonl --unlabelled domain.txt --out models/mine   # self-training on your text
    """
    if config_path:
        resolve_config(config_path)
    log = silent if quiet else console.print
    data, lang = settle(Data(train_path, dev_path, fmt, columns, token_prefix, labels_path, allow_empty), lang, log)
    flags = dict(lang=lang, word_input=word_input, char_input=char_input, seed=seed, features=features)
    config = load_config(config_for(config_path, lang, log), list(overrides), **flags)
    output = Output(out, resume, force, asked_settings(config_path, overrides, **flags))
    unlabelled = UnlabelledText.given(unlabelled_path, unlabelled_format, teachers)
    _run(config, data, output, Start(), device, nproc, quiet, unlabelled)


@cli.command()
@model_options
@data_options
@transfer_options
@training_options
@unlabelled_options
@device_option
def transfer(
    lang,
    word_input,
    char_input,
    features,
    seed,
    config_path,
    overrides,
    fmt,
    columns,
    token_prefix,
    allow_empty,
    source,
    modules,
    label_map,
    fine_tune,
    train_path,
    dev_path,
    out,
    labels_path,
    resume,
    force,
    quiet,
    nproc,
    unlabelled_path,
    unlabelled_format,
    teachers,
    device,
):
    """Start a model from a source model, module by module, and fine-tune it.

    Transferred modules keep the source weights; their embedding tables cover the source's items
    plus the target's new ones. The output layer and CRF follow --label-map (default auto: proposed
    from the training data, with its evidence). --modules shared (the default) copies every module
    the source shares with the target; --modules none trains from scratch through the same code path.

    For Japanese data the source defaults to the built-in conll03-en-shared (English with the inputs
    both languages share); format, language and recipe are inferred as for `eiwa train`.

    \b
    Examples:
      eiwa transfer --train mine.jsonl --dev dev.jsonl --out models/mine
      eiwa transfer --source conll03-en --lang ja --format hironsan --modules char,classifier \\
                    --word-input native --char-input romaji --label-map PER=PSN,LOC=LOC,ORG=ORG,MISC=ART \\
                    --config small-data --out models/hironsan-transfer
      eiwa transfer --source models/conll03 --lang ja --format spans --train ner.json \\
                    --modules classifier --label-map auto --fine-tune lower-lr --out models/ja
      eiwa transfer --unlabelled domain.txt --dev dev.jsonl --label-map PER=人名,LOC=地名 --out models/zero
                    # no gold sentences: the source teaches your text (zero-shot with unlabelled text)
    """
    if resume and modules == "auto":
        raise EiwaError("--resume continues one model: it cannot be combined with --modules auto")
    if config_path:
        resolve_config(config_path)
    log = silent if quiet else console.print
    unlabelled = UnlabelledText.given(unlabelled_path, unlabelled_format, teachers)
    given = Data(train_path, dev_path, fmt, columns, token_prefix, labels_path, allow_empty)
    data, target_lang, zero_shot = settle_transfer(given, lang, unlabelled, log)
    if not resume and not source:
        if not (source := DEFAULT_SOURCES.get(target_lang)):
            raise EiwaError(f"transfer to {target_lang} data needs --source (a model directory or built-in name)")
        log(f"source: {source}, the default for {target_lang} data (--source to choose another)")
    flags = dict(
        lang=lang, word_input=word_input, char_input=char_input, seed=seed, fine_tune=fine_tune, features=features
    )
    config = load_config(config_for(config_path, target_lang, log), list(overrides), **{**flags, "lang": target_lang})
    output = Output(out, resume, force, asked_settings(config_path, overrides, **flags))
    start = Start() if resume and not zero_shot else Start.from_names(source, modules, label_map)
    if zero_shot:
        if nproc > 1:
            raise EiwaError("--unlabelled trains in one process: leave out --nproc")
        result = train_without_gold(config, data, output, start, unlabelled, device, progress=not quiet, log=log)
        return _said(result, output, nproc)
    _run(config, data, output, start, device, nproc, quiet, unlabelled)


def _run(config, data, output, start, device, nproc, quiet, unlabelled=None) -> None:
    if distributed.launched_by_torchrun() and not distributed.leads_torchrun():
        console.quiet = True  # every process runs this command; rank 0 alone speaks
    # --quiet: no log lines and no bar; warnings (train's own channel) and errors still reach stderr.
    log = silent if quiet else console.print
    result = train_files(config, data, output, start, device, nproc, progress=not quiet, log=log, unlabelled=unlabelled)
    _said(result, output, nproc)


def _said(result, output, nproc: int) -> None:
    processes = f", {nproc} processes" if nproc > 1 else ""
    if not console.quiet:  # the result, on stdout
        click.echo(
            f"best dev F1 {result.best_dev_f1:.4f} at epoch {result.best_epoch} of {result.epochs} "
            f"({result.seconds:.0f} s{processes}); model saved to {output.directory}"
        )
