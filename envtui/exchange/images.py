"""Docker images as tar archives: `docker save` into a file, `docker load` from one.

Save streams the engine's archive into a temporary file beside the destination, hashing it
as it is written, then renames it into place and writes FILE.sha256 in `sha256sum`'s
format: a half-written archive never carries the final name, and a failed, cancelled or
interrupted save leaves an existing FILE as it was. An existing FILE is replaced only when
asked (`force`).

Load checks FILE.sha256 first when there is one, then streams the file to the engine a
chunk at a time. envtui never unpacks or interprets an archive it is given (RELIABILITY
case 35): the engine validates it, and the engine's own error is raised verbatim (case 36:
a flipped byte in a layer is its `invalid diffID` error, and nothing gets tagged).

The engine is the inspector's (DOCKER_HOST, docker contexts); one that cannot be reached
gets the inspector's one-line hint. Neither direction holds an archive in memory. Progress
goes to a callback as (bytes done, expected total or None); a threading.Event cancels
between chunks, and KeyboardInterrupt cleans up the same way. docker-py is imported only
when the engine is contacted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import stat
import tarfile
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from envtui.inspectors.docker import Endpoint, EngineError, describe_failure, resolve_endpoint

CHUNK = 1 << 20
"""Bytes read, written, hashed and sent at a time."""
SIDECAR_MAX = 1 << 16
"""A .sha256 file larger than this is not one `sha256sum` wrote for an archive."""
MANIFEST_MAX = 1 << 24
"""Bytes of a saved archive's manifest.json read to learn its tags."""

Progress = Callable[[int, int | None], None]
"""Called with (bytes done, expected total bytes or None when unknown)."""


class ImageError(Exception):
    """An image could not be saved or loaded; the message is the one line to show."""


class Cancelled(ImageError):
    """The cancel event was set; nothing was left behind."""


class ArchiveExists(ImageError):
    """The destination exists and overwriting it was not asked for."""


class ChecksumMismatch(ImageError):
    """The archive is not the one its .sha256 file describes."""


@dataclass(frozen=True)
class SavedImage:
    path: Path
    """The archive, absolute."""
    sha256: str
    """Hex digest of the archive, as written to `path`.sha256."""
    size: int
    """Bytes in the archive."""
    image_id: str
    tags: tuple[str, ...]
    """The tags the archive carries (none when saved by ID)."""


@dataclass(frozen=True)
class LoadedImage:
    tags: tuple[str, ...]
    image_ids: tuple[str, ...]


def sidecar(path: Path) -> Path:
    """Where the checksum of archive `path` lives: FILE.tar -> FILE.tar.sha256."""
    return path.with_name(path.name + ".sha256")


# --- the engine ------------------------------------------------------------------------


@dataclass
class _Connection:
    api: Any
    """Short timeouts, for questions."""
    bulk: Any
    """Long timeouts, for archives."""
    endpoint: Endpoint

    def failure(self, exc: Exception) -> ImageError:
        """One line for an engine call that failed: the engine's words, or the inspector's."""
        text = getattr(exc, "explanation", None)
        if isinstance(text, str) and text and getattr(exc, "response", None) is not None:
            return ImageError(text)  # the engine answered with an error: its own text
        return ImageError(describe_failure(exc, self.endpoint))


@contextlib.contextmanager
def _connect() -> Iterator[_Connection]:
    from envtui.inspectors.base import ScanContext
    from envtui.inspectors.cache import Cache
    from envtui.inspectors.docker import Engine

    ctx = ScanContext.from_process()
    try:
        ep = resolve_endpoint(ctx.home, ctx.environ)
    except EngineError as e:
        raise ImageError(str(e)) from None
    try:
        engine = Engine(ep, Cache(ctx.cache_dir))
        bulk = engine.bulk
    except Exception as e:  # docker-py, requests and OSError all signal a dead engine
        raise ImageError(describe_failure(e, ep)) from None
    try:
        yield _Connection(engine.api, bulk, ep)
    finally:
        engine.close()


# --- save ------------------------------------------------------------------------------


