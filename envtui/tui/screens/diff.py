"""How one environment (A) differs from another environment or a file (B).

First B is picked: an environment from the inventory, or the path of an exported file
(environment.yml, requirements.txt, conda-lock.yml, pylock.toml). Both sides are read as
specs and compared by `envtui.exchange.diff.diff` in a thread worker (a conda
environment's records and a file are read from disk), then shown side by side.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, Input, Label, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from envtui.format import plural
from envtui.model import Environment
from envtui.tui.commands import DiffCommands
from envtui.tui.format import printable, short_ref, shown_name
from envtui.tui.widgets.diff_table import DiffTable, diff_rows
from envtui.tui.widgets.key_footer import KeyFooter
from envtui.tui.widgets.status_line import StatusLine, tilde_all

if TYPE_CHECKING:
    from envtui.exchange.diff import Difference
    from envtui.exchange.spec import EnvSpec


def summary(d: Difference) -> Content:
    """`identical: …` or `N differences: …`, coloured like the rows they count."""
    if d.identical:
        shared = len({p.key for p in d.a.pins} - {"python"})
        python = d.python[0] or d.python[1]
        return Content.assemble(("identical", "bold $text-success"),
                                f": the same {plural(shared, 'package')}"
                                + (f" and Python {printable(python)}" if python else ""))
    parts: list[str | tuple[str, str]] = [(plural(d.count(), "difference"), "bold"), ": "]
    counts = [(len(d.removed), "only in A (-)", "$text-error"),
              (len(d.added), "only in B (+)", "$text-success"),
              (len(d.changed) + d.python_differs + d.platform_differs, "changed (~)",
               "$text-warning")]
    shown = [(f"{n} {what}", style) for n, what, style in counts if n]
    for i, part in enumerate(shown):
        parts += [", "] if i else []
        parts.append(part)
    return Content.assemble(*parts)


class DiffScreen(Screen[None]):
    """Pick B, then A and B side by side, differences coloured."""

    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {DiffCommands}

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "toggle_same", "Only differences", tooltip="Hide or show the packages "
                "that are the same on both sides", id="diff.only-differences"),
        Binding("b", "pick_b", "Pick B", tooltip="Compare A with another environment or "
                "file", id="diff.pick-b"),
        Binding("escape", "go_back", "Back", tooltip="Back to the inventory", id="diff.back"),
    ]

    class Compared(Message):
        """The comparison with B finished: a difference, or the one-line reason why not."""

        def __init__(self, b_label: str, difference: Difference | None,
                     error: str | None) -> None:
            super().__init__()
            self.b_label = b_label
            self.difference = difference
            self.error = error

    def __init__(self, env: Environment, environments: Sequence[Environment], *,
                 home: str | None = None) -> None:
        super().__init__()
        self.env = env
        self._others = [e for e in environments if e is not env]
        self._home = home
        self._a: EnvSpec | None = None  # read once, in the first worker
        self._difference: Difference | None = None
        self._b_label = ""
        self._only = False
        self._worker: Worker[None] | None = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static(Content.assemble(("A ", "bold $text-accent"), (shown_name(self.env), "bold"),
                                      "  ", (short_ref(self.env, self._home), "$text-muted")),
                     id="diff-a")
        with Vertical(id="diff-pick"):
            with Horizontal(classes="form-row"):
                yield Label("B: a file", classes="form-label")
                yield Input(id="diff-file", compact=True,
                            placeholder="environment.yml, requirements.txt, conda-lock.yml or "
                                        "pylock.toml; Enter compares")
            envs = OptionList(*(Option(self._env_prompt(e), id=f"env-{i}")
                                for i, e in enumerate(self._others)), id="diff-envs")
            envs.border_title = "B: an environment (Enter compares)"
            yield envs
        with Vertical(id="diff-result"):
            yield StatusLine(id="diff-summary")
            yield DiffTable(id="diff-table")
        yield KeyFooter()

    def _env_prompt(self, env: Environment) -> Content:
        return Content.assemble((shown_name(env), "bold"), "  ",
                                (short_ref(env, self._home), "$text-muted"))

    def on_mount(self) -> None:
        self.sub_title = f"diff · {shown_name(self.env)}"
        self.action_pick_b()

    # -- what is shown -------------------------------------------------------------------

    @property
    def difference(self) -> Difference | None:
        """The comparison shown, once there is one."""
        return self._difference if self._showing_result() else None

    def _showing_result(self) -> bool:
        try:
            return bool(self.query_one("#diff-result").display)
        except NoMatches:  # asked (by the footer) before compose finished
            return False

    @property
    def only_differences(self) -> bool:
        return self._only

    @property
    def rows(self) -> list[tuple[str, str, str, str]]:
        """(state, package, A, B) of every row shown, in order (for tests)."""
        return [(r.state, r.name, r.a, r.b) for r in self.query_one(DiffTable).shown]

    def action_pick_b(self) -> None:
        """Back to choosing B (the environment list, or a file)."""
        self.query_one("#diff-pick").display = True
        self.query_one("#diff-result").display = False
        envs = self.query_one("#diff-envs", OptionList)
        if envs.option_count:
            if envs.highlighted is None:
                envs.highlighted = 0
            envs.focus()
        else:
            self.query_one("#diff-file", Input).focus()
        self.refresh_bindings()

    def action_toggle_same(self) -> None:
        """Hide or show the packages the same on both sides."""
        self._only = not self._only
        self._show_table()

    # -- comparing -----------------------------------------------------------------------

    @on(OptionList.OptionSelected, "#diff-envs")
    def _env_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        b = self._others[int((event.option.id or "env-0").removeprefix("env-"))]
        self._compare(shown_name(b), b)

    @on(Input.Submitted, "#diff-file")
    def _file_chosen(self, event: Input.Submitted) -> None:
        event.stop()
        shown = event.value.strip()
        if shown:
            self._compare(printable(shown), Path(shown).expanduser())

    def _compare(self, label: str, b: Environment | Path) -> None:
        self.query_one("#diff-pick").display = False
        result = self.query_one("#diff-result")
        result.display = True
        self.query_one(DiffTable).show([], "A", "B")
        self.query_one("#diff-summary", StatusLine).show(("Comparing with ", "bold $text-accent"),
                                                         label, "…")
        self._difference = None
        self.refresh_bindings()
        self._worker = self.compare(label, b)

    @work(thread=True, exclusive=True, group="diff", exit_on_error=False)
    def compare(self, label: str, b: Environment | Path) -> None:
        from envtui.exchange.diff import diff
        from envtui.exchange.files import load_spec
        from envtui.exchange.spec import ExchangeError, from_environment

        try:
            if self._a is None:
                self._a = from_environment(self.env)
            spec = load_spec(b) if isinstance(b, Path) else from_environment(b)
        except ExchangeError as e:
            self.post_message(self.Compared(label, None, str(e)))
            return
        self.post_message(self.Compared(label, diff(self._a, spec), None))

    @on(Compared)
    def _compared(self, message: Compared) -> None:
        self._b_label = message.b_label
        self._difference = message.difference
        if message.error is not None:
            self.query_one("#diff-summary", StatusLine).show(
                ("Cannot compare: ", "bold $text-error"), tilde_all(message.error, self._home),
                " · b picks another B")
            return
        self._show_table()
        self.query_one(DiffTable).focus()
        self.refresh_bindings()

    def _show_table(self) -> None:
        d = self._difference
        if d is None:
            return
        table = self.query_one(DiffTable)
        table.show(diff_rows(d, same=not self._only), f"A: {shown_name(self.env)}",
                   f"B: {self._b_label}")
        line = summary(d)
        if self._only:
            line = line + Content.styled(" · only differences shown", "$text-muted")
        self.query_one("#diff-summary", StatusLine).update(line)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """An unexpected failure in the worker becomes an error line, never a crash."""
        if event.worker is not self._worker or event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        text = printable(str(error) or type(error).__name__)
        self.query_one("#diff-summary", StatusLine).show(("Failed: ", "bold $text-error"), text)
        self.notify(text, title="Diff failed", severity="error", timeout=10, markup=False)

    def action_go_back(self) -> None:
        self.dismiss(None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_same":
            return True if self.difference is not None else None
        if action == "pick_b":
            return True if self._showing_result() else None
        return True

