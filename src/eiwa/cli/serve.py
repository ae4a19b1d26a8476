"""`eiwa serve`: the HTTP server (serving/http.py) for one model."""

from __future__ import annotations

import errno
import socket

import click

from eiwa.arguments import FiniteFloatRange
from eiwa.cli import cli
from eiwa.cli.options import device_option
from eiwa.errors import EiwaError
from eiwa.tagger import Tagger

# uvicorn's exit status when the server does not start (it logs why, then shuts the app down).
UVICORN_STARTUP_FAILURE = 3


@cli.command()
@click.argument("model")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (0.0.0.0: every interface).")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Server processes, each with its own copy of the model.",
)
@click.option(
    "--max-batch",
    type=click.IntRange(min=1),
    default=256,
    show_default=True,
    help="Texts per model call when concurrent requests are gathered.",
)
@click.option(
    "--max-wait-ms",
    type=FiniteFloatRange(min=0),
    default=5.0,
    show_default=True,
    help="How long a model call waits for more requests to join it.",
)
@click.option("--max-texts", type=click.IntRange(min=1), default=1000, show_default=True, help="Texts a request.")
@click.option("--max-chars", type=click.IntRange(min=1), default=10_000, show_default=True, help="Characters a text.")
@click.option("--max-body-bytes", type=click.IntRange(min=1), default=1_000_000, show_default=True)
@click.option(
    "--timeout",
    "timeout_s",
    type=FiniteFloatRange(min=0.001),
    default=30.0,
    show_default=True,
    help="Seconds before a request is answered 504.",
)
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
    from eiwa.serving.http import Limits
    from eiwa.serving.http import serve as run_server

    check_listenable(host, port)  # before loading the model, and so that the error is the last line
    tagger = Tagger.load(model)  # a bad model is a one-line error now, not a traceback in every worker
    try:
        run_server(
            tagger,
            model,
            host,
            port,
            workers,
            Limits(max_body_bytes, max_texts, max_chars, max_batch, max_wait_ms, timeout_s),
            str(device),
        )
    except SystemExit as stop:
        if stop.code != UVICORN_STARTUP_FAILURE:
            raise
        # Taken between the check and uvicorn's bind, or another start-up failure uvicorn logged above.
        raise EiwaError(f"the server did not start on {host}:{port} (uvicorn says why above)") from None


def check_listenable(host: str, port: int) -> None:
    """Binds `host:port` as the server will, and lets go: a port in use or a host that is not this
    machine's is one line (exit 2), instead of uvicorn's log lines and its exit status 3."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise EiwaError(f"--host {host}: {error.strerror}") from None
    failures = [failure for address in addresses if (failure := _bind_failure(address))]
    # An address family the system lacks (::1 without IPv6) is skipped, as asyncio skips it.
    real = [failure for failure in failures if failure.errno != errno.EADDRNOTAVAIL]
    if real or len(failures) == len(addresses):
        failure = (real or failures)[0]
        advice = "; another process listens there: choose another --port" if failure.errno == errno.EADDRINUSE else ""
        raise EiwaError(f"cannot listen on {host}:{port}: {failure.strerror}{advice}")


def _bind_failure(address: tuple) -> OSError | None:
    family, kind, protocol, _, where = address
    with socket.socket(family, kind, protocol) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind(where)
        except OSError as error:
            return error
    return None
