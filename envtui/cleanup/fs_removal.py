"""Safe removal of a filesystem environment: a venv or a conda env, and nothing else.

Planning runs every guard and names the directory by its real path, device and inode.
Executing runs every guard again, then takes envtui's own lock on the environment, renames
the prefix to a hidden sibling (the environment disappears in one step, or nothing happens)
and deletes that hidden tree through directory descriptors: symlinks are unlinked, never
followed, and the walk never leaves the prefix's filesystem. conda's
`~/.conda/environments.txt` loses the lines that named the prefix.

Guards (RELIABILITY 22-26): positive identification (`pyvenv.cfg` / `conda-meta/history`,
regular files), no symlink as the target, not `/`, `$HOME` or an ancestor of it, not a
conda base env, not the active env, not the env envtui runs in, not frozen (CEP 22), not
holding another environment, not being changed by an envtui fix.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from envtui.cleanup import Refused, Removal
from envtui.inspectors.fsinfo import disk_usage
from envtui.model import Environment, EnvKind
from envtui.resolver.journal import EnvBusy, TransactionError, env_lock, lock_is_free

MARKERS = {EnvKind.VENV: "pyvenv.cfg", EnvKind.CONDA: "conda-meta/history"}
"""The file that positively identifies each kind (what conda env remove requires)."""
BASE_SIGNS = ("envs", "condabin", "pkgs")
"""Beside conda-meta/, any of these makes a prefix a conda installation's base env."""
ACTIVE_VARS = ("VIRTUAL_ENV", "CONDA_PREFIX")
_STACKED = re.compile(r"CONDA_PREFIX_\d+\Z")  # `conda activate --stack` keeps these on PATH
HIDDEN_TAG = ".envtui-removing-"
FROZEN_READ_MAX = 64 * 1024
PATH_MAX = 4096
"""Linux's longest path; a longer environments.txt line is not a prefix."""
PROGRESS_SECONDS = 0.1
"""How often progress is reported at most: a callback per unlink would dominate."""

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_O_PATH: int = getattr(os, "O_PATH", 0)


class RemovalCancelled(Refused):
    """Cancelled before the environment was moved: nothing was removed."""


class RemovalFailed(Exception):
    """The removal began but did not finish; the message says what is left and where."""


@dataclass(frozen=True)
class FsRemoval(Removal):
    """A planned filesystem removal plus the identity of the directory the guards checked,
    so execution can tell that the same directory is still there."""

    dev: int = 0
    ino: int = 0


# --- arguments and names ---------------------------------------------------------------


def check_path_argument(text: str) -> None:
    """Refuse a path argument ending in `.` or `..` (what it names depends on symlinks and
    the cwd, not on what the user meant: RELIABILITY 22), or one that is itself a symlink
    (name the environment itself; reading the link would name the environment it points
    to, which would then be removed instead of refused)."""
    if not text:
        raise Refused("an empty path names no environment")
    if "\0" in text:
        raise Refused(f"{_show(text)}: a path cannot contain a NUL character")
    seps = os.sep + (os.altsep or "")
    trimmed = text.rstrip(seps)
    last = re.split(f"[{re.escape(seps)}]", trimmed)[-1] if trimmed else ""
    if last in (".", ".."):
        raise Refused(f"{_show(text)} ends in {last!r}; name the environment's directory itself")
    if trimmed and os.path.islink(trimmed):
        raise Refused(f"{_show(text)} is a symlink to {_show(os.path.realpath(trimmed))}; "
                      "name the environment itself")


def _show(path: str) -> str:
    """A path fit for a one-line message (control characters or bad bytes are escaped)."""
    return path if path.isprintable() else ascii(path)


def _within(inner: str, outer: str) -> bool:
    """Whether real path `inner` is `outer` or below it."""
    return inner == outer or inner.startswith(outer.rstrip(os.sep) + os.sep)


def running_prefixes() -> list[Path]:
    """Where the interpreter envtui runs in lives: removing any of these would pull the
    floor from under envtui itself."""
    out = [Path(sys.prefix), Path(sys.base_prefix)]
    if sys.executable:
        out.append(Path(os.path.realpath(sys.executable)).parent.parent)
    return out


