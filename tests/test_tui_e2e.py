"""End to end: the README's `./dev app` in a real terminal (tmux), scanning a real venv.

When the tests run from the repository's own .venv (as `./dev test` and CI run them), the
app is started exactly as the README says, with `./dev app`; from any other environment,
with `python -m envtui`.

HOME is a temporary directory holding one venv made by `python -m venv --without-pip`;
DOCKER_HOST points at a socket that does not exist, so the scan sees only that venv (and
a Docker problem line) whatever the machine runs. The test reads the screen with
capture-pane and drives the app with send-keys, on a private tmux server (-L) that it
kills afterwards. Without tmux it skips locally and fails under CI=true.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tmux import Tmux, envtui_command, terminal_env, tmux_binary

VENV_NAME = "e2e-demo"
WIDTH, HEIGHT = 120, 36


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[tuple[Tmux, Path, Path]]:
    """A tmux server whose environment has a temporary HOME with one real venv in it."""
    binary = tmux_binary()
    home = tmp_path / "home"
    venv = home / ".virtualenvs" / VENV_NAME
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    tmux = Tmux(binary, terminal_env(home, tmp_path / "no-docker.sock"))
    try:
        yield tmux, venv, tmp_path / "exit-status"
    finally:
        tmux.kill_server()


def test_envtui_in_a_real_terminal(terminal: tuple[Tmux, Path, Path]) -> None:
    tmux, venv, status = terminal
    tmux.start(envtui_command([], status), WIDTH, HEIGHT)

    # The footer can paint a frame after the table when the scan is quick: wait for both.
    screen = tmux.wait_for(
        lambda s: VENV_NAME in s and "Scanning" not in s and "Quit" in s,
        "the scanned venv to be listed, with the footer",
    )
    assert "Virtual environments (1)" in screen
    assert "1 environment ·" in screen
    assert screen.count(VENV_NAME) >= 2  # its row, and the detail pane's heading
    assert "venv · venv" not in screen  # the kind is not repeated as the manager
    assert f"~/.virtualenvs/{venv.name}" in screen  # its path, shortened under HOME
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in screen
    assert "Scan failed" not in screen
    assert "Filter" in screen and "Help" in screen and "Quit" in screen  # footer hints
    # No Docker here: the engine problem is on screen, and `!` shows it in full.
    tmux.wait_for(lambda s: "Scan problems" in s, "the footer to offer the scan problems")
    tmux.keys("!")
    screen = tmux.wait_for(lambda s: "Scan problems (" in s, "the scan problems in full")
    tmux.keys("Down", "Up")
    tmux.wait_for(lambda s: "Scan problems (" not in s, "the environment to come back")

    tmux.keys("/")
    tmux.keys("-l", "zzz")
    screen = tmux.wait_for(lambda s: "0 of 1 environment match" in s, "the filter to apply")
    assert "No environment matches “zzz”." in screen

    tmux.keys("Escape")
    screen = tmux.wait_for(lambda s: "1 environment ·" in s, "the filter to clear")
    assert VENV_NAME in screen

    tmux.keys("q")
    assert tmux.wait_exit(status) == "0"
