"""`eiwa serve MODEL`: the tagger over HTTP (FastAPI on uvicorn; `pip install 'eiwa[serve]'`).

    POST /v1/ner     {"texts": [...]} or {"text": "..."}, optional "min_confidence" and "split_sentences"
                     -> a JSON list of results (results.Prediction), one per text, in order; a text
                     may be a document: it is split into sentences unless "split_sentences" is false
    GET  /v1/models  the model's card: name, labels, training summary, eiwa version
    GET  /healthz    {"status": "ok"}
    GET  /           an HTML page: a form to paste text, the entities highlighted in place
                     (server-rendered, so it works without JavaScript: GET /?text=..., a line a
                     text, under the same limits and with the same errors as POST /v1/ner)
    GET  /docs       OpenAPI documentation (Swagger UI; /redoc: ReDoc), its scripts served from here

Concurrent requests are gathered into model batches: a request's texts join a queue, and one
worker takes whatever has arrived within `max_wait_ms` (up to `max_batch` texts) and tags it in
one call, so many small requests cost about what one large one does. Errors are JSON
`{"error": {"status": ..., "message": ...}}`: 400 malformed JSON, 413 body too large, 415 not
JSON, 422 a request outside the limits (texts per request, characters per text), 504 a request
that did not finish within `timeout_s`.
"""

# No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations, and
# `Request` is imported inside create_app (the serve extra is optional).
import asyncio
import json
import logging
import os
from dataclasses import dataclass, field

from eiwa import arguments
from eiwa.net import free_port
from eiwa.serving.results import Prediction, to_json
from eiwa.serving.writers import escape, highlight, legend, page_head
from eiwa.tagger import Tagger
from eiwa.tokenize.sentences import document_spans

DOCS_ASSETS = "/docs-assets"  # where /docs and /redoc find Swagger UI's and ReDoc's files


@dataclass
class Limits:
    max_body_bytes: int = 1_000_000
    max_texts: int = 1000
    max_chars: int = 10_000
    max_batch: int = 256  # texts per model call
    max_wait_ms: float = 5.0  # how long the batcher waits for more requests to join a call
    timeout_s: float = 30.0

    def __post_init__(self):
        for name in ("max_body_bytes", "max_texts", "max_chars", "max_batch"):
            arguments.positive_int(name, getattr(self, name))
        arguments.finite_number("max_wait_ms", self.max_wait_ms, low=0)
        arguments.finite_number("timeout_s", self.timeout_s, low=0.001)


@dataclass
class Batcher:
    """Gathers the texts of concurrent requests into model calls, run one at a time off the event
    loop (the model is called from one thread, so calls never compete for the cores)."""

    tagger: Tagger
    limits: Limits
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    calls: int = 0  # model calls made (a test checks that concurrent requests share them)
    texts: int = 0

    async def tag(self, texts: list[str], split_sentences: bool = True) -> list[dict]:
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((texts, split_sentences, future))
        return await future

    async def gather(self) -> list[tuple[list[str], bool, asyncio.Future]]:
        """The next call's requests: the first to come, then whatever else arrives within
        `max_wait_ms`, up to `max_batch` texts. Requests already queued are taken at once (under load
        they are most of a call; waiting on the queue costs a task each)."""
        loop = asyncio.get_running_loop()
        waiting = [await self.queue.get()]
        size = len(waiting[0][0])
        deadline = loop.time() + self.limits.max_wait_ms / 1000
        while size < self.limits.max_batch:
            if self.queue.empty():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self.queue.get(), remaining)
                except TimeoutError:
                    break
            else:
                item = self.queue.get_nowait()
            waiting.append(item)
            size += len(item[0])
        return waiting

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            waiting = await self.gather()
            live = [item for item in waiting if not item[2].done()]  # timed-out requests drop out
            if not live:
                continue
            flat = [text for texts, _, _ in live for text in texts]
            try:
                results = await loop.run_in_executor(None, tag_requests, self.tagger, live)
            except Exception as error:  # a bug: every waiting request gets it, the server goes on
                for _, _, future in live:
                    if not future.done():
                        future.set_exception(error)
                continue
            self.calls += 1
            self.texts += len(flat)
            start = 0
            for texts, _, future in live:
                if not future.done():
                    future.set_result(results[start : start + len(texts)])
                start += len(texts)


def outside_limits(texts: list[str], limits: Limits) -> str | None:
    """Why a request's texts are refused (too many, one too long), or None: one check for every route."""
    if len(texts) > limits.max_texts:
        return f"at most {limits.max_texts} texts a request, got {len(texts)}"
    longest = max(map(len, texts), default=0)
    if longest > limits.max_chars:
        return f"at most {limits.max_chars} characters a text, got {longest}"
    return None


