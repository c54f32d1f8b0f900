"""Dependency checks on real conda environments made by py-rattler."""

from __future__ import annotations

import json
from pathlib import Path

from envtui.inspectors.base import Location
from envtui.inspectors.conda import CondaInspector
from envtui.model import Environment, EnvKind
from envtui.resolver.checks import check_environment
from envtui.resolver.graph import build_graph
from envtui.resolver.tree import dependency_tree
from tests.conda_channel import copy_env
from tests.test_conda import (
    Fixture,
    conda_fixture,  # noqa: F401 - registers `conda`
)


def _read(prefix: Path) -> Environment:
    return CondaInspector(system_roots=()).read(Location(EnvKind.CONDA, str(prefix)))


def test_consistent_conda_env_has_no_dependency_problems(conda: Fixture) -> None:
    env = _read(conda.m.data)
    assert [p for p in check_environment(env) if p.kind in ("conflict", "missing")] == []
    (numpy,) = dependency_tree(build_graph(env), reverse=True, package="zlib")[0]["children"]
    assert (numpy["name"], numpy["required"]) == ("numpy", ">=1.3.1,<2.0a0")


def test_record_violating_a_depends_spec(conda: Fixture, tmp_path: Path) -> None:
    env_dir = copy_env(conda.m.data, tmp_path / "data")
    record = next((env_dir / "conda-meta").glob("numpy-*.json"))
    data = json.loads(record.read_text())
    # As if zlib had been swapped under numpy: numpy's record wants zlib 2.x.
    data["depends"] = ["python >=3.11,<3.12.0a0", "zlib >=2.0", "libblas >=3.9"]
    record.write_text(json.dumps(data))
    problems = [(p.kind, p.detail) for p in check_environment(_read(env_dir))
                if p.kind in ("conflict", "missing")]
    assert problems == [
        ("conflict", "numpy 1.26.4 requires zlib >=2.0, but zlib 1.3.1 is installed"),
        ("missing", "numpy 1.26.4 requires libblas >=3.9, which is not installed"),
    ]
