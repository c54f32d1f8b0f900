"""Reading the Python packages of a Docker image from its filesystem layers, statically.

Nothing here runs a container or extracts anything to disk (RELIABILITY.md case 35). An
image archive (`docker save` output: the legacy layout with `manifest.json` and
`<id>/layer.tar`, or the OCI layout with `index.json` and `blobs/sha256/<digest>`) is read
as one forward-only tar stream, members in whatever order they come. Each layer, itself a
tar (possibly gzip-compressed), is streamed too and only what inspection needs is kept:

- small metadata files directly inside a `site-packages` / `dist-packages` directory:
  `*.dist-info/{METADATA,INSTALLER,direct_url.json}`, whether `RECORD` exists,
  `*.egg-info/{PKG-INFO,requires.txt,INSTALLER}` or a single-file `*.egg-info`, `*.pth`,
  pip's `~name` leftovers, and the `lib/pythonX.Y/os.py` marker of an installed Python;
- whiteouts (`.wh.<name>`, `.wh..wh..opq`), so that deletions in later layers are honoured.

METADATA is read up to the end of its header (HEADER_LIMIT at most), every other file up to
SMALL_LIMIT bytes, so memory is bounded by the number of distributions, never by layer size.
Member paths are normalised and anything with `..` is ignored; links are leaves, never
followed (a hard link is resolved only to a file read earlier from the same layer).

The same per-tree reader serves `docker cp`-style archives of a container's directories.
"""

from __future__ import annotations

import io
import json
import posixpath
import re
import tarfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import IO, Any

from envtui.inspectors.metadata import (
    egg_requires,
    header_bytes,
    package_from_headers,
    parse_headers,
)
from envtui.inspectors.sitepackages import KNOWN_PTH, dedupe
from envtui.model import (
    Package,
    Problem,
    ProblemKind,
    package_from_dict,
    package_to_dict,
    problem_to_dict,
)

SMALL_LIMIT = 1 << 16
"""Bytes read at most from INSTALLER, direct_url.json, requires.txt and .pth files."""
JSON_LIMIT = 4 << 20
"""Bytes read at most from an archive's manifest, index or an OCI manifest blob."""
SITE_DIRS = frozenset({"site-packages", "dist-packages"})

_HEADER, _SMALL, _PRESENCE = "header", "small", "presence"
_DIST_INFO_FILES = {"METADATA": _HEADER, "INSTALLER": _SMALL, "direct_url.json": _SMALL,
                    "RECORD": _PRESENCE}
_EGG_INFO_FILES = {"PKG-INFO": _HEADER, "requires.txt": _SMALL, "INSTALLER": _SMALL}
_PYTHON_DIR = re.compile(r"^(?:python|pypy)(\d+(?:\.\d+)*)t?$")
_OPAQUE = ".wh..wh..opq"
_WHITEOUT = ".wh."
_GZIP, _ZSTD = b"\x1f\x8b", b"\x28\xb5\x2f\xfd"


class StreamError(Exception):
    """The byte stream feeding the archive failed (engine gone, connection reset).

    Kept apart from OSError on purpose: a broken transport must abort the whole read (and
    must not be cached), while a malformed layer is only a problem of that layer.
    """


class ArchiveError(Exception):
    """The image archive itself is unreadable (not a tar, no manifest)."""


@dataclass(frozen=True)
class FileBlob:
    """What was kept of one file (or directory) from a layer."""

    data: bytes | None = None
    """The bounded contents, or None when only presence matters or it could not be read."""
    complete: bool = True
    """False when a METADATA header was cut at HEADER_LIMIT."""
    is_dir: bool = False
    """A `*.dist-info` / `*.egg-info` / `~leftover` directory marker."""
    note: str | None = None
    """Why `data` is missing although it was wanted (a link not followed, ...)."""


@dataclass
class LayerFiles:
    """The part of one layer (or one copied directory tree) inspection cares about."""

    files: dict[str, FileBlob] = field(default_factory=dict)
    """Normalised path (no leading slash) -> what was kept."""
    removed: list[str] = field(default_factory=list)
    """Paths hidden, with everything below them, in the layers underneath (whiteouts, and
    non-directories that replace a directory of interest)."""
    opaque: list[str] = field(default_factory=list)
    """Directories whose contents from the layers underneath are hidden."""
    problems: list[str] = field(default_factory=list)
    """What went wrong while reading this layer."""


