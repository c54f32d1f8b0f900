"""The contract every environment inspector implements, and what a scan hands it.

An inspector knows one kind of environment. Discovery asks each registered inspector for
the places it knows about (`locate`), asks every inspector whether a directory met during
the filesystem walk is one of its environments (`identify`), and then reads each location
(`read`) in a thread pool, consulting the persistent cache with `fingerprint` first.

Inspectors must never run code from an inspected environment (DESIGN.md principle 1).
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from envtui.model import Environment, EnvKind, Problem


@dataclass(frozen=True)
class Location:
    """Where one environment is, plus whatever the finder already learned about it."""

    kind: EnvKind
    """The kind of environment expected here."""
    ref: str
    """Absolute prefix path for filesystem kinds; image/container ID for Docker."""
    hint: str | None = None
    """Manager implied by where it was found (pipx, poetry, pipenv, uv-tool, pixi, ...)."""
    base: bool = False
    """A conda installation's root (base) environment."""
    data: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    """Facts from the listing that found it (Docker's attrs), so `read` need not ask again."""


@dataclass
class ScanContext:
    """Everything a scan depends on, passed explicitly so tests control all of it."""

    home: Path
    """The user's home directory (the walk's default root)."""
    environ: Mapping[str, str]
    """Environment variables to honour (CONDA_PREFIX, WORKON_HOME, DOCKER_HOST, ...)."""
    roots: tuple[Path, ...] = ()
    """Extra roots to walk, from `--root` and the config file."""
    exclude: tuple[Path, ...] = ()
    """Directories never walked (from the config file)."""
    walk_home: bool = True
    """Walk the home directory for project environments (off when only --root is wanted)."""
    max_depth: int = 6
    """How deep the walk descends below each root."""
    kinds: frozenset[EnvKind] = frozenset(EnvKind)
    """Which kinds to look for (`list --kind`)."""
    stale_days: int = 90
    """Unused for this many days makes an environment stale (cleanup)."""
    now: datetime | None = None
    """The time staleness is measured at; None means the current time (tests fix it)."""
    _problems: list[Problem] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_process(cls, **kwargs: Any) -> ScanContext:
        """A context for the real user: this process's HOME and environment."""
        return cls(home=Path.home(), environ=dict(os.environ), **kwargs)

    def fresh(self) -> ScanContext:
        """A copy with the same settings and no problems reported yet (one per scan)."""
        return replace(self, _problems=[], _lock=threading.Lock())

    def report(self, problem: Problem) -> None:
        """Record a problem with the scan itself (not with one environment). Thread-safe."""
        with self._lock:
            self._problems.append(problem)

    @property
    def cache_dir(self) -> Path:
        """Where the persistent cache lives ($XDG_CACHE_HOME/envtui)."""
        from envtui.inspectors.cache import default_cache_dir

        return default_cache_dir(self.home, self.environ)

    @property
    def problems(self) -> tuple[Problem, ...]:
        with self._lock:
            return tuple(self._problems)


class Inspector(ABC):
    """One kind of environment: how to find it and how to read it statically."""

    kind: ClassVar[EnvKind]
    markers: ClassVar[frozenset[str]] = frozenset()
    """Entry names whose presence in a walked directory means `identify` should be asked."""

    @abstractmethod
    def locate(self, ctx: ScanContext) -> Iterable[Location]:
        """Yield the environments this kind keeps in well-known places (no deep walk).

        Report unreachable sources with `ctx.report` and yield nothing for them; never raise
        for an expected failure (missing directory, engine down, permission denied).
        """

    def identify(self, path: Path) -> Location | None:
        """Say whether the directory `path`, met during the walk, is one of ours.

        Called for every directory walked, so it must cost at most a stat or two.
        Kinds that do not live on the filesystem keep the default.
        """
        return None

    @abstractmethod
    def fingerprint(self, loc: Location) -> str | None:
        """A cheap string that changes whenever `read(loc)` would return something new.

        None means "do not cache". Never read package metadata here: that is what is cached.
        """

    @abstractmethod
    def read(self, loc: Location) -> Environment:
        """Inspect one environment fully and statically.

        Problems with it (broken interpreter, unreadable files, bad metadata) go into the
        returned Environment, not into exceptions.
        """

    def read_without_sizes(self, loc: Location) -> Environment:
        """`read` without what needs a walk of every file (size and reclaimable bytes, left
        None), for callers that want packages only (`check`). Kinds whose size costs
        nothing extra keep this default."""
        return self.read(loc)
