"""What `eiwa predict` writes, eiwa's own readers read back (serving/writers.py): the same texts and
entities, one record per input, empty and blank texts included; entity types with whitespace, which
no CoNLL tag can hold, are refused by every reader and by the CoNLL writer. The HTML page holds no
character HTML forbids, one stand-in for each, and `--output` writes through a symbolic link."""

from __future__ import annotations

import bisect
import html
import json
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eiwa.cli import cli
from eiwa.errors import DataError, EiwaError
from eiwa.readers.conll import read_conll
from eiwa.readers.spans import read_doccano_records, read_label_studio_records, read_span_records
from eiwa.serving.results import from_json
from eiwa.serving.writers import FORBIDDEN_IN_HTML, WRITERS, TokenOffsets
from eiwa.tagger import Tagger
from eiwa.tokenize import tokenizer_for

TYPES = ["PER", "組織名", "B-I"]
# Spaces of every kind, controls, a lone surrogate, Japanese: what a user's texts may hold.
CHARACTERS = 'ab東京 。\n\t"\\\x00\x1c\x85\u2028\u3000\ud800'
TOKENIZER = tokenizer_for("en")


@st.composite
def tagged_texts(draw):
    """A record as `eiwa predict` makes it (text, entities on token boundaries inside one of its one
    or two sentences) and its tokens' offsets; empty and blank texts come often."""
    text = draw(st.one_of(st.sampled_from(["", " ", "\n\t"]), st.text(st.sampled_from(CHARACTERS), max_size=16)))
    offsets = np.asarray(TOKENIZER.sentence(text, [], "drawn").offsets, np.int64).reshape(-1, 2)
    starts, ends = offsets[:, 0], offsets[:, 1]
    count = len(starts)
    split = draw(st.integers(1, count - 1)) if count > 1 and draw(st.booleans()) else count
    cuts = sorted(draw(st.sets(st.integers(0, count), max_size=6)))
    spans = [(a, b) for a, b in zip(cuts[::2], cuts[1::2]) if a < b and not a < split < b]
    entities = [
        {"start": int(starts[a]), "end": int(ends[b - 1]), "type": draw(st.sampled_from(TYPES)), "confidence": 0.5}
        for a, b in spans
    ]
    for entity in entities:
        entity["text"] = text[entity["start"] : entity["end"]]
    bounds = [(0, split), (split, count)] if count else []
    sentences = [{"start": int(starts[a]), "end": int(ends[b - 1])} for a, b in bounds if a < b]
    record = {"text": text, "entities": entities, "sentences": sentences}
    return record, TokenOffsets(starts, ends), [(a, b, e["type"]) for (a, b), e in zip(spans, entities)]


def write(path, name, batch) -> None:
    """The batch as `eiwa predict --output-format NAME --output PATH` writes it (persist.atomic_text's
    encoding, without its fsync)."""
    with open(path, "w", encoding="utf-8", errors="backslashreplace", newline="\n") as stream:
        writer = WRITERS[name](stream, TYPES)
        for record, tokens, _ in batch:
            writer.write(record, tokens)
        writer.close()


def accepted(tasks: list[dict]) -> list[dict]:
    """Label Studio tasks as exported once an annotator accepts the model's predictions."""
    return [{"data": t["data"], "annotations": [{"result": t["predictions"][0]["result"]}]} for t in tasks]


