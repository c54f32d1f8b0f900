"""RELIABILITY.md cases 16-21 (solver and fixes) with real wheels, venvs, installers, signals.

Cases 14 and 15 are proven by tests/test_resolver_corpus.py, and the solver against a
brute-force oracle by tests/test_solver_oracle.py.

The fix cases start `envtui fix` as a real process and interrupt it for real. To catch the
installer half-way through writing an environment, the wheel being installed has many files
and uv copies them (UV_LINK_MODE=copy) from a cache in which one of them was replaced by a
FIFO: uv writes the files before it, then blocks reading that one, until it is killed.
"Restored" is checked byte for byte: every entry of the prefix (type, mode, link target,
sha256), one digest of the whole site-packages tree, every RECORD row's hash against the
file on disk, and what `pip check` says.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import errno
import glob
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name
from textual.widgets import Static

from envtui.resolver.findlinks import FindLinksSource
from envtui.resolver.installer import run as run_installer
from envtui.resolver.journal import read_journal
from envtui.resolver.provider import Provider, parse_requirement
from envtui.resolver.resolve import ResolutionFailed, resolve
from envtui.resolver.target import python_target
from tests.conda_channel import copy_env
from tests.envfactory import make_venv, python_of, site_packages, uv_bin, uv_install
from tests.envstate import Hang, manifest
from tests.test_conda_fix import built  # noqa: F401 - used through request.getfixturevalue
from tests.test_tui_fix import app_for, fix_screen
from tests.test_tui_fix import local as local_options
from tests.tui_helpers import run_async, settle, until
from tests.wheels import build_wheel

PARTS = 300
"""Files in the big numpy wheel; uv stalls on the STALL-th."""
STALL = 150
RUNNING = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"


# ---- case 16: the same answers as pip, from real wheels in a find-links directory


def newest_pip() -> list[str]:
    """pip itself, run from the newest pip wheel that virtualenv (a test dependency)
    bundles: pip runs from its wheel, and its resolver rules are the current ones."""
    from virtualenv.seed.wheels.embed import get_embed_wheel

    wheel = get_embed_wheel("pip", f"{sys.version_info.major}.{sys.version_info.minor}")
    assert wheel is not None, "virtualenv bundles no pip wheel for this Python"
    return [sys.executable, str(Path(wheel.path) / "pip")]


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pip-scenarios")
    # pre-releases
    build_wheel(d, "lib", "1.0")
    build_wheel(d, "lib", "2.0b1")
    build_wheel(d, "lib-user", "1.0", requires=["lib>1.0"])
    build_wheel(d, "lib-capped", "1.0", requires=["lib<3"])
    # local versions
    build_wheel(d, "loc", "1.0")
    build_wheel(d, "loc", "1.0+cpu")
    # Requires-Python, in the wheel's METADATA only (a find-links directory has no other)
    build_wheel(d, "modern", "1.0")
    build_wheel(d, "modern", "2.0", requires_python=">=3.99")
    build_wheel(d, "pyold", "1.0", requires_python=">=3.8")
    build_wheel(d, "pyold", "2.0", requires_python=">=3.10")
    # extras, and an extra that forces an older version of its owner
    build_wheel(d, "feat", "1.0", extras=["fast"], requires=["tiny; extra == 'fast'"])
    build_wheel(d, "tiny", "0.1")
    build_wheel(d, "feat2", "1.0", extras=["fast"], requires=["lib2<2; extra == 'fast'"])
    build_wheel(d, "feat2", "2.0", extras=["fast"], requires=["lib2>=2; extra == 'fast'"])
    build_wheel(d, "lib2", "1.0")
    build_wheel(d, "lib2", "2.0")
    # backtracking: the newest top needs a shared other cannot take
    build_wheel(d, "top", "1.0", requires=["shared"])
    build_wheel(d, "top", "2.0", requires=["shared>=2"])
    build_wheel(d, "other", "1.0", requires=["shared<2"])
    for v in ("1.0", "1.5", "2.0"):
        build_wheel(d, "shared", v)
    # no way out
    build_wheel(d, "left", "1.0", requires=["core<2"])
    build_wheel(d, "right", "1.0", requires=["core>=2"])
    build_wheel(d, "core", "1.0")
    build_wheel(d, "core", "2.0")
    # sarugaku/resolvelib#206: backjumping skips the pin that matters (q1 -> 1)
    build_wheel(d, "q0", "2", requires=["q2==2"])
    build_wheel(d, "q1", "1")
    build_wheel(d, "q1", "2", requires=["q0==2"])
    build_wheel(d, "q2", "1", requires=["q1>=1,<3"])
    build_wheel(d, "q2", "2", requires=["q1==3"])
    return d


def pip_answer(wheels: Path, reqs: list[str], *, python: str | None = None,
               pre: bool = False) -> dict[str, str] | None:
    """What `pip install --dry-run --report` picks from `wheels` alone; None if nothing fits."""
    cmd = [*newest_pip(), "install", "--isolated", "--dry-run", "--ignore-installed",
           "--quiet", "--report", "-", "--no-index", "--find-links", str(wheels),
           "--disable-pip-version-check", "--no-input"]
    if pre:
        cmd.append("--pre")
    if python:
        cmd += ["--python-version", python, "--only-binary=:all:"]
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull}
    done = subprocess.run([*cmd, *reqs], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=120)
    if done.returncode != 0:
        assert any(why in done.stderr for why in (
            "ResolutionImpossible", "No matching distribution",
            "requires a different Python")), done.stderr
        return None
    return {canonicalize_name(i["metadata"]["name"]): i["metadata"]["version"]
            for i in json.loads(done.stdout)["install"]}


def envtui_answer(wheels: Path, reqs: list[str], *, python: str | None = None,
                  pre: bool = False) -> dict[str, str] | None:
    """What `envtui resolve` picks: the same provider and target it builds."""
    provider = Provider([FindLinksSource(wheels)], python_target(python or RUNNING), pre=pre)
    try:
        result = resolve([parse_requirement(r) for r in reqs], provider)
    except ResolutionFailed:
        return None
    return {name: str(c.version) for name, c in result.pins.items()}


SCENARIOS: dict[str, tuple[list[str], str | None, bool, dict[str, str] | None]] = {
    # id: (requirements, target Python (None: the running one), --pre, the answer)
    "pre-skipped": (["lib"], None, False, {"lib": "1.0"}),
    "pre-only-match": (["lib>1.0"], None, False, {"lib": "2.0b1"}),
    "pre-named": (["lib>=2.0b1"], None, False, {"lib": "2.0b1"}),
    "pre-flag": (["lib"], None, True, {"lib": "2.0b1"}),
    "pre-transitive": (["lib-user"], None, False, {"lib-user": "1.0", "lib": "2.0b1"}),
    "pre-final-wins": (["lib-capped"], None, False, {"lib-capped": "1.0", "lib": "1.0"}),
    "local-public": (["loc==1.0"], None, False, {"loc": "1.0+cpu"}),  # == ignores +cpu
    "local-exact": (["loc==1.0+cpu"], None, False, {"loc": "1.0+cpu"}),
    "local-not-greater": (["loc>1.0"], None, False, None),  # > never matches 1.0+cpu
    "requires-python-skips": (["modern"], None, False, {"modern": "1.0"}),
    "requires-python-impossible": (["modern>=2"], None, False, None),
    "python-3.8": (["pyold"], "3.8", False, {"pyold": "1.0"}),
    "python-3.12": (["pyold"], "3.12", False, {"pyold": "2.0"}),
    "extra-adds": (["feat[fast]"], None, False, {"feat": "1.0", "tiny": "0.1"}),
    "extra-absent": (["feat"], None, False, {"feat": "1.0"}),
    "extra-backtracks": (["feat2[fast]", "lib2<2"], None, False,
                         {"feat2": "1.0", "lib2": "1.0"}),
    "backtracking": (["top", "other"], None, False,
                     {"top": "1.0", "other": "1.0", "shared": "1.5"}),
    "conflict": (["left", "right"], None, False, None),
}


@pytest.fixture(scope="module")
def pip_answers(scenarios: Path) -> dict[str, dict[str, str] | None]:
    """pip's answer to every scenario, asked a few at a time (each pip run takes a while)."""
    with ThreadPoolExecutor(4) as pool:
        asked = {key: pool.submit(pip_answer, scenarios, reqs, python=python, pre=pre)
                 for key, (reqs, python, pre, _) in SCENARIOS.items()}
        return {key: future.result() for key, future in asked.items()}


