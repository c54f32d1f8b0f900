"""Reading core metadata out of distribution files without running anything.

Shared by the find-links and index sources: naming files, parsing METADATA / PKG-INFO
headers, and pulling them out of wheels and sdists. An sdist is only usable when its
PKG-INFO is static (PEP 643); otherwise its dependencies are only known by building it,
which would execute its setup code, and envtui never does that.
"""

from __future__ import annotations

import hashlib
import tarfile
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from packaging.utils import (
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from envtui.resolver.sources import CoreMetadata, SourceError

MAX_METADATA_BYTES = 10 * 1024 * 1024
"""Real METADATA files are kilobytes; anything this big is broken or hostile."""

VERIFIED_HASHES = ("sha256", "sha384", "sha512")
"""Algorithms worth checking; md5/sha1 are weak and may be unavailable under FIPS."""


def parse_filename(filename: str) -> tuple[NormalizedName, Version] | None:
    """(canonical name, version) of a wheel or sdist file name; None when it is neither."""
    try:
        if filename.endswith(".whl"):
            name, version, _build, _tags = parse_wheel_filename(filename)
            return name, version
        name, version = parse_sdist_filename(filename)
    except (ValueError, InvalidVersion):  # packaging's Invalid*Filename are ValueErrors
        return None
    return name, version


def parse_headers(text: str) -> list[tuple[str, str]]:
    """RFC 822-style headers as (lowercased name, unfolded value), up to the first blank line."""
    headers: list[tuple[str, str]] = []
    for raw in text.split("\n"):
        line = raw.rstrip("\r")
        if not line.strip():
            break
        if line[0] in " \t" and headers:  # a continuation line folds into the previous value
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}".strip())
        elif ":" in line:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
        else:
            break  # not a header: whatever follows is the body
    return headers


def parse_metadata(data: bytes, origin: str, *, sdist: bool = False) -> CoreMetadata:
    """Requires-Dist and Requires-Python of METADATA (or an sdist's PKG-INFO) bytes.

    For an sdist, refuse metadata the build could still change (see the module doc).
    """
    headers = parse_headers(data.decode("utf-8", errors="replace"))
    if sdist:
        _require_static(headers, origin)
    requires = tuple(value for name, value in headers if name == "requires-dist")
    python = next((value for name, value in headers if name == "requires-python"), None)
    return CoreMetadata(requires_dist=requires, requires_python=python or None)


def _require_static(headers: list[tuple[str, str]], origin: str) -> None:
    version = next((value for name, value in headers if name == "metadata-version"), "")
    dynamic = {value.strip().lower() for name, value in headers if name == "dynamic"}
    try:
        static = Version(version) >= Version("2.2")
    except InvalidVersion:
        static = False
    # Requires-Python decides which candidates apply at all, so it must be static too.
    if not static or dynamic & {"requires-dist", "requires-python"}:
        raise SourceError(
            f"The sdist {origin} metadata is not static; envtui does not build sdists "
            "(that would run its setup code)."
        )


def read_dist_metadata(path: Path, filename: str) -> CoreMetadata:
    """Core metadata of the wheel or sdist at `path`, whose file name is `filename`."""
    try:
        if filename.endswith(".whl"):
            return parse_metadata(_wheel_metadata_bytes(path, filename), filename)
        if filename.endswith(".zip"):
            data = _zip_pkg_info(path, filename)
        elif filename.endswith(".tar.gz"):
            data = _tar_pkg_info(path, filename)
        else:
            raise SourceError(f"{filename} is neither a wheel nor an sdist.")
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError) as e:
        raise SourceError(f"{filename} is not a readable archive ({e}).") from e
    except OSError as e:
        raise SourceError(f"Cannot read {filename}: {e.strerror or e}.") from e
    return parse_metadata(data, filename, sdist=True)


def _wheel_metadata_bytes(path: Path, filename: str) -> bytes:
    project = parse_filename(filename)
    with zipfile.ZipFile(path) as zf:
        # The .dist-info directory's spelling may differ from the file name (case,
        # normalisation, local versions), so look for every top-level one.
        found = [
            info for info in zf.infolist()
            if _is_top_level(info.filename, ".dist-info", "METADATA")
        ]
        if len(found) > 1 and project is not None:
            found = [info for info in found if _dist_info_name(info.filename) == project[0]]
        if len(found) != 1:
            raise SourceError(f"{filename} does not hold exactly one .dist-info/METADATA.")
        return _read_zip_member(zf, found[0], filename)


def _zip_pkg_info(path: Path, filename: str) -> bytes:
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if _is_top_level(info.filename, "", "PKG-INFO"):
                return _read_zip_member(zf, info, filename)
    raise SourceError(f"The sdist {filename} has no top-level PKG-INFO.")


def _tar_pkg_info(path: Path, filename: str) -> bytes:
    with tarfile.open(path, "r:gz") as tf:
        # Iterate rather than getmembers(): stop at the first match, which sits near the
        # start of real sdists, instead of decompressing the whole archive.
        for member in tf:
            if member.isfile() and _is_top_level(member.name, "", "PKG-INFO"):
                if member.size > MAX_METADATA_BYTES:
                    raise _too_big(filename)
                stream = tf.extractfile(member)
                if stream is None:
                    break
                return stream.read()
    raise SourceError(f"The sdist {filename} has no top-level PKG-INFO.")


def _is_top_level(member: str, dir_suffix: str, basename: str) -> bool:
    """Whether `member` is `<dir><dir_suffix>/<basename>` one level down in an archive."""
    parts = PurePosixPath(member.removeprefix("./")).parts
    return len(parts) == 2 and parts[0].endswith(dir_suffix) and parts[1] == basename


def _dist_info_name(member: str) -> NormalizedName:
    stem = member.split("/", 1)[0].removesuffix(".dist-info")
    return canonicalize_name(stem.rpartition("-")[0] or stem)


def _read_zip_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, filename: str) -> bytes:
    if info.file_size > MAX_METADATA_BYTES:
        raise _too_big(filename)
    with zf.open(info) as stream:
        data = stream.read(MAX_METADATA_BYTES + 1)  # the declared size can lie
    if len(data) > MAX_METADATA_BYTES:
        raise _too_big(filename)
    return data


def _too_big(filename: str) -> SourceError:
    return SourceError(
        f"The metadata in {filename} is larger than {MAX_METADATA_BYTES // 2**20} MB."
    )


def verify_hashes(data: bytes | Path, expected: Iterable[tuple[str, str]], what: str) -> None:
    """Check `data` (bytes, or a file's contents) against a source's published hashes."""
    wanted = {alg.lower(): digest.lower() for alg, digest in expected
              if alg.lower() in VERIFIED_HASHES}
    if not wanted:
        return
    hashers = {alg: hashlib.new(alg) for alg in wanted}
    if isinstance(data, Path):
        with data.open("rb") as f:
            while chunk := f.read(1 << 20):
                for h in hashers.values():
                    h.update(chunk)
    else:
        for h in hashers.values():
            h.update(data)
    for alg, h in hashers.items():
        if h.hexdigest() != wanted[alg]:
            raise SourceError(
                f"{what} does not match its published {alg} hash "
                f"(expected {wanted[alg]}, got {h.hexdigest()})."
            )
