"""`eiwa serve` (serve.py): the endpoints, the limits and their status codes, dynamic batching of
concurrent requests, the HTML entity view (in a real headless browser where one can be had)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

pytest.importorskip("fastapi", reason="eiwa serve needs the serve extra: pip install 'eiwa[serve]'")
httpx = pytest.importorskip("httpx", reason="the server tests use httpx")

from eiwa.serving.http import Limits, create_app  # noqa: E402
from eiwa.tagger import Tagger  # noqa: E402

TEXTS = ["John Smith lives in Paris", "Mary works for Acme Corp in Tokyo", "", "Nothing here"]


@pytest.fixture(scope="module")
def tagger(tiny_model_dir):
    return Tagger.load(tiny_model_dir)


def run(app, requests):
    """Send `requests` (coroutines taking a client) concurrently to the app, in process."""

    async def main():
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://eiwa") as client:
                return await asyncio.gather(*(request(client) for request in requests))

    return asyncio.run(main())


def post(body, content_type="application/json"):
    async def request(client):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return await client.post("/v1/ner", content=data, headers={"content-type": content_type})

    return request


def get(path):
    async def request(client):
        return await client.get(path)

    return request


def test_ner_answers_as_predict_does(tagger):
    app = create_app(tagger)
    many, one, threshold = run(
        app, [post({"texts": TEXTS}), post({"text": TEXTS[0]}), post({"texts": TEXTS, "min_confidence": 0.5})]
    )
    assert many.status_code == 200 and many.json() == tagger.predict(TEXTS)
    assert one.json() == tagger.predict(TEXTS[0])
    assert threshold.json() == [
        {**r, "entities": [e for e in r["entities"] if e["confidence"] >= 0.5]} for r in tagger.predict(TEXTS)
    ]


def test_a_document_is_split_into_sentences_unless_the_request_says_not_to(tagger):
    document = "John Smith lives in Paris. Mary works for Acme Corp in Tokyo."
    split, whole, wrong, schema = run(
        create_app(tagger, Limits(max_wait_ms=50)),  # the first two share a model call, each tagged as it asked
        [
            post({"text": document}),
            post({"texts": [document], "split_sentences": False}),
            post({"text": document, "split_sentences": "no"}),
            get("/openapi.json"),
        ],
    )
    assert split.json() == tagger.predict(document) and len(split.json()[0]["sentences"]) == 2
    assert whole.json() == tagger.predict(document, split_sentences=False)
    assert wrong.status_code == 422 and "split_sentences" in wrong.json()["error"]["message"]
    schemas = schema.json()["components"]["schemas"]
    assert set(schemas["SentenceSpan"]["properties"]) == {"start", "end"}
    assert {"text", "entities", "sentences"} <= set(schemas["Prediction"]["properties"])
    request = schema.json()["paths"]["/v1/ner"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "split_sentences" in request["properties"]


def test_concurrent_requests_are_gathered_into_model_batches(tagger):
    app = create_app(tagger, Limits(max_wait_ms=50))
    texts = [f"John Smith number {i} lives in Paris" for i in range(100)]
    responses = run(app, [post({"text": text}) for text in texts])
    assert [r.json() for r in responses] == [tagger.predict(t) for t in texts]
    assert app.state.batcher.texts == 100 and app.state.batcher.calls < 20  # a hundred requests, few model calls


def test_limits_give_clear_json_errors(tagger):
    app = create_app(tagger, Limits(max_body_bytes=2000, max_texts=3, max_chars=50))
    cases = {
        "too large": (post({"texts": ["x" * 40] * 60}), 413),
        "malformed": (post(b'{"texts": ["unclosed'), 400),
        "not JSON": (post(b"texts=a", "application/x-www-form-urlencoded"), 415),
        "too many texts": (post({"texts": ["a"] * 4}), 422),
        "text too long": (post({"text": "a" * 51}), 422),
        "wrong shape": (post({"texts": "not a list"}), 422),
        "both keys": (post({"texts": ["a"], "text": "b"}), 422),
        "bad threshold": (post({"text": "a", "min_confidence": 2}), 422),
    }
    responses = run(app, [request for request, _ in cases.values()])
    for (name, (_, status)), response in zip(cases.items(), responses):
        assert response.status_code == status, name
        assert response.json()["error"]["status"] == status and response.json()["error"]["message"], name


def test_a_request_past_the_timeout_is_answered_504(tagger, monkeypatch):
    slow = Tagger.load(tagger.origin)
    original = slow.tag_documents
    monkeypatch.setattr(slow, "tag_documents", lambda *args: (time.sleep(0.5), original(*args))[1])
    (response,) = run(create_app(slow, Limits(timeout_s=0.1)), [post({"text": "John"})])
    assert response.status_code == 504 and "longer than" in response.json()["error"]["message"]


def test_models_health_docs_and_the_entity_view(tagger):
    models, health, docs, empty, view = run(
        create_app(tagger),
        [
            get("/v1/models"),
            get("/healthz"),
            get("/docs"),
            get("/"),
            get("/?" + urllib.parse.urlencode({"text": "John Smith lives in Paris\nMary <b>x</b>"})),
        ],
    )
    assert models.json()["labels"] == tagger.entity_types and health.json() == {"status": "ok"}
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert "<textarea" in empty.text and 'class="entity"' not in empty.text
    expected = tagger.predict(["John Smith lives in Paris", "Mary <b>x</b>"])
    assert view.text.count('<mark class="entity"') == sum(len(r["entities"]) for r in expected)
    assert "<b>x</b>" not in view.text and "&lt;b&gt;x&lt;/b&gt;" in view.text  # the input is escaped


@pytest.fixture(scope="module")
def server(tiny_model_dir):
    """`eiwa serve` as a user starts it, on a free loopback port; stopped with SIGTERM."""
    from eiwa.serving.http import launch

    process, url = launch(str(tiny_model_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    yield url, process
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=30)


def test_the_server_answers_on_loopback(server):
    url, process = server
    request = urllib.request.Request(
        url + "/v1/ner",
        data=json.dumps({"text": "John lives in Paris"}).encode(),
        headers={"content-type": "application/json"},
    )
    assert json.load(urllib.request.urlopen(request, timeout=10))[0]["text"] == "John lives in Paris"
    assert "127.0.0.1" in url


def _browser() -> str | None:
    return next(
        (shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)), None
    )


def test_the_entity_view_in_a_real_browser(server, tagger):
    """Headless Chromium loads the page for a text and its DOM holds one highlighted <mark> per
    entity, with the type as its label."""
    browser = _browser()
    if browser is None:
        pytest.skip("no Chromium on this machine (.ci/run installs Debian's chromium)")
    url, _ = server
    text = "John Smith lives in Paris"
    dom = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--dump-dom",
            url + "/?" + urllib.parse.urlencode({"text": text}),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    expected = tagger.predict(text)[0]["entities"]
    assert expected
    assert dom.count('<mark class="entity"') == len(expected)
    for entity in expected:
        assert f'data-type="{entity["type"]}"' in dom and f'>{entity["text"]}<span class="label">' in dom


def test_sigterm_stops_the_server_gracefully(server):  # last: it stops the module's server
    _, process = server
    process.terminate()
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "Shutting down" in output and "Traceback" not in output
