"""Docker images saved to and loaded from tar archives, against a REAL engine.

Images are built FROM scratch from random bytes (nothing pulled), labelled for this module
and removed at its end. Tampered archives are made by flipping one byte of a real save;
the engine's own answer to them is the oracle for what envtui must report.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from envtui import cli_image
from envtui.cli import UsageError
from envtui.exchange.images import (
    ArchiveExists,
    Cancelled,
    ChecksumMismatch,
    ImageError,
    load_image,
    save_image,
    verify_archive,
)
from tests.docker_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    DockerWorld,
    _build,
    _cleanup,
    docker_client_fixture,
    docker_host_fixture,
)

REPO = Path(__file__).resolve().parents[1]
BIG = 64 << 20
"""Bytes of random data in the big image: an archive far larger than the memory allowed."""
MEMORY_LIMIT = 20 << 20

pytestmark = pytest.mark.docker


@dataclass
class Images:
    world: DockerWorld
    tag: str
    """The small two-layer image."""
    image_id: str


@pytest.fixture(scope="module")
def images(docker_client: Any, docker_host: str,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Images]:
    token = uuid.uuid4().hex[:10]
    world = DockerWorld(host=docker_host, label=token, prefix=f"envtui-test-{token}")
    root = tmp_path_factory.mktemp("image-archive")
    try:
        (root / "blob").write_bytes(os.urandom(96 * 1024))
        (root / "note.txt").write_text(f"second layer {token}\n")
        tag = f"{world.prefix}/tiny:1"
        world.images["tiny"] = _build(
            docker_client, root, "FROM scratch\nCOPY blob /blob\nCOPY note.txt /note.txt\n",
            token, [tag])
        yield Images(world, tag, world.images["tiny"])
    finally:
        _cleanup(docker_client, world)


@pytest.fixture(scope="module")
def big_image(docker_client: Any, images: Images,
              tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(tag, ID) of an image holding BIG incompressible bytes; cleaned up with `images`."""
    ctx = tmp_path_factory.mktemp("big-image")
    with open(ctx / "random.bin", "wb") as f:
        for _ in range(BIG >> 20):
            f.write(os.urandom(1 << 20))
    tag = f"{images.world.prefix}/big:1"
    image_id = _build(docker_client, ctx, "FROM scratch\nCOPY random.bin /random.bin\n",
                      images.world.label, [tag])
    images.world.images["big"] = image_id
    (ctx / "random.bin").unlink()
    return tag, image_id


