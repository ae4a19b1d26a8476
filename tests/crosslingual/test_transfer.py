"""Tests for transfer (src/eiwa/crosslingual/, and build.py with a source): module parsing, label maps,
what `build()` copies from a source where, fine-tuning modes, zero-shot tagging, `--label-map auto`,
and the `transfer` / `cv --source` commands.

Most structural tests use a *perturbed* untrained source (cheap, and every weight of it, the CRF
included, differs from a fresh initialisation, so equality with the source proves a copy); tests
that need a source that can actually tag use the session's tiny trained English model.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
import torch
from click.testing import CliRunner
from helpers import TINY_SET, synthetic_sentences, synthetic_tagged, tiny_config, write_conll

import eiwa.crosslingual.label_map as label_map_module
from eiwa.build import Start, TransferReport, build
from eiwa.cli import cli
from eiwa.crosslingual.label_map import (
    MIN_ENTITIES,
    NOTHING,
    _decide,
    _evidence,
    association,
    parse_label_map,
    propose_label_map,
    resolve_label_map,
)
from eiwa.crosslingual.starts import ARCHITECTURE, DEFAULT_MODULES, parse_modules, parse_start_modules
from eiwa.crosslingual.weights import tags_from_scheme
from eiwa.doc import sentence_from_tags
from eiwa.errors import EiwaError
from eiwa.features.encoder import Encoder
from eiwa.features.vocab import bigrams
from eiwa.readers.hironsan import read_hironsan
from eiwa.tagger import Tagger
from eiwa.training.optim import make_optimizer
from eiwa.training.train import train

# Spelled out here rather than imported, so that the tests do not inherit a mistake in the module's tables.
EMBEDDINGS = {"char.embedding.weight": "bigrams", "word.embedding.weight": "words"}


def vocab_of(encoder, name):
    """The word or bigram vocabulary of an encoder."""
    return encoder.features["word" if name == "words" else "char"].vocabs[name]


TAG_ROWS = {  # tag-indexed parameters -> which dimensions run over tags
    "classifier.output.weight": (0,),
    "classifier.output.bias": (0,),
    "classifier.crf.start": (0,),
    "classifier.crf.end": (0,),
    "classifier.crf.transitions": (0, 1),
}
# ORG maps to two target types; DAT and TIM (in the Hironsan sentences used) stay unmapped.
LABEL_MAP = {"PER": ["PSN"], "LOC": ["LOC"], "ORG": ["ORG", "ART"]}


# ----------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def source() -> Tagger:
    """An English source with I-PER among its tags (one three-token person) and every weight perturbed."""
    sentences = synthetic_sentences(40, seed=3) + [
        sentence_from_tags(["Mary", "Anne", "Smith", "left", "."], ["B-PER", "I-PER", "I-PER", "O", "O"], "en")
    ]
    tagger = build(tiny_config(seed=7), sentences).tagger
    generator = torch.Generator().manual_seed(123)
    with torch.no_grad():
        for parameter in tagger.model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator))
    tagger.origin = "perturbed-source"
    return tagger


@pytest.fixture(scope="module")
def trained_source(tiny_model_dir) -> Tagger:
    return Tagger.load(tiny_model_dir)


@pytest.fixture(scope="module")
def ja_sentences():
    # The first 40 Hironsan sentences hold LOC, ORG, ART, PSN, DAT and TIM entities.
    sentences = read_hironsan().sentences[:40]
    assert {"LOC", "ORG", "ART", "PSN", "DAT"} <= {e.type for s in sentences for e in s.entities}
    return sentences


def ja_config(**overrides):
    return tiny_config(**{"lang": "ja", "char_input": "romaji", "seed": 3, "threads": 1, **overrides})


def fresh_weights(tagger: Tagger) -> dict[str, torch.Tensor]:
    """What a model with this tagger's config and vocabularies is initialised to under its seed."""
    torch.manual_seed(tagger.config.seed)
    return Tagger.create(tagger.config, tagger.encoder).model.state_dict()


def snapshot(tagger: Tagger) -> dict[str, torch.Tensor]:
    return {name: value.clone() for name, value in tagger.model.state_dict().items()}


def tag_pairs(source: Tagger, target: Tagger, label_map) -> list[tuple[int, int]]:
    """(target tag id, source tag id) for every target tag that should start from a source row."""
    source_of = {t: s for s, targets in label_map.items() for t in targets}
    pairs = []
    for tag, index in target.encoder.tags.ids.items():
        if tag == "O":
            wanted = "O"
        else:
            prefix, kind = tag.split("-", 1)
            wanted = f"{prefix}-{source_of[kind]}" if kind in source_of else None
        if wanted in source.encoder.tags.ids:
            pairs.append((index, source.encoder.tags.ids[wanted]))
    return pairs


def check_tag_table(name, value, source_value, fresh_value, pairs):
    """Rows (both dims of the transitions) of mapped tags come from the source; every other entry is fresh."""
    t = torch.tensor([p[0] for p in pairs])
    s = torch.tensor([p[1] for p in pairs])
    expected = fresh_value.clone()
    if TAG_ROWS[name] == (0, 1):
        expected[t.unsqueeze(1), t.unsqueeze(0)] = source_value[s.unsqueeze(1), s.unsqueeze(0)]
    else:
        expected[t] = source_value[s]
    assert torch.equal(value, expected), name


# ----------------------------------------------------------------------------- parse_modules


@pytest.mark.parametrize(
    "text, expected",
    [
        ("char", ["char"]),
        ("classifier,char", ["char", "classifier"]),  # order normalised to char, word, classifier
        (" word , char ", ["char", "word"]),
        ("classifier,word,char", ["char", "word", "classifier"]),
        ("char,char", ["char"]),
        ("none", []),
        (" none ", []),
    ],
)
def test_parse_modules(text, expected):
    assert parse_modules(text) == expected