@dataclass(frozen=True)
class SiteContents:
    """Every Python distribution found in an image or container filesystem."""

    packages: tuple[Package, ...] = ()
    """All distributions, site directory by site directory (sorted), not de-duplicated."""
    findings: tuple[tuple[str, Problem], ...] = ()
    """(location, problem) for entries that are not packages: risky .pth files, leftovers."""
    python: str | None = None
    """Python version (X.Y) of the image, from its lib/pythonX.Y directories."""
    site_dirs: tuple[str, ...] = ()
    """Absolute site-packages / dist-packages directories that hold something."""
    problems: tuple[Problem, ...] = ()
    """Problems reading the layers themselves."""

    def deduped(self) -> tuple[tuple[Package, ...], tuple[Problem, ...]]:
        """Packages sorted by name (first of each name wins) and every problem found."""
        packages, duplicates = dedupe(self.packages)
        found = tuple(p for _, p in self.findings)
        return packages, self.problems + found + tuple(duplicates)

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable form for the persistent cache."""
        return {
            "packages": [package_to_dict(p) for p in self.packages],
            "findings": [[loc, problem_to_dict(p)] for loc, p in self.findings],
            "python": self.python,
            "site_dirs": list(self.site_dirs),
            "problems": [problem_to_dict(p) for p in self.problems],
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> SiteContents:
        """Inverse of `to_json`; raises KeyError/TypeError/ValueError on a foreign shape."""
        return cls(
            packages=tuple(package_from_dict(p) for p in d["packages"]),
            findings=tuple((str(loc), Problem(**p)) for loc, p in d["findings"]),
            python=d["python"],
            site_dirs=tuple(str(s) for s in d["site_dirs"]),
            problems=tuple(Problem(**p) for p in d["problems"]),
        )


# --- byte streams ----------------------------------------------------------------------


class ChunkStream(io.RawIOBase):
    """A read-only file over an iterator of byte chunks (docker-py's streamed responses).

    Errors raised by the iterator surface as StreamError.
    """

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._buf = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                return 0
            except Exception as e:  # whatever the transport raises: requests, urllib3, OSError
                raise StreamError(f"{type(e).__name__}: {e}") from e
            self._buf = memoryview(chunk)
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def buffered(chunks: Iterator[bytes]) -> io.BufferedReader:
    """ChunkStream with a read buffer, ready for `tarfile.open(fileobj=..., mode="r|")`."""
    return io.BufferedReader(ChunkStream(chunks), buffer_size=1 << 20)


# --- paths -----------------------------------------------------------------------------


def normalize(name: str) -> str | None:
    """A tar member name as a relative POSIX path; None if empty or it climbs with `..`."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


def _site_index(parts: list[str]) -> int:
    for i, part in enumerate(parts):
        if part in SITE_DIRS:
            return i
    return -1


def _is_meta_dir(name: str) -> bool:
    return name.endswith((".dist-info", ".egg-info"))


def _wanted(parts: list[str], is_dir: bool) -> str | None:
    """How much of this entry to keep: _HEADER, _SMALL, _PRESENCE, or None for nothing."""
    i = _site_index(parts)
    depth = len(parts) - i - 1
    if i >= 0 and depth == 1:
        entry = parts[-1]
        if entry.startswith("~") or (is_dir and _is_meta_dir(entry)):
            return _PRESENCE
        if not is_dir and entry.endswith(".egg-info"):
            return _HEADER  # a single-file egg-info is PKG-INFO itself
        if not is_dir and entry.endswith(".pth"):
            return _SMALL
        return None
    if i >= 0 and depth == 2 and not is_dir:
        entry = parts[i + 1]
        if entry.startswith("~"):
            return None
        if entry.endswith(".dist-info"):
            return _DIST_INFO_FILES.get(parts[-1])
        if entry.endswith(".egg-info"):
            return _EGG_INFO_FILES.get(parts[-1])
        return None
    if (i < 0 and not is_dir and len(parts) >= 3 and parts[-1] == "os.py"
            and parts[-3] in ("lib", "lib64") and _PYTHON_DIR.match(parts[-2])):
        return _PRESENCE
    return None


def _hides_subtree(parts: list[str]) -> bool:
    """Whether a non-directory at this path replaces a directory inspection cares about.

    Only paths that can hold site-packages content are tracked, to keep memory bounded.
    """
    i = _site_index(parts)
    if i >= 0:
        return len(parts) - i - 1 <= 1
    return bool(_PYTHON_DIR.match(parts[-1]))


def _spare(parts: list[str]) -> bool:
    """A metadata file outside site-packages (an installer's cache) a hard link may point to."""
    return (len(parts) >= 2 and _is_meta_dir(parts[-2])
            and (parts[-1] in _DIST_INFO_FILES or parts[-1] in _EGG_INFO_FILES))


# --- one tree (a layer, or a directory copied out of a container) ------------------------


def _read_member(fobj: IO[bytes], how: str) -> FileBlob:
    if how == _HEADER:
        data, complete = header_bytes(fobj.read)
        return FileBlob(data, complete)
    if how == _SMALL:
        return FileBlob(fobj.read(SMALL_LIMIT))
    return FileBlob()


def _next_member(tf: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    while (member := tf.next()) is not None:
        # A streamed TarFile remembers every member it has seen; forget them so a layer
        # with a million files costs no memory (we never look members up by name).
        tf.members.clear()  # type: ignore[attr-defined]  # undeclared in typeshed
        yield member


def read_tree(tf: tarfile.TarFile, *, root: str = "") -> LayerFiles:
    """Collect what inspection needs from a streamed tar; `root` is prefixed to each path.

    Raises whatever the tar stream raises; the caller decides what a failure means.
    """
    out = LayerFiles()
    spares: dict[str, FileBlob] = {}
    for member in _next_member(tf):
        path = normalize(f"{root}/{member.name}" if root else member.name)
        if path is None:
            continue
        parts = path.split("/")
        base = parts[-1]
        if base.startswith(_WHITEOUT):
            _whiteout(out, parts)
            continue
        if not member.isdir() and _hides_subtree(parts):
            out.removed.append(path)
        how = _wanted(parts, member.isdir())
        if how is None:
            if member.isfile() and _spare(parts):
                spares[path] = _read_member(_extract(tf, member), _spare_how(parts))
            continue
        out.files[path] = _keep(tf, member, how, out.files, spares, root)
    return out


def _spare_how(parts: list[str]) -> str:
    return _HEADER if parts[-1] in ("METADATA", "PKG-INFO") else _SMALL


def _extract(tf: tarfile.TarFile, member: tarfile.TarInfo) -> IO[bytes]:
    fobj = tf.extractfile(member)
    if fobj is None:  # only for non-regular members, which callers never pass
        return io.BytesIO(b"")
    return fobj


def _whiteout(out: LayerFiles, parts: list[str]) -> None:
    parent = "/".join(parts[:-1])
    base = parts[-1]
    if base == _OPAQUE:
        out.opaque.append(parent)
    elif not base.startswith(_WHITEOUT * 2):  # other .wh..wh.* names are aufs bookkeeping
        name = base[len(_WHITEOUT):]
        out.removed.append(f"{parent}/{name}" if parent else name)


def _keep(tf: tarfile.TarFile, member: tarfile.TarInfo, how: str,
          files: Mapping[str, FileBlob], spares: Mapping[str, FileBlob], root: str) -> FileBlob:
    if member.isdir():
        return FileBlob(is_dir=True)
    if how == _PRESENCE:
        return FileBlob()
    if member.isfile():
        return _read_member(_extract(tf, member), how)
    if member.islnk():
        target = normalize(f"{root}/{member.linkname}" if root else member.linkname)
        found = files.get(target or "") or spares.get(target or "")
        if found is not None and found.data is not None:
            return found
        return FileBlob(note=f"hard link to /{target} that could not be resolved")
    if member.issym():
        return FileBlob(note=f"symbolic link to {member.linkname}, not followed")
    return FileBlob(note="not a regular file")


# --- stacking layers -------------------------------------------------------------------


def apply_layers(layers: Iterable[LayerFiles]) -> dict[str, FileBlob]:
    """The merged view of layers given bottom first, honouring whiteouts and opaque dirs."""
    state: dict[str, FileBlob] = {}
    for layer in layers:
        if state and (layer.removed or layer.opaque):
            ancestors = _ancestors(state)
            for path in layer.removed:
                if path in state or path in ancestors:
                    _drop(state, path, keep_self=False)
            for path in layer.opaque:
                if path in ancestors:
                    _drop(state, path, keep_self=True)
        state.update(layer.files)
    return state


def _ancestors(state: Mapping[str, FileBlob]) -> set[str]:
    # Most whiteouts (apt lists, caches) are unrelated to Python; checking against this set
    # keeps applying them cheap instead of scanning the whole state for each one.
    out: set[str] = set()
    for path in state:
        parts = path.split("/")
        out.update("/".join(parts[:n]) for n in range(1, len(parts)))
    return out


def _drop(state: dict[str, FileBlob], path: str, *, keep_self: bool) -> None:
    prefix = path + "/"
    for key in [k for k in state if k.startswith(prefix) or (k == path and not keep_self)]:
        del state[key]


# --- from files to packages ------------------------------------------------------------


def site_contents(files: Mapping[str, FileBlob]) -> SiteContents:
    """Every distribution in a merged file view, site directory by site directory."""
    entries: dict[tuple[str, str], dict[str, FileBlob]] = {}
    pythons: set[str] = set()
    for path, blob in files.items():
        parts = path.split("/")
        i = _site_index(parts)
        if i < 0:
            version = _python_of(parts[-2]) if parts[-1] == "os.py" else None
            if version:
                pythons.add(version)
            continue
        site = "/".join(parts[: i + 1])
        inner = "/".join(parts[i + 2:])
        entries.setdefault((site, parts[i + 1]), {})[inner] = blob
    packages: list[Package] = []
    findings: list[tuple[str, Problem]] = []
    for (site, entry), members in sorted(entries.items()):
        location = f"/{site}/{entry}"
        if entry.startswith("~"):
            findings.append((location, Problem(
                ProblemKind.INTERRUPTED,
                f"{location}: leftover of an interrupted pip transaction")))
        elif entry.endswith(".dist-info"):
            packages.append(_dist_info(location, entry, members))
        elif entry.endswith(".egg-info"):
            packages.append(_egg_info(location, entry, members))
        elif entry.endswith(".pth") and _risky_pth(entry, members.get("")):
            findings.append((location, Problem(
                ProblemKind.SECURITY,
                f"{location}: .pth file runs code whenever this Python starts")))
    sites = sorted({site for site, _ in entries})
    return SiteContents(
        packages=tuple(packages),
        findings=tuple(findings),
        python=_choose_python(sites, packages, pythons),
        site_dirs=tuple(f"/{s}" for s in sites),
    )


def _python_of(dirname: str) -> str | None:
    m = _PYTHON_DIR.match(dirname)
    return m.group(1) if m else None


def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split(".") if x.isdigit())


def _choose_python(sites: list[str], packages: list[Package], pythons: set[str]) -> str | None:
    """The version of the first site directory holding packages, else the newest stdlib,
    else that of any site directory. Debian's unversioned `python3/dist-packages` says
    nothing exact, so only X.Y versions count."""
    used = {p.location.rsplit("/", 1)[0].lstrip("/") for p in packages if p.location}
    by_site = {site: _python_of(site.split("/")[-2]) if "/" in site else None for site in sites}
    exact = [v for s, v in by_site.items() if s in used and v and "." in v]
    exact += sorted((v for v in pythons if "." in v), key=_version_key, reverse=True)
    exact += [v for v in by_site.values() if v and "." in v]
    return exact[0] if exact else None


def _tie(pkg: Package) -> Package:
    """Name the package on problems that were created before its name was known."""
    probs = tuple(replace(p, package=pkg.name, version=pkg.version) if p.package is None else p
                  for p in pkg.problems)
    return replace(pkg, problems=probs)


def _header_of(blob: FileBlob | None, location: str, what: str,
               extra: list[Problem]) -> tuple[bytes, bool]:
    if blob is None:
        extra.append(Problem(ProblemKind.INCOMPLETE,
                             f"{location}: {what} missing (incomplete install)"))
        return b"", True
    if blob.data is None:
        extra.append(Problem(ProblemKind.UNREADABLE, f"{location}/{what}: {blob.note}"))
        return b"", True
    return blob.data, blob.complete


def _dist_info(location: str, entry: str, members: Mapping[str, FileBlob]) -> Package:
    extra: list[Problem] = []
    header, complete = _header_of(members.get("METADATA"), location, "METADATA", extra)
    if not extra and "RECORD" not in members:
        extra.append(Problem(ProblemKind.INCOMPLETE,
                             f"{entry}: RECORD missing (incomplete install)"))
    pkg = package_from_headers(
        parse_headers(header, complete=complete),
        dirname=entry,
        location=location,
        installer=_data(members.get("INSTALLER")),
        direct_url=_data(members.get("direct_url.json")),
        extra_problems=tuple(extra),
    )
    return _tie(pkg)


def _egg_info(location: str, entry: str, members: Mapping[str, FileBlob]) -> Package:
    extra: list[Problem] = []
    single = members.get("")
    is_file = single is not None and not single.is_dir
    blob = single if is_file else members.get("PKG-INFO")
    header, complete = _header_of(blob, location, "PKG-INFO", extra)
    raw = _data(members.get("requires.txt"))
    requires = egg_requires(raw.decode("utf-8", "replace")) if raw else ()
    pkg = package_from_headers(
        parse_headers(header, complete=complete),
        dirname=entry,
        location=location,
        installer=_data(members.get("INSTALLER")),
        extra_requires=requires,
        extra_problems=tuple(extra),
    )
    return _tie(pkg)


def _data(blob: FileBlob | None) -> bytes | None:
    return blob.data if blob is not None else None


def _risky_pth(entry: str, blob: FileBlob | None) -> bool:
    """A .pth that imports code, other than the ones well-known tools install."""
    if entry in KNOWN_PTH or entry.startswith("__editable__"):
        return False
    raw = _data(blob) or b""
    return any(line.startswith((b"import ", b"import\t")) for line in raw.splitlines())


# --- whole image archives --------------------------------------------------------------


@dataclass
class ImageArchive:
    """The layers of one image, bottom first, as read from a saved archive."""

    layers: list[LayerFiles]
    problems: list[str]

    def contents(self) -> SiteContents:
        """Merge the layers and read the packages of the result."""
        merged = site_contents(apply_layers(self.layers))
        notes = self.problems + [p for layer in self.layers for p in layer.problems]
        return replace(merged, problems=tuple(
            Problem(ProblemKind.UNREADABLE, note) for note in notes))


@dataclass
class _Members:
    """What the outer archive held, before its manifest says how the pieces fit."""

    layers: dict[str, LayerFiles] = field(default_factory=dict)
    documents: dict[str, Any] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)


