"""What envtui keeps inside an environment while it changes it: a lock and a journal.

Everything lives in `ENV/.envtui/`: `lock` (an flock held for the whole transaction),
`journal.json` (what is being done and where the snapshot is) and `snapshot/`. The journal
says "applying" from the moment the snapshot is complete until the change is verified; a
journal that says "applying" while nobody holds the lock is an interrupted transaction.

This module is imported by the inspectors, so it stays small and cheap to import.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envtui.model import Problem, ProblemKind
from envtui.resolver.actions import Action

STATE_DIR = ".envtui"
LOCK = "lock"
JOURNAL = "journal.json"
SNAPSHOT = "snapshot"

APPLYING = "applying"
COMMITTED = "committed"

LOCK_PATIENCE = 1.0
"""Seconds to retry a busy lock: a scan probing it holds it for microseconds, a
transaction for minutes, so a short retry tells the two apart."""


class TransactionError(Exception):
    """A change to an environment could not be made, undone or inspected. One line."""


class EnvBusy(TransactionError):
    """Another envtui (or an installer it left running) is changing the environment."""


def state_dir(prefix: Path) -> Path:
    return prefix / STATE_DIR


def journal_path(prefix: Path) -> Path:
    return prefix / STATE_DIR / JOURNAL


@dataclass(frozen=True)
class Journal:
    """One transaction's record, as `journal.json` holds it."""

    prefix: Path
    state: str
    """"applying" until verified, then "committed"."""
    pid: int
    """The envtui process that applied it."""
    started: str
    """ISO 8601 time the transaction started."""
    actions: tuple[Action, ...]
    snapshot: str
    """The snapshot's path relative to the prefix."""
    skipped: tuple[str, ...] = ()
    """Top-level names the snapshot left out (and a restore must leave alone)."""
    installer: str | None = None
    """"uv" or "pip"."""
    child: int | None = None
    """The installer process (and process group) running now, if any."""
    finished: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "pid": self.pid, "started": self.started,
                "actions": [a.to_dict() for a in self.actions], "snapshot": self.snapshot,
                "skipped": list(self.skipped), "installer": self.installer,
                "child": self.child, "finished": self.finished}

    @classmethod
    def from_dict(cls, prefix: Path, data: dict[str, Any]) -> Journal:
        child = data.get("child")
        return cls(prefix=prefix, state=str(data["state"]), pid=int(data["pid"]),
                   started=str(data["started"]),
                   actions=tuple(Action.from_dict(a) for a in data["actions"]),
                   snapshot=str(data["snapshot"]),
                   skipped=tuple(str(s) for s in data.get("skipped") or ()),
                   installer=data.get("installer"),
                   child=int(child) if child is not None else None,
                   finished=data.get("finished"))


def read_journal(prefix: Path) -> Journal | None:
    """The journal, or None when there is none. A journal that cannot be read is an error:
    treating it as absent could hide an interrupted change."""
    path = journal_path(prefix)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise TransactionError(f"{path}: unreadable ({e.strerror})") from e
    try:
        data = json.loads(raw)
        return Journal.from_dict(prefix, data)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as e:
        raise TransactionError(f"{path}: not a valid envtui journal ({e})") from e


