"""The inventory screen: snapshots of how it looks and Pilot tests of how it behaves.

Everything renders the committed inventory in tests/fixtures/inventory.json (fake paths,
fixed sizes and dates) through the app's `loader` hook, so screenshots are deterministic.
The real scan is exercised end to end in test_tui_e2e.py.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandPalette
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Input, OptionList, ProgressBar, Static
from textual.widgets._footer import FooterKey
from textual.widgets.option_list import Option

from envtui.inspectors.base import ScanContext
from envtui.model import Environment, EnvKind, Inventory, Package, Problem
from envtui.tui.app import EnvtuiApp
from envtui.tui.batches import Batcher
from envtui.tui.commands import MAX_HITS
from envtui.tui.format import human_size, location_hints, plural, short_date
from envtui.tui.index import InventoryIndex, PartialInventory
from envtui.tui.screens.inventory import (
    LARGE_INVENTORY,
    InventoryScreen,
)
from envtui.tui.widgets.detail import (
    LARGE_PACKAGE_LIST,
    EnvironmentDetail,
    FactList,
    PackageTable,
)
from envtui.tui.widgets.inventory_table import (
    COLUMNS,
    NAME_CAP,
    NAME_FLOOR,
    NAME_MIN,
    InventoryTable,
    fit_columns,
)
from envtui.tui.widgets.key_footer import KeyFooter
from envtui.tui.widgets.theme import component_text_style
from tests.tui_helpers import (
    SIZE,
    FixtureLoader,
    Stage,
    check_readme_screenshot,
    fixture_inventory,
    make_app,
    run_async,
    settle,
    until,
)

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOTS = Path(__file__).parent / "__snapshots__" / "test_tui"



def row_keys(app: EnvtuiApp) -> list[str | None]:
    return [row.key.value for row in app.screen.query_one(InventoryTable).ordered_rows]


def current_env(app: EnvtuiApp) -> str | None:
    """The name of the highlighted environment (None on a heading or in an empty table)."""
    table = app.screen.query_one(InventoryTable)
    env = table.environment(table.current_key)
    return env.name if env else None


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
    """The detail pane's heading, problems (when shown) and facts as `label value` lines."""
    parts = [str(app.screen.query_one("#detail-heading", Static).render())]
    problems = app.screen.query_one("#env-problems", Static)
    if problems.display:
        parts.append(str(problems.render()))
    parts.extend(f"{label} {value}" for label, value in app.screen.query_one(FactList).facts)
    return "\n".join(parts)


def screen_lines(widget: Widget) -> list[str]:
    """What `widget` paints, border included, one string per line (trailing blanks kept)."""
    width, height = widget.outer_size
    strips = widget.render_lines(Region(0, 0, width, height))
    assert all(strip.cell_length == width for strip in strips)
    return [strip.text for strip in strips]


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


