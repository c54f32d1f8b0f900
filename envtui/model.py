"""Plain data shared by every layer: environments, packages and the problems found in them.

Models are frozen dataclasses so they can be cached, compared and handed between threads
freely. `to_dict` / `from_dict` give the JSON shape used by `--json` output and the cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any


class EnvKind(StrEnum):
    """What sort of environment this is."""

    VENV = "venv"
    CONDA = "conda"
    IMAGE = "image"
    CONTAINER = "container"


class ProblemKind(StrEnum):
    """Stable identifiers for problems; the contract in DESIGN.md lists them."""

    BROKEN = "broken"
    INVALID_METADATA = "invalid-metadata"
    UNREADABLE = "unreadable"
    INCOMPLETE = "incomplete"
    INTERRUPTED = "interrupted"
    DUPLICATE = "duplicate"
    CORRUPTED = "corrupted"
    SECURITY = "security"
    ENGINE = "engine"
    CONDA_PIP_MISMATCH = "conda-pip-mismatch"
    CONFLICT = "conflict"
    MISSING = "missing"
    CYCLE = "cycle"
    REQUIRES_PYTHON = "requires-python"
    PIN_CONFLICT = "pin-conflict"


@dataclass(frozen=True)
class Problem:
    """Something wrong with an environment or one of its packages."""

    kind: str
    """One of ProblemKind's values (kept a string so later issues can add kinds)."""
    detail: str
    """One human sentence, naming the file or package involved."""
    package: str | None = None
    """The package concerned, when there is one."""
    version: str | None = None
    """That package's installed version, when known."""
    requirement: str | None = None
    """The requirement involved, for dependency problems."""
    files: tuple[str, ...] = ()
    """`path:line` of each side, for contradictory pins in project files."""

    def __str__(self) -> str:
        return self.detail


@dataclass(frozen=True)
class Package:
    """One installed distribution: a Python dist-info/egg-info or a conda record."""

    name: str
    """The project name as its metadata spells it."""
    version: str
    """The installed version, verbatim (may be invalid; see `problems`)."""
    source: str = "python"
    """Where the record comes from: "python" (dist-info / egg-info) or "conda"."""
    installer: str | None = None
    """Who installed it: INSTALLER file contents (pip, uv, ...) or "conda"."""
    requires: tuple[str, ...] = ()
    """Requires-Dist lines (PEP 508) or conda `depends` match specs, verbatim."""
    requires_python: str | None = None
    """Requires-Python specifier, if declared."""
    summary: str | None = None
    """One-line summary from the metadata."""
    editable: bool = False
    """Installed in editable/develop mode (direct_url.json `dir_info.editable` or egg-link)."""
    direct_url: str | None = None
    """URL it was installed from when not from an index (direct_url.json), as pip writes a
    direct reference: `git+URL@commit` for a VCS checkout."""
    build: str | None = None
    """Conda build string."""
    channel: str | None = None
    """Conda channel the package came from."""
    requested: str | None = None
    """The spec the user asked for explicitly (conda history), if any."""
    location: str | None = None
    """The metadata directory or file this record was read from."""
    problems: tuple[Problem, ...] = ()
    """Problems with this one package (bad metadata, incomplete install, ...)."""

    @property
    def key(self) -> str:
        """PEP 503 normalised name, used to compare packages across sources."""
        return canonical_name(self.name)


@dataclass(frozen=True)
class Environment:
    """One environment of any kind, with everything inspection learned about it."""

    kind: EnvKind
    """venv, conda, image or container."""
    name: str
    """Short display name (directory name, conda env name, image tag, container name)."""
    manager: str
    """Tool that made or owns it: venv, virtualenv, uv, poetry, pipenv, pipx, conda, ..."""
    path: str | None = None
    """Filesystem prefix for venv / conda environments."""
    id: str | None = None
    """Docker image or container ID."""
    python: str | None = None
    """Python version (X.Y or X.Y.Z) when known, else None."""
    packages: tuple[Package, ...] = ()
    """Everything installed, sorted by normalised name."""
    size_bytes: int | None = None
    """Bytes on disk, each hardlinked inode counted once; Docker's own size for Docker."""
    reclaimable_bytes: int | None = None
    """Bytes removing it would free: files with no hardlink outside it (not uv's or conda's
    cache). For a container its writable layer; None when unknown (images)."""
    last_used: str | None = None
    """ISO 8601 time of the newest evidence of use, or None when there is none."""
    created: str | None = None
    """ISO 8601 creation time, when known."""
    problems: tuple[Problem, ...] = ()
    """Problems with the environment as a whole and with its packages."""
    base: bool = False
    """True for a conda installation's base environment."""
    details: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    """Kind-specific facts (image tags, container state, pyvenv.cfg home, ...)."""

    @property
    def ref(self) -> str:
        """How the command line names this environment (see DESIGN.md)."""
        if self.kind is EnvKind.IMAGE:
            return f"image:{self.name}"
        if self.kind is EnvKind.CONTAINER:
            return f"container:{self.name}"
        return self.path or self.name

    @property
    def all_problems(self) -> tuple[Problem, ...]:
        """Environment-level problems followed by every package's own."""
        return self.problems + tuple(p for pkg in self.packages for p in pkg.problems)


