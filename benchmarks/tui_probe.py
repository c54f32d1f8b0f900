"""Time the TUI headless, as a whole process: first paint and the full inventory.

Run by benchmarks/run.py as `python benchmarks/tui_probe.py START` where START is the
parent's time.time() just before it started this process, so import and start-up count.
Prints one JSON line: seconds from START to the first frame (Textual's Ready event, sent
once the first screen has been displayed) and to the finished inventory on screen (the
scan's result shown in the table), and the number of table rows.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

START = float(sys.argv[1]) if len(sys.argv) > 1 else time.time()

from envtui.cli import app_context  # noqa: E402  (imported after START on purpose)
from envtui.inspectors.read_helper import prestart  # noqa: E402

CONTEXT = app_context()
prestart(CONTEXT)  # as `envtui` does before it imports the app (cli._open_app)

from envtui.tui import app as app_module  # noqa: E402
from envtui.tui.screens.inventory import InventoryScreen  # noqa: E402
from envtui.tui.widgets.inventory_table import InventoryTable  # noqa: E402


class ProbedApp(app_module.EnvtuiApp):
    CSS_PATH = str(Path(app_module.__file__).with_name(app_module.EnvtuiApp.CSS_PATH))
    first_paint: float | None = None

    def on_ready(self) -> None:
        self.first_paint = time.time() - START


async def probe(timeout: float = 300.0) -> dict[str, float | int | None]:
    app = ProbedApp(CONTEXT)
    async with app.run_test(size=(160, 50)) as pilot:
        deadline = time.monotonic() + timeout
        screen = app.screen
        while time.monotonic() < deadline:
            if isinstance(screen, InventoryScreen) and screen.scan_finished:
                break
            await asyncio.sleep(0.002)
        inventory = time.time() - START
        await pilot.pause()
        rows = app.screen.query_one(InventoryTable).row_count
    return {"first_paint": app.first_paint, "inventory": inventory, "rows": rows}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(probe())))
