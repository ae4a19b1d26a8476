"""`eiwa serve`: the HTTP server (serving/http.py) for one model."""

from __future__ import annotations

import click

from eiwa.arguments import FiniteFloatRange
from eiwa.cli import cli
from eiwa.cli.options import device_option
from eiwa.errors import EiwaError
from eiwa.tagger import Tagger


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

    tagger = Tagger.load(model)  # a bad model is a one-line error now, not a traceback in every worker
    run_server(
        tagger,
        model,
        host,
        port,
        workers,
        Limits(max_body_bytes, max_texts, max_chars, max_batch, max_wait_ms, timeout_s),
        str(device),
    )
