"""Model cards: what a saved model tags, what it was trained on and under which licence, how well it
does on held-out data, and the exact commands that make it again.

A card is written by ``eiwa card MODEL --from CARD.toml --test FILE``: the TOML file holds what
only a person can say (a summary, what each label means, the data with its licence and
attribution, the model's licence, the commands, the seed); the scores are measured then and
there on the given test (and dev) data, and the versions are those of the running eiwa, PyTorch
and Python, so that no figure on a card is typed by hand. The card goes into the model's
``meta.json`` (``"card"``: what ``eiwa info``, ``GET /v1/models`` and :func:`render` read) and,
rendered, into ``MODEL_CARD.md`` beside it for people browsing the files.
"""

from __future__ import annotations

import platform
import tomllib
from pathlib import Path

from eiwa import __version__
from eiwa.errors import EiwaError
from eiwa.persist.atomic import atomic_text, lock, read_json, write_json
from eiwa.persist.files import read_text
from eiwa.persist.meta_fields import CARD, misshapen
from eiwa.persist.model_dir import read_meta, resolve_model

CARD_FILE = "MODEL_CARD.md"
_TEXT_FIELDS = ("summary", "licence")
_REQUIRED = (*_TEXT_FIELDS, "labels", "data", "commands", "seed")
_DATA_FIELDS = ("name", "licence", "attribution")


def read_card_source(path: str | Path, entity_types: list[str]) -> dict:
    """The hand-written part of a card, checked: every field present and every label of the model
    (and no other) explained."""
    path = Path(path)
    text = read_text(path, EiwaError, "card file")
    try:
        source = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise EiwaError(f"{path}: not valid TOML ({error})") from None
    missing = [name for name in _REQUIRED if name not in source]
    if missing:
        raise EiwaError(f"{path}: the card needs {', '.join(missing)}")
    unknown = sorted(set(source) - set(_REQUIRED) - {"name"})
    if unknown:
        raise EiwaError(f"{path}: unknown card field(s) {', '.join(unknown)} (known: name, {', '.join(_REQUIRED)})")
    for name in _TEXT_FIELDS:
        if not isinstance(source[name], str) or not source[name].strip():
            raise EiwaError(f"{path}: {name} must be a non-empty string")
    labels = source["labels"]
    if not isinstance(labels, dict) or not all(isinstance(v, str) and v.strip() for v in labels.values()):
        raise EiwaError(f'{path}: labels must be a table of label = "what it means"')
    if sorted(labels) != sorted(entity_types):
        raise EiwaError(f"{path}: labels {sorted(labels)} do not match the model's {sorted(entity_types)}")
    data = source["data"]
    if not isinstance(data, dict) or any(not isinstance(data.get(k), str) or not data[k].strip() for k in _DATA_FIELDS):
        raise EiwaError(f"{path}: data must be a table with {', '.join(_DATA_FIELDS)}")
    commands = source["commands"]
    if not isinstance(commands, list) or not commands or not all(isinstance(c, str) and c.strip() for c in commands):
        raise EiwaError(f"{path}: commands must be a list of the commands that made the model")
    if not isinstance(source["seed"], int) or isinstance(source["seed"], bool):
        raise EiwaError(f"{path}: seed must be an integer")
    if problem := misshapen(source, CARD):  # what meta.json will be checked against when the model loads
        raise EiwaError(f"{path}: {problem}")
    return source


def measure_scores(tagger, parts: dict[str, str | Path], format: str, **read_options) -> dict[str, dict]:
    """The card's scores: the model evaluated now on each named part (test, dev) of gold data."""
    from eiwa.readers import read_gold

    scores = {}
    for part, path in parts.items():
        sentences = read_gold(path, format, tagger.config.lang, **read_options).sentences
        scores[part] = {"data": Path(path).name, "sentences": len(sentences), **tagger.evaluate(sentences).to_dict()}
    return scores


def make_card(source: dict, scores: dict[str, dict]) -> dict:
    """The card: the hand-written part, the measured `scores` ({"test": {"data", "f1", ...}}) and
    the versions this is measured with."""
    import torch

    return {
        **source,
        "scores": scores,
        "versions": {"eiwa": __version__, "torch": torch.__version__, "python": platform.python_version()},
    }


