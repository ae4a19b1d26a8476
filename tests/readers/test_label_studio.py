"""Label Studio exports read as data: a task nobody annotated is left out and counted (--allow-empty
keeps it), and every error names the task (its place, its id, and its line where that tells)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import assert_user_error

from eiwa.errors import DataError
from eiwa.readers import read, read_gold


def task(task_id: int, text: str, *results, cancelled: bool = False) -> dict:
    annotations = [{"was_cancelled": cancelled, "result": list(results)}] if results or cancelled else []
    return {"id": task_id, "data": {"text": text}, "annotations": annotations}


def span(start: int, end: int | None, label: str) -> dict:
    value = {"start": start, "labels": [label]} | ({} if end is None else {"end": end})
    return {"type": "labels", "value": value}


ANNOTATED = task(1, "田中さんは東京に住む。", span(0, 2, "人名"))
UNANNOTATED = [task(2, "何もない。"), task(3, "取り消し。", cancelled=True)]


def export(tmp_path, tasks, indent=None):
    path = tmp_path / "ls.json"
    path.write_text(json.dumps(tasks, ensure_ascii=False, indent=indent), encoding="utf-8")
    return path


def test_tasks_nobody_annotated_are_left_out_and_counted(tmp_path):
    path = export(tmp_path, [ANNOTATED, *UNANNOTATED])
    warnings = []
    corpus = read(path, "label-studio", "ja", warn=warnings.append)
    assert [s.text for s in corpus.sentences] == ["田中さんは東京に住む。"]
    assert warnings == [
        f"{path}: left out 2 task(s) without an annotation or with only cancelled ones "
        "(--allow-empty keeps them, as texts without entities)"
    ]


def test_allow_empty_keeps_them_as_texts_without_entities(tmp_path):
    path = export(tmp_path, [ANNOTATED, *UNANNOTATED])
    corpus = read(path, "label-studio", "ja", warn=pytest.fail, allow_empty=True)
    assert [len(s.entities) for s in corpus.sentences] == [1, 0, 0]


def test_an_export_of_only_unannotated_tasks_says_so(tmp_path):
    path = export(tmp_path, UNANNOTATED)
    with pytest.raises(DataError, match="no annotated tasks found"):
        read(path, "label-studio", "ja", warn=lambda _: None)


def test_predict_reads_every_task_annotated_or_not(tmp_path):
    from eiwa.serving.predict import read_items

    path = export(tmp_path, [ANNOTATED, *UNANNOTATED])
    assert len(list(read_items(str(path), "label-studio", "ja"))) == 3


def test_a_span_without_end_names_the_task_in_a_one_line_export(tmp_path):
    path = export(tmp_path, [ANNOTATED, task(17, "田中", span(0, None, "人名"))])
    with pytest.raises(DataError) as caught:
        read(path, "label-studio", "ja")
    assert str(caught.value).startswith(f"{path}: task 2 (id 17): entity needs integer start and end")


def test_a_pretty_printed_export_names_the_line_the_task_begins_on(tmp_path):
    tasks = [ANNOTATED, task(17, "田中", span(0, 9, "人名"))]
    path = export(tmp_path, tasks, indent=2)
    starts = [number for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if line == "  {"]
    begins = starts[1]
    with pytest.raises(DataError, match=rf"ls\.json:{begins}: task 2 \(id 17\): span \[0, 9\) out of range"):
        read(path, "label-studio", "ja")


def test_no_gold_entities_in_label_studio_data_does_not_point_at_columns(tmp_path):
    path = export(tmp_path, [task(1, "何もない。", {"type": "choices", "value": {"choices": ["ok"]}})])
    with pytest.raises(Exception, match="no gold entities") as caught:
        read_gold(path, "label-studio", "ja")
    assert "--columns" not in str(caught.value)


def test_evaluate_takes_allow_empty(runner, tmp_path):
    from eiwa.cli import cli

    model = Path(__file__).parent.parent / "data" / "tiny-ja-v1"
    path = export(tmp_path, UNANNOTATED)
    result = runner.invoke(cli, ["evaluate", str(model), "--data", str(path), "--allow-empty"])
    assert_user_error(result, "no gold entities")
    assert "--columns" not in result.stderr


def test_training_data_reads_allow_empty_as_the_commands_pass_it(tmp_path):
    from eiwa.training.run import Data

    path = export(tmp_path, [ANNOTATED, *UNANNOTATED])
    for allow_empty, count in ((False, 1), (True, 3)):
        data = Data(path, format="label-studio", allow_empty=allow_empty)
        assert len(data.read(path, "ja", split_tokens=True).sentences) == count