def save_image(ref: str, dest: Path, *, force: bool = False, progress: Progress | None = None,
               cancel: threading.Event | None = None) -> SavedImage:
    """Write image `ref` to the archive `dest` and its checksum to `dest`.sha256.

    The total given to `progress` is the image's size, an estimate of the archive's.
    Raises ImageError (ArchiveExists, Cancelled) with nothing written.
    """
    import docker.errors

    dest = Path(dest).absolute()
    if not ref.strip():
        raise ImageError("no image named: give name:tag or an image ID")
    _check_destination(dest, force)
    with _connect() as conn:
        try:
            info = conn.api.inspect_image(ref)
        except docker.errors.NotFound:
            raise ImageError(f"no such image: {ref}") from None
        except Exception as e:
            raise conn.failure(e) from None
        image_id = str(info.get("Id", ""))
        size = info.get("Size")
        with _Staged(dest) as staged:
            try:
                chunks = conn.bulk.get_image(_one_image(conn.api, ref, image_id),
                                             chunk_size=CHUNK)
                digest, written = _download(chunks, staged, size if isinstance(size, int)
                                            else None, progress, cancel)
                again = str(conn.api.inspect_image(ref).get("Id", ""))
            except ImageError:
                raise
            except Exception as e:  # requests' errors are OSErrors too: all go to failure()
                raise conn.failure(e) from None
            if again != image_id:
                raise ImageError(f"{ref} was re-tagged to another image during the save; "
                                 "nothing was written")
            tags = _archive_tags(staged.path)
            staged.commit(digest, force)
    return SavedImage(path=dest, sha256=digest, size=written, image_id=image_id, tags=tags)


def _one_image(api: Any, ref: str, image_id: str) -> str:
    """The reference to save `ref` by so that the archive holds that one image.

    Given a bare repository name, the engine saves every tag of the repository, which can
    be several images; inspecting resolved it to `:latest`, so that is what is saved. A
    bare word that is no such name is a short ID, saved by ID (with no tags, as docker does).
    """
    import docker.errors

    if ref == image_id or "@" in ref or ":" in ref.rpartition("/")[2]:
        return ref
    try:
        named = api.inspect_image(f"{ref}:latest").get("Id") == image_id
    except docker.errors.NotFound:
        named = False
    return f"{ref}:latest" if named else image_id


def _check_destination(dest: Path, force: bool) -> None:
    if dest.is_dir():
        raise ImageError(f"{dest}: is a directory")
    if not dest.parent.is_dir():
        raise ImageError(f"{dest}: no such directory {dest.parent}")
    if os.path.lexists(dest) and not force:
        raise ArchiveExists(f"{dest}: already exists; not overwritten")


class _Staged:
    """A temporary file beside `dest`, renamed over it on commit and removed otherwise."""

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        self.path, self.file = _create_temp(dest)
        self._side: Path | None = None

    def __enter__(self) -> _Staged:
        return self

    def __exit__(self, *exc: object) -> None:
        # Runs on success too: then the temporary names are gone and nothing is removed.
        self.file.close()
        for p in (self.path, self._side):
            if p is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(p)

    def write(self, data: bytes) -> None:
        try:
            self.file.write(data)
        except OSError as e:
            raise ImageError(f"{self.dest}: cannot write ({e.strerror or e})") from None

    def commit(self, digest: str, force: bool) -> None:
        """Put the archive and then its checksum in place."""
        side = sidecar(self.dest)
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            self._side, f = _create_temp(side)
            with f:
                f.write(_sha256sum_line(digest, self.dest.name).encode("utf-8",
                                                                    "surrogateescape"))
                f.flush()
                os.fsync(f.fileno())
            if os.path.lexists(self.dest) and not force:  # appeared since the start
                raise ArchiveExists(f"{self.dest}: already exists; not overwritten")
            os.replace(self.path, self.dest)
            os.replace(self._side, side)
        except OSError as e:
            raise ImageError(f"{self.dest}: cannot write ({e.strerror or e})") from None
        _fsync_dir(self.dest.parent)


