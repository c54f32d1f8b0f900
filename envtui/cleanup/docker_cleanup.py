"""Removing Docker images and containers safely, pruning dangling images, and disk usage.

Every decision is taken from what the engine says now, never from an inventory that may be
minutes old: a plan asks the engine which containers use an image, and execution asks again,
so a container created in between stops the removal unless the user forced it. The engine's
own refusals are the last line: removals are unforced unless the user forced them.

Two engine rules shape the checks. An image a running container uses cannot be removed even
forced, and neither can one with dependent child images, so both are refused up front with the
way out. An image with several tags is only deleted unforced once it has one name left, so the
extra tags are removed first.

docker-py is imported only when an engine call fails: the `api` objects come from the caller.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from envtui.cleanup import Refused, Removal
from envtui.cleanup.usage import KIND_LABELS, UsageRow
from envtui.inspectors.docker import short_id
from envtui.model import Environment, EnvKind

IMAGE_MARKER = "docker image"
CONTAINER_MARKER = "docker container"
ACTIVE_STATES = frozenset({"running", "paused", "restarting"})
"""Container states the engine will not remove unforced (docker's `system df` calls them
active too)."""
_NO_TAG = "<none>:<none>"


class DockerActionError(Exception):
    """The engine refused or failed an action; the message is the engine's own, one line."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        """The HTTP status the engine answered with (404 gone, 409 conflict), when any."""


# --- talking to the engine -------------------------------------------------------------


def _one_line(text: str) -> str:
    return "; ".join(line.strip() for line in text.strip().splitlines() if line.strip())


@contextlib.contextmanager
def _engine_errors() -> Iterator[None]:
    """docker-py / requests failures as DockerActionError with the engine's message."""
    try:
        yield
    except (Refused, DockerActionError):
        raise
    except Exception as e:
        import docker.errors

        if isinstance(e, docker.errors.APIError):
            text = e.explanation if isinstance(e.explanation, str) and e.explanation else str(e)
            raise DockerActionError(_one_line(text), e.status_code) from e
        if isinstance(e, docker.errors.DockerException | OSError) or _is_requests_error(e):
            raise DockerActionError(_one_line(str(e)) or type(e).__name__) from e
        raise


def _is_requests_error(exc: Exception) -> bool:
    import requests

    return isinstance(exc, requests.RequestException)


def _gone(e: DockerActionError) -> bool:
    return e.status == 404


def _inspect_image(api: Any, ident: str) -> dict[str, Any]:
    with _engine_errors():
        return dict(api.inspect_image(ident))


def _inspect_container(api: Any, ident: str) -> dict[str, Any]:
    with _engine_errors():
        return dict(api.inspect_container(ident))


def _containers(api: Any) -> list[dict[str, Any]]:
    with _engine_errors():
        return [dict(c) for c in api.containers(all=True)]


# --- names -----------------------------------------------------------------------------


def _tags(image: Mapping[str, Any]) -> list[str]:
    return sorted(t for t in image.get("RepoTags") or [] if t and t != _NO_TAG)



def _container_name(c: Mapping[str, Any]) -> str:
    names = c.get("Names") or []
    return str(names[0]).lstrip("/") if names else short_id(str(c.get("Id", "")))


def _plural(word: str, items: Collection[Any]) -> str:
    return word if len(items) == 1 else f"{word}s"


# --- who uses an image -----------------------------------------------------------------


@dataclass(frozen=True)
class _User:
    name: str
    state: str

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    def __str__(self) -> str:
        return f"{self.name} ({self.state})"


def _users(api: Any, image_id: str) -> list[_User]:
    """Containers, running or not, made from exactly this image, asked of the engine now."""
    found = [_User(_container_name(c), str(c.get("State") or "unknown"))
             for c in _containers(api) if c.get("ImageID") == image_id]
    return sorted(found, key=lambda u: u.name)