# --- guards ----------------------------------------------------------------------------


def _real_target(env: Environment) -> str:
    """The environment's real prefix, refusing a target that is itself a symlink (see
    `check_path_argument`)."""
    if env.kind not in MARKERS or not env.path:
        raise Refused(f"{env.ref} is not a filesystem environment")
    check_path_argument(env.path)
    given = env.path
    if not os.path.isabs(given):
        try:
            given = os.path.join(os.getcwd(), given)
        except OSError as e:
            raise Refused(f"{_show(env.path)}: the current directory is gone "
                          f"({e.strerror})") from e
    return os.path.realpath(given.rstrip(os.sep) or os.sep)


def _directory(real: str) -> os.stat_result:
    try:
        st = os.lstat(real)
    except OSError as e:
        raise Refused(f"{_show(real)}: {e.strerror}") from e
    if not stat.S_ISDIR(st.st_mode):
        raise Refused(f"{_show(real)} is not a directory")
    return st


def _check_place(real: str, home: Path) -> None:
    if os.path.dirname(real) == real:
        raise Refused(f"{_show(real)} is the root directory, not an environment")
    home_real = os.path.realpath(home)
    if real == home_real:
        raise Refused(f"{_show(real)} is the home directory, not an environment")
    if _within(home_real, real):
        raise Refused(f"{_show(real)} holds the home directory {_show(home_real)}; "
                      "it is not an environment")


def _is_regular(path: str) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _is_real_dir(path: str) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _is_cwd(real: str) -> bool:
    try:
        return os.path.realpath(os.getcwd()) == real
    except OSError:
        return False


def _check_marker(real: str, kind: EnvKind) -> str:
    """The marker that identifies the prefix as `kind`; Refused when it is not there as a
    regular file (a symlinked marker says nothing about this directory)."""
    marker = MARKERS[kind]
    found = _is_regular(os.path.join(real, marker))
    if kind is EnvKind.CONDA:
        found = found and _is_real_dir(os.path.join(real, "conda-meta"))
    if not found:
        where = " (the current directory)" if _is_cwd(real) else ""
        raise Refused(f"{_show(real)}{where} is not a {kind} environment: "
                      f"it has no regular file {marker}")
    return marker


def _check_base(env: Environment, real: str) -> None:
    if env.base:
        raise Refused(f"{_show(real)} is a conda installation's base environment")
    if not _is_real_dir(os.path.join(real, "conda-meta")):
        return
    for sign in BASE_SIGNS:
        if os.path.lexists(os.path.join(real, sign)):
            raise Refused(f"{_show(real)} is a conda base environment "
                          f"(it has conda-meta/ and {sign}/)")


def _frozen_message(real: str) -> str | None:
    """None when not frozen; else the message conda-meta/frozen gives (CEP 22), maybe ""."""
    path = os.path.join(real, "conda-meta", "frozen")
    if not os.path.lexists(path):
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as f:
            data = json.loads(f.read(FROZEN_READ_MAX))
    except (OSError, ValueError, RecursionError):
        return ""  # frozen all the same: the file's presence is what counts
    message = data.get("message") if isinstance(data, dict) else None
    return " ".join(message.split()) if isinstance(message, str) else ""


def _check_frozen(real: str) -> None:
    message = _frozen_message(real)
    if message is not None:
        said = f": {message}" if message else ""
        raise Refused(f"{_show(real)} is frozen (conda-meta/frozen){said}")


def _active_vars(environ: Mapping[str, str]) -> list[str]:
    return [*ACTIVE_VARS, *sorted(k for k in environ if _STACKED.match(k))]


def _check_active(real: str, environ: Mapping[str, str]) -> None:
    for var in _active_vars(environ):
        value = environ.get(var)
        if value and "\0" not in value and _within(os.path.realpath(value), real):
            raise Refused(f"{_show(real)} is the active environment (${var}={_show(value)}); "
                          "deactivate it first")


