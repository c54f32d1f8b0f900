"""A hardlink copy of a whole environment prefix, and putting a prefix back to it exactly.

Hardlinks make the snapshot nearly free and keep every file's bytes, mode and mtime, as long
as nobody writes into a linked file in place. Installers replace files rather than rewrite
them, but not every file: RECORD, INSTALLER and `.pth` files, and the files of the
distributions a plan removes or replaces, are real copies, so the snapshot stays intact
whatever the installer does to them.

Nothing here follows a symlink: entries are read with lstat, links are recreated as links,
and a restore only ever writes below realpath(prefix).
"""

from __future__ import annotations

import contextlib
import csv
import errno
import functools
import os
import shutil
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from envtui.resolver.journal import STATE_DIR, TransactionError

DIR, FILE, LINK, FIFO, OTHER = "dir", "file", "link", "fifo", "other"


class SnapshotError(TransactionError):
    """A snapshot could not be taken, or a prefix could not be put back to one."""


@dataclass(frozen=True)
class Entry:
    kind: str
    mode: int
    ident: tuple[int, int]
    """(device, inode): a file restored from the snapshot shares the snapshot's inode."""
    target: str | None = None
    """A symlink's target, verbatim."""


def skipped_names(prefix: Path) -> frozenset[str]:
    """Top-level names that are not part of the environment's own files.

    envtui's own state, and for a conda base environment the other environments and the
    package cache, which a fix of its pip packages never touches.
    """
    names = {STATE_DIR}
    if (prefix / "conda-meta").is_dir():
        names |= {"envs", "pkgs"}
    return frozenset(names)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return DIR
    if stat.S_ISREG(mode):
        return FILE
    if stat.S_ISLNK(mode):
        return LINK
    if stat.S_ISFIFO(mode):
        return FIFO
    return OTHER


def listing(root: str, skip: Iterable[str] = ()) -> dict[str, Entry]:
    """Every entry below `root` by relative path ("/"-separated), without following links.

    `skip` names top-level entries left out. An unreadable directory is an error: a
    snapshot or a restore that silently missed part of the tree would not be exact.
    """
    skipped = frozenset(skip)
    out: dict[str, Entry] = {}
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            with os.scandir(os.path.join(root, rel) if rel else root) as it:
                entries = list(it)
        except OSError as err:
            raise SnapshotError(f"{os.path.join(root, rel)}: unreadable ({err.strerror})"
                                ) from err
        for e in entries:
            if not rel and e.name in skipped:
                continue
            r = f"{rel}/{e.name}" if rel else e.name
            try:
                st = e.stat(follow_symlinks=False)
                kind = _kind(st.st_mode)
                target = os.readlink(e.path) if kind == LINK else None
            except OSError as err:
                raise SnapshotError(f"{e.path}: unreadable ({err.strerror})") from err
            out[r] = Entry(kind, stat.S_IMODE(st.st_mode), (st.st_dev, st.st_ino), target)
            if kind == DIR:
                stack.append(r)
    return out


def record_files(dist_infos: Iterable[Path], prefix: Path) -> set[str]:
    """Prefix-relative paths of every file the RECORDs of `dist_infos` list.

    Entries that resolve outside the prefix are ignored (never trust a path from metadata).
    Raises SnapshotError for a RECORD that is not CSV (a field over csv's size limit).
    """
    real = os.path.realpath(prefix)
    out: set[str] = set()
    for dist_info in dist_infos:
        site = os.path.realpath(dist_info.parent)
        try:
            with open(dist_info / "RECORD", encoding="utf-8", errors="replace",
                      newline="") as f:
                rows = list(csv.reader(f))
        except OSError:
            continue  # no RECORD: its files are linked like any other
        except csv.Error as e:
            raise SnapshotError(f"{dist_info / 'RECORD'}: not a valid RECORD ({e})") from None
        for row in rows:
            if not row or not row[0] or os.path.isabs(row[0]):
                continue
            full = os.path.normpath(os.path.join(site, row[0]))
            rel = os.path.relpath(full, real)
            if rel != ".." and not rel.startswith(("../", "/")) and rel != ".":
                out.add(rel.replace(os.sep, "/"))
    return out


