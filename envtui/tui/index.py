"""What the screen precomputes per scan, in the scanning thread: the filter's haystacks,
each environment's counts and cleanup tags, so neither a keystroke nor a redraw walks every
package again.

Filter terms are substrings of what the screen shows, except `kind:`, `manager:`,
`problem:` and `is:` terms, which match a field: `kind:conda`, `manager:uv`,
`problem:broken` (a problem kind), `is:stale` / `is:broken` / `is:duplicate` /
`is:dangling` / `is:unused` / `is:stopped` (cleanup tags), `is:selected` (marked rows).
A field term matches a value that starts with what is typed, so `kind:v` finds venvs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from envtui.cleanup.facts import CleanupFacts, cleanup_facts, identity, removable_candidates
from envtui.model import Environment, Inventory
from envtui.tui.format import printable, tilde

FIELDS = ("kind", "manager", "problem", "is")
"""Filter prefixes that match a field rather than a substring."""


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
    cleanup: tuple[CleanupFacts, ...] = ()
    """Each environment's cleanup tags (stale, broken, duplicate, ...)."""
    fields: tuple[frozenset[str], ...] = ()
    """Each environment's `field:value` terms (kind, manager, problem kinds, cleanup tags)."""
    candidates: tuple[bool, ...] = ()
    """Whether cleanup suggests removing each one (every duplicate but the one kept; never
    a base env)."""

    @classmethod
    def build(cls, inventory: Inventory, home: str | None = None, stale_days: int = 90,
              now: datetime | None = None) -> InventoryIndex:
        """Index `inventory`, writing paths under `home` as `~` too; meant to run in the
        worker that produced it.
        """
        envs = inventory.environments
        facts = cleanup_facts(envs, stale_days=stale_days, now=now)
        cleanup = tuple(facts[identity(env)] for env in envs)
        chosen = {identity(e) for e in removable_candidates(envs, facts)}
        return cls(
            haystacks=tuple(_haystack(env, home) for env in envs),
            problem_counts=tuple(len(env.all_problems) for env in envs),
            cleanup=cleanup,
            fields=tuple(_fields(env, tags) for env, tags in zip(envs, cleanup, strict=True)),
            candidates=tuple(identity(env) in chosen for env in envs),
        )

    def matches(self, query: str, selected: frozenset[int] = frozenset()) -> Sequence[int] | None:
        """Indexes of the environments matching every whitespace-separated term of `query`.

        Case-insensitive substring matching, or field matching for `field:value` terms
        (see the module's doc). None means "no filter" (blank query).
        """
        terms = query.lower().split()
        if not terms:
            return None
        return [i for i, hay in enumerate(self.haystacks)
                if all(self._term(i, hay, t, selected) for t in terms)]

    def _term(self, i: int, hay: str, term: str, selected: frozenset[int]) -> bool:
        field, colon, _ = term.partition(":")
        if not colon or field not in FIELDS:
            return term in hay
        if term == "is:selected":
            return i in selected
        fields = self.fields[i] if i < len(self.fields) else frozenset()
        return any(f.startswith(term) for f in fields)


def _fields(env: Environment, tags: CleanupFacts) -> frozenset[str]:
    found = {f"kind:{env.kind.value}", f"manager:{env.manager.lower()}"}
    found |= {f"problem:{p.kind}" for p in env.all_problems}
    found |= {f"is:{reason.value}" for reason in tags.reasons}
    if env.base:
        found.add("is:base")
    return frozenset(found)


class PartialInventory:
    """The environments a running scan has read so far, with their index entries, kept in
    the order the finished inventory will have (kind, then name), so rows do not move
    when the final inventory replaces them.
    """

    def __init__(self) -> None:
        # (sort key, environment, haystack, problem count, cleanup tags, fields, candidate)
        self._entries: list[tuple[tuple[int, str, str], Environment, str, int, CleanupFacts,
                                  frozenset[str], bool]] = []

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, environments: Sequence[Environment], index: InventoryIndex) -> None:
        """Add a batch of environments and their index (aligned with `environments`)."""
        # The scan's own order, so the final inventory does not reshuffle the rows. Imported
        # here because the scanning machinery is not needed until a scan reports something.
        from envtui.inspectors.discovery import sort_key

        self._entries.extend(
            (sort_key(env), env, hay, count, tags, fields, candidate)
            for env, hay, count, tags, fields, candidate in zip(
                environments, index.haystacks, index.problem_counts, index.cleanup,
                index.fields, index.candidates, strict=True
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
                cleanup=tuple(entry[4] for entry in self._entries),
                fields=tuple(entry[5] for entry in self._entries),
                candidates=tuple(entry[6] for entry in self._entries),
            ),
        )
