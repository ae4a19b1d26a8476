"""Label meanings: the user's labels file (checked, each problem one line naming file and line), the
readers' own corpora, and known corpora recognised by their exact label set."""

from __future__ import annotations

import pytest

from eiwa.errors import DataError
from eiwa.readers import label_meanings
from eiwa.readers.hironsan import LABELS as HIRONSAN
from eiwa.readers.labels import CONLL2003, STOCKMARK, documented_meanings, read_label_meanings

TYPES = ["PERSON", "COMPANY", "人名"]


def labels_file(tmp_path, text):
    path = tmp_path / "labels.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_labels_file_gives_one_meaning_per_type(tmp_path):
    path = labels_file(tmp_path, '# my types\nPERSON = "a person"\n"人名" = """a name,\n  Japanese"""\n')
    assert read_label_meanings(path, TYPES) == {"PERSON": "a person", "人名": "a name, Japanese"}


@pytest.mark.parametrize(
    "text, where, fragment",
    [
        ('PERSON = "a person"\nPLACE = "a place"\n', ":2:", "PLACE is not a label of the training data"),
        ('PERSON = "a person"\nCOMPANY = 3\n', ":2:", 'COMPANY: the meaning must be a non-empty string (TYPE = "...")'),
        ('PERSON = "a person"\n\n[COMPANY]\nmeaning = "a firm"\n', ":3:", "COMPANY: the meaning must be"),
        ('PERSON = "  "\n', ":1:", "PERSON: the meaning must be a non-empty string"),
        ('PERSON = "a person"\nCOMPANY "a firm"\n', ":2:", "not valid TOML"),
        ("# nothing yet\n", ": ", "names no label"),
    ],
)
def test_a_wrong_labels_file_is_one_line_naming_file_and_line(tmp_path, text, where, fragment):
    path = labels_file(tmp_path, text)
    with pytest.raises(DataError) as raised:
        read_label_meanings(path, TYPES)
    message = str(raised.value)
    assert message.startswith(f"{path}{where}") and fragment in message and "\n" not in message


def test_a_missing_labels_file_and_a_wrong_mapping_are_refused(tmp_path):
    with pytest.raises(DataError, match="no such labels file"):
        read_label_meanings(tmp_path / "none.toml", TYPES)
    with pytest.raises(DataError, match="PLACE is not a label"):
        read_label_meanings({"PLACE": "a place"}, TYPES)
    assert read_label_meanings({"PERSON": "a person"}, TYPES) == {"PERSON": "a person"}


def test_known_corpora_are_recognised_only_by_their_exact_label_set():
    assert documented_meanings(["LOC", "MISC", "ORG", "PER"]) == CONLL2003
    assert documented_meanings(list(STOCKMARK)) == STOCKMARK
    assert documented_meanings(["PER", "LOC"]) == {}  # a subset: PER might be a percentage
    assert label_meanings("conll", sorted(HIRONSAN))["PER"].startswith("percent")  # Hironsan's set, as CoNLL


def test_the_hironsan_reader_says_what_its_labels_mean_and_a_file_overrides_it(tmp_path):
    assert label_meanings("hironsan", ["PER", "PSN"]) == {"PER": HIRONSAN["PER"], "PSN": HIRONSAN["PSN"]}
    path = labels_file(tmp_path, 'PSN = "someone"\n')
    assert label_meanings("hironsan", ["PER", "PSN"], path) == {"PER": HIRONSAN["PER"], "PSN": "someone"}
    assert label_meanings("conll", ["A", "B"]) == {}
