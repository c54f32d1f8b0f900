"""Selection, sorting, field filters, the cleanup screen, removal and the help screen.

Snapshots and most behaviour render the committed fixture inventory (tests/fixtures/
inventory.json), seen on FIXTURE_NOW so which environments are stale never changes, with
DOCKER_HOST pointing at a socket that does not exist, so the Docker rows and refusals read
the same whatever engine the machine runs. Removals run on real venvs in a temporary HOME.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.binding import Binding
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Input, Static
from textual.widgets._footer import FooterKey

from envtui.inspectors.base import ScanContext
from envtui.inspectors.discovery import inspect_path, sort_key
from envtui.model import Environment, EnvKind, Inventory
from envtui.tui.app import EnvtuiApp
from envtui.tui.screens.cleanup import CleanupScreen
from envtui.tui.screens.help import HelpScreen
from envtui.tui.screens.inventory import InventoryScreen
from envtui.tui.screens.remove import RemoveScreen
from envtui.tui.screens.tree import TreeScreen
from envtui.tui.widgets.confirm import ConfirmScreen
from envtui.tui.widgets.detail import FactList
from envtui.tui.widgets.inventory_table import InventoryTable
from tests.envfactory import make_venv
from tests.test_tui import (
    _palette_prompts,
    _palette_settled,
    current_env,
    detail_text,
    env_rows,
    status_text,
)
from tests.tui_helpers import (
    FIXTURE_NOW,
    SIZE,
    FixtureLoader,
    fixture_inventory,
    run_async,
    settle,
    until,
)

NO_ENGINE = "unix:///nonexistent/envtui-tests/docker.sock"
"""A Docker endpoint that cannot answer: refusals and the summary's Docker rows are the
inventory's own, never a real engine's."""

FAKE_HOME = Path("/home/ada")
"""The fixture inventory's home (it does not exist)."""

SMALL = (80, 24)
LARGE = (200, 60)

VENVS = ["api-server", "blog-Zx3kQp9e-py3.12", "data-tools", "httpie", "legacy-scraper"]
"""The fixture's venvs, in inventory order."""


def fixture_ctx() -> ScanContext:
    return ScanContext(home=FAKE_HOME, environ={"DOCKER_HOST": NO_ENGINE}, now=FIXTURE_NOW)


def cleanup_app(inventory: Inventory | None = None) -> EnvtuiApp:
    """The app over the fixture inventory (or `inventory`) with no Docker engine."""
    return EnvtuiApp(fixture_ctx(), loader=FixtureLoader(inventory=inventory))


def by_name(inventory: Inventory, name: str) -> Environment:
    return next(e for e in inventory.environments if e.name == name)


def extended_inventory() -> Inventory:
    """The fixture plus a duplicate of httpie (older, so it is the one to remove), a
    dangling image and an unused tagged image; data-tools shares part of its files."""
    base = fixture_inventory()
    httpie = by_name(base, "httpie")
    data_tools = by_name(base, "data-tools")
    copy = replace(httpie, name="httpie-copy", manager="virtualenv",
                   path="/home/ada/.virtualenvs/httpie-copy",
                   last_used="2025-02-01T12:00:00+00:00", details={})
    dangling = Environment(
        kind=EnvKind.IMAGE, name="0a1b2c3d4e5f", manager="docker",
        id="sha256:0a1b2c3d4e5f" + "0" * 52, python="3.11.9", size_bytes=96_468_992,
        created="2024-11-02T12:00:00+00:00",
        details={"tags": [], "dangling": True, "short_id": "0a1b2c3d4e5f", "used_by": []})
    unused = Environment(
        kind=EnvKind.IMAGE, name="ada/old-api:0.1.0", manager="docker",
        id="sha256:5e6f7a8b9c0d" + "1" * 52, python="3.11.9", size_bytes=150_994_944,
        created="2024-10-20T12:00:00+00:00",
        details={"tags": ["ada/old-api:0.1.0"], "dangling": False,
                 "short_id": "5e6f7a8b9c0d", "used_by": []})
    envs = [replace(e, reclaimable_bytes=100_000_000) if e is data_tools else e
            for e in base.environments]
    return Inventory(tuple(sorted([*envs, copy, dangling, unused], key=sort_key)),
                     base.problems)


def table(app: EnvtuiApp) -> InventoryTable:
    return app.screen.query_one(InventoryTable)


def venv_order(app: EnvtuiApp) -> list[str]:
    """The venv rows' names, in display order."""
    t = table(app)
    return [env.name for row in t.ordered_rows
            if (env := t.environment(row.key)) is not None and env.kind is EnvKind.VENV]


def name_cells(app: EnvtuiApp) -> dict[str, str]:
    """Each environment row's name cell as shown (mark or indent included), by name."""
    t = table(app)
    cells = {}
    for row in t.ordered_rows:
        env = t.environment(row.key)
        if env is not None:
            cells[env.name] = str(t.get_row(row.key)[0])
    return cells


def cleanup_cells(app: EnvtuiApp) -> dict[str, str]:
    """Each environment row's cleanup column, by name."""
    t = table(app)
    column = t.get_column_index("cleanup")
    cells = {}
    for row in t.ordered_rows:
        env = t.environment(row.key)
        if env is not None:
            cells[env.name] = str(t.get_row(row.key)[column])
    return cells


def detail_facts(app: EnvtuiApp) -> dict[str, str]:
    """The detail pane's facts, by label."""
    return dict(app.screen.query_one(FactList).facts)


def headers(app: EnvtuiApp) -> list[str]:
    return [str(column.label) for column in table(app).columns.values()]


