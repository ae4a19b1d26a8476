"""Raw text with character-span entities: eiwa's own JSON (`spans`, Stockmark's form too), Doccano's
and Label Studio's exports. Each is tokenized here, for the language."""

from __future__ import annotations

from pathlib import Path

from eiwa.doc import Corpus, Span
from eiwa.errors import DataError
from eiwa.readers import Options, reader
from eiwa.readers.files import Sample, json_records, text_records
from eiwa.tags import type_problem
from eiwa.tokenize import tokenizer_for


def _has_text(record) -> bool:
    return isinstance(record, dict) and isinstance(record.get("text"), str)


def _looks_like_label_studio(sample: Sample) -> bool:
    return isinstance(sample.record, dict) and isinstance(sample.record.get("data"), dict)


def _looks_like_doccano(sample: Sample) -> bool:
    """`label`/`labels` lists, or doccano 1.x's `entities` of lists or of `start_offset` objects."""
    record = sample.record
    if not _has_text(record):
        return False
    if "label" in record or "labels" in record:
        return True
    first = next(iter(record.get("entities") or []), None)
    return isinstance(first, list) or (isinstance(first, dict) and "start_offset" in first)


def _looks_like_spans(sample: Sample) -> bool:
    return _has_text(sample.record) and not _looks_like_doccano(sample)


@reader("spans", raw_text=True, help="JSON/JSONL raw text with character spans", detect=_looks_like_spans)
def _read_spans(path: Path, lang: str, options: Options) -> Corpus:
    return read_spans(path, lang, split_tokens=options.split_tokens)


@reader(
    "doccano",
    raw_text=True,
    help="Doccano's JSONL export ({text, label: [[start, end, type]]})",
    detect=_looks_like_doccano,
)
def _read_doccano(path: Path, lang: str, options: Options) -> Corpus:
    return read_spans(path, lang, options.split_tokens, read_doccano_records(path, options.warn))


@reader(
    "label-studio",
    raw_text=True,
    help="a Label Studio JSON export (the labels result format)",
    detect=_looks_like_label_studio,
)
def _read_label_studio(path: Path, lang: str, options: Options) -> Corpus:
    records = read_label_studio_records(path, options.warn, keep_unannotated=options.allow_empty)
    return read_spans(path, lang, options.split_tokens, records)


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
    if type_problem(kind):
        raise DataError(path, line, type_problem(kind))
    if not 0 <= start < end <= len(text):
        raise DataError(path, line, f"span [{start}, {end}) out of range for a text of {len(text)} characters")
    return Span(start, end, kind)


# Keys of the exports that eiwa knows and does not need; any other is named in a warning.
DOCCANO_KEYS = {
    "id",
    "text",
    "label",
    "labels",
    "entities",
    "meta",
    "Comments",
    "comments",
    "annotation_approver",
    "relations",
}
LABEL_STUDIO_KEYS = {
    "id",
    "data",
    "annotations",
    "completions",
    "predictions",
    "meta",
    "created_at",
    "updated_at",
    "inner_id",
    "total_annotations",
    "cancelled_annotations",
    "total_predictions",
    "comment_count",
    "unresolved_comment_count",
    "last_comment_updated_at",
    "project",
    "updated_by",
    "file_upload",
    "drafts",
    "comment_authors",
    "annotation_id",
    "annotator",
    "lead_time",
}


def _report_unknown_keys(path, records_keys: dict[str, int], known: set[str], warn) -> None:
    """Keys a reader does not use are named once for the file (first line each), not per record."""
    unknown = {key: line for key, line in records_keys.items() if key not in known}
    if unknown:
        named = ", ".join(f"{key!r} (first on line {line})" for key, line in sorted(unknown.items()))
        warn(f"{path}: ignored keys: {named}")


def read_doccano_records(path: str | Path, warn=print) -> list[tuple[str, list[Span], str]]:
    """Doccano's sequence-labelling export: JSON Lines `{"text": ..., "label": [[start, end, type], ...]}`
    (character offsets, end exclusive; newer exports call the list "entities" or "labels")."""
    records, seen = [], {}
    for line, record in text_records(path, "Doccano record"):
        for key in record:
            seen.setdefault(key, line)
        text = record["text"]
        records.append((text, _doccano_entities(path, line, text, record), f"{path}:{line}"))
    if not records:
        raise DataError(path, None, "no records found")
    _report_unknown_keys(path, seen, DOCCANO_KEYS, warn)
    return records