def tag_requests(tagger: Tagger, requests: list[tuple[list[str], bool, object]]) -> list[dict]:
    """The texts of several requests, each split into sentences or not as its request asked, tagged
    in one call (all their sentences in shared batches); results in order."""
    lang = tagger.config.lang
    texts = [text for texts, _, _ in requests for text in texts]
    spans = [document_spans(t, lang, split) for texts, split, _ in requests for t in texts]
    return [record for record, _ in tagger.tag_documents(texts, spans)]


def model_card(tagger: Tagger) -> dict:
    meta = tagger.meta
    return {
        "name": tagger.origin,
        "lang": tagger.config.lang,
        "labels": tagger.entity_types,
        "features": tagger.config.feature_names(),
        "eiwa_version": meta.get("eiwa_version"),
        "training": meta.get("training"),
        "card": meta.get("card"),
    }


def page(tagger: Tagger, text: str | None, records: list[dict] | None) -> str:
    shown = "".join(f'<p class="text">{highlight(record)}</p>' for record in records or [])
    return (
        page_head(f"eiwa: {tagger.origin}", tagger.config.lang, "textarea{width:100%;height:8em;font:inherit}")
        + f"<h1>eiwa <small>{escape(str(tagger.origin))}</small></h1>"
        f'<form method="get" action="/"><textarea name="text" placeholder="Paste text: one sentence a line">'
        f'{escape(text or "")}</textarea><br><button type="submit">Tag</button></form>'
        f'{legend(tagger.entity_types, tagger.label_meanings)}<div id="results">{shown}</div></body></html>'
    )


def offline_docs_app(**options):
    """A FastAPI app whose /docs (Swagger UI) and /redoc load their scripts and styles from this
    server, from the copies the fastapi-offline package ships (FastAPI's self-hosted docs recipe),
    so that they work without the internet. Without that package (it comes with the serve extra),
    FastAPI's own pages, which load them from a CDN, and a warning."""
    from fastapi import FastAPI

    try:
        from fastapi_offline import FastAPIOffline
    except ImportError:
        logging.getLogger(__name__).warning(
            "fastapi-offline is not installed: /docs loads Swagger UI from a CDN (pip install 'eiwa[serve]')"
        )
        return FastAPI(**options)
    return FastAPIOffline(static_url=DOCS_ASSETS, **options)


# The request body as /docs shows it (the endpoint reads the body itself, to enforce the size limit).
NER_REQUEST = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "texts": {"type": "array", "items": {"type": "string"}, "description": "texts to tag"},
                        "text": {"type": "string", "description": "one text to tag, instead of texts"},
                        "min_confidence": {"type": "number", "minimum": 0, "maximum": 1, "default": 0},
                        "split_sentences": {
                            "type": "boolean",
                            "default": True,
                            "description": "split each text into sentences; false: each text is one sentence",
                        },
                    },
                },
                "example": {"texts": ["田中さんは東京に住んでいる。鈴木さんも。"]},
            }
        },
    }
}