def select(app: EnvtuiApp, name: str) -> None:
    """Highlight the environment called `name`."""
    screen = app.screen
    assert isinstance(screen, InventoryScreen)
    screen.show_environment(next(e for e in screen.environments if e.name == name))


def top(app: EnvtuiApp) -> Screen[Any]:
    """The screen on top (a call, so an earlier isinstance does not narrow it)."""
    return app.screen


def remove_screen(app: EnvtuiApp) -> RemoveScreen:
    screen = app.screen
    assert isinstance(screen, RemoveScreen), screen
    return screen


def cleanup_screen(app: EnvtuiApp) -> CleanupScreen:
    screen = app.screen
    assert isinstance(screen, CleanupScreen), screen
    return screen


def help_screen(app: EnvtuiApp) -> HelpScreen:
    screen = app.screen
    assert isinstance(screen, HelpScreen), screen
    return screen


def table_lines(widget: DataTable[Any]) -> list[list[str]]:
    return [[str(cell) for cell in widget.get_row(row.key)] for row in widget.ordered_rows]


def remove_status(app: EnvtuiApp) -> str:
    return str(app.screen.query_one("#remove-status").render())


async def open_cleanup(pilot: Pilot[Any]) -> CleanupScreen:
    """`c`, then wait for the summary to be counted."""
    await pilot.press("c")
    screen = cleanup_screen(pilot.app)  # type: ignore[arg-type]
    await until(pilot, lambda: screen.rows is not None, "the cleanup summary")
    await settle_table(pilot)
    return screen


async def settle_table(pilot: Pilot[Any]) -> None:
    """A table measures rows added from a worker's message on a later refresh (slower on a
    loaded machine); let that land before a snapshot."""
    await pilot.pause(0.2)
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


async def planned(pilot: Pilot[Any]) -> RemoveScreen:
    """The removal modal on top, once its plan is shown."""
    screen = remove_screen(pilot.app)  # type: ignore[arg-type]
    await until(pilot, lambda: screen.plan is not None and not screen._busy, "the plan")
    await settle_table(pilot)
    return screen


async def filter_for(pilot: Pilot[Any], query: str) -> None:
    """`/`, then `query` in the filter (set at once: typing it key by key is slow)."""
    await pilot.press("slash")
    pilot.app.screen.query_one("#filter", Input).value = query
    await pilot.pause()


async def run_palette(pilot: Pilot[Any], command: str) -> list[str]:
    """Open the palette, type `command`, and return the prompts it offers."""
    await pilot.press("ctrl+p")
    await pilot.pause()
    assert isinstance(pilot.app.screen, CommandPalette)
    pilot.app.screen.query_one(Input).value = command
    await _palette_settled(pilot)
    return _palette_prompts(pilot.app)  # type: ignore[arg-type]


def footer_keys(app: EnvtuiApp) -> dict[str, tuple[int, int]]:
    """Each footer hint's key, with the cells it covers (x, right)."""
    footer = app.screen.query_one(Footer)
    return {key.key_display: (key.region.x, key.region.right) for key in footer.query(FooterKey)}


# -- snapshots --------------------------------------------------------------------------


