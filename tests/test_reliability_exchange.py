"""RELIABILITY.md checklist cases 29-36 (import, export, Docker archives), against real
venvs made by uv from real wheels, real conda envs made by rattler from a local channel, the
real `envtui` command and the real Docker engine at DOCKER_HOST.

tests/test_exchange*.py, tests/test_image_archive.py and tests/test_docker.py prove most of
these; the tests here cover what they leave open: every YAML entry point of the command
line (29), the alias bomb measured in a process of its own (30), every risky requirement
kind in both file formats and file options that are only obeyed when confirmed (31),
`--hash` lines and md5 in lock files (32), `--force` never replacing what `envtui rm` would
refuse to remove (33), round trips through unicode paths and names, for venvs and conda envs
(34), hostile tars that envtui must never unpack and a 20 GB archive that must never be
held in memory (35), and every unusable engine through the command line, plus a corrupted
load that must not move a tag (36).
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import io
import json
import os
import shutil
import site
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import tracemalloc
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from envtui.inspectors.base import ScanContext
from envtui.inspectors.discovery import inspect_path
from envtui.inspectors.image_layers import read_image_archive
from tests.conda_channel import Machine, copy_env, make_machine
from tests.docker_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    DockerWorld,
    _build,
    _cleanup,
    docker_client_fixture,
    docker_host_fixture,
)
from tests.envfactory import make_venv, uv_install
from tests.envstate import manifest
from tests.peak import Spawned, run_measured
from tests.simple_server import plain_http_port
from tests.test_exchange_inputs import BILLION_LAUGHS
from tests.wheels import build_wheel

REPO = Path(__file__).resolve().parents[1]
LOCAL = ("--no-index", "--offline")


# --- helpers ---------------------------------------------------------------------------


def envtui(*args: str | Path, cwd: Path | None = None,
           extra: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m envtui ARGS` in the test's isolated HOME, pip's own config left out."""
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, **(extra or {})}
    return subprocess.run([sys.executable, "-m", "envtui", *map(str, args)],
                          capture_output=True, text=True, timeout=600, cwd=cwd, env=env,
                          stdin=subprocess.DEVNULL)


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    return proc.stdout


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a command refused as an input error (exit 2)."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def packages(path: Path) -> set[tuple[str, str, str]]:
    """(source, name, version) of everything the inspector reads in an environment."""
    env = inspect_path(ScanContext.from_process(), path, refresh=True)
    assert env is not None, path
    return {(p.source, p.key, p.version) for p in env.packages}


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Machine:
    """Real conda environments made by rattler; tests change private copies only."""
    return make_machine(tmp_path_factory.mktemp("conda-machine"))


@pytest.fixture(scope="module")
def odd_wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Projects whose names PEP 503 normalises (case, dots, dashes, underscores)."""
    d = tmp_path_factory.mktemp("odd-wheels")
    build_wheel(d, "Hello_World", "0.1.0", requires=["tinydep>=0.1"])
    build_wheel(d, "tinydep", "0.3")
    build_wheel(d, "Zope.Odd-Name_Pkg", "1.0", summary="Ünïcode ☃ in the summary")
    return d


# --- case 29 ---------------------------------------------------------------------------

PAYLOAD = 'name: x\ndependencies:\n  - !!python/object/apply:os.system ["touch {}"]\n'


def test_case_29_python_tags_run_nothing_wherever_a_yaml_file_is_read(
        home: Path, tmp_path: Path) -> None:
    """`!!python/object/apply:os.system` in an environment.yml or a conda-lock.yml: import,
    its dry run and diff all refuse it in one line, and the command never runs. The payload
    is live: PyYAML's unsafe loader does run it."""
    control = tmp_path / "control"
    yaml.unsafe_load(PAYLOAD.format(control))
    assert control.exists()

    marker = tmp_path / "pwned"
    env_yml = tmp_path / "environment.yml"
    env_yml.write_text(PAYLOAD.format(marker))
    lock = tmp_path / "conda-lock.yml"
    lock.write_text(f"version: 1\nmetadata: !!python/object/apply:os.system "
                    f"['touch {marker}']\npackage: []\n")
    other = tmp_path / "other.yml"
    other.write_text("name: y\ndependencies: [six]\n")
    target = tmp_path / "env"
    runs: dict[Path, list[list[str | Path]]] = {
        env_yml: [["import", env_yml, "--dry-run"],
                  ["import", env_yml, "--prefix", target, "--yes"],
                  ["diff", env_yml, other], ["diff", other, env_yml]],
        lock: [["import", lock, "--prefix", target, "--yes"], ["diff", lock, other]],
    }
    for f, commands in runs.items():
        line = 3 if f == env_yml else 2
        for args in commands:
            said = one_line_error(envtui(*args, cwd=tmp_path))
            assert said == (f"envtui: error: {f}: line {line}: tag "
                            "!!python/object/apply:os.system is not allowed"), args
    assert not marker.exists() and not target.exists()


