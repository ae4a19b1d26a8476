"""Tests for eiwa.model and the batching in eiwa.features.encoder: the CRF against brute force, shapes,
distinct forms."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from helpers import synthetic_sentences, tiny_config

from eiwa.doc import sentence_from_tags
from eiwa.features.encoder import Encoder, FormChunk, form_chunks
from eiwa.model import CRF
from eiwa.tagger import Tagger
from eiwa.tags import tags_from_spans

LENGTHS = [4, 2, 3]
NUM_TAGS = 3


@pytest.fixture
def crf_inputs():
    """A CRF with random (non-zero) parameters and a padded batch of random emissions."""
    generator = torch.Generator().manual_seed(0)
    crf = CRF(NUM_TAGS)
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
    time = max(LENGTHS)
    emissions = torch.randn(len(LENGTHS), time, NUM_TAGS, generator=generator, dtype=torch.float64)
    crf = crf.double()
    mask = torch.arange(time)[None, :] < torch.tensor(LENGTHS)[:, None]
    return crf, emissions, mask


def path_score(crf, emissions_row, path):
    """The score of one tag path, summed by hand."""
    total = crf.start[path[0]] + crf.end[path[-1]]
    for t, tag in enumerate(path):
        total = total + emissions_row[t, tag]
        if t:
            total = total + crf.transitions[path[t - 1], tag]
    return total


def all_paths(length):
    return list(itertools.product(range(NUM_TAGS), repeat=length))


def test_crf_log_partition_equals_brute_force_logsumexp(crf_inputs):
    crf, emissions, mask = crf_inputs
    with torch.no_grad():
        got = crf.log_partition(emissions, mask)
        for row, length in enumerate(LENGTHS):
            scores = torch.stack([path_score(crf, emissions[row], p) for p in all_paths(length)])
            assert got[row].item() == pytest.approx(torch.logsumexp(scores, 0).item(), abs=1e-9)


def test_crf_score_equals_hand_summed_path_score(crf_inputs):
    crf, emissions, mask = crf_inputs
    generator = torch.Generator().manual_seed(1)
    tags = torch.randint(0, NUM_TAGS, mask.shape, generator=generator)
    with torch.no_grad():
        got = crf.score(emissions, tags, mask)
        for row, length in enumerate(LENGTHS):
            expected = path_score(crf, emissions[row], tags[row, :length].tolist())
            assert got[row].item() == pytest.approx(expected.item(), abs=1e-9)


def test_crf_viterbi_equals_brute_force_argmax(crf_inputs):
    crf, emissions, mask = crf_inputs
    with torch.no_grad():
        best = crf.viterbi(emissions, mask)
        for row, length in enumerate(LENGTHS):
            paths = all_paths(length)
            scores = torch.stack([path_score(crf, emissions[row], p) for p in paths])
            assert best[row, :length].tolist() == list(paths[int(scores.argmax())])
            assert best[row, length:].tolist() == [0] * (max(LENGTHS) - length)


def test_crf_ignores_padding_positions(crf_inputs):
    crf, emissions, mask = crf_inputs
    generator = torch.Generator().manual_seed(2)
    tags = torch.randint(0, NUM_TAGS, mask.shape, generator=generator)
    noisy = emissions.clone()
    noisy[~mask] = 1000.0 * torch.randn(int((~mask).sum()), NUM_TAGS, generator=generator, dtype=torch.float64)
    other_tags = torch.where(mask, tags, (tags + 1) % NUM_TAGS)
    with torch.no_grad():
        assert torch.allclose(crf.log_partition(emissions, mask), crf.log_partition(noisy, mask))
        assert torch.allclose(crf.score(emissions, tags, mask), crf.score(noisy, other_tags, mask))
        assert torch.equal(crf.viterbi(emissions, mask), crf.viterbi(noisy, mask))


def test_crf_probabilities_sum_to_one(crf_inputs):
    # exp(score - log Z) over every path of a sentence is a distribution.
    crf, emissions, mask = crf_inputs
    with torch.no_grad():
        log_z = crf.log_partition(emissions, mask)
        row, length = 0, LENGTHS[0]
        total = sum(torch.exp(path_score(crf, emissions[row], p) - log_z[row]) for p in all_paths(length))
        assert total.item() == pytest.approx(1.0, abs=1e-9)


# ----------------------------------------------------------------------------- the whole network


def build(config, sentences):
    encoder = Encoder.build(config, sentences)
    torch.manual_seed(0)
    return Tagger.create(config, encoder)


@pytest.mark.parametrize("decoder", ["crf", "softmax"])
def test_model_output_shapes_and_decoders(decoder):
    sentences = synthetic_sentences(7, seed=3)
    config = tiny_config(decoder=decoder)
    tagger = build(config, sentences)
    encoded = tagger.encoder.encode(sentences)
    batch = tagger.encoder.batch(encoded, np.arange(len(sentences)))
    longest = max(len(s) for s in sentences)
    num_tags = len(tagger.encoder.tags)
    # the tag vocabulary is O plus the BIOES tags seen in training
    seen = {t for s in sentences for t in tags_from_spans(s.token_spans(), len(s), "bioes")}
    assert tagger.encoder.tags.items[0] == "O" and set(tagger.encoder.tags.items) == seen | {"O"}
    assert any(t.startswith("S-") for t in seen) and any(t.startswith("E-") for t in seen)

    emissions = tagger.model.emissions(batch)
    assert emissions.shape == (len(sentences), longest, num_tags)
    loss = tagger.model.loss(batch)
    assert loss.dim() == 0 and torch.isfinite(loss) and loss.item() > 0
    loss.backward()
    assert all(p.grad is not None for p in tagger.model.parameters())

    tagger.model.eval()
    decoded = tagger.model.decode(batch)
    assert decoded.shape == (len(sentences), longest)
    assert decoded.dtype == torch.long
    assert int(decoded.max()) < num_tags
    assert not decoded[~batch.mask].any()  # padding decodes to 0
    assert ("crf" in dict(tagger.model.classifier.named_children())) == (decoder == "crf")


def test_parameter_names_start_with_a_module_name():
    tagger = build(tiny_config(), synthetic_sentences(5))
    names = [name for name, _ in tagger.model.named_parameters()]
    assert {name.split(".")[0] for name in names} == {"char", "word", "classifier"}
    assert "classifier.crf.transitions" in names
    assert "word.embedding.weight" in names and "char.embedding.weight" in names


def test_char_module_runs_on_distinct_forms_only():
    # "the" appears in several sentences of the batch; it is one row of the form table.
    texts = [["the", "cat", "saw", "the", "dog"], ["the", "dog"], ["a", "cat", "a", "cat"]]
    sentences = [sentence_from_tags(t, ["O"] * len(t), "en") for t in texts]
    config = tiny_config()
    tagger = build(config, sentences)
    encoded = tagger.encoder.encode(sentences)
    batch = tagger.encoder.batch(encoded, np.arange(3))
    distinct = {w for t in texts for w in t}
    lengths = torch.cat([chunk.lengths for chunk in batch.inputs["char"]["form_chunks"]])
    assert len(lengths) == len(distinct)
    # every token points at the row of its own form
    for row, tokens in enumerate(texts):
        for column, token in enumerate(tokens):
            form_row = batch.inputs["char"]["token_forms"][row, column]
            assert int(lengths[form_row]) == len(token) + 1  # bigrams with begin/end markers
    token_forms = batch.inputs["char"]["token_forms"]
    same = token_forms[0, 0] == token_forms[0, 3] == token_forms[1, 0]
    assert bool(same)
    # a batch of one sentence holds only that sentence's forms
    single = tagger.encoder.batch(encoded, np.array([1]))
    assert sum(len(chunk.lengths) for chunk in single.inputs["char"]["form_chunks"]) == 2

    seen = []
    original = tagger.model.char.forms

    def spy(chunks):
        seen.append(sum(len(chunk.lengths) for chunk in chunks))
        return original(chunks)

    tagger.model.char.forms = spy
    tagger.model.emissions(batch)
    assert seen == [len(distinct)]


def test_form_chunks_group_similar_lengths_and_keep_every_form():
    words = ["a", "to", "cat", "dogs", "horse", "giraffes", "hippopotamus", "antidisestablishmentarianism"]
    sentences = [sentence_from_tags(words, ["O"] * len(words), "en")]
    tagger = build(tiny_config(), sentences)
    encoded = tagger.encoder.encode(sentences)
    forms = encoded.features["char"].shared
    chunks, row = form_chunks(forms["form_lengths"], forms["form_bigrams"])
    assert sorted(row.tolist()) == list(range(len(words)))
    for chunk in chunks:
        # padded to the chunk's longest form, which is less than twice its shortest (or 2 bigrams)
        assert chunk.bigram_ids.shape[1] == int(chunk.lengths.max())
        assert int(chunk.lengths.max()) <= max(2, 2 * int(chunk.lengths.min()) - 1)
    stacked = torch.cat([chunk.lengths for chunk in chunks])
    for form, token in enumerate(words):
        assert int(stacked[row[form]]) == len(token) + 1
    # the chunked character module gives each form the vector it gets on its own
    model = tagger.model.eval()
    with torch.inference_mode():
        together = model.char.forms(chunks)[torch.from_numpy(row)]
        for form in range(len(words)):
            length = int(forms["form_lengths"][form])
            alone = model.char.forms(
                [FormChunk(forms["form_bigrams"][form : form + 1, :length], forms["form_lengths"][form : form + 1])]
            )
            torch.testing.assert_close(together[form], alone[0])


def test_char_lowercase_merges_forms():
    texts = [["Cat", "cat", "CAT"]]
    sentences = [sentence_from_tags(t, ["O"] * 3, "en") for t in texts]
    for lowercase, expected in ((False, 3), (True, 1)):
        config = tiny_config(char_lowercase=lowercase)
        encoder = Encoder.build(config, sentences)
        batch = encoder.batch(encoder.encode(sentences), np.arange(1))
        assert sum(len(chunk.lengths) for chunk in batch.inputs["char"]["form_chunks"]) == expected


# ----------------------------------------------------------------------------- batching


@pytest.fixture(scope="module")
def encoded_corpus():
    sentences = synthetic_sentences(103, seed=4)
    encoder = Encoder.build(tiny_config(), sentences)
    return encoder, encoder.encode(sentences)


@pytest.mark.parametrize("seed", [None, 0, 17])
def test_batches_hold_every_sentence_exactly_once(encoded_corpus, seed):
    encoder, encoded = encoded_corpus
    batches = list(encoder.batches(encoded, batch_size=10, shuffle_seed=seed))
    indices = np.concatenate([b.indices for b in batches])
    assert sorted(indices.tolist()) == list(range(len(encoded)))
    assert all(len(b.indices) <= 10 for b in batches)
    for b in batches:  # rows hold the right sentences
        for row, index in enumerate(b.indices):
            assert int(b.lengths[row]) == len(encoded.features["word"].columns["word_ids"][index])
            expected = encoded.features["word"].columns["word_ids"][index].tolist()
            assert b.inputs["word"]["word_ids"][row, : b.lengths[row]].tolist() == expected


def test_batches_same_seed_same_order_other_seed_other_order(encoded_corpus):
    encoder, encoded = encoded_corpus

    def order(seed):
        return [b.indices.tolist() for b in encoder.batches(encoded, 10, shuffle_seed=seed)]

    assert order(5) == order(5)
    assert order(5) != order(6)
    assert order(None) == order(None)


def test_batches_without_seed_are_sorted_by_length(encoded_corpus):
    encoder, encoded = encoded_corpus
    lengths = [int(length) for b in encoder.batches(encoded, 10) for length in b.lengths]
    assert lengths == sorted(lengths, reverse=True)


def test_pretrained_vectors_initialise_word_embeddings(tmp_path):
    from eiwa.build import build
    from eiwa.errors import EiwaError

    path = tmp_path / "v.vec"
    path.write_text("2 8\nparis " + " ".join(["0.5"] * 8) + "\nzanzibar " + " ".join(["-1"] * 8) + "\n")
    config = tiny_config(word_vectors=str(path))
    tagger = build(config, synthetic_sentences(10)).tagger
    words = tagger.encoder.features["word"].vocabs["words"]
    assert "zanzibar" in words  # a word with a vector joins the vocabulary even when unseen in training
    weight = tagger.model.word.embedding.weight
    assert weight[words.index("paris")].tolist() == [0.5] * 8
    assert weight[words.index("zanzibar")].tolist() == [-1.0] * 8
    with pytest.raises(EiwaError, match="word_embedding_dim=8"):
        build(tiny_config(word_vectors=str(path), word_embedding_dim=5), synthetic_sentences(10))
