"""Docker images and containers, inspected statically against a REAL engine.

The engine is the one at DOCKER_HOST (`./dev test` starts a private one when none runs);
the images are built FROM scratch by tests/docker_fixtures.py. The static layer reader is
also exercised on hand-made archives (OCI and legacy layouts, whiteouts, links) that need
no engine.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from envtui.inspectors.base import Location, ScanContext
from envtui.inspectors.docker import DockerInspector, EngineError, resolve_endpoint
from envtui.inspectors.image_layers import ArchiveError, read_image_archive
from envtui.model import Environment, EnvKind, ProblemKind
from tests.docker_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    EGG_SITE,
    PY_IMAGE,
    SITE,
    DockerWorld,
    docker_client_fixture,
    docker_host_fixture,
    docker_world_fixture,
)
from tests.simple_server import plain_http_port

REPO = Path(__file__).resolve().parents[1]
BOTH = frozenset({EnvKind.IMAGE, EnvKind.CONTAINER})


# --- helpers ---------------------------------------------------------------------------


def scan_context(home: Path, host: str | None, **extra: str) -> ScanContext:
    environ = {"XDG_CACHE_HOME": str(home / ".cache"), **extra}
    if host is not None:
        environ["DOCKER_HOST"] = host
    return ScanContext(home=home, environ=environ)


def located(insp: DockerInspector, ctx: ScanContext, world: DockerWorld) -> dict[str, Location]:
    """This session's images and containers by role (the engine may hold others)."""
    roles = {v: k for k, v in {**world.images, **world.containers}.items()}
    return {roles[loc.ref]: loc for loc in insp.locate(ctx) if loc.ref in roles}


def versions(env: Environment) -> dict[str, str]:
    return {p.name: p.version for p in env.packages}


@pytest.fixture
def inventory(home: Path, docker_world: DockerWorld) -> Iterator[
        tuple[DockerInspector, ScanContext, dict[str, Location], dict[str, Environment]]]:
    ctx = scan_context(home, docker_world.host)
    insp = DockerInspector(BOTH)
    locs = located(insp, ctx, docker_world)
    envs = {role: insp.read(loc) for role, loc in locs.items()}
    yield insp, ctx, locs, envs
    insp.close()


Inv = tuple[DockerInspector, ScanContext, dict[str, Location], dict[str, Environment]]


# --- images ----------------------------------------------------------------------------


@pytest.mark.docker
def test_images_and_containers_listed_with_names_ids_and_kinds(
        inventory: Inv, docker_world: DockerWorld) -> None:
    _, ctx, locs, envs = inventory
    assert ctx.problems == ()
    assert set(locs) == {"multi", "egg", "dangling", "plain", "added", "ran"}
    w = docker_world
    multi, egg, dangling = envs["multi"], envs["egg"], envs["dangling"]
    assert (multi.kind, multi.name, multi.id) == (EnvKind.IMAGE, w.tags["multi"][0],
                                                  w.images["multi"])
    assert multi.details["tags"] == w.tags["multi"]
    assert (egg.name, egg.id) == (w.tags["egg"][0], w.images["egg"])
    short = w.images["dangling"].removeprefix("sha256:")[:12]
    assert (dangling.name, dangling.ref) == (short, f"image:{short}")
    assert dangling.details["dangling"] is True and dangling.details["tags"] == []
    assert multi.details["dangling"] is False
    for role in ("plain", "added", "ran"):
        env = envs[role]
        assert (env.kind, env.name, env.id) == (EnvKind.CONTAINER, w.names[role],
                                                w.containers[role])
        assert env.details["image"] == w.tags["multi"][0]
        assert env.details["image_id"] == w.images["multi"]
    assert {e.manager for e in envs.values()} == {"docker"}
    json.dumps([e.details for e in envs.values()])  # JSON-serialisable, as promised


@pytest.mark.docker
def test_image_packages_read_statically_from_layers(inventory: Inv) -> None:
    multi = inventory[3]["multi"]
    # oldlib was installed in one layer and deleted by a RUN in a later one (a whiteout).
    assert versions(multi) == {"Hello_World": "0.1.0", "numpy": "1.26.4", "tinydep": "0.3"}
    assert multi.python == PY_IMAGE
    assert {p.installer for p in multi.packages} == {"uv"}
    numpy = next(p for p in multi.packages if p.name == "numpy")
    assert numpy.location == f"{SITE}/numpy-1.26.4.dist-info"
    assert numpy.requires_python == ">=3.9" and numpy.summary == "Arrays"
    hello = next(p for p in multi.packages if p.name == "Hello_World")
    assert hello.requires == ("tinydep>=0.1",)
    assert multi.details["site_packages"] == [SITE]
    assert multi.problems == ()


