"""Helpers shared by the tests: where the reference data is, tiny configs, synthetic data, error checks."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from eiwa.config import Config
from eiwa.doc import Sentence, sentence_from_tags

# The reference corpora sit beside the project (../shared/data) and are never copied into it.
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FIXTURES = Path(__file__).resolve().parent / "data"  # files the tests ship with


def shared_file(shared_data: Path, *parts: str) -> Path:
    path = shared_data.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"../shared/data not found: {path} is missing")
    return path


def assert_user_error(result, *fragments) -> str:
    """Exit status 2, one clear line on stderr naming what is wrong, and no traceback; returns the line."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("eiwa: error: "), result.stderr
    for fragment in fragments:
        assert fragment in last, (fragment, result.stderr)
    return last


# ----------------------------------------------------------------------------- tiny configs

TINY = {
    "char_embedding_dim": 4,
    "char_hidden_dim": 4,
    "word_embedding_dim": 8,
    "case_embedding_dim": 2,
    "hidden_dim": 8,
    "batch_size": 8,
    "max_epochs": 2,
    "dropout": 0.2,
    "lr": 0.03,
    "seed": 1,
}

TINY_SET = [f"--set={key}={value}" for key, value in TINY.items() if key != "seed"]


def tiny_config(**overrides) -> Config:
    return Config(**{**TINY, **overrides}).validate()


# ----------------------------------------------------------------------------- synthetic English data

PERSONS = [["John", "Smith"], ["Mary"], ["Peter", "Blackburn"], ["Anna", "Lee"], ["Tom"], ["Yuki", "Tanaka"]]
PLACES = [["Paris"], ["New", "York"], ["Tokyo"], ["Berlin"], ["South", "Africa"], ["Osaka"]]
ORGS = [["Acme", "Corp"], ["United", "Nations"], ["Reuters"], ["Sony"], ["the", "BBC"]]
TEMPLATES = [
    ["{PER}", "lives", "in", "{LOC}", "."],
    ["{PER}", "works", "for", "{ORG}", "in", "{LOC}", "."],
    ["{ORG}", "said", "on", "Monday", "that", "{PER}", "had", "left", "."],
    ["It", "rained", "in", "{LOC}", "again", "."],
    ["Nothing", "happened", "today", "."],
]


def synthetic_tagged(count: int, seed: int = 0) -> list[tuple[list[str], list[str]]]:
    """(tokens, IOB2 tags) pairs from templates: deterministic, easy enough to learn in a few epochs."""
    rng = random.Random(seed)
    fillers = {"PER": PERSONS, "LOC": PLACES, "ORG": ORGS}
    examples = []
    for _ in range(count):
        tokens, tags = [], []
        for slot in rng.choice(TEMPLATES):
            if slot.startswith("{"):
                kind = slot[1:-1]
                words = rng.choice(fillers[kind])
                tokens += words
                tags += [f"B-{kind}"] + [f"I-{kind}"] * (len(words) - 1)
            else:
                tokens.append(slot)
                tags.append("O")
        examples.append((tokens, tags))
    return examples


def synthetic_sentences(count: int, seed: int = 0) -> list[Sentence]:
    return [sentence_from_tags(tokens, tags, "en") for tokens, tags in synthetic_tagged(count, seed)]


def write_conll(path: Path, examples, docstart: bool = False) -> Path:
    lines = ["-DOCSTART- O", ""] if docstart else []
    for tokens, tags in examples:
        lines += [f"{token} {tag}" for token, tag in zip(tokens, tags)]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
