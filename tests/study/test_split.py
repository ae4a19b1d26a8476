"""`eiwa split` and `split_file`: every format with gold, sizes as counts or fractions, shuffling, and
records copied as they stand, so that each part reads back as the same sentences."""

from __future__ import annotations

import json

import pytest
from helpers import assert_user_error

from eiwa.cli import cli
from eiwa.errors import DataError, EiwaError
from eiwa.readers import READERS, read
from eiwa.study.split import split_file, splittable


def texts(corpus) -> list[str]:
    return [s.text for s in corpus.sentences]


def spans_records(count: int) -> list[dict]:
    return [{"text": f"Mary {i} met Tom", "entities": [{"start": 0, "end": 4, "type": "PER"}]} for i in range(count)]


def test_every_format_with_gold_is_splittable():
    assert set(splittable()) == set(READERS)


def test_conll_parts_keep_each_block_byte_for_byte_by_the_protocol_rule(tmp_path):
    path = tmp_path / "data.conll"
    blocks = [f"w{i}\tO\r\nx{i}  B-PER\r\n" for i in range(20)]
    path.write_bytes(
        ("-DOCSTART- O\r\n\r\n" + "\r\n".join(blocks[:10]) + " \t\r\n" + "\r\n".join(blocks[10:])).encode()
    )
    result = split_file(path, tmp_path / "s", "conll")
    assert result.counts == {"train": 16, "dev": 2, "test": 2} and result.read_as == "--format conll"
    assert (tmp_path / "s" / "dev.conll").read_bytes() == (blocks[8] + "\r\n" + blocks[18]).encode()
    assert texts(read(tmp_path / "s" / "test.conll", "conll")) == ["w9 x9", "w19 x19"]


def test_json_lines_records_are_copied_as_they_stand(tmp_path):
    lines = [json.dumps(r, indent=None, separators=(" ,", " : ")) for r in spans_records(10)]
    path = tmp_path / "data.jsonl"
    path.write_text("\r\n".join(lines) + "\r\n\r\n", encoding="utf-8")
    result = split_file(path, tmp_path / "s", "spans", dev=2, test=3)
    assert result.counts == {"train": 5, "dev": 2, "test": 3}
    # Without --shuffle the file's order is kept: the last records are test, those before them dev.
    assert (tmp_path / "s" / "test.jsonl").read_bytes() == "".join(line + "\r\n" for line in lines[7:]).encode()
    assert texts(read(tmp_path / "s" / "dev.jsonl", "spans")) == ["Mary 5 met Tom", "Mary 6 met Tom"]


def test_a_pretty_json_array_becomes_json_lines_that_read_back_the_same(tmp_path):
    records = spans_records(10)
    records[3]["text"] = "Mary\u2028met Tom"  # a line break to str.splitlines, raw inside a JSON string
    path = tmp_path / "data.json"
    path.write_text(json.dumps(records, indent=4, ensure_ascii=False), encoding="utf-8")
    split_file(path, tmp_path / "s", "spans", dev=0.3, test=0.2, shuffle=True, seed=5)
    parts = [read(tmp_path / "s" / f"{name}.jsonl", "spans") for name in ("train", "dev", "test")]
    assert [len(p.sentences) for p in parts] == [5, 3, 2]
    assert sorted(t for p in parts for t in texts(p)) == sorted(r["text"] for r in records)


def test_shuffle_follows_the_seed(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps({"text": f"Tom {i}", "label": [[0, 3, "PER"]]}) + "\n" for i in range(30)))

    def test_part(seed: int) -> str:
        split_file(path, tmp_path / str(seed), "doccano", test=10, shuffle=True, seed=seed)
        return (tmp_path / str(seed) / "test.jsonl").read_text(encoding="utf-8")

    assert test_part(1) == test_part(1) != test_part(2)
    assert not (tmp_path / "1" / "dev.jsonl").exists()  # --test alone: no dev part


def test_label_studio_tasks_stay_a_json_list_of_the_same_tasks(tmp_path):
    tasks = [
        {"id": i, "data": {"text": f"Tom {i}"}, "annotations": [{"result": [spans(0, 3)]}], "extra": i}
        for i in range(10)
    ]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks, indent=2), encoding="utf-8")
    split_file(path, tmp_path / "s", "label-studio")
    test = json.loads((tmp_path / "s" / "test.json").read_text(encoding="utf-8"))
    assert test == [tasks[9]]
    assert json.dumps(tasks[9], indent=2).replace("\n", "\n  ") in (tmp_path / "s" / "test.json").read_text("utf-8")
    assert texts(read(tmp_path / "s" / "train.json", "label-studio")) == [f"Tom {i}" for i in range(8)]