@pytest.mark.slow
@pytest.mark.parametrize("key", SCENARIOS)
def test_case_16_resolves_like_pip(scenarios: Path, pip_answers: dict[str, Any],
                                   key: str) -> None:
    reqs, python, pre, expected = SCENARIOS[key]
    ours = envtui_answer(scenarios, reqs, python=python, pre=pre)
    assert ours == expected
    assert pip_answers[key] == ours


def test_case_16_finds_the_solution_backjumping_skips(scenarios: Path) -> None:
    # resolvelib (pip's resolver too) can report this one impossible; envtui's complete
    # second search finds the answer, and pip accepts it as a consistent set.
    ours = envtui_answer(scenarios, ["q2"])
    assert ours == {"q2": "1", "q1": "1"}
    assert pip_answer(scenarios, [f"{n}=={v}" for n, v in ours.items()]) == ours


# ---- cases 17-21: fixes are transactions


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The NumPy conflict (oldlib 1.0 needs numpy<2, newlib 2.0 needs numpy>=2), with a
    numpy 2.1.0 of many files so its install can be caught half-way."""
    d = tmp_path_factory.mktemp("fix-wheels")
    build_wheel(d, "numpy", "1.26.4")
    parts = {f"numpy/part_{i:04d}.py": f"PART = {i}\n" for i in range(PARTS)}
    build_wheel(d, "numpy", "2.1.0", files={"numpy/__init__.py": "", **parts})
    build_wheel(d, "oldlib", "1.0", requires=["numpy<2"])
    build_wheel(d, "oldlib", "1.3", requires=["numpy>=1.26"])
    build_wheel(d, "newlib", "2.0", requires=["numpy>=2"])
    return d


@pytest.fixture
def conflicted(home: Path, wheels: Path) -> Path:
    venv = make_venv(home / "proj" / ".venv", "uv")
    uv_install(venv, wheels, "oldlib==1.0", "numpy==1.26.4")
    uv_install(venv, wheels, "--no-deps", "newlib==2.0")
    return venv


@pytest.fixture
def stalling_cache(tmp_path: Path, wheels: Path) -> Path:
    """A uv cache holding numpy 2.1.0 unpacked, with its STALL-th file made a FIFO."""
    cache = tmp_path / "uv-cache"
    subprocess.run([uv_bin(), "pip", "install", "--quiet", "--offline", "--no-index",
                    "--find-links", str(wheels), "--python", sys.executable, "--target",
                    str(tmp_path / "warm"), "--no-deps", "numpy==2.1.0"],
                   env={**os.environ, "UV_CACHE_DIR": str(cache)}, check=True,
                   stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
    # The unpacked wheel is one directory (other cache entries link to it).
    found = sorted({os.path.realpath(p) for p in glob.glob(
        str(cache / "**" / "numpy" / f"part_{STALL:04d}.py"), recursive=True)})
    assert len(found) == 1, f"uv's cache layout changed: {found}"
    os.unlink(found[0])
    os.mkfifo(found[0])
    return cache


@dataclass(frozen=True)
class State:
    """An environment, byte for byte."""

    tree: dict[str, tuple[str, int, str]]
    """Every entry of the prefix: type, mode, link target or sha256."""
    site_packages: str
    """One digest of the whole site-packages tree."""
    records: dict[str, dict[str, str]]
    """dist-info -> path -> hash, for every RECORD row, each checked against the file."""
    check: tuple[int, str]
    """`pip check`'s exit status and output."""