def _children(api: Any, image_id: str) -> list[str]:
    """Images built on this one (the classic builder's parent links); the engine keeps it.

    Named by their nearest tagged descendants, as the direct children are often the
    builder's untagged intermediate images.
    """
    with _engine_errors():
        images = [dict(i) for i in api.images(all=True)]
    below: dict[str, list[dict[str, Any]]] = {}
    for image in images:
        below.setdefault(str(image.get("ParentId") or ""), []).append(image)
    names: set[str] = set()
    todo = list(below.get(image_id, []))
    while todo:
        image = todo.pop()
        tags, kids = _tags(image), below.get(str(image["Id"]), [])
        if tags or not kids:
            names.add(tags[0] if tags else short_id(str(image["Id"])))
        else:
            todo += kids
    return sorted(names)


def _check_image(api: Any, ref: str, image_id: str, *, force: bool) -> list[_User]:
    """Refused unless the image may go now; returns the containers a forced removal ignores."""
    children = _children(api, image_id)
    if children:
        raise Refused(f"{ref} has dependent child {_plural('image', children)} "
                      f"{', '.join(children)}; remove them first")
    users = _users(api, image_id)
    running = [u.name for u in users if u.active]
    listed = ", ".join(map(str, users))
    if running and force:
        raise Refused(f"{ref} is used by running {_plural('container', running)} "
                      f"{', '.join(running)}; stop {'it' if len(running) == 1 else 'them'} "
                      "first (the engine keeps an image a running container uses, even forced)")
    if users and not force:
        then = f"stop {', '.join(running)} first, then " if running else ""
        raise Refused(f"{ref} is used by {_plural('container', users)} {listed}; "
                      f"{then}--force removes it anyway")
    return users


# --- planning and executing one removal ------------------------------------------------


def plan_docker_removal(api: Any, env: Environment, *, force: bool = False) -> Removal:
    """What removing this image or container will do, checked against the engine now.

    Raises Refused when it must not go (in use, running, has child images) and
    DockerActionError when the engine fails or no longer knows it.
    """
    if env.kind is EnvKind.IMAGE:
        return _plan_image(api, env, force=force)
    if env.kind is EnvKind.CONTAINER:
        return _plan_container(api, env, force=force)
    raise Refused(f"{env.ref} is not a Docker image or container")


def _plan_image(api: Any, env: Environment, *, force: bool) -> Removal:
    image = _inspect_image(api, env.id or env.name)
    image_id = str(image["Id"])
    users = _check_image(api, env.ref, image_id, force=force)
    notes: list[str] = []
    if users:
        notes.append(f"forced: used by {_plural('container', users)} "
                     f"{', '.join(map(str, users))}, which are kept")
    tags = _tags(image)
    if len(tags) > 1:
        notes.append(f"removes every tag: {', '.join(tags)}")
    return Removal(ref=env.ref, kind=EnvKind.IMAGE, target=image_id,
                   size_bytes=_int_or_none(image.get("Size")), marker=IMAGE_MARKER,
                   notes=tuple(notes), force=force)


def _plan_container(api: Any, env: Environment, *, force: bool) -> Removal:
    info = _inspect_container(api, env.id or env.name)
    state = _container_state(info)
    if state in ACTIVE_STATES and not force:
        raise Refused(f"{env.ref} is {state}; stop it first or --force")
    image = (info.get("Config") or {}).get("Image") or short_id(str(info.get("Image")))
    notes = [f"image {image}"]
    if state in ACTIVE_STATES:
        notes.append(f"forced: {state}, the engine kills it")
    volumes = sorted(str(m.get("Name")) for m in info.get("Mounts") or []
                     if m.get("Type") == "volume" and m.get("Name"))
    if volumes:
        notes.append(f"{_plural('volume', volumes)} kept: {', '.join(volumes)}")
    return Removal(ref=env.ref, kind=EnvKind.CONTAINER, target=str(info["Id"]),
                   size_bytes=_container_size(api, str(info["Id"])),
                   marker=CONTAINER_MARKER, notes=tuple(notes), force=force)