def unsafe_entry(entry: str, base: str, real_prefix: str) -> str | None:
    """Why an installer must not delete what the installed-file entry `entry` names
    (relative to directory `base`), or None when it is a file of the environment.

    An installer deletes what RECORD or conda-meta `files` list. rattler follows `..` out
    of the prefix, and uv follows a symlinked parent directory, so envtui checks first:
    an absolute path, a path whose real parent directory is outside `real_prefix`, and a
    directory (`./`, `lib/`) are refused. The entry itself is a leaf: a link is fine.
    """
    if os.path.isabs(entry):
        return "an absolute path"
    if "\0" in entry:
        return "not a path (it holds a NUL byte)"
    path = os.path.join(base, entry).rstrip("/")
    name = os.path.basename(path)
    if name in (".", ".."):  # a directory whatever it resolves to
        leaf = os.path.realpath(path)
    else:
        leaf = os.path.join(os.path.realpath(os.path.dirname(path)), name)
    if not leaf.startswith(real_prefix + os.sep):
        return "outside the environment" if leaf != real_prefix else "a directory"
    try:
        if stat.S_ISDIR(os.lstat(leaf).st_mode):
            return "a directory"
    except OSError:
        pass  # nothing there: nothing to delete
    return None


def unsafe_record(dist_info: Path, prefix: Path) -> str | None:
    """The first RECORD row of `dist_info` that `unsafe_entry` refuses, as one line naming
    the file, the row and why; None when there is none (or no RECORD). Raises SnapshotError
    for a RECORD that is not CSV, as `record_files` does."""
    real = os.path.realpath(prefix)
    record = dist_info / "RECORD"
    try:
        with open(record, encoding="utf-8", errors="replace", newline="") as f:
            rows = list(csv.reader(f))
    except OSError:
        return None
    except csv.Error as e:
        raise SnapshotError(f"{record}: not a valid RECORD ({e})") from None
    base = os.path.realpath(dist_info.parent)
    for row in rows:
        why = unsafe_entry(row[0], base, real) if row and row[0] else None
        if why:
            return f"{record} lists {row[0]!r}, {why}"
    return None


def _must_copy(rel: str, copies: set[str]) -> bool:
    parent, _, name = rel.rpartition("/")
    if name.endswith(".pth"):
        return True
    if name in ("RECORD", "INSTALLER") and parent.endswith(".dist-info"):
        return True
    return rel in copies


def take(prefix: Path, dest: Path, copies: set[str], skip: Iterable[str]) -> int:
    """Snapshot `prefix` (less the `skip`ped top-level names) into the new directory `dest`.

    `dest` must be on the prefix's filesystem. Returns the number of entries.
    """
    real = os.path.realpath(prefix)
    entries = listing(real, skip)
    dirs: list[tuple[str, int]] = []
    try:
        os.mkdir(dest, 0o700)
        for rel in sorted(entries, key=lambda r: r.split("/")):
            entry, src, dst = entries[rel], os.path.join(real, rel), os.path.join(dest, rel)
            if entry.kind == DIR:
                os.mkdir(dst, 0o700)  # writable while it is filled; its mode is set last
                dirs.append((dst, entry.mode))
            elif entry.kind == LINK:
                os.symlink(entry.target or "", dst)
            elif entry.kind == FIFO:
                os.mkfifo(dst, entry.mode)
            elif entry.kind == FILE:
                if _must_copy(rel, copies):
                    shutil.copy2(src, dst, follow_symlinks=False)
                else:
                    _link_or_copy(src, dst)
            # sockets and devices are not an installer's business: left out and left alone
    except OSError as e:
        raise SnapshotError(f"cannot snapshot {prefix}: {e.filename}: {e.strerror}") from e
    for dst, mode in reversed(dirs):
        os.chmod(dst, mode)
    return len(entries)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError as e:
        # Another filesystem mounted inside the prefix, fs.protected_hardlinks refusing
        # someone else's file, or too many links: a copy is just as good, only bigger.
        if e.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EACCES):
            raise
        shutil.copy2(src, dst, follow_symlinks=False)


def remove_tree(path: Path) -> None:
    """Delete a snapshot (or a partial one), even with read-only directories inside.

    Only directories are made writable: a file's mode is shared with the environment's
    hardlink to it.
    """
    if not os.path.lexists(path):
        return
    if not os.path.isdir(path) or os.path.islink(path):
        os.unlink(path)
        return
    for d, subdirs, _files in os.walk(path):
        for name in subdirs:
            sub = os.path.join(d, name)
            if not os.path.islink(sub):
                with contextlib.suppress(OSError):
                    os.chmod(sub, 0o700)
    os.chmod(path, 0o700)
    shutil.rmtree(path)


