"""Dependency problems of an installed environment, found from its graph.

conflict: an installed version outside a dependent's specifier; missing: a requirement
nothing installed provides; cycle: packages that require each other round a loop;
requires-python: a package whose Requires-Python excludes the environment's Python.
The inventory's own problems (broken, invalid metadata, duplicates, conda/pip mismatches,
...) are part of an environment's check too.
"""

from __future__ import annotations

from collections.abc import Iterator

from envtui.model import Environment, Problem, ProblemKind
from envtui.resolver.graph import DependencyGraph, build_graph

CYCLE_SHOWN = 8
"""Packages named in a cycle's description before the rest are counted."""


def check_environment(env: Environment, graph: DependencyGraph | None = None) -> list[Problem]:
    """Every problem of `env`: the inventory's, then the dependency graph's."""
    graph = graph or build_graph(env)
    return [*env.all_problems, *dependency_problems(graph)]


def dependency_problems(graph: DependencyGraph) -> list[Problem]:
    return [*_unsatisfied(graph), *_requires_python(graph), *_cycles(graph)]


def _unsatisfied(graph: DependencyGraph) -> Iterator[Problem]:
    for key in sorted(graph.edges):
        pkg = graph.packages[key]
        for e in graph.edges[key]:
            if e.satisfied:
                continue
            if e.installed is None:
                yield Problem(ProblemKind.MISSING,
                              f"{pkg.name} {pkg.version} requires {e.requirement}, "
                              f"which is not installed",
                              package=pkg.name, version=pkg.version, requirement=e.requirement)
            else:
                child = graph.packages[e.child]
                yield Problem(ProblemKind.CONFLICT,
                              f"{pkg.name} {pkg.version} requires {e.requirement}, "
                              f"but {child.name} {e.installed} is installed",
                              package=pkg.name, version=pkg.version, requirement=e.requirement)


def _requires_python(graph: DependencyGraph) -> Iterator[Problem]:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    python = graph.env.python
    if not python:
        return
    for key in sorted(graph.packages):
        pkg = graph.packages[key]
        if not pkg.requires_python or pkg.source != "python":
            continue
        try:
            ok = SpecifierSet(pkg.requires_python).contains(python, prereleases=True)
        except InvalidSpecifier:
            continue  # reported as invalid metadata by the inventory
        if not ok:
            yield Problem(ProblemKind.REQUIRES_PYTHON,
                          f"{pkg.name} {pkg.version} requires Python {pkg.requires_python}, "
                          f"but this environment has Python {python}",
                          package=pkg.name, version=pkg.version,
                          requirement=f"python{pkg.requires_python}")


def _cycles(graph: DependencyGraph) -> Iterator[Problem]:
    """One problem per strongly connected group of packages (Tarjan, iteratively)."""
    for component in strongly_connected(graph):
        names = [graph.packages[k].name for k in component]
        if len(names) > CYCLE_SHOWN:  # name the loop's start, not thousands of packages
            names = [*names[:CYCLE_SHOWN], f"... ({len(component)} packages in all)"]
            loop = " -> ".join(names)
        else:
            loop = " -> ".join([*names, names[0]])
        first = graph.packages[component[0]]
        yield Problem(ProblemKind.CYCLE, f"dependency cycle: {loop}",
                      package=first.name, version=first.version)


def strongly_connected(graph: DependencyGraph) -> list[list[str]]:
    """Groups of two or more installed packages that reach each other, sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph.packages):
        if start in index:
            continue
        work = [(start, iter(graph.children(start)))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            advanced = False
            for e in edges:
                child = e.child
                if child not in graph.packages:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph.children(child))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    k = stack.pop()
                    on_stack.discard(k)
                    group.append(k)
                    if k == node:
                        break
                if len(group) > 1:
                    found.append(_in_cycle_order(graph, group))
    return sorted(found)


def _in_cycle_order(graph: DependencyGraph, group: list[str]) -> list[str]:
    """The group starting at its smallest key, following edges round the loop."""
    members = set(group)
    order = [min(group)]
    while len(order) < len(group):
        nxt = sorted(e.child for e in graph.children(order[-1])
                     if e.child in members and e.child not in order)
        if not nxt:
            order += sorted(members - set(order))
            break
        order.append(nxt[0])
    return order
