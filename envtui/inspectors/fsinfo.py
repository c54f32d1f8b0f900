"""Size on disk and last use of an environment, from the filesystem alone.

Size: the allocated bytes (st_blocks * 512) of every file and directory under the prefix,
each (device, inode) counted once, so hardlinks made by uv or conda from their caches count
once per environment. Symlinks are counted as links, never followed; the walk stays on the
prefix's filesystem. Reclaimable: the part of that size held by this environment alone, that
is, files whose every hardlink lies inside the prefix; a file also linked from uv's or conda's
package cache (or from another environment) is not freed by removing the environment.

Last used: the newest modification time among the evidence that an environment was used or
changed: the prefix itself, its bin/Scripts directory and activation scripts, its
site-packages directories and metadata directories (an install or uninstall touches them),
conda-meta/history, and shell history files an inspector passes in. Access times are not
used: most filesystems mount with relatime/noatime, which makes them meaningless.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from envtui.model import Problem, ProblemKind


@dataclass(frozen=True)
class DiskUsage:
    """What one environment holds on disk."""

    size: int | None
    """Allocated bytes, each inode counted once (None: not measured)."""
    reclaimable: int | None
    """Bytes freed by removing it: inodes with no hardlink outside the prefix."""
    problems: list[Problem]
    """Directories that could not be read."""


Inode = tuple[int, int]
"""(st_dev, st_ino)."""


def walk_files(root: Path, problems: list[Problem],
               skip: Iterable[Path] = ()) -> Iterator[tuple[Inode | None, os.stat_result]]:
    """Every entry under `root` (itself first), lstat'ed, never following a symlink and never
    leaving root's filesystem. Directories come with inode None: they cannot be hardlinked,
    so they always belong to the tree they are in. Unreadable directories go to `problems`."""
    skipped = {str(p) for p in skip}
    try:
        st = os.lstat(root)
    except OSError as e:
        problems.append(Problem(ProblemKind.UNREADABLE, f"{root}: unreadable ({e.strerror})"))
        return
    yield None, st
    dev = st.st_dev
    stack = [str(root)]
    while stack:
        d = stack.pop()
        try:
            it = os.scandir(d)
        except OSError as e:
            problems.append(Problem(ProblemKind.UNREADABLE, f"{d}: unreadable ({e.strerror})"))
            continue
        with it:
            for entry in it:
                if entry.path in skipped:
                    continue
                try:
                    s = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    if s.st_dev == dev:
                        stack.append(entry.path)
                    yield None, s
                else:
                    yield (s.st_dev, s.st_ino), s


class Tally:
    """Bytes under one or more trees, each inode once, and what removing some of them frees:
    the files whose every hardlink was met in a tree marked `removed`."""

    def __init__(self) -> None:
        # inode -> [blocks, hardlinks, links met, links met in removed trees]
        self._inodes: dict[Inode, list[int]] = {}
        self._dirs = self._removed_dirs = 0

    def add(self, root: Path, problems: list[Problem], skip: Iterable[Path] = (), *,
            removed: bool = True) -> None:
        for ident, st in walk_files(root, problems, skip):
            blocks = st.st_blocks * 512
            if ident is None:
                self._dirs += blocks
                self._removed_dirs += blocks if removed else 0
                continue
            node = self._inodes.setdefault(ident, [blocks, st.st_nlink, 0, 0])
            node[2] += 1
            node[3] += removed

    @property
    def size(self) -> int:
        return self._dirs + sum(node[0] for node in self._inodes.values())

    @property
    def freed(self) -> int:
        return self._removed_dirs + sum(blocks for blocks, links, _, gone in
                                        self._inodes.values() if gone and gone >= links)


def disk_usage(root: Path, skip: Iterable[Path] = ()) -> DiskUsage:
    """Allocated bytes under `root` with each inode counted once, and unreadable directories.

    `skip` names directories left out entirely (a conda base env's `envs/` and `pkgs/`).
    """
    problems: list[Problem] = []
    tally = Tally()
    tally.add(root, problems, skip)
    return DiskUsage(tally.size, tally.freed, problems)


UNMEASURED = DiskUsage(None, None, [])
"""For reads that skip the size walk."""


def newest_mtime(paths: Iterable[str | os.PathLike[str]]) -> float | None:
    """The newest mtime among `paths` that exist (symlinks themselves, not their targets)."""
    newest: float | None = None
    for p in paths:
        try:
            m = os.lstat(p).st_mtime
        except (OSError, ValueError):
            continue
        if newest is None or m > newest:
            newest = m
    return newest


def iso(ts: float | None) -> str | None:
    """A POSIX timestamp as ISO 8601 in UTC, to the second."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).replace(microsecond=0).isoformat()


_ACTIVATION_SCRIPTS = ("activate", "activate.fish", "activate.csh", "Activate.ps1",
                      "activate.bat", "python")


def newest_use(prefix: str | os.PathLike[str],
               evidence: Iterable[str | os.PathLike[str]] = ()) -> float | None:
    """The newest mtime of the prefix, its script directory and activation scripts (touched
    by use and installs) and `evidence`. A script directory that is absent is not looked
    into: this runs for every environment on every scan."""
    newest = newest_mtime([prefix, *evidence])
    for scripts in ("bin", "Scripts"):
        d = os.path.join(prefix, scripts)
        try:
            m = os.lstat(d).st_mtime
        except (OSError, ValueError):
            continue
        inside = newest_mtime([os.path.join(d, n) for n in _ACTIVATION_SCRIPTS])
        for value in (m, inside):
            if value is not None and (newest is None or value > newest):
                newest = value
    return newest


def last_used(prefix: Path, evidence: Iterable[Path] = ()) -> str | None:
    """ISO 8601 time of the newest evidence of use, or None when nothing could be read."""
    return iso(newest_use(prefix, evidence))
