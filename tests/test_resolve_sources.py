"""`envtui resolve` end to end against simple indexes served on loopback.

Every test runs the real command in a subprocess with pip's configuration switched off and
a HOME (so an HTTP cache) of its own, against `tests.simple_server` indexes that record
every request, so the tests can say not only what was resolved but what crossed the wire:
PEP 658 metadata files instead of wheels, nothing for releases the target cannot use,
nothing at all when offline.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import socket
import subprocess
import sys
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.tags import platform_tags
from packaging.utils import canonicalize_name

from envtui.resolver.httpcache import HttpCache
from envtui.resolver.provider import Provider, parse_requirement
from envtui.resolver.resolve import GaveUp, ResolutionFailed, resolve
from envtui.resolver.simple_index import SimpleIndexSource
from envtui.resolver.target import python_target
from tests.simple_server import IndexServer, Route, serve
from tests.wheels import build_wheel

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
FORMATS = ("json", "html")

# A platform tag this machine's targets accept, and ones they never do.
NATIVE = next((p for p in platform_tags() if p.startswith("manylinux_2_17")),
              next(iter(platform_tags())))
FOREIGN = [p for p in ("win_amd64", "macosx_11_0_arm64", "musllinux_1_1_s390x")
           if p not in set(platform_tags())][:2]


@dataclass(frozen=True)
class Dist:
    """One wheel an index serves, and how its project page describes it."""

    name: str
    version: str
    requires: tuple[str, ...] = ()
    tag: str = "py3-none-any"
    requires_python: str | None = None
    """The page's (data-)requires-python, also written into the wheel's METADATA."""
    yanked: str | None = None
    """None: not yanked; "" yanked without a reason; else the reason."""
    metadata: bool = True
    """Whether the index serves the PEP 658 metadata file."""

    @property
    def filename(self) -> str:
        return f"{self.name.replace('-', '_')}-{self.version}-{self.tag}.whl"

    @property
    def path(self) -> str:
        return f"/files/{self.filename}"


def publish(server: IndexServer, dists: Sequence[Dist], build_dir: Path, *,
            fmt: str = "json") -> str:
    """Serve `dists` as a PEP 691 (fmt="json") or PEP 503 (fmt="html") index; its URL."""
    pages: dict[str, list[str | dict[str, object]]] = {}
    for d in dists:
        wheel = build_wheel(build_dir / fmt, d.name, d.version, requires=d.requires,
                            requires_python=d.requires_python, tag=d.tag)
        data = wheel.read_bytes()
        server.routes[d.path] = Route(data, content_type="application/octet-stream")
        with zipfile.ZipFile(wheel) as zf:
            meta = zf.read(f"{d.name.replace('-', '_')}-{d.version}.dist-info/METADATA")
        if d.metadata:
            server.routes[d.path + ".metadata"] = Route(meta, content_type="text/plain")
        file_hash, meta_hash = _sha256(data), _sha256(meta)
        files = pages.setdefault(canonicalize_name(d.name), [])
        if fmt == "json":
            entry: dict[str, object] = {"filename": d.filename, "url": d.path,
                                        "hashes": {"sha256": file_hash}}
            if d.requires_python:
                entry["requires-python"] = d.requires_python
            if d.yanked is not None:
                entry["yanked"] = d.yanked or True
            if d.metadata:
                entry["core-metadata"] = {"sha256": meta_hash}
            files.append(entry)
        else:
            attrs = f'href="{d.path}#sha256={file_hash}"'
            if d.requires_python:
                attrs += f' data-requires-python="{html.escape(d.requires_python)}"'
            if d.yanked is not None:
                attrs += f' data-yanked="{html.escape(d.yanked)}"'
            if d.metadata:
                attrs += f' data-core-metadata="sha256={meta_hash}"'
            files.append(f"<a {attrs}>{d.filename}</a><br/>")
    for name, entries in pages.items():
        if fmt == "json":
            page = {"meta": {"api-version": "1.1"}, "name": name, "files": entries}
            server.routes[f"/simple/{name}/"] = Route(json.dumps(page).encode(),
                                                      content_type=JSON_TYPE)
        else:
            body = "\n".join(str(e) for e in entries)
            server.routes[f"/simple/{name}/"] = Route(
                f"<!DOCTYPE html><html><body>\n{body}\n</body></html>".encode(),
                content_type="text/html")
    return server.url + "/simple/"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def wheel_downloads(server: IndexServer) -> list[str]:
    return [r.path for r in server.requests if r.path.endswith(".whl")]


def metadata_fetches(server: IndexServer) -> list[str]:
    return sorted(r.path for r in server.requests if r.path.endswith(".metadata"))


@pytest.fixture
def server() -> Iterator[IndexServer]:
    with serve() as s:
        yield s


@pytest.fixture
def cli_home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


def run(home: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """`envtui resolve ARGS` with no pip configuration, this HOME's cache and no proxy."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PIP_") and not k.lower().endswith("_proxy")}
    env.update(PIP_CONFIG_FILE=os.devnull, HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"),
               XDG_CONFIG_HOME=str(home / ".config"), NO_PROXY="127.0.0.1",
               no_proxy="127.0.0.1")
    return subprocess.run([sys.executable, "-m", "envtui", "resolve", *map(str, args)],
                          capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, env=env)


