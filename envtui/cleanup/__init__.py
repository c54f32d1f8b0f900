"""Cleanup: where the disk went, what is stale, broken or duplicated, and safe removal.

`Removal` is what a removal will do, shown as the preview before anything is asked;
`Refused` carries the one-line reason a target cannot be removed. Filesystem environments
are handled by `fs_removal`, Docker objects by `docker_cleanup`.
"""

from __future__ import annotations

from dataclasses import dataclass

from envtui.model import EnvKind


class Refused(Exception):
    """A removal that must not happen; the message is one line naming the target and why."""


@dataclass(frozen=True)
class Removal:
    """One planned removal, checked and ready to show in a preview."""

    ref: str
    """How the command line names the target (env.ref)."""
    kind: EnvKind
    """venv, conda, image or container."""
    target: str
    """The real prefix path (resolved) for filesystem kinds; the full ID for Docker."""
    size_bytes: int | None
    """Bytes on disk (for Docker, the engine's size), when known."""
    marker: str
    """What identifies it: "pyvenv.cfg", "conda-meta/history", "docker image", ..."""
    notes: tuple[str, ...] = ()
    """Extra lines for the preview (containers using a forced image, environments.txt)."""
    force: bool = False
    """Whether the user forced it (images in use, running containers)."""
