"""The resolvelib provider: candidates from pluggable sources, filtered for a target.

Identifiers are canonical names, `name[extra,...]` for a project with extras (a candidate
that depends on its own base at the same version, as pip models it), and PYTHON for the
target interpreter, so that Requires-Python takes part in the resolution and shows up in
explanations like any other requirement.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from resolvelib import AbstractProvider

from envtui.model import Package
from envtui.resolver.sources import CoreMetadata, Link, Source, SourceError
from envtui.resolver.target import Target

if TYPE_CHECKING:
    from resolvelib.structs import RequirementInformation

PYTHON = "<python>"
"""Identifier of the target interpreter; its one candidate is the target's version."""


@dataclass(frozen=True)
class Req:
    """A requirement on one identifier."""

    name: str
    """Canonical name (or PYTHON)."""
    specifier: SpecifierSet
    extras: frozenset[str] = frozenset()
    text: str = ""
    """As written, for explanations."""
    why: str | None = None
    """For root requirements: why it is there ("you asked for", "--keep holds", ...)."""
    unusable: str | None = None
    """Set on the impossible requirement standing for a candidate whose metadata could
    not be read, so the resolver moves on to another version and can say why."""

    @property
    def identifier(self) -> str:
        if self.extras:
            return f"{self.name}[{','.join(sorted(self.extras))}]"
        return self.name

    @property
    def pinned(self) -> bool:
        return any(s.operator in ("==", "===") and not s.version.endswith(".*")
                   for s in self.specifier)

    def __str__(self) -> str:
        return self.text or f"{self.identifier}{self.specifier}"


@dataclass(frozen=True)
class Candidate:
    """One version of a project (with some extras) the resolver may pick."""

    name: str
    version: Version
    extras: frozenset[str] = frozenset()
    link: Link | None = field(default=None, compare=False)
    """The file that would be installed; None for what is installed already, or PYTHON."""
    installed: Package | None = field(default=None, compare=False)
    """The installed distribution, when this candidate is the installed version."""
    display_name: str = field(default="", compare=False)

    @property
    def identifier(self) -> str:
        if self.extras:
            return f"{self.name}[{','.join(sorted(self.extras))}]"
        return self.name

    def __str__(self) -> str:
        if self.name == PYTHON:
            return f"Python {self.version}"
        return f"{self.display_name or self.name} {self.version}"


def parse_requirement(text: str, why: str | None = None) -> Req:
    """A PEP 508 string as a root requirement. Raises ValueError with a one-line message."""
    try:
        r = Requirement(text)
    except InvalidRequirement as exc:
        raise ValueError(f"{text!r} is not a valid requirement: {exc}") from None
    if r.url:
        raise ValueError(f"{text!r}: direct URL requirements are not resolved by envtui")
    return Req(canonicalize_name(r.name), r.specifier, frozenset(map(canonicalize_name, r.extras)),
               text, why)


def python_requirement(requires_python: str, owner: str) -> Req | None:
    try:
        spec = SpecifierSet(requires_python)
    except InvalidSpecifier:
        return None
    return Req(PYTHON, spec, text=f"Python {spec}", why=owner)


@dataclass
class Skipped:
    """Why files of one project were not offered as candidates (for explanations)."""

    platform: int = 0
    requires_python: int = 0
    unreadable: list[str] = field(default_factory=list)


