"""envtui's resolver against a brute-force oracle on tiny random package universes.

A universe has at most 6 projects with at most 5 versions each; every version has random
dependencies on the other projects (specifiers, extras, markers on extras) and sometimes a
Requires-Python the target does not meet. The oracle tries every assignment of a version
or "absent" to every project, so it knows whether an installable set exists. The resolver
runs through the same entry point as the corpus tests (Provider + resolve over an
in-memory source), and must:

- find a solution whenever the oracle finds one (it never says "impossible" wrongly);
- only return sets that satisfy the roots and every requirement of every chosen package.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from envtui.resolver.backtrack import search
from envtui.resolver.provider import PYTHON, Provider, parse_requirement
from envtui.resolver.resolve import GaveUp, ResolutionFailed, resolve
from envtui.resolver.sources import CoreMetadata, Link, Source, SourceError
from tests.corpus_source import running_target

NAMES = ("a", "b", "c", "d", "e", "f")
VERSIONS = ("1.0", "1.1", "1.5", "2.0", "3.0")
BOUNDS = (*VERSIONS, "0.5", "1.2", "2.5", "4.0")
"""Versions a specifier may name: the ones that exist and some that fall between them."""
EXTRAS = ("x", "y")
PYTHONS = (None, None, None, ">=3.8", ">=3.99", "<3")
"""Requires-Python values: mostly none; the last two exclude the running interpreter."""


@dataclass(frozen=True)
class Universe:
    """A tiny index in the corpus format, plus the root requirements."""

    index: dict[str, dict[str, dict[str, Any]]]
    """name -> version -> {"dependencies": [PEP 508], "requires_python": str | None}."""
    roots: tuple[str, ...]


class UniverseSource(Source):
    """The universe as py3-none-any wheels, like tests/corpus_source.py's CorpusSource."""

    label = "universe"

    def __init__(self, index: dict[str, dict[str, dict[str, Any]]]) -> None:
        self.index = index

    def links(self, name: str) -> Sequence[Link]:
        return [Link(name, Version(v), f"{name}-{v}-py3-none-any.whl", f"mem:{name}/{v}",
                     self.label) for v in self.index.get(name, {})]

    def metadata(self, link: Link) -> CoreMetadata:
        for text, entry in self.index.get(link.name, {}).items():
            if Version(text) == link.version:
                return CoreMetadata(tuple(entry["dependencies"]), entry.get("requires_python"))
        raise SourceError(f"{link.filename} is not in the universe")


# ---- the oracle


@dataclass(frozen=True)
class Dep:
    name: str
    spec: SpecifierSet
    extras: frozenset[str]
    marker: Marker | None


def _dep(text: str) -> Dep:
    r = Requirement(text)
    return Dep(canonicalize_name(r.name), r.specifier, frozenset(r.extras), r.marker)


def _active(dep: Dep, extra: str) -> bool:
    """Whether `dep` applies to a package installed with `extra` ("" for the base)."""
    return dep.marker is None or dep.marker.evaluate({"extra": extra})


class Oracle:
    """Brute force: every project is absent or one of its usable versions."""

    def __init__(self, u: Universe) -> None:
        self.roots = [_dep(r) for r in u.roots]
        self.names = sorted(u.index)
        python = running_target().python
        self.usable = {n: [v for v, e in u.index[n].items()
                           if not e.get("requires_python")
                           or SpecifierSet(e["requires_python"]).contains(python)]
                       for n in self.names}
        self.deps = {(n, v): [_dep(d) for d in e["dependencies"]]
                     for n, vs in u.index.items() for v, e in vs.items()}

    def valid(self, chosen: dict[str, str]) -> str | None:
        """Why the set `chosen` (name -> version) is not installable, or None when it is."""
        for name, version in chosen.items():
            if version not in self.usable.get(name, ()):
                return f"{name} {version} is not a usable version"
        todo: list[tuple[str, Dep]] = [("the roots", d) for d in self.roots]
        for name, version in chosen.items():
            todo += [(f"{name} {version}", d) for d in self.deps[name, version]
                     if _active(d, "")]
        extras: dict[str, set[str]] = {}
        while todo:
            who, dep = todo.pop()
            version = chosen.get(dep.name)
            if version is None:
                return f"{who} requires {dep.name}, which is absent"
            if not dep.spec.contains(Version(version), prereleases=True):
                return f"{who} requires {dep.name}{dep.spec}, not {version}"
            for extra in dep.extras - extras.setdefault(dep.name, set()):
                extras[dep.name].add(extra)
                todo += [(f"{dep.name}[{extra}] {version}", d)
                         for d in self.deps[dep.name, version]
                         if d.marker is not None and _active(d, extra)]
        return None

    def solution(self) -> dict[str, str] | None:
        """One installable set, found by trying every assignment (pruned only by
        requirements whose both ends are already assigned, so nothing is missed)."""
        chosen: dict[str, str | None] = {}
        # Base requirements by the project they name, for pruning.
        incoming: dict[str, list[tuple[str, str, Dep]]] = {n: [] for n in self.names}
        for (owner, version), deps in self.deps.items():
            for dep in deps:
                if dep.marker is None and dep.name in incoming:
                    incoming[dep.name].append((owner, version, dep))

        def consistent(name: str) -> bool:
            # The roots on `name` and the base requirements between `name` and what is
            # assigned so far: necessary conditions, so pruning on them loses nothing.
            mine = chosen[name]
            if any(d.name == name and not self._meets(d, mine) for d in self.roots):
                return False
            if mine is not None and any(
                    d.marker is None and d.name in chosen and not self._meets(d, chosen[d.name])
                    for d in self.deps[name, mine]):
                return False
            return all(self._meets(d, mine) for owner, version, d in incoming[name]
                       if chosen.get(owner) == version)

        def walk(i: int) -> dict[str, str] | None:
            if i == len(self.names):
                full = {n: v for n, v in chosen.items() if v is not None}
                return full if self.valid(full) is None else None
            name = self.names[i]
            for option in [None, *self.usable[name]]:
                chosen[name] = option
                if consistent(name) and (found := walk(i + 1)) is not None:
                    return found
            del chosen[name]
            return None

        return walk(0)

    @staticmethod
    def _meets(dep: Dep, version: str | None) -> bool:
        return version is not None and dep.spec.contains(Version(version), prereleases=True)


