"""The inventory screen: snapshots of how it looks and Pilot tests of how it behaves.

Everything renders the committed inventory in tests/fixtures/inventory.json (fake paths,
fixed sizes and dates) through the app's `loader` hook, so screenshots are deterministic.
The real scan is exercised end to end in test_tui_e2e.py.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import shutil
import threading
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, ProgressBar, Static
from textual.widgets.option_list import Option

from envtui.inspectors.base import ScanContext
from envtui.model import Environment, EnvKind, Inventory, Package, Problem, environment_from_dict
from envtui.tui.app import EnvtuiApp
from envtui.tui.format import human_size, short_date
from envtui.tui.index import InventoryIndex
from envtui.tui.screens.inventory import (
    FILTER_DELAY,
    LARGE_INVENTORY,
    InventoryScreen,
)
from envtui.tui.widgets.detail import LARGE_PACKAGE_LIST, SETTLE_DELAY, PackageTable
from envtui.tui.widgets.inventory_table import InventoryTable

FIXTURE = Path(__file__).parent / "fixtures" / "inventory.json"
SIZE = (120, 36)
ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "screenshots"
SNAPSHOTS = Path(__file__).parent / "__snapshots__" / "test_tui"


def fixture_inventory() -> Inventory:
    """The committed inventory: 5 venvs, 2 conda envs, an image, a container, a scan problem."""
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return Inventory(
        tuple(environment_from_dict(e) for e in data["environments"]),
        tuple(Problem(**p) for p in data["problems"]),
    )


class Cancelled(Exception):
    """What a loader raises when told to stop (like discovery.ScanCancelled)."""


class FixtureLoader:
    """A loader with discovery.scan's signature that returns the fixture inventory.

    `progress` steps are reported first; with a `gate`, the loader then waits for it to be
    set (or for the scan to be cancelled), so an in-progress screen can be captured.
    """

    def __init__(
        self,
        *,
        gate: threading.Event | None = None,
        steps: tuple[tuple[int, int | None, str], ...] = (),
        error: Exception | None = None,
        inventory: Inventory | None = None,
    ) -> None:
        self.gate = gate
        self.steps = steps
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
    ) -> Inventory:
        self.calls += 1
        self.options.append({"use_cache": use_cache, "ctx": ctx})
        for step in self.steps:
            if progress:
                progress(*step)
        gate = self.gate  # read once: a test may swap it for the next call
        if gate is not None:
            self.waiting.set()
            while not gate.wait(0.01):
                if cancelled and cancelled():
                    self.cancelled_calls += 1
                    self.cancel_seen.set()
                    raise Cancelled
        if self.error is not None:
            raise self.error
        return self.inventory


def run_async(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test on its own event loop (no pytest asyncio plugin needed)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


def make_app(loader: FixtureLoader | None = None) -> EnvtuiApp:
    ctx = ScanContext(home=Path("/home/ada"), environ={})
    return EnvtuiApp(ctx, loader=loader or FixtureLoader())


async def settle(pilot: Pilot[Any]) -> None:
    """Wait for the scan to finish and its messages to be handled; stop the cursor blinking."""
    await pilot.pause()  # snap_compare calls run_before before the first frame
    pilot.app.screen.query_one("#filter", Input).cursor_blink = False
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def env_rows(app: EnvtuiApp) -> list[str]:
    """Names of the environment rows, in display order (headings left out)."""
    table = app.screen.query_one(InventoryTable)
    names = []
    for row in table.ordered_rows:
        env = table.environment(row.key)
        if env is not None:
            names.append(env.name)
    return names


def package_names(app: EnvtuiApp) -> list[str]:
    table = app.screen.query_one(PackageTable)
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


def status_text(app: EnvtuiApp) -> str:
    return str(app.screen.query_one("#status-text", Static).render())


def detail_text(app: EnvtuiApp) -> str:
    return "\n".join(
        str(app.screen.query_one(f"#{name}", Static).render())
        for name in ("detail-heading", "env-problems", "facts")
    )


# -- snapshots --------------------------------------------------------------------------


def test_snapshot_inventory(snap_compare: Any) -> None:
    """The filled first screen: every kind grouped, the first venv's details, scan problem."""
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=settle)


