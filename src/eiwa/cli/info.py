"""`eiwa info` and `eiwa card`: what a model is, and writing its model card."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import click

from eiwa.cli import cli
from eiwa.cli.options import console, data_options, settled_format
from eiwa.config import DEFAULT_RECIPES, read_config_values, recipe_summaries
from eiwa.persist.atomic import lock
from eiwa.persist.model_dir import builtin_models
from eiwa.tagger import Tagger


@cli.command()
@click.argument("model", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the meta data (card included) and config as JSON.")
@click.option("--recipes", is_flag=True, help="List the recipes shipped with eiwa (for --config) and their settings.")
def info(model, as_json, recipes):
    """Show a model's card (or, without one, a summary), or list the built-in models.

    \b
    Examples:
      eiwa info                      # list the built-in models and recipes
      eiwa info ja-wiki              # the model card of a built-in model
      eiwa info models/ja --json     # meta data and config of a model directory
      eiwa info --recipes            # the recipes for --config, with their settings
    """
    from eiwa.serving.card import render

    if recipes or model is None:
        _list_builtins(as_json, recipes)
        return
    tagger = Tagger.load(model)
    if as_json:
        shown = {"meta": tagger.meta, "config": tagger.config.to_dict(), "labels": tagger.label_meanings}
        click.echo(json.dumps(shown, ensure_ascii=False, indent=1))
    elif tagger.meta.get("card"):
        click.echo(render(tagger.meta["card"], tagger.meta))
    else:
        training = tagger.meta.get("training") or {}
        click.echo(
            f"{model}: an eiwa {tagger.meta.get('eiwa_version')} model ({tagger.config.lang}), no model card\n"
            f"labels: {', '.join(tagger.entity_types)}"
        )
        click.echo(label_table(tagger.entity_types, tagger.label_meanings))
        click.echo(f"features: {', '.join(tagger.config.feature_names())}")
        if training:
            click.echo(
                f"trained on {training.get('train_sentences')} sentences, best dev F1 "
                f"{training.get('best_dev_f1', 0):.4f} at epoch {training.get('best_epoch')} of "
                f"{training.get('epochs')}"
            )
        for warning in training.get("warnings", []):
            click.echo(f"warning: {warning}")
        click.echo("(--json for the meta data and config)")


def _list_builtins(as_json: bool, with_settings: bool) -> None:
    """The built-in models and the recipes (with `with_settings`, each recipe's settings)."""
    summaries = recipe_summaries()
    defaults = {recipe: lang for lang, recipe in DEFAULT_RECIPES.items()}
    if as_json:
        recipes = {name: {"summary": s, "settings": read_config_values(name)} for name, s in summaries.items()}
        click.echo(json.dumps({"models": builtin_models(), "recipes": recipes}, ensure_ascii=False, indent=1))
        return
    if not with_settings:
        click.echo("built-in models: " + (", ".join(builtin_models()) or "none"))
    click.echo("recipes (--config NAME):")
    for name, summary in summaries.items():
        default = f" [default for {defaults[name]}]" if name in defaults else ""
        click.echo(f"  {name}{default}: {summary}")
        if with_settings:
            settings = ", ".join(f"{key}={value}" for key, value in read_config_values(name).items())
            click.echo(f"      {settings}")


def label_table(types: list[str], meanings: dict[str, str]) -> str:
    """One line per entity type with its meaning, aligned; a type nobody explained says how to."""
    width = max((_columns(name) for name in types), default=0)
    missing = "(no meaning recorded: train with --labels FILE)"
    return "\n".join(f"  {name}{' ' * (width - _columns(name))}  {meanings.get(name, missing)}" for name in types)


def _columns(text: str) -> int:
    """Terminal columns: wide (CJK) characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


@cli.command()
@click.argument("model", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--from",
    "source_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The card's hand-written part: a TOML file (summary, labels, data, licence, commands, seed).",
)
@click.option("--test", "test_path", required=True, type=click.Path(dir_okay=False), help="Test data to score on.")
@click.option("--dev", "dev_path", type=click.Path(dir_okay=False), help="Dev data to score on as well.")
@data_options
def card(model, source_path, test_path, dev_path, fmt, columns, token_prefix, allow_empty):
    """Write a model card into a model directory (meta.json and MODEL_CARD.md).

    The scores are measured now, on --test (and --dev); the versions are the running ones.

    \b
    Examples:
      eiwa card src/eiwa/models/ja-wiki --from docs/models/ja-wiki.toml --format spans \\
                --test data/stockmark/test.jsonl --dev data/stockmark/dev.jsonl
    """
    from eiwa.serving.card import make_card, measure_scores, read_card_source, write_card

    tagger = Tagger.load(model)
    source = read_card_source(source_path, tagger.entity_types)
    parts = {part: path for part, path in (("test", test_path), ("dev", dev_path)) if path is not None}
    fmt = settled_format(fmt, test_path)
    scores = measure_scores(tagger, parts, fmt, columns=columns, token_prefix=token_prefix, allow_empty=allow_empty)
    with lock(Path(model)):
        write_card(model, make_card(source, scores))
    console.print(f"card written to {Path(model) / 'MODEL_CARD.md'} and meta.json: test F1 {scores['test']['f1']:.4f}")
