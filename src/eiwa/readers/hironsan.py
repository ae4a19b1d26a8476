"""The Hironsan corpus (PyPI `hironsancorpus`): MeCab rows with IOB tags, installed with eiwa."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from eiwa.doc import Corpus, Sentence, sentence_from_tags
from eiwa.errors import DataError, EiwaError
from eiwa.readers import Options, reader

# The IREX categories, as the Hironsan corpus uses them: PER is a percentage, not a person.
LABELS = {
    "PSN": "person: people's names",
    "LOC": "location: countries, regions, cities, natural features and other places",
    "ORG": "organization: companies, governments, international bodies and other groups",
    "ART": "artifact: named works, products, prizes, laws and lists",
    "DAT": "date: dates, days, months and years",
    "TIM": "time: times of day",
    "MON": "money: amounts of money",
    "PER": "percent: percentages and ratios (people are PSN)",
}


@reader("hironsan", help="the installed Hironsan corpus (no path needed)", needs_path=False, lang="ja", labels=LABELS)
def _read(path: Path | None, lang: str, options: Options) -> Corpus:
    if lang != "ja":
        raise EiwaError(f"the Hironsan corpus is Japanese: its language is ja, not {lang}")
    return read_hironsan()


def read_hironsan() -> Corpus:
    """The Hironsan corpus (PyPI `hironsancorpus`): 500 sentences in file order, train then test.

    Rows are MeCab output plus a tag: surface, character class, four POS levels, conjugation type
    and form, base form, and (when present) the katakana reading. The POS levels are kept as the
    corpus's own part of speech (`Token.corpus_pos`).
    """
    try:
        from hironsan import corpus as hironsan_corpus
    except ImportError:  # pragma: no cover - it is a declared dependency
        raise EiwaError("the Hironsan corpus needs the package hironsancorpus: pip install hironsancorpus") from None
    sentences = []
    for split in ("train", "test"):
        for index, rows in enumerate(hironsan_corpus.hiron2016.iob_sents(split)):
            sentences.append(hironsan_sentence(rows, f"hironsan:{split}:{index}"))
    return Corpus(sentences)


def hironsan_sentence(rows: Sequence[Sequence[str]], origin: str) -> Sentence:
    """One sentence of Hironsan rows (10 or 12 columns; 11 for a full-width space's row)."""
    for number, row in enumerate(rows, start=1):
        if (
            not isinstance(row, (list, tuple))
            or len(row) not in (10, 11, 12)
            or not all(isinstance(c, str) for c in row)
        ):
            raise DataError(origin, number, "a Hironsan row has 10, 11 or 12 text columns")
    # Rows for a full-width space lost their surface upstream and begin with the character class.
    tokens = ["\u3000" if len(row) == 11 and row[0] == "ZSPACE" else row[0] for row in rows]
    if not all(tokens):
        raise DataError(origin, next(i for i, t in enumerate(tokens, 1) if not t), "empty token")
    tags = [row[-1] for row in rows]
    readings = [row[9] if len(row) > 10 and row[9] != "*" else None for row in rows]
    # A full-width space's row lacks the surface, so its columns sit one place to the left.
    corpus_pos = [tuple(row[1:5]) if len(row) == 11 and row[0] == "ZSPACE" else tuple(row[2:6]) for row in rows]
    try:
        return sentence_from_tags(tokens, tags, "ja", readings, origin, corpus_pos)
    except ValueError as error:
        raise DataError(origin, None, str(error)) from None