@dataclass(frozen=True)
class Inventory:
    """The result of one scan of the machine."""

    environments: tuple[Environment, ...]
    """Every environment found, in a stable order (kind, then name)."""
    problems: tuple[Problem, ...] = ()
    """Problems with the scan itself (Docker engine unreachable, unreadable roots)."""


def canonical_name(name: str) -> str:
    """PEP 503 normalisation without importing packaging on the hot path."""
    out: list[str] = []
    dash = False
    for ch in name.lower():
        if ch in "-_.":
            dash = True
            continue
        if dash and out:
            out.append("-")
        dash = False
        out.append(ch)
    return "".join(out)


def problem_to_dict(p: Problem) -> dict[str, Any]:
    d: dict[str, Any] = {"kind": p.kind, "detail": p.detail}
    for key in ("package", "version", "requirement"):
        value = getattr(p, key)
        if value is not None:
            d[key] = value
    if p.files:
        d["files"] = list(p.files)
    return d


_PACKAGE_FIELDS = tuple(f.name for f in fields(Package))


def package_to_dict(p: Package) -> dict[str, Any]:
    # Field by field rather than dataclasses.asdict, whose deep copy made this the main
    # cost of writing the cache.
    d = {name: getattr(p, name) for name in _PACKAGE_FIELDS}
    d["requires"] = list(p.requires)
    d["problems"] = [problem_to_dict(x) for x in p.problems]
    return d


def environment_to_dict(env: Environment, *, with_packages: bool = True) -> dict[str, Any]:
    """The JSON shape of `list --json` (counts) and `show --json` (full packages)."""
    d: dict[str, Any] = {
        "kind": env.kind.value,
        "name": env.name,
        "ref": env.ref,
        "path": env.path,
        "id": env.id,
        "manager": env.manager,
        "python": env.python,
        "packages": len(env.packages),
        "size_bytes": env.size_bytes,
        "reclaimable_bytes": env.reclaimable_bytes,
        "last_used": env.last_used,
        "created": env.created,
        "base": env.base,
        "problems": [str(p) for p in env.all_problems],
        "problem_details": [problem_to_dict(p) for p in env.all_problems],
        "details": env.details,
    }
    if with_packages:
        d["packages"] = [package_to_dict(p) for p in env.packages]
    return d


def problem_from_dict(d: dict[str, Any]) -> Problem:
    """Inverse of `problem_to_dict`."""
    return Problem(**{**d, "files": tuple(d.get("files", ()))})


def package_from_dict(d: dict[str, Any]) -> Package:
    d = dict(d)
    d["requires"] = tuple(d.get("requires", ()))
    d["problems"] = tuple(problem_from_dict(x) for x in d.get("problems", ()))
    return Package(**d)


def environment_from_dict(d: dict[str, Any]) -> Environment:
    """Inverse of `environment_to_dict(with_packages=True)`; used by the cache and fixtures."""
    return Environment(
        kind=EnvKind(d["kind"]),
        name=d["name"],
        manager=d["manager"],
        path=d.get("path"),
        id=d.get("id"),
        python=d.get("python"),
        packages=tuple(package_from_dict(p) for p in d.get("packages", ())),
        size_bytes=d.get("size_bytes"),
        reclaimable_bytes=d.get("reclaimable_bytes"),
        last_used=d.get("last_used"),
        created=d.get("created"),
        problems=tuple(problem_from_dict(p) for p in d.get("env_problems", ())),
        base=d.get("base", False),
        details=d.get("details", {}),
    )


def environment_to_cache(env: Environment) -> dict[str, Any]:
    """Full round-trippable form: like `environment_to_dict` but keeps env-level problems apart."""
    d = environment_to_dict(env)
    d["env_problems"] = [problem_to_dict(p) for p in env.problems]
    return d
