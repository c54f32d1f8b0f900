"""Dependency trees (and reverse trees: "why is this installed?") as plain data.

The JSON shape is DESIGN.md's: a list of root nodes, each
`{"name", "version", "required", "children": [...]}`, plus `key`, `missing`, `conflict`,
`cycle` and `truncated` flags. A node already on the path from its root is shown once more with no
children and `cycle: true`, so a cycle ends the branch instead of looping.
"""

from __future__ import annotations

from typing import Any

from envtui.model import canonical_name
from envtui.resolver.graph import ANY, DependencyGraph, Edge, far_end

Node = dict[str, Any]


class UnknownPackage(LookupError):
    """`--package NAME` names nothing installed in the environment."""


MAX_NODES = 100_000
"""Nodes a tree may hold: a graph full of shared subtrees or long cycles can expand into
millions of paths. Past the budget, branches are left unexpanded with `truncated: true`."""


def dependency_tree(graph: DependencyGraph, *, reverse: bool = False,
                    package: str | None = None, depth: int | None = None,
                    max_nodes: int = MAX_NODES) -> list[Node]:
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
    budget = [max_nodes]
    return [_expand(graph, k, reverse, depth, budget) for k in roots]


def _label(graph: DependencyGraph, key: str, via: Edge | None,
           on_path: set[str]) -> Node:
    pkg = graph.packages.get(key)
    return {
        "key": key,
        "name": pkg.name if pkg else (via.name if via else key),
        "version": pkg.version if pkg else None,
        "required": via.specifier if via else ANY,
        "missing": pkg is None,
        "conflict": via is not None and via.installed is not None and not via.satisfied,
        "cycle": key in on_path,
        "truncated": False,
        "children": [],
    }


def _expand(graph: DependencyGraph, root: str, reverse: bool, depth: int | None,
            budget: list[int]) -> Node:
    """The tree under `root`, depth first with an explicit stack (chains can be thousands
    deep) and one set of the keys on the current path, entered and left as the walk goes.

    `budget[0]` is how many more nodes all trees together may hold.
    """
    on_path: set[str] = set()
    top = _label(graph, root, None, on_path)
    stack: list[tuple[Node, int] | str] = [(top, 0)]
    while stack:
        item = stack.pop()
        if isinstance(item, str):  # leaving a node: it is no longer on the path
            on_path.discard(item)
            continue
        node, level = item
        key = node["key"]
        if node["missing"] or node["cycle"] or (depth is not None and level >= depth):
            continue
        edges = graph.tree_edges(key, reverse=reverse)
        if len(edges) > budget[0]:
            node["truncated"] = True
            continue
        budget[0] -= len(edges)
        on_path.add(key)
        stack.append(key)
        for e in edges:
            node["children"].append(_label(graph, far_end(e, reverse=reverse), e, on_path))
        stack += [(c, level + 1) for c in reversed(node["children"])]
    return top


def render_text(roots: list[Node], *, reverse: bool = False) -> str:
    """The tree drawn with box characters, flags after `!`; iterative, for deep chains."""
    lines: list[str] = []
    for root in roots:
        lines.append(f"{root['name']}=={root['version']}")
        stack = [(c, "", i == len(root["children"]) - 1)
                 for i, c in reversed(list(enumerate(root["children"])))]
        while stack:
            child, prefix, last = stack.pop()
            lines.append(f"{prefix}{'└── ' if last else '├── '}{_line(child, reverse)}")
            inner = prefix + ("    " if last else "│   ")
            kids = child["children"]
            stack += [(c, inner, i == len(kids) - 1) for i, c in reversed(list(enumerate(kids)))]
    return "\n".join(lines)


def _line(node: Node, reverse: bool) -> str:
    installed = "not installed" if node["missing"] else f"installed: {node['version']}"
    label = (f"{node['name']}=={node['version']} [requires: {node['required']}]"
             if reverse else f"{node['name']} [required: {node['required']}, {installed}]")
    flags = [f for f in ("conflict", "cycle", "truncated") if node[f]]
    return label + (" !" + ", ".join(flags) if flags else "")
