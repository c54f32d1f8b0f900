"""The command-line contract: usage errors, names, and a core that never imports Textual."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.envfactory import make_venv


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "envtui", *args], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize(("args", "stderr"), [
    (["show", "no-such-env", "--no-home"], "envtui: error: no environment named 'no-such-env'"),
    (["list", "--root", "/no/such/dir"], "envtui: error: --root /no/such/dir: no such directory"),
])
def test_bad_input_is_one_line_exit_2(home: Path, args: list[str], stderr: str) -> None:
    proc = _run(*args)
    assert proc.returncode == 2
    assert proc.stderr.startswith(stderr)
    assert "Traceback" not in proc.stderr


def test_plain_directory_is_not_an_environment(home: Path) -> None:
    proc = _run("show", str(home))
    assert (proc.returncode, proc.stderr.strip()) == (
        2, f"envtui: error: {home}: not an environment (no pyvenv.cfg or conda-meta)")


def test_argparse_errors_exit_2(home: Path) -> None:
    proc = _run("list", "--kind", "nonsense")
    assert proc.returncode == 2
    assert "invalid choice: 'nonsense'" in proc.stderr


def test_ambiguous_name(home: Path) -> None:
    make_venv(home / "a" / "twin", "venv")
    make_venv(home / "b" / "twin", "venv")
    proc = _run("show", "twin")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"envtui: error: 'twin' is ambiguous: it names "
                                   f"{home / 'a' / 'twin'}, {home / 'b' / 'twin'}; "
                                   "give a path or kind:NAME")


def test_show_by_unique_name_and_text_output(home: Path) -> None:
    make_venv(home / "tools" / "solo", "uv")
    proc = _run("show", "solo")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:3] == ["kind:      venv", "name:      solo", "manager:   uv"]
    assert "packages (0):" in lines
    listing = _run("list", "--kind", "venv")
    assert listing.stdout.splitlines()[0].split() == [
        "KIND", "NAME", "MANAGER", "PYTHON", "PKGS", "SIZE", "LAST", "USED", "PROBLEMS"]
    assert listing.stdout.splitlines()[1].split()[:3] == ["venv", "solo", "uv"]


def test_empty_machine(home: Path) -> None:
    proc = _run("list", "--kind", "venv", "--kind", "conda")
    assert (proc.returncode, proc.stdout) == (0, "no environments found\n")
    assert json.loads(_run("list", "--kind", "venv", "--json").stdout) == []


def test_core_never_imports_textual_or_docker_for_venvs() -> None:
    code = ("import sys; from envtui import cli, model; from envtui.inspectors import "
            "discovery, venv; print('textual' in sys.modules, 'docker' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]


def test_scan_problems_do_not_pile_up_across_scans(home: Path) -> None:
    from envtui.inspectors.base import ScanContext
    from envtui.inspectors.discovery import scan
    from envtui.model import EnvKind

    ctx = ScanContext(home=home, environ={"DOCKER_HOST": f"unix://{home}/none.sock"},
                      kinds=frozenset({EnvKind.IMAGE}))
    first, second = scan(ctx), scan(ctx)
    assert len(first.problems) == len(second.problems) == 1
    assert first.problems[0].kind == "engine"