# --- case 30 ---------------------------------------------------------------------------

_MEASURE = """
import json, resource, sys, time
from envtui.exchange.safe_yaml import load_yaml
from envtui.exchange.spec import ExchangeError
data = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    load_yaml(data, sys.argv[1])
    said = None
except ExchangeError as e:
    said = str(e)
seconds = time.perf_counter() - start
grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"said": said, "seconds": seconds, "grew_kib": grew}))
"""


def test_case_30_alias_bomb_is_refused_in_under_a_second_and_bounded_memory(
        home: Path, tmp_path: Path) -> None:
    """341 bytes that expand to 9**9 (387M) leaves, measured in processes of their own: the
    parser refuses it in under 1 s with its peak RSS grown by less than 16 MiB, and the
    whole `envtui import` stays under 150 MiB (expanding it would take gigabytes)."""
    assert len(BILLION_LAUGHS) == 341 and 9 ** 9 == 387_420_489
    bomb = tmp_path / "environment.yml"
    bomb.write_text(BILLION_LAUGHS)
    code, out, err, _ = run_measured([sys.executable, "-c", _MEASURE, str(bomb)], REPO)
    assert code == 0, err
    measured = json.loads(out)
    assert measured["said"] == (f"{bomb}: aliases expand to more than 250,000 nodes "
                                "(a YAML alias bomb?)")
    assert measured["seconds"] < 1.0, measured
    assert measured["grew_kib"] < 16 << 10, measured

    code, out, err, peak_kib = run_measured(
        [sys.executable, "-m", "envtui", "import", str(bomb), "--dry-run"], tmp_path)
    assert code == 2 and out == ""
    assert err == (f"envtui: error: {bomb}: aliases expand to more than 250,000 nodes "
                   "(a YAML alias bomb?)\n")
    assert peak_kib < 150 << 10, peak_kib


# --- case 31 ---------------------------------------------------------------------------


