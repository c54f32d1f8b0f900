"""One dependency graph for every kind of environment, built from inspected metadata alone.

Python distributions contribute their Requires-Dist, with markers evaluated for the
environment's own Python version and platform (never the running interpreter's) and extras
followed only where a dependent asks for them; conda records contribute their `depends`
match specs. In a conda environment both live in one graph, keyed by normalised name.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from envtui.model import Environment, EnvKind, Package, canonical_name

ANY = "Any"
"""What a requirement without a version specifier is shown as (as pipdeptree does)."""


@dataclass(frozen=True)
class Edge:
    """One requirement of one installed package on another."""

    parent: str
    """Key (normalised name) of the package that has the requirement."""
    child: str
    """Key of the package required."""
    name: str
    """The required name as the requirement spells it."""
    requirement: str
    """The requirement verbatim (a PEP 508 string or a conda match spec)."""
    specifier: str
    """Its version part, or "Any"."""
    extras: tuple[str, ...] = ()
    """Extras the parent asks of the child."""
    installed: str | None = None
    """The child's installed version; None when it is not installed."""
    satisfied: bool = True
    """Whether the installed version meets the specifier (False when missing, too)."""


@dataclass
class DependencyGraph:
    """Packages of one environment and the requirements between them."""

    env: Environment
    packages: dict[str, Package]
    """Key -> the package Python (or conda) would use for that name."""
    edges: dict[str, list[Edge]] = field(default_factory=dict)
    """Key -> its requirements, in the order the metadata lists them."""
    invalid: list[tuple[Package, str]] = field(default_factory=list)
    """Requirements that could not be parsed: left out of the graph."""

    def children(self, key: str) -> list[Edge]:
        return self.edges.get(key, [])

    @functools.cached_property
    def reverse(self) -> dict[str, list[Edge]]:
        """Key -> the edges pointing at it (its dependents)."""
        out: dict[str, list[Edge]] = {}
        for edges in self.edges.values():
            for e in edges:
                out.setdefault(e.child, []).append(e)
        return out

    def parents(self, key: str) -> list[Edge]:
        return self.reverse.get(key, [])

    def tree_edges(self, key: str, *, reverse: bool = False) -> list[Edge]:
        """`key`'s edges as a tree shows them: to its requirements, or to its dependents
        when `reverse`, sorted by the key at the other end."""
        if reverse:
            return sorted(self.parents(key), key=lambda e: e.parent)
        return sorted(self.children(key), key=lambda e: e.child)

    def roots(self) -> list[str]:
        """Installed packages nothing else requires, by key."""
        return sorted(k for k in self.packages if not self.parents(k))


def marker_environment(env: Environment) -> dict[str, str]:
    """PEP 508 marker values for `env` itself, worked out without running it.

    The Python version is the environment's; the platform is Linux for Docker, Windows for
    a venv with a Windows layout, else this machine's (environments are local to it).
    """
    from packaging.markers import default_environment

    values = {k: str(v) for k, v in default_environment().items()}
    if env.python:
        parts = env.python.split(".")
        values["python_version"] = ".".join(parts[:2])
        full = env.python if len(parts) >= 3 else f"{env.python}.0"
        values["python_full_version"] = values["implementation_version"] = full
    if env.kind in (EnvKind.IMAGE, EnvKind.CONTAINER):
        values.update(sys_platform="linux", os_name="posix", platform_system="Linux")
    elif _windows_layout(env):
        values.update(sys_platform="win32", os_name="nt", platform_system="Windows")
    return values


def _windows_layout(env: Environment) -> bool:
    sites = env.details.get("site_packages") or []
    return bool(sites) and all("/Lib/site-packages" in s.replace("\\", "/") for s in sites)


def far_end(edge: Edge, *, reverse: bool = False) -> str:
    """The key below `edge` in a tree: its child, or its parent in a reverse tree."""
    return edge.parent if reverse else edge.child


@functools.lru_cache(maxsize=65536)
def _parse(requirement: str) -> Any:
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        return Requirement(requirement)
    except InvalidRequirement:
        return None


def _marker_applies(req: Any, values: Mapping[str, str], extras: Iterable[str]) -> bool:
    if req.marker is None:
        return True
    wanted = list(extras) or [""]
    return any(req.marker.evaluate({**values, "extra": e}) for e in wanted)


