"""The annotation study's file, its units and its report (the runs themselves are the study's)."""

from __future__ import annotations

import json
import re

import pytest

from eiwa.errors import EiwaError
from eiwa.study.annotation import AnnotationSpec, is_annotation_study, units, write_annotation_report

SPEC = """
name = "mini"
out = "{out}"
path = "data.json"
seeds = [1, 2]
source = "conll03-en-shared"
label_map = "PER=人名"
[arms]
"scratch-random" = [100, 200]
"transfer-random+unlabelled" = [100]
"transfer-random" = [100]
"transfer-active" = [50, 100]
"transfer-active+unlabelled" = [100]
"zero-shot+unlabelled" = [0]
"""


def _spec(tmp_path, text=SPEC) -> AnnotationSpec:
    path = tmp_path / "mini.toml"
    path.write_text(text.format(out=tmp_path / "out"), encoding="utf-8")
    return AnnotationSpec.read(path)


def test_units_run_teachers_before_their_students_and_chains_apart(tmp_path):
    spec = _spec(tmp_path)
    found = units(spec)
    assert len(found) == 6  # per seed: the random chain, the active chain, the zero-shot arms
    random_chain = [(arm, size) for arm, size, seed in found[0]]
    assert random_chain.index(("transfer-random", 100)) < random_chain.index(("transfer-random+unlabelled", 100))
    active_chain = [(arm, size) for arm, size, _ in found[1]]
    assert active_chain == [("transfer-active", 50), ("transfer-active", 100), ("transfer-active+unlabelled", 100)]
    assert {seed for _, _, seed in found[3]} == {2}


@pytest.mark.parametrize(
    ("extra", "message"),
    [('modules_ = "shared"', "unknown key 'modules_'"), ('"scratch-randum" = [100]', "unknown arms scratch-randum")],
)
def test_a_misspelt_key_or_arm_is_refused_with_the_known_ones(tmp_path, extra, message):
    text = SPEC.replace("[arms]", f"{extra}\n[arms]") if extra.startswith("modules") else SPEC + extra + "\n"
    with pytest.raises(EiwaError, match=message):
        _spec(tmp_path, text)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("seeds = [1, -2]", "seeds must be a non-empty list of integers"),
        ('seeds = "1"', "seeds must be a non-empty list of integers"),
        ("source = 42", "source must be a non-empty string"),
        ('set = "threads=1"', 'set must be a list of "key=value" strings'),
        ("[zero_shot]\nmax_epoch = 3", "zero_shot must be a table of config settings"),
        ('[variants]\nrounds2 = "self_training_rounds=2"', "variants must be a table of variant"),
    ],
)
def test_a_misshapen_annotation_value_is_refused_in_one_line(tmp_path, line, message):
    head, arms = SPEC.split("[arms]", 1)
    key = line.split(" ", 1)[0]
    head = "\n".join(kept for kept in head.splitlines() if not kept.startswith(f"{key} ="))
    with pytest.raises(EiwaError, match=re.escape(message)):
        _spec(tmp_path, f"{head}\n{line}\n[arms]{arms}")


def test_an_arm_whose_sizes_are_not_integers_is_refused(tmp_path):
    with pytest.raises(EiwaError, match="arms must be a table of arm = \\[sizes\\]"):
        _spec(tmp_path, SPEC + '"zero-shot" = ["ten"]\n')


def test_is_annotation_study_tells_arms_from_grids(tmp_path):
    assert is_annotation_study(_write(tmp_path / "a.toml", SPEC))
    assert not is_annotation_study(_write(tmp_path / "g.toml", 'name = "g"\n[[grid]]\nname = "x"\n'))
    assert not is_annotation_study(tmp_path / "missing.toml")


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_the_report_compares_each_arm_with_scratch_at_n_and_at_2n(tmp_path):
    spec = _spec(tmp_path)
    spec.out.mkdir(parents=True)
    counts = {"scratch-random|100": [1, 2, 2], "scratch-random|200": [2, 2, 2], "transfer-random|100": [2, 2, 2]}
    with open(spec.out / "records.jsonl", "w", encoding="utf-8") as handle:
        for key, sentence in counts.items():
            arm, size = key.split("|")
            for seed in spec.seeds:
                f1 = 2 * sentence[0] / (sentence[1] + sentence[2])
                record = {
                    "key": f"{key}|{seed}",
                    "arm": arm,
                    "size": int(size),
                    "seed": seed,
                    "f1": f1,
                    "dev_f1": f1,
                    "seconds": 10.0,
                    "sentence_counts": [sentence] * 5,
                }
                handle.write(json.dumps(record) + "\n")
    report = write_annotation_report(spec).read_text(encoding="utf-8")
    assert "| transfer-random | 100 | 1.0000 ± 0.0000 | 1.0000 | +0.5000 |" in report
    assert "| transfer-random at 100 | 1.0000 at 200 | +0.0000 |" in report


def test_an_unlabelled_arm_may_name_a_variant_of_settings(tmp_path):
    text = (
        SPEC.replace("[arms]", '[variants]\nratio4 = ["unlabelled_ratio=4"]\n[arms]')
        + '"transfer-active+unlabelled-ratio4" = [100]\n'
    )
    spec = _spec(tmp_path, text)
    assert spec.variants["ratio4"] == ("unlabelled_ratio=4",) and "hard" in spec.variants
    with pytest.raises(EiwaError, match="variants hard, ratio4"):
        _spec(tmp_path, text + '"transfer-active+unlabelled-ratio5" = [100]\n')