def write_journal(journal: Journal) -> None:
    """Replace the journal atomically: a crash leaves the old one or the new one."""
    path = journal_path(journal.prefix)
    data = json.dumps(journal.to_dict(), indent=1).encode()
    import tempfile  # not at the top: every scan imports this module, few write journals

    fd, tmp = tempfile.mkstemp(prefix=".journal-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def remove_journal(prefix: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(journal_path(prefix))
    _fsync_dir(state_dir(prefix))


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def env_lock(prefix: Path, patience: float = LOCK_PATIENCE) -> Iterator[None]:
    """Hold `ENV/.envtui/lock` exclusively, or raise EnvBusy.

    flock, not a pid file: the kernel drops it when its holder dies, however it dies, so
    a free lock reliably means nobody is applying. Installers never inherit it (Popen
    closes other descriptors), so an orphaned installer does not keep it.
    """
    d = state_dir(prefix)
    try:
        d.mkdir(exist_ok=True)
        if os.path.islink(d):  # everything envtui writes must stay inside the prefix
            raise TransactionError(f"{d} is a symbolic link; envtui will not use it")
        fd = os.open(d / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    except OSError as e:
        raise TransactionError(f"cannot lock {prefix}: {d}: {e.strerror}") from e
    try:
        _flock(fd, d / LOCK, patience, f"another envtui is changing {prefix}")
        yield
    finally:
        os.close(fd)  # closing the only descriptor releases the lock


def _flock(fd: int, path: Path, patience: float, busy: str) -> None:
    import fcntl  # POSIX only; imported here so inspectors can import this module anywhere

    deadline = time.monotonic() + patience
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise TransactionError(f"cannot lock {path}: {e.strerror}") from e
            if time.monotonic() >= deadline:
                raise EnvBusy(busy) from None
            time.sleep(0.05)


@contextlib.contextmanager
def uv_lock(prefix: Path, patience: float = LOCK_PATIENCE) -> Iterator[None]:
    """Hold uv's own lock on the environment (`ENV/.lock`, an flock uv takes for every
    change), so that no uv changes it while envtui snapshots or restores it.

    Never created here: an environment uv has not touched has no lock to respect. Released
    before envtui runs uv itself, which takes it in turn.
    """
    path = prefix / ".lock"
    try:
        fd: int | None = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        fd = None
    except OSError as e:
        raise TransactionError(f"{path}: cannot open uv's lock ({e.strerror})") from e
    try:
        if fd is not None:
            _flock(fd, path, patience, f"uv is changing {prefix} (it holds {path})")
        yield
    finally:
        if fd is not None:
            os.close(fd)


def lock_is_free(prefix: Path) -> bool:
    """Whether nobody holds the lock. A probe: takes a shared lock for an instant and
    never creates anything, so static inspection can call it."""
    try:
        import fcntl
    except ImportError:
        return True
    try:
        fd = os.open(state_dir(prefix) / LOCK, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return True
    except OSError:
        return False  # cannot tell: say "busy", which claims nothing was interrupted
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


def interrupted(prefix: Path | str) -> bool:
    """Whether an envtui fix of `prefix` was interrupted (for the inspectors).

    One failed open when there is no journal, which is nearly always.
    """
    try:
        with open(os.path.join(prefix, STATE_DIR, JOURNAL), "rb") as f:
            raw = f.read()
    except (OSError, ValueError):
        return False
    try:
        state = json.loads(raw).get("state")
    except (ValueError, AttributeError, RecursionError):
        return True  # a journal too damaged to read is at least as alarming
    return state == APPLYING and lock_is_free(Path(prefix))



IMPORT_MARKER = ".envtui-import"
"""Inside an environment while `envtui import` makes it; gone once the import succeeded."""


def interrupted_state(prefix: Path | str) -> str:
    """What the inspectors' fingerprints need to notice a fix or an import being cut off."""
    return f"{interrupted(prefix)}|{os.path.lexists(os.path.join(prefix, IMPORT_MARKER))}"


def interrupted_fix(prefix: Path) -> list[Problem]:
    """The problem an envtui fix or import killed mid-way leaves, if any (for inspectors)."""
    out = []
    if interrupted(prefix):
        out.append(Problem(ProblemKind.INTERRUPTED,
                           f"an envtui fix was interrupted; `envtui undo {prefix}` restores "
                           f"the environment as it was before, `envtui fix {prefix} --finish` "
                           "applies the fix again from there"))
    if os.path.lexists(prefix / IMPORT_MARKER):
        out.append(Problem(ProblemKind.INTERRUPTED,
                           f"an envtui import was interrupted and left {prefix} half-made; "
                           "import again with --force, or delete it"))
    return out
