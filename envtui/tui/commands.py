"""Command palette provider for the environment domain: "env: rescan", "show: NAME", ...

The provider talks to whichever screen opened the palette through the small
`EnvironmentCommandTarget` protocol, so it does not import the screen (no import cycle)
and offers nothing on screens that do not implement it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Protocol, runtime_checkable

from textual.command import DiscoveryHit, Hit, Hits, Provider

from envtui.model import Environment, Problem
from envtui.tui.format import short_ref, shown_name


@runtime_checkable
class EnvironmentCommandTarget(Protocol):
    """What a screen offers to the environment commands."""

    @property
    def environments(self) -> Sequence[Environment]:
        """Every environment shown, in inventory order (the last finished scan's, or those
        the running scan has read so far)."""
        ...

    @property
    def scan_problems(self) -> Sequence[Problem]:
        """The problems with the last finished scan itself."""
        ...

    @property
    def home(self) -> str | None:
        """The home directory, written `~` in paths."""
        ...

    def action_rescan_inventory(self) -> None:
        """Start a new scan, cancelling a running one."""

    def action_focus_filter(self) -> None:
        """Put the focus in the filter input."""

    def action_show_scan_problems(self) -> None:
        """Show every problem with the scan itself in full."""

    def show_environment(self, env: Environment) -> None:
        """Highlight `env` in the table (clearing the filter if it hides it)."""


_Command = tuple[str, Callable[[], None], str]


class EnvironmentCommands(Provider):
    """`env: rescan`, `env: filter`, `env: scan problems` (when there are any), and
    `show: NAME` for every environment, with where it is as the help line (names are not
    unique).
    """

    def _commands(self) -> Iterator[_Command]:
        target = self.screen
        if not isinstance(target, EnvironmentCommandTarget):
            return
        yield ("env: rescan", target.action_rescan_inventory, "Scan the machine again")
        yield (
            "env: filter",
            target.action_focus_filter,
            "Narrow the table by name, manager, path or package",
        )
        if target.scan_problems:
            yield (
                "env: scan problems",
                target.action_show_scan_problems,
                "Read the problems with the scan itself in full",
            )
        for env in target.environments:
            show = partial(target.show_environment, env)
            yield (f"show: {shown_name(env)}", show, short_ref(env, target.home))

    async def discover(self) -> Hits:
        """Everything, in order, when the palette opens with an empty query."""
        for text, command, help_text in self._commands():
            yield DiscoveryHit(text, command, help=help_text)

    async def search(self, query: str) -> Hits:
        """Fuzzy-match `query` against the command texts."""
        matcher = self.matcher(query)
        for text, command, help_text in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), command, text=text, help=help_text)
