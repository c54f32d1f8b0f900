"""The inventory table: one row per environment, grouped under a heading row per kind."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist, RowKey

from envtui.model import Environment, EnvKind
from envtui.tui.format import KIND_TITLES, human_size, short_date
from envtui.tui.index import InventoryIndex

COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "name"),
    ("manager", "manager"),
    ("python", "python"),
    ("packages", "packages"),
    ("size", "size"),
    ("last-used", "last used"),
    ("problems", "problems"),
)
"""(column key, header label) in display order."""

_Anchor = tuple[EnvKind, str] | str | None
"""What the cursor was on: an environment's (kind, ref), a heading's row key, or nothing."""

_GROUP_PREFIX = "kind:"
_ENV_PREFIX = "env:"


def group_key(kind: EnvKind) -> str:
    """Row key of the heading row of `kind`'s group."""
    return f"{_GROUP_PREFIX}{kind.value}"


def env_key(index: int) -> str:
    """Row key of the environment at `index` in the inventory."""
    return f"{_ENV_PREFIX}{index}"


class InventoryTable(DataTable[Text]):
    """Environments grouped by kind, with their size, age and problem count.

    Rows are keyed `kind:<kind>` for headings and `env:<index into the inventory>` for
    environments. The highlighted environment is followed by its kind and `ref` across
    re-filtering and rescans, where its index may change.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "inventory-table--group",
        "inventory-table--problems",
        "inventory-table--muted",
    }
    """Heading rows, a non-zero problem count, and quiet values (zero problems, unknowns)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self._environments: Sequence[Environment] = ()
        self._index = InventoryIndex()
        self._visible: Sequence[int] | None = None

    def on_mount(self) -> None:
        """Create the columns once; rows come and go with scans and filters."""
        for key, label in COLUMNS:
            self.add_column(label, key=key)
        self.app.theme_changed_signal.subscribe(
            self, lambda _theme: self._rebuild(self._anchor())
        )

    def show(
        self,
        environments: Sequence[Environment],
        index: InventoryIndex,
        visible: Sequence[int] | None,
    ) -> None:
        """Display `environments` (inventory order), only those at `visible` if not None.

        The highlighted environment stays highlighted when it is still shown.
        """
        anchor = self._anchor()
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
        return self.get_component_rich_style(component, partial=True)

    def _rebuild(self, anchor: _Anchor) -> None:
        groups: dict[EnvKind, list[int]] = {kind: [] for kind in KIND_TITLES}
        for index in self._shown():
            groups[self._environments[index].kind].append(index)
        group_style = self._style("inventory-table--group")
        problem_style = self._style("inventory-table--problems")
        muted = self._style("inventory-table--muted")
        self.clear()
        for kind, members in groups.items():
            if not members:
                continue
            envs = [self._environments[i] for i in members]
            self.add_row(*self._heading(kind, envs, group_style), key=group_key(kind))
            for index, env in zip(members, envs, strict=True):
                problems = self._index.problem_counts[index]
                self.add_row(*self._cells(env, problems, problem_style, muted), key=env_key(index))
        if not self._restore(anchor) and self.row_count > 1:
            # Start on the first environment rather than on a heading.
            self.move_cursor(row=1, column=0)

    @staticmethod
    def _heading(kind: EnvKind, envs: list[Environment], style: Style) -> list[Text]:
        packages = sum(len(e.packages) for e in envs)
        size = sum(e.size_bytes or 0 for e in envs)
        return [
            Text(f"{KIND_TITLES[kind]} ({len(envs)})", style=style),
            Text(""),
            Text(""),
            Text(str(packages), style=style, justify="right"),
            Text(human_size(size), style=style, justify="right"),
            Text(""),
            Text(""),
        ]

    @staticmethod
    def _cells(env: Environment, problems: int, problem_style: Style, muted: Style) -> list[Text]:
        return [
            Text("  " + env.name + (" (base)" if env.base else "")),
            Text(env.manager),
            Text(env.python or "—", style="" if env.python else muted),
            Text(str(len(env.packages)), justify="right"),
            Text(human_size(env.size_bytes), justify="right"),
            Text(short_date(env.last_used) or "—", style="" if env.last_used else muted),
            Text(str(problems), style=problem_style if problems else muted, justify="right"),
        ]