def _container_state(info: Mapping[str, Any]) -> str:
    return str((info.get("State") or {}).get("Status") or "unknown")


def _container_size(api: Any, container_id: str) -> int | None:
    # Only the listing reports SizeRw, and asking for sizes of one container is cheap.
    with _engine_errors():
        rows = api.containers(all=True, size=True, filters={"id": container_id})
    return int(rows[0].get("SizeRw") or 0) if rows else None


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and value >= 0 else None


def execute_docker_removal(api: Any, removal: Removal) -> None:
    """Remove what `removal` names, after checking again that it still may go."""
    if removal.kind is EnvKind.IMAGE:
        _remove_image(api, removal)
    elif removal.kind is EnvKind.CONTAINER:
        _remove_container(api, removal)
    else:
        raise Refused(f"{removal.ref} is not a Docker image or container")


def _remove_image(api: Any, removal: Removal) -> None:
    image = _inspect_image(api, removal.target)
    _check_image(api, removal.ref, removal.target, force=removal.force)
    if removal.force:
        with _engine_errors():
            api.remove_image(removal.target, force=True)
        return
    extra = _tags(image)[1:]
    with _engine_errors():
        for tag in extra:
            api.remove_image(tag)
    try:
        with _engine_errors():
            api.remove_image(removal.target)
    except DockerActionError as e:
        if not extra:
            raise
        raise DockerActionError(f"{e} (already untagged: {', '.join(extra)})", e.status) from e


def _remove_container(api: Any, removal: Removal) -> None:
    state = _container_state(_inspect_container(api, removal.target))
    if state in ACTIVE_STATES and not removal.force:
        raise Refused(f"{removal.ref} is {state} now; stop it first or --force")
    with _engine_errors():
        api.remove_container(removal.target, v=False, force=removal.force)


# --- start / stop ----------------------------------------------------------------------


def start_container(api: Any, ident: str) -> None:
    """Start a container (an explicit user action: inspection never starts one)."""
    with _engine_errors():
        api.start(ident)


def stop_container(api: Any, ident: str, timeout: int = 10) -> None:
    """Stop a container: SIGTERM, then SIGKILL after `timeout` seconds, as `docker stop`."""
    with _engine_errors():
        api.stop(ident, timeout=timeout)


# --- pruning dangling images -----------------------------------------------------------


def plan_prune(api: Any, labels: Sequence[str] = ()) -> list[Removal]:
    """Dangling images (no tag) that no container uses, largest first; with `labels`
    (KEY or KEY=VALUE), only those carrying every one, as the engine's label filter."""
    filters: dict[str, Any] = {"dangling": True}
    if labels:
        filters["label"] = list(labels)
    with _engine_errors():
        dangling = [dict(i) for i in api.images(filters=filters)]
    used = {str(c.get("ImageID")) for c in _containers(api)}
    found = [i for i in dangling if not _tags(i) and str(i["Id"]) not in used]
    found.sort(key=lambda i: (-int(i.get("Size") or 0), str(i["Id"])))
    return [Removal(ref=f"image:{short_id(str(i['Id']))}", kind=EnvKind.IMAGE,
                    target=str(i["Id"]), size_bytes=_int_or_none(i.get("Size")),
                    marker=IMAGE_MARKER, notes=("dangling: no tag, no container",))
            for i in found]


def execute_prune(api: Any, removals: Sequence[Removal],
                  cancelled: Callable[[], bool] | None = None, *,
                  on_skip: Callable[[Removal, str], None] | None = None) -> list[str]:
    """Remove the planned dangling images that are still dangling and unused; their IDs.

    Each is checked again just before its removal; one that got a tag or a container since
    the plan, or that the engine refuses or no longer has, is skipped and `on_skip` told
    why. `cancelled` is asked before each image; failures to reach the engine raise.
    """
    removed: list[str] = []
    for removal in removals:
        if cancelled is not None and cancelled():
            break
        why = _prune_obstacle(api, removal)
        if why is None:
            why = _remove_dangling(api, removal.target)
        if why is None:
            removed.append(removal.target)
        elif on_skip is not None:
            on_skip(removal, why)
    return removed


