"""Conda environments (conda, mamba, micromamba, pixi), found and read statically.

A directory is a conda environment when it has a `conda-meta/` subdirectory: conda itself
uses that test. What is installed comes from `conda-meta/*.json` (one record per package,
written by conda, mamba or rattler), what the user asked for from `conda-meta/history`, and
packages pip or uv added on top from the environment's site-packages. Nothing in the
environment is ever run.

Where environments live (`locate`): `~/.conda/environments.txt`, `envs_dirs` in the conda
configuration files, CONDA_ENVS_PATH / CONDA_ENVS_DIRS, the usual installation roots and their
`envs/`, pixi's global `~/.pixi/envs`, and the active CONDA_PREFIX. Project-local pixi
environments (`.pixi/envs/*`) are met by the discovery walk and recognised by `identify`.

Damaged metadata never raises: a record that is not UTF-8, not JSON, or has fields of the
wrong type is a `corrupted` problem naming the file (RELIABILITY 11); leftovers of a killed
transaction are `interrupted` (RELIABILITY 10); a history conda could not parse is read as
an empty history (RELIABILITY 12, conda#13959).
"""

from __future__ import annotations

import ast
import json
import os
import re
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from envtui.inspectors import fsinfo, sitepackages
from envtui.inspectors.base import Inspector, Location, ScanContext
from envtui.inspectors.sitepackages import (
    dedupe,
    python_from_site_packages,
    scan_site_packages,
    site_packages_dirs,
)
from envtui.model import Environment, EnvKind, Package, Problem, ProblemKind
from envtui.resolver.journal import interrupted_fix, interrupted_state

HOME_ROOTS = (
    "miniconda3", "anaconda3", "miniforge3", "mambaforge", "micromamba",
    "miniconda", "anaconda", "opt/miniconda3", "opt/anaconda3", ".local/share/mamba",
)
"""Installation roots under the home directory (relative to it), each with its `envs/`."""

SYSTEM_ROOTS = ("/opt/conda", "/opt/miniconda3", "/opt/anaconda3", "/opt/miniforge3")
"""System-wide installation roots; `CondaInspector(system_roots=())` turns them off."""

CONDARC_FILES = (
    ".condarc", ".conda/.condarc", ".conda/condarc",
    ".config/conda/.condarc", ".config/conda/condarc",
)
"""User configuration files conda reads, relative to the home directory."""

CONDA_PIP_MISMATCH = ProblemKind.CONDA_PIP_MISMATCH
"""Problem kind (DESIGN.md check contract): pip replaced a conda package by another version."""

_FINGERPRINT_VERSION = "conda-1"
"""Bump when `read` learns something new, so cached results made before are not reused."""

_CONFIG_LIMIT = 1 << 20
"""Bytes read at most from a configuration file or environments.txt."""

_SPECS_LINE_LIMIT = 1 << 16
"""Characters of a history `specs:` line read at most; conda writes one command's specs."""

_LEFTOVER_SUFFIXES = (".c~", ".trash", ".conda_trash")
"""Names conda gives files it moves aside during a transaction and deletes on success."""

_SUBDIR = re.compile(r"^(noarch|(linux|osx|win|emscripten|wasi|zos|freebsd)-[a-z0-9_]+)$")
_SPEC_NAME = re.compile(r"^\s*(?:[^\s:]*::)?([A-Za-z0-9_][A-Za-z0-9_.\-]*)")
_HISTORY_ENTRY = re.compile(r"^==>\s*(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})\s*<==\s*$")
_HISTORY_SPECS = re.compile(r"^#\s*(\w+)\s*specs:\s*(.*)$")
_HISTORY_CMD = re.compile(r"^#\s*cmd:\s*(.*)$")
_ENV_VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


# --------------------------------------------------------------------------- small parsers


def spec_name(spec: str) -> str | None:
    """The package name a conda match spec asks for, lower-cased, or None if it names none.

    `conda-forge::numpy>=1.2` -> "numpy"; `python=3.11` -> "python"; `numpy 1.26.*` -> "numpy".
    """
    m = _SPEC_NAME.match(spec)
    return m.group(1).lower() if m else None


