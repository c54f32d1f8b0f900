"""The dependency tree screen and the machine-wide problems view: snapshots and Pilot tests.

Everything starts from the committed fixture inventory (tests/fixtures/inventory.json),
whose api-server venv has a version conflict (api-server requires pydantic<2, pydantic
2.9.2 is installed) and a missing dependency (uvicorn[standard] wants httptools), and whose
ml conda env has two missing ones. Tests wait on conditions, never on time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.style import Style
from textual.binding import Binding
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Input, Label, OptionList, ProgressBar, Static

from envtui.inspectors.base import ScanContext
from envtui.model import Environment, EnvKind, Inventory, Package, Problem
from envtui.resolver import checks, graph
from envtui.resolver.checks import check_environment
from envtui.tui.app import EnvtuiApp
from envtui.tui.deptree import MAX_DEPTH, DependencyView, TreeEntry, search_key
from envtui.tui.screens.inventory import InventoryScreen
from envtui.tui.screens.problems import ProblemsScreen
from envtui.tui.screens.tree import REQUIREMENTS_MODE, REVERSE_MODE, TreeScreen
from envtui.tui.widgets.dependency_tree import DependencyTree
from envtui.tui.widgets.inventory_table import InventoryTable
from envtui.tui.widgets.problem_list import ProblemList
from envtui.tui.widgets.theme import component_text_style
from tests.envfactory import make_venv, uv_install
from tests.tui_helpers import (
    SIZE,
    FixtureLoader,
    fixture_inventory,
    make_app,
    run_async,
    settle,
    tree_lines,
    until,
)
from tests.wheels import build_wheel

ROOT = Path(__file__).resolve().parent.parent

API_SERVER_PROBLEMS = [
    "api-server 0.3.0 requires pydantic<2, but pydantic 2.9.2 is installed",
    'uvicorn 0.32.0 requires httptools>=0.5.0; extra == "standard", which is not installed',
]


# -- helpers -------------------------------------------------------------------------------


def tree_of(app: EnvtuiApp) -> DependencyTree:
    return app.screen.query_one(DependencyTree)


def lines(app: EnvtuiApp) -> list[str]:
    """Every line of the tree as shown: two spaces of indent per level, then the label."""
    return tree_lines(tree_of(app))


def cursor_label(app: EnvtuiApp) -> str:
    entry = tree_of(app).current_entry
    assert entry is not None
    return entry.label


def children_of_cursor(app: EnvtuiApp) -> list[str]:
    node = tree_of(app).cursor_node
    assert node is not None
    return [child.data.label for child in node.children if child.data is not None]


def heading(app: EnvtuiApp) -> str:
    return str(app.screen.query_one("#tree-heading", Static).render())


def problem_prompts(app: EnvtuiApp, selector: str) -> list[str]:
    options = app.screen.query_one(selector, OptionList)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


def check_status(app: EnvtuiApp) -> str:
    return str(app.screen.query_one("#check-text", Static).render())


def focused(app: EnvtuiApp) -> Widget | None:
    """The focused widget (a call, so type checkers do not narrow it between asserts)."""
    return app.focused


def tree_ready(app: EnvtuiApp) -> bool:
    return isinstance(app.screen, TreeScreen) and app.screen.ready


async def open_tree(pilot: Pilot[Any], name: str | None = None, key: str = "t") -> None:
    """From the inventory, open the tree of environment `name` (the highlighted one when
    None) with `key`, and wait for its graph."""
    app = pilot.app
    assert isinstance(app, EnvtuiApp)
    screen = app.screen
    assert isinstance(screen, InventoryScreen)
    if name is not None:
        screen.show_environment(next(e for e in screen.environments if e.name == name))
    await pilot.press(key)
    await until(pilot, lambda: tree_ready(app), "the dependency graph")
    await settle_tree(pilot)


async def settle_tree(pilot: Pilot[Any]) -> None:
    """No cursor blink in the find field, workers done, messages handled."""
    await pilot.pause()
    pilot.app.screen.query_one("#find", Input).cursor_blink = False
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def find(pilot: Pilot[Any], typed: str) -> None:
    await pilot.press("slash", *typed)
    await pilot.pause()


def problems_finished(app: EnvtuiApp) -> bool:
    return isinstance(app.screen, ProblemsScreen) and app.screen.finished


async def open_problems(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, EnvtuiApp)
    await pilot.press("p")
    await until(pilot, lambda: problems_finished(app), "every environment checked")
    await pilot.pause()


def pkg(name: str, *requires: str, version: str = "1.0") -> Package:
    return Package(name, version, installer="pip", requires=requires)


def venv(name: str, *packages: Package) -> Environment:
    return Environment(kind=EnvKind.VENV, name=name, manager="venv", python="3.12.7",
                       path=f"/home/ada/{name}/.venv", packages=packages)


def app_with(*envs: Environment) -> EnvtuiApp:
    return make_app(FixtureLoader(inventory=Inventory(envs)))


CYCLIC = venv(
    "cyclic",
    pkg("a", "b>=1"),
    pkg("b", "a"),
    pkg("c", "a"),
    pkg("d", "e"),
    pkg("e", "d"),
)
"""c -> a -> b -> a (a cycle below a root) and d <-> e (a cycle nothing else requires)."""


def huge_environment(size: int = 3000) -> Environment:
    """`top` requires every p#### (fan-out); each p#### requires the next (a chain)."""
    names = [f"p{i:04d}" for i in range(size)]
    packages = [pkg("top", *(f"{n}>=1" for n in names))]
    packages += [pkg(n, *names[i + 1 : i + 2]) for i, n in enumerate(names)]
    return venv("huge", *packages)


