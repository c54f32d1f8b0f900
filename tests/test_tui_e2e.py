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

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV_NAME = "e2e-demo"
WIDTH, HEIGHT = 120, 36


class Tmux:
    """A private tmux server with one session, driven like a user at a terminal."""

    def __init__(self, binary: str, env: dict[str, str]) -> None:
        self.binary = binary
        self.env = env
        self.socket = f"envtui-e2e-{uuid.uuid4().hex[:8]}"

    def __call__(self, *args: str) -> str:
        out = subprocess.run(
            [self.binary, "-u", "-L", self.socket, "-f", "/dev/null", *args],
            env=self.env, capture_output=True, text=True, check=True, timeout=30,
        )
        return out.stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "envtui")

    def keys(self, *keys: str) -> None:
        self("send-keys", "-t", "envtui", *keys)

    def wait_for(self, predicate: Callable[[str], bool], what: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            try:
                screen = self.screen()
            except subprocess.CalledProcessError:  # the session is gone
                screen = ""
            if predicate(screen):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; the screen was:\n{screen}")

    def kill_server(self) -> None:
        subprocess.run(
            [self.binary, "-L", self.socket, "kill-server"],
            env=self.env, capture_output=True, check=False, timeout=30,
        )


@pytest.fixture
def tmux_binary() -> str:
    binary = shutil.which("tmux")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("tmux is required for the end-to-end TUI test under CI=true")
        pytest.skip("tmux is not installed")
    return binary


@pytest.fixture
def terminal(tmp_path: Path, tmux_binary: str) -> Iterator[tuple[Tmux, Path, Path]]:
    """A tmux server whose environment has a temporary HOME with one real venv in it."""
    home = tmp_path / "home"
    venv = home / ".virtualenvs" / VENV_NAME
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    keep = ("PATH", "SYSTEMROOT", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update({
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "DOCKER_HOST": f"unix://{tmp_path / 'no-docker.sock'}",
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONPATH": str(ROOT),
    })
    tmux = Tmux(tmux_binary, env)
    try:
        yield tmux, venv, tmp_path / "exit-status"
    finally:
        tmux.kill_server()


def test_envtui_in_a_real_terminal(terminal: tuple[Tmux, Path, Path]) -> None:
    tmux, venv, status = terminal
    in_dev_venv = Path(sys.prefix).resolve() == (ROOT / ".venv").resolve()
    launch = "./dev app" if in_dev_venv else f"{sys.executable} -m envtui"
    command = f"cd {ROOT} && {launch}; echo $? > {status}"
    tmux("new-session", "-d", "-s", "envtui", "-x", str(WIDTH), "-y", str(HEIGHT), command)

    screen = tmux.wait_for(
        lambda s: VENV_NAME in s and "Scanning" not in s, "the scanned venv to be listed"
    )
    assert "Virtual environments (1)" in screen
    assert "1 environment ·" in screen
    assert screen.count(VENV_NAME) >= 2  # its row, and the detail pane's heading
    assert "venv · venv" not in screen  # the kind is not repeated as the manager
    assert f"~/.virtualenvs/{venv.name}" in screen  # its path, shortened under HOME
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in screen
    assert "Scan failed" not in screen
    assert "Filter" in screen and "Rescan" in screen and "Quit" in screen  # footer hints
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
    deadline = time.monotonic() + 30
    while not status.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert status.exists(), f"envtui did not exit after q; the screen was:\n{tmux.screen()}"
    assert status.read_text().strip() == "0"
