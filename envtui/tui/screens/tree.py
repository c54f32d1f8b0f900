"""One environment's dependency tree, with the environment's problems below it.

The graph (and the environment's check) is read in a thread worker: a big environment's
takes a moment and the screen paints at once. The tree then grows as nodes are expanded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, Input, Label, Static
from textual.worker import Worker, WorkerState, get_current_worker

from envtui.format import plural
from envtui.model import Environment, Problem
from envtui.resolver.graph import DependencyGraph
from envtui.tui.commands import TreeCommands
from envtui.tui.deptree import MAX_DEPTH, DependencyView, problem_key
from envtui.tui.format import printable, shown_name, subtitle
from envtui.tui.widgets.dependency_tree import DependencyTree
from envtui.tui.widgets.key_footer import KeyFooter
from envtui.tui.widgets.problem_list import ProblemList

REQUIREMENTS_MODE = "Requirements: below each package, what it requires"
REVERSE_MODE = "Dependents: below each package, what requires it (why it is installed)"


class TreeScreen(Screen[None]):
    """The tree of `env` (requirements or, with `R`, dependents), a find field and the
    environment's problems; opened on `package` when one is given.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "slash",
            "focus_find",
            "Find",
            tooltip="Type the start of a package name to move the cursor to it",
            id="tree.find",
        ),
        Binding(
            "R",
            "toggle_reverse",
            "Reverse",
            tooltip="Switch between each package's requirements and its dependents "
            "(why is it installed?)",
            id="tree.reverse",
        ),
        Binding(
            "o",
            "toggle_focus",
            "Focus",
            tooltip="Show the highlighted package's tree alone; again for the whole tree",
            id="tree.focus",
        ),
        Binding(
            "f",
            "fix_environment",
            "Fix",
            tooltip="Plans that fix this environment's dependency problems",
            id="tree.fix",
        ),
        Binding(
            "escape",
            "go_back",
            "Back",
            tooltip="Leave the find field, or go back to the previous screen",
            id="tree.back",
        ),
        Binding(
            "q",
            "go_back",
            "Back",
            show=False,
            tooltip="Go back to the previous screen",
            id="tree.back-q",
        ),
    ]

    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {TreeCommands}

    class GraphRead(Message):
        """The environment's dependency graph and its problems, read in the worker."""

        def __init__(self, graph: DependencyGraph, problems: Sequence[Problem]) -> None:
            super().__init__()
            self.graph = graph
            """The dependency graph."""
            self.problems = problems
            """Every problem of the environment (check_environment's)."""

    def __init__(
        self, env: Environment, *, home: str | None = None, package: str | None = None
    ) -> None:
        super().__init__()
        self.env = env
        """The environment shown."""
        self._home = home
        self._package = package  # where to put the cursor once the graph is read
        self._graph: DependencyGraph | None = None
        self._problems: Sequence[Problem] = ()
        self._reverse = False
        self._focus: str | None = None
        self._views: dict[bool, DependencyView] = {}  # the whole tree, by `reverse`
        self._worker: Worker[None] | None = None

    def compose(self) -> ComposeResult:
        """Header, heading, find field, the tree over the problems, footer."""
        yield Header(show_clock=False)
        yield Static(id="tree-heading")
        with Horizontal(id="find-bar", classes="search-bar"):
            yield Label("find", classes="search-label")
            yield Input(
                placeholder="press / and type the start of a package name",
                id="find",
                compact=True,
            )
            yield Label("", id="find-result")
        yield DependencyTree(id="dependencies")
        yield ProblemList(home=self._home, id="tree-problems")
        yield KeyFooter()

    def on_mount(self) -> None:
        """Paint at once; read the graph in a worker."""
        self.sub_title = f"{shown_name(self.env)} · dependencies"
        count = plural(len(self.env.packages), "package")
        self._show_heading(f"Reading the dependencies of {count}…")
        problems = self.query_one(ProblemList)
        problems.border_title = "Problems"
        problems.say("Checking…")
        self.query_one(DependencyTree).focus()
        self._worker = self.read_graph()

    # -- what the command palette needs ------------------------------------------------

    @property
    def ready(self) -> bool:
        """Whether the graph has been read and the tree shown."""
        return self._graph is not None

    @property
    def reverse(self) -> bool:
        """Whether the tree shows dependents rather than requirements."""
        return self._reverse

    @property
    def focused_package(self) -> str | None:
        """The package shown alone (by key), or None for the whole tree."""
        return self._focus

    @property
    def problems(self) -> Sequence[Problem]:
        """The environment's problems (empty until they are read)."""
        return self._problems

    # -- the worker --------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="graph", exit_on_error=False)
    def read_graph(self) -> None:
        """Build the graph and check the environment, off the event loop."""
        from envtui.resolver.checks import check_environment
        from envtui.resolver.graph import build_graph

        worker = get_current_worker()
        graph = build_graph(self.env)
        if worker.is_cancelled:
            return
        problems = check_environment(self.env, graph)
        if not worker.is_cancelled:
            self.post_message(self.GraphRead(graph, problems))

    @on(GraphRead)
    def _graph_read(self, message: GraphRead) -> None:
        self._graph = message.graph
        self._problems = message.problems
        problems = self.query_one(ProblemList)
        problems.border_title = f"Problems ({len(message.problems)})"
        problems.show_problems(self.env, message.problems)
        self._show_view()
        key = problem_key(self._package)
        if key is not None and not self._go_to(key, expand=True):
            self.notify(f"{printable(self._package or '')} is not in the dependency tree.",
                        severity="warning", markup=False)
        self.refresh_bindings()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed read becomes an error notice and a line saying so."""
        if event.worker is not self._worker or event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        text = printable(str(error) or type(error).__name__)
        self._show_heading(f"Could not read the dependencies: {text}")
        self.query_one(ProblemList).say("No dependency graph, so no dependency problems.")
        self.notify(text, title="Dependencies unreadable", severity="error", timeout=10,
                    markup=False)

    # -- showing the tree --------------------------------------------------------------

    def _show_view(self) -> None:
        """Show the graph in the current mode, the cursor on the first line."""
        whole = self._whole()
        if whole is None or self._graph is None:
            return
        view = (whole if self._focus is None
                else DependencyView(self._graph, reverse=self._reverse, focus=self._focus))
        self.query_one(DependencyTree).show(view)
        self._show_heading()

    def _whole(self) -> DependencyView | None:
        """The whole tree in the current mode (not focused), kept for searches."""
        if self._graph is None:
            return None
        view = self._views.get(self._reverse)
        if view is None:
            view = self._views[self._reverse] = DependencyView(self._graph,
                                                               reverse=self._reverse)
        return view

    def _go_to(self, key: str, *, expand: bool = False) -> bool:
        """Put the cursor on `key`: where it is shown, else in the whole tree, else (when it
        lies too deep to open in place) in its own tree, shown alone.
        """
        tree = self.query_one(DependencyTree)
        if tree.reveal(key, expand=expand):
            return True
        whole = self._whole()
        path = whole.path(key) if whole is not None else None
        if path is None:
            return False
        self._focus = None if len(path) - 1 <= MAX_DEPTH else key
        self._show_view()
        return tree.reveal(key, expand=expand)

    def _show_heading(self, status: str | None = None) -> None:
        env = self.env
        facts = [subtitle(env)]
        if env.python:
            facts.append(f"Python {printable(env.python)}")
        facts.append(plural(len(env.packages), "package"))
        parts: list[str | tuple[str, str]] = [
            (shown_name(env), "bold $text-accent"), "  ", (" · ".join(facts), "$text-muted"),
            "\n",
        ]
        if status is not None:
            parts.append((status, "$text-muted"))
        else:
            parts.append((REVERSE_MODE if self._reverse else REQUIREMENTS_MODE, "bold"))
            if self._focus is not None and self._graph is not None:
                name = printable(self._graph.packages[self._focus].name)
                parts += ["  ", (f"only {name} (o: whole tree)", "$text-warning")]
        self.query_one("#tree-heading", Static).update(Content.assemble(*parts))

    # -- actions -----------------------------------------------------------------------

    def action_toggle_reverse(self) -> None:
        """Flip between requirements and dependents, keeping the cursor's package."""
        key = self._current_key()
        self._reverse = not self._reverse
        self._show_view()
        if key is not None:
            self._go_to(key)

    def action_toggle_focus(self) -> None:
        """Show the highlighted package alone, or the whole tree again."""
        key = self._current_key()
        if self._focus is not None:
            self._focus = None
            self._show_view()
            if key is not None:
                self._go_to(key)
        elif key is not None and self._graph is not None and key in self._graph.packages:
            self._focus = key
            self._show_view()

    def action_fix_environment(self) -> None:
        """Open the fix screen for this environment."""
        from envtui.tui.screens.fix import FixScreen

        self.app.push_screen(FixScreen(self.env, home=self._home))

    def action_focus_find(self) -> None:
        """Put the cursor in the find field, emptied for a new search."""
        find = self.query_one("#find", Input)
        find.value = ""
        find.focus()

    def action_go_back(self) -> None:
        """Leave the find field (emptied), or this screen."""
        find = self.query_one("#find", Input)
        if find.has_focus:
            find.value = ""
            self.query_one(DependencyTree).focus()
        else:
            self.dismiss()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Tree actions wait for the graph (shown dimmed until then)."""
        if action in ("toggle_reverse", "toggle_focus", "focus_find"):
            return True if self.ready else None
        return True

    def _current_key(self) -> str | None:
        entry = self.query_one(DependencyTree).current_entry
        return entry.key if entry is not None else None

    # -- find and problems -------------------------------------------------------------

    @on(Input.Changed, "#find")
    def _find_changed(self, event: Input.Changed) -> None:
        found = not event.value.strip() or self._find(event.value)
        self.query_one("#find", Input).set_class(not found, "-no-match")
        result = "" if found else "no installed package starts with that"
        self.query_one("#find-result", Label).update(result)

    def _find(self, typed: str) -> bool:
        if self.query_one(DependencyTree).jump(typed):
            return True
        whole = self._whole()
        key = whole.find(typed) if whole is not None else None
        return key is not None and self._go_to(key)

    @on(Input.Submitted, "#find")
    def _find_submitted(self) -> None:
        self.query_one(DependencyTree).focus()

    @on(ProblemList.ProblemChosen)
    def _problem_chosen(self, message: ProblemList.ProblemChosen) -> None:
        key = problem_key(message.problem.package if message.problem else None)
        if key is None:
            self.notify("This problem is about the environment, not one package.",
                        markup=False)
        elif self._go_to(key, expand=True):
            self.query_one(DependencyTree).focus()
        else:
            self.notify("That package is not in the dependency tree.", markup=False)
