"""Virtual environments of every flavour, read from pyvenv.cfg and site-packages alone.

Which tool owns a venv is decided from real markers, strongest first:
1. where it lives (pipx's, uv's tool, Poetry's and pipenv's environment directories);
2. the lock or manifest file beside a project `.venv` / `venv` (poetry.lock, uv.lock,
   Pipfile / Pipfile.lock, pdm.lock);
3. the keys its creator wrote into pyvenv.cfg (`uv = ...`, `virtualenv = ...`);
4. otherwise the standard library's `python -m venv`.
The interpreter is never run: the Python version comes from pyvenv.cfg, and "broken" means
the base interpreter pyvenv.cfg points at (its `home`) or the env's own python link is gone.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from envtui.inspectors import fsinfo, sitepackages
from envtui.inspectors.base import Inspector, Location, ScanContext
from envtui.inspectors.sitepackages import (
    dedupe,
    python_from_site_packages,
    scan_site_packages,
    site_packages_dirs,
    site_packages_paths,
)
from envtui.model import Environment, EnvKind, Package, Problem, ProblemKind
from envtui.resolver.journal import interrupted_fix, interrupted_state

# Lock/manifest files beside a project environment, in order of precedence.
PROJECT_MARKERS = (
    ("poetry.lock", "poetry"),
    ("uv.lock", "uv"),
    ("Pipfile.lock", "pipenv"),
    ("Pipfile", "pipenv"),
    ("pdm.lock", "pdm"),
)
PROJECT_ENV_NAMES = (".venv", "venv")


def read_pyvenv_cfg(path: Path | str) -> dict[str, str]:
    """`key = value` lines of pyvenv.cfg, keys lower-cased; unreadable -> empty."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except (OSError, ValueError):
        return {}
    return parse_pyvenv_cfg(text)


def parse_pyvenv_cfg(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip().lower()] = value.strip()
    return out


def python_version(cfg: Mapping[str, str]) -> str | None:
    """X.Y.Z from `version` (venv) or `version_info` (virtualenv, uv: "3.11.7.final.0")."""
    raw = cfg.get("version") or cfg.get("version_info")
    if not raw:
        return None
    parts = raw.split(".")
    nums = [p for p in parts[:3] if p.isdigit()]
    return ".".join(nums) if len(nums) >= 2 else None


def manager_from_cfg(cfg: Mapping[str, str]) -> str:
    if "uv" in cfg:
        return "uv"
    if "virtualenv" in cfg:
        return "virtualenv"
    return "venv"


def project_manager(prefix: Path | str) -> str | None:
    """The tool whose lock/manifest sits beside a project `.venv` / `venv`."""
    parent, name = os.path.split(os.fspath(prefix))
    if name not in PROJECT_ENV_NAMES:
        return None
    for filename, manager in PROJECT_MARKERS:
        if os.path.exists(os.path.join(parent, filename)):
            return manager
    return None


def env_name(prefix: Path, hint: str | None) -> str:
    """Project envs are named after their project; others after their directory."""
    if prefix.name in PROJECT_ENV_NAMES and hint is None:
        return prefix.parent.name or prefix.name
    return prefix.name


def _interpreter_links(prefix: Path | str) -> list[str]:
    return [os.path.join(prefix, "bin", "python"), os.path.join(prefix, "Scripts", "python.exe")]


def broken_reason(prefix: Path | str, cfg: Mapping[str, str]) -> str | None:
    """Why the env cannot run any more, or None. Reads links; never runs anything."""
    home = cfg.get("home")
    if home and not os.path.isdir(home):
        return f"base interpreter missing (pyvenv.cfg home {home} does not exist)"
    links = [p for p in _interpreter_links(prefix) if os.path.lexists(p)]
    if links and not any(os.path.exists(p) for p in links):
        return f"base interpreter missing ({links[0]} is a dangling link)"
    if not home and not links:
        return "no interpreter and no home in pyvenv.cfg"
    return None


def known_locations(ctx: ScanContext) -> Iterator[tuple[Path, str | None]]:
    """Directories holding many venvs, with the manager their location implies."""
    home, env = ctx.home, ctx.environ
    data = Path(env.get("XDG_DATA_HOME") or home / ".local" / "share")
    cache = Path(env.get("XDG_CACHE_HOME") or home / ".cache")
    yield Path(env.get("WORKON_HOME") or home / ".virtualenvs"), None
    yield data / "virtualenvs", "pipenv"
    yield cache / "pypoetry" / "virtualenvs", "poetry"
    if env.get("POETRY_VIRTUALENVS_PATH"):
        yield Path(env["POETRY_VIRTUALENVS_PATH"]), "poetry"
    if env.get("PIPX_HOME"):
        yield Path(env["PIPX_HOME"]) / "venvs", "pipx"
    yield home / ".local" / "pipx" / "venvs", "pipx"
    yield data / "pipx" / "venvs", "pipx"
    yield Path(env.get("UV_TOOL_DIR") or data / "uv" / "tools"), "uv-tool"