@pytest.mark.parametrize("text", ["", " , ", "chars", "char,lstm", "none,char", "Char", "shared,char"])
def test_parse_modules_rejects_unknown_or_empty(text):
    with pytest.raises(EiwaError, match="--modules: expected shared .*, auto .*, none, or a comma-separated"):
        parse_modules(text)


@pytest.mark.parametrize(
    "text, expected",
    [(None, "shared"), ("shared", "shared"), (" auto ", "auto"), ("none", []), ("word,char", ["char", "word"])],
)
def test_parse_start_modules_knows_shared_and_auto_and_defaults_to_shared(text, expected):
    assert parse_start_modules(text) == expected
    assert DEFAULT_MODULES == "shared"


# ----------------------------------------------------------------------------- parse_label_map

SOURCE_TYPES = ["LOC", "MISC", "ORG", "PER"]
TARGET_TYPES = ["ART", "LOC", "ORG", "PSN"]


def test_parse_label_map_inline():
    assert parse_label_map("PER=PSN,LOC=LOC", SOURCE_TYPES, TARGET_TYPES) == {"PER": ["PSN"], "LOC": ["LOC"]}
    # Spaces around items and a trailing comma are harmless.
    assert parse_label_map(" PER = PSN , ", SOURCE_TYPES, TARGET_TYPES) == {"PER": ["PSN"]}


def test_parse_label_map_one_source_to_several_targets():
    label_map = parse_label_map("ORG=ORG,ORG=ART,ORG=ORG,MISC=ART", SOURCE_TYPES, TARGET_TYPES)
    assert label_map == {"ORG": ["ORG", "ART"], "MISC": ["ART"]}  # duplicates dropped, order kept


def test_parse_label_map_from_a_file_of_lines(tmp_path):
    path = tmp_path / "map.txt"
    path.write_text("# source=target\nPER=PSN\n\nORG=ORG\nORG=ART\n", encoding="utf-8")
    assert parse_label_map(str(path), SOURCE_TYPES, TARGET_TYPES) == {"PER": ["PSN"], "ORG": ["ORG", "ART"]}


def test_parse_label_map_from_a_json_file(tmp_path):
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"PER": "PSN", "ORG": ["ORG", "ART"]}), encoding="utf-8")
    assert parse_label_map(str(path), SOURCE_TYPES, TARGET_TYPES) == {"PER": ["PSN"], "ORG": ["ORG", "ART"]}


def test_parse_label_map_without_target_data_accepts_any_target():
    # Zero-shot: there are no target sentences to check the target types against.
    assert parse_label_map("PER=ANYTHING", SOURCE_TYPES, []) == {"PER": ["ANYTHING"]}


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ("PSN=PER", "source type 'PSN'"),  # reversed by mistake
        ("PER=PERSON", "target type 'PERSON'"),
        ("PER", "expected SOURCE=TARGET"),
        ("PER=", "expected SOURCE=TARGET"),
        ("=PSN", "expected SOURCE=TARGET"),
        ("PER=PSN,LOC", "expected SOURCE=TARGET, got 'LOC'"),
    ],
)
def test_parse_label_map_errors(spec, fragment):
    with pytest.raises(EiwaError) as error:
        parse_label_map(spec, SOURCE_TYPES, TARGET_TYPES)
    assert fragment in str(error.value)


def test_parse_label_map_file_errors_name_the_file_and_line(tmp_path):
    path = tmp_path / "map.txt"
    path.write_text("PER=PSN\nLOC LOC\n", encoding="utf-8")
    with pytest.raises(EiwaError, match=f"{path}:2"):
        parse_label_map(str(path), SOURCE_TYPES, TARGET_TYPES)
    broken = tmp_path / "map.json"
    broken.write_text('{"PER": ', encoding="utf-8")
    with pytest.raises(EiwaError, match="invalid JSON"):
        parse_label_map(str(broken), SOURCE_TYPES, TARGET_TYPES)


# ----------------------------------------------------------------------------- build() from a source

SUBSETS = [[], ["char"], ["word"], ["classifier"], ["char", "classifier"], ["char", "word", "classifier"]]


