"""Reading the Python packages inside images and containers (the slow half of docker.py).

Imported only when an image or container is actually read, so that listing the engine
(every scan) does not pay for the archive readers. An image's contents come from the
persistent cache (by image ID, which names immutable content) or from its layers, streamed
from the engine and read without extracting anything (image_layers); a container's are its
image's with the container's own site-packages changes applied (`docker diff`, then
`docker cp` of each changed entry, which does not start the container).
"""

from __future__ import annotations

import contextlib
import tarfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from envtui.inspectors.docker import (
    CACHE_NAMESPACE,
    CACHE_SCHEMA,
    Engine,
    error_line,
    short_id,
)
from envtui.inspectors.image_layers import (
    ArchiveError,
    FileBlob,
    SiteContents,
    StreamError,
    buffered,
    is_inspected_entry,
    overlay,
    read_image_archive,
    read_tree,
    site_contents,
    site_entry,
)
from envtui.model import Problem, ProblemKind


def load_or_stream(engine: Engine | None, image_id: str,
                   on_stream: Callable[[], None]) -> SiteContents:
    """An image's contents from the persistent cache, else streamed from the engine (then
    cached); `on_stream` is called before each stream. Failures come back as a problem."""
    if engine is None:
        return unread(image_id, "the Docker engine is not connected")
    hit = engine.cache.load(CACHE_NAMESPACE, image_id)
    if isinstance(hit, dict) and hit.get("schema") == CACHE_SCHEMA:
        with contextlib.suppress(KeyError, TypeError, ValueError):
            return SiteContents.from_json(hit["contents"])
    try:
        on_stream()
        contents = _stream_image(engine, image_id)
    except (StreamError, ArchiveError) as e:
        return unread(image_id, str(e))
    except Exception as e:  # the engine refused (image gone) or the connection broke
        return unread(image_id, error_line(e))
    engine.cache.store(CACHE_NAMESPACE, image_id,
                       {"schema": CACHE_SCHEMA, "contents": contents.to_json()})
    return contents


def _stream_image(engine: Engine, image_id: str) -> SiteContents:
    chunks = engine.image_archive(image_id)
    try:
        return read_image_archive(buffered(chunks), image_id).contents()
    finally:
        # Stops the download if reading ended early; the engine notices the hang-up.
        with contextlib.suppress(Exception):
            chunks.close()


def unread(image_id: str, why: str) -> SiteContents:
    return SiteContents(problems=(Problem(
        ProblemKind.UNREADABLE,
        f"image {short_id(image_id)}: its layers could not be read ({why})"),))


# --- a container's own changes ---------------------------------------------------------


@dataclass
class _Changes:
    """What `docker diff` says about site-packages, sorted out."""

    removed: list[str] = field(default_factory=list)
    """Deleted paths that held (or were) a site directory of the image."""
    deleted: set[str] = field(default_factory=set)
    """Site-packages entries deleted outright."""
    touched: set[str] = field(default_factory=set)
    """Site-packages entries added or changed: read them again from the container."""


def _sort_changes(changes: Iterable[Mapping[str, Any]], base: SiteContents) -> _Changes:
    out = _Changes()
    for change in changes:
        path = str(change.get("Path", ""))
        kind = change.get("Kind")  # 0 modified, 1 added, 2 deleted
        hit = site_entry(path)
        if hit is None:
            if kind == 2 and any(s == path or s.startswith(path.rstrip("/") + "/")
                                 for s in base.site_dirs):
                out.removed.append(path)
            continue
        full = "/".join(hit)
        if not is_inspected_entry(hit[1]):
            continue
        if kind == 2 and path.rstrip("/") == full:
            out.deleted.add(full)
        else:
            out.touched.add(full)
    out.touched -= out.deleted
    return out


def container_contents(engine: Engine | None, container_id: str,
                        base: SiteContents) -> tuple[SiteContents, list[str]]:
    """The image's contents with the container's own site-packages changes applied."""
    if engine is None:
        return base, []
    try:
        changes = _sort_changes(engine.lister.diff(container_id) or [], base)
        files: dict[str, FileBlob] = {}
        for entry in sorted(changes.touched):
            files.update(_copy_entry(engine, container_id, entry))
    except Exception as e:  # the container went away or the engine failed mid-read
        problem = Problem(ProblemKind.UNREADABLE,
                          f"container {container_id[:12]}: its changes could not be read "
                          f"({error_line(e)}); showing its image's packages")
        return overlay(base, removed=(), replaced=(),
                       update=SiteContents(problems=(problem,))), []
    update = site_contents(files)
    replaced = changes.touched | changes.deleted
    merged = overlay(base, removed=changes.removed, replaced=replaced, update=update)
    return merged, sorted(replaced | set(changes.removed))


def _copy_entry(engine: Engine, container_id: str, entry: str) -> dict[str, FileBlob]:
    """Read one site-packages entry out of the container (`docker cp`); {} if it is gone."""
    import docker.errors

    site, _, name = entry.rpartition("/")
    try:
        chunks, _stat = engine.bulk.get_archive(container_id, entry)
    except docker.errors.NotFound:
        return {}
    try:
        if name.startswith("~"):
            # A leftover only needs to exist; it can be a whole package's worth of files.
            return {entry.lstrip("/"): FileBlob(is_dir=True)}
        with tarfile.open(fileobj=buffered(chunks), mode="r|") as tf:
            return read_tree(tf, root=site.lstrip("/")).files
    finally:
        with contextlib.suppress(Exception):
            chunks.close()
