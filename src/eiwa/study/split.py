"""Splitting a data file into train, dev and test files by the shared protocol's index rule.

Records are copied unchanged, so each part reads exactly as the whole did: sentence blocks for CoNLL,
one JSON record a line for the JSON formats (Label Studio's parts stay JSON lists, its import format).
"""

from __future__ import annotations

import json
from pathlib import Path

from eiwa.errors import EiwaError
from eiwa.persist.atomic import check_writable, write_atomic
from eiwa.readers.files import json_records, read_text
from eiwa.serving.results import to_json
from eiwa.study.folds import shared_split

PARTS = ("train", "dev", "test")
SPLITTABLE = ("conll", "spans", "doccano", "label-studio")  # formats read from one file of records


def records(path: str | Path, format: str) -> tuple[list[str], str]:
    """The file's records as text, in file order, and the suffix of the files they are written to."""
    if format == "conll":
        # A sentence ends at a blank line: empty, or holding only spaces, in LF or CRLF files.
        lines = [line.rstrip("\r") for line in read_text(path).split("\n")]
        blocks = "\n".join("" if not line.strip() else line for line in lines).split("\n\n")
        blocks = [b for b in blocks if b.strip() and not b.lstrip().startswith("-DOCSTART-")]
        return [b.strip("\n") + "\n\n" for b in blocks], "conll"
    if format in ("spans", "doccano"):
        return [to_json(record) + "\n" for _, record in json_records(path)], "jsonl"
    if format == "label-studio":
        return [json.dumps(record, ensure_ascii=False) for _, record in json_records(path)], "json"
    raise EiwaError(f"split reads {', '.join(SPLITTABLE)} files, not {format!r}")


def split_file(
    path: str | Path, out_dir: str | Path, format: str = "spans", every: int = 10, dev_slot: int = 8, test_slot: int = 9
) -> dict[str, int]:
    """Write train/dev/test files into `out_dir`; returns how many records each part got."""
    if not (0 <= dev_slot < every and 0 <= test_slot < every and dev_slot != test_slot):
        raise EiwaError(f"--dev and --test must be different numbers below --every ({every})")
    items, suffix = records(path, format)
    parts = {
        name: [items[i] for i in ids] for name, ids in zip(PARTS, shared_split(len(items), every, dev_slot, test_slot))
    }
    directory = Path(out_dir)
    check_writable(directory, "the split")
    directory.mkdir(parents=True, exist_ok=True)
    for name, chosen in parts.items():
        text = "[\n" + ",\n".join(chosen) + "\n]\n" if suffix == "json" else "".join(chosen)
        write_atomic(directory / f"{name}.{suffix}", lambda target, text=text: Path(target).write_text(text, "utf-8"))
    return {name: len(chosen) for name, chosen in parts.items()}
