"""`eiwa cv`: k-fold cross-validation over seeds (study/cv.py)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from eiwa.build import Start
from eiwa.cli import cli
from eiwa.cli.options import (
    QUIET_HELP,
    config_for,
    console,
    data_options,
    device_option,
    model_options,
    parse_seeds,
    transfer_options,
)
from eiwa.config import load_config, resolve_config
from eiwa.errors import EiwaError
from eiwa.persist.atomic import check_writable, write_atomic
from eiwa.study.cv import cross_validate_files
from eiwa.training.run import Data, settle
from eiwa.training.train import silent


@cli.command()
@model_options
@data_options
@transfer_options
@click.option("--data", "data_path", type=click.Path(), help="Data (not needed for --format hironsan).")
@click.option("--folds", type=int, default=5, show_default=True)
@click.option("--seeds", default="1,2,3", show_default=True, help="Comma-separated seeds.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with f1_mean, f1_std and per-seed scores.")
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the JSON result to this file.")
@click.option("--quiet", is_flag=True, help=QUIET_HELP)
@device_option
def cv(
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
    data_path,
    folds,
    seeds,
    as_json,
    out,
    quiet,
    device,
):
    """k-fold cross-validation over seeds: pooled P/R/F1 per seed, mean ± std of F1.

    Fold k is the sentences at positions i with i % folds == k (the shared protocol).

    \b
    Examples:
      eiwa cv --lang ja --format hironsan --folds 5 --seeds 1,2,3
      eiwa cv --lang ja --format hironsan --word-input native --char-input romaji --json
      eiwa cv --lang ja --format spans --data ner.json --folds 10 --seeds 1
      eiwa cv --lang ja --format hironsan --source conll03-en --modules char,classifier \\
              --char-input romaji --label-map PER=PSN,LOC=LOC,ORG=ORG,MISC=ART --config small-data
    """
    seed_list = parse_seeds(seeds)
    if out:
        check_writable(out, "the cross-validation result")  # before the work, not after it
    if config_path:
        resolve_config(config_path)
    if data_path is None and fmt is None:  # before the library's advice, which names train's --train
        raise EiwaError("no data: give --data FILE (or --format hironsan for the installed Hironsan corpus)")
    log = silent if quiet else console.print
    data, lang = settle(Data(data_path, None, fmt, columns, token_prefix, allow_empty=allow_empty), lang, log)
    config = load_config(
        config_for(config_path, lang, log),
        list(overrides),
        lang=lang,
        word_input=word_input,
        char_input=char_input,
        seed=seed,
        fine_tune=fine_tune,
        features=features,
    )
    if modules and not source:
        raise EiwaError("--modules transfers from a source model: give --source too")
    start = Start.from_names(source, modules, label_map) if source else Start()
    result = cross_validate_files(
        config,
        data,
        folds,
        seed_list,
        start,
        log=log,
        device=device,
    )
    if out:
        text = json.dumps(result, ensure_ascii=False, indent=1)
        write_atomic(Path(out), lambda path: Path(path).write_text(text))
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    for entry in result["per_seed"]:
        click.echo(f"seed {entry['seed']}: P {entry['precision']:.4f}  R {entry['recall']:.4f}  F1 {entry['f1']:.4f}")
    click.echo(
        f"F1 {result['f1_mean']:.4f} ± {result['f1_std']:.4f} (mean ± sample std over {len(seed_list)} "
        f"seeds, {folds}-fold pooled)"
    )
