"""Docker images and containers, through docker-py and the user's engine, read statically.

Which engine: DOCKER_HOST (with DOCKER_TLS_VERIFY / DOCKER_CERT_PATH), else the docker
context named by DOCKER_CONTEXT or by `currentContext` in the docker config file
($DOCKER_CONFIG or ~/.docker/config.json), else the default socket — the docker CLI's
own order. An engine that cannot be reached (no socket, daemon down, permission denied,
TLS failure, timeout) is reported once, as one ENGINE problem with a hint, and nothing is
listed; the rest of the inventory carries on.

Images: the listing gives tags, ID, size and creation time; the containers listing says
which containers use each image and, inspected, when they last ran. An image is named by
its first tag in sorted order, or by its short ID when it has none (dangling). The Python
packages inside an image are read from its layers without starting anything (see
image_layers) and cached by image ID, which names immutable content. They are the union of
every site-packages / dist-packages directory in the image, each package's `location` its
metadata path inside the image; a name found in two directories is a `duplicate` problem
and the directory first in path order wins. `python` is the X.Y of those directories.

Containers: the image's packages with the container's own changes applied. `diff` names
what changed in the container's writable layer; each changed site-packages entry is then
copied out with `get_archive` (`docker cp`, which does not start the container) and read
the same way. Containers are never started by inspection. `size_bytes` is the container's
own writable layer (SizeRw; its image is counted on the image), `details["size_root_fs"]`
the whole filesystem; `last_used` is its last start or finish, an image's the newest of
its containers' (null when none ever ran).

docker-py is imported only when something needs it (a unix:// engine is listed without it,
see engine_socket), and the reading of images and containers lives in docker_contents,
imported only when one is read: every scan lists the engine, and startup time matters.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import threading
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from envtui.inspectors.base import Inspector, Location, ScanContext
from envtui.inspectors.cache import Cache
from envtui.model import Environment, EnvKind, Problem, ProblemKind

if TYPE_CHECKING:
    from envtui.inspectors.image_layers import SiteContents

DEFAULT_HOST = "unix:///var/run/docker.sock"
CONNECT_TIMEOUT = 3.0
"""Seconds to wait for the engine's first answer: an absent engine must not stall a scan."""
LIST_TIMEOUT = 60.0
"""Seconds per request for listings (`size=True` makes the engine add up every container)."""
STREAM_TIMEOUT = 600.0
"""Seconds without data before an image save or a copy is given up (a big legacy save is
prepared in full before its first byte)."""
CACHE_NAMESPACE = "docker-image"
CACHE_SCHEMA = 1
"""Bump when what is cached per image changes; older entries then become misses."""
MANAGER = "docker"
_ZERO_TIME = "0001-01-01"


class EngineError(Exception):
    """The engine cannot be used; the message is the one line shown to the user."""


# --- which engine ----------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """Where the engine is and how to talk to it."""

    url: str
    """As the user wrote it: unix:///..., tcp://host:port, ssh://..."""
    source: str
    """Where the URL came from, for messages: DOCKER_HOST, a docker context, the default."""
    tls: bool = False
    """Talk TLS to a tcp:// engine."""
    tls_verify: bool = False
    """Verify the engine's certificate (against ca.pem when there is one)."""
    cert_dir: str | None = None
    """Directory holding ca.pem / cert.pem / key.pem."""


def resolve_endpoint(home: Path, environ: Mapping[str, str]) -> Endpoint:
    """The engine the docker CLI would use with this HOME and environment.

    Raises EngineError when the selected docker context cannot be read.
    """
    host = environ.get("DOCKER_HOST")
    if host:
        verify = bool(environ.get("DOCKER_TLS_VERIFY"))
        cert_dir = environ.get("DOCKER_CERT_PATH") or None
        return Endpoint(
            url=host, source="DOCKER_HOST",
            tls=verify or cert_dir is not None or bool(environ.get("DOCKER_TLS")),
            tls_verify=verify,
            cert_dir=cert_dir or str(home / ".docker"),
        )
    config_dir = Path(environ.get("DOCKER_CONFIG") or home / ".docker")
    name = environ.get("DOCKER_CONTEXT") or _current_context(config_dir)
    if name and name != "default":
        return _context_endpoint(config_dir, name)
    return Endpoint(url=DEFAULT_HOST, source="default socket")


