"""Running the installer for a fix: uv (pip as the fallback), never interactive, stoppable.

Children get stdin=/dev/null, non-interactive flags and their own process group, so a
cancel reaches the installer and everything it started, and nothing can wait for a key.
A cancel (or a timeout) sends SIGINT to the group, then SIGTERM, then SIGKILL, each after a
grace period and each announced as a warning first (RELIABILITY.md case 18).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import re
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from envtui.resolver.actions import Action, ActionKind
from envtui.resolver.sources import IndexOptions

Progress = Callable[[str], object]

GRACE = 10.0
"""Seconds a child gets to stop after each signal before the next, harsher one."""
TAIL = 40
"""Output lines kept for an error report."""
POLL = 0.1

# uv settings that only say how to work, not what to install or from where. Everything else
# (UV_INDEX*, UV_FIND_LINKS, UV_CONSTRAINT, UV_OVERRIDE, UV_INSECURE_HOST, ...) could make uv
# install something other than the plan, from somewhere the preview did not show.
UV_KEPT = frozenset({
    "UV_CACHE_DIR", "UV_NO_CACHE", "UV_OFFLINE", "UV_NATIVE_TLS", "UV_HTTP_TIMEOUT",
    "UV_LINK_MODE", "UV_KEYRING_PROVIDER", "UV_CONCURRENT_DOWNLOADS",
    "UV_CONCURRENT_INSTALLS", "UV_CONCURRENT_BUILDS", "UV_REQUEST_TIMEOUT",
})


@dataclass(frozen=True)
class Installer:
    name: str
    """"uv" or "pip"."""
    argv0: tuple[str, ...]
    """How to start it: uv's binary, or the environment's python -m pip."""


def interpreter(prefix: Path) -> Path:
    return prefix / "bin" / "python"


def find_installer(prefix: Path) -> Installer:
    """uv, which envtui depends on; the environment's own pip only when uv is missing."""
    try:
        from uv import find_uv_bin

        return Installer("uv", (find_uv_bin(),))
    except (ImportError, FileNotFoundError):
        return Installer("pip", (str(interpreter(prefix)), "-m", "pip"))


def commands(installer: Installer, prefix: Path, actions: Sequence[Action],
             options: IndexOptions) -> list[list[str]]:
    """The installer runs for a plan: removals first, then every install in one run.

    --no-deps because the plan already is the whole resolution: the installer must not
    add, upgrade or remove anything the user did not see.
    """
    python = str(interpreter(prefix))
    removals = [a.name for a in actions if a.kind is ActionKind.REMOVE]
    specs = [f"{a.name}=={a.to_version}" for a in actions if a.kind is not ActionKind.REMOVE]
    out: list[list[str]] = []
    if installer.name == "uv":
        uv = installer.argv0[0]
        if removals:
            out.append([uv, "pip", "uninstall", "--no-config", "--python", python, *removals])
        if specs:
            offline = ["--offline"] if options.offline else []
            out.append([uv, "pip", "install", "--python", python, "--no-deps", "--no-config",
                        *options.installer_args(), *offline, *specs])
        return out
    # --isolated: pip ignores PIP_* variables and pip.conf, which could add indexes.
    pip = [*installer.argv0, "--isolated", "--disable-pip-version-check", "--no-input"]
    if removals:
        out.append([*pip, "uninstall", "--yes", *removals])
    if specs:
        args = options.installer_args()
        if options.offline:  # pip has no cache-only mode: keep only the local sources
            args = ["--no-index", *(x for i, x in enumerate(args)
                                    if (i and args[i - 1] == "--find-links")
                                    or x == "--find-links")]
        out.append([*pip, "install", "--no-deps", *args, *specs])
    return out


def child_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in (base if base is not None else os.environ).items()
           if not k.startswith("UV_") or k in UV_KEPT}
    env.update({"PIP_NO_INPUT": "1", "UV_NO_PROGRESS": "1", "NO_COLOR": "1"})
    return env


@dataclass(frozen=True)
class Outcome:
    returncode: int | None
    """The exit status; negative for a signal, None when it could not be started."""
    output: tuple[str, ...]
    """The last lines it printed (stdout and stderr together)."""
    cancelled: bool = False
    timed_out: bool = False
    error: str | None = None
    """Why it could not be started."""


def run(argv: Sequence[str], *, progress: Progress | None, cancel: threading.Event,
        deadline: float, grace: float = GRACE,
        started: Callable[[int], None] | None = None) -> Outcome:
    """Run one installer command to completion, cancellation or `deadline` (monotonic).

    Output lines go to `progress` from this thread as they come. `started(pid)` is told the
    child's pid (also its process group) once it runs. A KeyboardInterrupt (or any error)
    in here stops the child the same way as a cancel before it propagates.
    """
    say = progress or (lambda _line: None)
    tail: deque[str] = deque(maxlen=TAIL)
    try:
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, env=child_env(), start_new_session=True,
            text=True, encoding="utf-8", errors="replace", bufsize=1)
    except OSError as e:
        return Outcome(None, (), error=f"cannot run {argv[0]}: {e.strerror}")
    lines: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=_read, args=(proc, lines), daemon=True,
                              name="envtui-installer-output")
    reader.start()
    cancelled = timed_out = False
    try:
        if started:
            started(proc.pid)
        ended = False
        exited_at: float | None = None
        while True:
            if ended:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(POLL)
            else:
                ended = _pump(lines, tail, say, POLL)
            if proc.poll() is not None:
                exited_at = exited_at or time.monotonic()
                # Done once its output ended; a grandchild keeping the pipe open does not
                # keep us waiting past the grace period.
                if ended or time.monotonic() - exited_at > grace:
                    break
            if cancel.is_set():
                cancelled = True
                break
            if time.monotonic() >= deadline:
                timed_out = True
                break
        if cancelled or timed_out:
            say(f"warning: {'cancelling' if cancelled else 'timed out'}: "
                f"sending SIGINT to the installer (pid {proc.pid})")
            _stop(proc, lines, tail, say, grace)
    except BaseException:
        _stop(proc, lines, tail, say, grace)
        raise
    finally:
        reader.join(timeout=grace)
        _pump_all(lines, tail, say)
        if proc.stdout:
            proc.stdout.close()
    return Outcome(proc.wait(), tuple(tail), cancelled=cancelled, timed_out=timed_out)


