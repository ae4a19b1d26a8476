"""Readers: files on disk -> `Sentence` examples.

Every reader gives the same thing: a sentence's text, its tokens with character offsets into
that text, optional per-token readings (katakana, for Japanese romanization), and the gold
entities as character spans. Keeping gold entities as character spans means one scorer serves
token data (CoNLL) and raw-text data (Stockmark) alike, and tags are derived only at the point
where the model needs them (`encoding.py`).
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator, Sequence

from eiwa.errors import DataError, EiwaError
from eiwa.tags import parse_tag, spans_from_tags
from eiwa.doc import Token, split_at_boundaries

FORMATS = ("conll", "spans", "doccano", "label-studio", "hironsan", "parts")
# Columns are separated by ASCII spaces and tabs only: a full-width space (U+3000) can be a token.
COLUMN_SEPARATOR = re.compile(r"[ \t]+")


@dataclass(frozen=True)
class Span:
    """An entity as character offsets into its sentence's text (end exclusive)."""

    start: int
    end: int
    type: str
    # A predicted entity's probability under the model (Tagger.tag_sentences(confidence=True));
    # None for gold entities. Not part of equality: a span is its offsets and type.
    confidence: float | None = field(default=None, compare=False)

    def as_tuple(self) -> tuple[int, int, str]:
        return (self.start, self.end, self.type)


@dataclass
class Sentence:
    """A sentence's text, its tokens (with offsets, readings and part of speech) and its gold entities."""

    text: str
    tokens: list[Token]
    entities: list[Span] = field(default_factory=list)
    # Where the sentence came from, for error messages ("file:line").
    origin: str | None = None

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def words(self) -> list[str]:
        return [t.text for t in self.tokens]

    @property
    def offsets(self) -> list[tuple[int, int]]:
        return [(t.start, t.end) for t in self.tokens]

    @property
    def readings(self) -> list[str | None] | None:
        """Per-token readings, or None when no token has one (English)."""
        readings = [t.reading for t in self.tokens]
        return readings if any(r is not None for r in readings) else None

    def token_spans(self) -> list[tuple[int, int, str]]:
        """Gold entities as token-index spans, for tagging.

        Entities not aligned to token boundaries are left out, and so are entities overlapping an
        earlier (or, at the same start, longer) one: flat tags cannot express nesting.
        """
        starts = {s: i for i, (s, _) in enumerate(self.offsets)}
        ends = {e: i + 1 for i, (_, e) in enumerate(self.offsets)}
        spans, covered_until = [], 0
        for e in sorted(self.entities, key=lambda e: (e.start, -e.end)):
            if e.start in starts and e.end in ends and starts[e.start] < ends[e.end] and starts[e.start] >= covered_until:
                spans.append((starts[e.start], ends[e.end], e.type))
                covered_until = ends[e.end]
        return spans

    def overlapping_entities(self) -> int:
        covered_until, count = 0, 0
        for e in sorted(self.entities, key=lambda e: (e.start, -e.end)):
            if e.start < covered_until:
                count += 1
            else:
                covered_until = e.end
        return count

    def misaligned_entities(self) -> int:
        """How many gold entities have a boundary inside a token (the tagger cannot find those)."""
        starts = {s for s, _ in self.offsets}
        ends = {e for _, e in self.offsets}
        return sum(e.start not in starts or e.end not in ends for e in self.entities)


@dataclass
class Corpus:
    sentences: list[Sentence]
    # How many tokens were split so that no gold entity boundary falls inside a token.
    token_splits: int = 0

    def overlapping_entities(self) -> int:
        """Gold entities that overlap an earlier one: flat tags cannot hold both, the later is left out."""
        return sum(s.overlapping_entities() for s in self.sentences)

    def entity_types(self) -> list[str]:
        return entity_types(self.sentences)


def entity_types(sentences: Sequence[Sentence]) -> list[str]:
    """The gold entity types that occur in these sentences, sorted."""
    return sorted({e.type for s in sentences for e in s.entities})