def spans(start: int, end: int) -> dict:
    return {"type": "labels", "value": {"start": start, "end": end, "labels": ["PER"]}}


def test_the_hironsan_corpus_is_written_as_conll_columns_that_read_back_the_same(tmp_path):
    result = split_file(None, tmp_path / "s", "hironsan", test=0.2, shuffle=True, seed=3)
    assert result.counts == {"train": 400, "dev": 0, "test": 100}
    assert result.read_as == "--format conll --columns token,pos,reading,tag"
    whole = {s.text: s for s in read(None, "hironsan", "ja").sentences}
    back = read(tmp_path / "s" / "test.conll", "conll", "ja", columns=["token", "pos", "reading", "tag"])
    for sentence in back.sentences:
        original = whole[sentence.text]
        assert [t.text for t in sentence.tokens] == [t.text for t in original.tokens]
        assert [t.reading for t in sentence.tokens] == [t.reading for t in original.tokens]
        assert sentence.entities == original.entities


def test_a_parts_file_is_split_into_one_parts_file_per_split(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the paths in a parts file are relative to where the command runs
    (tmp_path / "a.conll").write_text("".join(f"w{i} B-PER\n\n" for i in range(6)), encoding="utf-8")
    (tmp_path / "b.jsonl").write_text("".join(json.dumps(r) + "\n" for r in spans_records(4)), encoding="utf-8")
    (tmp_path / "all.toml").write_text(
        '[[part]]\npath = "a.conll"\npos = "missing"\n[[part]]\nformat = "spans"\npath = "b.jsonl"\n',
        encoding="utf-8",
    )
    result = split_file("all.toml", "s", "parts", dev=2, test=3)
    assert result.counts == {"train": 5, "dev": 2, "test": 3} and result.read_as == "--format parts"
    assert (tmp_path / "s" / "test.toml").read_text(
        encoding="utf-8"
    ) == '[[part]]\npath = "s/test-2.jsonl"\nformat = "spans"\n'
    train = read("s/train.toml", "parts")
    assert texts(train) == [f"w{i}" for i in range(5)]
    assert texts(read("s/dev.toml", "parts")) == ["w5", "Mary 0 met Tom"]


@pytest.mark.parametrize(
    "sizes, message",
    [
        ({"dev": 11}, "--dev 11: the data has 10 records"),
        ({"dev": 0.5, "test": 0.5}, "sum to 1 or more"),
        ({"test": 1.5}, "--test 1.5: a fraction must be between 0 and 1"),
        ({"dev": 0.01}, "--dev 0.01 of 10 records is no record"),
        ({"dev": 5, "test": 5}, "take 10 of the data's 10 records: nothing is left to train on"),
        ({"test": -1}, "--test -1: a count cannot be negative"),
    ],
)
def test_sizes_that_do_not_fit_are_one_clear_error(tmp_path, sizes, message):
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in spans_records(10)), encoding="utf-8")
    with pytest.raises(EiwaError, match=message.replace("(", "\\(")):
        split_file(path, tmp_path / "s", "spans", **sizes)
    assert not (tmp_path / "s").exists()


def test_a_bad_file_fails_with_its_line_before_anything_is_written(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text('{"text": "Tom", "label": [[0, 3, "PER"]]}\n{"text": "Tom", "label": [[0, 9, "PER"]]}\n')
    with pytest.raises(DataError, match="data.jsonl:2: span \\[0, 9\\) out of range"):
        split_file(path, tmp_path / "s", "doccano")
    assert not (tmp_path / "s").exists()


def test_the_command_takes_counts_and_fractions(runner, tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in spans_records(20)), encoding="utf-8")
    out = tmp_path / "s"
    args = ["split", str(path), "--dev", "0.1", "--test", "4", "--shuffle", "--seed", "2", "--out-dir", str(out)]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "train 14, dev 2, test 4 records written" in result.stderr and "--format spans" in result.stderr
    result = runner.invoke(cli, ["split", str(path), "--dev", "ten", "--out-dir", str(out)])
    assert result.exit_code == 2 and "expected a count (100) or a fraction (0.1), got 'ten'" in result.stderr
    assert_user_error(
        runner.invoke(cli, ["split", str(path), "--test", "0.95", "--dev", "0.05", "--out-dir", str(out)])
    )
