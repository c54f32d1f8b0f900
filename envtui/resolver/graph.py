"""One dependency graph for every kind of environment, built from inspected metadata alone.

Python distributions contribute their Requires-Dist, with markers evaluated for the
environment's own Python version and platform (never the running interpreter's) and extras
followed only where a dependent asks for them; conda records contribute their `depends`
match specs. In a conda environment both live in one graph, keyed by normalised name.

The same requirement strings, markers and packages recur in every environment of a
machine: parsing, marker results and edges are worked out once per process, and
`cached_graph` keeps whole graphs on disk for the command line.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from envtui.model import Environment, EnvKind, Package, canonical_name

if TYPE_CHECKING:
    from packaging.markers import Marker

    from envtui.inspectors.cache import Cache

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
    _sorted: dict[tuple[str, bool], list[Edge]] = field(
        default_factory=dict, init=False, repr=False, compare=False)

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
        when `reverse`, sorted by the key at the other end.

        Sorted once per key: a tree asks again at every place the package appears. The
        list is shared, so callers must not change it.
        """
        found = self._sorted.get((key, reverse))
        if found is None:
            if reverse:
                found = sorted(self.parents(key), key=lambda e: e.parent)
            else:
                found = sorted(self.children(key), key=lambda e: e.child)
            self._sorted[(key, reverse)] = found
        return found

    def roots(self) -> list[str]:
        """Installed packages nothing else requires, by key."""
        return sorted(k for k in self.packages if not self.parents(k))


def marker_environment(env: Environment) -> dict[str, str]:
    """PEP 508 marker values for `env` itself, worked out without running it.

    The Python version is the environment's; the platform is Linux for Docker, Windows for
    a venv with a Windows layout, else this machine's (environments are local to it).
    """
    values = dict(_this_machine())
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


@functools.cache
def _this_machine() -> tuple[tuple[str, str], ...]:
    """The running interpreter's marker values: asked once, they never change."""
    from packaging.markers import default_environment

    return tuple((k, str(v)) for k, v in default_environment().items())


def _windows_layout(env: Environment) -> bool:
    sites = env.details.get("site_packages") or []
    return bool(sites) and all("/Lib/site-packages" in s.replace("\\", "/") for s in sites)


def far_end(edge: Edge, *, reverse: bool = False) -> str:
    """The key below `edge` in a tree: its child, or its parent in a reverse tree."""
    return edge.parent if reverse else edge.child


# Canonical names recur in every environment (and Package.key computes them afresh).
_canonical = functools.lru_cache(maxsize=65536)(canonical_name)


class _Parsed(NamedTuple):
    """What the graph needs of one Requires-Dist string."""

    name: str
    """The name as the requirement spells it."""
    key: str
    """Its normalised name."""
    extras: tuple[str, ...]
    """The extras asked for, normalised and sorted."""
    specifier: str
    """The version specifier as written (see `written_specifier`); "" when there is none."""
    marker: Marker | None
    """The environment marker, if any."""
    marker_text: str
    """The marker as packaging writes it: equal texts evaluate alike, so results are
    remembered by it."""


@functools.lru_cache(maxsize=65536)
def _parse(requirement: str) -> _Parsed | None:
    """Parsed once per distinct string: the same requirements recur across environments
    and across the rounds of `build_graph`. None when it is not valid PEP 508."""
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        req = Requirement(requirement)
    except (InvalidRequirement, RecursionError):  # RecursionError: markers nested too deeply
        return None
    return _Parsed(
        name=req.name, key=_canonical(req.name),
        extras=tuple(sorted(_canonical(x) for x in req.extras)),
        specifier=written_specifier(requirement) if req.specifier else "",
        marker=req.marker, marker_text=str(req.marker) if req.marker is not None else "",
    )


