"""A package index speaking the simple repository API: PEP 503 HTML or PEP 691 JSON.

Project pages are fetched through the HTTP cache; a candidate's metadata comes from the
PEP 658/714 metadata file when the index serves one, so only the few kilobytes of METADATA
cross the network, and from the downloaded file itself otherwise.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from packaging.utils import canonicalize_name

from envtui.resolver.core_metadata import (
    parse_filename,
    parse_metadata,
    read_dist_metadata,
    verify_hashes,
)
from envtui.resolver.httpcache import HttpCache, redact
from envtui.resolver.sources import CoreMetadata, Link, Source, SourceError

ACCEPT = (
    "application/vnd.pypi.simple.v1+json, "
    "application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
)

Hashes = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class PageFile:
    """One file as a project page lists it, before it is matched to a project."""

    filename: str
    url: str
    hashes: Hashes = ()
    requires_python: str | None = None
    yanked: str | None = None
    metadata: Hashes | None = None
    """None: no metadata file; otherwise the metadata file's hashes (possibly none)."""

    def link(self, name: str, origin: str) -> Link | None:
        """This file as a Link of project `name`; None when its name says otherwise."""
        parsed = parse_filename(self.filename)
        if parsed is None or parsed[0] != name:
            return None
        return Link(
            name=name, version=parsed[1], filename=self.filename, url=self.url,
            origin=origin, requires_python=self.requires_python, yanked=self.yanked,
            hashes=self.hashes,
            metadata_url=None if self.metadata is None else self.url + ".metadata",
            metadata_hashes=self.metadata or (),
        )


class SimpleIndexSource(Source):
    """The index at `index_url` (e.g. `https://host/simple`), one page per project."""

    def __init__(self, index_url: str, cache: HttpCache) -> None:
        self.index_url = index_url
        self.label = redact(index_url)
        self.cache = cache
        self._pages: dict[str, list[PageFile]] = {}
        self._metadata: dict[str, CoreMetadata] = {}

    def links(self, name: str) -> Sequence[Link]:
        canonical = canonicalize_name(name)
        files = self._page(self._page_url(canonical))
        return [link for f in files if (link := f.link(canonical, self.label)) is not None]

    def metadata(self, link: Link) -> CoreMetadata:
        # The resolver may come back to a candidate while backtracking.
        if link.url not in self._metadata:
            self._metadata[link.url] = self._read_metadata(link)
        return self._metadata[link.url]

    def _page_url(self, name: str) -> str:
        return f"{self.index_url.rstrip('/')}/{name}/"

    def _page(self, url: str) -> list[PageFile]:
        if url not in self._pages:
            resp = self.cache.get(url, accept=ACCEPT)
            if resp.status != 200:
                self._pages[url] = []  # 404 / 410: the index has no such project
            else:
                content_type = resp.headers.get("content-type", "").split(";")[0].strip()
                if content_type.lower().endswith("json"):
                    self._pages[url] = parse_json_page(resp.body, resp.url)
                else:
                    self._pages[url] = parse_html_page(resp.body, resp.url)
        return self._pages[url]

    def _read_metadata(self, link: Link) -> CoreMetadata:
        sdist = not link.is_wheel
        if link.metadata_url is not None:
            resp = self.cache.get(link.metadata_url)
            if resp.status == 200:
                verify_hashes(resp.body, link.metadata_hashes,
                              f"The metadata file {redact(link.metadata_url)}")
                return parse_metadata(resp.body, link.filename, sdist=sdist)
            # Advertised but missing: the file itself still has the answer.
        with tempfile.TemporaryDirectory(prefix="envtui-") as tmp:
            dest = Path(tmp) / "download"  # not the listed name: that is the index's text
            resp = self.cache.download(link.url, dest)
            if resp.status != 200:
                raise SourceError(
                    f"{self.label} lists {link.filename}, but its URL answered HTTP "
                    f"{resp.status}."
                )
            verify_hashes(dest, link.hashes, f"{link.filename} from {self.label}")
            return read_dist_metadata(dest, link.filename)