class Listener:
    """A loopback TCP port that records every connection made to it (and answers none)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    made = Listener()
    yield made
    made.close()


def risky_lines(port: int) -> list[str]:
    """One line of each kind the checklist names, all pointing at the loopback listener."""
    at = f"127.0.0.1:{port}"
    return [f"--index-url http://{at}/simple", f"--extra-index-url https://{at}/extra",
            "--trusted-host 127.0.0.1", f"-e git+https://{at}/repo.git#egg=thing",
            f"-r https://{at}/more.txt", f"remote @ http://{at}/remote-1.0-py3-none-any.whl",
            "./local/pkg-1.0-py3-none-any.whl", "tinydep==0.3"]


@pytest.mark.parametrize("fmt", ["requirements", "environment-yml"])
def test_case_31_every_risky_line_is_flagged_in_the_preview(home: Path, tmp_path: Path,
                                                            listener: Listener,
                                                            fmt: str) -> None:
    lines = risky_lines(listener.port)
    if fmt == "requirements":
        f = tmp_path / "requirements.txt"
        f.write_text("".join(f"{x}\n" for x in lines))
        where = f"{f.name}:"
    else:
        f = tmp_path / "environment.yml"
        f.write_text("name: shared\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n"
                     "  - pip:\n" + "".join(f"    - {x}\n" for x in lines))
        where = f"{f.name} (pip:):"
    preview = json.loads(ok(envtui("import", f, "--prefix", tmp_path / "env", "--dry-run",
                                   "--json", cwd=tmp_path)))["preview"]
    at = f"127.0.0.1:{listener.port}"
    # (line number, words of the flag, shown with a prominent "!")
    expected = [
        (1, f"sets the package index to http://{at}/simple (http://, not https)", True),
        (2, f"adds the package index https://{at}/extra", False),
        (3, "trusts 127.0.0.1 over plain http and without checking its certificate "
            "(--trusted-host)", True),
        (4, "installs thing in editable mode from version control (its code is fetched and "
            f"built): git+https://{at}/repo.git#egg=thing", True),
        (5, f"includes a remote requirements file https://{at}/more.txt (not fetched)", True),
        (6, f"installs remote from a direct URL, not an index: http://{at}/remote-1.0-"
            "py3-none-any.whl (http://, not https)", True),
        (7, "installs pkg from the local path ./local/pkg-1.0-py3-none-any.whl", False),
    ]
    for n, words, danger in expected:
        assert any(p.endswith(f"{where}{n}: {words}") and p.startswith("!" if danger else "*")
                   for p in preview), (n, preview)
    assert "! index options in the file are NOT used (pass --trust-file-options to use " \
           "them)" in preview
    assert not (tmp_path / "env").exists()
    assert listener.connections == 0


def test_case_31_file_options_only_with_consent_and_remote_includes_never(
        home: Path, tmp_path: Path, listener: Listener, wheelhouse: Path) -> None:
    """A file's own --find-links is ignored until --trust-file-options says otherwise; its
    remote -r is never fetched, even then."""
    shutil.copytree(wheelhouse, tmp_path / "wheels")
    req = tmp_path / "requirements.txt"
    req.write_text(f"--find-links ./wheels\n-r http://127.0.0.1:{listener.port}/more.txt\n"
                   "tinydep==0.3\n")
    target = tmp_path / "env"
    refused = envtui("import", req, "--prefix", target, "--yes", *LOCAL, cwd=tmp_path)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "tinydep" in refused.stderr and "Traceback" not in refused.stderr
    assert not target.exists()
    done = envtui("import", req, "--prefix", target, "--yes", "--trust-file-options", *LOCAL,
                  cwd=tmp_path)
    assert f"--find-links {tmp_path / 'wheels'}" in ok(done)
    assert ("python", "tinydep", "0.3") in packages(target)
    assert listener.connections == 0


# --- case 32 ---------------------------------------------------------------------------


def test_case_32_a_tampered_hash_line_in_requirements_stops_the_import(
        home: Path, tmp_path: Path, wheelhouse: Path) -> None:
    """pip-compile's `--hash` lines are the pip lock: one wrong digest aborts the import and
    the new environment is removed. Right digests install, so the digests are checked."""
    digest = {name: sha256_of(next(wheelhouse.glob(f"{name}-*.whl")))
              for name in ("tinydep", "Hello_World")}
    good = (f"hello-world==0.1.0 --hash=sha256:{digest['Hello_World']}\n"
            f"tinydep==0.3 \\\n    --hash=sha256:{'0' * 64} \\\n"
            f"    --hash=sha256:{digest['tinydep']}\n")
    req = tmp_path / "requirements.txt"
    req.write_text(good)
    ok(envtui("import", req, "--prefix", tmp_path / "good", "--yes", *LOCAL,
              "--find-links", wheelhouse))
    assert ("python", "hello-world", "0.1.0") in packages(tmp_path / "good")

    for text in (good.replace(digest["tinydep"], "ab" * 32),  # tinydep's one real digest
                 good.replace(f" --hash=sha256:{digest['Hello_World']}", "")):  # one unhashed
        req.write_text(text)
        target = tmp_path / "new"
        done = envtui("import", req, "--prefix", target, "--yes", *LOCAL,
                      "--find-links", wheelhouse)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "hash" in done.stderr.lower() and "Traceback" not in done.stderr
        assert not target.exists()


@pytest.mark.parametrize("variant", ["md5 tampered, sha256 intact", "md5 only, tampered"])
def test_case_32_a_tampered_md5_in_a_conda_lock_stops_the_import(
        home: Path, tmp_path: Path, machine: Machine, variant: str) -> None:
    lock = tmp_path / "conda-lock.yml"
    ok(envtui("export", machine.data, "--format", "conda-lock", "-o", lock))
    doc = yaml.safe_load(lock.read_text())
    zlib = next(p for p in doc["package"] if p["name"] == "zlib")
    real_md5 = zlib["hash"]["md5"]
    zlib["hash"]["md5"] = "0" * 32
    if variant.startswith("md5 only"):
        del zlib["hash"]["sha256"]
    lock.write_text(yaml.safe_dump(doc))
    target = tmp_path / "new"
    done = envtui("import", lock, "--prefix", target, "--yes")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.splitlines()[-1].endswith(
        f"md5 mismatch: the lock says {'0' * 32}, the file has {real_md5}")
    assert not target.exists()


# --- case 33 ---------------------------------------------------------------------------


def test_case_33_force_never_replaces_what_rm_would_refuse_to_remove(
        home: Path, tmp_path: Path, machine: Machine) -> None:
    """--force replaces an environment, deleting the old one on success: never a conda base
    (with every env and the package cache inside), a frozen env or the active one. A plain
    environment is still replaced."""
    env_yml = tmp_path / "environment.yml"
    env_yml.write_text(f"name: t\nchannels: [{machine.channel_url}]\ndependencies: [zlib]\n")
    base = copy_env(machine.base, tmp_path / "miniforge3")  # envs/data inside, and pkgs/
    assert (base / "envs" / "data" / "conda-meta" / "history").is_file()
    frozen = copy_env(machine.tools, tmp_path / "frozen")
    (frozen / "conda-meta" / "frozen").write_text('{"message": "pinned for the paper"}')
    active = copy_env(machine.tools, tmp_path / "active")
    cases = {
        base: ({}, f"{base} is a conda base environment (it has conda-meta/ and envs/)"),
        frozen: ({}, f"{frozen} is frozen (conda-meta/frozen): pinned for the paper"),
        active: ({"CONDA_PREFIX": str(active)},
                 f"{active} is the active environment ($CONDA_PREFIX={active}); "
                 "deactivate it first"),
    }
    before = manifest(tmp_path)
    for target, (extra, why) in cases.items():
        said = one_line_error(envtui("import", env_yml, "--prefix", target, "--force",
                                     "--yes", extra=extra))
        assert said == f"envtui: error: --force refused: {why}"
    assert manifest(tmp_path) == before

    plain = copy_env(machine.tools, tmp_path / "plain")
    (plain / "leftover.txt").write_text("replaced with the env\n")
    ok(envtui("import", env_yml, "--prefix", plain, "--force", "--yes"))
    assert not (plain / "leftover.txt").exists()
    assert packages(plain) == packages(machine.tools)
    assert not list(tmp_path.glob(".plain.envtui-backup-*"))


# --- case 34 ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["environment-yml", "requirements", "pylock"])
def test_case_34_venv_round_trip_with_unicode_paths_and_pep503_names(
        home: Path, tmp_path: Path, odd_wheels: Path, fmt: str) -> None:
    src = make_venv(tmp_path / "données-ü" / "環境", "uv")
    # Asked for by other spellings of the same names: the files carry the real ones.
    uv_install(src, odd_wheels, "hello.world", "ZOPE_odd.name-PKG")
    assert {k for _, k, _ in packages(src)} == {"hello-world", "tinydep", "zope-odd-name-pkg"}
    exported = tmp_path / "réseau" / {"environment-yml": "environment.yml",
                                      "requirements": "requirements.txt",
                                      "pylock": "pylock.toml"}[fmt]
    exported.parent.mkdir()
    sources = (*LOCAL, "--find-links", odd_wheels) if fmt == "pylock" else ()
    ok(envtui("export", src, "--format", fmt, "-o", exported, *sources))
    text = exported.read_text(encoding="utf-8")
    assert "Zope.Odd-Name_Pkg" in text or "zope-odd-name-pkg" in text
    copy = tmp_path / "копия-é"
    ok(envtui("import", exported, "--prefix", copy, "--kind", "venv", "--yes", *LOCAL,
              "--find-links", odd_wheels))
    assert packages(copy) == packages(src)
    assert "identical" in ok(envtui("diff", src, copy))
    assert "identical" in ok(envtui("diff", exported, copy))


@pytest.mark.parametrize("fmt", ["environment-yml", "conda-lock"])
def test_case_34_conda_round_trip_from_and_to_unicode_names(
        home: Path, tmp_path: Path, machine: Machine, fmt: str) -> None:
    src = copy_env(machine.data, tmp_path / "données-ü")
    exported = tmp_path / ("environment.yml" if fmt == "environment-yml" else "conda-lock.yml")
    ok(envtui("export", src, "--format", fmt, "--with-builds", "-o", exported)
       if fmt == "environment-yml" else envtui("export", src, "--format", fmt, "-o", exported))
    if fmt == "environment-yml":
        assert "name: données-ü" in exported.read_text(encoding="utf-8")
    ok(envtui("import", exported, "--name", "copie-é", "--yes"))
    copy = home / ".conda" / "envs" / "copie-é"
    assert packages(copy) == packages(src)
    assert {k for s, k, _ in packages(copy) if s == "conda"} == {"numpy", "python", "six",
                                                               "zlib"}
    assert "identical" in ok(envtui("diff", src, copy))


# --- case 35 ---------------------------------------------------------------------------


def _number(n: int) -> bytes:
    """A 12-byte tar number field: octal, or GNU base-256 when it does not fit."""
    return b"%011o\0" % n if n < 8 ** 11 else bytes([0x80]) + n.to_bytes(11, "big")


def sparse_member(name: str, realsize: int, data: bytes) -> bytes:
    """An old-GNU sparse member ('S'): `data` at offset 0, then a hole up to `realsize`.
    tarfile reads these but cannot write them."""
    info = tarfile.TarInfo(name)
    info.type, info.size, info.mode = tarfile.GNUTYPE_SPARSE, 512, 0o644
    head = bytearray(info.tobuf(tarfile.GNU_FORMAT))
    # the first sparse entry (offset, numbytes) at 386, isextended at 482, realsize at 483
    head[386:398] = _number(0)
    head[398:410] = _number(len(data))
    head[482] = 0
    head[483:495] = _number(realsize)
    head[148:156] = b" " * 8
    head[148:156] = b"%06o\0 " % sum(head)
    return bytes(head) + data.ljust(512, b"\0")


def hostile_tar(outside: Path, sparse_name: str = "huge.bin",
                sparse_data: bytes = b"zeros follow\n") -> bytes:
    """A tar with every trick of the checklist, `../x` first: a climb, an absolute path, a
    symlink to `outside` then a file written through it, a hard link to /etc/passwd,
    device nodes, a setuid file, an empty-name symlink and a chain of links climbing with
    `..`, and a 20 GB sparse member (`sparse_name`) of 512 stored bytes."""

    def reg(name: str, data: bytes, mode: int = 0o644) -> tuple[tarfile.TarInfo, io.BytesIO]:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), mode
        return info, io.BytesIO(data)

    def link(name: str, target: str, kind: bytes) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type, info.linkname = kind, target
        return info

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tf:
        tf.addfile(*reg("../x", b"climbed out\n"))
        tf.addfile(*reg("/abs-x", b"absolute\n"))
        tf.addfile(link("s", str(outside), tarfile.SYMTYPE))
        tf.addfile(*reg("s/owned", b"written through a symlink\n"))
        tf.addfile(link("pw", "/etc/passwd", tarfile.LNKTYPE))
        for name, kind in (("null2", tarfile.CHRTYPE), ("sda9", tarfile.BLKTYPE),
                           ("fifo", tarfile.FIFOTYPE)):
            dev = tarfile.TarInfo(f"dev/{name}")
            dev.type, dev.devmajor, dev.devminor = kind, 1, 3
            tf.addfile(dev)
        tf.addfile(*reg("suid", b"#!/bin/sh\n", 0o4755))
        tf.addfile(link("", "..", tarfile.SYMTYPE))
        prev = "."
        for i in range(4):
            tf.addfile(link(f"c{i}", f"{prev}/..", tarfile.SYMTYPE))
            prev = f"c{i}"
        tf.addfile(*reg(f"{prev}/escaped", b"through a chain of links\n"))
        assert tf.fileobj is not None
        tf.fileobj.write(sparse_member(sparse_name, 20 * 10**9, sparse_data))
        tf.offset += 1024
    return out.getvalue()


def assert_the_tricks_are_real(data: bytes, dest: Path, sparse_name: str = "huge.bin"
                               ) -> None:
    """The tricks are real ones: Python's own `filter='data'` refuses those it can judge
    without a disk (climbing, links out, devices), defuses the setuid bit, and the sparse
    member does claim 20 GB."""
    flagged: set[str] = set()
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        for member in tf:
            try:
                kept = tarfile.data_filter(member, str(dest))
            except tarfile.FilterError:
                flagged.add(member.name)
                continue
            if kept.mode != member.mode or member.size >= 20 * 10**9:
                flagged.add(member.name)
    # A superset: which links of the chain it catches depends on the Python patch release.
    assert flagged >= {"../x", "s", "pw", "dev/null2", "dev/sda9", "dev/fifo", "suid", "",
                       "c0", sparse_name}, flagged


@pytest.mark.docker
def test_case_35_a_hostile_archive_goes_to_the_engine_unopened(
        docker_client: Any, docker_host: str, home: Path, tmp_path: Path) -> None:
    """`envtui image load` hands the bytes to the engine and unpacks nothing itself: the
    engine's refusal comes back verbatim, nothing is written anywhere on this side, and
    no image appears."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine\n")
    data = hostile_tar(outside)
    assert_the_tricks_are_real(data, tmp_path / "dest")
    archive = tmp_path / "in" / "hostile.tar"
    archive.parent.mkdir()
    archive.write_bytes(data)
    cwd = tmp_path / "work" / "deep"
    cwd.mkdir(parents=True)
    passwd = sha256_of(Path("/etc/passwd"))
    images_before = {i["Id"] for i in docker_client.api.images(all=True)}
    before = manifest(tmp_path)
    said = one_line_error(envtui("image", "load", archive, "--no-verify", cwd=cwd,
                                 extra={"DOCKER_HOST": docker_host}))
    answer = list(docker_client.api.load_image(archive.read_bytes()))  # the oracle
    assert said == f"envtui: error: {answer[-1]['errorDetail']['message']}"
    assert manifest(tmp_path) == before
    assert sha256_of(Path("/etc/passwd")) == passwd
    assert {i["Id"] for i in docker_client.api.images(all=True)} == images_before