def join_tokens(tokens: Sequence[str], separator: str) -> tuple[str, list[tuple[int, int]]]:
    """The text of a pre-tokenized sentence and each token's offsets in it."""
    offsets, position = [], 0
    for token in tokens:
        offsets.append((position, position + len(token)))
        position += len(token) + len(separator)
    return separator.join(tokens), offsets


def token_separator(lang: str) -> str:
    # Japanese is written without spaces, so a CoNLL sentence's text is its tokens run together.
    return "" if lang == "ja" else " "


def sentence_from_tags(
    tokens: list[str],
    tags: list[str],
    lang: str,
    readings: list[str | None] | None = None,
    origin: str | None = None,
    corpus_pos: list[tuple[str, ...]] | None = None,
) -> Sentence:
    """A pre-tokenized sentence. Japanese tokens also get eiwa's own tokenizer's part of speech and
    lemma, by analysing the sentence and aligning (`JapaneseTokenizer.analyse`), so that features
    read from a corpus are those that raw text would get."""
    text, offsets = join_tokens(tokens, token_separator(lang))
    readings = readings or [None] * len(tokens)
    corpus_pos = corpus_pos or [None] * len(tokens)
    made = [Token(t, s, e, r, corpus_pos=p) for t, (s, e), r, p in zip(tokens, offsets, readings, corpus_pos)]
    if lang == "ja":
        made = tokenizer_for("ja").tokenizer.analyse(text, made)
    entities = [
        Span(offsets[start][0], offsets[end - 1][1], kind) for start, end, kind in spans_from_tags(tags)
    ]
    return Sentence(text, made, entities, origin)


# ----------------------------------------------------------------------------- file helpers


def read_text(path: str | Path) -> str:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(path, None, "no such file") from None
    except IsADirectoryError:
        raise DataError(path, None, "is a directory, expected a file") from None
    except (OSError, ValueError) as error:
        raise DataError(path, None, f"cannot read: {getattr(error, 'strerror', None) or error}") from None
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        text = data[bom:].decode("utf-8")
    except UnicodeDecodeError as error:
        position = bom + error.start
        line = data[:position].count(b"\n") + 1
        raise DataError(path, line, f"invalid UTF-8 (byte {position})") from None
    if not text.strip():
        raise DataError(path, None, "file is empty")
    return text


# ----------------------------------------------------------------------------- CoNLL columns


def read_conll(
    path: str | Path,
    lang: str = "en",
    columns: Sequence[str] | None = None,
    token_prefix: str | None = None,
) -> Corpus:
    """CoNLL-style column files: one token a line, blank lines between sentences.

    `columns` names the columns (e.g. token,reading,pos,tag); it must contain `token` and, for
    training data, `tag`. Without it the first column is the token and the last the tag, and every
    row must have as many columns as the file's first row. IOB1, IOB2 and BIOES tags are accepted;
    invalid sequences are repaired as conlleval does. `-DOCSTART-` lines are skipped.
    """
    text = read_text(path)
    if columns is not None:
        columns = list(columns)
        if "token" not in columns:
            raise EiwaError(f"--columns must name a 'token' column, got {','.join(columns)}")
    sentences: list[Sentence] = []
    rows: list[tuple[int, list[str]]] = []
    expected_width: int | None = len(columns) if columns else None
    width_line = 0

    def flush() -> None:
        if rows:
            sentences.append(_conll_sentence(path, rows, columns, token_prefix, lang))
            rows.clear()

    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip(" \t\r\n")
        if not line:
            flush()
            continue
        fields = COLUMN_SEPARATOR.split(line)
        if fields[0] == "-DOCSTART-":
            flush()
            continue
        if expected_width is None:
            expected_width, width_line = len(fields), number
        if len(fields) != expected_width:
            told = "as --columns names" if columns else f"as on line {width_line}"
            raise DataError(path, number, f"expected {expected_width} columns {told}, found {len(fields)}")
        rows.append((number, fields))
    flush()
    if not sentences:
        raise DataError(path, None, "no sentences found")
    return Corpus(sentences)