@pytest.mark.docker
def test_whiteout_in_a_later_layer_is_honoured(docker_client: Any,
                                               docker_world: DockerWorld) -> None:
    archive = read_image_archive(
        io.BufferedReader(_Chunks(docker_client.api.get_image(docker_world.images["multi"]))),
        docker_world.images["multi"])
    # The layer that copied site-packages still holds oldlib; the top one whites it out.
    lower = [layer for layer in archive.layers
             if f"{SITE[1:]}/oldlib-1.0.dist-info/METADATA" in layer.files]
    assert len(lower) == 1
    assert archive.layers[-1].removed == [f"{SITE[1:]}/oldlib-1.0.dist-info"]
    assert "oldlib" not in {p.name for p in archive.contents().packages}


@pytest.mark.docker
def test_egg_info_image(inventory: Inv) -> None:
    egg = inventory[3]["egg"]
    assert versions(egg) == {"flat-pkg": "0.5", "legacy-pkg": "2.0"}
    assert egg.python == "3.11"
    legacy = next(p for p in egg.packages if p.name == "legacy-pkg")
    assert legacy.requires == ("tinydep>=0.1", 'numpy<2; extra == "fast"')
    assert legacy.location == f"{EGG_SITE}/legacy_pkg-2.0-py3.11.egg-info"
    assert legacy.summary == "Old style"
    assert egg.problems == ()


@pytest.mark.docker
def test_image_without_python(inventory: Inv) -> None:
    dangling = inventory[3]["dangling"]
    assert dangling.python is None and dangling.packages == () and dangling.problems == ()


@pytest.mark.docker
def test_image_sizes_times_and_users(inventory: Inv, docker_world: DockerWorld) -> None:
    envs = inventory[3]
    for role in ("multi", "egg", "dangling"):
        assert (envs[role].size_bytes or 0) > 0
        assert (envs[role].created or "").endswith("+00:00")
    w = docker_world
    assert envs["multi"].details["used_by"] == sorted(w.names.values())
    assert envs["egg"].details["used_by"] == []
    # Only the container that ran counts as a use; the image's last use is its last run.
    assert envs["ran"].last_used is not None
    assert envs["multi"].last_used == envs["ran"].last_used
    assert envs["egg"].last_used is None and envs["dangling"].last_used is None


# --- containers ------------------------------------------------------------------------


@pytest.mark.docker
def test_container_states_sizes_and_times(inventory: Inv) -> None:
    envs = inventory[3]
    assert {r: envs[r].details["state"] for r in ("plain", "added", "ran")} == {
        "plain": "created", "added": "created", "ran": "exited"}
    assert (envs["added"].size_bytes or 0) > 0
    assert envs["plain"].size_bytes == 0
    for role in ("plain", "added", "ran"):
        assert envs[role].details["size_root_fs"] > 0
        assert (envs[role].created or "").endswith("+00:00")
    assert envs["plain"].last_used is None and envs["added"].last_used is None
    ran = envs["ran"]
    assert ran.details["started_at"] and ran.details["finished_at"]
    assert ran.last_used == max(ran.details["started_at"], ran.details["finished_at"])


@pytest.mark.docker
def test_container_changes_shown_in_the_container_not_its_image(inventory: Inv) -> None:
    envs = inventory[3]
    image = versions(envs["multi"])
    assert versions(envs["plain"]) == image
    assert envs["plain"].details["changed"] == []
    # newlib was copied into `added` (never started).
    assert versions(envs["added"]) == {**image, "newlib": "2.0"}
    assert envs["added"].details["changed"] == [f"{SITE}/newlib-2.0.dist-info"]
    newlib = next(p for p in envs["added"].packages if p.name == "newlib")
    assert newlib.requires == ("numpy>=2", "tinydep; extra == 'fast'")
    # `ran` deleted numpy's dist-info when it ran.
    assert versions(envs["ran"]) == {k: v for k, v in image.items() if k != "numpy"}
    assert envs["ran"].details["changed"] == [f"{SITE}/numpy-1.26.4.dist-info"]
    assert "newlib" not in image and "numpy" in image
    for role in ("plain", "added", "ran"):
        assert envs[role].python == PY_IMAGE