def _children(d: Path) -> Iterable[Path]:
    try:
        with os.scandir(d) as it:
            return [Path(e.path) for e in it if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []


class VenvInspector(Inspector):
    """`python -m venv`, virtualenv, uv, Poetry, pipenv, pipx and uv tool environments."""

    kind = EnvKind.VENV
    markers = frozenset({"pyvenv.cfg"})

    def locate(self, ctx: ScanContext) -> Iterator[Location]:
        for directory, hint in known_locations(ctx):
            for child in _children(directory):
                if (child / "pyvenv.cfg").is_file():
                    yield Location(EnvKind.VENV, str(child), hint=hint)
        active = ctx.environ.get("VIRTUAL_ENV")
        if active and (Path(active) / "pyvenv.cfg").is_file():
            yield Location(EnvKind.VENV, active)

    def identify(self, path: Path) -> Location | None:
        if (path / "pyvenv.cfg").is_file():
            return Location(EnvKind.VENV, str(path))
        return None

    def fingerprint(self, loc: Location) -> str | None:
        # Plain strings and os calls: this runs for every venv on every scan.
        prefix = loc.ref
        cfg_path = os.path.join(prefix, "pyvenv.cfg")
        try:
            st = os.stat(cfg_path)
        except (OSError, ValueError):
            return None
        cfg = read_pyvenv_cfg(cfg_path)
        sps = site_packages_paths(prefix)
        # Everything read() depends on that can change without pyvenv.cfg changing:
        # installs (site-packages mtimes), use (activation evidence), the base interpreter.
        parts = [
            str(st.st_mtime_ns), str(st.st_size), str(broken_reason(prefix, cfg)),
            str(fsinfo.newest_use(prefix, sps)),
            str(project_manager(prefix)), str(loc.hint), sitepackages.fingerprint(sps),
            interrupted_state(prefix),
        ]
        return "|".join(parts)

    def read(self, loc: Location) -> Environment:
        return self._read(loc, sizes=True)

    def read_without_sizes(self, loc: Location) -> Environment:
        return self._read(loc, sizes=False)

    def _read(self, loc: Location, *, sizes: bool) -> Environment:
        prefix = Path(loc.ref)
        problems: list[Problem] = []
        try:
            cfg = parse_pyvenv_cfg((prefix / "pyvenv.cfg").read_text("utf-8", "replace"))
        except OSError as e:
            cfg = {}
            problems.append(Problem(ProblemKind.UNREADABLE,
                                    f"{prefix / 'pyvenv.cfg'}: unreadable ({e.strerror})"))
        reason = broken_reason(prefix, cfg)
        if reason and not problems:
            problems.append(Problem(ProblemKind.BROKEN, f"broken: {reason}"))
        problems += interrupted_fix(prefix)

        sps = site_packages_dirs(prefix)
        found: list[Package] = []
        for sp in sps:
            pkgs, probs = scan_site_packages(sp)
            found += pkgs
            problems += probs
        packages, dup_problems = dedupe(found)
        problems += dup_problems

        usage = fsinfo.disk_usage(prefix) if sizes else fsinfo.UNMEASURED
        problems += usage.problems
        # The size walk meets the same unreadable directories the package scan did.
        known = {p.detail for pkg in packages for p in pkg.problems}
        problems = [p for p in dict.fromkeys(problems) if p.detail not in known]
        python = python_version(cfg) or next(
            (v for v in map(python_from_site_packages, sps) if v), None)
        hint = loc.hint
        manager = hint if hint not in (None, "uv-tool") else None
        manager = manager or project_manager(prefix) or manager_from_cfg(cfg)
        if hint == "uv-tool":
            manager = "uv"
        details: dict[str, object] = {
            "home": cfg.get("home"),
            "site_packages": [str(sp) for sp in sps],
            "include_system_site_packages": cfg.get("include-system-site-packages") == "true",
        }
        if hint in ("pipx", "uv-tool"):
            details["tool"] = prefix.name
        if cfg.get("prompt"):
            details["prompt"] = cfg["prompt"]
        return Environment(
            kind=EnvKind.VENV,
            name=env_name(prefix, hint),
            manager=manager,
            path=str(prefix),
            python=python,
            packages=packages,
            size_bytes=usage.size,
            reclaimable_bytes=usage.reclaimable,
            last_used=fsinfo.last_used(prefix, sps),
            created=fsinfo.iso(_mtime(prefix / "pyvenv.cfg")),
            problems=tuple(problems),
            details=details,
        )


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None