def channel_name(raw: str) -> str:
    """A record's channel as people write it, never with credentials in it.

    `https://conda.anaconda.org/conda-forge/linux-64` -> "conda-forge";
    `https://repo.anaconda.com/pkgs/main/noarch` -> "pkgs/main"; other URLs lose their
    platform subdirectory, trailing slash, user:password and anaconda.org `/t/TOKEN` parts;
    a bare name ("conda-forge") stays as it is.
    """
    url = raw.strip().rstrip("/")
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    host, _, path = rest.partition("/")
    host = host.rpartition("@")[2]  # credentials must never reach output or the cache
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "t":
        parts = parts[2:]  # anaconda.org token: /t/<token>/<channel>
    if parts and _SUBDIR.match(parts[-1]):
        parts = parts[:-1]
    if host in ("conda.anaconda.org", "conda.anaconda.com") and parts:
        return "/".join(parts)
    if host == "repo.anaconda.com" and parts[:1] == ["pkgs"]:
        return "/".join(parts)
    return f"{scheme}://{host}/{'/'.join(parts)}".rstrip("/") if parts else f"{scheme}://{host}"


def envs_dirs_from_condarc(text: str) -> list[str]:
    """The `envs_dirs` (alias `envs_path`) entries of a .condarc, verbatim (not expanded).

    Parsed by envtui's guarded YAML loader (no tags run, nesting and aliases capped: PyYAML's
    pure-Python loader spends seconds on a few kilobytes of `[[[[`); a file that is not valid
    YAML, or whose key is not a string or a list of strings, yields nothing, as conda would
    refuse it too.
    """
    if "envs_dirs" not in text and "envs_path" not in text:
        return []  # most files (and every missing one): no need to import a YAML parser
    from envtui.exchange.safe_yaml import load_yaml
    from envtui.exchange.spec import ExchangeError

    try:
        data = load_yaml(text, ".condarc")
    except ExchangeError:
        return []
    if not isinstance(data, dict):
        return []
    found: list[str] = []
    for key in ("envs_dirs", "envs_path"):
        value = data.get(key)
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            found += [v for v in value if isinstance(v, str) and v]
    return found


@dataclass(frozen=True)
class History:
    """What `conda-meta/history` tells: requested specs, commands run, creation time."""

    requested: dict[str, str] = field(default_factory=dict)
    """Lower-cased package name -> the spec the user asked for, after later removals."""
    commands: tuple[str, ...] = ()
    """Every `# cmd:` line, oldest first."""
    created: str | None = None
    """ISO 8601 (UTC) time of the first entry; conda wrote it in the machine's local time."""
    malformed: bool = False
    """True when the file could not be understood and was read as empty (conda#13959)."""

    @property
    def by_mamba(self) -> bool:
        """Whether any recorded command ran mamba or micromamba."""
        return any("mamba" in _program(cmd) for cmd in self.commands)


def _program(cmd: str) -> str:
    first = cmd.strip().split(" ", 1)[0]
    return first.replace("\\", "/").rsplit("/", 1)[-1].lower()


def _spec_list(value: str) -> list[str] | None:
    """The specs on a `# update specs:` line; None when the value cannot be read."""
    value = value.strip()
    if len(value) > _SPECS_LINE_LIMIT:
        return None  # not one command's specs; its syntax tree would take 150 times its size
    if not value.startswith("["):
        return [s.strip() for s in value.split(",") if s.strip()]  # conda < 4.4 wrote a,b
    try:
        parsed = ast.literal_eval(value)  # literals only: nothing in the file is executed
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    if not isinstance(parsed, list | tuple) or not all(isinstance(s, str) for s in parsed):
        return None
    return list(parsed)


def _local_to_utc(stamp: str) -> str | None:
    try:
        when = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S")
        return when.astimezone(UTC).isoformat()
    except (ValueError, OverflowError, OSError):
        return None


def _apply_specs(requested: dict[str, str], action: str, specs: list[str]) -> bool:
    """Update the requested map the way conda replays history; False on an unnamed spec."""
    for spec in specs:
        name = spec_name(spec)
        if name is None:
            return False
        if action in ("update", "install", "create"):
            requested[name] = spec
        elif action in ("remove", "uninstall"):
            requested.pop(name, None)
        elif action == "neutered" and name in requested:
            requested[name] = spec
    return True