def _current_context(config_dir: Path) -> str | None:
    try:
        with open(config_dir / "config.json", "rb") as f:
            config = json.load(f)
    except (OSError, ValueError, RecursionError):
        return None  # no or unreadable config: the CLI then uses the default context too
    name = config.get("currentContext") if isinstance(config, dict) else None
    return name if isinstance(name, str) else None


def _context_endpoint(config_dir: Path, name: str) -> Endpoint:
    # "replace": a JSON "\ud800" cannot be encoded; the context then simply is not found.
    digest = hashlib.sha256(name.encode("utf-8", "replace")).hexdigest()
    meta_path = config_dir / "contexts" / "meta" / digest / "meta.json"
    source = f"docker context {name!r}"
    try:
        with open(meta_path, "rb") as f:
            meta = json.load(f)
        docker_ep = meta["Endpoints"]["docker"]
        url = str(docker_ep["Host"])
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as e:
        raise EngineError(
            f"{source} cannot be read ({meta_path}: {error_line(e)}); run `docker context use "
            "default` or set DOCKER_HOST to the engine to use"
        ) from e
    tls_dir = config_dir / "contexts" / "tls" / digest / "docker"
    has_tls = tls_dir.is_dir()
    return Endpoint(
        url=url, source=source, tls=has_tls,
        tls_verify=has_tls and not docker_ep.get("SkipTLSVerify", False),
        cert_dir=str(tls_dir) if has_tls else None,
    )


def _tls_config(ep: Endpoint) -> Any:
    """docker-py's TLSConfig for the endpoint, or False for plain connections."""
    if not ep.tls or not ep.url.startswith(("tcp://", "https://")):
        return False
    from docker.tls import TLSConfig

    cert_dir = Path(ep.cert_dir or ".")
    ca, cert, key = (cert_dir / n for n in ("ca.pem", "cert.pem", "key.pem"))
    client = (str(cert), str(key)) if cert.is_file() and key.is_file() else None
    # Without a ca.pem, verification falls back to the system's trust store, as curl does.
    ca_cert = str(ca) if ep.tls_verify and ca.is_file() else None
    return TLSConfig(client_cert=client, ca_cert=ca_cert, verify=ep.tls_verify)


# --- explaining failures ---------------------------------------------------------------


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps (docker-py wraps requests wraps urllib3...)."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        nested = [e.__cause__, e.__context__, getattr(e, "reason", None), *e.args]
        todo += [x for x in nested if isinstance(x, BaseException)]


def _errno_of(exc: BaseException) -> int | None:
    for e in _chain(exc):
        if isinstance(e, OSError) and e.errno:
            return e.errno
    return None


