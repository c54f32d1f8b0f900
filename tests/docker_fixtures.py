"""Real Docker fixtures: the engine at DOCKER_HOST, and images and containers built on it.

Nothing is pulled and nothing needs a network: every image is built FROM scratch with the
host's static busybox and a site-packages filled by a real `uv pip install --target` from the
test wheelhouse. RUN steps and the one container that runs use network_mode "none".

Everything created carries a label unique to the session and is removed at the end, also
when a test fails. Without a reachable engine the Docker tests skip, except under CI=true,
where they fail.
"""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import offline_env

DEFAULT_HOST = "unix:///var/run/docker.sock"
PY_IMAGE = "3.12"
"""The Python version the multi-layer image pretends to have (not the host's, on purpose)."""
SITE = f"/usr/local/lib/python{PY_IMAGE}/site-packages"
EGG_SITE = "/usr/lib/python3.11/site-packages"


def _no_engine(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and no Docker engine: {reason}")
    pytest.skip(f"no Docker engine: {reason}")


# Fixtures are named apart from their functions so test modules can import them without
# their parameters shadowing the import.
@pytest.fixture(scope="session", name="docker_client")
def docker_client_fixture() -> Iterator[Any]:
    """A docker-py client for the engine at DOCKER_HOST (or the default socket)."""
    import docker

    try:
        client = docker.from_env(timeout=300)
        client.ping()
    except Exception as e:
        _no_engine(f"{os.environ.get('DOCKER_HOST') or DEFAULT_HOST}: {e}")
    yield client
    client.close()


@pytest.fixture(scope="session", name="docker_host")
def docker_host_fixture(docker_client: Any) -> str:
    """The DOCKER_HOST value a ScanContext needs to reach the same engine."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def static_busybox() -> Path:
    """The host's busybox, which must be statically linked to run in a FROM scratch image."""
    found = shutil.which("busybox")
    if not found:
        _no_engine("busybox is not installed (Debian: busybox-static)")
    path = Path(found or "")
    if _elf_interpreter(path.read_bytes()[:65536]):
        _no_engine(f"{path} is dynamically linked; install busybox-static")
    return path


def _elf_interpreter(head: bytes) -> bool:
    """Whether a 64-bit little-endian ELF asks for a dynamic loader (has PT_INTERP)."""
    if head[:4] != b"\x7fELF" or head[4] != 2:
        return False
    phoff, = struct.unpack_from("<Q", head, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", head, 0x36)
    for i in range(phnum):
        off = phoff + i * phentsize
        if off + 4 <= len(head) and struct.unpack_from("<I", head, off)[0] == 3:
            return True
    return False


def uv_target(wheelhouse: Path, target: Path, cache: Path, *reqs: str) -> Path:
    """A REAL site-packages: `uv pip install --target`, offline, from the wheelhouse."""
    from uv import find_uv_bin

    env = offline_env() | {"UV_CACHE_DIR": str(cache)}
    subprocess.run(
        [find_uv_bin(), "pip", "install", "--quiet", "--offline", "--no-index",
         "--find-links", str(wheelhouse), "--python", sys.executable,
         "--target", str(target), *reqs],
        check=True, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
    # Console scripts are not part of a site-packages directory.
    shutil.rmtree(target / "bin", ignore_errors=True)
    return target


def tar_of(root: Path, arcroot: str = "") -> bytes:
    """An in-memory tar of everything under `root`, paths relative to it."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for path in sorted(root.rglob("*")):
            tf.add(path, arcname=f"{arcroot}{path.relative_to(root)}", recursive=False)
    return buf.getvalue()


@dataclass
class DockerWorld:
    """What the fixtures built, with the names and IDs tests assert against."""

    host: str
    label: str
    prefix: str
    images: dict[str, str] = field(default_factory=dict)
    """Role -> image ID: multi, egg, dangling."""
    tags: dict[str, list[str]] = field(default_factory=dict)
    """Role -> tags, sorted."""
    containers: dict[str, str] = field(default_factory=dict)
    """Role -> container ID: plain, added, ran."""
    names: dict[str, str] = field(default_factory=dict)
    """Role -> container name."""


def _build(client: Any, context: Path, dockerfile: str, label: str,
           tags: list[str]) -> str:
    (context / "Dockerfile").write_text(dockerfile)
    image, _logs = client.images.build(
        path=str(context), tag=tags[0] if tags else None, rm=True, forcerm=True,
        network_mode="none", labels={"envtui-test": label})
    for extra in tags[1:]:
        repo, _, tag = extra.rpartition(":")
        image.tag(repo, tag)
    return str(image.id)


def _multi_layer_image(client: Any, ctx: Path, world: DockerWorld, wheelhouse: Path,
                       busybox: Path, cache: Path) -> None:
    """Several layers; the last RUN deletes oldlib's dist-info, leaving a whiteout."""
    shutil.copy2(busybox, ctx / "busybox")
    uv_target(wheelhouse, ctx / "site", cache, "numpy==1.26.4", "oldlib", "hello-world")
    (ctx / "os.py").write_text("# stdlib marker\n")
    tags = sorted([f"{world.prefix}/multi:1.0", f"{world.prefix}/multi:latest"])
    world.tags["multi"] = tags
    world.images["multi"] = _build(client, ctx, f"""FROM scratch
COPY busybox /bin/busybox
COPY os.py /usr/local/lib/python{PY_IMAGE}/os.py
COPY site/ {SITE}/
RUN ["/bin/busybox", "rm", "-rf", "{SITE}/oldlib-1.0.dist-info"]
""", world.label, tags)


def _egg_image(client: Any, ctx: Path, world: DockerWorld) -> None:
    """setuptools' layouts: an egg-info directory and a single-file egg-info."""
    site = ctx / "site"
    egg = site / "legacy_pkg-2.0-py3.11.egg-info"
    egg.mkdir(parents=True)
    (egg / "PKG-INFO").write_text(
        "Metadata-Version: 1.1\nName: legacy-pkg\nVersion: 2.0\nSummary: Old style\n\nBody\n")
    (egg / "requires.txt").write_text("tinydep>=0.1\n\n[fast]\nnumpy<2\n")
    (site / "flat_pkg-0.5-py3.11.egg-info").write_text(
        "Metadata-Version: 1.0\nName: flat-pkg\nVersion: 0.5\n")
    tags = [f"{world.prefix}/egg:1"]
    world.tags["egg"] = tags
    world.images["egg"] = _build(client, ctx, f"FROM scratch\nCOPY site/ {EGG_SITE}/\n",
                                 world.label, tags)


def _dangling_image(client: Any, ctx: Path, world: DockerWorld) -> None:
    (ctx / "note.txt").write_text(f"dangling {world.label}\n")
    world.tags["dangling"] = []
    world.images["dangling"] = _build(client, ctx, "FROM scratch\nCOPY note.txt /note.txt\n",
                                      world.label, [])


def _containers(client: Any, world: DockerWorld, wheelhouse: Path, tmp: Path,
                cache: Path) -> None:
    image = world.tags["multi"][0]
    common: dict[str, Any] = {"labels": {"envtui-test": world.label}, "network_mode": "none"}

    def create(role: str, command: list[str]) -> Any:
        name = f"{world.prefix}-{role}"
        c = client.containers.create(image, command=command, name=name, **common)
        world.containers[role], world.names[role] = str(c.id), name
        return c

    create("plain", ["/bin/busybox", "true"])
    # Never started: newlib arrives by `docker cp` (put_archive) into the writable layer.
    added = create("added", ["/bin/busybox", "true"])
    newlib = uv_target(wheelhouse, tmp / "newlib", cache, "--no-deps", "newlib")
    assert added.put_archive(SITE, tar_of(newlib))
    # Runs once (no network), deleting numpy's dist-info inside the container only.
    ran = create("ran", ["/bin/busybox", "rm", "-rf", f"{SITE}/numpy-1.26.4.dist-info"])
    ran.start()
    assert ran.wait(timeout=60)["StatusCode"] == 0


def _cleanup(client: Any, world: DockerWorld) -> None:
    """Remove every container and image of this session, whatever state it is in."""
    flt = {"label": f"envtui-test={world.label}"}
    for c in client.containers.list(all=True, filters=flt):
        try:
            c.remove(force=True, v=True)
        except Exception as e:  # keep going: leaving one behind beats leaving all
            print(f"could not remove container {c.id}: {e}", file=sys.stderr)
    ids = set(world.images.values()) | {i.id for i in client.images.list(filters=flt)}
    for image_id in ids:
        try:
            client.images.remove(image_id, force=True)
        except Exception as e:
            print(f"could not remove image {image_id}: {e}", file=sys.stderr)


@pytest.fixture(scope="session", name="docker_world")
def docker_world_fixture(docker_client: Any, docker_host: str, wheelhouse: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerWorld]:
    """Images (multi-layer with a whiteout, egg-info, dangling) and three containers."""
    busybox = static_busybox()
    token = uuid.uuid4().hex[:10]
    world = DockerWorld(host=docker_host, label=token, prefix=f"envtui-test-{token}")
    root = tmp_path_factory.mktemp("docker")
    cache = root / "uv-cache"
    try:
        for role in ("multi", "egg", "dangling", "work"):
            (root / role).mkdir()
        _multi_layer_image(docker_client, root / "multi", world, wheelhouse, busybox, cache)
        _egg_image(docker_client, root / "egg", world)
        _dangling_image(docker_client, root / "dangling", world)
        _containers(docker_client, world, wheelhouse, root / "work", cache)
        yield world
    finally:
        _cleanup(docker_client, world)