def create_app(tagger: Tagger, limits: Limits | None = None):
    """The ASGI app serving `tagger` (FastAPI)."""
    from contextlib import asynccontextmanager

    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse
    from fastapi.responses import JSONResponse as StarletteJSON
    from starlette.exceptions import HTTPException

    limits = limits or Limits()

    class JSONResponse(StarletteJSON):
        """JSON as `results.to_json` writes it: a lone surrogate from the input is \\u-escaped
        rather than failing to encode."""

        def render(self, content) -> bytes:
            return to_json(content).encode("utf-8")

    @asynccontextmanager
    async def lifespan(app):
        app.state.batcher = Batcher(tagger, limits)
        worker = asyncio.create_task(app.state.batcher.run())
        yield
        worker.cancel()

    app = offline_docs_app(
        title="eiwa",
        summary="Japanese and English named-entity recognition",
        lifespan=lifespan,
        default_response_class=JSONResponse,
        swagger_ui_parameters={"validatorUrl": None},  # Swagger UI would send the schema to an online validator
    )

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": {"status": status, "message": message}}, status_code=status)

    @app.exception_handler(HTTPException)
    async def http_error(request, exc):
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request, exc):
        return error(422, "invalid request")

    async def tag(texts: list[str], split_sentences: bool = True) -> list[dict] | JSONResponse:
        try:
            async with asyncio.timeout(limits.timeout_s):  # unlike wait_for, no task a request
                return await app.state.batcher.tag(texts, split_sentences)
        except TimeoutError:
            return error(504, f"the request took longer than {limits.timeout_s:g} s")

    @app.post(
        "/v1/ner",
        summary="Tag texts",
        response_description="One result per text, in order",
        response_model=list[Prediction],
        openapi_extra=NER_REQUEST,
    )
    async def ner(request: Request):
        """Body: `{"texts": ["...", ...]}` or `{"text": "..."}`, optionally `"min_confidence": 0.5` and
        `"split_sentences": false`. A text may be a document of many sentences: it is split into
        sentences (unless `split_sentences` is false) and each result has offsets into the whole text:
        `{"text", "entities": [{"start", "end", "type", "text", "confidence"}], "sentences": [{"start", "end"}]}`."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            return error(415, "send the request as application/json")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limits.max_body_bytes:
            return error(413, f"the body is larger than {limits.max_body_bytes} bytes")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > limits.max_body_bytes:
                return error(413, f"the body is larger than {limits.max_body_bytes} bytes")
        try:
            value = json.loads(body)
        except (ValueError, RecursionError):
            return error(400, "the body is not valid JSON")
        if not isinstance(value, dict) or ("texts" in value) == ("text" in value):
            return error(422, 'give either "texts" (a list of strings) or "text" (a string)')
        texts = value["texts"] if "texts" in value else [value["text"]]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            return error(422, '"texts" must be a list of strings and "text" a string')
        if (refused := outside_limits(texts, limits)) is not None:
            return error(422, refused)
        threshold = value.get("min_confidence", 0.0)
        if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not 0 <= threshold <= 1:
            return error(422, '"min_confidence" must be a number in [0, 1]')
        split_sentences = value.get("split_sentences", True)
        if not isinstance(split_sentences, bool):
            return error(422, '"split_sentences" must be true or false')
        results = await tag(texts, split_sentences) if texts else []
        if isinstance(results, JSONResponse):
            return results
        if threshold:
            results = [{**r, "entities": [e for e in r["entities"] if e["confidence"] >= threshold]} for r in results]
        return JSONResponse(results)

    @app.get("/v1/models", summary="The model's card")
    async def models():
        return model_card(tagger)

    @app.get("/healthz", summary="Liveness")
    async def healthz():
        return {"status": "ok"}

    @app.get("/", response_class=HTMLResponse, summary="The entity view")
    async def index(text: str | None = None):
        """The page; `?text=` is tagged a line a text, under the limits of POST /v1/ner (the same errors)."""
        records = None
        if text:
            if len(text.encode("utf-8", "surrogatepass")) > limits.max_body_bytes:
                return error(413, f"the text is larger than {limits.max_body_bytes} bytes")
            lines = [line for line in text.splitlines() if line.strip()]
            if (refused := outside_limits(lines, limits)) is not None:
                return error(422, refused)
            records = await tag(lines)
            if isinstance(records, JSONResponse):
                return records
        return HTMLResponse(page(tagger, text, records))

    return app


def app_from_environment():
    """For `uvicorn --factory` with several worker processes: the model named by EIWA_SERVE_MODEL
    on EIWA_SERVE_DEVICE, the limits from EIWA_SERVE_LIMITS (JSON)."""
    limits = Limits(**json.loads(os.environ.get("EIWA_SERVE_LIMITS", "{}")))
    tagger = Tagger.load(os.environ["EIWA_SERVE_MODEL"]).to(os.environ.get("EIWA_SERVE_DEVICE", "cpu"))
    return create_app(tagger, limits)


def launch(model: str, *options: str, timeout_s: float = 60, **popen):
    """Start `eiwa serve MODEL OPTIONS` in a child process on a free loopback port and wait until
    /healthz answers: (the process, its base URL). For load tests and tests; stop it with
    `process.terminate()` (SIGTERM: a graceful shutdown)."""
    import subprocess
    import sys
    import time
    import urllib.request

    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "eiwa", "serve", model, "--port", str(port), *options], **popen)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1)
            return process, url
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"eiwa serve {model} did not start (exit {process.poll()})") from None
            time.sleep(0.2)


def serve(tagger: Tagger, model: str, host: str, port: int, workers: int, limits: Limits, device: str = "cpu") -> None:
    """Run the server: in this process with the loaded `tagger`, or, with several workers, in
    uvicorn's worker processes, each loading `model` itself."""
    import uvicorn

    # uvicorn handles SIGTERM and SIGINT: it stops accepting, finishes requests in flight, exits.
    options = dict(host=host, port=port, log_level="info", timeout_graceful_shutdown=int(limits.timeout_s) + 1)
    if workers == 1:
        uvicorn.run(create_app(tagger.to(device), limits), **options)
        return
    os.environ["EIWA_SERVE_MODEL"] = model
    os.environ["EIWA_SERVE_DEVICE"] = device
    os.environ["EIWA_SERVE_LIMITS"] = json.dumps(limits.__dict__)
    uvicorn.run("eiwa.serving.http:app_from_environment", factory=True, workers=workers, **options)


__all__ = ["Limits", "create_app", "serve", "model_card"]
