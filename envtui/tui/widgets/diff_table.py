"""Two environments side by side: one row per package, A's version beside B's.

Rows only in A, only in B and changed take the theme's error, success and warning colours,
and packages the same on both sides are muted (or left out); Python and the platform
come first.
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

from rich.style import Style
from rich.text import Text
from textual.widgets import DataTable

from envtui.exchange.diff import Difference, pin_text
from envtui.exchange.spec import CONDA, EnvSpec, Pin
from envtui.model import canonical_name
from envtui.tui.format import printable
from envtui.tui.widgets.theme import component_text_style

REMOVED, ADDED, CHANGED, SAME = "removed", "added", "changed", "same"
MARKS = {REMOVED: "-", ADDED: "+", CHANGED: "~", SAME: " "}
"""The CLI's marks: - only in A, + only in B, ~ changed."""


class DiffRow(NamedTuple):
    """One line of the side-by-side view."""

    state: str
    """REMOVED, ADDED, CHANGED or SAME."""
    name: str
    a: str
    b: str


def diff_rows(d: Difference, *, same: bool) -> list[DiffRow]:
    """Python, the platform (when either side knows it), then packages by name; the ones
    the same on both sides only if `same`."""
    rows = [DiffRow(CHANGED if d.python_differs else SAME, "python",
                    d.python[0] or "-", d.python[1] or "-")]
    if any(d.platform):
        rows.append(DiffRow(CHANGED if d.platform_differs else SAME, "platform",
                            d.platform[0] or "-", d.platform[1] or "-"))
    packages = [DiffRow(REMOVED, p.name, pin_text(p), "-") for p in d.removed]
    packages += [DiffRow(ADDED, p.name, "-", pin_text(p)) for p in d.added]
    packages += [DiffRow(CHANGED, c.a.name, pin_text(c.a), pin_text(c.b)) for c in d.changed]
    if same:
        packages += [DiffRow(SAME, a.name, pin_text(a), pin_text(b)) for a, b in _same(d)]
    return rows + sorted(packages, key=lambda r: canonical_name(r.name))


def _same(d: Difference) -> list[tuple[Pin, Pin]]:
    """The packages on both sides that `diff` found nothing different about."""
    a, b = _by_name(d.a), _by_name(d.b)
    differ = {canonical_name(p.name) for p in (*d.added, *d.removed)}
    differ |= {canonical_name(c.a.name) for c in d.changed}
    return [(a[k], b[k]) for k in sorted(a.keys() & b.keys()) if k not in differ]


def _by_name(spec: EnvSpec) -> dict[str, Pin]:
    # As diff matches them: by normalised name, pip's record winning over conda's.
    out: dict[str, Pin] = {}
    for pin in spec.pins:
        key = canonical_name(pin.name)
        if key != "python" and (key not in out or pin.manager != CONDA):
            out[key] = pin
    return out


class DiffTable(DataTable[Text]):
    """The rows of `diff_rows`, coloured by state."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "diff-table--removed", "diff-table--added", "diff-table--changed", "diff-table--same",
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self._rows: list[DiffRow] = []
        self._columns = ("A", "B")
        self._styles: dict[str, Style] = {}

    @property
    def shown(self) -> list[DiffRow]:
        """The rows shown, in order."""
        return list(self._rows)

    def show(self, rows: list[DiffRow], a: str, b: str) -> None:
        """Replace the rows; `a` and `b` head the two version columns."""
        self._rows, self._columns = rows, (a, b)
        self._render_rows()

    def _render_rows(self) -> None:
        self._styles.clear()  # the theme may have changed since the last time
        self.clear(columns=True)
        self.add_column("", key="mark")
        self.add_column("package", key="package")
        self.add_column(printable(self._columns[0]), key="a")
        self.add_column(printable(self._columns[1]), key="b")
        for i, row in enumerate(self._rows):
            style = self._style(row.state)
            cells = (MARKS[row.state], row.name, row.a, row.b)
            self.add_row(*(Text(printable(c), style=style) for c in cells), key=f"row:{i}")

    def _style(self, state: str) -> Style:
        component = f"diff-table--{state}"
        if component not in self._styles:
            self._styles[component] = component_text_style(self, component)
        return self._styles[component]