@pytest.mark.parametrize("modules", SUBSETS, ids=lambda m: ",".join(m) or "none")
def test_transfer_copies_exactly_the_chosen_modules(source, ja_sentences, modules):
    label_map = LABEL_MAP if "classifier" in modules else {}
    target, report = build(ja_config(), ja_sentences, source, modules, label_map)
    own = Encoder.build(target.config, ja_sentences)  # the target data's own vocabularies
    source_state, fresh = source.model.state_dict(), fresh_weights(target)
    pairs = tag_pairs(source, target, label_map)
    assert target.config.transferred == ",".join(modules)
    assert set(target.model.state_dict()) == set(source_state)

    for name, value in target.model.state_dict().items():
        if name.split(".")[0] not in modules:
            # Not transferred: exactly a fresh initialisation (same seed, same vocabularies).
            assert torch.equal(value, fresh[name]), name
        elif name in EMBEDDINGS:
            rows = len(vocab_of(source.encoder, EMBEDDINGS[name]))
            assert torch.equal(value[:rows], source_state[name]), name
            assert torch.equal(value[rows:], fresh[name][rows:]), name  # new items: fresh rows
        elif name in TAG_ROWS:
            check_tag_table(name, value, source_state[name], fresh[name], pairs)
        else:
            assert not torch.equal(fresh[name], source_state[name])  # so that equality below means "copied"
            assert torch.equal(value, source_state[name]), name

    # Vocabularies: a transferred table's starts with the source's items in source order.
    for attribute, module in (("words", "word"), ("bigrams", "char")):
        vocab, mine, theirs = (
            vocab_of(target.encoder, attribute),
            vocab_of(own, attribute),
            vocab_of(source.encoder, attribute),
        )
        if module in modules:
            assert vocab.items[: len(theirs)] == theirs.items
            assert vocab.items[len(theirs) :] == [item for item in mine.items[2:] if item not in theirs]
            assert vocab.inherited == len(theirs)
            # Counts are the target's (they decide which words are singletons for unknown-word dropout).
            assert vocab.counts == [mine.counts[mine.ids[i]] if i in mine else 0 for i in vocab.items]
            known = sum(item in theirs for item in mine.items[2:])
            assert report.copied[attribute] == (known, len(mine) - 2)
        else:
            assert vocab.items == mine.items and vocab.inherited == 0
            assert attribute not in report.copied

    tags = target.encoder.tags.items
    if "classifier" in modules:
        # The target's own tags, plus every B-/E-/S- tag of each mapped target type.
        mapped = {f"{p}-{t}" for targets in label_map.values() for t in targets for p in "BES"}
        assert set(tags) == set(own.tags.items) | mapped
        assert report.mapped_tags == (len(pairs), len(tags))
        assert target.meta["transfer"]["label_map"] == label_map
    else:
        assert tags == own.tags.items
    assert target.meta["transfer"]["modules"] == modules
    assert target.meta["transfer"]["source"] == "perturbed-source"


def test_transfer_without_modules_is_exactly_scratch(source, ja_sentences):
    # `--modules none` must train from scratch through the same code path: same vocabularies, same weights.
    config = ja_config()
    target, report = build(config, ja_sentences, source, [], {})
    scratch = build(config, ja_sentences).tagger
    assert target.encoder.to_json() == scratch.encoder.to_json()
    assert target.config == scratch.config  # the tiny architecture is the source's too; transferred == ""
    scratch_state = scratch.model.state_dict()
    for name, value in target.model.state_dict().items():
        assert torch.equal(value, scratch_state[name]), name
    assert report.copied == {} and report.lines()[0] == "transferred modules: none (training from scratch)"


def test_non_transferred_char_module_equals_scratch_init(source, ja_sentences):
    # The char module is initialised first, so when it is not transferred its weights are those of
    # training from scratch with the same seed. (Modules initialised after a transferred, enlarged
    # embedding table get different random draws than scratch: fresh, but not scratch's.)
    target, _ = build(ja_config(), ja_sentences, source, ["word", "classifier"], LABEL_MAP)
    scratch = build(target.config, ja_sentences).tagger.model.state_dict()
    for name, value in target.model.state_dict().items():
        if name.startswith("char."):
            assert torch.equal(value, scratch[name]), name


def test_transfer_is_repeatable_and_follows_the_seed(source, ja_sentences):
    first, _ = build(ja_config(), ja_sentences, source, ["char"], {})
    again, _ = build(ja_config(), ja_sentences, source, ["char"], {})
    other, _ = build(ja_config(seed=4), ja_sentences, source, ["char"], {})
    a, b, c = (t.model.state_dict() for t in (first, again, other))
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert torch.equal(a["char.lstm.forward_lstm.weight_ih_l0"], c["char.lstm.forward_lstm.weight_ih_l0"])  # copied
    assert not torch.equal(a["classifier.output.weight"], c["classifier.output.weight"])  # fresh, other seed


def test_label_map_rows_on_the_classifier(source, ja_sentences):
    target, report = build(ja_config(), ja_sentences, source, ["classifier"], LABEL_MAP)
    t, s = target.encoder.tags.ids, source.encoder.tags.ids
    new, old, fresh = target.model.state_dict(), source.model.state_dict(), fresh_weights(target)
    for name in ("classifier.output.weight", "classifier.output.bias", "classifier.crf.start", "classifier.crf.end"):
        assert torch.equal(new[name][t["B-PSN"]], old[name][s["B-PER"]]), name  # PER=PSN
        assert torch.equal(new[name][t["S-PSN"]], old[name][s["S-PER"]]), name
        assert torch.equal(new[name][t["O"]], old[name][s["O"]]), name  # O always maps to O
        assert torch.equal(new[name][t["E-LOC"]], old[name][s["E-LOC"]]), name
        # ORG=ORG and ORG=ART: both target types start from the source's ORG rows.
        assert torch.equal(new[name][t["B-ORG"]], old[name][s["B-ORG"]]), name
        assert torch.equal(new[name][t["B-ART"]], old[name][s["B-ORG"]]), name
        # DAT is not mapped: a fresh row, unlike any of the source's.
        assert torch.equal(new[name][t["B-DAT"]], fresh[name][t["B-DAT"]]), name
        assert not any(torch.equal(new[name][t["B-DAT"]], old[name][i]) for i in range(len(s))), name
    transitions, source_transitions = new["classifier.crf.transitions"], old["classifier.crf.transitions"]
    for a, b, sa, sb in [
        ("B-PSN", "E-PSN", "B-PER", "E-PER"),
        ("O", "B-ART", "O", "B-ORG"),
        ("S-ART", "B-LOC", "S-ORG", "B-LOC"),
        ("E-ORG", "O", "E-ORG", "O"),
    ]:
        assert transitions[t[a], t[b]] == source_transitions[s[sa], s[sb]], (a, b)
    # Any transition into or out of an unmapped tag is fresh (a fresh CRF is all zeros).
    assert transitions[t["O"], t["B-DAT"]] == 0 and transitions[t["B-DAT"], t["O"]] == 0
    assert source_transitions.abs().min() > 0  # the source had something there to copy by mistake
    # Mapped target tags: O, and B/E/S of PSN, LOC, ORG, ART (I- tags only where both sides have them).
    assert report.mapped_tags[0] == len(tag_pairs(source, target, LABEL_MAP)) >= 13
    assert report.mapped_tags[1] == len(target.encoder.tags)