def _conll_sentence(path, rows, columns, token_prefix, lang) -> Sentence:
    token_at = columns.index("token") if columns else 0
    if columns:
        tag_at = columns.index("tag") if "tag" in columns else None
    else:
        tag_at = -1 if len(rows[0][1]) > 1 else None  # a single column holds tokens only
    reading_at = columns.index("reading") if columns and "reading" in columns else None
    pos_at = columns.index("pos") if columns and "pos" in columns else None
    tokens, tags, readings, pos = [], [], [], []
    for number, fields in rows:
        token = fields[token_at]
        if token_prefix and token.startswith(token_prefix):
            token = token[len(token_prefix) :]
        if not token:
            raise DataError(path, number, "empty token after stripping the prefix")
        tokens.append(token)
        if tag_at is not None:
            tag = fields[tag_at]
            try:
                parse_tag(tag)
            except ValueError as error:
                raise DataError(path, number, f"unknown tag {tag!r}: {error}") from None
            tags.append(tag)
        if reading_at is not None:
            reading = fields[reading_at]
            readings.append(None if reading in ("*", "_", "-") else reading)
        if pos_at is not None:
            pos.append((fields[pos_at],))
    if tag_at is None:
        tags = ["O"] * len(tokens)
    origin = f"{path}:{rows[0][0]}"
    return sentence_from_tags(tokens, tags, lang, readings if reading_at is not None else None, origin,
                              pos if pos_at is not None else None)


# ----------------------------------------------------------------------------- character spans


def json_records(path: str | Path) -> Iterator[tuple[int, object]]:
    """(line, record) pairs from a JSON array or from JSON Lines, with the line each record starts on."""
    text = read_text(path)
    stripped = text.lstrip()
    decoder = json.JSONDecoder()
    if stripped.startswith("["):
        # Decode the array element by element so that an error can name its line.
        position = text.index("[") + 1
        whitespace = re.compile(r"\s*")
        first = True
        while True:
            position = whitespace.match(text, position).end()
            line = text.count("\n", 0, position) + 1
            if position >= len(text):
                raise DataError(path, line, "unterminated JSON array")
            if text[position] == "]":
                if text[position + 1 :].strip():
                    raise DataError(path, line, "unexpected text after the JSON array")
                return
            if not first:
                if text[position] != ",":
                    raise DataError(path, line, "expected ',' or ']' between records")
                position = whitespace.match(text, position + 1).end()
                line = text.count("\n", 0, position) + 1
            first = False
            try:
                record, position = decoder.raw_decode(text, position)
            except json.JSONDecodeError as error:
                raise DataError(path, text.count("\n", 0, error.pos) + 1, f"invalid JSON: {error.msg}") from None
            except RecursionError:
                raise DataError(path, line, "invalid JSON: nested too deeply") from None
            yield line, record
    else:
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(path, number, f"invalid JSON: {error.msg}") from None
            except RecursionError:
                raise DataError(path, number, "invalid JSON: nested too deeply") from None
            yield number, record


def text_records(path: str | Path, what: str = "record") -> Iterator[tuple[int, dict]]:
    """(line, record) pairs of `json_records`, each checked to be an object with a "text" string."""
    for line, record in json_records(path):
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise DataError(path, line, f'each {what} must be an object with a "text" string')
        yield line, record


def read_span_records(path: str | Path) -> list[tuple[str, list[Span], str]]:
    """Raw texts with character-span entities, validated: (text, entities, origin) triples.

    Each record is `{"text": ..., "entities": [{"start": s, "end": e, "type": t}]}`; the Stockmark
    form `{"span": [s, e], "type": t}` is accepted too. Offsets are characters, end exclusive.
    """
    records = []
    for line, record in text_records(path):
        text = record["text"]
        items = record.get("entities")
        if items is None:
            items = []
        if not isinstance(items, list):
            raise DataError(path, line, f'"entities" must be a list, got {type(items).__name__}')
        entities = [_span_from_json(path, line, text, item) for item in items]
        records.append((text, entities, f"{path}:{line}"))
    if not records:
        raise DataError(path, None, "no records found")
    return records


