"""The footer of every screen: Textual's, made compact on narrow terminals so that the main
key hints (and `?`) still fit at 80 columns, and rebuilt only when what it shows changes."""

from __future__ import annotations

from typing import Any

from textual import events
from textual.widgets import Footer

COMPACT_BELOW = 110
"""Columns under which the key hints drop their padding."""


class KeyFooter(Footer):
    """A Footer that turns compact when it is narrower than COMPACT_BELOW.

    Textual's Footer rebuilds all its keys after every `refresh_bindings()`, once per call
    even when several come before a refresh. A screen calls it whenever an action may have
    changed state (the cursor moving onto a heading, a scan's problems), and each rebuild
    mounts and styles every key: during a scan, dozens of them took the app's thread from
    the scan's readers (measured). This one rebuilds only when the keys it would show differ.
    """

    _shown: Any = None
    """What the keys were last built from (see `_showing`)."""

    def on_resize(self, event: events.Resize) -> None:
        self.compact = event.size.width < COMPACT_BELOW

    def _showing(self) -> Any:
        bindings = tuple((binding, enabled, tooltip)
                         for _, binding, enabled, tooltip in self.screen.active_bindings.values())
        return self.show_command_palette, bindings

    async def recompose(self) -> None:
        if not self.is_attached:  # a rebuild queued before its screen went away
            return
        showing = self._showing()
        if showing == self._shown and self.children:
            return
        self._shown = showing
        await super().recompose()
