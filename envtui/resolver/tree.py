"""Dependency trees (and reverse trees: "why is this installed?") as plain data.

The JSON shape is DESIGN.md's: a list of root nodes, each
`{"name", "version", "required", "children": [...]}`, plus `key`, `missing`, `conflict`
and `cycle` flags. A node already on the path from its root is shown once more with no
children and `cycle: true`, so a cycle ends the branch instead of looping.
"""

from __future__ import annotations

from typing import Any

from envtui.model import canonical_name
from envtui.resolver.graph import ANY, DependencyGraph, Edge

Node = dict[str, Any]


class UnknownPackage(LookupError):
    """`--package NAME` names nothing installed in the environment."""


def dependency_tree(graph: DependencyGraph, *, reverse: bool = False,
                    package: str | None = None, depth: int | None = None) -> list[Node]:
    """Roots with their (reverse) dependencies, `depth` levels deep (None: all)."""
    if package is not None:
        key = canonical_name(package)
        if key not in graph.packages:
            raise UnknownPackage(f"{package!r} is not installed in this environment")
        roots = [key]
    elif reverse:
        roots = sorted(k for k in graph.packages if not graph.children(k))
    else:
        roots = graph.roots() or sorted(graph.packages)  # all in cycles: show them all
    return [_node(graph, k, None, reverse, depth, frozenset()) for k in roots]


def _node(graph: DependencyGraph, key: str, via: Edge | None, reverse: bool,
          depth: int | None, path: frozenset[str]) -> Node:
    pkg = graph.packages.get(key)
    node: Node = {
        "key": key,
        "name": pkg.name if pkg else (via.name if via else key),
        "version": pkg.version if pkg else None,
        "required": via.specifier if via else ANY,
        "missing": pkg is None,
        "conflict": via is not None and via.installed is not None and not via.satisfied,
        "cycle": key in path,
        "children": [],
    }
    if pkg is None or key in path or depth == 0:
        return node
    below = None if depth is None else depth - 1
    edges = graph.parents(key) if reverse else graph.children(key)
    inner = path | {key}
    for e in sorted(edges, key=lambda e: e.parent if reverse else e.child):
        node["children"].append(
            _node(graph, e.parent if reverse else e.child, e, reverse, below, inner))
    return node


def render_text(roots: list[Node], *, reverse: bool = False) -> str:
    """The tree drawn with box characters, flags in brackets."""
    lines: list[str] = []
    for root in roots:
        lines.append(f"{root['name']}=={root['version']}")
        _render_children(root["children"], "", reverse, lines)
    return "\n".join(lines)


def _render_children(children: list[Node], prefix: str, reverse: bool,
                     lines: list[str]) -> None:
    for i, child in enumerate(children):
        last = i == len(children) - 1
        installed = "not installed" if child["missing"] else f"installed: {child['version']}"
        label = (f"{child['name']}=={child['version']} [requires: {child['required']}]"
                 if reverse else f"{child['name']} [required: {child['required']}, {installed}]")
        flags = [f for f in ("conflict", "cycle") if child[f]]
        if flags:
            label += " !" + ", ".join(flags)
        lines.append(f"{prefix}{'└── ' if last else '├── '}{label}")
        _render_children(child["children"], prefix + ("    " if last else "│   "), reverse,
                         lines)