def _span_from_json(path, line, text, item) -> Span:
    if not isinstance(item, dict):
        raise DataError(path, line, f"entity must be an object, got {item!r}")
    if "span" in item:
        bounds = item["span"]
        if not (isinstance(bounds, list) and len(bounds) == 2):
            raise DataError(path, line, f'"span" must be [start, end], got {bounds!r}')
        start, end = bounds
    else:
        start, end = item.get("start"), item.get("end")
    kind = item.get("type") or item.get("label")
    if not isinstance(start, int) or not isinstance(end, int) or isinstance(start, bool) or isinstance(end, bool):
        raise DataError(path, line, f"entity needs integer start and end, got {item!r}")
    if not isinstance(kind, str) or not kind:
        raise DataError(path, line, f'entity needs a "type" string, got {item!r}')
    if not 0 <= start < end <= len(text):
        raise DataError(path, line, f"span [{start}, {end}) out of range for a text of {len(text)} characters")
    return Span(start, end, kind)


def _report_unknown_keys(path, records_keys: dict[str, int], known: set[str], warn) -> None:
    """Keys a reader does not use are named once for the file (first line each), not per record."""
    unknown = {key: line for key, line in records_keys.items() if key not in known}
    if unknown:
        warn(f"{path}: ignored keys: " + ", ".join(f"{key!r} (first on line {line})" for key, line in sorted(unknown.items())))


def read_doccano_records(path: str | Path, warn=print) -> list[tuple[str, list[Span], str]]:
    """Doccano's sequence-labelling export: JSON Lines `{"text": ..., "label": [[start, end, type], ...]}`
    (character offsets, end exclusive; newer exports call the list "entities" or "labels")."""
    records, seen = [], {}
    for line, record in text_records(path, "Doccano record"):
        for key in record:
            seen.setdefault(key, line)
        text = record["text"]
        items = next((record[k] for k in ("label", "entities", "labels") if k in record), [])
        if not isinstance(items, list):
            raise DataError(path, line, f'"label" must be a list of [start, end, type], got {type(items).__name__}')
        entities = []
        for item in items:
            if isinstance(item, dict):  # {"start_offset", "end_offset", "label"} (doccano 1.x)
                item = [item.get("start_offset", item.get("start")), item.get("end_offset", item.get("end")), item.get("label")]
            if not (isinstance(item, list) and len(item) == 3):
                raise DataError(path, line, f"a label must be [start, end, type], got {item!r}")
            entities.append(_span_from_json(path, line, text, {"start": item[0], "end": item[1], "type": item[2]}))
        records.append((text, entities, f"{path}:{line}"))
    if not records:
        raise DataError(path, None, "no records found")
    _report_unknown_keys(path, seen, {"id", "text", "label", "labels", "entities", "meta", "Comments", "comments",
                                      "annotation_approver", "relations"}, warn)
    return records


