"""The first screen: every environment on the machine, grouped by kind, with a detail pane.

The screen paints at once and fills in from a thread worker that runs the loader (the
discovery scan) and only posts messages back; widgets are touched on the event loop alone.

The first scan fills the table as it goes: environments arrive in batches while the scan
runs, are shown in the final table's order, and are replaced by the finished inventory
(sorted, with the scan's problems). A rescan is different: see `action_rescan_inventory`.
"""

from __future__ import annotations

import time
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
from textual.widgets import DataTable, Header, Input, Label
from textual.worker import Worker, WorkerState, get_current_worker

from envtui.inspectors.base import ScanContext
from envtui.model import Environment, EnvKind, Inventory, Problem
from envtui.tui.batches import Batcher
from envtui.tui.commands import (
    CleanupCommands,
    DiffCommands,
    EnvironmentCommands,
    ExportCommands,
    FixCommands,
    ImageCommands,
    ImportCommands,
    ProblemCommands,
    TreeCommands,
)
from envtui.tui.format import printable
from envtui.tui.index import InventoryIndex, PartialInventory
from envtui.tui.screens.diff import DiffScreen
from envtui.tui.screens.export import ExportScreen
from envtui.tui.screens.fix import FixScreen
from envtui.tui.screens.images import LOAD, SAVE, ImageArchiveModal, archive_name, image_ref
from envtui.tui.screens.import_env import ImportScreen
from envtui.tui.screens.problems import CheckCache, ProblemsScreen
from envtui.tui.screens.tree import TreeScreen
from envtui.tui.widgets.detail import EnvironmentDetail
from envtui.tui.widgets.inventory_table import InventoryTable, env_key
from envtui.tui.widgets.key_footer import KeyFooter
from envtui.tui.widgets.scan_status import ScanProblems, ScanStatus
from envtui.tui.widgets.status_line import tilde_all

SORT_ORDER = ("name", "size", "last-used", "packages", "problems", "cleanup", "manager",
              "python")
"""The columns `o` steps through."""

LARGE_INVENTORY = 300
"""Above this many environments the filter applies after a typing pause (FILTER_DELAY)."""

FILTER_DELAY = 0.25
"""Seconds without a keystroke before a large inventory is re-filtered."""

BATCH_INTERVAL = 0.2
"""Seconds between batches of environments sent from the scanning thread."""

PARTIAL_REFRESH_SHARE = 0.25
"""The most of its time the screen spends re-showing a running scan's table: after a rebuild
that took t seconds, the next waits t / share (thousands of rows take a while to build)."""

PARTIAL_REFRESH_GAP = 1.0
"""Seconds at least between re-showings of a running scan's table. The rebuild's own time
misses the redraw that follows, and redrawing the table while the scan thread reads took
as long as the scan itself (benchmarks: full inventory 2x `envtui list`)."""

Loader = Callable[..., Inventory]
"""`discovery.scan`'s signature: (ctx, *, use_cache, progress, cancelled, on_environment)
-> Inventory."""