@pytest.mark.docker
def test_inspection_starts_no_container(inventory: Inv, docker_client: Any,
                                        docker_world: DockerWorld) -> None:
    for role in ("plain", "added"):
        state = docker_client.api.inspect_container(docker_world.containers[role])["State"]
        assert state["Status"] == "created"
        assert state["StartedAt"].startswith("0001-01-01")


# --- the cache, fingerprints and kinds -------------------------------------------------


@pytest.mark.docker
def test_image_layers_cached_by_id(home: Path, docker_world: DockerWorld) -> None:
    ctx = scan_context(home, docker_world.host)
    first = DockerInspector(BOTH)
    locs = located(first, ctx, docker_world)
    env = first.read(locs["multi"])
    assert first.images_streamed == 1
    # Its containers reuse what was read: the image is not streamed again.
    first.read(locs["added"])
    first.read(locs["plain"])
    assert first.images_streamed == 1
    entries = list(ctx.cache_dir.rglob("docker-image/*.json"))
    assert any(docker_world.images["multi"] in e.read_text() for e in entries)

    second = DockerInspector(BOTH)  # a new scan: only the disk cache is shared
    locs2 = located(second, ctx, docker_world)
    again = second.read(locs2["multi"])
    assert second.images_streamed == 0
    assert again.packages == env.packages and again.python == env.python
    assert versions(second.read(locs2["added"]))["newlib"] == "2.0"
    assert second.images_streamed == 0
    first.close()
    second.close()


@pytest.mark.docker
def test_fingerprints(home: Path, docker_client: Any, docker_world: DockerWorld) -> None:
    ctx = scan_context(home, docker_world.host)
    insp = DockerInspector(BOTH)
    locs = located(insp, ctx, docker_world)
    before = insp.fingerprint(locs["egg"])
    assert before and docker_world.images["egg"] in before
    assert insp.fingerprint(locs["plain"]) is None
    assert insp.fingerprint(located(insp, ctx, docker_world)["egg"]) == before  # stable
    repo = f"{docker_world.prefix}/egg-extra"
    docker_client.api.tag(docker_world.images["egg"], repo, "x")
    try:
        after = insp.fingerprint(located(insp, ctx, docker_world)["egg"])
    finally:
        docker_client.api.remove_image(f"{repo}:x")  # untags only: the image stays
    assert after != before
    insp.close()


@pytest.mark.docker
def test_kinds_select_images_or_containers(home: Path, docker_world: DockerWorld) -> None:
    ctx = scan_context(home, docker_world.host)
    images = located(DockerInspector(frozenset({EnvKind.IMAGE})), ctx, docker_world)
    containers = located(DockerInspector(frozenset({EnvKind.CONTAINER})), ctx, docker_world)
    assert set(images) == {"multi", "egg", "dangling"}
    assert set(containers) == {"plain", "added", "ran"}
    assert {loc.kind for loc in images.values()} == {EnvKind.IMAGE}
    assert {loc.kind for loc in containers.values()} == {EnvKind.CONTAINER}
    # Used-by still comes from the containers even when only images are listed.
    assert images["multi"].data["UsedBy"] == sorted(docker_world.names.values())


@pytest.mark.docker
def test_full_scan_through_discovery(home: Path, docker_world: DockerWorld) -> None:
    from envtui.inspectors.discovery import scan

    ctx = scan_context(home, docker_world.host)
    ctx.kinds, ctx.walk_home = BOTH, False
    inventory = scan(ctx)
    ours = {e.id for e in inventory.environments} & {
        *docker_world.images.values(), *docker_world.containers.values()}
    assert len(ours) == 6
    assert inventory.problems == ()


# --- which engine ----------------------------------------------------------------------


def _write_context(home: Path, name: str, host: str) -> None:
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = home / ".docker" / "contexts" / "meta" / digest / "meta.json"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"Name": name, "Metadata": {},
                                "Endpoints": {"docker": {"Host": host,
                                                         "SkipTLSVerify": False}}}))


