"""Dependency trees and checks on real venvs, against pip check and pipdeptree as oracles."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from envtui.inspectors.base import Location
from envtui.inspectors.venv import VenvInspector
from envtui.model import Environment, EnvKind, canonical_name
from envtui.resolver.checks import check_environment
from envtui.resolver.graph import build_graph
from envtui.resolver.tree import dependency_tree
from tests.envfactory import make_venv, pip_install, python_of, site_packages, uv_install
from tests.wheels import build_wheel


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("check-wheels")
    build_wheel(d, "numpy", "2.1.0")
    build_wheel(d, "numpy", "1.26.4")
    build_wheel(d, "oldlib", "1.0", requires=["numpy<2"])
    build_wheel(d, "newlib", "2.0", requires=["numpy>=2", "tinydep; extra == 'fast'",
                                              "winonly; sys_platform == 'win32'"])
    build_wheel(d, "app", "1.0", requires=["newlib[fast]>=1", "OldLib (>=0.1, <3)"])
    build_wheel(d, "tinydep", "0.3")
    build_wheel(d, "needs-gone", "1.0", requires=["gone>=1", "tinydep"])
    build_wheel(d, "cyc-a", "1.0", requires=["cyc-b"])
    build_wheel(d, "cyc-b", "1.0", requires=["cyc-a>=1"])
    build_wheel(d, "tri-a", "1.0", requires=["tri-b[x]"])
    build_wheel(d, "tri-b", "1.0", requires=["tri-c; extra == 'x'"])
    build_wheel(d, "tri-c", "1.0", requires=["tri-a"])
    build_wheel(d, "future", "1.0", requires_python=">=3.99")
    return d


def _read(venv: Path) -> Environment:
    return VenvInspector().read(Location(EnvKind.VENV, str(venv)))


@pytest.fixture(scope="module")
def venvs(tmp_path_factory: pytest.TempPathFactory, wheels: Path) -> dict[str, Path]:
    """Real uv venvs, each with one kind of planted problem (--no-deps lets us plant them)."""
    root = tmp_path_factory.mktemp("check-venvs")
    planted = {
        # oldlib needs numpy<2 while newlib (through app) needs numpy>=2: numpy 2.1 is in.
        "conflict": ["app", "oldlib", "numpy==2.1.0", "newlib", "tinydep"],
        "missing": ["needs-gone", "tinydep"],
        "cycles": ["cyc-a", "cyc-b", "tri-a", "tri-b", "tri-c"],
        "clean": ["oldlib", "numpy==1.26.4"],
    }
    out = {name: make_venv(root / name, "uv") for name in [*planted, "python"]}
    for name, reqs in planted.items():
        uv_install(out[name], wheels, "--no-deps", *reqs)
    # uv refuses a package whose Requires-Python excludes the env; pip can be told to.
    pip_install(out["python"], wheels, "--ignore-requires-python", "future")
    return out


def _pip_check(venv: Path) -> set[tuple[str, str, str]]:
    """pip's own verdict, as (kind, dependent, dependency) with normalised names."""
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(python_of(venv)),
                           "check"], capture_output=True, text=True)
    found = set()
    for line in proc.stdout.splitlines():
        if m := re.match(r"(\S+) \S+ requires (\S+?),? which is not installed", line):
            found.add(("missing", canonical_name(m[1]), canonical_name(m[2])))
        elif m := re.match(r"(\S+) \S+ has requirement (.+), but you have (\S+) ", line):
            found.add(("conflict", canonical_name(m[1]), canonical_name(m[3])))
    return found


def _ours(env: Environment) -> set[tuple[str, str, str]]:
    from packaging.requirements import Requirement

    return {(p.kind, canonical_name(p.package or ""),
             canonical_name(Requirement(p.requirement or "").name))
            for p in check_environment(env) if p.kind in ("conflict", "missing")}


@pytest.mark.parametrize("name", ["conflict", "missing", "cycles", "python", "clean"])
def test_conflicts_and_missing_match_pip_check(venvs: dict[str, Path], name: str) -> None:
    assert _ours(_read(venvs[name])) == _pip_check(venvs[name])


def test_planted_problems_exactly(venvs: dict[str, Path]) -> None:
    def problems(name: str) -> list[tuple[str, str]]:
        return [(p.kind, p.detail) for p in check_environment(_read(venvs[name]))]

    assert problems("conflict") == [
        ("conflict", "oldlib 1.0 requires numpy<2, but numpy 2.1.0 is installed")]
    assert problems("missing") == [
        ("missing", "needs-gone 1.0 requires gone>=1, which is not installed")]
    assert problems("cycles") == [
        ("cycle", "dependency cycle: cyc-a -> cyc-b -> cyc-a"),
        ("cycle", "dependency cycle: tri-a -> tri-b -> tri-c -> tri-a"),
    ]
    py = ".".join(map(str, sys.version_info[:3]))
    assert problems("python") == [
        ("requires-python",
         f"future 1.0 requires Python >=3.99, but this environment has Python {py}")]
    assert problems("clean") == []