def read_image_archive(stream: IO[bytes], image_id: str | None = None) -> ImageArchive:
    """Read a `docker save` archive (legacy or OCI layout) from a forward-only stream.

    `image_id` picks the right entry when the archive holds several images. Raises
    ArchiveError when the archive is not readable at all, StreamError when the stream fails.
    """
    found = _Members()
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as tf:
            for member in _next_member(tf):
                _take_member(tf, member, found)
    except StreamError:
        raise
    except Exception as e:  # tarfile, zlib and json all raise their own types
        raise ArchiveError(f"not a readable image archive ({type(e).__name__}: {e})") from e
    return _assemble(found, image_id)


def _take_member(tf: tarfile.TarFile, member: tarfile.TarInfo, found: _Members) -> None:
    name = normalize(member.name)
    if name is None:
        return
    if member.issym() or member.islnk():
        # The legacy layout links a layer.tar saved twice to its first copy.
        base = posixpath.dirname(name) if member.issym() else ""
        target = normalize(posixpath.normpath(posixpath.join(base, member.linkname)))
        if target:
            found.aliases[name] = target
        return
    if not member.isfile():
        return
    if name in ("manifest.json", "index.json"):
        found.documents[name] = _json(_extract(tf, member))
    elif name.endswith("/layer.tar") or name.startswith("blobs/"):
        fobj = _extract(tf, member)
        head = fobj.peek(512)[:512] if isinstance(fobj, io.BufferedReader) else b""
        if head.lstrip()[:1] == b"{" and member.size <= JSON_LIMIT:
            found.documents[name] = _json(fobj)
        else:
            found.layers[name] = _read_layer(fobj, head, name)


