"""`eiwa serve` (serve.py): the endpoints, the limits and their status codes, dynamic batching of
concurrent requests, the HTML entity view (in a real headless browser where one can be had)."""

from __future__ import annotations

import asyncio
import html
import json
import re
import shutil
import struct
import subprocess
import time
import urllib.parse
import urllib.request
import zlib

import pytest

pytest.importorskip("fastapi", reason="eiwa serve needs the serve extra: pip install 'eiwa[serve]'")
httpx = pytest.importorskip("httpx", reason="the server tests use httpx")

from eiwa.serving.colours import MIN_CONTRAST, contrast_ratio  # noqa: E402
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


def test_the_entity_view_keeps_the_limits_of_post(tagger):
    """GET /?text= (a line a text) is refused exactly as POST /v1/ner is: never cut short in silence."""
    app = create_app(tagger, Limits(max_body_bytes=2000, max_texts=3, max_chars=50))

    def view(lines):
        return get("/?" + urllib.parse.urlencode({"text": "\n".join(lines)}))

    texts = {"too many texts": ["a", "b", "c", "d"], "text too long": ["a" * 51], "too large": ["x" * 40] * 60}
    posted = run(app, [post({"texts": lines}) for lines in texts.values()])
    viewed = run(app, [view(lines) for lines in texts.values()])
    for name, by_post, by_get in zip(texts, posted, viewed):
        assert by_get.status_code == by_post.status_code and by_get.status_code in (413, 422), name
        if by_get.status_code == 422:
            assert by_get.json() == by_post.json(), name
    (within,) = run(app, [view(["John Smith", "", "  ", "lives", "in Paris"])])  # blank lines are no texts
    assert within.status_code == 200 and within.text.count('<p class="text">') == 3


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


def test_docs_are_served_with_every_asset_from_the_app_itself(tagger):
    """/docs and /redoc name only this server's own files (no CDN), and the app serves each one."""
    pytest.importorskip("fastapi_offline", reason="offline /docs need fastapi-offline: pip install 'eiwa[serve]'")
    app = create_app(tagger)
    pages = run(app, [get("/docs"), get("/redoc")])
    references = set()
    for page in pages:
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        references |= set(re.findall(r'(?:src|href|spec-url)="([^"]+)"', page.text))
        references |= set(re.findall(r"\burl: '([^']+)'", page.text))
    assert all(reference.startswith("/") and not reference.startswith("//") for reference in references), references
    assert {"/openapi.json", "/docs-assets/swagger-ui-bundle.js", "/docs-assets/redoc.standalone.js"} <= references
    assets = dict(zip(sorted(references), run(app, [get(reference) for reference in sorted(references)])))
    kinds = {".js": "text/javascript", ".css": "text/css", ".png": "image/png", ".json": "application/json"}
    for reference, asset in assets.items():
        assert asset.status_code == 200 and len(asset.content) > 1000, reference
        suffix = reference[reference.rindex(".") :]
        assert asset.headers["content-type"].split(";")[0] == kinds[suffix], reference
    assert assets["/openapi.json"].json()["paths"].keys() >= {"/v1/ner", "/v1/models", "/healthz"}
    css_urls = re.findall(r"url\(\s*[\"']?([^\"')]{0,20})", assets["/docs-assets/swagger-ui.css"].text)
    assert css_urls and all(url.startswith("data:") for url in css_urls)  # its images are inline


def test_the_legend_gives_the_models_label_meanings(tagger, monkeypatch):
    monkeypatch.setitem(tagger.meta, "labels", {"PER": "a person's name", "LOC": "a place"})
    (view,) = run(create_app(tagger), [get("/")])
    assert 'PER</mark> <span class="meaning">a person&#x27;s name</span>' in view.text
    assert 'LOC</mark> <span class="meaning">a place</span>' in view.text and "ORG</mark></li>" in view.text
    assert f'<html lang="{tagger.config.lang}">' in view.text


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


# Appended to the page under test: what the browser computed, as JSON on <html data-probe>.
PROBE = """<script>
const marks = [...document.querySelectorAll("mark")].map(mark => {
  const style = getComputedStyle(mark), rects = mark.getClientRects();
  return {kind: mark.className, text: mark.textContent, colour: style.color, background: style.backgroundColor,
          lines: rects.length, top: rects[0].top};
});
const lineHeight = parseFloat(getComputedStyle(document.querySelector("p.text")).lineHeight);
document.documentElement.dataset.probe = JSON.stringify(
  {marks, lineHeight, font: getComputedStyle(document.body).fontFamily});
</script>"""