def test_case_35_the_local_peek_reads_a_hostile_layer_without_unpacking_it(
        tmp_path: Path) -> None:
    """The inspector's own reader of image layers (the only place envtui looks inside an
    image tar) on a layer full of tricks: nothing is written, `..` is ignored, links are
    leaves, and a 20 GB sparse METADATA is read only up to the header cap."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine\n")
    sp = "usr/lib/python3.12/site-packages/"
    # A METADATA whose header never ends: 20 GB of NULs after its first lines.
    tricks = hostile_tar(outside, f"{sp}huge-1.0.dist-info/METADATA",
                         b"Metadata-Version: 2.1\nName: huge\nVersion: 1.0\nX: ")
    assert_the_tricks_are_real(tricks, tmp_path / "dest", f"{sp}huge-1.0.dist-info/METADATA")
    good = io.BytesIO()
    with tarfile.open(fileobj=good, mode="w") as tf:
        for name, text in (("usr/lib/python3.12/os.py", "# os\n"),
                           (f"{sp}good-1.0.dist-info/METADATA",
                            "Metadata-Version: 2.1\nName: good\nVersion: 1.0\n\n"),
                           (f"{sp}good-1.0.dist-info/RECORD", "")):
            info = tarfile.TarInfo(name)
            info.size = len(text)
            tf.addfile(info, io.BytesIO(text.encode()))
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tf:
        for name, blob in (("0" * 64 + "/layer.tar", good.getvalue()),
                           ("1" * 64 + "/layer.tar", tricks),
                           ("manifest.json", json.dumps([{"Config": "c.json", "Layers": [
                               "0" * 64 + "/layer.tar", "1" * 64 + "/layer.tar"]}]).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tf.addfile(info, io.BytesIO(blob))
    passwd = sha256_of(Path("/etc/passwd"))
    before = manifest(tmp_path)
    tracemalloc.start()
    started = time.monotonic()
    try:
        contents = read_image_archive(io.BytesIO(archive.getvalue())).contents()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 10
    assert peak < 16 << 20, peak  # the header cap is 1 MiB; 20 GB were never read
    by_name = {p.name: p for p in contents.packages}
    assert set(by_name) == {"good", "huge"}
    assert any("longer than" in p.detail for p in by_name["huge"].problems)
    assert manifest(tmp_path) == before
    assert sha256_of(Path("/etc/passwd")) == passwd
    assert not Path("/abs-x").exists() and not (REPO.parent / "x").exists()


def test_case_35_no_envtui_code_unpacks_an_archive() -> None:
    """Nothing in envtui extracts archive members to disk (tarfile or zipfile `extract`,
    `extractall`, shutil.unpack_archive): archives go to the engine, or are read member by
    member into memory with bounded reads. A future extraction must come with
    filter='data' and this test's review."""
    calls: list[str] = []
    for path in sorted((REPO / "envtui").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("extract", "extractall", "unpack_archive", "_extract_member"):
                calls.append(f"{path.relative_to(REPO)}:{node.lineno} {name}")
    assert calls == []


def _io_of(pid: int) -> int:
    """Bytes the process has read so far (rchar), or -1 once it is gone."""
    try:
        with open(f"/proc/{pid}/io") as f:
            return int(next(x for x in f if x.startswith("rchar:")).split()[1])
    except (OSError, StopIteration):
        return -1


@pytest.mark.slow
@pytest.mark.docker
def test_case_35_a_20_gb_archive_is_streamed_in_bounded_memory(
        docker_client: Any, docker_host: str, home: Path, tmp_path: Path) -> None:
    """A real one-layer image saved, then padded with zeros to 20 GB as a sparse file (no
    disk used): the engine reads an archive to its end, so `envtui image load` streams
    all 20 GB, and the process's peak RSS stays under 100 MiB."""
    token = uuid.uuid4().hex[:10]
    world = DockerWorld(host=docker_host, label=token, prefix=f"envtui-test-{token}")
    tag = f"{world.prefix}/padded:1"
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "note.txt").write_text(f"padded {token}\n")
    size = 20 * 10**9
    try:
        image_id = _build(docker_client, ctx, "FROM scratch\nCOPY note.txt /note.txt\n",
                          token, [tag])
        world.images["padded"] = image_id
        archive = tmp_path / "padded.tar"
        with archive.open("wb") as f:
            for chunk in docker_client.api.get_image(tag):
                f.write(chunk)
        docker_client.images.remove(image_id, force=True)
        os.truncate(archive, size)
        assert archive.stat().st_size == size
        assert archive.stat().st_blocks * 512 < 10 << 20  # sparse: the zeros take no disk
        read = 0
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            spawned = Spawned(
                [sys.executable, "-m", "envtui", "image", "load", str(archive), "--no-verify",
                 "--json"], tmp_path / "launch-report", stdout=out, stderr=err,
                stdin=subprocess.DEVNULL, env={**os.environ, "DOCKER_HOST": docker_host})
            pid = spawned.pid()
            while spawned.launcher.poll() is None:
                read = max(read, _io_of(pid))
                time.sleep(0.05)
            code, peak_kib = spawned.wait()
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read().decode(), err.read().decode()
        assert code == 0, stderr
        assert json.loads(stdout) == {"tags": [tag], "image_ids": [image_id]}
        assert read > size * 0.98, read  # sampled every 50 ms: all but the last moments
        assert peak_kib < 100 << 10, peak_kib
    finally:
        _cleanup(docker_client, world)