def test_snapshot_marks_and_sort(snap_compare: Any) -> None:
    """api-server and legacy-scraper marked, each group sorted by size (largest first):
    "● " on the marked rows, "size ▼" in the header, "2 marked" in the status line."""

    async def mark_and_sort(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("space", "down", "down", "down", "down", "space", "o", "o")

    assert snap_compare(cleanup_app(), terminal_size=SIZE, run_before=mark_and_sort)


def test_snapshot_cleanup(snap_compare: Any) -> None:
    """The cleanup screen once counted: the summary (fixture paths do not exist, so the
    filesystem rows are 0 B) and the candidates: stale and broken, a duplicate, a dangling
    and an unused image, a stopped container; "P Prune dangling" in the footer."""

    async def counted(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await open_cleanup(pilot)

    assert snap_compare(cleanup_app(extended_inventory()), terminal_size=SIZE,
                        run_before=counted)


def test_snapshot_removal_refusals(snap_compare: Any) -> None:
    """Three marked environments that cannot be removed: two whose directories do not
    exist, a container with no engine to ask; "Nothing can be removed", F to force."""

    async def refused(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        for name in ("legacy-scraper", "ml", "api-dev"):
            select(pilot.app, name)  # type: ignore[arg-type]
            await pilot.press("space")
        await pilot.press("x")
        await planned(pilot)

    assert snap_compare(cleanup_app(), terminal_size=SIZE, run_before=refused)


def test_snapshot_help(snap_compare: Any) -> None:
    """`?` on the inventory: the table's keys, this screen's, then the app's."""

    async def help_open(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(cleanup_app(), terminal_size=SIZE, run_before=help_open)


def test_snapshot_confirm_removal(snap_compare: Any, home: Path) -> None:
    """The question before a removal: what goes, its size and marker; No is focused."""
    venv = make_venv(home / "proj" / ".venv")
    ctx = ScanContext(home=home, environ={}, kinds=frozenset({EnvKind.VENV}), now=FIXTURE_NOW)
    env = inspect_path(ctx, venv, use_cache=False)
    assert env is not None
    # Facts that differ between machines (Python, sizes, dates, the base interpreter's
    # home) are fixed; the directory and its marker are real.
    env = replace(env, python="3.12.7", size_bytes=48_213_504, reclaimable_bytes=None,
                  last_used="2025-03-14T12:00:00+00:00",
                  created="2025-01-02T12:00:00+00:00", details={})
    app = EnvtuiApp(ctx, loader=FixtureLoader(inventory=Inventory((env,))))

    async def ask(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("x")
        screen = await planned(pilot)
        assert screen.plan is not None and len(screen.plan.removals) == 1
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(pilot.app.screen, ConfirmScreen)

    assert snap_compare(app, terminal_size=SIZE, run_before=ask)


async def _inventory(pilot: Pilot[Any]) -> None:
    await settle(pilot)


async def _cleanup(pilot: Pilot[Any]) -> None:
    await settle(pilot)
    await open_cleanup(pilot)


async def _help(pilot: Pilot[Any]) -> None:
    await settle(pilot)
    await pilot.press("question_mark")
    await pilot.pause()


SCREENS = {"inventory": _inventory, "cleanup": _cleanup, "help": _help}


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "200x60"])
@pytest.mark.parametrize("screen", list(SCREENS))
def test_snapshot_sizes(snap_compare: Any, screen: str, size: tuple[int, int]) -> None:
    """Each new screen at the smallest usual terminal and at a large one."""
    assert snap_compare(cleanup_app(), terminal_size=size, run_before=SCREENS[screen])


# -- footer hints at 80x24 --------------------------------------------------------------


@pytest.mark.parametrize("screen", ["inventory", "cleanup", "tree"])
@run_async
async def test_help_hint_fits_in_80_columns(screen: str) -> None:
    """The footer's `? Help` hint is on screen (not cut off, not under the palette's)."""
    app = cleanup_app()
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        if screen == "cleanup":
            await open_cleanup(pilot)
        elif screen == "tree":
            await pilot.press("t")
            await pilot.pause()
            assert isinstance(app.screen, TreeScreen)
        keys = footer_keys(app)
        assert "?" in keys, keys
        x, right = keys["?"]
        assert right <= SMALL[0], f"`? Help` is cut off at {x}..{right}: {keys}"
        palette_x, _ = keys["^p"]
        assert right <= palette_x, f"`? Help` is under the palette hint: {keys}"


@run_async
async def test_help_screen_footer_fits_in_80_columns() -> None:
    app = cleanup_app()
    async with app.run_test(size=SMALL) as pilot:
        await _help(pilot)
        keys = footer_keys(app)
        assert "esc" in keys
        assert all(right <= SMALL[0] for _, right in keys.values()), keys


# -- selection ---------------------------------------------------------------------------


@run_async
async def test_space_marks_and_unmarks_the_highlighted_environment() -> None:
    app = cleanup_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert current_env(app) == "api-server"
        assert "marked" not in status_text(app)
        await pilot.press("space")
        assert name_cells(app)["api-server"] == "● api-server"
        assert name_cells(app)["blog-Zx3kQp9e-py3.12"] == "  blog-Zx3kQp9e-py3.12"
        assert status_text(app).endswith("· 1 marked")
        assert current_env(app) == "api-server"  # marking does not move the cursor

        select(app, "ml")
        await pilot.press("space")
        assert status_text(app).endswith("· 2 marked")
        assert table(app).selected == {(EnvKind.VENV, "/home/ada/code/api-server/.venv"),
                                       (EnvKind.CONDA, "/home/ada/miniforge3/envs/ml")}

        select(app, "api-server")
        await pilot.press("space")
        assert name_cells(app)["api-server"] == "  api-server"
        assert status_text(app).endswith("· 1 marked")


@run_async
async def test_a_marks_every_environment_shown_and_again_unmarks_them() -> None:
    app = cleanup_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        assert all(cell.startswith("● ") for cell in name_cells(app).values())
        assert "9 marked" in status_text(app)
        await pilot.press("a")
        assert not any(cell.startswith("● ") for cell in name_cells(app).values())
        assert "marked" not in status_text(app)

        # With a filter, only the environments shown are marked...
        await pilot.press("slash", *"kind:conda", "enter")
        assert env_rows(app) == ["base", "ml"]
        await pilot.press("a")
        assert "2 marked" in status_text(app)
        await pilot.press("escape")
        assert len(env_rows(app)) == 9
        marked = [name for name, cell in name_cells(app).items() if cell.startswith("● ")]
        assert marked == ["base", "ml"]
        # ... and `a` with some of them marked marks the rest.
        select(app, "api-server")
        await pilot.press("space", "a")
        assert "9 marked" in status_text(app)


@run_async
async def test_is_selected_shows_only_the_marked_ones() -> None:
    app = cleanup_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await filter_for(pilot, "is:selected")
        await pilot.press("enter")
        assert env_rows(app) == []
        await pilot.press("escape")
        select(app, "httpie")
        await pilot.press("space")
        select(app, "api-dev")
        await pilot.press("space")
        await filter_for(pilot, "is:selected")
        await pilot.press("enter")
        assert env_rows(app) == ["httpie", "api-dev"]
        assert "2 of 9 environments match" in status_text(app)
        # Unmarking under the filter drops the row at once.
        select(app, "api-dev")
        await pilot.press("space")
        assert env_rows(app) == ["httpie"]


@run_async
async def test_marks_survive_a_rescan() -> None:
    loader = FixtureLoader()
    app = EnvtuiApp(fixture_ctx(), loader=loader)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        select(app, "data-tools")
        await pilot.press("space", "r")
        await settle(pilot)
        assert loader.calls == 2
        assert name_cells(app)["data-tools"] == "● data-tools"
        assert "1 marked" in status_text(app)


# -- sorting ------------------------------------------------------------------------------


SORT_CYCLE = [
    ("name ▲", ["api-server", "blog-Zx3kQp9e-py3.12", "data-tools", "httpie",
                "legacy-scraper"]),
    ("size ▼", ["data-tools", "api-server", "legacy-scraper", "blog-Zx3kQp9e-py3.12",
                "httpie"]),
    ("last used ▲", ["legacy-scraper", "data-tools", "blog-Zx3kQp9e-py3.12", "httpie",
                     "api-server"]),
    ("packages ▼", ["api-server", "httpie", "data-tools", "blog-Zx3kQp9e-py3.12",
                    "legacy-scraper"]),
    ("problems ▼", ["legacy-scraper", "api-server", "blog-Zx3kQp9e-py3.12", "data-tools",
                    "httpie"]),
    ("cleanup ▼", ["legacy-scraper", "api-server", "blog-Zx3kQp9e-py3.12", "data-tools",
                   "httpie"]),
    ("manager ▲", ["httpie", "blog-Zx3kQp9e-py3.12", "api-server", "legacy-scraper",
                   "data-tools"]),
    ("python ▲", ["legacy-scraper", "data-tools", "httpie", "api-server",
                  "blog-Zx3kQp9e-py3.12"]),
    (None, VENVS),
]
"""What each `o` shows: the sorted column's header and the venvs' order."""


@run_async
async def test_o_cycles_the_sort_columns_and_back_to_inventory_order() -> None:
    app = cleanup_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert not any("▲" in h or "▼" in h for h in headers(app))
        assert venv_order(app) == VENVS
        for header, order in [*SORT_CYCLE, SORT_CYCLE[0]]:
            await pilot.press("o")
            sorted_headers = [h for h in headers(app) if "▲" in h or "▼" in h]
            assert sorted_headers == ([header] if header else []), header
            assert venv_order(app) == order, header
            # Headings stay, in kind order; every group is sorted the same way.
            assert [r.key.value for r in table(app).ordered_rows
                    if str(r.key.value).startswith("kind:")] == [
                "kind:venv", "kind:conda", "kind:image", "kind:container"]


@run_async
async def test_capital_o_reverses_the_sort() -> None:
    app = cleanup_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("O")  # nothing sorted: nothing to reverse
        assert table(app).sort_column is None
        assert venv_order(app) == VENVS
        await pilot.press("o", "o")
        assert "size ▼" in headers(app)
        await pilot.press("O")
        assert "size ▲" in headers(app)
        assert venv_order(app) == ["httpie", "blog-Zx3kQp9e-py3.12", "legacy-scraper",
                                   "api-server", "data-tools"]
        conda = [n for n in env_rows(app) if n in ("base", "ml")]
        assert conda == ["base", "ml"]
        await pilot.press("O")
        assert "size ▼" in headers(app)


@run_async
async def test_unknown_values_sort_last_both_ways() -> None:
    inventory = extended_inventory()
    app = cleanup_app(inventory)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("o", "o", "o")  # last used; no image has been run
        images = [n for n in env_rows(app) if n.startswith(("ada/", "0a1b"))]
        assert images == ["0a1b2c3d4e5f", "ada/api-server:latest", "ada/old-api:0.1.0"]
        await pilot.press("O")
        assert [n for n in env_rows(app) if n.startswith(("ada/", "0a1b"))] == images
        assert venv_order(app)[-1] == "legacy-scraper"  # the oldest, last when reversed


@run_async
async def test_sorting_keeps_the_cursor_and_the_marks() -> None:
    app = cleanup_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        select(app, "httpie")
        await pilot.press("space", "o", "o")
        assert current_env(app) == "httpie"
        assert name_cells(app)["httpie"] == "● httpie"
        assert "httpie" in detail_text(app)


def header_offset(t: InventoryTable, column: str) -> tuple[int, int]:
    """Where to click `column`'s header, relative to the table's region."""
    x = t.content_region.x - t.region.x
    y = t.content_region.y - t.region.y
    for key, col in t.columns.items():
        if key.value == column:
            return x + 1, y
        x += col.get_render_width(t)
    raise AssertionError(f"no column {column}")


@run_async
async def test_clicking_a_header_sorts_by_it_and_again_reverses() -> None:
    app = cleanup_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        t = table(app)
        assert await pilot.click(InventoryTable, offset=header_offset(t, "size"))
        await pilot.pause()
        assert (t.sort_column, t.sort_descending) == ("size", True)
        assert "size ▼" in headers(app)
        assert await pilot.click(InventoryTable, offset=header_offset(t, "size"))
        await pilot.pause()
        assert (t.sort_column, t.sort_descending) == ("size", False)
        assert await pilot.click(InventoryTable, offset=header_offset(t, "name"))
        await pilot.pause()
        assert (t.sort_column, t.sort_descending) == ("name", False)
        assert "name ▲" in headers(app)
        assert venv_order(app) == VENVS


@run_async
async def test_palette_sorts() -> None:
    app = cleanup_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        prompts = await run_palette(pilot, "sort: size")
        assert prompts[0] == "sort: size"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, InventoryScreen)
        assert "size ▼" in headers(app)
        assert venv_order(app) == SORT_CYCLE[1][1]
        await run_palette(pilot, "sort: inventory order")
        await pilot.press("enter")
        await pilot.pause()
        assert table(app).sort_column is None
        assert venv_order(app) == VENVS


# -- field filters and the cleanup column ---------------------------------------------------


@pytest.mark.parametrize(("query", "expected"), [
    ("kind:conda", ["base", "ml"]),
    ("kind:c", ["base", "ml", "api-dev"]),  # a prefix: conda and container
    ("manager:uv", ["api-server"]),
    ("problem:broken", ["legacy-scraper"]),
    ("problem:invalid-metadata", ["legacy-scraper"]),
    ("is:stale", ["legacy-scraper"]),
    ("is:broken", ["legacy-scraper"]),
    ("is:duplicate", ["httpie", "httpie-copy"]),
    ("is:dangling", ["0a1b2c3d4e5f"]),
    ("is:unused", ["0a1b2c3d4e5f", "ada/old-api:0.1.0"]),
    ("is:stopped", ["api-dev"]),
    ("kind:venv 3.11", ["data-tools", "httpie", "httpie-copy"]),
    ("is:duplicate virtualenv", ["httpie-copy"]),
    ("kind:image old", ["ada/old-api:0.1.0"]),
    ("IS:STOPPED fastapi", ["api-dev"]),
    ("kind:venv is:stopped", []),
    ("is:nothing", []),
    ("size:big", []),  # not a field: a plain word that matches nothing
])
@run_async
async def test_field_filters(query: str, expected: list[str]) -> None:
    app = cleanup_app(extended_inventory())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await filter_for(pilot, query)
        assert env_rows(app) == expected
        if not expected:
            assert "No environment matches" in detail_text(app)


@run_async
async def test_cleanup_column_and_detail_facts() -> None:
    app = cleanup_app(extended_inventory())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert cleanup_cells(app) == {
            "api-server": "", "blog-Zx3kQp9e-py3.12": "", "data-tools": "",
            "httpie": "dup", "httpie-copy": "dup", "legacy-scraper": "stale,broken",
            "base": "", "ml": "",
            "0a1b2c3d4e5f": "dangling,unused", "ada/api-server:latest": "",
            "ada/old-api:0.1.0": "unused", "api-dev": "stopped",
        }

        select(app, "legacy-scraper")
        await pilot.pause()
        facts = detail_facts(app)
        assert facts["cleanup"] == ("not used for 596 days; base interpreter missing "
                                    "(pyvenv.cfg home /usr/local/opt/python@3.8/bin does not "
                                    "exist)")
        assert "reclaimable" not in facts  # unknown: nothing to say beyond the size

        select(app, "httpie")
        await pilot.pause()
        assert detail_facts(app)["cleanup"].startswith("same packages as ")

        select(app, "data-tools")
        await pilot.pause()
        facts = detail_facts(app)
        assert facts["reclaimable"] == ("100.0 MB (the rest is shared with package caches or "
                                        "other environments)")
        assert "cleanup" not in facts  # not a candidate for anything
        assert "data-tools" in detail_text(app)

        select(app, "api-dev")
        await pilot.pause()
        assert detail_facts(app)["cleanup"] == "exited"


@run_async
async def test_detail_cleanup_fact_writes_home_as_tilde() -> None:
    """Like every path in the pane (and the cleanup screen's "why"), the duplicate's."""
    app = cleanup_app(extended_inventory())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        select(app, "httpie")
        await pilot.pause()
        facts = detail_facts(app)
        assert facts["path"] == "~/.local/share/pipx/venvs/httpie"
        assert facts["cleanup"] == "same packages as ~/.virtualenvs/httpie-copy"


@run_async
async def test_status_counts_what_cleanup_would_remove() -> None:
    """"N to clean up" is the cleanup screen's candidates: httpie, the most recently used
    of two duplicates, is tagged "dup" but kept, so it is not one of them."""
    app = cleanup_app(extended_inventory())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        status = status_text(app)
        screen = await open_cleanup(pilot)
        assert len(screen.candidates) == 5
        assert status.endswith(" · 5 to clean up"), status


@run_async
async def test_palette_filters() -> None:
    app = cleanup_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        prompts = await run_palette(pilot, "filter: is:stale")
        assert prompts[0] == "filter: is:stale"
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.query_one("#filter", Input).value == "is:stale"
        assert env_rows(app) == ["legacy-scraper"]
        assert isinstance(app.focused, InventoryTable)


# -- palette entries -----------------------------------------------------------------------


@run_async
async def test_palette_offers_the_cleanup_commands() -> None:
    app = cleanup_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        expected = {"cleanup:": "cleanup: open", "delete: legacy": "delete: legacy-scraper",
                    "filter: is:": "filter: is:stale", "sort:": "sort: size",
                    "container:": "container: start api-dev", "help:": "help: keys",
                    "delete: marked": "delete: marked", "select:": "select: all shown"}
        for typed, prompt in expected.items():
            prompts = await run_palette(pilot, typed)
            assert prompt in prompts, (typed, prompts)
            await pilot.press("escape")
            await pilot.pause()
        # A running container is offered a stop instead.
        assert isinstance(app.screen, InventoryScreen)


@run_async
async def test_palette_offers_stop_for_a_running_container() -> None:
    base = fixture_inventory()
    running = tuple(
        replace(e, details={**e.details, "state": "running"}) if e.name == "api-dev" else e
        for e in base.environments)
    app = cleanup_app(Inventory(running, base.problems))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        prompts = await run_palette(pilot, "container:")
        assert "container: stop api-dev" in prompts
        assert "container: start api-dev" not in prompts


@run_async
async def test_palette_opens_cleanup_delete_and_help() -> None:
    app = cleanup_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await run_palette(pilot, "cleanup: open")
        await pilot.press("enter")
        screen = cleanup_screen(app)
        await until(pilot, lambda: screen.rows is not None, "the summary")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, InventoryScreen)

        await run_palette(pilot, "delete: legacy-scraper")
        await pilot.press("enter")
        removal = await planned(pilot)
        assert [e.name for e in removal.targets] == ["legacy-scraper"]
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, InventoryScreen)

        await run_palette(pilot, "help: keys")
        await pilot.press("enter")
        await pilot.pause()
        help_screen(app)