# ---- random universes


def specifiers() -> st.SearchStrategy[str]:
    clause = st.builds(lambda op, v: f"{op}{v}",
                       st.sampled_from(("==", "!=", ">=", "<=", ">", "<", "~=")),
                       st.sampled_from(BOUNDS)) | st.sampled_from(("==1.*", "==2.*", "!=1.*"))
    return st.one_of(st.just(""), clause,
                     st.builds(lambda x, y: f"{x},{y}", clause, clause))


@st.composite
def requirements(draw: st.DrawFn, names: Sequence[str], owner: str | None) -> str:
    name = draw(st.sampled_from([n for n in names if n != owner] or list(names)))
    extras = draw(st.lists(st.sampled_from(EXTRAS), max_size=2, unique=True))
    text = name + (f"[{','.join(sorted(extras))}]" if extras else "") + draw(specifiers())
    if owner is not None and draw(st.integers(0, 3)) == 0:
        text += f"; extra == '{draw(st.sampled_from(EXTRAS))}'"
    return text


@st.composite
def universes(draw: st.DrawFn) -> Universe:
    names = NAMES[:draw(st.integers(1, len(NAMES)))]
    index: dict[str, dict[str, dict[str, Any]]] = {}
    for name in names:
        versions = draw(st.lists(st.sampled_from(VERSIONS), min_size=1, max_size=5,
                                 unique=True))
        index[name] = {}
        for v in sorted(versions, key=Version):
            deps = [] if len(names) == 1 else draw(
                st.lists(requirements(names, name), max_size=3))
            index[name][v] = {"dependencies": deps,
                              "requires_python": draw(st.sampled_from(PYTHONS))}
    roots = draw(st.lists(requirements(names, None), min_size=1, max_size=3))
    return Universe(index, tuple(roots))


def _u(index: dict[str, dict[str, list[str]]], *roots: str,
       python: dict[tuple[str, str], str] | None = None) -> Universe:
    """A hand-written universe for the regression examples."""
    return Universe({n: {v: {"dependencies": d, "requires_python": (python or {}).get((n, v))}
                         for v, d in vs.items()} for n, vs in index.items()}, roots)


# Regressions: shapes a resolver gets wrong easily (and the oracle must get right).
BACKTRACK = _u({"a": {"1.0": ["b<2"], "2.0": ["b>=2", "c"]},
                "b": {"1.0": [], "2.0": ["c<1"]}, "c": {"1.0": []}}, "a")
EXTRA_CONFLICT = _u({"a": {"1.0": ["b==1.0; extra == 'x'"], "2.0": ["b==2.0; extra == 'x'"]},
                     "b": {"1.0": [], "2.0": []}}, "a[x]", "b<2")
PYTHON_ONLY_OLD = _u({"a": {"1.0": [], "2.0": []}}, "a",
                     python={("a", "2.0"): ">=3.99"})
CYCLE = _u({"a": {"1.0": ["b>=1"]}, "b": {"1.0": ["a[x]"]}}, "b")
IMPOSSIBLE = _u({"a": {"1.0": ["b==1.0", "c"]}, "b": {"1.0": [], "2.0": []},
                 "c": {"1.0": ["b==2.0"]}}, "a")
# Found by this test: resolvelib pins f[x] 1.5, then f 1.5, whose b 3.0 wants f[x]>1.5; its
# backjump skips the f[x] pin (only f's dependencies name b) and reports "impossible".
EXTRA_BACKJUMP = _u({"b": {"3.0": ["f[x]>1.5"]}, "c": {"2.0": ["f[x]"]},
                     "f": {"1.1": [], "1.5": ["b"]}}, "c")