def test_snapshot_broken_environment_detail(snap_compare: Any) -> None:
    """The broken venv selected: both its problems listed in full, its packages beside."""

    async def select_broken(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("down", "down", "down", "down")

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=select_broken)


def test_snapshot_conda_environment_detail(snap_compare: Any) -> None:
    """A conda env: build and channel columns, conda and pip packages side by side."""

    async def select_ml(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press(*["down"] * 7)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=select_ml)


def test_snapshot_filter(snap_compare: Any) -> None:
    """`/numpy` keeps the two environments that have numpy installed."""

    async def filter_numpy(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("slash", *"numpy")

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=filter_numpy)


def test_snapshot_scanning(snap_compare: Any) -> None:
    """The first paint while the scan runs: status line with count, label and bar."""
    gate = threading.Event()
    loader = FixtureLoader(gate=gate, steps=((3, 9, "read data-tools"),))

    async def wait_for_progress(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        pilot.app.screen.query_one("#filter", Input).cursor_blink = False
        assert loader.waiting.wait(5)
        await pilot.pause()

    try:
        assert snap_compare(make_app(loader), terminal_size=SIZE, run_before=wait_for_progress)
    finally:
        gate.set()


# -- behaviour ---------------------------------------------------------------------------


@run_async
async def test_rows_grouped_by_kind_in_order() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(InventoryTable)
        keys = [row.key.value for row in table.ordered_rows]
        assert keys == [
            "kind:venv", "env:0", "env:1", "env:2", "env:3", "env:4",
            "kind:conda", "env:5", "env:6",
            "kind:image", "env:7",
            "kind:container", "env:8",
        ]
        assert env_rows(app) == [
            "api-server", "blog-Zx3kQp9e-py3.12", "data-tools", "httpie", "legacy-scraper",
            "base", "ml", "ada/api-server:latest", "api-dev",
        ]
        assert [str(c) for c in table.get_row("kind:venv")[:5]] == [
            "Virtual environments (5)", "", "", "42", "331.3 MB",
        ]
        row = [str(c).strip() for c in table.get_row("env:4")]
        assert row == ["legacy-scraper", "venv", "3.8.18", "6", "41.0 MB", "2023-07-28", "2"]
        assert str(table.get_row("env:5")[0]).strip() == "base (base)"
        # The cursor starts on the first environment, not on a heading.
        assert table.current_key == "env:0"
        assert "9 environments · 69 packages · 4.0 GB · 1 with problems" in status_text(app)
        problems = str(app.screen.query_one("#scan-problems", Static).render())
        assert problems == "⚠ unreadable: /home/ada/shared/envs: permission denied; skipped."


@run_async
async def test_selection_shows_packages_and_problems() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert package_names(app)[:3] == ["anyio", "api-server", "click"]
        packages = app.screen.query_one(PackageTable)
        assert [c.label.plain for c in packages.ordered_columns] == ["package", "version", "from"]
        assert [str(c) for c in packages.get_row_at(1)] == ["api-server", "0.3.0", "uv (editable)"]
        await pilot.press("down", "down", "down", "down")
        assert "legacy-scraper" in detail_text(app)
        text = detail_text(app)
        assert "Problems (2)" in text
        assert "Base interpreter /usr/local/opt/python@3.8/bin/python3.8 is gone" in text
        assert "invalid-metadata · scrapekit" in text
        assert "/home/ada/projects/legacy-scraper/venv" in text
        assert package_names(app) == [
            "beautifulsoup4", "lxml", "pip", "requests", "scrapekit", "soupsieve",
        ]
        packages = app.screen.query_one(PackageTable)
        assert [str(c) for c in packages.get_row_at(4)[:2]] == ["scrapekit", "?"]

        await pilot.press("down", "down", "down")  # heading "Conda environments", base, ml
        assert "\nml\n" in "\n" + detail_text(app)
        assert [c.label.plain for c in packages.ordered_columns] == [
            "package", "version", "from", "build",
        ]
        rows = {str(packages.get_row_at(i)[0]): [str(c) for c in packages.get_row_at(i)]
                for i in range(packages.row_count)}
        assert rows["numpy"] == ["numpy", "1.26.4", "conda-forge", "py311h64a7726_0"]
        assert rows["wandb"] == ["wandb", "0.18.5", "pip", ""]
        assert rows["ml-experiments"] == ["ml-experiments", "0.1.0", "pip (editable)", ""]

        await pilot.press("up", "up")  # the conda heading: a summary, no packages
        assert "Conda environments" in detail_text(app)
        assert "environments 2" in detail_text(app)
        assert packages.row_count == 0
        assert not packages.display


@run_async
async def test_filter_narrows_and_escape_restores() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        assert app.focused is app.screen.query_one("#filter", Input)
        await pilot.press(*"numpy")
        assert env_rows(app) == ["data-tools", "ml"]
        assert "2 of 9 environments match" in status_text(app)
        assert "data-tools" in detail_text(app)  # the cursor moved to a shown environment

        await pilot.press("escape")
        assert env_rows(app)[0] == "api-server"
        assert len(env_rows(app)) == 9
        assert app.screen.query_one("#filter", Input).value == ""
        assert app.focused is app.screen.query_one(InventoryTable)

        for query, expected in [
            ("pipx", ["httpie"]),                      # manager
            ("legacy-scraper/venv", ["legacy-scraper"]),  # path
            ("DEBUGPY", ["api-dev"]),                   # package, case-insensitive
            ("uvicorn docker", ["ada/api-server:latest", "api-dev"]),  # every term must match
            ("no-such-thing", []),
        ]:
            await pilot.press("slash")
            app.screen.query_one("#filter", Input).value = query
            await pilot.pause()
            assert env_rows(app) == expected, query
            await pilot.press("escape")
        assert "No environment matches" not in detail_text(app)


@run_async
async def test_filter_keeps_highlighted_environment() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press(*["down"] * 7)  # ml
        await pilot.press("slash", *"numpy", "enter")
        table = app.screen.query_one(InventoryTable)
        assert table.current_key == "env:6"  # ml
        assert app.focused is table
        await pilot.press("escape")
        assert table.current_key == "env:6"  # ml


@run_async
async def test_filter_with_no_match_says_so() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"zzz")
        assert env_rows(app) == []
        assert "No environment matches “zzz”." in detail_text(app)
        assert "0 of 9 environments match" in status_text(app)