def parse_history(data: bytes) -> History:
    """Read conda-meta/history. Lines it does not know (comments, package lines) are skipped;
    a specs line that cannot be read makes the whole history empty and `malformed`.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return History(malformed=True)
    requested: dict[str, str] = {}
    commands: list[str] = []
    created: str | None = None
    for line in text.splitlines():
        if created is None and (entry := _HISTORY_ENTRY.match(line)):
            created = _local_to_utc(entry.group(1))
        elif cmd := _HISTORY_CMD.match(line):
            commands.append(cmd.group(1).strip())
        elif specs_line := _HISTORY_SPECS.match(line):
            specs = _spec_list(specs_line.group(2))
            if specs is None or not _apply_specs(requested, specs_line.group(1), specs):
                return History(malformed=True)
    return History(requested=requested, commands=tuple(commands), created=created)


# --------------------------------------------------------------------------- package records


@dataclass(frozen=True)
class CondaRecord:
    """One `conda-meta/*.json` file, read."""

    package: Package | None
    """The package it describes; None when not even a name could be recovered."""
    metadata_dirs: frozenset[str] = frozenset()
    """Python metadata directories it installed (`lib/.../x.dist-info`), prefix-relative."""
    requested: str | None = None
    """The spec the installer recorded as requested for it (`requested_spec(s)`), if any."""
    problems: tuple[Problem, ...] = ()
    """What is wrong with the file; `corrupted` or `unreadable`, naming the file."""


def _metadata_dirs(files: Iterable[str]) -> frozenset[str]:
    """The dist-info / egg-info directories (or egg-info files) among a record's files."""
    out: set[str] = set()
    for raw in files:
        f = raw.replace("\\", "/")  # Windows records may use either separator
        for marker in (".dist-info/", ".egg-info/"):
            at = f.find(marker)
            if at >= 0:
                out.add(f[: at + len(marker) - 1])
                break
        else:
            if f.endswith(".egg-info"):
                out.add(f)
    return frozenset(out)


def _names_from_filename(filename: str) -> tuple[str, str, str] | None:
    """`numpy-1.26.4-py311h0_0.json` -> ("numpy", "1.26.4", "py311h0_0")."""
    parts = filename.removesuffix(".json").rsplit("-", 2)
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 and all(parts) else None


class _Fields:
    """Typed access to a record's fields that notes every wrong type as an error."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.errors: list[str] = []

    def required(self, key: str) -> str | None:
        value = self.data.get(key)
        if isinstance(value, str) and value:
            return value
        if value is None or value == "":
            self.errors.append(f"`{key}` missing")
        else:
            self.errors.append(f"`{key}` is {_describe(value)}, expected a string")
        return None

    def text(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None or isinstance(value, str):
            return value
        self.errors.append(f"`{key}` is {_describe(value)}, expected a string")
        return None

    def strings(self, key: str) -> tuple[str, ...] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        what = "a list with non-string items" if isinstance(value, list) else _describe(value)
        self.errors.append(f"`{key}` is {what}, expected a list of strings")
        return None

    def paths_data(self) -> tuple[str, ...] | None:
        """`paths_data.paths[*]._path`, the newer spelling of `files`."""
        value = self.data.get("paths_data")
        if value is None:
            return None
        paths = value.get("paths") if isinstance(value, dict) else None
        if isinstance(paths, list) and all(
            isinstance(p, dict) and isinstance(p.get("_path"), str) for p in paths
        ):
            return tuple(p["_path"] for p in paths)
        self.errors.append("`paths_data` is not {paths: [{_path: ...}]}")
        return None


_JSON_TYPES = {str: "a string", int: "a number", float: "a number", bool: "a boolean",
               dict: "an object", list: "a list", type(None): "null"}


def _describe(value: object) -> str:
    """A JSON value's type in JSON's words, for one-line problem details."""
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _corrupted(where: str, why: str, name: str | None = None,
               version: str | None = None) -> Problem:
    return Problem(ProblemKind.CORRUPTED, f"{where}: corrupted conda record ({why})",
                   package=name, version=version)


def _decode_record(data: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """The JSON object in `data`, or None and why it is not one."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None, "not valid UTF-8"
    try:
        obj = json.loads(text)
    except ValueError as e:
        return None, f"invalid JSON: {getattr(e, 'msg', e)}"
    except RecursionError:
        return None, "invalid JSON: nested too deeply"
    if not isinstance(obj, dict):
        return None, f"top level is {_describe(obj)}, expected an object"
    return obj, None


