"""The fast paths of the dependency graph, the checks and `tree --format json` give what the
plain way gives: memoised parsing and marker results, edges shared between environments,
graphs read back from the cache, the cycle search that peels leaves first and the tree's
JSON writer. No timings here: the benchmarks measure those.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envtui.cli import _print_deep_json
from envtui.inspectors.base import Location
from envtui.inspectors.cache import Cache
from envtui.inspectors.venv import VenvInspector
from envtui.model import Environment, EnvKind, Package, canonical_name
from envtui.resolver import checks, graph
from envtui.resolver.checks import check_environment, strongly_connected
from envtui.resolver.graph import (
    ANY,
    DependencyGraph,
    Edge,
    build_graph,
    cached_graph,
    marker_environment,
    written_specifier,
)
from envtui.resolver.tree import dependency_tree
from tests.envfactory import make_venv, uv_install

# Requirements that take every branch: extras (spelled loosely), duplicates, a
# self-reference, markers on Python, platform and extras, a direct URL, unparseable lines,
# pre-releases, local and arbitrary versions and an installed version that is not PEP 440.
APP_REQUIRES = (
    "Lib_A[Fast, SLOW] (>=1.0, <3)",
    "lib-a>=0",
    "app>=0",
    "missing-one>=2; python_version >= '3.10'",
    "old-only; python_version < '3.9'",
    "winonly; sys_platform == 'win32'",
    "x86only; platform_machine == 'x86_64' or platform_machine == 'AMD64'",
    "urlpkg @ https://example.invalid/urlpkg-1.0-py3-none-any.whl",
    "bad>=",
    "bad2 [x",
    "pre>=2.0.0rc1",
    "pre2<2",
    "local==1.0",
    "weird===1.0-custom",
    "notpep440>=1",
    "cyc-x",
)

PACKAGES = (
    Package("App", "1.0", requires=APP_REQUIRES, requires_python=">=3"),
    Package("lib.a", "2.0", requires=(
        "fastdep; extra == 'fast'",
        "slowdep>=1; extra == 'slow' and python_version >= '3.8'",
        "neverdep; extra == 'other'",
    )),
    Package("fastdep", "1.0", requires=("chain-b[x]",)),
    Package("chain-b", "1.0", requires=("chain-c[y]; extra == 'x'",)),
    Package("chain_c", "1.0", requires=("chain-d; extra == 'y'",)),
    Package("Chain.D", "1.0", requires_python="~="),
    Package("slowdep", "0.5"),
    Package("old-only", "1.0"),
    Package("winonly", "1.0"),
    Package("x86only", "1.0"),
    Package("pre", "2.0.0rc2"),
    Package("pre2", "2.0.0a1"),
    Package("local", "1.0+local"),
    Package("weird", "1.0-custom"),
    Package("notpep440", "not.a.version!"),
    Package("future", "1.0", requires_python=">=3.99"),
    Package("cyc-x", "1.0", requires=("cyc-y>=1",)),
    Package("cyc-y", "1.0", requires=("CYC_X (>=0.5)",)),
)


def _env(python: str, *, kind: EnvKind = EnvKind.VENV, windows: bool = False,
         packages: tuple[Package, ...] = PACKAGES) -> Environment:
    details = {"site_packages": ["C:/env/Lib/site-packages"]} if windows else {}
    return Environment(kind=kind, name=f"env-{python}", manager="venv", python=python,
                       path=f"/envs/{python}-{kind.value}-{windows}", packages=packages,
                       details=details)


ENVS = [_env("3.8.10"), _env("3.12.1"), _env("3.12.1", kind=EnvKind.IMAGE),
        _env("3.11", windows=True)]


def _forget() -> None:
    """Empty every memo of the graph and the checks, as in a new process."""
    for memo in (graph._parse, graph._python_edge, graph._python_satisfied, graph._canonical,
                 checks._python_excluded):
        memo.cache_clear()
    graph._marker_environments.clear()


@pytest.fixture
def fresh() -> Iterator[None]:
    _forget()
    yield
    _forget()


def _reference(env: Environment) -> tuple[dict[str, list[Edge]], list[tuple[str, str]]]:
    """The graph as build_graph made it before it had fast paths: every requirement parsed,
    every marker evaluated and every specifier checked afresh, and all edges rebuilt in
    each round until the extras asked for stop changing."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    def parse(raw: str) -> Requirement | None:
        try:
            return Requirement(raw)
        except InvalidRequirement:
            return None

    def satisfied(spec: str, version: str) -> bool:
        try:
            return not spec or SpecifierSet(spec).contains(Version(version), prereleases=True)
        except InvalidVersion:
            return True

    nodes: dict[str, Package] = {}
    for pkg in env.packages:
        if canonical_name(pkg.name) not in nodes or pkg.source == "python":
            nodes[canonical_name(pkg.name)] = pkg
    values = marker_environment(env)

    def edges_of(key: str, pkg: Package, extras: set[str]) -> list[Edge]:
        out: list[Edge] = []
        for raw in pkg.requires:
            req = parse(raw)
            if req is None or (req.marker is not None and not any(
                    req.marker.evaluate({**values, "extra": e}) for e in extras or {""})):
                continue
            child_key = canonical_name(req.name)
            if child_key == key or child_key in {e.child for e in out}:
                continue
            child = nodes.get(child_key)
            spec = written_specifier(raw) if req.specifier else ""
            out.append(Edge(key, child_key, req.name, raw, spec or ANY,
                            tuple(sorted(canonical_name(x) for x in req.extras)),
                            child.version if child else None,
                            child is not None and satisfied(spec, child.version)))
        return out

    extras: dict[str, set[str]] = {k: set() for k in nodes}
    while True:
        edges = {k: edges_of(k, pkg, extras[k]) for k, pkg in nodes.items()}
        asked: dict[str, set[str]] = {k: set() for k in nodes}
        for found in edges.values():
            for e in found:
                if e.child in asked:
                    asked[e.child].update(e.extras)
        if asked == extras:
            invalid = [(k, raw) for k, pkg in nodes.items() for raw in pkg.requires
                       if parse(raw) is None]
            return edges, invalid
        extras = asked


