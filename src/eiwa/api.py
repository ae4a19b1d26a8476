"""The library's front door: what each `eiwa` command does, as a function (exported by `eiwa`).

    import eiwa
    result = eiwa.train("mine.jsonl", dev="dev.jsonl", out="models/mine")
    result = eiwa.transfer("conll03-en-shared", "mine.jsonl", dev="dev.jsonl", out="models/ja")
    scores = result.tagger.evaluate("test.jsonl")
    summary = eiwa.cross_validate(format="hironsan", config="small-data", seeds=(1, 2, 3))

`format` and `lang` left out are inferred from the data file's content (and said in the log);
`config` is a recipe shipped with eiwa (`small-data`, `ja-small`, ...), a TOML/JSON file, or a
`Config` (default: the language's best recipe, `ja-small` for Japanese); `settings` overrides any
of its values by name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from eiwa import arguments
from eiwa.build import Start
from eiwa.config import DEFAULT_SOURCES, Config, default_recipe, load_config
from eiwa.crosslingual.starts import DEFAULT_MODULES
from eiwa.errors import EiwaError
from eiwa.tagger import resolve_device
from eiwa.training.run import Data, Output, UnlabelledText, settle, settle_transfer, train_files, train_without_gold
from eiwa.training.train import TrainResult

Log = Callable[[str], None]


def make_config(
    config: Config | str | Path | None = None, lang: str | None = None, settings: Mapping[str, object] | None = None
) -> Config:
    """A validated config: defaults, a recipe or file (or a given Config), then `lang` and `settings`."""
    _check_config(config, lang, settings)
    base = replace(config) if isinstance(config, Config) else load_config(config)
    values = {**base.to_dict(), **({"lang": lang} if lang else {}), **dict(settings or {})}
    return Config.from_dict(values, "settings").validate()


def _settled(data: Data, lang, config, settings, log, fallback="en") -> tuple[Data, Config]:
    """The data's format and language where left out, and the config (the language's recipe by default)."""
    _check_config(config, lang, settings)
    data, lang = settle(data, lang, log, fallback)
    return data, make_config(config if config is not None else default_recipe(lang), lang, settings)


def train(
    train: str | Path | None = None,
    *,
    out: str | Path,
    dev: str | Path | None = None,
    format: str | None = None,
    lang: str | None = None,
    config: Config | str | Path | None = None,
    settings: Mapping | None = None,
    columns: Sequence[str] | None = None,
    token_prefix: str | None = None,
    labels: str | Path | Mapping[str, str] | None = None,
    allow_empty: bool = False,
    resume: bool = False,
    force: bool = False,
    device: str = "cpu",
    log: Log = print,
    unlabelled: str | Path | UnlabelledText | None = None,
    teachers: Sequence[str | Path] = (),
) -> TrainResult:
    """Train a tagger from scratch on a data file (None with format hironsan: the installed Hironsan
    corpus) into `out`. `labels`: what each type means ({"PER": "person"} or a labels file),
    recorded in the model. `allow_empty`: keep Label Studio tasks nobody annotated (left out by
    default). `unlabelled`: a file of texts to learn from as well (one a line; JSON Lines or CoNLL where
    named .jsonl or .conll), taught by `teachers` (model names or paths; none: the model trained on
    the gold data first)."""
    _check_data(train, dev, format, columns, token_prefix, labels, allow_empty)
    arguments.path("out", out)
    _check_run(device, log, resume=resume, force=force)
    data, config = _settled(
        Data(train, dev, format, columns, token_prefix, labels, allow_empty), lang, config, settings, log
    )
    return train_files(
        config,
        data,
        Output(out, resume, force),
        Start(),
        device,
        progress=False,
        log=log,
        unlabelled=_unlabelled(unlabelled, teachers),
    )


def transfer(
    source: str | Path | None,
    train: str | Path | None = None,
    *,
    out: str | Path,
    modules: str = DEFAULT_MODULES,
    label_map: str | None = None,
    dev: str | Path | None = None,
    format: str | None = None,
    lang: str | None = None,
    config: Config | str | Path | None = None,
    settings: Mapping | None = None,
    columns: Sequence[str] | None = None,
    token_prefix: str | None = None,
    labels: str | Path | Mapping[str, str] | None = None,
    allow_empty: bool = False,
    force: bool = False,
    device: str = "cpu",
    log: Log = print,
    unlabelled: str | Path | UnlabelledText | None = None,
    teachers: Sequence[str | Path] = (),
) -> TrainResult:
    """Start a model from `source` (a model directory or built-in name; None: the default source for
    the data's language, conll03-en-shared for Japanese) and fine-tune it on the data.

    `modules`: `shared` (the default: every module the source can hand over), `auto` (chosen on dev),
    `none`, or a comma-separated subset; `label_map`: `PER=PSN,...`, a file, or None/`auto` (proposed
    from the data; the evidence goes to `log`, and `eiwa.crosslingual.label_map.propose_label_map`
    returns it); `labels`, `allow_empty`, `unlabelled`, `teachers`: as for `train`. Without `train` but with
    `unlabelled`, `dev` and an explicit `label_map`, the source teaches the text alone (zero-shot with
    unlabelled text: training.run.train_without_gold)."""
    _check_data(train, dev, format, columns, token_prefix, labels, allow_empty)
    arguments.path("out", out)
    _check_run(device, log, force=force)
    _check_start(source, modules, label_map)
    _check_config(config, lang, settings)
    text = _unlabelled(unlabelled, teachers)
    data, lang, zero_shot = settle_transfer(
        Data(train, dev, format, columns, token_prefix, labels, allow_empty), lang, text, log
    )
    config = make_config(config if config is not None else default_recipe(lang), lang, settings)
    if source is None and not (source := DEFAULT_SOURCES.get(config.lang)):
        raise EiwaError(f"transfer to {config.lang} data needs a source model")
    start = Start.from_names(str(source), modules, label_map)
    if zero_shot:
        return train_without_gold(config, data, Output(out, force=force), start, text, device, progress=False, log=log)
    return train_files(config, data, Output(out, force=force), start, device, progress=False, log=log, unlabelled=text)


def _unlabelled(unlabelled, teachers) -> UnlabelledText | None:
    if isinstance(unlabelled, UnlabelledText):
        return unlabelled
    arguments.path("unlabelled", unlabelled, optional=True)
    teachers = arguments.paths("teachers", teachers)
    return UnlabelledText.given(unlabelled, "txt", teachers)


def cross_validate(
    data: str | Path | None = None,
    *,
    format: str | None = None,
    folds: int = 5,
    seeds: Sequence[int] = (1, 2, 3),
    lang: str | None = None,
    config: Config | str | Path | None = None,
    settings: Mapping | None = None,
    source: str | Path | None = None,
    modules: str = DEFAULT_MODULES,
    label_map: str | None = None,
    columns: Sequence[str] | None = None,
    token_prefix: str | None = None,
    allow_empty: bool = False,
    device: str = "cpu",
    log: Log = print,
) -> dict:
    """k-fold cross-validation over seeds (the shared protocol): pooled scores per seed, F1 mean ± std
    (`allow_empty`: as for `train`)."""
    from eiwa.study.cv import cross_validate_files

    _check_data(data, None, format, columns, token_prefix, None, allow_empty)
    _check_run(device, log)
    _check_start(source, modules, label_map)
    _check_config(config, lang, settings)
    arguments.int_in_range("folds", folds, 2)
    arguments.seeds("seeds", seeds)
    start = Start.from_names(str(source), modules, label_map) if source else Start()
    data, config = _settled(
        Data(data, None, format, columns, token_prefix, allow_empty=allow_empty), lang, config, settings, log
    )
    return cross_validate_files(
        config,
        data,
        folds,
        list(seeds),
        start,
        log,
        device,
    )


def _check_data(train, dev, format, columns, token_prefix, labels, allow_empty) -> None:
    """Refuse data arguments of the wrong type before anything is read (each error names the argument)."""
    arguments.path("train", train, optional=True)
    arguments.path("dev", dev, optional=True)
    arguments.optional_text("format", format, empty=False)
    arguments.strings("columns", columns, optional=True)
    arguments.optional_text("token_prefix", token_prefix)
    if not isinstance(labels, Mapping):
        arguments.path("labels", labels, optional=True, kind="a labels file's path or a mapping")
    else:
        arguments.string_mapping("labels", labels)
    arguments.flag("allow_empty", allow_empty)


def _check_run(device, log, **flags) -> None:
    """The device, the log and the flags given by name."""
    resolve_device(device)
    arguments.function("log", log)
    for name, value in flags.items():
        arguments.flag(name, value)


def _check_start(source, modules, label_map) -> None:
    arguments.path("source", source, optional=True, kind="a model's name or directory")
    arguments.optional_text("modules", modules, empty=False)
    arguments.optional_text("label_map", label_map)


def _check_config(config, lang, settings) -> None:
    """`config` a Config, recipe name or file; `lang` a string; `settings` a mapping by setting name."""
    if not isinstance(config, Config):
        arguments.path("config", config, optional=True, kind="a Config, a recipe's name or a config file's path")
    arguments.optional_text("lang", lang, empty=False)
    arguments.string_mapping("settings", settings, optional=True)