class Provider(AbstractProvider):  # type: ignore[type-arg]
    """Candidates from `sources` (and the installed set) for `target`."""

    def __init__(self, sources: Sequence[Source], target: Target, *,
                 installed: Iterable[Package] = (), prefer: Mapping[str, str] | None = None,
                 pre: bool = False) -> None:
        self.sources = list(sources)
        self.target = target
        self.pre = pre
        self.installed: dict[str, Package] = {}
        for pkg in installed:
            self.installed.setdefault(canonicalize_name(pkg.name), pkg)
        self.prefer = dict(prefer or {})
        """Canonical name -> version tried first (the installed one, when fixing)."""
        self.fetched: set[tuple[str, str]] = set()
        """(name, version) whose metadata was read: the versions actually visited."""
        self.skipped: dict[str, Skipped] = {}
        self.requirers: dict[str, dict[str, tuple[Candidate, Req]]] = {}
        """Name -> dependent project -> its latest candidate and requirement on the name:
        what explanations add when resolvelib's causes leave a backtracked side out."""
        self.bad_requirements: list[tuple[str, str]] = []
        """(candidate, requirement) pairs ignored because they do not parse."""
        self._links: dict[str, list[Link]] = {}
        self._metadata: dict[tuple[str, Version], CoreMetadata] = {}
        self._failed: dict[str, str] = {}

    # -- candidates --------------------------------------------------------------------

    def links(self, name: str) -> list[Link]:
        """Every file the sources have for `name`, read once."""
        if name not in self._links:
            found: list[Link] = []
            for source in self.sources:
                try:
                    found.extend(source.links(name))
                except SourceError as exc:
                    self._failed.setdefault(name, str(exc))
            self._links[name] = found
        return self._links[name]

    def source_error(self, name: str) -> str | None:
        """The error a source gave while listing `name`, if any."""
        return self._failed.get(name)

    @functools.cache  # noqa: B019 - one provider per resolution; the cache dies with it
    def versions(self, name: str) -> dict[Version, Candidate]:
        """Usable candidates of `name` for the target, best file per version."""
        skipped = self.skipped.setdefault(name, Skipped())
        best: dict[Version, tuple[tuple[int, int], Link]] = {}
        for order, link in enumerate(self.links(name)):
            if link.is_wheel:
                rank = self.target.wheel_rank(link.filename)
                if rank is None:
                    skipped.platform += 1
                    continue
            else:
                rank = len(self.target.tags)  # an sdist only when no wheel fits
            if not self.target.accepts_python(link.requires_python):
                skipped.requires_python += 1
                continue
            key = (rank, order)
            if link.version not in best or key < best[link.version][0]:
                best[link.version] = (key, link)
        out = {v: Candidate(name, v, link=link, display_name=name) for v, (_, link) in best.items()}
        pkg = self.installed.get(name)
        if pkg is not None:
            try:
                v = Version(pkg.version)
            except InvalidVersion:
                pass
            else:
                out[v] = Candidate(name, v, installed=pkg, display_name=pkg.name)
        return out

    def _matches(self, identifier: str, requirements: Mapping[str, Iterator[Req]],
                 incompatibilities: Mapping[str, Iterator[Candidate]]) -> list[Candidate]:
        reqs = list(requirements[identifier])
        name = reqs[0].name if reqs else identifier.partition("[")[0]
        if name == PYTHON:
            # Backtracking may rule out even the interpreter: offering it again would
            # have resolvelib undo and redo the same pin until the round budget runs out.
            python = Candidate(PYTHON, self.target.python)
            ok = all(r.specifier.contains(python.version, prereleases=True) for r in reqs)
            ok = ok and all(c.version != python.version for c in incompatibilities[identifier])
            return [python] if ok else []
        extras = frozenset().union(*(r.extras for r in reqs))
        bad = {c.version for c in incompatibilities[identifier]}
        spec = functools.reduce(operator.and_, (r.specifier for r in reqs), SpecifierSet())
        pinned = {Version(s.version) for r in reqs for s in r.specifier
                  if s.operator in ("==", "===") and _plain_version(s.version)}
        pool = self.versions(name)
        usable = []
        for v, cand in pool.items():
            if v in bad:
                continue
            if cand.link is not None and cand.link.yanked is not None and v not in pinned:
                continue
            usable.append(v)
        allowed = set(spec.filter(usable, prereleases=True if self.pre else None))
        preferred = _version_or_none(self.prefer.get(name))
        # Newest first, with the preferred (installed) version moved to the front.
        ordered = sorted(sorted(allowed, reverse=True), key=lambda v: v != preferred)
        return [Candidate(name, v, extras, pool[v].link, pool[v].installed,
                          pool[v].display_name) for v in ordered]

    # -- the resolvelib interface --------------------------------------------------------

    def identify(self, requirement_or_candidate: Req | Candidate) -> str:
        return requirement_or_candidate.identifier

    def get_preference(self, identifier: str, resolutions: Mapping[str, Candidate],
                       candidates: Mapping[str, Iterator[Candidate]],
                       information: Mapping[str, Iterator[RequirementInformation[Req, Candidate]]],
                       backtrack_causes: Sequence[RequirementInformation[Req, Candidate]],
                       ) -> Any:
        infos = list(information[identifier])
        pinned = any(i.requirement.pinned for i in infos)
        direct = any(i.parent is None for i in infos)
        return (identifier != PYTHON, not pinned, not direct, identifier)

    def narrow_requirement_selection(
        self, identifiers: Iterable[str], resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[RequirementInformation[Req, Candidate]]],
        backtrack_causes: Sequence[RequirementInformation[Req, Candidate]],
    ) -> Iterable[str]:
        # The interpreter cannot change, so settle it first; then work on what just
        # conflicted, which is where backtracking pays off.
        ids = list(identifiers)
        if PYTHON in ids:
            return [PYTHON]
        causes = {c.requirement.identifier for c in backtrack_causes}
        causes |= {c.parent.identifier for c in backtrack_causes if c.parent is not None}
        focused = [i for i in ids if i in causes]
        return focused or ids

    def find_matches(self, identifier: str, requirements: Mapping[str, Iterator[Req]],
                     incompatibilities: Mapping[str, Iterator[Candidate]]) -> list[Candidate]:
        return self._matches(identifier, requirements, incompatibilities)

    def is_satisfied_by(self, requirement: Req, candidate: Candidate) -> bool:
        return requirement.specifier.contains(candidate.version, prereleases=True)

    def get_dependencies(self, candidate: Candidate) -> list[Req]:
        if candidate.name == PYTHON:
            return []
        try:
            meta = self.metadata(candidate)
        except SourceError as exc:
            return [Req(PYTHON, SpecifierSet("<0"), text="readable metadata", unusable=str(exc))]
        deps: list[Req] = []
        if candidate.extras:
            deps.append(Req(candidate.name, SpecifierSet(f"=={candidate.version}"),
                            text=f"{candidate.name}=={candidate.version}"))
        elif meta.requires_python:
            req = python_requirement(meta.requires_python, str(candidate))
            if req is not None:
                deps.append(req)
        extras = sorted(candidate.extras) or [""]
        for text in meta.requires_dist:
            r = requirement_or_none(text)
            if r is None or r.url:
                self.bad_requirements.append((str(candidate), text))
                continue
            holds = _marker_holds(r, self.target.markers, extras)
            if holds is None:
                self.bad_requirements.append((str(candidate), text))
            if not holds:
                continue
            if candidate.extras and r.marker is None:
                continue  # the base candidate brings its unconditional requirements
            deps.append(Req(canonicalize_name(r.name), r.specifier,
                            frozenset(map(canonicalize_name, r.extras)), text))
        for d in deps:
            self.requirers.setdefault(d.name, {})[candidate.name] = (candidate, d)
        return deps

    def metadata(self, candidate: Candidate) -> CoreMetadata:
        """Core metadata of a candidate, read once (from the installed dist-info if any)."""
        key = (candidate.name, candidate.version)
        if key not in self._metadata:
            self.fetched.add((candidate.name, str(candidate.version)))
            if candidate.installed is not None:
                meta = CoreMetadata(candidate.installed.requires,
                                    candidate.installed.requires_python)
            elif candidate.link is not None:
                meta = _source_of(self.sources, candidate.link).metadata(candidate.link)
            else:
                meta = CoreMetadata()
            self._metadata[key] = meta
        return self._metadata[key]


def _source_of(sources: Sequence[Source], link: Link) -> Source:
    for s in sources:
        if s.label == link.origin:
            return s
    raise SourceError(f"{link.filename}: its source {link.origin} is not configured")


@functools.lru_cache(maxsize=65536)
def requirement_or_none(text: str) -> Requirement | None:
    try:
        return Requirement(text)
    except (InvalidRequirement, RecursionError):  # RecursionError: markers nested 1000 deep
        return None


def _marker_holds(r: Requirement, markers: dict[str, str], extras: list[str]) -> bool | None:
    """Whether `r` applies for one of `extras`; None when its marker cannot be evaluated
    (`python_full_version ~= "3"`): a bad edge, ignored and reported like unparseable ones."""
    if r.marker is None:
        return True
    try:
        return any(r.marker.evaluate({**markers, "extra": e}) for e in extras)
    except ValueError:  # packaging's UndefinedComparison
        return None


def _plain_version(text: str) -> bool:
    if text.endswith(".*"):
        return False
    return _version_or_none(text) is not None


def _version_or_none(text: str | None) -> Version | None:
    if text is None:
        return None
    try:
        return Version(text)
    except InvalidVersion:
        return None
