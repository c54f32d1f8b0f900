"""Import: build a new environment from a shared file, all or nothing.

`plan_import` reads the file and decides everything without touching the disk: the kind
of environment, where it goes, the interpreter or channels, and what in the file needs the
user's eye (index options, VCS and URL requirements, local paths). `preview` says all of
that; `run_import` does it.

Where the environment goes is never half-made and never someone else's:
- a target that does not exist is created, and removed again on any failure or cancel;
- an empty directory is filled, and emptied again on failure (the directory itself stays);
- anything else is refused, unless `force` is given and it is an environment (pyvenv.cfg
  or conda-meta), which is then moved aside, replaced, and moved back on failure;
- a marker file inside the new environment says an import is under way until it is done.

venvs are made by uv with an interpreter already on the machine (never downloaded), and
filled by `uv pip install` from a requirements file envtui writes: only the file's
requirements, so options inside it (`--index-url`, ...) are obeyed only when the user
passes `trust_file_options`. Conda environments are solved and linked by py-rattler;
conda-lock files are linked exactly from their URLs, their hashes checked first.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from envtui.exchange.files import read_spec
from envtui.exchange.requirements_export import pip_line
from envtui.exchange.spec import PIP, EnvSpec, ExchangeError, Pin
from envtui.format import plural
from envtui.resolver.journal import IMPORT_MARKER
from envtui.resolver.sources import IndexOptions

if TYPE_CHECKING:
    from rattler import RepoDataRecord
    from rattler.install import InstallerReporter

Progress = Callable[[str], object]
MARKER = IMPORT_MARKER
INSTALL_TIMEOUT = 1800.0
"""Seconds an installer may take before the import gives up and cleans up."""
KINDS = ("venv", "conda")


class ImportCancelled(ExchangeError):
    """The user cancelled; nothing was left behind."""


@dataclass(frozen=True)
class ImportPlan:
    """Everything an import will do, decided before anything is done."""

    source: Path
    format: str
    spec: EnvSpec
    kind: str
    """venv or conda."""
    target: Path
    replaces: bool = False
    """The target is an existing environment that will be replaced (--force)."""
    interpreter: Path | None = None
    """venv: the base interpreter uv will use."""
    interpreter_version: str | None = None
    channels: tuple[str, ...] = ()
    """conda: the channels solved from (the file's, or the ones given)."""
    index: IndexOptions | None = None
    """pip part: where packages come from (the user's options or pip's configuration)."""
    trust_file_options: bool = False
    """Obey index options written inside the file."""
    flags: tuple[tuple[str, bool], ...] = ()
    """(what the file asks for, whether it is dangerous), for the preview."""
    left_out: tuple[str, ...] = ()
    """Packages the chosen kind cannot install (conda packages in a venv import)."""

    @property
    def pip_pins(self) -> tuple[Pin, ...]:
        return tuple(p for p in self.spec.pip if self.kind == "conda" or p.key != "python")


# --------------------------------------------------------------------------- planning


def plan_import(source: Path, *, name: str | None = None, prefix: Path | None = None,
                kind: str | None = None, channels: Sequence[str] = (),
                index: IndexOptions | None = None, force: bool = False,
                trust_file_options: bool = False, home: Path | None = None,
                environ: dict[str, str] | None = None) -> ImportPlan:
    """Read `source` and decide the import. Raises ExchangeError for what cannot be done."""
    environ = dict(os.environ) if environ is None else environ
    home = home or Path(environ.get("HOME") or Path.home())
    fmt, spec = read_spec(source)
    kind = kind or ("conda" if fmt in ("environment-yml", "conda-lock") else "venv")
    if kind not in KINDS:
        raise ExchangeError(f"--kind {kind}: expected venv or conda")
    if kind == "conda" and fmt in ("requirements", "pylock"):
        raise ExchangeError(f"{source}: a {fmt} file makes a venv (drop --kind conda)")
    if kind == "venv" and fmt == "conda-lock":
        raise ExchangeError(f"{source}: a conda-lock file makes a conda environment "
                            "(drop --kind venv)")
    if not spec.pins:
        raise ExchangeError(f"{source}: lists no packages: nothing to create")
    target = _target(spec, kind, name, prefix, home, environ)
    replaces = _check_target(target, force, home, environ)
    plan = ImportPlan(source=source, format=fmt, spec=spec, kind=kind, target=target,
                      replaces=replaces, index=index, trust_file_options=trust_file_options,
                      flags=_flags(spec))
    if kind == "venv":
        left = tuple(f"{p.name}={p.version}" if p.version else p.name for p in spec.conda
                     if p.key not in ("python", "pip"))
        interpreter, version = find_interpreter(spec.python)
        plan = replace(plan, interpreter=interpreter, interpreter_version=version,
                       left_out=left)
    else:
        chosen = tuple(channels) or spec.channels
        if not chosen:
            raise ExchangeError(f"{source}: names no channel; give --channel URL")
        plan = replace(plan, channels=chosen)
    return plan


def _target(spec: EnvSpec, kind: str, name: str | None, prefix: Path | None, home: Path,
            environ: dict[str, str]) -> Path:
    if prefix is not None:
        return prefix.absolute()
    name = name or spec.name
    if not name:
        raise ExchangeError(f"{spec.origin}: names no environment; give --name N or "
                            "--prefix PATH")
    if "/" in name or name in (".", "..") or "\0" in name:
        raise ExchangeError(f"--name {name}: a name, not a path (use --prefix for a path)")
    if kind == "venv":
        return Path(environ.get("WORKON_HOME") or home / ".virtualenvs") / name
    return conda_envs_dir(home, environ) / name


def conda_envs_dir(home: Path, environ: dict[str, str]) -> Path:
    """Where `conda create -n` would put a new environment: the first envs_dirs entry of
    ~/.condarc or CONDA_ENVS_PATH, else the envs/ of a conda installation in the home,
    else ~/.conda/envs."""
    from envtui.inspectors.conda import envs_dirs_from_condarc

    listed = [p for p in environ.get("CONDA_ENVS_PATH", "").split(os.pathsep) if p]
    with contextlib.suppress(OSError, ValueError):
        listed += envs_dirs_from_condarc((home / ".condarc").read_text(encoding="utf-8"))
    if listed:
        return Path(os.path.expanduser(listed[0].replace("~", str(home), 1)))
    for root in ("miniforge3", "mambaforge", "miniconda3", "anaconda3", "micromamba"):
        if (home / root / "conda-meta").is_dir():
            return home / root / "envs"
    return home / ".conda" / "envs"


def _check_target(target: Path, force: bool, home: Path, environ: dict[str, str]) -> bool:
    """Whether the target is an environment to replace; raises when it must be left alone."""
    if not os.path.lexists(target):
        return False
    if target.is_symlink() or not target.is_dir():
        raise ExchangeError(f"{target}: exists and is not a directory; refusing to touch it")
    if not any(target.iterdir()):
        return False
    is_env = (target / "pyvenv.cfg").is_file() or (target / "conda-meta").is_dir()
    if not force:
        what = "an environment" if is_env else "a non-empty directory"
        hint = " (use --force to replace it)" if is_env else ""
        raise ExchangeError(f"{target}: already exists and is {what}{hint}")
    if not is_env:
        raise ExchangeError(f"{target}: is a non-empty directory but not an environment "
                            "(no pyvenv.cfg or conda-meta); --force replaces environments only")
    _check_replaceable(target, home, environ)
    return True


def _check_replaceable(target: Path, home: Path, environ: dict[str, str]) -> None:
    """Replacing deletes the old environment: the guards of `envtui rm` apply (not a conda
    base with its envs and package cache, not active, not envtui's own, not frozen)."""
    from envtui.cleanup import Refused
    from envtui.cleanup.fs_removal import plan_removal
    from envtui.model import Environment, EnvKind

    kind = EnvKind.VENV if (target / "pyvenv.cfg").is_file() else EnvKind.CONDA
    env = Environment(kind=kind, name=target.name, manager="", path=str(target),
                      size_bytes=0)  # its size is not needed: skip the walk
    try:
        plan_removal(env, environ=environ, home=home)
    except Refused as e:
        raise ExchangeError(f"--force refused: {e}") from None


def _flags(spec: EnvSpec) -> tuple[tuple[str, bool], ...]:
    out: list[tuple[str, bool]] = []
    if spec.requirements is not None:
        out += [(f"{f.where}:{f.line}: {f.what}", f.danger) for f in spec.requirements.flags]
    for pin in spec.pins if spec.requirements is None else ():  # else the lines say it
        if pin.url and pin.url.startswith("http://"):
            out.append((f"{pin.name}: downloaded over plain http ({pin.url})", True))
    return tuple(dict.fromkeys(out))


def find_interpreter(version: str | None) -> tuple[Path, str]:
    """A Python on this machine for `version` (X.Y is enough), found by uv without
    downloading one. Raises ExchangeError naming the version when there is none."""
    from uv import find_uv_bin

    want = ".".join(version.split(".")[:2]) if version else None
    argv = [find_uv_bin(), "python", "find", "--no-python-downloads", "--no-project",
            *([want] if want else [])]
    from envtui.resolver.installer import child_env

    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=60, env=child_env(), check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ExchangeError(f"cannot look for a Python interpreter: {e}") from None
    path = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if done.returncode != 0 or not path:
        need = f"Python {want}" if want else "a Python interpreter"
        raise ExchangeError(f"no {need} on this machine (install it, or import with a "
                            "file that names another version)")
    return Path(path), _version_of(Path(path)) or want or ""


def _version_of(interpreter: Path) -> str | None:
    """X.Y.Z of a base interpreter from its pyvenv-free layout (lib/pythonX.Y), statically."""
    name = interpreter.resolve().name
    if name.startswith("python") and name[6:].replace(".", "").isdigit():
        return name[6:] or None
    return None


def preview(plan: ImportPlan) -> list[str]:
    """What the import will do, one line each; dangerous items start with `!`."""
    kind = "venv" if plan.kind == "venv" else "conda environment"
    what = "replace the environment at" if plan.replaces else f"create a new {kind} at"
    lines = [f"import {plan.source} ({plan.format}, {plural(len(plan.spec.pins), 'package')})",
             f"{what} {plan.target}"]
    if plan.kind == "venv":
        lines.append(f"python: {plan.interpreter} ({plan.interpreter_version or '?'})"
                     + (f"; the file asks for {plan.spec.python}" if plan.spec.python else ""))
    else:
        lines.append(f"conda channels: {', '.join(plan.channels)}")
    if plan.pip_pins:
        lines.append(f"{plural(len(plan.pip_pins), 'pip package')} from {_sources_text(plan)}")
    if plan.left_out:
        lines.append(f"left out (conda packages; a venv cannot hold them): "
                     f"{', '.join(plan.left_out)}")
    for text, danger in plan.flags:
        lines.append(f"{'!' if danger else '*'} {text}")
    if plan.spec.requirements is not None and _file_options(plan) and not plan.trust_file_options:
        lines.append("! index options in the file are NOT used (pass --trust-file-options "
                     "to use them)")
    lines += [f"* {n}" for n in plan.spec.notes]
    return lines


def _sources_text(plan: ImportPlan) -> str:
    args = _index_args(plan)
    return " ".join(args) if args else "pip's configuration"


def _file_options(plan: ImportPlan) -> list[str]:
    """The file's own index options as installer arguments."""
    req = plan.spec.requirements
    if req is None:
        return []
    o = req.options
    args: list[str] = []
    if o.index_url:
        args += ["--index-url", o.index_url]
    for url in o.extra_index_urls:
        args += ["--extra-index-url", url]
    for place in o.find_links:
        args += ["--find-links", place]
    if o.no_index:
        args.append("--no-index")
    for host in o.trusted_hosts:
        args += ["--allow-insecure-host", host]
    if o.pre:
        args.append("--prerelease=allow")
    return args


def _index_args(plan: ImportPlan) -> list[str]:
    args = plan.index.installer_args() if plan.index is not None else []
    if plan.index is not None and plan.index.offline:
        args.append("--offline")
    if plan.trust_file_options:
        args += _file_options(plan)
    return args


# --------------------------------------------------------------------------- running


def run_import(plan: ImportPlan, *, progress: Progress | None = None,
               cancel: threading.Event | None = None) -> Path:
    """Build the environment the plan describes. On any failure or cancel nothing is left
    behind (and a replaced environment is back where it was); raises ExchangeError."""
    say = progress or (lambda _line: None)
    stop = cancel or threading.Event()
    with _Site(plan.target, plan.replaces, say) as site:
        if plan.kind == "venv":
            _make_venv(plan, say, stop)
        elif plan.format == "conda-lock":
            _link_locked(plan, say, stop)
        else:
            _solve_and_link(plan, say, stop)
        if plan.kind == "conda" and plan.pip_pins:
            _pip_install(plan, plan.target, say, stop)
        _verify(plan, say)
        site.commit()
    say(f"created {plan.target}")
    return plan.target


class _Site:
    """The target directory made, filled, and undone on failure (see the module docstring)."""

    def __init__(self, target: Path, replaces: bool, say: Progress) -> None:
        self.target, self.replaces, self.say = target, replaces, say
        self.backup: Path | None = None
        self.created = False
        self.done = False

    def __enter__(self) -> _Site:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        if self.replaces:
            self.backup = Path(tempfile.mkdtemp(dir=self.target.parent,
                                                prefix=f".{self.target.name}.envtui-backup-"))
            os.rename(self.target, self.backup / "env")
            self.say(f"moved the old environment aside to {self.backup}")
        try:
            self.target.mkdir()
            self.created = True
        except FileExistsError:
            pass  # an empty directory the user made: fill it, and empty it on failure
        (self.target / MARKER).write_text(json.dumps({"started": time.time(), "backup": str(
            self.backup / "env") if self.backup else None}) + "\n")
        return self

    def commit(self) -> None:
        self.done = True

    def __exit__(self, kind: object, error: object, _tb: object) -> None:
        if self.done:
            (self.target / MARKER).unlink(missing_ok=True)
            if self.backup is not None:
                shutil.rmtree(self.backup, ignore_errors=True)
            return
        self.say(f"removing the half-made environment at {self.target}")
        if self.created:
            shutil.rmtree(self.target, ignore_errors=True)
        else:
            for child in list(self.target.iterdir()):
                _remove(child)
        if self.backup is not None:
            if not os.path.lexists(self.target):
                os.rename(self.backup / "env", self.target)
            shutil.rmtree(self.backup, ignore_errors=True)
            self.say(f"put the old environment back at {self.target}")


def _remove(path: Path) -> None:
    """Remove one entry of a directory we filled: links are unlinked, never followed."""
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


def _make_venv(plan: ImportPlan, say: Progress, stop: threading.Event) -> None:
    from uv import find_uv_bin

    say(f"creating the venv with {plan.interpreter}")
    _run([find_uv_bin(), "venv", "--no-python-downloads", "--no-project", "--allow-existing",
          "--python", str(plan.interpreter), str(plan.target)], "uv venv", say, stop)
    _pip_install(plan, plan.target, say, stop)


def _pip_install(plan: ImportPlan, prefix: Path, say: Progress, stop: threading.Event) -> None:
    from uv import find_uv_bin

    pins = plan.pip_pins
    if not pins:
        return
    # As pip: a --hash on any line of the file checks every line (one without fails).
    hashed = any(p.hashes for p in pins) or all(p.sha256 for p in pins)
    lines = [pip_line(p) + (_hash_options(p) if hashed else "") for p in pins]
    with tempfile.TemporaryDirectory(prefix="envtui-import-") as tmp:
        req = Path(tmp) / "requirements.txt"
        req.write_text("\n".join(lines) + "\n", encoding="utf-8")
        say(f"installing {plural(len(pins), 'pip package')} with uv")
        argv = [find_uv_bin(), "pip", "install", "--python", str(_python(prefix)),
                "-r", str(req), *_index_args(plan)]
        if hashed:
            argv.append("--require-hashes")
        if plan.format == "pylock":
            argv.append("--no-deps")  # a lock lists everything; nothing else may come in
        _run(argv, "uv pip install", say, stop)


def _hash_options(pin: Pin) -> str:
    digests = pin.hashes or ((f"sha256:{pin.sha256}",) if pin.sha256 else ())
    return "".join(f" --hash={d}" for d in digests)


def _python(prefix: Path) -> Path:
    from envtui.resolver.installer import interpreter

    return interpreter(prefix)


def _run(argv: list[str], what: str, say: Progress, stop: threading.Event) -> None:
    from envtui.resolver.installer import run

    outcome = run(argv, progress=say, cancel=stop, deadline=time.monotonic() + INSTALL_TIMEOUT)
    if outcome.cancelled:
        raise ImportCancelled("import cancelled; nothing was left behind")
    if outcome.error:
        raise ExchangeError(outcome.error)
    if outcome.timed_out:
        raise ExchangeError(f"{what} did not finish in {INSTALL_TIMEOUT:.0f} s")
    if outcome.returncode != 0:
        tail = " | ".join(line.strip() for line in outcome.output[-3:] if line.strip())
        raise ExchangeError(f"{what} failed (exit {outcome.returncode}): {tail}")


def conda_spec(pin: Pin) -> str:
    """A pin read from an environment.yml back as the match spec it was written as."""
    channel = f"{pin.channel}::" if pin.channel and "://" not in pin.channel else ""
    if not pin.version:
        return f"{channel}{pin.name}"
    if pin.version[0] in "<>=!~" or "," in pin.version or "|" in pin.version:
        return f"{channel}{pin.name}{pin.version}"
    build = f"={pin.build}" if pin.build else ""
    return f"{channel}{pin.name}={pin.version}{build}"


def _solve_and_link(plan: ImportPlan, say: Progress, stop: threading.Event) -> None:
    from datetime import timedelta

    from rattler import Gateway, MatchSpec, VirtualPackage, install, solve

    from envtui.exchange.condalock import conda_platform
    from envtui.resolver.conda_fix import SOLVE_TIMEOUT, one_line, rattler_cache_dir, run_rattler

    specs = [conda_spec(p) for p in plan.spec.conda]
    say(f"solving {len(specs)} conda specs from {', '.join(plan.channels)}")
    cache = rattler_cache_dir()
    try:
        records = run_rattler(solve(
            list(plan.channels), [MatchSpec(s) for s in specs],
            gateway=Gateway(cache_dir=cache / "repodata"),
            platforms=[conda_platform(), "noarch"],  # type: ignore[list-item]
            virtual_packages=VirtualPackage.detect(),
            timeout=timedelta(seconds=SOLVE_TIMEOUT)))
    except Exception as e:  # rattler's solver and channel errors: one readable line
        raise ExchangeError(f"cannot solve {plan.source}: {one_line(e)}") from None
    if stop.is_set():
        raise ImportCancelled("import cancelled; nothing was left behind")
    requested = [MatchSpec(s)._match_spec for s in specs]
    _link(plan, len(records), say, stop,
          lambda: install(records, plan.target, cache_dir=cache / "pkgs", show_progress=False,
                          execute_link_scripts=False, requested_specs=requested,
                          reporter=_reporter(say, len(records))))


def _link_locked(plan: ImportPlan, say: Progress, stop: threading.Event) -> None:
    from rattler import install

    from envtui.resolver.conda_fix import rattler_cache_dir

    records = [_locked_record(p) for p in plan.spec.conda]
    for pin in plan.spec.conda:
        check_local_hash(pin)
    cache = rattler_cache_dir()
    _link(plan, len(records), say, stop,
          lambda: install(records, plan.target, cache_dir=cache / "pkgs", show_progress=False,
                          execute_link_scripts=False, reporter=_reporter(say, len(records))))


def _link(plan: ImportPlan, count: int, say: Progress, stop: threading.Event,
          start: Callable[[], Coroutine[Any, Any, None]]) -> None:
    from envtui.resolver.conda_fix import run_in_thread

    say(f"linking {plural(count, 'conda package')} into {plan.target}")
    why = run_in_thread(start(), say, stop, time.monotonic() + INSTALL_TIMEOUT)
    if stop.is_set():
        raise ImportCancelled("import cancelled; nothing was left behind")
    if why:
        raise ExchangeError(why)


def _reporter(say: Progress, total: int) -> InstallerReporter:
    """rattler's install progress as lines: one per package linked."""
    from rattler.install import InstallerReporter

    class Reporter(InstallerReporter):
        done = 0

        def on_populate_cache_start(self, operation: int, package_name: str) -> int:
            say(f"fetching {package_name}")
            return operation

        def on_link_complete(self, index: int) -> None:
            self.done += 1
            say(f"linked {self.done}/{total}")

    # A Protocol whose methods all have no-op bodies: mypy calls them abstract.
    return Reporter()  # type: ignore[abstract]


def _locked_record(pin: Pin) -> RepoDataRecord:
    """A lock file's entry as the record rattler installs, exactly that URL and hash."""
    from rattler import PackageRecord, RepoDataRecord
    from rattler.package.build_string import BuildString

    if not pin.url:
        raise ExchangeError(f"{pin.name}: the lock gives no URL")
    filename = pin.url.rsplit("/", 1)[-1]
    build = pin.build or _build_from_filename(filename)
    number = build.rsplit("_", 1)[-1]
    record = PackageRecord(
        pin.name, pin.version, BuildString(build), int(number) if number.isdigit() else 0,
        pin.subdir or pin.url.rsplit("/", 2)[-2], depends=list(pin.depends),
        sha256=bytes.fromhex(pin.sha256) if pin.sha256 else None,
        md5=bytes.fromhex(pin.md5) if pin.md5 else None)
    channel = pin.channel or pin.url.rsplit("/", 2)[0] + "/"
    return RepoDataRecord(record, filename, pin.url, channel)


def _build_from_filename(filename: str) -> str:
    stem = filename.removesuffix(".conda").removesuffix(".tar.bz2")
    return stem.rsplit("-", 2)[-1]


def check_local_hash(pin: Pin) -> None:
    """A `file:` package checked against the lock's hash before anything is linked. rattler
    checks what it downloads, but takes a local file as it is."""
    if not pin.url or urlsplit(pin.url).scheme != "file":
        return
    path = Path(unquote(urlsplit(pin.url).path))
    # Every hash the lock gives must match: one tampered with is as bad as both.
    wanted = {algo: want for algo, want in (("sha256", pin.sha256), ("md5", pin.md5)) if want}
    if not wanted:
        raise ExchangeError(f"{pin.name}: the lock gives no hash for {pin.url}")
    digests = {algo: hashlib.new(algo) for algo in wanted}
    try:
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                for digest in digests.values():
                    digest.update(chunk)
    except OSError as e:
        raise ExchangeError(f"{pin.url}: cannot be read ({e.strerror or e})") from None
    for algo, want in wanted.items():
        if digests[algo].hexdigest() != want.lower():
            raise ExchangeError(f"{pin.url}: {algo} mismatch: the lock says {want}, the file "
                                f"has {digests[algo].hexdigest()}")


def _verify(plan: ImportPlan, say: Progress) -> None:
    """The new environment, read back statically, has every exact pin of the file."""
    from envtui.exchange.diff import diff
    from envtui.exchange.spec import from_environment
    from envtui.inspectors.base import ScanContext
    from envtui.inspectors.discovery import inspect_path

    env = inspect_path(ScanContext.from_process(), plan.target, refresh=True)
    if env is None:
        raise ExchangeError(f"{plan.target}: the installer left no environment")
    got = from_environment(env)
    wanted = replace(plan.spec, pins=tuple(p for p in plan.spec.pins if
                                           plan.kind == "conda" or p.manager == PIP))
    d = diff(wanted, got)
    missing = [p.name for p in d.removed]
    wrong = [f"{c.a.name} {c.b.version} (wanted {c.a.version})" for c in d.changed
             if "version" in c.what]
    if missing or wrong:
        raise ExchangeError(f"{plan.target}: not what {plan.source} asks for: "
                            + "; ".join([*(f"{n} missing" for n in missing), *wrong]))
    say(f"checked: {len(got.pins)} packages installed as the file says")