def test_snapshot_filling_in(snap_compare: Any) -> None:
    """Mid-scan: the environments read so far, grouped and sorted as they will be (not in
    the order they were read), the first one's details, the progress line.
    """
    stage = Stage(("httpie", "ml", "data-tools", "api-dev"))
    loader = FixtureLoader(steps=((4, 9, "read api-dev"),), stages=(stage,))

    async def wait_for_rows(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        pilot.app.screen.query_one("#filter", Input).cursor_blink = False
        assert stage.reached.wait(5)
        app = pilot.app
        assert isinstance(app, EnvtuiApp)
        expected = ["data-tools", "httpie", "ml", "api-dev"]
        await until(pilot, lambda: env_rows(app) == expected, "the rows read so far")
        await pilot.pause()

    try:
        assert snap_compare(make_app(loader), terminal_size=SIZE, run_before=wait_for_rows)
    finally:
        stage.resume.set()


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
        assert row == ["legacy-scraper", "venv", "3.8.18", "6", "41.0 MB", "2023-07-28", "2",
                       "stale,broken"]
        # No problems: a blank cell, not a 0 to read past.
        assert str(table.get_row("env:0")[6]) == ""
        # The base environment is named once; the detail pane says it is the base.
        assert str(table.get_row("env:5")[0]).strip() == "base"
        # The cursor starts on the first environment, not on a heading.
        assert table.current_key == "env:0"
        assert "9 environments · 69 packages · 4.0 GB · 1 with problems" in status_text(app)
        problems = str(app.screen.query_one("#scan-problems", Static).render())
        assert problems == "⚠ /home/ada/shared/envs: unreadable (Permission denied)"


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
        assert ("✗ broken: base interpreter missing (pyvenv.cfg home "
                "/usr/local/opt/python@3.8/bin does not exist)") in text
        assert "broken: broken" not in text
        assert "✗ scrapekit-0.1.dist-info: missing Version" in text
        assert "~/projects/legacy-scraper/venv" in text
        assert package_names(app) == [
            "beautifulsoup4", "lxml", "pip", "requests", "scrapekit", "soupsieve",
        ]
        packages = app.screen.query_one(PackageTable)
        assert [str(c) for c in packages.get_row_at(4)[:2]] == ["scrapekit", "?"]
        # lxml has no INSTALLER file: "unknown", quietly, rather than a "?".
        lxml = packages.get_row_at(1)
        assert [str(c) for c in lxml] == ["lxml", "4.6.3", "unknown"]
        assert lxml[2].style == component_text_style(packages, "package-table--muted")
        assert lxml[2].style != packages.get_row_at(0)[2].style
        assert str(packages.get_row_at(0)[2]) == "pip"

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


# -- a scan that fills the table as it goes ----------------------------------------------


@run_async
async def test_rows_fill_in_while_scanning() -> None:
    """Read in any order, shown grouped and sorted; an untouched cursor stays on the first
    row, a moved one on its environment; the finished inventory replaces the partial one.
    """
    first = Stage(("httpie", "ml", "data-tools"))  # completion order, not display order
    second = Stage(("legacy-scraper", "api-server", "base"))
    app = make_app(FixtureLoader(steps=((3, 9, "read data-tools"),), stages=(first, second)))
    async with app.run_test(size=SIZE) as pilot:
        assert first.reached.wait(5)
        await until(pilot, lambda: len(env_rows(app)) == 3, "the first three environments")
        assert row_keys(app) == ["kind:venv", "env:0", "env:1", "kind:conda", "env:2"]
        assert env_rows(app) == ["data-tools", "httpie", "ml"]
        table = app.screen.query_one(InventoryTable)
        assert str(table.get_row("kind:venv")[0]) == "Virtual environments (2)"
        assert str(table.get_row("kind:conda")[0]) == "Conda environments (1)"
        # httpie was read first, but the untouched cursor stays on the first row.
        assert table.cursor_row == 1
        assert current_env(app) == "data-tools"
        assert detail_text(app).startswith("data-tools")
        assert package_names(app)[:2] == ["numpy", "pandas"]
        assert status_text(app).startswith("Scanning… 3/9")
        assert not app.screen.query_one("#scan-problems").display  # none until the end

        await pilot.press("down")  # the user moves: the cursor now follows httpie
        assert current_env(app) == "httpie"
        first.resume.set()
        assert second.reached.wait(5)
        await until(pilot, lambda: len(env_rows(app)) == 6, "the next three environments")
        assert env_rows(app) == [
            "api-server", "data-tools", "httpie", "legacy-scraper", "base", "ml",
        ]
        assert current_env(app) == "httpie"  # two rows further down, still highlighted
        assert table.cursor_row == 3
        assert detail_text(app).startswith("httpie")

        await pilot.press("up", "up", "up")  # a heading: the summary counts what is shown
        assert "environments 4" in detail_text(app)
        await pilot.press("down", "down", "down")

        second.resume.set()
        await settle(pilot)
        assert len(env_rows(app)) == 9
        assert current_env(app) == "httpie"
        assert "9 environments · 69 packages" in status_text(app)
        assert app.screen.query_one("#scan-problems").display


@run_async
async def test_filter_applies_to_rows_read_so_far() -> None:
    first = Stage(("httpie", "ml", "data-tools"))
    second = Stage(("base", "api-dev", "api-server"))
    app = make_app(FixtureLoader(stages=(first, second)))
    async with app.run_test(size=SIZE) as pilot:
        assert first.reached.wait(5)
        await until(pilot, lambda: len(env_rows(app)) == 3, "the first three environments")
        await pilot.press("slash", *"numpy")
        assert env_rows(app) == ["data-tools", "ml"]
        await pilot.press("enter")  # back to the table, on data-tools
        await pilot.press("down", "down")  # the conda heading, then ml
        assert current_env(app) == "ml"

        first.resume.set()
        assert second.reached.wait(5)
        screen = app.screen
        assert isinstance(screen, InventoryScreen)
        await until(pilot, lambda: len(screen.environments) == 6, "the next three environments")
        assert env_rows(app) == ["data-tools", "ml"]  # none of the newcomers has numpy
        assert current_env(app) == "ml"
        app.screen.query_one("#filter", Input).value = "api"
        await pilot.pause()
        assert env_rows(app) == ["api-server", "api-dev"]

        second.resume.set()
        await settle(pilot)
        assert env_rows(app) == ["api-server", "ada/api-server:latest", "api-dev"]
        assert "3 of 9 environments match" in status_text(app)


@run_async
async def test_final_inventory_is_authoritative() -> None:
    """The final inventory replaces what was reported, even where they differ (here it
    leaves out an environment that was reported, and adds the scan's problems).
    """
    stage = Stage(("ml", "httpie", "legacy-scraper"))
    loader = FixtureLoader(stages=(stage,))
    final = Inventory(
        tuple(e for e in loader.inventory.environments if e.name != "legacy-scraper"),
        loader.inventory.problems,
    )
    app = make_app(loader)
    async with app.run_test(size=SIZE) as pilot:
        assert stage.reached.wait(5)
        await until(pilot, lambda: len(env_rows(app)) == 3, "the rows read so far")
        assert env_rows(app) == ["httpie", "legacy-scraper", "ml"]
        await pilot.press("down", "down", "down")
        assert current_env(app) == "ml"
        assert app.screen.check_action("show_scan_problems", ()) is False
        loader.inventory = final
        stage.resume.set()
        await settle(pilot)
        assert env_rows(app) == [e.name for e in final.environments]
        assert current_env(app) == "ml"
        assert status_text(app).startswith("8 environments")
        assert app.screen.check_action("show_scan_problems", ()) is True


@run_async
async def test_rescan_drops_the_old_scans_late_results() -> None:
    old = Stage(("httpie", "ml"), cancellable=False)
    late = Stage(("legacy-scraper", "base"), cancellable=False)
    loader = FixtureLoader(stages=(old, late))
    app = make_app(loader)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, InventoryScreen)
        assert old.reached.wait(5)
        await until(pilot, lambda: env_rows(app) == ["httpie", "ml"], "the first scan's rows")
        old_generation, old_worker = screen._generation, screen._worker
        assert old_worker is not None

        new = Stage(("api-server",))
        loader.stages = (new,)
        await pilot.press("r")
        # No scan has finished: the cancelled scan's rows go at once.
        assert "httpie" not in env_rows(app)
        assert new.reached.wait(5)
        await until(pilot, lambda: env_rows(app) == ["api-server"], "the new scan's rows")
        assert status_text(app).startswith("Scanning…")

        # The old scan, cancelled, goes on reading (it ignores `cancelled`) and returns.
        old.resume.set()
        assert late.reached.wait(5)
        late.resume.set()
        await until(pilot, lambda: old_worker.is_finished, "the old scan to end")
        await pilot.pause()
        assert env_rows(app) == ["api-server"]
        # Even if its messages got through, they are dropped by generation.
        stale = fixture_inventory()
        screen.post_message(InventoryScreen.EnvironmentsRead(
            old_generation, stale.environments, InventoryIndex.build(stale)))
        screen.post_message(InventoryScreen.InventoryLoaded(
            old_generation, stale, InventoryIndex.build(stale)))
        await pilot.pause()
        assert env_rows(app) == ["api-server"]
        assert status_text(app).startswith("Scanning…")

        new.resume.set()
        await settle(pilot)
        assert len(env_rows(app)) == 9
        assert status_text(app).startswith("9 environments")