@pytest.fixture
def engine_env(home: Path, docker_host: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """envtui pointed at the test engine, with an empty HOME."""
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    return docker_host


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """An empty directory for archives (tmp_path also holds the test's HOME)."""
    d = tmp_path / "out"
    d.mkdir()
    return d


# --- helpers ---------------------------------------------------------------------------


def absent(client: Any, ref: str) -> bool:
    import docker.errors

    try:
        client.api.inspect_image(ref)
    except docker.errors.ImageNotFound:
        return True
    return False


def rmi(client: Any, image_id: str) -> None:
    client.images.remove(image_id, force=True)
    assert absent(client, image_id)


def file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            yield chunk


def engine_load(client: Any, path: Path) -> list[dict[str, Any]]:
    """docker load through docker-py alone: the oracle, and how images are put back."""
    return list(client.api.load_image(file_chunks(path)))


def ensure(client: Any, images: Images, archive: Path) -> None:
    """Put the small image back (from a good archive of it) if a test removed it."""
    if absent(client, images.tag):
        engine_load(client, archive)
    assert client.api.inspect_image(images.tag)["Id"] == images.image_id


def flip_layer_byte(src: Path, dst: Path) -> tuple[int, str]:
    """Copy `src` with one byte flipped inside its largest layer; (layer index, its new
    sha256 as the engine will compute it)."""
    with tarfile.open(src) as tf:
        manifest = json.load(tf.extractfile("manifest.json"))  # type: ignore[arg-type]
        layers = manifest[0]["Layers"]
        member = max((tf.getmember(name) for name in layers), key=lambda m: m.size)
        index = layers.index(member.name)
    data = bytearray(src.read_bytes())
    data[member.offset_data + member.size // 2] ^= 0xFF
    dst.write_bytes(data)
    layer = data[member.offset_data:member.offset_data + member.size]
    return index, "sha256:" + hashlib.sha256(layer).hexdigest()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="envtui")
    cli_image.add_parsers(p.add_subparsers(dest="command"))
    return p


def run_cli(*argv: str) -> int:
    return cli_image.cmd_image(parser().parse_args(list(argv)))


def names(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


# --- save and load ---------------------------------------------------------------------


def test_save_rmi_load_gives_back_the_same_image(engine_env: str, docker_client: Any,
                                                 images: Images, out: Path) -> None:
    dest = out / "tiny.tar"
    seen: list[tuple[int, int | None]] = []
    saved = save_image(images.tag, dest, progress=lambda d, t: seen.append((d, t)))
    data = dest.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    assert (saved.path, saved.sha256, saved.size) == (dest, digest, len(data))
    assert (saved.image_id, saved.tags) == (images.image_id, (images.tag,))
    assert (out / "tiny.tar.sha256").read_text() == f"{digest}  tiny.tar\n"
    assert names(out) == {"tiny.tar", "tiny.tar.sha256"}  # no temporary file left
    # sha256sum itself agrees with the checksum file.
    sha256sum = shutil.which("sha256sum")
    if sha256sum:
        subprocess.run([sha256sum, "--check", "--quiet", "tiny.tar.sha256"], cwd=out,
                       check=True)
    size = docker_client.api.inspect_image(images.tag)["Size"]
    assert seen[0] == (0, size) and seen[-1] == (len(data), size)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)

    rmi(docker_client, images.image_id)
    try:
        assert absent(docker_client, images.tag)
        loaded = load_image(dest)
        assert loaded.tags == (images.tag,)
        assert loaded.image_ids == (images.image_id,)
        assert docker_client.api.inspect_image(images.tag)["Id"] == images.image_id
    finally:
        ensure(docker_client, images, dest)


def test_save_by_id_carries_no_tag_and_loads_by_id(engine_env: str, docker_client: Any,
                                                   images: Images, out: Path) -> None:
    dest = out / "by-id.tar"
    saved = save_image(images.image_id, dest)
    assert (saved.image_id, saved.tags) == (images.image_id, ())
    good = out / "good.tar"
    save_image(images.tag, good)
    rmi(docker_client, images.image_id)
    try:
        loaded = load_image(dest)
        assert (loaded.tags, loaded.image_ids) == ((), (images.image_id,))
        assert absent(docker_client, images.tag)
    finally:
        ensure(docker_client, images, good)


def test_bare_name_and_short_id_each_save_one_image(engine_env: str, docker_client: Any,
                                                    images: Images, out: Path) -> None:
    repo = images.tag.rpartition(":")[0]
    (out / "other.txt").write_text("another image in the same repository\n")
    other = _build(docker_client, out, "FROM scratch\nCOPY other.txt /other.txt\n",
                   images.world.label, [f"{repo}:other"])
    (out / "Dockerfile").unlink()
    (out / "other.txt").unlink()
    docker_client.api.tag(images.image_id, repo, "latest")
    try:
        # docker save REPO would hold both images; envtui saves what REPO names: REPO:latest.
        saved = save_image(repo, out / "bare.tar")
        assert (saved.image_id, saved.tags) == (images.image_id, (f"{repo}:latest",))
        short = images.image_id.removeprefix("sha256:")[:12]
        saved = save_image(short, out / "short.tar")
        assert (saved.image_id, saved.tags) == (images.image_id, ())
    finally:
        docker_client.images.remove(f"{repo}:latest")
        docker_client.images.remove(other, force=True)


def test_unknown_ref_is_one_line(engine_env: str, images: Images, out: Path) -> None:
    ref = f"{images.world.prefix}/nosuch:1"
    with pytest.raises(ImageError) as err:
        save_image(ref, out / "x.tar")
    assert str(err.value) == f"no such image: {ref}"
    assert names(out) == set()


def test_corrupted_layer_fails_with_the_engines_words_and_leaves_nothing(
        engine_env: str, docker_client: Any, images: Images, out: Path) -> None:
    good = out / "good.tar"
    save_image(images.tag, good)
    bad = out / "bad.tar"  # no .sha256 beside it: only the engine can tell
    index, got = flip_layer_byte(good, bad)
    diff_ids = docker_client.api.inspect_image(images.tag)["RootFS"]["Layers"]
    # An engine that already has the layer does not read it again: remove the image first.
    rmi(docker_client, images.image_id)
    try:
        with pytest.raises(ImageError) as err:
            load_image(bad)
        message = str(err.value)
        assert message == (f'invalid diffID for layer {index}: expected "{diff_ids[index]}", '
                           f'got "{got}"')
        assert absent(docker_client, images.tag) and absent(docker_client, images.image_id)
        flt = {"label": f"envtui-test={images.world.label}"}
        assert images.image_id not in {i.id for i in docker_client.images.list(filters=flt)}
        # Verbatim: what the engine says to docker-py directly is the same text.
        answer = engine_load(docker_client, bad)
        assert answer[-1]["errorDetail"]["message"] == message
        with pytest.raises(UsageError) as usage:
            run_cli("image", "load", str(bad))
        assert str(usage.value) == message
        assert absent(docker_client, images.tag)
    finally:
        ensure(docker_client, images, good)


def test_stale_checksum_refused_before_contacting_the_engine(
        engine_env: str, images: Images, out: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    archive = out / "tiny.tar"
    saved = save_image(images.tag, archive)
    flip_layer_byte(archive, archive)  # tampered in place; tiny.tar.sha256 is now stale
    actual = hashlib.sha256(archive.read_bytes()).hexdigest()
    # No engine at all: reaching one would fail differently from the checksum.
    monkeypatch.setenv("DOCKER_HOST", f"unix://{out}/absent.sock")
    with pytest.raises(ChecksumMismatch) as err:
        load_image(archive)
    assert saved.sha256 in str(err.value) and actual in str(err.value)
    with pytest.raises(UsageError) as usage:
        run_cli("image", "load", str(archive))
    assert saved.sha256 in str(usage.value) and "--no-verify" in str(usage.value)
    # Unverified, the engine is contacted, and its absence is explained.
    with pytest.raises(UsageError) as usage:
        run_cli("image", "load", "--no-verify", str(archive))
    assert "absent.sock" in str(usage.value) and "no socket there" in str(usage.value)
    assert "chmod" not in str(usage.value)
    with pytest.raises(ImageError, match="no socket there"):
        load_image(archive, verify=False)


def test_verify_reads_sha256sum_lines(out: Path) -> None:
    archive = out / "a.tar"
    archive.write_bytes(b"not really a tar, but it is what the checksum says")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    (out / "a.tar.sha256").write_text(f"{'0' * 64}  other.tar\n{digest} *a.tar\n")
    assert verify_archive(archive) == digest
    (out / "a.tar.sha256").write_text(f"{digest}  renamed-since.tar\n")
    assert verify_archive(archive) == digest
    (out / "a.tar.sha256").write_text("not a checksum\n")
    with pytest.raises(ImageError, match=r"no sha256sum line for a\.tar"):
        verify_archive(archive)
    (out / "a.tar.sha256").unlink()
    assert verify_archive(archive) is None


def test_save_refuses_an_existing_file_without_force(engine_env: str, images: Images,
                                                    out: Path) -> None:
    dest = out / "tiny.tar"
    dest.write_bytes(b"precious")
    with pytest.raises(ArchiveExists):
        save_image(images.tag, dest)
    with pytest.raises(UsageError, match=r"already exists.*--force"):
        run_cli("image", "save", images.tag, "-o", str(dest))
    assert dest.read_bytes() == b"precious"
    assert names(out) == {"tiny.tar"}
    saved = save_image(images.tag, dest, force=True)
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == saved.sha256
    assert names(out) == {"tiny.tar", "tiny.tar.sha256"}


def test_cancel_or_ctrl_c_mid_save_leaves_no_temporary_file(
        engine_env: str, images: Images, out: Path) -> None:
    dest = out / "tiny.tar"
    dest.write_bytes(b"old")
    # The engine writes the same archive each time: its size says when the last chunk came.
    size = save_image(images.tag, out / "probe.tar").size
    for name in ("probe.tar", "probe.tar.sha256"):
        (out / name).unlink()

    for when in (lambda done: done > 0, lambda done: done == size):
        cancel = threading.Event()

        def cancel_now(done: int, total: int | None, when: Any = when,
                       cancel: threading.Event = cancel) -> None:
            if when(done):
                assert any(p.name.endswith(".part") for p in out.iterdir())
                cancel.set()

        with pytest.raises(Cancelled):
            save_image(images.tag, dest, force=True, progress=cancel_now, cancel=cancel)
        assert names(out) == {"tiny.tar"} and dest.read_bytes() == b"old"

    def ctrl_c(done: int, total: int | None) -> None:
        if done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        save_image(images.tag, dest, force=True, progress=ctrl_c)
    assert names(out) == {"tiny.tar"} and dest.read_bytes() == b"old"


def test_cancel_mid_load_loads_nothing(engine_env: str, docker_client: Any, images: Images,
                                       out: Path) -> None:
    archive = out / "tiny.tar"
    save_image(images.tag, archive)
    cancel = threading.Event()

    def cancel_at_the_end(done: int, total: int | None) -> None:
        if done == total:
            cancel.set()

    rmi(docker_client, images.image_id)
    try:
        # Cancelled once every byte is read: the request must still end without them all.
        with pytest.raises(Cancelled):
            load_image(archive, verify=False, cancel=cancel, progress=cancel_at_the_end)
        assert absent(docker_client, images.tag) and absent(docker_client, images.image_id)
    finally:
        ensure(docker_client, images, archive)


# --- the command line ------------------------------------------------------------------


def test_cli_save_and_load(engine_env: str, docker_client: Any, images: Images,
                           out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = out / "tiny.tar"
    assert run_cli("image", "save", images.tag, "-o", str(dest), "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown == {"path": str(dest), "sha256": hashlib.sha256(dest.read_bytes()).hexdigest(),
                   "size": dest.stat().st_size, "image_id": images.image_id,
                   "tags": [images.tag]}
    rmi(docker_client, images.image_id)
    try:
        assert run_cli("image", "load", str(dest), "--json") == 0
        assert json.loads(capsys.readouterr().out) == {"tags": [images.tag],
                                                        "image_ids": [images.image_id]}
        short = images.image_id.removeprefix("sha256:")[:12]
        assert run_cli("image", "load", str(dest)) == 0
        assert capsys.readouterr().out == f"loaded {images.tag} ({short})\n"
        assert run_cli("image", "save", images.tag, "-o", str(dest), "--force") == 0
        text = capsys.readouterr()
        assert text.out == (f"saved {images.tag} ({short}) to {dest}: "
                            f"{dest.stat().st_size / 1000:.1f} kB, "
                            f"sha256 {hashlib.sha256(dest.read_bytes()).hexdigest()}\n")
        assert text.err == ""  # no progress line when stderr is not a terminal
    finally:
        ensure(docker_client, images, dest)


def test_cli_input_errors_are_one_line(engine_env: str, images: Images,
                                       out: Path) -> None:
    cases = {
        ("image", "save", f"{images.world.prefix}/nosuch:1", "-o", str(out / "x.tar")):
            f"no such image: {images.world.prefix}/nosuch:1",
        ("image", "save", images.tag, "-o", str(out)): f"{out}: is a directory",
        ("image", "save", images.tag, "-o", str(out / "no" / "x.tar")):
            f"{out / 'no' / 'x.tar'}: no such directory {out / 'no'}",
        ("image", "load", str(out / "missing.tar")):
            f"{out / 'missing.tar'}: no such file",
        ("image", "load", str(out)): f"{out}: is a directory, not an image archive",
    }
    for argv, message in cases.items():
        with pytest.raises(UsageError) as err:
            run_cli(*argv)
        assert str(err.value) == message
    assert names(out) == set()


def test_ctrl_c_in_the_cli_removes_the_partial_archive(
        engine_env: str, big_image: tuple[str, str], out: Path) -> None:
    script = ("import argparse, sys; from envtui import cli_image; "
              "p = argparse.ArgumentParser(); cli_image.add_parsers(p.add_subparsers()); "
              "sys.exit(cli_image.cmd_image(p.parse_args(sys.argv[1:])))")
    proc = subprocess.Popen(
        [sys.executable, "-c", script, "image", "save", big_image[0], "-o", str(out / "b.tar")],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not any(p.name.endswith(".part") for p in out.iterdir()):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.002)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr
    assert stderr.strip() == "envtui: interrupted" and stdout == ""
    assert names(out) == set()


@pytest.mark.slow
def test_big_image_round_trip_in_bounded_memory(engine_env: str, docker_client: Any,
                                                big_image: tuple[str, str],
                                                out: Path) -> None:
    tag, image_id = big_image
    dest = out / "big.tar"
    tracemalloc.start()
    try:
        saved = save_image(tag, dest)
        _, save_peak = tracemalloc.get_traced_memory()
        rmi(docker_client, image_id)
        tracemalloc.reset_peak()
        loaded = load_image(dest)  # with its checksum check: two full passes
        _, load_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert saved.size > BIG and dest.stat().st_size == saved.size
    assert save_peak < MEMORY_LIMIT, save_peak
    assert load_peak < MEMORY_LIMIT, load_peak
    assert loaded.tags == (tag,) and loaded.image_ids == (image_id,)
