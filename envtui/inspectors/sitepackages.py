"""Reading every distribution in a site-packages directory on disk, statically.

Shared by the venv and conda inspectors. Nothing here imports, executes or follows a
`.pth` file: `.pth` files that would run code are only reported.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from envtui.inspectors.metadata import (
    egg_requires,
    header_bytes,
    package_from_headers,
    parse_headers,
)
from envtui.model import Package, Problem, ProblemKind

# .pth files that well-known tools install; they run code but are expected.
KNOWN_PTH = ("distutils-precedence.pth", "_virtualenv.pth")


def site_packages_dirs(prefix: Path | str) -> list[Path]:
    """Every site-packages directory of a prefix, POSIX and Windows layouts alike.

    POSIX: lib/pythonX.Y/site-packages (and lib64/ when it is a separate directory);
    Windows: Lib/site-packages. Sorted so the choice among duplicates is deterministic.
    """
    return [Path(sp) for sp in site_packages_paths(str(prefix))]


def site_packages_paths(prefix: str) -> list[str]:
    """`site_packages_dirs` as plain strings, for the fingerprints that run on every scan."""
    found: list[str] = []
    seen: set[tuple[int, int]] = set()
    join = os.path.join
    for lib in ("lib", "lib64", "Lib"):
        libdir = join(prefix, lib)
        if lib == "Lib":
            candidates = [join(libdir, "site-packages")]
        else:
            try:
                names = sorted(n for n in os.listdir(libdir) if n.startswith(("python", "pypy")))
            except (OSError, ValueError):
                continue
            candidates = [join(libdir, n, "site-packages") for n in names]
        for sp in candidates:
            try:
                st = os.stat(sp)
            except (OSError, ValueError):
                continue
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                found.append(sp)
    return found


def python_from_site_packages(sp: Path) -> str | None:
    """`.../lib/python3.11/site-packages` -> "3.11"; None for the Windows layout."""
    parent = sp.parent.name
    for prefix in ("python", "pypy"):
        if parent.startswith(prefix) and parent[len(prefix):][:1].isdigit():
            return parent[len(prefix):].rstrip("t")  # "3.13t" is the free-threaded build
    return None


def _read_small(path: str | Path) -> bytes | None:
    # os.open/os.read: no buffered file object, which is most of the cost of a small read.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return os.read(fd, 1 << 16)
    except OSError:
        return None
    finally:
        os.close(fd)


def _record_damage(path: str) -> str | None:
    """How a RECORD is not whole: "missing", "truncated" (installers end every row with a
    newline, so a RECORD that does not was cut short while being written) or None.

    Reads one byte: this runs for every distribution. Per the PyPA spec a distribution
    without a whole RECORD must not be uninstalled or upgraded by tools.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return "missing"
    except OSError:
        return None  # there, but not ours to judge (permission denied, ...)
    try:
        size = os.fstat(fd).st_size
        return "truncated" if size and os.pread(fd, 1, size - 1) != b"\n" else None
    except OSError:
        return None
    finally:
        os.close(fd)


def _headers_from(path: str | Path) -> tuple[bytes, bool]:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return header_bytes(lambda n: os.read(fd, n))
    finally:
        os.close(fd)


def read_dist_info(path: str) -> Package:
    """One `*.dist-info` directory. Paths are plain strings: this runs for every
    distribution of every environment, and pathlib's joins cost more than the reads."""
    extra: list[Problem] = []
    dirname = os.path.basename(path)
    try:
        header, complete = _headers_from(f"{path}/METADATA")
    except FileNotFoundError:
        header, complete = b"", True
        extra.append(Problem(ProblemKind.INCOMPLETE,
                             f"{dirname}: METADATA missing (incomplete install)"))
    except OSError as e:
        header, complete = b"", True
        extra.append(Problem(ProblemKind.UNREADABLE, f"{path}: unreadable ({e.strerror})"))
    if not extra and (record := _record_damage(f"{path}/RECORD")):
        extra.append(Problem(ProblemKind.INCOMPLETE,
                             f"{dirname}: RECORD {record} (incomplete install)"))
    pkg = package_from_headers(
        parse_headers(header, complete=complete),
        dirname=dirname,
        location=path,
        installer=_read_small(f"{path}/INSTALLER"),
        direct_url=_read_small(f"{path}/direct_url.json"),
        extra_problems=tuple(extra),
    )
    if extra:
        # Tie the problems to the package name now that we know it.
        probs = tuple(
            Problem(p.kind, p.detail, package=pkg.name, version=pkg.version)
            if p.package is None else p
            for p in pkg.problems
        )
        pkg = replace(pkg, problems=probs)
    return pkg


