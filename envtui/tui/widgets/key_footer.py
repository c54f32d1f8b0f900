"""The footer of every screen: Textual's, made compact on narrow terminals so that the main
key hints (and `?`) still fit at 80 columns."""

from __future__ import annotations

from textual import events
from textual.widgets import Footer

COMPACT_BELOW = 110
"""Columns under which the key hints drop their padding."""


class KeyFooter(Footer):
    """A Footer that turns compact when it is narrower than COMPACT_BELOW."""

    def on_resize(self, event: events.Resize) -> None:
        self.compact = event.size.width < COMPACT_BELOW