def _read(proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
    assert proc.stdout is not None
    with contextlib.suppress(ValueError, OSError):  # closed under us when abandoned
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
    lines.put(None)


def _pump(lines: queue.Queue[str | None], tail: deque[str], say: Progress,
          wait: float) -> bool:
    """Pass on what the child printed within `wait` seconds; True once its output ended."""
    try:
        line = lines.get(timeout=wait)
    except queue.Empty:
        return False
    while True:
        if line is None:
            lines.put(None)  # keep the end marker for later pumps
            return True
        tail.append(line)
        say(line)
        try:
            line = lines.get_nowait()
        except queue.Empty:
            return False


def _pump_all(lines: queue.Queue[str | None], tail: deque[str], say: Progress) -> None:
    while True:
        try:
            line = lines.get_nowait()
        except queue.Empty:
            return
        if line is None:
            return
        tail.append(line)
        say(line)


def _stop(proc: subprocess.Popen[str], lines: queue.Queue[str | None], tail: deque[str],
          say: Progress, grace: float) -> None:
    """SIGINT, then SIGTERM, then SIGKILL to the child's group, announcing each harsher one.

    Signals go only while the child is unreaped, so its pid (the group's id) cannot yet
    belong to anyone else.
    """
    steps = ((signal.SIGINT, None),
             (signal.SIGTERM, "the installer ignored SIGINT for {g:g} s; sending SIGTERM"),
             (signal.SIGKILL, "the installer ignored SIGTERM for {g:g} s; sending SIGKILL"))
    for sig, warning in steps:
        if proc.poll() is not None:
            return
        if warning:
            say("warning: " + warning.format(g=grace))
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        end = time.monotonic() + grace
        while proc.poll() is None and time.monotonic() < end:
            _pump(lines, tail, say, POLL)
    proc.wait()


_PIP = re.compile(r"pip[0-9.]*(\.pyz)?")
"""How pip's own scripts and zipapp are named: pip, pip3, pip3.12, pip.pyz."""
_PATH_OPTIONS = ("--python", "--prefix", "--target", "-t", "--root")
"""pip options that point it at an environment other than its interpreter's."""


def running_pips(prefix: Path) -> list[tuple[int, str]]:
    """pip processes changing `prefix`, as (pid, command line) (Linux; [] elsewhere).

    pip takes no lock, so they are found by looking: a pip run by the environment's own
    interpreter or script, pointed at it with --python, --prefix, --target or --root, or
    started by name (`python -m pip`) in a shell where it is activated.
    """
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return []
    places = {os.path.abspath(prefix), os.path.realpath(prefix)}
    found = []
    for pid in pids:
        if pid == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except OSError:
            continue  # gone, or not ours to read
        if _is_pip(argv) and _works_in(pid, argv, places):
            found.append((pid, " ".join(argv)))
    return found


def _is_pip(argv: Sequence[str]) -> bool:
    if any(_PIP.fullmatch(os.path.basename(a)) for a in argv[:2]):
        return True
    if any(a.endswith("__pip-runner__.py") for a in argv[:2]):
        return True  # `pip --python X` runs X on pip's own runner script
    return any(a == "-m" and b == "pip" for a, b in itertools.pairwise(argv))


def _inside(path: str, places: set[str]) -> bool:
    return any(path == p or path.startswith(p + os.sep) for p in places)


def _works_in(pid: int, argv: Sequence[str], places: set[str]) -> bool:
    def where(path: str) -> str:
        # The directory, resolved; the interpreter itself is a symlink out of the prefix.
        if not os.path.isabs(path):
            path = os.path.join(f"/proc/{pid}/cwd", path)
        return os.path.realpath(os.path.dirname(path))

    if "/" in argv[0] and _inside(where(argv[0]), places):
        return True
    for i, arg in enumerate(argv):
        option, eq, value = arg.partition("=")
        if option in _PATH_OPTIONS and (eq or i + 1 < len(argv)):
            value = value if eq else argv[i + 1]
            # --python names an interpreter (a link out of the prefix) or a directory
            if _inside(where(value), places) or _inside(os.path.realpath(value), places):
                return True
    if "/" in argv[0]:
        return False
    try:  # found on PATH: the activated environment is the one it works in
        with open(f"/proc/{pid}/environ", "rb") as f:
            entries = f.read().split(b"\0")
    except OSError:
        return False
    for entry in entries:
        name, _, raw = entry.partition(b"=")
        if name in (b"VIRTUAL_ENV", b"CONDA_PREFIX") and raw and _inside(
                os.path.realpath(raw.decode(errors="replace")), places):
            return True
    return False