# --- case 36 ---------------------------------------------------------------------------


FAILURES = {
    "socket missing": ["no socket there", "systemctl"],
    "daemon down": ["connection refused (is the daemon running?)", "systemctl"],
    "permission denied": ["permission denied on the socket", "docker group", "rootless"],
    "remote TLS error": ["TLS failed", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY"],
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_case_36_every_unusable_engine_gives_one_actionable_line(failure: str) -> None:
    """`list`, `image load` and `rm image:...` against each unusable engine: one line that
    names the engine and says what to do, never "chmod 666", never a traceback."""
    work = Path(tempfile.mkdtemp(prefix="envtui-engine-"))  # reachable by `nobody` too
    work.chmod(0o777)
    cleanups: list[Any] = []
    try:
        (work / "home").mkdir()
        (work / "home").chmod(0o777)
        archive = work / "x.tar"
        archive.write_bytes(b"\0" * 1024)
        archive.chmod(0o644)
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(work / "home"),
               "XDG_CACHE_HOME": str(work / "home" / ".cache"),
               "XDG_CONFIG_HOME": str(work / "home" / ".config"),
               "PYTHONPATH": os.pathsep.join([str(REPO), *site.getsitepackages()])}
        as_nobody = False
        if failure == "socket missing":
            host = f"unix://{work}/absent/docker.sock"
        elif failure == "daemon down":
            s = socket.socket(socket.AF_UNIX)
            s.bind(str(work / "dead.sock"))  # bound, never listening: what a crash leaves
            s.close()
            host = f"unix://{work}/dead.sock"
        elif failure == "permission denied":
            srv = socket.socket(socket.AF_UNIX)
            srv.bind(str(work / "root.sock"))
            srv.listen()
            cleanups.append(srv.close)
            as_nobody = os.geteuid() == 0  # root ignores permission bits
            (work / "root.sock").chmod(0o600 if as_nobody else 0o000)
            host = f"unix://{work}/root.sock"
        else:
            stack = contextlib.ExitStack()
            port = stack.enter_context(plain_http_port())
            cleanups.append(stack.close)
            (work / "certs").mkdir()
            host = f"tcp://127.0.0.1:{port}"
            env.update(DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=str(work / "certs"))
        env["DOCKER_HOST"] = host
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"] \
            if as_nobody else []
        if as_nobody and shutil.which("setpriv") is None:
            pytest.fail("setpriv (util-linux) is needed to act as an unprivileged user")

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([*prefix, sys.executable, "-m", "envtui", *args],
                                  capture_output=True, text=True, timeout=120, cwd=work,
                                  env=env, stdin=subprocess.DEVNULL)

        listed = run("list", "--kind", "image", "--json")
        assert listed.returncode == 0 and json.loads(listed.stdout) == [], listed.stderr
        lines = [("list", listed.stderr.splitlines(), "envtui: "),
                 ("load", [one_line_error(run("image", "load", str(archive), "--no-verify"))],
                  "envtui: error: "),
                 ("rm", [one_line_error(run("rm", "--yes", "image:envtui-none:1"))],
                  "envtui: error: cannot look up 'image:envtui-none:1': ")]
        for what, said, lead in lines:
            assert len(said) == 1, (what, said)
            line = said[0]
            assert line.startswith(f"{lead}Docker engine at {host} (DOCKER_HOST): "), line
            assert all(words in line for words in FAILURES[failure]), line
            assert "chmod" not in line and "666" not in line, line
    finally:
        for close in cleanups:
            close()
        shutil.rmtree(work, ignore_errors=True)


@pytest.mark.docker
def test_case_36_a_corrupted_load_moves_no_tag(docker_client: Any, docker_host: str,
                                               home: Path, tmp_path: Path) -> None:
    """A byte flipped in the last layer of a two-layer image whose tag now names another
    image: the engine's `invalid diffID` is the whole message, the tag still names the
    other image, and the corrupted image is nowhere."""
    token = uuid.uuid4().hex[:10]
    world = DockerWorld(host=docker_host, label=token, prefix=f"envtui-test-{token}")
    tag = f"{world.prefix}/moved:1"
    try:
        first = tmp_path / "first"
        first.mkdir()
        (first / "blob").write_bytes(os.urandom(64 << 10))
        (first / "last.txt").write_text(f"last layer {token}\n" * 200)
        old = _build(docker_client, first, "FROM scratch\nCOPY blob /blob\n"
                     "COPY last.txt /last.txt\n", token, [tag])
        world.images["old"] = old
        archive = tmp_path / "old.tar"
        ok(envtui("image", "save", tag, "-o", archive, extra={"DOCKER_HOST": docker_host}))
        diff_ids = docker_client.api.inspect_image(old)["RootFS"]["Layers"]
        second = tmp_path / "second"
        second.mkdir()
        (second / "other.txt").write_text(f"the image the tag names now {token}\n")
        new = _build(docker_client, second, "FROM scratch\nCOPY other.txt /other.txt\n",
                     token, [tag])
        world.images["new"] = new
        docker_client.images.remove(old, force=True)

        with tarfile.open(archive) as tf:
            mf = tf.extractfile("manifest.json")
            assert mf is not None
            layers = json.load(mf)[0]["Layers"]
            member = tf.getmember(layers[-1])
        data = bytearray(archive.read_bytes())
        data[member.offset_data + member.size // 2] ^= 0xFF
        bad = tmp_path / "bad.tar"
        bad.write_bytes(data)
        got = hashlib.sha256(data[member.offset_data:member.offset_data + member.size])
        said = one_line_error(envtui("image", "load", bad, "--no-verify",
                                     extra={"DOCKER_HOST": docker_host}))
        index = len(layers) - 1
        assert said == (f'envtui: error: invalid diffID for layer {index}: expected '
                        f'"{diff_ids[index]}", got "sha256:{got.hexdigest()}"')
        assert docker_client.api.inspect_image(tag)["Id"] == new
        ids = {i["Id"] for i in docker_client.api.images(all=True)}
        assert old not in ids and new in ids
    finally:
        _cleanup(docker_client, world)
