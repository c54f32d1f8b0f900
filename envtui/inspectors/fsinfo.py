"""Size on disk and last use of an environment, from the filesystem alone.

Size: the allocated bytes (st_blocks * 512) of every file and directory under the prefix,
each (device, inode) counted once, so hardlinks made by uv or conda from their caches count
once per environment. Symlinks are counted as links, never followed; the walk stays on the
prefix's filesystem.

Last used: the newest modification time among the evidence that an environment was used or
changed: the prefix itself, its bin/Scripts directory and activation scripts, its
site-packages directories and metadata directories (an install or uninstall touches them),
conda-meta/history, and shell history files an inspector passes in. Access times are not
used: most filesystems mount with relatime/noatime, which makes them meaningless.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from envtui.model import Problem, ProblemKind


def disk_usage(root: Path, skip: Iterable[Path] = ()) -> tuple[int, list[Problem]]:
    """Allocated bytes under `root` with each inode counted once, and unreadable directories.

    `skip` names directories left out entirely (a conda base env's `envs/` and `pkgs/`).
    """
    skipped = {str(p) for p in skip}
    seen: set[tuple[int, int]] = set()
    problems: list[Problem] = []
    try:
        st = os.lstat(root)
    except OSError as e:
        return 0, [Problem(ProblemKind.UNREADABLE, f"{root}: unreadable ({e.strerror})")]
    dev = st.st_dev
    seen.add((st.st_dev, st.st_ino))
    total = st.st_blocks * 512
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
                try:
                    s = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                ident = (s.st_dev, s.st_ino)
                if ident in seen or entry.path in skipped:
                    continue
                seen.add(ident)
                total += s.st_blocks * 512
                if (entry.is_dir(follow_symlinks=False) and s.st_dev == dev
                        and entry.path not in skipped):
                    stack.append(entry.path)
    return total, problems


def newest_mtime(paths: Iterable[Path]) -> float | None:
    """The newest mtime among `paths` that exist (symlinks themselves, not their targets)."""
    newest: float | None = None
    for p in paths:
        try:
            m = os.lstat(p).st_mtime
        except OSError:
            continue
        if newest is None or m > newest:
            newest = m
    return newest


def iso(ts: float | None) -> str | None:
    """A POSIX timestamp as ISO 8601 in UTC, to the second."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).replace(microsecond=0).isoformat()


def activation_evidence(prefix: Path) -> list[Path]:
    """The prefix, its script directory and activation scripts: touched by use and installs."""
    out = [prefix]
    for scripts in ("bin", "Scripts"):
        d = prefix / scripts
        out.append(d)
        out += [d / n for n in ("activate", "activate.fish", "activate.csh", "Activate.ps1",
                                "activate.bat", "python")]
    return out


def last_used(prefix: Path, evidence: Iterable[Path] = ()) -> str | None:
    """ISO 8601 time of the newest evidence of use, or None when nothing could be read."""
    return iso(newest_mtime([*activation_evidence(prefix), *evidence]))
