"""Fuzzing every parser of outside input (issue 8, item 2), with hypothesis.

Each target writes the fuzzed bytes where envtui reads them (a dist-info in a real venv
layout, a conda-meta record, an environment.yml on disk, a home directory's .condarc, ...)
and calls the reading code envtui itself calls, so the real file-reading paths are fuzzed,
not only the pure parsing functions. For every input:

* no exception escapes other than envtui's own typed error for that entry point
  (ExchangeError, ConfigError, SourceError, TransactionError, EngineError, ImageError,
  ArchiveError, Refused), and a typed error is one line that names the file;
* the call answers within HANG_SECONDS of wall time (a SIGALRM watchdog turns a hang,
  blocked reads included, into a failure), takes at most TIME_LIMIT plus TIME_PER_MIB per
  MiB of input of CPU time, and the example as a whole ends within the hypothesis deadline;
* the process's peak memory grows by at most MEMORY_BASE plus MEMORY_PER_BYTE times the
  input's size while the call runs (the kernel's peak resident size, reset before each
  call, so native parsers such as libyaml and rattler count too; see _PeakMemory).

The strategies build valid-looking documents and then break them: mutated fields, wrong
JSON/TOML/YAML types, invalid UTF-8, byte-level mutations, huge lines, deep nesting, YAML
tags (`!!python/object/apply`), anchors, aliases and alias bombs, RECORD rows with odd
quoting, paths and hashes, include cycles, FIFOs and devices named by includes.

Every input that once crashed or hung is kept under tests/fuzz_regressions/ as
`TARGET--PROBLEM.EXT` (the raw bytes of the fuzzed file) and replayed by
`test_fuzz_regression`.

CI runs a small, derandomized budget (the whole file in well under a minute on 2 cores):

    .venv/bin/python -m pytest -q -p no:randomly tests/test_fuzz_parsers.py

A bigger run, with fresh random inputs and failing inputs saved for new regression files:

    ENVTUI_FUZZ_EXAMPLES=5000 ENVTUI_FUZZ_RANDOM=1 ENVTUI_FUZZ_SAVE=/tmp/fuzz-failures \\
        .venv/bin/python -m pytest -q -p no:randomly tests/test_fuzz_parsers.py

With ENVTUI_FUZZ_SAVE set, each failing input is written there as `TARGET--last-failure`;
the last one written is hypothesis's shrunk example: rename it into tests/fuzz_regressions/.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import sys
import tarfile
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import pytest
import tomlkit
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from envtui.cleanup import Refused
from envtui.cleanup.fs_removal import plan_removal
from envtui.config import ConfigError, load_config
from envtui.exchange.diff import diff
from envtui.exchange.environment_yml import ExportOptions, write_environment_yml
from envtui.exchange.files import read_spec
from envtui.exchange.images import ImageError, verify_archive
from envtui.exchange.requirements_export import write_requirements
from envtui.exchange.spec import CONDA, PIP, EnvSpec, ExchangeError, Pin, from_environment
from envtui.inspectors.base import Inspector, ScanContext
from envtui.inspectors.cache import Cache
from envtui.inspectors.conda import CondaInspector
from envtui.inspectors.docker import EngineError, resolve_endpoint
from envtui.inspectors.image_layers import ArchiveError, buffered, read_image_archive
from envtui.inspectors.venv import VenvInspector
from envtui.model import Environment
from envtui.resolver.checks import check_environment
from envtui.resolver.graph import build_graph
from envtui.resolver.journal import TransactionError, read_journal
from envtui.resolver.pins import check_project
from envtui.resolver.pipconfig import index_options
from envtui.resolver.project_files import read_project
from envtui.resolver.snapshot import SnapshotError, record_files
from envtui.resolver.sources import SourceError
from envtui.resolver.tree import dependency_tree, render_text

# --------------------------------------------------------------------------- budgets

EXAMPLES = int(os.environ.get("ENVTUI_FUZZ_EXAMPLES", "40"))
"""Examples per target; 40 keeps CI fast (the file takes about 30 s), a fuzzing session
raises it."""

HANG_SECONDS = 20.0
"""A call still running after this long is a hang: the watchdog interrupts it."""
TIME_LIMIT = 2.0
"""CPU seconds one call may take on a small input ..."""
TIME_PER_MIB = 5.0
"""... plus this many per MiB of input: linear reading of a big file is fine (PyYAML's
pure-Python loader, which `check` reads a project's environment.yml with, needs about 3 s
for 1 MiB), a blow-up (quadratic or exponential work, an alias bomb expanded) is not."""
MEMORY_BASE = 48 << 20
"""Bytes the process's peak memory may grow by during one call on a small input ..."""
MEMORY_PER_BYTE = 100
"""... plus this many per byte of input: Python objects for many short entries take tens of
times their text (a requirements file of 270,000 one-word lines: 80 times), while a blow-up
(an alias bomb expanded, a syntax tree of a huge literal) takes far more."""

settings.register_profile(
    "envtui-fuzz",
    max_examples=EXAMPLES,
    derandomize=os.environ.get("ENVTUI_FUZZ_RANDOM") != "1",
    deadline=timedelta(seconds=30),  # a backstop: `bounded` checks each call's CPU time
    database=None,
    # No explain phase: it traces every line, which slows the parsers ten-fold and would
    # report the bounds broken by its own tracing.
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.large_base_example, HealthCheck.filter_too_much],
)
FUZZ = settings.get_profile("envtui-fuzz")
"""Applied to each fuzz test (not loaded globally: other tests keep their own settings)."""

REGRESSIONS = Path(__file__).parent / "fuzz_regressions"
SITE = "lib/python3.11/site-packages"
DIST = f"{SITE}/pkg-1.0.dist-info"


class Hung(BaseException):
    """The watchdog fired: a parser did not return."""


class _PeakMemory:
    """How much a call grew the process's peak memory.

    On Linux, the kernel's peak resident size (VmHWM) is reset before the call by writing
    5 to /proc/self/clear_refs and read after it: native parsers (libyaml, rattler) count
    too, and nothing slows the call down. Elsewhere tracemalloc's peak of the Python heap
    stands in, and the time bound is relaxed by TRACE_SLOWDOWN, tracemalloc's own cost.
    """

    def __init__(self) -> None:
        self.kernel = True  # until resetting the peak fails
        self.before = 0

    @staticmethod
    def _reset() -> bool:
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            return False
        return True

    @staticmethod
    def _status(field: str) -> int:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) << 10
        raise AssertionError(f"/proc/self/status has no {field}")

    def start(self) -> None:
        if self.kernel and self._reset():
            self.before = self._status("VmRSS")
            return
        self.kernel = False
        if not tracemalloc.is_tracing():
            tracemalloc.start()
        tracemalloc.reset_peak()
        self.before = tracemalloc.get_traced_memory()[0]

    def grown(self) -> int:
        if self.kernel:
            return self._status("VmHWM") - self.before
        return tracemalloc.get_traced_memory()[1] - self.before


TRACE_SLOWDOWN = 10
RECURSION_LIMIT = 1000
"""Python's default recursion limit, the one envtui's parsers meet in real use."""
_PEAK = _PeakMemory()


