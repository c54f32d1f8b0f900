"""The first screen: every environment on the machine, grouped by kind, with a detail pane.

The screen paints at once and fills in from a thread worker that runs the loader (the
discovery scan) and only posts messages back; widgets are touched on the event loop alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Header, Input, Label
from textual.worker import Worker, WorkerState, get_current_worker

from envtui.inspectors.base import ScanContext
from envtui.model import Environment, Inventory, Problem
from envtui.tui.commands import EnvironmentCommands
from envtui.tui.format import printable
from envtui.tui.index import InventoryIndex
from envtui.tui.widgets.detail import EnvironmentDetail
from envtui.tui.widgets.inventory_table import InventoryTable, env_key
from envtui.tui.widgets.scan_status import ScanProblems, ScanStatus

LARGE_INVENTORY = 300
"""Above this many environments the filter applies after a typing pause (FILTER_DELAY)."""

FILTER_DELAY = 0.25
"""Seconds without a keystroke before a large inventory is re-filtered."""

Loader = Callable[..., Inventory]
"""`discovery.scan`'s signature: (ctx, *, use_cache, progress, cancelled) -> Inventory."""


class InventoryScreen(Screen[None]):
    """The inventory table, its filter, the scan status and the detail pane."""

    filter_delay: float = FILTER_DELAY
    """Typing pause before a large inventory is re-filtered (tests lengthen it)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "slash",
            "focus_filter",
            "Filter",
            tooltip="Narrow the table by name, manager, path or package name",
            id="inventory.filter",
        ),
        Binding(
            "escape",
            "clear_filter",
            "Clear filter",
            tooltip="Empty the filter and show every environment again",
            id="inventory.clear-filter",
        ),
        Binding(
            "r",
            "rescan_inventory",
            "Rescan",
            tooltip="Scan the machine again (cancels a scan in progress)",
            id="inventory.rescan",
        ),
        Binding(
            "exclamation_mark",
            "show_scan_problems",
            "Scan problems",
            key_display="!",
            tooltip="Read the problems with the scan itself in full, in the detail pane",
            id="inventory.scan-problems",
        ),
        Binding("q", "app.quit", "Quit", tooltip="Leave envtui", id="inventory.quit"),
    ]

    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {
        EnvironmentCommands
    }

    class ScanProgressed(Message):
        """The running scan got further; a newer one replaces a stale one in the queue."""

        def __init__(self, generation: int, done: int, total: int | None, label: str) -> None:
            super().__init__()
            self.generation = generation
            """Which scan this is about (older scans' messages are ignored)."""
            self.done = done
            """Environments (or steps) finished."""
            self.total = total
            """How many there are, once known."""
            self.label = label
            """What is being looked at now."""

        def can_replace(self, message: Message) -> bool:
            """Only the newest progress matters."""
            return isinstance(message, InventoryScreen.ScanProgressed)

    class InventoryLoaded(Message):
        """A scan finished with this inventory and its search index."""

        def __init__(self, generation: int, inventory: Inventory, index: InventoryIndex) -> None:
            super().__init__()
            self.generation = generation
            """Which scan produced it."""
            self.inventory = inventory
            """Everything the scan found."""
            self.index = index
            """The filter's index, built in the worker thread."""

    def __init__(self, ctx: ScanContext, loader: Loader) -> None:
        super().__init__()
        self._ctx = ctx
        self._loader = loader
        self._inventory: Inventory | None = None
        self._index = InventoryIndex()
        self._generation = 0
        self._worker: Worker[None] | None = None
        self._scanning = False
        self._pending_filter: Timer | None = None
        self._applied_query = ""

    def compose(self) -> ComposeResult:
        """Header, filter, status lines, the table over the detail pane, footer."""
        yield Header(show_clock=False)
        with Horizontal(id="filter-bar"):
            yield Label("filter", id="filter-label")
            yield Input(
                placeholder="press / and type a name, manager, path or package",
                id="filter",
                compact=True,
            )
        yield ScanStatus(id="scan-status")
        yield ScanProblems(id="scan-problems")
        with Vertical(id="main"):
            yield InventoryTable(home=self.home, id="environments")
            yield EnvironmentDetail(home=self.home, id="detail")
        yield Footer()

    def on_mount(self) -> None:
        """Paint the empty layout and start the first scan."""
        self.query_one(ScanProblems).show(())
        self.query_one(EnvironmentDetail).show_message("Scanning for environments…")
        self.query_one(InventoryTable).focus()
        self.action_rescan_inventory()

    # -- what the command palette needs ------------------------------------------------

    @property
    def environments(self) -> Sequence[Environment]:
        """Every environment of the last finished scan, in inventory order."""
        return self._inventory.environments if self._inventory else ()

    @property
    def scan_problems(self) -> Sequence[Problem]:
        """The problems with the last finished scan itself."""
        return self._inventory.problems if self._inventory else ()

    @property
    def home(self) -> str:
        """The scanned home directory, written `~` in paths."""
        return str(self._ctx.home)

    def show_environment(self, env: Environment) -> None:
        """Highlight `env`, clearing the filter first if it hides it."""
        index = next((i for i, e in enumerate(self.environments) if e is env), None)
        if index is None:
            return
        table = self.query_one(InventoryTable)
        if not table.select_key(env_key(index)):
            self.query_one("#filter", Input).value = ""
            self._apply_filter()
            table.select_key(env_key(index))
        table.focus()

    # -- actions -----------------------------------------------------------------------

    def action_focus_filter(self) -> None:
        """Put the cursor in the filter input."""
        self.query_one("#filter", Input).focus()

    def action_clear_filter(self) -> None:
        """Empty the filter and go back to the table."""
        self.query_one("#filter", Input).value = ""
        self.query_one(InventoryTable).focus()

    def action_show_scan_problems(self) -> None:
        """Show every scan problem in full in the detail pane, until the cursor moves."""
        self.query_one(EnvironmentDetail).show_scan_problems(self.scan_problems)

    def action_rescan_inventory(self) -> None:
        """Start a scan; the exclusive worker group cancels one already running."""
        self._generation += 1
        self._scanning = True
        self.query_one(ScanStatus).scanning()
        self._worker = self.scan_inventory(self._generation)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer "clear filter" only when there is something to clear or leave, and "scan
        problems" only when there are some.
        """
        if action == "show_scan_problems":
            return bool(self.scan_problems)
        if action == "clear_filter":
            try:
                field = self.query_one("#filter", Input)
            except NoMatches:  # asked before compose finished
                return False
            return bool(field.value) or field.has_focus
        return True

    # -- the worker and its messages ---------------------------------------------------

    @work(thread=True, exclusive=True, group="scan", exit_on_error=False)
    def scan_inventory(self, generation: int) -> None:
        """Run the loader in a thread, posting progress and the result as messages."""
        worker = get_current_worker()

        def progress(done: int, total: int | None, label: str) -> None:
            if not worker.is_cancelled:
                self.post_message(self.ScanProgressed(generation, done, total, label))

        try:
            inventory = self._loader(
                self._ctx,
                use_cache=True,
                progress=progress,
                cancelled=lambda: worker.is_cancelled,
            )
        except Exception:
            if worker.is_cancelled:  # the loader's way of stopping early (ScanCancelled)
                return
            raise
        if worker.is_cancelled:
            return
        index = InventoryIndex.build(inventory, self.home)
        self.post_message(self.InventoryLoaded(generation, inventory, index))

    @on(ScanProgressed)
    def _show_progress(self, message: ScanProgressed) -> None:
        if message.generation == self._generation:
            self.query_one(ScanStatus).scanning(message.done, message.total, message.label)

    @on(InventoryLoaded)
    def _show_inventory(self, message: InventoryLoaded) -> None:
        if message.generation != self._generation:
            return
        self._scanning = False
        self._inventory = message.inventory
        self._index = message.index
        self.query_one(ScanProblems).show(message.inventory.problems)
        self._apply_filter()
        self.refresh_bindings()  # "scan problems" comes and goes with them

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Turn a failed scan into an error notice; the previous inventory stays shown."""
        if event.worker is not self._worker or event.state is not WorkerState.ERROR:
            return
        self._scanning = False
        error = event.worker.error
        text = printable(str(error) or type(error).__name__)
        self.query_one(ScanStatus).failed(text)
        if self._inventory is None:
            self.query_one(EnvironmentDetail).show_message("No inventory: the scan failed.")
        self.notify(text, title="Scan failed", severity="error", timeout=10, markup=False)

    # -- filter and selection ----------------------------------------------------------

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.refresh_bindings()
        if event.value == self._applied_query:
            return
        if self._pending_filter is not None:
            self._pending_filter.stop()
            self._pending_filter = None
        if len(self.environments) <= LARGE_INVENTORY:
            self._apply_filter()
        else:
            # Rebuilding thousands of rows per keystroke would make typing lag; wait for a pause.
            self._pending_filter = self.set_timer(self.filter_delay, self._apply_filter)

    @on(ScanProblems.Clicked)
    def _scan_problems_clicked(self) -> None:
        self.action_show_scan_problems()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.query_one(InventoryTable).focus()

    def on_descendant_focus(self) -> None:
        """Footer hints depend on where the focus is (see `check_action`)."""
        self.refresh_bindings()

    def _apply_filter(self) -> None:
        if self._inventory is None:
            return
        query = self._applied_query = self.query_one("#filter", Input).value
        visible = self._index.matches(query)
        environments = self._inventory.environments
        self.query_one(InventoryTable).show(environments, self._index, visible)
        if not self._scanning:
            self.query_one(ScanStatus).finished(environments, self._index, visible)
        self._update_detail()

    @on(DataTable.RowHighlighted, "#environments")
    def _update_detail(self) -> None:
        table = self.query_one(InventoryTable)
        detail = self.query_one(EnvironmentDetail)
        key = table.current_key
        env = table.environment(key)
        kind = table.kind(key)
        if env is not None:
            detail.show_environment(env)
        elif kind is not None:
            detail.show_group(kind, *table.group_members(kind))
        elif not self.environments:
            detail.show_message("No environments found.")
        else:
            query = printable(self.query_one("#filter", Input).value)
            detail.show_message(f"No environment matches “{query}”.")