def verified_records(venv: Path) -> dict[str, dict[str, str]]:
    sp = site_packages(venv)
    out: dict[str, dict[str, str]] = {}
    for record in sorted(sp.glob("*.dist-info/RECORD")):
        rows = {}
        with record.open(newline="") as f:
            for path, digest, _size in csv.reader(f):
                if not digest:
                    continue  # RECORD itself, and files installers compile
                algorithm, _, expected = digest.partition("=")
                data = (sp / path).read_bytes()
                got = base64.urlsafe_b64encode(hashlib.new(algorithm, data).digest())
                assert got.rstrip(b"=").decode() == expected, f"{path} differs from {record}"
                rows[path] = digest
        out[record.parent.name] = rows
    return out


def pip_check(venv: Path) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python_of(venv)),
                           "check"], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=120)
    return done.returncode, done.stdout


def capture(venv: Path) -> State:
    tree = manifest(venv)
    sp = manifest(site_packages(venv))
    digest = hashlib.sha256(json.dumps(sorted(sp.items())).encode()).hexdigest()
    return State(tree, digest, verified_records(venv), pip_check(venv))


def local(wheels: Path) -> list[str]:
    return ["--no-index", "--offline", "--find-links", str(wheels)]


def child_env(cache: Path | None = None) -> dict[str, str]:
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "UV_LINK_MODE": "copy"}
    if cache is not None:
        env["UV_CACHE_DIR"] = str(cache)
    return env


