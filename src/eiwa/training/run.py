"""Training from data files: what `eiwa train` and `eiwa transfer` do, as one library function.

    from eiwa.training.run import Data, Output, train_files
    result = train_files(config, Data("train.conll", dev="dev.conll"), Output("models/en"))

It reads the data (a dev part held out when none is given), checks the output directory (an existing
model or an interrupted run is never overwritten by accident, and `resume` continues with the
checkpoint's own settings), holds the directory's lock, makes the start model(s) (build.py) and
trains: one model, the best of several candidates (`--modules auto`), or one model data-parallel.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from eiwa.build import Start, describe_start, starts
from eiwa.config import Config
from eiwa.doc import Sentence, entity_types
from eiwa.errors import EiwaError
from eiwa.persist.atomic import check_writable_directory, lock, read_json, write_json
from eiwa.persist.migrations import check_resumable
from eiwa.readers import infer_format, label_meanings, no_entities_hint, read, reader_of, sample_text
from eiwa.readers.files import sample
from eiwa.tagger import Tagger
from eiwa.tokenize.script import JAPANESE_SHARE, japanese_share, language_of
from eiwa.training import distributed
from eiwa.training.checkpoint import CHECKPOINT, checkpoint_config
from eiwa.training.honorifics import add_honorifics
from eiwa.training.train import TrainResult, silent, split_off_dev, train, warn_on_stderr

Log = Callable[[str], None]


@dataclass(frozen=True)
class Data:
    """Which data to train on and how to read it; `train` None for the installed Hironsan corpus."""

    train: str | Path | None
    dev: str | Path | None = None
    format: str | None = None  # None: inferred from the training file's content (`settle`)
    columns: Sequence[str] | None = None
    token_prefix: str | None = None
    labels: str | Path | Mapping[str, str] | None = None  # what its types mean: a labels file or a mapping
    allow_empty: bool = False  # keep Label Studio tasks nobody annotated

    def read(self, path: str | Path | None, lang: str, split_tokens: bool):
        if self.format is None:
            raise EiwaError("the data's format is not settled: call eiwa.training.run.settle first")
        return read(
            path,
            self.format,
            lang,
            columns=self.columns,
            token_prefix=self.token_prefix,
            split_tokens=split_tokens,
            allow_empty=self.allow_empty,
        )


def settle(data: Data, lang: str | None, log: Log = print, fallback: str = "en") -> tuple[Data, str]:
    """`data` with its format, and the language, where the caller left them out: inferred from the
    training file's content and said in the log (`fallback` where the file holds no text of its own).
    A given language the text contradicts is refused. The file's start is read once for both."""
    seen = sample(data.train) if data.train is not None else None
    if data.format is None:
        if data.train is None:
            raise EiwaError("no training data: give --train FILE (--format hironsan: the installed Hironsan corpus)")
        data = replace(data, format=infer_format(data.train, seen))
        log(f"reading {data.train} as {data.format} (inferred from its content; --format to choose)")
    text = sample_text(data.train, data.format, seen)
    if lang is None:
        lang = reader_of(data.format).lang or (language_of(text) if text else fallback)
        if text:
            log(f"language: {lang} (inferred from the text's script; --lang to choose)")
    elif text:
        check_language(data.train, lang, text)
    return data, lang


def check_language(path, lang: str, text: str) -> None:
    """Refuses a `lang` that the text's script contradicts: a model trained so would find nothing."""
    share = japanese_share(text)
    if lang == "en" and share >= JAPANESE_SHARE:
        raise EiwaError(f"{path}: the text is Japanese ({share:.0%} of its letters are kana or kanji) but --lang is en")
    if lang == "ja" and share == 0 and len(text) >= MIN_TEXT_TO_JUDGE:
        raise EiwaError(f"{path}: --lang is ja but the text has no kana or kanji (give --lang en)")


MIN_TEXT_TO_JUDGE = 200  # characters: below this a sample may lack kana by chance (a few names in romaji)