def read_label_studio_records(path: str | Path, warn=print) -> list[tuple[str, list[Span], str]]:
    """A Label Studio JSON export: a list of tasks `{"data": {"text": ...}, "annotations":
    [{"result": [{"type": "labels", "value": {"start", "end", "text", "labels": [type]}}]}]}`.
    The first annotation that is not cancelled is read; `predictions` are not gold and are skipped."""
    records, seen = [], {}
    for line, task in json_records(path):
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise DataError(path, line, 'each Label Studio task must be an object with a "data" object')
        for key in task:
            seen.setdefault(key, line)
        texts = [v for v in task["data"].values() if isinstance(v, str)]
        text = task["data"].get("text", texts[0] if len(texts) == 1 else None)
        if not isinstance(text, str):
            raise DataError(path, line, 'the task\'s data has no "text" string')
        annotations = task.get("annotations", task.get("completions", []))
        if not isinstance(annotations, list) or not all(isinstance(a, dict) for a in annotations):
            raise DataError(path, line, '"annotations" must be a list of objects')
        chosen = next((a for a in annotations if not a.get("was_cancelled")), {"result": []})
        results = chosen.get("result", [])
        if not isinstance(results, list):
            raise DataError(path, line, '"result" must be a list')
        entities = []
        for result in results:
            value = result.get("value") if isinstance(result, dict) else None
            if not isinstance(value, dict) or "start" not in value:
                continue  # not a span (a choice, a relation): nothing for NER
            labels = value.get("labels", value.get("hypertextlabels"))
            if not (isinstance(labels, list) and len(labels) == 1 and isinstance(labels[0], str)):
                raise DataError(path, line, f"a span needs exactly one label, got {labels!r}")
            span = _span_from_json(path, line, text, {"start": value["start"], "end": value["end"], "type": labels[0]})
            if isinstance(value.get("text"), str) and value["text"] != text[span.start:span.end]:
                raise DataError(path, line, f"span [{span.start}, {span.end}) reads {text[span.start:span.end]!r}, "
                                            f"the export says {value['text']!r}")
            entities.append(span)
        records.append((text, entities, f"{path}:{line}"))
    if not records:
        raise DataError(path, None, "no tasks found")
    _report_unknown_keys(path, seen, {"id", "data", "annotations", "completions", "predictions", "meta", "created_at",
                                      "updated_at", "inner_id", "total_annotations", "cancelled_annotations",
                                      "total_predictions", "comment_count", "unresolved_comment_count",
                                      "last_comment_updated_at", "project", "updated_by", "file_upload", "drafts",
                                      "comment_authors", "annotation_id", "annotator", "lead_time"}, warn)
    return records


def read_spans(path: str | Path, lang: str, split_tokens: bool = True, records=None) -> Corpus:
    """Raw-text records tokenized for `lang`.

    With `split_tokens` (training data) a token that has an entity boundary inside it is split
    there, so that no gold entity is lost; evaluation data is tokenized plainly, and its entities
    that do not align with tokens simply count as missed.
    """
    tokenizer = tokenizer_for(lang)
    sentences, splits = [], 0
    for text, entities, origin in records if records is not None else read_span_records(path):
        sentence = tokenizer.sentence(text, entities, origin)
        if split_tokens and entities:
            sentence, made = tokenizer.split_for_entities(sentence)
            splits += made
        sentences.append(sentence)
    return Corpus(sentences, token_splits=splits)


# ----------------------------------------------------------------------------- Hironsan corpus


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
        if not isinstance(row, (list, tuple)) or len(row) not in (10, 11, 12) or not all(isinstance(c, str) for c in row):
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


# ----------------------------------------------------------------------------- raw text


# Abbreviations that keep their period, as CoNLL-2003 (Reuters, Penn Treebank conventions) does.
_ABBREVIATIONS = ("Mr|Mrs|Ms|Dr|Prof|Gen|Sen|Rep|Gov|Col|Lt|Sgt|Capt|Cmdr|Adm|Maj|Rev|St|Jr|Sr|Inc|Corp|Ltd|Co|"
                  "Cos|Bros|Plc|Mt|Ft|vs|etc|No|Nos|Jan|Feb|Mar|Apr|Aug|Sep|Sept|Oct|Nov|Dec|approx|Ave|Blvd|Dept")