@run_async
async def test_rescan_keeps_the_previous_inventory_until_complete() -> None:
    loader = FixtureLoader()
    app = make_app(loader)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "down")
        assert current_env(app) == "httpie"
        before = env_rows(app)

        stage = Stage(("api-dev", "httpie"))
        newcomer = replace(loader.inventory.environments[0], name="aardvark",
                           path="/home/ada/aardvark/.venv")
        loader.stages = (stage,)
        loader.inventory = replace(
            loader.inventory, environments=(newcomer, *loader.inventory.environments)
        )
        await pilot.press("r")
        assert stage.reached.wait(5)
        await pilot.pause()
        assert env_rows(app) == before  # the old rows, complete, until the new ones are
        assert current_env(app) == "httpie"
        assert status_text(app).startswith("Rescanning…")
        assert app.screen.query_one("#scan-problems").display

        stage.resume.set()
        await settle(pilot)
        assert env_rows(app)[:2] == ["aardvark", "api-server"]
        assert current_env(app) == "httpie"
        assert status_text(app).startswith("10 environments")


@run_async
async def test_failed_scan_keeps_what_it_read() -> None:
    stage = Stage(("ml", "httpie"))
    loader = FixtureLoader(stages=(stage,), error=RuntimeError("disk on fire"))
    app = make_app(loader)
    async with app.run_test(size=SIZE) as pilot:
        assert stage.reached.wait(5)
        stage.resume.set()
        await until(pilot, lambda: "Scan failed" in status_text(app), "the scan to fail")
        await until(pilot, lambda: env_rows(app) == ["httpie", "ml"], "the rows read")
        assert status_text(app) == "Scan failed: disk on fire"
        assert detail_text(app).startswith("httpie")

        loader.error = None
        loader.stages = ()
        await pilot.press("r")
        await settle(pilot)
        assert len(env_rows(app)) == 9