@pytest.mark.docker
def test_current_docker_context_is_used(home: Path, docker_world: DockerWorld) -> None:
    _write_context(home, "envtui-ctx", docker_world.host)
    (home / ".docker" / "config.json").write_text(json.dumps({"currentContext": "envtui-ctx"}))
    ctx = scan_context(home, None)
    insp = DockerInspector(BOTH)
    assert set(located(insp, ctx, docker_world)) == {
        "multi", "egg", "dangling", "plain", "added", "ran"}
    assert ctx.problems == ()
    insp.close()


def test_endpoint_precedence(home: Path) -> None:
    _write_context(home, "cur", "unix:///cur.sock")
    _write_context(home, "chosen", "tcp://10.0.0.1:2376")
    (home / ".docker" / "config.json").write_text(json.dumps({"currentContext": "cur"}))
    assert resolve_endpoint(home, {}).url == "unix:///cur.sock"
    ep = resolve_endpoint(home, {"DOCKER_CONTEXT": "chosen"})
    assert (ep.url, ep.source) == ("tcp://10.0.0.1:2376", "docker context 'chosen'")
    ep = resolve_endpoint(home, {"DOCKER_HOST": "tcp://h:2376", "DOCKER_CONTEXT": "chosen",
                                 "DOCKER_TLS_VERIFY": "1"})
    assert (ep.url, ep.source, ep.tls, ep.tls_verify) == ("tcp://h:2376", "DOCKER_HOST",
                                                          True, True)
    assert ep.cert_dir == str(home / ".docker")
    assert resolve_endpoint(home, {"DOCKER_CONTEXT": "default"}).source == "default socket"
    with pytest.raises(EngineError, match="docker context 'gone'"):
        resolve_endpoint(home, {"DOCKER_CONTEXT": "gone"})


# --- an engine that cannot be used -----------------------------------------------------


def _one_engine_problem(ctx: ScanContext, kinds: frozenset[EnvKind] = BOTH) -> str:
    insp = DockerInspector(kinds)
    assert insp.locate(ctx) == []
    assert len(ctx.problems) == 1, ctx.problems
    problem = ctx.problems[0]
    assert problem.kind == ProblemKind.ENGINE
    assert "\n" not in problem.detail and "chmod" not in problem.detail
    assert "DOCKER_HOST" in problem.detail
    return problem.detail


def test_missing_socket_is_one_problem(home: Path) -> None:
    sock = home / "absent" / "docker.sock"
    detail = _one_engine_problem(scan_context(home, f"unix://{sock}"))
    assert f"unix://{sock} (DOCKER_HOST): no socket there" in detail
    assert "systemctl" in detail


def test_stopped_engine_is_one_problem(home: Path) -> None:
    path = home / "dead.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))  # bound but never listening: what a crashed daemon leaves behind
    s.close()
    detail = _one_engine_problem(scan_context(home, f"unix://{path}"),
                                 frozenset({EnvKind.CONTAINER}))
    assert "connection refused" in detail


def test_unreadable_context_is_one_problem(home: Path) -> None:
    (home / ".docker").mkdir()
    (home / ".docker" / "config.json").write_text(json.dumps({"currentContext": "lost"}))
    ctx = scan_context(home, None)
    assert DockerInspector(BOTH).locate(ctx) == []
    assert [p.kind for p in ctx.problems] == [ProblemKind.ENGINE]
    assert "docker context 'lost'" in ctx.problems[0].detail


@pytest.fixture
def plain_tcp_server() -> Iterator[int]:
    """A TCP server that answers TLS handshakes with plain HTTP, as a misconfigured port does."""
    with plain_http_port() as port:
        yield port


def test_tls_failure_is_one_problem(home: Path, plain_tcp_server: int) -> None:
    certs = home / "certs"
    certs.mkdir()
    ctx = scan_context(home, f"tcp://127.0.0.1:{plain_tcp_server}",
                       DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=str(certs))
    detail = _one_engine_problem(ctx)
    assert "TLS failed" in detail and "DOCKER_CERT_PATH" in detail