def _create_temp(dest: Path) -> tuple[Path, IO[bytes]]:
    """A new hidden file next to `dest`; mode 0666 less the umask, like any file written."""
    for _ in range(100):
        tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.part")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        except OSError as e:
            raise ImageError(f"{dest}: cannot write ({e.strerror or e})") from None
        return tmp, os.fdopen(fd, "wb")
    raise ImageError(f"{dest}: cannot make a temporary file beside it")


def _fsync_dir(directory: Path) -> None:
    """Make the renames durable; some filesystems cannot sync a directory, which is fine."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _download(chunks: Iterable[bytes], staged: _Staged, total: int | None,
              progress: Progress | None, cancel: threading.Event | None) -> tuple[str, int]:
    """Write the engine's stream to `staged`, hashing it; (hex digest, bytes)."""
    h = hashlib.sha256()
    done = 0
    if progress:
        progress(0, total)
    try:
        for chunk in chunks:
            _check_cancel(cancel, "the save")
            staged.write(chunk)
            h.update(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
        # Checked again: a cancel during the last chunk must still win over committing.
        _check_cancel(cancel, "the save")
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:  # hangs up on the engine when the stream was not read out
            with contextlib.suppress(Exception):
                close()
    return h.hexdigest(), done


def _check_cancel(cancel: threading.Event | None, what: str) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled(f"{what} was cancelled; nothing was left behind")


def _archive_tags(path: Path) -> tuple[str, ...]:
    """The tags in the manifest.json of an archive the engine just wrote (none if unclear).

    Only the engine knows how it spelled a name (and which tags a reference selected), and
    it says so in the manifest. This reads tar headers, seeking over contents, and that one
    small file: it extracts nothing and is never done to an archive given to envtui.
    """
    try:
        with tarfile.open(path, "r:") as tf:
            for member in tf:
                if member.name.removeprefix("./") != "manifest.json":
                    continue
                if not member.isreg() or member.size > MANIFEST_MAX:
                    return ()
                f = tf.extractfile(member)
                manifest = json.load(f) if f is not None else None
                break
            else:
                return ()
    except (OSError, tarfile.TarError, ValueError):
        return ()
    if not isinstance(manifest, list):
        return ()
    tags = [t for entry in manifest if isinstance(entry, dict)
            for t in entry.get("RepoTags") or [] if isinstance(t, str)]
    return tuple(dict.fromkeys(tags))


# --- checksums -------------------------------------------------------------------------


def _sha256sum_line(digest: str, name: str) -> str:
    # sha256sum escapes a name holding a newline or backslash and flags the line with "\".
    if "\\" in name or "\n" in name:
        escaped = name.replace("\\", "\\\\").replace("\n", "\\n")
        return "\\" + f"{digest}  {escaped}\n"
    return f"{digest}  {name}\n"


_SUM_LINE = re.compile(r"(\\?)([0-9a-fA-F]{64}) [ *](.+)")


def _recorded_digest(side: Path, name: str) -> str:
    """The digest `side` (sha256sum's format) records for the file called `name`."""
    try:
        if side.stat().st_size > SIDECAR_MAX:
            raise ImageError(f"{side}: too large for a sha256sum file")
        text = side.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as e:
        raise ImageError(f"{side}: cannot read ({e.strerror or e})") from None
    found: list[tuple[str, str]] = []
    for line in text.splitlines():
        m = _SUM_LINE.fullmatch(line)
        if m:
            listed = m[3]
            if m[1]:
                listed = re.sub(r"\\(.)", lambda c: "\n" if c[1] == "n" else c[1], listed)
            found.append((m[2].lower(), listed))
    named = [d for d, listed in found if listed == name]
    if named:
        return named[0]
    if len(found) == 1:  # renamed along with its archive: the one line is for it
        return found[0][0]
    raise ImageError(f"{side}: no sha256sum line for {name}")


def verify_archive(path: Path, *, progress: Progress | None = None,
                   cancel: threading.Event | None = None) -> str | None:
    """Check `path` against `path`.sha256; its digest, or None when there is no such file.

    Raises ChecksumMismatch naming both digests. The engine is not contacted.
    """
    path = Path(path)
    _check_archive(path)
    side = sidecar(path)
    if not side.exists():
        return None
    expected = _recorded_digest(side, path.name)
    h = hashlib.sha256()
    for chunk in _read_chunks(path, progress, cancel, "the check"):
        h.update(chunk)
    actual = h.hexdigest()
    if actual != expected:
        raise ChecksumMismatch(
            f"{path}: sha256 mismatch: {side.name} records {expected}, the file is {actual}; "
            "it was damaged or changed after it was saved")
    return actual


# --- load ------------------------------------------------------------------------------


def _check_archive(path: Path) -> None:
    """Raise ImageError unless `path` is a regular file envtui may read."""
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise ImageError(f"{path}: is a directory, not an image archive")
        if not stat.S_ISREG(mode):
            raise ImageError(f"{path}: not a regular file")
        with open(path, "rb"):
            pass
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except OSError as e:
        raise ImageError(f"{path}: cannot read ({e.strerror or e})") from None


def _read_chunks(path: Path, progress: Progress | None, cancel: threading.Event | None,
                 what: str) -> Generator[bytes, None, None]:
    """The file's bytes, CHUNK at a time, reporting progress and honouring `cancel`."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below, also when the consumer stops
        total: int | None = os.fstat(f.fileno()).st_size
    except OSError as e:
        raise ImageError(f"{path}: cannot read ({e.strerror or e})") from None
    done = 0
    with f:
        if progress:
            progress(0, total)
        while True:
            # Also after the last chunk's report: a cancel then still stops the engine,
            # which loads nothing from a request that ends early.
            _check_cancel(cancel, what)
            try:
                chunk = f.read(CHUNK)
            except OSError as e:
                raise ImageError(f"{path}: cannot read ({e.strerror or e})") from None
            if not chunk:
                break
            done += len(chunk)
            yield chunk
            if progress:
                progress(done, total)


def load_image(path: Path, *, progress: Progress | None = None,
               cancel: threading.Event | None = None, verify: bool = True) -> LoadedImage:
    """Load the archive at `path` into the engine, after checking `path`.sha256 if present.

    `progress` follows the check first (when there is one), then the upload, each from 0.
    Raises ImageError: the engine's own message when it refuses the archive.
    """
    import docker.errors

    path = Path(path)
    _check_archive(path)
    if verify:
        verify_archive(path, progress=progress, cancel=cancel)
    with _connect() as conn:
        body = _read_chunks(path, progress, cancel, "the load")
        try:
            # Not quiet: the engine's per-layer progress keeps the response alive while it
            # registers big layers, which could otherwise exceed the read timeout.
            messages = conn.bulk.load_image(body, quiet=False)
            tags, ids = _load_result(messages)
        except ImageError:
            raise
        except docker.errors.StreamParseError as e:
            raise ImageError(f"{path}: the engine's answer could not be read ({e})") from None
        except Exception as e:
            raise conn.failure(e) from None
        finally:
            body.close()
        for tag in tags:
            with contextlib.suppress(Exception):  # untagged again since: its ID is unknown
                ids.append(str(conn.api.inspect_image(tag)["Id"]))
    if not tags and not ids:
        raise ImageError(f"{path}: the engine loaded no image from it")
    return LoadedImage(tags=tuple(dict.fromkeys(tags)), image_ids=tuple(dict.fromkeys(ids)))


_LOADED_TAG = "Loaded image: "
_LOADED_ID = "Loaded image ID: "


def _load_result(messages: Iterable[Any]) -> tuple[list[str], list[str]]:
    """Tags and IDs from the engine's load messages; its error, verbatim, as ImageError."""
    tags: list[str] = []
    ids: list[str] = []
    for msg in messages:
        if not isinstance(msg, dict):
            continue
        detail = msg.get("errorDetail")
        error = (detail.get("message") if isinstance(detail, dict) else None) or msg.get("error")
        if error:
            raise ImageError(str(error))
        for line in str(msg.get("stream") or "").splitlines():
            if line.startswith(_LOADED_ID):
                ids.append(line.removeprefix(_LOADED_ID).strip())
            elif line.startswith(_LOADED_TAG):
                tags.append(line.removeprefix(_LOADED_TAG).strip())
    return tags, ids
