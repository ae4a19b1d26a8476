"""The `eiwa` command line: train, evaluate, predict, cv, info, quickstart."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from eiwa import __version__
from eiwa.config import INPUTS, load_config
from eiwa.readers.core import FORMATS, Corpus, entity_types, read_conll, read_corpus, read_text, text_records, tokenizer_for
from eiwa.errors import DataError, EiwaError
from eiwa.serving.writers import OUTPUT_FORMATS
from eiwa.scoring import Scores
from eiwa.persist.atomic import check_writable, lock, write_atomic
from eiwa.persist.model_dir import builtin_models
from eiwa.serving.results import to_json
from eiwa.tagger import Tagger, resolve_device

console = Console(stderr=True, soft_wrap=True, highlight=False)


class Group(click.Group):
    """Turns eiwa's own errors into one line on stderr and exit status 2, with no traceback."""

    def invoke(self, ctx):
        previous = signal.signal(signal.SIGTERM, _terminate)
        try:
            return super().invoke(ctx)
        except EiwaError as error:
            click.echo(f"eiwa: error: {error}", err=True)
            sys.exit(2)
        except Terminated:
            click.echo("eiwa: terminated (SIGTERM); a training run can continue with --resume", err=True)
            sys.exit(143)
        except KeyboardInterrupt:
            click.echo("eiwa: interrupted", err=True)
            sys.exit(130)
        finally:
            signal.signal(signal.SIGTERM, previous)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that it unwinds as Ctrl-C does (every file that
    is being written is either finished or removed; the last checkpoint stays)."""


def _terminate(signum, frame):
    raise Terminated()


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="eiwa")
def cli():
    """eiwa (英和): Japanese named-entity recognition by transfer from English.

    \b
    Start with:  eiwa quickstart
    Each command has --help with examples.
    """


# ----------------------------------------------------------------------------- shared options


def data_options(function):
    options = [
        click.option("--format", "fmt", type=click.Choice(FORMATS), default="conll", show_default=True,
                     help="conll: token-per-line columns; spans: JSON/JSONL raw text with character spans; "
                          "doccano: Doccano's JSONL export ({text, label: [[start, end, type]]}); label-studio: "
                          "a Label Studio JSON export (the labels result format); "
                          "hironsan: the installed Hironsan corpus (no path needed); parts: a TOML file listing "
                          "corpora read as one, each with its own format and columns (see data.read_parts)."),
        click.option("--columns", callback=_split_columns,
                     help="Comma-separated column names for CoNLL files, e.g. token,reading,pos,tag "
                          "(default: first column token, last column tag)."),
        click.option("--token-prefix", help="Prefix to strip from CoNLL tokens (WikiANN: 'en:')."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def model_options(function):
    options = [
        click.option("--lang", type=click.Choice(["en", "ja"]), help="Language of the data (default: en)."),
        click.option("--word-input", type=click.Choice(INPUTS), help="Japanese: the word module reads native script or romaji."),
        click.option("--char-input", type=click.Choice(INPUTS), help="Japanese: the char module reads native script or romaji."),
        click.option("--features", help="Token features, comma-separated: char, word, pos, vectors, gazetteer "
                                        "(default char,word; the ja-small recipe uses its own)."),
        click.option("--seed", type=click.IntRange(min=0), help="Random seed (default 1)."),
        click.option("--config", "config_path", type=click.Path(dir_okay=False),
                     help="Hyper-parameters from a TOML or JSON file."),
        click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                     help="Override one hyper-parameter; repeatable (e.g. --set max_epochs=20)."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def device_option(function):
    """--device, resolved (and an unusable one refused) before the command does any work."""
    return click.option("--device", default="cpu", show_default=True, metavar="cpu|cuda|cuda:N|auto",
                        callback=lambda ctx, param, value: resolve_device(value),
                        help="Where the model runs (auto: CUDA when PyTorch sees a GPU). GPU needs a CUDA build of "
                             "PyTorch; repeatable bit for bit only on the CPU.")(function)


def _split_columns(ctx, param, value):
    return [c.strip() for c in value.split(",") if c.strip()] if value else None


def _print_scores(title: str, scores: Scores) -> None:
    table = Table(title=title)
    for column in ("type", "precision", "recall", "F1", "gold", "predicted"):
        table.add_column(column, justify="left" if column == "type" else "right")
    rows = [(name, s) for name, s in sorted(scores.per_type.items())] + [("micro", scores)]
    for name, s in rows:
        table.add_row(name, f"{s.precision:.4f}", f"{s.recall:.4f}", f"{s.f1:.4f}", str(s.gold), str(s.predicted))
    Console(soft_wrap=True).print(table)


def _misaligned_note(corpus: Corpus) -> str | None:
    total = sum(len(s.entities) for s in corpus.sentences)
    lost = sum(s.misaligned_entities() for s in corpus.sentences)
    if not total or not lost:
        return None
    return f"{lost} of {total} gold entities ({lost / total:.2%}) have a boundary inside a token and cannot be found"


# ----------------------------------------------------------------------------- train


def transfer_options(function):
    options = [
        click.option("--source", help="Source model directory or built-in name (e.g. conll03-en); with --modules auto, "
                                      "several, comma-separated."),
        click.option("--modules", default=None,
                     help="Modules to copy from the source: a comma-separated subset of char,word,pos,gazetteer,"
                          "classifier (the source's and target's modules), none, or auto (chosen on dev data)."),
        click.option("--label-map", help="Source types to target types: PER=PSN,LOC=LOC,... , a file, or auto (default)."),
        click.option("--fine-tune", type=click.Choice(["all", "frozen", "lower-lr"]),
                     help="Train all weights (default), keep transferred ones frozen, or give them a lower learning "
                          "rate (--set transferred_lr_scale=0.1)."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def training_options(function):
    options = [
        click.option("--train", "train_path", type=click.Path(), help="Training data (not needed for --format hironsan)."),
        click.option("--dev", "dev_path", type=click.Path(),
                     help="Dev data for early stopping (default: every 10th training sentence)."),
        click.option("--out", required=True, type=click.Path(file_okay=False), help="Model directory to write."),
        click.option("--resume", is_flag=True, help="Continue an interrupted run from the checkpoint in --out."),
        click.option("--force", is_flag=True, help="Overwrite a model already in --out."),
        click.option("--quiet", is_flag=True, help="No progress bar."),
        click.option("--nproc", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Train one model data-parallel over this many processes (torch.distributed: gloo on the "
                          "CPU, one GPU each on CUDA); --set threads=1 keeps them from sharing cores."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _run_training(config, fmt, columns, token_prefix, train_path, dev_path, out, resume, force, quiet, make_tagger=None,
                  asked=(), device="cpu", nproc=1):
    """Read training and dev data, then train (a fresh tagger, or the one make_tagger builds) into `out`.

    `asked`: the settings the user named (--set keys, flags, --config's keys); with --resume each
    must equal the checkpoint's, since the checkpoint's own settings are the ones that continue."""
    from eiwa.training import distributed

    out_dir = Path(out)
    if distributed.launched_by_torchrun():  # every process runs this command; rank 0 alone writes
        if nproc > 1:
            raise EiwaError("under torchrun, leave out --nproc: torchrun starts the processes")
        with distributed.joined(str(device)) as (group, local_device):
            if group.leader:
                check_writable(out_dir, "the model")
            else:
                console.quiet = quiet = True
            with lock(out_dir) if group.leader else contextlib.nullcontext():
                _train_locked(config, fmt, columns, token_prefix, train_path, dev_path, out_dir, resume, force, quiet,
                              make_tagger, asked, local_device)
        return
    check_writable(out_dir, "the model")
    with lock(out_dir):
        _train_locked(config, fmt, columns, token_prefix, train_path, dev_path, out_dir, resume, force, quiet,
                      make_tagger, asked, device, nproc)


def _asked_settings(config_path, overrides, **flags) -> set[str]:
    """The names of the settings a command line gives: --set keys, flags given, the --config file's keys."""
    from eiwa.config import read_config_values

    names = {key for key, value in flags.items() if value is not None}
    names |= {o.partition("=")[0].strip().replace("-", "_") for o in overrides}
    if config_path:
        names |= set(read_config_values(config_path))
    return names


def _train_locked(config, fmt, columns, token_prefix, train_path, dev_path, out_dir, resume, force, quiet, make_tagger,
                  asked, device, nproc=1):
    from eiwa.study.cv import train_best
    from eiwa.training.train import CHECKPOINT, checkpoint_config, split_off_dev, train as run_training

    if not (resume or force):
        if (out_dir / CHECKPOINT).exists():
            raise EiwaError(f"{out_dir} holds the checkpoint of an interrupted run: use --resume to continue it "
                            "or --force to start over")
        if (out_dir / "meta.json").exists():
            raise EiwaError(f"{out_dir} already holds a model: use --force to overwrite it or --resume to continue training")
    if resume:
        if not (out_dir / CHECKPOINT).exists() and (out_dir / "checkpoint" / "state.json").exists():
            raise EiwaError(f"{out_dir} holds a checkpoint of eiwa 0.2 (a checkpoint/ folder), which eiwa 0.3 does "
                            "not resume: train again with --force")
        if not (out_dir / CHECKPOINT).exists():
            raise EiwaError(f"--resume: no checkpoint in {out_dir} to resume from")
        saved = checkpoint_config(out_dir / CHECKPOINT)
        if saved.transferred:  # a transferred model's architecture is its source's, not its --config's
            from eiwa.transfer.core import ARCHITECTURE

            asked = {name for name in asked if not any(name in keys for keys in ARCHITECTURE.values())}
        wanted = config.to_dict()
        differ = [f"{name} {saved.to_dict()[name]!r} (asked {wanted[name]!r})" for name in sorted(asked)
                  if name in wanted and wanted[name] != saved.to_dict()[name]]
        if differ:
            raise EiwaError(f"--resume continues with the checkpoint's settings, which differ from those given: "
                            f"{'; '.join(differ)}; drop them, or start over with --force")
    corpus = read_corpus(fmt, train_path, config.lang, columns, token_prefix, split_tokens=True)
    if corpus.token_splits:
        console.print(f"split {corpus.token_splits} tokens at entity boundaries so that no training entity is lost")
    if overlapping := corpus.overlapping_entities():
        console.print(f"{overlapping} gold entities overlap an earlier one and are left out of training "
                      "(flat tags cannot hold nested entities)")
    sentences = corpus.sentences
    if dev_path:
        dev = read_corpus(fmt, dev_path, config.lang, columns, token_prefix, split_tokens=False).sentences
    elif config.dev_fraction > 0:
        sentences, dev = split_off_dev(sentences, config.dev_fraction)
        console.print(f"dev: every {round(1 / config.dev_fraction)}th training sentence ({len(dev)} sentences)")
    else:
        raise EiwaError("no dev data for early stopping: give --dev or keep dev_fraction above 0")
    if not any(s.entities for s in sentences):
        raise EiwaError("the training data has no entities: is the tag column right (see --columns)?")
    console.print(f"training on {len(sentences)} sentences, dev {len(dev)}; writing {out_dir}")
    tagger = None
    if not resume:
        tagger = make_tagger(config, sentences) if make_tagger else None
        shown = tagger[-1] if isinstance(tagger, list) else tagger
        console.print("config:\n" + (shown.config if shown else config).describe())
    if isinstance(tagger, list) and nproc > 1:
        raise EiwaError("--nproc trains one model: not with --modules auto")
    if isinstance(tagger, list):  # --modules auto: train every candidate, keep the best on dev
        result = train_best(config, sentences, dev, tagger, out=out_dir, progress=not quiet,
                            log=lambda line: console.print(line), device=device)
        console.print(f"chose {result.tagger.meta['chosen']} (dev F1 {result.best_dev_f1:.4f})")
    elif nproc > 1:  # data-parallel over nproc processes; rank 0 writes the model, which is read back here
        from eiwa.training import distributed
        from eiwa.persist.atomic import read_json

        distributed.run(nproc, run_training, config, sentences, dev, out=out_dir, resume=resume, tagger=tagger,
                        progress=not quiet, device=str(device))
        summary = read_json(out_dir / "meta.json")["training"]
        console.print(f"best dev F1 {summary['best_dev_f1']:.4f} at epoch {summary['best_epoch']} of "
                      f"{summary['epochs']} ({summary['seconds']:.0f} s, {nproc} processes); model saved to {out_dir}")
        return
    else:
        result = run_training(config, sentences, dev, out=out_dir, resume=resume, tagger=tagger, progress=not quiet,
                              device=device)
    console.print(f"best dev F1 {result.best_dev_f1:.4f} at epoch {result.best_epoch} of {result.epochs} "
                  f"({result.seconds:.0f} s); model saved to {out_dir}")


def _transfer_factory(source_name, modules_spec, label_map_spec, log):
    """(config, sentences) -> transferred Tagger, for `transfer` and `cv --source`; with
    `--modules auto`, the list of candidate start models (every source of a comma-separated
    --source, each with transfer.auto_candidates), of which training keeps the best on dev."""
    from eiwa.study.cv import describe_start
    from eiwa.transfer.core import AUTO, auto_starts, parse_modules, resolve_label_map, transfer

    auto = modules_spec.strip() == AUTO
    sources = [Tagger.load(name.strip()) for name in (source_name.split(",") if auto else [source_name]) if name.strip()]
    modules = None if auto else parse_modules(modules_spec)

    def start(source, config, sentences, modules):
        label_map = resolve_label_map(label_map_spec, source, config, sentences, log) if "classifier" in modules else {}
        tagger, report = transfer(source, config, sentences, modules, label_map)
        for line in report.lines():
            log(line)
        return tagger

    def make_tagger(config, sentences):
        if not auto:
            return start(sources[0], config, sentences, modules)
        candidates = auto_starts(config, sentences, sources, lambda source, subset: start(source, config, sentences, subset))
        log(f"--modules auto: {len(candidates)} candidates, chosen by dev F1: "
            + "; ".join(describe_start(c) for c in candidates))
        return candidates

    return make_tagger


@cli.command()
@model_options
@data_options
@training_options
@device_option
def train(lang, word_input, char_input, features, seed, config_path, overrides, fmt, columns, token_prefix,
          train_path, dev_path, out, resume, force, quiet, nproc, device):
    """Train a tagger from scratch.

    \b
    Examples:
      eiwa train --lang en --train ../shared/data/conll2003/train.txt \\
                 --dev ../shared/data/conll2003/valid.txt --out models/conll03
      eiwa train --lang ja --format spans --train ner.json --char-input romaji --out models/ja
      eiwa train --lang ja --format hironsan --config small-data --out models/hironsan
      eiwa train ... --out models/conll03 --resume      # after an interruption
      eiwa train ... --out models/conll03 --nproc 2 --set threads=1   # two processes, gradients averaged
    """
    config = load_config(config_path, list(overrides), lang=lang, word_input=word_input, char_input=char_input, seed=seed,
                         features=features)
    asked = _asked_settings(config_path, overrides, lang=lang, word_input=word_input, char_input=char_input, seed=seed,
                            features=features)
    _run_training(config, fmt, columns, token_prefix, train_path, dev_path, out, resume, force, quiet, asked=asked,
                  device=device, nproc=nproc)


@cli.command()
@model_options
@data_options
@transfer_options
@training_options
@device_option
def transfer(lang, word_input, char_input, features, seed, config_path, overrides, fmt, columns, token_prefix,
             source, modules, label_map, fine_tune, train_path, dev_path, out, resume, force, quiet, nproc, device):
    """Start a model from a source model (e.g. English), module by module, and fine-tune it.

    Transferred modules keep the source weights; their embedding tables cover the source's items
    plus the target's new ones. The output layer and CRF follow --label-map. --modules none trains
    from scratch through the same code path.

    \b
    Examples:
      eiwa transfer --source conll03-en --lang ja --format hironsan --modules char,classifier \\
                    --word-input native --char-input romaji --label-map PER=PSN,LOC=LOC,ORG=ORG,MISC=ART \\
                    --config small-data --out models/hironsan-transfer
      eiwa transfer --source models/conll03 --lang ja --format spans --train ner.json \\
                    --modules classifier --label-map auto --fine-tune lower-lr --out models/ja
    """
    if not resume and (not source or not modules):
        raise EiwaError("transfer needs --source and --modules")
    if resume and modules == "auto":
        raise EiwaError("--resume continues one model: it cannot be combined with --modules auto")
    config = load_config(config_path, list(overrides), lang=lang or "ja", word_input=word_input, char_input=char_input,
                         seed=seed, fine_tune=fine_tune, features=features)
    factory = None if resume else _transfer_factory(source, modules, label_map, lambda line: console.print(line))
    asked = _asked_settings(config_path, overrides, lang=lang, word_input=word_input, char_input=char_input, seed=seed,
                            fine_tune=fine_tune, features=features)
    _run_training(config, fmt, columns, token_prefix, train_path, dev_path, out, resume, force, quiet, factory, asked,
                  device, nproc)


# ----------------------------------------------------------------------------- evaluate


@cli.command()
@click.argument("model")
@data_options
@click.option("--data", "data_path", type=click.Path(), help="Data to score (not needed for --format hironsan).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: precision, recall, f1, per_type.")
@device_option
def evaluate(model, fmt, columns, token_prefix, data_path, as_json, device):
    """Score a model: entity-level exact match, micro and per type.

    MODEL is a model directory or the name of a built-in model. Raw-text data (--format spans)
    is scored on character spans of the original text.

    \b
    Examples:
      eiwa evaluate models/conll03 --data ../shared/data/conll2003/test.txt
      eiwa evaluate models/ja --format spans --data test.jsonl --json
    """
    tagger = Tagger.load(model).to(device)
    corpus = read_corpus(fmt, data_path, tagger.config.lang, columns, token_prefix, split_tokens=False)
    if not any(s.entities for s in corpus.sentences):
        raise EiwaError(f"{data_path or fmt}: no gold entities to score against (every F1 would be 0); "
                        "is the tag column right (see --columns)?")
    scores = tagger.evaluate(corpus.sentences)
    note = _misaligned_note(corpus)
    if as_json:
        result = scores.to_dict()
        if fmt == "spans":
            result["entities_lost_to_token_boundaries"] = sum(s.misaligned_entities() for s in corpus.sentences)
        click.echo(json.dumps(result, ensure_ascii=False))
    else:
        _print_scores(f"{model} on {data_path or fmt} ({len(corpus.sentences)} sentences)", scores)
        if note:
            console.print(note)


# ----------------------------------------------------------------------------- predict


@cli.command()
@click.argument("model")
@click.argument("texts", nargs=-1)
@click.option("--input", "input_path", type=click.Path(allow_dash=True),
              help="Read sentences from this file (- for standard input) instead of TEXT arguments.")
@click.option("--format", "fmt", type=click.Choice(["txt", "conll", "jsonl"]), default="txt", show_default=True,
              help="txt: one sentence a line (read as it comes); conll: tokens in the first column (or --columns); "
                   "jsonl: objects with a \"text\" field (their \"id\" and \"meta\" are passed through).")
@click.option("--columns", callback=_split_columns, help="Column names for --format conll.")
@click.option("--token-prefix", help="Prefix to strip from CoNLL tokens.")
@click.option("--output", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write here (default, or -: standard output).")
@click.option("--output-format", type=click.Choice(OUTPUT_FORMATS), default="jsonl", show_default=True,
              help="jsonl: one JSON record a line; conll: token and IOB2 tag a line; html: one page with the "
                   "entities highlighted.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--min-confidence", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Leave out entities whose confidence (the model's probability of their tags) is lower.")
@device_option
def predict(model, texts, input_path, fmt, columns, token_prefix, output, output_format, batch_size, min_confidence,
            device):
    """Tag raw text or a file; write JSONL lines
    {"text", "entities": [{"start", "end", "type", "text", "confidence"}]} (or CoNLL, or HTML).

    Results are written as they are made, a thousand sentences at a time; a file named by
    --output appears whole when the run ends.

    \b
    Examples:
      eiwa predict models/conll03 "John lives in New York."
      eiwa predict eiwa-quickstart "田中さんは東京の日本銀行に勤めている。"
      eiwa predict models/ja --input sentences.txt --output tagged.jsonl
      cat sentences.txt | eiwa predict models/ja --input - --output-format conll
      eiwa predict models/ja --input docs.jsonl --format jsonl --output-format html --output entities.html
      eiwa predict models/conll03 --input test.txt --format conll
    """
    import itertools

    from eiwa.serving.writers import WRITERS
    from eiwa.persist.atomic import atomic_text
    from eiwa.tagger import as_json

    to_file = output not in (None, "-")
    if to_file:
        check_writable(output, "predictions")
    if input_path and texts:
        raise EiwaError("give either TEXT arguments or --input, not both")
    if input_path is None and not texts:
        raise EiwaError("nothing to tag: give TEXT arguments or --input PATH")
    tagger = Tagger.load(model).to(device)
    tokenizer = None if fmt == "conll" and input_path else tokenizer_for(tagger.config.lang)
    if texts:
        items = ((text, {}) for text in texts)
    elif fmt == "conll":
        items = ((s, {}) for s in read_conll(_readable(input_path), tagger.config.lang, columns, token_prefix).sentences)
    elif fmt == "jsonl":
        items = ((record["text"], {k: record[k] for k in ("id", "meta") if k in record})
                 for _, record in text_records(_readable(input_path)))
    else:
        items = ((line, {}) for line in _lines(input_path))
    if to_file:
        destination = atomic_text(output)
    else:
        sys.stdout.reconfigure(errors="backslashreplace")  # a lone surrogate in the input, in CoNLL or HTML
        destination = contextlib.nullcontext(sys.stdout)
    count = 0
    with destination as stream:
        writer = WRITERS[output_format](stream, tagger.entity_types)
        while chunk := list(itertools.islice(items, 1000)):
            sentences = [item if tokenizer is None else tokenizer.sentence(item) for item, _ in chunk]
            for (_, extra), sentence, spans in zip(chunk, sentences,
                                                   tagger.tag_sentences(sentences, batch_size, confidence=True)):
                record = {**extra, **as_json(sentence.text, [s for s in spans if s.confidence >= min_confidence])}
                writer.write(record, sentence)
            stream.flush()
            count += len(chunk)
        writer.close()
    if to_file:
        console.print(f"wrote {count} results to {output}")


def _readable(path: str) -> str:
    """A path for readers that take one: standard input is read into a temporary file first."""
    if path != "-":
        return path
    import atexit
    import os
    import tempfile

    handle = tempfile.NamedTemporaryFile("wb", suffix=".stdin", delete=False)
    with handle:
        handle.write(sys.stdin.buffer.read())
    atexit.register(os.unlink, handle.name)
    return handle.name


def _lines(path: str):
    """The lines of a text file or of standard input, read as they come (a bad byte names its line)."""
    stream = sys.stdin.buffer if path == "-" else None
    try:
        stream = stream or open(path, "rb")
    except OSError as error:
        raise DataError(path, None, f"cannot read: {error.strerror}") from None
    with contextlib.closing(stream) if path != "-" else contextlib.nullcontext(stream):
        for number, raw in enumerate(stream, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise DataError("<stdin>" if path == "-" else path, number, f"invalid UTF-8 ({error.reason})") from None
            if number == 1:
                line = line.removeprefix("\ufeff")
            yield line.rstrip("\r\n")


# ----------------------------------------------------------------------------- serve


@cli.command()
@click.argument("model")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (0.0.0.0: every interface).")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Server processes, each with its own copy of the model.")
@click.option("--max-batch", type=click.IntRange(min=1), default=256, show_default=True,
              help="Texts per model call when concurrent requests are gathered.")
@click.option("--max-wait-ms", type=click.FloatRange(min=0), default=5.0, show_default=True,
              help="How long a model call waits for more requests to join it.")
@click.option("--max-texts", type=click.IntRange(min=1), default=1000, show_default=True, help="Texts a request.")
@click.option("--max-chars", type=click.IntRange(min=1), default=10_000, show_default=True, help="Characters a text.")
@click.option("--max-body-bytes", type=click.IntRange(min=1), default=1_000_000, show_default=True)
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0.001), default=30.0, show_default=True,
              help="Seconds before a request is answered 504.")
@device_option
def serve(model, host, port, workers, max_batch, max_wait_ms, max_texts, max_chars, max_body_bytes, timeout_s, device):
    """Serve a model over HTTP: POST /v1/ner, GET /v1/models, /healthz, / (an entity view), /docs.

    Needs the serve extra: pip install 'eiwa[serve]'. SIGTERM or Ctrl-C stops it gracefully
    (requests in flight are finished).

    \b
    Examples:
      eiwa serve conll03-en
      curl -s localhost:8080/v1/ner -H 'content-type: application/json' -d '{"text": "John lives in Paris."}'
    """
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise EiwaError("eiwa serve needs FastAPI and uvicorn: pip install 'eiwa[serve]'") from None
    from eiwa.serving.http import Limits, serve as run_server

    tagger = Tagger.load(model)  # a bad model is a one-line error now, not a traceback in every worker
    run_server(tagger, model, host, port, workers,
               Limits(max_body_bytes, max_texts, max_chars, max_batch, max_wait_ms, timeout_s), str(device))


# ----------------------------------------------------------------------------- cv


@cli.command()
@model_options
@data_options
@transfer_options
@click.option("--data", "data_path", type=click.Path(), help="Data (not needed for --format hironsan).")
@click.option("--folds", type=int, default=5, show_default=True)
@click.option("--seeds", default="1,2,3", show_default=True, help="Comma-separated seeds.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with f1_mean, f1_std and per-seed scores.")
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the JSON result to this file.")
@device_option
def cv(lang, word_input, char_input, features, seed, config_path, overrides, fmt, columns, token_prefix,
       source, modules, label_map, fine_tune, data_path, folds, seeds, as_json, out, device):
    """k-fold cross-validation over seeds: pooled P/R/F1 per seed, mean ± std of F1.

    Fold k is the sentences at positions i with i % folds == k (the shared protocol).

    \b
    Examples:
      eiwa cv --lang ja --format hironsan --folds 5 --seeds 1,2,3
      eiwa cv --lang ja --format hironsan --word-input native --char-input romaji --json
      eiwa cv --lang ja --format spans --data ner.json --folds 10 --seeds 1
      eiwa cv --lang ja --format hironsan --source conll03-en --modules char,classifier \\
              --char-input romaji --label-map PER=PSN,LOC=LOC,ORG=ORG,MISC=ART --config small-data
    """
    from eiwa.study.cv import cross_validate

    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        raise EiwaError(f"--seeds expects comma-separated integers, got {seeds!r}") from None
    if not seed_list:
        raise EiwaError("--seeds is empty")
    if min(seed_list) < 0:
        raise EiwaError(f"--seeds must be integers of at least 0, got {seeds!r}")
    if out:
        check_writable(out, "the cross-validation result")  # before the work, not after it
    config = load_config(config_path, list(overrides), lang=lang, word_input=word_input, char_input=char_input, seed=seed,
                         fine_tune=fine_tune, features=features)
    if bool(source) != bool(modules):
        raise EiwaError("cv with transfer needs both --source and --modules")
    factory = _transfer_factory(source, modules, label_map, lambda line: None) if source else None
    train_view = read_corpus(fmt, data_path, config.lang, columns, token_prefix, split_tokens=True).sentences
    test_view = read_corpus(fmt, data_path, config.lang, columns, token_prefix).sentences if fmt == "spans" else None
    if folds < 2 or folds > len(train_view):
        raise EiwaError(f"--folds must be between 2 and {len(train_view)}, got {folds}")
    result = cross_validate(config, train_view, test_view, folds, seed_list, make_tagger=factory,
                            log=lambda line: console.print(line), device=device)
    if out:
        write_atomic(Path(out), lambda path: Path(path).write_text(json.dumps(result, ensure_ascii=False, indent=1)))
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
    else:
        for entry in result["per_seed"]:
            click.echo(f"seed {entry['seed']}: P {entry['precision']:.4f}  R {entry['recall']:.4f}  F1 {entry['f1']:.4f}")
        click.echo(f"F1 {result['f1_mean']:.4f} ± {result['f1_std']:.4f} (mean ± sample std over {len(seed_list)} seeds, "
                   f"{folds}-fold pooled)")


# ----------------------------------------------------------------------------- experiment


@cli.command()
@click.argument("config_file", type=click.Path(dir_okay=False))
@click.option("--report-only", is_flag=True, help="Rewrite the report from finished cells without training.")
@click.option("--grid", "grids", multiple=True, help="Run only this grid (repeatable).")
@click.option("--modules", "module_sets", multiple=True, help="Run only cells with this module subset, e.g. char,classifier (repeatable).")
@click.option("--size", "sizes", multiple=True, help="Run only cells with this training size, or `all` (repeatable).")
@click.option("--features", "feature_sets", multiple=True, help="Run only cells with these features, e.g. char,word,pos (repeatable).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a training setting for this run, e.g. threads=1 (repeatable; not for settings that change results).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Run this many (cell, seed) trainings at once, each in its own process (records equal a serial run's).")
@click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None, metavar="[ADDRESS]",
              help="Run every (cell, seed) as a Ray task: --ray alone starts Ray on this machine, --ray auto joins "
                   "this machine's cluster, --ray HOST:PORT another (pip install 'eiwa[ray]'; docs/SCALING.md).")
@device_option
def experiment(config_file, report_only, grids, module_sets, sizes, feature_sets, overrides, workers, ray_address,
               device):
    """Run a transfer study from a TOML file: module grid, input grid, data-size curves.

    Every (cell, seed) result is kept as soon as it finishes, so running the same command again
    after an interruption resumes. Writes cells.jsonl, results.json, RESULTS.md (mean ± std,
    difference from scratch, paired approximate-randomization p) and PNG curves to the
    experiment's `out` folder. See experiments/*.toml and src/eiwa/experiment.py for the format.
    --grid, --modules and --size run part of the study first (the report always covers every
    finished cell). --workers 2 runs two trainings at once (one torch thread each: --set threads=1).

    \b
    Examples:
      eiwa experiment experiments/hironsan.toml --workers 2
      eiwa experiment experiments/hironsan.toml --ray auto --set threads=1
      eiwa experiment experiments/stockmark.toml --grid curve --modules none --modules char,classifier
      eiwa experiment experiments/stockmark.toml --report-only
    """
    from eiwa.study.experiment import cells_of, load_experiment, read_finished, run_experiment, select_cells, write_report

    spec = load_experiment(config_file)
    if report_only:
        out = Path(spec["out"])
        if not (out / "cells.jsonl").exists():
            raise EiwaError(f"{out}: no results yet (no cells.jsonl); run `eiwa experiment {config_file}` first")
        write_report(spec, read_finished(out / "cells.jsonl"), out)
    else:
        spec.setdefault("train", {})
        spec["train"]["set"] = [*spec["train"].get("set", []), *overrides]
        spec["device"] = str(device)
        cells = select_cells(cells_of(spec), grids or None, module_sets or None, sizes or None, feature_sets or None)
        if ray_address is not None and workers > 1:
            raise EiwaError("--ray and --workers: choose one (Ray places the runs itself)")
        out = run_experiment(spec, log=lambda line: console.print(line), cells=cells, workers=workers,
                             ray_address=ray_address)
    console.print(f"report: {out / 'RESULTS.md'}")


# ----------------------------------------------------------------------------- split


@cli.command()
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["conll", "spans"]), default="spans", show_default=True)
@click.option("--every", type=int, default=10, show_default=True, help="Cycle length of the index rule.")
@click.option("--dev", "dev_slot", type=int, default=8, show_default=True, help="Sentence i is dev when i % every == this.")
@click.option("--test", "test_slot", type=int, default=9, show_default=True, help="Sentence i is test when i % every == this.")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False), help="Where to write train/dev/test files.")
def split(data, fmt, every, dev_slot, test_slot, out_dir):
    """Split a data file into train, dev and test by sentence index (the shared protocol's rule).

    With the defaults, sentence i (0-based, in file order) is dev when i % 10 == 8, test when
    i % 10 == 9 and train otherwise, as ../shared/data/README.md fixes for the Stockmark set.
    Records are copied unchanged: JSON Lines for spans, sentence blocks for CoNLL.

    \b
    Examples:
      eiwa split ../shared/data/stockmark-wikipedia-ner/ner.json --out-dir data/stockmark
      eiwa train --lang ja --format spans --train data/stockmark/train.jsonl \\
                 --dev data/stockmark/dev.jsonl --out models/stockmark
    """
    if not (0 <= dev_slot < every and 0 <= test_slot < every and dev_slot != test_slot):
        raise EiwaError(f"--dev and --test must be different numbers below --every ({every})")
    if fmt == "spans":
        from eiwa.readers.core import json_records

        records = [to_json(record) + "\n" for _, record in json_records(data)]
        suffix = "jsonl"
    else:
        # A sentence ends at a blank line: empty, or holding only spaces, in LF or CRLF files.
        lines = [line.rstrip("\r") for line in read_text(data).split("\n")]
        blocks = "\n".join("" if not line.strip() else line for line in lines).split("\n\n")
        blocks = [b for b in blocks if b.strip() and not b.lstrip().startswith("-DOCSTART-")]
        records = [b.strip("\n") + "\n\n" for b in blocks]
        suffix = "conll"
    parts = {"train": [], "dev": [], "test": []}
    for index, record in enumerate(records):
        slot = index % every
        parts["dev" if slot == dev_slot else "test" if slot == test_slot else "train"].append(record)
    directory = Path(out_dir)
    check_writable(directory, "the split")
    directory.mkdir(parents=True, exist_ok=True)
    for name, items in parts.items():
        write_atomic(directory / f"{name}.{suffix}", lambda path, items=items: Path(path).write_text("".join(items), encoding="utf-8"))
    console.print(", ".join(f"{name} {len(items)}" for name, items in parts.items()) + f" records written to {directory}")