@dataclass(frozen=True)
class UnlabelledText:
    """Unlabelled text to learn from beside the gold data (training/self_training.py): a file of texts in
    any input format of `eiwa predict` (txt: a text a line), and the models that teach it (none: the
    model trained on the gold data, self-training)."""

    path: str | Path
    format: str | None = None  # None: as the file's name shows (serving.predict.format_of_name)
    teachers: Sequence[str | Path] = ()

    @classmethod
    def given(cls, path, format: str | None = None, teachers: Sequence = ()) -> UnlabelledText | None:
        """From the options of the CLI and the API: None without a path; teachers alone are refused."""
        if path is None:
            if teachers:
                raise EiwaError("a teacher tags unlabelled text: give the unlabelled text too (--unlabelled FILE)")
            return None
        return cls(path, format, tuple(teachers))

    def sentences(self, lang: str) -> list[Sentence]:
        """The file's texts split into sentences and tokenized, as tagging would see them."""
        from eiwa.serving.predict import read_items
        from eiwa.tokenize import document_sentences

        texts = [
            text if isinstance(text, str) else text.text for text, _ in read_items(str(self.path), self.format, lang)
        ]
        return document_sentences(texts, lang)[1]

    def load_teachers(self) -> list[Tagger]:
        return [Tagger.load(teacher) for teacher in self.teachers]


@dataclass(frozen=True)
class Output:
    """Where the model goes. `asked`: the settings the user named; with `resume` each must equal the
    checkpoint's, since the checkpoint's own settings are the ones that continue."""

    directory: str | Path
    resume: bool = False
    force: bool = False
    asked: frozenset[str] = field(default_factory=frozenset)


def train_files(
    config: Config,
    data: Data,
    output: Output,
    start: Start | None = None,
    device="cpu",
    nproc: int = 1,
    progress: bool = True,
    log: Log = print,
    unlabelled: UnlabelledText | None = None,
) -> TrainResult:
    """Read `data`, make the start model(s) (default: scratch) and train into `output`; returns the best
    model and its history. With `unlabelled`, also learn from that text (self_training.py)."""
    start = start or Start()
    data, _ = settle(data, config.lang, log)
    directory = Path(output.directory)
    if distributed.launched_by_torchrun():  # every process runs this; rank 0 alone writes
        if nproc > 1:
            raise EiwaError("under torchrun, leave out --nproc: torchrun starts the processes")
        with distributed.joined(str(device)) as (group, local_device):
            if group.leader:
                check_writable_directory(directory, "the model")
            leader_log = log if group.leader else (lambda _: None)
            with lock(directory) if group.leader else contextlib.nullcontext():
                if unlabelled is not None:
                    raise EiwaError("--unlabelled trains in one process: not under torchrun")
                result = _train_locked(
                    config, data, output, start, local_device, 1, progress and group.leader, leader_log
                )
                if group.leader:
                    record_label_meanings(directory, result.tagger)
                return result
    check_writable_directory(directory, "the model")
    with lock(directory):
        result = _train_locked(config, data, output, start, device, nproc, progress, log, unlabelled)
        record_label_meanings(directory, result.tagger)
        return result


def _train_locked(
    config, data: Data, output: Output, start: Start, device, nproc: int, progress: bool, log: Log, unlabelled=None
) -> TrainResult:
    directory = Path(output.directory)
    check_output(directory, config, output)
    sentences, dev = training_data(config, data, log)
    meanings = data_label_meanings(data, sentences, log)  # before training: a bad labels file fails at once
    if unlabelled is not None:
        result = _train_with_unlabelled(config, sentences, dev, output, start, device, nproc, progress, log, unlabelled)
    else:
        result = _train_on(config, sentences, dev, output, start, device, nproc, progress, log)
    if known := {name: meanings[name] for name in result.tagger.entity_types if name in meanings}:
        result.tagger.meta["labels"] = known
    return result


def _train_on(
    config, sentences, dev, output: Output, start: Start, device, nproc: int, progress: bool, log: Log
) -> TrainResult:
    directory = Path(output.directory)
    log(f"training on {len(sentences)} sentences, dev {len(dev)}; writing {directory}")
    candidates = [] if output.resume or not start.sources else starts(start, config, sentences, log)
    if not output.resume:
        log("config:\n" + (candidates[-1].config if candidates else config).describe())
    if len(candidates) > 1:
        if nproc > 1:
            raise EiwaError("--nproc trains one model: not with --modules auto")
        result = train_best(
            config, sentences, dev, candidates, out=directory, progress=progress, log=log, device=device
        )
        log(
            f"chose {result.tagger.meta['chosen']} (dev F1 {result.best_dev_f1:.4f}); {len(candidates)} "
            f"candidates trained in {result.seconds:.0f} s"
        )
        return result
    tagger = candidates[0] if candidates else None
    if nproc > 1:  # data-parallel over nproc processes; rank 0 writes the model, which is read back here
        distributed.run(
            nproc,
            train,
            config,
            sentences,
            dev,
            out=directory,
            resume=output.resume,
            tagger=tagger,
            progress=progress,
            device=str(device),
            # A spawned process logs to its own stderr (this console cannot travel), or not at all.
            log=silent if log is silent else None,
        )
        return _saved_result(directory)
    return train(
        config,
        sentences,
        dev,
        out=directory,
        resume=output.resume,
        tagger=tagger,
        progress=progress,
        log=log,
        device=device,
    )