# -- the help screen ------------------------------------------------------------------------


def _help_whats(screen: HelpScreen, section: str) -> dict[str, tuple[str, str]]:
    """(keys, more) of each action listed under `section`, by description."""
    return {what: (keys, more) for where, keys, what, more in screen.rows if where == section}


@run_async
async def test_help_lists_every_key_of_the_inventory() -> None:
    app = cleanup_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        inventory = app.screen
        assert isinstance(inventory, InventoryScreen)
        active = {b.binding.action: b for b in inventory.active_bindings.values()
                  if b.node is inventory}
        await pilot.press("question_mark")
        await pilot.pause()
        shown = _help_whats(help_screen(app), "this screen")
        offered = 0
        for binding in InventoryScreen.BINDINGS:
            assert not isinstance(binding, tuple)
            if not binding.description:
                continue
            if binding.action not in active:
                # Left out only when it does not apply here (no filter to clear, the
                # highlighted row is no image or container).
                assert inventory.check_action(binding.action, ()) is False, binding.action
                assert binding.description not in shown
                continue
            offered += 1
            assert binding.description in shown, binding.description
            keys, more = shown[binding.description]
            display = binding.key_display or app.get_key_display(
                Binding(binding.key.split(",")[0], binding.action))
            assert display in keys.split(", "), (display, keys)
            assert more == binding.tooltip
        assert offered >= 15
        assert shown["Delete"][0] == "x"  # x and delete share one display
        assert ("?", "Help") in {(keys, what) for _, keys, what, _ in help_screen(app).rows}
        in_table = _help_whats(help_screen(app), "in the table")
        assert "Cursor down" in in_table

        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is inventory


