"""Dependency problems of an installed environment, found from its graph.

conflict: an installed version outside a dependent's specifier; missing: a requirement
nothing installed provides; cycle: packages that require each other round a loop;
requires-python: a package whose Requires-Python excludes the environment's Python.
The inventory's own problems (broken, invalid metadata, duplicates, conda/pip mismatches,
...) are part of an environment's check too.
"""

from __future__ import annotations

import functools
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
    python = graph.env.python
    if not python:
        return
    for key in sorted(graph.packages):
        pkg = graph.packages[key]
        if not pkg.requires_python or pkg.source != "python":
            continue
        if _python_excluded(pkg.requires_python, python):
            yield Problem(ProblemKind.REQUIRES_PYTHON,
                          f"{pkg.name} {pkg.version} requires Python {pkg.requires_python}, "
                          f"but this environment has Python {python}",
                          package=pkg.name, version=pkg.version,
                          requirement=f"python{pkg.requires_python}")


@functools.lru_cache(maxsize=4096)
def _python_excluded(requires_python: str, python: str) -> bool:
    """Whether `python` is outside the specifier; False when the specifier is invalid
    (the inventory reports that). A few specifiers recur across every environment."""
    from packaging.specifiers import SpecifierSet

    try:
        return not SpecifierSet(requires_python).contains(python, prereleases=True)
    except ValueError:  # InvalidSpecifier, or a number over int()'s 4,300-digit limit
        return False


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
    requires = {k: [e.child for e in edges if e.child in graph.packages]
                for k, edges in graph.edges.items()}
    # Most packages are in no cycle: peel off, leaves first, every package whose
    # requirements are all peeled off. Only the packages left can be in a group.
    left = {k: len(children) for k, children in requires.items()}
    required_by: dict[str, list[str]] = {}
    for k, children in requires.items():
        for child in children:
            required_by.setdefault(child, []).append(k)
    peeled = [k for k, n in left.items() if n == 0]
    while peeled:
        for k in required_by.get(peeled.pop(), ()):
            left[k] -= 1
            if left[k] == 0:
                peeled.append(k)
    rest = {k: [c for c in requires[k] if left.get(c)] for k, n in left.items() if n}
    return sorted(_in_cycle_order(graph, group) for group in _tarjan(rest) if len(group) > 1)


def _tarjan(requires: dict[str, list[str]]) -> Iterator[list[str]]:
    """The strongly connected components of `requires` (key -> the keys it requires, all
    of them keys of it), by Tarjan's algorithm with an explicit stack: chains can be
    thousands of packages long."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    for start in sorted(requires):
        if start in index:
            continue
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        work = [(start, iter(requires[start]))]
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(requires[child])))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:  # every child done: `node` is finished
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
                    yield group


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
