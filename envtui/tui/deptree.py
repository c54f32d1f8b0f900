"""What the dependency tree screen shows, as plain data: one environment's graph seen one
way (each package with its requirements below it, or with its dependents below it), one
node at a time.

Trees are never built whole: a package required by many others appears under each of them,
so the full tree of a big environment can have far more nodes than the environment has
packages. The widget asks for a node's children when it is expanded; `DependencyView`
answers from the graph. No Textual import: the labels are text split into styled roles.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Set
from dataclasses import dataclass
from typing import Literal

from envtui.model import canonical_name
from envtui.resolver.graph import ANY, DependencyGraph, Edge, far_end
from envtui.tui.format import printable

MAX_DEPTH = 50
"""Nodes this deep are not expanded in place: a chain of thousands of packages would make
every line thousands of cells wide. Focusing on a package (`f`) shows what lies below."""

Role = Literal["name", "version", "muted", "problem", "cycle"]
"""How a piece of a label is drawn: a package name, its version, a quiet note, something
wrong, or a cycle marker."""

Part = tuple[str, Role]
"""A piece of a label and its role."""

CONFLICT_MARK = "✗"
CYCLE_MARK = "↻ cycle"
NOT_INSTALLED = "not installed"


@dataclass(frozen=True)
class TreeEntry:
    """One node of the tree: a package, reached through `via` from the node above."""

    key: str
    """The package's normalised name."""
    via: Edge | None
    """The requirement that links it to the node above (None for a top-level node)."""
    depth: int
    """0 for a top-level node."""
    parts: tuple[Part, ...]
    """The label, in styled pieces."""
    expandable: bool
    """Whether it has nodes below it that may be shown."""
    cycle: bool = False
    """The package is already on the path above: shown once more, never expanded."""
    missing: bool = False
    """Required but not installed."""
    conflict: bool = False
    """Installed, but outside the specifier of the requirement that leads here."""

    @property
    def label(self) -> str:
        """The label as plain text."""
        return "".join(text for text, _ in self.parts)


def requirement_text(edge: Edge) -> str:
    """The requirement as written, without its environment marker: `numpy<2`,
    `uvicorn[standard]>=0.30`, conda's `numpy >=1.26`.
    """
    return printable(edge.requirement.split(";", 1)[0].strip())


def search_key(text: str) -> str:
    """What a typed name is compared as: lower case, `_` and `.` as `-` (PEP 503-like,
    without collapsing runs, so every prefix of a name still matches)."""
    return text.strip().lower().replace("_", "-").replace(".", "-")