def _pipdeptree(venv: Path) -> list[dict[str, Any]]:
    # --path reads the site-packages statically; --python would run the env's interpreter.
    proc = subprocess.run([sys.executable, "-m", "pipdeptree", "--path",
                           str(site_packages(venv)), "-o", "json-tree"],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def _their_shape(node: dict[str, Any], root: bool) -> Any:
    return (node["key"], node["installed_version"],
            "Any" if root else node["required_version"],
            [_their_shape(c, False) for c in node["dependencies"]])


def _our_shape(node: dict[str, Any]) -> Any:
    return (node["key"], node["version"] or "?", node["required"],
            [_our_shape(c) for c in node["children"]])


@pytest.mark.parametrize("name", ["conflict", "missing", "cycles", "python", "clean"])
def test_tree_matches_pipdeptree(venvs: dict[str, Path], name: str) -> None:
    ours = dependency_tree(build_graph(_read(venvs[name])))
    assert [_our_shape(n) for n in ours] == [_their_shape(n, True)
                                            for n in _pipdeptree(venvs[name])]


def test_tree_follows_extras_only_where_asked_and_evaluates_markers(
        venvs: dict[str, Path]) -> None:
    (app,) = [n for n in dependency_tree(build_graph(_read(venvs["conflict"])))
              if n["name"] == "app"]
    newlib = next(c for c in app["children"] if c["key"] == "newlib")
    # tinydep only because app asks for newlib[fast]; winonly never (not Windows).
    assert [c["key"] for c in newlib["children"]] == ["numpy", "tinydep"]


def test_reverse_tree_answers_why(venvs: dict[str, Path]) -> None:
    graph = build_graph(_read(venvs["conflict"]))
    (numpy,) = dependency_tree(graph, reverse=True, package="numpy")
    assert [(c["name"], c["required"], c["conflict"]) for c in numpy["children"]] == [
        ("newlib", ">=2", False), ("oldlib", "<2", True)]
    assert [c["name"] for c in numpy["children"][0]["children"]] == ["app"]
    assert dependency_tree(graph, reverse=True, package="numpy", depth=0)[0]["children"] == []


@pytest.mark.parametrize(("requirement", "written"), [
    ("Foo (>=0.1, <3)", ">=0.1,<3"),
    ("foo[bar,baz]>= 1.0 ,!=1.5; python_version < '3.12'", ">=1.0,!=1.5"),
    ("foo", ""),
    ("foo @ https://example.invalid/foo-1.0.whl", ""),
    ("foo.bar_baz~=2.1", "~=2.1"),
    ("foo ===1.0-local", "===1.0-local"),
])
def test_written_specifier(requirement: str, written: str) -> None:
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet

    from envtui.resolver.graph import written_specifier

    assert written_specifier(requirement) == written
    assert SpecifierSet(written) == Requirement(requirement).specifier


def _chain(n: int, *, cyclic: bool) -> Environment:
    from envtui.model import Package

    pkgs = tuple(Package(f"p{i:05d}", "1.0",
                         requires=((f"p{(i + 1) % n:05d}>=1",) if cyclic or i < n - 1 else ()))
                 for i in range(n))
    return Environment(kind=EnvKind.VENV, name="deep", manager="venv", python="3.11.7",
                       packages=pkgs)


def test_deep_chains_and_long_cycles_stay_bounded() -> None:
    from envtui.resolver.tree import render_text

    graph = build_graph(_chain(3000, cyclic=False))
    (root,) = dependency_tree(graph)
    node, depth = root, 0
    while node["children"]:
        node, depth = node["children"][0], depth + 1
    assert depth == 2999  # no recursion limit on the way down
    assert render_text([root]).count("\n") == 2999

    cyclic = build_graph(_chain(3000, cyclic=True))
    (cycle,) = [p.detail for p in check_environment(cyclic.env) if p.kind == "cycle"]
    assert cycle == ("dependency cycle: p00000 -> p00001 -> p00002 -> p00003 -> p00004 -> "
                     "p00005 -> p00006 -> p00007 -> ... (3000 packages in all)")
    roots = dependency_tree(cyclic, max_nodes=10_000)  # every package is a root of a loop
    assert len(roots) == 3000
    count, stack, truncated = 0, list(roots), False
    while stack:
        n = stack.pop()
        count += 1
        truncated = truncated or n["truncated"]
        stack += n["children"]
    assert truncated and count <= 10_000 + 3000
