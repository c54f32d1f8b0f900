"""A list of problems, each its whole sentence, optionally grouped under a heading per
environment; Enter on one asks the screen to show it in the dependency tree."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import on
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from envtui.format import plural
from envtui.model import Environment, Problem
from envtui.tui.format import printable, short_ref, shown_name, subtitle

NO_PROBLEMS = "No problems found."


def problem_content(problem: Problem, *, indent: str = "") -> Content:
    """`✗ sentence`: the detail is a whole sentence naming the package (the kind is for
    scripts, so it is not repeated)."""
    return Content.assemble(indent, ("✗ ", "$text-error"), printable(problem.detail))


def heading_content(env: Environment, count: int, home: str | None) -> Content:
    """An environment's name, what and where it is, and how many problems it has."""
    return Content.assemble(
        (shown_name(env), "bold $text-accent"),
        "  ",
        (f"{subtitle(env)} · {short_ref(env, home)}", "$text-muted"),
        "  ",
        (plural(count, "problem"), "$text-error"),
    )


class ProblemList(OptionList):
    """Problems as options; an environment's heading and its problems can both be chosen."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter",
            "select",
            "Show in tree",
            tooltip="Open the dependency tree at the highlighted problem's package",
            id="problems.show-in-tree",
        ),
    ]

    class ProblemChosen(Message):
        """Enter (or a click) on a problem, or on an environment's heading."""

        def __init__(self, environment: Environment, problem: Problem | None) -> None:
            super().__init__()
            self.environment = environment
            """The environment the problem is in."""
            self.problem = problem
            """The problem; None for the environment's heading."""

    def __init__(self, *, home: str | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self._home = home
        self._entries: list[tuple[Environment, Problem | None] | None] = []

    @property
    def problems(self) -> list[Problem]:
        """Every problem listed, in order."""
        return [entry[1] for entry in self._entries if entry is not None and entry[1]]

    @property
    def highlighted_environment(self) -> Environment | None:
        """The environment of the highlighted problem or heading."""
        if self.highlighted is None or self.highlighted >= len(self._entries):
            return None
        entry = self._entries[self.highlighted]
        return entry[0] if entry is not None else None

    def show_problems(self, env: Environment, problems: Sequence[Problem]) -> None:
        """List `env`'s problems alone, or say there are none."""
        if not problems:
            self.say(NO_PROBLEMS)
            return
        self.clear_options()
        self._entries += [(env, problem) for problem in problems]
        self.add_options(problem_content(problem) for problem in problems)
        self.highlighted = 0

    def add_group(self, env: Environment, problems: Sequence[Problem]) -> None:
        """Add a heading for `env` and its problems below it, then a divider."""
        self._entries.append((env, None))
        self._entries += [(env, problem) for problem in problems]
        self.add_options([
            heading_content(env, len(problems), self._home),
            *(problem_content(problem, indent="  ") for problem in problems),
            None,
        ])

    def say(self, message: str) -> None:
        """Replace everything with one line of text that cannot be chosen."""
        self.clear_options()
        self._entries.append(None)
        self.add_option(Option(Content.styled(message, "$text-muted"), disabled=True))

    def clear_options(self) -> ProblemList:
        """Remove every option (and what it stood for)."""
        self._entries = []
        super().clear_options()
        return self

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        entry = self._entries[event.option_index]
        if entry is not None:
            self.post_message(self.ProblemChosen(*entry))
