"""How two environments (or an environment and a file, or two files) differ.

Packages are matched by normalised name. A conda record and a pip dist of one name are the
same package (an env built from an environment.yml's pip section, compared with the conda
env it came from, must come out identical). A side whose file gives a constraint instead of
a version (`numpy>=1.20`, `python=3.11`) agrees with any version that satisfies it. Builds
and channels are compared only when both sides record them, so a portable export (no
builds) matches the environment it came from.

`python` is compared on its own line, at the precision both sides know (3.11 matches
3.11.9), and never listed as a package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from envtui.exchange.spec import CONDA, EnvSpec, Pin
from envtui.model import canonical_name


@dataclass(frozen=True)
class Change:
    """One package present on both sides with something different."""

    a: Pin
    b: Pin
    what: tuple[str, ...]
    """Which facts differ: "version", "build", "channel"."""


@dataclass
class Difference:
    a: EnvSpec
    b: EnvSpec
    added: list[Pin] = field(default_factory=list)
    """Only in B."""
    removed: list[Pin] = field(default_factory=list)
    """Only in A."""
    changed: list[Change] = field(default_factory=list)
    python: tuple[str | None, str | None] = (None, None)
    python_differs: bool = False
    platform: tuple[str | None, str | None] = (None, None)
    platform_differs: bool = False

    @property
    def identical(self) -> bool:
        return not (self.added or self.removed or self.changed or self.python_differs
                    or self.platform_differs)

    def count(self) -> int:
        return (len(self.added) + len(self.removed) + len(self.changed)
                + self.python_differs + self.platform_differs)


def diff(a: EnvSpec, b: EnvSpec) -> Difference:
    out = Difference(a, b, python=(_python(a), _python(b)), platform=(a.platform, b.platform))
    out.python_differs = not _same_python(*out.python)
    out.platform_differs = None not in out.platform and a.platform != b.platform
    left, right = _by_name(a), _by_name(b)
    for key in sorted(left.keys() | right.keys()):
        pa, pb = left.get(key), right.get(key)
        if pa is None and pb is not None:
            out.added.append(pb)
        elif pb is None and pa is not None:
            out.removed.append(pa)
        elif pa is not None and pb is not None:
            what = _differences(pa, pb)
            if what:
                out.changed.append(Change(pa, pb, what))
    return out


def _by_name(spec: EnvSpec) -> dict[str, Pin]:
    """One pin per name; when conda and pip both have it, pip's (the one Python imports)."""
    out: dict[str, Pin] = {}
    for pin in spec.pins:
        key = canonical_name(pin.name)
        if key == "python" or (key == "pip" and pin.manager == CONDA and not pin.version):
            continue  # python has its own line; a bare `pip` only enables a pip: section
        if key not in out or pin.manager != CONDA:
            out[key] = pin
    return out


def _python(spec: EnvSpec) -> str | None:
    return spec.python or next((p.version for p in spec.conda if p.key == "python"), None)


def _same_python(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return True  # one side does not say: nothing to disagree with
    a, b = a.strip("=.*"), b.strip("=.*")
    n = min(a.count("."), b.count(".")) + 1
    return a.split(".")[:n] == b.split(".")[:n]


def _differences(a: Pin, b: Pin) -> tuple[str, ...]:
    what = []
    if not _same_version(a, b):
        what.append("version")
    if a.manager == b.manager == CONDA:
        if a.build and b.build and a.build != b.build:
            what.append("build")
        if a.channel and b.channel and _channel(a.channel) != _channel(b.channel):
            what.append("channel")
    return tuple(what)


def _channel(channel: str) -> str:
    return channel.rstrip("/").rsplit("/", 1)[-1] if "://" in channel else channel


def _same_version(a: Pin, b: Pin) -> bool:
    if a.version == b.version or not a.version or not b.version:
        return True
    if _is_exact(a.version) and _is_exact(b.version):
        return _equal_versions(a.version, b.version)
    exact, constraint = (a, b) if _is_exact(a.version) else (b, a)
    if not _is_exact(exact.version):
        return False  # two constraints: nothing installed to check either against
    return _satisfies(exact.version, constraint)


def _is_exact(version: str) -> bool:
    return not any(c in version for c in "<>=!~*, |")


def _equal_versions(a: str, b: str) -> bool:
    from packaging.version import Version

    try:
        return Version(a) == Version(b)
    except ValueError:  # InvalidVersion, or a number over int()'s 4,300-digit limit
        return a == b


def _satisfies(version: str, constraint: Pin) -> bool:
    if constraint.manager == CONDA:
        from rattler import Version as CondaVersion
        from rattler import VersionSpec

        try:
            return bool(VersionSpec(constraint.version).matches(CondaVersion(version)))
        except Exception:  # rattler's parse errors: an unreadable constraint is a difference
            return False
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    try:
        return Version(version) in SpecifierSet(constraint.version, prereleases=True)
    except ValueError:  # InvalidSpecifier, InvalidVersion, or over int()'s digit limit
        return False


def pin_text(pin: Pin | None) -> str:
    """`1.26.4`, with `=build` and `(channel)` for conda records that have them."""
    if pin is None:
        return "-"
    text = pin.version or "any"
    if pin.manager == CONDA:
        text += f"={pin.build}" if pin.build else ""
        text += f" ({_channel(pin.channel)})" if pin.channel else ""
    elif pin.url:
        text += f" ({'editable ' if pin.editable else ''}{pin.url})"
    return text


def pin_to_dict(pin: Pin) -> dict[str, Any]:
    d: dict[str, Any] = {"name": pin.name, "version": pin.version, "manager": pin.manager}
    for key in ("build", "channel", "url"):
        if getattr(pin, key):
            d[key] = getattr(pin, key)
    if pin.editable:
        d["editable"] = True
    return d


def difference_to_dict(d: Difference) -> dict[str, Any]:
    """The `diff --json` shape of DESIGN.md (keys may be added, never renamed)."""
    return {
        "a": d.a.origin,
        "b": d.b.origin,
        "identical": d.identical,
        "added": [pin_to_dict(p) for p in d.added],
        "removed": [pin_to_dict(p) for p in d.removed],
        "changed": [{"name": c.a.name, "a": c.a.version, "b": c.b.version,
                     "differs": list(c.what), "a_detail": pin_to_dict(c.a),
                     "b_detail": pin_to_dict(c.b)} for c in d.changed],
        "python": {"a": d.python[0], "b": d.python[1], "differs": d.python_differs},
        "platform": {"a": d.platform[0], "b": d.platform[1], "differs": d.platform_differs},
    }
