"""The envtui Textual application: a thin shell around the inventory screen."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen

from envtui.inspectors.base import ScanContext
from envtui.model import Inventory
from envtui.resolver.sources import IndexOptions
from envtui.tui.commands import HelpCommands
from envtui.tui.screens.inventory import InventoryScreen


def default_loader(ctx: ScanContext, **options: Any) -> Inventory:
    """The real scan (`envtui.inspectors.discovery.scan`), imported only when first used."""
    from envtui.inspectors.discovery import scan

    return scan(ctx, **options)


class EnvtuiApp(App[None]):
    """Every Python environment on the machine, in one keyboard-driven terminal app.

    `loader` has the signature of `discovery.scan` and defaults to it; tests pass one that
    returns a fixed inventory so screenshots are deterministic.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help", key_display="?",
                tooltip="Every key of this screen", id="app.help"),
    ]

    COMMANDS = App.COMMANDS | {HelpCommands}

    TITLE = "envtui"
    SUB_TITLE = "Python environments"
    CSS_PATH = "envtui.tcss"

    def __init__(
        self,
        ctx: ScanContext | None = None,
        *,
        loader: Callable[..., Inventory] | None = None,
        index_options: IndexOptions | None = None,
    ) -> None:
        super().__init__()
        self.ctx = ctx if ctx is not None else ScanContext.from_process()
        """What to scan: home directory, environment variables, extra roots, kinds."""
        self.loader = loader if loader is not None else default_loader
        """Produces the inventory; called in a worker thread."""
        self.index_options = index_options
        """Where fix plans find packages; None means pip's configuration."""

    def action_help(self) -> None:
        """Show every key of the current screen."""
        from envtui.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen, self.screen.active_bindings))

    def get_default_screen(self) -> Screen[None]:
        """Open straight onto the inventory."""
        return InventoryScreen(self.ctx, self.loader)
