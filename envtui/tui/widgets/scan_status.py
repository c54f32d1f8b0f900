"""The status line under the filter: scan progress while scanning, totals afterwards.

Plus the lines of scan-level problems (an unreachable Docker engine, an unreadable root).
"""

from __future__ import annotations

from collections.abc import Sequence

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.widgets import ProgressBar, Static

from envtui.model import Environment, Problem
from envtui.tui.format import human_size, plural, printable, progress_label
from envtui.tui.index import InventoryIndex


class ScanStatus(Horizontal):
    """Scan progress (count, current label, a bar) or a one-line summary of the result."""

    def compose(self) -> ComposeResult:
        """The text and the bar (the bar shows only while the total is known)."""
        yield Static(id="status-text")
        # No ETA: it is noise for a scan of seconds and would make screenshots time-dependent.
        bar = ProgressBar(id="scan-progress", show_eta=False)
        bar.display = False  # until a scan reports a total
        yield bar

    def scanning(
        self, done: int = 0, total: int | None = None, label: str = "", *, again: bool = False
    ) -> None:
        """Show the progress of the running scan; `again` says it is a rescan, so the rows
        shown are the previous scan's.
        """
        count = f"{done}/{total}" if total is not None else f"{done}"
        title = "Rescanning… " if again else "Scanning… "
        parts: list[str | tuple[str, str]] = [(title, "bold $text-accent"), count]
        label = progress_label(label)
        if label:
            parts += ["  ", (label, "$text-muted")]
        # Its size is fixed by the CSS (1fr of one line), so no layout of the screen: one
        # per progress report kept the app's thread from the scan's (measured).
        self.query_one("#status-text", Static).update(Content.assemble(*parts), layout=False)
        bar = self.query_one(ProgressBar)
        bar.display = total is not None
        if total is not None:
            bar.update(total=max(total, 1), progress=done)

    def finished(
        self,
        environments: Sequence[Environment],
        index: InventoryIndex,
        visible: Sequence[int] | None,
        *,
        selected: int = 0,
    ) -> None:
        """Summarise the environments shown (`visible`, None for all) out of all found,
        with how many are marked and how many are cleanup candidates."""
        self.query_one(ProgressBar).display = False
        total = len(environments)
        shown = range(total) if visible is None else visible
        packages = sum(len(environments[i].packages) for i in shown)
        size = human_size(sum(environments[i].size_bytes or 0 for i in shown))
        with_problems = sum(1 for i in shown if index.problem_counts[i])
        if len(shown) == total:
            parts: list[str | tuple[str, str]] = [(plural(total, "environment"), "bold")]
        else:
            parts = [(f"{len(shown)} of {plural(total, 'environment')} match", "bold")]
        parts.append(f" · {plural(packages, 'package')} · {size}")
        if with_problems:
            parts += [" · ", (f"{with_problems} with problems", "$text-error")]
        candidates = sum(1 for i in shown if i < len(index.candidates) and index.candidates[i])
        if candidates:
            parts += [" · ", (f"{candidates} to clean up", "$text-warning")]
        if selected:
            parts += [" · ", (f"{selected} marked", "bold $text-accent")]
        self.query_one("#status-text", Static).update(Content.assemble(*parts))

    def failed(self, error: str) -> None:
        """Say that the scan failed (the full error goes to a notification)."""
        self.query_one(ProgressBar).display = False
        self.query_one("#status-text", Static).update(
            Content.assemble(("Scan failed: ", "bold $text-error"), printable(error))
        )


class ScanProblems(Static):
    """The problems with the scan itself, wrapped; hidden when there are none.

    The CSS caps the height at a few lines; a click (or the screen's key binding) shows
    every problem in full in the detail pane.
    """

    class Clicked(Message):
        """The user clicked the problem lines to read them in full."""

    def show(self, problems: Sequence[Problem]) -> None:
        """Replace the lines with `problems`."""
        self.display = bool(problems)
        parts: list[str | tuple[str, str]] = []
        for problem in problems:
            if parts:
                parts.append("\n")
            parts += [("⚠ ", "$text-warning"), printable(problem.detail)]
        self.update(Content.assemble(*parts))

    def on_click(self, _event: events.Click) -> None:
        """Ask the screen to show the problems in full."""
        self.post_message(self.Clicked())