def test_transfer_report_shares_counted_by_hand(source):
    # Target: words mary, left, qz, ".", anne (qz unknown to the source: 4 of 5 known);
    # bigrams of Mary (5), left (5), Qz (3), "." (2), Anne (5) = 20, all known but Qz's 3 (17 of 20).
    assert (
        "qz" not in source.encoder.features["word"].vocabs["words"]
        and "Qz" not in source.encoder.features["char"].vocabs["bigrams"]
    )
    sentences = [
        sentence_from_tags(["Mary", "left", "Qz", "."], ["S-PSN", "O", "S-PLACE", "O"], "en"),
        sentence_from_tags(["Anne", "left", "Mary", "."], ["O", "O", "S-PSN", "O"], "en"),
    ]
    assert len({b for s in sentences for token in s.words for b in bigrams(token)}) == 20
    target, report = build(tiny_config(), sentences, source, ["char", "word", "classifier"], {"PER": ["PSN"]})
    assert report.copied == {"bigrams": (17, 20), "words": (4, 5)}
    # Tags: O, S-PSN, S-PLACE from the data, B-, I- and E-PSN from the map (every prefix of the scheme).
    # The source knows O and B-, I-, E-, S-PER: five rows come from the source, S-PLACE starts fresh.
    assert target.encoder.tags.items == ["O", "B-PSN", "E-PSN", "I-PSN", "S-PLACE", "S-PSN"]
    assert {"O", "B-PER", "I-PER", "E-PER", "S-PER"} <= set(source.encoder.tags.ids)
    assert report.mapped_tags == (5, 6)
    lines = "\n".join(report.lines())
    assert "character bigrams: 17 of 20 in the training data (85.0%) are the source's too and start from" in lines
    assert "words: 4 of 5 in the training data (80.0%) are the source's too" in lines
    assert "expected" not in lines  # English to English: no mismatch to explain
    assert "output and CRF rows: 5 of 6 target tags start from their source type's rows (label map PER=PSN)" in lines
    assert "the tags of PLACE start fresh" in lines
    assert target.meta["transfer"]["copied"] == {
        "bigrams": {"known": 17, "total": 20},
        "words": {"known": 4, "total": 5},
    }


def test_target_inherits_the_source_architecture(source, ja_sentences):
    different = ja_config(
        hidden_dim=16,
        char_hidden_dim=6,
        char_embedding_dim=5,
        word_embedding_dim=12,
        case_embedding_dim=3,
        decoder="softmax",
        tag_scheme="iob2",
        word_lowercase=False,
        char_lowercase=True,
        lr=0.5,
        max_epochs=3,
        seed=9,
    )
    for modules in ([], ["char"]):
        target, _ = build(different, ja_sentences, source, modules, {})
        for name in (key for module in ("classifier", "char", "word") for key in ARCHITECTURE[module]):
            assert getattr(target.config, name) == getattr(source.config, name), name
        # ... while the target keeps its own inputs and training settings.
        assert (
            target.config.lang,
            target.config.char_input,
            target.config.lr,
            target.config.max_epochs,
            target.config.seed,
        ) == ("ja", "romaji", 0.5, 3, 9)
        shapes = {n: v.shape for n, v in source.model.state_dict().items() if n not in EMBEDDINGS and n not in TAG_ROWS}
        assert {n: v.shape for n, v in target.model.state_dict().items() if n in shapes} == shapes
        assert "classifier.crf.transitions" in target.model.state_dict()  # the source's CRF, not softmax
        assert all(t == "O" or t[0] in "BIES" for t in target.encoder.tags.items)  # BIOES tags, as the source


# ----------------------------------------------------------------------------- fine-tuning modes


def _train_one_epoch(tagger, sentences):
    return train(tagger.config, sentences[:32], sentences[32:], tagger=tagger, progress=False, log=lambda _: None)


def test_fine_tune_frozen_keeps_transferred_weights_and_inherited_rows(source, ja_sentences):
    modules = ["char", "word", "classifier"]
    target, _ = build(ja_config(fine_tune="frozen", max_epochs=1), ja_sentences, source, modules, LABEL_MAP)
    before = snapshot(target)
    _train_one_epoch(target, ja_sentences)
    after = target.model.state_dict()
    changed_new_rows = 0
    for name, value in after.items():
        if name in EMBEDDINGS:
            inherited = vocab_of(target.encoder, EMBEDDINGS[name]).inherited
            assert inherited == len(vocab_of(source.encoder, EMBEDDINGS[name]))
            assert torch.equal(value[:inherited], before[name][:inherited]), name
            # Rows of items the source did not know must still learn.
            new_rows_changed = (value[inherited:] != before[name][inherited:]).any(dim=1).sum().item()
            assert new_rows_changed > 0, name
            changed_new_rows += new_rows_changed
        elif name not in TAG_ROWS:
            assert torch.equal(value, before[name]), name
        else:  # entries copied from the source stay as they came (transitions: between copied tags)
            pairs = tag_pairs(source, target, LABEL_MAP)
            rows = torch.tensor([p[0] for p in pairs])
            kept = value[rows][:, rows] if name.endswith("transitions") else value[rows]
            was = before[name][rows][:, rows] if name.endswith("transitions") else before[name][rows]
            assert torch.equal(kept, was), name
    assert changed_new_rows > 10