def _shape(g: DependencyGraph) -> tuple[dict[str, list[Edge]], list[tuple[str, str]]]:
    return g.edges, [(canonical_name(pkg.name), raw) for pkg, raw in g.invalid]


@pytest.mark.usefixtures("fresh")
def test_memoised_graphs_match_the_plain_way_across_environments() -> None:
    # Each environment twice, others in between: memos shared between environments with
    # other Pythons and platforms must not leak marker results or edges.
    for env in [*ENVS, *reversed(ENVS)]:
        assert _shape(build_graph(env)) == _reference(env), env.name


@pytest.mark.usefixtures("fresh")
def test_tricky_requirements_give_the_expected_edges() -> None:
    old, new, image, windows = (build_graph(env) for env in ENVS)
    app = {e.child: e for e in old.children("app")}
    assert "app" not in app  # the self-reference
    assert app["lib-a"].requirement == "Lib_A[Fast, SLOW] (>=1.0, <3)"  # the first of two
    assert (app["lib-a"].extras, app["lib-a"].specifier) == (("fast", "slow"), ">=1.0,<3")
    assert app["urlpkg"].specifier == ANY and app["urlpkg"].installed is None
    # Pre-releases count as installed versions, but `<2` excludes 2's own (PEP 440).
    assert (app["pre"].satisfied, app["pre2"].satisfied, app["local"].satisfied) == (
        True, False, True)
    assert app["weird"].satisfied and app["notpep440"].satisfied  # not comparable
    assert "old-only" in app and "missing-one" not in app
    assert {e.child for e in new.children("app")} >= {"missing-one"} - {"old-only"}
    assert "old-only" not in {e.child for e in new.children("app")}
    assert "winonly" not in {e.child for e in image.children("app")}
    assert "winonly" in {e.child for e in windows.children("app")}
    # Extras reach down a chain, one round at a time; `other` is never asked for.
    assert [e.child for e in old.children("lib-a")] == ["fastdep", "slowdep"]
    assert [e.child for e in old.children("chain-b")] == ["chain-c"]
    assert [e.child for e in old.children("chain-c")] == ["chain-d"]
    assert [raw for _, raw in old.invalid] == ["bad>=", "bad2 [x"]


