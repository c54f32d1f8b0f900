"""`envtui tree` and `envtui check` through the real command, on real venvs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.envfactory import make_venv, uv_install


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "envtui", *args], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


@pytest.fixture
def machine(home: Path, wheelhouse: Path) -> dict[str, Path]:
    bad = make_venv(home / "code" / "bad" / ".venv", "uv")
    uv_install(bad, wheelhouse, "--no-deps", "oldlib", "numpy==2.1.0", "hello-world")
    good = make_venv(home / "code" / "good" / ".venv", "uv")
    uv_install(good, wheelhouse, "oldlib", "numpy==1.26.4")
    return {"bad": bad, "good": good}


def test_tree_json_contract(machine: dict[str, Path]) -> None:
    proc = _run("tree", str(machine["bad"]), "--json")
    assert proc.returncode == 0, proc.stderr
    roots = json.loads(proc.stdout)
    assert [(r["name"], r["version"], r["required"]) for r in roots] == [
        ("Hello_World", "0.1.0", "Any"), ("oldlib", "1.0", "Any")]
    hello, oldlib = roots
    assert [(c["name"], c["version"], c["required"], c["missing"]) for c in hello["children"]] \
        == [("tinydep", None, ">=0.1", True)]
    assert [(c["name"], c["version"], c["required"], c["conflict"])
            for c in oldlib["children"]] == [("numpy", "2.1.0", "<2", True)]


def test_tree_text_reverse_package_depth(machine: dict[str, Path]) -> None:
    proc = _run("tree", str(machine["bad"]), "--reverse", "--package", "NumPy")
    assert proc.stdout.splitlines() == ["numpy==2.1.0", "└── oldlib==1.0 [requires: <2] !conflict"]
    proc = _run("tree", str(machine["good"]), "--depth", "0")
    assert proc.stdout.splitlines() == ["oldlib==1.0"]


@pytest.mark.parametrize(("args", "stderr"), [
    (["--package", "nope"], "envtui: error: 'nope' is not installed in this environment"),
])
def test_tree_bad_package(machine: dict[str, Path], args: list[str], stderr: str) -> None:
    proc = _run("tree", str(machine["good"]), *args)
    assert proc.returncode == 2
    assert proc.stderr.startswith(stderr)


def test_tree_bad_depth(machine: dict[str, Path]) -> None:
    proc = _run("tree", str(machine["good"]), "--depth", "-1")
    assert proc.returncode == 2
    assert "'-1' is not a whole number >= 0" in proc.stderr


def test_check_named_environments_exit_codes(machine: dict[str, Path]) -> None:
    good = _run("check", str(machine["good"]))
    assert (good.returncode, good.stdout) == (0, "no problems in 1 environment\n")
    bad = _run("check", str(machine["bad"]), "--json")
    assert bad.returncode == 1
    assert json.loads(bad.stdout) == [
        {"env": str(machine["bad"]), "kind": "missing",
         "detail": "Hello_World 0.1.0 requires tinydep>=0.1, which is not installed",
         "package": "Hello_World", "version": "0.1.0", "requirement": "tinydep>=0.1"},
        {"env": str(machine["bad"]), "kind": "conflict",
         "detail": "oldlib 1.0 requires numpy<2, but numpy 2.1.0 is installed",
         "package": "oldlib", "version": "1.0", "requirement": "numpy<2"},
    ]


def test_check_whole_machine(machine: dict[str, Path], home: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    # Only this HOME's environments: no Docker engine (other tests' images live there).
    monkeypatch.setenv("DOCKER_HOST", f"unix://{home}/no-engine.sock")
    proc = _run("check")
    assert proc.returncode == 1
    assert proc.stderr.startswith("envtui: Docker engine at unix://")
    lines = proc.stdout.splitlines()
    assert lines[0] == f"{machine['bad']} (venv, uv)"
    assert lines[-1] == "2 problems in 2 environments"


def test_pipdeptree_formats(machine: dict[str, Path]) -> None:
    mermaid = _run("tree", str(machine["bad"]), "--format", "mermaid")
    assert mermaid.returncode == 0, mermaid.stderr
    assert mermaid.stdout.startswith("flowchart")
    assert 'oldlib -- "<2" --> numpy' in mermaid.stdout
    dot = _run("tree", str(machine["bad"]), "--format", "dot")
    assert dot.stdout.startswith("digraph {") and 'oldlib -> numpy [label="<2"]' in dot.stdout
    bom = json.loads(_run("tree", str(machine["good"]), "--format", "cyclonedx-json").stdout)
    assert bom["bomFormat"] == "CycloneDX"
    assert {c["name"] for c in bom["components"]} == {"oldlib", "numpy"}


def test_pipdeptree_formats_never_import_from_the_current_directory(
        machine: dict[str, Path], tmp_path: Path) -> None:
    # `python -m pipdeptree` would import a `pipdeptree/` in the directory envtui runs in.
    here, ran = tmp_path / "downloads", tmp_path / "ran"
    (here / "pipdeptree").mkdir(parents=True)
    (here / "pipdeptree" / "__init__.py").write_text("")
    (here / "pipdeptree" / "__main__.py").write_text(f"open({str(ran)!r}, 'w').close()\n")
    proc = subprocess.run([sys.executable, "-m", "envtui", "tree", str(machine["bad"]),
                           "--format", "mermaid"], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, cwd=here)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("flowchart")
    assert not ran.exists()


def test_pipdeptree_formats_need_site_packages_on_disk() -> None:
    from envtui.model import Environment, EnvKind
    from envtui.resolver.render import RenderError, render_with_pipdeptree

    image = Environment(kind=EnvKind.IMAGE, name="app:1", manager="docker", id="sha256:ab")
    with pytest.raises(RenderError, match="needs an environment with its site-packages"):
        render_with_pipdeptree(image, "mermaid")


FIXTURES = Path(__file__).parent / "fixtures" / "projects"


def test_check_project_paths(home: Path) -> None:
    proc = _run("check", str(FIXTURES / "two_files"), "--json")
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout) == [{
        "env": str(FIXTURES / "two_files"), "kind": "pin-conflict",
        "detail": "numpy: numpy==1.26.* (requirements.txt:3) and numpy>=2 (pyproject.toml:7) "
                  "cannot both be satisfied",
        "package": "numpy", "requirement": "numpy==1.26.*, numpy>=2",
        "files": ["requirements.txt:3", "pyproject.toml:7"]}]
    ok = _run("check", str(FIXTURES / "markers_ok"))
    assert (ok.returncode, ok.stdout) == (0, "no problems in 1 target\n")
