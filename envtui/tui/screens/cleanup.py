"""`c`: where the disk went and what cleanup would reclaim, with the candidates to remove.

The summary (like `docker system df`, for every kind) needs a walk of every filesystem
environment, so it runs in a thread with a progress bar and can be cancelled by leaving.
The candidates come from the inventory at once: stale, broken, duplicated (every copy but
the most recently used), dangling or unused images, stopped containers. Space marks them,
`x` removes the marked ones through the same preview and question as the inventory's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Header, ProgressBar, Static
from textual.worker import Worker, WorkerState, get_current_worker

from envtui.cleanup.facts import CleanupFacts, Reason, identity
from envtui.cleanup.usage import UsageRow
from envtui.inspectors.base import ScanContext
from envtui.model import Environment, EnvKind
from envtui.tui.format import KIND_TITLES, human_size, printable, shown_name, tilde
from envtui.tui.index import InventoryIndex
from envtui.tui.widgets.key_footer import KeyFooter
from envtui.tui.widgets.status_line import StatusLine, tilde_all

MARK = "●"


class CleanupScreen(Screen[bool]):
    """The summary table over the candidates table. Dismissed with True after a removal."""

    TITLE = "Cleanup"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_mark", "Select", tooltip="Mark or unmark the highlighted "
                "candidate", id="cleanup.select"),
        Binding("a", "mark_all", "Select all", tooltip="Mark every candidate (again: none)",
                id="cleanup.select-all"),
        Binding("x,delete", "remove_marked", "Delete", key_display="x",
                tooltip="Remove the marked candidates (or the highlighted one), after a "
                "preview and a question", id="cleanup.delete"),
        Binding("P", "prune_dangling", "Prune dangling", tooltip="Remove every dangling "
                "Docker image no container uses, after a preview", id="cleanup.prune"),
        Binding("escape", "back", "Back", tooltip="Back to the inventory", id="cleanup.back"),
    ]

    class Counted(Message):
        """The summary's rows are ready."""

        def __init__(self, rows: list[UsageRow], problems: int) -> None:
            super().__init__()
            self.rows = rows
            self.problems = problems

    class Progressed(Message):
        def __init__(self, done: int, total: int, label: str) -> None:
            super().__init__()
            self.done, self.total, self.label = done, total, label

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, CleanupScreen.Progressed)

    def __init__(self, environments: Sequence[Environment], index: InventoryIndex,
                 ctx: ScanContext, *, home: str | None = None) -> None:
        """`index` is the inventory's, whose cleanup tags were worked out by the scan."""
        super().__init__()
        self._ctx = ctx
        self._home = home
        self.environments = list(environments)
        self.facts: dict[str, CleanupFacts] = {
            identity(e): tags for e, tags in zip(self.environments, index.cleanup, strict=True)}
        chosen = [e for e, pick in zip(self.environments, index.candidates, strict=True) if pick]
        self.candidates = sorted(chosen, key=lambda e: (list(KIND_TITLES).index(e.kind),
                                                        -(e.reclaimable_bytes or e.size_bytes
                                                          or 0)))
        """What cleanup suggests removing, by kind, the most reclaimable first."""
        self.marked: set[str] = set()
        """Identities of the marked candidates."""
        self.rows: list[UsageRow] | None = None
        """The summary, once counted (for tests)."""
        self._removed = False
        self._worker: Worker[None] | None = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Vertical(id="cleanup-main"):
            yield Static("Disk use", classes="cleanup-heading", markup=False)
            yield DataTable(id="usage-table", cursor_type="none", show_cursor=False)
            yield ProgressBar(id="usage-progress", show_eta=False)
            yield StatusLine(id="usage-status")
            yield Static(self._candidates_heading(), id="candidates-heading",
                         classes="cleanup-heading", markup=False)
            yield DataTable(id="candidates", cursor_type="row")
        yield KeyFooter()

    def _candidates_heading(self) -> str:
        return (f"Cleanup candidates ({len(self.candidates)}): stale for "
                f"{self._ctx.stale_days}+ days, broken, duplicate, unused")

    def on_mount(self) -> None:
        usage = self.query_one("#usage-table", DataTable)
        # Fixed widths: the rows arrive later, and the header must not change width then.
        for label, width in (("type", 17), ("total", 5), ("active", 6), ("size", 10),
                             ("reclaimable", 16)):
            usage.add_column(label, key=label, width=width)
        table = self.query_one("#candidates", DataTable)
        for label in ("", "name", "kind", "size", "own", "why"):
            table.add_column(label, key=label or "mark")
        self._fill_candidates()
        table.focus()
        self.query_one("#usage-status", StatusLine).show(
            ("Counting… ", "bold $text-accent"), "shared files are counted once")
        self._worker = self.count()

    # -- the summary -----------------------------------------------------------------

    @work(thread=True, exclusive=True, group="usage", exit_on_error=False)
    def count(self) -> None:
        from envtui.cleanup.usage import UsageCancelled, engine_rows, filesystem_rows, total_row

        worker = get_current_worker()
        chosen = {identity(e) for e in self.candidates}

        def progress(done: int, total: int, label: str) -> None:
            self.post_message(self.Progressed(done, total, label))

        try:
            rows, problems = filesystem_rows(self.environments, chosen, progress=progress,
                                             cancelled=lambda: worker.is_cancelled)
        except UsageCancelled:
            return
        rows += engine_rows(self._ctx, self.environments, chosen)
        rows.append(total_row(rows))
        self.post_message(self.Counted(rows, len(problems)))

    @on(Progressed)
    def _progressed(self, message: Progressed) -> None:
        self.query_one(ProgressBar).update(total=max(message.total, 1), progress=message.done)
        self.query_one("#usage-status", StatusLine).show(
            ("Counting ", "bold $text-accent"), tilde(printable(message.label), self._home))

    @on(Counted)
    def _counted(self, message: Counted) -> None:
        self.rows = message.rows
        self.query_one(ProgressBar).display = False
        table = self.query_one("#usage-table", DataTable)
        table.clear()
        for row in message.rows:
            bold = "bold" if row.label == "total" else ""
            share = (f" ({round(100 * row.reclaimable_bytes / row.size_bytes)}%)"
                     if row.size_bytes else "")
            table.add_row(Text(row.label, style=bold), Text(str(row.total), justify="right"),
                          Text(str(row.active), justify="right"),
                          Text(human_size(row.size_bytes), justify="right", style=bold),
                          Text(human_size(row.reclaimable_bytes) + share, justify="right",
                               style="bold" if row.reclaimable_bytes else ""))
        total = message.rows[-1]
        parts: list[str | tuple[str, str]] = [
            (f"{human_size(total.reclaimable_bytes)} reclaimable", "bold $text-success"),
            "  by removing the candidates below; files shared with package caches or kept "
            "environments are not counted"]
        if message.problems:
            parts += [" · ", (f"{message.problems} unreadable directories", "$text-warning")]
        self.query_one("#usage-status", StatusLine).show(*parts)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._worker or event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        self.query_one(ProgressBar).display = False
        self.query_one("#usage-status", StatusLine).show(
            ("Counting failed: ", "bold $text-error"), printable(str(error)))

    # -- the candidates --------------------------------------------------------------

    def _fill_candidates(self) -> None:
        table = self.query_one("#candidates", DataTable)
        row = table.cursor_row
        table.clear()
        for env in self.candidates:
            facts = self.facts[identity(env)]
            marked = identity(env) in self.marked
            table.add_row(
                Text(MARK if marked else " ", style="bold"),
                Text(shown_name(env), style="bold" if marked else ""),
                Text(env.kind.value),
                Text(human_size(env.size_bytes), justify="right"),
                Text(human_size(env.reclaimable_bytes), justify="right"),
                Text(tilde_all("; ".join(facts.details), self._home)),
                key=identity(env),
            )
        if self.candidates:
            table.move_cursor(row=min(row, len(self.candidates) - 1))

    def _highlighted(self) -> Environment | None:
        table = self.query_one("#candidates", DataTable)
        if not self.candidates:
            return None
        return self.candidates[min(table.cursor_row, len(self.candidates) - 1)]

    def action_toggle_mark(self) -> None:
        if (env := self._highlighted()) is not None:
            self.marked ^= {identity(env)}
            self._fill_candidates()

    def action_mark_all(self) -> None:
        every = {identity(e) for e in self.candidates}
        self.marked = set() if every <= self.marked else every
        self._fill_candidates()

    def action_remove_marked(self) -> None:
        targets = [e for e in self.candidates if identity(e) in self.marked]
        if not targets and (env := self._highlighted()) is not None:
            targets = [env]
        if targets:
            self._remove(targets)

    def action_prune_dangling(self) -> None:
        dangling = [e for e in self.candidates if e.kind is EnvKind.IMAGE
                    and Reason.DANGLING in self.facts[identity(e)].reasons]
        if dangling:
            self._remove(dangling)
        else:
            self.notify("No dangling images.", markup=False)

    def _remove(self, targets: list[Environment]) -> None:
        from envtui.tui.screens.remove import RemoveScreen

        def done(removed: bool | None) -> None:
            if removed:
                self._removed = True
                self.dismiss(True)  # the inventory rescans; counting again needs its result

        self.app.push_screen(RemoveScreen(targets, self._ctx, self.environments,
                                          home=self._home), done)

    def action_back(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
        self.dismiss(self._removed)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("toggle_mark", "mark_all", "remove_marked"):
            return bool(self.candidates)
        if action == "prune_dangling":
            return any(e.kind is EnvKind.IMAGE for e in self.candidates)
        return True
