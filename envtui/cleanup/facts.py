"""What makes an environment a cleanup candidate: stale, broken, duplicated, unused.

Computed from an inventory alone (no disk access), so the CLI and the TUI can tag every
row cheaply. "Stale" means no evidence of use for `stale_days` (fsinfo's last use: the
prefix, its scripts, site-packages and metadata directories; for Docker, the last container
run). Duplicates are environments of the same Python (X.Y) holding exactly the same packages
at the same versions; Docker objects are left out, as an image's containers share its
packages by design.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from envtui.model import Environment, EnvKind, ProblemKind


class Reason(StrEnum):
    """Why an environment is a cleanup candidate; stable identifiers for `--json`."""

    STALE = "stale"
    BROKEN = "broken"
    DUPLICATE = "duplicate"
    DANGLING = "dangling"
    UNUSED = "unused"
    STOPPED = "stopped"


BROKEN_KINDS = frozenset({ProblemKind.BROKEN, ProblemKind.INCOMPLETE,
                          ProblemKind.INTERRUPTED, ProblemKind.CORRUPTED})
"""Problems that leave an environment unusable or half-installed."""


@dataclass(frozen=True)
class CleanupFacts:
    """One environment's cleanup tags, with a phrase for each."""

    reasons: tuple[Reason, ...] = ()
    details: tuple[str, ...] = ()
    """One short phrase per reason, in the same order ("not used for 212 days")."""
    idle_days: int | None = None
    """Whole days since the last evidence of use; None when there is none."""
    duplicates: tuple[str, ...] = ()
    """Refs of the environments holding the same packages."""
    kept: bool = False
    """The one of its group of duplicates that cleanup keeps (the most recently used)."""


def identity(env: Environment) -> str:
    """A key unique within one inventory: the Docker ID or the prefix."""
    return env.id or env.path or f"{env.kind}:{env.name}"


def idle_days(env: Environment, now: datetime) -> int | None:
    if not env.last_used:
        return None
    try:
        then = datetime.fromisoformat(env.last_used)
    except ValueError:
        return None
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    return max(0, (now - then).days)


def package_set(env: Environment) -> frozenset[tuple[str, str]]:
    return frozenset((p.key, p.version) for p in env.packages)


def duplicate_groups(envs: Iterable[Environment],
                     signatures: Mapping[str, str | None] | None = None,
                     ) -> list[list[Environment]]:
    """Groups of two or more filesystem environments with identical packages and Python.

    `signatures` (identity -> a digest of Python X.Y and the package set, None for none)
    stands in for the packages of environments read without them (summaries.signature).
    """
    groups: dict[Hashable, list[Environment]] = defaultdict(list)
    for env in envs:
        if env.kind not in (EnvKind.VENV, EnvKind.CONDA):
            continue
        key: Hashable = None
        if signatures is not None:
            key = signatures.get(identity(env))
        elif env.packages:
            key = (".".join((env.python or "").split(".")[:2]), package_set(env))
        if key is not None:
            groups[key].append(env)
    return [g for g in groups.values() if len(g) > 1]


def _broken(env: Environment) -> str | None:
    for p in env.all_problems:
        if p.kind in BROKEN_KINDS:
            return p.detail.removeprefix("broken: ")
    return None


def _docker_reasons(env: Environment) -> list[tuple[Reason, str]]:
    found: list[tuple[Reason, str]] = []
    if env.kind is EnvKind.IMAGE:
        if env.details.get("dangling"):
            found.append((Reason.DANGLING, "dangling (no tag)"))
        if not env.details.get("used_by"):
            found.append((Reason.UNUSED, "used by no container"))
    elif env.kind is EnvKind.CONTAINER and env.details.get("state") != "running":
        found.append((Reason.STOPPED, f"{env.details.get('state') or 'not running'}"))
    return found


def cleanup_facts(envs: Iterable[Environment], *, stale_days: int,
                  now: datetime | None = None,
                  signatures: Mapping[str, str | None] | None = None,
                  ) -> dict[str, CleanupFacts]:
    """Cleanup tags for every environment, keyed by `identity` (see duplicate_groups for
    `signatures`)."""
    now = now or datetime.now(UTC)
    envs = list(envs)
    twins: dict[str, tuple[str, ...]] = {}
    keep: set[str] = set()
    for group in duplicate_groups(envs, signatures):
        for env in group:
            twins[identity(env)] = tuple(o.ref for o in group if o is not env)
        # The most recently used (by day) stays; on a tie, the shortest path: the original
        # rather than "NAME-copy" or "NAME2".
        keep.add(identity(max(group, key=lambda e: ((e.last_used or "")[:10], -len(e.ref),
                                                     e.ref))))
    out: dict[str, CleanupFacts] = {}
    for env in envs:
        found: list[tuple[Reason, str]] = []
        idle = idle_days(env, now)
        if idle is not None and idle >= stale_days:
            found.append((Reason.STALE, f"not used for {idle} days"))
        broken = _broken(env)
        if broken:
            found.append((Reason.BROKEN, broken))
        others = twins.get(identity(env), ())
        if others:
            found.append((Reason.DUPLICATE, "same packages as " + ", ".join(others)))
        found += _docker_reasons(env)
        out[identity(env)] = CleanupFacts(
            reasons=tuple(r for r, _ in found), details=tuple(d for _, d in found),
            idle_days=idle, duplicates=others, kept=identity(env) in keep)
    return out


def removable_candidates(envs: Iterable[Environment],
                         facts: Mapping[str, CleanupFacts]) -> list[Environment]:
    """What cleanup would suggest removing: stale, broken and unused things, and of each
    group of duplicates every member but the one kept. Base envs are kept."""
    chosen = []
    for env in envs:
        tags = facts.get(identity(env), CleanupFacts())
        if env.base or not tags.reasons or (set(tags.reasons) == {Reason.DUPLICATE}
                                             and tags.kept):
            continue
        chosen.append(env)
    return chosen