@run_async
async def test_thousands_of_environments_are_shown_in_few_rebuilds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first environment read is shown at once; the rest wait for the next batch (an
    hour away here), then the final inventory: two rebuilds, not a thousand.
    """
    monkeypatch.setattr(InventoryScreen, "batch_interval", 3600.0)
    rebuilds: list[int] = []
    show = InventoryTable.show

    def counting_show(table: InventoryTable, environments: Any, *args: Any, **kw: Any) -> None:
        rebuilds.append(len(environments))
        show(table, environments, *args, **kw)

    monkeypatch.setattr(InventoryTable, "show", counting_show)
    envs = tuple(
        Environment(kind=EnvKind.VENV, name=f"env{i:04d}", manager="venv",
                    path=f"/home/ada/envs/env{i:04d}")
        for i in range(1000)
    )
    stage = Stage(tuple(env.name for env in reversed(envs)))
    app = make_app(FixtureLoader(stages=(stage,), inventory=Inventory(envs)))
    async with app.run_test(size=SIZE) as pilot:
        assert stage.reached.wait(5)
        await until(pilot, lambda: bool(rebuilds), "the first batch")
        await pilot.pause()
        assert rebuilds == [1]
        assert env_rows(app) == ["env0999"]
        stage.resume.set()
        await settle(pilot)
        assert rebuilds == [1, 1000]
        assert current_env(app) == "env0000"  # the untouched cursor stayed at the top


@run_async
async def test_rows_arriving_above_keep_the_cursor_on_its_line() -> None:
    envs = tuple(
        Environment(kind=EnvKind.VENV, name=f"env{i:02d}", manager="venv",
                    path=f"/home/ada/envs/env{i:02d}")
        for i in range(60)
    )
    first = Stage(tuple(env.name for env in envs[30:]))
    second = Stage(tuple(env.name for env in envs[:30]))
    app = make_app(FixtureLoader(stages=(first, second), inventory=Inventory(envs)))
    async with app.run_test(size=SIZE) as pilot:
        assert first.reached.wait(5)
        await until(pilot, lambda: len(env_rows(app)) == 30, "the first thirty rows")
        table = app.screen.query_one(InventoryTable)
        # Past the first screenful (the table scrolls), then back up a few: the cursor is
        # in the middle of the view, where scrolling it into view would move it.
        await pilot.press(*["down"] * 20, *["up"] * 5)
        await pilot.pause()
        assert current_env(app) == "env45"
        assert table.scroll_y > 0
        line = table.cursor_row - table.scroll_y
        assert 0 < line < table.scrollable_content_region.height - 2
        first.resume.set()
        assert second.reached.wait(5)
        await until(pilot, lambda: len(env_rows(app)) == 60, "the rest")
        await pilot.pause()
        assert current_env(app) == "env45"
        assert table.cursor_row - table.scroll_y == line


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

        def counting_show(*args: Any, **kwargs: Any) -> None:
            nonlocal rebuilds
            rebuilds += 1
            show(*args, **kwargs)

        table.show = counting_show  # type: ignore[method-assign]
        # A pause longer than any keystroke takes, even on a loaded machine.
        app.screen.filter_delay = delay = 2.0  # type: ignore[attr-defined]
        await pilot.press("slash", *"env09")
        assert rebuilds == 0
        await pilot.pause(delay * 2)
        assert rebuilds == 1
        assert len(env_rows(app)) == 100
        assert status_text(app).startswith("100 of 1000 environments match")

        await pilot.press("escape")
        await pilot.pause(delay * 2)
        packages = app.screen.query_one(PackageTable)
        assert "env0900" in detail_text(app)  # the highlighted row survived the filter
        app.screen.query_one(EnvironmentDetail).settle_delay = delay
        table.select_key("env:1")  # env0001, the one with a long package list
        await pilot.pause()
        assert "env0001" in detail_text(app)
        assert not packages.display  # filled once the cursor rests
        await pilot.pause(delay * 2)
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
async def test_palette_offers_the_best_commands_of_a_big_inventory() -> None:
    count = MAX_HITS * 4  # each provider has more commands than it offers
    envs = tuple(Environment(kind=EnvKind.VENV, name=f"env{i:04d}", manager="venv",
                             path=f"/home/ada/envs/env{i:04d}",
                             packages=(Package("lib", "1.0", installer="pip"),))
                 for i in range(count))
    app = make_app(FixtureLoader(inventory=Inventory(envs)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await _palette_settled(pilot)
        prompts = _palette_prompts(app)
        shows = [p for p in prompts if p.startswith("show: ")]
        # The first ones, in order: the palette lays out every option it is given.
        assert shows == [f"show: env{i:04d}" for i in range(MAX_HITS - 2)]  # after env: ...
        assert _most_per_kind(prompts) == MAX_HITS  # tree: ..., fix: ..., as many each
        # Typing finds any of them, the last included, first.
        app.screen.query_one(Input).value = f"show: env{count - 1:04d}"
        await _palette_settled(pilot)
        prompts = _palette_prompts(app)
        assert prompts[0] == f"show: env{count - 1:04d}"
        assert _most_per_kind(prompts) <= MAX_HITS
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, InventoryScreen)
        assert app.screen.query_one(InventoryTable).current_key == f"env:{count - 1}"


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


# -- awkward inventories: long, hostile and duplicate names, long scan problems -------------

LONG_NAME = (
    "quarterly-revenue-forecast-model-retraining-pipeline-for-the-emea-sales-"
    "operations-team-2025-q1-experiment-v12"
)
ENGINE_PROBLEM = Problem(
    "engine",
    "Docker engine unreachable at unix:///var/run/docker.sock: Error while fetching server "
    "API version: ('Connection aborted.', FileNotFoundError(2, 'No such file or "
    "directory')); images and containers were not scanned.",
)


def awkward_inventory() -> Inventory:
    """The fixture plus a 110-character name, control characters in a name, a path and a
    package, a second `api-server`, and a long scan problem.
    """
    base = fixture_inventory()
    venvs = [e for e in base.environments if e.kind is EnvKind.VENV]
    others = [e for e in base.environments if e.kind is not EnvKind.VENV]
    template = venvs[0]  # api-server
    extra = [
        replace(template, name="api-server", path="/home/ada/work/api-server/.venv",
                details={}),
        replace(template, name="esc\x1b[31mred", path="/home/ada/esc\x1b[31mred/.venv",
                packages=(Package("evil\npkg\x1b[2J", "1.0", installer="pip\x1b[0m"),),
                problems=(Problem("broken", "pyvenv.cfg says home = \x1b]0;pwned\x07"),),
                details={}),
        replace(template, name=LONG_NAME, path=f"/home/ada/code/{LONG_NAME}/.venv", details={}),
    ]
    assert len(LONG_NAME) == 110
    return Inventory((*venvs[:1], *extra, *venvs[1:], *others), (ENGINE_PROBLEM,))


def column_widths(table: InventoryTable) -> dict[str, int]:
    """Each shown column's rendered width, padding included, by key."""
    return {str(col.key.value): col.get_render_width(table) for col in table.ordered_columns}