class EnglishTokenizer:
    """Raw English text into tokens with offsets, splitting as CoNLL-2003 does (Penn Treebank
    conventions): "U.S." and "Inc." keep their periods, "Smith's" is "Smith" + "'s" and "don't"
    "do" + "n't", hyphenated words and scores ("pro-democracy", "2-0", "1996-12-06") stay whole.
    On CoNLL-2003's test and valid sentences, joined back into text (tests/test_data.py), it gives
    exactly CoNLL's tokens for 98% of sentences. A regular expression rather than spaCy's or
    NLTK's tokenizer: neither reproduces CoNLL's splits without rules of the same size, and eiwa's
    core does not depend on them."""

    pattern = re.compile(rf"""
        (?:[A-Za-z]\.){{2,}}(?![A-Za-z])                  # U.S.  U.N.  a.m.
      | (?:{_ABBREVIATIONS})\.(?=\s|$|[,;:)])            # Inc.  Mr.  Jan.
      | [A-Z]\.(?=\s+[A-Z])                              # an initial: J. Smith
      | \d+\.(?=\s+[A-Z])                                # a numbered item: 1. Jan Ullrich
      | [+-]?\.?\d\w*(?:[-.,/:=]\w+)*                    # 15,000  1/2  +1  3.5  1996-12-06  2-0  78th  .500
      | \w+(?=n't\b)                                     # do|n't  ca|n't
      | (?i:n't|'s|'re|'ve|'ll|'d|'m)(?!\w)              # clitics, split off
      | \w+(?:(?:-|'(?!(?i:s|re|ve|ll|d|m)\b))\w+)*      # words: hyphens and a non-clitic apostrophe join
      | -{{2,}} | \.{{2,}}                                 # --  ...
      | [^\w\s]
    """, re.VERBOSE)

    def tokenize(self, text: str) -> list[Token]:
        return [Token(m.group(), m.start(), m.end()) for m in self.pattern.finditer(text)]

    def piece(self, text: str, start: int, end: int) -> Token:
        return Token(text, start, end)


class RawTextTokenizer:
    """Turns raw text into a `Sentence`, for one language."""

    def __init__(self, lang: str):
        self.lang = lang
        if lang == "ja":
            from eiwa.tokenize.japanese import JapaneseTokenizer

            self.tokenizer = JapaneseTokenizer()
        else:
            self.tokenizer = EnglishTokenizer()

    def sentence(self, text: str, entities: list[Span] | None = None, origin: str | None = None) -> Sentence:
        """Tokens of `text` with offsets into `text` itself. Decomposed text (NFD: an accent or a
        dakuten as its own combining character) is tokenized in its composed form (NFC), which both
        tokenizers expect, and each token's offsets are mapped back to the caller's characters."""
        if unicodedata.is_normalized("NFC", text):
            return Sentence(text, self.tokenizer.tokenize(text), entities or [], origin)
        composed, starts, ends = composed_with_offsets(text)
        tokens = [replace(t, start=starts[t.start], end=ends[t.end - 1]) for t in self.tokenizer.tokenize(composed)]
        return Sentence(text, tokens, entities or [], origin)

    def split_for_entities(self, sentence: Sentence) -> tuple[Sentence, int]:
        """Split tokens at entity boundaries that fall inside them; returns the new sentence and the split count."""
        if sentence.misaligned_entities() == 0:
            return sentence, 0
        boundaries = {e.start for e in sentence.entities} | {e.end for e in sentence.entities}
        pieces, splits = split_at_boundaries(sentence.tokens, boundaries, self.tokenizer.piece)
        return replace(sentence, tokens=pieces), splits


def composed_with_offsets(text: str) -> tuple[str, list[int], list[int]]:
    """NFC of `text`, with, for each of its characters, the start and end of the original
    characters it came from. Each base character and the combining characters after it (and a
    Hangul syllable's conjoining vowel and final jamo) are composed as one cluster."""
    clusters, begin = [], 0
    for index in range(1, len(text) + 1):
        if index == len(text) or not (unicodedata.combining(text[index]) or "\u1160" <= text[index] <= "\u11ff"):
            clusters.append((begin, index))
            begin = index
    pieces, starts, ends = [], [], []
    for begin, end in clusters:
        piece = unicodedata.normalize("NFC", text[begin:end])
        pieces.append(piece)
        starts += [begin] * len(piece)
        ends += [end] * len(piece)
    return "".join(pieces), starts, ends


_tokenizers: dict[str, RawTextTokenizer] = {}