def test_fine_tune_frozen_still_trains_rows_of_unmapped_tags(source, ja_sentences):
    target, _ = build(ja_config(fine_tune="frozen", max_epochs=1), ja_sentences, source, ["classifier"], LABEL_MAP)
    before = snapshot(target)
    _train_one_epoch(target, ja_sentences)
    row = target.encoder.tags.ids["B-DAT"]
    assert not torch.equal(
        target.model.state_dict()["classifier.output.weight"][row], before["classifier.output.weight"][row]
    )


def test_fine_tune_lower_lr_puts_transferred_modules_in_a_scaled_group(source, ja_sentences):
    config = ja_config(fine_tune="lower-lr", transferred_lr_scale=0.25)
    target, _ = build(config, ja_sentences, source, ["char", "classifier"], LABEL_MAP)
    groups = make_optimizer(target).param_groups
    named = dict(target.model.named_parameters())
    moved = {id(p) for n, p in named.items() if n.startswith(("char.", "classifier."))}
    kept = {id(p) for n, p in named.items() if n.startswith("word.")}
    by_scale = {g["scale"]: {id(p) for p in g["params"]} for g in groups}
    assert by_scale == {1.0: kept, 0.25: moved}
    # Without transferred modules (or in mode all) there is one group at full rate.
    scratch, _ = build(config, ja_sentences, source, [], {})
    assert [g["scale"] for g in make_optimizer(scratch).param_groups] == [1.0]
    everything, _ = build(replace(config, fine_tune="all"), ja_sentences, source, ["char"], {})
    assert [g["scale"] for g in make_optimizer(everything).param_groups] == [1.0]


def test_fine_tune_lower_lr_scale_reaches_the_learning_rate(source, ja_sentences):
    # With scale 0 the transferred modules must not move at all in training, while the rest learns.
    config = ja_config(fine_tune="lower-lr", transferred_lr_scale=0.0, max_epochs=1)
    target, _ = build(config, ja_sentences, source, ["char"], {})
    before = snapshot(target)
    _train_one_epoch(target, ja_sentences)
    after = target.model.state_dict()
    for name, value in after.items():
        if name.startswith("char."):
            assert torch.equal(value, before[name]), name
    assert not torch.equal(after["word.embedding.weight"], before["word.embedding.weight"])
    assert not torch.equal(
        after["classifier.lstm.forward_lstm.weight_hh_l0"], before["classifier.lstm.forward_lstm.weight_hh_l0"]
    )


def test_fine_tune_all_trains_transferred_weights_and_leaves_the_source_alone(source, ja_sentences):
    source_before = snapshot(source)
    target, _ = build(ja_config(max_epochs=1), ja_sentences, source, ["char", "word", "classifier"], LABEL_MAP)
    before = snapshot(target)
    _train_one_epoch(target, ja_sentences)
    after = target.model.state_dict()
    for name in (
        "char.lstm.forward_lstm.weight_ih_l0",
        "word.case_embedding.weight",
        "classifier.lstm.backward_lstm.bias_hh_l0",
    ):
        assert not torch.equal(after[name], before[name]), name
    inherited = target.encoder.features["char"].vocabs["bigrams"].inherited
    assert not torch.equal(after["char.embedding.weight"][:inherited], before["char.embedding.weight"][:inherited])
    # The target's weights are copies: training it must not change the source model.
    assert all(torch.equal(v, source_before[n]) for n, v in source.model.state_dict().items())


# ----------------------------------------------------------------------------- zero-shot


def test_zero_shot_transfer_tags_without_training(trained_source, ja_sentences):
    label_map = {"PER": ["PSN"], "LOC": ["LOC"], "ORG": ["ORG"]}
    target, report = build(ja_config(), [], trained_source, ["char", "word", "classifier"], label_map)
    tags = set(target.encoder.tags.items)
    assert {f"{p}-{t}" for p in "BES" for t in ("PSN", "LOC", "ORG")} | {"O"} <= tags
    assert not {t for t in tags if t != "O" and t[2:] not in ("PSN", "LOC", "ORG")}
    # Every tag whose source counterpart exists starts from its row (the tiny source has no I- tags).
    with_source_row = [
        t for t in tags if t == "O" or f"{t[:2]}{ {'PSN': 'PER'}.get(t[2:], t[2:]) }" in trained_source.encoder.tags.ids
    ]
    assert report.mapped_tags == (len(with_source_row), len(tags))
    assert len(with_source_row) >= 10
    assert report.copied == {"bigrams": (0, 0), "words": (0, 0)}
    predicted = target.tag_sentences(ja_sentences[:10])
    assert len(predicted) == 10
    assert {span.type for spans in predicted for span in spans} <= {"PSN", "LOC", "ORG"}


def test_zero_shot_renaming_reproduces_the_source(trained_source):
    # Transferring everything under a pure renaming must tag exactly as the source, with the new names.
    renaming = {"PER": "PSN", "LOC": "PLACE", "ORG": "GROUP"}
    target, _ = build(
        tiny_config(), [], trained_source, ["char", "word", "classifier"], {s: [t] for s, t in renaming.items()}
    )
    sentences = synthetic_sentences(30, seed=11)
    expected = [
        [(e.start, e.end, renaming[e.type]) for e in spans] for spans in trained_source.tag_sentences(sentences)
    ]
    assert sum(map(len, expected)) > 20
    assert [[e.as_tuple() for e in spans] for spans in target.tag_sentences(sentences)] == expected