@pytest.fixture
def gated_graph(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """build_graph waits for the returned event to be set (so the screen can be tested while
    the graph is being read)."""
    gate = threading.Event()
    real = graph.build_graph

    def slow(env: Environment) -> graph.DependencyGraph:
        gate.wait(30)
        return real(env)

    monkeypatch.setattr(graph, "build_graph", slow)
    yield gate
    gate.set()


# -- snapshots -----------------------------------------------------------------------------


def test_snapshot_tree_conflict(snap_compare: Any) -> None:
    """api-server's requirements: the pydantic conflict in red with the requirement that
    fails, httptools not installed, the environment's problems below (the cursor back on
    the top line, so that the red lines show as they do off the cursor)."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await open_tree(pilot, key="enter")
        await pilot.press("enter", "down", "down", "down", "enter", "home")
        await settle_tree(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_snapshot_tree_reverse(snap_compare: Any) -> None:
    """api-server in reverse, found by name: what requires pydantic, the conflicting
    requirement marked."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await open_tree(pilot, key="enter")
        await pilot.press("R")
        await find(pilot, "pydantic")
        await pilot.press("enter", "enter")
        await settle_tree(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_snapshot_problems(snap_compare: Any) -> None:
    """Every problem of every environment, grouped by environment."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await open_problems(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


# -- the tree ------------------------------------------------------------------------------


@run_async
async def test_enter_opens_the_tree_and_expands_nodes() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_tree(pilot, key="enter")
        screen = app.screen
        assert isinstance(screen, TreeScreen)
        assert screen.env.name == "api-server"
        assert focused(app) is tree_of(app)
        assert lines(app) == ["api-server 0.3.0"]
        assert REQUIREMENTS_MODE in heading(app)
        assert "api-server  venv · uv · Python 3.12.7 · 12 packages" in heading(app)

        await pilot.press("enter")
        assert lines(app) == [
            "api-server 0.3.0",
            "  fastapi 0.115.4  required: >=0.110",
            "  pydantic 2.9.2  ✗ api-server requires pydantic<2",
            "  uvicorn 0.32.0  required: >=0.30",
        ]
        await pilot.press("down", "space")
        assert lines(app)[2:4] == [
            "    pydantic 2.9.2  required: >=1.7.4",
            "    starlette 0.41.2  required: <0.42.0,>=0.40.0",
        ]
        await pilot.press("space")  # collapse again
        assert len(lines(app)) == 4
        await pilot.press("up", "enter")
        assert lines(app) == ["api-server 0.3.0"]


@run_async
async def test_t_opens_the_highlighted_environment_only() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, InventoryScreen)
        assert screen.check_action("open_tree", ()) is True
        table = app.screen.query_one(InventoryTable)
        table.select_key("kind:conda")  # a heading: no environment to show
        await pilot.pause()
        assert screen.check_action("open_tree", ()) is None  # shown dimmed
        await pilot.press("t", "enter")
        await pilot.pause()
        assert app.screen is screen

        await open_tree(pilot, "data-tools")
        assert lines(app) == ["pandas 2.2.3", "pip 24.2", "setuptools 75.1.0"]


@run_async
async def test_missing_dependency_is_marked_not_installed() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_tree(pilot)
        await pilot.press("enter", "down", "down", "down", "enter")
        assert cursor_label(app) == "uvicorn 0.32.0  required: >=0.30"
        # typing-extensions only for python_version < "3.11": not an edge on 3.12.
        assert children_of_cursor(app) == [
            "click 8.1.7  required: >=7.0",
            "h11 0.14.0  required: >=0.8",
            "httptools  ✗ not installed: uvicorn requires httptools>=0.5.0",
        ]
        node = tree_of(app).cursor_node
        assert node is not None
        httptools = node.children[-1]
        assert httptools.data is not None and httptools.data.missing
        assert not httptools.allow_expand


@run_async
async def test_conflict_is_drawn_in_the_error_colour() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_tree(pilot)
        await pilot.press("enter")
        tree = tree_of(app)
        root = tree.root.children[0]
        fastapi, pydantic, _ = root.children
        assert pydantic.data is not None and pydantic.data.conflict
        assert pydantic.data.label == "pydantic 2.9.2  ✗ api-server requires pydantic<2"
        error = component_text_style(tree, "dependency-tree--problem").color
        muted = component_text_style(tree, "dependency-tree--muted").color

        def colours(node: Any) -> set[Any]:
            text = tree.render_label(node, Style(), Style())
            found = {span.style.color for span in text.spans if isinstance(span.style, Style)}
            return found - {None}

        assert colours(pydantic) == {error}
        assert error not in colours(fastapi)
        assert muted in colours(fastapi)

        app.theme = "textual-light"  # labels take their colours from the theme when drawn
        await pilot.pause()
        light = component_text_style(tree, "dependency-tree--problem").color
        assert light != error
        assert colours(pydantic) == {light}


@run_async
async def test_reverse_mode_shows_dependents() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_tree(pilot)
        await pilot.press("R")
        assert REVERSE_MODE in heading(app)
        # Top level: what requires nothing installed; the cursor stays on api-server.
        assert cursor_label(app) == "api-server 0.3.0  requires uvicorn[standard]>=0.30"
        await pilot.press("home")
        assert [line for line in lines(app) if not line.startswith(" ")] == [
            "click 8.1.7", "h11 0.14.0", "idna 3.10", "sniffio 1.3.1", "typing_extensions 4.12.2",
        ]
        await find(pilot, "pydantic")
        await pilot.press("enter", "enter")
        assert cursor_label(app) == "pydantic 2.9.2  requires typing-extensions>=4.6.1"
        assert children_of_cursor(app) == [
            "api-server 0.3.0  ✗ requires pydantic<2",
            "fastapi 0.115.4  requires pydantic>=1.7.4",
        ]
        await pilot.press("R")  # back to requirements, still on pydantic
        assert REQUIREMENTS_MODE in heading(app)
        assert cursor_label(app) == "pydantic 2.9.2  ✗ api-server requires pydantic<2"


@run_async
async def test_typing_a_name_jumps_to_the_package() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_tree(pilot)
        find_field = app.screen.query_one("#find", Input)
        await find(pilot, "star")  # not shown yet: opened down to it
        assert focused(app) is find_field
        assert cursor_label(app) == "starlette 0.41.2  required: <0.42.0,>=0.40.0"
        assert lines(app)[:3] == [
            "api-server 0.3.0",
            "  fastapi 0.115.4  required: >=0.110",
            "    pydantic 2.9.2  required: >=1.7.4",
        ]
        await pilot.press("enter")  # back to the tree, where the cursor is
        assert focused(app) is tree_of(app)

        await find(pilot, "Typing_E")  # a new search; case, `_` and `-` alike
        assert cursor_label(app).startswith("typing_extensions 4.12.2")
        await pilot.press(*"zzz")
        assert find_field.has_class("-no-match")
        result = app.screen.query_one("#find-result", Label)
        assert str(result.render()) == "no installed package starts with that"
        assert cursor_label(app).startswith("typing_extensions 4.12.2")  # not moved

        await pilot.press("escape")  # out of the field, emptied
        assert focused(app) is tree_of(app)
        assert find_field.value == ""
        assert not find_field.has_class("-no-match")
        assert isinstance(app.screen, TreeScreen)


@run_async
async def test_cycles_are_marked_and_not_expanded() -> None:
    app = app_with(CYCLIC)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_tree(pilot)
        # d and e require only each other and nothing leads to them: the first is at the top.
        assert lines(app) == ["c 1.0", "d 1.0"]
        await pilot.press("enter", "down", "enter", "down", "enter", "down")
        assert lines(app)[:4] == [
            "c 1.0",
            "  a 1.0",
            "    b 1.0  required: >=1",
            "      a 1.0  ↻ cycle",
        ]
        assert cursor_label(app) == "a 1.0  ↻ cycle"
        node = tree_of(app).cursor_node
        assert node is not None and not node.allow_expand
        await pilot.press("enter")
        assert len(lines(app)) == 5  # nothing opened below the cycle


@run_async
async def test_focus_shows_one_package_alone() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_tree(pilot)
        await find(pilot, "fastapi")
        await pilot.press("enter", "o")
        assert lines(app) == ["fastapi 0.115.4"]
        assert "only fastapi (o: whole tree)" in heading(app)
        await pilot.press("R")  # why is it installed?
        await pilot.press("enter")
        assert lines(app) == ["fastapi 0.115.4", "  api-server 0.3.0  requires fastapi>=0.110"]
        await pilot.press("R", "o")
        assert "only" not in heading(app)
        assert cursor_label(app) == "fastapi 0.115.4  required: >=0.110"
        assert lines(app)[0] == "api-server 0.3.0"


@run_async
async def test_escape_and_q_go_back_to_the_inventory() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        inventory = app.screen
        await open_tree(pilot, "ml")
        await pilot.press("q")
        await pilot.pause()
        assert app.screen is inventory
        assert app.is_running
        await open_tree(pilot, "httpie")
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is inventory
        assert app.screen.query_one(InventoryTable).current_key == "env:3"


@run_async
async def test_problems_panel_lists_and_goes_to_problems() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_tree(pilot)
        panel = app.screen.query_one(ProblemList)
        assert panel.border_title == "Problems (2)"
        assert [p.detail for p in panel.problems] == API_SERVER_PROBLEMS
        assert problem_prompts(app, "#tree-problems") == [f"✗ {d}" for d in API_SERVER_PROBLEMS]
        await pilot.press("tab")
        assert focused(app) is panel
        await pilot.press("down", "enter")  # the second: uvicorn misses httptools
        assert focused(app) is tree_of(app)
        assert cursor_label(app) == "uvicorn 0.32.0  required: >=0.30"
        assert children_of_cursor(app)[-1].startswith("httptools  ✗ not installed")


@run_async
async def test_problems_of_the_environment_itself_have_no_package_to_go_to() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_tree(pilot, "legacy-scraper")
        await pilot.press("tab", "enter")  # "broken: base interpreter missing ..."
        assert [n.message for n in app._notifications] == [
            "This problem is about the environment, not one package."
        ]
        await pilot.press("down", "enter")  # scrapekit's metadata has no version
        assert cursor_label(app) == "scrapekit ?"
        assert focused(app) is tree_of(app)


@run_async
async def test_an_environment_without_problems_says_so() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_tree(pilot, "httpie")
        panel = app.screen.query_one(ProblemList)
        assert panel.border_title == "Problems (0)"
        assert problem_prompts(app, "#tree-problems") == ["No problems found."]


@run_async
async def test_graph_is_read_in_a_worker(gated_graph: threading.Event) -> None:
    """While the graph is being read the screen paints, says so and answers keys."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        inventory = app.screen
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, TreeScreen), "the tree screen")
        await pilot.pause()
        assert "Reading the dependencies of 12 packages…" in heading(app)
        assert problem_prompts(app, "#tree-problems") == ["Checking…"]
        assert app.screen.check_action("toggle_reverse", ()) is None
        await pilot.press("escape")  # still responsive: the worker has the graph
        await pilot.pause()
        assert app.screen is inventory
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, TreeScreen), "the tree screen")
        gated_graph.set()
        await until(pilot, lambda: tree_ready(app), "the graph")
        assert lines(app) == ["api-server 0.3.0"]


