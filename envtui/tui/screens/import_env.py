"""Importing a shared file: pick it, see what the import will do, confirm, watch it run.

`plan_import` reads the file and decides everything without touching the disk; its
`preview` lines are shown with the dangerous ones (`!`, e.g. a package fetched over plain
http) in the error colour and the notable ones (`*`) in the warning colour. Creating asks
first (No is the default), then runs `run_import` in a thread worker with the installer's
output as it comes. Textual turns Ctrl-C into a key, so Ctrl-C here cancels: the importer
stops the installer and removes the half-made environment.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.widgets import (
    Checkbox,
    Header,
    Input,
    Label,
    RadioButton,
    RadioSet,
    RichLog,
    Static,
)
from textual.worker import Worker, WorkerState

from envtui.format import plural
from envtui.tui.commands import ImportCommands
from envtui.tui.format import printable
from envtui.tui.widgets.confirm import ConfirmScreen
from envtui.tui.widgets.key_footer import KeyFooter
from envtui.tui.widgets.status_line import StatusLine, tilde_all

if TYPE_CHECKING:
    from envtui.exchange.importer import ImportPlan
    from envtui.resolver.sources import IndexOptions

KINDS = (("auto", "from the file"), ("venv", "venv"), ("conda", "conda"))
"""(kind id, label): what to create; auto is conda for environment.yml and conda-lock.yml,
a venv for requirements and pylock.toml."""


def preview_line(line: str, home: str | None) -> Content:
    """One preview line, styled by its mark: `!` dangerous, `*` notable."""
    text = tilde_all(line, home)
    if line.startswith("!"):
        return Content.styled(text, "bold $text-error")
    if line.startswith("*"):
        return Content.styled(text, "$text-warning")
    return Content(text)


class ImportScreen(Screen[bool]):
    """File, target and kind; the preview; the installer's output. Dismissed with True
    when an environment was created (the inventory then rescans)."""

    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {ImportCommands}

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "preview_import", "Preview", tooltip="Read the file and show what "
                "the import will do (or press Enter in a field)", id="import.preview"),
        Binding("ctrl+s", "create_environment", "Create", tooltip="Create the environment "
                "previewed (asks first)", priority=True, id="import.create"),
        Binding("ctrl+c", "cancel", "Cancel", tooltip="Stop the installer and remove the "
                "half-made environment", priority=True, id="import.cancel"),
        Binding("escape", "go_back", "Back", tooltip="Back to the inventory (rescanned if "
                "an environment was created)", id="import.back"),
    ]

    class Planned(Message):
        """The file was read: a plan, or the one-line reason there is none."""

        def __init__(self, request: tuple[object, ...], plan: ImportPlan | None,
                     lines: list[str], error: str | None) -> None:
            super().__init__()
            self.request = request
            self.plan = plan
            self.lines = lines
            self.error = error

    class Output(Message):
        """A line of importer or installer output."""

        def __init__(self, line: str) -> None:
            super().__init__()
            self.line = line

    class Finished(Message):
        """The import ended: created `target`, or failed with `error` (`cancelled` says
        it was the user's Ctrl-C)."""

        def __init__(self, target: Path | None, error: str | None, cancelled: bool) -> None:
            super().__init__()
            self.target = target
            self.error = error
            self.cancelled = cancelled

    def __init__(self, *, home: str | None = None, environ: dict[str, str] | None = None,
                 options: IndexOptions | None = None, path: str = "") -> None:
        super().__init__()
        self._home = home
        self._environ = environ
        self._options = options
        self._initial_path = path
        self._plan: ImportPlan | None = None
        self._planned_for: tuple[object, ...] | None = None
        self._asked: tuple[object, ...] | None = None  # the newest request being planned
        self._lines: list[str] = []  # the preview of the plan
        self._busy: str | None = None
        """"planning" or "importing" while a worker runs."""
        self._cancel = threading.Event()
        self._created: Path | None = None
        self._worker: Worker[None] | None = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Horizontal(classes="form-row"):
            yield Label("file", classes="form-label")
            yield Input(self._initial_path, id="import-file", compact=True,
                        placeholder="environment.yml, requirements.txt, conda-lock.yml or "
                                    "pylock.toml")
        with Horizontal(classes="form-row"):
            yield Label("create", classes="form-label")
            yield Input(id="import-target", compact=True,
                        placeholder="a name, or a path (with a /); empty: the file's name")
        with Horizontal(id="import-choices"):
            yield Label("kind", classes="form-label")
            yield RadioSet(*(RadioButton(label, value=kind == "auto", id=f"kind-{kind}")
                             for kind, label in KINDS), id="import-kind")
            yield Checkbox("replace an existing environment", id="import-force")
        yield StatusLine(id="import-status")
        with VerticalScroll(id="import-preview") as preview:
            preview.border_title = "What the import will do"
            yield Static(id="import-lines")
        log = RichLog(id="import-log", wrap=True, markup=False, max_lines=2000)
        log.border_title = "Output"
        yield log
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "import"
        if self._options is None:
            self._options = getattr(self.app, "index_options", None)
        self.query_one("#import-log", RichLog).display = False
        self.query_one("#import-file", Input).focus()
        self._status("Give a file and press Enter to see what the import will do")

    # -- state shown -------------------------------------------------------------------

    @property
    def busy(self) -> str | None:
        return self._busy

    @property
    def plan(self) -> ImportPlan | None:
        """The plan previewed, while the fields still say what it was made from."""
        try:
            request = self._request()
        except NoMatches:  # asked (by the footer) before compose finished
            return None
        return self._plan if self._planned_for == request else None

    @property
    def created(self) -> Path | None:
        return self._created

    def _status(self, *parts: str | tuple[str, str]) -> None:
        self.query_one("#import-status", StatusLine).show(*parts)
        self.refresh_bindings()

    def _request(self) -> tuple[object, ...]:
        """What the fields ask for: (file, target, kind, force)."""
        pressed = self.query_one("#import-kind", RadioSet).pressed_button
        kind = (pressed.id or "").removeprefix("kind-") if pressed else "auto"
        return (self.query_one("#import-file", Input).value.strip(),
                self.query_one("#import-target", Input).value.strip(), kind,
                self.query_one("#import-force", Checkbox).value)

    # -- the preview -------------------------------------------------------------------

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_preview_import()

    @on(RadioSet.Changed)
    @on(Checkbox.Changed)
    def _choice_changed(self) -> None:
        if self._plan is not None and not self._busy:  # a preview is up: keep it current
            self.action_preview_import()

    def action_preview_import(self) -> None:
        """Read the file and show what the import will do."""
        if self._busy == "importing":
            return
        request = self._request()
        if not request[0]:
            self._status(("Give a file to import", "bold $text-error"))
            self.query_one("#import-file", Input).focus()
            return
        self._busy, self._asked = "planning", request
        self._status(("Reading ", "bold $text-accent"), printable(str(request[0])), "…")
        self._worker = self.make_plan(request)

    @work(thread=True, exclusive=True, group="import-plan", exit_on_error=False)
    def make_plan(self, request: tuple[object, ...]) -> None:
        from envtui.exchange.importer import plan_import, preview
        from envtui.exchange.spec import ExchangeError

        file, target, kind, force = request
        prefix = name = None
        if target:
            if "/" in str(target) or str(target).startswith((".", "~")):
                prefix = Path(str(target)).expanduser()
            else:
                name = str(target)
        try:
            plan = plan_import(Path(str(file)).expanduser(), name=name, prefix=prefix,
                               kind=None if kind == "auto" else str(kind),
                               index=self._options, force=bool(force),
                               home=Path(self._home) if self._home else None,
                               environ=self._environ)
        except ExchangeError as e:
            self.post_message(self.Planned(request, None, [], str(e)))
            return
        self.post_message(self.Planned(request, plan, preview(plan), None))

    @on(Planned)
    def _planned(self, message: Planned) -> None:
        if self._busy != "planning" or message.request != self._asked:
            return  # an older request's, overtaken by a newer one
        self._busy = None
        lines = self.query_one("#import-lines", Static)
        if message.error is not None or message.plan is None:
            self._plan = self._planned_for = None
            lines.update("")
            error = tilde_all(message.error or "no plan", self._home)
            self._status(("Cannot import: ", "bold $text-error"), error)
            return
        self._plan, self._planned_for = message.plan, message.request
        self._lines = message.lines
        lines.update(Content("\n").join(preview_line(line, self._home)
                                        for line in message.lines))
        dangers = sum(line.startswith("!") for line in message.lines)
        parts: list[str | tuple[str, str]] = []
        if dangers:
            parts += [(f"{plural(dangers, 'warning')} (!) · ", "bold $text-error")]
        parts += [("ctrl+s creates ", "bold"), tilde_all(str(message.plan.target), self._home)]
        self._status(*parts)

    # -- creating ----------------------------------------------------------------------

    def action_create_environment(self) -> None:
        """Create the environment previewed, after asking (No is the default)."""
        plan = self.plan
        if self._busy:
            return
        if plan is None:
            self.action_preview_import()  # the fields changed since: show the new plan first
            return
        what = "Replace the environment at" if plan.replaces else f"Create the {plan.kind} at"
        question = f"{what} {tilde_all(str(plan.target), self._home)}?"
        detail = f"{plural(len(plan.spec.pins), 'package')} from {plan.source.name}"
        dangers = [line for line in self._lines if line.startswith("!")]
        if dangers:  # said again where the answer is given
            detail += "\n" + "\n".join(tilde_all(line, self._home) for line in dangers)

        def answered(yes: bool | None) -> None:
            if yes and not self._busy and self.plan is plan:
                self._start(plan)

        self.app.push_screen(ConfirmScreen(question, detail), answered)

    def _start(self, plan: ImportPlan) -> None:
        self._busy = "importing"
        self._cancel.clear()
        log = self.query_one("#import-log", RichLog)
        log.clear()
        log.display = True
        self._status(("Importing… ", "bold $text-accent"), "Ctrl-C cancels")
        self._worker = self.run_import(plan)

    @work(thread=True, exclusive=True, group="import-run", exit_on_error=False)
    def run_import(self, plan: ImportPlan) -> None:
        from envtui.exchange.importer import ImportCancelled, run_import
        from envtui.exchange.spec import ExchangeError

        try:
            target = run_import(plan, progress=self._post_output, cancel=self._cancel)
        except ImportCancelled as e:
            self.post_message(self.Finished(None, str(e), cancelled=True))
        except ExchangeError as e:
            self.post_message(self.Finished(None, str(e), cancelled=False))
        else:
            self.post_message(self.Finished(target, None, cancelled=False))

    def _post_output(self, line: str) -> None:
        """Called from the worker's thread."""
        self.post_message(self.Output(line))

    @on(Output)
    def _output(self, message: Output) -> None:
        self.query_one("#import-log", RichLog).write(tilde_all(message.line, self._home))

    @on(Finished)
    def _finished(self, message: Finished) -> None:
        self._busy = None
        if message.target is not None:
            self._created = message.target
            self._plan = self._planned_for = None  # the target exists now: plan again
            where = tilde_all(str(message.target), self._home)
            self._status(("Created ", "bold $text-success"), (where, "bold"),
                         " · Esc goes back to the inventory")
            self.notify(f"Created {where}", title="Import", markup=False)
            return
        error = tilde_all(message.error or "", self._home)
        if message.cancelled:
            self._status(("Cancelled: ", "bold $text-warning"), error)
            return
        self._status(("The import failed: ", "bold $text-error"), error)
        self.notify(error, title="Import failed", severity="error", timeout=10, markup=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """An unexpected failure in a worker becomes an error line, never a crash."""
        if event.worker is not self._worker or event.state is not WorkerState.ERROR:
            return
        self._busy = None
        error = event.worker.error
        text = printable(str(error) or type(error).__name__)
        self._status(("Failed: ", "bold $text-error"), text)
        self.notify(text, title="Import failed", severity="error", timeout=10, markup=False)

    def action_cancel(self) -> None:
        if self._busy == "importing":
            self._cancel.set()
            self._status(("Cancelling… ", "bold $text-warning"),
                         "stopping the installer, then removing the half-made environment")

    def action_go_back(self) -> None:
        if self._busy == "importing":
            self.notify("Wait for it to finish, or press Ctrl-C to cancel.", markup=False)
            return
        self.dismiss(self._created is not None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "create_environment":
            return True if not self._busy and self.plan is not None else None
        if action == "cancel":
            return self._busy == "importing"
        if action == "preview_import":
            return True if self._busy != "importing" else None
        return True
