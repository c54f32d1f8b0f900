"""pylock.toml (PEP 751): the Python packages of an environment, each with the files that
install it exactly, built and validated with `packaging.pylock`.

An installed distribution does not record the file it came from, so export looks each
pin's exact version up in the package sources the caller passes (find-links directories
first, then indexes, as pip's configuration and the command line name them): every wheel of
that version, and its sdist, with the hashes the index publishes, or, for a local file, its
sha256 computed here. The first source that has the version wins. Editable installs become
`directory` entries, VCS checkouts `vcs` entries at the installed commit, other direct URLs
`archive` entries. A pin with no file found is an error naming it: never a made-up URL.

requires-python pins the environment's X.Y, since the versions were resolved for it. URLs
lose any credentials before they are written (installers take credentials from
keyring or netrc). The TOML is written with tomlkit, which conda-lock already depends on,
sorted by name so the same environment exports to the same file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit
from urllib.request import url2pathname

from envtui.exchange.spec import PIP, EnvSpec, ExchangeError, Pin, sorted_pins

if TYPE_CHECKING:
    from packaging.pylock import Package

    from envtui.resolver.sources import Link, Source

CREATED_BY = "envtui"
_VCS = ("git", "hg", "svn", "bzr")


def write_pylock(spec: EnvSpec, sources: Sequence[Source] = ()) -> tuple[str, list[str]]:
    """The pylock.toml text of `spec`'s Python packages, and notes for the user.

    `sources` are where index-installed pins are looked up (see `build_sources`). Raises
    ExchangeError listing every pin no installable file was found for.
    """
    from packaging.pylock import Pylock, PylockValidationError
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    if not spec.pip:
        raise ExchangeError(f"{spec.origin}: has no Python packages to write as pylock.toml")
    notes: list[str] = []
    if spec.conda:
        notes.append(f"{len(spec.conda)} conda packages are not in pylock.toml: export "
                     "--format conda-lock or environment-yml for them")
    packages: list[Package] = []
    problems: list[str] = []
    for pin in sorted(spec.pip, key=lambda p: p.key):
        try:
            packages.append(_package(pin, sources, notes))
        except _Unlockable as e:
            problems.append(f"{pin.name} {pin.version} ({e})")
    if problems:
        raise ExchangeError(f"{spec.origin}: no file to lock found for "
                            f"{len(problems)} package(s): {'; '.join(problems)}")
    python = ".".join((spec.python or "").split(".")[:2])
    lock = Pylock(lock_version=Version("1.0"), created_by=CREATED_BY,
                  requires_python=SpecifierSet(f"=={python}.*") if python else None,
                  packages=packages)
    try:
        lock.validate()
    except PylockValidationError as e:
        raise ExchangeError(f"{spec.origin}: cannot write pylock.toml: {e}") from None
    return _toml(lock.to_dict()), notes


def read_pylock(data: bytes, where: str) -> EnvSpec:
    """The packages a pylock.toml installs here by default (packages whose marker is false
    for this interpreter, no extras and the default groups are left out, with a note).

    Each pin carries the URL and sha256 of the file an installer would pick: the first wheel
    this interpreter accepts, else the first wheel, else the sdist. Relative paths are taken
    relative to the file's directory."""
    import tomllib

    from packaging.pylock import Pylock, PylockValidationError

    from envtui import safe_toml

    try:
        doc = safe_toml.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ExchangeError(f"{where}: not UTF-8 text, so not a pylock.toml") from None
    except tomllib.TOMLDecodeError as e:
        raise ExchangeError(f"{where}: not valid TOML ({_one_line(str(e))})") from None
    try:
        lock = Pylock.from_dict(doc)
    except (PylockValidationError, ValueError, TypeError) as e:
        raise ExchangeError(f"{where}: not a valid pylock.toml: {_one_line(str(e))}") from None
    base = Path(where).parent
    # As an installer selects by default (PEP 751): no extras, the default groups.
    marker_env: dict[str, Any] = {"extras": frozenset(),
                                  "dependency_groups": frozenset(lock.default_groups or ())}
    pins: list[Pin] = []
    skipped: list[str] = []
    for package in lock.packages:
        try:
            wanted = package.marker is None or package.marker.evaluate(marker_env,
                                                                       context="lock_file")
        except ValueError as e:  # UndefinedComparison: `python_full_version ~= "3"`
            raise ExchangeError(f"{where}: package {package.name}: marker {package.marker} "
                                f"cannot be evaluated ({_one_line(str(e))})") from None
        if not wanted:
            skipped.append(package.name)
            continue
        pins.append(_pin(package, base))
    notes = [f"{where}: left out {len(skipped)} package(s) whose markers exclude this "
             f"interpreter: {', '.join(skipped)}"] if skipped else []
    return EnvSpec(origin=where, kind="venv", python=_python(lock.requires_python),
                   pins=sorted_pins(pins), notes=tuple(notes))


