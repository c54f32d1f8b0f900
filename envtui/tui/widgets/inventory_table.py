"""The inventory table: one row per environment, grouped under a heading row per kind."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist, RowKey

from envtui.cleanup.facts import CleanupFacts
from envtui.model import Environment, EnvKind
from envtui.tui.format import (
    KIND_TITLES,
    SHORT_KIND_TITLES,
    human_size,
    location_hints,
    printable,
    short_date,
    shown_name,
)
from envtui.tui.index import InventoryIndex
from envtui.tui.widgets.theme import component_text_style

COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "name"),
    ("manager", "manager"),
    ("python", "python"),
    ("packages", "packages"),
    ("size", "size"),
    ("last-used", "last used"),
    ("problems", "problems"),
    ("cleanup", "cleanup"),
)
"""(column key, header label) in display order."""

OPTIONAL_COLUMNS = ("last-used", "python", "manager")
"""Dropped in this order when the terminal is too narrow for every column (the detail pane
shows them all)."""

SORT_FIRST_DESCENDING = frozenset({"packages", "size", "problems", "cleanup"})
"""Columns whose first sort puts the largest first (the biggest, the most broken)."""

SHORT_TAGS = {"stale": "stale", "broken": "broken", "duplicate": "dup", "dangling": "dangling",
              "unused": "unused", "stopped": "stopped"}
"""How the cleanup column writes each cleanup tag."""

SELECTED_MARK = "● "
"""Replaces a selected row's indent."""

NAME_CAP = 36
"""The widest the name column gets: one long name must not push the others off screen."""

NAME_MIN = 20
"""Narrower than this and OPTIONAL_COLUMN goes to make room."""

NAME_FLOOR = 12
"""The name column never gets narrower than this, even if the last columns must scroll."""

_Anchor = tuple[EnvKind, str] | str | None
"""What the cursor was on: an environment's (kind, ref), a heading's row key, or nothing."""

_Layout = tuple[tuple[str, ...], int]
"""The column keys shown and the name column's width cap."""

_Cells = dict[str, Text]
"""One row's cells by column key."""

_GROUP_PREFIX = "kind:"
_ENV_PREFIX = "env:"
_INDENT = "  "


def group_key(kind: EnvKind) -> str:
    """Row key of the heading row of `kind`'s group."""
    return f"{_GROUP_PREFIX}{kind.value}"


def env_key(index: int) -> str:
    """Row key of the environment at `index` in the inventory."""
    return f"{_ENV_PREFIX}{index}"


def _hints(environments: Sequence[Environment], home: str | None) -> dict[int, str]:
    """Where each environment that shares its name is, by inventory index."""
    by_name: dict[str, list[int]] = defaultdict(list)
    for index, env in enumerate(environments):
        by_name[env.name].append(index)
    hints: dict[int, str] = {}
    for indexes in by_name.values():
        if len(indexes) > 1:
            found = location_hints([environments[i] for i in indexes], home)
            hints.update(zip(indexes, found, strict=True))
    return hints


def fit_columns(widths: Mapping[str, int], available: int, padding: int) -> _Layout:
    """Choose the columns and the name cap for `available` cells.

    `widths` holds each column's widest cell (header included); each column also takes
    `padding` cells on either side. Every column but the name keeps its natural width.
    """
    columns = [key for key, _ in COLUMNS]
    cap = NAME_CAP
    for drop in (None, *OPTIONAL_COLUMNS):
        if drop is not None:
            columns.remove(drop)
        others = sum(widths.get(key, 0) + 2 * padding for key in columns if key != "name")
        cap = min(NAME_CAP, available - others - 2 * padding)
        if cap >= NAME_MIN:
            break
    return tuple(columns), max(cap, NAME_FLOOR)