def resolved(out: subprocess.CompletedProcess[str]) -> dict[str, str]:
    assert out.returncode == 0, (out.stdout, out.stderr)
    result: dict[str, str] = json.loads(out.stdout)["resolved"]
    return result


def explanation(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    text: str = json.loads(out.stdout)["explanation"]
    return text


# --- PEP 691 / PEP 503 indexes and PEP 658 metadata ----------------------------------------

GRAPH = [
    Dist("app", "1.0", requires=("lib>=1.5",)),
    Dist("app", "0.9", requires=("lib<1",)),
    Dist("lib", "1.0"),
    Dist("lib", "2.0", requires=("Tiny_Dep>=0.2",)),
    Dist("tiny-dep", "0.1"),
    Dist("tiny-dep", "0.3"),
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_index_resolves_from_metadata_files_without_downloading_wheels(
    server: IndexServer, tmp_path: Path, cli_home: Path, fmt: str
) -> None:
    url = publish(server, GRAPH, tmp_path, fmt=fmt)
    out = run(cli_home, "app", "--index-url", url, "--python-version", "3.11", "--json")
    assert resolved(out) == {"app": "1.0", "lib": "2.0", "tiny-dep": "0.3"}
    assert json.loads(out.stdout)["python"] == "3.11.0"
    assert wheel_downloads(server) == []
    # Only the chosen versions' metadata crossed the wire.
    assert metadata_fetches(server) == sorted(
        d.path + ".metadata" for d in GRAPH if (d.name, d.version) in
        {("app", "1.0"), ("lib", "2.0"), ("tiny-dep", "0.3")})
    pages = [r for r in server.requests if r.path.startswith("/simple/")]
    assert sorted(r.path for r in pages) == ["/simple/app/", "/simple/lib/", "/simple/tiny-dep/"]
    assert all("application/vnd.pypi.simple.v1+json" in r.headers["accept"] for r in pages)


@pytest.mark.parametrize("fmt", FORMATS)
def test_without_metadata_files_the_wheels_are_downloaded_and_read(
    server: IndexServer, tmp_path: Path, cli_home: Path, fmt: str
) -> None:
    dists = [Dist(d.name, d.version, d.requires, metadata=False) for d in GRAPH]
    url = publish(server, dists, tmp_path, fmt=fmt)
    out = run(cli_home, "app", "--index-url", url, "--json")
    # tiny-dep comes in only through lib 2.0's METADATA, read from inside its wheel.
    assert resolved(out) == {"app": "1.0", "lib": "2.0", "tiny-dep": "0.3"}
    assert metadata_fetches(server) == []
    assert sorted(wheel_downloads(server)) == sorted(
        d.path for d in dists if (d.name, d.version) in
        {("app", "1.0"), ("lib", "2.0"), ("tiny-dep", "0.3")})


def test_advertised_but_missing_metadata_file_falls_back_to_the_wheel(
    server: IndexServer, tmp_path: Path, cli_home: Path
) -> None:
    dist = Dist("solo", "1.0", requires=("tiny-dep",))
    url = publish(server, [dist, Dist("tiny-dep", "0.3")], tmp_path)
    del server.routes[dist.path + ".metadata"]  # the page still advertises it
    assert resolved(run(cli_home, "solo", "-i", url, "--json")) == {"solo": "1.0",
                                                                   "tiny-dep": "0.3"}
    assert server.hits(dist.path + ".metadata") == 1
    assert wheel_downloads(server) == [dist.path]


# --- several sources -----------------------------------------------------------------------


def test_extra_index_url_adds_a_second_index(tmp_path: Path, cli_home: Path) -> None:
    with serve() as main, serve() as extra:
        main_url = publish(main, [Dist("app", "1.0", requires=("helper", "shared")),
                                  Dist("shared", "1.0")], tmp_path / "main")
        extra_url = publish(extra, [Dist("helper", "2.0"), Dist("shared", "1.5")],
                            tmp_path / "extra", fmt="html")
        out = run(cli_home, "app", "--index-url", main_url, "--extra-index-url", extra_url,
                  "--json")
        # helper exists only on the extra index; its newer shared wins over the main one's.
        assert resolved(out) == {"app": "1.0", "helper": "2.0", "shared": "1.5"}
        assert metadata_fetches(extra) == ["/files/helper-2.0-py3-none-any.whl.metadata",
                                           "/files/shared-1.5-py3-none-any.whl.metadata"]
        assert metadata_fetches(main) == ["/files/app-1.0-py3-none-any.whl.metadata"]
        # Without the extra index helper is nowhere, and the explanation says where it looked.
        alone = explanation(run(cli_home, "app", "--index-url", main_url, "--json"))
        assert "app 1.0 requires helper" in alone
        assert f"no source has a project named helper (looked in {main_url})" in alone


def test_find_links_directory_next_to_an_index(
    server: IndexServer, tmp_path: Path, cli_home: Path
) -> None:
    local = tmp_path / "wheels"
    build_wheel(local, "localpkg", "1.0", requires=["remote>=2"])
    build_wheel(local, "remote", "1.5")  # a local copy of an older remote
    url = publish(server, [Dist("remote", "1.0"), Dist("remote", "2.0"),
                           Dist("remote", "3.0", requires=("nowhere",))], tmp_path)
    out = run(cli_home, "localpkg", "remote<3", "--index-url", url, "--find-links", local,
              "--json")
    assert resolved(out) == {"localpkg": "1.0", "remote": "2.0"}
    assert metadata_fetches(server) == ["/files/remote-2.0-py3-none-any.whl.metadata"]
    # Both sources' versions count, and the explanation lists them together.
    why = explanation(run(cli_home, "localpkg", "remote<2", "-i", url, "-f", local, "--json"))
    assert why == ("you asked for remote<2; localpkg 1.0 requires remote>=2; no version of "
                   "remote satisfies all of them (there is 1.0, 1.5, 2.0, 3.0); no version of "
                   "localpkg in the sources accepts remote<2 (tried 1.0).")
    out = run(cli_home, "remote<2", "-i", url, "-f", local, "--json")
    assert resolved(out) == {"remote": "1.5"}  # the find-links copy, newer than the index's


# --- yanked files ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_yanked_files_are_used_only_when_pinned(
    server: IndexServer, tmp_path: Path, cli_home: Path, fmt: str
) -> None:
    url = publish(server, [Dist("pkg", "1.0"), Dist("pkg", "1.1", yanked="broken build"),
                           Dist("pkg", "1.2", yanked=""),
                           Dist("user", "1.0", requires=("pkg>=1.1",))], tmp_path, fmt=fmt)
    assert resolved(run(cli_home, "pkg", "-i", url, "--json")) == {"pkg": "1.0"}
    assert metadata_fetches(server) == ["/files/pkg-1.0-py3-none-any.whl.metadata"]
    assert resolved(run(cli_home, "pkg==1.1", "-i", url, "--json")) == {"pkg": "1.1"}
    assert resolved(run(cli_home, "pkg==1.2.0", "-i", url, "--json")) == {"pkg": "1.2"}
    # A range is not a pin: the yanked versions stay out, so nothing fits.
    why = explanation(run(cli_home, "user", "-i", url, "--json"))
    assert why.startswith("user 1.0 requires pkg>=1.1; ")
    assert "yanked" in why


# --- Requires-Python on the page --------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_page_requires_python_skips_releases_without_fetching_them(
    server: IndexServer, tmp_path: Path, cli_home: Path, fmt: str
) -> None:
    new = Dist("pkg", "2.0", requires_python=">=3.10", requires=("modern",))
    url = publish(server, [Dist("pkg", "1.0", requires_python=">=3.8"), new,
                           Dist("modern", "1.0"),
                           Dist("newonly", "1.0", requires_python=">=3.10,<4")],
                  tmp_path, fmt=fmt)
    assert resolved(run(cli_home, "pkg", "-i", url, "--python-version", "3.9", "--json")) == {
        "pkg": "1.0"}
    assert server.hits(new.path + ".metadata") == 0
    assert wheel_downloads(server) == []
    assert resolved(run(cli_home, "pkg", "-i", url, "--python-version", "3.12", "--json")) == {
        "pkg": "2.0", "modern": "1.0"}
    why = explanation(run(cli_home, "newonly", "-i", url, "--python-version", "3.9", "--json"))
    assert why == ("you asked for newonly; none of newonly's files can be installed here "
                   "(1 file needing another Python than 3.9.0).")
    assert server.hits("/files/newonly-1.0-py3-none-any.whl.metadata") == 0