# --------------------------------------------------------------------------- writing


class _Unlockable(Exception):
    """Why one pin has no file to lock (a phrase, for the list in the error)."""


def _package(pin: Pin, sources: Sequence[Source], notes: list[str]) -> Package:
    from packaging.pylock import Package, PackageDirectory, PackageSdist, PackageWheel
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version

    name = canonicalize_name(pin.name)
    try:
        version: Version | None = Version(pin.version)
    except InvalidVersion:
        version = None
    if pin.editable:
        path = _local_path(pin.url) if pin.url else None
        if path is None:
            raise _Unlockable("an editable install whose source directory is not recorded")
        return Package(name=name, version=version,
                       directory=PackageDirectory(path=path, editable=True))
    if pin.url:
        return _direct(pin, name, version)
    if version is None:
        raise _Unlockable("its version is not a valid PEP 440 version")
    index, links = _find(name, version, sources)
    wheels, sdists, unhashed = [], [], []
    for link in links:
        hashes = _hashes(link)
        if not hashes:
            unhashed.append(link.filename)
        elif link.is_wheel:
            wheels.append(PackageWheel(name=link.filename, url=_public(link.url), hashes=hashes))
        else:
            sdists.append(PackageSdist(name=link.filename, url=_public(link.url), hashes=hashes))
    if not wheels and not sdists:
        raise _Unlockable(f"{links[0].origin} publishes no hash for {', '.join(unhashed)}")
    if unhashed:
        notes.append(f"{pin.name} {pin.version}: left out {', '.join(unhashed)} "
                     "(no published hash)")
    # A package has at most one sdist; .tar.gz is the standard form (PEP 625).
    sdists.sort(key=lambda s: (not (s.name or "").endswith(".tar.gz"), s.name or ""))
    return Package(name=name, version=version, index=index,
                   wheels=sorted(wheels, key=lambda w: w.name or "") or None,
                   sdist=sdists[0] if sdists else None)


def _find(name: str, version: Any, sources: Sequence[Source]) -> tuple[str | None,
                                                                        list[Link]]:
    """(index URL or None, files of exactly `version`) from the first source that has any."""
    from envtui.resolver.simple_index import FindLinksPageSource, SimpleIndexSource
    from envtui.resolver.sources import SourceError

    if not sources:
        raise _Unlockable("installed from an index, and no package source was given")
    for source in sources:
        try:
            links = [link for link in source.links(name) if link.version == version]
        except SourceError as e:
            raise _Unlockable(_one_line(str(e))) from None
        if not links:
            continue
        if isinstance(source, SimpleIndexSource) and not isinstance(source,
                                                                    FindLinksPageSource):
            return _public(source.index_url), links
        return None, links
    labels = ", ".join(s.label for s in sources)
    raise _Unlockable(f"version {version} is not in {labels}")


def _hashes(link: Link) -> dict[str, str]:
    """The hashes the source publishes; for a local file without any, its sha256."""
    published = {algo.lower(): digest.lower() for algo, digest in link.hashes
                 if algo.lower() in hashlib.algorithms_guaranteed}
    if published or urlsplit(link.url).scheme != "file":
        return published
    digest = _sha256_of(Path(url2pathname(urlsplit(link.url).path)))
    return {"sha256": digest} if digest else {}


