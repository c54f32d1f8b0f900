"""A one-line status under a form, and how the exchange screens show paths in it."""

from __future__ import annotations

import re

from textual.content import Content
from textual.widgets import Static

from envtui.tui.format import printable


def tilde_all(text: str, home: str | None) -> str:
    """`text` with every mention of the home directory written `~`, made printable.

    The exchange layer's lines and errors name absolute paths; the screen is narrow and the
    home directory is implied, as everywhere else in the app.
    """
    if home and home.rstrip("/"):
        # Only whole path components: /home/ada must not turn /home/adam into ~m.
        pattern = r"(?<![^\s('\"=:])" + re.escape(home.rstrip("/")) + r"(?=/|$|[\s:),;'\"])"
        text = re.sub(pattern, "~", text)
    return printable(text)


class StatusLine(Static):
    """What a screen is doing or has done, with parts styled by theme variables."""

    DEFAULT_CSS = """
    StatusLine {
        height: auto;
        padding: 0 1;
    }
    """

    def show(self, *parts: str | tuple[str, str]) -> None:
        """Replace the line; a part is text, or (text, style) such as "bold $text-error"."""
        self.update(Content.assemble(*parts))

    @property
    def text(self) -> str:
        """The plain text shown (for tests and the palette)."""
        return str(self.render())