@pytest.mark.usefixtures("fresh")
def test_problems_are_the_same_from_fresh_memos_and_warm_ones() -> None:
    fresh = {}
    for env in ENVS:
        _forget()
        fresh[env.name, env.kind] = check_environment(env)
    _forget()
    for env in [*ENVS, *ENVS]:
        assert check_environment(env) == fresh[env.name, env.kind]
    assert [(p.kind, p.detail) for p in fresh[ENVS[0].name, ENVS[0].kind]] == [
        ("missing", "App 1.0 requires urlpkg @ https://example.invalid/urlpkg-1.0-py3-none-any"
                    ".whl, which is not installed"),
        ("conflict", "App 1.0 requires pre2<2, but pre2 2.0.0a1 is installed"),
        ("conflict", "lib.a 2.0 requires slowdep>=1; extra == 'slow' and python_version >= "
                     "'3.8', but slowdep 0.5 is installed"),
        ("requires-python", "future 1.0 requires Python >=3.99, but this environment has "
                            "Python 3.8.10"),
        ("cycle", "dependency cycle: cyc-x -> cyc-y -> cyc-x"),
    ]


@given(st.dictionaries(st.integers(0, 7), st.lists(st.integers(0, 9), max_size=4),
                       max_size=8))
@settings(max_examples=200, deadline=None)
def test_cycles_match_mutual_reachability(requires: dict[int, list[int]]) -> None:
    """Peeling leaves before Tarjan finds exactly the groups that reach each other
    (requirements on 8 and 9 are never installed; self-references are dropped)."""
    env = Environment(kind=EnvKind.VENV, name="g", manager="venv", python="3.12", packages=tuple(
        Package(f"p{k}", "1", requires=tuple(f"p{c}" for c in children))
        for k, children in sorted(requires.items())))
    g = build_graph(env)

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for e in g.children(todo.pop()):
                if e.child in g.packages and e.child not in seen:
                    seen.add(e.child)
                    todo.append(e.child)
        return seen

    reached = {k: reach(k) for k in g.packages}
    groups = {frozenset({k} | {o for o in reached[k] if k in reached[o]})
              for k in g.packages if k in reached[k]}
    found = strongly_connected(g)
    assert {frozenset(group) for group in found} == groups
    assert found == sorted(found) and all(group[0] == min(group) for group in found)


def _printed(roots: list[dict[str, Any]], indent: int | None) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        _print_deep_json(roots, indent)
    return out.getvalue()


NASTY = st.text(alphabet=st.sampled_from(['"', "\\", "}", "{", ",", " ", ":", "[", "]",
                                          "a", "é", "\n", "\x1b", "☃"]), max_size=12)


@st.composite
def _trees(draw: st.DrawFn, depth: int = 0) -> list[dict[str, Any]]:
    nodes = []
    for _ in range(draw(st.integers(0, 3 if depth < 3 else 0))):
        nodes.append({"key": draw(NASTY), "name": draw(NASTY),
                      "version": draw(st.none() | NASTY), "required": draw(NASTY),
                      "missing": draw(st.booleans()), "conflict": draw(st.booleans()),
                      "cycle": draw(st.booleans()), "truncated": draw(st.booleans()),
                      "children": draw(_trees(depth + 1))})
    return nodes


@given(_trees())
@settings(max_examples=300, deadline=None)
def test_tree_json_is_exactly_what_json_dumps_writes(roots: list[dict[str, Any]]) -> None:
    assert _printed(roots, 2) == json.dumps(roots, indent=2) + "\n"
    assert _printed(roots, None) == json.dumps(roots) + "\n"