def _direct(pin: Pin, name: Any, version: Any) -> Package:
    """A direct-URL install (PEP 610) as a `vcs`, `directory` or `archive` entry."""
    from packaging.pylock import Package, PackageArchive, PackageDirectory, PackageVcs

    # The inspector writes it as pip does: `[VCS+]URL[@COMMIT][#subdirectory=SUB]`.
    url, _, fragment = (pin.url or "").partition("#")
    fields = dict(part.partition("=")[::2] for part in fragment.split("&") if part)
    sub = fields.get("subdirectory") or None
    kind, plus, rest = url.partition("+")
    if plus and kind in _VCS:
        head, at, rev = rest.rpartition("@")
        if not at or "/" in rev:
            raise _Unlockable(f"a {kind} checkout without a recorded commit")
        vcs = PackageVcs(type=kind, url=_public(head), commit_id=rev, subdirectory=sub)
        return Package(name=name, version=version, vcs=vcs)
    path = _local_path(url)
    if path is not None and Path(path).is_dir():
        return Package(name=name, version=version,
                       directory=PackageDirectory(path=path, editable=False, subdirectory=sub))
    digest = pin.sha256 or (_sha256_of(Path(path)) if path is not None else None)
    if not digest:
        why = "which is gone" if path is not None else "whose hash was not recorded"
        raise _Unlockable(f"installed from {_public(url)}, {why}")
    archive = PackageArchive(url=_public(url), hashes={"sha256": digest}, subdirectory=sub)
    return Package(name=name, version=version, archive=archive)


def _toml(data: Mapping[str, Any]) -> str:
    """pylock.toml text: one [[packages]] table per package, its files as inline tables."""
    import tomlkit

    doc = tomlkit.document()
    for key, value in data.items():
        if key != "packages":
            doc[key] = value
    packages = tomlkit.aot()
    for package in data["packages"]:
        table = tomlkit.table()
        for key, value in package.items():
            if isinstance(value, Mapping):
                table[key] = _inline(value)
            elif isinstance(value, list) and value and isinstance(value[0], Mapping):
                array = tomlkit.array()
                array.extend(_inline(v) for v in value)
                table[key] = array.multiline(True)
            else:
                table[key] = value
        packages.append(table)
    doc["packages"] = packages
    return tomlkit.dumps(doc)


def _inline(value: Mapping[str, Any]) -> Any:
    import tomlkit

    table = tomlkit.inline_table()
    for key, item in value.items():
        table[key] = _inline(item) if isinstance(item, Mapping) else item
    return table


# --------------------------------------------------------------------------- reading


def _pin(package: Any, base: Path) -> Pin:
    version = str(package.version) if package.version is not None else ""
    pin = Pin(name=package.name, version=version, manager=PIP)
    if package.vcs is not None:
        vcs = package.vcs
        url = f"{vcs.type}+{vcs.url or _as_url(vcs.path, base)}@{vcs.commit_id}"
        sub = f"#subdirectory={vcs.subdirectory}" if vcs.subdirectory else ""
        return _with(pin, url + sub)
    if package.directory is not None:
        return _with(pin, _as_url(package.directory.path, base),
                     editable=bool(package.directory.editable))
    chosen = package.archive or _best_wheel(package.wheels or []) or package.sdist
    return _with(pin, chosen.url or _as_url(chosen.path, base), chosen.hashes.get("sha256"))


def _with(pin: Pin, url: str, sha256: str | None = None, editable: bool = False) -> Pin:
    return Pin(name=pin.name, version=pin.version, manager=PIP, url=url, sha256=sha256,
               editable=editable)


def _best_wheel(wheels: Sequence[Any]) -> Any:
    """The first wheel this interpreter accepts, else the first (another target's)."""
    if not wheels:
        return None
    from packaging.tags import sys_tags
    from packaging.utils import parse_wheel_filename

    accepted = set(sys_tags())
    for wheel in wheels:
        if accepted & set(parse_wheel_filename(wheel.filename)[3]):
            return wheel
    return wheels[0]


def _python(requires: Any) -> str | None:
    """X.Y (or X.Y.Z) when requires-python pins one Python, as an export writes it."""
    specs = list(requires or ())
    if len(specs) == 1 and specs[0].operator == "==":
        return str(specs[0].version).removesuffix(".*")
    return None


# --------------------------------------------------------------------------- helpers


def _local_path(url: str | None) -> str | None:
    """The path of a `file:` URL, None for anything else."""
    if not url:
        return None
    parts = urlsplit(url)
    return url2pathname(parts.path) if parts.scheme == "file" else None


def _as_url(path: str | None, base: Path) -> str:
    if not path:
        return ""
    return (base / path).absolute().as_uri()  # an absolute `path` replaces `base`


def _public(url: str) -> str:
    """`url` without credentials (they must never be written to a file): a password, or an
    http(s) user name (often a token); ssh's `git@` is a login name and stays."""
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at or (":" not in userinfo and parts.scheme not in ("http", "https")):
        return url
    return urlunsplit(parts._replace(netloc=host))


def _sha256_of(path: Path) -> str | None:
    try:
        with path.open("rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return None


def _one_line(text: str) -> str:
    return " ".join(text.split())