def test_zero_shot_keeps_every_source_tag_of_a_mapped_type(source):
    assert "I-PER" in source.encoder.tags.items
    assert set(tags_from_scheme(["PSN"], "bioes")) == {"B-PSN", "I-PSN", "E-PSN", "S-PSN"}
    target, _ = build(tiny_config(), [], source, ["char", "word", "classifier"], {"PER": ["PSN"]})
    assert "I-PSN" in target.encoder.tags.items


def test_tags_from_scheme_iob2():
    assert tags_from_scheme(["B", "A"], "iob2") == ["B-A", "B-B", "I-A", "I-B"]


# ----------------------------------------------------------------------------- --label-map auto


def renamed_sentences():
    """English synthetic sentences with PER -> PSN, LOC -> PLACE, ORG kept, and 'Monday' as MISC."""
    renaming = {"PER": "PSN", "LOC": "PLACE", "ORG": "ORG"}
    sentences = []
    for tokens, tags in synthetic_tagged(60, seed=21):
        tags = ["O" if t == "O" else f"{t[:2]}{renaming[t[2:]]}" for t in tags]
        tags = ["B-MISC" if token == "Monday" else tag for token, tag in zip(tokens, tags)]
        sentences.append(sentence_from_tags(tokens, tags, "en"))
    return sentences


@pytest.fixture
def no_jmnedict(monkeypatch):
    """--label-map auto without the dictionary: the source's tags decide alone."""
    monkeypatch.setattr(label_map_module, "_jmnedict", lambda lang, log: None)


def test_auto_label_map_proposes_the_renaming(trained_source, no_jmnedict):
    sentences = renamed_sentences()
    label_map, evidence = propose_label_map(trained_source, tiny_config(), sentences)
    # The source never calls 'Monday' anything, so MISC gets no source type.
    assert label_map == {"PER": ["PSN"], "LOC": ["PLACE"], "ORG": ["ORG"]}
    entities = {}
    for sentence in sentences:
        for _, _, kind in sentence.token_spans():
            entities[kind] = entities.get(kind, 0) + 1
    assert {k: v["entities"] for k, v in evidence.items()} == entities  # counted per entity, not per token
    assert evidence["MISC"]["predicted_as"] == {"nothing": entities["MISC"]} and evidence["MISC"]["chosen"] is None
    assert max(evidence["PSN"]["predicted_as"], key=evidence["PSN"]["predicted_as"].get) == "PER"
    assert all(sum(e["predicted_as"].values()) == e["entities"] for e in evidence.values())
    assert evidence["PSN"]["jmnedict_groups"] == {}

    lines = []
    assert resolve_label_map("auto", trained_source, tiny_config(), sentences, lines.append) == label_map
    assert lines[-1] == "label map (auto): --label-map LOC=PLACE,ORG=ORG,PER=PSN"  # ready to copy
    assert lines[0].startswith("label map (auto), from the source's tags and JMnedict names on ")
    assert any(line.startswith("  PSN -> PER (") and "by the source's tags)" in line for line in lines)
    assert any(line.startswith("  MISC: no source type, its tags start fresh") for line in lines)
    assert resolve_label_map(None, trained_source, tiny_config(), sentences) == label_map  # auto is the default


def test_auto_label_map_reads_jmnedict_groups_and_discounts_what_the_source_says_everywhere():
    """The source tags PER on most entities of every type: no more on COMPANY than on average, so
    the names JMnedict knows as organizations decide COMPANY, and places PLACE (LOC on two of them
    is below MIN_ENTITIES); GADGET is seen as MISC on two entities only and starts fresh."""
    rows = (
        [("PERSON", "PER", None)] * 8
        + [("COMPANY", "PER", "organization")] * 3
        + [("COMPANY", NOTHING, "organization")]
        + [("COMPANY", NOTHING, None)] * 2
        + [("PLACE", "PER", "place")] * 4
        + [("PLACE", "LOC", "place")] * 2
        + [("GADGET", "MISC", None)] * 2
        + [("GADGET", NOTHING, None)] * 3
    )
    gold = [[(0, 1, target)] for target, _, _ in rows]
    evidence = _evidence(
        gold,
        {(i, 0): predicted for i, (_, predicted, _) in enumerate(rows)},
        {(i, 0): [group] if group else [] for i, (_, _, group) in enumerate(rows)},
    )
    group_types = {"person": "PER", "place": "LOC", "organization": "ORG", "product": "MISC"}
    for entry in evidence.values():
        _decide(entry, evidence, group_types)
    chosen = {target: entry.chosen for target, entry in evidence.items()}
    assert chosen == {"COMPANY": "ORG", "GADGET": None, "PERSON": "PER", "PLACE": "LOC"}
    assert evidence["COMPANY"].scores["predicted:PER"] == 0.0  # less often than on the average entity
    assert evidence["COMPANY"].scores["names:ORG"] > 0
    assert evidence["PLACE"].scores["predicted:LOC"] == 0.0 < evidence["PLACE"].scores["predicted:PER"]
    assert evidence["PLACE"].scores["names:LOC"] > evidence["PLACE"].scores["predicted:PER"]


def test_association_counts_only_what_is_above_the_average_and_seen_often_enough():
    assert association(MIN_ENTITIES - 1, 10, 2, 100) == 0.0  # too few to be a rate
    assert association(10, 10, 100, 100) == 0.0  # on every entity: no more here than anywhere
    assert association(5, 10, 50, 100) == 0.0  # at the average rate
    assert association(6, 10, 20, 100) == pytest.approx(6 * math.log(3))  # 3 times the average rate
    assert association(20, 40, 20, 100) > association(5, 10, 5, 100)  # the same rate seen on more entities


