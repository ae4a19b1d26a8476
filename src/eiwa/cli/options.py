"""Options shared by several commands, with choices and help built from the registries (readers,
features, recipes, modules), so that a new format or feature appears in every command's help."""

from __future__ import annotations

import functools

import click

from eiwa import arguments
from eiwa.config import DEFAULT_RECIPES, INPUTS, default_recipe, recipe_summaries
from eiwa.errors import EiwaError
from eiwa.readers import READERS, infer_format
from eiwa.scoring import Scores
from eiwa.tagger import resolve_device

# Seeds torch accepts: every command that takes --seed reads it with this type.
SEED = click.IntRange(0, arguments.SEED_LIMIT - 1)


@functools.cache
def get_console():
    """rich's Console on stderr, the one every command prints through (also `options.console`). It
    is made on first use: rich takes a tenth of a second to import, which a command that prints
    nothing of its own (predict to standard output) need not pay."""
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True, highlight=False)


def __getattr__(name: str):
    if name == "console":
        return get_console()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


QUIET_HELP = "Print only the result (no settings, epochs or progress bar); warnings and errors still go to stderr."


def _apply(function, options):
    for option in reversed(options):
        function = option(function)
    return function


def split_columns(ctx, param, value):
    return [c.strip() for c in value.split(",") if c.strip()] if value else None


def feature_names() -> list[str]:
    from eiwa.features import names

    return names()


def module_names() -> list[str]:
    from eiwa.crosslingual.starts import MODULES

    return list(MODULES)


def format_help() -> str:
    formats = "; ".join(f"{r.name}: {r.help}" for r in READERS.values())
    return f"The data's format (default: inferred from the file's content). {formats}."


def recipes_help() -> str:
    defaults = ", ".join(f"{recipe} for {lang}" for lang, recipe in DEFAULT_RECIPES.items())
    recipes = "; ".join(f"{name}: {summary.rstrip('.')}" for name, summary in recipe_summaries().items())
    return (
        f"Hyper-parameters: a recipe shipped with eiwa or a TOML/JSON file (default: the language's best "
        f"recipe, {defaults}; built-in defaults otherwise; `eiwa info --recipes` lists them). {recipes}."
    )


def settled_format(fmt: str | None, path) -> str:
    """The --format given, or the one the file's content shows (said on stderr)."""
    if fmt:
        return fmt
    if path is None:
        raise EiwaError("give a data file (or --format hironsan for the installed Hironsan corpus)")
    fmt = infer_format(path)
    get_console().print(f"reading {path} as {fmt} (inferred from its content; --format to choose)")
    return fmt


def config_for(config_path: str | None, lang: str, log=None) -> str | None:
    """The --config given, or the language's default recipe (said on stderr). A --config is checked by
    the callers before they read the data (resolve_config), so that its error comes first."""
    if config_path or not (recipe := default_recipe(lang)):
        return config_path
    (log or get_console().print)(f"recipe: {recipe}, the default for {lang} data (--config to choose another)")
    return recipe


def data_options(function):
    return _apply(
        function,
        [
            click.option(
                "--format",
                "fmt",
                type=click.Choice(tuple(READERS)),
                help=format_help(),
            ),
            click.option(
                "--columns",
                callback=split_columns,
                help="Comma-separated column names for CoNLL files, e.g. token,reading,pos,tag "
                "(default: first column token, last column tag).",
            ),
            click.option("--token-prefix", help="Prefix to strip from CoNLL tokens (WikiANN: 'en:')."),
            click.option(
                "--allow-empty",
                is_flag=True,
                help="Label Studio: keep tasks without an annotation (or with only cancelled ones) as texts "
                "without entities; by default they are left out, and counted in a warning.",
            ),
        ],
    )


def model_options(function):
    return _apply(
        function,
        [
            click.option(
                "--lang",
                type=click.Choice(["en", "ja"]),
                help="Language of the data (default: inferred from the training text's script).",
            ),
            click.option(
                "--word-input",
                type=click.Choice(INPUTS),
                help="Japanese: the word module reads native script or romaji.",
            ),
            click.option(
                "--char-input",
                type=click.Choice(INPUTS),
                help="Japanese: the char module reads native script or romaji.",
            ),
            click.option(
                "--features",
                help=f"Token features, comma-separated: {', '.join(feature_names())} "
                "(default char,word; a recipe may set its own).",
            ),
            click.option("--seed", type=SEED, help="Random seed (default 1)."),
            click.option(
                "--config",
                "config_path",
                type=click.Path(dir_okay=False),
                help=recipes_help(),
            ),
            click.option(
                "--set",
                "overrides",
                multiple=True,
                metavar="KEY=VALUE",
                help="Override one hyper-parameter; repeatable (e.g. --set max_epochs=20).",
            ),
        ],
    )


def device_option(function):
    """--device, resolved (and an unusable one refused) before the command does any work."""
    return click.option(
        "--device",
        default="cpu",
        show_default=True,
        metavar="cpu|cuda|cuda:N|auto",
        callback=lambda ctx, param, value: resolve_device(value),
        help="Where the model runs (auto: CUDA when PyTorch sees a GPU). GPU needs a CUDA build of "
        "PyTorch; repeatable bit for bit only on the CPU.",
    )(function)


