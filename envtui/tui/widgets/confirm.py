"""A yes/no question over the current screen; No is the default (Enter on it, Escape, n)."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from envtui.tui.format import printable


class ConfirmScreen(ModalScreen[bool]):
    """Asks `question`, with `detail` below it; dismissed with True only on Yes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n", "answer(False)", "No", id="confirm.no"),
        Binding("escape", "answer(False)", "No", show=False, id="confirm.escape"),
    ]

    def __init__(self, question: str, detail: str = "") -> None:
        super().__init__()
        self.question = question
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static(printable(self.question), id="confirm-question", markup=False)
            if self.detail:
                lines = "\n".join(printable(line) for line in self.detail.splitlines())
                yield Static(lines, id="confirm-detail", markup=False)
            with Horizontal(id="confirm-buttons"):
                yield Button("No", id="confirm-no", variant="primary")
                yield Button("Yes", id="confirm-yes")
            yield Static("y yes · n or Esc no · Tab moves between the buttons",
                         id="confirm-hint", markup=False)

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")