def envtui(*args: str | Path, cache: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "envtui", *map(str, args)],
                          capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL, env=child_env(cache))


@dataclass
class Running:
    """An `envtui fix` started in its own process group, as a shell starts a job."""

    proc: subprocess.Popen[bytes]
    out: Path
    err: Path

    def stderr(self) -> str:
        return self.err.read_text()


@contextlib.contextmanager
def started_fix(venv: Path, wheels: Path, cache: Path, tmp_path: Path,
                *extra: str) -> Iterator[Running]:
    out, err = tmp_path / "fix.out", tmp_path / "fix.err"
    with out.open("wb") as o, err.open("wb") as e:
        proc = subprocess.Popen([sys.executable, "-m", "envtui", "fix", str(venv), *local(wheels),
                                 "--yes", *extra], stdin=subprocess.DEVNULL, stdout=o, stderr=e,
                                env=child_env(cache), start_new_session=True)
    job = Running(proc, out, err)
    try:
        yield job
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        journal = read_journal(venv) if (venv / ".envtui").is_dir() else None
        if journal is not None and journal.child is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(journal.child, signal.SIGKILL)


def new_parts(venv: Path) -> int:
    try:
        return sum(1 for n in os.listdir(site_packages(venv) / "numpy") if n.startswith("part_"))
    except FileNotFoundError:
        return 0


def stalled(venv: Path, job: Running, files: int = 20) -> int:
    """Wait until the installer envtui started has written `files` of numpy 2.1.0's files
    and is stuck on the FIFO; return its pid (also its process group)."""
    end = time.monotonic() + 120
    while True:
        assert job.proc.poll() is None, f"envtui ended early:\n{job.stderr()}"
        assert time.monotonic() < end, f"the install never got going:\n{job.stderr()}"
        journal = read_journal(venv) if (venv / ".envtui").is_dir() else None
        if journal is not None and journal.child is not None and new_parts(venv) >= files:
            assert journal.state == "applying"
            return journal.child
        time.sleep(0.02)


