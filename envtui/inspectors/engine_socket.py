"""A small Docker engine client for unix:// sockets: the few JSON reads a listing needs.

Hand-written for import cost on the hot path: importing docker-py (requests, urllib3...)
takes longer than a whole warm `envtui list`, and listing needs only a few GETs. Even
http.client is left out: it imports the email package and ssl, some 20 ms more, while one
GET with `Connection: close` read to the end is a few lines. It answers as docker-py's
APIClient does for those calls (same requests, same JSON, errors that read the same), and
streams an image archive (`docker save`) for reading; everything else (changes to the
engine, copies out of containers, tcp://, ssh:// and TLS engines) stays docker-py.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Generator, Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlencode

_BASE_URL = "http+docker://localhost"
"""docker-py's name for a socket engine, which its error messages show."""


class SocketEngineError(Exception):
    """The engine could not be used; what caused it (if anything) is the __cause__."""


class EngineHTTPError(SocketEngineError):
    """The engine answered with an error status; reads as docker-py's APIError does."""

    def __init__(self, status: int, reason: str, url: str, explanation: str) -> None:
        side = "Client" if status < 500 else "Server"
        message = f"{status} {side} Error for {url}: {reason}"
        super().__init__(f'{message} ("{explanation}")' if explanation else message)
        self.status_code = status
        self.explanation = explanation


class SocketClient:
    """The engine at a unix:// URL; asks its API version at once, so a dead one fails here.

    Each request has a connection of its own: connecting to a local socket costs next to
    nothing, and callers may list from several threads. Failures are the socket's own
    OSError / TimeoutError, EngineHTTPError for an error status, else SocketEngineError.
    """

    def __init__(self, base_url: str, timeout: float) -> None:
        self.path = base_url.removeprefix("unix://")
        self.timeout = timeout
        """Seconds to connect and for each read; may be changed between requests."""
        self.api_version = self._server_version()

    def _server_version(self) -> str:
        # The same failures, in the same words, as docker-py's version="auto".
        try:
            info = self.version()
        except Exception as e:
            raise SocketEngineError(f"Error while fetching server API version: {e}") from e
        if not isinstance(info, dict) or "ApiVersion" not in info:
            raise SocketEngineError(
                'Invalid response from docker daemon: key "ApiVersion" is missing.')
        return str(info["ApiVersion"])

    def version(self) -> Any:
        """GET /version, unversioned (docker-py's version(api_version=False))."""
        return self._get("/version", versioned=False)

    def containers(self, all: bool = False, size: bool = False) -> list[dict[str, Any]]:
        """docker-py's containers(all=..., size=...): the engine's list, untouched."""
        params = {"limit": -1, "all": int(all), "size": int(size), "trunc_cmd": 0}
        return list(self._get("/containers/json", params))

    def images(self) -> list[dict[str, Any]]:
        """docker-py's images(): tagged and dangling top-level images."""
        return list(self._get("/images/json", {"only_ids": 0, "all": 0}))

    def inspect_container(self, container: str) -> dict[str, Any]:
        return dict(self._get(f"/containers/{_quote(container)}/json"))

    def diff(self, container: str) -> list[dict[str, Any]] | None:
        """The container's changed paths (`docker diff`); None when there are none."""
        changes = self._get(f"/containers/{_quote(container)}/changes")
        return None if changes is None else list(changes)

    def get_image(self, image: str, timeout: float) -> Generator[bytes, None, None]:
        """docker-py's get_image: the image's archive (`docker save`) as it arrives, with
        `timeout` seconds allowed per read. Closing the iterator hangs up on the engine."""
        target = f"/v{self.api_version}/images/{_quote(image)}/get"
        sock = self._connect(target, timeout)
        try:
            head, _, rest = _read_head(sock).partition(b"\r\n\r\n")
            status, reason, headers = _parse_head(head)
            if status >= 400:  # raised here, as docker-py does, not at the first read
                body = rest + b"".join(iter(lambda: sock.recv(65536), b""))
                raise EngineHTTPError(status, reason, _BASE_URL + target,
                                      _explanation(_body(body, headers)))
        except BaseException:
            sock.close()
            raise
        return _stream_body(_Reader(sock, rest), headers)

    def close(self) -> None:
        """Nothing stays open between requests."""

    def _connect(self, target: str, timeout: float) -> socket.socket:
        request = f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)  # as docker-py: one timeout to connect and per read
            sock.connect(self.path)
            sock.sendall(request.encode())
        except BaseException:
            sock.close()
            raise
        return sock

    def _get(self, path: str, params: Mapping[str, int] | None = None, *,
             versioned: bool = True) -> Any:
        target = f"/v{self.api_version}{path}" if versioned else path
        if params:
            target += "?" + urlencode(params)
        with self._connect(target, self.timeout) as sock:
            raw = b"".join(iter(lambda: sock.recv(65536), b""))  # `close`: the engine hangs up
        status, reason, body = _parse_response(raw)
        if status >= 400:
            raise EngineHTTPError(status, reason, _BASE_URL + target, _explanation(body))
        return json.loads(body)


