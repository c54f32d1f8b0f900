"""The detail pane: the highlighted environment's facts, its problems in full, its packages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.timer import Timer
from textual.widgets import DataTable, Static

from envtui.model import Environment, EnvKind, Package, Problem
from envtui.tui.format import (
    KIND_TITLES,
    environment_facts,
    has_conda_records,
    human_size,
    origin_known,
    package_origin,
    printable,
    shown_name,
    subtitle,
)
from envtui.tui.widgets.theme import component_text_style

LABEL_MAX_WIDTH = 14
"""Labels longer than this wrap within the label column instead of widening it."""

LARGE_PACKAGE_LIST = 400
"""Above this many packages the list is filled after SETTLE_DELAY instead of at once."""

SETTLE_DELAY = 0.15
"""Seconds the cursor must rest on a large environment before its packages are listed."""


class PackageTable(DataTable[Text]):
    """The packages of one environment: name, version, where from, and conda's build.

    "from" is the conda channel for conda records and the installer (pip, uv, ...) for
    Python ones, marked "(editable)" for editable installs; one column keeps the table
    narrow enough for a conda environment's long build strings beside the facts.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"package-table--problem", "package-table--muted"}
    """A package that has problems of its own (bad metadata, incomplete install); quiet
    values (an unknown installer)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._shown: tuple[Sequence[Package], bool] = ((), False)

    def on_mount(self) -> None:
        """Restyle the rows when the theme changes (their styles are resolved when built)."""
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._restyle())

    def _restyle(self) -> None:
        packages, conda = self._shown
        if self.row_count:
            self.show(packages, conda=conda)

    def show(self, packages: Sequence[Package], *, conda: bool) -> None:
        """Replace the rows with `packages`, adding the build column when `conda`."""
        self._shown = (packages, conda)
        self.clear(columns=True)
        self.add_column("package", key="name")
        self.add_column("version", key="version")
        self.add_column("from", key="from")
        if conda:
            self.add_column("build", key="build")
        problem = component_text_style(self, "package-table--problem")
        muted = component_text_style(self, "package-table--muted")
        for pkg in packages:
            cells = [
                Text(printable(pkg.name), style=problem if pkg.problems else ""),
                Text(printable(pkg.version) or "?", style=problem if not pkg.version else ""),
                Text(package_origin(pkg), style="" if origin_known(pkg) else muted),
            ]
            if conda:
                cells.append(Text(printable(pkg.build or "")))
            self.add_row(*cells)


class FactList(Static):
    """Label / value pairs in two columns: values wrap under their own column.

    Rendered as a Rich grid so the wrapping follows the pane's width; the label style comes
    from the theme (the `fact-list--label` component class).
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"fact-list--label"}
    """The labels' style."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._facts: tuple[tuple[str, str], ...] = ()

    @property
    def facts(self) -> tuple[tuple[str, str], ...]:
        """The (label, value) pairs shown, as plain text."""
        return self._facts

    def on_mount(self) -> None:
        """Restyle the labels when the theme changes."""
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._paint())

    def show(self, facts: Sequence[tuple[str, str]]) -> None:
        """Replace the pairs (plain text: never read as markup)."""
        self._facts = tuple(facts)
        self._paint()

    def _paint(self) -> None:
        if not self._facts:
            self.update("")
            return
        label_style = component_text_style(self, "fact-list--label")
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style=label_style, max_width=LABEL_MAX_WIDTH, overflow="fold")
        grid.add_column(overflow="fold", ratio=1)
        for label, value in self._facts:
            grid.add_row(Text(label), Text(value))
        self.update(grid)


def _heading(title: str, subtitle: str) -> Content:
    return Content.assemble((title, "bold $text-accent"), "\n", (subtitle, "$text-muted"))


def _problems(problems: Sequence[Problem], *, titled: bool = True) -> Content:
    parts: list[str | tuple[str, str]] = []
    if titled:
        parts.append((f"Problems ({len(problems)})", "bold $text-error"))
    for problem in problems:
        if parts:
            parts.append("\n")
        # The detail is a whole sentence naming the file or package; the kind is for scripts.
        parts += [("✗ ", "$text-error"), printable(problem.detail)]
        if problem.requirement:
            parts.append(f" (requires {printable(problem.requirement)})")
    return Content.assemble(*parts)


class EnvironmentDetail(Horizontal):
    """Facts and problems on the left, the package list on the right."""

    settle_delay: float = SETTLE_DELAY
    """Cursor rest before a long package list is filled (tests lengthen it)."""

    def __init__(self, *, home: str | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self._home = home
        """Paths under it are shown as `~/...`."""
        self._subject: object = None
        self._cleanup: tuple[str, ...] = ()
        self._pending: Timer | None = None

    def compose(self) -> ComposeResult:
        """The facts column and the package table."""
        with VerticalScroll(id="facts-pane"):
            yield Static(id="detail-heading")
            yield Static(id="env-problems")
            yield FactList(id="facts")
        yield PackageTable(id="packages")

    def show_environment(self, env: Environment, cleanup: Sequence[str] = ()) -> None:
        """Describe `env` (with its cleanup tags' phrases); a no-op when it is already
        shown, so scrolling stays cheap."""
        if env is self._subject and tuple(cleanup) == self._cleanup:
            return
        self._subject, self._cleanup = env, tuple(cleanup)
        self.query_one("#detail-heading", Static).update(_heading(shown_name(env), subtitle(env)))
        problems = self.query_one("#env-problems", Static)
        problems.update(_problems(env.all_problems))
        problems.display = bool(env.all_problems)
        self.query_one(FactList).show(list(environment_facts(env, self._home, cleanup)))
        self._cancel_pending()
        if len(env.packages) <= LARGE_PACKAGE_LIST:
            self._fill_packages(env)
        else:
            # Holding an arrow key over environments with thousands of packages must not
            # rebuild each list in turn: fill the table once the cursor rests.
            self._hide_packages()
            self._pending = self.set_timer(self.settle_delay, lambda: self._fill_packages(env))

    def _fill_packages(self, env: Environment) -> None:
        if env is self._subject:
            table = self.query_one(PackageTable)
            table.show(env.packages, conda=has_conda_records(env))
            table.display = True

    def _hide_packages(self) -> None:
        table = self.query_one(PackageTable)
        table.clear(columns=True)
        table.display = False

    def _cancel_pending(self) -> None:
        if self._pending is not None:
            self._pending.stop()
            self._pending = None

    def show_group(self, kind: EnvKind, members: Sequence[Environment], broken: int) -> None:
        """Summarise the environments of one kind, `broken` of them with problems."""
        self._subject = (kind, tuple(id(e) for e in members))
        self._cancel_pending()
        facts = [
            ("environments", str(len(members))),
            ("packages", str(sum(len(e.packages) for e in members))),
            ("size", human_size(sum(e.size_bytes or 0 for e in members))),
            ("problems", f"{broken} with problems" if broken else "none"),
        ]
        self.query_one("#detail-heading", Static).update(_heading(KIND_TITLES[kind], kind.value))
        self.query_one(FactList).show(facts)
        self.query_one("#env-problems", Static).display = False
        self._hide_packages()

    def show_scan_problems(self, problems: Sequence[Problem]) -> None:
        """Every problem with the scan itself, in full (the status line may cut them)."""
        self._subject = tuple(problems)
        self._cancel_pending()
        heading = _heading(
            f"Scan problems ({len(problems)})", "with the scan itself, not one environment"
        )
        self.query_one("#detail-heading", Static).update(heading)
        self.query_one(FactList).show(())
        shown = self.query_one("#env-problems", Static)
        shown.update(_problems(problems, titled=False))
        shown.display = bool(problems)
        self._hide_packages()

    def show_message(self, message: str) -> None:
        """Show a line of text instead of an environment (nothing found, still scanning)."""
        self._subject = message
        self._cancel_pending()
        self.query_one("#detail-heading", Static).update(Content.assemble((message, "$text-muted")))
        self.query_one(FactList).show(())
        self.query_one("#env-problems", Static).display = False
        self._hide_packages()
