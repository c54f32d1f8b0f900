"""What an environment is made of, independent of where it was read: the exchange model.

Export writes an `EnvSpec` in some file format, import reads one back and builds it, and
diff compares two. An environment read from disk and a file read from a collaborator
become the same shape, so "env vs file" and "file vs file" are the same comparison.

Reading an environment is static (DESIGN principle 1): the inventory's packages, plus the
download URL and hashes that conda records keep in `conda-meta/*.json`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from envtui.model import Environment, EnvKind, Package, canonical_name

if TYPE_CHECKING:
    from envtui.exchange.requirements_file import RequirementsFile

CONDA, PIP = "conda", "pip"
"""The two managers a pin can belong to (conda-lock's `manager` values)."""


class ExchangeError(ValueError):
    """A file or environment that cannot be exported, read or imported: one line, naming it."""


@dataclass(frozen=True)
class Pin:
    """One package at one version, as a lock or environment file records it."""

    name: str
    version: str
    manager: str = PIP
    """CONDA or PIP."""
    build: str | None = None
    """Conda build string."""
    channel: str | None = None
    """Conda channel name or URL."""
    subdir: str | None = None
    """Conda platform directory (linux-64, noarch, ...)."""
    url: str | None = None
    """Where the exact artifact lives: a conda package URL, or a pip direct URL."""
    md5: str | None = None
    sha256: str | None = None
    hashes: tuple[str, ...] = ()
    """`algorithm:hex` digests from a requirements line's --hash options: the file the
    installer picks must match one of them."""
    depends: tuple[str, ...] = ()
    """Conda match specs or PEP 508 requirements this package declares."""
    editable: bool = False
    """A pip editable install (`url` is then its source directory)."""
    requested: str | None = None
    """The spec the user asked for (conda history), when this package was asked for."""

    @property
    def key(self) -> str:
        """The name compared across files: PEP 503 normalised for pip, lower case for conda."""
        return canonical_name(self.name) if self.manager == PIP else self.name.lower()


@dataclass(frozen=True)
class EnvSpec:
    """An environment's packages and the facts needed to rebuild it elsewhere."""

    origin: str
    """Where it was read: an environment's ref or a file path (for headers and messages)."""
    kind: str
    """EnvKind value of what it describes: venv, conda, image or container."""
    name: str | None = None
    python: str | None = None
    """X.Y or X.Y.Z."""
    platform: str | None = None
    """Conda subdir of the conda packages (linux-64, osx-arm64, ...), when known."""
    channels: tuple[str, ...] = ()
    pins: tuple[Pin, ...] = ()
    """Conda pins first, then pip's, each sorted by key."""
    notes: tuple[str, ...] = field(default=(), compare=False)
    """What the reader noticed and the user should see (skipped lines, guesses)."""
    requirements: RequirementsFile | None = field(default=None, compare=False)
    """The requirement lines as read, with their options and flags (files only)."""

    @property
    def conda(self) -> tuple[Pin, ...]:
        return tuple(p for p in self.pins if p.manager == CONDA)

    @property
    def pip(self) -> tuple[Pin, ...]:
        return tuple(p for p in self.pins if p.manager == PIP)


def sorted_pins(pins: list[Pin] | tuple[Pin, ...]) -> tuple[Pin, ...]:
    return tuple(sorted(pins, key=lambda p: (p.manager != CONDA, p.key, p.version)))


def from_environment(env: Environment) -> EnvSpec:
    """The spec of an inspected environment. Raises ExchangeError when it cannot be read."""
    if env.kind is EnvKind.CONDA and env.path and not (Path(env.path) / "conda-meta").is_dir():
        raise ExchangeError(f"{env.ref}: conda-meta is missing")
    pins = [_pin(p) for p in env.packages]
    channels = tuple(dict.fromkeys(p.channel for p in pins if p.channel))
    subdirs = sorted({p.subdir for p in pins if p.subdir and p.subdir != "noarch"})
    name = "base" if env.base else env.name
    return EnvSpec(origin=env.ref, kind=env.kind.value, name=name, python=env.python,
                   platform=subdirs[0] if len(subdirs) == 1 else None, channels=channels,
                   pins=sorted_pins(pins))


def _pin(pkg: Package) -> Pin:
    if pkg.source != "conda":
        return Pin(name=pkg.name, version=pkg.version, manager=PIP, url=pkg.direct_url,
                   editable=pkg.editable, depends=pkg.requires)
    pin = Pin(name=pkg.name, version=pkg.version, manager=CONDA, build=pkg.build,
              channel=pkg.channel, depends=pkg.requires, requested=pkg.requested)
    facts = _record_facts(pkg.location)
    return replace(pin, url=facts.get("url"), md5=facts.get("md5"), sha256=facts.get("sha256"),
                   subdir=facts.get("subdir"))


def _record_facts(location: str | None) -> dict[str, str]:
    """url, md5, sha256 and subdir from the conda-meta record (never raises: bad records
    were already reported by the inspector, and a lock export then says what is missing)."""
    if not location:
        return {}
    try:
        data = json.loads(Path(location).read_bytes())
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    out = {k: data[k] for k in ("url", "md5", "sha256", "subdir") if isinstance(data.get(k), str)}
    if "subdir" not in out and "url" in out:
        parts = out["url"].rsplit("/", 2)
        if len(parts) == 3:
            out["subdir"] = parts[1]
    return out