def _check_running(real: str, running: Sequence[Path]) -> None:
    for prefix in running:
        if _within(os.path.realpath(prefix), real):
            raise Refused(f"{_show(real)} holds the Python envtui runs in ({_show(str(prefix))})")


def _check_nested(real: str, others: Iterable[Environment]) -> None:
    for other in others:
        if other.kind not in MARKERS or not other.path or "\0" in other.path:
            continue
        inner = os.path.realpath(other.path)
        if inner != real and _within(inner, real):
            raise Refused(f"{_show(real)} contains another environment, {_show(inner)}")


def _check_lock(real: str) -> None:
    if not lock_is_free(Path(real)):
        raise Refused(f"{_show(real)} is being changed by an envtui fix (it holds "
                      f"{_show(os.path.join(real, '.envtui', 'lock'))}); try again later")


def _guards(env: Environment, *, environ: Mapping[str, str], home: Path,
            others: Iterable[Environment], running: Sequence[Path] | None,
            ) -> tuple[str, os.stat_result, str]:
    """Every guard, cheapest and most basic first: (real prefix, its lstat, marker)."""
    real = _real_target(env)
    st = _directory(real)
    _check_place(real, home)
    marker = _check_marker(real, env.kind)
    _check_base(env, real)
    _check_frozen(real)
    _check_active(real, environ)
    _check_running(real, running_prefixes() if running is None else running)
    _check_nested(real, others)
    _check_lock(real)
    return real, st, marker


# --- environments.txt ------------------------------------------------------------------


def environments_txt(home: Path) -> Path:
    return home / ".conda" / "environments.txt"


def _names_prefix(line: bytes, real: str) -> bool:
    if len(line) > PATH_MAX:
        return False  # names no directory, and realpath's work grows with its square
    text = os.fsdecode(line.rstrip(b"\r\n")).strip().rstrip(os.sep)
    if not text or "\0" in text or not os.path.isabs(text):
        return False
    return os.path.realpath(text) == real


def _listed(home: Path, real: str) -> list[tuple[int, str]]:
    """(line number, text) of each environments.txt line that names `real`."""
    try:
        data = environments_txt(home).read_bytes()
    except OSError:
        return []
    return [(n, os.fsdecode(line.rstrip(b"\r\n")))
            for n, line in enumerate(data.splitlines(keepends=True), 1)
            if _names_prefix(line, real)]


def _drop_listed(home: Path, real: str) -> None:
    """Drop the lines naming `real`, keeping every other byte; no write when none does."""
    path = environments_txt(home)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    lines = data.splitlines(keepends=True)
    kept = [line for line in lines if not _names_prefix(line, real)]
    if len(kept) != len(lines):
        _replace_file(Path(os.path.realpath(path)), b"".join(kept))


