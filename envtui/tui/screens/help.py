"""`?`: every key of the screen below, read from its live bindings so the list cannot drift
from what the keys do: the screen's own first, then the focused widget's (a table's cursor
keys), then the app's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static

from envtui.tui.format import printable
from envtui.tui.widgets.key_footer import KeyFooter


def _section(node: object, screen: Screen[object]) -> str:
    if node is screen:
        return "this screen"
    if node is screen.app:
        return "everywhere"
    return "in the table" if isinstance(node, DataTable) else f"in {type(node).__name__}"


def key_rows(bindings: Mapping[str, ActiveBinding], screen: Screen[object],
             ) -> list[tuple[str, str, str, str]]:
    """(section, keys, what, more) for every binding with a description, keys that do the
    same thing joined ("t, enter")."""
    rows: dict[tuple[str, str], list[str]] = {}
    info: dict[tuple[str, str], tuple[str, str]] = {}
    for key, active in bindings.items():
        binding = active.binding
        what = binding.description or ""
        if not what or binding.system:
            continue
        ident = (_section(active.node, screen), what)
        display = binding.key_display or screen.app.get_key_display(
            Binding(key, binding.action))
        rows.setdefault(ident, []).append(display)
        info[ident] = (binding.tooltip or active.tooltip or "", "")
    order = {"this screen": 0, "everywhere": 2}
    ordered = sorted(rows, key=lambda ident: order.get(ident[0], 1))
    return [(section, ", ".join(dict.fromkeys(rows[(section, what)])), what,
             info[(section, what)][0]) for section, what in ordered]


class HelpScreen(ModalScreen[None]):
    """The keys of `screen`, as captured when `?` was pressed."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss", "Close", id="help.close"),
    ]

    def __init__(self, screen: Screen[object], bindings: Mapping[str, ActiveBinding]) -> None:
        super().__init__()
        self.rows = key_rows(bindings, screen)
        """(section, keys, what, more) as shown (for tests)."""
        self._title = screen.title or type(screen).__name__.removesuffix("Screen")

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Static(f"Keys: {printable(self._title)}", id="help-title", markup=False)
            yield DataTable(id="help-table", cursor_type="row", zebra_stripes=True)
            yield Static("ctrl+p opens the command palette: every action by name",
                         id="help-hint", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("key", "action", "what it does")
        section = None
        for where, keys, what, more in self.rows:
            if where != section:
                section = where
                table.add_row(Text(where, style="bold"), "", "")
            table.add_row(Text(keys, style="bold"), what, Text(more, overflow="fold"))
        table.focus()

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
