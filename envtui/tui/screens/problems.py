"""Every problem of every environment, grouped by environment, found in a thread worker.

Each environment is checked (`check_environment`: its own problems, then its dependency
graph's) in inventory order; results arrive in batches with the progress, so the list
fills in while the check runs. Enter on a problem opens its environment's tree at the
problem's package.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, ProgressBar, Static
from textual.worker import Worker, WorkerState, get_current_worker

from envtui.format import plural
from envtui.model import Environment, Problem
from envtui.tui.batches import Batcher
from envtui.tui.format import printable, shown_name
from envtui.tui.screens.tree import TreeScreen
from envtui.tui.widgets.key_footer import KeyFooter
from envtui.tui.widgets.problem_list import ProblemList

BATCH_INTERVAL = 0.1
"""Seconds between batches of results sent from the checking thread."""

CheckCache = MutableMapping[int, tuple[Environment, tuple[Problem, ...]]]
"""id(environment) -> (that environment, its problems): environments are immutable, so a
check holds until a rescan replaces them (the environment is kept to tell a reused id)."""

_Result = tuple[int, tuple[Problem, ...]]


class ProblemsScreen(Screen[None]):
    """The machine-wide problems view: a status line with progress, then the problems."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape",
            "go_back",
            "Back",
            tooltip="Back to the environments",
            id="problems.back",
        ),
        Binding(
            "f",
            "fix_environment",
            "Fix",
            tooltip="Plans that fix the highlighted problem's environment",
            id="problems.fix",
        ),
        Binding(
            "q",
            "go_back",
            "Back",
            show=False,
            tooltip="Back to the environments",
            id="problems.back-q",
        ),
    ]

    class EnvironmentsChecked(Message):
        """The worker checked these environments (by inventory index), in order."""

        def __init__(self, results: list[_Result]) -> None:
            super().__init__()
            self.results = results
            """(index, problems) for each environment checked since the last batch."""

    class ChecksFinished(Message):
        """Every environment was checked."""

    def __init__(
        self,
        environments: Sequence[Environment],
        *,
        home: str | None = None,
        cache: CheckCache | None = None,
    ) -> None:
        super().__init__()
        self.environments = tuple(environments)
        """The environments checked, in inventory order."""
        self._home = home
        self._cache: CheckCache = cache if cache is not None else {}
        self._done = 0
        self._with_problems = 0
        self._count = 0
        self._finished = False
        self._worker: Worker[None] | None = None

    def compose(self) -> ComposeResult:
        """Header, status with progress, the problems, footer."""
        yield Header(show_clock=False)
        with Horizontal(id="check-status"):
            yield Static(id="check-text")
            yield ProgressBar(id="check-progress", show_eta=False)
        yield ProblemList(home=self._home, id="all-problems")
        yield KeyFooter()

    def on_mount(self) -> None:
        """Start checking; the list says so until the first problems arrive."""
        self.sub_title = "problems"
        self.query_one(ProblemList).say("Checking…")
        self.query_one(ProblemList).focus()
        self._show_status()
        known = dict(self._cache)  # read on the event loop; the worker gets a copy
        self._worker = self.check_environments(known)

    @property
    def finished(self) -> bool:
        """Whether every environment has been checked."""
        return self._finished

    # -- the worker --------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="problems", exit_on_error=False)
    def check_environments(self, known: CheckCache) -> None:
        """Check each environment in turn (reusing `known` results), posting batches."""
        from envtui.resolver.checks import check_environment

        worker = get_current_worker()

        def send(results: list[_Result]) -> None:
            if not worker.is_cancelled:
                self.post_message(self.EnvironmentsChecked(results))

        batches: Batcher[_Result] = Batcher(send, BATCH_INTERVAL)
        try:
            for index, env in enumerate(self.environments):
                if worker.is_cancelled:
                    return
                cached = known.get(id(env))
                problems = (cached[1] if cached is not None and cached[0] is env
                            else tuple(check_environment(env)))
                batches.add((index, problems))
            batches.close(flush=True)
        finally:
            batches.close(flush=False)
        if not worker.is_cancelled:
            self.post_message(self.ChecksFinished())

    @on(EnvironmentsChecked)
    def _checked(self, message: EnvironmentsChecked) -> None:
        problems = self.query_one(ProblemList)
        for index, found in message.results:
            env = self.environments[index]
            self._cache[id(env)] = (env, found)
            self._done = index + 1
            if not found:
                continue
            if not self._with_problems:
                problems.clear_options()
            self._with_problems += 1
            self._count += len(found)
            problems.add_group(env, found)
        if problems.highlighted is None and self._with_problems:
            problems.highlighted = 1  # the first problem, under its environment's heading
        self._show_status()

    @on(ChecksFinished)
    def _all_checked(self) -> None:
        self._finished = True
        if not self._with_problems:
            total = plural(len(self.environments), "environment")
            self.query_one(ProblemList).say(f"No problems found in {total}.")
        self._show_status()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed check becomes an error notice; what was found stays listed."""
        if event.worker is not self._worker or event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        text = printable(str(error) or type(error).__name__)
        self.query_one(ProgressBar).display = False
        self.query_one("#check-text", Static).update(
            Content.assemble(("Check failed: ", "bold $text-error"), text))
        self.notify(text, title="Check failed", severity="error", timeout=10, markup=False)

    def _show_status(self) -> None:
        total = len(self.environments)
        bar = self.query_one(ProgressBar)
        bar.display = not self._finished
        parts: list[str | tuple[str, str]]
        if not self._finished:
            bar.update(total=max(total, 1), progress=self._done)
            parts = [("Checking… ", "bold $text-accent"), f"{self._done}/{total}"]
            if self._done < total:
                parts += ["  ", (shown_name(self.environments[self._done]), "$text-muted")]
        elif self._count:
            parts = [(plural(self._count, "problem"), "bold $text-error"),
                     f" in {self._with_problems} of {plural(total, 'environment')}"]
        else:
            parts = [(f"{plural(total, 'environment')} checked", "bold"), " · no problems"]
        self.query_one("#check-text", Static).update(Content.assemble(*parts))

    # -- actions -----------------------------------------------------------------------

    def action_go_back(self) -> None:
        """Back to the inventory (a running check stops with the screen)."""
        self.dismiss()

    def action_fix_environment(self) -> None:
        """Open the fix screen of the highlighted problem's environment."""
        from envtui.tui.screens.fix import FixScreen

        env = self.query_one(ProblemList).highlighted_environment
        if env is not None:
            self.app.push_screen(FixScreen(env, home=self._home))

    @on(ProblemList.ProblemChosen)
    def _open_tree(self, message: ProblemList.ProblemChosen) -> None:
        package = message.problem.package if message.problem else None
        self.app.push_screen(TreeScreen(message.environment, home=self._home, package=package))

