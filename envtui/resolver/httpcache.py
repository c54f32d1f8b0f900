"""A small on-disk HTTP cache for index pages, metadata files and distributions.

Each entry is one file named by the sha256 of (URL, Accept): a JSON line with the final URL,
status, the headers caching needs and the time it was stored, then the body. One file per
entry means a reader never sees a body from one response with headers from another, and
writing a temporary file then `os.replace`-ing it makes every update atomic.

Freshness follows the response's `Cache-Control` (max-age, no-cache, no-store); stale
entries are revalidated with their ETag / Last-Modified. Offline, every stored entry is
served whatever its age, since an old answer beats none.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import json
import os
import shutil
import ssl
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from email.message import Message
from pathlib import Path
from typing import IO, Any
from urllib.error import HTTPError, URLError
from urllib.parse import unquote, urlsplit, urlunsplit

from envtui.resolver.sources import SourceError

MAX_BODY_BYTES = 50 * 2**20
"""For `get`, which holds the body in memory; the largest real index pages are ~20 MB."""
MAX_DOWNLOAD_BYTES = 500 * 2**20
"""For `download`, which streams to disk; wheels with CUDA inside approach this."""

_KEPT_HEADERS = ("etag", "last-modified", "cache-control", "content-type", "date", "age")
_NETWORK_ERRORS = (TimeoutError, ConnectionError, http.client.HTTPException, ssl.SSLError)
_CHUNK = 1 << 16


@dataclass(frozen=True)
class Response:
    url: str
    """The final URL, after redirects: relative links on the page resolve against it."""
    status: int
    """200, or 404 / 410 for "not there" (an answer, not an error)."""
    headers: dict[str, str]
    """The cached subset of the response headers, names lowercased."""
    body: bytes
    from_cache: bool
    """True when no request was made, or the server answered 304 Not Modified."""


@dataclass
class _Entry:
    url: str
    status: int
    headers: dict[str, str]
    stored: float


class HttpCache:
    """GETs through a cache directory; raises SourceError with one sentence on failure."""

    def __init__(self, directory: Path, offline: bool = False, timeout: float = 30) -> None:
        self.directory = directory
        self.offline = offline
        self.timeout = timeout
        self._opener = urllib.request.build_opener()  # honours the *_proxy variables
        # Credentials seen in any URL, per host: pages link to files by plain URLs on
        # the same host, and those need the same login.
        self._auth: dict[str, str] = {}

    def get(self, url: str, accept: str | None = None) -> Response:
        """The response body for `url`, in memory (at most MAX_BODY_BYTES)."""
        with self._open(url, accept, MAX_BODY_BYTES) as (entry, body, from_cache):
            data = body.read(MAX_BODY_BYTES + 1)
        if len(data) > MAX_BODY_BYTES:
            raise _too_big(url, MAX_BODY_BYTES)
        return Response(entry.url, entry.status, entry.headers, data, from_cache)

    def download(self, url: str, dest: Path, max_bytes: int = MAX_DOWNLOAD_BYTES) -> Response:
        """Write the body of `url` to `dest`, streamed; the returned body is empty."""
        with self._open(url, None, max_bytes) as (entry, body, from_cache):
            if entry.status == 200:
                try:
                    with dest.open("wb") as out:
                        shutil.copyfileobj(body, out, _CHUNK)
                except OSError as e:
                    raise SourceError(f"Cannot write {dest}: {e.strerror or e}.") from e
        return Response(entry.url, entry.status, entry.headers, b"", from_cache)

    @contextmanager
    def _open(
        self, url: str, accept: str | None, limit: int
    ) -> Iterator[tuple[_Entry, IO[bytes], bool]]:
        """The entry for (url, accept) and its body stream, fetching only when needed."""
        key = hashlib.sha256(f"{url}\n{accept or ''}".encode()).hexdigest()
        path = self.directory / key[:2] / key
        try:
            stored = _read_entry(path)
            if stored is not None and (self.offline or _is_fresh(stored[0])):
                with _body(path, stored[1]) as body:
                    yield stored[0], body, True
                return
            if self.offline:
                raise SourceError(f"offline and {redact(url)} is not in the cache")
            entry, tmp, not_modified = self._fetch(url, accept, path, stored, limit)
            if tmp is None:  # 404 / 410: nothing to store
                yield entry, io.BytesIO(), False
                return
            no_store = "no-store" in _directives(entry.headers.get("cache-control", ""))
            if no_store:
                path.unlink(missing_ok=True)  # what the server says not to keep goes
            elif entry.status == 200:
                path.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, path)
                tmp = path
            try:
                with _body(tmp, _body_offset(tmp)) as body:
                    yield entry, body, not_modified
            finally:
                if tmp != path:
                    tmp.unlink(missing_ok=True)
        except OSError as e:  # _fetch turned network errors into SourceError: this is disk
            raise SourceError(
                f"Cannot use the HTTP cache in {self.directory}: {e.strerror or e}."
            ) from e

    def _fetch(
        self,
        url: str,
        accept: str | None,
        path: Path,
        stored: tuple[_Entry, int] | None,
        limit: int,
    ) -> tuple[_Entry, Path | None, bool]:
        """One GET: (entry, temporary file holding it, whether the server said 304).

        The file is None for 404 / 410, which have no body worth keeping.
        """
        request = self._request(url, accept, stored[0] if stored else None)
        host = urlsplit(url).hostname or url
        try:
            with self._opener.open(request, timeout=self.timeout) as resp:
                entry = _Entry(resp.geturl(), resp.status, _kept(resp.headers), time.time())
                length = resp.headers.get("content-length", "")
                if length.isdigit() and int(length) > limit:
                    raise _too_big(url, limit)
                return entry, self._write_temp(entry, resp, url, limit), False
        except HTTPError as e:
            e.close()
            if e.code == 304 and stored is not None:
                # Same body, the 304's headers (new max-age, ETag) and a new stored time.
                old, offset = stored
                entry = _Entry(old.url, old.status, {**old.headers, **_kept(e.headers)},
                               time.time())
                with _body(path, offset) as body:
                    return entry, self._write_temp(entry, body, url, MAX_DOWNLOAD_BYTES), True
            if e.code in (404, 410):
                entry = _Entry(e.geturl() or url, e.code, _kept(e.headers), time.time())
                return entry, None, False
            raise SourceError(f"{redact(url)} answered HTTP {e.code} {e.reason}.") from e
        except URLError as e:
            raise SourceError(f"Cannot reach {host} for {redact(url)}: {e.reason}.") from e
        except _NETWORK_ERRORS as e:
            raise SourceError(
                f"The connection to {host} failed while reading {redact(url)}: "
                f"{e or type(e).__name__}."
            ) from e

    def _request(
        self, url: str, accept: str | None, stored: _Entry | None
    ) -> urllib.request.Request:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise SourceError(f"{redact(url)} is not an http(s) URL.")
        userinfo, _, hostport = parts.netloc.rpartition("@")
        if userinfo:
            user, _, password = userinfo.partition(":")
            token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode())
            self._auth[hostport] = f"Basic {token.decode()}"
        request = urllib.request.Request(
            urlunsplit(parts._replace(netloc=hostport)), headers={"User-Agent": "envtui"}
        )
        if accept:
            request.add_header("Accept", accept)
        if hostport in self._auth:
            # Unredirected: a redirect to another host must not carry the password along.
            request.add_unredirected_header("Authorization", self._auth[hostport])
        if stored is not None and stored.status == 200:
            if "etag" in stored.headers:
                request.add_header("If-None-Match", stored.headers["etag"])
            if "last-modified" in stored.headers:
                request.add_header("If-Modified-Since", stored.headers["last-modified"])
        return request

    def _write_temp(self, entry: _Entry, body: IO[bytes], url: str, limit: int) -> Path:
        """The entry and its body, streamed into a temporary file in the cache directory."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(_encode(entry))
                size = 0
                while chunk := body.read(_CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise _too_big(url, limit)
                    out.write(chunk)
        except BaseException:
            os.unlink(name)
            raise
        return Path(name)


def redact(url: str) -> str:
    """`url` without its password, for messages and labels."""
    parts = urlsplit(url)
    userinfo, _, hostport = parts.netloc.rpartition("@")
    if not userinfo:
        return url
    return urlunsplit(parts._replace(netloc=f"***@{hostport}"))


def _encode(entry: _Entry) -> bytes:
    return json.dumps(asdict(entry)).encode() + b"\n"


def _read_entry(path: Path) -> tuple[_Entry, int] | None:
    """The stored entry and where its body starts; None when absent or unreadable."""
    try:
        with path.open("rb") as f:
            line = f.readline(1 << 20)
        data: Any = json.loads(line)
        entry = _Entry(str(data["url"]), int(data["status"]),
                       {str(k): str(v) for k, v in dict(data["headers"]).items()},
                       float(data["stored"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a half-written or foreign file is a miss, not an error
    return entry, len(line)


def _body_offset(path: Path) -> int:
    with path.open("rb") as f:
        return len(f.readline(1 << 20))


@contextmanager
def _body(path: Path, offset: int) -> Iterator[IO[bytes]]:
    with path.open("rb") as f:
        f.seek(offset)
        yield f


def _kept(headers: Message) -> dict[str, str]:
    kept: dict[str, str] = {}
    for name in _KEPT_HEADERS:
        values = headers.get_all(name)
        if values:
            kept[name] = ", ".join(str(v) for v in values)
    return kept


def _directives(cache_control: str) -> dict[str, str]:
    directives: dict[str, str] = {}
    for part in cache_control.split(","):
        name, _, arg = part.strip().partition("=")
        if name:
            directives[name.lower()] = arg.strip().strip('"')
    return directives


def _is_fresh(entry: _Entry) -> bool:
    """Whether `entry` may be served without asking the server (RFC 9111, max-age only)."""
    directives = _directives(entry.headers.get("cache-control", ""))
    if entry.status != 200 or "no-cache" in directives:
        return False
    try:
        max_age = int(directives["max-age"])
        age_when_stored = int(entry.headers.get("age", "0"))
    except (KeyError, ValueError):
        return False
    return age_when_stored + (time.time() - entry.stored) < max_age


def _too_big(url: str, limit: int) -> SourceError:
    return SourceError(f"{redact(url)} is larger than {limit // 2**20} MB; envtui stops there.")