@run_async
async def test_unreadable_graph_is_an_error_notice(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(env: Environment) -> graph.DependencyGraph:
        raise RuntimeError("metadata exploded")

    monkeypatch.setattr(graph, "build_graph", broken)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await until(pilot, lambda: "Could not read" in heading(app), "the error")
        assert "Could not read the dependencies: metadata exploded" in heading(app)
        errors = [n.message for n in app._notifications if n.severity == "error"]
        assert errors == ["metadata exploded"]
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, InventoryScreen)


# -- a real environment --------------------------------------------------------------------


@run_async
async def test_a_real_venv_shows_its_conflict(home: Path, tmp_path: Path) -> None:
    """A uv venv built from real wheels, found by the real scan: oldlib requires numpy<2
    while numpy 2.1.0 is installed."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    build_wheel(wheels, "numpy", "2.1.0")
    build_wheel(wheels, "oldlib", "1.0", requires=["numpy<2"])
    venv_dir = make_venv(home / ".virtualenvs" / "conflicted", "uv")
    uv_install(venv_dir, wheels, "--no-deps", "oldlib", "numpy==2.1.0")
    ctx = ScanContext(home=home, environ={"HOME": str(home)},
                      kinds=frozenset({EnvKind.VENV}))
    app = EnvtuiApp(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_tree(pilot, "conflicted")
        assert lines(app) == ["oldlib 1.0"]
        await pilot.press("enter")
        assert lines(app) == ["oldlib 1.0", "  numpy 2.1.0  ✗ oldlib requires numpy<2"]
        assert [p.detail for p in app.screen.query_one(ProblemList).problems] == [
            "oldlib 1.0 requires numpy<2, but numpy 2.1.0 is installed"
        ]


# -- a big environment ---------------------------------------------------------------------


@run_async
async def test_thousands_of_packages_open_and_respond() -> None:
    env = huge_environment(3000)
    app = app_with(env)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_tree(pilot)
        assert lines(app) == ["top 1.0"]
        await pilot.press("enter")  # 3,000 children, added at once
        tree = tree_of(app)
        assert tree.last_line == 3000
        assert lines(app)[3000] == "  p2999 1.0  required: >=1"

        await find(pilot, "p2999")  # among what is shown
        assert cursor_label(app) == "p2999 1.0  required: >=1"
        assert tree.cursor_line == 3000
        await pilot.press("enter", "R")  # dependents of the last link: the chain, and top
        assert cursor_label(app) == "p2999 1.0"
        await pilot.press("enter")
        assert children_of_cursor(app) == [
            "p2998 1.0  requires p2999", "top 1.0  requires p2999>=1",
        ]

        # p1500 is 1,499 dependents up the chain: too deep to open in place, so shown alone.
        await find(pilot, "p1500")
        assert cursor_label(app) == "p1500 1.0"
        assert "only p1500" in heading(app)
        await pilot.press("escape", "enter")
        assert children_of_cursor(app) == [
            "p1499 1.0  requires p1500", "top 1.0  requires p1500>=1",
        ]

        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, InventoryScreen)


@run_async
async def test_a_deep_chain_stops_at_the_depth_limit() -> None:
    names = [f"c{i:03d}" for i in range(MAX_DEPTH + 5)]
    env = venv("chain", *(pkg(n, *names[i + 1 : i + 2]) for i, n in enumerate(names)))
    app = app_with(env)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_tree(pilot)
        last = f"c{MAX_DEPTH:03d}"
        await find(pilot, last)  # opened down to the limit
        entry = tree_of(app).current_entry
        assert entry is not None and entry.depth == MAX_DEPTH
        assert not tree_of(app).cursor_node.allow_expand  # type: ignore[union-attr]
        assert cursor_label(app).endswith("… more below: focus on it to see")
        await pilot.press("ctrl+u", *f"c{MAX_DEPTH + 2:03d}")  # beyond it: shown alone
        assert lines(app)[0] == f"c{MAX_DEPTH + 2:03d} 1.0"


# -- the problems view ---------------------------------------------------------------------


@run_async
async def test_problems_view_groups_every_problem() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_problems(pilot)
        assert problem_prompts(app, "#all-problems") == [
            "api-server  venv · uv · ~/code/api-server/.venv  2 problems",
            *(f"  ✗ {d}" for d in API_SERVER_PROBLEMS),
            "legacy-scraper  venv · ~/projects/legacy-scraper/venv  2 problems",
            "  ✗ broken: base interpreter missing (pyvenv.cfg home "
            "/usr/local/opt/python@3.8/bin does not exist)",
            "  ✗ scrapekit-0.1.dist-info: missing Version",
            "ml  conda · ~/miniforge3/envs/ml  2 problems",
            "  ✗ wandb 0.18.5 requires click>=7.1, which is not installed",
            "  ✗ wandb 0.18.5 requires protobuf!=4.21.0,<6,>=3.19.0, which is not installed",
        ]
        # The same as the command line's check, environment by environment.
        expected = [p for env in fixture_inventory().environments for p in check_environment(env)]
        assert app.screen.query_one(ProblemList).problems == expected
        assert check_status(app) == "6 problems in 3 of 9 environments"
        assert not app.screen.query_one(ProgressBar).display
        assert app.screen.query_one(ProblemList).highlighted == 1  # the first problem


@run_async
async def test_enter_on_a_problem_opens_the_tree_at_its_package() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        inventory = app.screen
        await open_problems(pilot)
        problems = app.screen
        options = app.screen.query_one(ProblemList)
        options.highlighted = problem_prompts(app, "#all-problems").index(
            "  ✗ wandb 0.18.5 requires click>=7.1, which is not installed")
        await pilot.press("enter")
        await until(pilot, lambda: tree_ready(app), "the ml tree")
        screen = app.screen
        assert isinstance(screen, TreeScreen) and screen.env.name == "ml"
        assert cursor_label(app) == "wandb 0.18.5"
        assert children_of_cursor(app) == [
            "click  ✗ not installed: wandb requires click>=7.1",
            "protobuf  ✗ not installed: wandb requires protobuf!=4.21.0,<6,>=3.19.0",
        ]
        await pilot.press("escape")  # back to the problems, then the inventory
        await pilot.pause()
        assert app.screen is problems
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is inventory


@run_async
async def test_enter_on_an_environment_heading_opens_its_tree() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_problems(pilot)
        await pilot.press("up", "enter")  # the api-server heading
        await until(pilot, lambda: tree_ready(app), "the tree")
        assert lines(app) == ["api-server 0.3.0"]


@pytest.fixture
def gated_check(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[threading.Event, list[str]]]:
    """check_environment records each environment's name; the fourth waits for the event."""
    gate = threading.Event()
    checked: list[str] = []
    real = checks.check_environment

    def check(env: Environment, graph: Any = None) -> list[Problem]:
        checked.append(env.name)
        if len(checked) == 4:
            gate.wait(30)
        return real(env, graph)

    monkeypatch.setattr(checks, "check_environment", check)
    yield gate, checked
    gate.set()