def _replace_file(path: Path, data: bytes) -> None:
    """Write through a temp file and a rename: readers see the old file or the new one."""
    st = os.stat(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, stat.S_IMODE(st.st_mode))
        if (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
            with contextlib.suppress(OSError):  # only root may give it back; others keep it
                os.chown(tmp, st.st_uid, st.st_gid)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# --- planning --------------------------------------------------------------------------


def plan_removal(env: Environment, *, environ: Mapping[str, str], home: Path,
                 others: Iterable[Environment] = (),
                 running: Sequence[Path] | None = None) -> Removal:
    """Check every guard and describe the removal; Refused (naming the path) when any fails."""
    real, st, marker = _guards(env, environ=environ, home=home, others=others,
                               running=running)
    size = env.size_bytes if env.size_bytes is not None else disk_usage(Path(real)).size
    listed = _listed(home, real)
    notes = ((f"{environments_txt(home)} lists it ({len(listed)} line(s) will be dropped)",)
             if listed else ())
    return FsRemoval(ref=env.ref, kind=env.kind, target=real, size_bytes=size,
                     marker=marker, notes=notes, dev=st.st_dev, ino=st.st_ino)


def dry_run_lines(removal: Removal, *, home: Path) -> list[str]:
    """Exactly what executing would remove: the prefix and the environments.txt lines."""
    txt = environments_txt(home)
    return [f"remove {_show(removal.target)}",
            *(f"drop line {n} of {txt}: {_show(text)}"
              for n, text in _listed(home, removal.target))]


# --- execution -------------------------------------------------------------------------


def execute_removal(removal: Removal, *, environ: Mapping[str, str], home: Path,
                    others: Iterable[Environment] = (),
                    running: Sequence[Path] | None = None,
                    cancelled: Callable[[], bool] | None = None,
                    progress: Callable[[int, int], None] | None = None) -> None:
    """Re-check every guard, move the prefix aside, delete it, update environments.txt.

    Refused (or RemovalCancelled) means nothing was removed. RemovalFailed means the
    environment is gone from its path but a hidden leftover, named in the message, remains.
    """
    if not isinstance(removal, FsRemoval):
        raise Refused(f"{_show(removal.target)}: not planned by plan_removal; plan it first")
    env = Environment(kind=removal.kind, name=os.path.basename(removal.target), manager="",
                      path=removal.target)
    real, st, _ = _guards(env, environ=environ, home=home, others=others, running=running)
    _check_same(removal, real, st)
    total = _survey(real, st)
    _check_cancelled(cancelled, real)
    parent, name = os.path.split(real)
    with _open_dir(parent) as pfd:
        hidden = _move_aside(pfd, name, removal, cancelled)
        problems = _delete_moved(pfd, hidden, removal, total, progress)
    try:
        _drop_listed(home, real)
    except OSError as e:
        problems.append(f"{environments_txt(home)} still lists it ({e.strerror})")
    if problems:
        raise RemovalFailed("; ".join(problems))


def _check_same(removal: FsRemoval, real: str, st: os.stat_result) -> None:
    if real != removal.target:
        raise Refused(f"{_show(removal.target)} now resolves to {_show(real)}; plan again")
    if (st.st_dev, st.st_ino) != (removal.dev, removal.ino):
        raise Refused(f"{_show(real)} is no longer the directory that was planned for "
                      "removal (it was replaced); plan again")


def _check_cancelled(cancelled: Callable[[], bool] | None, real: str) -> None:
    if cancelled is not None and cancelled():
        raise RemovalCancelled(f"removal of {_show(real)} cancelled; nothing was removed")


@contextlib.contextmanager
def _open_dir(path: str) -> Iterator[int]:
    try:
        fd = os.open(path, _DIR_FLAGS)
    except OSError as e:
        raise Refused(f"{_show(path)}: {e.strerror}; nothing was removed") from e
    try:
        yield fd
    finally:
        os.close(fd)


@contextlib.contextmanager
def _removal_lock(real: str) -> Iterator[None]:
    """envtui's own lock, so no fix starts (or runs) while the prefix is moved away."""
    try:
        with env_lock(Path(real)):
            yield
    except EnvBusy as e:
        raise Refused(f"{_show(real)}: {e}; try again later") from e
    except TransactionError as e:
        raise Refused(f"{e}; nothing was removed") from e


def _move_aside(pfd: int, name: str, removal: FsRemoval,
                cancelled: Callable[[], bool] | None) -> str:
    """Rename the prefix to a fresh hidden sibling: one step that either happens or not."""
    real = removal.target
    with _removal_lock(real):
        _check_same(removal, real, _lstat_at(pfd, name, real))
        _check_cancelled(cancelled, real)
        try:
            hidden = _free_hidden_name(pfd, name)
            os.rename(name, hidden, src_dir_fd=pfd, dst_dir_fd=pfd)
        except OSError as e:
            raise Refused(f"cannot move {_show(real)} aside ({e.strerror}); "
                          "nothing was removed") from e
    if not _is_planned(pfd, hidden, removal):
        _put_back(pfd, hidden, name, real)
    with contextlib.suppress(OSError):
        os.fsync(pfd)  # the environment is gone for good, even after a crash
    return hidden


def _is_planned(pfd: int, name: str, removal: FsRemoval) -> bool:
    try:
        st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (removal.dev, removal.ino)


def _put_back(pfd: int, hidden: str, name: str, real: str) -> None:
    """Something replaced the prefix between the last check and the rename: undo it."""
    moved = os.path.join(os.path.dirname(real), hidden)
    try:
        os.rename(hidden, name, src_dir_fd=pfd, dst_dir_fd=pfd)
    except OSError as e:
        raise RemovalFailed(f"{_show(real)} changed while being moved aside and could not "
                            f"be put back ({e.strerror}); it is at {_show(moved)}; "
                            "nothing was deleted") from e
    raise Refused(f"{_show(real)} changed while being removed; nothing was removed")


def _lstat_at(dir_fd: int, name: str, shown: str) -> os.stat_result:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError as e:
        raise Refused(f"{_show(shown)}: {e.strerror}; nothing was removed") from e


def _free_hidden_name(pfd: int, name: str) -> str:
    short = name
    while len(os.fsencode(short)) > 96:  # leave room for the tag within NAME_MAX
        short = short[:-1]
    while True:
        hidden = f".{short}{HIDDEN_TAG}{secrets.token_hex(6)}"
        try:
            os.stat(hidden, dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            return hidden


def _delete_moved(pfd: int, hidden: str, removal: FsRemoval, total: int,
                  progress: Callable[[int, int], None] | None) -> list[str]:
    """Delete the moved tree; the problem (naming the leftover) when that stops midway."""
    ticker = _Ticker(total, progress)
    parent = os.path.dirname(removal.target)
    leftover = os.path.join(parent, hidden)
    try:
        _remove_tree(pfd, parent, hidden, removal.dev, ticker)
        ticker.finish()
    except Exception as e:
        reason = f"{e.strerror}: {_show(str(e.filename))}" if isinstance(e, OSError) else str(e)
        return [f"{_show(removal.target)} was moved aside but not wholly deleted ({reason}); "
                f"what is left is in {_show(leftover)}; delete it to finish"]
    return []


class _Ticker:
    """Counts removed entries and reports (removed, total) now and then."""

    def __init__(self, total: int, progress: Callable[[int, int], None] | None) -> None:
        self.total, self.done, self.progress = total, 0, progress
        self.last = 0.0

    def __call__(self) -> None:
        self.done += 1
        now = time.monotonic()
        if self.progress is not None and now - self.last >= PROGRESS_SECONDS:
            self.last = now
            self.progress(self.done, max(self.total, self.done))

    def finish(self) -> None:
        if self.progress is not None:
            self.progress(self.done, self.done)


# --- walking trees through descriptors -------------------------------------------------


@dataclass
class _Frame:
    """One open directory of the walk: its descriptor, the names still to visit, its name
    in its parent and its path (for messages only: every operation goes through `fd`)."""

    fd: int
    names: list[str]
    name: str
    path: str


def _open_frame(parent_fd: int, parent_path: str, name: str, dev: int, *,
                fix_modes: bool) -> _Frame:
    """Open directory `name` without following a symlink, on filesystem `dev` only."""
    st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    if st.st_dev != dev:
        raise OSError(0, "a mount point; unmount it first", name)
    if fix_modes:
        _make_accessible(parent_fd, name, st)
    fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    try:
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            raise OSError(0, "replaced while being read", name)
        return _Frame(fd, os.listdir(fd), name, os.path.join(parent_path, name))
    except BaseException:
        os.close(fd)
        raise


def _make_accessible(parent_fd: int, name: str, st: os.stat_result) -> None:
    """Give a read-only directory of ours u+rwx so its entries can be removed."""
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid != os.geteuid() or mode & 0o700 == 0o700:
        return
    if not (_O_PATH and os.path.isdir("/proc/self/fd")):
        os.chmod(name, mode | 0o700, dir_fd=parent_fd)  # lstat just saw our directory
        return
    # An O_PATH descriptor pins the very directory lstat saw; chmod goes through it.
    fd = os.open(name, _O_PATH | os.O_NOFOLLOW | os.O_DIRECTORY | os.O_CLOEXEC,
                 dir_fd=parent_fd)
    try:
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            raise OSError(0, "replaced while being removed", name)
        os.chmod(f"/proc/self/fd/{fd}", mode | 0o700)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _naming(path: str) -> Iterator[None]:
    """Make an OSError name the whole path rather than a name relative to a descriptor."""
    try:
        yield
    except OSError as e:
        raise OSError(e.errno, e.strerror, path) from e


def _remove_tree(pfd: int, parent_path: str, name: str, dev: int,
                 tick: Callable[[], None]) -> None:
    """Delete directory `name` below `pfd` depth-first; links and files are unlinked."""
    with _naming(os.path.join(parent_path, name)):
        stack = [_open_frame(pfd, parent_path, name, dev, fix_modes=True)]
    try:
        while stack:
            top = stack[-1]
            if top.names:
                child = top.names.pop()
                with _naming(os.path.join(top.path, child)):
                    frame = _remove_entry(top, child, dev, tick)
                if frame is not None:
                    stack.append(frame)
                continue
            stack.pop()
            os.close(top.fd)
            with _naming(top.path):
                os.rmdir(top.name, dir_fd=stack[-1].fd if stack else pfd)
            tick()
    finally:
        for frame in stack:
            os.close(frame.fd)


def _remove_entry(top: _Frame, child: str, dev: int, tick: Callable[[], None]) -> _Frame | None:
    """Unlink a non-directory (a symlink goes, its target stays); open a directory."""
    st = os.stat(child, dir_fd=top.fd, follow_symlinks=False)
    if stat.S_ISDIR(st.st_mode):
        return _open_frame(top.fd, top.path, child, dev, fix_modes=True)
    os.unlink(child, dir_fd=top.fd)
    tick()
    return None


def _survey(real: str, st: os.stat_result) -> int:
    """Count the entries to remove (for progress) and refuse, before anything is touched,
    what deletion could not finish: a mount point or a directory we may not empty."""
    parent, name = os.path.split(real)
    count = 1
    with _open_dir(parent) as pfd:
        try:
            stack = [_open_frame(pfd, parent, name, st.st_dev, fix_modes=False)]
        except OSError as e:
            raise Refused(f"{_show(real)}: cannot read it ({e.strerror})") from e
        try:
            while stack:
                top = stack[-1]
                if not top.names:
                    os.close(stack.pop().fd)
                    continue
                count += 1
                child = _survey_entry(top, st.st_dev, real)
                if child is not None:
                    stack.append(child)
        finally:
            for frame in stack:
                os.close(frame.fd)
    return count


def _survey_entry(top: _Frame, dev: int, real: str) -> _Frame | None:
    child = top.names.pop()
    shown = f"{_show(real)} holds {_show(os.path.join(top.path, child))}"
    try:
        st = os.stat(child, dir_fd=top.fd, follow_symlinks=False)
    except OSError as e:
        raise Refused(f"{shown}, which cannot be read ({e.strerror})") from e
    if not stat.S_ISDIR(st.st_mode):
        return None
    if st.st_dev != dev:
        raise Refused(f"{shown}, a mount point of another filesystem; unmount it first")
    if not _may_empty(top.fd, child, st):
        raise Refused(f"{shown}, a directory of another user (uid {st.st_uid}) that "
                      "envtui may not empty")
    try:
        return _open_frame(top.fd, top.path, child, dev, fix_modes=False)
    except PermissionError:
        return None  # ours but unreadable for now: removal gives it u+rwx first
    except OSError as e:
        raise Refused(f"{shown}, which cannot be read ({e.strerror})") from e


def _may_empty(dir_fd: int, name: str, st: os.stat_result) -> bool:
    """Whether removal can delete this directory's entries: ours (we can chmod it) or
    writable and searchable for us."""
    if st.st_uid == os.geteuid():
        return True
    return os.access(name, os.R_OK | os.W_OK | os.X_OK, dir_fd=dir_fd, effective_ids=True)