def test_auto_label_map_with_a_dictionary_names_the_groups(trained_source):
    from eiwa.gazetteer.matcher import Gazetteer

    sentences = renamed_sentences()
    dictionary = Gazetteer.from_names({"Paris": "place", "Berlin": "place", "Tokyo": "place", "Sony": "organization"})
    label_map, evidence = propose_label_map(trained_source, tiny_config(), sentences, dictionary=dictionary)
    assert label_map == {"PER": ["PSN"], "LOC": ["PLACE"], "ORG": ["ORG"]}
    assert set(evidence["PLACE"]["jmnedict_groups"]) == {"place"} and evidence["PLACE"]["jmnedict_groups"]["place"] > 0
    assert "by the source's tags and JMnedict" in evidence["PLACE"]["line"]
    assert "place (LOC) on" in evidence["PLACE"]["line"]


def test_resolve_label_map_explicit_is_checked_against_the_target_data(trained_source):
    sentences = renamed_sentences()
    assert resolve_label_map("PER=PSN", trained_source, tiny_config(), sentences) == {"PER": ["PSN"]}
    with pytest.raises(EiwaError, match="target type 'ART'"):
        resolve_label_map("ORG=ART", trained_source, tiny_config(), sentences)
    with pytest.raises(EiwaError, match="source type 'MISC'"):
        resolve_label_map("MISC=MISC", trained_source, tiny_config(), sentences)


# ----------------------------------------------------------------------------- saving and the command line


def test_transferred_model_reloads_and_tags_identically(trained_source, ja_sentences, tmp_path):
    config = ja_config(fine_tune="frozen", max_epochs=1)
    target, _ = build(
        config,
        ja_sentences,
        trained_source,
        ["char", "word", "classifier"],
        {"PER": ["PSN"], "LOC": ["LOC"], "ORG": ["ORG"]},
    )
    result = train(
        target.config,
        ja_sentences[:32],
        ja_sentences[32:],
        out=tmp_path / "m",
        tagger=target,
        progress=False,
        log=lambda _: None,
    )
    loaded = Tagger.load(tmp_path / "m")
    assert loaded.encoder.to_json() == result.tagger.encoder.to_json()  # inherited counts survive the reload
    assert loaded.encoder.features["word"].vocabs["words"].inherited == len(
        trained_source.encoder.features["word"].vocabs["words"]
    )
    assert loaded.config == result.tagger.config and loaded.config.transferred == "char,word,classifier"
    assert loaded.meta["transfer"]["modules"] == ["char", "word", "classifier"]
    state = result.tagger.model.state_dict()
    assert all(torch.equal(v, state[n]) for n, v in loaded.model.state_dict().items())
    sentences = read_hironsan().sentences[100:130]
    assert loaded.tag_sentences(sentences) == result.tagger.tag_sentences(sentences)


@pytest.fixture
def runner():
    return CliRunner()


