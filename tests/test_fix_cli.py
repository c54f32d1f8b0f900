"""`envtui resolve`, `fix` and `undo` end to end: real venvs, real wheels, local sources only.

After every applied fix both `pip check` and `uv pip check` must agree the environment is
consistent; after `undo` every file is as it was (the manifest covers RECORDs and hashes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from envtui.resolver.actions import Action, ActionKind
from tests.envfactory import make_venv, python_of, uv_bin, uv_install
from tests.envstate import Hang, interrupt_apply, manifest
from tests.wheels import build_wheel

LOCAL = ("--no-index", "--offline")


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull}
    return subprocess.run([sys.executable, "-m", "envtui", *map(str, args)], capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL, env=env, cwd=cwd)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_fix_wheels(tmp_path_factory.mktemp("fix-wheels"))


def build_fix_wheels(d: Path) -> Path:
    """Wheels for the NumPy conflict, a diamond, a downgrade-only fix and an impossible one."""
    build_wheel(d, "numpy", "1.26.4", requires_python=">=3.9")
    build_wheel(d, "numpy", "2.1.0", requires_python=">=3.10")
    build_wheel(d, "oldlib", "1.0", requires=["numpy<2"])
    build_wheel(d, "oldlib", "1.3", requires=["numpy>=1.26"])
    build_wheel(d, "newlib", "2.0", requires=["numpy>=2"])
    # a diamond: app needs left and right, which both need shared
    build_wheel(d, "app", "1.0", requires=["left", "right"])
    build_wheel(d, "left", "1.0", requires=["shared>=1.1"])
    build_wheel(d, "right", "1.0", requires=["shared<1.3"])
    for v in ("1.0", "1.1", "1.2", "1.3"):
        build_wheel(d, "shared", v)
    # fixable only by moving a package down: strict 2.0 wants base 2, only 1.x of user fits
    build_wheel(d, "base", "1.0")
    build_wheel(d, "base", "2.0")
    build_wheel(d, "user", "1.0", requires=["base<2"])
    build_wheel(d, "strict", "1.0", requires=["base<2"])
    build_wheel(d, "strict", "2.0", requires=["base>=2"])
    build_wheel(d, "top", "1.0", requires=["user", "strict"])
    # impossible: both sides have only one version and a dependent that needs them
    build_wheel(d, "stuck-a", "1.0", requires=["core<2"])
    build_wheel(d, "stuck-b", "1.0", requires=["core>=2"])
    build_wheel(d, "core", "1.0")
    build_wheel(d, "core", "2.0")
    build_wheel(d, "umbrella", "1.0", requires=["stuck-a", "stuck-b"])
    return d


def conflicted_venv(root: Path, wheels: Path, deps: list[str], nodeps: list[str]) -> Path:
    venv = make_venv(root / "env", "uv")
    uv_install(venv, wheels, *deps)
    if nodeps:
        uv_install(venv, wheels, "--no-deps", *nodeps)
    return venv


def installers_agree(venv: Path) -> None:
    pip = subprocess.run([sys.executable, "-m", "pip", "--python", str(python_of(venv)), "check"],
                         capture_output=True, text=True)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    uv = subprocess.run([uv_bin(), "pip", "check", "--python", str(python_of(venv))],
                        capture_output=True, text=True)
    assert uv.returncode == 0, uv.stdout + uv.stderr


def installed(venv: Path) -> dict[str, str]:
    out = run("show", venv, "--json", "--refresh")
    assert out.returncode == 0, out.stderr
    return {p["name"]: p["version"] for p in json.loads(out.stdout)["packages"]}


def test_resolve_json_and_text(wheels: Path) -> None:
    out = run("resolve", "oldlib", "newlib", *LOCAL, "--find-links", wheels, "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["resolved"] == {"newlib": "2.0", "numpy": "2.1.0",
                                                  "oldlib": "1.3"}
    text = run("resolve", "oldlib<1.3", *LOCAL, "-f", wheels, "--python-version", "3.11")
    assert text.returncode == 0
    assert text.stdout.splitlines()[0] == "2 packages for Python 3.11.0:"
    assert "numpy   1.26.4" in text.stdout


def test_resolve_impossible_names_every_package(wheels: Path) -> None:
    out = run("resolve", "oldlib==1.0", "newlib", *LOCAL, "-f", wheels, "--json")
    assert out.returncode == 1
    explanation = json.loads(out.stdout)["explanation"]
    for needle in ("oldlib 1.0 requires numpy<2", "newlib 2.0 requires numpy>=2",
                   "no version of numpy satisfies all of them"):
        assert needle in explanation
    deep = run("resolve", "umbrella", *LOCAL, "-f", wheels, "--json")
    assert deep.returncode == 1
    text = json.loads(deep.stdout)["explanation"]
    assert "no version of stuck-a in the sources accepts core>=2" in text
    assert "no version of stuck-b in the sources accepts core<2" in text


def test_resolve_requires_python_and_bad_input(wheels: Path) -> None:
    out = run("resolve", "numpy>=2", *LOCAL, "-f", wheels, "--python-version", "3.9", "--json")
    assert out.returncode == 1
    assert json.loads(out.stdout)["explanation"] == (
        "numpy 2.1.0 requires Python >=3.10, but the target is Python 3.9.0.")
    for args, message in [(["resolve", "numpy>>2"], "is not a valid requirement"),
                          (["resolve", "numpy", "--python-version", "banana"],
                           "is not a Python version"),
                          (["resolve", "numpy", "--no-index", "-f", "/no/such/dir"],
                           "no such directory")]:
        bad = run(*args)
        assert bad.returncode == 2, bad.stderr
        assert message in bad.stderr and "Traceback" not in bad.stderr


def test_numpy_conflict_fixed_then_undone(tmp_path: Path, wheels: Path, home: Path) -> None:
    venv = conflicted_venv(tmp_path, wheels, ["oldlib==1.0", "numpy==1.26.4"], ["newlib==2.0"])
    before = manifest(venv)
    dry = run("fix", venv, *LOCAL, "-f", wheels, "--dry-run", "--json")
    assert dry.returncode == 1
    plans = json.loads(dry.stdout)["plans"]
    assert plans[0]["actions"] == [
        {"name": "numpy", "from": "1.26.4", "to": "2.1.0", "action": "upgrade"},
        {"name": "oldlib", "from": "1.0", "to": "1.3", "action": "upgrade"}]
    assert {"name": "newlib", "from": "2.0", "to": None, "action": "remove"} in [
        a for p in plans for a in p["actions"]]
    assert manifest(venv) == before  # a dry run changes nothing

    fixed = run("fix", venv, *LOCAL, "-f", wheels, "--yes", "--json")
    assert fixed.returncode == 0, fixed.stderr
    assert json.loads(fixed.stdout)["applied"] is True
    assert installed(venv) == {"newlib": "2.0", "numpy": "2.1.0", "oldlib": "1.3"}
    installers_agree(venv)
    assert run("check", venv).returncode == 0

    undone = run("undo", venv)
    assert undone.returncode == 0, undone.stderr
    assert "upgrade numpy 1.26.4 -> 2.1.0" in undone.stdout
    assert manifest(venv) == before
    again = run("undo", venv)
    assert again.returncode == 2 and "Traceback" not in again.stderr


def test_keep_holds_numpy_so_the_dependent_moves(tmp_path: Path, wheels: Path,
                                                home: Path) -> None:
    venv = conflicted_venv(tmp_path, wheels, ["oldlib==1.0", "numpy==1.26.4"], ["newlib==2.0"])
    out = run("fix", venv, *LOCAL, "-f", wheels, "--keep", "numpy", "--dry-run", "--json")
    plans = json.loads(out.stdout)["plans"]
    assert plans == [{"actions": [{"name": "newlib", "from": "2.0", "to": None,
                                   "action": "remove"}],
                      "summary": "remove newlib 2.0, nothing else changes",
                      "note": "removes newlib, which nothing needs"}]
    bad = run("fix", venv, *LOCAL, "-f", wheels, "--keep", "nosuch", "--dry-run")
    assert bad.returncode == 2 and "--keep nosuch: no such package" in bad.stderr


def test_diamond_moves_the_shared_dependency(tmp_path: Path, wheels: Path, home: Path) -> None:
    venv = conflicted_venv(tmp_path, wheels, ["right", "shared==1.0"], ["left", "app"])
    venv_check = run("check", venv, "--json")
    assert [p["kind"] for p in json.loads(venv_check.stdout)] == ["conflict"]
    out = run("fix", venv, *LOCAL, "-f", wheels, "--yes", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["plans"][0]["actions"] == [
        {"name": "shared", "from": "1.0", "to": "1.2", "action": "upgrade"}]
    assert installed(venv)["shared"] == "1.2"
    installers_agree(venv)


def test_fixable_only_by_a_downgrade(tmp_path: Path, wheels: Path, home: Path) -> None:
    venv = conflicted_venv(tmp_path, wheels, ["user", "base==1.0"], ["strict==2.0", "top"])
    out = run("fix", venv, *LOCAL, "-f", wheels, "--yes", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["plans"][0]["actions"] == [
        {"name": "strict", "from": "2.0", "to": "1.0", "action": "downgrade"}]
    installers_agree(venv)


def test_impossible_fix_is_explained(tmp_path: Path, wheels: Path, home: Path) -> None:
    venv = conflicted_venv(tmp_path, wheels, ["stuck-a", "core==1.0"], ["stuck-b", "umbrella"])
    before = manifest(venv)
    out = run("fix", venv, *LOCAL, "-f", wheels, "--yes", "--json")
    assert out.returncode == 1
    data = json.loads(out.stdout)
    assert data["plans"] == [] and data["applied"] is False
    assert "no version of stuck-b in the sources accepts core<2" in data["explanation"]
    text = run("fix", venv, *LOCAL, "-f", wheels, "--yes")
    assert text.returncode == 1 and text.stdout.splitlines()[-1].startswith("no fix: ")
    assert manifest(venv) == before


def test_fix_needs_yes_when_not_interactive(tmp_path: Path, wheels: Path,
                                                                home: Path) -> None:
    venv = conflicted_venv(tmp_path, wheels, ["oldlib==1.0", "numpy==1.26.4"], ["newlib==2.0"])
    before = manifest(venv)
    out = run("fix", venv, *LOCAL, "-f", wheels)
    assert out.returncode == 1
    assert "nothing changed (use --yes" in out.stdout
    assert manifest(venv) == before
    clean = conflicted_venv(tmp_path / "clean", wheels, ["oldlib"], [])
    nothing = run("fix", clean, *LOCAL, "-f", wheels, "--json")
    assert nothing.returncode == 0
    assert json.loads(nothing.stdout) == {"env": str(clean), "plans": [], "applied": False}


def test_interrupted_fix_is_reported_then_restored_or_discarded(
        tmp_path: Path, wheels: Path, home: Path, hang: Hang) -> None:
    venv = conflicted_venv(tmp_path, wheels, ["oldlib==1.0", "numpy==1.26.4"], ["newlib==2.0"])
    before = manifest(venv)
    half = [Action("newlib", "2.0", None, ActionKind.REMOVE),
            Action("numpy", "1.26.4", "2.1.0", ActionKind.UPGRADE)]
    interrupt_apply(venv, hang, half)
    half_done = manifest(venv)
    assert "newlib" not in installed(venv)

    listed = json.loads(run("show", venv, "--json").stdout)
    assert [p["kind"] for p in listed["problem_details"]] == ["interrupted"]
    refused = run("fix", venv, *LOCAL, "-f", wheels, "--yes")
    assert refused.returncode == 2 and "was interrupted" in refused.stderr

    assert run("undo", venv).returncode == 0
    assert manifest(venv) == before

    interrupt_apply(venv, hang, half)
    discarded = run("undo", venv, "--discard")
    assert discarded.returncode == 0, discarded.stderr
    assert "forgot the interrupted fix" in discarded.stdout
    assert manifest(venv) == half_done
    assert json.loads(run("show", venv, "--json", "--refresh").stdout)["problem_details"] == []