def transfer_options(function):
    return _apply(
        function,
        [
            click.option(
                "--source",
                help="Source model directory or built-in name (e.g. conll03-en); with --modules "
                "auto, several, comma-separated.",
            ),
            click.option(
                "--modules",
                default=None,
                help="Modules to copy from the source: shared (default: every module the source and the target "
                "both have), auto (chosen on dev data), none, or a comma-separated subset of "
                f"{','.join(module_names())}.",
            ),
            click.option(
                "--label-map", help="Source types to target types: PER=PSN,LOC=LOC,... , a file, or auto (default)."
            ),
            click.option(
                "--fine-tune",
                type=click.Choice(["all", "frozen", "lower-lr"]),
                help="Train all weights (default), keep transferred ones frozen, or give them a lower learning "
                "rate (--set transferred_lr_scale=0.1).",
            ),
        ],
    )


def training_options(function):
    return _apply(
        function,
        [
            click.option(
                "--train", "train_path", type=click.Path(), help="Training data (not needed for --format hironsan)."
            ),
            click.option(
                "--dev",
                "dev_path",
                type=click.Path(),
                help="Dev data for early stopping (default: every 10th training sentence).",
            ),
            click.option("--out", required=True, type=click.Path(file_okay=False), help="Model directory to write."),
            click.option(
                "--labels",
                "labels_path",
                type=click.Path(dir_okay=False),
                help='What each type means, recorded in the model: a TOML file of TYPE = "meaning" lines '
                '(quote non-ASCII types: "人名" = "person"); default: from the data\'s documentation where known.',
            ),
            click.option("--resume", is_flag=True, help="Continue an interrupted run from the checkpoint in --out."),
            click.option("--force", is_flag=True, help="Overwrite a model already in --out."),
            click.option("--quiet", is_flag=True, help=QUIET_HELP),
            click.option(
                "--nproc",
                type=click.IntRange(min=1),
                default=1,
                show_default=True,
                help="Train one model data-parallel over this many processes (torch.distributed: gloo on the "
                "CPU, one GPU each on CUDA); --set threads=1 keeps them from sharing cores.",
            ),
        ],
    )


def text_input_options(what: str):
    """--input-format, --columns and --token-prefix: how a file of texts is read (eiwa predict's inputs)."""

    def apply(function):
        from eiwa.serving.predict import input_formats

        return _apply(
            function,
            [
                click.option(
                    "--input-format",
                    "--format",
                    "input_format",
                    type=click.Choice(input_formats()),
                    help=f"{what} (default: jsonl or conll for a file named so, else txt): txt, one text a line "
                    '(read as it comes); jsonl, objects with a "text" field '
                    '(their "id" and "meta" are passed through); conll, tokens in the first column (or '
                    "--columns); spans, doccano, label-studio: the texts of such a file (its entities are ignored).",
                ),
                click.option("--columns", callback=split_columns, help="Column names for --input-format conll."),
                click.option("--token-prefix", help="Prefix to strip from CoNLL tokens."),
            ],
        )

    return apply


def ray_option(runs: str):
    """--ray [ADDRESS]: `runs` (what each Ray task does) on Ray, as the study and predict take it."""
    return click.option(
        "--ray",
        "ray_address",
        is_flag=False,
        flag_value="local",
        default=None,
        metavar="[ADDRESS]",
        help=f"{runs}: --ray alone starts Ray on this machine, --ray auto joins this machine's cluster, "
        "--ray HOST:PORT another (pip install 'eiwa[ray]'; docs/SCALING.md).",
    )


def unlabelled_options(function):
    from eiwa.serving.predict import input_formats

    return _apply(
        function,
        [
            click.option(
                "--unlabelled",
                "unlabelled_path",
                type=click.Path(dir_okay=False, allow_dash=True),
                help="Unlabelled text of your domain to learn from as well: a teacher tags it and the model "
                "learns from its tag distributions (--set pseudo_labels=soft|hard, unlabelled_weight, "
                "unlabelled_ratio, self_training_rounds).",
            ),
            click.option(
                "--unlabelled-format",
                type=click.Choice(input_formats()),
                help="Format of --unlabelled (as eiwa predict's --input-format: by default jsonl or conll for a "
                "file named so, else txt, one text a line).",
            ),
            click.option(
                "--teacher",
                "teachers",
                multiple=True,
                help="A model that tags --unlabelled (repeat for an ensemble, whose distributions are averaged); "
                "default: the model trained on the gold data first (self-training).",
            ),
        ],
    )


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise EiwaError(f"--seeds expects comma-separated integers, got {text!r}") from None
    if not seeds:
        raise EiwaError("--seeds is empty")
    return [arguments.seed("--seeds", seed) for seed in seeds]


def print_scores(title: str, scores: Scores) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in ("type", "precision", "recall", "F1", "gold", "predicted"):
        table.add_column(column, justify="left" if column == "type" else "right")
    rows = [(name, s) for name, s in sorted(scores.per_type.items())] + [("micro", scores)]
    for name, s in rows:
        table.add_row(name, f"{s.precision:.4f}", f"{s.recall:.4f}", f"{s.f1:.4f}", str(s.gold), str(s.predicted))
    Console(soft_wrap=True).print(table)