@contextmanager
def _watchdog(seconds: float) -> Iterator[None]:
    def fire(_signum: int, _frame: FrameType | None) -> None:
        raise Hung(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


T = TypeVar("T")


def bounded(call: Callable[[], T], size: int, *, typed: tuple[type[Exception], ...] = (),
            names: Path | None = None) -> T | Exception:
    """Run one parser call with the time and memory bounds; return its result or the typed
    error it raised (checked to be one line naming `names`). Anything else propagates."""
    # Hypothesis raises the recursion limit by 2000 while a test runs; envtui runs with
    # Python's default, which decides how deep a recursive parser gets before it gives up.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(RECURSION_LIMIT)
    _PEAK.start()
    start = time.process_time()  # CPU time: other processes on a shared machine do not count
    outcome: T | Exception
    try:
        with _watchdog(HANG_SECONDS):
            try:
                outcome = call()
            except typed as e:
                outcome = e
    finally:
        sys.setrecursionlimit(limit)
    elapsed = time.process_time() - start
    grew = _PEAK.grown()
    assert grew <= MEMORY_BASE + MEMORY_PER_BYTE * size, (
        f"memory grew by {grew >> 20} MiB on {size} bytes of input")
    allowed = TIME_LIMIT + TIME_PER_MIB * size / (1 << 20)
    allowed *= 1 if _PEAK.kernel else TRACE_SLOWDOWN
    assert elapsed <= allowed, f"{elapsed:.1f} s on {size} bytes of input"
    if isinstance(outcome, Exception):
        message = str(outcome)
        shown = repr(message[:300])
        assert "\n" not in message and "\r" not in message, f"not one line: {shown}"
        if names is not None:
            assert str(names) in message, f"does not name {names}: {shown}"
    return outcome


# --------------------------------------------------------------------------- harnesses

Harness = Callable[[Path, bytes], None]
HARNESSES: dict[str, Harness] = {}
"""Target name -> what puts the bytes in place and reads them as envtui does."""
EXTENSIONS: dict[str, str] = {}
"""Target name -> the extension its regression files use (for editors, not for replay)."""


def harness(name: str, ext: str = "bin") -> Callable[[Harness], Harness]:
    def register(fn: Harness) -> Harness:
        HARNESSES[name] = fn
        EXTENSIONS[name] = ext
        return fn
    return register


_WARM: set[str] = set()


def run(name: str, data: bytes) -> None:
    """One example of target `name` in a fresh directory.

    The target's seed is read once first, so importing conda_lock, pydantic's model
    building and the like are not charged to the first fuzzed input."""
    if name not in _WARM:
        _WARM.add(name)
        run(name, SEEDS[name])
    with tempfile.TemporaryDirectory(prefix="envtui-fuzz-") as tmp:
        try:
            HARNESSES[name](Path(os.path.realpath(tmp)), data)
        except BaseException:
            _save_failure(name, data)
            raise


def _save_failure(name: str, data: bytes) -> None:
    directory = os.environ.get("ENVTUI_FUZZ_SAVE")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        (Path(directory) / f"{name}--last-failure").write_bytes(data)


def _write(root: Path, files: Mapping[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


_VENV_DEFAULTS = {
    "pyvenv.cfg": b"home = /usr/bin\nversion = 3.11.7\n",
    f"{DIST}/METADATA": b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n"
                        b"Requires-Dist: dep>=1\n\n",
    f"{DIST}/RECORD": b"pkg/__init__.py,,\npkg-1.0.dist-info/RECORD,,\n",
    f"{DIST}/INSTALLER": b"pip\n",
    f"{SITE}/dep-2.0.dist-info/METADATA": b"Name: dep\nVersion: 2.0\n\n",
    f"{SITE}/dep-2.0.dist-info/RECORD": b"",
    # Requires the fuzzed package, so its version is compared with a specifier too.
    f"{SITE}/user-1.0.dist-info/METADATA": b"Name: user\nVersion: 1.0\n"
                                           b"Requires-Dist: pkg>=0.5\nRequires-Dist: legacy\n\n",
    f"{SITE}/user-1.0.dist-info/RECORD": b"",
}


def _read_through(insp: Inspector, prefix: Path, size: int) -> Environment:
    """Identify, fingerprint and read the environment at `prefix`, then check it and render
    its tree, within the per-input bounds."""
    loc = insp.identify(prefix)
    assert loc is not None

    def read() -> Environment:
        insp.fingerprint(loc)
        env = insp.read(loc)
        check_environment(env)
        render_text(dependency_tree(build_graph(env)))
        return env

    env = bounded(read, size)
    assert isinstance(env, Environment)
    return env


def read_venv(tmp: Path, files: Mapping[str, bytes], size: int) -> Environment:
    """A venv holding `files` (over a small valid one), read as `envtui list` / `show` /
    `tree` / `check` read it: identify, fingerprint, read, then the graph and the tree."""
    prefix = tmp / "venv"
    _write(prefix, {**_VENV_DEFAULTS, **files})
    env = _read_through(VenvInspector(), prefix, size)
    exported = bounded(lambda: export(env), size, typed=(ExchangeError,))
    assert exported is None or isinstance(exported, ExchangeError)
    return env


def export(env: Environment) -> None:
    """`envtui export` of what was read: the spec, requirements, environment.yml."""
    spec = from_environment(env)
    write_requirements(spec)
    write_environment_yml(spec, ExportOptions(from_history=True))


@harness("metadata", "txt")
def _metadata(tmp: Path, data: bytes) -> None:
    env = read_venv(tmp, {f"{DIST}/METADATA": data}, len(data))
    assert any(p.location and p.location.endswith("pkg-1.0.dist-info") for p in env.packages)


@harness("installer", "txt")
def _installer(tmp: Path, data: bytes) -> None:
    read_venv(tmp, {f"{DIST}/INSTALLER": data}, len(data))


@harness("direct_url", "json")
def _direct_url(tmp: Path, data: bytes) -> None:
    env = read_venv(tmp, {f"{DIST}/direct_url.json": data}, len(data))
    for pkg in env.packages:
        assert pkg.direct_url is None or isinstance(pkg.direct_url, str)


@harness("pkg_info", "txt")
def _pkg_info(tmp: Path, data: bytes) -> None:
    read_venv(tmp, {f"{SITE}/legacy-2.0.egg-info/PKG-INFO": data,
                    f"{SITE}/single-1.0-py3.11.egg-info": data}, 2 * len(data))


@harness("egg_requires", "txt")
def _egg_requires(tmp: Path, data: bytes) -> None:
    read_venv(tmp, {f"{SITE}/legacy-2.0.egg-info/PKG-INFO": b"Name: legacy\nVersion: 2.0\n",
                    f"{SITE}/legacy-2.0.egg-info/requires.txt": data}, len(data))


@harness("pth", "pth")
def _pth(tmp: Path, data: bytes) -> None:
    read_venv(tmp, {f"{SITE}/fuzz.pth": data}, len(data))


@harness("pyvenv_cfg", "cfg")
def _pyvenv_cfg(tmp: Path, data: bytes) -> None:
    env = read_venv(tmp, {"pyvenv.cfg": data}, len(data))
    assert env.python is None or isinstance(env.python, str)


@harness("journal", "json")
def _journal(tmp: Path, data: bytes) -> None:
    env = read_venv(tmp, {".envtui/journal.json": data}, len(data))
    assert isinstance(env.problems, tuple)
    bounded(lambda: read_journal(tmp / "venv"), len(data), typed=(TransactionError,),
            names=tmp / "venv")


@harness("record", "csv")
def _record(tmp: Path, data: bytes) -> None:
    read_venv(tmp, {f"{DIST}/RECORD": data}, len(data))
    prefix = tmp / "venv"
    found = bounded(lambda: record_files([prefix / DIST], prefix), len(data),
                    typed=(SnapshotError,), names=prefix / DIST / "RECORD")
    if isinstance(found, set):
        real = os.path.realpath(prefix)
        for rel in found:  # never a path outside the prefix, whatever RECORD says
            assert not os.path.isabs(rel)
            full = os.path.normpath(os.path.join(real, rel))
            assert full.startswith(real + os.sep), rel


# ---- conda


_RECORD_FILE = "conda-meta/pkg-1.0-py_0.json"
_CONDA_DEFAULTS = {
    "conda-meta/history": b"==> 2024-01-02 03:04:05 <==\n# cmd: conda create -n x pkg\n"
                          b"+conda-forge/noarch::pkg-1.0-py_0\n# update specs: ['pkg']\n",
    _RECORD_FILE: json.dumps({
        "name": "pkg", "version": "1.0", "build": "py_0", "channel": "conda-forge",
        "depends": ["python >=3.8"], "subdir": "noarch", "md5": "0" * 32,
        "url": "https://conda.example.invalid/conda-forge/noarch/pkg-1.0-py_0.conda",
        "files": [f"{SITE}/pkg-1.0.dist-info/METADATA"]}).encode(),
    "conda-meta/python-3.11.7-h0_0.json": json.dumps({
        "name": "python", "version": "3.11.7", "build": "h0_0", "depends": []}).encode(),
    f"{DIST}/METADATA": b"Name: pkg\nVersion: 1.0\n\n",
    f"{DIST}/RECORD": b"",
    f"{DIST}/INSTALLER": b"conda\n",
}


def conda_prefix(tmp: Path, files: Mapping[str, bytes]) -> Path:
    prefix = tmp / "envs" / "fuzz"
    _write(prefix, {**_CONDA_DEFAULTS, **files})
    return prefix


def read_conda(prefix: Path, size: int) -> Environment:
    """Read a conda env as `list`/`check`/`export` do: identify, fingerprint, read, the
    graph, the tree, and the exchange spec (which reads the records' URLs and hashes)."""
    env = _read_through(CondaInspector(system_roots=()), prefix, size)
    bounded(lambda: export(env), size, typed=(ExchangeError,))
    return env


@harness("conda_record", "json")
def _conda_record(tmp: Path, data: bytes) -> None:
    prefix = conda_prefix(tmp, {_RECORD_FILE: data, "conda-meta/._pkg-1.0-py_0.json": data})
    env = read_conda(prefix, 2 * len(data))
    for pkg in env.packages:
        assert all(isinstance(r, str) for r in pkg.requires)


@harness("conda_history", "txt")
def _conda_history(tmp: Path, data: bytes) -> None:
    env = read_conda(conda_prefix(tmp, {"conda-meta/history": data}), len(data))
    assert env.created is None or isinstance(env.created, str)


@harness("pixi", "json")
def _pixi(tmp: Path, data: bytes) -> None:
    read_conda(conda_prefix(tmp, {"conda-meta/pixi": data}), len(data))


@harness("frozen", "json")
def _frozen(tmp: Path, data: bytes) -> None:
    prefix = conda_prefix(tmp, {"conda-meta/frozen": data})
    env = read_conda(prefix, len(data))
    home = tmp / "home"
    home.mkdir()
    refused = bounded(lambda: plan_removal(env, environ={}, home=home, running=[]),
                      len(data), typed=(Refused,), names=prefix)
    assert isinstance(refused, Refused), "a frozen environment must never be planned away"


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _scan_context(home: Path) -> ScanContext:
    return ScanContext(home=home, environ={"HOME": str(home)}, walk_home=False)


@harness("condarc", "yml")
def _condarc(tmp: Path, data: bytes) -> None:
    home = tmp / "home"
    conda_prefix(home / "extra-envs", {})
    _write(home, {".condarc": data})
    ctx = _scan_context(home)
    found = bounded(lambda: list(CondaInspector(system_roots=()).locate(ctx)), len(data))
    assert isinstance(found, list)


@harness("environments_txt", "txt")
def _environments_txt(tmp: Path, data: bytes) -> None:
    home = tmp / "home"
    prefix = conda_prefix(tmp, {})
    _write(home, {".conda/environments.txt": data + b"\n" + str(prefix).encode() + b"\n"})
    ctx = _scan_context(home)
    found = bounded(lambda: list(CondaInspector(system_roots=()).locate(ctx)), len(data))
    assert isinstance(found, list)
    if len(data) < (1 << 20) and _is_utf8(data):  # else the whole file is ignored, reported
        assert str(prefix) in [loc.ref for loc in found]
    env = read_conda(prefix, 0)
    removal = bounded(lambda: plan_removal(env, environ={}, home=home, running=[]),
                      len(data), typed=(Refused,), names=prefix)
    assert not isinstance(removal, Refused), removal


# ---- exchange files and project files


def _project(tmp: Path, files: Mapping[str, bytes], size: int) -> None:
    """`check` reads a project's pins from these files: problems, never an exception."""
    project = tmp / "project"
    _write(project, files)
    read = bounded(lambda: read_project(project), size)
    assert not isinstance(read, Exception)
    for pin in read.pins:
        assert ":" in pin.where
    bounded(lambda: check_project(project), size)  # the pins compared, as `check` does


def _include_targets(directory: Path) -> None:
    """Files and special files the fuzzed `-r` / `-c` lines may name."""
    _write(directory, {"other.txt": b"-r requirements.txt\nnumpy==1.26\n",
                       "self.txt": b"-r self.txt\n",
                       "nested/deeper.txt": b"-r ../other.txt\n-c ../constraints.txt\n",
                       "constraints.txt": b"numpy<2\n",
                       "latin1.txt": "caf\xe9==1\n".encode("latin-1")})
    os.mkfifo(directory / "fifo")
    (directory / "zero").symlink_to("/dev/zero")
    (directory / "loop").symlink_to("loop")


def exchange_file(tmp: Path, name: str, data: bytes) -> None:
    """Read a shared file as `envtui import` / `diff` read it (format told by its name)."""
    path = tmp / "in" / name
    _write(tmp / "in", {name: data})
    _include_targets(tmp / "in")
    spec = bounded(lambda: read_spec(path), len(data), typed=(ExchangeError,), names=tmp)
    if isinstance(spec, tuple):
        _, parsed = spec
        for pin in parsed.pins:
            assert isinstance(pin.name, str) and isinstance(pin.version, str)
        # `envtui diff`: the versions read are compared with exact pins and constraints.
        bounded(lambda: (diff(parsed, _REFERENCE), diff(_REFERENCE, parsed)), len(data))


_REFERENCE = EnvSpec(origin="reference", kind="conda", pins=tuple(
    Pin(name=name, version=version, manager=manager)
    for name in ("pkg", "numpy", "python", "pip", "requests", "a", "dep", "x", "b", "name")
    for version, manager in (("1.0", PIP), (">=1,<2", PIP), ("1.0", CONDA), (">=1", CONDA))))
"""What fuzzed files are diffed against: exact versions and constraints of common names."""


@harness("environment_yml", "yml")
def _environment_yml(tmp: Path, data: bytes) -> None:
    exchange_file(tmp, "environment.yml", data)
    _project(tmp, {"environment.yml": data}, len(data))


@harness("requirements", "txt")
def _requirements(tmp: Path, data: bytes) -> None:
    exchange_file(tmp, "requirements.txt", data)
    _include_targets(tmp / "project")
    _project(tmp, {"requirements.txt": data}, len(data))


@harness("conda_lock", "yml")
def _conda_lock(tmp: Path, data: bytes) -> None:
    exchange_file(tmp, "conda-lock.yml", data)


@harness("pylock", "toml")
def _pylock(tmp: Path, data: bytes) -> None:
    exchange_file(tmp, "pylock.toml", data)


@harness("pyproject", "toml")
def _pyproject(tmp: Path, data: bytes) -> None:
    _project(tmp, {"pyproject.toml": data}, len(data))


@harness("pipfile", "toml")
def _pipfile(tmp: Path, data: bytes) -> None:
    _project(tmp, {"Pipfile": data}, len(data))


# ---- configuration files


@harness("config_toml", "toml")
def _config_toml(tmp: Path, data: bytes) -> None:
    _write(tmp, {".config/envtui/config.toml": data})
    bounded(lambda: load_config(tmp, {}), len(data), typed=(ConfigError,),
            names=tmp / ".config/envtui/config.toml")


@harness("pip_conf", "conf")
def _pip_conf(tmp: Path, data: bytes) -> None:
    _write(tmp, {"pip.conf": data})
    environ = {"PIP_CONFIG_FILE": str(tmp / "pip.conf"), "HOME": str(tmp),
               "XDG_CONFIG_DIRS": str(tmp / "no-such-dir"), "XDG_CONFIG_HOME": str(tmp)}
    bounded(lambda: index_options(environ=environ), len(data), typed=(SourceError,),
            names=tmp / "pip.conf")


_CONTEXT = "fuzz"
_CONTEXT_DIR = f".docker/contexts/meta/{hashlib.sha256(_CONTEXT.encode()).hexdigest()}"


@harness("docker_config", "json")
def _docker_config(tmp: Path, data: bytes) -> None:
    _write(tmp, {".docker/config.json": data,
                 f"{_CONTEXT_DIR}/meta.json": b'{"Endpoints": {"docker": {"Host": "tcp://x:1"}}}'})
    bounded(lambda: resolve_endpoint(tmp, {}), len(data), typed=(EngineError,), names=tmp)


@harness("docker_context", "json")
def _docker_context(tmp: Path, data: bytes) -> None:
    _write(tmp, {".docker/config.json": json.dumps({"currentContext": _CONTEXT}).encode(),
                 f"{_CONTEXT_DIR}/meta.json": data})
    bounded(lambda: resolve_endpoint(tmp, {}), len(data), typed=(EngineError,), names=tmp)


@harness("cache_entry", "json")
def _cache_entry(tmp: Path, data: bytes) -> None:
    cache = Cache(tmp / "cache")
    cache.store("env", "venv:/some/env", {"fingerprint": "x"})
    (stored,) = (tmp / "cache").rglob("*.json")
    stored.write_bytes(data)
    bounded(lambda: cache.load("env", "venv:/some/env"), len(data))


# ---- Docker archives


@harness("image_archive", "tar")
def _image_archive(tmp: Path, data: bytes) -> None:
    path = tmp / "image.tar"
    path.write_bytes(data)

    def read() -> object:
        with path.open("rb") as f:
            chunks = iter(lambda: f.read(1 << 16), b"")
            return read_image_archive(buffered(chunks), "sha256:" + "a" * 64).contents()

    bounded(read, len(data), typed=(ArchiveError,))


@harness("image_sidecar", "sha256")
def _image_sidecar(tmp: Path, data: bytes) -> None:
    archive = tmp / "image.tar"
    archive.write_bytes(b"not really a tar")
    (tmp / "image.tar.sha256").write_bytes(data)
    bounded(lambda: verify_archive(archive), len(data), typed=(ImageError,), names=tmp)


# --------------------------------------------------------------------------- strategies

_BAD_BYTES = (b"\xff", b"\xfe\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\r", b"\x1b[2J",
              "\u202e".encode(), b"\xef\xbb\xbf", b"\x85", b"\xe2\x80\xa8", b"\x0b\x0c\x1c",
              b"\\", b'"', b"'", b"#", b"\t", b"\n\n")


def _apply(data: bytes, ops: Sequence[tuple[int, float, bytes]]) -> bytes:
    """Byte-level damage: insert, truncate, overwrite, duplicate, delete, re-end lines."""
    for kind, where, payload in ops:
        at = int(where * len(data))
        if kind == 0:
            data = data[:at] + payload + data[at:]
        elif kind == 1:
            data = data[:at]
        elif kind == 2:
            data = data[:at] + payload + data[at + len(payload):]
        elif kind == 3:
            data = data[:at] + data[at:at + 4096] * 2 + data[at + 4096:]
        elif kind == 4:
            data = data[:at] + data[at + 1 + len(payload):]
        else:
            data = data.replace(b"\n", b"\r\n" if payload[:1] < b"\x80" else b"\r")
    return data


def mutated(base: SearchStrategy[bytes]) -> SearchStrategy[bytes]:
    """`base`, most often intact, else damaged by up to three byte-level mutations."""
    op = st.tuples(st.integers(0, 5), st.floats(0, 1),
                   st.sampled_from(_BAD_BYTES) | st.binary(min_size=1, max_size=8))
    return st.tuples(base, st.lists(op, max_size=3)).map(lambda t: _apply(*t))


def encoded(text: SearchStrategy[str]) -> SearchStrategy[bytes]:
    """Text as a tool would write it: UTF-8 mostly; UTF-16 with a BOM, Latin-1, or lone
    surrogates (invalid UTF-8) sometimes."""
    how = st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16", "latin-1",
                           "surrogates"])

    def encode(pair: tuple[str, str]) -> bytes:
        value, codec = pair
        if codec == "surrogates":
            return value.encode("utf-8", "surrogatepass") + "\udcff".encode(
                "utf-8", "surrogatepass")
        return value.encode(codec, "replace")

    return st.tuples(text, how).map(encode)


def huge(piece: SearchStrategy[str], top: int = 1_500_000) -> SearchStrategy[str]:
    """`piece` repeated into one long string of up to `top` characters."""
    return st.tuples(piece.filter(bool), st.integers(10_000, top)).map(
        lambda t: (t[0] * (t[1] // len(t[0]) + 1))[:t[1]])


def nested(opener: str, closer: str = "", top: int = 200_000) -> SearchStrategy[str]:
    """`opener` nested `n` deep (closed again when `closer` is given)."""
    return st.integers(50, top).map(lambda n: opener * n + closer * n)


_WORDS = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=24)
_ASCII = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=24)
_CONTROL = st.text(st.sampled_from("\x00\x07\x1b\x7f\x85\u2028\u2029\ufeff\u202e\t\v\f\r"),
                   min_size=1, max_size=4)


def ugly(corpus: Sequence[str]) -> SearchStrategy[str]:
    """A field value: something from `corpus`, random text, control characters, or huge."""
    return st.one_of(
        st.sampled_from(corpus), _ASCII, _WORDS,
        st.tuples(st.sampled_from(corpus), _CONTROL).map("".join),
        huge(st.sampled_from(corpus) | _ASCII),
    )


NAMES = ("pkg", "numpy", "Hello_World", "a.b-c", "", "-pkg", "~pkg", "ünïcode", "x" * 300,
         "pkg\x00", "pkg/../../etc", "python", "pip", "PKG", "zope.interface", "a b")
VERSIONS = ("1.0", "1.0-SNAPSHOT", "", "1!2.0.post1.dev3+local.7", "v1", "1.0.0.0.0.0.0",
            "9" * 40, "0" * 5000, "1.*", "\u0661.\u0662", "1.0 ", "=1.0", "3.11.7.final.0",
            "3.11", "3", "a.b.c", "1.0+ü")
REQUIREMENTS = (
    'pip; python_version == "3.4";extra == "test"', "numpy>=1.20,<2", "dep>=1",
    'a[b,c] (>=1.0) ; extra == "x"', "name @ https://example.invalid/x-1.0-py3-none-any.whl",
    "a===weird", "a>=1.*", "a; " + "(" * 700 + 'os_name == "x"' + ")" * 700,
    "a[" + ",".join("e" * 3 for _ in range(3000)) + "]", 'b; python_version < "3" or',
    "${VAR}==1", "a @ file:///../../etc/passwd", "ünïcode>=1", "dep (==2.0)", "pkg",
    "a ; extra == 'x' and extra == 'y'", 'a; python_full_version ~= "3"', "a>=" + "9" * 5000,
    "a !=1.0, ==1.*, ===x", "numpy; sys_platform == 'linux' or (os_name == 'nt'",
)
SPECIFIERS = (">=3.8", ">=3", "3.*", "~=3", ">=3.8,", ">=" + "9" * 5000, "==3.11.*", "<4,>=3.8",
              "", "python>=3", "===3.11")


# ---- METADATA / PKG-INFO


def _header_line(keys: Sequence[str]) -> SearchStrategy[str]:
    corpus = {"Name": NAMES, "Version": VERSIONS, "Requires-Dist": REQUIREMENTS,
              "Requires-Python": SPECIFIERS}
    keyed = st.sampled_from(keys).flatmap(lambda k: st.tuples(
        st.just(k), st.sampled_from([": ", ":", " : ", ":\t", "", ": \n  "]),
        ugly(corpus.get(k.strip().title(), NAMES + VERSIONS))))
    continuation = st.tuples(st.sampled_from([" ", "\t", "        "]), _WORDS,
                             st.just("")).map(lambda t: (t[0], "", t[1]))
    return (keyed | continuation).map("".join)


METADATA_KEYS = ("Metadata-Version", "Name", "Version", "Summary", "Requires-Dist",
                 "Requires-Python", "Provides-Extra", "License", "Dynamic", "name",
                 "VERSION", " Name", "Name ", "requires-dist", "Description")


def core_metadata() -> SearchStrategy[bytes]:
    header = st.lists(_header_line(METADATA_KEYS), max_size=12)
    eol = st.sampled_from(["\n", "\r\n", "\r"])
    body = st.sampled_from(["", "\nlong description\n", "\n\n\n"]) | huge(st.just("body "))
    doc = st.tuples(header, eol, body).map(lambda t: t[1].join(t[0]) + t[1] + t[2])
    no_end = huge(st.just("Summary: x\n"), 2_200_000)  # a header longer than HEADER_LIMIT
    return mutated(encoded(doc | no_end)) | st.binary(max_size=2048)


# ---- JSON documents (direct_url.json, conda-meta records, journals, configs)


def json_values(leaves: SearchStrategy[Any] | None = None) -> SearchStrategy[Any]:
    base = st.none() | st.booleans() | st.integers() | st.floats() | _WORDS
    if leaves is not None:
        base = base | leaves
    return st.recursive(base, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(_WORDS, inner, max_size=4), max_leaves=12)


def json_document(fields: Mapping[str, SearchStrategy[Any]]) -> SearchStrategy[bytes]:
    """An object with some of `fields` (each right-looking or of a wrong type), or
    something that is no such object at all."""
    keys = sorted(fields)
    obj = st.lists(st.sampled_from(keys), unique=True).flatmap(
        lambda ks: st.fixed_dictionaries({k: fields[k] | json_values() for k in ks}))
    text = st.tuples(obj, st.booleans(), st.sampled_from([None, 1])).map(
        lambda t: json.dumps(t[0], ensure_ascii=t[1], indent=t[2], allow_nan=True))
    return st.one_of(
        mutated(encoded(text)),
        json_values().map(lambda v: json.dumps(v).encode()),
        nested("[", "]").map(str.encode), nested('{"a":').map(str.encode),
        huge(st.sampled_from(['{"a": 1, ', "[1, ", '"x'])).map(str.encode),
        st.sampled_from([b"", b"null", b"{", b'{"a": NaN}', b"\xef\xbb\xbf{}", b"1e999999",
                         b'{"a": 1, "a": 2}', b'"\\ud800"', b'{"currentContext": "\\ud800"}',
                         b'{"message": "\\u001b[2J\\n"}', b'{"url": "\\udcff"}']),
    )


URLS = ("https://example.invalid/x.whl", "file:///src/pkg", "file:///../../etc", "",
        "git+https://github.invalid/a/b", "https://user:secret@host.invalid/p", "/abs/path",
        "relative/path", "https://conda.example.invalid/t/TOKEN/conda-forge/linux-64/x.conda",
        "ssh://git@host.invalid/x", "https://h.invalid/%00", "http://[::1", "x" * 4000)


def direct_url() -> SearchStrategy[bytes]:
    vcs = st.fixed_dictionaries({}, optional={
        "vcs": st.sampled_from(["git", "hg", "svn", "", "x" * 300]),
        "commit_id": st.sampled_from(["a" * 40, "", "HEAD"]),
        "requested_revision": _WORDS})
    return json_document({
        "url": st.sampled_from(URLS) | _WORDS, "vcs_info": vcs,
        "dir_info": st.fixed_dictionaries({}, optional={"editable": st.booleans()}),
        "archive_info": st.fixed_dictionaries({}, optional={"hash": _ASCII}),
        "subdirectory": st.sampled_from(["sub", "", "../..", "/abs"]),
    })


PATHS = (f"{SITE}/pkg-1.0.dist-info/METADATA", "../../../victim", "/etc/passwd", "./",
         "lib", f"{SITE}/x.egg-info", "bin\\python.exe", "", "a" * 5000,
         f"{SITE}/../../../../x.dist-info/RECORD", "lib/python3.11/site-packages/~pkg",
         "\x00", "ünï/cödé")


def conda_record() -> SearchStrategy[bytes]:
    strings = st.lists(st.sampled_from(PATHS) | _WORDS, max_size=6)
    return json_document({
        "name": ugly(NAMES), "version": ugly(VERSIONS), "build": ugly(("py_0", "h0_0", "")),
        "build_number": st.integers(), "channel": ugly((*URLS, "conda-forge", "pkgs/main")),
        "schannel": ugly(("conda-forge", "")), "url": ugly(URLS),
        "depends": st.lists(ugly(("python >=3.8", "numpy 1.26.*", "x", "")), max_size=5),
        "files": strings,
        "paths_data": st.fixed_dictionaries({"paths": st.lists(st.fixed_dictionaries(
            {"_path": st.sampled_from(PATHS)}), max_size=4)}),
        "requested_spec": ugly(("pkg", "pkg >=1", "")),
        "requested_specs": st.lists(ugly(("pkg", "")), max_size=3),
        "md5": ugly(("0" * 32, "zz")), "sha256": ugly(("0" * 64,)),
        "subdir": ugly(("linux-64", "noarch", "")), "fn": ugly(("pkg-1.0-py_0.conda",)),
    })


def journal() -> SearchStrategy[bytes]:
    action = st.fixed_dictionaries({}, optional={
        "name": ugly(NAMES), "kind": st.sampled_from(["install", "upgrade", "remove", "x"]),
        "from": ugly(VERSIONS), "to": ugly(VERSIONS)})
    return json_document({
        "state": st.sampled_from(["applying", "committed", "", "APPLYING"]),
        "pid": st.integers(), "started": _WORDS, "actions": st.lists(action, max_size=3),
        "snapshot": st.sampled_from([".envtui/snapshot", "../../x", ""]),
        "skipped": st.lists(_WORDS, max_size=3), "installer": st.sampled_from(["uv", "pip"]),
        "child": st.integers(), "finished": _WORDS,
    })


def small_json(fields: Sequence[str]) -> SearchStrategy[bytes]:
    return json_document({f: ugly(URLS + NAMES) for f in fields})


def docker_context() -> SearchStrategy[bytes]:
    endpoint = st.fixed_dictionaries({}, optional={
        "Host": ugly(("tcp://x:2376", "unix:///var/run/docker.sock", "")),
        "SkipTLSVerify": st.booleans()})
    return json_document({"Name": ugly(("fuzz",)), "Metadata": json_values(),
                          "Endpoints": st.fixed_dictionaries({}, optional={
                              "docker": endpoint | json_values()})})


def cache_entry() -> SearchStrategy[bytes]:
    return json_document({"key": st.sampled_from(["venv:/some/env", "other"]),
                          "value": json_values()})


# ---- RECORD


def record_rows() -> SearchStrategy[bytes]:
    path = ugly((*PATHS, "pkg/__init__.py", "../../bin/tool", "pkg-1.0.dist-info/RECORD"))
    digest = ugly(("sha256=" + "A" * 43, "sha256=", "md5=x", "=", "sha256=" + "a" * 200_000))
    size = ugly(("12", "", "-1", "9" * 30, "x"))
    field = st.tuples(path, digest, size, st.sampled_from(["", '"', "'"]))

    def row(t: tuple[str, str, str, str]) -> str:
        p, d, s, q = t
        return f"{q}{p}{q},{d},{s}"

    lines = st.lists(field.map(row) | _WORDS | st.sampled_from(
        ['"unterminated,,', '"a""b",,', ",,", "a,b,c,d,e", '"x\ny",,', '"' + "a" * 200_000]),
        max_size=8)
    eol = st.sampled_from(["\n", "\r\n", "\r"])
    return mutated(encoded(st.tuples(lines, eol).map(lambda t: t[1].join(t[0]))))


# ---- key = value files


def key_value_lines(keys: Sequence[str], values: Sequence[str],
                    seps: Sequence[str] = ("=", " = ", "==", ":", "", " =")
                    ) -> SearchStrategy[bytes]:
    line = st.tuples(ugly(keys), st.sampled_from(seps), ugly(values)).map("".join)
    return mutated(encoded(st.lists(line | _WORDS, max_size=10).map("\n".join)))


def pyvenv_cfg() -> SearchStrategy[bytes]:
    return key_value_lines(
        ("home", "version", "version_info", "include-system-site-packages", "uv",
         "virtualenv", "prompt", "implementation", "executable", "command", "HOME"),
        ("/usr/bin", "", "/nonexistent", "relative", "/us\x00r", "~", "3.11.7",
         "3.11.7.final.0", "3", "a.b.c", "true", "False", "/", "/dev/zero", "\\\\server\\x"))


def conda_history() -> SearchStrategy[bytes]:
    specs = st.lists(ugly(("numpy>=1.2", "python=3.11", "conda-forge::pkg", "", "1bad",
                           "::", "pkg[version='>=1']")), max_size=4)
    spec_value = st.one_of(
        specs.map(repr), specs.map(",".join), specs.map(json.dumps),
        st.sampled_from(["['a', ", "[1, 2]", "{'a': 1}", "['a' 'b']", "[__import__('os')]",
                         "b'x'", "[" * 150 + "]" * 150, "['\\N{BOGUS}']", "()", "[...]"]),
        nested("[", "]", 5000), huge(st.just("'a', ")).map(lambda s: f"[{s}]"))
    line = st.one_of(
        st.tuples(st.just("==> "), ugly(("2024-01-02 03:04:05", "0001-01-01 00:00:00",
                                          "9999-12-31 23:59:59", "2024-02-30 25:61:61")),
                  st.just(" <==")).map("".join),
        st.tuples(st.just("# cmd: "), ugly(("/opt/conda/bin/conda install x",
                                            "micromamba create", "mamba"))).map("".join),
        st.tuples(st.just("# "), st.sampled_from(["update", "install", "create", "remove",
                                                  "neutered", "uninstall", "weird"]),
                  st.just(" specs: "), spec_value).map("".join),
        ugly(("+conda-forge/linux-64::numpy-1.26.4-py311h0_0", "-defaults::x-1-0",
              "# conda version: 23.1.0", "#", "")),
    )
    return mutated(encoded(st.lists(line, max_size=10).map("\n".join)))


def environments_txt() -> SearchStrategy[bytes]:
    line = ugly(("/opt/conda/envs/x", "", "relative/env", "/", "/dev/null", "~/x",
                 "/proc/self/root", "C:\\envs\\x", "/tmp/../../etc", "\x00"))
    return mutated(encoded(st.lists(line, max_size=8).map("\n".join)))


def ini_file() -> SearchStrategy[bytes]:
    section = st.sampled_from(["[global]", "[install]", "[GLOBAL]", "[global", "[]",
                               "[global]\n[global]", "", "[freeze]"])
    entry = st.tuples(ugly(("index-url", "index_url", "--index-url", "extra-index-url",
                            "find-links", "no-index", "trusted-host", "x")),
                      st.sampled_from([" = ", "=", ": ", " ", ""]),
                      ugly(("https://pypi.invalid/simple", "true", "false", "maybe", "",
                            "%(x)s", "/local/dir", "1", "yes"))).map("".join)
    continuation = _WORDS.map(lambda w: "  " + w)
    lines = st.lists(section | entry | continuation, max_size=10).map("\n".join)
    return mutated(encoded(lines))


# ---- YAML (environment.yml, .condarc, conda-lock.yml)

YAML_TAGS = ("!!python/object/apply:os.system", "!!python/object:os.system",
             "!!python/name:os.system", "!!python/module:os", "!custom", "!!binary",
             "!!timestamp", "!!int", "!!float", "!!set", "!!omap", "!!pairs", "!!str", "!!map",
             "!<tag:yaml.org,2002:python/object/new:os.system>", "!", "!!merge", "!!bool")
CONDA_SPECS = ("python=3.11", "numpy>=1.26,<2", "conda-forge::pkg", "pkg 1.0 py_0",
               "numpy[version='>=1']", "=1.0", "numpy=1.26=py311_0", "x|y", "pkg >=1|<0.5",
               "1bad", "name==1.0", "pip", "numpy 1.26.*", "a[b", "::", "pkg ==1.0 *_0 extra")
PIP_LINES = ("requests==2.31", "-e git+https://github.invalid/a/b#egg=b", "--index-url http://x",
             "-r https://example.invalid/r.txt", "./local/pkg", "-r other.txt", "--trusted-host x",
             "pkg @ file:///tmp/x.whl", "${HOME}", "--extra-index-url=https://e.invalid")


def yaml_scalar() -> SearchStrategy[str]:
    plain = ugly(CONDA_SPECS + PIP_LINES + NAMES)
    double = st.tuples(_WORDS, st.sampled_from(["\\x00", "\\ud800", "\\U0010ffff", "\\e", "\\N",
                                                "\\", "\\z", "\n", ""])).map(
        lambda t: '"' + t[0].replace('"', "") + t[1] + '"')
    single = _WORDS.map(lambda w: "'" + w.replace("'", "''") + "'")
    tagged = st.tuples(st.sampled_from(YAML_TAGS), plain | double).map(" ".join)
    alias = st.integers(0, 3).map(lambda n: f"*a{n}")
    return st.one_of(plain, double, single, tagged, alias,
                     st.sampled_from(["~", "null", "yes", "0x1F", ".nan", "2021-02-30", "<<",
                                      "- x", "[", "{", "&a0", "*", "|", ">", "%YAML 9.9"]))


def yaml_flow() -> SearchStrategy[str]:
    def grow(inner: SearchStrategy[str]) -> SearchStrategy[str]:
        seq = st.lists(inner, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]")
        pairs = st.lists(st.tuples(inner, inner), max_size=3).map(
            lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}")
        anchored = st.tuples(st.integers(0, 3), inner).map(lambda t: f"&a{t[0]} {t[1]}")
        tagged = st.tuples(st.sampled_from(YAML_TAGS), seq | pairs).map(" ".join)
        return seq | pairs | anchored | tagged
    return st.recursive(yaml_scalar(), grow, max_leaves=10)


def alias_bomb(levels: int, width: int) -> str:
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + f"\ndependencies: *a{levels - 1}\n"


YAML_TRAPS = st.one_of(
    st.tuples(st.integers(2, 10), st.integers(2, 10)).map(lambda t: alias_bomb(*t)),
    nested("[", "]").map(lambda s: f"dependencies: {s}\n"),
    nested("[").map(lambda s: f"dependencies: {s}\n"),
    nested("{a: ", "}").map(lambda s: f"dependencies: [{s}]\n"),
    nested("- ", top=20_000).map(lambda s: f"dependencies:\n{s}x\n"),
    st.integers(50, 3000).map(lambda n: "dependencies:\n" + "".join(
        " " * i + "- \n" for i in range(n))),
    huge(st.sampled_from(["numpy ", "\\u0000", "a"])).map(lambda s: f'dependencies: ["{s}"]\n'),
    huge(st.just("  - numpy\n"), 600_000).map(lambda s: f"dependencies:\n{s}"),
    st.sampled_from([
        "dependencies: &x [*x]\n", "dependencies: !!python/object/apply:os.system ['touch x']\n",
        "a: 1\n---\ndependencies: [x]\n", "dependencies: [x]\ndependencies: [y]\n",
        "<<: *a\n", "dependencies:\n  - !!binary '@@@'\n", "\t dependencies: [x]\n",
        "dependencies: [x]\n...\n---\n", "%TAG ! tag:yaml.org,2002:python/\n---\n!object x\n",
        "dependencies: [!!python/name:os.system]\n", "? [a, b]\n: c\ndependencies: [x]\n",
        "dependencies:\n  - {pip: [a], conda: [b]}\n", "dependencies:\n  - pip:\n    - 1\n",
        "dependencies:\n  - pip: ~\n", "dependencies: [[a]]\n", "\x07dependencies: [x]\n",
    ]),
)


def environment_yml() -> SearchStrategy[bytes]:
    item = st.one_of(
        ugly(CONDA_SPECS).map(lambda s: json.dumps(s, ensure_ascii=False)),
        yaml_scalar(), yaml_flow(),
        st.lists(ugly(PIP_LINES + REQUIREMENTS).map(json.dumps), max_size=5).map(
            lambda xs: "pip:\n" + "".join(f"      - {x}\n" for x in xs).rstrip("\n")),
    )
    doc = st.tuples(
        yaml_scalar(), yaml_flow(), st.lists(item, max_size=6),
        st.sampled_from(["", "prefix: /tmp/x\n", "variables: {A: 1}\n", "extra: &a1 [x]\n",
                         "<<: {name: merged}\n", "name: again\n"]),
    ).map(lambda t: (f"name: {t[0]}\nchannels: {t[1]}\ndependencies:\n"
                     + "".join(f"  - {x}\n" for x in t[2]) + t[3]))
    return mutated(encoded(doc | YAML_TRAPS | yaml_flow()))


def condarc() -> SearchStrategy[bytes]:
    value = yaml_flow() | ugly(("~/extra-envs", "$HOME/extra-envs", "${HOME}/x", "relative",
                                "/dev/null", "\x00"))
    doc = st.tuples(st.sampled_from(["envs_dirs", "envs_path", "channels", "pkgs_dirs"]),
                    value).map(lambda t: f"{t[0]}: {t[1]}\n")
    traps = YAML_TRAPS.map(lambda s: s.replace("dependencies", "envs_dirs"))
    return mutated(encoded(st.lists(doc, max_size=4).map("".join) | traps))


def conda_lock() -> SearchStrategy[bytes]:
    platforms = ugly(("linux-64", "osx-arm64", "noarch", "win-64", ""))
    package = st.fixed_dictionaries({}, optional={
        "name": ugly(NAMES), "version": ugly(VERSIONS),
        "manager": ugly(("conda", "pip", "npm")), "platform": platforms,
        "dependencies": st.dictionaries(ugly(NAMES), ugly((*SPECIFIERS, "")), max_size=3),
        "url": ugly((*URLS, "https://conda.invalid/conda-forge/linux-64/pkg-1.0-py_0.conda")),
        "hash": st.fixed_dictionaries({}, optional={"md5": ugly(("0" * 32, "zz")),
                                                    "sha256": ugly(("0" * 64,))}),
        "category": ugly(("main", "dev")), "categories": st.lists(ugly(("main", "dev"))),
        "optional": st.booleans(), "build": ugly(("py_0", "")),
    })
    metadata = st.fixed_dictionaries({}, optional={
        "content_hash": st.dictionaries(platforms, _ASCII, max_size=2),
        "channels": st.lists(st.fixed_dictionaries({"url": ugly(("conda-forge", *URLS))},
                                                   optional={"used_env_vars": st.lists(_WORDS)})),
        "platforms": st.lists(platforms, max_size=3), "sources": st.lists(_WORDS, max_size=2),
    })
    doc = st.fixed_dictionaries({}, optional={
        "version": st.sampled_from([1, 2, 3, "1", True, None, 1.0]),
        "metadata": metadata | json_values(), "package": st.lists(package | json_values(),
                                                                  max_size=4)})
    text = st.tuples(doc, st.sampled_from(["", "extra: &a0 [x]\n", "more: *a0\n"])).map(
        lambda t: yaml.safe_dump(t[0], sort_keys=False, allow_unicode=True) + t[1])
    # Keeps the format detection on conda-lock (two of `package:`/`metadata:` at line start).
    traps = YAML_TRAPS.map(lambda s: "metadata: {}\n" + s.replace("dependencies", "package"))
    return mutated(encoded(text | traps))


# ---- TOML (pylock.toml, pyproject.toml, Pipfile, config.toml)


def toml_values() -> SearchStrategy[Any]:
    base = (st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False)
            | _WORDS)
    return st.recursive(base, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(_ASCII, inner, max_size=3), max_leaves=8)


def _toml_text(doc: Mapping[str, Any]) -> str:
    try:
        return tomlkit.dumps(doc)
    except Exception:  # tomlkit cannot write some values; the input is junk then
        return json.dumps(doc, default=str)


TOML_TRAPS = st.one_of(
    nested("[").map(lambda s: f"a = {s}\n"), nested("[", "]").map(lambda s: f"a = {s}\n"),
    nested("{b = ", "}").map(lambda s: f"a = {s}\n"),
    st.integers(50, 50_000).map(lambda n: "[" + ".".join(["t"] * n) + "]\n"),
    st.integers(50, 50_000).map(lambda n: ".".join(["k"] * n) + " = 1\n"),
    huge(st.just("x")).map(lambda s: f'a = "{s}"\n'), huge(st.just("a = 1\n"), 400_000),
    st.sampled_from(['a = """', "a = 1\na = 2\n", "[a]\n[a]\n", "a = 1979-05-27T07:32:00Z",
                     "a = nan", "a = 0x", "[[packages]]\n[packages]\n", "a = '\x00'",
                     "a = 99999999999999999999999", "= 1"]),
)


def toml_document(doc: SearchStrategy[dict[str, Any]]) -> SearchStrategy[bytes]:
    return mutated(encoded(doc.map(_toml_text) | TOML_TRAPS)) | st.binary(max_size=512)


WHEELS = ("pkg-1.0-py3-none-any.whl", "bad.whl", "pkg-1.0.tar.gz", "pkg-1.0-cp311-cp311-"
          "manylinux_2_17_x86_64.whl", "../../pkg-1.0-py3-none-any.whl", "", "x.zip",
          "pkg-1.0-1bad-py3-none-any.whl")
MARKERS = ('sys_platform == "linux"', "extra == 'x'", "'x' in extras",
           "'dev' in dependency_groups", 'python_version >= "3.8" and', "extras == 'x'",
           'os_name == "nt"', "dependency_groups == 'dev'", "'a' not in extras",
           "(" * 700 + "os_name=='x'" + ")" * 700, 'python_full_version ~= "3"')


def pylock() -> SearchStrategy[bytes]:
    hashes = st.dictionaries(ugly(("sha256", "md5", "blake2b")), ugly(("0" * 64, "zz")),
                             max_size=2)
    artifact = st.fixed_dictionaries({}, optional={
        "name": ugly(WHEELS), "url": ugly(URLS + tuple("https://h.invalid/" + w for w in WHEELS)),
        "path": ugly(PATHS + WHEELS), "hashes": hashes | toml_values(), "size": st.integers(),
        "upload-time": ugly(("2024-01-01T00:00:00Z",))})
    package = st.fixed_dictionaries({"name": ugly(NAMES)}, optional={
        "version": ugly(VERSIONS), "marker": ugly(MARKERS), "requires-python": ugly(SPECIFIERS),
        "index": ugly(URLS), "wheels": st.lists(artifact, max_size=3), "sdist": artifact,
        "archive": artifact, "directory": st.fixed_dictionaries({}, optional={
            "path": ugly(PATHS), "editable": st.booleans(), "subdirectory": _WORDS}),
        "vcs": st.fixed_dictionaries({}, optional={
            "type": ugly(("git", "hg", "x")), "url": ugly(URLS), "path": ugly(PATHS),
            "commit-id": ugly(("a" * 40, "")), "requested-revision": _WORDS,
            "subdirectory": _WORDS}),
        "dependencies": st.lists(st.dictionaries(_ASCII, _WORDS, max_size=2), max_size=2),
        "tool": toml_values()})
    doc = st.fixed_dictionaries({}, optional={
        "lock-version": ugly(("1.0", "2.0", "0.9", "1")) | st.integers(),
        "created-by": ugly(("envtui",)), "requires-python": ugly(SPECIFIERS),
        "environments": st.lists(ugly(MARKERS), max_size=2),
        "extras": st.lists(ugly(NAMES), max_size=2),
        "dependency-groups": st.lists(ugly(NAMES), max_size=2),
        "default-groups": st.lists(ugly(NAMES), max_size=2),
        "packages": st.lists(package | toml_values(), max_size=4)})
    return toml_document(doc)


def _group_graph(draw_edges: list[list[int]], n: int, shape: str) -> dict[str, Any]:
    """`[dependency-groups]` with `n` groups whose include-group edges form `shape`."""
    groups: dict[str, Any] = {}
    for i in range(n):
        if shape == "chain":
            targets = [i + 1] if i + 1 < n else []
        elif shape == "ladder":  # each includes the next two: exponential without a memo
            targets = [j for j in (i + 1, i + 2) if j < n]
        else:
            targets = draw_edges[i % len(draw_edges)] if draw_edges else []
        groups[f"g{i}"] = [f"dep{i}>=1"] + [{"include-group": f"g{j % (n + 1)}"}
                                           for j in targets]
    return groups


def pyproject() -> SearchStrategy[bytes]:
    reqs = st.lists(ugly(REQUIREMENTS) | toml_values(), max_size=4)
    project = st.fixed_dictionaries({}, optional={
        "name": ugly(NAMES), "version": ugly(VERSIONS), "requires-python": ugly(SPECIFIERS),
        "dependencies": reqs, "optional-dependencies": st.dictionaries(ugly(NAMES), reqs,
                                                                       max_size=3)})
    groups = st.one_of(
        st.tuples(st.lists(st.lists(st.integers(0, 40), max_size=3), max_size=8),
                  st.integers(1, 40), st.just("random")),
        st.tuples(st.just([]), st.integers(2, 3000), st.just("chain")),
        st.tuples(st.just([]), st.integers(2, 60), st.just("ladder")),
    ).map(lambda t: _group_graph(*t))
    conflicts = st.lists(st.lists(st.fixed_dictionaries({}, optional={
        "extra": ugly(NAMES), "group": ugly(NAMES), "package": ugly(NAMES)}), max_size=3),
        max_size=3)
    doc = st.fixed_dictionaries({}, optional={
        "project": project | toml_values(), "dependency-groups": groups | toml_values(),
        "tool": st.fixed_dictionaries({"uv": st.fixed_dictionaries({"conflicts": conflicts})})})
    return toml_document(doc)


def pipfile() -> SearchStrategy[bytes]:
    value = st.one_of(
        ugly(("*", "==1.0", ">=1", "1.0", "", "~=1", "==1.*; os_name == 'nt'")), st.integers(),
        st.fixed_dictionaries({}, optional={
            "version": ugly(("*", "==1.0", ">=1")) | st.integers(), "markers": ugly(MARKERS),
            "os_name": ugly(("== 'nt'", "nt")), "sys_platform": ugly(("!= 'win32'",)),
            "index": _WORDS, "git": ugly(URLS), "editable": st.booleans()}), toml_values())
    table = st.dictionaries(ugly(NAMES), value, max_size=4)
    doc = st.fixed_dictionaries({}, optional={
        "packages": table | toml_values(), "dev-packages": table,
        "requires": st.fixed_dictionaries({}, optional={
            "python_version": ugly(("3.11", "3", "x")),
            "python_full_version": ugly(("3.11.7", "3.11.*"))}),
        "source": st.lists(st.fixed_dictionaries({"url": ugly(URLS)}), max_size=2)})
    return toml_document(doc)


def config_toml() -> SearchStrategy[bytes]:
    paths = st.lists(ugly(("~/code", "/data/envs", "~", "", "relative", "~user/x")), max_size=3)
    doc = st.fixed_dictionaries({}, optional={
        "roots": paths | toml_values(), "exclude": paths | toml_values(),
        "walk_home": st.booleans() | toml_values(),
        "max_depth": st.integers(-5, 100) | toml_values(),
        "stale_days": st.integers(-5, 10**6) | toml_values(), "unknown": toml_values()})
    return toml_document(doc)


# ---- requirements files

REQUIREMENT_LINES = REQUIREMENTS + PIP_LINES + (
    "-i https://pypi.invalid/simple", "--index-url=http://plain.invalid", "-f ./wheels",
    "--find-links https://links.invalid", "--no-index", "--pre", "--trusted", "-e", "-e .",
    "-e ./local[extra]", "-r self.txt", "-r nested/deeper.txt", "-c constraints.txt",
    "-r fifo", "-r zero", "-r loop", "-r /dev/zero", "-r /proc/self/fd/0", "-r no-such.txt",
    "-r latin1.txt", "--requirement=file:///dev/zero", "-r ../../../../../../etc/hostname",
    "-r 'unterminated", "numpy==1.26 --hash=sha256:" + "a" * 64, "numpy --hash sha256:zz",
    "--hash=sha256:00", "numpy --global-option=--x", "--use-feature=truststore", "--unknown-opt",
    "-Z", "--", "-", "https://h.invalid/pkg-1.0-py3-none-any.whl", "./pkg-1.0.tar.gz",
    "pkg @ ./x.whl", "https://h.invalid/x#egg=ünï", "git+https://h.invalid/x#egg=x[y]",
    "file:x; os_name ==", "C:\\path\\x.whl", "~/x", "pkg\\", "# comment \\", "pkg #c",
    "ᴘᴋɢ==1", "--config-settings key=val pkg", "-C", "${A}${B}==1", "x @ http://[::1/x.whl",
    "-i http://[::1", "-e git+http://[::1/x#egg=x",
)


def requirements() -> SearchStrategy[bytes]:
    line = st.one_of(ugly(REQUIREMENT_LINES),
                     st.tuples(ugly(REQUIREMENT_LINES), st.sampled_from(
                         [" \\", "\\", " # note", " ;", "\t", " --hash=sha256:" + "b" * 64]),
                     ).map("".join))
    eol = st.sampled_from(["\n", "\r\n", "\r", "\u2028", "\x0c", "\x1c"])
    text = st.tuples(st.lists(line, max_size=10), eol).map(lambda t: t[1].join(t[0]))
    traps = st.one_of(huge(st.just("pkg\\\n")), huge(st.just("a")).map(lambda s: s + "==1"),
                      huge(st.just("-r self.txt\n"), 200_000), huge(st.just("'")))
    return mutated(encoded(text | traps))


# ---- Docker image archives

LAYER_NAMES = ("usr/lib/python3.11/site-packages/", "usr/local/lib/python3.11/site-packages/",
               "usr/lib/python3/dist-packages/", "")


def _tar(members: Sequence[tuple[str, str, bytes]], gz: bool = False) -> bytes:
    """A tar of (name, kind, data): kind is file, dir, sym, link, chr or fifo."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz" if gz else "w", format=tarfile.GNU_FORMAT) as tf:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            info.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE,
                         "link": tarfile.LNKTYPE, "chr": tarfile.CHRTYPE,
                         "fifo": tarfile.FIFOTYPE}[kind]
            if kind in ("sym", "link"):
                info.linkname = data.decode("utf-8", "replace")
            content = data if kind == "file" else b""
            info.size = len(content)
            info.mode = 0o4755 if content[:1] == b"#" else 0o644  # setuid on some members
            tf.addfile(info, io.BytesIO(content) if kind == "file" else None)
    return out.getvalue()


def image_archive() -> SearchStrategy[bytes]:
    site = st.sampled_from(LAYER_NAMES)
    entry = st.sampled_from(["pkg-1.0.dist-info/METADATA", "pkg-1.0.dist-info/RECORD",
                             "pkg-1.0.dist-info/INSTALLER", "pkg-1.0.dist-info/direct_url.json",
                             "pkg-1.0.dist-info", "legacy.egg-info", "legacy.egg-info/PKG-INFO",
                             "legacy.egg-info/requires.txt", "evil.pth", "~pkg-1.0.dist-info",
                             ".wh.pkg-1.0.dist-info", ".wh..wh..opq", "../../../etc/passwd",
                             "/abs/site-packages/x.pth", "../python3.11/os.py", "", "." * 300])
    inner = st.tuples(st.tuples(site, entry).map("".join),
                      st.sampled_from(["file", "file", "dir", "sym", "link", "chr", "fifo"]),
                      core_metadata().map(lambda b: b[:4096])
                      | st.sampled_from([b"import os\n", b"usr/lib/python3.11/site-packages/"
                                         b"pkg-1.0.dist-info/METADATA", b"/etc/passwd", b""]))
    layer = st.tuples(st.lists(inner, max_size=6), st.booleans()).map(lambda t: _tar(*t))
    layer = layer | st.sampled_from([b"\x28\xb5\x2f\xfd junk", b"\x1f\x8b junk", b"junk"])
    manifest = st.one_of(
        st.lists(st.sampled_from(["l1/layer.tar", "l2/layer.tar", "../x", "missing/layer.tar",
                                  "blobs/sha256/l1"]), max_size=4).map(
            lambda ls: json.dumps([{"Config": "a" * 64 + ".json", "RepoTags": ["x:1"],
                                    "Layers": ls}]).encode()),
        json_document({"manifests": json_values(), "Layers": json_values()}))
    index = st.sampled_from([
        b'{"manifests": [{"digest": "sha256:m"}]}', b'{"manifests": [{"digest": 5}]}',
        b'{"manifests": "x"}', b'{"manifests": [{"digest": "sha256:i"}]}'])
    blob_m = st.sampled_from([b'{"layers": [{"digest": "sha256:l1"}, {"digest": "sha256:l2"}]}',
                              b'{"layers": [1, "x"]}', b'{"manifests": [{"digest": "sha256:m"}]}'])
    members = st.tuples(manifest, index, blob_m, layer, layer).map(lambda t: [
        ("manifest.json", "file", t[0]), ("index.json", "file", t[1]),
        ("blobs/sha256/m", "file", t[2]), ("blobs/sha256/i", "file", t[1]),
        ("l1/layer.tar", "file", t[3]), ("blobs/sha256/l1", "file", t[3]),
        ("l2/layer.tar", "file", t[4]), ("l3/layer.tar", "sym", b"../l2/layer.tar"),
        ("blobs/sha256/l2", "link", b"l2/layer.tar")])
    subset = st.tuples(members, st.lists(st.integers(0, 8), max_size=4)).map(
        lambda t: _tar([m for i, m in enumerate(t[0]) if i not in t[1]]))
    return mutated(subset) | st.binary(max_size=2048)


def sha256_sidecar() -> SearchStrategy[bytes]:
    line = st.one_of(
        st.tuples(st.sampled_from(["", "\\"]), ugly(("a" * 64, "A" * 64, "0" * 63, "g" * 64)),
                  st.sampled_from([" ", "  ", " *", "\t"]),
                  ugly(("image.tar", "other.tar", "image\\ntar", "image.tar\\", ""))).map(
            "".join),
        _WORDS)
    return mutated(encoded(st.lists(line, max_size=6).map("\n".join) | huge(st.just("a"))))


_SEED_LAYER = _tar([
    ("usr/lib/python3.11/site-packages/pkg-1.0.dist-info", "dir", b""),
    ("usr/lib/python3.11/site-packages/pkg-1.0.dist-info/METADATA", "file",
     b"Name: pkg\nVersion: 1.0\nRequires-Dist: dep\n\n"),
    ("usr/lib/python3.11/site-packages/pkg-1.0.dist-info/RECORD", "file", b""),
    ("usr/lib/python3.11/os.py", "file", b""),
])
_SEED_LOCK = {
    "version": 1,
    "metadata": {"content_hash": {"linux-64": "0" * 64},
                 "channels": [{"url": "conda-forge", "used_env_vars": []}],
                 "platforms": ["linux-64"], "sources": ["environment.yml"]},
    "package": [{
        "name": "python", "version": "3.11.7", "manager": "conda", "platform": "linux-64",
        "dependencies": {"libzlib": ">=1.2"},
        "url": "https://conda.example.invalid/conda-forge/linux-64/python-3.11.7-h0_0.conda",
        "hash": {"md5": "0" * 32, "sha256": "0" * 64}, "category": "main",
        "optional": False}],
}
SEEDS: dict[str, bytes] = {
    "metadata": _VENV_DEFAULTS[f"{DIST}/METADATA"],
    "installer": b"pip\n",
    "direct_url": json.dumps({"url": "https://github.invalid/a/b",
                              "vcs_info": {"vcs": "git", "commit_id": "a" * 40}}).encode(),
    "pkg_info": b"Metadata-Version: 1.1\nName: legacy\nVersion: 2.0\n\n",
    "egg_requires": b"dep>=1\n[extra]\nx\n[:python_version < '4']\ny\n",
    "pth": b"import os\n",
    "pyvenv_cfg": _VENV_DEFAULTS["pyvenv.cfg"],
    "journal": json.dumps({"state": "committed", "pid": 1, "started": "2024-01-01T00:00:00",
                           "actions": [], "snapshot": ".envtui/snapshot"}).encode(),
    "record": _VENV_DEFAULTS[f"{DIST}/RECORD"],
    "conda_record": _CONDA_DEFAULTS[_RECORD_FILE],
    "conda_history": _CONDA_DEFAULTS["conda-meta/history"],
    "pixi": b'{"manifest_path": "/project/pixi.toml", "environment_name": "default"}',
    "frozen": b'{"message": "managed by the IT department"}',
    "condarc": b"envs_dirs:\n  - ~/extra-envs\n",
    "environments_txt": b"/opt/conda/envs/x\n",
    "environment_yml": b"name: x\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n"
                       b"  - numpy>=1.26\n  - pip:\n    - requests==2.31\n",
    "requirements": b"numpy==1.26\n-r other.txt\n-c constraints.txt\n",
    "conda_lock": yaml.safe_dump(_SEED_LOCK, sort_keys=False).encode(),
    "pylock": b'lock-version = "1.0"\ncreated-by = "x"\n[[packages]]\nname = "a"\n'
              b'version = "1.0"\n[[packages.wheels]]\nname = "a-1.0-py3-none-any.whl"\n'
              b'url = "https://h.invalid/a-1.0-py3-none-any.whl"\n'
              b'hashes = {sha256 = "' + b"0" * 64 + b'"}\n',
    "pyproject": b'[project]\nname = "p"\nrequires-python = ">=3.8"\n'
                 b'dependencies = ["numpy>=1.26"]\n[dependency-groups]\n'
                 b'dev = ["pytest", {include-group = "lint"}]\nlint = ["ruff"]\n',
    "pipfile": b'[packages]\nnumpy = "==1.26"\nrequests = {version = ">=2", markers = '
               b'"os_name == \'posix\'"}\n[requires]\npython_version = "3.11"\n',
    "config_toml": b'roots = ["~/code"]\nmax_depth = 4\n',
    "pip_conf": b"[global]\nindex-url = https://pypi.invalid/simple\n",
    "docker_config": b'{"currentContext": "fuzz"}',
    "docker_context": b'{"Endpoints": {"docker": {"Host": "tcp://x:1"}}}',
    "cache_entry": b'{"key": "venv:/some/env", "value": {"fingerprint": "x"}}',
    "image_archive": _tar([
        ("manifest.json", "file", json.dumps([{"Config": "a" * 64 + ".json",
                                               "Layers": ["l1/layer.tar"]}]).encode()),
        ("l1/layer.tar", "file", _SEED_LAYER)]),
    "image_sidecar": hashlib.sha256(b"not really a tar").hexdigest().encode()
                     + b"  image.tar\n",
}
"""A valid input per target: read once before fuzzing, and proof the harness gets deep."""

STRATEGIES: dict[str, SearchStrategy[bytes]] = {
    "metadata": core_metadata(),
    "installer": mutated(encoded(ugly(("pip", "uv", "conda", "", "pip\r\n")))),
    "direct_url": direct_url(),
    "pkg_info": core_metadata(),
    "egg_requires": mutated(encoded(st.lists(ugly((
        *REQUIREMENTS, "[extra]", "[:python_version < '3']", "[x:os_name == 'nt' or", "[", "]",
        "#", "[a:b:c]")), max_size=8).map("\n".join))),
    "pth": mutated(encoded(st.lists(ugly(("import os", "import\tsys", "/abs/path", "./rel",
                                          "#", "importx")), max_size=5).map("\n".join))),
    "pyvenv_cfg": pyvenv_cfg(),
    "journal": journal(),
    "record": record_rows(),
    "conda_record": conda_record(),
    "conda_history": conda_history(),
    "pixi": small_json(["manifest_path", "environment_name"]),
    "frozen": small_json(["message"]),
    "condarc": condarc(),
    "environments_txt": environments_txt(),
    "environment_yml": environment_yml(),
    "requirements": requirements(),
    "conda_lock": conda_lock(),
    "pylock": pylock(),
    "pyproject": pyproject(),
    "pipfile": pipfile(),
    "config_toml": config_toml(),
    "pip_conf": ini_file(),
    "docker_config": small_json(["currentContext", "auths", "credsStore"]),
    "docker_context": docker_context(),
    "cache_entry": cache_entry(),
    "image_archive": image_archive(),
    "image_sidecar": sha256_sidecar(),
}


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("target", sorted(STRATEGIES))
def test_fuzz(target: str) -> None:
    """Hypothesis drives `target` with its structured strategy under the bounds above."""

    @FUZZ
    @given(data=STRATEGIES[target])
    def fuzz(data: bytes) -> None:
        run(target, data)

    fuzz()


@pytest.mark.parametrize("target", ["environment_yml", "requirements", "conda_lock", "pylock"])
def test_fuzz_seed_reaches_the_model(target: str, tmp_path: Path) -> None:
    """The valid starting points of the exchange strategies really parse, so the fuzzed
    variants get past the first check into the format's own model."""
    name = {"environment_yml": "environment.yml", "requirements": "requirements.txt",
            "conda_lock": "conda-lock.yml", "pylock": "pylock.toml"}[target]
    _include_targets(tmp_path)
    (tmp_path / name).write_bytes(SEEDS[target])
    fmt, spec = read_spec(tmp_path / name)
    assert spec.pins, fmt


def test_fuzz_seeds_are_read_within_bounds() -> None:
    """Every target reads its seed under the same bounds as the fuzzed inputs."""
    for target in sorted(HARNESSES):
        run(target, SEEDS[target])


def _regressions() -> list[Path]:
    return sorted(p for p in REGRESSIONS.iterdir() if "--" in p.name)


@pytest.mark.parametrize("path", _regressions(), ids=lambda p: p.name)
def test_fuzz_regression(path: Path) -> None:
    """Every input that once crashed or hung a parser is read again, under the same bounds."""
    run(path.name.split("--", 1)[0], path.read_bytes())


def test_fuzz_targets_and_regressions_agree() -> None:
    """Each harness has a strategy, and each regression file names a harness."""
    assert set(STRATEGIES) == set(HARNESSES) == set(SEEDS)
    files = _regressions()
    assert files, "tests/fuzz_regressions/ holds no regression input"
    for path in files:
        target = path.name.split("--", 1)[0]
        assert target in HARNESSES, path.name
        assert path.suffix == f".{EXTENSIONS[target]}", path.name
    assert (REGRESSIONS / "README").is_file()
