"""Servers on loopback for the tests: a package index (fixed routes, every request
recorded), and a port that answers a TLS handshake with plain HTTP."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "text/html"
    headers: dict[str, str] = field(default_factory=dict)
    """Extra response headers (Cache-Control, Last-Modified...)."""
    etag: str | None = None
    """When set, sent as ETag; a request with a matching If-None-Match gets a 304."""
    status: int = 200


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    """Request headers, names lowercased."""


class IndexServer:
    def __init__(self, server: ThreadingHTTPServer) -> None:
        self.server = server
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def hits(self, path: str) -> int:
        return sum(1 for r in self.requests if r.path == path)


@contextmanager
def serve() -> Iterator[IndexServer]:
    """Serve an IndexServer's routes on 127.0.0.1 (a free port) while the block runs."""
    index: IndexServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            index.requests.append(Request(self.path, headers))
            route = index.routes.get(self.path)
            if route is None:
                self._reply(404, {"Content-Type": "text/plain"}, b"not found")
                return
            extra = dict(route.headers)
            if route.etag is not None:
                extra["ETag"] = route.etag
                if headers.get("if-none-match") == route.etag:
                    self._reply(304, extra, b"")
                    return
            self._reply(route.status, {"Content-Type": route.content_type, **extra}, route.body)

        def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep pytest output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    index = IndexServer(server)
    # A short poll interval: shutdown() waits for the loop to notice, once per test.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield index
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def plain_http_port() -> Iterator[int]:
    """A TCP port on loopback that answers anything, a TLS handshake too, with a plain HTTP
    400, as a misconfigured remote engine's port does."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    srv.settimeout(0.2)
    stop = threading.Event()

    def answer() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(4096)
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    pass

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        srv.close()
