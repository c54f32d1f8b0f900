"""The command-line contract: usage errors, names, and a core that never imports Textual."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from envtui import cli
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
                                   "give a path")


def test_show_by_unique_name_and_text_output(home: Path) -> None:
    make_venv(home / "tools" / "solo", "uv")
    proc = _run("show", "solo")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split() for line in lines[:3]] == [
        ["kind:", "venv"], ["name:", "solo"], ["manager:", "uv"]]
    assert "packages (0):" in lines
    listing = _run("list", "--kind", "venv")
    assert listing.stdout.splitlines()[0].split() == [
        "KIND", "NAME", "MANAGER", "PYTHON", "PKGS", "SIZE", "LAST", "USED", "PROBLEMS",
        "CLEANUP"]
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


def test_list_and_check_load_only_their_own_command(home: Path) -> None:
    """Every start pays for its imports: `list` and `check` build their own parser only."""
    make_venv(home / "w" / "solo", "venv")
    env = {**os.environ, "DOCKER_HOST": f"unix://{home}/no-engine.sock"}
    code = ("import sys; from envtui.cli import main; main(sys.argv[1:]); "
            "print('modules:', *sorted(sys.modules), file=sys.stderr)")
    heavy = {"textual", "docker", "envtui.cli_fix", "envtui.cli_exchange", "envtui.cli_image",
             "envtui.cli_cleanup", "envtui.inspectors.docker_contents", "tarfile", "rattler"}
    for command in (["list", "--json"], ["check"]):
        for _ in range(2):  # cold, then warm
            proc = subprocess.run([sys.executable, "-c", code, *command, "--root",
                                   str(home / "w")], capture_output=True, text=True, env=env)
            assert proc.returncode in (0, 1), proc.stderr
            loaded = set(proc.stderr.rpartition("modules:")[2].split())
            assert "envtui.inspectors.venv" in loaded
            assert not heavy & loaded, (command, heavy & loaded)


def test_help_and_errors_still_know_every_command() -> None:
    commands = ("list", "show", "tree", "check", "resolve", "fix", "undo", "export", "diff",
                "import", "image", "df", "rm", "prune", "container")
    top = subprocess.run([sys.executable, "-m", "envtui", "--help"], capture_output=True,
                         text=True, check=True).stdout
    assert all(f"    {c} " in top for c in commands), top
    wrong = subprocess.run([sys.executable, "-m", "envtui", "lsit"], capture_output=True,
                           text=True)
    assert wrong.returncode == 2 and "invalid choice: 'lsit'" in wrong.stderr
    assert "'container'" in wrong.stderr
    for command in commands:
        sub = subprocess.run([sys.executable, "-m", "envtui", command, "--help"],
                             capture_output=True, text=True)
        assert sub.returncode == 0 and sub.stdout.startswith(f"usage: envtui {command}"), command
    # --demo-dir's value is not a command, even when it is spelt like one.
    assert cli._command_in(["--demo-dir", "list"]) == ""
    assert cli._command_in(["--demo", "check", "--json"]) == "check"


def test_scan_problems_do_not_pile_up_across_scans(home: Path) -> None:
    from envtui.inspectors.base import ScanContext
    from envtui.inspectors.discovery import scan
    from envtui.model import EnvKind

    ctx = ScanContext(home=home, environ={"DOCKER_HOST": f"unix://{home}/none.sock"},
                      kinds=frozenset({EnvKind.IMAGE}))
    first, second = scan(ctx), scan(ctx)
    assert len(first.problems) == len(second.problems) == 1
    assert first.problems[0].kind == "engine"


def test_kind_prefix_names_any_kind(home: Path) -> None:
    make_venv(home / "w" / "solo", "venv")
    proc = _run("show", "venv:solo", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["path"] == str(home / "w" / "solo")
    assert _run("show", "conda:solo").returncode == 2


def test_relative_path_is_shown_absolute(home: Path) -> None:
    make_venv(home / "proj" / ".venv", "venv")
    proc = subprocess.run([sys.executable, "-m", "envtui", "show", "proj/.venv", "--json"],
                          capture_output=True, text=True, cwd=home, check=True)
    env = json.loads(proc.stdout)
    assert (env["path"], env["ref"]) == (str(home / "proj" / ".venv"),) * 2


@pytest.mark.parametrize(("target", "message"), [
    ("missing/dir", "no such path"),
    ("file.txt", "not a directory"),
])
def test_show_bad_paths(home: Path, target: str, message: str) -> None:
    (home / "file.txt").write_text("x")
    proc = _run("show", str(home / target))
    assert (proc.returncode, proc.stderr.strip()) == (
        2, f"envtui: error: {home / target}: {message}")


def test_show_project_dir_suggests_its_venv(home: Path) -> None:
    make_venv(home / "proj" / ".venv", "venv")
    proc = _run("show", str(home / "proj"))
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith(f"did you mean {home / 'proj' / '.venv'}?")


def test_root_that_is_a_file(home: Path) -> None:
    (home / "f").write_text("x")
    proc = _run("list", "--root", str(home / "f"))
    assert proc.stderr.strip() == f"envtui: error: --root {home / 'f'}: not a directory"


def test_control_characters_in_names_never_reach_the_terminal(home: Path) -> None:
    make_venv(home / "w" / "esc\x1b[31mred", "venv")
    make_venv(home / "w" / "new\nline", "venv")
    out = _run("list", "--kind", "venv").stdout
    assert "\x1b" not in out
    lines = out.splitlines()
    assert len(lines) == 3  # header + one line per environment
    assert {line.split()[1] for line in lines[1:]} == {"esc\\x1b[31mred", "new\\x0aline"}


def test_scan_streams_each_environment_and_reports_progress(home: Path) -> None:
    from envtui.inspectors.base import ScanContext
    from envtui.inspectors.discovery import scan
    from envtui.model import EnvKind

    for name in ("one", "two", "three"):
        make_venv(home / "envs" / name, "venv")
    streamed: list[str] = []
    reports: list[tuple[int, int | None]] = []
    inv = scan(ScanContext(home=home, environ={}, kinds=frozenset({EnvKind.VENV})),
               on_environment=lambda e: streamed.append(e.name),
               progress=lambda done, total, _label: reports.append((done, total)))
    assert sorted(streamed) == [e.name for e in inv.environments] == ["one", "three", "two"]
    assert reports[-3:] == [(1, 3), (2, 3), (3, 3)]


def test_printable_shows_disguising_characters() -> None:
    from envtui.format import plural, printable

    assert printable("a\u202eb\u200bc\ufeffd\x1b") == "a\\u202eb\\u200bc\\ufeffd\\x1b"
    assert printable("café ✓ 🐍") == "café ✓ 🐍"
    assert (plural(1, "environment"), plural(0, "package")) == ("1 environment", "0 packages")


def test_cancelled_scan_stops(home: Path) -> None:
    from envtui.inspectors.base import ScanContext
    from envtui.inspectors.discovery import ScanCancelled, scan
    from envtui.model import EnvKind

    make_venv(home / "envs" / "one", "venv")
    for n in range(300):
        (home / "tree" / f"d{n}" / "e").mkdir(parents=True)
    calls = 0

    def cancelled() -> bool:
        nonlocal calls
        calls += 1
        return calls > 3

    with pytest.raises(ScanCancelled):
        scan(ScanContext(home=home, environ={}, kinds=frozenset({EnvKind.VENV})),
             cancelled=cancelled)
    assert calls < 50  # it stopped soon after being told, not after listing everything