def record_from_bytes(data: bytes, filename: str, where: str) -> CondaRecord:
    """Read one conda-meta record from its bytes. Never raises.

    `filename` (e.g. `numpy-1.26.4-py311h0_0.json`) names the package when the content
    cannot; `where` is how problems name the file (its path).
    """
    obj, why = _decode_record(data)
    if obj is None:
        names = _names_from_filename(filename)
        problem = _corrupted(where, why or "unreadable", *(names[:2] if names else ()))
        if names is None:
            return CondaRecord(None, problems=(problem,))
        pkg = Package(name=names[0], version=names[1], build=names[2], source="conda",
                      installer="conda", location=where, problems=(problem,))
        return CondaRecord(pkg)

    f = _Fields(obj)
    fallback = _names_from_filename(filename)
    name = f.required("name") or (fallback[0] if fallback else None)
    version = f.required("version") or (fallback[1] if fallback else None)
    build = f.text("build")
    channel = f.text("channel") or f.text("schannel") or _channel_from_url(f.text("url"))
    depends = f.strings("depends") or ()
    files = f.strings("files") if "files" in obj else f.paths_data()
    requested = f.text("requested_spec") or None
    if requested is None:
        requested_specs = f.strings("requested_specs")
        requested = ", ".join(requested_specs) if requested_specs else None

    problems = tuple(_corrupted(where, e, name, version) for e in f.errors)
    if name is None or version is None:
        return CondaRecord(None, problems=problems)
    pkg = Package(
        name=name,
        version=version,
        source="conda",
        installer="conda",
        requires=depends,
        build=build,
        channel=channel_name(channel) if channel else None,
        location=where,
        problems=problems,
    )
    return CondaRecord(pkg, _metadata_dirs(files or ()), requested)


def _channel_from_url(url: str | None) -> str | None:
    """`https://host/channel/linux-64/x-1-0.conda` -> its channel URL (older records)."""
    if not url or "/" not in url:
        return None
    return url.rsplit("/", 1)[0]


def _read_record(path: Path) -> CondaRecord:
    try:
        data = path.read_bytes()
    except OSError as e:
        return CondaRecord(None, problems=(
            Problem(ProblemKind.UNREADABLE, f"{path}: unreadable ({_why(e)})"),
        ))
    return record_from_bytes(data, path.name, str(path))


def _why(e: Exception) -> str:
    """An OSError's reason without the path (the problem line names the path itself)."""
    return getattr(e, "strerror", None) or str(e)


def _leftover(path: Path) -> Problem:
    return Problem(ProblemKind.INTERRUPTED,
                   f"{path}: leftover of an interrupted conda transaction")


@dataclass
class _CondaMeta:
    """Everything read from one conda-meta directory."""

    records: list[CondaRecord] = field(default_factory=list)
    history: History = field(default_factory=History)
    pixi_manifest: str | None = None
    problems: list[Problem] = field(default_factory=list)


def _read_conda_meta(meta: Path) -> _CondaMeta:
    out = _CondaMeta()
    try:
        with os.scandir(meta) as it:
            names = sorted(e.name for e in it)
    except OSError as e:
        out.problems.append(Problem(ProblemKind.UNREADABLE,
                                    f"{meta}: unreadable ({_why(e)})"))
        return out
    for name in names:
        path = meta / name
        if name.startswith("._"):
            continue  # AppleDouble metadata macOS leaves on foreign filesystems
        if name.endswith(_LEFTOVER_SUFFIXES):
            out.problems.append(_leftover(path))
        elif name.endswith(".json"):
            out.records.append(_read_record(path))
        elif name == "history":
            out.history = _read_history(path)
        elif name == "pixi":
            out.pixi_manifest = _pixi_manifest(path)
    return out


def _read_history(path: Path) -> History:
    try:
        return parse_history(path.read_bytes())
    except OSError:
        return History(malformed=True)