def test_cli_transfer_writes_a_model_with_its_transfer_record(runner, tiny_model_dir, tmp_path):
    out = tmp_path / "ja"
    result = runner.invoke(
        cli,
        [
            "transfer",
            "--source",
            str(tiny_model_dir),
            "--lang",
            "ja",
            "--format",
            "hironsan",
            "--modules",
            "classifier,char",
            "--char-input",
            "romaji",
            "--label-map",
            "PER=PSN,LOC=LOC,ORG=ORG,ORG=ART",
            *TINY_SET,
            "--set",
            "max_epochs=1",
            "--set",
            "threads=1",
            "--set",
            "hidden_dim=5",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "transferred modules: char, classifier" in result.stderr
    assert "label map LOC=LOC,ORG=ORG,ORG=ART,PER=PSN" in result.stderr

    shown = runner.invoke(cli, ["info", str(out), "--json"])
    assert shown.exit_code == 0, shown.output
    info = json.loads(shown.stdout)
    record = info["meta"]["transfer"]
    assert record["modules"] == ["char", "classifier"]
    assert record["label_map"] == {"PER": ["PSN"], "LOC": ["LOC"], "ORG": ["ORG", "ART"]}
    assert record["source"] == str(tiny_model_dir)
    assert info["config"]["transferred"] == "char,classifier"
    assert info["config"]["hidden_dim"] == 8  # the source's, not --set hidden_dim=5
    assert info["config"]["char_input"] == "romaji" and info["meta"]["lang"] == "ja"
    assert {"PSN", "LOC", "ORG", "ART"} <= set(info["meta"]["entity_types"])


def test_cli_transfer_modules_auto_saves_the_candidate_best_on_dev(runner, tiny_model_dir, tmp_path):
    out = tmp_path / "ja"
    result = runner.invoke(
        cli,
        [
            "transfer",
            "--source",
            f"{tiny_model_dir},{tiny_model_dir}",
            "--lang",
            "ja",
            "--format",
            "hironsan",
            "--modules",
            "auto",
            "--char-input",
            "romaji",
            "--label-map",
            "PER=PSN,LOC=LOC,ORG=ORG",
            *TINY_SET,
            "--set",
            "max_epochs=1",
            "--set",
            "threads=1",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    # per source the default (char,word,classifier), then char,classifier and word,classifier; scratch last
    assert "--modules auto: 7 candidates" in result.stderr
    meta = json.loads(runner.invoke(cli, ["info", str(out), "--json"]).stdout)["meta"]
    tried = meta["candidates"]
    assert len(tried) == 7 and tried[-1]["start"] == "none"
    assert tried[0]["start"] == meta["auto"]["default"] == f"char,word,classifier from {tiny_model_dir}"
    assert meta["auto"]["dev_sentences"] > 0 and meta["auto"]["seconds"] >= sum(c["seconds"] for c in tried) - 1
    level = meta["auto"]["significance"] / 6
    beating = [c for c in tried[1:] if c["difference"] > 0 and c["p"] < level]
    assert meta["chosen"] == (max(beating, key=lambda c: c["dev_f1"])["start"] if beating else tried[0]["start"])
    assert f"chose {meta['chosen']}" in result.stderr and "7 candidates trained in" in result.stderr
    assert f"{meta['auto']['dev_sentences']} dev sentences" in result.stderr
    resumed = runner.invoke(
        cli, ["transfer", "--resume", "--modules", "auto", "--lang", "ja", "--format", "hironsan", "--out", str(out)]
    )
    assert resumed.exit_code == 2 and "cannot be combined with --modules auto" in resumed.stderr


def test_cli_transfer_needs_a_source_where_the_language_has_no_default(runner, tmp_path):
    data = write_conll(tmp_path / "en.conll", synthetic_tagged(20))
    result = runner.invoke(cli, ["transfer", "--lang", "en", "--train", str(data), "--out", str(tmp_path / "m")])
    assert result.exit_code == 2, result.output
    assert "transfer to en data needs --source" in result.stderr
    assert not (tmp_path / "m").exists()


def test_cli_transfer_defaults_to_every_shared_module_and_the_auto_label_map(runner, tiny_model_dir, tmp_path):
    common = ["--lang", "ja", "--format", "hironsan", "--char-input", "romaji"]
    settings = [*TINY_SET, "--set", "max_epochs=1", "--set", "threads=1"]
    result = runner.invoke(
        cli, ["transfer", "--source", str(tiny_model_dir), *common, *settings, "--out", str(tmp_path / "m")]
    )
    assert result.exit_code == 0, result.output
    assert "transferred modules: char, word, classifier" in result.stderr  # all the tiny source has
    assert "label map (auto): --label-map " in result.stderr
    evidence = json.loads((tmp_path / "m" / "meta.json").read_text())["transfer"]["label_map_evidence"]
    assert {"PSN", "LOC", "ORG"} <= set(evidence) and all(line.startswith(kind) for kind, line in evidence.items())
    wrong = runner.invoke(
        cli, ["transfer", "--source", str(tiny_model_dir), "--modules", "al", *common, "--out", str(tmp_path / "x")]
    )
    assert wrong.exit_code == 2 and all(word in wrong.stderr for word in ("shared", "auto", "none", "classifier"))


def test_transfer_report_says_which_low_coverage_is_expected_across_languages():
    report = TransferReport(
        ["char", "pos", "classifier"],
        {"PER": ["PERSON"]},
        {"bigrams": (50, 100), "levels": (0, 54)},
        (5, 9),
        languages=("en", "ja"),
        new_rows="unknown",
        fresh_types=["EVENT"],
    )
    lines = report.lines()
    assert lines[1] == (
        "  character bigrams: 50 of 100 in the training data (50.0%) are the source's too and start from its "
        "rows; the others start as the source's unknown row"
    )
    assert lines[2] == (
        "  UniDic part-of-speech levels: 0 of 54 in the training data (0.0%) are the source's too: all start as "
        "the source's unknown row (expected from English to Japanese: UniDic levels are Japanese, an English "
        "source has none)"
    )
    assert lines[3].endswith("(label map PER=PERSON); the tags of EVENT start fresh")


def test_cli_transfer_rejects_a_label_map_naming_types_the_source_lacks(runner, tiny_model_dir, tmp_path):
    # The tiny source knows PER, LOC and ORG only: MISC=ART must be refused before any training.
    result = runner.invoke(
        cli,
        [
            "transfer",
            "--source",
            str(tiny_model_dir),
            "--lang",
            "ja",
            "--format",
            "hironsan",
            "--modules",
            "classifier",
            "--label-map",
            "PER=PSN,MISC=ART",
            "--out",
            str(tmp_path / "m"),
        ],
    )
    assert result.exit_code == 2, result.output
    assert "source type 'MISC'" in result.stderr and "Traceback" not in result.output


def test_cli_cv_with_modules_none_equals_plain_cv(runner, tiny_model_dir, tmp_path):
    # --source with --modules none trains from scratch through build() with a source: with the source's
    # architecture given to plain cv too, both must produce identical scores.
    data = write_conll(tmp_path / "data.conll", synthetic_tagged(40, seed=8))
    common = [
        "cv",
        "--data",
        str(data),
        "--folds",
        "2",
        "--seeds",
        "1",
        "--json",
        *TINY_SET,
        "--set",
        "max_epochs=2",
        "--set",
        "batch_size=2",
        "--set",
        "threads=1",
    ]
    plain = runner.invoke(cli, common)
    via_source = runner.invoke(cli, [*common, "--source", str(tiny_model_dir), "--modules", "none"])
    assert plain.exit_code == 0, plain.output
    assert via_source.exit_code == 0, via_source.output
    plain_result, source_result = json.loads(plain.stdout), json.loads(via_source.stdout)
    assert source_result["per_seed"] == plain_result["per_seed"]
    assert source_result["f1_mean"] > 0  # something was learned, so the equality is not that of two blanks


def test_cli_cv_modules_without_a_source_exits_2(runner, tmp_path):
    data = write_conll(tmp_path / "data.conll", synthetic_tagged(10))
    result = runner.invoke(cli, ["cv", "--data", str(data), "--modules", "shared"])
    assert result.exit_code == 2, result.output
    assert "give --source too" in result.stderr


def test_start_from_names_defaults_to_the_shared_modules(tiny_model_dir):
    assert Start.from_names(str(tiny_model_dir)).modules == "shared"
    assert Start.from_names(str(tiny_model_dir), "none").modules == []
    assert Start().modules == "shared" and Start().sources == ()