def _doccano_entities(path, line, text, record) -> list[Span]:
    items = next((record[k] for k in ("label", "entities", "labels") if k in record), [])
    if not isinstance(items, list):
        raise DataError(path, line, f'"label" must be a list of [start, end, type], got {type(items).__name__}')
    entities = []
    for item in items:
        if isinstance(item, dict):  # {"start_offset", "end_offset", "label"} (doccano 1.x)
            item = [
                item.get("start_offset", item.get("start")),
                item.get("end_offset", item.get("end")),
                item.get("label"),
            ]
        if not (isinstance(item, list) and len(item) == 3):
            raise DataError(path, line, f"a label must be [start, end, type], got {item!r}")
        entities.append(_span_from_json(path, line, text, {"start": item[0], "end": item[1], "type": item[2]}))
    return entities


def read_label_studio_records(
    path: str | Path, warn=print, keep_unannotated: bool = True
) -> list[tuple[str, list[Span], str]]:
    """A Label Studio JSON export: a list of tasks `{"data": {"text": ...}, "annotations":
    [{"result": [{"type": "labels", "value": {"start", "end", "text", "labels": [type]}}]}]}`.
    The first annotation that is not cancelled is read; `predictions` are not gold and are skipped.
    A task without such an annotation is a text nobody labelled: without `keep_unannotated` it is left
    out, and the count said in a warning (as data, it would teach that its names are not entities)."""
    records, seen, skipped, lines = [], {}, 0, set()
    for index, (line, task) in enumerate(json_records(path), start=1):
        where = _Task(path, line if line not in lines else None, index, task)  # a one-line export: all on line 1
        lines.add(line)
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise where.error('each Label Studio task must be an object with a "data" object')
        for key in task:
            seen.setdefault(key, line)
        texts = [v for v in task["data"].values() if isinstance(v, str)]
        text = task["data"].get("text", texts[0] if len(texts) == 1 else None)
        if not isinstance(text, str):
            raise where.error('the task\'s data has no "text" string')
        annotation = _first_annotation(where, task)
        if annotation is None and not keep_unannotated:
            skipped += 1
            continue
        records.append((text, _label_studio_entities(where, text, annotation or {}), f"{path}:{line}"))
    if skipped:
        warn(
            f"{path}: left out {skipped} task(s) without an annotation or with only cancelled ones "
            "(--allow-empty keeps them, as texts without entities)"
        )
    if not records:
        raise DataError(path, None, "no annotated tasks found" if skipped else "no tasks found")
    _report_unknown_keys(path, seen, LABEL_STUDIO_KEYS, warn)
    return records


class _Task:
    """Where a Label Studio task is, for its errors: its place in the file (1-based), its id, and the
    line it begins on (None where that says nothing: tasks sharing one line)."""

    def __init__(self, path, line: int | None, index: int, task):
        self.path, self.line = path, line
        task_id = task.get("id") if isinstance(task, dict) else None
        self.label = f"task {index}" + (f" (id {task_id!r})" if task_id is not None else "")

    def error(self, message: str) -> DataError:
        return DataError(self.path, self.line, f"{self.label}: {message}")


def _first_annotation(where: _Task, task: dict) -> dict | None:
    """The task's first annotation that is not cancelled; None when it has none."""
    annotations = task.get("annotations", task.get("completions", []))
    if not isinstance(annotations, list) or not all(isinstance(a, dict) for a in annotations):
        raise where.error('"annotations" must be a list of objects')
    return next((a for a in annotations if not a.get("was_cancelled")), None)


def _label_studio_entities(where: _Task, text: str, annotation: dict) -> list[Span]:
    """The spans of one annotation's results."""
    results = annotation.get("result", [])
    if not isinstance(results, list):
        raise where.error('"result" must be a list')
    entities = []
    for result in results:
        value = result.get("value") if isinstance(result, dict) else None
        if not isinstance(value, dict) or "start" not in value:
            continue  # not a span (a choice, a relation): nothing for NER
        labels = value.get("labels", value.get("hypertextlabels"))
        if not (isinstance(labels, list) and len(labels) == 1 and isinstance(labels[0], str)):
            raise where.error(f"a span needs exactly one label, got {labels!r}")
        try:
            span = _span_from_json(
                where.path, where.line, text, {"start": value["start"], "end": value.get("end"), "type": labels[0]}
            )
        except DataError as error:
            raise where.error(error.message) from None
        if isinstance(value.get("text"), str) and value["text"] != text[span.start : span.end]:
            raise where.error(
                f"span [{span.start}, {span.end}) reads {text[span.start : span.end]!r}, "
                f"the export says {value['text']!r}"
            )
        entities.append(span)
    return entities


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