def _prune_obstacle(api: Any, removal: Removal) -> str | None:
    """Why this image must not be pruned now, or None."""
    try:
        image = _inspect_image(api, removal.target)
    except DockerActionError as e:
        if _gone(e):
            return f"{removal.ref} is already gone"
        raise
    tags = _tags(image)
    if tags:
        return f"{removal.ref} was tagged {', '.join(tags)} since the plan"
    users = _users(api, removal.target)
    if users:
        return (f"{removal.ref} is now used by {_plural('container', users)} "
                f"{', '.join(map(str, users))}")
    return None


def _remove_dangling(api: Any, image_id: str) -> str | None:
    """Remove one image unforced; the engine's reason when it refused (a race), else None."""
    try:
        with _engine_errors():
            api.remove_image(image_id)
    except DockerActionError as e:
        if e.status in (404, 409):
            return str(e)
        raise
    return None


# --- disk usage ------------------------------------------------------------------------


@dataclass(frozen=True)
class DockerUsage:
    """Where the engine's disk goes, computed by envtui from one `df` answer."""

    images: UsageRow
    """size: every layer once; reclaimable: what removing every unused image frees, so
    layers an image in use shares are not counted (docker's own df counts them)."""
    containers: UsageRow
    """size: the writable layers; reclaimable: those of containers not running."""
    dangling_images: int
    dangling_bytes: int
    """What removing every dangling image would free."""
    unused_images: int
    stopped_containers: int
    exact: bool = True
    """False when some shared layer's size could not be told from the image history; the
    reclaimable figures are then lower bounds."""


def docker_usage(api: Any, *, df: Mapping[str, Any] | None = None) -> DockerUsage:
    """Disk usage from one `df` call, plus layer lists of images that share layers.

    `df` is an answer of the engine's df already at hand; its images and containers are the
    ones counted.
    """
    if df is None:
        with _engine_errors():
            df = dict(api.df())
    images = [dict(i) for i in df.get("Images") or []]
    containers = [dict(c) for c in df.get("Containers") or []]
    layers = _Layers(api, images)
    used = {str(c.get("ImageID")) for c in containers}
    unused = {str(i["Id"]) for i in images if str(i["Id"]) not in used}
    dangling = {str(i["Id"]) for i in images if not _tags(i)}
    images_row = UsageRow(label=KIND_LABELS[EnvKind.IMAGE], total=len(images),
                          active=len(images) - len(unused),
                          size_bytes=int(df.get("LayersSize") or 0),
                          reclaimable_bytes=layers.freed(unused))
    return DockerUsage(
        images=images_row, containers=_containers_row(containers),
        dangling_images=len(dangling), dangling_bytes=layers.freed(dangling),
        unused_images=len(unused),
        stopped_containers=sum(str(c.get("State")) not in ACTIVE_STATES for c in containers),
        exact=layers.exact)


def _containers_row(containers: list[dict[str, Any]]) -> UsageRow:
    # The engine leaves SizeRw out when it is zero.
    sizes = [(str(c.get("State")) in ACTIVE_STATES, int(c.get("SizeRw") or 0))
             for c in containers]
    return UsageRow(label=KIND_LABELS[EnvKind.CONTAINER], total=len(containers),
                    active=sum(a for a, _ in sizes),
                    size_bytes=sum(s for _, s in sizes),
                    reclaimable_bytes=sum(s for a, s in sizes if not a))


def freed_bytes(api: Any, image_ids: Collection[str]) -> int:
    """Bytes removing these images together would free: their layers no other image has.

    Containers are not considered: the caller decides which images may go.
    """
    with _engine_errors():
        images = [dict(i) for i in api.df().get("Images") or []]
    return _Layers(api, images).freed(set(image_ids))


