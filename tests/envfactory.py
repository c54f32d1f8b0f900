"""Creating real virtual environments for the tests, offline, with real installers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import offline_env


def uv_bin() -> str:
    """The uv binary installed beside the test interpreter (uv is a dependency)."""
    from uv import find_uv_bin

    return find_uv_bin()


def run(*cmd: str | Path, cwd: Path | None = None) -> None:
    subprocess.run([str(c) for c in cmd], check=True, cwd=cwd, env=offline_env(),
                   stdin=subprocess.DEVNULL, capture_output=True, timeout=300)


def make_venv(path: Path, creator: str = "venv") -> Path:
    """A real venv made by `creator`: "venv" (stdlib, no pip), "uv" or "virtualenv"."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if creator == "venv":
        run(sys.executable, "-m", "venv", "--without-pip", path)
    elif creator == "venv-pip":
        run(sys.executable, "-m", "venv", path)
    elif creator == "uv":
        run(uv_bin(), "venv", "--quiet", "--python", sys.executable, path)
    elif creator == "virtualenv":
        run(sys.executable, "-m", "virtualenv", "--quiet", "--no-seed",
            "--no-periodic-update", path)
    else:
        raise ValueError(creator)
    return path


def python_of(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def uv_install(venv: Path, wheelhouse: Path, *reqs: str) -> None:
    """Install with uv (hardlinks from uv's cache), offline from the wheelhouse."""
    run(uv_bin(), "pip", "install", "--quiet", "--offline", "--no-index",
        "--find-links", wheelhouse, "--python", python_of(venv), *reqs)


def pip_install(venv: Path, wheelhouse: Path, *reqs: str) -> None:
    """Install with pip (INSTALLER "pip"), offline from the wheelhouse."""
    run(sys.executable, "-m", "pip", "--python", python_of(venv), "install", "--quiet",
        "--no-index", "--find-links", wheelhouse, *reqs)


def site_packages(venv: Path) -> Path:
    v = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return venv / "lib" / v / "site-packages"


def copy_python(dest: Path) -> Path:
    """A private copy of the base interpreter's home, so a test can delete it later."""
    base = Path(sys.base_prefix)
    shutil.copytree(base, dest, symlinks=True, ignore=shutil.ignore_patterns(
        "site-packages", "test", "tests", "__pycache__", "idlelib", "tkinter", "ensurepip"))
    return dest / "bin" / Path(sys.executable).name
