"""The library's front door: what each `eiwa` command does, as a function (exported by `eiwa`).

    import eiwa
    result = eiwa.train("train.conll", dev="dev.conll", out="models/en")
    result = eiwa.transfer("conll03-en-shared", "mine.jsonl", format="doccano", lang="ja", out="models/ja",
                           config="ja-small", label_map="auto")
    scores = result.tagger.evaluate("test.jsonl", format="doccano")
    summary = eiwa.cross_validate(format="hironsan", lang="ja", config="small-data", seeds=(1, 2, 3))

`config` is a recipe shipped with eiwa (`small-data`, `ja-small`, ...), a TOML/JSON file, or a `Config`;
`settings` overrides any of its values by name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from eiwa.build import Start
from eiwa.config import Config, load_config
from eiwa.crosslingual.starts import DEFAULT_MODULES
from eiwa.training.run import Data, Output, train_files
from eiwa.training.train import TrainResult

Log = Callable[[str], None]


def make_config(
    config: Config | str | Path | None = None, lang: str | None = None, settings: Mapping[str, object] | None = None
) -> Config:
    """A validated config: defaults, a recipe or file (or a given Config), then `lang` and `settings`."""
    base = replace(config) if isinstance(config, Config) else load_config(config)
    values = {**base.to_dict(), **({"lang": lang} if lang else {}), **dict(settings or {})}
    return Config.from_dict(values, "settings").validate()


def train(
    train: str | Path | None = None,
    *,
    out: str | Path,
    dev: str | Path | None = None,
    format: str = "conll",
    lang: str | None = None,
    config: Config | str | Path | None = None,
    settings: Mapping | None = None,
    columns: Sequence[str] | None = None,
    token_prefix: str | None = None,
    resume: bool = False,
    force: bool = False,
    device: str = "cpu",
    log: Log = print,
) -> TrainResult:
    """Train a tagger from scratch on a data file (None: the installed Hironsan corpus) into `out`."""
    return train_files(
        make_config(config, lang, settings),
        Data(train, dev, format, columns, token_prefix),
        Output(out, resume, force),
        Start(),
        device,
        progress=False,
        log=log,
    )


def transfer(
    source: str | Path,
    train: str | Path | None = None,
    *,
    out: str | Path,
    modules: str = DEFAULT_MODULES,
    label_map: str | None = None,
    dev: str | Path | None = None,
    format: str = "conll",
    lang: str | None = "ja",
    config: Config | str | Path | None = None,
    settings: Mapping | None = None,
    columns: Sequence[str] | None = None,
    token_prefix: str | None = None,
    force: bool = False,
    device: str = "cpu",
    log: Log = print,
) -> TrainResult:
    """Start a model from `source` (a model directory or built-in name) and fine-tune it on the data.

    `modules`: `shared` (the default: every module the source can hand over), `auto` (chosen on dev),
    `none`, or a comma-separated subset; `label_map`: `PER=PSN,...`, a file, or None/`auto` (proposed
    from the data; the evidence goes to `log`, and `eiwa.crosslingual.label_map.propose_label_map`
    returns it)."""
    return train_files(
        make_config(config, lang, settings),
        Data(train, dev, format, columns, token_prefix),
        Output(out, force=force),
        Start.from_names(str(source), modules, label_map),
        device,
        progress=False,
        log=log,
    )


def cross_validate(
    data: str | Path | None = None,
    *,
    format: str = "conll",
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
    device: str = "cpu",
    log: Log = print,
) -> dict:
    """k-fold cross-validation over seeds (the shared protocol): pooled scores per seed, F1 mean ± std."""
    from eiwa.study.cv import cross_validate_files

    start = Start.from_names(str(source), modules, label_map) if source else Start()
    return cross_validate_files(
        make_config(config, lang, settings),
        Data(data, None, format, columns, token_prefix),
        folds,
        list(seeds),
        start,
        log,
        device,
    )