@run_async
async def test_rescan_loads_again_and_keeps_selection() -> None:
    loader = FixtureLoader()
    app = make_app(loader)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert loader.calls == 1
        await pilot.press("down", "down")
        # The second scan finds one more venv, sorted first: data-tools moves down a row.
        newcomer = replace(loader.inventory.environments[0], name="aardvark",
                           path="/home/ada/aardvark/.venv")
        loader.inventory = replace(
            loader.inventory, environments=(newcomer, *loader.inventory.environments)
        )
        await pilot.press("r")
        await settle(pilot)
        assert loader.calls == 2
        assert env_rows(app)[:4] == ["aardvark", "api-server", "blog-Zx3kQp9e-py3.12", "data-tools"]
        assert "data-tools" in detail_text(app)
        assert app.screen.query_one(InventoryTable).current_key == "env:3"
        assert loader.options[1]["ctx"].home == Path("/home/ada")


@run_async
async def test_rescan_cancels_running_scan() -> None:
    gate = threading.Event()
    loader = FixtureLoader(gate=gate)
    app = make_app(loader)
    async with app.run_test(size=SIZE) as pilot:
        assert loader.waiting.wait(5)
        loader.gate = None  # the next scan returns at once
        await pilot.press("r")
        await settle(pilot)
        assert loader.cancel_seen.wait(5)  # the first scan saw `cancelled()` turn True
        await pilot.pause()
        assert loader.calls == 2
        assert loader.cancelled_calls == 1
        assert len(env_rows(app)) == 9
        assert not app.screen.query_one(ProgressBar).display
        assert not [n for n in app._notifications if n.severity == "error"]


@run_async
async def test_q_quits() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause()
        assert app._exit
    assert app.return_code == 0


@run_async
async def test_q_in_filter_is_text_not_quit() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", "q", "r")
        assert app.screen.query_one("#filter", Input).value == "qr"
        assert not app._exit