_PERMISSION_SNIPPET = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from envtui.inspectors.base import ScanContext
from envtui.inspectors.docker import DockerInspector
ctx = ScanContext(home=Path(sys.argv[2]), environ={"DOCKER_HOST": "unix://" + sys.argv[3]})
located = DockerInspector().locate(ctx)
print(json.dumps({"located": len(located), "problems": [[p.kind, p.detail] for p in ctx.problems]}))
"""


@pytest.fixture
def root_only_socket() -> Iterator[Path]:
    """A listening socket only its owner may use, in a directory anyone may enter."""
    d = Path(tempfile.mkdtemp(prefix="envtui-perm-"))
    d.chmod(0o755)
    path = d / "docker.sock"
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(str(path))
    srv.listen()
    path.chmod(0o600 if os.geteuid() == 0 else 0o000)
    yield path
    srv.close()
    shutil.rmtree(d, ignore_errors=True)


def _as_nobody(*args: str) -> subprocess.CompletedProcess[str]:
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is needed to act as an unprivileged user")
    cmd = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--",
           sys.executable, *args]
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=60, cwd="/",
                          stdin=subprocess.DEVNULL,
                          env={"PATH": os.environ.get("PATH", ""), "HOME": "/nonexistent"})


def test_permission_denied_socket_is_one_problem(root_only_socket: Path) -> None:
    home = root_only_socket.parent
    if os.geteuid() != 0:
        # Not root: a socket of ours with no permission bits is refused to us too.
        ctx = scan_context(home, f"unix://{root_only_socket}")
        detail = _one_engine_problem(ctx)
    else:
        # Root ignores permission bits, so ask as `nobody` in a child process.
        probe = _as_nobody("-c", f"import sys; sys.path.insert(0, {str(REPO)!r}); "
                                 "import docker, envtui.inspectors.docker")
        if probe.returncode != 0:
            pytest.skip(f"the unprivileged user cannot run envtui here: {probe.stderr[-300:]}")
        proc = _as_nobody("-c", _PERMISSION_SNIPPET, str(REPO), str(home),
                          str(root_only_socket))
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        assert out["located"] == 0 and len(out["problems"]) == 1
        kind, detail = out["problems"][0]
        assert kind == ProblemKind.ENGINE
    assert "permission denied" in detail
    assert "docker group" in detail and "rootless" in detail and "DOCKER_HOST" in detail
    assert "chmod" not in detail


# --- the static reader on hand-made archives (no engine needed) ------------------------


class _Chunks(io.RawIOBase):
    """A file over docker-py's chunk generator, for reading a real save in a test."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._it, self._buf = chunks, b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            self._buf = next(self._it, b"")
            if not self._buf:
                return 0
        n = min(len(b), len(self._buf))
        b[:n], self._buf = self._buf[:n], self._buf[n:]
        return n


Entry = tuple[str, str | bytes | None]
"""(path, contents); contents None for a directory; "->x" a symlink; "=>x" a hard link."""