def error_line(exc: BaseException) -> str:
    """An exception as one line of at most 200 characters."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def describe_failure(exc: BaseException, ep: Endpoint) -> str:
    """One actionable line for an engine that could not be used."""
    import ssl  # here, not at the top: a warm listing never needs it

    where = f"Docker engine at {ep.url} ({ep.source})"
    chain = list(_chain(exc))
    # Matched by name: requests, urllib3 and ssl each have their own SSLError class.
    tls = next((e for e in chain if isinstance(e, ssl.SSLError)
                or "SSLError" in type(e).__name__ or "TLSParameterError" in type(e).__name__),
               None)
    if tls is not None:
        return (f"{where}: TLS failed ({error_line(tls)}); check DOCKER_CERT_PATH (ca.pem, "
                "cert.pem, key.pem), DOCKER_TLS_VERIFY and that DOCKER_HOST names the right host "
                "and port")
    code = _errno_of(exc)
    start = ("start Docker (sudo systemctl start docker, or systemctl --user start docker "
             "for rootless Docker) or set DOCKER_HOST to a running engine")
    if code in (errno.EACCES, errno.EPERM):
        return (f"{where}: permission denied on the socket; add your user to the docker group "
                "(sudo usermod -aG docker $USER, then log in again), use rootless Docker, or "
                "set DOCKER_HOST to an engine you may use")
    if code == errno.ENOENT:
        return f"{where}: no socket there; {start}"
    if code == errno.ECONNREFUSED:
        return f"{where}: connection refused (is the daemon running?); {start}"
    if any(isinstance(e, TimeoutError) or "Timeout" in type(e).__name__ for e in chain):
        return (f"{where}: no answer in time; check that the engine is up and that "
                "DOCKER_HOST or the docker context points at it")
    return f"{where}: {error_line(exc)}; check DOCKER_HOST or the docker context"


# --- talking to the engine -------------------------------------------------------------


class Engine:
    """Clients for one engine: one to list with, and docker-py ones made when first needed.

    A unix:// engine is listed through engine_socket's small client, so a warm listing
    never imports docker-py; other engines (tcp://, ssh://, TLS) use docker-py throughout.
    Either way the engine is asked its API version here, so a dead one fails at once.
    """

    def __init__(self, ep: Endpoint, cache: Cache) -> None:
        self.endpoint = ep
        self.cache = cache
        self._tls = _tls_config(ep)
        self._api: Any = None
        self._bulk: Any = None
        self._lock = threading.Lock()
        # What listing calls: containers(all, size), images(), inspect_container, diff.
        self.lister: Any
        if ep.url.startswith("unix:///"):
            from envtui.inspectors.engine_socket import SocketClient

            self.lister = SocketClient(ep.url, timeout=CONNECT_TIMEOUT)
        else:
            # version="auto" asks the engine at once.
            self._api = self._docker_py(version="auto", timeout=CONNECT_TIMEOUT)
            self.lister = self._api
        self.lister.timeout = LIST_TIMEOUT
        self.api_version = str(self.lister.api_version)

    def _docker_py(self, version: str, timeout: float) -> Any:
        import docker

        return docker.APIClient(base_url=self.endpoint.url, version=version, timeout=timeout,
                                tls=self._tls)

    @property
    def api(self) -> Any:
        """docker-py's low-level client, for any other call (a known version: no round trip)."""
        with self._lock:
            if self._api is None:
                self._api = self._docker_py(self.api_version, LIST_TIMEOUT)
            return self._api

    @property
    def bulk(self) -> Any:
        """A docker-py client with a long read timeout, for image saves and copies."""
        with self._lock:
            if self._bulk is None:
                self._bulk = self._docker_py(self.api_version, STREAM_TIMEOUT)
            return self._bulk

    def image_archive(self, image_id: str) -> Generator[bytes, None, None]:
        """The image's archive (`docker save`) as it arrives; close() hangs up. A unix://
        engine streams it through the small client, sparing the import of docker-py."""
        from envtui.inspectors.engine_socket import SocketClient

        if isinstance(self.lister, SocketClient):
            return self.lister.get_image(image_id, STREAM_TIMEOUT)
        return self.bulk.get_image(image_id)  # type: ignore[no-any-return]

    def close(self) -> None:
        for client in (self.lister, self._api, self._bulk):  # closing twice is harmless
            if client is not None:
                with contextlib.suppress(Exception):
                    client.close()


def _container_states(api: Any, containers: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each container's State (start and finish times), inspected a few at a time."""

    def state(cid: str) -> tuple[str, dict[str, Any]]:
        try:
            return cid, dict(api.inspect_container(cid).get("State") or {})
        except Exception:  # removed since the listing, or the engine hiccuped: no times
            return cid, {}

    if not containers:
        return {}
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(min(8, len(containers)), thread_name_prefix="envtui-docker") as pool:
        return dict(pool.map(state, [str(c["Id"]) for c in containers]))


# --- times and names -------------------------------------------------------------------


def _iso_from_unix(ts: Any) -> str | None:
    if not isinstance(ts, int | float) or ts <= 0:
        return None
    return datetime.fromtimestamp(ts, UTC).replace(microsecond=0).isoformat()


def _iso_from_engine(text: Any) -> str | None:
    """Docker's RFC 3339 times (nanoseconds, `Z`) as ISO 8601 UTC seconds; zero -> None."""
    if not isinstance(text, str) or not text or text.startswith(_ZERO_TIME):
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.astimezone(UTC).replace(microsecond=0).isoformat()


def _newest(*times: str | None) -> str | None:
    # Every time here is UTC ISO 8601 of one format, so text order is time order.
    present = [t for t in times if t]
    return max(present) if present else None


def _container_name(c: Mapping[str, Any]) -> str:
    names = c.get("Names") or []
    return str(names[0]).lstrip("/") if names else str(c.get("Id", ""))[:12]


def _tags(img: Mapping[str, Any]) -> list[str]:
    return sorted(t for t in img.get("RepoTags") or [] if t and t != "<none>:<none>")


def short_id(ident: str) -> str:
    """An image or container ID as Docker prints it: 12 hex digits."""
    return ident.removeprefix("sha256:")[:12]


def _last_used(state: Mapping[str, Any]) -> str | None:
    return _newest(_iso_from_engine(state.get("StartedAt")),
                   _iso_from_engine(state.get("FinishedAt")))


# --- the inspector ---------------------------------------------------------------------


@dataclass
class _ImageMemo:
    """Image contents already read in this process, and one lock per image being read."""

    contents: dict[str, SiteContents] = field(default_factory=dict)
    locks: dict[str, threading.Lock] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def lock_for(self, image_id: str) -> threading.Lock:
        with self.lock:
            return self.locks.setdefault(image_id, threading.Lock())


class DockerInspector(Inspector):
    """Docker images and containers of the engine the user's configuration points at.

    One instance serves both kinds (the registry builds it once); `kinds` says which of
    images and containers to list. `locate` connects and lists; `read` uses the same
    connection, so a Location must come from this instance's `locate`.
    """

    kind: ClassVar[EnvKind] = EnvKind.IMAGE  # it also yields EnvKind.CONTAINER locations

    def __init__(self, kinds: Iterable[EnvKind] = (EnvKind.IMAGE, EnvKind.CONTAINER)) -> None:
        self.kinds = frozenset(kinds) & {EnvKind.IMAGE, EnvKind.CONTAINER}
        self.images_streamed = 0
        """How many image archives this instance streamed from the engine (cache misses)."""
        self._engine: Engine | None = None
        self._memo = _ImageMemo()
        self._count_lock = threading.Lock()

    # -- locate --

    def locate(self, ctx: ScanContext) -> list[Location]:
        """Images and containers of the engine; one ENGINE problem if it cannot be used."""
        if not self.kinds:
            return []
        self.close()
        try:
            ep = resolve_endpoint(ctx.home, ctx.environ)
        except EngineError as e:
            ctx.report(Problem(ProblemKind.ENGINE, str(e)))
            return []
        try:
            self._engine = Engine(ep, Cache(ctx.cache_dir))
            return self._list(self._engine)
        except Exception as e:  # docker-py, requests and OSError all signal a dead engine
            ctx.report(Problem(ProblemKind.ENGINE, describe_failure(e, ep)))
            self.close()
            return []

    def close(self) -> None:
        """Drop the connection to the engine (a later `locate` makes a new one)."""
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    def _list(self, engine: Engine) -> list[Location]:
        api = engine.lister
        # Containers are listed even for images alone: they say which images are in use.
        containers = [dict(c) for c in api.containers(all=True, size=True)]
        states = _container_states(api, containers)
        found: list[Location] = []
        if EnvKind.IMAGE in self.kinds:
            found += self._image_locations(api.images(), containers, states)
        if EnvKind.CONTAINER in self.kinds:
            for c in containers:
                data = {**c, "StateDetail": states.get(str(c["Id"]), {})}
                found.append(Location(EnvKind.CONTAINER, str(c["Id"]), data=data))
        return found

    def _image_locations(self, images: Iterable[Mapping[str, Any]],
                         containers: list[dict[str, Any]],
                         states: Mapping[str, Mapping[str, Any]]) -> list[Location]:
        users: dict[str, list[str]] = {}
        used: dict[str, str | None] = {}
        for c in containers:
            image_id = str(c.get("ImageID", ""))
            users.setdefault(image_id, []).append(_container_name(c))
            used[image_id] = _newest(used.get(image_id), _last_used(states.get(str(c["Id"]), {})))
        found = []
        for img in images:
            ident = str(img["Id"])
            data = {**img, "UsedBy": sorted(users.get(ident, [])), "LastUsed": used.get(ident)}
            found.append(Location(EnvKind.IMAGE, ident, data=data))
        return found

    # -- fingerprint --

    def fingerprint(self, loc: Location) -> str | None:
        """Images: ID, tags, users and last use (the layers' reading is cached by ID apart).

        Containers: None. Their writable layer can change while running and even while
        stopped (`docker cp` into them), and nothing cheap tells; the image part of their
        reading is cached by image ID anyway.
        """
        if loc.kind is not EnvKind.IMAGE:
            return None
        d = loc.data
        parts = [loc.ref, ",".join(_tags(d)), ",".join(d.get("UsedBy", [])),
                 str(d.get("LastUsed")), str(d.get("Size")), f"v{CACHE_SCHEMA}"]
        return "|".join(parts)

    # -- read --

    def read(self, loc: Location) -> Environment:
        """The image or container at `loc`, with its Python packages, read statically."""
        engine = self._engine
        if loc.kind is EnvKind.CONTAINER:
            return self._read_container(engine, loc)
        return self._read_image(engine, loc)

    def _read_image(self, engine: Engine | None, loc: Location) -> Environment:
        d = loc.data
        tags = _tags(d)
        contents = self.image_contents(engine, loc.ref)
        packages, problems = contents.deduped()
        return Environment(
            kind=EnvKind.IMAGE,
            name=tags[0] if tags else short_id(loc.ref),
            manager=MANAGER,
            id=loc.ref,
            python=contents.python,
            packages=packages,
            size_bytes=d.get("Size"),
            last_used=d.get("LastUsed"),
            created=_iso_from_unix(d.get("Created")),
            problems=problems,
            details={
                "tags": tags,
                "dangling": not tags,
                "short_id": short_id(loc.ref),
                "used_by": list(d.get("UsedBy", [])),
                "repo_digests": sorted(d.get("RepoDigests") or []),
                "site_packages": list(contents.site_dirs),
            },
        )

    def _read_container(self, engine: Engine | None, loc: Location) -> Environment:
        d = loc.data
        state = d.get("StateDetail") or {}
        from envtui.inspectors.docker_contents import container_contents

        base = self.image_contents(engine, str(d.get("ImageID", "")))
        contents, changed = container_contents(engine, loc.ref, base)
        packages, problems = contents.deduped()
        return Environment(
            kind=EnvKind.CONTAINER,
            name=_container_name(d),
            manager=MANAGER,
            id=loc.ref,
            python=contents.python,
            packages=packages,
            size_bytes=int(d.get("SizeRw") or 0),
            reclaimable_bytes=int(d.get("SizeRw") or 0),
            last_used=_last_used(state),
            created=_iso_from_unix(d.get("Created")),
            problems=problems,
            details={
                "image": d.get("Image"),
                "image_id": d.get("ImageID"),
                "state": d.get("State"),
                "status": d.get("Status"),
                "size_rw": int(d.get("SizeRw") or 0),
                "size_root_fs": int(d.get("SizeRootFs") or 0),
                "started_at": _iso_from_engine(state.get("StartedAt")),
                "finished_at": _iso_from_engine(state.get("FinishedAt")),
                "site_packages": list(contents.site_dirs),
                "changed": changed,
            },
        )

    def image_contents(self, engine: Engine | None, image_id: str) -> SiteContents:
        """An image's packages: from memory, the persistent cache, or its layers.

        Kept in memory for this instance's life (one scan), failures too, so the containers
        of an image whose save broke do not each ask the engine again; only successful
        reads go to the persistent cache.
        """
        with self._memo.lock_for(image_id):
            known = self._memo.contents.get(image_id)
            if known is None:
                from envtui.inspectors.docker_contents import load_or_stream

                known = load_or_stream(engine, image_id, self._count_stream)
                self._memo.contents[image_id] = known
            return known

    def _count_stream(self) -> None:
        with self._count_lock:
            self.images_streamed += 1

