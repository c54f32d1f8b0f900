"""The demo sandbox: real sample environments under one directory, with a fake HOME.

    ROOT/wheels/            the wheelhouse every venv is installed from (and fixes use)
    ROOT/channel/           a local conda channel
    ROOT/uv-cache/          uv's cache (hardlinked into the venvs)
    ROOT/home/              HOME for the demo; discovery finds everything below through
                            its usual places:
      .virtualenvs/analysis         NumPy conflict (plotkit 2.0 wants numpy>=2)
      .virtualenvs/analysis-copy    the same packages again: a duplicate
      .virtualenvs/old-experiment   last used about 200 days ago
      .virtualenvs/broken-env       its base interpreter was removed
      code/webapp/.venv             a uv project (uv.lock beside it)
      .local/pipx/venvs/linttool    a pipx tool
      .cache/pypoetry/virtualenvs/reportgen-AbCdEf12-py3.11   a Poetry env
      miniforge3/ and miniforge3/envs/science                 conda, made by py-rattler
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from envtui.demo import catalog
from envtui.demo.conda_packages import (
    CondaBuildError,
    CondaEnv,
    CondaJob,
    finish_job,
    history_entry,
    start_job,
)
from envtui.demo.venvs import DemoBuildError, Uv, age, remove_base_interpreter, site_packages
from envtui.demo.wheels import build_wheel

MARKER = ".envtui-demo"
"""Written last: a directory holding it is a complete sandbox and is reused as it is."""
FORMAT = 1
STALE_DAYS = 200


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class Sandbox:
    """Where everything in a demo sandbox is."""

    root: Path
    home: Path
    wheels: Path
    channel: Path
    uv_cache: Path
    cache_dir: Path
    """XDG_CACHE_HOME of the demo (envtui's scan cache and HTTP cache land here)."""
    config_dir: Path
    """XDG_CONFIG_HOME of the demo."""
    analysis: Path
    duplicate: Path
    stale: Path
    broken: Path
    webapp: Path
    pipx_tool: Path
    poetry: Path
    conda_base: Path
    conda_env: Path

    @classmethod
    def at(cls, root: Path) -> Sandbox:
        root = root.resolve()
        home = root / "home"
        venvs = home / ".virtualenvs"
        return cls(
            root=root, home=home, wheels=root / "wheels", channel=root / "channel",
            uv_cache=root / "uv-cache", cache_dir=home / ".cache", config_dir=home / ".config",
            analysis=venvs / "analysis", duplicate=venvs / "analysis-copy",
            stale=venvs / "old-experiment", broken=venvs / "broken-env",
            webapp=home / "code" / "webapp" / ".venv",
            pipx_tool=home / ".local" / "pipx" / "venvs" / catalog.PIPX_TOOL,
            poetry=home / ".cache" / "pypoetry" / "virtualenvs" / "reportgen-AbCdEf12-py3.11",
            conda_base=home / "miniforge3", conda_env=home / "miniforge3" / "envs" / "science",
        )

    @property
    def scratch(self) -> Path:
        """HOME for the builders (uv, rattler), so nothing reads or writes the user's."""
        return self.root / "build"

    @property
    def built(self) -> bool:
        try:
            data = json.loads((self.root / MARKER).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return isinstance(data, dict) and data.get("format") == FORMAT


def build_sandbox(root: Path, progress: Callable[[str], None] = _quiet) -> Sandbox:
    """Build the sandbox under `root` (made if missing), or reuse the one already there.

    Raises DemoBuildError with a one-line message when a step fails, or when `root` holds
    something other than a sandbox (it never writes among files it did not make).
    """
    sb = Sandbox.at(root)
    if sb.built:
        progress(f"reusing the demo sandbox in {sb.root}")
        return sb
    created = not sb.root.exists()
    sb.root.mkdir(parents=True, exist_ok=True)
    if any(sb.root.iterdir()):
        raise DemoBuildError(f"{sb.root}: not empty and not an envtui demo sandbox")
    try:
        _build(sb, progress)
    except BaseException:
        # Half a sandbox would be refused next time as "not empty": leave nothing behind.
        _clear(sb.root, remove=created)
        raise
    return sb


def _clear(root: Path, *, remove: bool) -> None:
    if remove:
        shutil.rmtree(root, ignore_errors=True)
        return
    for child in root.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _build(sb: Sandbox, progress: Callable[[str], None]) -> None:
    start = time.monotonic()
    progress("building demo wheels")
    for w in catalog.WHEELS:
        build_wheel(sb.wheels, w.name, w.version, requires=w.requires,
                    requires_python=w.requires_python, summary=catalog.SUMMARY,
                    generator="envtui-demo")
    progress("building the conda channel and environments (py-rattler)")
    conda = start_job(_conda_job(sb), sb.scratch)  # runs while the venvs are made
    try:
        _build_venvs(sb, progress)
        finish_job(conda)
    except CondaBuildError as e:
        raise DemoBuildError(str(e)) from None
    finally:
        if conda.poll() is None:
            conda.kill()
            conda.wait()
    _conda_bookkeeping(sb)
    Uv(sb.wheels, sb.uv_cache, sb.scratch).install_target(
        site_packages(sb.conda_env)[0], catalog.CONDA_PIP)
    age(sb.stale, STALE_DAYS)  # last, so nothing built afterwards freshens it
    shutil.rmtree(sb.scratch, ignore_errors=True)
    (sb.root / MARKER).write_text(json.dumps({"format": FORMAT}) + "\n", encoding="utf-8")
    progress(f"demo sandbox ready in {time.monotonic() - start:.1f} s")


def _build_venvs(sb: Sandbox, progress: Callable[[str], None]) -> None:
    uv = Uv(sb.wheels, sb.uv_cache, sb.scratch)
    progress("creating venvs with uv: analysis (NumPy conflict) and its duplicate")
    for prefix in (sb.analysis, sb.duplicate):
        uv.install(uv.venv(prefix), catalog.ANALYSIS)
        uv.install(prefix, catalog.ANALYSIS_NO_DEPS, deps=False)
    progress("creating venvs with uv: old-experiment (stale), broken-env")
    uv.install(uv.venv(sb.stale), catalog.STALE)
    uv.install(uv.venv(sb.broken), catalog.BROKEN)
    remove_base_interpreter(sb.broken, sb.root / "removed-python")
    progress("creating the uv project webapp (uv sync, uv.lock)")
    _uv_project(uv, sb.webapp.parent)
    progress("creating a pipx tool and a Poetry env")
    uv.install(uv.venv(sb.pipx_tool), [catalog.PIPX_TOOL])
    _pipx_metadata(sb.pipx_tool)
    uv.install(uv.venv(sb.poetry), catalog.POETRY)


def _uv_project(uv: Uv, project: Path) -> None:
    """A project without a build system (uv's "virtual" project): `uv sync` writes uv.lock
    and .venv the way a user's `uv add` would."""
    project.mkdir(parents=True, exist_ok=True)
    deps = ", ".join(f'"{d}"' for d in catalog.WEBAPP)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "webapp"\nversion = "0.1.0"\n'
        'description = "envtui demo: a small web project"\n'
        f'requires-python = ">=3.11"\ndependencies = [{deps}]\n', encoding="utf-8")
    uv.run("sync", "--quiet", "--no-index", "--find-links", uv.wheels, "--python", uv.python,
           cwd=project)


def _pipx_metadata(prefix: Path) -> None:
    """The file pipx keeps in each tool's venv (a subset of its fields)."""
    main = {"package": catalog.PIPX_TOOL, "package_or_url": catalog.PIPX_TOOL,
            "pip_args": [], "include_dependencies": False, "include_apps": True,
            "apps": [catalog.PIPX_TOOL], "suffix": ""}
    (prefix / "pipx_metadata.json").write_text(json.dumps(
        {"main_package": main, "injected_packages": {}, "pipx_metadata_version": "0.5"},
        indent=2) + "\n", encoding="utf-8")


def _conda_job(sb: Sandbox) -> CondaJob:
    pkgs = sb.conda_base / "pkgs"  # conda's own layout: the root holds the package cache
    return CondaJob(channel=sb.channel, packages=catalog.CONDA_PACKAGES, envs=(
        CondaEnv(sb.conda_base, catalog.CONDA_BASE, pkgs),
        CondaEnv(sb.conda_env, catalog.CONDA_SCIENCE, pkgs),
    ))


def _conda_bookkeeping(sb: Sandbox) -> None:
    """What conda writes beside the packages: history, condabin/, environments.txt."""
    conda = f"{sb.conda_base}/bin/conda"
    specs = ", ".join(f"'{s}'" for s in catalog.CONDA_BASE)
    (sb.conda_base / "conda-meta" / "history").write_text(history_entry(
        "2024-03-01 09:15:02", f"{conda} install -y {' '.join(catalog.CONDA_BASE)}",
        f"[{specs}]"), encoding="utf-8")
    specs = ", ".join(f"'{s}'" for s in catalog.CONDA_SCIENCE)
    (sb.conda_env / "conda-meta" / "history").write_text(history_entry(
        "2024-03-02 10:00:00", f"{conda} create -n science {' '.join(catalog.CONDA_SCIENCE)}",
        f"[{specs}]"), encoding="utf-8")
    (sb.conda_base / "condabin").mkdir(exist_ok=True)
    envs_txt = sb.home / ".conda" / "environments.txt"
    envs_txt.parent.mkdir(parents=True, exist_ok=True)
    envs_txt.write_text(f"{sb.conda_base}\n{sb.conda_env}\n", encoding="utf-8")