@run_async
async def test_scan_failure_is_an_error_notice() -> None:
    loader = FixtureLoader(error=RuntimeError("Docker engine exploded"))
    app = make_app(loader)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        errors = [n for n in app._notifications if n.severity == "error"]
        assert [n.message for n in errors] == ["Docker engine exploded"]
        assert errors[0].title == "Scan failed"
        assert "Scan failed: Docker engine exploded" in status_text(app)
        assert "the scan failed" in detail_text(app)
        # Still alive: a rescan that works fills the table.
        loader.error = None
        await pilot.press("r")
        await settle(pilot)
        assert len(env_rows(app)) == 9
    assert app.return_code in (0, None)


@run_async
async def test_progress_updates_status() -> None:
    gate = threading.Event()
    loader = FixtureLoader(gate=gate, steps=((0, None, "walked 10 directories"),
                                             (2, 5, "read httpie")))
    app = make_app(loader)
    async with app.run_test(size=SIZE) as pilot:
        assert loader.waiting.wait(5)
        await pilot.pause()
        assert status_text(app) == "Scanning… 2/5  read httpie"
        bar = app.screen.query_one(ProgressBar)
        assert bar.display
        assert (bar.progress, bar.total) == (2, 5)
        assert "Scanning for environments" in detail_text(app)
        gate.set()
        await settle(pilot)
        assert status_text(app).startswith("9 environments")
        assert not bar.display


@run_async
async def test_unknown_total_shows_count_without_bar() -> None:
    gate = threading.Event()
    loader = FixtureLoader(gate=gate, steps=((40, None, "walked 40 directories"),))
    app = make_app(loader)
    async with app.run_test(size=SIZE) as pilot:
        assert loader.waiting.wait(5)
        await pilot.pause()
        assert status_text(app) == "Scanning… 40  walked 40 directories"
        assert not app.screen.query_one(ProgressBar).display
        gate.set()
        await settle(pilot)


@run_async
async def test_empty_inventory() -> None:
    app = make_app(FixtureLoader(inventory=Inventory(())))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert env_rows(app) == []
        assert "No environments found." in detail_text(app)
        assert status_text(app).startswith("0 environments")
        assert not app.screen.query_one("#scan-problems").display


@run_async
async def test_large_inventory_is_filtered_once_typing_pauses() -> None:
    """Thousands of rows are not rebuilt per keystroke, nor package lists per cursor step."""
    few = tuple(Package(f"lib{j}", "1.0", installer="pip") for j in range(20))
    many = tuple(Package(f"dep{j}", "1.0", installer="pip") for j in range(LARGE_PACKAGE_LIST + 1))
    envs = tuple(
        Environment(kind=EnvKind.VENV, name=f"env{i:04d}", manager="venv",
                    path=f"/home/ada/envs/env{i:04d}", packages=many if i == 1 else few)
        for i in range(LARGE_INVENTORY + 700)
    )
    app = make_app(FixtureLoader(inventory=Inventory(envs)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(InventoryTable)
        assert len(env_rows(app)) == len(envs)
        rebuilds = 0
        show = table.show

        def counting_show(*args: Any) -> None:
            nonlocal rebuilds
            rebuilds += 1
            show(*args)

        table.show = counting_show  # type: ignore[method-assign]
        await pilot.press("slash", *"env09")
        assert rebuilds == 0
        await pilot.pause(FILTER_DELAY * 3)
        assert rebuilds == 1
        assert len(env_rows(app)) == 100
        assert status_text(app).startswith("100 of 1000 environments match")

        await pilot.press("escape")
        await pilot.pause(FILTER_DELAY * 3)
        packages = app.screen.query_one(PackageTable)
        assert "env0900" in detail_text(app)  # the highlighted row survived the filter
        table.select_key("env:1")  # env0001, the one with a long package list
        await pilot.pause()
        assert "env0001" in detail_text(app)
        assert not packages.display  # filled once the cursor rests
        await pilot.pause(SETTLE_DELAY * 3)
        assert packages.display
        assert packages.row_count == LARGE_PACKAGE_LIST + 1


@run_async
async def test_theme_change_restyles_rows() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(InventoryTable)
        before = table.get_row("env:4")[6].style
        app.theme = "textual-light"
        await pilot.pause()
        assert table.get_row("env:4")[6].style != before
        assert len(env_rows(app)) == 9


@run_async
async def test_command_palette_lists_and_runs_commands() -> None:
    loader = FixtureLoader()
    app = make_app(loader)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"env:")
        await _palette_settled(pilot)
        prompts = _palette_prompts(app)
        assert "env: rescan" in prompts
        assert "env: filter" in prompts

        app.screen.query_one(Input).value = "show: ml"
        await _palette_settled(pilot)
        assert _palette_prompts(app)[0] == "show: ml"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, InventoryScreen)
        table = app.screen.query_one(InventoryTable)
        assert table.current_key == "env:6"

        await pilot.press("ctrl+p", *"env: rescan")
        await _palette_settled(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert loader.calls == 2


@run_async
async def test_show_command_clears_a_filter_that_hides_the_environment() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"numpy")
        screen = app.screen
        assert isinstance(screen, InventoryScreen)
        screen.show_environment(screen.environments[3])  # httpie, filtered out
        await pilot.pause()
        assert len(env_rows(app)) == 9
        assert "httpie" in detail_text(app)


