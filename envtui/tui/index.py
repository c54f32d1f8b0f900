"""What the screen precomputes per scan, in the scanning thread: the filter's haystacks and
each environment's counts, so neither a keystroke nor a redraw walks every package again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from envtui.model import Environment, Inventory


def _haystack(env: Environment) -> str:
    parts = [env.name, env.manager, env.path or "", env.id or ""]
    parts.extend(pkg.name for pkg in env.packages)
    # A newline cannot be typed into the filter, so a term never matches across two fields.
    return "\n".join(parts).lower()


@dataclass(frozen=True)
class InventoryIndex:
    """Per-environment facts of one inventory, in inventory order."""

    haystacks: tuple[str, ...] = ()
    """Name, manager, path, ID and package names, lowercase and newline-separated."""
    problem_counts: tuple[int, ...] = ()
    """len(env.all_problems), which walks every package."""

    @classmethod
    def build(cls, inventory: Inventory) -> InventoryIndex:
        """Index `inventory`; meant to run in the worker that produced it."""
        envs = inventory.environments
        return cls(
            haystacks=tuple(_haystack(env) for env in envs),
            problem_counts=tuple(len(env.all_problems) for env in envs),
        )

    def matches(self, query: str) -> Sequence[int] | None:
        """Indexes of the environments matching every whitespace-separated term of `query`.

        Case-insensitive substring matching. None means "no filter" (blank query).
        """
        terms = query.lower().split()
        if not terms:
            return None
        return [i for i, hay in enumerate(self.haystacks) if all(t in hay for t in terms)]