class DependencyView:
    """`graph` seen forwards (children are requirements) or in `reverse` (children are
    dependents: "why is this installed?"), optionally from one `focus` package alone.

    Top-level packages are the graph's roots: those nothing requires (forwards) or those
    that require nothing installed (in reverse). Packages no root leads to (a group that
    only requires itself round a cycle) are top-level too, so every package can be found.
    """

    def __init__(
        self, graph: DependencyGraph, *, reverse: bool = False, focus: str | None = None
    ) -> None:
        self.graph = graph
        """The environment's dependency graph."""
        self.reverse = reverse
        """Children are dependents rather than requirements."""
        self.focus = focus if focus in graph.packages else None
        """The one package shown at the top, or None for every root."""
        self.roots = [self.focus] if self.focus else self._all_roots()
        """Top-level packages, by key, in name order."""
        self._routes: dict[str, str | None] | None = None

    # -- structure ---------------------------------------------------------------------

    def edges(self, key: str) -> list[Edge]:
        """The edges to `key`'s children, sorted by the child's key."""
        return self.graph.tree_edges(key, reverse=self.reverse)

    def child_key(self, edge: Edge) -> str:
        """The package at the lower end of `edge` in this view."""
        return far_end(edge, reverse=self.reverse)

    def _installed_edges(self, key: str) -> Iterable[Edge]:
        return (e for e in self.edges(key) if self.child_key(e) in self.graph.packages)

    def _base_roots(self) -> list[str]:
        if self.reverse:
            return [k for k in self.graph.packages
                    if not any(e.child in self.graph.packages for e in self.graph.children(k))]
        return self.graph.roots()

    def _all_roots(self) -> list[str]:
        roots = set(self._base_roots())
        reached = self._reach(roots)
        for key in sorted(self.graph.packages):
            if key not in reached:
                roots.add(key)
                reached |= self._reach([key])
        return sorted(roots)

    def _reach(self, starts: Iterable[str]) -> set[str]:
        seen = set(starts)
        todo = list(seen)
        while todo:
            for edge in self._installed_edges(todo.pop()):
                key = self.child_key(edge)
                if key not in seen:
                    seen.add(key)
                    todo.append(key)
        return seen

    def path(self, key: str) -> list[str] | None:
        """The keys from a top-level node down to `key` along a shortest route (the first
        in name order), or None when `key` is not in this view.
        """
        if self._routes is None:
            self._routes = self._shortest_routes()
        if key not in self._routes:
            return None
        out: list[str] = []
        step: str | None = key
        while step is not None:
            out.append(step)
            step = self._routes[step]
        return out[::-1]

    def _shortest_routes(self) -> dict[str, str | None]:
        """Breadth first from the roots: each reachable key -> the key above it."""
        above: dict[str, str | None] = dict.fromkeys(self.roots)
        queue = deque(self.roots)
        while queue:
            key = queue.popleft()
            for edge in self._installed_edges(key):
                child = self.child_key(edge)
                if child not in above:
                    above[child] = key
                    queue.append(child)
        return above

    def find(self, typed: str) -> str | None:
        """The first package in name order, among those in this view, whose name starts
        with `typed` (compared as `search_key`)."""
        wanted = search_key(typed)
        if not wanted:
            return None
        names = sorted((search_key(pkg.name), key) for key, pkg in self.graph.packages.items())
        for name, key in names:
            if (name.startswith(wanted) or key.startswith(wanted)) and self.path(key):
                return key
        return None

    # -- entries -----------------------------------------------------------------------

    def root_entries(self) -> list[TreeEntry]:
        """The top-level nodes."""
        return [self.entry(key, None, 0, frozenset()) for key in self.roots]

    def child_entries(self, parent: TreeEntry, ancestors: Set[str]) -> list[TreeEntry]:
        """The nodes below `parent`; `ancestors` are the keys on its path, itself included
        (a child among them closes a cycle)."""
        return [self.entry(self.child_key(e), e, parent.depth + 1, ancestors)
                for e in self.edges(parent.key)]

    def entry(self, key: str, via: Edge | None, depth: int, ancestors: Set[str]) -> TreeEntry:
        """The node for `key`, reached through `via`."""
        pkg = self.graph.packages.get(key)
        cycle = key in ancestors
        conflict = via is not None and via.installed is not None and not via.satisfied
        has_children = pkg is not None and bool(self.edges(key))
        expandable = has_children and not cycle and depth < MAX_DEPTH
        parts = self._parts(key, via, cycle=cycle, conflict=conflict)
        if has_children and not cycle and depth >= MAX_DEPTH:
            parts += (("  … more below: focus on it to see", "muted"),)
        return TreeEntry(key, via, depth, parts, expandable, cycle=cycle,
                         missing=pkg is None, conflict=conflict)

    def _parts(self, key: str, via: Edge | None, *, cycle: bool,
               conflict: bool) -> tuple[Part, ...]:
        pkg = self.graph.packages.get(key)
        if pkg is None:  # only forwards: a missing package has no dependents of its own
            assert via is not None
            return ((printable(via.name), "problem"),
                    (f"  {CONFLICT_MARK} {NOT_INSTALLED}: {self._requirer(via)} requires "
                     f"{requirement_text(via)}", "problem"))
        role: Role = "problem" if conflict else "name"
        parts: list[Part] = [(printable(pkg.name), role),
                             (f" {printable(pkg.version) or '?'}",
                              "problem" if conflict else "version")]
        if via is not None:
            parts.extend(self._requirement_parts(via, conflict))
        if cycle:
            parts.append((f"  {CYCLE_MARK}", "cycle"))
        return tuple(parts)

    def _requirement_parts(self, via: Edge, conflict: bool) -> tuple[Part, ...]:
        """Forwards: the specifier the node above asks for (the whole failing requirement
        on a conflict); in reverse: the requirement this dependent has on the node above.
        """
        if self.reverse:
            mark = f"{CONFLICT_MARK} " if conflict else ""
            return ((f"  {mark}requires {requirement_text(via)}",
                     "problem" if conflict else "muted"),)
        if conflict:
            return ((f"  {CONFLICT_MARK} {self._requirer(via)} requires "
                     f"{requirement_text(via)}", "problem"),)
        if via.specifier == ANY:
            return ()
        return ((f"  required: {printable(via.specifier)}", "muted"),)

    def _requirer(self, via: Edge) -> str:
        return printable(self.graph.packages[via.parent].name)


def problem_key(package: str | None) -> str | None:
    """The graph key of a problem's package name."""
    return canonical_name(package) if package else None