class _MarkerEnvironment:
    """What the requirements of packages come to in one marker environment, remembered for
    the process: a machine has few distinct markers and marker environments, and the same
    packages recur in many environments."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.held: dict[tuple[str, str], bool] = {}
        """(marker text, extra) -> whether the marker holds."""
        self.applying: dict[tuple[str, tuple[str, ...], frozenset[str]],
                            list[tuple[str, str]]] = {}
        """(package key, its requirements, the extras asked of it) -> `requirements`."""

    def requirements(self, parent: str, requires: tuple[str, ...],
                     extras: frozenset[str]) -> list[tuple[str, str]]:
        """(requirement, required key) of those of `requires` that apply: valid, marker
        true for one of `extras` (or none), the first for each key, none on `parent`."""
        found = self.applying.get((parent, requires, extras))
        if found is None:
            found = []
            seen = {parent}  # a self-reference adds nothing
            for raw in requires:
                req = _parse(raw)
                if req is not None and req.key not in seen and self._applies(req, extras):
                    seen.add(req.key)
                    found.append((raw, req.key))
            self.applying[(parent, requires, extras)] = found
        return found

    def _applies(self, req: _Parsed, extras: frozenset[str]) -> bool:
        if req.marker is None:
            return True
        for extra in extras or ("",):
            held = self.held.get((req.marker_text, extra))
            if held is None:
                try:
                    held = bool(req.marker.evaluate({**self.values, "extra": extra}))
                except ValueError:  # UndefinedComparison: `python_full_version ~= "3"`
                    held = False  # a bad edge is ignored, as an unparseable one is
                self.held[(req.marker_text, extra)] = held
            if held:
                return True
        return False


_marker_environments: dict[tuple[tuple[str, str], ...], _MarkerEnvironment] = {}
"""Marker values (as items) -> what was worked out in them."""


def _python_nodes(env: Environment) -> dict[str, Package]:
    """Key -> package; where conda and pip both have one, pip's is what Python imports."""
    nodes: dict[str, Package] = {}
    for pkg in env.packages:
        key = _canonical(pkg.name)
        if key not in nodes or pkg.source == "python":
            nodes[key] = pkg
    return nodes


def build_graph(env: Environment) -> DependencyGraph:
    """The dependency graph of `env`, from its inspected packages only."""
    graph = DependencyGraph(env, _python_nodes(env))
    values = marker_environment(env)
    markers = _marker_environments.get(items := tuple(sorted(values.items())))
    if markers is None:
        markers = _marker_environments[items] = _MarkerEnvironment(values)
    # Extras a node is asked for grow as edges are found: iterate to a fixed point. A
    # package's edges depend only on its own extras, so a round recomputes just the
    # packages whose extras changed. Only keys asked for extras are kept.
    extras: dict[str, frozenset[str]] = {}
    graph.edges = {k: _edges(graph, k, pkg, markers, frozenset())
                   for k, pkg in graph.packages.items()}
    while True:
        asked: dict[str, set[str]] = {}
        for edges in graph.edges.values():
            for e in edges:
                if e.extras and e.child in graph.packages:
                    asked.setdefault(e.child, set()).update(e.extras)
        if asked == extras:
            break
        for k in asked.keys() | extras.keys():
            if asked.get(k) != extras.get(k):
                graph.edges[k] = _edges(graph, k, graph.packages[k], markers,
                                        frozenset(asked.get(k, ())))
        extras = {k: frozenset(v) for k, v in asked.items()}
    graph.invalid = [(pkg, r) for pkg in graph.packages.values() if pkg.source == "python"
                     for r in pkg.requires if _parse(r) is None]
    return graph


def _edges(graph: DependencyGraph, parent: str, pkg: Package, markers: _MarkerEnvironment,
           extras: frozenset[str]) -> list[Edge]:
    if pkg.source == "conda":
        return list(_conda_edges(graph, parent, pkg))
    out = []
    for raw, key in markers.requirements(parent, pkg.requires, extras):
        child = graph.packages.get(key)
        out.append(_python_edge(parent, raw, child.version if child else None))
    return out


@functools.lru_cache(maxsize=65536)
def _python_edge(parent: str, requirement: str, installed: str | None) -> Edge:
    """Edges are values: environments sharing a package and its dependency's version
    share the edge, built (and its specifier checked) once."""
    req = _parse(requirement)
    assert req is not None  # only valid requirements reach here
    return Edge(
        parent=parent, child=req.key, name=req.name, requirement=requirement,
        specifier=req.specifier or ANY, extras=req.extras, installed=installed,
        satisfied=installed is not None and _python_satisfied(req.specifier, installed),
    )


