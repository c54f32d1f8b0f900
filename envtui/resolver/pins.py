"""Contradictory pins in a project's files: requirements no single version can satisfy.

`check_project` reads a project (see project_files) and, for each package, asks whether the
requirements that can apply at the same time leave any version. "At the same time" is decided
by evaluating markers under representative environments (CPython and PyPy 3.8-3.14 on Linux,
macOS and Windows, within the project's `requires-python`) with every extra and dependency
group selected, except those `[tool.uv] conflicts` declares mutually exclusive. So
`numpy==1.26.*; python_version < "3.10"` and `numpy>=2; python_version >= "3.10"` never alarm.

Satisfiability is decided exactly over a finite candidate set built from the version literals
the specifiers mention (see `candidate_versions`), which hits every region of the version line
the specifiers can tell apart. Each contradiction is reported once, naming just the
requirements involved in it (the union of its minimal unsatisfiable subsets) with `path:line`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from packaging.markers import Marker
from packaging.specifiers import Specifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from envtui.model import Problem, ProblemKind
from envtui.resolver.project_files import Pin, ProjectFiles, read_project

__all__ = [
    "candidate_versions",
    "check_project",
    "find_contradictions",
    "find_version",
    "marker_environments",
    "read_project",
]

PYTHON_MINORS = tuple(range(8, 15))
"""Python 3 minor versions under which markers are evaluated."""

_PLATFORMS: tuple[dict[str, str], ...] = (
    {"sys_platform": "linux", "os_name": "posix", "platform_system": "Linux",
     "platform_machine": "x86_64"},
    {"sys_platform": "linux", "os_name": "posix", "platform_system": "Linux",
     "platform_machine": "aarch64"},
    {"sys_platform": "darwin", "os_name": "posix", "platform_system": "Darwin",
     "platform_machine": "arm64"},
    {"sys_platform": "darwin", "os_name": "posix", "platform_system": "Darwin",
     "platform_machine": "x86_64"},
    {"sys_platform": "win32", "os_name": "nt", "platform_system": "Windows",
     "platform_machine": "AMD64"},
)
_IMPLEMENTATIONS = (("cpython", "CPython"), ("pypy", "PyPy"))

_EXHAUSTIVE_LIMIT = 16
"""Up to this many requirements on one package, every minimal contradiction is found."""


def check_project(path: Path) -> list[Problem]:
    """Problems with the project directory (or single file) `path`: files that cannot be
    read, entries that cannot be parsed, then one `pin-conflict` per contradiction."""
    project = read_project(path)
    return [*project.problems, *find_contradictions(project)]


def find_contradictions(project: ProjectFiles) -> list[Problem]:
    """One `pin-conflict` problem per group of requirements on one package that can apply
    together and that no version satisfies, in reading order."""
    by_name: dict[str, list[Pin]] = {}
    for pin in project.pins:
        if pin.specifiers:
            by_name.setdefault(pin.name, []).append(pin)
    tags = frozenset(t for p in project.pins for t in p.groups)
    selections = _selections(tags, project.exclusive)
    markers = _Markers(marker_environments(project.requires_python))
    found: list[tuple[int, Problem]] = []
    order = {pin: i for i, pin in enumerate(project.pins)}
    for name, pins in by_name.items():
        for group in _contradictory_groups(pins, markers, selections):
            members = [pins[i] for i in sorted(group)]
            found.append((order[members[0]], _problem(name, members)))
    return [p for _, p in sorted(found, key=lambda item: item[0])]


def find_version(specifier_sets: Iterable[SpecifierSet | str]) -> str | None:
    """A version satisfying every one of `specifier_sets` (pre-releases allowed), or None
    when no version can."""
    sets = [s if isinstance(s, SpecifierSet) else SpecifierSet(s) for s in specifier_sets]
    table = _Table([(s,) for s in sets])
    return table.witness(range(len(sets)))


def marker_environments(requires_python: SpecifierSet | None = None) -> list[dict[str, str]]:
    """Representative marker environments, kept to those `requires_python` allows (all of
    them if it allows none)."""
    out: list[dict[str, str]] = []
    for minor in PYTHON_MINORS:
        for patch in (0, 99):
            full = f"3.{minor}.{patch}"
            for implementation, python in _IMPLEMENTATIONS:
                for platform in _PLATFORMS:
                    out.append({
                        **platform, "python_version": f"3.{minor}", "python_full_version": full,
                        "implementation_name": implementation, "implementation_version": full,
                        "platform_python_implementation": python, "platform_release": "",
                        "platform_version": "", "extra": "",
                    })
    if requires_python is not None:
        allowed = [e for e in out
                   if requires_python.contains(e["python_full_version"], prereleases=True)]
        return allowed or out
    return out


# --------------------------------------------------------------------------- satisfiability


def candidate_versions(specifiers: Iterable[Specifier]) -> list[str]:
    """Versions such that, if any version satisfies a combination of `specifiers`, one of
    these does.

    Every literal's release is a "family"; a wildcard or `~=` also adds the release its prefix
    ends at. Within a family the candidates are the release with each mix of pre-, post- and
    dev-parts taken from the literals, their successors and zero; between families, a plain
    release just below each family (above every lower one) and one above it. The literals
    themselves are added as written, which covers `===` and local versions.
    """
    families: dict[tuple[int, tuple[int, ...]], list[Version]] = {}
    literal_texts: set[str] = set()

    def family(epoch: int, release: tuple[int, ...], version: Version | None = None) -> None:
        key = (epoch, _strip_zeros(release))
        families.setdefault(key, [])
        if version is not None:
            families[key].append(version)

    for spec in specifiers:
        text = spec.version
        if spec.operator == "===" or not text.endswith(".*"):
            literal_texts.add(text)
        try:
            version = Version(text[:-2] if text.endswith(".*") else text)
        except InvalidVersion:
            continue  # an arbitrary `===` string: only the literal itself can match it
        family(version.epoch, version.release, version)
        prefix = None
        if text.endswith(".*"):
            prefix = version.release
        elif spec.operator == "~=":
            prefix = version.release[:-1]
        if prefix:
            family(version.epoch, prefix)
            family(version.epoch, (*prefix[:-1], prefix[-1] + 1))
    if not families:
        return sorted(literal_texts)
    # A component bigger than any literal's puts "just below" above every lower family.
    big = 1 + max((c for _, release in families for c in release), default=0)
    out: set[str] = set(literal_texts)
    for (epoch, release), versions in families.items():
        out |= _family_candidates(epoch, release, versions)
        out.add(_format(epoch, (*release, 1)))
        if release:
            out.add(_format(epoch, (*release[:-1], release[-1] - 1, big)))
    return sorted(out)


def _strip_zeros(release: tuple[int, ...]) -> tuple[int, ...]:
    end = len(release)
    while end and release[end - 1] == 0:
        end -= 1
    return release[:end]


def _family_candidates(epoch: int, release: tuple[int, ...],
                       versions: Sequence[Version]) -> set[str]:
    pres: set[tuple[str, int] | None] = {None, ("a", 0)}
    posts: set[int | None] = {None, 0}
    devs: set[int | None] = {None, 0}
    for v in versions:
        if v.pre is not None:
            pres |= {v.pre, (v.pre[0], v.pre[1] + 1)}
        if v.post is not None:
            posts |= {v.post, v.post + 1}
        if v.dev is not None:
            devs |= {v.dev, v.dev + 1}
    return {_format(epoch, release, pre, post, dev)
            for pre in pres for post in posts for dev in devs}


def _format(epoch: int, release: tuple[int, ...], pre: tuple[str, int] | None = None,
            post: int | None = None, dev: int | None = None) -> str:
    text = f"{epoch}!" if epoch else ""
    text += ".".join(str(c) for c in release or (0,))
    if pre is not None:
        text += f"{pre[0]}{pre[1]}"
    if post is not None:
        text += f".post{post}"
    if dev is not None:
        text += f".dev{dev}"
    return text


def _matches(spec: Specifier, text: str, version: Version | None) -> bool:
    """PEP 440 membership with pre-releases allowed; `===` compares the text itself."""
    if spec.operator == "===":
        return text.lower() == spec.version.lower()
    return version is not None and spec.contains(version, prereleases=True)


class _Table:
    """Which candidate versions each requirement allows, as one bitmask per requirement."""

    def __init__(self, requirements: Sequence[tuple[SpecifierSet, ...]]) -> None:
        specs = [s for alternatives in requirements for sset in alternatives for s in sset]
        self.candidates = candidate_versions(specs)
        parsed: list[Version | None] = []
        for text in self.candidates:
            try:
                parsed.append(Version(text))
            except InvalidVersion:
                parsed.append(None)
        self.masks: list[int] = []
        for alternatives in requirements:
            mask = 0
            for bit, (text, version) in enumerate(zip(self.candidates, parsed, strict=True)):
                if any(all(_matches(s, text, version) for s in sset) for sset in alternatives):
                    mask |= 1 << bit
            self.masks.append(mask)
        self.everything = (1 << len(self.candidates)) - 1

    def allowed(self, indices: Iterable[int]) -> int:
        mask = self.everything
        for i in indices:
            mask &= self.masks[i]
        return mask

    def witness(self, indices: Iterable[int]) -> str | None:
        mask = self.allowed(indices)
        return self.candidates[(mask & -mask).bit_length() - 1] if mask else None

    def involved(self, indices: Sequence[int]) -> frozenset[int]:
        """The requirements among `indices` that belong to some minimal contradiction (all of
        them when small; one minimal contradiction otherwise)."""
        if len(indices) > _EXHAUSTIVE_LIMIT:
            core = list(indices)
            for i in list(core):
                rest = [j for j in core if j != i]
                if not self.allowed(rest):
                    core = rest
            return frozenset(core)
        minimal: list[frozenset[int]] = []
        for size in range(1, len(indices) + 1):
            for subset in itertools.combinations(indices, size):
                chosen = frozenset(subset)
                if any(m <= chosen for m in minimal):
                    continue
                if not self.allowed(subset):
                    minimal.append(chosen)
        return frozenset().union(*minimal)


# --------------------------------------------------------------------------- applicability


def _selections(tags: frozenset[str],
                exclusive: Sequence[frozenset[str]]) -> list[frozenset[str]]:
    """The largest sets of extras/groups that can be selected together. Selecting more only
    adds requirements, so checking these finds every contradiction."""
    rules = [rule & tags for rule in exclusive if len(rule & tags) > 1]
    if not rules:
        return [tags]
    out: set[frozenset[str]] = set()
    for picks in itertools.product(*[sorted(rule) for rule in rules]):
        dropped = {t for rule, pick in zip(rules, picks, strict=True) for t in rule if t != pick}
        chosen = tags - dropped
        if all(len(rule & chosen) <= 1 for rule in rules):
            out.add(chosen)
    return sorted(out, key=sorted)


class _Markers:
    """Marker evaluation under the representative environments, memoised: a project repeats
    the same few markers on many requirements."""

    def __init__(self, environments: Sequence[Mapping[str, str]]) -> None:
        self.environments = environments
        self._memo: dict[tuple[str, int, tuple[str, ...]], bool] = {}

    def holds(self, marker: Marker, text: str, environment: int,
              extras: tuple[str, ...]) -> bool:
        """True when `marker` (spelled `text`) holds in environment number `environment` for
        one of the selected `extras` (or none); a marker that cannot be evaluated is taken to
        apply, as a resolver would have to consider it."""
        key = (text, environment, extras)
        if key not in self._memo:
            env = self.environments[environment]
            try:
                value = any(marker.evaluate({**env, "extra": extra}) for extra in extras)
            except Exception:  # packaging's UndefinedComparison, UndefinedEnvironmentName...
                value = True
            self._memo[key] = value
        return self._memo[key]


def _literal_satisfies_all(pins: Sequence[Pin]) -> bool:
    """True when one of the versions the pins spell out satisfies every one of them."""
    texts = {s.version.removesuffix(".*") for p in pins for sset in p.specifiers for s in sset}
    for text in sorted(texts):
        try:
            version: Version | None = Version(text)
        except InvalidVersion:
            version = None
        if all(any(all(_matches(s, text, version) for s in sset) for sset in p.specifiers)
               for p in pins):
            return True
    return False


def _contradictory_groups(pins: Sequence[Pin], markers: _Markers,
                          selections: Sequence[frozenset[str]]) -> list[frozenset[int]]:
    """Indices into `pins` of each distinct contradiction, largest first among overlaps."""
    if _literal_satisfies_all(pins):
        return []  # the common case, decided without building the candidate table
    table = _Table([p.specifiers for p in pins])
    if not any(p.marker is not None or p.groups for p in pins):
        everything = tuple(range(len(pins)))
        return [] if table.allowed(everything) else [table.involved(everything)]
    texts = [str(p.marker) for p in pins]
    tried: set[tuple[int, ...]] = set()
    groups: list[frozenset[int]] = []
    for selected in selections:
        extras = ("", *sorted(t.removeprefix("extra:") for t in selected
                              if t.startswith("extra:")))
        for environment in range(len(markers.environments)):
            applicable = tuple(
                i for i, p in enumerate(pins)
                if (not p.groups or p.groups & selected)
                and (p.marker is None or markers.holds(p.marker, texts[i], environment, extras)))
            if applicable in tried:
                continue
            tried.add(applicable)
            if not table.allowed(applicable):
                groups.append(table.involved(applicable))
    kept = [g for g in set(groups) if not any(g < other for other in groups)]
    return sorted(kept, key=min)


def _problem(name: str, pins: Sequence[Pin]) -> Problem:
    sides = [f"{p.text} ({p.where})" for p in pins]
    if len(sides) == 1:
        verdict = f"{sides[0]} cannot be satisfied"
    elif len(sides) == 2:
        verdict = f"{sides[0]} and {sides[1]} cannot both be satisfied"
    else:
        verdict = f"{', '.join(sides[:-1])} and {sides[-1]} cannot all be satisfied together"
    return Problem(kind=ProblemKind.PIN_CONFLICT, detail=f"{name}: {verdict}", package=name,
                   requirement=", ".join(p.text for p in pins),
                   files=tuple(p.where for p in pins))
