"""The fix screen on a real conflicted venv: plans, confirm, apply, undo, cancel, snapshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import OptionList, Static

from envtui.inspectors.base import ScanContext
from envtui.inspectors.discovery import inspect_path
from envtui.model import EnvKind, Inventory
from envtui.resolver.actions import Action, ActionKind
from envtui.resolver.sources import IndexOptions
from envtui.resolver.transaction import pending
from envtui.tui.app import EnvtuiApp
from envtui.tui.screens.fix import FixScreen
from envtui.tui.widgets.confirm import ConfirmScreen
from tests.envfactory import make_venv, uv_install
from tests.envstate import Hang, interrupt_apply, manifest
from tests.test_fix_cli import build_fix_wheels, installers_agree
from tests.test_tui_tree import run_command
from tests.tui_helpers import FixtureLoader, run_async, settle, until


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_fix_wheels(tmp_path_factory.mktemp("tui-fix-wheels"))


@pytest.fixture
def conflicted(home: Path, wheels: Path) -> Path:
    venv = make_venv(home / "proj" / ".venv", "uv")
    uv_install(venv, wheels, "oldlib==1.0", "numpy==1.26.4")
    uv_install(venv, wheels, "--no-deps", "newlib==2.0")
    return venv


def app_for(home: Path, venv: Path, options: IndexOptions) -> EnvtuiApp:
    ctx = ScanContext(home=home, environ={}, kinds=frozenset({EnvKind.VENV}))
    env = inspect_path(ctx, venv, use_cache=False)
    assert env is not None
    return EnvtuiApp(ctx, loader=FixtureLoader(inventory=Inventory((env,))),
                     index_options=options)


def local(wheels: Path) -> IndexOptions:
    return IndexOptions(index_url=None, find_links=(str(wheels),), offline=True)


def fix_screen(app: EnvtuiApp) -> FixScreen:
    screen = app.screen
    assert isinstance(screen, FixScreen)
    return screen


def plan_texts(app: EnvtuiApp) -> list[str]:
    plans = app.screen.query_one("#fix-plans", OptionList)
    return [str(plans.get_option_at_index(i).prompt) for i in range(plans.option_count)]


async def open_fix(pilot: Pilot[Any]) -> FixScreen:
    await settle(pilot)
    await pilot.press("f")
    screen = fix_screen(pilot.app)  # type: ignore[arg-type]
    await until(pilot, lambda: screen.busy is None and screen.proposal is not None,
                "the plans")
    await pilot.pause()
    return screen


@run_async
async def test_plans_apply_and_undo(home: Path, wheels: Path, conflicted: Path) -> None:
    before = manifest(conflicted)
    app = app_for(home, conflicted, local(wheels))
    async with app.run_test(size=(110, 32)) as pilot:
        screen = await open_fix(pilot)
        texts = plan_texts(app)
        assert texts[0].startswith("1. upgrade numpy 1.26.4 -> 2.1.0, upgrade oldlib 1.0 -> 1.3")
        assert any("remove newlib 2.0" in t for t in texts)
        problems = str(screen.query_one("#fix-problems", Static).render())
        assert "newlib 2.0 requires numpy>=2, but numpy 1.26.4 is installed" in problems

        await pilot.press("enter")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("enter")  # No is the default
        assert app.screen is screen and manifest(conflicted) == before

        await pilot.press("enter", "y")
        await until(pilot, lambda: screen.busy is None and screen.proposal is not None
                    and not screen.proposal.problems, "the fix to be applied")
        installers_agree(conflicted)
        assert "Nothing to fix" in str(screen.query_one("#fix-text", Static).render())

        await pilot.press("u", "y")
        await until(pilot, lambda: screen.busy is None and screen.proposal is not None
                    and bool(screen.proposal.problems), "the undo")
        assert manifest(conflicted) == before
        await pilot.press("escape")
        assert not isinstance(app.screen, FixScreen)


@run_async
async def test_ctrl_c_cancels_the_apply_and_restores(home: Path, wheels: Path,
                                                     conflicted: Path, hang: Hang) -> None:
    before = manifest(conflicted)
    app = app_for(home, conflicted, local(wheels))
    async with app.run_test(size=(110, 32)) as pilot:
        screen = await open_fix(pilot)
        screen.options = hang.options()  # the installer now waits on a server that never answers
        await pilot.press("enter", "y")
        await until(pilot, hang.asked.is_set, "the installer to be mid-way")
        await pilot.press("ctrl+c")
        await until(pilot, lambda: screen.busy is None, "the cancel")
        status = str(screen.query_one("#fix-text", Static).render())
        assert "cancelled, environment restored" in status
        assert manifest(conflicted) == before


@run_async
async def test_impossible_conflict_is_explained(home: Path, wheels: Path) -> None:
    venv = make_venv(home / "stuck" / ".venv", "uv")
    uv_install(venv, wheels, "stuck-a", "core==1.0")
    uv_install(venv, wheels, "--no-deps", "stuck-b", "umbrella")
    app = app_for(home, venv, local(wheels))
    async with app.run_test(size=(110, 32)) as pilot:
        screen = await open_fix(pilot)
        assert screen.proposal is not None and screen.proposal.plans == []
        text = str(screen.query_one("#fix-explanation", Static).render())
        assert text.startswith("No fix: ")
        assert "no version of stuck-b in the sources accepts core<2" in text
        assert "No plan fixes this environment" in str(
            screen.query_one("#fix-text", Static).render())
        await pilot.press("enter")
        assert app.screen is screen  # nothing to apply


def test_fix_screen_snapshot(snap_compare: Any, home: Path, wheels: Path,
                             conflicted: Path) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await open_fix(pilot)

    assert snap_compare(app_for(home, conflicted, local(wheels)), terminal_size=(110, 30),
                        run_before=run_before)


def test_confirm_snapshot(snap_compare: Any, home: Path, wheels: Path,
                          conflicted: Path) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await open_fix(pilot)
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(app_for(home, conflicted, local(wheels)), terminal_size=(110, 30),
                        run_before=run_before)



# The removal runs first, so the environment really is half-changed when the install hangs.
HALF_DONE = [Action("newlib", "2.0", None, ActionKind.REMOVE),
             Action("numpy", "1.26.4", "2.1.0", ActionKind.UPGRADE)]


@pytest.mark.parametrize("choice", ["u", "d"])
@run_async
async def test_interrupted_fix_offers_restore_or_discard(home: Path, wheels: Path,
                                                         conflicted: Path, hang: Hang,
                                                         choice: str) -> None:
    before = manifest(conflicted)
    interrupt_apply(conflicted, hang, HALF_DONE)
    half_done = manifest(conflicted)
    assert half_done != before
    app = app_for(home, conflicted, local(wheels))
    async with app.run_test(size=(110, 32)) as pilot:
        await settle(pilot)
        await pilot.press("f")
        screen = fix_screen(app)
        explanation = screen.query_one("#fix-explanation", Static)
        await until(pilot, lambda: explanation.display, "the interrupted fix")
        text = str(explanation.render())
        assert text.startswith("An envtui fix was interrupted")
        assert "remove newlib 2.0; upgrade numpy 1.26.4 -> 2.1.0" in text
        await pilot.press("enter")  # nothing to apply until it is settled
        assert app.screen is screen
        await pilot.press(choice, "y")
        await until(pilot, lambda: screen.busy is None and screen.proposal is not None,
                    "the plans after settling the interrupted fix")
        assert pending(conflicted) is None
        if choice == "u":
            assert manifest(conflicted) == before
        else:
            assert manifest(conflicted) == half_done


@run_async
async def test_palette_opens_the_fix_screen_and_recomputes(home: Path, wheels: Path,
                                                           conflicted: Path) -> None:
    app = app_for(home, conflicted, local(wheels))
    async with app.run_test(size=(110, 32)) as pilot:
        await settle(pilot)
        await run_command(pilot, "fix: proj")
        screen = fix_screen(app)
        await until(pilot, lambda: screen.proposal is not None, "the plans")
        first = screen.proposal
        await run_command(pilot, "fix: recompute")
        await until(pilot, lambda: screen.proposal is not None and screen.proposal is not first,
                    "new plans")
        assert plan_texts(app)[0].startswith("1. upgrade numpy")
