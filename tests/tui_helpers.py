"""Shared by the TUI tests: the committed fixture inventory, a loader that serves it (with
stages and gates to hold a scan in progress), and helpers to run and wait on the app.

Everything renders tests/fixtures/inventory.json (fake paths, fixed sizes and dates)
through the app's `loader` hook, so screenshots are deterministic.
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from envtui.inspectors.base import ScanContext
from envtui.model import Environment, Inventory, Problem, environment_from_dict
from envtui.tui.app import EnvtuiApp
from envtui.tui.widgets.dependency_tree import DependencyTree

FIXTURE = Path(__file__).parent / "fixtures" / "inventory.json"
SIZE = (120, 36)
FIXTURE_NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
"""The day the fixture inventory is seen on, so which of its environments are stale (90 days
unused) never changes."""


def fixture_inventory() -> Inventory:
    """The committed inventory: 5 venvs, 2 conda envs, an image, a container, a scan problem."""
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return Inventory(
        tuple(environment_from_dict(e) for e in data["environments"]),
        tuple(Problem(**p) for p in data["problems"]),
    )


class Cancelled(Exception):
    """What a loader raises when told to stop (like discovery.ScanCancelled)."""


@dataclass
class Stage:
    """Environments a FixtureLoader reports through `on_environment` before it sets `reached`
    and waits for `resume` (or, if `cancellable`, for the scan to be cancelled).
    """

    names: tuple[str, ...]
    """Which of the loader's environments, by name, in the order they are "read"."""
    cancellable: bool = True
    """False: the stage waits out a cancellation, so the scan reports more after it."""
    reached: threading.Event = field(default_factory=threading.Event)
    resume: threading.Event = field(default_factory=threading.Event)


class FixtureLoader:
    """A loader with discovery.scan's signature that returns the fixture inventory.

    `progress` steps are reported first, then each of `stages` in turn (environments
    reported one by one through `on_environment`, then a wait); with a `gate`, the loader
    then waits for it to be set (or for the scan to be cancelled), so an in-progress
    screen can be captured.
    """

    def __init__(
        self,
        *,
        gate: threading.Event | None = None,
        steps: tuple[tuple[int, int | None, str], ...] = (),
        stages: tuple[Stage, ...] = (),
        error: Exception | None = None,
        inventory: Inventory | None = None,
    ) -> None:
        self.gate = gate
        self.steps = steps
        self.stages = stages
        self.error = error
        self.inventory = inventory or fixture_inventory()
        self.calls = 0
        self.cancelled_calls = 0
        self.waiting = threading.Event()
        self.cancel_seen = threading.Event()
        self.options: list[dict[str, Any]] = []

    def __call__(
        self,
        ctx: ScanContext,
        *,
        use_cache: bool = True,
        progress: Callable[[int, int | None, str], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
        on_environment: Callable[[Environment], None] | None = None,
    ) -> Inventory:
        self.calls += 1
        self.options.append({"use_cache": use_cache, "ctx": ctx})
        gate, stages = self.gate, self.stages  # read once: a test may swap them for the next call
        for step in self.steps:
            if progress:
                progress(*step)
        by_name = {env.name: env for env in self.inventory.environments}
        for stage in stages:
            for name in stage.names:
                if on_environment:
                    on_environment(by_name[name])
            stage.reached.set()
            self._wait(stage.resume, cancelled if stage.cancellable else None)
        if gate is not None:
            self.waiting.set()
            self._wait(gate, cancelled)
        if self.error is not None:
            raise self.error
        return self.inventory  # read last: a test may change what the scan ends with

    def _wait(self, event: threading.Event, cancelled: Callable[[], bool] | None) -> None:
        while not event.wait(0.01):
            if cancelled and cancelled():
                self.cancelled_calls += 1
                self.cancel_seen.set()
                raise Cancelled


def run_async(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test on its own event loop (no pytest asyncio plugin needed)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


def make_app(loader: FixtureLoader | None = None) -> EnvtuiApp:
    ctx = ScanContext(home=Path("/home/ada"), environ={}, now=FIXTURE_NOW)
    return EnvtuiApp(ctx, loader=loader or FixtureLoader())


async def settle(pilot: Pilot[Any]) -> None:
    """Wait for the scan to finish and its messages to be handled; stop the cursor blinking."""
    await pilot.pause()  # snap_compare calls run_before before the first frame
    pilot.app.screen.query_one("#filter", Input).cursor_blink = False
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def until(pilot: Pilot[Any], condition: Callable[[], bool], what: str) -> None:
    """Let the app run until `condition()` holds.

    Batches of environments come from a timer thread as well as from the scan's, so no
    fixed number of pauses is enough; the deadline is only a backstop for a broken build.
    """
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.01)


SCREENSHOTS_DIR = Path(__file__).resolve().parent.parent / "screenshots"


def check_readme_screenshot(snapshots: Path, name: str, snapshot: str) -> None:
    """screenshots/NAME.svg (used by README.md) must be a copy of a reviewed snapshot.

    With ENVTUI_SCREENSHOTS=1 the copy is refreshed first.
    """
    import os
    import shutil

    source = snapshots / f"{snapshot}.svg"
    target = SCREENSHOTS_DIR / f"{name}.svg"
    if os.environ.get("ENVTUI_SCREENSHOTS") == "1":
        SCREENSHOTS_DIR.mkdir(exist_ok=True)
        shutil.copyfile(source, target)
    assert target.exists(), f"screenshots/{name}.svg is missing"
    assert target.read_bytes() == source.read_bytes(), f"screenshots/{name}.svg is stale"


def tree_lines(tree: DependencyTree) -> list[str]:
    """Every line of a dependency tree as shown: two spaces of indent per level, then the
    label."""
    out = []
    for line in range(tree.last_line + 1):
        node = tree.get_node_at_line(line)
        assert node is not None and node.data is not None
        out.append("  " * node.data.depth + node.data.label)
    return out
