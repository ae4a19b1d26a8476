"""flair's half of benchmarks/versus_flair.py; runs in benchmarks/.flair-venv (see setup-flair.sh).

Reads train/dev/test sentences (tokens and gold entity token spans) that versus_flair.py wrote,
trains a flair SequenceTagger configured as eiwa's architecture, times it, tags the test set
and writes flair.json beside the data: timings, peak memory and the predicted token spans
(scored by versus_flair.py with eiwa's scorer, so that both taggers are scored alike).
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import statistics
import time
from pathlib import Path

import torch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", required=True, type=Path)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hidden", type=int, default=100, help="word-level LSTM size per direction (eiwa's default)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import flair
    from flair.data import Corpus, Dictionary, Sentence
    from flair.embeddings import CharacterEmbeddings, OneHotEmbeddings, StackedEmbeddings
    from flair.models import SequenceTagger
    from flair.trainers import ModelTrainer

    logging.getLogger("flair").setLevel(logging.WARNING)
    flair.set_seed(args.seed)
    data = {
        part: json.loads((args.work / f"{part}.json").read_text(encoding="utf-8")) for part in ("train", "dev", "test")
    }

    def sentences(part: str, with_gold: bool = True) -> list[Sentence]:
        made = []
        for record in data[part]:
            sentence = Sentence(record["tokens"])
            if with_gold:
                for start, end, kind in record["spans"]:
                    sentence[start:end].add_label("ner", kind)
            made.append(sentence)
        return made

    corpus = Corpus(sentences("train"), sentences("dev"), None, sample_missing_splits=False)
    # The same architecture as eiwa: a trainable word embedding (100; words seen once are left to
    # the unknown word), a character BiLSTM (25-dim characters, 25 per direction), one word-level
    # BiLSTM (eiwa's hidden size per direction), dropout 0.5, CRF, BIOES tags.
    characters = Dictionary()
    for sentence in corpus.train:
        for token in sentence:
            for char in token.text:
                characters.add_item(char)
    embeddings = StackedEmbeddings(
        [
            OneHotEmbeddings.from_corpus(corpus, min_freq=2, embedding_length=100),
            CharacterEmbeddings(characters, char_embedding_dim=25, hidden_size_char=25),
        ]
    )
    tags = corpus.make_label_dictionary("ner", add_unk=False)
    tagger = SequenceTagger(
        embeddings,
        tags,
        "ner",
        hidden_size=args.hidden,
        use_crf=True,
        reproject_embeddings=False,
        dropout=0.5,
        word_dropout=0.0,
        locked_dropout=0.0,
        tag_format="BIOES",
    )
    trainer = ModelTrainer(tagger, corpus)
    started = time.perf_counter()
    trainer.train(
        str(args.work / "flair-model"),
        learning_rate=0.002,
        optimizer=torch.optim.Adam,
        mini_batch_size=args.batch_size,
        eval_batch_size=64,
        max_epochs=args.epochs,
        attach_default_scheduler=False,
        save_final_model=False,
        create_file_logs=False,
        create_loss_file=False,
        embeddings_storage_mode="none",
        shuffle=True,
        # The final epoch's weights, kept in memory. flair 0.15.1's reload of best-model.pt
        # loses this stack's word embedding weights (dev F1 0.80 before saving, 0.01 after).
        use_final_model_for_eval=True,
    )
    train_seconds = time.perf_counter() - started

    tagger.predict(sentences("dev", with_gold=False), mini_batch_size=64)  # warm-up
    times = []
    for _ in range(3):
        test = sentences("test", with_gold=False)
        started = time.perf_counter()
        tagger.predict(test, mini_batch_size=64, label_name="predicted")
        times.append(time.perf_counter() - started)
    predicted = [
        [[span.tokens[0].idx - 1, span.tokens[-1].idx, span.tag] for span in s.get_spans("predicted")] for s in test
    ]
    result = {
        "tool": f"flair {flair.__version__}",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "train_seconds": train_seconds,
        "tag_seconds": statistics.median(times),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "predicted": predicted,
    }
    (args.work / "flair.json").write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()
