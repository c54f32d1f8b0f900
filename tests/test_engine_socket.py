"""The small unix-socket engine client, against docker-py on the same REAL engine.

Its answers must be docker-py's (same IDs, tags, containers, states, image archives), a dead
engine must read exactly as it did when docker-py was asked, and listing and reading images
must not import docker-py.
The broken engines are real AF_UNIX sockets: a missing path, a socket nobody listens on, one
only root may use, a server that never answers and one that answers 404.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from envtui.inspectors.engine_socket import EngineHTTPError, SocketClient
from tests.docker_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    DockerWorld,
    docker_client_fixture,
    docker_host_fixture,
    docker_world_fixture,
)

REPO = Path(__file__).resolve().parents[1]


# --- the same answers as docker-py -----------------------------------------------------


@pytest.fixture
def clients(docker_world: DockerWorld, docker_client: Any) -> tuple[SocketClient, Any]:
    if not docker_world.host.startswith("unix:///"):
        pytest.skip(f"the small client serves unix:// engines only, not {docker_world.host}")
    return SocketClient(docker_world.host, timeout=60), docker_client.api


@pytest.mark.docker
def test_listing_answers_as_docker_py(docker_world: DockerWorld,
                                      clients: tuple[SocketClient, Any]) -> None:
    small, api = clients
    assert small.api_version == api.version(api_version=False)["ApiVersion"]

    ours = set(docker_world.images.values())  # the engine may hold (and gain) others
    mine = {i["Id"]: i for i in small.images() if i["Id"] in ours}
    theirs = {i["Id"]: i for i in api.images() if i["Id"] in ours}
    assert set(mine) == ours  # the dangling image too
    assert mine == theirs
    assert sorted(mine[docker_world.images["multi"]]["RepoTags"]) == docker_world.tags["multi"]

    cids = set(docker_world.containers.values())

    def listed(containers: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        # Status says "Exited (0) 3 seconds ago": it changes between the two calls.
        return {c["Id"]: {k: v for k, v in c.items() if k != "Status"}
                for c in containers if c["Id"] in cids}

    mine_c = listed(small.containers(all=True, size=True))
    assert set(mine_c) == cids
    assert mine_c == listed(api.containers(all=True, size=True))
    assert {c["State"] for c in mine_c.values()} == {"created", "exited"}

    def changes(diff: list[dict[str, Any]] | None) -> list[tuple[str, int]]:
        return sorted((c["Path"], c["Kind"]) for c in diff or [])  # the engine's order varies

    for cid in cids:
        assert small.inspect_container(cid) == api.inspect_container(cid)
        assert changes(small.diff(cid)) == changes(api.diff(cid))
    assert small.diff(docker_world.containers["added"])  # newlib was copied in


@pytest.mark.docker
def test_engine_error_reads_as_docker_py(clients: tuple[SocketClient, Any]) -> None:
    import docker.errors

    small, api = clients
    with pytest.raises(EngineHTTPError) as mine:
        small.inspect_container("envtui-no-such-container")
    with pytest.raises(docker.errors.NotFound) as theirs:
        api.inspect_container("envtui-no-such-container")
    assert str(mine.value) == str(theirs.value)
    assert mine.value.explanation == theirs.value.explanation
    assert mine.value.status_code == theirs.value.status_code == 404


@pytest.mark.docker
def test_image_archive_streams_as_docker_py(docker_world: DockerWorld,
                                             clients: tuple[SocketClient, Any]) -> None:
    """`docker save` through the small client: the same archive, read the same way, and a
    missing image fails at once with docker-py's words."""
    import docker.errors

    from envtui.inspectors.image_layers import buffered, read_image_archive

    small, api = clients
    for name in ("multi", "egg"):
        image_id = docker_world.images[name]
        mine, theirs = small.get_image(image_id, 60), api.get_image(image_id)
        ours = read_image_archive(buffered(mine), image_id).contents()
        docker_pys = read_image_archive(buffered(theirs), image_id).contents()
        assert ours.to_json() == docker_pys.to_json()
        assert ours.deduped()[0], name  # packages were read, not just nothing twice
    # Hanging up part-way closes the connection (the engine sees the reader go).
    partial = small.get_image(docker_world.images["multi"], 60)
    assert next(partial)
    partial.close()
    with pytest.raises(EngineHTTPError) as missing:
        small.get_image("envtui-no-such-image", 60)
    with pytest.raises(docker.errors.NotFound) as expected:
        next(api.get_image("envtui-no-such-image"))  # docker-py raises at the first read
    assert str(missing.value) == str(expected.value)


# --- a dead engine reads as before -----------------------------------------------------

_BOTH_MESSAGES = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from envtui.inspectors.cache import Cache
from envtui.inspectors.docker import CONNECT_TIMEOUT, Endpoint, Engine, describe_failure

ep = Endpoint(url=sys.argv[2], source="DOCKER_HOST")

def message(connect):
    try:
        connect()
    except Exception as e:
        return describe_failure(e, ep)
    return "connected"