@run_async
async def test_help_follows_what_the_highlighted_row_offers() -> None:
    app = cleanup_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        select(app, "ada/api-server:latest")
        await pilot.press("question_mark")
        assert "Save" in _help_whats(help_screen(app), "this screen")
        assert "Start/stop" not in _help_whats(help_screen(app), "this screen")
        await pilot.press("escape")
        select(app, "api-dev")
        await pilot.press("question_mark")
        assert "Start/stop" in _help_whats(help_screen(app), "this screen")
        await pilot.press("escape")
        await filter_for(pilot, "ml")
        await pilot.press("enter")
        await pilot.press("question_mark")
        assert "Clear filter" in _help_whats(help_screen(app), "this screen")


@run_async
async def test_help_closes_with_escape_question_mark_and_q() -> None:
    app = cleanup_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for key in ("escape", "question_mark", "q"):
            await pilot.press("question_mark")
            await pilot.pause()
            help_screen(app)
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, InventoryScreen), key
        assert app.is_running  # q closed the help, it did not quit


@run_async
async def test_help_on_the_tree_screen() -> None:
    app = cleanup_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await pilot.pause()
        tree = app.screen
        assert isinstance(tree, TreeScreen)
        expected = {b.binding.description for b in tree.active_bindings.values()
                    if b.node is tree and b.binding.description and not b.binding.system}
        await pilot.press("question_mark")
        await pilot.pause()
        screen = help_screen(app)
        assert str(screen.query_one("#help-title", Static).render()).startswith("Keys: ")
        shown = _help_whats(screen, "this screen")
        assert expected <= set(shown)
        assert {"Find", "Reverse", "Back", "Fix"} <= set(shown)
        assert "Tree" not in shown  # the inventory's keys are not the tree's
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is tree