class _Layers:
    """Which images share which layers, read only for images the engine says share some.

    The engine's df gives each image's Size and SharedSize (bytes in layers another image
    also has) but not which layers; those come from the image's RootFS (layer chain IDs,
    the identity the engine shares by) and its history (each layer's size).
    """

    def __init__(self, api: Any, images: list[dict[str, Any]]) -> None:
        self._api = api
        self._images = {str(i["Id"]): i for i in images}
        self._chains: dict[str, list[str]] | None = None
        self._sizes: dict[str, int] = {}
        self.exact = True

    def freed(self, ids: set[str]) -> int:
        """Own bytes of `ids` plus the shared layers no image outside `ids` has."""
        mine = [self._images[i] for i in ids if i in self._images]
        own = sum(max(int(i.get("Size") or 0) - _shared(i), 0) for i in mine)
        if not any(_shared(i) for i in mine):
            return own
        chains = self._load()
        users: dict[str, set[str]] = {}
        for image_id, image_chains in chains.items():
            for chain in image_chains:
                users.setdefault(chain, set()).add(image_id)
        freed = [c for c, who in users.items() if len(who) > 1 and who <= ids]
        if any(c not in self._sizes for c in freed):
            self.exact = False
        return own + sum(self._sizes.get(c, 0) for c in freed)

    def _load(self) -> dict[str, list[str]]:
        if self._chains is None:
            self._chains = {}
            for image_id, image in self._images.items():
                if _shared(image):
                    self._read(image_id)
        return self._chains

    def _read(self, image_id: str) -> None:
        assert self._chains is not None
        try:
            with _engine_errors():
                layers = list(self._api.inspect_image(image_id)["RootFS"]["Layers"] or [])
                history = [int(h.get("Size") or 0) for h in reversed(self._api.history(image_id))]
        except DockerActionError as e:
            if _gone(e):
                return  # removed since the df: it holds no layers any more
            raise
        chains = chain_ids(layers)
        self._chains[image_id] = chains
        for chain, size in zip(chains, layer_sizes(history, len(layers)), strict=True):
            if size is not None:
                self._sizes[chain] = size


def _shared(image: Mapping[str, Any]) -> int:
    return max(int(image.get("SharedSize") or 0), 0)


def chain_ids(diff_ids: Sequence[str]) -> list[str]:
    """Each layer's chain ID (OCI image spec): the layer with every layer below it."""
    out: list[str] = []
    for diff_id in diff_ids:
        if not out:
            out.append(diff_id)
        else:
            digest = hashlib.sha256(f"{out[-1]} {diff_id}".encode()).hexdigest()
            out.append(f"sha256:{digest}")
    return out


def layer_sizes(history: Sequence[int], layers: int) -> list[int | None]:
    """Each layer's size from the image history's sizes (oldest first), None where unknown.

    The history also has entries without a layer (ENV, LABEL...), shown with size 0 like a
    layer that added nothing, so an entry with bytes is a layer and zeros are ambiguous: a
    sized entry's layer is known only when the count of zero-size layers below it is forced.
    """
    sized = sum(1 for s in history if s > 0)
    zero_layers = layers - sized
    zeros = len(history) - sized
    out: list[int | None] = [None] * layers
    if zero_layers < 0 or zero_layers > zeros:
        return out  # history and layers disagree: nothing can be placed
    zeros_before = 0
    placed = 0
    for size in history:
        if size == 0:
            zeros_before += 1
            continue
        low = max(0, zero_layers - (zeros - zeros_before))
        high = min(zero_layers, zeros_before)
        if low == high:
            out[placed + low] = size
        placed += 1
    if sum(s is not None for s in out) == sized:
        return [s or 0 for s in out]  # every sized entry placed: the rest added nothing
    return out