def _json(fobj: IO[bytes]) -> Any:
    try:
        return json.loads(fobj.read(JSON_LIMIT))
    except (ValueError, RecursionError):
        return None


def _read_layer(fobj: IO[bytes], head: bytes, name: str) -> LayerFiles:
    if head.startswith(_ZSTD):
        return LayerFiles(problems=[f"layer {name}: zstd-compressed layers are not read"])
    try:
        with tarfile.open(fileobj=fobj, mode="r|gz" if head.startswith(_GZIP) else "r|") as tf:
            return read_tree(tf)
    except StreamError:
        raise
    except Exception as e:  # a corrupt layer is that layer's problem, not the archive's
        return LayerFiles(problems=[f"layer {name}: unreadable ({type(e).__name__}: {e})"])


def _assemble(found: _Members, image_id: str | None) -> ImageArchive:
    names = _legacy_order(found.documents.get("manifest.json"), image_id)
    if names is None:
        names = _oci_order(found, found.documents.get("index.json"))
    if names is None:
        raise ArchiveError("image archive has neither manifest.json nor a usable index.json")
    layers: list[LayerFiles] = []
    problems: list[str] = []
    for name in names:
        real = _resolve(found.aliases, name)
        if real in found.layers:
            layers.append(found.layers[real])
        else:
            problems.append(f"layer {name} is missing from the image archive")
    return ImageArchive(layers, problems)


