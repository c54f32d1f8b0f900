"""A fake user's machine full of REAL virtual environments, built once per test session.

Every venv here is created by the real tool (stdlib venv, virtualenv, uv) and filled by a
real installer (pip or uv) from wheels the tests build, offline. Only what no tool can make
on this machine is written by hand, and says so: a Windows-layout venv, malformed metadata.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.envfactory import make_venv, pip_install, site_packages, uv_install

PY = f"{sys.version_info.major}.{sys.version_info.minor}"
PY_FULL = ".".join(map(str, sys.version_info[:3]))
# The developer's own settings that would leak their environments into a test scan.
LEAKY = frozenset({
    "CONDA_PREFIX", "VIRTUAL_ENV", "WORKON_HOME", "DOCKER_HOST", "CONDA_EXE", "CONDA_ROOT",
    "MAMBA_ROOT_PREFIX", "CONDA_ENVS_DIRS", "CONDA_ENVS_PATH", "CONDARC", "PIPX_HOME",
    "UV_TOOL_DIR", "POETRY_VIRTUALENVS_PATH",
})


@dataclass
class Machine:
    home: Path
    trace: Path
    """Written by a .pth file if anything ever runs the `evil` venv's interpreter."""

    def env(self) -> dict[str, str]:
        """Process environment for running envtui as this machine's user."""
        env = {k: v for k, v in os.environ.items() if k not in LEAKY}
        env.update(HOME=str(self.home), XDG_CACHE_HOME=str(self.home / ".cache"),
                   XDG_CONFIG_HOME=str(self.home / ".config"),
                   XDG_DATA_HOME=str(self.home / ".local" / "share"),
                   # No engine here: Docker has its own tests against the private engine.
                   DOCKER_HOST=f"unix://{self.home}/no-docker.sock")
        return env


def _write(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)


def _dist_info(sp: Path, dirname: str, metadata: str | bytes, record: bool = True) -> Path:
    d = sp / dirname
    _write(d / "METADATA", metadata)
    if record:
        _write(d / "RECORD", "")
    return d