def test_snapshot_awkward_names(snap_compare: Any) -> None:
    """A 110-character name cut at the cap (in full in the detail pane), an escape sequence
    shown as text, two `api-server`s told apart by path, a long scan problem wrapped.
    """

    async def select_long_name(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("down", "down", "down")

    loader = FixtureLoader(inventory=awkward_inventory())
    assert snap_compare(make_app(loader), terminal_size=SIZE, run_before=select_long_name)


def test_snapshot_narrow_terminal(snap_compare: Any) -> None:
    """80x24: "last used" gives way so problems stay visible; the container's long IDs wrap
    under their value column.
    """

    async def select_container(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press(*["down"] * 11)

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=select_container)


@run_async
async def test_long_name_is_cut_and_columns_fit() -> None:
    app = make_app(FixtureLoader(inventory=awkward_inventory()))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(InventoryTable)
        widths = column_widths(table)
        assert list(widths) == [key for key, _ in COLUMNS]  # nothing dropped at 120 columns
        assert widths["name"] == NAME_CAP + 2 * table.cell_padding
        assert sum(widths.values()) <= table.scrollable_content_region.width
        cell = str(table.get_row("env:3")[0])
        assert cell.endswith("…") and len(cell) == NAME_CAP
        await pilot.press("down", "down", "down")
        assert LONG_NAME in detail_text(app)  # in full in the detail pane
        assert f"~/code/{LONG_NAME}/.venv" in detail_text(app)

        # Filtered out, it no longer holds the column wide.
        await pilot.press("slash", *"numpy")
        assert env_rows(app) == ["data-tools", "ml"]
        assert column_widths(table)["name"] == len("Virtual environments (1)") + 2


@run_async
async def test_narrow_terminal_keeps_problems_column() -> None:
    app = make_app(FixtureLoader(inventory=awkward_inventory()))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(InventoryTable)
        widths = column_widths(table)
        assert "problems" in widths
        assert "last-used" not in widths  # in the detail pane instead
        assert sum(widths.values()) <= table.scrollable_content_region.width
        assert widths["name"] >= NAME_MIN + 2
        assert "problems" in screen_lines(table)[1]  # the header row, inside the border
        # The heading keeps its count in the narrow column.
        assert "(8)" in str(table.get_row("kind:venv")[0])
        assert "cleanup" in widths  # what this screen size is most often opened for

        await pilot.resize_terminal(120, 36)
        await pilot.pause()
        assert "last-used" in column_widths(table)
        assert str(table.get_row("kind:venv")[0]) == "Virtual environments (8)"


def test_fit_columns() -> None:
    widths = {"name": 110, "manager": 10, "python": 7, "packages": 8, "size": 8,
              "last-used": 10, "problems": 8, "cleanup": 7}
    keys = tuple(key for key, _ in COLUMNS)
    assert fit_columns(widths, 116, 1) == (keys, NAME_CAP)
    # Without "last used" the name would get 14 cells, under NAME_MIN: python goes too.
    narrow = tuple(k for k in keys if k not in ("last-used", "python"))
    assert fit_columns(widths, 76, 1) == (narrow, 76 - 41 - 12)
    narrowest = tuple(k for k in narrow if k != "manager")
    assert fit_columns(widths, 40, 1) == (narrowest, NAME_FLOOR)


@run_async
async def test_control_characters_are_shown_as_escapes() -> None:
    app = make_app(FixtureLoader(inventory=awkward_inventory()))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(InventoryTable)
        assert str(table.get_row("env:2")[0]).strip() == "esc\\x1b[31mred"
        lines = screen_lines(table)
        assert not any("\x1b" in line for line in lines)
        assert any("esc\\x1b[31mred" in line for line in lines)

        await pilot.press("down", "down")
        text = detail_text(app)
        assert "\x1b" not in text and "\x07" not in text
        assert "esc\\x1b[31mred\nvenv · uv" in text
        assert "~/esc\\x1b[31mred/.venv" in text
        assert "home = \\x1b]0;pwned\\x07" in text
        assert [str(c) for c in app.screen.query_one(PackageTable).get_row_at(0)] == [
            "evil\\x0apkg\\x1b[2J", "1.0", "pip\\x1b[0m",
        ]

        await pilot.press("slash", *"\\x1b")  # what the screen shows can be typed
        assert env_rows(app) == ["esc\x1b[31mred"]


@run_async
async def test_scan_problem_is_readable_in_full() -> None:
    app = make_app(FixtureLoader(inventory=awkward_inventory()))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        line = app.screen.query_one("#scan-problems", Static)
        assert line.size.height == 2  # wrapped, not cut
        shown = "".join(text.strip() for text in screen_lines(line))
        assert shown.endswith("were not scanned.")
        shown_keys = {b.binding.id for b in app.screen.active_bindings.values() if b.binding.show}
        assert "inventory.scan-problems" in shown_keys

        await pilot.press("exclamation_mark")
        text = detail_text(app)
        assert text.startswith("Scan problems (1)")
        assert ENGINE_PROBLEM.detail in text.replace("\n", " ")
        assert not app.screen.query_one(PackageTable).display
        await pilot.press("down")  # back to the environments
        assert "Scan problems" not in detail_text(app)

        await pilot.click("#scan-problems")
        assert detail_text(app).startswith("Scan problems (1)")


@run_async
async def test_scan_problems_binding_only_with_problems() -> None:
    app = make_app(FixtureLoader(inventory=Inventory(fixture_inventory().environments)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.check_action("show_scan_problems", ()) is False


@run_async
async def test_same_names_are_told_apart() -> None:
    app = make_app(FixtureLoader(inventory=awkward_inventory()))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(InventoryTable)
        # Only what tells them apart: the path components they share are left out.
        assert str(table.get_row("env:0")[0]).strip() == "api-server  ~/code/…"
        assert str(table.get_row("env:1")[0]).strip() == "api-server  ~/work/…"
        assert str(table.get_row("env:4")[0]).strip() == "blog-Zx3kQp9e-py3.12"  # unique

        await pilot.press("ctrl+p")
        await pilot.press(*"show: api-server")
        await _palette_settled(pilot)
        helps = _palette_helps(app)
        assert helps["show: api-server"] == ["~/code/api-server/.venv", "~/work/api-server/.venv"]
        assert helps["show: ada/api-server:latest"] == [
            "image:ada/api-server:latest · 3f1c9e07b2a8"
        ]


@run_async
async def test_filter_matches_what_the_screen_shows() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for query, expected in [
            ("~/code", ["api-server"]),               # the path as the detail pane shows it
            ("~/miniforge3", ["base", "ml"]),
            ("api-server:0.3.0", ["ada/api-server:latest"]),  # the image's second tag
            ("3.8.18", ["legacy-scraper"]),           # python, a table column
        ]:
            app.screen.query_one("#filter", Input).value = query
            await pilot.pause()
            assert env_rows(app) == expected, query


@run_async
async def test_counts_are_pluralised() -> None:
    one = replace(fixture_inventory().environments[0],
                  packages=(Package("anyio", "4.6.2", installer="uv"),))
    app = make_app(FixtureLoader(inventory=Inventory((one,))))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert status_text(app) == "1 environment · 1 package · 48.2 MB"
        await pilot.press("slash", *"zzz")
        assert status_text(app).startswith("0 of 1 environment match")


@run_async
async def test_progress_without_a_name_shows_no_label() -> None:
    gate = threading.Event()
    loader = FixtureLoader(gate=gate, steps=((1, 18, "read "),))
    app = make_app(loader)
    async with app.run_test(size=SIZE) as pilot:
        assert loader.waiting.wait(5)
        await pilot.pause()
        assert status_text(app) == "Scanning… 1/18"
        gate.set()
        await settle(pilot)


@run_async
async def test_base_environment_is_marked_once() -> None:
    inventory = fixture_inventory()
    renamed = replace(inventory.environments[5], name="miniforge3")  # a base not called base
    envs = list(inventory.environments)
    envs[5] = renamed
    app = make_app(FixtureLoader(inventory=Inventory(tuple(envs))))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(InventoryTable)
        assert str(table.get_row("env:5")[0]).strip() == "miniforge3 (base)"
        table.select_key("env:5")
        await pilot.pause()
        assert "miniforge3\nconda · base" in detail_text(app)
        assert "base yes" not in detail_text(app)


@run_async
async def test_facts_wrap_under_their_value_column() -> None:
    inventory = fixture_inventory()
    ml = replace(inventory.environments[6], details={
        "requested": ["numpy<2", "python=3.11", "pytorch", "scikit-learn", "jupyterlab>=4"],
        "include_system_site_packages": True,
        "pixi_manifest": {"path": "/home/ada/research/pixi.toml", "environment": "default"},
    })
    envs = list(inventory.environments)
    envs[6] = ml
    app = make_app(FixtureLoader(inventory=Inventory(tuple(envs))))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.query_one(InventoryTable).select_key("env:6")
        await pilot.pause()
        facts = dict(app.screen.query_one(FactList).facts)
        assert facts["requested"] == "numpy<2, python=3.11, pytorch, scikit-learn, jupyterlab>=4"
        assert facts["system site"] == "yes"
        assert facts["pixi manifest"] == "path: ~/research/pixi.toml, environment: default"
        lines = [line.rstrip() for line in screen_lines(app.screen.query_one(FactList))]
        lines = [line for line in lines if line]
        column = lines[0].index("~/miniforge3")  # the first value: path
        for line in lines:  # every value, and every wrapped part of one, starts in the column
            assert line[column - 1] == " " and line[column] != " ", line
        assert any(not line[:column].strip() for line in lines), "a long value should wrap"


async def _palette_settled(pilot: Pilot[Any]) -> None:
    # The palette searches its providers in a task; give it a few frames.
    for _ in range(5):
        await pilot.pause(0.05)


def _most_per_kind(prompts: list[str]) -> int:
    """The most prompts of one kind ("tree", "fix", ...: the text before the colon)."""
    return max(Counter(prompt.partition(":")[0] for prompt in prompts).values())


def _palette_prompts(app: EnvtuiApp) -> list[str]:
    options = app.screen.query_one(OptionList)
    prompts = []
    for i in range(options.option_count):
        option: Option = options.get_option_at_index(i)
        prompts.append(str(option.prompt).split("\n")[0])
    return prompts


def _palette_helps(app: EnvtuiApp) -> dict[str, list[str]]:
    """Help lines of the palette's options, by prompt."""
    options = app.screen.query_one(OptionList)
    helps: dict[str, list[str]] = {}
    for i in range(options.option_count):
        prompt, _, help_text = str(options.get_option_at_index(i).prompt).partition("\n")
        helps.setdefault(prompt, []).append(help_text)
    return helps


@run_async
async def test_footer_shows_key_hints() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        shown = {b.binding.id for b in app.screen.active_bindings.values() if b.binding.show}
        assert {"inventory.filter", "inventory.select", "inventory.delete", "inventory.cleanup",
                "inventory.sort", "inventory.quit", "inventory.help"} <= shown
        # "Clear filter" appears only when there is a filter to clear.
        assert app.screen.check_action("clear_filter", ()) is False
        await pilot.press("slash")
        assert app.screen.check_action("clear_filter", ()) is True


@run_async
async def test_footer_is_rebuilt_only_when_its_keys_change() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)

        def keys() -> dict[str, FooterKey]:
            return {key.action: key for key in app.screen.query_one(KeyFooter).query(FooterKey)}

        before = keys()
        assert not before["open_tree"].has_class("-disabled")
        for _ in range(3):  # the screen says its bindings may have changed; they have not
            app.screen.refresh_bindings()
        await settle(pilot)
        assert all(keys()[action] is key for action, key in before.items())

        await pilot.press("up")  # onto the heading above the first environment
        await settle(pilot)
        after = keys()
        assert after["open_tree"].has_class("-disabled")  # a tree is for environments, not headings
        assert after["open_tree"] is not before["open_tree"]
        assert after.keys() == before.keys()


# -- helpers -------------------------------------------------------------------------------


def test_index_matches_terms() -> None:
    index = InventoryIndex.build(fixture_inventory(), "/home/ada")
    assert index.matches("") is None
    assert index.matches("   ") is None
    assert index.matches("CONDA") == [5, 6]
    assert index.matches("conda numpy") == [6]
    assert index.matches("~/.virtualenvs") == [2]
    assert index.matches("ada/api-server:0.3.0") == [7]
    assert index.problem_counts == (0, 0, 0, 0, 2, 0, 0, 0, 0)


def test_partial_inventory_is_kept_in_inventory_order() -> None:
    inventory = fixture_inventory()
    by_name = {env.name: env for env in inventory.environments}
    partial = PartialInventory()
    for names in (["api-dev", "ml"], ["legacy-scraper"], ["api-server", "base"]):
        batch = Inventory(tuple(by_name[name] for name in names))
        partial.add(batch.environments, InventoryIndex.build(batch, "/home/ada"))
    assert len(partial) == 5
    shown, index = partial.view()
    assert [env.name for env in shown.environments] == [
        "api-server", "legacy-scraper", "base", "ml", "api-dev",
    ]
    assert index == InventoryIndex.build(shown, "/home/ada")  # aligned with the order


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_batcher_sends_the_first_at_once_and_the_rest_per_interval() -> None:
    sent: list[list[int]] = []
    clock = FakeClock()
    batcher: Batcher[int] = Batcher(sent.append, 3600, clock=clock)
    for item in range(5):
        batcher.add(item)
    assert sent == [[0]]  # the others wait for the interval (its timer is an hour away)
    clock.now += 3600
    batcher.add(5)
    assert sent == [[0], [1, 2, 3, 4, 5]]
    batcher.add(6)
    batcher.close(flush=True)
    assert sent == [[0], [1, 2, 3, 4, 5], [6]]
    batcher.add(7)  # closed
    batcher.close(flush=True)
    assert sent == [[0], [1, 2, 3, 4, 5], [6]]


def test_batcher_close_without_flush_drops_the_rest() -> None:
    sent: list[list[int]] = []
    batcher: Batcher[int] = Batcher(sent.append, 3600)
    batcher.add(1)
    batcher.add(2)
    batcher.close(flush=False)
    assert sent == [[1]]


def test_batcher_timer_sends_what_waits() -> None:
    """A slow item after a quick one must not hold the quick one back: the timer sends it."""
    sent: list[list[int]] = []
    arrived = threading.Event()

    def send(batch: list[int]) -> None:
        sent.append(batch)
        if len(sent) == 2:
            arrived.set()

    batcher: Batcher[int] = Batcher(send, 0.05)
    batcher.add(1)
    batcher.add(2)
    batcher.add(3)
    assert arrived.wait(10)
    assert sent == [[1], [2, 3]]
    batcher.close(flush=True)
    assert sent == [[1], [2, 3]]


def test_index_without_home_has_no_tilde_paths() -> None:
    assert InventoryIndex.build(fixture_inventory()).matches("~/") == []


def test_location_hints() -> None:
    def venv(path: str | None, id: str | None = None) -> Environment:
        kind = EnvKind.VENV if path else EnvKind.IMAGE
        return Environment(kind=kind, name="x", manager="venv", path=path, id=id)

    home = "/home/ada"
    assert location_hints([venv("/home/ada/a/p/.venv"), venv("/srv/b/p/.venv")], home) == [
        "~/a/…", "/srv/b/…",
    ]
    assert location_hints([venv("/home/ada/miniforge3"), venv("/opt/conda")], home) == [
        "~/miniforge3", "/opt/conda",
    ]
    assert location_hints([venv("/a/.venv"), venv("/a/.venv")], None) == ["/…", "/…"]
    images = [venv(None, "sha256:" + "1" * 64), venv(None, "sha256:" + "2" * 64)]
    assert location_hints(images, home) == [f"image:x · {'1' * 12}", f"image:x · {'2' * 12}"]


def test_plural() -> None:
    assert [plural(n, "package") for n in (0, 1, 2)] == ["0 packages", "1 package", "2 packages"]


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
    "detail": "test_snapshot_broken_environment_detail",
    "conda": "test_snapshot_conda_environment_detail",
    "filter": "test_snapshot_filter",
}
"""screenshots/NAME.svg (referenced from README.md) is a copy of this reviewed snapshot; the
main screens' screenshots come from the demo sandbox (scripts/screenshots.py) instead."""


@pytest.mark.parametrize(("name", "snapshot"), README_SCREENSHOTS.items())
def test_readme_screenshots_match_snapshots(name: str, snapshot: str) -> None:
    """Refresh with `ENVTUI_SCREENSHOTS=1 pytest tests/test_tui.py -k readme`."""
    check_readme_screenshot(SNAPSHOTS, name, snapshot)
