"""Where the disk went, machine-wide: `docker system df`, but for every kind of environment.

Filesystem environments are walked again here, together, so that bytes shared between them
(uv hardlinks every environment's files from one cache; conda links from `pkgs/`) are counted
once in the totals. A file is reclaimable when every one of its hardlinks lies inside the
environments cleanup suggests removing; a file also linked from a package cache or from an
environment that stays is not freed by removing them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from envtui.cleanup.facts import CleanupFacts, identity, removable_candidates
from envtui.inspectors.base import ScanContext
from envtui.inspectors.fsinfo import Tally
from envtui.model import Environment, EnvKind, Problem

KIND_LABELS = {EnvKind.VENV: "venvs", EnvKind.CONDA: "conda envs",
               EnvKind.IMAGE: "docker images", EnvKind.CONTAINER: "docker containers"}


@dataclass(frozen=True)
class UsageRow:
    """One line of the summary."""

    label: str
    total: int
    """How many there are."""
    active: int
    """How many are in use (not suggested for removal)."""
    size_bytes: int
    """Bytes on disk, shared bytes counted once."""
    reclaimable_bytes: int
    """Bytes freed by removing the suggested ones."""


class UsageCancelled(Exception):
    """The walk was cancelled."""


def _skip(env: Environment) -> tuple[Path, ...]:
    # A base env's size leaves out the other envs and the package cache, as the inspector does.
    if env.base and env.path:
        return (Path(env.path) / "envs", Path(env.path) / "pkgs")
    return ()


def filesystem_rows(envs: Sequence[Environment], candidates: set[str], *,
                    progress: Callable[[int, int, str], None] | None = None,
                    cancelled: Callable[[], bool] | None = None,
                    ) -> tuple[list[UsageRow], list[Problem]]:
    """Rows for venvs and conda envs, plus a walk of them all with shared bytes counted once."""
    problems: list[Problem] = []
    rows: list[UsageRow] = []
    walked = [e for e in envs if e.kind in (EnvKind.VENV, EnvKind.CONDA) and e.path]
    for n, kind in enumerate((EnvKind.VENV, EnvKind.CONDA)):
        members = [e for e in walked if e.kind is kind]
        tally = Tally()
        for i, env in enumerate(members):
            if cancelled is not None and cancelled():
                raise UsageCancelled
            if progress is not None:
                progress(i + n * len(walked), 2 * len(walked), env.ref)
            tally.add(Path(str(env.path)), problems, _skip(env),
                      removed=identity(env) in candidates)
        active = sum(identity(e) not in candidates for e in members)
        rows.append(UsageRow(KIND_LABELS[kind], len(members), active, tally.size, tally.freed))
    return rows, problems


def docker_rows(envs: Iterable[Environment], candidates: set[str]) -> list[UsageRow]:
    """Rows for images and containers from the inventory's own sizes. Images share layers
    and the listing does not say which, so their size is the engine's per-image size summed;
    `docker_cleanup.docker_usage` gives the engine's exact, layer-aware numbers."""
    rows = []
    for kind in (EnvKind.IMAGE, EnvKind.CONTAINER):
        members = [e for e in envs if e.kind is kind]
        chosen = [e for e in members if identity(e) in candidates]
        rows.append(UsageRow(KIND_LABELS[kind], len(members), len(members) - len(chosen),
                             sum(e.size_bytes or 0 for e in members),
                             sum(e.size_bytes or 0 for e in chosen)))
    return rows


def engine_rows(ctx: ScanContext, envs: Sequence[Environment],
                candidates: set[str]) -> list[UsageRow]:
    """Images and containers as the engine counts them (shared layers once), when the
    inventory has any and the engine answers; else from the inventory's own sizes."""
    if not any(e.kind in (EnvKind.IMAGE, EnvKind.CONTAINER) for e in envs):
        return docker_rows(envs, candidates)
    from envtui.cleanup import Refused
    from envtui.cleanup.docker_cleanup import DockerActionError, docker_usage
    from envtui.cleanup.remover import docker_api

    try:
        with docker_api(ctx) as api:
            usage = docker_usage(api)
    except (Refused, DockerActionError):
        return docker_rows(envs, candidates)
    return [usage.images, usage.containers]


def total_row(rows: Sequence[UsageRow]) -> UsageRow:
    return UsageRow("total", sum(r.total for r in rows), sum(r.active for r in rows),
                    sum(r.size_bytes for r in rows), sum(r.reclaimable_bytes for r in rows))


def candidate_ids(envs: Iterable[Environment], facts: dict[str, CleanupFacts]) -> set[str]:
    """Identities of what cleanup suggests removing."""
    return {identity(e) for e in removable_candidates(envs, facts)}
