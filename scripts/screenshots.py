"""Regenerate the README's screenshots from the demo sandbox (`envtui --demo`).

    .venv/bin/python scripts/screenshots.py [--out screenshots] [--demo-dir DIR]

Builds the sandbox (in a temporary directory unless --demo-dir is given), opens the real app
on it headless at 120x36 and drives it with the keyboard as a user would, saving an SVG of
each main screen: inventory, tree, problems, fix (resolution), diff, cleanup, removal
preview and help. Nothing outside the sandbox is read or changed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SIZE = (120, 36)


async def _until(pilot: Any, condition: Callable[[], bool], what: str,
                 timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshots: timed out waiting for {what}")
        await pilot.pause(0.1)
    await pilot.pause(0.3)  # let the last paint land


async def _shoot(app: Any, pilot: Any, out: Path, name: str) -> None:
    await pilot.pause(0.2)
    app.save_screenshot(filename=f"{name}.svg", path=str(out))
    print(f"screenshots: {name}.svg", file=sys.stderr)


async def _drive(app: Any, out: Path) -> None:
    from envtui.tui.screens.cleanup import CleanupScreen
    from envtui.tui.screens.diff import DiffScreen
    from envtui.tui.screens.fix import FixScreen
    from envtui.tui.screens.help import HelpScreen
    from envtui.tui.screens.inventory import InventoryScreen
    from envtui.tui.screens.problems import ProblemsScreen
    from envtui.tui.screens.remove import RemoveScreen
    from envtui.tui.screens.tree import TreeScreen

    async with app.run_test(size=SIZE) as pilot:
        inventory = app.screen
        assert isinstance(inventory, InventoryScreen)
        await _until(pilot, lambda: inventory._inventory is not None, "the inventory")

        async def highlight(name: str) -> None:
            env = next(e for e in inventory.environments if e.name == name)
            inventory.show_environment(env)
            await pilot.pause(0.2)

        await highlight("science")
        await _shoot(app, pilot, out, "inventory")

        await highlight("analysis")
        await pilot.press("t")
        await _until(pilot, lambda: isinstance(app.screen, TreeScreen)
                     and "plotkit" in str(app.export_screenshot()), "the tree")
        await pilot.press("enter")  # open plotkit, whose numpy requirement conflicts
        await pilot.pause(0.5)
        await _shoot(app, pilot, out, "tree")
        await pilot.press("escape")

        await pilot.press("p")
        await _until(pilot, lambda: isinstance(app.screen, ProblemsScreen)
                     and "Checking" not in str(app.export_screenshot()), "the problems")
        await _shoot(app, pilot, out, "problems")
        await pilot.press("escape")

        await highlight("analysis")
        await pilot.press("f")
        await _until(pilot, lambda: isinstance(app.screen, FixScreen)
                     and getattr(app.screen, "_proposal", None) is not None, "the fix plans")
        await _shoot(app, pilot, out, "fix")
        await pilot.press("escape")

        await pilot.press("d")
        await _until(pilot, lambda: isinstance(app.screen, DiffScreen), "the diff screen")
        await pilot.pause(0.3)
        await _pick_b(app, pilot, "science")
        await _shoot(app, pilot, out, "diff")
        await pilot.press("escape")

        await pilot.press("c")
        await _until(pilot, lambda: isinstance(app.screen, CleanupScreen)
                     and app.screen.rows is not None, "the cleanup summary")
        await _shoot(app, pilot, out, "cleanup")
        await pilot.press("escape")

        await highlight("old-experiment")
        await pilot.press("x")
        await _until(pilot, lambda: isinstance(app.screen, RemoveScreen)
                     and app.screen.plan is not None, "the removal preview")
        await _shoot(app, pilot, out, "remove")
        await pilot.press("escape")

        await pilot.press("question_mark")
        await _until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        await _shoot(app, pilot, out, "help")
        await pilot.press("escape")


async def _pick_b(app: Any, pilot: Any, name: str) -> None:
    """Choose environment `name` as B in the diff screen's list."""
    from textual.widgets import OptionList

    options = app.screen.query_one("#diff-envs", OptionList)
    for i in range(options.option_count):
        if name in str(options.get_option_at_index(i).prompt):
            options.highlighted = i
            options.focus()
            await pilot.press("enter")
            break
    else:
        raise SystemExit(f"screenshots: no {name} to diff against")
    await _until(pilot, lambda: app.screen.difference is not None, "the diff table")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    parser.add_argument("--demo-dir", type=Path,
                        help="build the sandbox here (or reuse it) and keep it")
    args = parser.parse_args()

    from envtui.demo import build_sandbox
    from envtui.demo.context import enter_sandbox
    from envtui.demo.run import demo_app

    # A fixed, neutral sandbox path and the system's Python keep this machine's own paths
    # (a temp dir's random name, a version manager's directory) out of the images.
    root = args.demo_dir or Path(tempfile.gettempdir()) / "envtui-demo"
    if args.demo_dir is None:
        shutil.rmtree(root, ignore_errors=True)
    system = Path("/usr/bin/python3")
    new_enough = [str(system), "-c", "import sys; sys.exit(sys.version_info < (3, 11))"]
    if system.exists() and "ENVTUI_DEMO_PYTHON" not in os.environ and subprocess.run(
            new_enough, check=False).returncode == 0:
        os.environ["ENVTUI_DEMO_PYTHON"] = str(system)
    try:
        sb = build_sandbox(root, lambda line: print(f"demo: {line}", file=sys.stderr))
        enter_sandbox(sb)
        args.out.mkdir(parents=True, exist_ok=True)
        asyncio.run(_drive(demo_app(sb), args.out))
    finally:
        if args.demo_dir is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
