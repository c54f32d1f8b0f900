"""Removing several environments in one go, for the command line and the app alike.

Planning checks every target first (`fs_removal` for venvs and conda envs, `docker_cleanup`
for images and containers) and says which are refused and why; execution re-checks each one
as it comes to it, stops between targets when cancelled, and reports what it did.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from envtui.cleanup import Refused, Removal
from envtui.inspectors.base import ScanContext
from envtui.model import Environment, EnvKind

FILESYSTEM = (EnvKind.VENV, EnvKind.CONDA)


@contextlib.contextmanager
def docker_api(ctx: ScanContext) -> Iterator[Any]:
    """A low-level Docker client for `ctx`'s engine; Refused when it cannot be reached."""
    from envtui.inspectors.cache import Cache
    from envtui.inspectors.docker import Engine, EngineError, describe_failure, resolve_endpoint

    try:
        ep = resolve_endpoint(ctx.home, ctx.environ)
    except EngineError as e:
        raise Refused(str(e)) from None
    try:
        engine = Engine(ep, Cache(ctx.cache_dir))
    except Exception as e:  # docker-py, requests and OSError all signal a dead engine
        raise Refused(describe_failure(e, ep)) from None
    try:
        yield engine.api
    finally:
        engine.close()


@dataclass
class Plan:
    """What a removal of several targets will do."""

    removals: list[Removal] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    """(ref, reason) of each target that cannot be removed."""

    @property
    def size_bytes(self) -> int:
        return sum(r.size_bytes or 0 for r in self.removals)


@dataclass
class Outcome:
    """What an execution did."""

    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    """(ref, reason) of each target left in place: refused at execution, failed, or not
    started because of a cancel."""


def plan(envs: Sequence[Environment], ctx: ScanContext, others: Sequence[Environment], *,
         force: bool = False) -> Plan:
    """Check every target; nothing is changed."""
    from envtui.cleanup.fs_removal import plan_removal

    out = Plan()
    docker = [e for e in envs if e.kind not in FILESYSTEM]
    for env in envs:
        if env.kind in FILESYSTEM:
            try:
                out.removals.append(plan_removal(env, environ=ctx.environ, home=ctx.home,
                                                 others=others))
            except Refused as e:
                out.refused.append((env.ref, str(e)))
    if docker:
        from envtui.cleanup.docker_cleanup import DockerActionError, plan_docker_removal

        try:
            with docker_api(ctx) as api:
                for env in docker:
                    try:
                        out.removals.append(plan_docker_removal(api, env, force=force))
                    except (Refused, DockerActionError) as e:
                        out.refused.append((env.ref, str(e)))
        except Refused as e:
            out.refused += [(env.ref, str(e)) for env in docker]
    return out


Progress = Callable[[int, int, str], None]
"""(targets done, targets in all, what is being removed now)."""


def execute(removals: Sequence[Removal], ctx: ScanContext, others: Sequence[Environment], *,
            cancelled: Callable[[], bool] = lambda: False,
            progress: Progress | None = None) -> Outcome:
    """Remove each planned target, re-checking it first; a cancel stops before the next."""
    from envtui.cleanup.fs_removal import execute_removal

    out = Outcome()
    with contextlib.ExitStack() as stack:
        api: Any = None
        for n, r in enumerate(removals):
            if cancelled():
                out.failed += [(x.ref, "cancelled before it was started") for x in removals[n:]]
                break
            if progress is not None:
                progress(n, len(removals), r.ref)
            try:
                if r.kind in FILESYSTEM:
                    execute_removal(r, environ=ctx.environ, home=ctx.home, others=others,
                                    cancelled=cancelled)
                else:
                    from envtui.cleanup.docker_cleanup import execute_docker_removal

                    if api is None:
                        api = stack.enter_context(docker_api(ctx))
                    execute_docker_removal(api, r)
                out.removed.append(r.ref)
            except Exception as e:  # reported per target; the others still go ahead
                out.failed.append((r.ref, str(e) or type(e).__name__))
        if progress is not None:
            progress(len(removals), len(removals), "")
    return out
