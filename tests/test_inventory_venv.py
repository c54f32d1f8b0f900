"""Inventory of real virtual environments through the real `envtui` command."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.envfactory import site_packages
from tests.machine import PY, PY_FULL, Machine, build_machine, envtui, unlock


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Iterator[Machine]:
    m = build_machine(tmp_path_factory.mktemp("machine"), wheelhouse)
    yield m
    unlock(m)


@pytest.fixture(scope="module")
def listing(machine: Machine) -> list[dict[str, Any]]:
    proc = envtui(machine, "list", "--kind", "venv", "--json", "--no-cache", check=True)
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def by_name(listing: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in listing}


def test_every_venv_found_with_its_manager(listing: list[dict[str, Any]]) -> None:
    managers = {e["name"]: e["manager"] for e in listing}
    assert managers == {
        "stdlib-env": "venv",            # ~/.virtualenvs, made by python -m venv
        "wrapped": "virtualenv",         # ~/.virtualenvs, made by virtualenv
        f"myapp-AbCd1234-py{PY}": "poetry",
        "webapp-Xyz12345": "pipenv",
        "hello-world": "pipx",
        "tinytool": "uv",                # a uv tool
        "uvproj": "uv",                  # .venv beside uv.lock
        "poetryproj": "poetry",          # .venv beside poetry.lock (virtualenv made it)
        "pipenvproj": "pipenv",          # .venv beside Pipfile
        "plain": "venv",                 # venv/ beside a bare pyproject.toml
        "broken-env": "venv",
        "evil": "venv",
        "messy": "uv",
        "winenv": "venv",
        "deep-ok": "venv",
    }
    # Pruned (node_modules), too deep, and behind a permission-denied directory:
    assert not {"dep", "too-deep", "hidden-env"} & set(managers)


def test_contract_fields(listing: list[dict[str, Any]], machine: Machine) -> None:
    env = by_name(listing)["uvproj"]
    assert env["kind"] == "venv"
    assert env["path"] == str(machine.home / "code" / "uvproj" / ".venv")
    assert env["python"] == PY_FULL
    assert env["packages"] == 3
    assert env["size_bytes"] > 0
    assert env["last_used"].endswith("+00:00")
    assert env["problems"] == []
    for e in listing:
        assert {"kind", "name", "path", "id", "manager", "python", "packages", "size_bytes",
                "last_used", "problems"} <= set(e)


def test_packages_read_statically(machine: Machine) -> None:
    proc = envtui(machine, "show", str(machine.home / "code" / "uvproj" / ".venv"), "--json",
                  check=True)
    env = json.loads(proc.stdout)
    pkgs = {p["name"]: p for p in env["packages"]}
    assert {n: p["version"] for n, p in pkgs.items()} == {
        "newlib": "2.0", "numpy": "2.1.0", "tinydep": "0.3"}
    assert pkgs["newlib"]["requires"] == ["numpy>=2", "tinydep; extra == 'fast'"]
    assert pkgs["numpy"]["requires_python"] == ">=3.10"
    assert pkgs["numpy"]["summary"] == "Arrays"
    assert {p["installer"] for p in pkgs.values()} == {"uv"}

    pip_env = json.loads(envtui(machine, "show", "stdlib-env", "--json", check=True).stdout)
    assert {(p["name"], p["version"], p["installer"]) for p in pip_env["packages"]} == {
        ("numpy", "1.26.4", "pip"), ("oldlib", "1.0", "pip")}


def test_broken_venv_is_listed_with_its_packages(listing: list[dict[str, Any]]) -> None:
    env = by_name(listing)["broken-env"]
    assert env["packages"] == 1
    assert len(env["problems"]) == 1
    assert env["problems"][0].startswith("broken: base interpreter missing")
    assert env["problem_details"][0]["kind"] == "broken"


def test_inspection_never_runs_the_environment(listing: list[dict[str, Any]],
                                               machine: Machine) -> None:
    assert not machine.trace.exists(), "a .pth file ran during inspection"
    assert by_name(listing)["evil"]["problems"] == [
        "evil.pth: .pth file runs code whenever this environment's Python starts"]
    # Prove the trap is live: running that interpreter does leave the trace.
    subprocess.run([str(machine.home / "code" / "evil" / "bin" / "python"), "-c", "pass"],
                   check=True)
    assert machine.trace.read_text() == "ran"
    machine.trace.unlink()


def test_malformed_metadata_and_leftovers(machine: Machine) -> None:
    proc = envtui(machine, "show", str(machine.home / "code" / "messy"), "--json", check=True)
    env = json.loads(proc.stdout)
    pkgs = {p["name"]: p for p in env["packages"]}
    assert sorted(pkgs) == ["badreq", "empty", "huge", "latin", "legacy-pkg", "locked",
                            "noname", "norecord", "snapshot", "tinydep"]
    details = {n: [(x["kind"], x["detail"]) for x in p["problems"]] for n, p in pkgs.items()}
    assert details["noname"] == [("invalid-metadata", "noname-1.0.dist-info: missing Name")]
    assert details["snapshot"] == [
        ("invalid-metadata", "snapshot-1.0.dist-info: invalid version '1.0-SNAPSHOT'")]
    bad = "'pip; python_version == \"3.4\";extra == \"test\"'"
    assert details["badreq"] == [
        ("invalid-metadata", f"badreq-1.0.dist-info: unparseable Requires-Dist {bad}")]
    assert details["latin"] == [
        ("invalid-metadata", "latin-1.0.dist-info: metadata is not valid UTF-8")]
    assert pkgs["latin"]["summary"] == "caf\ufffd"
    assert details["huge"] == [
        ("invalid-metadata", "huge-1.0.dist-info: metadata header longer than 1048576 bytes")]
    assert details["norecord"] == [
        ("incomplete", "norecord-1.0.dist-info: RECORD missing (incomplete install)")]
    assert details["empty"] == [
        ("incomplete", "empty-1.0.dist-info: METADATA missing (incomplete install)")]
    locked = site_packages(machine.home / "code" / "messy") / "locked-1.0.dist-info"
    assert details["locked"] == [("unreadable", f"{locked}: unreadable (Permission denied)")]
    assert details["tinydep"] == []
    # The hand-written tinydep 0.1 sorts first, so it wins over uv's 0.3, with a warning.
    assert pkgs["tinydep"]["version"] == "0.1"
    assert pkgs["legacy-pkg"]["version"] == "2.0"
    assert pkgs["legacy-pkg"]["requires"] == [
        "tinydep>=0.1", 'numpy; extra == "speed"', 'colorama; sys_platform == "win32"']
    env_problems = [p for p in env["problem_details"]
                    if p["kind"] in ("interrupted", "duplicate")]
    assert [(p["kind"], p["detail"].split(":")[0]) for p in env_problems] == [
        ("interrupted", "~ip"), ("interrupted", "~ip-1.0.dist-info"),
        ("duplicate", "tinydep is installed twice")]
    assert "ip" not in pkgs and "-ip" not in pkgs


def test_windows_layout(listing: list[dict[str, Any]], machine: Machine) -> None:
    env = by_name(listing)["winenv"]
    assert (env["python"], env["packages"], env["problems"]) == ("3.12.1", 1, [])


def test_unreadable_directory_is_one_problem_line(machine: Machine) -> None:
    proc = envtui(machine, "list", "--kind", "venv", "--refresh", check=True)
    locked = machine.home / "code" / "locked-dir"
    assert proc.stderr == f"envtui: {locked}: unreadable (Permission denied)\n"
    assert str(locked) not in proc.stdout


def test_size_counts_hardlinks_once_like_du(machine: Machine) -> None:
    env_dir = machine.home / "code" / "plain" / "venv"
    big = env_dir / "blob.bin"
    big.write_bytes(os.urandom(1 << 20))
    os.link(big, env_dir / "blob-link.bin")
    try:
        env = json.loads(envtui(machine, "show", str(env_dir), "--json", "--no-cache",
                                check=True).stdout)
        du = subprocess.run(["du", "-s", "-x", "--block-size=1", str(env_dir)],
                            capture_output=True, text=True, check=True)
        assert env["size_bytes"] == int(du.stdout.split()[0])
        assert (1 << 20) <= env["size_bytes"] < (2 << 20)
    finally:
        big.unlink()
        (env_dir / "blob-link.bin").unlink()


def test_check_reports_the_planted_problems_and_nothing_else(
        listing: list[dict[str, Any]], machine: Machine) -> None:
    proc = envtui(machine, "check", "--json")
    assert proc.returncode == 1
    found: dict[str, list[str]] = {}
    for p in json.loads(proc.stdout):
        found.setdefault(p["env"], []).append(p["detail"])
    planted = {e["path"]: e["problems"] for e in listing if e["problems"]}
    assert found == planted
    assert set(planted) == {str(machine.home / "code" / n) for n in ("broken-env", "evil",
                                                                    "messy")}
