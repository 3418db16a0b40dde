"""A real HTTP server on 127.0.0.1:0 in a thread, serving files or scripted responses."""

from __future__ import annotations

import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

Handler = Callable[[BaseHTTPRequestHandler], tuple[int, bytes, dict[str, str]]]


@contextmanager
def serve(handler: Handler, *, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """Serve every GET through `handler(request) -> (status, body, headers)`."""

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real servers do

        def do_GET(self) -> None:
            status, body, headers = handler(self)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 128  # the default 5 drops SYNs under concurrent clients

    server = Server(("127.0.0.1", 0), H)
    server.daemon_threads = True
    scheme = "http"
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def serve_files(root: Path, *, index: str | None = None, delay_s: float = 0.0) -> Iterator[str]:
    """Each URL path maps to a file under `root` (or `<path>/<index>` when `index` is given)."""

    def handler(req: BaseHTTPRequestHandler) -> tuple[int, bytes, dict[str, str]]:
        if delay_s:
            time.sleep(delay_s)
        rel = urlsplit(req.path).path.strip("/")
        path = root / rel / index if index else root / rel
        if ".." in rel or not path.is_file():
            return 404, b'{"error": "not found"}', {"Content-Type": "application/json"}
        return 200, path.read_bytes(), {"Content-Type": "application/json"}

    with serve(handler) as base:
        yield base


@contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback TCP port that refuses every connection for as long as the block runs: bound
    but never listening, so no other server can take it meanwhile (a port merely found free
    can be taken by a parallel test's server before it is dialled)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


def request(
    url: str, data: bytes | None = None, headers: dict[str, str] | None = None, timeout: float = 30
) -> tuple[int, bytes]:
    """GET (POST with `data`); (status, body), 4xx and 5xx included."""
    req = urllib.request.Request(url, data=data, headers=headers or {},
                                 method="POST" if data is not None else "GET")  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
