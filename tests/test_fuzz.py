"""Fuzzing (issue 12): generated inputs for every reader, model-directory loading, configs, label
maps and raw-text prediction. Property: nothing raises but EiwaError, and every predicted span
slices the caller's text exactly.

The suite runs a short profile (EIWA_FUZZ_EXAMPLES, default 40 per target);
`benchmarks/fuzz.py` runs the long one and counts the inputs."""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eiwa.config import Config, load_config
from eiwa.crosslingual.label_map import parse_label_map
from eiwa.errors import EiwaError
from eiwa.readers.conll import read_conll
from eiwa.readers.hironsan import hironsan_sentence
from eiwa.tagger import Tagger

EXAMPLES = int(os.environ.get("EIWA_FUZZ_EXAMPLES", "40"))
COUNT_FILE = os.environ.get("EIWA_FUZZ_COUNT")  # where benchmarks/fuzz.py collects the number of inputs
# Where benchmarks/fuzz.py collects unexpected exceptions: with it set, a target records each distinct
# one (by type and the eiwa line that raised it) with its shortest input, and goes on generating.
FAILURE_FILE = os.environ.get("EIWA_FUZZ_FAILURES")
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, derandomize=COUNT_FILE is None, suppress_health_check=list(HealthCheck)
)

_counts: dict[str, int] = {}
_failures: dict[str, dict] = {}
_current = {"target": "", "input": ""}


def counted(target: str, *example) -> None:
    """Count an input of `target`; `example` (the generated values) is what a recorded failure shows."""
    _counts[target] = _counts.get(target, 0) + 1
    _current.update(target=target, input=repr(example)[:2000])
    if COUNT_FILE:
        Path(COUNT_FILE).write_text(json.dumps(_counts), encoding="utf-8")


def _record_failure(error: Exception) -> None:
    import traceback

    frames = traceback.extract_tb(error.__traceback__)
    ours = [frame for frame in frames if "/eiwa/" in frame.filename and "/tests/" not in frame.filename]
    where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else f"{Path(frames[-1].filename).name}"
    key = f"{_current['target']}|{type(error).__name__}|{where}"
    seen = _failures.setdefault(key, {"count": 0, "message": str(error).splitlines()[0][:300] if str(error) else ""})
    seen["count"] += 1
    if "input" not in seen or len(_current["input"]) < len(seen["input"]):
        seen["input"] = _current["input"]
    Path(FAILURE_FILE).write_text(json.dumps(_failures, ensure_ascii=False, indent=1), encoding="utf-8")


# Text with what breaks programs: surrogates, NFD accents and dakuten, controls, NUL, full-width
# and other spaces, CRLF, tabs, long runs, and ordinary Latin and Japanese.
ANY_CHAR = st.characters(codec=None, exclude_categories=())
HARD_CHARS = st.sampled_from(
    list("\ud800\udfff\u0301\u3099\u309a\x00\x07\x1b\u200b\u3000\u00a0\r\n\t \ufeff\uffffAé東京カ゛ーｱ１Ｂ-_.'\"[]{}:,")
)
TEXT = st.text(st.one_of(ANY_CHAR, HARD_CHARS), max_size=300) | st.builds(
    lambda c, n: c * n, HARD_CHARS, st.integers(1, 3000)
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            TEXT | st.sampled_from(["text", "entities", "start", "end", "type", "span", "label"]), children, max_size=5
        )
    ),
    max_leaves=20,
)


def expect_only_eiwa_errors(call):
    try:
        return call()
    except EiwaError:
        return None
    except Exception as error:
        if not FAILURE_FILE:
            raise
        _record_failure(error)
        return None


def write(data: bytes) -> Path:
    handle, name = tempfile.mkstemp(prefix="eiwa-fuzz-")
    with os.fdopen(handle, "wb") as file:
        file.write(data)
    return Path(name)


def encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # invalid UTF-8 on purpose, sometimes


# ----------------------------------------------------------------------------- readers


CONLL_LINE = st.one_of(
    st.builds(
        lambda token, tag: f"{token} {tag}",
        TEXT,
        st.sampled_from(["O", "B-PER", "I-PER", "E-LOC", "S-ORG", "I-X", "B-", "X-Y"]) | TEXT,
    ),
    TEXT,
    st.just(""),
    st.just("-DOCSTART- -X- O O"),
    st.just("  \t"),
)