def layer_tar(entries: list[Entry]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, content in entries:
            info = tarfile.TarInfo(name)
            if content is None:
                info.type = tarfile.DIRTYPE
                tf.addfile(info)
            elif isinstance(content, str) and content.startswith(("->", "=>")):
                info.type = tarfile.SYMTYPE if content[0] == "-" else tarfile.LNKTYPE
                info.linkname = content[2:]
                tf.addfile(info)
            else:
                data = content.encode() if isinstance(content, str) else content
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _add(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tf.addfile(info, io.BytesIO(data))


def oci_archive(layers: list[bytes], *, index_first: bool, gzipped: bool = False) -> bytes:
    """An OCI image layout tar, with index.json before or after the blobs."""
    blobs: list[tuple[str, bytes]] = []
    descs = []
    for raw in layers:
        data = gzip.compress(raw) if gzipped else raw
        digest = hashlib.sha256(data).hexdigest()
        blobs.append((f"blobs/sha256/{digest}", data))
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "size": len(data),
                      "digest": f"sha256:{digest}"})
    manifest = json.dumps({"schemaVersion": 2, "layers": descs}).encode()
    mdigest = hashlib.sha256(manifest).hexdigest()
    blobs.append((f"blobs/sha256/{mdigest}", manifest))
    index = json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json",
         "digest": f"sha256:{mdigest}", "size": len(manifest)}]}).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        if index_first:
            _add(tf, "index.json", index)
        for name, data in reversed(blobs) if index_first else blobs:
            _add(tf, name, data)
        _add(tf, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
        if not index_first:
            _add(tf, "index.json", index)
    return buf.getvalue()


def legacy_archive(layers: list[bytes], *, duplicate_last: bool = False) -> bytes:
    """The `docker save` layout of engines before 25: manifest.json and <id>/layer.tar."""
    buf = io.BytesIO()
    names = []
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for n, raw in enumerate(layers):
            name = f"{n:064x}/layer.tar"
            _add(tf, name, raw)
            names.append(name)
        if duplicate_last:
            # The legacy writer links a layer saved twice to its first copy.
            info = tarfile.TarInfo(f"{len(layers):064x}/layer.tar")
            info.type, info.linkname = tarfile.SYMTYPE, f"../{0:064x}/layer.tar"
            tf.addfile(info)
            names.append(info.name)
        _add(tf, "manifest.json", json.dumps(
            [{"Config": "c.json", "RepoTags": None, "Layers": names}]).encode())
    return buf.getvalue()


SP = "usr/lib/python3.12/site-packages"


def meta(name: str, version: str, body: str = "") -> str:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n{body}"


def dist(name: str, version: str, *, record: bool = True) -> list[Entry]:
    d = f"{SP}/{name}-{version}.dist-info"
    out: list[Entry] = [(d, None), (f"{d}/METADATA", meta(name, version)),
                        (f"{d}/INSTALLER", "pip\n")]
    return [*out, (f"{d}/RECORD", "")] if record else out


def read(archive: bytes) -> Any:
    return read_image_archive(io.BytesIO(archive)).contents()


def names(contents: Any) -> dict[str, str]:
    return {p.name: p.version for p in contents.packages}


BASE = layer_tar([("usr/lib/python3.12/os.py", "# os\n"), *dist("alpha", "1.0"),
                  *dist("beta", "2.0"), *dist("gamma", "3.0")])


@pytest.mark.parametrize("index_first", [True, False])
@pytest.mark.parametrize("gzipped", [True, False])
def test_oci_layout_in_any_member_order(index_first: bool, gzipped: bool) -> None:
    upper = layer_tar([(f"{SP}/.wh.beta-2.0.dist-info", ""), *dist("delta", "4.0")])
    contents = read(oci_archive([BASE, upper], index_first=index_first, gzipped=gzipped))
    assert names(contents) == {"alpha": "1.0", "gamma": "3.0", "delta": "4.0"}
    assert contents.python == "3.12" and contents.problems == ()


def test_legacy_layout_with_a_linked_layer() -> None:
    upper = layer_tar([(f"{SP}/.wh.alpha-1.0.dist-info", "")])
    # The base layer appears again on top (relinked): alpha comes back.
    contents = read(legacy_archive([BASE, upper], duplicate_last=True))
    assert names(contents) == {"alpha": "1.0", "beta": "2.0", "gamma": "3.0"}
    contents = read(legacy_archive([BASE, upper]))
    assert names(contents) == {"beta": "2.0", "gamma": "3.0"}


def test_opaque_directory_hides_lower_contents_only() -> None:
    upper = layer_tar([(f"{SP}/.wh..wh..opq", ""), *dist("delta", "4.0")])
    assert names(read(legacy_archive([BASE, upper]))) == {"delta": "4.0"}


def test_whiteout_of_an_ancestor_removes_everything_below() -> None:
    upper = layer_tar([("usr/lib/.wh.python3.12", "")])
    contents = read(legacy_archive([BASE, upper]))
    assert contents.packages == () and contents.python is None


def test_file_replacing_a_dist_info_directory_hides_it() -> None:
    upper = layer_tar([(f"{SP}/alpha-1.0.dist-info", "->/elsewhere")])
    contents = read(legacy_archive([BASE, upper]))
    assert set(names(contents)) == {"beta", "gamma"}


def test_links_are_leaves_and_hard_links_resolve_within_the_layer() -> None:
    cache = "root/.cache/uv/archive-v0/x/epsilon-5.0.dist-info"
    layer = layer_tar([
        (cache, None), (f"{cache}/METADATA", meta("epsilon", "5.0")),
        (f"{SP}/epsilon-5.0.dist-info", None),
        (f"{SP}/epsilon-5.0.dist-info/METADATA", f"=>{cache}/METADATA"),
        (f"{SP}/epsilon-5.0.dist-info/RECORD", ""),
        (f"{SP}/zeta-6.0.dist-info", None),
        (f"{SP}/zeta-6.0.dist-info/METADATA", "->/etc/passwd"),
        (f"{SP}/zeta-6.0.dist-info/RECORD", ""),
    ])
    contents = read(legacy_archive([layer]))
    by_name = {p.name: p for p in contents.packages}
    assert by_name["epsilon"].version == "5.0" and by_name["epsilon"].problems == ()
    zeta = by_name["zeta"]  # named from its directory; the link was not followed
    assert [p.kind for p in zeta.problems][:1] == [ProblemKind.UNREADABLE]
    assert "not followed" in zeta.problems[0].detail


def test_paths_climbing_out_are_ignored_and_absolute_ones_normalised() -> None:
    layer = layer_tar([
        (f"../../{SP}/evil-1.0.dist-info/METADATA", meta("evil", "1.0")),
        (f"/{SP}/abs-1.0.dist-info/METADATA", meta("abs", "1.0")),
        (f"./{SP}/abs-1.0.dist-info/RECORD", ""),
    ])
    assert names(read(legacy_archive([layer]))) == {"abs": "1.0"}


def test_problems_leftovers_and_pth_files() -> None:
    layer = layer_tar([
        *dist("norecord", "1.0", record=False),
        (f"{SP}/~ld-1.0.dist-info", None),
        (f"{SP}/evil.pth", "import os; os.system('touch /tmp/x')\n"),
        (f"{SP}/distutils-precedence.pth", "import os\n"),
        (f"{SP}/paths.pth", "/opt/lib\n"),
    ])
    contents = read(legacy_archive([layer]))
    assert names(contents) == {"norecord": "1.0"}
    assert [p.kind for p in contents.packages[0].problems] == [ProblemKind.INCOMPLETE]
    found = {loc.rsplit("/", 1)[1]: p.kind for loc, p in contents.findings}
    assert found == {"~ld-1.0.dist-info": ProblemKind.INTERRUPTED,
                     "evil.pth": ProblemKind.SECURITY}


def test_huge_metadata_body_is_not_read() -> None:
    body = "x" * (10 << 20)
    layer = layer_tar([(f"{SP}/big-1.0.dist-info/METADATA", meta("big", "1.0", body)),
                       (f"{SP}/big-1.0.dist-info/RECORD", "")])
    contents = read(legacy_archive([layer]))
    assert names(contents) == {"big": "1.0"} and contents.packages[0].problems == ()


def test_unreadable_archives_and_layers() -> None:
    with pytest.raises(ArchiveError):
        read_image_archive(io.BytesIO(b"this is not a tar" * 100))
    no_manifest = io.BytesIO()
    with tarfile.open(fileobj=no_manifest, mode="w") as tf:
        _add(tf, "abc/layer.tar", BASE)
    with pytest.raises(ArchiveError, match="manifest"):
        read_image_archive(io.BytesIO(no_manifest.getvalue()))
    zstd = b"\x28\xb5\x2f\xfd" + b"\0" * 600
    contents = read(oci_archive([BASE, zstd], index_first=False))
    assert names(contents) == {"alpha": "1.0", "beta": "2.0", "gamma": "3.0"}
    assert [p.kind for p in contents.problems] == [ProblemKind.UNREADABLE]
    assert "zstd" in contents.problems[0].detail


@pytest.mark.docker
def test_real_image_reads_the_same_in_oci_layout(docker_client: Any,
                                                 docker_world: DockerWorld) -> None:
    """Re-pack a real legacy save as OCI (gzip layers, index first): same packages."""
    saved = b"".join(docker_client.api.get_image(docker_world.images["multi"]))
    with tarfile.open(fileobj=io.BytesIO(saved)) as tf:
        manifest = json.loads(tf.extractfile("manifest.json").read())  # type: ignore[union-attr]
        layers = [tf.extractfile(n).read() for n in manifest[0]["Layers"]]  # type: ignore[union-attr]
    legacy = read(saved)
    oci = read(oci_archive(layers, index_first=True, gzipped=True))
    assert oci.packages == legacy.packages and oci.python == legacy.python == PY_IMAGE
    assert names(oci) == {"Hello_World": "0.1.0", "numpy": "1.26.4", "tinydep": "0.3"}