def test_tree_json_of_real_trees_and_deep_chains() -> None:
    for env in ENVS:
        for reverse in (False, True):
            roots = dependency_tree(build_graph(env), reverse=reverse)
            assert _printed(roots, 2) == json.dumps(roots, indent=2) + "\n"
    chain = Environment(kind=EnvKind.VENV, name="deep", manager="venv", python="3.12",
                        packages=tuple(Package(f"p{i:04d}", "1", requires=(f"p{i + 1:04d}",))
                                       for i in range(3000)))
    roots = dependency_tree(build_graph(chain))
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)  # json.dumps nests a C call per level
    try:
        expected = json.dumps(roots) + "\n"
    finally:
        sys.setrecursionlimit(limit)
    assert _printed(roots, None) == expected


def _graphs_equal(a: DependencyGraph, b: DependencyGraph) -> bool:
    return a.packages == b.packages and _shape(a) == _shape(b)


def test_cached_graph_reads_back_what_build_graph_builds(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    env = ENVS[0]
    first = cached_graph(env, cache)
    again = cached_graph(env, cache)
    assert _graphs_equal(first, build_graph(env)) and _graphs_equal(again, first)
    assert again.edges["app"][0] is not first.edges["app"][0]  # read back, not rebuilt
    assert len(list(tmp_path.rglob("*.json"))) == 1
    # Another Python, platform, version or requirement: the stored graph is not used, and
    # the environment's one entry is replaced.
    for changed in (replace(env, python="3.12.1"), replace(env, details=ENVS[3].details),
                    replace(env, packages=(PACKAGES[0], Package("lib.a", "0.5"),
                                           *PACKAGES[2:])),
                    replace(env, packages=(replace(PACKAGES[0], requires=("pre2>=2",)),
                                           *PACKAGES[1:]))):
        assert _graphs_equal(cached_graph(changed, cache), build_graph(changed))
    (entry,) = tmp_path.rglob("*.json")
    # A damaged entry is rebuilt; so is every one under --refresh.
    stored = json.loads(entry.read_text())
    stored["value"]["edges"] = [["app", [["lib-a"]]]]
    entry.write_text(json.dumps(stored))
    assert _graphs_equal(cached_graph(env, cache), build_graph(env))
    assert _graphs_equal(cached_graph(env, cache, refresh=True), build_graph(env))


def test_cached_graph_builds_conda_environments_every_time(tmp_path: Path) -> None:
    conda = Environment(kind=EnvKind.CONDA, name="c", manager="conda", python="3.12",
                        packages=(Package("zlib", "1.3", source="conda"),))
    assert _graphs_equal(cached_graph(conda, Cache(tmp_path)), build_graph(conda))
    assert not list(tmp_path.rglob("*.json"))


PROBE = """
import contextlib, io, json, sys
from envtui.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(["tree", sys.argv[1], "--format", "json"])
print(json.dumps({"code": code, "out": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def test_tree_command_imports_no_textual_and_no_packaging_once_cached(
        home: Path, wheelhouse: Path) -> None:
    venv = make_venv(home / "proj" / ".venv", "uv")
    uv_install(venv, wheelhouse, "--no-deps", "oldlib", "numpy==2.1.0", "newlib", "tinydep",
               "Hello_World")

    def run() -> dict[str, Any]:
        proc = subprocess.run([sys.executable, "-c", PROBE, str(venv)], capture_output=True,
                              text=True, check=True, timeout=120)
        return json.loads(proc.stdout)  # type: ignore[no-any-return]

    cold, warm = run(), run()
    env = VenvInspector().read(Location(EnvKind.VENV, str(venv)))
    expected = json.dumps(dependency_tree(build_graph(env)), indent=2) + "\n"
    assert cold["code"] == warm["code"] == 0
    assert cold["out"] == warm["out"] == expected
    for probe in (cold, warm):
        assert not [m for m in probe["modules"] if m.split(".")[0] == "textual"]
    assert "packaging.requirements" in cold["modules"]  # the graph was built...
    assert not [m for m in warm["modules"] if m.startswith("packaging.")]  # ...then read