# ----------------------------------------------------------------------------- resources


@cli.group()
def gazetteer():
    """The JMnedict name dictionary of the gazetteer feature (pip install 'eiwa[gazetteer]').

    \b
    Examples:
      eiwa gazetteer build            # compile it into the cache (first use does this too)
      eiwa gazetteer build --force    # rebuild, e.g. after upgrading jamdict-data
    """


@gazetteer.command("build")
@click.option("--force", is_flag=True, help="Rebuild even if the compiled dictionary is already cached.")
@click.option("--lang", "languages", type=click.Choice(["ja", "en"]), multiple=True,
              help="Only this side: ja (kanji and kana spellings) or en (English glosses); default both.")
def gazetteer_build(force, languages):
    """Compile JMnedict (from the jamdict-data package) into eiwa's cache (EIWA_CACHE_DIR, else ~/.cache/eiwa).

    Training or tagging with the gazetteer feature does this on first use; run it to rebuild
    (--force), e.g. after upgrading jamdict-data. A model refuses a dictionary other than its own.
    Japanese models read the Japanese spellings, English models the English glosses.

    \b
    Examples:
      eiwa gazetteer build
      eiwa gazetteer build --force
    """
    from eiwa.gazetteer.build import build_cache
    from eiwa.gazetteer.names import LICENCE

    for language in languages or ("ja", "en"):
        path = build_cache(force=force, log=lambda line: console.print(line), language=language)
        console.print(f"compiled dictionary ({language}): {path} ({LICENCE})")


