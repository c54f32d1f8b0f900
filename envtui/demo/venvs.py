"""Making the sandbox's virtual environments with uv, offline, from the local wheelhouse.

uv runs with its cache inside the sandbox (so its hardlinks are real and the user's cache is
untouched), no configuration files, no network and no interpreter downloads: it uses the
Python that runs envtui (its base installation, not a venv on top of it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

DAY = 86_400.0


class DemoBuildError(Exception):
    """Building the sandbox failed; the message is one line naming the step."""


def base_python() -> Path:
    """The interpreter behind sys.executable (a venv's python resolves to its base), or
    $ENVTUI_DEMO_PYTHON (the screenshots script picks the system's, whose path is neutral)."""
    chosen = os.environ.get("ENVTUI_DEMO_PYTHON")
    if chosen and Path(chosen).is_file():
        return Path(chosen)
    base = getattr(sys, "_base_executable", None) or sys.executable
    return Path(base) if Path(base).exists() else Path(sys.executable)


def uv_binary() -> str:
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError) as e:
        raise DemoBuildError(f"uv is needed to build the demo and was not found ({e})") from None


class Uv:
    """uv with the sandbox's hermetic settings."""

    def __init__(self, wheels: Path, cache: Path, scratch: Path) -> None:
        self.bin = uv_binary()
        self.wheels = wheels
        self.python = base_python()
        self.env = {
            "HOME": str(scratch), "PATH": os.defpath, "UV_CACHE_DIR": str(cache),
            "UV_NO_CONFIG": "1", "UV_OFFLINE": "1", "UV_PYTHON_DOWNLOADS": "never",
            "UV_NO_PROGRESS": "1", "UV_LINK_MODE": "hardlink",
            "XDG_CACHE_HOME": str(scratch / ".cache"),
            "XDG_CONFIG_HOME": str(scratch / ".config"),
            "XDG_DATA_HOME": str(scratch / ".local" / "share"),
        }

    def run(self, *args: str | Path, cwd: Path | None = None) -> None:
        cmd = [self.bin, *map(str, args)]
        try:
            done = subprocess.run(cmd, env=self.env, cwd=cwd, stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise DemoBuildError(f"uv {args[0]} {args[1]}: {e}") from None
        if done.returncode != 0:
            lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
            raise DemoBuildError(f"uv {' '.join(map(str, args[:2]))} failed: "
                                 f"{lines[-1] if lines else done.returncode}")

    def venv(self, prefix: Path) -> Path:
        prefix.parent.mkdir(parents=True, exist_ok=True)
        self.run("venv", "--quiet", "--python", self.python, prefix)
        return prefix

    def install(self, prefix: Path, reqs: Sequence[str], *, deps: bool = True) -> None:
        if reqs:
            self.run("pip", "install", "--quiet", "--no-index", "--find-links", self.wheels,
                     "--python", prefix / "bin" / "python",
                     *([] if deps else ["--no-deps"]), *reqs)

    def install_target(self, site_packages: Path, reqs: Sequence[str]) -> None:
        """Into a directory (a conda env's site-packages, whose python is a stand-in)."""
        self.run("pip", "install", "--quiet", "--no-index", "--find-links", self.wheels,
                 "--python", self.python, "--target", site_packages, "--no-deps", *reqs)


def site_packages(prefix: Path) -> list[Path]:
    return sorted(prefix.glob("lib/python*/site-packages"))


def age(prefix: Path, days: float) -> None:
    """Make a venv look unused for `days`: every directory and bin/ entry, not following
    links. Files in site-packages are left alone: they are hardlinks shared with uv's cache
    and other envs, and last-use detection reads directories, not them."""
    when = time.time() - days * DAY
    paths = [prefix, prefix / "pyvenv.cfg"]
    bindir = prefix / "bin"
    if bindir.is_dir():
        paths += list(bindir.iterdir())
    for dirpath, dirnames, _ in os.walk(prefix):
        paths += [Path(dirpath, d) for d in dirnames]
    for p in paths:
        os.utime(p, (when, when), follow_symlinks=False)


def remove_base_interpreter(prefix: Path, gone: Path) -> None:
    """Point a venv at a base Python that no longer exists, as after uninstalling it.

    `gone` is made and then removed, so pyvenv.cfg's `home` and the interpreter links name a
    directory that really existed once."""
    (gone / "bin").mkdir(parents=True, exist_ok=True)
    shutil.rmtree(gone)
    cfg = prefix / "pyvenv.cfg"
    lines = cfg.read_text(encoding="utf-8").splitlines()
    lines = [f"home = {gone / 'bin'}" if ln.split("=")[0].strip() == "home" else ln
             for ln in lines]
    cfg.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for link in (prefix / "bin").iterdir():
        if link.is_symlink() and link.name.startswith("python"):
            link.unlink()
            link.symlink_to(gone / "bin" / "python3")
