"""Training with unlabelled text: the CRF's soft targets, the teachers' mapping, hard pseudo-labels,
the epoch's mix, and rounds of self-training (with resume)."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from helpers import TINY_SET, assert_user_error, synthetic_sentences, synthetic_tagged, tiny_config, write_conll

from eiwa.cli import cli
from eiwa.doc import sentence_from_tags
from eiwa.errors import EiwaError
from eiwa.model import CRF
from eiwa.training.self_training import train_with_unlabelled
from eiwa.training.train import train
from eiwa.training.unlabelled import Teaching, hard_targets, teach


def quiet(_line):
    pass


def _random_crf(tags: int, seed: int = 0) -> CRF:
    torch.manual_seed(seed)
    crf = CRF(tags)
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.normal_()
    return crf


def test_marginals_equal_brute_force_sums_over_every_path():
    crf, tags = _random_crf(3), 3
    emissions = torch.randn(2, 4, tags)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.bool)
    marginals = crf.marginals(emissions, mask)
    for row in range(2):
        length = int(mask[row].sum())
        paths = list(itertools.product(range(tags), repeat=length))
        scores = torch.stack(
            [
                crf.score(emissions[row : row + 1, :length], torch.tensor([p]), mask[row : row + 1, :length])[0]
                for p in paths
            ]
        )
        probabilities = torch.softmax(scores, 0)
        expected = torch.zeros(length, tags)
        for p, probability in zip(paths, probabilities):
            expected[torch.arange(length), torch.tensor(p)] += probability
        assert torch.allclose(marginals[row, :length], expected, atol=1e-5)
        assert marginals[row, length:].abs().sum() == 0  # padding holds nothing


def test_soft_loss_of_one_hot_targets_is_the_negative_log_likelihood():
    crf = _random_crf(5, seed=1)
    emissions = torch.randn(3, 6, 5)
    mask = torch.tensor([[1] * 6, [1] * 4 + [0] * 2, [1] + [0] * 5], dtype=torch.bool)
    tags = torch.randint(0, 5, (3, 6)).masked_fill(~mask, 0)
    one_hot = torch.nn.functional.one_hot(tags, 5).float()
    nll = crf.log_partition(emissions, mask) - crf.score(emissions, tags, mask)
    assert torch.allclose(crf.soft_loss(emissions, one_hot, mask), nll, atol=1e-5)


def test_soft_loss_is_least_where_the_student_agrees_with_the_targets():
    """The gradient moves emissions towards the targets: a step lowers the loss."""
    crf = _random_crf(3, seed=2)
    emissions = torch.randn(1, 5, 3, requires_grad=True)
    mask = torch.ones(1, 5, dtype=torch.bool)
    targets = torch.softmax(torch.randn(1, 5, 3), -1)
    loss = crf.soft_loss(emissions, targets, mask).sum()
    loss.backward()
    with torch.no_grad():
        after = crf.soft_loss(emissions - 0.1 * emissions.grad, targets, mask).sum()
    assert after < loss


def _teaching(said, lengths=(2, 1)):
    sentences = [sentence_from_tags(["x"] * length, ["O"] * length, "en") for length in lengths]
    return Teaching(sentences, said)


def test_teachers_are_mapped_by_tag_name_and_averaged_and_unknown_tags_count_as_o():
    one = (
        ["O", "B-PER", "B-XYZ"],
        [np.array([[0.2, 0.5, 0.3], [1.0, 0.0, 0.0]], np.float32), np.array([[0.0, 1.0, 0.0]], np.float32)],
    )
    two = (["O", "B-PER"], [np.array([[0.6, 0.4], [0.0, 1.0]], np.float32), np.array([[1.0, 0.0]], np.float32)])
    teaching = _teaching([one, two])
    student = ["O", "B-LOC", "B-PER"]
    marginals = teaching.marginals_in(student)
    assert np.allclose(marginals[0], [[(0.5 + 0.6) / 2, 0.0, (0.5 + 0.4) / 2], [0.5, 0.0, 0.5]])
    assert np.allclose(marginals[1], [[0.5, 0.0, 0.5]])


def test_hard_targets_keep_only_sentences_confident_throughout():
    sure = np.array([[0.95, 0.05], [0.02, 0.98]], np.float32)
    unsure = np.array([[0.95, 0.05], [0.6, 0.4]], np.float32)
    empty = np.zeros((0, 2), np.float32)
    kept, targets = hard_targets([sure, unsure, empty], threshold=0.9)
    assert kept.tolist() == [0]
    assert targets[0].tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_a_teacher_that_knows_none_of_the_types_is_refused(tiny_trained):
    gold = [replace(s, entities=[replace(e, type="PRODUCT") for e in s.entities]) for s in synthetic_sentences(10)]
    with pytest.raises(EiwaError, match="knows none of the data's types"):
        train_with_unlabelled(tiny_config(), gold, gold, synthetic_sentences(5), [tiny_trained[0].tagger], log=quiet)


def test_training_with_a_teacher_learns_from_the_unlabelled_text(tiny_trained):
    """A student given 10 gold sentences and a trained teacher's word on 100 more finds more than the
    same student without them."""
    teacher = tiny_trained[0].tagger
    gold, dev = synthetic_sentences(10, seed=5), synthetic_sentences(30, seed=6)
    unlabelled = [replace(s, entities=[]) for s in synthetic_sentences(100, seed=7)]
    config = tiny_config(max_epochs=6, unlabelled_ratio=10.0, self_training_rounds=1)
    alone = train(config, gold, dev, progress=False, log=quiet, warn=quiet)
    taught = train_with_unlabelled(config, gold, dev, unlabelled, [teacher], progress=False, log=quiet, warn=quiet)
    assert taught.best_dev_f1 > alone.best_dev_f1
    (history,) = taught.tagger.meta["self_training"]
    assert history["round"] == 1 and history["sentences"] == 100 and history["entities"] > 0


def test_self_training_runs_its_rounds_and_records_them(tmp_path):
    gold, dev = synthetic_sentences(30, seed=5), synthetic_sentences(10, seed=6)
    unlabelled = [replace(s, entities=[]) for s in synthetic_sentences(20, seed=7)]
    config = tiny_config(self_training_rounds=2, pseudo_labels="hard", pseudo_label_threshold=0.5)
    result = train_with_unlabelled(
        config, gold, dev, unlabelled, out=tmp_path / "m", progress=False, log=quiet, warn=quiet
    )
    assert [r["round"] for r in result.tagger.meta["self_training"]] == [0, 1, 2]
    assert (tmp_path / "m" / "model.safetensors").exists()
    assert not (tmp_path / "m.rounds").exists()  # earlier rounds are gone once the last one ends


def test_self_training_without_gold_entities_or_teacher_is_refused():
    plain = [replace(s, entities=[]) for s in synthetic_sentences(5)]
    with pytest.raises(EiwaError, match="needs gold entities"):
        train_with_unlabelled(tiny_config(), plain, plain, plain, log=quiet)


def test_an_interrupted_round_resumes_from_the_round_it_was_in(tmp_path, monkeypatch):
    """Round 0 finished and saved; round 1 stopped after its first epoch: --resume reads round 0 and
    continues round 1 from its checkpoint, ending where an uninterrupted run ends."""
    from eiwa.training import self_training
    from eiwa.training import train as train_module

    gold, dev = synthetic_sentences(30, seed=5), synthetic_sentences(10, seed=6)
    unlabelled = [replace(s, entities=[]) for s in synthetic_sentences(20, seed=7)]
    config = tiny_config(max_epochs=3, self_training_rounds=1)
    straight = train_with_unlabelled(
        config, gold, dev, unlabelled, out=tmp_path / "a", progress=False, log=quiet, warn=quiet
    )

    real_after_epoch = train_module._ModelWriter.after_epoch
    calls = []

    def stop_in_round_one(self, improved):
        real_after_epoch(self, improved)
        calls.append(self.out)
        if self.out == tmp_path / "b" and len([c for c in calls if c == self.out]) == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(train_module._ModelWriter, "after_epoch", stop_in_round_one)
    with pytest.raises(KeyboardInterrupt):
        train_with_unlabelled(config, gold, dev, unlabelled, out=tmp_path / "b", progress=False, log=quiet, warn=quiet)
    assert (tmp_path / "b.rounds" / "round-0" / "meta.json").exists()
    monkeypatch.setattr(train_module._ModelWriter, "after_epoch", real_after_epoch)
    lines = []
    resumed = self_training.train_with_unlabelled(
        config, gold, dev, unlabelled, out=tmp_path / "b", resume=True, progress=False, log=lines.append, warn=quiet
    )
    assert any("round 0: done before" in line for line in lines)
    for name, tensor in straight.tagger.model.state_dict().items():
        assert torch.equal(tensor, resumed.tagger.model.state_dict()[name]), name


def test_cli_trains_with_unlabelled_text_and_records_the_rounds(runner, tmp_path, tiny_model_dir):
    train_file = write_conll(tmp_path / "train.conll", synthetic_tagged(30, seed=3))
    dev_file = write_conll(tmp_path / "dev.conll", synthetic_tagged(10, seed=4))
    texts = tmp_path / "domain.txt"
    texts.write_text("\n".join(" ".join(tokens) for tokens, _ in synthetic_tagged(20, seed=8)), encoding="utf-8")
    out = tmp_path / "m"
    args = ["train", "--lang", "en", "--train", str(train_file), "--dev", str(dev_file), "--out", str(out), *TINY_SET]
    result = runner.invoke(cli, [*args, "--unlabelled", str(texts), "--teacher", str(tiny_model_dir), "--quiet"])
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    assert meta["self_training"][0]["sentences"] == 20


def test_cli_refuses_a_teacher_without_unlabelled_text(runner, tmp_path, tiny_model_dir):
    train_file = write_conll(tmp_path / "train.conll", synthetic_tagged(10, seed=3))
    result = runner.invoke(
        cli,
        [
            "train",
            "--lang",
            "en",
            "--train",
            str(train_file),
            "--out",
            str(tmp_path / "m"),
            "--teacher",
            str(tiny_model_dir),
        ],
    )
    assert_user_error(result, "--unlabelled")


def test_teach_needs_a_teacher():
    with pytest.raises(EiwaError, match="needs a teacher"):
        teach([], synthetic_sentences(2))


def _mapped(examples, names):
    return [(tokens, [tag[:2] + names[tag[2:]] if tag != "O" else tag for tag in tags]) for tokens, tags in examples]


def test_transfer_without_gold_learns_from_what_the_source_says_of_the_text(runner, tmp_path, tiny_model_dir):
    """Zero-shot with unlabelled text: the source, mapped to the dev data's types, teaches a student
    that never trains on a gold sentence; the result tags those types."""
    names = {"PER": "PERSON", "LOC": "PLACE", "ORG": "GROUP"}
    dev_file = write_conll(tmp_path / "dev.conll", _mapped(synthetic_tagged(10, seed=4), names))
    texts = tmp_path / "domain.txt"
    texts.write_text("\n".join(" ".join(tokens) for tokens, _ in synthetic_tagged(40, seed=8)), encoding="utf-8")
    out = tmp_path / "zero"
    args = ["transfer", "--source", str(tiny_model_dir), "--lang", "en", "--dev", str(dev_file), "--out", str(out)]
    label_map = ["--label-map", "PER=PERSON,LOC=PLACE,ORG=GROUP", "--modules", "char,word,classifier"]
    result = runner.invoke(cli, [*args, *label_map, "--unlabelled", str(texts), "--set", "max_epochs=2", "--quiet"])
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    assert sorted(meta["entity_types"]) == ["GROUP", "PERSON", "PLACE"]
    assert meta["self_training"][0] == {**meta["self_training"][0], "round": 1, "sentences": 40}


@pytest.mark.parametrize(
    ("given", "message"),
    [(["--label-map", "PER=PERSON"], "--dev"), (["--dev", "DEV"], "explicit --label-map")],
)
def test_transfer_without_gold_needs_dev_data_and_a_label_map(runner, tmp_path, tiny_model_dir, given, message):
    dev_file = write_conll(
        tmp_path / "dev.conll", _mapped(synthetic_tagged(5, seed=4), {"PER": "PERSON", "LOC": "PLACE", "ORG": "GROUP"})
    )
    texts = tmp_path / "domain.txt"
    texts.write_text("John lives in Paris .\n", encoding="utf-8")
    given = [str(dev_file) if item == "DEV" else item for item in given]
    args = [
        "transfer",
        "--source",
        str(tiny_model_dir),
        "--lang",
        "en",
        "--out",
        str(tmp_path / "z"),
        "--unlabelled",
        str(texts),
    ]
    assert_user_error(runner.invoke(cli, [*args, *given]), message)