# ----------------------------------------------------------------------------- info


@cli.command()
@click.argument("model", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the meta data (card included) and config as JSON.")
def info(model, as_json):
    """Show a model's card (or, without one, a summary), or list the built-in models.

    \b
    Examples:
      eiwa info                      # list the built-in models
      eiwa info ja-wiki              # the model card of a built-in model
      eiwa info models/ja --json     # meta data and config of a model directory
    """
    from eiwa.serving.card import render

    if model is None:
        click.echo("built-in models: " + (", ".join(builtin_models()) or "none"))
        return
    tagger = Tagger.load(model)
    if as_json:
        click.echo(json.dumps({"meta": tagger.meta, "config": tagger.config.to_dict()}, ensure_ascii=False, indent=1))
    elif tagger.meta.get("card"):
        click.echo(render(tagger.meta["card"], tagger.meta))
    else:
        training = tagger.meta.get("training") or {}
        click.echo(f"{model}: an eiwa {tagger.meta.get('eiwa_version')} model ({tagger.config.lang}), no model card\n"
                   f"labels: {', '.join(tagger.entity_types)}\nfeatures: {', '.join(tagger.config.feature_names())}")
        if training:
            click.echo(f"trained on {training.get('train_sentences')} sentences, best dev F1 "
                       f"{training.get('best_dev_f1', 0):.4f}")
        click.echo("(--json for the meta data and config)")


# ----------------------------------------------------------------------------- card


@cli.command()
@click.argument("model", type=click.Path(exists=True, file_okay=False))
@click.option("--from", "source_path", required=True, type=click.Path(dir_okay=False),
              help="The card's hand-written part: a TOML file (summary, labels, data, licence, commands, seed).")
@click.option("--test", "test_path", required=True, type=click.Path(dir_okay=False), help="Test data to score on.")
@click.option("--dev", "dev_path", type=click.Path(dir_okay=False), help="Dev data to score on as well.")
@data_options
def card(model, source_path, test_path, dev_path, fmt, columns, token_prefix):
    """Write a model card into a model directory (meta.json and MODEL_CARD.md).

    The scores are measured now, on --test (and --dev); the versions are the running ones.

    \b
    Examples:
      eiwa card src/eiwa/models/ja-wiki --from docs/models/ja-wiki.toml --format spans \\
                --test data/stockmark/test.jsonl --dev data/stockmark/dev.jsonl
    """
    from eiwa.serving.card import make_card, read_card_source, write_card

    tagger = Tagger.load(model)
    source = read_card_source(source_path, tagger.entity_types)
    scores = {}
    for part, path in (("test", test_path), ("dev", dev_path)):
        if path is None:
            continue
        sentences = read_corpus(fmt, path, tagger.config.lang, columns, token_prefix, split_tokens=False).sentences
        if not any(s.entities for s in sentences):
            raise EiwaError(f"{path}: no gold entities to score against")
        scores[part] = {"data": Path(path).name, "sentences": len(sentences), **tagger.evaluate(sentences).to_dict()}
    with lock(Path(model)):
        write_card(model, make_card(source, scores))
    console.print(f"card written to {Path(model) / 'MODEL_CARD.md'} and meta.json: test F1 {scores['test']['f1']:.4f}")


# ----------------------------------------------------------------------------- quickstart


# Native words into the word module and romaji into the char module (the published best inputs), and
# every module the English source shares with the Japanese recipe (for conll03-en-shared: char, word,
# pos, gazetteer and the classifier, with the JMdict word bridge of ja-small): on Hironsan this gained
# +0.019 over scratch with the same features (docs/RESULTS.md, section 1), where conll03-en's char
# and word gained nothing. Hironsan's PER is percent, not person.
QUICKSTART_SOURCE = "conll03-en-shared"
QUICKSTART_MODULES = "shared"
QUICKSTART_CONFIG = "ja-small"
HIRONSAN_LABEL_MAP = "PER=PSN,LOC=LOC,ORG=ORG,MISC=ART"
QUICKSTART_EXAMPLE = "2019年4月1日、日本政府は新しい元号を「令和」と発表し、菅義偉官房長官が首相官邸で記者会見を開いた。"


@cli.command()
@click.option("--out", default="eiwa-quickstart", show_default=True, type=click.Path(file_okay=False),
              help="Where to save the Japanese model.")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--source", default=QUICKSTART_SOURCE, show_default=True, help="English source model (directory or built-in name).")
@click.option("--modules", default=QUICKSTART_MODULES, show_default=True,
              help="Modules to transfer: shared (every module the source and the recipe both have, and the "
                   "classifier), or a comma-separated subset of char,word,pos,vectors,gazetteer,classifier.")
@click.option("--label-map", default=HIRONSAN_LABEL_MAP, show_default=True, help="Source types to Hironsan types.")
@click.option("--config", "config_path", default=QUICKSTART_CONFIG, show_default=True,
              help="Recipe (built-in name or file); small-data is eiwa 0.1's, without the extra features.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override one hyper-parameter of the recipe; repeatable.")
def quickstart(out, seed, source, modules, label_map, config_path, overrides):
    """Transfer the built-in English model to Japanese and compare it with training from scratch.

    On the installed Hironsan corpus: trains on four of the five protocol folds (sentences i with
    i % 5 != 0; every 10th of them for early stopping), once from scratch and once starting from
    every module the English model shares with the recipe (conll03-en-shared: characters, words
    through the JMdict bridge, universal part of speech, names, and the classifier; native words,
    romaji characters), both with the ja-small recipe's features (part of speech, chiVe vectors,
    JMnedict names: pip install -e '.[ja]'), scores both on the fifth fold, saves the transferred
    model to --out and tags an example sentence. A few minutes on two CPU cores. For the full
    5-fold comparison over seeds, see `eiwa cv`.

    \b
    Examples:
      eiwa quickstart
      eiwa quickstart --out my-model --seed 2
      eiwa quickstart --modules char,classifier   # the published study's best subset
      eiwa quickstart --set max_epochs=10      # quicker, less accurate
    """
    from eiwa.readers.core import read_hironsan
    from eiwa.training.train import split_off_dev, train as run_training
    from eiwa.transfer.core import parse_label_map, parse_modules, shared_modules, transfer

    out_dir = Path(out)
    modules = None if modules == "shared" else parse_modules(modules)
    if modules == []:
        raise click.BadParameter("name at least one module to transfer (scratch is always trained)", param_hint="--modules")
    config = load_config(config_path, list(overrides), lang="ja", word_input="native", char_input="romaji", seed=seed)
    english = Tagger.load(source)
    if modules is None:
        modules = shared_modules(english, config)
    corpus = read_hironsan().sentences
    test = [s for i, s in enumerate(corpus) if i % 5 == 0]
    train_part, dev = split_off_dev([s for i, s in enumerate(corpus) if i % 5 != 0], config.dev_fraction)
    # The label map matters only when the classifier (its output layer and CRF) is transferred.
    label_spec = label_map if "classifier" in modules else None
    label_map = parse_label_map(label_spec, english.entity_types, entity_types(corpus)) if label_spec else {}
    console.print(f"Hironsan corpus: {len(train_part)} training, {len(dev)} dev and {len(test)} test sentences; "
                  "word input native, char input romaji")

    console.print("[1/2] training from scratch")
    scratch = run_training(config, train_part, dev).tagger
    console.print(f"[2/2] transferring {', '.join(modules)} from {source}"
                  + (f" (label map {label_spec})" if label_spec else "") + ", fine-tuning")
    start, report = transfer(english, config, train_part, modules, label_map)
    for line in report.lines():
        console.print(line)
    transferred = run_training(config, train_part, dev, tagger=start, out=out_dir).tagger

    results = [("from scratch", scratch.evaluate(test)), (f"transfer from {source}", transferred.evaluate(test))]
    table = Table(title=f"Hironsan fold 1 of 5 ({len(test)} test sentences), seed {seed}")
    for column in ("system", "precision", "recall", "F1"):
        table.add_column(column, justify="left" if column == "system" else "right")
    for name, scores in results:
        table.add_row(name, f"{scores.precision:.4f}", f"{scores.recall:.4f}", f"{scores.f1:.4f}")
    table.add_row("difference", "", "", f"{results[1][1].f1 - results[0][1].f1:+.4f}")
    Console(soft_wrap=True).print(table)
    console.print("One fold and one seed: on this small corpus single runs differ by several F1 points. "
                  f"For 5 folds over 3 seeds: eiwa cv --lang ja --format hironsan --config {config_path} --seeds 1,2,3 "
                  f"--word-input native --char-input romaji --source {source} --modules {','.join(modules)}"
                  + (f" --label-map {label_spec}" if label_spec else "") + " (and without the transfer options for scratch); "
                  "measured figures are in docs/RESULTS.md.")
    click.echo(json.dumps(transferred.predict([QUICKSTART_EXAMPLE])[0], ensure_ascii=False))
    console.print(f"transferred model saved to {out_dir}; try: eiwa predict {out_dir} \"東京で会議が開かれた。\"")


def main() -> None:
    cli(prog_name="eiwa")


if __name__ == "__main__":
    main()