class FindLinksPageSource(SimpleIndexSource):
    """An http(s) `--find-links` page: one HTML page linking files of every project."""

    def _page_url(self, name: str) -> str:
        return self.index_url


def parse_json_page(body: bytes, page_url: str) -> list[PageFile]:
    """The files of a PEP 691 JSON project page; relative URLs resolve against `page_url`."""
    try:
        data: Any = json.loads(body)
    except ValueError as e:
        raise SourceError(f"{redact(page_url)} is not valid JSON ({e}).") from e
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise SourceError(f"{redact(page_url)} is not a PEP 691 project page.")
    meta = data.get("meta")
    api_version = str(meta.get("api-version", "1.0")) if isinstance(meta, dict) else "1.0"
    if api_version.split(".")[0] != "1":
        raise SourceError(
            f"{redact(page_url)} speaks simple API version {api_version}; envtui knows 1.x."
        )
    files: list[PageFile] = []
    for f in data["files"]:
        if not isinstance(f, dict):
            continue
        filename, url = f.get("filename"), f.get("url")
        if not isinstance(filename, str) or not isinstance(url, str):
            continue  # unusable entry: skip it rather than lose the whole page
        hashes = f.get("hashes")
        requires_python = f.get("requires-python")
        yanked = f.get("yanked")
        # PEP 714: "core-metadata" replaces "dist-info-metadata"; read the old key only
        # when the new one is absent.
        core = f["core-metadata"] if "core-metadata" in f else f.get("dist-info-metadata")
        files.append(PageFile(
            filename=filename,
            url=urljoin(page_url, url),
            hashes=_hash_items(hashes) if isinstance(hashes, dict) else (),
            requires_python=requires_python if isinstance(requires_python, str) else None,
            yanked=_json_yanked(yanked),
            metadata=_hash_items(core) if isinstance(core, dict) else (
                () if core is True else None),
        ))
    return files


def parse_html_page(body: bytes, page_url: str) -> list[PageFile]:
    """The files of a PEP 503 HTML page (with PEP 592 / 658 / 714 data attributes)."""
    parser = _AnchorParser()
    parser.feed(body.decode("utf-8", errors="replace"))
    parser.close()
    base = urljoin(page_url, parser.base) if parser.base else page_url
    files: list[PageFile] = []
    for attrs in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        url, _, fragment = urljoin(base, href).partition("#")
        filename = unquote(urlsplit(url).path.rpartition("/")[2])
        # The fragment carries the file's hash: #sha256=<hex>.
        algorithm, eq, digest = fragment.partition("=")
        core = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
        files.append(PageFile(
            filename=filename,
            url=url,
            hashes=((algorithm.lower(), digest.lower()),) if eq and digest else (),
            # html.parser has already unescaped attribute values (&gt;= -> >=).
            requires_python=attrs.get("data-requires-python") or None,
            yanked=(attrs["data-yanked"] or "") if "data-yanked" in attrs else None,
            metadata=_html_metadata(core),
        ))
    return files


def _json_yanked(value: object) -> str | None:
    """PEP 691's `yanked`: true (no reason given) or a non-empty string (the reason)."""
    if isinstance(value, str) and value:
        return value
    return "" if value is True else None


def _html_metadata(value: str | None) -> Hashes | None:
    """`data-core-metadata`: "true", or "<algorithm>=<hex>" (which also means true)."""
    if value is None or value.lower() == "false":
        return None
    algorithm, eq, digest = value.partition("=")
    return ((algorithm.lower(), digest.lower()),) if eq and digest else ()


def _hash_items(hashes: dict[Any, Any]) -> Hashes:
    return tuple(sorted((str(k).lower(), str(v).lower()) for k, v in hashes.items()
                        if isinstance(v, str)))


class _AnchorParser(HTMLParser):
    """Collects every <a>'s attributes and the first <base href>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[dict[str, str | None]] = []
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.anchors.append(dict(attrs))
        elif tag == "base" and self.base is None:
            self.base = dict(attrs).get("href")