@run_async
async def test_problems_view_shows_progress(
    gated_check: tuple[threading.Event, list[str]],
) -> None:
    gate, checked = gated_check
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await until(pilot, lambda: check_status(app) == "Checking… 3/9  httpie", "progress")
        bar = app.screen.query_one(ProgressBar)
        assert bar.display and (bar.progress, bar.total) == (3, 9)
        # What is found so far is listed already.
        assert problem_prompts(app, "#all-problems")[0].startswith("api-server")
        gate.set()
        await until(pilot, lambda: problems_finished(app), "the check")
        assert check_status(app) == "6 problems in 3 of 9 environments"
        assert not bar.display
        assert len(checked) == 9

        # Checks are kept: opening the view again checks nothing...
        await pilot.press("escape", "p")
        await until(pilot, lambda: problems_finished(app), "the check")
        assert len(checked) == 9
        # ...until a rescan brings new environments.
        await pilot.press("escape", "r")
        await settle(pilot)
        await open_problems(pilot)
        assert len(checked) == 18


@run_async
async def test_no_problems_anywhere() -> None:
    app = app_with(venv("clean", pkg("a", "b"), pkg("b")))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_problems(pilot)
        assert problem_prompts(app, "#all-problems") == ["No problems found in 1 environment."]
        assert check_status(app) == "1 environment checked · no problems"


