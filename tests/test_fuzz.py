"""Fuzzing (issue 12): generated inputs for every reader, model-directory loading, configs, label
maps and raw-text prediction. Property: nothing raises but EiwaError, and every predicted span
slices the caller's text exactly.

The suite runs a short profile (EIWA_FUZZ_EXAMPLES, default 40 per target);
`benchmarks/fuzz.py` runs the long one and counts the inputs."""

from __future__ import annotations

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
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, derandomize=COUNT_FILE is None, suppress_health_check=list(HealthCheck)
)

_counts: dict[str, int] = {}


def counted(target: str) -> None:
    _counts[target] = _counts.get(target, 0) + 1
    if COUNT_FILE:
        Path(COUNT_FILE).write_text(json.dumps(_counts), encoding="utf-8")


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
    counted("conll")
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

    counted(fmt)
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
    counted("hironsan")
    sentence = expect_only_eiwa_errors(lambda: hironsan_sentence(rows, "fuzz"))
    if sentence is not None:
        assert all(sentence.text[t.start : t.end] == t.text for t in sentence.tokens)


# ----------------------------------------------------------------------------- configs and label maps


@FUZZ
@given(st.dictionaries(st.sampled_from(sorted(Config().to_dict())) | TEXT, JSON, max_size=6))
def test_config_values(values):
    counted("config")
    expect_only_eiwa_errors(lambda: Config.from_dict(values).validate())


@FUZZ
@given(TEXT | JSON.map(json.dumps), st.sampled_from([".toml", ".json"]))
def test_config_file(text, suffix):
    counted("config file")
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

    counted("experiment")
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


@FUZZ
@given(TEXT | JSON.map(json.dumps), st.booleans())
def test_label_map(spec, as_file):
    counted("label map")
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
    counted("model directory")
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
    counted(f"predict {lang}")
    for record, text in zip(taggers[lang].predict(texts), texts):
        assert record["text"] == text
        for entity in record["entities"]:
            assert 0 <= entity["start"] < entity["end"] <= len(text)
            assert text[entity["start"] : entity["end"]] == entity["text"]


@FUZZ
@given(st.lists(TEXT, min_size=1, max_size=4))
def test_japanese_tokenizing_keeps_offsets_into_the_input(texts):
    from eiwa.tokenize import tokenizer_for

    counted("tokenize ja")
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
