"""Candidate sources: find-links directories, simple indexes (served on loopback), the HTTP
cache under them, and pip's configuration deciding which of them to use."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.version import Version

from envtui.resolver import httpcache, pipconfig
from envtui.resolver.core_metadata import parse_headers
from envtui.resolver.findlinks import FindLinksSource
from envtui.resolver.httpcache import HttpCache
from envtui.resolver.pipconfig import DEFAULT_INDEX_URL, build_sources, index_options
from envtui.resolver.simple_index import ACCEPT, FindLinksPageSource, SimpleIndexSource
from envtui.resolver.sources import CoreMetadata, SourceError
from tests.simple_server import IndexServer, Route, serve
from tests.wheels import build_wheel

JSON_TYPE = "application/vnd.pypi.simple.v1+json"


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def write_tar_gz(path: Path, members: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def pkg_info(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n\nThe description.\nRequires-Dist: not-a-header\n").encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def server() -> Iterator[IndexServer]:
    with serve() as s:
        yield s


# --- find-links directories -------------------------------------------------------------


def test_find_links_lists_each_projects_files_by_canonical_name(wheelhouse: Path) -> None:
    source = FindLinksSource(wheelhouse)
    numpy = source.links("NumPy")
    assert sorted(link.version for link in numpy) == [Version("1.26.4"), Version("2.1.0")]
    assert {link.name for link in numpy} == {"numpy"}
    assert all(link.origin == str(wheelhouse) for link in numpy)
    first = min(numpy, key=lambda link: link.version)
    assert first.filename == "numpy-1.26.4-py3-none-any.whl"
    assert first.url == (wheelhouse / first.filename).as_uri()
    assert first.is_wheel
    # Hello_World's wheel answers to every spelling of its name.
    assert [link.version for link in source.links("hello.world")] == [Version("0.1.0")]
    assert source.links("absent") == []


def test_find_links_skips_unparsable_names_and_lists_the_directory_once(tmp_path: Path) -> None:
    build_wheel(tmp_path, "tinydep", "0.3")
    for junk in ("README.txt", "tinydep.whl", "tinydep.tar.gz", "tinydep-notaversion.zip"):
        (tmp_path / junk).write_text("junk")
    (tmp_path / "tinydep-0.1.tar.gz").write_bytes(b"")
    source = FindLinksSource(tmp_path)
    assert sorted(link.filename for link in source.links("tinydep")) == [
        "tinydep-0.1.tar.gz", "tinydep-0.3-py3-none-any.whl"]
    build_wheel(tmp_path, "tinydep", "0.4")  # appears after the listing: not seen
    assert len(source.links("tinydep")) == 2
    assert len(FindLinksSource(tmp_path).links("tinydep")) == 3


def test_find_links_directory_is_read_lazily(tmp_path: Path) -> None:
    source = FindLinksSource(tmp_path / "missing")  # constructing touches nothing
    with pytest.raises(SourceError, match="Cannot list the find-links directory"):
        source.links("x")


def test_find_links_metadata_comes_from_the_wheels(wheelhouse: Path) -> None:
    source = FindLinksSource(wheelhouse)
    [newlib] = source.links("newlib")
    assert source.metadata(newlib) == CoreMetadata(
        requires_dist=("numpy>=2", "tinydep; extra == 'fast'"), requires_python=None)
    numpy2 = max(source.links("numpy"), key=lambda link: link.version)
    assert source.metadata(numpy2) == CoreMetadata(requires_python=">=3.10")


def test_wheel_metadata_with_folded_headers_odd_bytes_and_a_renamed_dist_info(
    tmp_path: Path,
) -> None:
    metadata = (b"Metadata-Version: 2.1\nName: Odd.Name\nVersion: 1.0\n"
                b"Summary: caf\xe9 \xff\n"  # not UTF-8: must not stop the read
                b"Requires-Dist: alpha>=1;\n  python_version < '3.12'\n"
                b"Requires-Python: >=3.8\n"
                b"Requires-Dist: beta\n\nRequires-Dist: body-not-header\n")
    # The directory inside spells the name differently from the file name.
    write_zip(tmp_path / "Odd_Name-1.0-py3-none-any.whl", {
        "odd_name/__init__.py": b"",
        "odd.name-1.0.dist-info/METADATA": metadata,
        "odd_name/nested.dist-info/METADATA": b"Requires-Dist: decoy\n",
        "vendored-2.0.dist-info/METADATA": b"Requires-Dist: decoy\n",
    })
    [link] = FindLinksSource(tmp_path).links("odd-name")
    assert FindLinksSource(tmp_path).metadata(link) == CoreMetadata(
        requires_dist=("alpha>=1; python_version < '3.12'", "beta"), requires_python=">=3.8")


def test_header_parser_unfolds_and_stops_at_the_body() -> None:
    assert parse_headers("A: 1\nB:  two\n\tthree\nC:\n\nD: body\n") == [
        ("a", "1"), ("b", "two three"), ("c", "")]


def test_sdist_with_static_metadata_is_read_without_building(tmp_path: Path) -> None:
    info = pkg_info("Metadata-Version: 2.2", "Name: static", "Version: 1.0",
                    "Dynamic: Description", "Requires-Dist: tinydep>=0.1",
                    "Requires-Python: >=3.9")
    write_tar_gz(tmp_path / "static-1.0.tar.gz", {
        "static-1.0/setup.py": b"raise SystemExit('never run')\n",
        "static-1.0/static.egg-info/PKG-INFO": b"Requires-Dist: decoy\n",
        "static-1.0/PKG-INFO": info,
    })
    write_zip(tmp_path / "static-2.0.zip", {"static-2.0/PKG-INFO": info})
    source = FindLinksSource(tmp_path)
    expected = CoreMetadata(requires_dist=("tinydep>=0.1",), requires_python=">=3.9")
    assert [source.metadata(link) for link in source.links("static")] == [expected, expected]


@pytest.mark.parametrize("header", [
    ("Metadata-Version: 2.2", "Dynamic: Requires-Dist"),
    ("Metadata-Version: 2.3", "Dynamic: requires-python"),
    ("Metadata-Version: 2.1",),  # before PEP 643 nothing in PKG-INFO is promised
    (),
])
def test_sdist_with_dynamic_metadata_is_refused(tmp_path: Path, header: tuple[str, ...]) -> None:
    info = pkg_info(*header, "Name: dyn", "Version: 1.0", "Requires-Dist: tinydep")
    write_tar_gz(tmp_path / "dyn-1.0.tar.gz", {"dyn-1.0/PKG-INFO": info})
    source = FindLinksSource(tmp_path)
    [link] = source.links("dyn")
    with pytest.raises(SourceError, match=r"sdist dyn-1\.0\.tar\.gz metadata is not static; "
                                          r"envtui does not build sdists"):
        source.metadata(link)


@pytest.mark.parametrize(("filename", "content"), [
    ("broken-1.0-py3-none-any.whl", b"this is not a zip"),
    ("broken-1.0.tar.gz", b"\x1f\x8b\x08\x00 truncated gzip"),
])
def test_corrupt_archives_raise_source_error_naming_the_file(
    tmp_path: Path, filename: str, content: bytes
) -> None:
    (tmp_path / filename).write_bytes(content)
    source = FindLinksSource(tmp_path)
    [link] = source.links("broken")
    with pytest.raises(SourceError, match=filename.replace(".", r"\.")):
        source.metadata(link)


def test_wheel_without_metadata_and_oversized_metadata_are_errors(tmp_path: Path) -> None:
    write_zip(tmp_path / "empty-1.0-py3-none-any.whl", {"empty/__init__.py": b""})
    write_zip(tmp_path / "huge-1.0-py3-none-any.whl",
              {"huge-1.0.dist-info/METADATA": b"Name: huge\n" + b"x" * (11 * 2**20)})
    source = FindLinksSource(tmp_path)
    with pytest.raises(SourceError, match=r"empty-1\.0-py3-none-any\.whl does not hold"):
        source.metadata(source.links("empty")[0])
    with pytest.raises(SourceError, match="larger than 10 MB"):
        source.metadata(source.links("huge")[0])


# --- simple indexes ---------------------------------------------------------------------


def _serve_wheel(server: IndexServer, path: Path, at: str) -> bytes:
    data = path.read_bytes()
    server.routes[at] = Route(data, content_type="application/octet-stream")
    return data


def test_json_project_page(server: IndexServer, tmp_path: Path) -> None:
    good = build_wheel(tmp_path, "demo", "1.0", requires=["tinydep"])
    data = _serve_wheel(server, good, "/files/demo-1.0-py3-none-any.whl")
    page = {
        "meta": {"api-version": "1.1"},
        "name": "demo",
        "files": [
            {"filename": "demo-1.0-py3-none-any.whl",
             "url": "../../files/demo-1.0-py3-none-any.whl",  # relative to the page
             "hashes": {"sha256": sha256(data)}, "requires-python": ">=3.8",
             "core-metadata": {"sha256": "ab" * 32}, "dist-info-metadata": False},
            {"filename": "demo-0.9.tar.gz", "url": "https://files.invalid/demo-0.9.tar.gz",
             "hashes": {}, "yanked": "broken build", "dist-info-metadata": True},
            {"filename": "demo-0.8.tar.gz", "url": "/x/demo-0.8.tar.gz", "hashes": {},
             "yanked": True, "requires-python": None},
            {"filename": "demo-0.7.zip", "url": "d.zip", "hashes": {}, "yanked": False},
            {"filename": "other-1.0-py3-none-any.whl", "url": "o.whl", "hashes": {}},
            {"filename": "demo.exe", "url": "demo.exe", "hashes": {}},
            {"filename": "no-url-1.0.tar.gz"},
        ],
    }
    server.routes["/simple/demo/"] = Route(json.dumps(page).encode(), content_type=JSON_TYPE)
    source = SimpleIndexSource(server.url + "/simple", HttpCache(tmp_path / "cache"))
    links = {str(link.version): link for link in source.links("Demo")}
    assert sorted(links) == ["0.7", "0.8", "0.9", "1.0"]
    one = links["1.0"]
    assert one.url == server.url + "/files/demo-1.0-py3-none-any.whl"
    assert one.hashes == (("sha256", sha256(data)),)
    assert one.requires_python == ">=3.8"
    assert one.yanked is None
    # core-metadata wins over the legacy key (PEP 714), and carries the metadata hash.
    assert one.metadata_url == one.url + ".metadata"
    assert one.metadata_hashes == (("sha256", "ab" * 32),)
    assert one.origin == server.url + "/simple"
    assert links["0.9"].yanked == "broken build"
    assert links["0.9"].metadata_url == "https://files.invalid/demo-0.9.tar.gz.metadata"
    assert links["0.9"].metadata_hashes == ()
    assert links["0.8"].yanked == ""
    assert links["0.8"].url == server.url + "/x/demo-0.8.tar.gz"
    assert links["0.7"].yanked is None and links["0.7"].metadata_url is None
    # The page asked for JSON first (PEP 691 content negotiation).
    assert server.requests[0].headers["accept"] == ACCEPT


def test_html_project_page(server: IndexServer, tmp_path: Path) -> None:
    digest = "cd" * 32
    html = f"""<!DOCTYPE html><html><head><title>Links for demo</title></head><body>
      <a href="../../files/demo-1.0-py3-none-any.whl#sha256={digest}"
         data-requires-python="&gt;=3.9,&lt;4" data-core-metadata="sha256={"ef" * 32}"
         >demo-1.0-py3-none-any.whl</a>
      <a href="/files/demo-0.9-py3-none-any.whl" data-yanked="contains a &quot;bug&quot;"
         data-dist-info-metadata="true">demo-0.9-py3-none-any.whl</a>
      <a href="demo-0.8.tar.gz" data-yanked>demo-0.8.tar.gz</a>
      <a href="demo_1.0%2Blocal-0.txt">not a distribution</a>
      <a>no href</a>
    </body></html>"""
    server.routes["/simple/demo/"] = Route(html.encode(), content_type="text/html")
    source = SimpleIndexSource(server.url + "/simple/", HttpCache(tmp_path / "cache"))
    links = {str(link.version): link for link in source.links("demo")}
    assert sorted(links) == ["0.8", "0.9", "1.0"]
    one = links["1.0"]
    assert one.url == server.url + "/files/demo-1.0-py3-none-any.whl"  # fragment gone
    assert one.hashes == (("sha256", digest),)
    assert one.requires_python == ">=3.9,<4"
    assert one.metadata_url == one.url + ".metadata"
    assert one.metadata_hashes == (("sha256", "ef" * 32),)
    assert links["0.9"].yanked == 'contains a "bug"'
    assert links["0.9"].metadata_url is not None and links["0.9"].metadata_hashes == ()
    assert links["0.8"].yanked == ""
    assert links["0.8"].url == server.url + "/simple/demo/demo-0.8.tar.gz"
    assert links["0.8"].metadata_url is None


def test_unknown_project_is_an_empty_list(server: IndexServer, tmp_path: Path) -> None:
    source = SimpleIndexSource(server.url + "/simple", HttpCache(tmp_path / "cache"))
    assert source.links("nothing-here") == []
    assert server.hits("/simple/nothing-here/") == 1


def _metadata_index(server: IndexServer, tmp_path: Path, *, metadata: bool,
                    metadata_hash: str | None = None, file_hash: str | None = None) -> bytes:
    wheel = build_wheel(tmp_path / "dist", "demo", "1.0", requires=["tinydep>=0.3"],
                        requires_python=">=3.10")
    data = _serve_wheel(server, wheel, "/files/demo-1.0-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as zf:
        meta = zf.read("demo-1.0.dist-info/METADATA")
    server.routes["/files/demo-1.0-py3-none-any.whl.metadata"] = Route(meta)
    entry: dict[str, object] = {
        "filename": wheel.name, "url": "/files/" + wheel.name,
        "hashes": {"sha256": file_hash or sha256(data)},
    }
    if metadata:
        entry["core-metadata"] = {"sha256": metadata_hash or sha256(meta)}
    page = {"meta": {"api-version": "1.0"}, "name": "demo", "files": [entry]}
    server.routes["/simple/demo/"] = Route(json.dumps(page).encode(), content_type=JSON_TYPE)
    return meta


EXPECTED_DEMO = CoreMetadata(requires_dist=("tinydep>=0.3",), requires_python=">=3.10")


def test_pep_658_metadata_is_fetched_instead_of_the_wheel(
    server: IndexServer, tmp_path: Path
) -> None:
    _metadata_index(server, tmp_path, metadata=True)
    source = SimpleIndexSource(server.url + "/simple", HttpCache(tmp_path / "cache"))
    [link] = source.links("demo")
    assert source.metadata(link) == EXPECTED_DEMO
    assert server.hits("/files/demo-1.0-py3-none-any.whl.metadata") == 1
    assert server.hits("/files/demo-1.0-py3-none-any.whl") == 0


def test_without_pep_658_the_wheel_is_downloaded_and_verified(
    server: IndexServer, tmp_path: Path
) -> None:
    _metadata_index(server, tmp_path, metadata=False)
    source = SimpleIndexSource(server.url + "/simple", HttpCache(tmp_path / "cache"))
    [link] = source.links("demo")
    assert source.metadata(link) == EXPECTED_DEMO
    assert server.hits("/files/demo-1.0-py3-none-any.whl") == 1
    assert server.hits("/files/demo-1.0-py3-none-any.whl.metadata") == 0


def test_metadata_hash_mismatch_is_an_error(server: IndexServer, tmp_path: Path) -> None:
    _metadata_index(server, tmp_path, metadata=True, metadata_hash="00" * 32)
    source = SimpleIndexSource(server.url + "/simple", HttpCache(tmp_path / "cache"))
    [link] = source.links("demo")
    with pytest.raises(SourceError, match=r"metadata file .* does not match its published "
                                          r"sha256 hash"):
        source.metadata(link)


def test_downloaded_wheel_hash_mismatch_is_an_error(server: IndexServer, tmp_path: Path) -> None:
    _metadata_index(server, tmp_path, metadata=False, file_hash="11" * 32)
    source = SimpleIndexSource(server.url + "/simple", HttpCache(tmp_path / "cache"))
    [link] = source.links("demo")
    with pytest.raises(SourceError, match=r"demo-1\.0-py3-none-any\.whl from .* does not match"):
        source.metadata(link)


def test_index_sdist_follows_the_static_metadata_rule(server: IndexServer, tmp_path: Path) -> None:
    sdist = write_tar_gz(tmp_path / "dyn-1.0.tar.gz", {"dyn-1.0/PKG-INFO": pkg_info(
        "Metadata-Version: 2.2", "Name: dyn", "Version: 1.0", "Dynamic: Requires-Dist")})
    _serve_wheel(server, sdist, "/files/dyn-1.0.tar.gz")
    server.routes["/simple/dyn/"] = Route(b'<a href="/files/dyn-1.0.tar.gz">dyn-1.0.tar.gz</a>')
    source = SimpleIndexSource(server.url + "/simple", HttpCache(tmp_path / "cache"))
    [link] = source.links("dyn")
    with pytest.raises(SourceError, match="not static"):
        source.metadata(link)


def test_find_links_page_is_fetched_once_and_filtered_by_project(
    server: IndexServer, tmp_path: Path
) -> None:
    server.routes["/links.html"] = Route(
        b'<a href="pkgs/alpha-1.0-py3-none-any.whl">a</a>'
        b'<a href="pkgs/beta-2.0.tar.gz">b</a><a href="pkgs/alpha-1.1.zip">c</a>')
    source = FindLinksPageSource(server.url + "/links.html", HttpCache(tmp_path / "cache"))
    assert [str(link.version) for link in source.links("alpha")] == ["1.0", "1.1"]
    assert [link.url for link in source.links("beta")] == [server.url + "/pkgs/beta-2.0.tar.gz"]
    assert server.hits("/links.html") == 1


# --- the HTTP cache ---------------------------------------------------------------------


def test_fresh_entries_are_served_without_a_request(server: IndexServer, tmp_path: Path) -> None:
    server.routes["/page"] = Route(b"v1", headers={"Cache-Control": "max-age=600"})
    cache = HttpCache(tmp_path)
    first = cache.get(server.url + "/page")
    assert (first.status, first.body, first.from_cache) == (200, b"v1", False)
    server.routes["/page"].body = b"v2"
    second = HttpCache(tmp_path).get(server.url + "/page")  # a new process, same directory
    assert (second.body, second.from_cache) == (b"v1", True)
    assert second.headers["cache-control"] == "max-age=600"
    assert server.hits("/page") == 1
    # The Accept header is part of the key: a different one is a different entry.
    assert cache.get(server.url + "/page", accept="text/html").body == b"v2"
    assert server.hits("/page") == 2
    assert not list(tmp_path.rglob(".tmp-*"))  # no temporary files left behind


def test_stale_entries_are_revalidated_with_their_etag(server: IndexServer, tmp_path: Path) -> None:
    server.routes["/page"] = Route(b"v1", etag='"one"', headers={"Cache-Control": "max-age=0"})
    cache = HttpCache(tmp_path)
    assert cache.get(server.url + "/page").from_cache is False
    again = cache.get(server.url + "/page")
    assert (again.status, again.body, again.from_cache) == (200, b"v1", True)
    assert server.requests[-1].headers["if-none-match"] == '"one"'
    assert server.hits("/page") == 2
    # A 304 can renew freshness: the stored entry takes its headers and time.
    server.routes["/page"].headers = {"Cache-Control": "max-age=600"}
    assert cache.get(server.url + "/page").from_cache is True
    assert cache.get(server.url + "/page").body == b"v1"
    assert server.hits("/page") == 3
    # A changed resource gets a new ETag, so the full answer comes back.
    server.routes["/page"] = Route(b"v2", etag='"two"',
                                   headers={"Cache-Control": "no-cache, max-age=600"})
    other = HttpCache(tmp_path / "other")
    assert other.get(server.url + "/page").body == b"v2"
    # no-cache: revalidated every time, whatever max-age says.
    assert other.get(server.url + "/page").from_cache is True
    assert server.hits("/page") == 5


def test_last_modified_revalidation(server: IndexServer, tmp_path: Path) -> None:
    stamp = "Wed, 21 Oct 2015 07:28:00 GMT"
    server.routes["/page"] = Route(b"v1", headers={"Last-Modified": stamp})
    cache = HttpCache(tmp_path)
    cache.get(server.url + "/page")
    cache.get(server.url + "/page")
    assert server.requests[-1].headers["if-modified-since"] == stamp


def test_offline_serves_stale_entries_and_names_missing_ones(
    server: IndexServer, tmp_path: Path
) -> None:
    server.routes["/page"] = Route(b"old", headers={"Cache-Control": "max-age=0"})
    HttpCache(tmp_path).get(server.url + "/page")
    offline = HttpCache(tmp_path, offline=True)
    assert offline.get(server.url + "/page").body == b"old"
    assert server.hits("/page") == 1
    with pytest.raises(SourceError, match=r"^offline and http://127\.0\.0\.1:\d+/other is not "
                                          r"in the cache$"):
        offline.get(server.url + "/other")
    assert server.hits("/other") == 0


def test_no_store_responses_are_not_kept(server: IndexServer, tmp_path: Path) -> None:
    server.routes["/secret"] = Route(b"s", headers={"Cache-Control": "no-store, max-age=600"})
    cache = HttpCache(tmp_path)
    assert cache.get(server.url + "/secret").body == b"s"
    assert cache.get(server.url + "/secret").from_cache is False
    assert server.hits("/secret") == 2
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
    with pytest.raises(SourceError, match="not in the cache"):
        HttpCache(tmp_path, offline=True).get(server.url + "/secret")


def test_http_errors_and_unreachable_hosts_are_one_sentence(
    server: IndexServer, tmp_path: Path
) -> None:
    server.routes["/boom"] = Route(b"oops", status=500)
    cache = HttpCache(tmp_path, timeout=5)
    with pytest.raises(SourceError, match=r"/boom answered HTTP 500"):
        cache.get(server.url + "/boom")
    assert cache.get(server.url + "/missing").status == 404
    # A port nobody listens on: bind one, then close it.
    with serve() as gone:
        dead = gone.url
    with pytest.raises(SourceError, match=r"^Cannot reach 127\.0\.0\.1 for "):
        cache.get(dead + "/simple/x/")


def test_bodies_over_the_cap_are_refused(
    server: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(httpcache, "MAX_BODY_BYTES", 1000)
    server.routes["/big"] = Route(b"x" * 5000)
    with pytest.raises(SourceError, match="is larger than"):
        HttpCache(tmp_path).get(server.url + "/big")
    dest = tmp_path / "big.bin"
    HttpCache(tmp_path).download(server.url + "/big", dest, max_bytes=10_000)
    assert dest.read_bytes() == b"x" * 5000
    with pytest.raises(SourceError, match="is larger than"):
        HttpCache(tmp_path / "c2").download(server.url + "/big", dest, max_bytes=100)


def test_credentials_become_basic_auth_and_stay_out_of_messages(
    server: IndexServer, tmp_path: Path
) -> None:
    server.routes["/private/"] = Route(b"page")
    server.routes["/deny"] = Route(b"", status=403)
    cache = HttpCache(tmp_path)
    host = server.url.removeprefix("http://")
    assert cache.get(f"http://me:s%40cret@{host}/private/").body == b"page"
    assert server.requests[-1].headers["authorization"] == "Basic bWU6c0BjcmV0"  # me:s@cret
    # Later plain URLs on the same host (files linked from the page) carry the login too.
    with pytest.raises(SourceError) as err:
        cache.get(f"http://me:s%40cret@{host}/deny")
    assert "cret" not in str(err.value) and "***@" in str(err.value)
    cache.get(server.url + "/missing")
    assert "authorization" in server.requests[-1].headers
    assert not any(b"cret" in p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())


# --- pip configuration ------------------------------------------------------------------


@pytest.fixture
def pipenv(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated HOME with the site-wide pip.conf files moved into tmp_path/site."""
    for var in ("PIP_CONFIG_FILE", "PIP_NO_INDEX", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL",
                "PIP_FIND_LINKS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "site" / "xdg"))
    monkeypatch.setattr(pipconfig, "ETC_PIP_CONF", tmp_path / "site" / "etc" / "pip.conf")
    return home


def write_conf(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_default_is_the_public_index(pipenv: Path) -> None:
    opts = index_options()
    assert opts.index_url == DEFAULT_INDEX_URL
    assert (opts.extra_index_urls, opts.find_links) == ((), ())
    assert opts.origins == {"index_url": "default"}


def test_config_files_in_pips_order(pipenv: Path, tmp_path: Path) -> None:
    site = write_conf(tmp_path / "site" / "xdg" / "pip" / "pip.conf",
                      "[global]\nindex-url = http://site.invalid/simple\n"
                      "find-links = /site/wheels\n")
    legacy = write_conf(pipenv / ".pip" / "pip.conf",
                        "[global]\nindex-url = http://legacy.invalid/simple\n"
                        "extra-index-url = http://legacy-extra.invalid/simple\n")
    user = write_conf(pipenv / ".config" / "pip" / "pip.conf",
                      "[global]\nindex_url = http://user.invalid/simple\n")
    opts = index_options()
    # The newer user file beats the legacy one, which beats the site-wide one.
    assert opts.index_url == "http://user.invalid/simple"
    assert opts.extra_index_urls == ("http://legacy-extra.invalid/simple",)
    assert opts.find_links == ("/site/wheels",)
    assert opts.origins == {"index_url": str(user), "extra_index_urls": str(legacy),
                            "find_links": str(site)}
    # An [install] value beats every [global] one, even from a file read earlier.
    etc = write_conf(pipconfig.ETC_PIP_CONF, "[install]\nindex-url = http://etc.invalid/s\n"
                     "extra-index-url =\n  http://a.invalid/s\n  http://b.invalid/s\n")
    opts = index_options()
    assert opts.index_url == "http://etc.invalid/s"
    assert opts.extra_index_urls == ("http://a.invalid/s", "http://b.invalid/s")
    assert opts.origins["index_url"] == str(etc)


def test_environment_beats_files_and_command_line_beats_both(
    pipenv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_conf(pipenv / ".config" / "pip" / "pip.conf",
               "[install]\nindex-url = http://file.invalid/simple\n"
               "extra-index-url = http://file-extra.invalid/simple\n"
               "find-links = conf-wheels\n")
    monkeypatch.setenv("PIP_INDEX_URL", "http://env.invalid/simple")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "http://e1.invalid/s  http://e2.invalid/s")
    opts = index_options()
    assert opts.index_url == "http://env.invalid/simple"
    assert opts.extra_index_urls == ("http://e1.invalid/s", "http://e2.invalid/s")
    assert opts.origins["index_url"] == "PIP_INDEX_URL"
    assert opts.origins["extra_index_urls"] == "PIP_EXTRA_INDEX_URL"

    # Only --find-links on the command line: the configured indexes stay, the list grows.
    opts = index_options(cli_find_links=["cli-wheels"])
    assert opts.index_url == "http://env.invalid/simple"
    assert opts.find_links == ("conf-wheels", "cli-wheels")
    assert opts.origins["find_links"].endswith("pip.conf and command line")

    opts = index_options(cli_index_urls=["http://cli.invalid/simple"],
                         cli_extra_index_urls=["http://cli-extra.invalid/s"],
                         offline=True, pre=True)
    assert opts.index_url == "http://cli.invalid/simple"
    assert opts.extra_index_urls == ("http://e1.invalid/s", "http://e2.invalid/s",
                                     "http://cli-extra.invalid/s")
    assert opts.origins["index_url"] == "command line"
    assert (opts.offline, opts.pre) == (True, True)
    assert opts.installer_args()[:2] == ["--index-url", "http://cli.invalid/simple"]


def test_explicit_environ_mapping_is_used_instead_of_the_process_environment(
    pipenv: Path
) -> None:
    opts = index_options(environ={"HOME": str(pipenv), "PIP_CONFIG_FILE": os.devnull,
                                  "PIP_FIND_LINKS": "a b"})
    assert opts.find_links == ("a", "b")
    assert opts.origins["find_links"] == "PIP_FIND_LINKS"


def test_pip_config_file(pipenv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_conf(pipenv / ".config" / "pip" / "pip.conf",
               "[global]\nindex-url = http://user.invalid/simple\nfind-links = user-wheels\n")
    write_conf(pipconfig.ETC_PIP_CONF, "[global]\nextra-index-url = http://etc.invalid/s\n")
    env_file = write_conf(tmp_path / "env.conf", "[global]\nindex-url = http://envf.invalid/s\n")

    # An existing PIP_CONFIG_FILE: read last, and pip then skips the user's files.
    monkeypatch.setenv("PIP_CONFIG_FILE", str(env_file))
    opts = index_options()
    assert opts.index_url == "http://envf.invalid/s"
    assert opts.origins["index_url"] == str(env_file)
    assert opts.extra_index_urls == ("http://etc.invalid/s",)  # site-wide still read
    assert opts.find_links == ()

    # A missing one doesn't hide the user's files.
    monkeypatch.setenv("PIP_CONFIG_FILE", str(tmp_path / "missing.conf"))
    assert index_options().index_url == "http://user.invalid/simple"

    # os.devnull: no configuration file at all.
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    opts = index_options()
    assert (opts.index_url, opts.extra_index_urls, opts.find_links) == (
        DEFAULT_INDEX_URL, (), ())


def test_no_index(pipenv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = write_conf(pipenv / ".config" / "pip" / "pip.conf",
                      "[global]\nno-index = yes\nextra-index-url = http://x.invalid/s\n"
                      "find-links = wheels\n")
    opts = index_options()
    assert (opts.index_url, opts.extra_index_urls, opts.find_links) == (None, (), ("wheels",))
    assert opts.origins["index_url"] == str(conf)
    assert opts.installer_args() == ["--no-index", "--find-links", "wheels"]
    # The environment can switch it back off; the command line can name an index anyway.
    monkeypatch.setenv("PIP_NO_INDEX", "false")
    assert index_options().index_url == DEFAULT_INDEX_URL
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    assert index_options(cli_index_urls=["http://cli.invalid/s"]).index_url == (
        "http://cli.invalid/s")
    assert index_options(cli_index_urls=["http://cli.invalid/s"], no_index=True).index_url is None
    monkeypatch.setenv("PIP_NO_INDEX", "maybe")
    with pytest.raises(SourceError, match="PIP_NO_INDEX: no-index = 'maybe'"):
        index_options()


def test_broken_config_file_is_a_source_error(pipenv: Path) -> None:
    bad = write_conf(pipenv / ".config" / "pip" / "pip.conf", "index-url = no section\n")
    with pytest.raises(SourceError, match=str(bad).replace(".", r"\.")):
        index_options()


def test_build_sources(
    pipenv: Path, tmp_path: Path, wheelhouse: Path, server: IndexServer
) -> None:
    page = {"meta": {"api-version": "1.0"}, "name": "tinydep", "files": [
        {"filename": "tinydep-0.4-py3-none-any.whl", "url": "t.whl", "hashes": {}}]}
    server.routes["/simple/tinydep/"] = Route(json.dumps(page).encode(), content_type=JSON_TYPE)
    opts = index_options(cli_index_urls=[server.url + "/simple"],
                         cli_extra_index_urls=["http://extra.invalid/simple"],
                         cli_find_links=[str(wheelhouse), server.url + "/links.html",
                                         wheelhouse.as_uri()])
    sources = build_sources(opts, tmp_path / "cache")
    assert [type(s).__name__ for s in sources] == [
        "FindLinksSource", "FindLinksPageSource", "FindLinksSource",
        "SimpleIndexSource", "SimpleIndexSource"]
    local, _page, as_uri, main, extra = sources
    assert isinstance(main, SimpleIndexSource) and isinstance(extra, SimpleIndexSource)
    assert main.cache is extra.cache
    assert main.cache.directory == tmp_path / "cache" / "http"
    assert [str(link.version) for link in local.links("tinydep")] == ["0.3"]
    assert [str(link.version) for link in as_uri.links("tinydep")] == ["0.3"]
    assert [str(link.version) for link in main.links("tinydep")] == ["0.4"]

    with pytest.raises(SourceError, match=r"^--find-links nowhere: no such directory$"):
        build_sources(index_options(cli_find_links=["nowhere"]), tmp_path / "cache")
    offline = build_sources(index_options(offline=True, no_index=True), tmp_path / "cache")
    assert offline == []
