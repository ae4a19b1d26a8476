"""The `eiwa` command: a thin layer over the library, one file per command or group.

Each command turns its options into the library's values (which data, how to start, where to write)
and calls one library function; this package adds only the console: progress, tables, and the one
boundary where an `EiwaError` becomes one line on stderr and exit status 2.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import re
import signal
import sys

import click

from eiwa import __version__
from eiwa.errors import EiwaError

# Each command's module, imported when the command is asked for (so that `eiwa predict` does not pay
# for the imports of training, studies and the server); importing a module adds its command(s) to `cli`.
COMMAND_MODULES = {
    "card": "info",
    "cv": "cv",
    "evaluate": "evaluate",
    "experiment": "experiment",
    "gazetteer": "gazetteer",
    "info": "info",
    "predict": "predict",
    "quickstart": "quickstart",
    "select": "select",
    "serve": "serve",
    "split": "split",
    "train": "train",
    "transfer": "train",
}


@contextlib.contextmanager
def lasting_objects():
    """Around start-up work whose objects live as long as the process (torch's modules, a model):
    the cyclic garbage collector is paused while they are made, then they are frozen (gc.freeze),
    so that no collection walks them again. Collections over them found nothing and took a tenth
    of the time to the first result."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.freeze()
            gc.enable()


class Group(click.Group):
    """Turns eiwa's own errors into one line on stderr and exit status 2, with no traceback; loads
    each command's module on first use (COMMAND_MODULES)."""

    def list_commands(self, ctx) -> list[str]:
        return sorted({*COMMAND_MODULES, *self.commands})

    def get_command(self, ctx, name):
        if name not in self.commands and name in COMMAND_MODULES:
            with lasting_objects():
                importlib.import_module(f"eiwa.cli.{COMMAND_MODULES[name]}")
        return self.commands.get(name)

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


def utf8_texts(ctx, param, values: tuple[str, ...]) -> tuple[str, ...]:
    """A click callback for text arguments: bytes of the command line that are not UTF-8 reach Python
    as the surrogates U+DC80..U+DCFF (os.fsdecode); they are refused as a file's invalid UTF-8 is, not
    tagged. Other lone surrogates can come only from Python callers, and are tagged like any text."""
    for number, value in enumerate(values, start=1):
        if escaped := _ESCAPED_BYTE.search(value):
            raise EiwaError(
                f"text argument {number}: invalid UTF-8 "
                f"(byte 0x{ord(escaped.group()) - 0xDC00:02x} after {value[: escaped.start()]!r})"
            )
    return values


_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


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
    Train:       eiwa train, eiwa transfer, eiwa cv, eiwa experiment
    Use:         eiwa predict, eiwa evaluate, eiwa serve, eiwa info, eiwa card
    Annotate:    eiwa select
    Data:        eiwa split, eiwa gazetteer build
    Each command has --help with examples.
    """


def main() -> None:
    cli(prog_name="eiwa")


if __name__ == "__main__":
    main()