def _read_head(sock: socket.socket) -> bytes:
    """The status line and headers, with whatever part of the body came along."""
    raw = b""
    while b"\r\n\r\n" not in raw:
        piece = sock.recv(65536)
        if not piece:
            break
        raw += piece
        if len(raw) > 1 << 20:
            raise SocketEngineError("not an HTTP answer: headers over 1 MB")
    return raw


def _stream_body(reader: _Reader, headers: Mapping[str, str]) -> Generator[bytes, None, None]:
    """A response's body as it arrives; the socket is closed at the end or on close()."""
    with reader.sock:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            while size := reader.chunk_size():
                yield from reader.exactly(size)
                reader.exactly_bytes(2)  # the CRLF after each chunk
        elif headers.get("content-length", "").isdigit():
            yield from reader.exactly(int(headers["content-length"]))
        else:
            yield from reader.rest()


class _Reader:
    """Reads of a socket with what was already received in front. `pos` walks through the
    received bytes instead of slicing off what was read, so a large receive cut into many
    small chunks is not copied over and over."""

    def __init__(self, sock: socket.socket, pending: bytes) -> None:
        self.sock = sock
        self.pending = pending
        self.pos = 0

    def _more(self) -> None:
        piece = self.sock.recv(1 << 18)
        if not piece:
            raise SocketEngineError("the engine's answer was cut short")
        self.pending = self.pending[self.pos:] + piece
        self.pos = 0

    def chunk_size(self) -> int:
        while (end := self.pending.find(b"\r\n", self.pos)) < 0:
            if len(self.pending) - self.pos > 4096:
                raise SocketEngineError("the engine's answer is not valid chunked data")
            self._more()
        line = self.pending[self.pos:end]
        self.pos = end + 2
        try:
            return int(line.split(b";")[0], 16)
        except ValueError:
            raise SocketEngineError("the engine's answer is not valid chunked data") from None

    def exactly(self, size: int) -> Iterator[bytes]:
        while size > 0:
            if self.pos >= len(self.pending):
                self._more()
            piece = self.pending[self.pos:self.pos + size]
            self.pos += len(piece)
            size -= len(piece)
            yield piece

    def exactly_bytes(self, size: int) -> bytes:
        return b"".join(self.exactly(size))

    def rest(self) -> Iterator[bytes]:
        if self.pos < len(self.pending):
            yield self.pending[self.pos:]
        yield from iter(lambda: self.sock.recv(1 << 18), b"")


def _parse_response(raw: bytes) -> tuple[int, str, bytes]:
    """Status, reason and body of a whole HTTP/1.1 response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status, reason, headers = _parse_head(head)
    return status, reason, _body(body, headers)


def _parse_head(head: bytes) -> tuple[int, str, dict[str, str]]:
    if not head:
        raise SocketEngineError("Remote end closed connection without response")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    proto, _, rest = status_line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not proto.startswith("HTTP/") or not code.isdigit():
        raise SocketEngineError(f"not an HTTP answer: {status_line[:80]!r}")
    headers = {k.strip().lower(): v.strip()
               for k, _, v in (line.partition(":") for line in header_lines)}
    return int(code), reason, headers


def _body(body: bytes, headers: Mapping[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return _unchunk(body)
    if headers.get("content-length", "").isdigit():
        return body[:int(headers["content-length"])]
    return body


def _unchunk(data: bytes) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line, _, data = data.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            raise SocketEngineError("the engine's answer was cut short") from None
        if size == 0:
            return b"".join(parts)
        if len(data) < size:
            raise SocketEngineError("the engine's answer was cut short")
        parts.append(data[:size])
        data = data[size + 2:]


def _quote(arg: str) -> str:
    return quote(arg, safe="/:")  # as docker-py quotes names and IDs in paths


def _explanation(body: bytes) -> str:
    """The engine's own words: its JSON `message`, else the body's text."""
    try:
        message = json.loads(body)["message"]
    except (ValueError, KeyError, TypeError):
        return body.decode(errors="replace").strip()
    return str(message)