@run_async
async def test_palette_commands_open_problems_and_trees() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await run_command(pilot, "problems: all")
        await until(pilot, lambda: problems_finished(app), "the problems view")
        await pilot.press("escape")
        await pilot.pause()
        await run_command(pilot, "tree: ml")
        await until(pilot, lambda: tree_ready(app), "the ml tree")
        screen = app.screen
        assert isinstance(screen, TreeScreen) and screen.env.name == "ml"
        await run_command(pilot, "tree: reverse")
        assert screen.reverse
        await run_command(pilot, "tree: requirements")
        assert not screen.reverse


async def run_command(pilot: Pilot[Any], text: str) -> None:
    """Open the palette, type `text`, wait for it to be offered first, run it."""
    app = pilot.app
    await pilot.press("ctrl+p")
    await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
    app.screen.query_one(Input).value = text

    def first_prompt() -> str:
        options = app.screen.query_one(OptionList)
        if not options.option_count:
            return ""
        return str(options.get_option_at_index(0).prompt).split("\n")[0]

    await until(pilot, lambda: first_prompt() == text, f"the command {text!r}")
    await pilot.press("enter")
    await until(pilot, lambda: not isinstance(app.screen, CommandPalette), "the command")
    await pilot.pause()


# -- keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "owner", [TreeScreen, ProblemsScreen, DependencyTree, ProblemList, InventoryScreen]
)
def test_every_binding_has_description_tooltip_and_id(owner: type[Any]) -> None:
    ids = set()
    for binding in owner.BINDINGS:
        assert isinstance(binding, Binding)
        assert binding.description and binding.tooltip and binding.id, binding
        ids.add(binding.id)
    assert len(ids) == len(owner.BINDINGS)