def read_egg_info(path: Path) -> Package:
    """A `*.egg-info` directory (PKG-INFO + requires.txt) or single PKG-INFO file."""
    pkg_info = path / "PKG-INFO" if path.is_dir() else path
    extra: list[Problem] = []
    try:
        header, complete = _headers_from(pkg_info)
    except OSError as e:
        header, complete = b"", True
        extra.append(Problem(ProblemKind.UNREADABLE, f"{pkg_info}: unreadable ({e.strerror})"))
    requires: tuple[str, ...] = ()
    if path.is_dir():
        raw = _read_small(path / "requires.txt")
        if raw:
            requires = egg_requires(raw.decode("utf-8", "replace"))
    return package_from_headers(
        parse_headers(header, complete=complete),
        dirname=path.name,
        location=str(path),
        installer=_read_small(path / "INSTALLER") if path.is_dir() else None,
        extra_requires=requires,
        extra_problems=tuple(extra),
    )


def _pth_runs_code(path: str) -> bool:
    raw = _read_small(path) or b""
    return any(line.startswith((b"import ", b"import\t")) for line in raw.splitlines())


def scan_site_packages(sp: Path) -> tuple[list[Package], list[Problem]]:
    """Every distribution in one site-packages directory, with what is wrong there."""
    packages: list[Package] = []
    problems: list[Problem] = []
    try:
        with os.scandir(sp) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as e:
        return [], [Problem(ProblemKind.UNREADABLE, f"{sp}: unreadable ({e.strerror})")]
    for entry in entries:
        name = entry.name
        if name.startswith("~"):
            problems.append(Problem(
                ProblemKind.INTERRUPTED,
                f"{name}: leftover of an interrupted pip transaction",
            ))
            continue
        try:
            if name.endswith(".dist-info") and entry.is_dir(follow_symlinks=False):
                packages.append(read_dist_info(entry.path))
            elif name.endswith(".egg-info"):
                packages.append(read_egg_info(Path(entry.path)))
            elif (name.endswith(".pth") and name not in KNOWN_PTH
                  and not name.startswith("__editable__") and _pth_runs_code(entry.path)):
                problems.append(Problem(
                        ProblemKind.SECURITY,
                        f"{name}: .pth file runs code whenever this environment's Python starts",
                    ))
        except PermissionError as e:
            problems.append(Problem(ProblemKind.UNREADABLE,
                                    f"{entry.path}: unreadable ({e.strerror})"))
    return packages, problems


def dedupe(packages: Iterable[Package]) -> tuple[tuple[Package, ...], list[Problem]]:
    """Keep the first distribution of each name (first on sys.path wins, as in pip).

    Returns the survivors sorted by normalised name and a `duplicate` problem per clash.
    """
    first: dict[str, Package] = {}
    problems: list[Problem] = []
    for pkg in packages:
        kept = first.get(pkg.key)
        if kept is None:
            first[pkg.key] = pkg
            continue
        problems.append(Problem(
            ProblemKind.DUPLICATE,
            f"{pkg.name} is installed twice: {kept.version} ({kept.location}) "
            f"and {pkg.version} ({pkg.location}); using the first",
            package=kept.name,
            version=kept.version,
        ))
    return tuple(sorted(first.values(), key=lambda p: p.key)), problems




_METADATA_SUFFIXES = (".dist-info", ".egg-info", ".egg-link", ".pth")


def fingerprint(sps: Iterable[Path | str]) -> str:
    """Changes whenever a scan of these site-packages directories could change.

    Each directory's own mtime moves when a distribution is added or removed; each
    metadata directory's mtime moves when a file in it (RECORD, INSTALLER, ...) is added,
    removed or renamed. Only metadata entries are stat'ed, not the packages' code. This
    runs for every environment on every scan, hence the directory descriptor (the kernel
    resolves one name per stat, not the whole path) and no per-entry strings.
    """
    digest = hashlib.sha256()
    stat = os.stat
    for sp in sps:
        try:
            fd = os.open(sp, os.O_RDONLY | os.O_DIRECTORY)
        except (OSError, ValueError):
            digest.update(f"{sp}:?\n".encode("utf-8", "surrogateescape"))
            continue
        try:
            names = sorted(n for n in os.listdir(fd)
                           if n.endswith(_METADATA_SUFFIXES) or n.startswith("~"))
            mtimes: list[int] = []
            for name in names:
                try:
                    mtimes.append(stat(name, dir_fd=fd, follow_symlinks=False).st_mtime_ns)
                except OSError:
                    mtimes.append(-1)
            digest.update(f"{sp}:{os.fstat(fd).st_mtime_ns}\n{mtimes}\n".encode(
                "utf-8", "surrogateescape"))
            digest.update("\n".join(names).encode("utf-8", "surrogateescape"))
        except OSError:
            digest.update(f"{sp}:?\n".encode("utf-8", "surrogateescape"))
        finally:
            os.close(fd)
    return digest.hexdigest()[:32]