class InventoryScreen(Screen[None]):
    """The inventory table, its filter, the scan status and the detail pane."""

    filter_delay: float = FILTER_DELAY
    """Typing pause before a large inventory is re-filtered (tests lengthen it)."""

    batch_interval: float = BATCH_INTERVAL
    """Seconds between batches of environments read by a running scan."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "question_mark",
            "app.help",
            "Help",
            key_display="?",
            tooltip="Every key of this screen",
            id="inventory.help",
        ),
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
            "t",
            "open_tree",
            "Tree",
            tooltip="Show the highlighted environment's dependency tree (or press Enter)",
            id="inventory.tree",
        ),
        Binding(
            "f",
            "fix_environment",
            "Fix",
            tooltip="Plans that fix the highlighted environment's dependency problems",
            id="inventory.fix",
        ),
        Binding(
            "x,delete",
            "remove_environments",
            "Delete",
            key_display="x",
            tooltip="Remove the marked environments (or the highlighted one), after a preview "
            "and a question",
            id="inventory.delete",
        ),
        Binding(
            "c",
            "open_cleanup",
            "Cleanup",
            tooltip="Where the disk went, and what is stale, broken or duplicated",
            id="inventory.cleanup",
        ),
        Binding(
            "o",
            "sort_next",
            "Sort",
            tooltip="Sort by the next column (name, size, last used, ...)",
            id="inventory.sort",
        ),
        Binding(
            "space",
            "toggle_select",
            "Select",
            tooltip="Mark or unmark the highlighted environment (for Delete)",
            id="inventory.select",
        ),
        Binding(
            "exclamation_mark",
            "show_scan_problems",
            "Scan problems",
            key_display="!",
            tooltip="Read the problems with the scan itself in full, in the detail pane",
            id="inventory.scan-problems",
        ),
        Binding(
            "s",
            "save_image",
            "Save",
            tooltip="Save the highlighted Docker image to a tar archive",
            id="inventory.save-image",
        ),
        Binding("q", "app.quit", "Quit", tooltip="Leave envtui", id="inventory.quit"),
        Binding(
            "r",
            "rescan_inventory",
            "Rescan",
            tooltip="Scan the machine again (cancels a scan in progress)",
            show=False,
            id="inventory.rescan",
        ),
        Binding(
            "e",
            "export_environment",
            "Export",
            tooltip="Write the highlighted environment as environment.yml, requirements, "
            "conda-lock or pylock",
            show=False,
            id="inventory.export",
        ),
        Binding(
            "i",
            "import_file",
            "Import",
            tooltip="Create an environment from a shared file, after a preview",
            show=False,
            id="inventory.import",
        ),
        Binding(
            "d",
            "diff_environment",
            "Diff",
            tooltip="Compare the highlighted environment with another one or a file",
            show=False,
            id="inventory.diff",
        ),
        Binding(
            "l",
            "load_image",
            "Load",
            tooltip="Load a Docker image archive (FILE.tar) into the engine",
            show=False,
            id="inventory.load-image",
        ),
        Binding(
            "p",
            "show_problems",
            "Problems",
            tooltip="Check every environment and list all their problems",
            show=False,
            id="inventory.problems",
        ),
        Binding(
            "a",
            "select_all",
            "Select all",
            show=False,
            tooltip="Mark every environment shown (again: unmark them)",
            id="inventory.select-all",
        ),
        Binding(
            "O",
            "sort_reverse",
            "Reverse sort",
            show=False,
            tooltip="Reverse the order of the sorted column",
            id="inventory.sort-reverse",
        ),
        Binding(
            "k",
            "toggle_container",
            "Start/stop",
            show=False,
            tooltip="Start the highlighted stopped container, or stop the running one",
            id="inventory.container",
        ),
    ]

    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {
        EnvironmentCommands,
        TreeCommands,
        ProblemCommands,
        FixCommands,
        ExportCommands,
        ImportCommands,
        DiffCommands,
        ImageCommands,
        CleanupCommands,
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

    class EnvironmentsRead(Message):
        """The running scan read these environments (a batch, in the order they were read)."""

        def __init__(
            self, generation: int, environments: tuple[Environment, ...], index: InventoryIndex
        ) -> None:
            super().__init__()
            self.generation = generation
            """Which scan read them (older scans' batches are dropped)."""
            self.environments = environments
            """The environments read since the previous batch."""
            self.index = index
            """Their filter index, built in the worker thread."""

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
        self._inventory: Inventory | None = None  # the last finished scan's
        self._shown: Inventory | None = None  # what the table shows: that, or a partial one
        self._index = InventoryIndex()  # the filter's index of `_shown`
        self._partial = PartialInventory()  # what the running scan has read so far
        self._partial_timer: Timer | None = None
        self._partial_due = 0.0  # monotonic time before which it is not re-shown
        self._generation = 0
        self._worker: Worker[None] | None = None
        self._scanning = False
        self._pending_filter: Timer | None = None
        self._applied_query = ""
        self._checked: CheckCache = {}  # each environment's problems, once checked
        self._on_environment = False  # whether the cursor is on an environment (not a heading)

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
        yield KeyFooter()

    def on_mount(self) -> None:
        """Paint the empty layout and start the first scan."""
        self.query_one(ScanProblems).show(())
        self.query_one(EnvironmentDetail).show_message("Scanning for environments…")
        self.query_one(InventoryTable).focus()
        self.action_rescan_inventory()

    # -- what the command palette needs ------------------------------------------------

    @property
    def environments(self) -> Sequence[Environment]:
        """Every environment the table can show, in inventory order: the last finished
        scan's, or, before one finished, those the running scan has read so far.
        """
        return self._shown.environments if self._shown else ()

    @property
    def scan_finished(self) -> bool:
        """Whether a scan has finished and its inventory is in the table."""
        return self._inventory is not None and not self._scanning

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

    def open_tree(self, env: Environment) -> None:
        """Open the dependency tree of `env`."""
        self.app.push_screen(TreeScreen(env, home=self.home))

    # -- actions -----------------------------------------------------------------------

    def action_open_tree(self) -> None:
        """Open the highlighted environment's dependency tree."""
        table = self.query_one(InventoryTable)
        env = table.environment(table.current_key)
        if env is not None:
            self.open_tree(env)

    def action_fix_environment(self) -> None:
        """Open the fix screen of the highlighted environment; rescan if it changed."""
        table = self.query_one(InventoryTable)
        env = table.environment(table.current_key)
        if env is not None:
            self.fix_environment(env)

    def fix_environment(self, env: Environment) -> None:
        """Open the fix screen of `env`; rescan when it changed the environment."""
        self.app.push_screen(FixScreen(env, home=self.home), self._after_fix)

    def _after_fix(self, changed: bool | None) -> None:
        if changed:
            self.action_rescan_inventory()

    def _highlighted(self) -> Environment | None:
        table = self.query_one(InventoryTable)
        return table.environment(table.current_key)

    def action_export_environment(self) -> None:
        """Open the export screen of the highlighted environment."""
        if (env := self._highlighted()) is not None:
            self.export_environment(env)

    def export_environment(self, env: Environment) -> None:
        """Open the export screen of `env`."""
        self.app.push_screen(ExportScreen(env, home=self.home))

    def action_import_file(self) -> None:
        """Open the import screen; rescan when it created an environment."""
        self.app.push_screen(ImportScreen(home=self.home, environ=dict(self._ctx.environ)),
                             self._after_change)

    def action_diff_environment(self) -> None:
        """Compare the highlighted environment (A) with another one or a file (B)."""
        if (env := self._highlighted()) is not None:
            self.diff_environment(env)

    def diff_environment(self, env: Environment) -> None:
        """Open the diff screen with `env` as A."""
        self.app.push_screen(DiffScreen(env, self.environments, home=self.home))

    def action_save_image(self) -> None:
        """Save the highlighted Docker image to a tar archive."""
        if (env := self._highlighted()) is not None and env.kind is EnvKind.IMAGE:
            self.save_image(env)

    def save_image(self, env: Environment) -> None:
        """Ask where to save image `env`, then save it with a progress bar."""
        self.app.push_screen(ImageArchiveModal(SAVE, ref=image_ref(env),
                                               path=archive_name(env), home=self.home))

    def action_load_image(self) -> None:
        """Ask which archive to load into Docker; rescan when images were loaded."""
        self.app.push_screen(ImageArchiveModal(LOAD, home=self.home), self._after_change)

    def _after_change(self, changed: bool | None) -> None:
        if changed:
            self.action_rescan_inventory()

    def action_show_problems(self) -> None:
        """Open the machine-wide problems view (checks are kept until a rescan)."""
        self.app.push_screen(
            ProblemsScreen(self.environments, home=self.home, cache=self._checked)
        )

    # -- selection, sorting, removal, cleanup ---------------------------------------

    def action_toggle_select(self) -> None:
        """Mark or unmark the highlighted environment."""
        if (env := self._highlighted()) is not None:
            self.query_one(InventoryTable).toggle_selected(env)
            self._selection_changed()

    def action_select_all(self) -> None:
        """Mark every environment shown (or unmark them when all are marked)."""
        self.query_one(InventoryTable).select_all_shown()
        self._selection_changed()

    def _selection_changed(self) -> None:
        self._apply_filter()  # `is:selected` and the status line's count follow the marks

    def action_sort_next(self) -> None:
        """Sort by the next column: name, size, last used, packages, problems, cleanup,
        manager, python, then back to the inventory's order."""
        table = self.query_one(InventoryTable)
        order = [*SORT_ORDER, None]
        table.sort_by(order[(order.index(table.sort_column) + 1) % len(order)])

    def action_sort_reverse(self) -> None:
        table = self.query_one(InventoryTable)
        if table.sort_column is not None:
            table.sort_by(table.sort_column, not table.sort_descending)

    def sort_by(self, column: str | None) -> None:
        """Sort each group by `column` (None: inventory order)."""
        self.query_one(InventoryTable).sort_by(column)

    @on(DataTable.HeaderSelected, "#environments")
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        table = self.query_one(InventoryTable)
        column = str(event.column_key.value)
        if column == table.sort_column:
            table.sort_by(column, not table.sort_descending)
        else:
            table.sort_by(column)

    def filter_by(self, term: str) -> None:
        """Put `term` (such as `is:stale`) in the filter, replacing what was there."""
        self.query_one("#filter", Input).value = term
        self._apply_filter()
        self.set_focus(self.query_one(InventoryTable))

    def action_remove_environments(self) -> None:
        """Remove the marked environments, or the highlighted one when none is marked."""
        table = self.query_one(InventoryTable)
        targets = table.selected_environments()
        if not targets and (env := self._highlighted()) is not None:
            targets = [env]
        if targets:
            self.remove_environments(targets)

    def remove_environments(self, targets: Sequence[Environment]) -> None:
        """Preview, confirm and remove `targets`; rescan when anything went."""
        from envtui.tui.screens.remove import RemoveScreen

        self.app.push_screen(RemoveScreen(targets, self._ctx, self.environments,
                                          home=self.home), self._after_removal)

    def _after_removal(self, changed: bool | None) -> None:
        if changed:
            self.query_one(InventoryTable).clear_selection()
            self.action_rescan_inventory()

    def action_open_cleanup(self) -> None:
        """Open the cleanup view: disk use, reclaimable space and the candidates."""
        from envtui.tui.screens.cleanup import CleanupScreen

        self.app.push_screen(CleanupScreen(self.environments, self._index, self._ctx,
                                           home=self.home),
                             self._after_change)

    def action_toggle_container(self) -> None:
        """Start the highlighted container when it is stopped, stop it when it runs."""
        env = self._highlighted()
        if env is not None and env.kind is EnvKind.CONTAINER:
            self.toggle_container(env)

    def toggle_container(self, env: Environment) -> None:
        """Start `env` when it is stopped, stop it when it runs; then rescan."""
        self._start_or_stop(env)

    @work(thread=True, exclusive=True, group="container", exit_on_error=False)
    def _start_or_stop(self, env: Environment) -> None:
        from envtui.cleanup.docker_cleanup import start_container, stop_container
        from envtui.cleanup.remover import docker_api

        running = env.details.get("state") == "running"
        verb = "Stopping" if running else "Starting"
        self.app.call_from_thread(self.notify, f"{verb} {printable(env.name)}…", markup=False)
        try:
            with docker_api(self._ctx) as api:
                (stop_container if running else start_container)(api, str(env.id))
        except Exception as e:  # the engine's own words, whatever failed
            self.app.call_from_thread(self.notify, printable(str(e)), title=f"{verb} failed",
                                      severity="error", markup=False)
            return
        self.app.call_from_thread(self.action_rescan_inventory)

    def action_focus_filter(self) -> None:
        """Put the cursor in the filter input (at once: keys typed right after `/` must
        land in it, and `Widget.focus` waits for the next idle)."""
        self.set_focus(self.query_one("#filter", Input))

    def action_clear_filter(self) -> None:
        """Empty the filter and go back to the table."""
        self.query_one("#filter", Input).value = ""
        self.set_focus(self.query_one(InventoryTable))

    def action_show_scan_problems(self) -> None:
        """Show every scan problem in full in the detail pane, until the cursor moves."""
        self.query_one(EnvironmentDetail).show_scan_problems(self.scan_problems)

    def action_rescan_inventory(self) -> None:
        """Start a scan; the exclusive worker group cancels one already running.

        Once a scan has finished, a rescan keeps its complete table in place, selection and
        filter included, with the status line saying "Rescanning…", and swaps in the new
        inventory when it is complete. Filling the table again from nothing (or mixing old
        rows with new ones) would make rows vanish and come back under the cursor for the
        length of the scan, only to end with nearly the same table; the old rows are a
        better picture of the machine than a partial new one. Before any scan finished,
        there is no such picture: the new scan's environments are shown as they are read,
        and what a cancelled or failed scan had read goes at once (its batches still in
        flight are dropped by generation), so nothing of it shows after the new one started.
        """
        self._generation += 1
        self._scanning = True
        self._drop_partial()
        if self._inventory is None and self._shown is not None:
            self._shown, self._index = None, InventoryIndex()
            self.query_one(InventoryTable).show((), self._index, None)
            self.query_one(EnvironmentDetail).show_message("Scanning for environments…")
        self.query_one(ScanStatus).scanning(again=self._inventory is not None)
        self._worker = self.scan_inventory(self._generation)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer "clear filter" only when there is something to clear or leave, and "scan
        problems" only when there are some.
        """
        if action == "show_scan_problems":
            return bool(self.scan_problems)
        if action in ("open_tree", "fix_environment", "export_environment", "diff_environment",
                      "toggle_select"):
            return True if self._on_environment else None
        if action == "remove_environments":
            return True if self._on_environment or self.query_one(InventoryTable).selected \
                else None
        if action == "toggle_container":
            env = self._highlighted() if self._on_environment else None
            return env is not None and env.kind is EnvKind.CONTAINER
        if action == "save_image":
            env = self._highlighted() if self._on_environment else None
            return env is not None and env.kind is EnvKind.IMAGE
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
        """Run the loader in a thread, posting progress, batches of the environments read
        (at most one per `batch_interval`) and the result as messages.
        """
        worker = get_current_worker()

        def progress(done: int, total: int | None, label: str) -> None:
            if not worker.is_cancelled:
                self.post_message(self.ScanProgressed(generation, done, total, label))

        def send(environments: list[Environment]) -> None:
            if not worker.is_cancelled:
                batch = Inventory(tuple(environments))
                index = self._build_index(batch)
                self.post_message(self.EnvironmentsRead(generation, batch.environments, index))

        batches = Batcher(send, self.batch_interval)
        try:
            inventory = self._loader(
                self._ctx,
                use_cache=True,
                progress=progress,
                cancelled=lambda: worker.is_cancelled,
                on_environment=batches.add,
            )
        except Exception:
            if worker.is_cancelled:  # the loader's way of stopping early (ScanCancelled)
                return
            batches.close(flush=True)  # what was read before the failure is all there is
            raise
        finally:
            # On success the inventory, posted next, holds every environment still queued.
            batches.close(flush=False)
        if worker.is_cancelled:
            return
        index = self._build_index(inventory)
        self.post_message(self.InventoryLoaded(generation, inventory, index))

    def _build_index(self, inventory: Inventory) -> InventoryIndex:
        return InventoryIndex.build(inventory, self.home, self._ctx.stale_days, self._ctx.now)

    @on(ScanProgressed)
    def _show_progress(self, message: ScanProgressed) -> None:
        if message.generation == self._generation:
            self.query_one(ScanStatus).scanning(
                message.done, message.total, message.label, again=self._inventory is not None
            )

    @on(EnvironmentsRead)
    def _add_environments(self, message: EnvironmentsRead) -> None:
        if message.generation != self._generation or not self._scanning:
            return  # a cancelled scan's, or one that arrived after the inventory
        if self._inventory is not None:
            return  # a rescan: the previous inventory stays until the new one is complete
        self._partial.add(message.environments, message.index)
        if self._partial_timer is None:
            wait = self._partial_due - time.monotonic()
            if wait > 0:
                self._partial_timer = self.set_timer(wait, self._show_partial)
            else:
                self._show_partial()

    def _show_partial(self) -> None:
        """Show what the running scan has read so far, then hold off the next rebuild so it
        takes at most PARTIAL_REFRESH_SHARE of the time.
        """
        self._partial_timer = None
        if self._inventory is not None or not len(self._partial):
            return
        started = time.monotonic()
        self._shown, self._index = self._partial.view()
        self._apply_filter(keep_top=True)
        took = time.monotonic() - started
        self._partial_due = started + max(took / PARTIAL_REFRESH_SHARE, PARTIAL_REFRESH_GAP)

    def _drop_partial(self) -> None:
        self._partial = PartialInventory()
        self._partial_due = 0.0
        if self._partial_timer is not None:
            self._partial_timer.stop()
            self._partial_timer = None

    @on(InventoryLoaded)
    def _show_inventory(self, message: InventoryLoaded) -> None:
        if message.generation != self._generation:
            return
        self._scanning = False
        self._drop_partial()
        replaces_partial = self._shown is not self._inventory
        self._inventory = self._shown = message.inventory
        self._index = message.index
        self._checked = {}  # a new inventory: the old environments' checks are dropped
        self.query_one(ScanProblems).show(message.inventory.problems)
        self._apply_filter(keep_top=replaces_partial)
        self.refresh_bindings()  # "scan problems" comes and goes with them

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Turn a failed scan into an error notice; the previous inventory stays shown."""
        if event.worker is not self._worker or event.state is not WorkerState.ERROR:
            return
        self._scanning = False
        error = event.worker.error
        text = printable(str(error) or type(error).__name__)
        self.query_one(ScanStatus).failed(text)
        if not self.environments:
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
        self.set_focus(self.query_one(InventoryTable))

    def on_descendant_focus(self) -> None:
        """Footer hints depend on where the focus is (see `check_action`)."""
        self.refresh_bindings()

    def _apply_filter(self, *, keep_top: bool = False) -> None:
        """Show the environments matching the filter (see `InventoryTable.show` for
        `keep_top`); also the pending filter's timer callback.
        """
        if self._pending_filter is not None:  # this applies the query typed so far
            self._pending_filter.stop()
            self._pending_filter = None
        if self._shown is None:
            return
        query = self._applied_query = self.query_one("#filter", Input).value
        table = self.query_one(InventoryTable)
        environments = self._shown.environments
        marked = frozenset(i for i, e in enumerate(environments)
                           if (e.kind, e.ref) in table.selected)
        visible = self._index.matches(query, marked)
        table.show(environments, self._index, visible, keep_top=keep_top)
        if not self._scanning and self._shown is self._inventory:  # not a failed scan's part
            self.query_one(ScanStatus).finished(environments, self._index, visible,
                                                selected=len(table.selected))
        self._update_detail()

    @on(DataTable.RowSelected, "#environments")
    def _row_selected(self) -> None:
        self.action_open_tree()

    @on(DataTable.RowHighlighted, "#environments")
    def _update_detail(self) -> None:
        table = self.query_one(InventoryTable)
        detail = self.query_one(EnvironmentDetail)
        key = table.current_key
        env = table.environment(key)
        kind = table.kind(key)
        if (env is not None) != self._on_environment:
            self._on_environment = env is not None
            self.refresh_bindings()  # "tree" is for environments, not headings
        if env is not None:
            detail.show_environment(env, tuple(tilde_all(d, self.home)
                                               for d in table.cleanup_details(key)))
        elif kind is not None:
            detail.show_group(kind, *table.group_members(kind))
        elif not self.environments:
            detail.show_message(
                "Scanning for environments…" if self._scanning else "No environments found."
            )
        else:
            query = printable(self.query_one("#filter", Input).value)
            detail.show_message(f"No environment matches “{query}”.")