def _resolve(aliases: Mapping[str, str], name: str) -> str:
    seen = set()
    while name in aliases and name not in seen:
        seen.add(name)
        name = aliases[name]
    return name


def _legacy_order(manifest: Any, image_id: str | None) -> list[str] | None:
    if not isinstance(manifest, list) or not manifest:
        return None
    wanted = (image_id or "").removeprefix("sha256:")
    entries = [e for e in manifest if isinstance(e, dict)]
    chosen = next((e for e in entries if wanted and wanted in str(e.get("Config", ""))),
                  entries[0] if entries else None)
    layers = chosen.get("Layers") if chosen else None
    if not isinstance(layers, list):
        return None
    return [n for n in (normalize(str(x)) for x in layers) if n]


def _blob_name(digest: Any) -> str:
    algo, _, hexdigest = str(digest).partition(":")
    return f"blobs/{algo}/{hexdigest}"


def _oci_order(found: _Members, index: Any, depth: int = 0) -> list[str] | None:
    """Layers of the first manifest reachable from the index whose layers are all present."""
    if not isinstance(index, dict) or depth > 4:
        return None
    fallback: list[str] | None = None
    for desc in index.get("manifests") or []:
        if not isinstance(desc, dict):
            continue
        doc = found.documents.get(_blob_name(desc.get("digest")))
        if isinstance(doc, dict) and "manifests" in doc:
            names = _oci_order(found, doc, depth + 1)
        elif isinstance(doc, dict) and isinstance(doc.get("layers"), list):
            names = [_blob_name(x.get("digest")) for x in doc["layers"] if isinstance(x, dict)]
        else:
            continue
        if names is not None and all(_resolve(found.aliases, n) in found.layers for n in names):
            return names
        fallback = fallback or names
    return fallback


