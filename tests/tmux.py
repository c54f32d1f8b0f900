"""Driving the real app in a real terminal: a private tmux server, read with capture-pane and
typed at with send-keys, for the end-to-end tests.

The app is started as the README says (`./dev app ...`) when the tests run from the
repository's own .venv (as `./dev test` and CI run them), and with `python -m envtui ...`
from any other environment. Without tmux the tests skip locally and fail under CI=true.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def tmux_binary() -> str:
    """tmux's path; skips the test without it (a failure under CI=true)."""
    binary = shutil.which("tmux")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("tmux is required for the end-to-end TUI tests under CI=true")
        pytest.skip("tmux is not installed")
    return binary


def terminal_env(home: Path, docker_socket: Path) -> dict[str, str]:
    """A minimal environment for the app: HOME and the XDG directories under `home`, and a
    DOCKER_HOST that points at a socket nobody listens on."""
    keep = ("PATH", "SYSTEMROOT", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update({
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "DOCKER_HOST": f"unix://{docker_socket}",
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONPATH": str(ROOT),
    })
    return env


def envtui_command(args: Sequence[str], status: Path) -> str:
    """The shell command that starts envtui with `args` from the repository root and writes
    its exit status to `status` when it ends."""
    in_dev_venv = Path(sys.prefix).resolve() == (ROOT / ".venv").resolve()
    launch = ["./dev", "app"] if in_dev_venv else [sys.executable, "-m", "envtui"]
    line = shlex.join([*launch, *args])
    return f"cd {shlex.quote(str(ROOT))} && {line}; echo $? > {shlex.quote(str(status))}"


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

    def start(self, command: str, width: int, height: int) -> None:
        """Run `command` in the session "envtui", in a terminal of width x height."""
        self("new-session", "-d", "-s", "envtui", "-x", str(width), "-y", str(height), command)

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "envtui")

    def styled_screen(self) -> str:
        """The screen with its colours and text styles as escape sequences (capture-pane -e):
        for what plain text does not show, such as which widget has the focus."""
        return self("capture-pane", "-e", "-p", "-t", "envtui")

    def last_screen(self) -> str:
        """The screen, or a note that the session is gone (for failure messages)."""
        try:
            return self.screen()
        except subprocess.CalledProcessError:
            return "(the tmux session has ended)"

    def keys(self, *keys: str) -> None:
        self("send-keys", "-t", "envtui", *keys)

    def type(self, text: str) -> None:
        """Type `text` literally (no key names)."""
        self("send-keys", "-t", "envtui", "-l", text)

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

    def wait_exit(self, status: Path, timeout: float = 30) -> str:
        """The exit status the session's command wrote to `status`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if status.exists() and (written := status.read_text().strip()):
                return written
            time.sleep(0.2)
        raise AssertionError(f"envtui did not exit; the screen was:\n{self.last_screen()}")

    def kill_server(self) -> None:
        subprocess.run(
            [self.binary, "-L", self.socket, "kill-server"],
            env=self.env, capture_output=True, check=False, timeout=30,
        )