@run_async
async def test_help_on_the_cleanup_screen() -> None:
    app = cleanup_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        cleanup = await open_cleanup(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        shown = _help_whats(help_screen(app), "this screen")
        assert {"Select", "Select all", "Delete", "Back"} <= set(shown)
        assert "Prune dangling" not in shown  # no image candidates in the fixture
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is cleanup


# -- the cleanup screen ---------------------------------------------------------------------


@run_async
async def test_cleanup_summary_after_counting() -> None:
    app = cleanup_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_cleanup(pilot)
        assert screen.rows is not None
        rows = {r.label: r for r in screen.rows}
        assert list(rows) == ["venvs", "conda envs", "docker images", "docker containers",
                              "total"]
        assert (rows["venvs"].total, rows["venvs"].active) == (5, 4)
        assert (rows["conda envs"].total, rows["conda envs"].active) == (2, 2)
        # No engine: the inventory's own Docker sizes.
        assert rows["docker images"].size_bytes == 182_403_072
        assert rows["docker containers"].reclaimable_bytes == 5_242_880
        assert rows["total"].total == 9 and rows["total"].active == 7
        usage = screen.query_one("#usage-table", DataTable)
        lines = table_lines(usage)
        assert [line[0] for line in lines] == list(rows)
        assert lines[-1][3] == "187.6 MB"
        status = " ".join(str(screen.query_one("#usage-status").render()).split())
        assert status.startswith("5.2 MB reclaimable by removing the candidates below")
        assert not screen.query_one("#usage-progress").display


@run_async
async def test_cleanup_candidates_with_reasons() -> None:
    app = cleanup_app(extended_inventory())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_cleanup(pilot)
        heading = str(screen.query_one("#candidates-heading", Static).render())
        assert heading.startswith("Cleanup candidates (5): stale for 90+ days")
        lines = table_lines(screen.query_one("#candidates", DataTable))
        assert [(line[1], line[2], line[5]) for line in lines] == [
            ("legacy-scraper", "venv", "not used for 596 days; base interpreter missing "
             "(pyvenv.cfg home /usr/local/opt/python@3.8/bin does not exist)"),
            ("httpie-copy", "venv",
             "same packages as ~/.local/share/pipx/venvs/httpie"),
            ("ada/old-api:0.1.0", "image", "used by no container"),
            ("0a1b2c3d4e5f", "image", "dangling (no tag); used by no container"),
            ("api-dev", "container", "exited"),
        ]
        # httpie, the most recently used of the two copies, is kept; base envs never show.
        assert "httpie" not in [line[1] for line in lines]


@run_async
async def test_cleanup_marks_and_removes_the_marked_ones() -> None:
    app = cleanup_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_cleanup(pilot)
        candidates = screen.query_one("#candidates", DataTable)
        assert [line[0] for line in table_lines(candidates)] == [" ", " "]
        await pilot.press("space")
        assert [line[0] for line in table_lines(candidates)] == ["●", " "]
        await pilot.press("a")  # some marked: all
        assert [line[0] for line in table_lines(candidates)] == ["●", "●"]
        await pilot.press("a")  # all marked: none
        assert screen.marked == set()
        await pilot.press("down", "space")
        assert [line[0] for line in table_lines(candidates)] == [" ", "●"]

        await pilot.press("x")
        removal = await planned(pilot)
        assert [e.name for e in removal.targets] == ["api-dev"]
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen

        await pilot.press("space", "x")  # nothing marked: the highlighted one
        removal = await planned(pilot)
        assert [e.name for e in removal.targets] == ["api-dev"]
        await pilot.press("escape")
        await pilot.pause()

        await pilot.press("a", "x")
        removal = await planned(pilot)
        assert [e.name for e in removal.targets] == ["legacy-scraper", "api-dev"]
        await pilot.press("escape", "escape")
        await pilot.pause()
        assert isinstance(app.screen, InventoryScreen)


@run_async
async def test_prune_only_with_image_candidates() -> None:
    app = cleanup_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_cleanup(pilot)
        assert "P" not in footer_keys(app)
        await pilot.press("P")
        await pilot.pause()
        assert app.screen is screen


@run_async
async def test_prune_removes_the_dangling_images_only() -> None:
    app = cleanup_app(extended_inventory())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_cleanup(pilot)
        assert "P" in footer_keys(app)
        await pilot.press("P")
        removal = await planned(pilot)
        assert [e.name for e in removal.targets] == ["0a1b2c3d4e5f"]
        assert removal.plan is not None and not removal.plan.removals
        (ref, why), = removal.plan.refused
        assert ref == "image:0a1b2c3d4e5f"
        assert why.startswith(f"Docker engine at {NO_ENGINE} (DOCKER_HOST): no socket there")


@run_async
async def test_prune_without_dangling_images_says_so() -> None:
    """An unused (tagged) image makes P available, but there is nothing dangling."""
    inventory = extended_inventory()
    without = tuple(e for e in inventory.environments if e.name != "0a1b2c3d4e5f")
    app = cleanup_app(Inventory(without, inventory.problems))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_cleanup(pilot)
        await pilot.press("P")
        await pilot.pause()
        assert app.screen is screen
        assert [n.message for n in app._notifications] == ["No dangling images."]


@run_async
async def test_cleanup_escape_goes_back_while_counting_too() -> None:
    app = cleanup_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("c", "escape")
        await pilot.pause()
        assert isinstance(app.screen, InventoryScreen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, InventoryScreen)


# -- removal ---------------------------------------------------------------------------------


@run_async
async def test_removal_of_the_fixture_is_refused() -> None:
    app = cleanup_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        select(app, "legacy-scraper")
        await pilot.press("x")
        screen = await planned(pilot)
        assert screen.plan is not None and not screen.plan.removals
        lines = table_lines(screen.query_one(DataTable))
        assert lines == [["✗", "~/projects/legacy-scraper/venv", "", "refused"]]
        notes = str(screen.query_one("#remove-notes", Static).render())
        assert notes.strip() == ("✗ ~/projects/legacy-scraper/venv: ~/projects/legacy-scraper/"
                                 "venv: No such file or directory")
        assert remove_status(app).startswith("Nothing can be removed.")
        await pilot.press("enter")  # nothing to ask about
        await pilot.pause()
        assert app.screen is screen
        assert "F" not in footer_keys(app)  # forcing is for Docker refusals
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, InventoryScreen)


