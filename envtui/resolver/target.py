"""The environment a resolution is for, worked out statically: Python version, markers, tags.

Candidates are filtered for the target, never for the interpreter envtui runs on: a fix for
a Python 3.11 venv must not pick a wheel only 3.13 can import.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags, platform_tags
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from envtui.model import Environment


class TargetError(ValueError):
    """A Python version that cannot be a target (printed as one line)."""


@dataclass(frozen=True)
class Target:
    """Python version, PEP 508 marker values and wheel tags of the environment to resolve for."""

    python: Version
    """The full Python version (X.Y.Z; X.Y.0 when only X.Y is known)."""
    markers: dict[str, str] = field(hash=False, compare=False)
    tags: tuple[Tag, ...] = field(hash=False, compare=False)
    """Supported wheel tags, most preferred first."""

    @functools.cached_property
    def _tag_rank(self) -> dict[Tag, int]:
        return {tag: i for i, tag in enumerate(self.tags)}

    def wheel_rank(self, filename: str) -> int | None:
        """How good a wheel is for this target (lower is better); None when unusable."""
        try:
            _, _, _, tags = parse_wheel_filename(filename)
        except InvalidWheelFilename:
            return None
        ranks = [self._tag_rank[t] for t in tags if t in self._tag_rank]
        return min(ranks) if ranks else None

    def accepts_python(self, requires_python: str | None) -> bool:
        """Whether a Requires-Python specifier admits the target (a bad one admits all, as pip)."""
        if not requires_python:
            return True
        try:
            return SpecifierSet(requires_python).contains(self.python, prereleases=True)
        except InvalidSpecifier:
            return True


def python_target(version: str, markers: dict[str, str] | None = None) -> Target:
    """A target running CPython `version` (X.Y or X.Y.Z) on this machine's platform."""
    from packaging.markers import default_environment

    try:
        parsed = Version(version)
    except InvalidVersion:
        raise TargetError(f"{version!r} is not a Python version (expected X.Y or X.Y.Z)") from None
    release = parsed.release
    if len(release) < 2 or release[0] != 3:
        raise TargetError(f"{version!r} is not a Python 3 version (expected X.Y or X.Y.Z)")
    full = ".".join(str(p) for p in (*release, 0, 0)[:3])
    values = dict(markers) if markers else {k: str(v) for k, v in default_environment().items()}
    values.update(python_version=f"{release[0]}.{release[1]}", python_full_version=full,
                  implementation_version=full)
    major_minor = (release[0], release[1])
    platforms = list(platform_tags())
    tags = (*cpython_tags(major_minor, platforms=platforms),
            *compatible_tags(major_minor, f"cp{release[0]}{release[1]}", platforms))
    return Target(python=Version(full), markers=values, tags=tags)


def environment_target(env: Environment) -> Target:
    """The target for an inspected environment: its own Python, its platform."""
    from envtui.resolver.graph import marker_environment

    if not env.python:
        raise TargetError(f"{env.ref}: its Python version is unknown, so nothing can be "
                          "resolved for it")
    return python_target(env.python, marker_environment(env))
