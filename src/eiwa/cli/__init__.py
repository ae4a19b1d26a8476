"""The `eiwa` command: a thin layer over the library, one file per command or group.

Each command turns its options into the library's values (which data, how to start, where to write)
and calls one library function; this package adds only the console: progress, tables, and the one
boundary where an `EiwaError` becomes one line on stderr and exit status 2.
"""

from __future__ import annotations

import signal
import sys

import click

from eiwa import __version__
from eiwa.errors import EiwaError


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
    Train:       eiwa train, eiwa transfer, eiwa cv, eiwa experiment
    Use:         eiwa predict, eiwa evaluate, eiwa serve, eiwa info, eiwa card
    Data:        eiwa split, eiwa gazetteer build
    Each command has --help with examples.
    """


def main() -> None:
    cli(prog_name="eiwa")


# Each module adds its command(s) to `cli` when imported.
from eiwa.cli import (  # noqa: E402, F401
    cv,
    evaluate,
    experiment,
    gazetteer,
    info,
    predict,
    quickstart,
    serve,
    split,
    train,
)

if __name__ == "__main__":
    main()