def build_machine(root: Path, wheelhouse: Path) -> Machine:
    home = root / "home"
    code = home / "code"
    trace = root / "pth-trace"

    # Known places, each manager's own layout.
    wrapper = make_venv(home / ".virtualenvs" / "stdlib-env", "venv")
    pip_install(wrapper, wheelhouse, "oldlib", "numpy==1.26.4")
    make_venv(home / ".virtualenvs" / "wrapped", "virtualenv")
    poetry = make_venv(
        home / ".cache" / "pypoetry" / "virtualenvs" / f"myapp-AbCd1234-py{PY}", "virtualenv")
    uv_install(poetry, wheelhouse, "tinydep")
    make_venv(home / ".local" / "share" / "virtualenvs" / "webapp-Xyz12345", "virtualenv")
    pipx = make_venv(home / ".local" / "share" / "pipx" / "venvs" / "hello-world", "venv")
    pip_install(pipx, wheelhouse, "hello-world")
    tool = make_venv(home / ".local" / "share" / "uv" / "tools" / "tinytool", "uv")
    uv_install(tool, wheelhouse, "tinydep")

    # Project environments next to their manifests.
    uvproj = code / "uvproj"
    _write(uvproj / "pyproject.toml", '[project]\nname = "uvproj"\nversion = "0.1"\n')
    _write(uvproj / "uv.lock", "version = 1\n")
    uv_install(make_venv(uvproj / ".venv", "uv"), wheelhouse, "newlib[fast]", "numpy==2.1.0")
    poetryproj = code / "poetryproj"
    _write(poetryproj / "pyproject.toml", '[tool.poetry]\nname = "poetryproj"\n')
    _write(poetryproj / "poetry.lock", "# poetry lock\n")
    make_venv(poetryproj / ".venv", "virtualenv")
    pipenvproj = code / "pipenvproj"
    _write(pipenvproj / "Pipfile", "[packages]\n")
    make_venv(pipenvproj / ".venv", "virtualenv")
    plain = code / "plain"
    _write(plain / "pyproject.toml", '[project]\nname = "plain"\nversion = "0.1"\n')
    make_venv(plain / "venv", "venv")

    # A venv whose base interpreter was uninstalled after it was made.
    oldpy = root / "oldpython" / "bin"
    oldpy.mkdir(parents=True)
    (oldpy / f"python{PY}").symlink_to(Path(sys.base_prefix) / "bin" / f"python{PY}")
    subprocess.run([str(oldpy / f"python{PY}"), "-m", "venv", "--without-pip",
                    str(code / "broken-env")], check=True, capture_output=True)
    uv_install(code / "broken-env", wheelhouse, "tinydep")
    shutil.rmtree(root / "oldpython")

    # A .pth that would leave a trace if anything ran this venv's Python.
    evil = make_venv(code / "evil", "venv")
    _write(site_packages(evil) / "evil.pth",
           f"import pathlib; pathlib.Path({str(trace)!r}).write_text('ran')\n")

    # Malformed and leftover metadata, as real incidents left it (written by hand).
    messy = make_venv(code / "messy", "uv")
    uv_install(messy, wheelhouse, "tinydep")
    sp = site_packages(messy)
    _dist_info(sp, "noname-1.0.dist-info", "Metadata-Version: 2.1\nVersion: 1.0\n\n")
    _dist_info(sp, "snapshot-1.0.dist-info",
               "Metadata-Version: 2.1\nName: snapshot\nVersion: 1.0-SNAPSHOT\n\n")
    _dist_info(sp, "badreq-1.0.dist-info",
               "Metadata-Version: 2.1\nName: badreq\nVersion: 1.0\n"
               "Requires-Dist: pip; python_version == \"3.4\";extra == \"test\"\n\n")
    _dist_info(sp, "latin-1.0.dist-info",
               b"Metadata-Version: 2.1\nName: latin\nVersion: 1.0\nSummary: caf\xe9\n\n")
    _dist_info(sp, "huge-1.0.dist-info",
               "Metadata-Version: 2.1\nName: huge\nVersion: 1.0\n"
               + "Classifier: x\n" * 800_000)
    _dist_info(sp, "norecord-1.0.dist-info",
               "Metadata-Version: 2.1\nName: norecord\nVersion: 1.0\n\n", record=False)
    (sp / "empty-1.0.dist-info").mkdir()
    _dist_info(sp, "~ip-1.0.dist-info", "Metadata-Version: 2.1\nName: ip\nVersion: 1.0\n\n")
    (sp / "~ip").mkdir()
    _dist_info(sp, "tinydep-0.1.dist-info",
               "Metadata-Version: 2.1\nName: tinydep\nVersion: 0.1\n\n")
    egg = sp / "legacy_pkg-2.0-py3.11.egg-info"
    _write(egg / "PKG-INFO", "Metadata-Version: 1.1\nName: legacy-pkg\nVersion: 2.0\n\n")
    _write(egg / "requires.txt", "tinydep>=0.1\n\n[speed]\nnumpy\n\n[:sys_platform == \"win32\"]\n"
           "colorama\n")
    locked = _dist_info(sp, "locked-1.0.dist-info",
                        "Metadata-Version: 2.1\nName: locked\nVersion: 1.0\n\n")
    locked.chmod(0o000)

    # A venv copied from Windows: Lib/site-packages and Scripts/ (no tool makes it here).
    win = code / "winenv"
    _write(win / "pyvenv.cfg", f"home = {sys.base_prefix}\nversion = 3.12.1\n")
    _write(win / "Scripts" / "python.exe", "MZ")
    _dist_info(win / "Lib" / "site-packages", "colorama-0.4.6.dist-info",
               "Metadata-Version: 2.1\nName: colorama\nVersion: 0.4.6\n\n")

    # What the walk must survive or skip.
    make_venv(code / "node_modules" / "dep" / ".venv", "venv")
    deep = code / "a" / "b" / "c" / "d"
    make_venv(deep / "deep-ok", "venv")            # depth 6 below home: found
    make_venv(deep / "e" / "too-deep", "venv")     # depth 7: beyond max_depth
    (code / "loop").mkdir()
    (code / "loop" / "up").symlink_to("..")
    (code / "to-root").symlink_to("/")
    make_venv(code / "locked-dir" / "hidden-env", "venv")
    (code / "locked-dir").chmod(0o000)
    return Machine(home=home, trace=trace)


def unlock(machine: Machine) -> None:
    """Give back permissions so pytest can delete the tree."""
    for p in (machine.home / "code" / "locked-dir",
              site_packages(machine.home / "code" / "messy") / "locked-1.0.dist-info"):
        if p.exists():
            p.chmod(0o755)


def envtui(machine: Machine, *args: str, check: bool = False, drop_root: bool = True,
           env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `envtui` command as the machine's user.

    As root, permission bits do not stop reads; the command then runs with the capabilities
    that bypass them dropped, so permission-denied directories behave as for a user.
    """
    cmd = [sys.executable, "-m", "envtui", *args]
    if drop_root and os.geteuid() == 0 and shutil.which("setpriv"):
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--", *cmd]
    proc = subprocess.run(cmd, env=machine.env() | (env_extra or {}), capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise AssertionError(f"envtui {args} failed: {proc.stderr}")
    return proc
