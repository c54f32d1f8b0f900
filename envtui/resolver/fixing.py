"""One entry point for planning and applying a fix, whatever the environment's kind.

Conflicts among a conda environment's own records are conda's to solve (py-rattler);
everything else, pip packages in a conda environment included, goes through envtui's
resolver and a uv/pip transaction. The CLI and the TUI both come through here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from envtui.model import Environment, EnvKind, Problem, ProblemKind
from envtui.resolver.plans import FixError, Plan, Proposal, propose
from envtui.resolver.sources import IndexOptions, Source


def plan_fix(env: Environment, problems: Sequence[Problem], sources: Sequence[Source],
             options: IndexOptions, *, keep: Iterable[str] = (), channels: Sequence[str] = (),
             progress: Callable[[str], None] | None = None) -> Proposal:
    """Ranked plans for `env` (raises FixError or TargetError when it cannot be planned)."""
    from envtui.resolver.conda_fix import conda_problems, propose_conda

    broken = next((p for p in env.problems if p.kind == ProblemKind.BROKEN), None)
    if broken is not None:
        # No installer can run without the base interpreter: what is left is to make the
        # environment again from what it holds, or to remove it.
        raise FixError(f"{env.ref} is {broken.detail}; envtui cannot fix it: recreate it "
                       f"(`envtui export {env.ref} -o FILE`, then `envtui import FILE`) "
                       f"or delete it (`envtui rm {env.ref}`)")
    if env.kind is EnvKind.CONDA and conda_problems(env, problems):
        return propose_conda(env, problems, channels, keep=keep, progress=progress)
    return propose(env, problems, sources, keep=keep, pre=options.pre, progress=progress)


def apply_plan(env: Environment, plan: Plan, options: IndexOptions, *,
               progress: Callable[[str], object] | None = None,
               cancel: threading.Event | None = None) -> None:
    """Apply `plan` as a transaction (raises a TransactionError; the env is then restored)."""
    from envtui.resolver.conda_fix import CondaPlan, apply_conda
    from envtui.resolver.transaction import apply_actions

    prefix = Path(env.path or "")
    if isinstance(plan, CondaPlan):
        apply_conda(prefix, plan, progress=progress, cancel=cancel)
    else:
        apply_actions(prefix, plan.actions, options, progress=progress, cancel=cancel)