def _pixi_manifest(path: Path) -> str | None:
    """The project manifest pixi recorded in `conda-meta/pixi`, if readable."""
    try:
        obj, _ = _decode_record(path.read_bytes()[:_CONFIG_LIMIT])
    except OSError:
        return None
    value = obj.get("manifest_path") if obj else None
    return value if isinstance(value, str) else None


# --------------------------------------------------------------------------- the inspector


def _is_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _in_pixi_envs(path: Path) -> bool:
    return path.parent.name == "envs" and path.parent.parent.name == ".pixi"


def _expand(value: str, ctx: ScanContext) -> Path | None:
    """`~` and `$VAR` / `${VAR}` expanded from the scan context; None unless absolute."""
    def var(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        return ctx.environ.get(name, m.group(0))

    value = _ENV_VAR.sub(var, value.strip())
    if value == "~" or value.startswith("~/"):
        value = str(ctx.home) + value[1:]
    path = Path(value)
    return path if value and path.is_absolute() else None


class CondaInspector(Inspector):
    """Conda, mamba, micromamba and pixi environments."""

    kind = EnvKind.CONDA
    markers = frozenset({"conda-meta"})

    def __init__(self, system_roots: Iterable[str | Path] = SYSTEM_ROOTS) -> None:
        """`system_roots`: installation roots outside the home directory to look in."""
        self.system_roots = tuple(Path(p) for p in system_roots)

    # ---- finding

    def locate(self, ctx: ScanContext) -> Iterator[Location]:
        """Every environment conda's own bookkeeping and configuration point to, once each."""
        seen: set[str] = set()
        for path in self._candidates(ctx):
            loc = self.identify(path)
            if loc is not None and loc.ref not in seen:
                seen.add(loc.ref)
                yield loc

    def _candidates(self, ctx: ScanContext) -> Iterator[Path]:
        env = ctx.environ
        roots = [ctx.home / r for r in HOME_ROOTS] + list(self.system_roots)
        if env.get("CONDA_EXE"):
            roots.append(Path(env["CONDA_EXE"]).parent.parent)  # <root>/bin/conda
        for var in ("MAMBA_ROOT_PREFIX", "CONDA_ROOT"):
            if env.get(var):
                roots.append(Path(env[var]))
        for root in roots:
            yield root
            yield from _children(root / "envs", ctx)
        yield from _children(ctx.home / ".conda" / "envs", ctx)
        yield from _children(ctx.home / ".pixi" / "envs", ctx)
        yield from self._environments_txt(ctx)
        for envs_dir in self._envs_dirs(ctx):
            yield from _children(envs_dir, ctx)
        if env.get("CONDA_PREFIX"):
            yield Path(env["CONDA_PREFIX"])

    def _environments_txt(self, ctx: ScanContext) -> Iterator[Path]:
        """Prefixes conda registered when it created them (stale lines are common)."""
        text = _read_config(ctx.home / ".conda" / "environments.txt", ctx)
        for line in (text or "").splitlines():
            # conda writes absolute prefixes verbatim: no expansion, blank lines skipped
            if os.path.isabs(line.strip()):
                yield Path(line.strip())

    def _envs_dirs(self, ctx: ScanContext) -> Iterator[Path]:
        """Directories holding named environments, from condarc files and the environment."""
        files = [ctx.home / f for f in CONDARC_FILES]
        if ctx.environ.get("XDG_CONFIG_HOME"):
            xdg = Path(ctx.environ["XDG_CONFIG_HOME"]) / "conda"
            files += [xdg / ".condarc", xdg / "condarc"]
        if ctx.environ.get("CONDARC"):
            files.append(Path(ctx.environ["CONDARC"]))
        for path in dict.fromkeys(files):
            for value in envs_dirs_from_condarc(_read_config(path, ctx) or ""):
                expanded = _expand(value, ctx)
                if expanded is not None:
                    yield expanded
        for var in ("CONDA_ENVS_DIRS", "CONDA_ENVS_PATH"):
            for value in ctx.environ.get(var, "").split(os.pathsep):
                expanded = _expand(value, ctx) if value.strip() else None
                if expanded is not None:
                    yield expanded

    def identify(self, path: Path) -> Location | None:
        """A directory with `conda-meta/` is a conda env (one stat for anything else)."""
        if not _is_dir(path / "conda-meta"):
            return None
        pixi = _in_pixi_envs(path)
        base = not pixi and any(_is_dir(path / d) for d in ("condabin", "envs", "pkgs"))
        return Location(EnvKind.CONDA, os.path.realpath(path),
                        hint="pixi" if pixi else None, base=base)

    def fingerprint(self, loc: Location) -> str | None:
        """mtimes of the prefix, conda-meta/, its history and every site-packages directory:
        conda rewrites conda-meta, appends to history, and pip changes show in site-packages.
        """
        prefix = Path(loc.ref)
        meta = prefix / "conda-meta"
        try:
            meta_st = os.stat(meta)
        except (OSError, ValueError):
            return None  # gone or unreadable: read it afresh every time
        parts = [_FINGERPRINT_VERSION, str(loc.base), loc.hint or "", str(meta_st.st_mtime_ns)]
        for path in (prefix, meta / "history"):
            try:
                st = os.stat(path)
                parts.append(f"{st.st_mtime_ns}:{st.st_size}")
            except (OSError, ValueError):
                parts.append("-")
        parts.append(sitepackages.fingerprint(site_packages_dirs(prefix)))
        parts.append(interrupted_state(prefix))
        return "|".join(parts)

    # ---- reading

    def read(self, loc: Location) -> Environment:
        """Packages from conda-meta plus pip's in site-packages, statically. Never raises."""
        return self._read(loc, sizes=True)

    def read_without_sizes(self, loc: Location) -> Environment:
        return self._read(loc, sizes=False)

    def _read(self, loc: Location, *, sizes: bool) -> Environment:
        prefix = Path(loc.ref)
        try:
            os.stat(prefix)
        except (OSError, ValueError) as e:
            # Removed since it was found (or never there): one clear line, nothing else.
            return Environment(kind=EnvKind.CONDA, name=prefix.name, manager="conda",
                               path=str(prefix), base=loc.base, problems=(Problem(
                                   ProblemKind.UNREADABLE,
                                   f"{prefix}: unreadable ({_why(e)})"),))
        meta = _read_conda_meta(prefix / "conda-meta")
        problems = list(meta.problems) + _prefix_leftovers(prefix)
        problems += interrupted_fix(prefix)
        conda_pkgs = [r.package for r in meta.records if r.package is not None]
        problems += [p for r in meta.records if r.package is None for p in r.problems]
        requested = self._requested(meta)
        conda_pkgs = [replace(p, requested=requested.get(p.name.lower())) for p in conda_pkgs]

        sps = site_packages_dirs(prefix)
        pip_pkgs, pip_problems = _pip_packages(prefix, sps, meta.records)
        problems += pip_problems + _mismatches(conda_pkgs, pip_pkgs)
        # A base env's size is its own files: the other envs and the package cache are not it.
        skip = (prefix / "envs", prefix / "pkgs") if loc.base else ()
        usage = (fsinfo.disk_usage(prefix, skip) if sizes
                 else fsinfo.UNMEASURED)
        problems += usage.problems

        python_rec = next((p for p in conda_pkgs if p.name.lower() == "python"), None)
        python = python_rec.version if python_rec else next(
            (v for v in map(python_from_site_packages, sps) if v), None)
        pixi = loc.hint == "pixi" or _in_pixi_envs(prefix) or meta.pixi_manifest is not None
        base = loc.base and not pixi
        history = meta.history
        return Environment(
            kind=EnvKind.CONDA,
            name="base" if base else prefix.name,
            manager="pixi" if pixi else "mamba" if history.by_mamba else "conda",
            path=str(prefix),
            python=python,
            packages=tuple(sorted(conda_pkgs + pip_pkgs, key=lambda p: (p.key, p.source))),
            size_bytes=usage.size,
            reclaimable_bytes=usage.reclaimable,
            last_used=fsinfo.last_used(
                prefix, [prefix / "conda-meta" / "history", prefix / "conda-meta", *sps]),
            created=history.created,
            problems=tuple(dict.fromkeys(problems)),
            base=base,
            details=_details(conda_pkgs, requested, meta),
        )

    @staticmethod
    def _requested(meta: _CondaMeta) -> dict[str, str]:
        """History is the authority when it names anything (conda replays it to solve);
        otherwise what the installer stamped into the records (pixi and rattler do that).
        """
        if meta.history.requested:
            return dict(meta.history.requested)
        return {r.package.name.lower(): r.requested for r in meta.records
                if r.package is not None and r.requested}


def _children(directory: Path, ctx: ScanContext) -> Iterator[Path]:
    """Subdirectories of `directory`; nothing if it is missing, one reported line if unreadable."""
    try:
        with os.scandir(directory) as it:
            entries = sorted(e.name for e in it if e.is_dir() and not e.name.startswith("."))
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return  # missing, or a configured path no filesystem can hold (NUL byte)
    except OSError as e:
        ctx.report(Problem(ProblemKind.UNREADABLE, f"{directory}: unreadable ({_why(e)})"))
        return
    for name in entries:
        yield directory / name


def _read_config(path: Path, ctx: ScanContext) -> str | None:
    """A small text file; None if missing; unreadable or undecodable ones are reported."""
    try:
        with open(path, "rb") as f:
            data = f.read(_CONFIG_LIMIT)
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return None
    except OSError as e:
        ctx.report(Problem(ProblemKind.UNREADABLE, f"{path}: unreadable ({_why(e)})"))
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        ctx.report(Problem(ProblemKind.UNREADABLE, f"{path}: not valid UTF-8, ignored"))
        return None


def _prefix_leftovers(prefix: Path) -> list[Problem]:
    """A top-level `.trash` directory or moved-aside files left by a killed conda."""
    try:
        with os.scandir(prefix) as it:
            names = sorted(e.name for e in it)
    except OSError as e:
        return [Problem(ProblemKind.UNREADABLE, f"{prefix}: unreadable ({_why(e)})")]
    return [_leftover(prefix / n) for n in names if n == ".trash" or n.endswith(_LEFTOVER_SUFFIXES)]


def _pip_packages(prefix: Path, sps: list[Path],
                  records: list[CondaRecord]) -> tuple[list[Package], list[Problem]]:
    """Distributions in site-packages that conda did not install (pip's, uv's, ...).

    A dist-info is conda's when a record lists its files, its INSTALLER says conda, or a
    record has the same name and version (old packages carry neither mark); each installed
    package must appear once.
    """
    owned: set[str] = set()
    for r in records:
        owned |= r.metadata_dirs
    conda_versions = {(r.package.key, r.package.version) for r in records if r.package}
    found: list[Package] = []
    problems: list[Problem] = []
    for sp in sps:
        pkgs, probs = scan_site_packages(sp)
        problems += probs
        for pkg in pkgs:
            rel = os.path.relpath(pkg.location or "", prefix).replace(os.sep, "/")
            if rel in owned or pkg.installer == "conda" or (pkg.key, pkg.version) in conda_versions:
                continue
            found.append(pkg)
    kept, dup_problems = dedupe(found)
    return list(kept), problems + dup_problems


def _mismatches(conda_pkgs: list[Package], pip_pkgs: list[Package]) -> list[Problem]:
    """pip installed another version over a conda package: both stay listed, as conda list does."""
    by_key = {p.key: p for p in conda_pkgs}
    out = []
    for pkg in pip_pkgs:
        other = by_key.get(pkg.key)
        if other is not None:
            out.append(Problem(
                CONDA_PIP_MISMATCH,
                f"{pkg.name}: conda installed {other.version} but {pkg.installer or 'pip'} "
                f"replaced it with {pkg.version} ({pkg.location})",
                package=pkg.name, version=pkg.version,
            ))
    return out


def _details(conda_pkgs: list[Package], requested: dict[str, str],
             meta: _CondaMeta) -> dict[str, Any]:
    details: dict[str, Any] = {
        "channels": sorted({p.channel for p in conda_pkgs if p.channel}),
        "requested": sorted(requested.values()),
    }
    if meta.history.malformed:
        details["history"] = "malformed (read as empty)"
    if meta.pixi_manifest:
        details["pixi_manifest"] = meta.pixi_manifest
    return details