# --- wheel tags --------------------------------------------------------------------------------


def test_wheel_tags_are_those_of_the_target(
    server: IndexServer, tmp_path: Path, cli_home: Path
) -> None:
    assert FOREIGN, "no foreign platform tags to test with"
    dists = [
        Dist("native", "1.0"),  # the pure fallback
        Dist("native", "2.0", tag=f"cp39-abi3-{NATIVE}"),
        Dist("native", "3.0", tag=f"cp312-cp312-{NATIVE}"),
        *(Dist("native", "4.0", tag=f"cp311-cp311-{p}") for p in FOREIGN),
        *(Dist("native", "4.0", tag=f"cp312-cp312-{p}") for p in FOREIGN),
        # one version, two wheels that say different things: the best fitting one counts,
        # wherever the page lists it
        Dist("speedy", "1.0"),
        Dist("speedy", "1.0", tag=f"cp311-cp311-{NATIVE}", requires=("cext-helper",)),
        Dist("cext-helper", "1.0"),
        *(Dist("winonly", "1.0", tag=f"cp311-cp311-{p}") for p in FOREIGN),
    ]
    url = publish(server, dists, tmp_path)

    def pick(python: str, *reqs: str) -> dict[str, str]:
        return resolved(run(cli_home, *reqs, "-i", url, "--python-version", python, "--json"))

    assert pick("3.11", "native") == {"native": "2.0"}  # abi3 for cp39 works on 3.11
    assert pick("3.12", "native") == {"native": "3.0"}
    assert pick("3.8", "native") == {"native": "1.0"}  # abi3 cp39 is too new for 3.8
    assert pick("3.11", "speedy") == {"speedy": "1.0", "cext-helper": "1.0"}
    assert pick("3.10", "speedy") == {"speedy": "1.0"}
    assert server.hits("/files/speedy-1.0-py3-none-any.whl.metadata") == 1
    # No foreign wheel was ever looked into.
    assert not [p for p in metadata_fetches(server) if any(f in p for f in FOREIGN)]
    assert wheel_downloads(server) == []

    why = explanation(run(cli_home, "winonly", "-i", url, "--python-version", "3.11", "--json"))
    assert why == ("you asked for winonly; none of winonly's files can be installed here "
                   f"({len(FOREIGN)} wheels built for other platforms or Pythons).")