@run_async
async def test_refused_is_visible_next_to_a_long_reason() -> None:
    """"refused" (the last column) stays in view when a reason is long (the engine's)."""
    app = cleanup_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        select(app, "api-dev")
        await pilot.press("x")
        screen = await planned(pilot)
        t = screen.query_one(DataTable)
        assert table_lines(t)[0][3] == "refused"
        widths = [column.get_render_width(t) for column in t.ordered_columns]
        start = sum(widths[:3])  # where "refused" is drawn
        visible = t.scrollable_content_region.width
        assert start + len("refused") <= visible, (
            f"'refused' is drawn at {start}, beyond the {visible} visible cells")


@run_async
async def test_x_removes_the_marked_ones_or_else_the_highlighted_one() -> None:
    app = cleanup_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("x")
        assert [e.name for e in (await planned(pilot)).targets] == ["api-server"]
        await pilot.press("escape")
        for name in ("api-dev", "httpie"):
            select(app, name)
            await pilot.press("space")
        await pilot.press("delete")  # the other key of Delete
        assert [e.name for e in (await planned(pilot)).targets] == ["httpie", "api-dev"]
        await pilot.press("escape")
        await pilot.pause()
        assert "2 marked" in status_text(app)  # nothing went: the marks stay


def venv_app(home: Path, environ: dict[str, str] | None = None) -> EnvtuiApp:
    """The app scanning `home` for venvs for real, so a rescan sees what was removed."""
    ctx = ScanContext(home=home, environ=environ or {}, kinds=frozenset({EnvKind.VENV}))
    return EnvtuiApp(ctx)