def alive(pid: int) -> bool:
    """Running and not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        with contextlib.suppress(OSError, IndexError, ValueError), \
                open(f"/proc/{entry}/stat") as f:
            if int(f.read().rpartition(")")[2].split()[1]) == pid:
                out.append(int(entry))
    return out


def wait_gone(pid: int) -> None:
    end = time.monotonic() + 60
    while alive(pid):
        assert time.monotonic() < end, f"{pid} still runs"
        time.sleep(0.02)


@pytest.mark.slow
def test_case_17_installer_killed_mid_install_is_restored_byte_for_byte(
        conflicted: Path, wheels: Path, stalling_cache: Path, tmp_path: Path) -> None:
    before = capture(conflicted)
    assert before.check[0] == 1 and "newlib 2.0 has requirement numpy>=2" in before.check[1]
    with started_fix(conflicted, wheels, stalling_cache, tmp_path) as job:
        child = stalled(conflicted, job)
        assert 0 < new_parts(conflicted) < PARTS  # really half-way
        os.killpg(child, signal.SIGKILL)
        assert job.proc.wait(120) == 2
    err = job.stderr()
    assert "uv failed (exit status -9)" in err
    assert "the environment was restored" in err and "Traceback" not in err
    assert capture(conflicted) == before
    assert not (conflicted / ".envtui" / "journal.json").exists()
    assert not (conflicted / ".envtui" / "snapshot").exists()


def test_case_18_ctrl_c_mid_install_interrupts_the_installer_and_restores(
        conflicted: Path, wheels: Path, stalling_cache: Path, tmp_path: Path) -> None:
    before = capture(conflicted)
    with started_fix(conflicted, wheels, stalling_cache, tmp_path) as job:
        child = stalled(conflicted, job)
        # What a terminal does on Ctrl-C: SIGINT to the foreground job's process group.
        # The installer runs in its own group, so only envtui can pass it on.
        os.killpg(job.proc.pid, signal.SIGINT)
        assert job.proc.wait(120) == 2
        assert not alive(child)
    err = job.stderr()
    assert "envtui: cancelling: stopping the installer and restoring the environment" in err
    assert f"warning: cancelling: sending SIGINT to the installer (pid {child})" in err
    assert f"cancelled, environment restored: {conflicted}" in err
    # uv stops on SIGINT: nothing harsher was sent (each would have been announced first).
    assert "SIGTERM" not in err and "SIGKILL" not in err and "Traceback" not in err
    assert capture(conflicted) == before
    assert not (conflicted / ".envtui" / "journal.json").exists()


@contextlib.contextmanager
def gated_channel(channel: Path, gated: str) -> Iterator[tuple[str, threading.Event,
                                                                  threading.Event]]:
    """Serve a conda channel directory on loopback; a download of `gated` waits until the
    test sets the second event (the first says it was asked for)."""
    asked, release = threading.Event(), threading.Event()

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(channel), **kwargs)

        def do_GET(self) -> None:
            if self.path.endswith("/" + gated):
                asked.set()
                release.wait(120)
            super().do_GET()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked, release
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        thread.join()


def test_case_18_ctrl_c_during_a_conda_fix_waits_for_rattler_then_restores(
        request: pytest.FixtureRequest, home: Path, tmp_path: Path) -> None:
    root: Path = request.getfixturevalue("built")  # real conda envs and their channel
    prefix = copy_env(root / "conflicted", tmp_path / "conflicted")
    before = manifest(prefix)
    env = {k: v for k, v in child_env().items() if not k.lower().endswith("_proxy")}
    env.update(NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
    err = tmp_path / "fix.err"
    with gated_channel(root / "channel", "libfoo-2.0-h0_0.tar.bz2") as (url, asked, release):
        with err.open("wb") as e:
            proc = subprocess.Popen([sys.executable, "-m", "envtui", "fix", str(prefix),
                                     "--channel", url, "--yes"], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=e, env=env,
                                    start_new_session=True)
        try:
            assert asked.wait(120), f"rattler never fetched the package:\n{err.read_text()}"
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C while rattler downloads
            end = time.monotonic() + 60
            while "waiting for it to finish" not in err.read_text():
                assert time.monotonic() < end and proc.poll() is None, err.read_text()
                time.sleep(0.05)
            release.set()  # rattler completes its install; only then is the env restored
            assert proc.wait(120) == 2
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = err.read_text()
    assert "warning: rattler cannot be stopped half-way; waiting for it to finish before " \
           "the environment is restored" in text
    assert f"cancelled, environment restored: {prefix}" in text
    assert "SIGKILL" not in text and "Traceback" not in text
    assert manifest(prefix) == before
    assert not (prefix / ".envtui" / "journal.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize("choice", ["restore", "finish", "discard"])
def test_case_19_sigkilled_envtui_is_found_at_the_next_start(
        conflicted: Path, wheels: Path, stalling_cache: Path, tmp_path: Path,
        choice: str) -> None:
    before = capture(conflicted)
    with started_fix(conflicted, wheels, stalling_cache, tmp_path) as job:
        child = stalled(conflicted, job)
        job.proc.send_signal(signal.SIGKILL)
        job.proc.wait()
        assert alive(child)  # the orphaned installer still holds the environment

        # The next start, whatever the command, finds the journal.
        refused = envtui("fix", conflicted, *local(wheels), "--yes")
        assert refused.returncode == 2
        for offer in (f"envtui undo {conflicted}`", f"envtui fix {conflicted} --finish",
                      f"envtui undo {conflicted} --discard"):
            assert offer in refused.stderr
        shown = json.loads(envtui("show", conflicted, "--json", "--refresh").stdout)
        assert [p["kind"] for p in shown["problem_details"]] == ["interrupted"]
        # Nothing is restored under a running installer.
        busy = envtui("undo", conflicted)
        assert busy.returncode == 2 and f"(pid {child}) is still running" in busy.stderr
        os.killpg(child, signal.SIGKILL)
        wait_gone(child)

    half = manifest(conflicted)
    assert half != before.tree and 0 < new_parts(conflicted) < PARTS  # half-installed
    if choice == "restore":
        done = envtui("undo", conflicted)
        assert done.returncode == 0, done.stderr
        assert capture(conflicted) == before
    elif choice == "discard":
        done = envtui("undo", conflicted, "--discard")
        assert done.returncode == 0, done.stderr
        assert "forgot the interrupted fix" in done.stdout
        assert manifest(conflicted) == half  # left exactly as it is
    else:
        # A cache without the FIFO, so the second attempt can complete.
        done = envtui("fix", conflicted, "--finish", *local(wheels), "--json",
                      cache=tmp_path / "fresh-cache")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["applied"] is True
        after = capture(conflicted)  # every RECORD verified
        assert after.check == (0, "No broken requirements found.\n")
        assert "numpy-2.1.0.dist-info" in after.records and new_parts(conflicted) == PARTS
        journal = read_journal(conflicted)
        assert journal is not None and journal.state == "committed"
        # ... and undoable like any fix: back to before it started.
        assert envtui("undo", conflicted).returncode == 0
        assert capture(conflicted) == before
    assert read_journal(conflicted) is None
    assert "interrupted" not in envtui("show", conflicted, "--json", "--refresh").stdout


@pytest.mark.slow
@run_async
async def test_case_19_the_fix_screen_offers_to_finish_it(
        conflicted: Path, wheels: Path, stalling_cache: Path, tmp_path: Path, home: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    before = capture(conflicted)
    with started_fix(conflicted, wheels, stalling_cache, tmp_path) as job:
        child = stalled(conflicted, job)
        job.proc.kill()
        job.proc.wait()
        os.killpg(child, signal.SIGKILL)
        wait_gone(child)
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "fresh-cache"))
    app = app_for(home, conflicted, local_options(wheels))
    async with app.run_test(size=(110, 32)) as pilot:
        await settle(pilot)
        await pilot.press("f")
        screen = fix_screen(app)
        explanation = screen.query_one("#fix-explanation", Static)
        await until(pilot, lambda: explanation.display, "the interrupted fix")
        assert "c restores it and applies the fix again" in str(explanation.render())
        assert "c finish" in str(screen.query_one("#fix-text", Static).render())
        await pilot.press("c", "y")
        await until(pilot, lambda: screen.busy is None and screen.proposal is not None,
                    "the finished fix and new plans")
        assert screen.proposal is not None and not screen.proposal.problems
    after = capture(conflicted)
    assert after.check == (0, "No broken requirements found.\n")
    assert "numpy-2.1.0.dist-info" in after.records
    journal = read_journal(conflicted)
    assert journal is not None and journal.state == "committed"
    assert envtui("undo", conflicted).returncode == 0
    assert capture(conflicted) == before


# ---- case 20: nothing an installer could ask ever waits


def test_case_20_pip_asking_to_proceed_fails_at_once(conflicted: Path) -> None:
    before = manifest(conflicted)
    started = time.monotonic()
    # `pip uninstall` without --yes asks "Proceed (Y/n)?".
    out = run_installer([sys.executable, "-m", "pip", "--python", str(python_of(conflicted)),
                         "uninstall", "newlib"], progress=None, cancel=threading.Event(),
                        deadline=time.monotonic() + 120)
    assert time.monotonic() - started < 60 and not out.timed_out
    assert out.returncode not in (0, None)
    assert any("Proceed (Y/n)?" in line for line in out.output)
    assert manifest(conflicted) == before  # nobody said yes


PROMPTER = """
import os, sys, threading, time
# As a session leader without a terminal, opening the pty makes it this process's terminal.
os.close(os.open(sys.argv[1], os.O_RDWR))
os.close(os.open("/dev/tty", os.O_RDWR))
from envtui.resolver.installer import run
child = "import os, sys\\ntry:\\n    os.open('/dev/tty', os.O_RDWR)\\n    print('tty')\\n" \\
        "except OSError as e:\\n    print('no tty', e.errno)\\nprint(repr(sys.stdin.read()))"