class InventoryTable(DataTable[Text]):
    """Environments grouped by kind, with their size, age and problem count.

    Rows are keyed `kind:<kind>` for headings and `env:<index into the inventory>` for
    environments. The highlighted environment is followed by its kind and `ref` across
    re-filtering, rows arriving from a running scan and rescans, where its index may change,
    and stays on the same line of the view while rows come and go above it.

    Columns are rebuilt with the rows, so their widths follow what is shown: names are cut
    with an ellipsis at NAME_CAP (or less on a narrow terminal, where "last used" goes
    first), and environments sharing a name show where they are.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "inventory-table--group",
        "inventory-table--problems",
        "inventory-table--muted",
        "inventory-table--selected",
        "inventory-table--cleanup",
    }
    """Heading rows, a non-zero problem count, quiet values (unknowns, hints), the mark of
    a selected row and cleanup tags."""

    def __init__(self, *, home: str | None = None, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self._home = home
        self._environments: Sequence[Environment] = ()
        self._index = InventoryIndex()
        self._visible: Sequence[int] | None = None
        self._hints: dict[int, str] = {}
        self._widths: dict[str, int] = {}
        self._layout: _Layout = ((), 0)
        self._styles: dict[str, Style] = {}
        self._cursor_line: int | None = None  # where to scroll the cursor back to, once measured
        self.selected: set[tuple[EnvKind, str]] = set()
        """The marked environments, by (kind, ref), kept across re-filtering and rescans."""
        self.sort_column: str | None = None
        """The column the environments of each group are sorted by; None: inventory order."""
        self.sort_descending = False

    def on_mount(self) -> None:
        """Show the headers while the first scan runs; restyle the rows when the theme
        changes (their styles are resolved when built).
        """
        for key, label in COLUMNS:
            self.add_column(label, key=key)
        self.app.theme_changed_signal.subscribe(
            self, lambda _theme: self._rebuild(self._anchor())
        )

    def on_resize(self, _event: events.Resize) -> None:
        """Fit the columns to the new width."""
        if self._environments and self._fit() != self._layout:
            self._rebuild(self._anchor())

    def show(
        self,
        environments: Sequence[Environment],
        index: InventoryIndex,
        visible: Sequence[int] | None,
        *,
        keep_top: bool = False,
    ) -> None:
        """Display `environments` (inventory order), only those at `visible` if not None.

        The highlighted environment stays highlighted when it is still shown; with
        `keep_top`, a cursor on the first environment row (where a new table starts it)
        stays on that row, whichever environment is first now: a table filling in while
        the user has not moved keeps showing its top.
        """
        at_top = (
            keep_top and self.cursor_row == 1 and self.environment(self.current_key) is not None
        )
        anchor = None if at_top else self._anchor()
        if environments is not self._environments:
            self._hints = _hints(environments, self._home)
        self._environments = environments
        self._index = index
        self._visible = visible
        self._rebuild(anchor)

    def environment(self, key: RowKey | str | None) -> Environment | None:
        """The environment shown on row `key`, or None for headings and unknown keys."""
        value = key.value if isinstance(key, RowKey) else key
        if value is None or not value.startswith(_ENV_PREFIX):
            return None
        index = int(value.removeprefix(_ENV_PREFIX))
        return self._environments[index] if index < len(self._environments) else None

    def cleanup_details(self, key: RowKey | str | None) -> tuple[str, ...]:
        """The cleanup phrases of the environment on row `key` ("not used for 212 days")."""
        value = key.value if isinstance(key, RowKey) else key
        if value is None or not value.startswith(_ENV_PREFIX):
            return ()
        return self._tags(int(value.removeprefix(_ENV_PREFIX))).details

    def kind(self, key: RowKey | str | None) -> EnvKind | None:
        """The kind whose heading is row `key`, or None for environment rows."""
        value = key.value if isinstance(key, RowKey) else key
        if value is None or not value.startswith(_GROUP_PREFIX):
            return None
        return EnvKind(value.removeprefix(_GROUP_PREFIX))

    def group_members(self, kind: EnvKind) -> tuple[list[Environment], int]:
        """The environments of `kind` currently shown, and how many of them have problems."""
        members = [i for i in self._shown() if self._environments[i].kind is kind]
        with_problems = sum(1 for i in members if self._index.problem_counts[i])
        return [self._environments[i] for i in members], with_problems

    @property
    def current_key(self) -> str | None:
        """Key of the highlighted row, if any."""
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    def select_key(self, key: str) -> bool:
        """Move the cursor to row `key`; False when that row is not shown."""
        try:
            row = self.get_row_index(key)
        except RowDoesNotExist:
            return False
        self.move_cursor(row=row, column=0)
        return True

    # -- selection and sorting -------------------------------------------------------

    def toggle_selected(self, env: Environment) -> None:
        """Mark or unmark `env` (the owner then shows the table again)."""
        self.selected ^= {(env.kind, env.ref)}

    def select_all_shown(self) -> None:
        """Mark every environment shown, or unmark them all when all are marked already."""
        shown = {(self._environments[i].kind, self._environments[i].ref) for i in self._shown()}
        self.selected = self.selected - shown if shown <= self.selected else self.selected | shown

    def clear_selection(self) -> None:
        self.selected = set()

    def selected_environments(self) -> list[Environment]:
        """The marked environments still in the inventory, in inventory order."""
        return [e for e in self._environments if (e.kind, e.ref) in self.selected]

    def sort_by(self, column: str | None, descending: bool | None = None) -> None:
        """Sort each group by `column` (None: inventory order); the first sort of a column
        goes the useful way round (largest sizes first, names A to Z)."""
        if descending is None:
            descending = column in SORT_FIRST_DESCENDING
        self.sort_column, self.sort_descending = column, descending
        self._rebuild(self._anchor())

    def _sort_value(self, index: int) -> Any:
        env = self._environments[index]
        column = self.sort_column
        if column == "name":
            return shown_name(env).lower()
        if column == "manager":
            return env.manager.lower()
        if column == "python":
            return tuple(int(p) for p in (env.python or "").split(".") if p.isdigit()) or None
        if column == "packages":
            return len(env.packages)
        if column == "size":
            return env.size_bytes
        if column == "last-used":
            return env.last_used
        if column == "problems":
            return self._index.problem_counts[index] if self._index.problem_counts else 0
        if column == "cleanup":
            return len(self._tags(index).reasons)
        return None

    def _ordered(self, members: list[int]) -> list[int]:
        if self.sort_column is None:
            return members
        values = {i: self._sort_value(i) for i in members}
        known = sorted((i for i in members if values[i] is not None), key=values.__getitem__,
                       reverse=self.sort_descending)
        return known + [i for i in members if values[i] is None]  # unknowns last either way

    def _label(self, key: str, label: str) -> str:
        if key != self.sort_column:
            return label
        return f"{label} {'▼' if self.sort_descending else '▲'}"

    def _tags(self, index: int) -> CleanupFacts:
        cleanup = self._index.cleanup
        return cleanup[index] if index < len(cleanup) else CleanupFacts()

    def _anchor(self) -> _Anchor:
        key = self.current_key
        env = self.environment(key)
        return (env.kind, env.ref) if env is not None else key

    def _restore(self, anchor: _Anchor) -> bool:
        if isinstance(anchor, tuple):
            for i in self._shown():
                env = self._environments[i]
                if (env.kind, env.ref) == anchor:
                    return self.select_key(env_key(i))
            return False
        return anchor is not None and self.select_key(anchor)

    def _shown(self) -> Sequence[int]:
        return range(len(self._environments)) if self._visible is None else self._visible

    def _style(self, component: str) -> Style:
        # Resolved once per rebuild (see `_rebuild`), not once per cell.
        if component not in self._styles:
            self._styles[component] = component_text_style(self, component)
        return self._styles[component]

    def _available_width(self) -> int:
        # Before the first layout the table's size is unknown: assume the whole terminal.
        width = self.size.width or max(self.app.size.width - 2, 0)
        return width - self.styles.scrollbar_size_vertical

    def _fit(self) -> _Layout:
        return fit_columns(self._widths, self._available_width(), self.cell_padding)

    def _rebuild(self, anchor: _Anchor) -> None:
        self._styles.clear()  # the theme may have changed
        groups: dict[EnvKind, list[int]] = {kind: [] for kind in KIND_TITLES}
        for index in self._shown():
            groups[self._environments[index].kind].append(index)
        rows: list[tuple[str, _Cells]] = []
        for kind, members in groups.items():
            if members:
                rows.append((group_key(kind), self._heading(kind, members)))
                rows.extend((env_key(i), self._cells(i)) for i in self._ordered(members))
        self._widths = {
            key: max([len(self._label(key, label)), *(cells[key].cell_len for _, cells in rows)])
            for key, label in COLUMNS
        }
        self._layout = columns, cap = self._fit()
        # The cursor's line in the view (or, if the last rebuild's scrolling is still to
        # come, the line it will restore: `clear` has scrolled to the top since).
        line = self._cursor_line
        if line is None:
            line = self.cursor_row - round(self.scroll_y)
        self.clear(columns=True)
        for key, label in COLUMNS:
            if key in columns:
                self.add_column(self._label(key, label), key=key)
        for row_key, cells in rows:
            self._fit_name(row_key, cells, cap)
            self.add_row(*(cells[key] for key in columns), key=row_key)
        if self._restore(anchor):
            # `clear` scrolled to the top; scroll back so the row does not jump on screen.
            if self._cursor_line is None:
                self.call_after_refresh(self._scroll_cursor_to_line)
            self._cursor_line = line
        else:
            self._cursor_line = None
            if self.row_count > 1:
                # Start on the first environment rather than on a heading.
                self.move_cursor(row=1, column=0)

    def _scroll_cursor_to_line(self) -> None:
        # Runs after `move_cursor`'s own scrolling, once the new rows are measured.
        line, self._cursor_line = self._cursor_line, None
        if line is not None:
            self.scroll_to(y=max(self.cursor_row - line, 0), animate=False, force=True)

    def _fit_name(self, row_key: str, cells: _Cells, cap: int) -> None:
        kind = self.kind(row_key)
        if kind is not None and cells["name"].cell_len > cap:
            # The short title keeps the count visible in a narrow column.
            count = sum(1 for i in self._shown() if self._environments[i].kind is kind)
            title = f"{SHORT_KIND_TITLES[kind]} ({count})"
            cells["name"] = Text(title, style=self._style("inventory-table--group"))
        cells["name"].truncate(cap, overflow="ellipsis")

    def _heading(self, kind: EnvKind, members: list[int]) -> _Cells:
        style = self._style("inventory-table--group")
        envs = [self._environments[i] for i in members]
        packages = sum(len(e.packages) for e in envs)
        size = sum(e.size_bytes or 0 for e in envs)
        return {
            "name": Text(f"{KIND_TITLES[kind]} ({len(envs)})", style=style),
            "manager": Text(""),
            "python": Text(""),
            "packages": Text(str(packages), style=style, justify="right"),
            "size": Text(human_size(size), style=style, justify="right"),
            "last-used": Text(""),
            "problems": Text(""),
            "cleanup": Text(""),
        }

    def _name_cell(self, index: int) -> Text:
        env = self._environments[index]
        muted = self._style("inventory-table--muted")
        marked = (env.kind, env.ref) in self.selected
        name = Text(SELECTED_MARK if marked else _INDENT,
                    style=self._style("inventory-table--selected") if marked else "")
        name.append(shown_name(env))
        if env.base and env.name != "base":
            name.append(" (base)", style=muted)
        if index in self._hints:
            name.append("  " + self._hints[index], style=muted)
        return name

    def _cells(self, index: int) -> _Cells:
        env = self._environments[index]
        problems = self._index.problem_counts[index]
        muted = self._style("inventory-table--muted")
        return {
            "name": self._name_cell(index),
            "manager": Text(printable(env.manager)),
            "python": Text(printable(env.python or "—"), style="" if env.python else muted),
            "packages": Text(str(len(env.packages)), justify="right"),
            "size": Text(human_size(env.size_bytes), justify="right"),
            "last-used": Text(short_date(env.last_used) or "—",
                              style="" if env.last_used else muted),
            "problems": Text(str(problems) if problems else "",
                             style=self._style("inventory-table--problems"), justify="right"),
            "cleanup": Text(",".join(SHORT_TAGS[r] for r in self._tags(index).reasons),
                            style=self._style("inventory-table--cleanup")),
        }