@run_async
async def test_removal_asks_defaults_to_no_then_removes_and_rescans(home: Path) -> None:
    gone = make_venv(home / "proj" / ".venv")
    kept = make_venv(home / "keep" / ".venv")
    app = venv_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert env_rows(app) == ["keep", "proj"]
        select(app, "proj")
        await pilot.press("space", "x")
        screen = await planned(pilot)
        assert screen.plan is not None and not screen.plan.refused
        (removal,) = screen.plan.removals
        assert removal.target == os.path.realpath(gone)
        assert removal.marker == "pyvenv.cfg"
        lines = table_lines(screen.query_one(DataTable))
        assert lines[0][:2] == ["✓", "~/proj/.venv"] and lines[0][3] == "pyvenv.cfg"
        assert remove_status(app).startswith("Enter asks, then removes 1")

        await pilot.press("enter")
        await pilot.pause()
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        assert "This cannot be undone." in confirm.question
        assert "~/proj/.venv" in confirm.detail
        assert isinstance(app.focused, Button) and app.focused.id == "confirm-no"
        await pilot.press("enter")  # Enter on the default: No
        await pilot.pause()
        assert app.screen is screen
        assert screen.outcome is None
        assert gone.is_dir()

        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await until(pilot, lambda: screen.outcome is not None, "the removal")
        await pilot.pause()
        assert screen.outcome is not None
        assert screen.outcome.removed == [str(gone)]
        assert not screen.outcome.failed
        assert not gone.exists()
        assert kept.is_dir()
        assert sorted(p.name for p in gone.parent.iterdir()) == []  # no hidden leftover
        assert remove_status(app).startswith("Removed 1")
        await pilot.press("enter")  # done: nothing more to ask
        await pilot.pause()
        assert app.screen is screen

        await pilot.press("escape")  # back, and the inventory rescans
        await pilot.pause()
        assert isinstance(app.screen, InventoryScreen)
        await settle(pilot)
        assert env_rows(app) == ["keep"]
        assert "marked" not in status_text(app)


@run_async
async def test_confirm_no_and_escape_keep_the_environment(home: Path) -> None:
    venv = make_venv(home / "proj" / ".venv")
    app = venv_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("x")
        screen = await planned(pilot)
        for answer in ("n", "escape"):
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press(answer)
            await pilot.pause()
            assert top(app) is screen, answer
        assert screen.outcome is None
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, InventoryScreen)
        assert venv.is_dir()
        assert env_rows(app) == ["proj"]


@run_async
async def test_the_active_environment_is_refused(home: Path) -> None:
    venv = make_venv(home / "proj" / ".venv")
    app = venv_app(home, {"VIRTUAL_ENV": str(venv)})
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        select(app, "proj")
        await pilot.press("x")
        screen = await planned(pilot)
        assert screen.plan is not None and not screen.plan.removals
        (ref, why), = screen.plan.refused
        assert ref == str(venv)
        assert "is the active environment ($VIRTUAL_ENV=" in why
        lines = table_lines(screen.query_one(DataTable))
        assert lines == [["✗", "~/proj/.venv", "", "refused"]]
        notes = str(screen.query_one("#remove-notes", Static).render())
        assert notes.strip() == ("✗ ~/proj/.venv: ~/proj/.venv is the active environment "
                                 "($VIRTUAL_ENV=~/proj/.venv); deactivate it first")
        assert remove_status(app).startswith("Nothing can be removed.")
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen  # no question for nothing
        assert venv.is_dir()


def send_key(app: EnvtuiApp, key: str) -> None:
    """Send `key` as Pilot does, without waiting for the app to go idle."""
    assert app._driver is not None
    event = events.Key(key, key if len(key) == 1 else None)
    event.set_sender(app)
    app._driver.send_message(event)


@run_async
async def test_ctrl_c_stops_before_the_next_removal(home: Path) -> None:
    """The first target is large, so Ctrl-C lands while it is being removed; whatever the
    timing, the second one is never started."""
    first = make_venv(home / "abig" / ".venv")
    second = make_venv(home / "zsmall" / ".venv")
    ctx = ScanContext(home=home, environ={}, kinds=frozenset({EnvKind.VENV}))
    envs = []
    for venv in (first, second):
        env = inspect_path(ctx, venv, use_cache=False)
        assert env is not None
        envs.append(env)
    bulk = first / "lib" / "bulk"
    for i in range(100):
        d = bulk / f"d{i}"
        d.mkdir(parents=True)
        for j in range(100):
            (d / f"f{j}").write_bytes(b"x")
    app = EnvtuiApp(ctx, loader=FixtureLoader(inventory=Inventory(tuple(envs))))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a", "x")
        screen = await planned(pilot)
        assert screen.plan is not None and len(screen.plan.removals) == 2
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        # Pilot's press waits for the app to go idle, which is after the removal; these
        # keys go in without waiting.
        send_key(app, "y")
        await until(pilot, lambda: screen._removing, "the removal to start")
        send_key(app, "escape")  # not while removing
        send_key(app, "ctrl+c")
        await until(pilot, screen._cancel.is_set, "the cancel")
        assert top(app) is screen
        if screen.outcome is None:  # still removing the first one
            assert remove_status(app).startswith("Cancelling…")
        await until(pilot, lambda: screen.outcome is not None, "the removal to stop")
        await pilot.pause()
        outcome = screen.outcome
        assert outcome is not None
        assert str(second) not in outcome.removed
        assert (str(second), "cancelled before it was started") in outcome.failed
        assert second.is_dir()
        assert set(outcome.removed) <= {str(first)}
        assert first.exists() != (outcome.removed == [str(first)])
        assert "Not removed: " in remove_status(app)
        assert [n.message for n in app._notifications] == [
            "Removing; Ctrl-C stops before the next one."]