def conll_documents(path) -> list[tuple[list[str], list[tuple[int, int, str]]]]:
    """Each record of a CoNLL output as eiwa's reader reads it: the sentences after each -DOCSTART-
    marker joined into the record's tokens and entities (token offsets, end exclusive)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    markers = [number for number, line in enumerate(lines, start=1) if line.startswith("-DOCSTART-")]
    documents = [([], []) for _ in markers]
    try:
        sentences = read_conll(path).sentences
    except DataError as error:  # every text blank: markers only
        assert "no sentences found" in str(error)
        sentences = []
    for sentence in sentences:
        words, entities = documents[bisect.bisect(markers, int(sentence.origin.rsplit(":", 1)[1])) - 1]
        entities += [(a + len(words), b + len(words), kind) for a, b, kind in sentence.token_spans()]
        words += sentence.words
    return documents


def written_words(record, tokens) -> list[str]:
    """The tokens as a UTF-8 file holds them (a lone surrogate backslash-escaped, as predict writes it)."""
    words = [record["text"][a:b] for a, b in zip(tokens.starts.tolist(), tokens.ends.tolist())]
    return [word.encode("utf-8", "backslashreplace").decode("utf-8") for word in words]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(tagged_texts(), min_size=1, max_size=4))
def test_every_writer_reads_back_as_the_same_texts_and_entities(tmp_path, batch):
    expected = [(r["text"], [(e["start"], e["end"], e["type"]) for e in r["entities"]]) for r, _, _ in batch]

    def texts_and_spans(records):
        return [(text, [(s.start, s.end, s.type) for s in spans]) for text, spans, _ in records]

    write(tmp_path / "out.jsonl", "jsonl", batch)
    assert texts_and_spans(read_span_records(tmp_path / "out.jsonl")) == expected
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    assert [from_json(line) for line in lines] == [record for record, _, _ in batch]
    write(tmp_path / "out.doccano", "doccano", batch)
    assert texts_and_spans(read_doccano_records(tmp_path / "out.doccano", warn=print)) == expected
    write(tmp_path / "out.json", "label-studio", batch)
    tasks = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    (tmp_path / "out.json").write_text(json.dumps(accepted(tasks)), encoding="utf-8")
    assert texts_and_spans(read_label_studio_records(tmp_path / "out.json", warn=print)) == expected
    write(tmp_path / "out.conll", "conll", batch)
    assert conll_documents(tmp_path / "out.conll") == [
        (written_words(record, tokens), spans) for record, tokens, spans in batch
    ]


def test_conll_output_has_a_document_per_input_even_empty(runner, tiny_model_dir, tmp_path):
    texts = ["John Smith lives in Paris.", "", " ", "Mary works in Tokyo. Tom too.", "\t", "Nothing.", "", "Osaka"]
    out = tmp_path / "out.conll"
    command = ["predict", str(tiny_model_dir), *texts, "--output-format", "conll", "--output", str(out)]
    result = runner.invoke(cli, command)
    assert result.exit_code == 0, result.output
    documents = conll_documents(out)
    assert [words for words, _ in documents] == [TOKENIZER.sentence(text, [], "input").words for text in texts]
    found = [[" ".join(words[a:b]) for a, b, _ in spans] for words, spans in documents]
    assert found == [[e["text"] for e in r["entities"]] for r in Tagger.load(tiny_model_dir).predict(texts)]


@pytest.mark.parametrize("kind", ["PERSON NAME", "人\u3000名", "TAB\tBED"])
def test_types_with_whitespace_are_refused_by_every_reader(tmp_path, kind):
    text = "Ada Lovelace"
    files = {
        "spans.jsonl": json.dumps({"text": text, "entities": [{"start": 0, "end": 3, "type": kind}]}),
        "doccano.jsonl": json.dumps({"text": text, "label": [[0, 3, kind]]}),
        "studio.json": json.dumps(
            [
                {
                    "data": {"text": text},
                    "annotations": [{"result": [{"value": {"start": 0, "end": 3, "labels": [kind]}}]}],
                }
            ]
        ),
    }
    readers = [read_span_records, read_doccano_records, read_label_studio_records]
    for (name, content), read in zip(files.items(), readers):
        (tmp_path / name).write_text(content + "\n", encoding="utf-8")
        with pytest.raises(DataError, match="holds whitespace") as caught:
            read(tmp_path / name)
        assert str(caught.value).count("\n") == 0 and f"{name}:1" in str(caught.value)
    if " " not in kind and "\t" not in kind:  # ASCII spaces and tabs separate CoNLL columns
        (tmp_path / "data.conll").write_text(f"Ada\tO\nLovelace\tB-{kind}\n", encoding="utf-8")
        with pytest.raises(DataError, match="data.conll:2: .*holds whitespace"):
            read_conll(tmp_path / "data.conll")
    with pytest.raises(EiwaError, match="--output-format conll: .*holds whitespace"):
        WRITERS["conll"](None, ["PER", kind])


def test_html_holds_no_character_html_forbids_and_keeps_offsets(runner, tiny_model_dir, tmp_path):
    text = "John\x00 Smith\ud800 lives in \x7fParis\x85 \ufffe\x1b\U0010ffff. Mary\tis in Tokyo\r\n."
    page = tmp_path / "out.html"
    result = runner.invoke(
        cli, ["predict", str(tiny_model_dir), text, "--output-format", "html", "--output", str(page)]
    )
    assert result.exit_code == 0, result.output
    content = page.read_bytes().decode("utf-8")
    assert not FORBIDDEN_IN_HTML.search(content) and "\\ud800" not in content and "\r" not in content
    paragraph = content[content.index('<p class="text">') : content.index("</p>")]
    shown = html.unescape(re.sub(r'<span class="label">.*?</span>|<[^>]+>', "", paragraph))
    stand_ins = "John\u2400 Smith\ufffd lives in \u2421Paris\ufffd \ufffd\u241b\ufffd. Mary\tis in Tokyo\r\n."
    assert shown == stand_ins and len(shown) == len(text)
    [record] = Tagger.load(tiny_model_dir).predict(text)
    assert record["entities"]
    marked = [html.unescape(m) for m in re.findall(r'<mark class="entity"[^>]*>([^<]*)<span', paragraph)]
    assert marked == [shown[e["start"] : e["end"]] for e in record["entities"]]


def test_output_onto_a_symbolic_link_writes_the_file_it_names(runner, tiny_model_dir, tmp_path):
    (tmp_path / "runs").mkdir()
    target, link = tmp_path / "runs" / "tagged.jsonl", tmp_path / "latest.jsonl"
    target.write_text("old\n", encoding="utf-8")
    link.symlink_to(target)
    result = runner.invoke(cli, ["predict", str(tiny_model_dir), "John lives in Paris", "--output", str(link)])
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and link.resolve() == target
    assert json.loads(target.read_text(encoding="utf-8"))["text"] == "John lives in Paris"
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["tagged.jsonl"]
    loop = tmp_path / "loop.jsonl"
    loop.symlink_to(loop)
    result = runner.invoke(cli, ["predict", str(tiny_model_dir), "John", "--output", str(loop)])
    assert result.exit_code != 0 and "a symbolic link loop" in result.output.splitlines()[-1]
