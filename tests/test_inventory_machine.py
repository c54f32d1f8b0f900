"""The whole fixture machine at once: venvs, conda envs and Docker in one `envtui list`.

This is the issue's acceptance test: every environment with the contract's fields, exact
kinds and managers, and nothing from an inspected environment ever run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conda_channel import make_machine
from tests.docker_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    DockerWorld,
    docker_client_fixture,
    docker_host_fixture,
    docker_world_fixture,
)
from tests.machine import Machine, build_machine, envtui, unlock

CONTRACT = {"kind": str, "name": str, "manager": str, "packages": int, "problems": list}


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path,
          docker_world: DockerWorld) -> Iterator[tuple[Machine, list[dict[str, Any]]]]:
    root = tmp_path_factory.mktemp("whole")
    make_machine(root)                      # conda envs under root/home (py-rattler)
    machine = build_machine(root, wheelhouse)  # venvs under the same home
    env_override = {"DOCKER_HOST": docker_world.host}
    try:
        proc = envtui(machine, "list", "--json", env_extra=env_override)
        assert proc.returncode == 0, proc.stderr
        yield machine, json.loads(proc.stdout)
    finally:
        unlock(machine)


@pytest.mark.docker
def test_every_kind_with_the_contract_fields(
        whole: tuple[Machine, list[dict[str, Any]]], docker_world: DockerWorld) -> None:
    _, listing = whole
    ours = [e for e in listing
            if e["kind"] in ("venv", "conda") or docker_world.prefix in json.dumps(e)]
    by_kind: dict[str, set[tuple[str, str]]] = {}
    for e in ours:
        by_kind.setdefault(e["kind"], set()).add((e["name"], e["manager"]))
        for key, typ in CONTRACT.items():
            assert isinstance(e[key], typ), (key, e)
        assert e["path"] or e["id"]
        assert e["python"] is None or e["python"].startswith("3.")
        assert e["size_bytes"] is None or e["size_bytes"] >= 0
    assert by_kind["conda"] == {("base", "conda"), ("data", "mamba"), ("default", "pixi"),
                                ("tools-env", "conda")}
    assert len(by_kind["venv"]) == 15
    assert {("hello-world", "pipx"), ("uvproj", "uv"), ("wrapped", "virtualenv")} <= \
        by_kind["venv"]
    images = {n for n, _ in by_kind["image"]}
    assert set(docker_world.tags["multi"][:1]) <= images
    assert {n for n, _ in by_kind["container"]} == set(docker_world.names.values())
    assert {m for k in ("image", "container") for _, m in by_kind[k]} == {"docker"}


@pytest.mark.docker
def test_nothing_inspected_was_run(whole: tuple[Machine, list[dict[str, Any]]]) -> None:
    machine, _ = whole
    assert not machine.trace.exists()
    assert not list(machine.home.rglob("*.was-run"))  # the conda fixture's fake python


@pytest.mark.docker
def test_check_reports_every_planted_problem_and_nothing_else(
        whole: tuple[Machine, list[dict[str, Any]]], docker_world: DockerWorld) -> None:
    machine, listing = whole
    proc = envtui(machine, "check", "--json", env_extra={"DOCKER_HOST": docker_world.host})
    assert proc.returncode == 1, proc.stderr
    # This machine's environments: its venvs and conda envs, and the fixtures' Docker objects.
    ours = {e["ref"]: e for e in listing
            if e["kind"] in ("venv", "conda") or docker_world.prefix in json.dumps(e)}
    found = [p for p in json.loads(proc.stdout) if p["env"] in ours]
    # The dependency problems the fixtures planted, in Docker (venvs and conda envs here
    # are consistent: their planted problems are the inventory's own, checked below).
    graph_kinds = {"conflict", "missing", "cycle", "requires-python"}
    assert sorted((p["env"], p["kind"], p["detail"]) for p in found
                  if p["kind"] in graph_kinds) == [
        (f"container:{docker_world.names['added']}", "conflict",
         "newlib 2.0 requires numpy>=2, but numpy 1.26.4 is installed"),
        (f"image:{docker_world.tags['egg'][0]}", "missing",
         "legacy-pkg 2.0 requires tinydep>=0.1, which is not installed"),
    ]
    # Everything else check reports is exactly what the inventory listed.
    rest: dict[str, list[str]] = {}
    for p in found:
        if p["kind"] not in graph_kinds:
            rest.setdefault(p["env"], []).append(p["detail"])
    assert rest == {ref: e["problems"] for ref, e in ours.items() if e["problems"]}