NO_DEV_WITHOUT_GOLD = "without --train, give --dev: its types are the model's, and its F1 stops training"


def settle_transfer(data: Data, lang: str | None, unlabelled, log: Log = print) -> tuple[Data, str, bool]:
    """`settle` for a transfer, and whether it has no gold data but unlabelled text (zero-shot with
    unlabelled text, `train_without_gold`): the dev file then tells the format and the language."""
    zero_shot = data.train is None and unlabelled is not None and data.format != "hironsan"
    if zero_shot and data.dev is None:
        raise EiwaError(NO_DEV_WITHOUT_GOLD)
    settled, lang = settle(replace(data, train=data.dev) if zero_shot else data, lang, log, "ja")
    return replace(settled, train=data.train), lang, zero_shot


def train_without_gold(
    config: Config,
    data: Data,
    output: Output,
    start: Start,
    unlabelled: UnlabelledText,
    device="cpu",
    progress: bool = True,
    log: Log = print,
) -> TrainResult:
    """Zero-shot with unlabelled text: the source, its classifier mapped to the target types by an
    explicit label map, tags the text (or `unlabelled.teachers` do), and a student started from the
    same transfer learns from that alone. Dev data (`data.dev`) names the types and stops training."""
    from eiwa.training.self_training import train_with_unlabelled

    if not start.sources or start.label_map in (None, "auto"):
        raise EiwaError("without --train, transfer needs a source and an explicit --label-map (auto reads gold data)")
    if data.dev is None:
        raise EiwaError(NO_DEV_WITHOUT_GOLD)
    dev_data, _ = settle(replace(data, train=data.dev), config.lang, log)
    dev = dev_data.read(data.dev, config.lang, split_tokens=False).sentences
    directory = Path(output.directory)
    check_writable_directory(directory, "the model")
    with lock(directory):
        check_output(directory, config, output)
        sentences = unlabelled.sentences(config.lang)
        log(f"unlabelled: {len(sentences)} sentences from {unlabelled.path}; no gold sentences (zero-shot)")
        # Built on resume too: it is the default teacher, made the same way from the same seed.
        begin = starts(replace(start, target_types=entity_types(dev)), config, sentences, log)[0]
        teachers = unlabelled.load_teachers() or [copy.deepcopy(begin)]
        result = train_with_unlabelled(
            config,
            [],
            dev,
            sentences,
            teachers,
            start=begin,
            out=directory,
            resume=output.resume,
            progress=progress,
            log=log,
            device=device,
        )
        _record_rounds(directory, result)
        return result


def _record_rounds(directory: Path, result: TrainResult) -> None:
    """Each round's figures into the saved model's meta.json (outside its checksums, as labels)."""
    meta = read_json(directory / "meta.json")
    write_json(directory / "meta.json", {**meta, "self_training": result.tagger.meta["self_training"]})


def _train_with_unlabelled(
    config, sentences, dev, output: Output, start: Start, device, nproc: int, progress: bool, log: Log, unlabelled
) -> TrainResult:
    from eiwa.training.self_training import train_with_unlabelled

    if nproc > 1:
        raise EiwaError("--unlabelled trains in one process: leave out --nproc")
    unlabelled_sentences = unlabelled.sentences(config.lang)
    teachers = unlabelled.load_teachers()
    log(f"unlabelled: {len(unlabelled_sentences)} sentences from {unlabelled.path}")
    vocabulary = [*sentences, *unlabelled_sentences]  # the transferred start's new rows cover the unlabelled words
    candidates = [] if output.resume or not start.sources else starts(start, config, vocabulary, log)
    if len(candidates) > 1:
        raise EiwaError("--unlabelled trains one model: not with --modules auto")
    if not output.resume:
        log("config:\n" + (candidates[-1].config if candidates else config).describe())
    result = train_with_unlabelled(
        config,
        sentences,
        dev,
        unlabelled_sentences,
        teachers,
        start=candidates[0] if candidates else None,
        out=output.directory,
        resume=output.resume,
        progress=progress,
        log=log,
        device=device,
    )
    _record_rounds(Path(output.directory), result)
    return result