def _rgb(css: str) -> tuple[float, ...]:
    return tuple(float(v) for v in re.findall(r"[\d.]+", css)[:3])


def _png_size_and_pixels(path) -> tuple[int, int, bytes]:
    """A PNG's width, height and decompressed (filtered) scanlines, read with the standard library."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    chunks, position = [], 8
    while position < len(data):
        (length,), kind = struct.unpack(">I", data[position : position + 4]), data[position + 4 : position + 8]
        if kind == b"IDAT":
            chunks.append(data[position + 8 : position + 8 + length])
        position += 12 + length
    return width, height, zlib.decompress(b"".join(chunks))


def test_the_entity_view_in_a_real_browser(server, tagger, tmp_path):
    """Headless Chromium renders the served page for a long text in a narrow window: one <mark>
    per entity with its type as label, each on one line while the text wraps between them, every
    highlight's text readable (contrast >= 4.5 from the colours the browser computed), the
    Japanese fonts named, and a screenshot that is a real picture."""
    browser = _browser()
    if browser is None:
        pytest.skip("no Chromium on this machine (.ci/run installs Debian's chromium)")
    url, _ = server
    text = " ".join(["John Smith lives in Paris and Mary Jones works for Acme Corp in Tokyo."] * 4)
    served = urllib.request.urlopen(url + "/?" + urllib.parse.urlencode({"text": text}), timeout=30).read()
    page, screenshot = tmp_path / "page.html", tmp_path / "page.png"
    page.write_text(served.decode("utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    width, height = 480, 900
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", f"--window-size={width},{height}"]
    command += [f"--screenshot={screenshot}", "--dump-dom", page.as_uri()]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120).stdout
    expected = tagger.predict(text)[0]["entities"]
    assert expected
    assert dom.count('<mark class="entity"') == len(expected)
    for entity in expected:
        assert f'data-type="{entity["type"]}"' in dom and f'>{entity["text"]}<span class="label">' in dom

    probe = json.loads(html.unescape(re.search(r'data-probe="([^"]*)"', dom).group(1)))
    highlights = [mark for mark in probe["marks"] if mark["kind"] == "entity"]
    assert len(highlights) == len(expected) and len(probe["marks"]) == len(expected) + len(tagger.entity_types)
    for mark in probe["marks"]:
        ratio = contrast_ratio(_rgb(mark["colour"]), _rgb(mark["background"]))
        assert ratio >= MIN_CONTRAST, (mark["text"], mark["colour"], mark["background"], ratio)
        assert mark["lines"] == 1, f"{mark['text']!r} is broken across lines"
    tops = [mark["top"] for mark in highlights]
    assert max(tops) - min(tops) > 2 * probe["lineHeight"], "the long text should wrap over several lines"
    assert '"Noto Sans CJK JP"' in probe["font"] and "sans-serif" in probe["font"]

    shot_width, shot_height, pixels = _png_size_and_pixels(screenshot)
    assert (shot_width, shot_height) == (width, height)
    assert len(set(pixels)) > 32, "the screenshot is blank"  # a blank page's scanlines hold one or two byte values


def test_sigterm_stops_the_server_gracefully(server):  # last: it stops the module's server
    _, process = server
    process.terminate()
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "Shutting down" in output and "Traceback" not in output


@pytest.mark.parametrize(
    "limits, fragment",
    [
        ({"timeout_s": float("nan")}, "timeout_s must be a finite number, got nan"),
        ({"timeout_s": float("inf")}, "timeout_s must be a finite number, got inf"),
        ({"max_wait_ms": float("inf")}, "max_wait_ms must be a finite number, got inf"),
        ({"max_wait_ms": -1.0}, "max_wait_ms must be at least 0, got -1.0"),
        ({"max_batch": 0}, "max_batch must be at least 1, got 0"),
    ],
)
def test_limits_refuse_nan_infinities_and_sizes_below_one(limits, fragment):
    from eiwa.errors import EiwaError

    with pytest.raises(EiwaError, match=f"^{re.escape(fragment)}$"):
        Limits(**limits)


@pytest.mark.parametrize("option", ["--timeout", "--max-wait-ms"])
@pytest.mark.parametrize("value", ["nan", "inf"])
def test_serve_refuses_nan_and_infinite_times_before_loading_anything(runner, option, value):
    from eiwa.cli import cli

    result = runner.invoke(cli, ["serve", "no-such-model", option, value])
    assert result.exit_code == 2 and f"{value!r} is not a finite number" in result.output
