"""Removing environments from the app: preview, a question that defaults to No, progress.

The plan runs in a thread (it may ask the Docker engine which containers use an image) and
lists each target with its path, size and what identifies it, and each refused one with the
reason. Enter asks; only Yes removes. The removal runs in a thread too, re-checking each
target as it comes to it; Ctrl-C stops before the next one (the one being removed finishes,
as half an environment is worth less than none). Dismissed with True when anything went.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, ProgressBar, Static
from textual.worker import Worker, WorkerState

from envtui.cleanup import Removal
from envtui.cleanup.remover import FILESYSTEM, Outcome, Plan
from envtui.inspectors.base import ScanContext
from envtui.model import Environment
from envtui.tui.format import human_size, printable
from envtui.tui.widgets.confirm import ConfirmScreen
from envtui.tui.widgets.key_footer import KeyFooter
from envtui.tui.widgets.status_line import StatusLine, tilde_all


class RemoveScreen(ModalScreen[bool]):
    """Preview, confirm and remove `targets`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "confirm", "Remove…", tooltip="Ask, then remove what is listed",
                priority=True, id="remove.confirm"),
        Binding("F", "force", "Force", tooltip="Plan again, removing images used by "
                "containers and running containers too", id="remove.force"),
        Binding("ctrl+c", "cancel", "Cancel", tooltip="Stop before the next environment",
                priority=True, id="remove.cancel"),
        Binding("escape", "close", "Close", tooltip="Back, removing nothing more",
                id="remove.close"),
    ]

    class Planned(Message):
        def __init__(self, plan: Plan) -> None:
            super().__init__()
            self.plan = plan

    class Progressed(Message):
        def __init__(self, done: int, total: int, ref: str) -> None:
            super().__init__()
            self.done, self.total, self.ref = done, total, ref

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, RemoveScreen.Progressed)

    class Done(Message):
        def __init__(self, outcome: Outcome) -> None:
            super().__init__()
            self.outcome = outcome

    def __init__(self, targets: Sequence[Environment], ctx: ScanContext,
                 others: Sequence[Environment], *, home: str | None = None) -> None:
        super().__init__()
        self.targets = list(targets)
        self._ctx = ctx
        self._others = list(others)
        self._home = home
        self._force = False
        self.plan: Plan | None = None
        """The last plan shown (for tests)."""
        self.outcome: Outcome | None = None
        """What the removal did, once it ran."""
        self._busy = False  # planning or removing
        self._removing = False
        self._cancel = threading.Event()
        self._worker: Worker[None] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="remove-box"):
            yield Static(self._title(), id="remove-title", markup=False)
            yield DataTable(id="remove-table", cursor_type="row", show_cursor=False)
            yield Static(id="remove-notes")
            yield ProgressBar(id="remove-progress", show_eta=False)
            yield StatusLine(id="remove-status")
        yield KeyFooter()

    def _title(self) -> str:
        n = len(self.targets)
        return f"Remove {n} environment{'s' if n != 1 else ''}"

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label in ("", "environment", "size", "identified by"):
            table.add_column(label)
        self.query_one(ProgressBar).display = False
        self._status(("Checking… ", "bold $text-accent"), "nothing is removed yet")
        self._busy = True
        self._worker = self.check(self._force)

    def _status(self, *parts: str | tuple[str, str]) -> None:
        self.query_one(StatusLine).show(*parts)

    # -- planning --------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="remove", exit_on_error=False)
    def check(self, force: bool) -> None:
        from envtui.cleanup.remover import plan

        self.post_message(self.Planned(plan(self.targets, self._ctx, self._others,
                                            force=force)))

    @on(Planned)
    def _planned(self, message: Planned) -> None:
        self._busy = False
        self.plan = plan = message.plan
        table = self.query_one(DataTable)
        table.clear()
        # Reasons and notes can be long (Docker's name every container): they wrap below
        # the table, so its columns stay narrow and "refused" stays in view.
        notes: list[str | tuple[str, str]] = []
        for r in plan.removals:
            table.add_row(Text("✓", style="bold green"), Text(self._where(r)),
                          Text(human_size(r.size_bytes), justify="right"), Text(r.marker))
            for note in r.notes:
                notes += [(f"{self._where(r)}: ", "bold"), f"{printable(note)}\n"]
        for ref, why in plan.refused:
            table.add_row(Text("✗", style="bold red"), Text(tilde_all(ref, self._home)), "",
                          Text("refused", style="bold red"))
            notes += [(f"✗ {tilde_all(ref, self._home)}: ", "bold $text-error"),
                      f"{tilde_all(why, self._home)}\n"]
        box = self.query_one("#remove-notes", Static)
        box.update(Content.assemble(*notes) if notes else "")
        box.display = bool(notes)
        if plan.removals:
            self._status(("Enter ", "bold"), f"asks, then removes {len(plan.removals)} "
                         f"({human_size(plan.size_bytes)}) · Esc leaves them all")
        else:
            self._status(("Nothing can be removed. ", "bold $text-warning"), "Esc goes back")
        self.refresh_bindings()

    def _where(self, r: Removal) -> str:
        """A filesystem target's real path (what goes), a Docker object's ref."""
        if r.kind in FILESYSTEM:
            return tilde_all(r.target, self._home)
        return printable(r.ref)

    # -- removing --------------------------------------------------------------------

    def action_confirm(self) -> None:
        if self._busy or self.plan is None or not self.plan.removals or self.outcome:
            return
        plan = self.plan
        lines = [f"{self._where(r)}  ({human_size(r.size_bytes)}, {r.marker})"
                 for r in plan.removals]
        if plan.refused:
            lines.append(f"{len(plan.refused)} refused ones stay.")

        def answered(yes: bool | None) -> None:
            if yes:
                self._start()

        n = len(plan.removals)
        self.app.push_screen(ConfirmScreen(
            f"Remove {n} environment{'s' if n != 1 else ''} ({human_size(plan.size_bytes)})? "
            "This cannot be undone.", "\n".join(lines)), answered)

    def _start(self) -> None:
        assert self.plan is not None
        self._busy = self._removing = True
        self._cancel.clear()
        bar = self.query_one(ProgressBar)
        bar.update(total=len(self.plan.removals), progress=0)
        bar.display = True
        self._status(("Removing… ", "bold $text-accent"), "Ctrl-C stops before the next one")
        self.refresh_bindings()
        self._worker = self.run_removal(self.plan)

    @work(thread=True, exclusive=True, group="remove", exit_on_error=False)
    def run_removal(self, plan: Plan) -> None:
        from envtui.cleanup.remover import execute

        def progress(done: int, total: int, ref: str) -> None:
            self.post_message(self.Progressed(done, total, ref))

        outcome = execute(plan.removals, self._ctx, self._others,
                          cancelled=self._cancel.is_set, progress=progress)
        self.post_message(self.Done(outcome))

    @on(Progressed)
    def _progressed(self, message: Progressed) -> None:
        if not self._busy:
            return
        self.query_one(ProgressBar).update(total=message.total, progress=message.done)
        if message.ref and not self._cancel.is_set():  # keep "Cancelling…" once asked
            self._status(("Removing ", "bold $text-accent"),
                         (tilde_all(message.ref, self._home), "bold"),
                         f" ({message.done + 1} of {message.total}) · Ctrl-C stops before "
                         "the next one")

    @on(Done)
    def _done(self, message: Done) -> None:
        self._busy = self._removing = False
        self.outcome = outcome = message.outcome
        self.refresh_bindings()
        parts: list[str | tuple[str, str]] = []
        if outcome.removed:
            parts += [("Removed ", "bold $text-success"), f"{len(outcome.removed)}"]
        if outcome.failed:
            ref, why = outcome.failed[0]
            parts += [("  Not removed: ", "bold $text-error"),
                      f"{len(outcome.failed)} ({tilde_all(ref, self._home)}: "
                      f"{tilde_all(why, self._home)})"]
        parts.append(" · Esc goes back and rescans" if outcome.removed else " · Esc goes back")
        self._status(*parts)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """An unexpected failure becomes an error line, never a crash."""
        if event.worker is not self._worker or event.state is not WorkerState.ERROR:
            return
        self._busy = self._removing = False
        error = event.worker.error
        text = printable(str(error) or type(error).__name__)
        self._status(("Failed: ", "bold $text-error"), text)
        self.refresh_bindings()

    def action_force(self) -> None:
        if self._busy or self.outcome is not None:
            return
        self._force = True
        self._busy = True
        self._status(("Checking again with force… ", "bold $text-warning"),
                     "images in use and running containers go too")
        self._worker = self.check(True)

    def action_cancel(self) -> None:
        if self._removing:
            self._cancel.set()
            self._status(("Cancelling… ", "bold $text-warning"),
                         "the one being removed finishes, the rest stay")

    def action_close(self) -> None:
        if self._removing:
            self.notify("Removing; Ctrl-C stops before the next one.", markup=False)
            return
        self.dismiss(bool(self.outcome and self.outcome.removed))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "confirm":
            return bool(self.plan and self.plan.removals and not self._busy
                        and self.outcome is None)
        if action == "force":
            return bool(self.plan and self.plan.refused and not self._busy and not self._force
                        and self.outcome is None
                        and any(ref.startswith(("image:", "container:"))
                                for ref, _ in self.plan.refused))
        if action == "cancel":
            return self._removing
        return True