out = run([sys.executable, "-c", child], progress=None, cancel=threading.Event(),
          deadline=time.monotonic() + 60)
print(out.returncode, out.output)
"""


def test_case_20_installer_has_no_terminal_to_prompt_on() -> None:
    # envtui runs on a terminal; the installer it starts cannot open it (as ssh, git and
    # keyring prompts do), and its stdin is at end of file.
    master, slave = os.openpty()
    try:
        done = subprocess.run([sys.executable, "-c", PROMPTER, os.ttyname(slave)],
                              capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL, start_new_session=True)
    finally:
        os.close(master)
        os.close(slave)
    assert done.returncode == 0, done.stderr
    # ENXIO: the installer has no controlling terminal; reading stdin ends at once.
    assert done.stdout.strip() == f"0 ('no tty {errno.ENXIO}', \"''\")"


def test_case_20_fix_without_yes_does_not_wait_for_an_answer(
        conflicted: Path, wheels: Path, tmp_path: Path) -> None:
    before = manifest(conflicted)
    out = tmp_path / "out"
    with out.open("wb") as o:
        # stdin is a pipe nobody writes to or closes: reading it would hang forever.
        proc = subprocess.Popen([sys.executable, "-m", "envtui", "fix", str(conflicted),
                                 *local(wheels)], stdin=subprocess.PIPE, stdout=o,
                                stderr=subprocess.DEVNULL, env=child_env())
        try:
            assert proc.wait(120) == 1
        finally:
            if proc.poll() is None:
                proc.kill()
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait()
    assert "nothing changed (use --yes" in out.read_text()
    assert manifest(conflicted) == before


# ---- case 21: someone else changing the environment


@pytest.mark.parametrize("how", ["--python", "interpreter"])
def test_case_21_fix_refused_while_pip_installs_into_the_env(
        conflicted: Path, wheels: Path, hang: Hang, how: str) -> None:
    before = manifest(conflicted)
    args = ["install", "--no-index", "--find-links", hang.url, "numpy==2.1.0"]
    if how == "--python":  # pip from outside, pointed at the environment
        cmd = [sys.executable, "-m", "pip", "--python", str(python_of(conflicted)), *args]
    else:  # pip run by the environment's own interpreter
        cmd = [str(python_of(conflicted)), newest_pip()[1], *args]
    pip = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert hang.asked.wait(60), "pip never got going"
        refused = envtui("fix", conflicted, *local(wheels), "--yes")
        assert refused.returncode == 2
        found = re.search(rf"pip \(pid (\d+)\) is changing {re.escape(str(conflicted))}: ",
                          refused.stderr)
        assert found is not None, refused.stderr
        assert int(found[1]) in (pip.pid, *children(pip.pid))
        assert manifest(conflicted) == before
        assert not (conflicted / ".envtui" / "journal.json").exists()
    finally:
        os.killpg(pip.pid, signal.SIGKILL)
        pip.wait()
    wait_gone(pip.pid)
    done = envtui("fix", conflicted, *local(wheels), "--yes")
    assert done.returncode == 0, done.stderr  # once pip is gone, the fix goes ahead


def test_case_21_second_envtui_fix_refused_while_one_runs(
        conflicted: Path, wheels: Path, stalling_cache: Path, tmp_path: Path) -> None:
    before = capture(conflicted)
    with started_fix(conflicted, wheels, stalling_cache, tmp_path) as job:
        stalled(conflicted, job)
        journal = read_journal(conflicted)
        second = envtui("fix", conflicted, *local(wheels), "--yes")
        assert second.returncode == 2
        assert f"another envtui is changing {conflicted}" in second.stderr
        assert envtui("undo", conflicted).returncode == 2
        assert read_journal(conflicted) == journal  # the refusals took nothing over
        os.killpg(job.proc.pid, signal.SIGINT)
        assert job.proc.wait(120) == 2
    assert capture(conflicted) == before  # the first one still restored it exactly
