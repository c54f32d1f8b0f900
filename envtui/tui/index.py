"""What the screen precomputes per scan, in the scanning thread: the filter's haystacks and
each environment's counts, so neither a keystroke nor a redraw walks every package again.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from envtui.model import Environment, Inventory
from envtui.tui.format import printable, tilde


def _searchable(env: Environment, home: str | None) -> Iterator[str]:
    """Every text the screen shows for `env` that a user may type to find it."""
    yield from (env.name, env.manager, env.python or "", env.id or "")
    if env.path:
        yield env.path
        yield tilde(env.path, home)  # how the detail pane shows it
    yield from (str(tag) for tag in env.details.get("tags") or ())  # not only the first
    yield str(env.details.get("image") or "")  # a container's image
    yield from (pkg.name for pkg in env.packages)


def _haystack(env: Environment, home: str | None) -> str:
    # Printable forms, as shown: `printable` turns newlines into escapes, so joining with a
    # newline (which cannot be typed into the filter) keeps a term within one field.
    return "\n".join(printable(text) for text in _searchable(env, home) if text).lower()


@dataclass(frozen=True)
class InventoryIndex:
    """Per-environment facts of one inventory, in inventory order."""

    haystacks: tuple[str, ...] = ()
    """Name, manager, python, ID, path (also as `~/...`), Docker tags and package names,
    printable, lowercase and newline-separated."""
    problem_counts: tuple[int, ...] = ()
    """len(env.all_problems), which walks every package."""

    @classmethod
    def build(cls, inventory: Inventory, home: str | None = None) -> InventoryIndex:
        """Index `inventory`, writing paths under `home` as `~` too; meant to run in the
        worker that produced it.
        """
        envs = inventory.environments
        return cls(
            haystacks=tuple(_haystack(env, home) for env in envs),
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


class PartialInventory:
    """The environments a running scan has read so far, with their index entries, kept in
    the order the finished inventory will have (kind, then name), so rows do not move
    when the final inventory replaces them.
    """

    def __init__(self) -> None:
        # (sort key, environment, haystack, problem count)
        self._entries: list[tuple[tuple[int, str, str], Environment, str, int]] = []

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, environments: Sequence[Environment], index: InventoryIndex) -> None:
        """Add a batch of environments and their index (aligned with `environments`)."""
        # The scan's own order, so the final inventory does not reshuffle the rows. Imported
        # here because the scanning machinery is not needed until a scan reports something.
        from envtui.inspectors.discovery import sort_key

        self._entries.extend(
            (sort_key(env), env, hay, count)
            for env, hay, count in zip(
                environments, index.haystacks, index.problem_counts, strict=True
            )
        )
        # Timsort merges the sorted run of earlier entries with the new ones cheaply.
        self._entries.sort(key=lambda entry: entry[0])

    def view(self) -> tuple[Inventory, InventoryIndex]:
        """Everything read so far as an inventory (with no scan problems yet) and its index."""
        return (
            Inventory(tuple(entry[1] for entry in self._entries)),
            InventoryIndex(
                haystacks=tuple(entry[2] for entry in self._entries),
                problem_counts=tuple(entry[3] for entry in self._entries),
            ),
        )