GRAPH_FORMAT = 1
"""Bump when `build_graph` would give another graph for the same inputs: the graphs
`cached_graph` stored before then become misses."""


def cached_graph(env: Environment, cache: Cache, *, refresh: bool = False) -> DependencyGraph:
    """`build_graph(env)`, read back from `cache` when it was built from the same inputs.

    Importing packaging and parsing every requirement is most of what building the graph
    of a big environment costs; reading a stored one needs no packaging. The inputs are
    the packages' names, versions and requirements, the environment's Python and platform,
    this machine (the marker values packaging works out), packaging's version and
    GRAPH_FORMAT. One graph is kept per environment. Graphs with conda records are built
    every time: their rules are py-rattler's. `refresh` builds the graph and stores it
    without reading the stored one.
    """
    inputs = _graph_inputs(env)
    if inputs is None:
        return build_graph(env)
    key = f"{env.kind.value}:{env.ref}"
    stored = None if refresh else cache.load("graph", key)
    if isinstance(stored, dict) and stored.get("inputs") == inputs:
        graph = _graph_from_json(env, stored)
        if graph is not None:
            return graph
    graph = build_graph(env)
    cache.store("graph", key, {"inputs": inputs, **_graph_to_json(graph)})
    return graph


def _graph_inputs(env: Environment) -> str | None:
    """A digest of everything `build_graph(env)` depends on; None when it cannot be told
    without importing more than it saves (conda records, or no os.uname)."""
    if sys.platform == "win32" or any(pkg.source != "python" for pkg in env.packages):
        return None
    import packaging  # its version alone: the modules that parse stay unimported

    # What packaging's default marker values (_this_machine) are worked out from.
    uname = os.uname()
    machine = [sys.version, sys.implementation.name, list(sys.implementation.version),
               os.name, sys.platform, uname.sysname, uname.release, uname.version,
               uname.machine]
    text = json.dumps([GRAPH_FORMAT, packaging.__version__, machine, env.python,
                       env.kind.value, _windows_layout(env),
                       [[pkg.name, pkg.version, pkg.requires] for pkg in env.packages]])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _graph_to_json(graph: DependencyGraph) -> dict[str, Any]:
    return {
        "edges": [[key, [[e.child, e.name, e.requirement, e.specifier, e.extras, e.installed,
                          e.satisfied] for e in edges]] for key, edges in graph.edges.items()],
        "invalid": [[_canonical(pkg.name), requirement] for pkg, requirement in graph.invalid],
    }


def _graph_from_json(env: Environment, stored: dict[str, Any]) -> DependencyGraph | None:
    """The graph `_graph_to_json` wrote; None when `stored` is not one."""
    graph = DependencyGraph(env, _python_nodes(env))
    try:
        graph.edges = {key: [Edge(key, child, name, requirement, specifier, tuple(extras),
                                  installed, satisfied)
                             for child, name, requirement, specifier, extras, installed,
                             satisfied in edges]
                       for key, edges in stored["edges"]}
        graph.invalid = [(graph.packages[key], requirement)
                         for key, requirement in stored["invalid"]]
    except (KeyError, TypeError, ValueError):
        return None
    return graph if graph.edges.keys() == graph.packages.keys() else None


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
    from packaging.version import Version

    if not specifier:
        return True
    try:
        return SpecifierSet(specifier).contains(Version(version), prereleases=True)
    except ValueError:  # InvalidVersion, or a number over int()'s 4,300-digit limit
        return True  # not comparable: the bad version is reported as invalid metadata


def _conda_edges(graph: DependencyGraph, parent: str, pkg: Package) -> Iterator[Edge]:
    for raw in pkg.requires:
        name, _, rest = raw.strip().partition(" ")
        if not name or name.startswith("__"):
            continue  # virtual packages (__glibc, __unix) describe the system, not the env
        key = _canonical(name)
        version_spec = rest.strip().split(" ")[0] if rest.strip() else ""
        child = graph.packages.get(key)
        yield Edge(
            parent=parent, child=key, name=name, requirement=raw,
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
