"""Hostile or broken HTTP sources, each a real server on the loopback read through the real
runtime: every one ends as a down read with a named error kind, memory stays bounded, and the
source's next good answer is read as usual.

Before issue 14 (on the runtime of issue 13): the 200 MB exposition and the endless body were
read whole into memory (no limit), a slow endless body only met the deadline, a redirect loop
was not followed and ended as a `parse` error of an empty body; non-JSON bodies were already a
named `parse` error (the test proves it holds).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from collector.models import ReadResult
from collector.power.kepler import KeplerReader
from collector.power.pdu_http import HttpPlugReader
from collector.power.pdu_redfish import RedfishReader
from collector.settings import HttpJsonSource, KeplerSource, RedfishSource
from collector.sources import Runner

LIMIT = 1 << 20
LINE = (
    b'kepler_pod_cpu_joules_total{pod_id="u",pod_name="du-0",pod_namespace="ran",'
    b'state="running",zone="package"} 1.0\n'
)


@contextmanager
def raw_server(respond: Callable[[BaseHTTPRequestHandler], None]) -> Iterator[str]:
    """A real HTTP/1.1 server whose handler writes the response itself (streams, loops)."""

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            # an OSError is the client hanging up: what a refused answer looks like from here
            with contextlib.suppress(OSError):
                respond(self)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), H)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def read(source: object) -> ReadResult:
    return asyncio.run(Runner(source, clock=lambda: 1000.0).read())  # type: ignore[arg-type]


def kepler(url: str, **kw: object) -> KeplerReader:
    return KeplerReader(KeplerSource(name="k", kind="kepler", url=url, max_response_bytes=LIMIT,
                                     **kw))  # type: ignore[arg-type]  # fmt: skip


def peak_traced(fn: Callable[[], ReadResult]) -> tuple[ReadResult, int]:
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_200_mb_exposition_is_refused_and_memory_stays_bounded() -> None:
    def respond(req: BaseHTTPRequestHandler) -> None:
        total = 200 << 20
        req.send_response(200)
        req.send_header("Content-Type", "text/plain")
        req.send_header("Content-Length", str(total))
        req.end_headers()
        chunk = LINE * (65536 // len(LINE))
        sent = 0
        while sent < total:
            req.wfile.write(chunk)
            sent += len(chunk)

    with raw_server(respond) as base:
        result, peak = peak_traced(lambda: read(kepler(base + "/metrics")))
    assert not result.up
    (err,) = result.errors
    assert err.kind == "too_large" and "limit" in err.message
    assert peak < 4 * LIMIT, f"peak {peak} bytes traced while refusing the answer"


def test_an_endless_chunked_body_is_refused_at_the_limit() -> None:
    def respond(req: BaseHTTPRequestHandler) -> None:
        req.send_response(200)
        req.send_header("Transfer-Encoding", "chunked")
        req.end_headers()
        chunk = LINE * 100
        while True:  # never ends: only the reader can stop it
            req.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))

    with raw_server(respond) as base:
        result, peak = peak_traced(lambda: read(kepler(base + "/metrics", timeout_seconds=30)))
    assert not result.up and result.errors[0].kind == "too_large"
    assert peak < 4 * LIMIT


def test_a_slow_endless_body_meets_the_read_deadline() -> None:
    """A trickle that never reaches the size limit: the read's deadline (which covers the
    whole read, parse included) ends it as a `timeout`."""
    stop = threading.Event()

    def respond(req: BaseHTTPRequestHandler) -> None:
        req.send_response(200)
        req.send_header("Transfer-Encoding", "chunked")
        req.end_headers()
        while not stop.is_set():
            req.wfile.write(b"%x\r\n%s\r\n" % (len(LINE), LINE))
            req.wfile.flush()
            time.sleep(0.02)

    with raw_server(respond) as base:
        result = read(kepler(base + "/metrics", timeout_seconds=0.5))
        stop.set()
    assert not result.up and result.errors[0].kind == "timeout"


def test_a_redirect_loop_is_a_named_error() -> None:
    def respond(req: BaseHTTPRequestHandler) -> None:
        req.send_response(302)
        req.send_header("Location", req.path + "x" if len(req.path) < 200 else "/")
        req.send_header("Content-Length", "0")
        req.end_headers()

    with raw_server(respond) as base:
        src = RedfishReader(RedfishSource(name="r", kind="redfish", url=base))
        result = read(src)
    assert not result.up
    assert result.errors[0].kind == "redirect" and "redirects" in result.errors[0].message


def test_a_redirect_is_followed() -> None:
    """What a real Redfish service may do (`/redfish/v1` -> `/redfish/v1/`) still works."""

    def respond(req: BaseHTTPRequestHandler) -> None:
        if not req.path.startswith("/moved"):
            req.send_response(301)
            req.send_header("Location", "/moved" + req.path)
            req.send_header("Content-Length", "0")
            req.end_headers()
            return
        body = b'{"power": {"watts": 42.0}}'
        req.send_response(200)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    with raw_server(respond) as base:
        src = HttpPlugReader(HttpJsonSource(name="p", kind="http_json", url=base + "/meter",
                                            power_path="power.watts"))  # fmt: skip
        result = read(src)
    assert result.up and result.energy[0].value == 42.0


def test_bodies_that_are_not_json_are_a_named_parse_error() -> None:
    bodies = [b"<html>502 Bad Gateway</html>", b"\x89PNG\r\n\x1a\n\x00\xff", b"", b"{'a': 1}"]
    for body in bodies:

        def respond(req: BaseHTTPRequestHandler, body: bytes = body) -> None:
            req.send_response(200)
            req.send_header("Content-Type", "application/json")
            req.send_header("Content-Length", str(len(body)))
            req.end_headers()
            req.wfile.write(body)

        with raw_server(respond) as base:
            plug = HttpJsonSource(name="p", kind="http_json", url=base, power_path="power.watts")
            redfish = RedfishSource(name="r", kind="redfish", url=base)
            for src in (HttpPlugReader(plug), RedfishReader(redfish)):
                result = read(src)
                assert not result.up, body
                assert result.errors[0].kind == "parse" and "not JSON" in result.errors[0].message


def test_a_gzip_bomb_is_refused_within_the_limit() -> None:
    """300 MB of zeros in 300 kB of gzip: inflated only as far as the limit (before: httpx
    inflated each network chunk whole, ~150 MB traced for this answer)."""
    bomb = gzip.compress(b"0" * (300 << 20), 6)

    def respond(req: BaseHTTPRequestHandler) -> None:
        req.send_response(200)
        req.send_header("Content-Encoding", "gzip")
        req.send_header("Content-Length", str(len(bomb)))
        req.end_headers()
        req.wfile.write(bomb)

    with raw_server(respond) as base:
        result, peak = peak_traced(lambda: read(kepler(base + "/metrics")))
    assert not result.up and result.errors[0].kind == "too_large"
    assert peak < 8 * LIMIT, f"peak {peak} bytes traced while refusing a {len(bomb)} B bomb"


def test_a_gzip_answer_within_the_limit_reads_and_broken_codings_are_named() -> None:
    good = gzip.compress(LINE)
    answers = {
        "/good": ("gzip", good),
        "/truncated": ("gzip", good[: len(good) // 2]),
        "/corrupt": ("gzip", b"\x1f\x8b" + bytes(range(40))),
        "/brotli": ("br", b"\x0b\x02\x80hello\x03"),
    }

    def respond(req: BaseHTTPRequestHandler) -> None:
        coding, body = answers[req.path]
        req.send_response(200)
        req.send_header("Content-Encoding", coding)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    with raw_server(respond) as base:
        ok = read(kepler(base + "/good"))
        bad = {path: read(kepler(base + path)) for path in ("/truncated", "/corrupt", "/brotli")}
    assert ok.up and ok.energy, ok.errors
    for path, result in bad.items():
        assert not result.up and result.errors[0].kind == "parse", (path, result.errors)
    assert "ends early" in bad["/truncated"].errors[0].message
    assert "corrupt" in bad["/corrupt"].errors[0].message
    assert "'br' was not asked for" in bad["/brotli"].errors[0].message


def test_garbage_instead_of_an_exposition_is_a_named_parse_error() -> None:
    bodies = [bytes(range(256)) * 64, b"<html><body>502 Bad Gateway</body></html>", b"{}\n" * 50]
    for body in bodies:

        def respond(req: BaseHTTPRequestHandler, body: bytes = body) -> None:
            req.send_response(200)
            req.send_header("Content-Length", str(len(body)))
            req.end_headers()
            req.wfile.write(body)

        with raw_server(respond) as base:
            result = read(kepler(base + "/metrics"))
        assert not result.up and result.errors[0].kind == "parse", (body[:20], result.errors)


def test_a_slow_loris_header_meets_the_read_deadline() -> None:
    """The status line, then one header byte at a time, never the blank line: each byte keeps
    the client's per-read timeout alive, so only the whole read's deadline ends it."""
    stop = threading.Event()

    def respond(req: BaseHTTPRequestHandler) -> None:
        req.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        while not stop.is_set():
            req.wfile.write(b"a")
            req.wfile.flush()
            time.sleep(0.02)

    with raw_server(respond) as base:
        result = read(kepler(base + "/metrics", timeout_seconds=0.5, retries=0))
        stop.set()
    assert not result.up and result.errors[0].kind == "timeout"
    assert "no complete read within 0.5s" in result.errors[0].message