def data_label_meanings(data: Data, sentences: Sequence[Sentence], log: Log) -> dict[str, str]:
    """What the training data's types mean: the data's labels file over its documentation (readers/labels.py)."""
    types = entity_types(sentences)
    meanings = label_meanings(data.format, types, data.labels)
    if unexplained := [name for name in types if name not in meanings]:
        log(f"labels: no meaning known for {', '.join(unexplained)} (--labels FILE records what they mean)")
    else:
        log(f"labels: the meanings of all {len(types)} types go into the model (eiwa info shows them)")
    return meanings


def record_label_meanings(directory: Path, tagger: Tagger) -> None:
    """Put the tagger's label meanings into the saved model's meta.json (not covered by its checksums)."""
    if tagger.meta.get("labels"):
        meta = read_json(directory / "meta.json")
        write_json(directory / "meta.json", {**meta, "labels": tagger.meta["labels"]})


def check_output(directory: Path, config: Config, output: Output) -> None:
    """An existing model or interrupted run is kept unless asked otherwise; a resume continues as saved."""
    checkpoint = directory / CHECKPOINT
    if not (output.resume or output.force):
        if checkpoint.exists():
            raise EiwaError(
                f"{directory} holds the checkpoint of an interrupted run: use --resume to continue it "
                "or --force to start over"
            )
        if (directory / "meta.json").exists():
            raise EiwaError(
                f"{directory} already holds a model: use --force to overwrite it or --resume to continue training"
            )
    if output.resume:
        _check_resumable(directory, config, output.asked)


def _check_resumable(directory: Path, config: Config, asked: frozenset[str]) -> None:
    check_resumable(directory, directory / CHECKPOINT)
    if not (directory / CHECKPOINT).exists():
        raise EiwaError(f"--resume: no checkpoint in {directory} to resume from")
    saved = checkpoint_config(directory / CHECKPOINT).to_dict()
    if saved["transferred"]:  # a transferred model's architecture is its source's, not its --config's
        from eiwa.crosslingual.starts import ARCHITECTURE

        asked = {name for name in asked if not any(name in keys for keys in ARCHITECTURE.values())}
    wanted = config.to_dict()
    differ = [
        f"{name} {saved[name]!r} (asked {wanted[name]!r})"
        for name in sorted(asked)
        if name in wanted and wanted[name] != saved[name]
    ]
    if differ:
        raise EiwaError(
            f"--resume continues with the checkpoint's settings, which differ from those given: "
            f"{'; '.join(differ)}; drop them, or start over with --force"
        )


def training_data(
    config: Config, data: Data, log: Log = print, warn: Log = warn_on_stderr
) -> tuple[list[Sentence], list[Sentence]]:
    """The training and dev sentences: dev from its own file, else every k-th training sentence; what
    the data loses (overlapping entities) is a warning."""
    corpus = data.read(data.train, config.lang, split_tokens=True)
    if corpus.token_splits:
        log(f"split {corpus.token_splits} tokens at entity boundaries so that no training entity is lost")
    if overlapping := corpus.overlapping_entities():
        warn(
            f"{overlapping} gold entities overlap an earlier one and are left out of training "
            "(flat tags cannot hold nested entities)"
        )
    sentences = corpus.sentences
    if data.dev:
        dev = data.read(data.dev, config.lang, split_tokens=False).sentences
    elif config.dev_fraction > 0:
        sentences, dev = split_off_dev(sentences, config.dev_fraction)
        log(f"dev: every {round(1 / config.dev_fraction)}th training sentence ({len(dev)} sentences)")
    else:
        raise EiwaError("no dev data for early stopping: give --dev or keep dev_fraction above 0")
    if not any(s.entities for s in sentences):
        raise EiwaError(f"the training data has no entities{no_entities_hint(data.format)}")
    if config.honorifics:  # after the dev split: dev stays as the data has it
        sentences = add_honorifics(sentences, config.honorifics, config.seed, log)
    return sentences, dev


# `--modules auto` keeps its first candidate (the default start) unless another beats it on dev by more
# than chance: a paired approximate-randomization test over the dev sentences, each of the k other
# candidates at SIGNIFICANCE / k (Bonferroni), so that noise replaces the default at most 5% of the
# time. On a hundred dev sentences, dev F1 differences of a point or two are within what another
# draw of the sentences would give, and choosing on them picks noise.
SIGNIFICANCE = 0.05