async def _palette_settled(pilot: Pilot[Any]) -> None:
    # The palette searches its providers in a task; give it a few frames.
    for _ in range(5):
        await pilot.pause(0.05)


def _palette_prompts(app: EnvtuiApp) -> list[str]:
    options = app.screen.query_one(OptionList)
    prompts = []
    for i in range(options.option_count):
        option: Option = options.get_option_at_index(i)
        prompts.append(str(option.prompt).split("\n")[0])
    return prompts


def test_every_binding_has_description_tooltip_and_id() -> None:
    ids = set()
    for binding in InventoryScreen.BINDINGS:
        assert not isinstance(binding, tuple)
        assert binding.description and binding.tooltip and binding.id, binding
        ids.add(binding.id)
    assert len(ids) == len(InventoryScreen.BINDINGS)


@run_async
async def test_footer_shows_key_hints() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        shown = {b.binding.id for b in app.screen.active_bindings.values() if b.binding.show}
        assert {"inventory.filter", "inventory.rescan", "inventory.quit"} <= shown
        # "Clear filter" appears only when there is a filter to clear.
        assert app.screen.check_action("clear_filter", ()) is False
        await pilot.press("slash")
        assert app.screen.check_action("clear_filter", ()) is True


# -- helpers -------------------------------------------------------------------------------


def test_index_matches_terms() -> None:
    index = InventoryIndex.build(fixture_inventory())
    assert index.matches("") is None
    assert index.matches("   ") is None
    assert index.matches("CONDA") == [5, 6]
    assert index.matches("conda numpy") == [6]
    assert index.problem_counts == (0, 0, 0, 0, 2, 0, 0, 0, 0)


def test_formatting() -> None:
    assert human_size(12_300_000) == "12.3 MB"
    assert short_date("2025-03-14T12:00:00+00:00") == "2025-03-14"
    assert short_date("yesterday") == "yesterday"
    assert short_date(None) == ""


def test_fresh_context_drops_earlier_scan_problems() -> None:
    ctx = ScanContext(home=Path("/home/ada"), environ={"A": "1"}, kinds=frozenset({EnvKind.VENV}))
    ctx.report(Problem("engine", "Docker engine unreachable"))
    fresh = ctx.fresh()
    assert fresh.problems == ()
    assert (fresh.home, fresh.environ, fresh.kinds) == (ctx.home, ctx.environ, ctx.kinds)


# -- screenshots for the README ----------------------------------------------------------

README_SCREENSHOTS = {
    "inventory": "test_snapshot_inventory",
    "detail": "test_snapshot_broken_environment_detail",
    "conda": "test_snapshot_conda_environment_detail",
    "filter": "test_snapshot_filter",
}
"""screenshots/NAME.svg (referenced from README.md) is a copy of this reviewed snapshot."""


@pytest.mark.parametrize(("name", "snapshot"), README_SCREENSHOTS.items())
def test_readme_screenshots_match_snapshots(name: str, snapshot: str) -> None:
    """Refresh with `ENVTUI_SCREENSHOTS=1 pytest tests/test_tui.py -k readme`."""
    source = SNAPSHOTS / f"{snapshot}.svg"
    target = SCREENSHOTS / f"{name}.svg"
    if os.environ.get("ENVTUI_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(exist_ok=True)
        shutil.copyfile(source, target)
    assert target.exists(), f"screenshots/{name}.svg is missing"
    assert target.read_bytes() == source.read_bytes(), f"screenshots/{name}.svg is stale"