class _Confined:
    """Checks that a directory about to be written in is inside realpath(prefix)."""

    def __init__(self, real: str) -> None:
        self.real = real
        self.ok: set[str] = {real}

    def check(self, directory: str) -> None:
        """Refuse a directory outside the prefix; make a read-only one writable for now
        (the final pass sets every directory's mode from the snapshot)."""
        if directory in self.ok:
            return
        if directory != self.real and (os.path.realpath(directory) != directory
                                       or not directory.startswith(self.real + os.sep)):
            raise SnapshotError(f"refusing to restore into {directory}: it resolves outside "
                                f"{self.real}")
        mode = stat.S_IMODE(os.lstat(directory).st_mode)
        if mode & 0o300 != 0o300:
            os.chmod(directory, mode | 0o300)
        self.ok.add(directory)


def restore(prefix: Path, snapshot: Path, skip: Iterable[str]) -> None:
    """Make `prefix` (less the `skip`ped names) identical to `snapshot`.

    Entries the snapshot lacks are removed, children before parents; every entry that is
    missing or differs (another inode, type or link target) is put back from the snapshot
    by linking it beside its place and renaming it over. Then the result is checked.
    """
    real = os.path.realpath(prefix)
    want = listing(os.fspath(snapshot))
    if "pyvenv.cfg" not in want and "conda-meta" not in want:
        raise SnapshotError(f"{snapshot} is not a snapshot of an environment; nothing restored")
    skipped = frozenset(skip) | {STATE_DIR}
    have = listing(real, skipped)
    guard = _Confined(real)
    try:
        _remove_extra(real, want, have, guard)
        _put_back(real, os.fspath(snapshot), want, have, guard)
    except OSError as e:
        raise SnapshotError(f"cannot restore {prefix}: {e.filename}: {e.strerror}") from e
    left = differences(prefix, snapshot, skipped)
    if left:
        raise SnapshotError(f"{prefix} still differs from its snapshot after the restore "
                            f"({', '.join(left[:3])})")


def _remove_extra(real: str, want: dict[str, Entry], have: dict[str, Entry],
                  guard: _Confined) -> None:
    for rel in sorted(have, key=lambda r: r.split("/"), reverse=True):
        cur, old = have[rel], want.get(rel)
        if cur.kind == OTHER or (old is not None and old.kind == cur.kind):
            continue
        path = os.path.join(real, rel)
        guard.check(os.path.dirname(path))
        if cur.kind == DIR:
            os.rmdir(path)  # its children went first (none of them is in the snapshot)
        else:
            os.unlink(path)
        del have[rel]


def _put_back(real: str, snap: str, want: dict[str, Entry], have: dict[str, Entry],
              guard: _Confined) -> None:
    modes: list[tuple[str, int]] = []
    for rel in sorted(want, key=lambda r: r.split("/")):
        old, cur = want[rel], have.get(rel)
        path = os.path.join(real, rel)
        guard.check(os.path.dirname(path))
        if old.kind == DIR:
            if cur is None:
                os.mkdir(path, 0o700)
            modes.append((path, old.mode))
        elif old.kind == FILE:
            if cur is None or cur.ident != old.ident:
                _replace(path, functools.partial(_link, os.path.join(snap, rel)))
        elif old.kind == LINK:
            if cur is None or cur.target != old.target:
                _replace(path, functools.partial(os.symlink, old.target or ""))
        elif old.kind == FIFO and cur is None:
            os.mkfifo(path, old.mode)
    for path, mode in reversed(modes):
        if stat.S_IMODE(os.lstat(path).st_mode) != mode:
            os.chmod(path, mode)


def _link(src: str, dst: str) -> None:
    os.link(src, dst, follow_symlinks=False)


def _replace(path: str, make: Callable[[str], None]) -> None:
    """Create the new entry under a temporary name beside `path`, then rename it over:
    the place never holds a half-written file."""
    d, name = os.path.split(path)
    tmp = os.path.join(d, f".{name}.envtui-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    make(tmp)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def differences(prefix: Path, snapshot: Path, skip: Iterable[str]) -> list[str]:
    """Relative paths where `prefix` is not (yet) what `snapshot` holds."""
    want = listing(os.fspath(snapshot))
    have = listing(os.path.realpath(prefix), frozenset(skip) | {STATE_DIR})
    out: list[str] = []
    for rel in sorted(set(want) | {r for r, e in have.items() if e.kind != OTHER}):
        old, cur = want.get(rel), have.get(rel)
        if old is None or cur is None or old.kind != cur.kind or (
                old.kind == FILE and old.ident != cur.ident) or old.target != cur.target:
            out.append(rel)
    return out