@run_async
async def test_footer_shows_the_tree_keys() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        shown = {b.binding.id for b in app.screen.active_bindings.values() if b.binding.show}
        assert "inventory.tree" in shown
        # `p` is a key (listed by `?` and in the palette), kept out of a crowded footer.
        bound = {b.binding.id for b in app.screen.active_bindings.values()}
        assert "inventory.problems" in bound
        await open_tree(pilot)
        shown = {b.binding.id for b in app.screen.active_bindings.values() if b.binding.show}
        assert shown >= {"tree.expand", "tree.find", "tree.reverse", "tree.focus", "tree.back"}
        assert "tree.back-q" not in shown


# -- the view, as data ---------------------------------------------------------------------


def fixture_graph(name: str) -> graph.DependencyGraph:
    env = next(e for e in fixture_inventory().environments if e.name == name)
    return graph.build_graph(env)


def labels(entries: list[TreeEntry]) -> list[str]:
    return [entry.label for entry in entries]


def test_view_roots_children_and_routes() -> None:
    forward = DependencyView(fixture_graph("api-server"))
    assert forward.roots == ["api-server"]
    root = forward.root_entries()[0]
    assert labels(forward.child_entries(root, {"api-server"})) == [
        "fastapi 0.115.4  required: >=0.110",
        "pydantic 2.9.2  ✗ api-server requires pydantic<2",
        "uvicorn 0.32.0  required: >=0.30",
    ]
    assert forward.path("anyio") == ["api-server", "fastapi", "starlette", "anyio"]
    assert forward.path("httptools") is None  # not installed: nothing to go to
    assert forward.find("PYD") == "pydantic"
    assert forward.find("pydantic_") == "pydantic-core"
    assert forward.find("nope") is None

    reverse = DependencyView(fixture_graph("api-server"), reverse=True)
    assert reverse.roots == ["click", "h11", "idna", "sniffio", "typing-extensions"]
    assert reverse.path("api-server") == ["click", "uvicorn", "api-server"]
    focused = DependencyView(fixture_graph("api-server"), reverse=True, focus="pydantic")
    assert focused.roots == ["pydantic"]
    assert focused.path("click") is None


def test_view_of_a_conda_env_with_pip_packages() -> None:
    view = DependencyView(fixture_graph("ml"))
    wandb = next(e for e in view.root_entries() if e.key == "wandb")
    assert wandb.expandable
    assert labels(view.child_entries(wandb, {"wandb"})) == [
        "click  ✗ not installed: wandb requires click>=7.1",
        "protobuf  ✗ not installed: wandb requires protobuf!=4.21.0,<6,>=3.19.0",
    ]
    # In reverse, wandb requires nothing installed: it is at the top, with no dependents.
    reverse = DependencyView(fixture_graph("ml"), reverse=True)
    assert "wandb" in reverse.roots
    assert not next(e for e in reverse.root_entries() if e.key == "wandb").expandable


def test_labels_escape_control_characters() -> None:
    env = venv("evil", pkg("good", "bad\x1b[31m>=1"), pkg("bad\x1b[31m", version="1\n0"))
    view = DependencyView(graph.build_graph(env))
    assert all("\x1b" not in entry.label and "\n" not in entry.label
               for entry in view.root_entries())


def test_search_key() -> None:
    assert search_key(" Typing_Extensions.x ") == "typing-extensions-x"


# -- screenshots for the README ------------------------------------------------------------