@dataclass
class _Tried:
    result: TrainResult
    name: str
    counts: np.ndarray  # [dev sentences, 3]: true positives, predicted, gold
    f1: float


def train_best(
    config: Config,
    train_part: Sequence[Sentence],
    dev_part: Sequence[Sentence],
    start: Tagger | list[Tagger] | None,
    out=None,
    progress: bool = False,
    log=lambda _: None,
    device: str = "cpu",
):
    """Train `start` (None: a fresh tagger); a list of candidates (the first is the default): train
    each and keep the default unless another is better on dev beyond chance (`SIGNIFICANCE`), recording
    the choice, every candidate's dev F1 and the test in the model's meta ("chosen", "candidates",
    "auto"). The result's `seconds` is then the whole run's, every candidate's training included."""
    if not isinstance(start, list):
        return train(config, train_part, dev_part, tagger=start, out=out, progress=progress, log=log, device=device)
    started = time.perf_counter()
    tried = []
    for candidate in start:
        result = train(config, train_part, dev_part, tagger=candidate, progress=progress, log=log, device=device)
        tried.append(_dev_counts(result, describe_start(candidate), dev_part))
        log(f"candidate {tried[-1].name}: dev F1 {tried[-1].f1:.4f} ({result.seconds:.0f} s)")
    chosen, tests = _choose(tried, log)
    best = chosen.result
    seconds = time.perf_counter() - started
    best.tagger.meta["chosen"] = chosen.name
    best.tagger.meta["candidates"] = [
        {"start": t.name, "dev_f1": t.f1, "seconds": round(t.result.seconds, 1), **test}
        for t, test in zip(tried, tests)
    ]
    best.tagger.meta["auto"] = {
        "default": tried[0].name,
        "dev_sentences": len(dev_part),
        "dev_entities": int(tried[0].counts[:, 2].sum()),
        "significance": SIGNIFICANCE,
        "seconds": round(seconds, 1),
    }
    if out is not None:
        best.tagger.save(
            out,
            training={
                "best_dev_f1": best.best_dev_f1,
                "best_epoch": best.best_epoch,
                "epochs": best.epochs,
                "seconds": best.seconds,
            },
        )
    return replace(best, seconds=seconds)


def _dev_counts(result: TrainResult, name: str, dev_part: Sequence[Sentence]) -> _Tried:
    from eiwa.study.stats import micro_f1, sentence_counts  # plain numpy: the statistics the study reports

    predicted = result.tagger.tag_sentences(dev_part)
    counts = np.array(
        [
            sentence_counts((e.as_tuple() for e in s.entities), (e.as_tuple() for e in p))
            for s, p in zip(dev_part, predicted)
        ],
        dtype=np.int64,
    ).reshape(-1, 3)
    return _Tried(result, name, counts, micro_f1(counts) if len(counts) else 0.0)


def _choose(tried: list[_Tried], log) -> tuple[_Tried, list[dict]]:
    """The default (first) candidate, or the best on dev of those beating it beyond chance; per
    candidate, its dev F1 difference from the default and p (none for the default itself)."""
    from eiwa.study.stats import approximate_randomization

    default, others = tried[0], tried[1:]
    level = SIGNIFICANCE / max(1, len(others))
    tests, winners = [{}], []
    for other in others:
        p = approximate_randomization(other.counts, default.counts) if len(default.counts) else 1.0
        tests.append({"difference": round(other.f1 - default.f1, 4), "p": round(p, 4)})
        if other.f1 > default.f1 and p < level:
            winners.append((other, p))
    dev = f"{len(default.counts)} dev sentences, {int(default.counts[:, 2].sum()):,} entities"
    if not winners:
        log(
            f"--modules auto keeps the default {default.name}: no other candidate beats its dev F1 "
            f"{default.f1:.4f} beyond chance ({dev}; paired approximate randomization, p < {level:.4f} needed)"
        )
        return default, tests
    best, p = max(winners, key=lambda pair: pair[0].f1)
    log(
        f"--modules auto chose {best.name}: dev F1 {best.f1:.4f} against the default's {default.f1:.4f} "
        f"(paired approximate randomization p = {p:.4f} < {level:.4f}; {dev})"
    )
    return best, tests


def _saved_result(directory: Path) -> TrainResult:
    tagger = Tagger.load(directory)
    summary = tagger.meta["training"]
    return TrainResult(
        tagger,
        summary["best_dev_f1"],
        summary["best_epoch"],
        summary["epochs"],
        summary["seconds"],
        warnings=summary.get("warnings", []),
    )