# --- pre-releases ----------------------------------------------------------------------------


def test_pre_releases_only_when_asked_named_or_alone(
    server: IndexServer, tmp_path: Path, cli_home: Path
) -> None:
    url = publish(server, [
        Dist("pkg", "1.0"), Dist("pkg", "2.0b1"),
        Dist("onlypre", "0.1a1"), Dist("onlypre", "0.2b2"),
        Dist("needs-pre", "1.0", requires=("onlypre>=0.1",)),
    ], tmp_path)

    def pick(*args: str) -> dict[str, str]:
        return resolved(run(cli_home, *args, "-i", url, "--json"))

    assert pick("pkg") == {"pkg": "1.0"}
    assert pick("pkg", "--pre") == {"pkg": "2.0b1"}
    assert pick("pkg>=2.0b1") == {"pkg": "2.0b1"}
    assert pick("pkg>1.0") == {"pkg": "2.0b1"}  # nothing else matches
    assert pick("pkg<2.0") == {"pkg": "1.0"}
    assert pick("onlypre") == {"onlypre": "0.2b2"}
    assert pick("needs-pre") == {"needs-pre": "1.0", "onlypre": "0.2b2"}


# --- extras and markers ----------------------------------------------------------------------


def test_extras_and_markers_are_evaluated_for_the_target(
    server: IndexServer, tmp_path: Path, cli_home: Path
) -> None:
    url = publish(server, [
        Dist("main", "1.0", requires=(
            "plain", 'extradep; extra == "speed"', 'oldpy; python_version < "3.10"',
            'both; extra == "speed" and python_version < "3.10"',
            'never; sys_platform == "no-such-platform"')),
        Dist("consumer", "1.0", requires=("Main[Speed]>=1",)),
        *(Dist(n, "1.0") for n in ("plain", "extradep", "oldpy", "both", "never")),
    ], tmp_path)

    def pick(python: str, *reqs: str) -> set[str]:
        out = run(cli_home, *reqs, "-i", url, "--python-version", python, "--json")
        return set(resolved(out))

    assert pick("3.12", "main") == {"main", "plain"}
    assert pick("3.12", "main[speed]") == {"main", "plain", "extradep"}
    assert pick("3.9", "main") == {"main", "plain", "oldpy"}
    assert pick("3.9", "main[speed]") == {"main", "plain", "extradep", "oldpy", "both"}
    assert pick("3.12", "consumer") == {"consumer", "main", "plain", "extradep"}
    assert pick("3.9", "consumer") == {"consumer", "main", "plain", "extradep", "oldpy", "both"}