def write_card(directory: str | Path, card: dict) -> None:
    """Put `card` into the model's meta.json and MODEL_CARD.md (each file replaced whole); the card's
    label meanings become the model's ("labels")."""
    directory = Path(directory)
    meta = {**read_json(directory / "meta.json"), "labels": dict(card["labels"])}
    with atomic_text(directory / CARD_FILE) as stream:
        stream.write(render(card, meta))
    write_json(directory / "meta.json", {**meta, "card": card})


def write_label_meanings(directory: str | Path, meanings: dict[str, str] | str | Path) -> dict[str, str]:
    """Record what a saved model's labels mean (`meanings`: type -> meaning, or a labels file): only
    meta.json's "labels" changes (meta.json is not among the checksummed files). Returns the meanings.

        python -c "from eiwa.serving.card import write_label_meanings as w; w('src/eiwa/models/X', 'labels.toml')"
    """
    from eiwa.readers.labels import read_label_meanings
    from eiwa.tagger import Tagger

    directory = resolve_model(directory)
    with lock(directory):
        meta = read_meta(directory)
        types = meta.get("entity_types") or Tagger.load(directory).entity_types  # format 1 may lack them
        checked = read_label_meanings(meanings, types)
        write_json(directory / "meta.json", {**meta, "labels": checked})
    return checked


def _percent(value: float) -> str:
    return f"{100 * value:.2f}"


def render(card: dict, meta: dict) -> str:
    """The card as Markdown (what MODEL_CARD.md holds and `eiwa info` prints)."""
    name = card.get("name") or "eiwa model"
    lines = [f"# {name}", "", card["summary"].strip(), "", "## Labels", "", "| label | meaning |", "|---|---|"]
    # The model's own record wins: meanings set after the card was written (write_label_meanings).
    labels = meta.get("labels") or card["labels"]
    lines += [f"| {label} | {meaning} |" for label, meaning in labels.items()]
    data = card["data"]
    lines += [
        "",
        "## Training data",
        "",
        f"{data['name']}. Licence: {data['licence']}.",
        "",
        f"Attribution: {data['attribution'].strip()}",
    ]
    if data.get("url"):
        lines += ["", f"Source: {data['url']}"]
    lines += [
        "",
        "## Scores",
        "",
        "Entity-level exact match on character spans (the shared protocol of `../shared/data/README.md`).",
        "",
        "| part | sentences | precision | recall | F1 |",
        "|---|---|---|---|---|",
    ]
    for part, result in card.get("scores", {}).items():
        lines.append(
            f"| {part} ({result['data']}) | {result['sentences']} | {_percent(result['precision'])} | "
            f"{_percent(result['recall'])} | {_percent(result['f1'])} |"
        )
    test = card.get("scores", {}).get("test")
    if test and test.get("per_type"):
        lines += ["", "Per type on test:", "", "| label | precision | recall | F1 | gold |", "|---|---|---|---|---|"]
        lines += [
            f"| {label} | {_percent(s['precision'])} | {_percent(s['recall'])} | {_percent(s['f1'])} | {s['gold']} |"
            for label, s in test["per_type"].items()
        ]
    training = meta.get("training") or {}
    lines += ["", "## How it was made", "", f"Seed {card['seed']}."]
    if training:
        lines.append(
            f"Trained on {training.get('train_sentences')} sentences (dev {training.get('dev_sentences')}), "
            f"best dev F1 {training.get('best_dev_f1', 0):.4f} at epoch {training.get('best_epoch')} of "
            f"{training.get('epochs')}, {training.get('seconds')} s."
        )
    lines += ["", "```", *card["commands"], "```", ""]
    versions = card.get("versions", {})
    lines.append(
        "Versions (scoring): "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + f"; trained with eiwa {meta.get('eiwa_version')}."
    )
    lines += ["", "## Licence", "", card["licence"].strip(), ""]
    return "\n".join(lines)


__all__ = ["CARD_FILE", "read_card_source", "make_card", "write_card", "write_label_meanings", "render"]