# Found by this test: after the conflict on `a`, backtracking marks the interpreter itself
# incompatible; offering it again made resolvelib loop until its round budget ran out.
PYTHON_LOOP = _u({"a": {"1.0": ["b[x]==1.1"]}, "b": {"1.0": [], "1.1": ["a==1.1; extra == 'x'"]}},
                 "a", python={("a", "1.0"): ">=3.8"})
# sarugaku/resolvelib#206: the same unsound backjump without extras.
SKIPPED_PIN = _u({"a": {"2.0": ["c==2.0"]}, "b": {"1.0": [], "2.0": ["a==2.0"]},
                  "c": {"1.0": ["b>=1.0,<3.0"], "2.0": ["b==3.0"]}}, "c")


def _run(u: Universe) -> dict[str, str] | ResolutionFailed:
    provider = Provider([UniverseSource(u.index)], running_target())
    try:
        result = resolve([parse_requirement(r) for r in u.roots], provider)
    except GaveUp:
        raise  # a tiny universe never needs the budget: that would be a bug
    except ResolutionFailed as e:
        return e
    return {name: str(c.version) for name, c in result.pins.items()}


@settings(max_examples=250, deadline=None, derandomize=True, database=None)
@given(universes())
@example(BACKTRACK)
@example(EXTRA_CONFLICT)
@example(PYTHON_ONLY_OLD)
@example(CYCLE)
@example(IMPOSSIBLE)
@example(EXTRA_BACKJUMP)
@example(SKIPPED_PIN)
@example(PYTHON_LOOP)
def test_solver_agrees_with_brute_force(u: Universe) -> None:
    oracle = Oracle(u)
    expected = oracle.solution()
    got = _run(u)
    if isinstance(got, ResolutionFailed):
        assert expected is None, f"envtui: impossible ({got.explanation}); but {expected} works"
        return
    # Whatever envtui picks must be installable, whether or not it is the oracle's pick.
    why = oracle.valid(got)
    assert why is None, f"envtui picked {got}, but {why}"
    assert expected is not None


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(universes())
@example(EXTRA_BACKJUMP)
@example(SKIPPED_PIN)
def test_second_opinion_search_is_exact(u: Universe) -> None:
    """The complete search resolve() falls back on decides exactly what the oracle does."""
    provider = Provider([UniverseSource(u.index)], running_target())
    found = search([parse_requirement(r) for r in u.roots], provider)
    oracle = Oracle(u)
    if found is None:
        assert oracle.solution() is None
        return
    picked = {k: str(c.version) for k, c in found.items() if not c.extras and k != PYTHON}
    assert oracle.valid(picked) is None, picked


@pytest.mark.parametrize(("u", "works"), [(BACKTRACK, {"a": "1.0", "b": "1.0"}),
                                          (EXTRA_CONFLICT, {"a": "1.0", "b": "1.0"}),
                                          (PYTHON_ONLY_OLD, {"a": "1.0"}),
                                          (CYCLE, {"a": "1.0", "b": "1.0"}),
                                          (IMPOSSIBLE, None),
                                          (EXTRA_BACKJUMP, {"c": "2.0", "f": "1.1"}),
                                          (SKIPPED_PIN, {"b": "1.0", "c": "1.0"}),
                                          (PYTHON_LOOP, None)])
def test_oracle_on_hand_checked_universes(u: Universe, works: dict[str, str] | None) -> None:
    """The oracle itself, on universes whose answers were worked out by hand."""
    oracle = Oracle(u)
    assert oracle.solution() == works
    if works is not None:
        assert oracle.valid(works) is None
        # Dropping any package breaks a requirement: the oracle rejects bad sets too.
        for name in works:
            assert oracle.valid({n: v for n, v in works.items() if n != name}) is not None


def test_requirements_the_solver_cannot_read_are_ignored_and_reported() -> None:
    """Found by fuzzing the parsers: a marker packaging cannot evaluate, and one nested a
    thousand levels deep, used to escape from the provider as exceptions."""
    undefined = 'b; python_full_version ~= "3"'
    deep = "c; " + "(" * 1000 + 'python_version > "3"' + ")" * 1000
    index = {"a": {"1.0": {"dependencies": [undefined, deep, "d>=1"]}},
             "b": {"1.0": {"dependencies": []}}, "c": {"1.0": {"dependencies": []}},
             "d": {"1.0": {"dependencies": []}}}
    provider = Provider([UniverseSource(index)], running_target())
    result = resolve([parse_requirement("a")], provider)
    assert {n: str(c.version) for n, c in result.pins.items() if n != PYTHON} == {
        "a": "1.0", "d": "1.0"}
    assert sorted(text for _, text in provider.bad_requirements) == sorted([undefined, deep])