# --- overlaying a container's changes --------------------------------------------------


def overlay(base: SiteContents, *, removed: Iterable[str], replaced: Iterable[str],
            update: SiteContents) -> SiteContents:
    """A container's view: `base` minus `removed` subtrees and `replaced` entries, plus `update`.

    Paths are absolute. `replaced` lists site-packages entries whose current state is
    exactly what `update` holds for them (absent from `update` means deleted).
    """
    gone = tuple(removed)
    swapped = set(replaced)

    def keep(location: str | None) -> bool:
        loc = location or ""
        return loc not in swapped and not any(loc == r or loc.startswith(r + "/") for r in gone)

    packages = [p for p in base.packages if keep(p.location)] + list(update.packages)
    findings = [f for f in base.findings if keep(f[0])] + list(update.findings)
    sites = {s for s in base.site_dirs if keep(s)} | set(update.site_dirs)
    return replace(
        base,
        packages=tuple(sorted(packages, key=lambda p: _entry_key(p.location))),
        findings=tuple(sorted(findings, key=lambda f: _entry_key(f[0]))),
        site_dirs=tuple(sorted(sites)),
        python=base.python or update.python,
        problems=base.problems + update.problems,
    )


def _entry_key(location: str | None) -> tuple[str, str]:
    site, _, entry = (location or "").rpartition("/")
    return site, entry


def site_entry(path: str) -> tuple[str, str] | None:
    """The site directory and top-level entry a path lies in, if it lies in one.

    `/x/site-packages/foo-1.0.dist-info/METADATA` -> ("/x/site-packages", "foo-1.0.dist-info").
    """
    norm = normalize(path)
    if norm is None:
        return None
    parts = norm.split("/")
    i = _site_index(parts)
    if i < 0 or i + 1 >= len(parts):
        return None
    return "/" + "/".join(parts[: i + 1]), parts[i + 1]


def is_inspected_entry(entry: str) -> bool:
    """Whether a site-packages entry carries metadata this module reads."""
    return entry.startswith("~") or _is_meta_dir(entry) or entry.endswith(".pth")

