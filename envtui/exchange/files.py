"""Which format a file is in, reading any supported file as a spec, and writing one safely.

Formats: `environment-yml` (conda's environment.yml), `requirements` (pip), `conda-lock`
(conda-lock.yml) and `pylock` (PEP 751 pylock.toml). A file's format is told by its name
where that is unambiguous and by its top-level YAML keys otherwise.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path

from envtui.exchange.spec import EnvSpec, ExchangeError

MAX_BYTES = 20_000_000
"""Larger files are refused before reading: no real environment file is near this."""
_LOCK_KEYS = re.compile(rb"^(package|metadata):", re.MULTILINE)


def detect_format(path: Path, head: bytes) -> str:
    """The format of `path`, from its name and its first bytes."""
    name = path.name.lower()
    if name.endswith(".toml"):
        if name == "pylock.toml" or (name.startswith("pylock.") and name.count(".") == 2):
            return "pylock"
        raise ExchangeError(f"{path}: a TOML file that is not a pylock.toml (PEP 751)")
    if name.endswith((".yml", ".yaml")):
        return "conda-lock" if len(_LOCK_KEYS.findall(head)) >= 2 else "environment-yml"
    return "requirements"


def read_file(path: Path) -> bytes:
    """The bytes of an input file, with a one-line error for anything but a readable file."""
    try:
        if not path.is_file():
            raise ExchangeError(f"{path}: {'not a file' if path.exists() else 'no such file'}")
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ExchangeError(f"{path}: {size} bytes is too large for an environment file")
        return path.read_bytes()
    except OSError as e:
        raise ExchangeError(f"{path}: cannot be read ({e.strerror or e})") from None


def load_spec(path: Path, *, platform: str | None = None) -> EnvSpec:
    """Any supported file as a spec. Raises ExchangeError naming the file and the problem."""
    return read_spec(path, platform=platform)[1]


def read_spec(path: Path, *, platform: str | None = None) -> tuple[str, EnvSpec]:
    """The file's format and its spec, from one read of the file."""
    data = read_file(path)
    fmt = detect_format(path, data[:65536])
    where = str(path)
    if fmt == "pylock":
        from envtui.exchange.pylock import read_pylock

        return fmt, read_pylock(data, where)
    if fmt == "conda-lock":
        from envtui.exchange.condalock import read_conda_lock

        return fmt, read_conda_lock(data, where, platform)
    if fmt == "environment-yml":
        from envtui.exchange.environment_yml import read_environment_yml

        return fmt, read_environment_yml(data, where)
    from envtui.exchange.requirements_export import read_requirements_spec

    return fmt, read_requirements_spec(path)


def write_atomically(path: Path, text: str, *, force: bool = True) -> None:
    """Write `text` to `path` through a temp file in the same directory and a rename, so a
    failure or Ctrl-C leaves either the old file or the new one, never half of one."""
    directory = path.parent
    if not directory.is_dir():
        raise ExchangeError(f"{path}: directory {directory} does not exist")
    if not force and path.exists():
        raise ExchangeError(f"{path}: already exists (use --force to replace it)")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide the file from colleagues
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise ExchangeError(f"{path}: cannot be written ({e.strerror or e})") from None
        raise