@FUZZ
@given(st.lists(CONLL_LINE, max_size=30), st.sampled_from(["\n", "\r\n", "\r"]), st.sampled_from(["en", "ja"]))
def test_conll_reader(lines, newline, lang):
    counted("conll", lines, newline, lang)
    path = write(encode(newline.join(lines)))
    try:
        corpus = expect_only_eiwa_errors(lambda: read_conll(path, lang))
        if corpus is not None:
            for sentence in corpus.sentences:
                for entity in sentence.entities:
                    assert 0 <= entity.start < entity.end <= len(sentence.text)
    finally:
        path.unlink()


ANNOTATION = st.recursive(
    st.none() | st.integers(-3, 40) | TEXT | st.sampled_from(["PER", "人名"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "text",
                    "label",
                    "entities",
                    "labels",
                    "start",
                    "end",
                    "start_offset",
                    "end_offset",
                    "data",
                    "annotations",
                    "result",
                    "value",
                    "type",
                    "was_cancelled",
                    "completions",
                    "id",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@FUZZ
@given(
    st.lists(JSON | ANNOTATION, max_size=6),
    st.booleans(),
    st.sampled_from(["en", "ja"]),
    st.sampled_from(["spans", "doccano", "label-studio"]),
)
def test_span_readers(records, as_array, lang, fmt):
    from eiwa.readers import read

    counted(fmt, records, as_array, lang)
    text = json.dumps(records) if as_array else "\n".join(json.dumps(r) for r in records)
    path = write(encode(text))
    try:
        corpus = expect_only_eiwa_errors(lambda: read(path, fmt, lang, warn=lambda line: None))
        if corpus is not None:
            for sentence in corpus.sentences:
                assert all(sentence.text[t.start : t.end] for t in sentence.tokens)
    finally:
        path.unlink()


@FUZZ
@given(
    st.lists(
        st.lists(TEXT | st.sampled_from(["O", "B-PSN", "I-PSN", "*", "ZSPACE"]), min_size=8, max_size=13), max_size=8
    )
)
def test_hironsan_rows(rows):
    counted("hironsan", rows)
    sentence = expect_only_eiwa_errors(lambda: hironsan_sentence(rows, "fuzz"))
    if sentence is not None:
        assert all(sentence.text[t.start : t.end] == t.text for t in sentence.tokens)


# ----------------------------------------------------------------------------- configs and label maps


@FUZZ
@given(st.dictionaries(st.sampled_from(sorted(Config().to_dict())) | TEXT, JSON, max_size=6))
def test_config_values(values):
    counted("config", values)
    expect_only_eiwa_errors(lambda: Config.from_dict(values).validate())


@FUZZ
@given(TEXT | JSON.map(json.dumps), st.sampled_from([".toml", ".json"]))
def test_config_file(text, suffix):
    counted("config file", text, suffix)
    path = write(encode(text))
    named = path.with_suffix(suffix)
    path.rename(named)
    try:
        expect_only_eiwa_errors(lambda: load_config(named))
    finally:
        named.unlink()


EXPERIMENT_KEY = st.sampled_from(
    [
        "name",
        "out",
        "seeds",
        "data",
        "source",
        "train",
        "grid",
        "set",
        "modules",
        "sizes",
        "features",
        "word_input",
        "char_input",
        "protocol",
        "format",
        "path",
    ]
)
TOML_VALUE = st.recursive(
    st.booleans() | st.integers(-5, 5000) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(EXPERIMENT_KEY, children, max_size=4),
    max_leaves=12,
)


@FUZZ
@given(st.dictionaries(EXPERIMENT_KEY, TOML_VALUE, max_size=7) | st.text(max_size=200))
def test_experiment_file(spec):
    from eiwa.study.grid import cells_of
    from eiwa.study.spec import experiment_spec

    counted("experiment", spec)
    if isinstance(spec, str):  # as a file: TOML text
        path = write(encode(spec))
        try:
            from eiwa.study.spec import load_experiment

            loaded = expect_only_eiwa_errors(lambda: load_experiment(path))
        finally:
            path.unlink()
    else:
        loaded = expect_only_eiwa_errors(lambda: experiment_spec(spec))
    if loaded is not None:
        cells_of(loaded.grids)


# Where an experiment edit applies: the top level, [data], [source], [train] or the first [[grid]].
EXPERIMENT_TABLES = {
    "": ["name", "out", "seeds", "data", "source", "train", "grid"],
    "data": ["lang", "format", "path", "columns", "token_prefix", "protocol", "folds"],
    "source": ["model", "label_map"],
    "train": ["config", "set"],
    "grid": ["name", "modules", "sizes", "features", "word_input", "char_input"],
}
# Every TOML type (floats with nan and inf, dates), and values that are right in one place but not another.
TOML_ANY = st.one_of(
    TOML_VALUE,
    st.floats(),
    st.dates(),
    st.datetimes(),
    st.sampled_from(
        ["two", "kfold", "split", "none", "char,word", "auto", "PER=PER", "conll", "en", "ja", 42, 0, 1, 2, -1, 2**40]
    ),
    st.sampled_from([[], [0], [1, 2**40], ["x=1"], ["hidden_dim=4"], ["seed=99999999999999"], [2**33]]),
)
EXPERIMENT_EDIT = st.tuples(
    st.sampled_from(sorted(EXPERIMENT_TABLES)),
    st.integers(0, 50),
    st.sampled_from(["set", "misspell", "drop"]),
    TOML_ANY,
)
# `out` as a new folder, an existing file, a folder below a file, or an existing folder with a file in
# place of its records.
EXPERIMENT_OUT = st.sampled_from(["new", "file", "below a file", "records are a folder"])


def _experiment(scratch: Path, out_kind: str, data: Path, model: Path) -> dict:
    """A valid experiment on `data` (CoNLL) from `model`, with `out` in `scratch` as `out_kind` says."""
    out = {"new": scratch / "out", "file": scratch / "a-file", "below a file": scratch / "a-file" / "out"}
    (scratch / "a-file").write_text("not a folder", encoding="utf-8")
    (scratch / "with-records" / "cells.jsonl").mkdir(parents=True)
    return {
        "name": "fuzz",
        "out": str(out.get(out_kind, scratch / "with-records")),
        "seeds": [1],
        "data": {"lang": "en", "format": "conll", "path": str(data), "protocol": "kfold", "folds": 2},
        "source": {"model": str(model), "label_map": "PER=PER,LOC=LOC,ORG=ORG"},
        "train": {"config": "small-data", "set": ["max_epochs=1"]},
        "grid": [{"name": "g", "modules": ["none", "char"], "sizes": [0, 4]}],
    }


def _edit_experiment(values: dict, edit: tuple) -> None:
    """Set a known key to a generated value, put it under a misspelt name, or drop it."""
    table, index, kind, value = edit
    holder = values if not table else values.get(table)
    holder = holder[0] if isinstance(holder, list) and holder else holder
    if not isinstance(holder, dict):
        return
    key = EXPERIMENT_TABLES[table][index % len(EXPERIMENT_TABLES[table])]
    if kind == "set":
        holder[key] = value
    elif kind == "drop":
        holder.pop(key, None)
    else:  # a typo: a letter dropped or doubled, a plural, a capital
        typo = [key[:-1], key + "s", key + key[-1], key.capitalize(), key.replace("_", "-")][index % 5]
        if typo != key:
            holder[typo] = holder.pop(key, value)


@pytest.fixture(scope="module")
def experiment_inputs(tmp_path_factory, tiny_model_dir):
    from helpers import synthetic_tagged, write_conll

    root = tmp_path_factory.mktemp("fuzz-experiment")
    return write_conll(root / "data.conll", synthetic_tagged(8, seed=3)), tiny_model_dir


@FUZZ
@given(st.lists(EXPERIMENT_EDIT, max_size=3), EXPERIMENT_OUT)
def test_experiment_values(experiment_inputs, edits, out_kind):
    """A valid experiment with misspelt keys and values of the wrong type at every level, and `out`
    where no folder can be: checked, then run with no cell to train (it reads the data and the source,
    checks every cell, and writes the report)."""
    from eiwa.study.grid import cells_of
    from eiwa.study.runner import Study, run_experiment
    from eiwa.study.spec import experiment_spec

    counted("experiment values", edits, out_kind)
    with tempfile.TemporaryDirectory() as scratch:
        values = _experiment(Path(scratch), out_kind, *experiment_inputs)
        for edit in edits:
            _edit_experiment(values, edit)
        spec = expect_only_eiwa_errors(lambda: experiment_spec(values))
        if spec is None:
            return
        cells = expect_only_eiwa_errors(lambda: cells_of(spec.grids))
        if cells is None or not Path(spec.out).resolve().is_relative_to(Path(scratch).resolve()):
            return  # generated paths are not written to (they may point anywhere)
        study = expect_only_eiwa_errors(lambda: Study(spec))
        if study is not None:
            for cell in cells:
                expect_only_eiwa_errors(functools.partial(study.check, cell))
        expect_only_eiwa_errors(lambda: run_experiment(spec, log=lambda line: None, cells=[]))


@FUZZ
@given(TEXT | JSON.map(json.dumps), st.booleans())
def test_label_map(spec, as_file):
    counted("label map", spec, as_file)
    if as_file:
        path = write(encode(spec))
        try:
            expect_only_eiwa_errors(lambda: parse_label_map(str(path), ["PER", "LOC", "ORG", "MISC"], ["PSN", "LOC"]))
        finally:
            path.unlink()
    else:
        expect_only_eiwa_errors(lambda: parse_label_map(spec, ["PER", "LOC", "ORG", "MISC"], ["PSN", "LOC"]))


# ----------------------------------------------------------------------------- model directories


@pytest.fixture(scope="module")
def fuzz_model(tiny_model_dir):
    return tiny_model_dir


MUTATION = st.one_of(
    st.tuples(
        st.just("json"), st.sampled_from(["meta.json", "config.json", "vocab.json"]), JSON
    ),  # replace a top-level value
    st.tuples(st.just("drop"), st.sampled_from(["meta.json", "config.json", "vocab.json"]), st.integers(0, 50)),
    st.tuples(
        st.just("bytes"),
        st.sampled_from(["meta.json", "config.json", "vocab.json", "model.safetensors"]),
        st.tuples(st.integers(0, 10**6), st.integers(0, 255)),
    ),
    st.tuples(
        st.just("truncate"),
        st.sampled_from(["meta.json", "config.json", "vocab.json", "model.safetensors"]),
        st.integers(0, 10**6),
    ),
)


@FUZZ
@given(st.lists(MUTATION, min_size=1, max_size=3), st.booleans())
def test_model_directory_loading(fuzz_model, mutations, keep_checksums):
    counted("model directory", mutations, keep_checksums)
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "m"
        shutil.copytree(fuzz_model, copy)
        if not keep_checksums:  # as a model without checksums: the structural checks must hold alone
            meta = json.loads((copy / "meta.json").read_text(encoding="utf-8"))
            del meta["files"]
            (copy / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        for kind, name, value in mutations:
            path = copy / name
            data = path.read_bytes()
            if kind == "json":
                try:
                    document = json.loads(data)
                    keys = sorted(document) if isinstance(document, dict) else []
                except ValueError:
                    keys = []
                if keys:
                    document[keys[hash(json.dumps(value)) % len(keys)]] = value
                    path.write_text(json.dumps(document), encoding="utf-8")
            elif kind == "drop":
                try:
                    document = json.loads(data)
                except ValueError:
                    continue
                if isinstance(document, dict) and document:
                    del document[sorted(document)[value % len(document)]]
                    path.write_text(json.dumps(document), encoding="utf-8")
            elif kind == "bytes" and data:
                offset, flip = value
                mutated = bytearray(data)
                mutated[offset % len(data)] ^= flip or 1
                path.write_bytes(bytes(mutated))
            elif kind == "truncate":
                path.write_bytes(data[: value % (len(data) + 1)])
        tagger = expect_only_eiwa_errors(lambda: Tagger.load(copy))
        if tagger is not None:
            record = tagger.predict(["John Smith lives in Paris."])[0]
            assert all(record["text"][e["start"] : e["end"]] == e["text"] for e in record["entities"])


# ----------------------------------------------------------------------------- raw-text prediction


@pytest.fixture(scope="module")
def taggers(tiny_model_dir):
    from helpers import tiny_config

    from eiwa.build import build
    from eiwa.readers.hironsan import read_hironsan

    # Japanese: an untrained tagger (random weights tag spans too) reading romaji characters,
    # words and part of speech, so that raw text goes through MeCab, cutlet and every encoder.
    japanese = build(
        tiny_config(
            lang="ja", char_input="romaji", features="char,word,pos", pos_source="tokenizer", seed=3, threads=1
        ),
        read_hironsan().sentences[:40],
    ).tagger
    return {"en": Tagger.load(tiny_model_dir), "ja": japanese}


@FUZZ
@given(st.lists(TEXT, min_size=1, max_size=4), st.sampled_from(["en", "ja"]))
def test_prediction_spans_slice_the_input(taggers, texts, lang):
    counted(f"predict {lang}", texts)
    for record, text in zip(taggers[lang].predict(texts), texts):
        assert record["text"] == text
        for entity in record["entities"]:
            assert 0 <= entity["start"] < entity["end"] <= len(text)
            assert text[entity["start"] : entity["end"]] == entity["text"]


@FUZZ
@given(st.lists(TEXT, min_size=1, max_size=4))
def test_japanese_tokenizing_keeps_offsets_into_the_input(texts):
    from eiwa.tokenize import tokenizer_for

    counted("tokenize ja", texts)
    tokenizer = tokenizer_for("ja")
    for text in texts:
        previous_end = 0
        for token in tokenizer.sentence(text).tokens:
            assert previous_end <= token.start < token.end <= len(text)
            previous_end = token.end


# ----------------------------------------------------------------------------- the server


@pytest.fixture(scope="module")
def served(tiny_model_dir):
    """An `eiwa serve` app with small limits, driven in process (the same ASGI app uvicorn runs)."""
    pytest.importorskip("fastapi", reason="eiwa serve needs the serve extra")
    httpx = pytest.importorskip("httpx")
    import asyncio

    from eiwa.serving.http import Limits, create_app

    app = create_app(Tagger.load(tiny_model_dir), Limits(max_body_bytes=20_000, max_texts=20, max_chars=500))
    loop = asyncio.new_event_loop()
    lifespan = app.router.lifespan_context(app)
    loop.run_until_complete(lifespan.__aenter__())
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://eiwa")
    yield lambda **request: loop.run_until_complete(client.request(**request))
    loop.run_until_complete(client.aclose())
    loop.run_until_complete(lifespan.__aexit__(None, None, None))
    loop.close()


@FUZZ
@given(
    st.one_of(
        JSON.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=300),
        st.builds(lambda texts: json.dumps({"texts": texts}).encode(), st.lists(TEXT, max_size=5)),
        st.builds(lambda text, m: json.dumps({"text": text, "min_confidence": m}).encode(), TEXT, JSON),
    ),
    st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", ""]),
)
def test_server_requests(served, body, content_type):
    counted("serve")
    response = served(method="POST", url="/v1/ner", content=body, headers={"content-type": content_type})
    assert response.status_code in (200, 400, 413, 415, 422), (response.status_code, response.text)
    if response.status_code == 200:
        for record in response.json():
            assert all(record["text"][e["start"] : e["end"]] == e["text"] for e in record["entities"])
    else:
        assert response.json()["error"]["status"] == response.status_code


@pytest.fixture(scope="module")
def loopback(tiny_model_dir):
    """`eiwa serve` as a user starts it, on a free loopback port (bounded: it is stopped after the module)."""
    pytest.importorskip("fastapi", reason="eiwa serve needs the serve extra")
    import subprocess

    from eiwa.serving.http import launch

    process, url = launch(
        str(tiny_model_dir),
        "--max-body-bytes",
        "20000",
        "--max-texts",
        "20",
        "--max-chars",
        "500",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield url
    process.terminate()
    process.wait(timeout=30)


@settings(FUZZ, max_examples=max(10, EXAMPLES // 10))  # a tenth: every example is a real HTTP request
@given(
    st.one_of(
        JSON.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=300),
        st.builds(lambda texts: json.dumps({"texts": texts}).encode(), st.lists(TEXT, max_size=5)),
    ),
    st.sampled_from(["application/json", "text/plain"]),
)
def test_server_over_loopback(loopback, body, content_type):
    import urllib.error
    import urllib.request

    counted("serve loopback")
    request = urllib.request.Request(loopback + "/v1/ner", data=body, headers={"content-type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, answer = response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        status, answer = error.code, json.loads(error.read())
    assert status in (200, 400, 413, 415, 422), (status, answer)
    if status == 200:
        for record in answer:
            assert all(record["text"][e["start"] : e["end"]] == e["text"] for e in record["entities"])
    else:
        assert answer["error"]["status"] == status


# ----------------------------------------------------------------------------- the Python API

# Argument values of every type and range a caller can pass: wrong types, NaN, infinities, numbers
# beyond any bound, numeric strings, bytes and None, beside ordinary values.
ARGUMENT = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 4),
    st.integers(2**40, 2**70) | st.integers(-(2**70), -(2**40)),
    st.floats(),
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 2.5, 0.0, -1.0, "64", "2.5", "nan", "-1", ""]),
    st.text(max_size=8),
    st.binary(max_size=8),
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
# What `texts` may be: one text, a list, tuple or generator of texts (some not texts), or no texts at all.
TEXTS = st.one_of(
    TEXT.map(lambda text: (text, 1)),
    st.lists(TEXT, max_size=4).map(lambda texts: (texts, len(texts))),
    st.lists(TEXT, max_size=4).map(lambda texts: (tuple(texts), len(texts))),
    st.lists(TEXT, max_size=4).map(lambda texts: ((t for t in texts), len(texts))),
    st.lists(TEXT | ARGUMENT, min_size=1, max_size=4).map(lambda items: (items, len(items))),
    ARGUMENT.map(lambda value: (value, None)),
)


def _assert_slices(records, texts_given: int | None) -> None:
    """Every record's spans slice its text, and there is one record per text given."""
    if texts_given is not None:
        assert len(records) == texts_given, (len(records), texts_given)
    for record in records:
        for entity in record["entities"]:
            assert 0 <= entity["start"] < entity["end"] <= len(record["text"])
            assert record["text"][entity["start"] : entity["end"]] == entity["text"]


@FUZZ
@given(
    ARGUMENT | TEXT | st.builds(Path, TEXT.filter(lambda t: "\x00" not in t)) | st.just("conll03-en"),
)
def test_api_load(value):
    import eiwa

    counted("api load", value)
    expect_only_eiwa_errors(lambda: eiwa.load(value))


@FUZZ
@given(
    TEXTS,
    st.sampled_from(["predict", "pipe", "tag_documents"]),
    st.dictionaries(st.sampled_from(["batch_size", "chunk_size", "split_sentences"]), ARGUMENT, max_size=3),
)
def test_api_tagging_arguments(taggers, texts, method, options):
    counted("api tagging", texts, method, options)
    value, count = texts
    tagger = taggers["en"]
    if method == "tag_documents":
        options.pop("chunk_size", None)
        call = lambda: [record for record, _ in tagger.tag_documents(value, **options)]  # noqa: E731
    elif method == "pipe":
        options.pop("split_sentences", None)  # a flag: any value is true or false
        call = lambda: list(tagger.pipe(value, **options))  # noqa: E731
    else:
        options.pop("chunk_size", None)
        options.pop("split_sentences", None)
        call = lambda: tagger.predict(value, **options)  # noqa: E731
    records = expect_only_eiwa_errors(call)
    if records is not None:
        _assert_slices(records, count if method != "tag_documents" or isinstance(value, list) else None)


@FUZZ
@given(ARGUMENT, st.sampled_from(["evaluate", "marginals", "select_texts"]), ARGUMENT)
def test_api_batch_and_count_arguments(taggers, batch_size, method, count):
    """`evaluate`, `marginals` and `select_texts` with generated batch sizes and counts."""
    from helpers import synthetic_sentences

    import eiwa

    counted("api evaluate", batch_size, method, count)
    tagger, sentences = taggers["en"], synthetic_sentences(3, seed=5)
    if method == "evaluate":
        scores = expect_only_eiwa_errors(lambda: tagger.evaluate(sentences, batch_size=batch_size))
        assert scores is None or 0.0 <= scores.f1 <= 1.0
    elif method == "marginals":
        marginals = expect_only_eiwa_errors(lambda: tagger.marginals(sentences, batch_size=batch_size))
        assert marginals is None or len(marginals) == len(sentences)
    else:
        texts = [sentence.text for sentence in sentences]
        chosen = expect_only_eiwa_errors(lambda: eiwa.select_texts(tagger, texts, count))
        assert chosen is None or len(chosen) <= len(texts)


@pytest.fixture(scope="module")
def two_sentences(tmp_path_factory):
    from helpers import synthetic_tagged, write_conll

    root = tmp_path_factory.mktemp("api-train")
    return write_conll(root / "train.conll", synthetic_tagged(2, seed=11))


TRAIN_ARGUMENT = st.sampled_from(
    ["train", "dev", "format", "lang", "config", "settings", "columns", "token_prefix", "labels", "device", "out"]
)
SETTING = st.sampled_from(
    ["hidden_dim", "batch_size", "lr", "dropout", "seed", "word_embedding_dim", "case_embedding_dim", "features"]
)


@FUZZ
@given(
    st.dictionaries(TRAIN_ARGUMENT, ARGUMENT, min_size=1, max_size=2),
    st.dictionaries(SETTING | st.text(max_size=6), ARGUMENT, max_size=2),
)
def test_api_train_arguments(two_sentences, arguments, settings):
    """`eiwa.train` on two sentences, one epoch, with one or two arguments replaced by a generated value."""
    import torch
    from helpers import TINY

    import eiwa

    counted("api train", arguments, settings)
    with tempfile.TemporaryDirectory() as scratch:
        given_settings = arguments.pop("settings", None)
        call = {
            "train": two_sentences,
            "out": Path(scratch) / "m",
            "settings": {**TINY, "max_epochs": 1, "threads": 1, **settings},
            "log": lambda line: None,
            **arguments,
        }
        if given_settings is not None:
            call["settings"] = given_settings
        try:
            result = expect_only_eiwa_errors(lambda: eiwa.train(**call))
        finally:
            torch.set_num_threads(1)  # a generated `threads` setting must not slow the rest of the suite
        if result is not None:
            _assert_slices(result.tagger.predict(["John Smith lives in Paris."]), 1)


# ----------------------------------------------------------------------------- the spaCy component


@pytest.fixture(scope="module")
def blank_nlp():
    spacy = pytest.importorskip("spacy", reason="the spaCy component needs the spacy extra")
    return spacy.blank("en")


def _add_eiwa(nlp, config: dict):
    """The component added with `config`, or None where it is refused: by eiwa (EiwaError), or by
    spaCy's own check of the factory's types and of what a config can hold (JSON: E961, and bytes
    it fails to decode)."""
    from thinc.api import ConfigValidationError

    try:
        return nlp.add_pipe("eiwa", config=config)
    except (EiwaError, ConfigValidationError, UnicodeDecodeError):
        return None
    except Exception as error:
        if isinstance(error, ValueError) and "[E961]" in str(error):
            return None
        return expect_only_eiwa_errors(functools.partial(_raise, error))


def _raise(error: Exception):
    raise error


# Text short enough to keep the target quick (long runs go through the prediction targets), without
# lone surrogates, which spaCy's own tokenizer cannot hash.
SPACY_TEXT = st.text(
    st.characters(codec="utf-8") | HARD_CHARS.filter(lambda c: not "\ud800" <= c <= "\udfff"), max_size=150
)


@FUZZ
@given(
    st.dictionaries(st.sampled_from(["model", "batch_size", "overwrite", "split_sentences"]), ARGUMENT, max_size=2),
    st.lists(SPACY_TEXT, max_size=3),
    ARGUMENT,
)
def test_spacy_component(blank_nlp, tiny_model_dir, config, texts, pipe_batch_size):
    """The component's config values, then texts through `nlp(...)` and the component's `pipe` with a
    generated batch size. (spaCy's own tokenizer cannot hash lone surrogates: none are generated.)"""
    counted("spacy", config, texts, pipe_batch_size)
    component = _add_eiwa(blank_nlp, {"model": str(tiny_model_dir), **config})
    if component is None:
        return
    try:
        for doc in map(blank_nlp, texts):
            assert all(doc.text[e.start_char : e.end_char] == e.text for e in doc.ents)
        make = blank_nlp.make_doc
        docs = expect_only_eiwa_errors(lambda: list(component.pipe(map(make, texts), batch_size=pipe_batch_size)))
        if docs is not None:
            assert [doc.text for doc in docs] == texts
    finally:
        blank_nlp.remove_pipe("eiwa")


# ----------------------------------------------------------------------------- checkpoints


@pytest.fixture(scope="module")
def interrupted_run(tmp_path_factory):
    """(train-command arguments, model directory) of a one-epoch run stopped right after writing its
    checkpoint: `--resume` reads and checks everything, then has no epoch left to train (quick)."""
    from click.testing import CliRunner
    from helpers import TINY_SET, synthetic_tagged, write_conll

    from eiwa.cli import cli
    from eiwa.training import train as train_module
    from eiwa.training.checkpoint import CHECKPOINT

    root = tmp_path_factory.mktemp("fuzz-checkpoint")
    data = write_conll(root / "train.conll", synthetic_tagged(8, seed=7))
    dev = write_conll(root / "dev.conll", synthetic_tagged(4, seed=8))
    arguments = ["train", "--train", str(data), "--dev", str(dev), "--quiet", *TINY_SET, "--set", "max_epochs=1"]
    after_epoch = train_module._ModelWriter.after_epoch

    def stop_after_the_first(writer, improved):
        after_epoch(writer, improved)
        raise KeyboardInterrupt

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(train_module._ModelWriter, "after_epoch", stop_after_the_first)
        result = CliRunner().invoke(cli, [*arguments, "--out", str(root / "m")])
    assert result.exit_code == 130, result.output
    assert (root / "m" / CHECKPOINT).exists()
    return arguments, root / "m"


def _header_paths(value, prefix=()) -> list[tuple]:
    """Every field of a checkpoint header (nested objects and lists, three levels deep) as a key path."""
    if len(prefix) == 3:
        return []
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    paths = []
    for key, child in children:
        paths += [(*prefix, key), *_header_paths(child, (*prefix, key))]
    return paths


def _edit_header(header: dict, edit: tuple) -> None:
    """Set, drop or add the field that `edit` picks (by its index among the header's fields)."""
    kind, index, key, value = edit
    paths = _header_paths(header)
    *parents, last = paths[index % len(paths)]
    holder = header
    for name in parents:
        holder = holder[name]
    if kind == "set":
        holder[last] = value
    elif kind == "drop":
        del holder[last]
    elif isinstance(holder, dict):  # add a field beside it
        holder[key] = value
    else:
        holder.append(value)


HEADER_EDIT = st.tuples(
    st.sampled_from(["set", "drop", "add"]),
    st.integers(0, 10**4),
    st.text(max_size=8) | st.sampled_from(["epoch", "history", "data", "lr", "params", "train"]),
    JSON | ARGUMENT.filter(lambda value: not isinstance(value, bytes)),
)
BYTE_EDIT = st.tuples(st.sampled_from(["flip", "truncate"]), st.integers(0, 10**6), st.integers(0, 255))


@FUZZ
@given(st.lists(HEADER_EDIT, max_size=3), st.lists(BYTE_EDIT, max_size=2), st.sampled_from([False, False, True]))
def test_checkpoint_headers(interrupted_run, header_edits, byte_edits, keep_checksum):
    """A checkpoint whose header fields are set to other types and values, dropped or added (with its
    checksum, or without as an older checkpoint), and whose bytes are flipped or cut: read, and resumed."""
    from click.testing import CliRunner
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from eiwa.cli import cli
    from eiwa.training.checkpoint import CHECKPOINT, checkpoint_config, read_checkpoint

    counted("checkpoint", header_edits, byte_edits, keep_checksum)
    arguments, model = interrupted_run
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "m"
        shutil.copytree(model, out)
        path = out / CHECKPOINT
        tensors = load_file(path)
        with safe_open(path, "pt") as handle:
            metadata = handle.metadata()
        header = {key: json.loads(value) for key, value in metadata.items() if key != "checksum"}
        for edit in header_edits:
            _edit_header(header, edit)
        rewritten = {key: json.dumps(value) for key, value in header.items()}
        save_file(
            tensors, path, metadata={**rewritten, **({"checksum": metadata["checksum"]} if keep_checksum else {})}
        )
        for kind, offset, flip in byte_edits:
            data = bytearray(path.read_bytes())
            if kind == "flip" and data:
                data[offset % len(data)] ^= flip or 1
            else:
                data = data[: offset % (len(data) + 1)]
            path.write_bytes(bytes(data))
        expect_only_eiwa_errors(lambda: read_checkpoint(path))
        expect_only_eiwa_errors(lambda: checkpoint_config(path))
        result = CliRunner().invoke(cli, [*arguments, "--out", str(out), "--resume"])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            expect_only_eiwa_errors(functools.partial(_raise, result.exception))
        else:
            assert result.exit_code in (0, 2), result.output