# --- offline and unreachable -----------------------------------------------------------------


@pytest.mark.parametrize("metadata", [True, False], ids=["metadata-file", "wheel"])
def test_offline_resolves_from_the_http_cache_with_the_server_gone(
    tmp_path: Path, cli_home: Path, metadata: bool
) -> None:
    dists = [Dist(d.name, d.version, d.requires, metadata=metadata) for d in GRAPH]
    with serve() as server:
        url = publish(server, dists, tmp_path)
        online = resolved(run(cli_home, "app", "-i", url, "--json"))
        assert online == {"app": "1.0", "lib": "2.0", "tiny-dep": "0.3"}
    # The port is closed now: anything but the cache would fail.
    offline = run(cli_home, "app", "-i", url, "--offline", "--json")
    assert resolved(offline) == online
    assert offline.stderr == ""
    why = explanation(run(cli_home, "ghost", "-i", url, "--offline", "--json"))
    assert why == (f"you asked for ghost; ghost could not be looked up: offline and "
                   f"{url}ghost/ is not in the cache.")
    text = run(cli_home, "app", "ghost", "-i", url, "--offline")
    assert text.returncode == 1 and "Traceback" not in text.stderr
    assert len(text.stdout.splitlines()) == 1
    assert text.stdout.startswith("cannot resolve: ") and "not in the cache" in text.stdout


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_unreachable_index_is_one_line_naming_it(cli_home: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/simple/"
    out = run(cli_home, "pkg", "--index-url", url)
    assert out.returncode in (1, 2)
    assert "Traceback" not in out.stdout + out.stderr
    lines = (out.stdout + out.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert url in lines[0] and "Cannot reach 127.0.0.1" in lines[0]
    assert not lines[0].endswith("..")
    why = explanation(run(cli_home, "pkg", "-i", url, "--json"))
    assert why.startswith(f"you asked for pkg; pkg could not be looked up: Cannot reach "
                          f"127.0.0.1 for {url}pkg/: ")


# --- the budget ----------------------------------------------------------------------------


def test_budget_stops_a_long_backtrack(server: IndexServer, tmp_path: Path) -> None:
    # Every version of `a` needs its own `c`, which `b` rules out: the resolver has to
    # try them one by one before it can say no.
    dists = [Dist("a", f"{i}.0", requires=(f"c=={i}.0",)) for i in range(1, 31)]
    dists += [Dist("c", f"{i}.0") for i in range(31)]
    dists += [Dist("b", "1.0", requires=("c==0.0",))]
    url = publish(server, dists, tmp_path)
    reqs = [parse_requirement("a"), parse_requirement("b")]

    def provider() -> Provider:
        cache = HttpCache(tmp_path / "cache")
        return Provider([SimpleIndexSource(url, cache)], python_target("3.11"))

    with pytest.raises(GaveUp, match=r"^gave up after 10 rounds: "):
        resolve(reqs, provider(), max_rounds=10)
    with pytest.raises(ResolutionFailed) as failed:
        resolve(reqs, provider())
    assert not isinstance(failed.value, GaveUp)
    assert "b 1.0 requires c==0.0" in failed.value.explanation