out = {"socket": message(lambda: Engine(ep, Cache(Path("/nonexistent"))))}
out["docker_imported"] = "docker" in sys.modules
import docker
# What Engine did before: docker-py asking the engine's version at once.
out["docker_py"] = message(lambda: docker.APIClient(base_url=ep.url, version="auto",
                                                    timeout=CONNECT_TIMEOUT))
print(json.dumps(out))
"""


def both_messages(url: str, *prefix: str) -> str:
    """The one-line failure of Engine for `url`, checked equal to docker-py's."""
    proc = subprocess.run([*prefix, sys.executable, "-c", _BOTH_MESSAGES, str(REPO), url],
                          capture_output=True, text=True, timeout=120, cwd="/",
                          stdin=subprocess.DEVNULL,
                          env={"PATH": os.environ.get("PATH", ""), "HOME": "/nonexistent"})
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert not out["docker_imported"]
    assert out["socket"] == out["docker_py"]
    assert "\n" not in out["socket"] and f"{url} (DOCKER_HOST)" in out["socket"]
    return str(out["socket"])


@contextlib.contextmanager
def unix_server(path: Path, answer: bytes | None) -> Iterator[None]:
    """A real socket server: it sends `answer` to each request, or never answers at all."""
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(str(path))
    srv.listen()
    srv.settimeout(0.1)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            if answer is None:
                held.append(conn)  # accepted, then silence until the test ends
                continue
            with conn:
                request = b""
                while b"\r\n\r\n" not in request and (data := conn.recv(4096)):
                    request += data
                conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        srv.close()


def test_missing_socket_reads_as_before(tmp_path: Path) -> None:
    assert ": no socket there; start Docker" in both_messages(f"unix://{tmp_path}/no/docker.sock")


def test_socket_nobody_listens_on_reads_as_before(tmp_path: Path) -> None:
    path = tmp_path / "dead.sock"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))  # bound, never listening: what a crashed daemon leaves behind
    assert ": connection refused (is the daemon running?)" in both_messages(f"unix://{path}")


def test_engine_that_never_answers_reads_as_before(tmp_path: Path) -> None:
    path = tmp_path / "silent.sock"
    with unix_server(path, answer=None):
        assert ": no answer in time;" in both_messages(f"unix://{path}")


def test_error_status_reads_as_before(tmp_path: Path) -> None:
    path = tmp_path / "not-docker.sock"
    body = b'{"message":"page not found"}'
    answer = (b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
    with unix_server(path, answer):
        assert both_messages(f"unix://{path}").endswith(
            ": Error while fetching server API version: 404 Client Error for "
            'http+docker://localhost/version: Not Found ("page not found"); '
            "check DOCKER_HOST or the docker context")


def test_permission_denied_reads_as_before() -> None:
    d = Path(tempfile.mkdtemp(prefix="envtui-perm-"))
    try:
        d.chmod(0o755)
        path = d / "docker.sock"
        with socket.socket(socket.AF_UNIX) as srv:
            srv.bind(str(path))
            srv.listen()
            if os.geteuid() != 0:
                path.chmod(0o000)  # refused to its owner too
                message = both_messages(f"unix://{path}")
            else:
                # Root ignores permission bits: ask as `nobody`.
                setpriv = shutil.which("setpriv")
                if setpriv is None:
                    pytest.skip("setpriv (util-linux) is needed to act as an unprivileged user")
                path.chmod(0o600)
                message = both_messages(f"unix://{path}", setpriv, "--reuid=65534",
                                        "--regid=65534", "--clear-groups", "--")
        assert ": permission denied on the socket; add your user to the docker group" in message
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --- listing and reading images do without docker-py ---------------------------------------------

_LIST_AND_MODULES = """
import sys
sys.argv = ["envtui", "list", "--kind", "image", "--json"]
from envtui.cli import main
try:
    main()
finally:
    print("\\n".join(sorted(sys.modules)), file=sys.stderr)
"""


@pytest.mark.docker
def test_listing_and_reading_images_do_not_import_docker_py(docker_world: DockerWorld,
                                                          home: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": docker_world.host}

    def listing() -> tuple[set[str], set[str]]:
        proc = subprocess.run([sys.executable, "-c", _LIST_AND_MODULES], env=env,
                              capture_output=True, text=True, timeout=600, cwd=REPO)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return {e["id"] for e in json.loads(proc.stdout)}, set(proc.stderr.split())

    seen, modules = listing()  # cold: streams every image's layers into the cache
    assert set(docker_world.images.values()) <= seen
    assert "envtui.inspectors.docker_contents" in modules  # layers were read ...
    assert not {m for m in modules if m.split(".")[0] in ("docker", "requests", "urllib3")}
    # Other tests may add images meanwhile, which a run must read; a run that lists only
    # images an earlier run cached is warm.
    for _ in range(4):
        listed, modules = listing()
        if listed <= seen:
            break
        seen |= listed
    assert listed <= seen, "the engine kept gaining images; no warm run to check"
    assert set(docker_world.images.values()) <= listed
    assert not {m for m in modules if m.split(".")[0] in ("docker", "requests", "urllib3")}