def tokenizer_for(lang: str) -> RawTextTokenizer:
    """One shared tokenizer per language (MeCab start-up and its caches are worth keeping)."""
    if lang not in _tokenizers:
        _tokenizers[lang] = RawTextTokenizer(lang)
    return _tokenizers[lang]


# ----------------------------------------------------------------------------- several corpora as one

PART_KEYS = {"format", "path", "columns", "token_prefix", "pos"}


def read_parts(path: str | Path, lang: str, split_tokens: bool = False) -> Corpus:
    """`--format parts`: a TOML file listing corpora read as one, each in its own format, e.g.

        [[part]]
        path = "../shared/data/conll2003/train.txt"
        columns = "token,pos,chunk,tag"
        [[part]]
        path = "../shared/data/wikiann-en/train"
        columns = "token,tag"
        token_prefix = "en:"
        pos = "missing"

    `format` defaults to conll; paths are relative to the directory the command runs in, as on the
    command line. `pos = "missing"` marks a part without a POS column: its tokens read the unknown
    part of speech (instead of the pos feature refusing them), so that a model can learn from a
    corpus that has POS and one that has not."""
    import tomllib

    path = Path(path)
    try:
        spec = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise EiwaError(f"{path}: cannot read: {error.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise EiwaError(f"{path}: invalid TOML: {error}") from None
    parts = spec.get("part")
    if not isinstance(parts, list) or not parts or not all(isinstance(p, dict) for p in parts):
        raise EiwaError(f"{path}: expected one or more [[part]] tables")
    sentences: list[Sentence] = []
    splits = 0
    for number, part in enumerate(parts, 1):
        where = f"{path}: part {number}"
        unknown = sorted(set(part) - PART_KEYS)
        if unknown:
            raise EiwaError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(PART_KEYS))})")
        fmt = part.get("format", "conll")
        if fmt == "parts" or fmt not in FORMATS:
            raise EiwaError(f"{where}: format must be one of conll, spans, hironsan, got {fmt!r}")
        if part.get("pos", "present") not in ("present", "missing"):
            raise EiwaError(f"{where}: pos must be present or missing, got {part['pos']!r}")
        columns = part.get("columns")
        columns = [c.strip() for c in columns.split(",")] if isinstance(columns, str) else columns
        corpus = read_corpus(fmt, part.get("path"), lang, columns, part.get("token_prefix"), split_tokens)
        if part.get("pos") == "missing":
            corpus.sentences = [replace(s, tokens=[replace(t, corpus_pos=()) if t.corpus_pos is None else t for t in s.tokens])
                                for s in corpus.sentences]
        sentences += corpus.sentences
        splits += corpus.token_splits
    return Corpus(sentences, splits)


# ----------------------------------------------------------------------------- dispatch


def read_corpus(
    fmt: str,
    path: str | Path | None,
    lang: str,
    columns: Sequence[str] | None = None,
    token_prefix: str | None = None,
    split_tokens: bool = False,
    warn=lambda line: print(line, file=sys.stderr),
) -> Corpus:
    """Read any supported format; `path` is not needed for the installed Hironsan corpus.
    `warn` receives notes that do not stop reading (keys of an export that eiwa does not read)."""
    if fmt == "hironsan":
        if lang != "ja":
            raise EiwaError("--format hironsan is Japanese: use --lang ja")
        return read_hironsan()
    if path is None:
        raise EiwaError(f"--format {fmt} needs a data path")
    if fmt == "conll":
        return read_conll(path, lang, columns, token_prefix)
    if fmt == "spans":
        return read_spans(path, lang, split_tokens=split_tokens)
    if fmt == "doccano":
        return read_spans(path, lang, split_tokens, read_doccano_records(path, warn))
    if fmt == "label-studio":
        return read_spans(path, lang, split_tokens, read_label_studio_records(path, warn))
    if fmt == "parts":
        return read_parts(path, lang, split_tokens=split_tokens)
    raise EiwaError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