def _python_nodes(env: Environment) -> dict[str, Package]:
    """Key -> package; where conda and pip both have one, pip's is what Python imports."""
    nodes: dict[str, Package] = {}
    for pkg in env.packages:
        if pkg.key not in nodes or pkg.source == "python":
            nodes[pkg.key] = pkg
    return nodes


def build_graph(env: Environment) -> DependencyGraph:
    """The dependency graph of `env`, from its inspected packages only."""
    graph = DependencyGraph(env, _python_nodes(env))
    values = marker_environment(env)
    # Extras a node is asked for grow as edges are found: iterate to a fixed point.
    extras: dict[str, set[str]] = {k: set() for k in graph.packages}
    while True:
        graph.edges = {k: list(_edges(graph, pkg, values, extras)) for k, pkg in
                       graph.packages.items()}
        asked: dict[str, set[str]] = {k: set() for k in graph.packages}
        for edges in graph.edges.values():
            for e in edges:
                if e.child in asked:
                    asked[e.child].update(e.extras)
        if asked == extras:
            break
        extras = asked
    graph.invalid = [(pkg, r) for pkg in graph.packages.values() if pkg.source == "python"
                     for r in pkg.requires if _parse(r) is None]
    return graph


def _edges(graph: DependencyGraph, pkg: Package, values: Mapping[str, str],
           extras: Mapping[str, set[str]]) -> Iterator[Edge]:
    if pkg.source == "conda":
        yield from _conda_edges(graph, pkg)
        return
    seen: set[str] = set()
    for raw in pkg.requires:
        req = _parse(raw)
        if req is None or not _marker_applies(req, values, extras.get(pkg.key, ())):
            continue
        key = canonical_name(req.name)
        if key in seen or key == pkg.key:
            continue  # one edge per dependency; a self-reference adds nothing
        seen.add(key)
        child = graph.packages.get(key)
        spec = written_specifier(raw) if req.specifier else ""
        yield Edge(
            parent=pkg.key, child=key, name=req.name, requirement=raw, specifier=spec or ANY,
            extras=tuple(sorted(canonical_name(x) for x in req.extras)),
            installed=child.version if child else None,
            satisfied=child is not None and _python_satisfied(spec, child.version),
        )


_NAME_AND_EXTRAS = re.compile(r"^\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?")


def written_specifier(requirement: str) -> str:
    """The version specifier as the requirement writes it, spaces and parentheses removed.

    `Foo (>=0.1, <3)` -> `>=0.1,<3`. Not packaging's str(SpecifierSet), which sorts the
    clauses: users (and pipdeptree) see them in the order the metadata gives.
    """
    head = requirement.split(";", 1)[0]
    rest = _NAME_AND_EXTRAS.sub("", head, count=1).strip()
    if rest.startswith("@"):
        return ""  # a direct URL, not a version range
    rest = rest.strip("()")
    return ",".join("".join(part.split()) for part in rest.split(",") if part.strip())


@functools.lru_cache(maxsize=65536)
def _python_satisfied(specifier: str, version: str) -> bool:
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    if not specifier:
        return True
    try:
        return SpecifierSet(specifier).contains(Version(version), prereleases=True)
    except InvalidVersion:
        return True  # not comparable: the bad version is reported as invalid metadata


def _conda_edges(graph: DependencyGraph, pkg: Package) -> Iterator[Edge]:
    for raw in pkg.requires:
        name, _, rest = raw.strip().partition(" ")
        if not name or name.startswith("__"):
            continue  # virtual packages (__glibc, __unix) describe the system, not the env
        key = canonical_name(name)
        version_spec = rest.strip().split(" ")[0] if rest.strip() else ""
        child = graph.packages.get(key)
        yield Edge(
            parent=pkg.key, child=key, name=name, requirement=raw,
            specifier=version_spec or ANY,
            installed=child.version if child else None,
            satisfied=child is not None and _conda_satisfied(version_spec, child.version),
        )


@functools.lru_cache(maxsize=65536)
def _conda_satisfied(spec: str, version: str) -> bool:
    """Conda's version-spec rules, through py-rattler (imported only for conda envs)."""
    if not spec or spec == "*":
        return True
    from rattler import Version, VersionSpec

    try:
        return bool(VersionSpec(spec).matches(Version(version)))
    except Exception:  # rattler raises its own error types for unparseable specs
        return True
