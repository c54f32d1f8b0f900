"""The sharing screens: export, import, diff and Docker image archives, driven by keys.

Behaviour runs against real venvs (built offline from the session wheelhouse), real files
and, for images, a real Docker engine; snapshots render the committed fixture inventory or
files under a temporary HOME shown as `~`, so they are the same on every machine.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest
from textual.binding import Binding
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, RichLog, Static

from envtui.exchange.diff import diff
from envtui.exchange.export import export_text
from envtui.exchange.spec import from_environment
from envtui.inspectors.base import ScanContext
from envtui.inspectors.discovery import inspect_path
from envtui.model import Environment, EnvKind, Inventory
from envtui.resolver.pipconfig import index_options
from envtui.resolver.sources import IndexOptions
from envtui.tui.app import EnvtuiApp
from envtui.tui.screens.diff import DiffScreen
from envtui.tui.screens.export import ExportScreen
from envtui.tui.screens.images import ImageArchiveModal
from envtui.tui.screens.import_env import ImportScreen
from envtui.tui.screens.inventory import InventoryScreen
from envtui.tui.widgets.confirm import ConfirmScreen
from envtui.tui.widgets.diff_table import ADDED, CHANGED, REMOVED, SAME
from envtui.tui.widgets.status_line import StatusLine, tilde_all
from tests.docker_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    DockerWorld,
    _build,
    _cleanup,
    docker_client_fixture,
    docker_host_fixture,
)
from tests.envfactory import make_venv, uv_install
from tests.envstate import Hang
from tests.test_tui_tree import run_command
from tests.tui_helpers import (
    SIZE,
    FixtureLoader,
    check_readme_screenshot,
    fixture_inventory,
    make_app,
    run_async,
    settle,
    until,
)

TERMINAL = (110, 32)


def app_for(home: Path, *venvs: Path, options: IndexOptions | None = None) -> EnvtuiApp:
    """The app over exactly these real venvs, inspected now (no scan of the machine)."""
    ctx = ScanContext(home=home, environ={}, kinds=frozenset({EnvKind.VENV}))
    envs = []
    for venv in venvs:
        env = inspect_path(ctx, venv, use_cache=False)
        assert env is not None
        envs.append(env)
    return EnvtuiApp(ctx, loader=FixtureLoader(inventory=Inventory(tuple(envs))),
                     index_options=options)


def loader_of(app: EnvtuiApp) -> FixtureLoader:
    assert isinstance(app.loader, FixtureLoader)
    return app.loader


T = TypeVar("T")


def screen_of(app: EnvtuiApp, kind: type[T]) -> T:
    screen = app.screen
    assert isinstance(screen, kind), type(screen)
    return screen


def status(screen: Any, selector: str) -> str:
    return screen.query_one(selector, StatusLine).text  # type: ignore[no-any-return]


def offline(wheelhouse: Path) -> IndexOptions:
    return index_options([], [], [str(wheelhouse)], offline=True, no_index=True)


@pytest.fixture
def proj(home: Path, wheelhouse: Path) -> Path:
    venv = make_venv(home / "proj" / ".venv", "uv")
    uv_install(venv, wheelhouse, "numpy==1.26.4", "oldlib==1.0", "hello-world")
    return venv


@pytest.fixture
def other(home: Path, wheelhouse: Path) -> Path:
    venv = make_venv(home / "other" / ".venv", "uv")
    uv_install(venv, wheelhouse, "numpy==2.1.0", "newlib==2.0", "hello-world")
    return venv


@pytest.fixture
def workdir(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The current directory, where `./FILE` defaults land."""
    d = home / "work"
    d.mkdir()
    monkeypatch.chdir(d)
    return d


# -- export ----------------------------------------------------------------------------


async def open_export(pilot: Pilot[Any]) -> ExportScreen:
    await settle(pilot)
    await pilot.press("e")
    screen = screen_of(pilot.app, ExportScreen)  # type: ignore[arg-type]
    await until(pilot, lambda: screen.preview_text is not None, "the preview")
    await pilot.pause()
    return screen


async def write(pilot: Pilot[Any], screen: ExportScreen, *keys: str) -> None:
    await pilot.press("ctrl+s", *keys)
    await until(pilot, lambda: not screen.writing and pilot.app.screen is screen, "the write")
    await pilot.pause()


@run_async
async def test_export_writes_exactly_the_previewed_text(home: Path, proj: Path,
                                                        workdir: Path) -> None:
    app = app_for(home, proj)
    spec = from_environment(loader_of(app).inventory.environments[0])
    async with app.run_test(size=TERMINAL) as pilot:
        screen = await open_export(pilot)
        yml, _ = export_text(spec, "environment-yml")
        assert screen.preview_text == yml and "oldlib==1.0" in yml
        assert "oldlib==1.0" in str(screen.query_one("#export-text", Static).render())
        assert screen.path_text == "./environment.yml"
        await write(pilot, screen)
        assert (workdir / "environment.yml").read_text(encoding="utf-8") == yml
        assert "Wrote ./environment.yml" in screen.status_text

        # Down and Enter in the format list pick requirements; the offered file follows.
        await pilot.press("down", "enter")
        assert screen.format == "requirements" and screen.path_text == "./requirements.txt"
        assert all(box.disabled for box in screen.query(Checkbox))  # environment.yml only
        await until(pilot, lambda: screen.preview_text is not None, "the new preview")
        reqs, _ = export_text(spec, "requirements")
        assert screen.preview_text == reqs

        # An existing file is replaced only after a question whose default is No.
        target = workdir / "requirements.txt"
        target.write_text("precious\n", encoding="utf-8")
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("enter")
        assert app.screen is screen and target.read_text(encoding="utf-8") == "precious\n"
        await write(pilot, screen, "y")
        assert target.read_text(encoding="utf-8") == reqs
        await pilot.press("escape")
        assert isinstance(app.screen, InventoryScreen)


@run_async
async def test_export_to_a_typed_path_and_options(home: Path, proj: Path,
                                                  workdir: Path) -> None:
    app = app_for(home, proj)
    spec = from_environment(loader_of(app).inventory.environments[0])
    async with app.run_test(size=TERMINAL) as pilot:
        screen = await open_export(pilot)
        await pilot.press("tab", "space")  # into the options: "with build strings"
        assert screen.choice == ("environment-yml", True, False)
        await until(pilot, lambda: screen.preview_text is not None, "the preview with builds")
        assert screen.preview_text == export_text(spec, "environment-yml", builds=True)[0]
        (workdir / "out").mkdir()
        path = screen.query_one("#export-path", Input)
        path.focus()
        path.value = "out/shared.yml"
        await pilot.press("enter")  # Enter in the path writes
        await until(pilot, (workdir / "out" / "shared.yml").exists, "the file")
        await until(pilot, lambda: not screen.writing, "the write")
        assert (workdir / "out" / "shared.yml").read_text(encoding="utf-8") == \
            screen.preview_text
        path.value = "missing/dir/x.yml"
        await write(pilot, screen)
        assert "Not written: " in screen.status_text and "does not exist" in screen.status_text


@run_async
async def test_export_error_is_one_line_and_writes_nothing(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        inventory = screen_of(app, InventoryScreen)
        image = next(e for e in inventory.environments if e.kind is EnvKind.IMAGE)
        inventory.show_environment(image)
        await pilot.press("e")
        screen = screen_of(app, ExportScreen)
        screen.choose_format("conda-lock")
        await until(pilot, lambda: "Cannot export" in screen.status_text, "the error")
        assert "conda-lock files describe conda environments" in screen.status_text
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not screen.writing, "the write")
        assert "Not written" in screen.status_text
        assert list(tmp_path.iterdir()) == []


def test_export_snapshot(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await open_export(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


# -- import ----------------------------------------------------------------------------


async def open_import(pilot: Pilot[Any], file: str, target: str = "") -> ImportScreen:
    await settle(pilot)
    await pilot.press("i")
    screen = screen_of(pilot.app, ImportScreen)  # type: ignore[arg-type]
    screen.query_one("#import-file", Input).value = file
    target_input = screen.query_one("#import-target", Input)
    target_input.focus()
    await pilot.press(*target)
    await pilot.press("enter")
    await until(pilot, lambda: screen.busy is None, "the preview")
    for field in screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()
    return screen


def preview_text(screen: ImportScreen) -> str:
    return str(screen.query_one("#import-lines", Static).render())


@run_async
async def test_import_previews_asks_and_creates_the_venv(home: Path, wheelhouse: Path) -> None:
    shared = home / "shared"
    shared.mkdir()
    (shared / "requirements.txt").write_text("hello-world==0.1.0\ntinydep==0.3\n")
    app = app_for(home, options=offline(wheelhouse))
    target = home / ".virtualenvs" / "imported"
    async with app.run_test(size=TERMINAL) as pilot:
        screen = await open_import(pilot, "~/shared/requirements.txt", "imported")
        assert screen.plan is not None
        assert "create a new venv at ~/.virtualenvs/imported" in preview_text(screen)
        assert "ctrl+s creates ~/.virtualenvs/imported" in status(screen, "#import-status")

        await pilot.press("ctrl+s")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("enter")  # No is the default
        assert app.screen is screen and not target.exists()

        await pilot.press("ctrl+s", "y")
        await until(pilot, lambda: screen.busy is None and screen.created is not None,
                    "the import")
        assert screen.created == target
        env = inspect_path(ScanContext(home=home, environ={}), target, use_cache=False)
        assert env is not None
        assert {(p.name, p.version) for p in env.packages} >= {("Hello_World", "0.1.0"),
                                                              ("tinydep", "0.3")}
        log = "\n".join(str(line.text) for line in screen.query_one(RichLog).lines)
        assert "created ~/.virtualenvs/imported" in log
        assert "Created ~/.virtualenvs/imported" in status(screen, "#import-status")

        calls = loader_of(app).calls
        await pilot.press("escape")
        assert isinstance(app.screen, InventoryScreen)
        await until(pilot, lambda: loader_of(app).calls == calls + 1, "the rescan")


def installed(env: Environment | None) -> set[tuple[str, str]]:
    assert env is not None
    return {(p.key, p.version) for p in env.packages}


@run_async
async def test_pylock_exported_then_imported_gives_the_same_venv(home: Path, proj: Path,
                                                                 wheelhouse: Path,
                                                                 workdir: Path) -> None:
    app = app_for(home, proj, options=offline(wheelhouse))
    target = home / ".virtualenvs" / "copy"
    async with app.run_test(size=TERMINAL) as pilot:
        export = await open_export(pilot)
        await pilot.press("down", "down", "down", "enter")  # pylock.toml
        assert export.format == "pylock" and export.path_text == "./pylock.toml"
        await until(pilot, lambda: export.preview_text is not None, "the pylock preview")
        await write(pilot, export)
        assert "[[packages]]" in (workdir / "pylock.toml").read_text(encoding="utf-8")
        await pilot.press("escape")

        screen = await open_import(pilot, "~/work/pylock.toml", "copy")
        assert "create a new venv at ~/.virtualenvs/copy" in preview_text(screen)
        await pilot.press("ctrl+s", "y")
        await until(pilot, lambda: screen.busy is None, "the import")
        assert screen.created == target, status(screen, "#import-status")
    ctx = ScanContext(home=home, environ={})
    assert installed(inspect_path(ctx, target, use_cache=False)) == \
        installed(inspect_path(ctx, proj, use_cache=False))


@run_async
async def test_import_error_names_the_file(home: Path) -> None:
    app = app_for(home)
    async with app.run_test(size=TERMINAL) as pilot:
        screen = await open_import(pilot, "~/nowhere/requirements.txt")
        text = status(screen, "#import-status")
        assert text.startswith("Cannot import: ~/nowhere/requirements.txt: no such file")
        await pilot.press("ctrl+s")  # nothing to create: it only tries the preview again
        await until(pilot, lambda: screen.busy is None, "the preview")
        assert not isinstance(app.screen, ConfirmScreen)
        screen.query_one("#import-file", Input).value = ""
        await run_command(pilot, "import: preview")
        assert status(screen, "#import-status") == "Give a file to import"


@run_async
async def test_ctrl_c_cancels_the_import_and_leaves_nothing(home: Path, hang: Hang) -> None:
    shared = home / "shared"
    shared.mkdir()
    (shared / "requirements.txt").write_text("tinydep==0.3\n")
    app = app_for(home, options=hang.options())  # the installer waits on a silent server
    target = home / ".virtualenvs" / "stuck"
    async with app.run_test(size=TERMINAL) as pilot:
        screen = await open_import(pilot, "~/shared/requirements.txt", "stuck")
        await pilot.press("ctrl+s", "y")
        await until(pilot, hang.asked.is_set, "the installer to be mid-way")
        assert target.exists() and screen.busy == "importing"
        await pilot.press("escape")  # refused while it runs
        assert app.screen is screen
        await pilot.press("ctrl+c")
        await until(pilot, lambda: screen.busy is None, "the cancel")
        assert status(screen, "#import-status").startswith("Cancelled: ")
        assert not target.exists() and screen.created is None
        calls = loader_of(app).calls
        await pilot.press("escape")
        await pilot.pause()
        assert loader_of(app).calls == calls  # nothing created: no rescan


SHARED_YML = """\
name: shared-env
channels:
  - conda-forge
dependencies:
  - python=3.11
  - numpy=1.26
  - pip:
    - tinydep @ http://example.invalid/tinydep-0.3-py3-none-any.whl
"""


def test_import_preview_snapshot(snap_compare: Any, home: Path) -> None:
    shared = home / "shared"
    shared.mkdir()
    (shared / "environment.yml").write_text(SHARED_YML)

    async def run_before(pilot: Pilot[Any]) -> None:
        screen = await open_import(pilot, "~/shared/environment.yml")
        assert screen.plan is not None
        assert "installs tinydep from a direct URL, not an index: http:" in preview_text(screen)

    assert snap_compare(app_for(home), terminal_size=TERMINAL, run_before=run_before)


# -- diff ------------------------------------------------------------------------------


async def open_diff(pilot: Pilot[Any], *keys: str) -> DiffScreen:
    await settle(pilot)
    await pilot.press("d", *keys)
    screen = screen_of(pilot.app, DiffScreen)  # type: ignore[arg-type]
    await until(pilot, lambda: screen.difference is not None, "the comparison")
    await pilot.pause()
    return screen


@run_async
async def test_diff_of_two_real_venvs(home: Path, proj: Path, other: Path) -> None:
    app = app_for(home, proj, other)
    envs = loader_of(app).inventory.environments
    a, b = (next(e for e in envs if e.path == str(v)) for v in (proj, other))
    async with app.run_test(size=TERMINAL) as pilot:
        await settle(pilot)
        screen_of(app, InventoryScreen).show_environment(a)
        screen = await open_diff(pilot, "enter")  # B: the one other environment, highlighted
        rows = {name: (state, va, vb) for state, name, va, vb in screen.rows}
        assert screen.rows[0][1] == "python"
        assert rows["numpy"] == (CHANGED, "1.26.4", "2.1.0")
        assert rows["oldlib"] == (REMOVED, "1.0", "-")
        assert rows["newlib"] == (ADDED, "-", "2.0")
        assert rows["tinydep"][0] == SAME
        expected = diff(from_environment(a), from_environment(b))
        assert expected.count() == 3
        text = status(screen, "#diff-summary")
        assert text.startswith("3 differences: 1 only in A (-), 1 only in B (+), 1 changed")

        await pilot.press("o")  # only the differences
        assert {name for _, name, _, _ in screen.rows} == {"python", "numpy", "oldlib",
                                                           "newlib"}
        await run_command(pilot, "diff: all packages")
        assert "tinydep" in {name for _, name, _, _ in screen.rows}
        await run_command(pilot, "diff: pick B")
        assert screen.difference is None and screen.query_one("#diff-envs").has_focus

        await pilot.press("escape")
        assert isinstance(app.screen, InventoryScreen)


@run_async
async def test_diff_with_an_exported_file_is_identical(home: Path, proj: Path,
                                                       other: Path) -> None:
    app = app_for(home, proj, other)
    env = next(e for e in loader_of(app).inventory.environments if e.path == str(proj))
    exported = home / "proj" / "requirements.txt"
    exported.write_text(export_text(from_environment(env), "requirements")[0])
    async with app.run_test(size=TERMINAL) as pilot:
        await settle(pilot)
        screen_of(app, InventoryScreen).show_environment(env)
        await pilot.press("d")
        screen = screen_of(app, DiffScreen)
        await pilot.press("shift+tab")  # from the environment list up to the file
        file = screen.query_one("#diff-file", Input)
        assert file.has_focus
        file.value = "~/proj/requirements.txt"
        await pilot.press("enter")
        await until(pilot, lambda: screen.difference is not None, "the comparison")
        assert screen.difference is not None and screen.difference.identical
        assert status(screen, "#diff-summary").startswith("identical: the same 4 packages")
        assert all(state == SAME for state, *_ in screen.rows)

        await pilot.press("b")  # pick another B: a file that is not there
        file.value = "~/proj/missing.yml"
        file.focus()
        await pilot.press("enter")
        await until(pilot, lambda: "Cannot compare" in status(screen, "#diff-summary"),
                    "the error")
        assert "~/proj/missing.yml: no such file" in status(screen, "#diff-summary")


def drifted_inventory() -> Inventory:
    """The fixture inventory with its container drifted from its image: fastapi upgraded
    and pip removed inside it (debugpy was already added), so every kind of row shows."""
    inventory = fixture_inventory()
    envs = list(inventory.environments)
    i = next(i for i, e in enumerate(envs) if e.kind is EnvKind.CONTAINER)
    packages = tuple(replace(p, version="0.115.6") if p.name == "fastapi" else p
                     for p in envs[i].packages if p.name != "pip")
    envs[i] = replace(envs[i], packages=packages)
    return replace(inventory, environments=tuple(envs))


def test_diff_snapshot(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        screen = screen_of(pilot.app, InventoryScreen)  # type: ignore[arg-type]
        screen.show_environment(next(e for e in screen.environments
                                     if e.kind is EnvKind.IMAGE))
        diff_screen = await open_diff(pilot, "end", "enter")  # B: the container
        assert {state for state, *_ in diff_screen.rows} == {ADDED, REMOVED, CHANGED, SAME}

    app = make_app(FixtureLoader(inventory=drifted_inventory()))
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


# -- the command palette and the keys ---------------------------------------------------


@run_async
async def test_palette_offers_every_sharing_action() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await run_command(pilot, "export: data-tools")
        export = screen_of(app, ExportScreen)
        assert export.env.name == "data-tools"
        await run_command(pilot, "export: requirements.txt")
        assert export.format == "requirements" and export.path_text == "./requirements.txt"
        await pilot.press("escape")

        await run_command(pilot, "diff: ml")
        assert screen_of(app, DiffScreen).env.name == "ml"
        await pilot.press("escape")

        await run_command(pilot, "import: file")
        screen_of(app, ImportScreen)
        await pilot.press("escape")

        await run_command(pilot, "image: save ada/api-server:latest")
        modal = screen_of(app, ImageArchiveModal)
        assert modal.ref == "ada/api-server:latest"
        assert modal.query_one(Input).value == "./ada-api-server-latest.tar"
        await pilot.press("escape")

        await run_command(pilot, "image: load")
        assert screen_of(app, ImageArchiveModal).mode == "load"
        await pilot.press("escape")
        assert isinstance(app.screen, InventoryScreen)


@run_async
async def test_save_image_key_only_on_image_rows() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = screen_of(app, InventoryScreen)

        def shown() -> set[str | None]:
            return {b.binding.id for b in screen.active_bindings.values() if b.binding.show}

        bound = {b.binding.id for b in screen.active_bindings.values()}
        # Keys listed by `?` and the palette, kept out of the crowded footer.
        assert {"inventory.export", "inventory.import", "inventory.diff",
                "inventory.load-image"} <= bound
        assert "inventory.save-image" not in shown()
        await pilot.press("s")
        assert app.screen is screen  # not an image: nothing to save
        image = next(e for e in screen.environments if e.kind is EnvKind.IMAGE)
        screen.show_environment(image)
        await pilot.pause()
        assert "inventory.save-image" in shown()
        await pilot.press("s")
        assert screen_of(app, ImageArchiveModal).ref == image.name


def test_image_save_snapshot(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        screen = screen_of(pilot.app, InventoryScreen)  # type: ignore[arg-type]
        screen.show_environment(next(e for e in screen.environments
                                     if e.kind is EnvKind.IMAGE))
        await pilot.press("s")
        pilot.app.screen.query_one(Input).cursor_blink = False
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


@pytest.mark.parametrize("owner", [ExportScreen, ImportScreen, DiffScreen, ImageArchiveModal,
                                   InventoryScreen])
def test_every_binding_has_description_tooltip_and_id(owner: type[Any]) -> None:
    ids = set()
    for binding in owner.BINDINGS:
        assert isinstance(binding, Binding)
        assert binding.description and binding.tooltip and binding.id, binding
        ids.add(binding.id)
    assert len(ids) == len(owner.BINDINGS)


def test_paths_under_home_are_shown_with_a_tilde() -> None:
    home = "/home/ada"
    assert tilde_all("import /home/ada/f.yml (requirements)", home) == \
        "import ~/f.yml (requirements)"
    assert tilde_all("/home/adam/x and /srv/home/ada/y", home) == \
        "/home/adam/x and /srv/home/ada/y"
    assert tilde_all("in /home/ada: gone", home) == "in ~: gone"


# -- Docker image archives ---------------------------------------------------------------


@pytest.fixture(scope="module")
def tui_image(docker_client: Any, docker_host: str,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(tag, ID) of a FROM scratch image with 64 MiB of random bytes: big enough that a
    save is still running when Ctrl-C arrives."""
    token = uuid.uuid4().hex[:10]
    world = DockerWorld(host=docker_host, label=token, prefix=f"envtui-test-{token}")
    ctx = tmp_path_factory.mktemp("tui-image")
    try:
        with open(ctx / "random.bin", "wb") as f:
            for _ in range(64):
                f.write(os.urandom(1 << 20))
        tag = f"{world.prefix}/tui:1"
        world.images["tui"] = _build(docker_client, ctx,
                                     "FROM scratch\nCOPY random.bin /random.bin\n", token, [tag])
        (ctx / "random.bin").unlink()
        yield tag, world.images["tui"]
    finally:
        _cleanup(docker_client, world)


def image_app(home: Path, tag: str, image_id: str) -> EnvtuiApp:
    env = Environment(kind=EnvKind.IMAGE, name=tag, manager="docker", id=image_id,
                      details={"tags": [tag]})
    ctx = ScanContext(home=home, environ={}, kinds=frozenset({EnvKind.IMAGE}))
    return EnvtuiApp(ctx, loader=FixtureLoader(inventory=Inventory((env,))))


async def open_image(pilot: Pilot[Any], key: str) -> ImageArchiveModal:
    await settle(pilot)
    await pilot.press(key)
    return screen_of(pilot.app, ImageArchiveModal)  # type: ignore[arg-type]


@pytest.mark.docker
@run_async
async def test_save_cancel_and_load_an_image(home: Path, workdir: Path, docker_client: Any,
                                             docker_host: str, tui_image: tuple[str, str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from envtui.exchange.images import LoadedImage, SavedImage

    monkeypatch.setenv("DOCKER_HOST", docker_host)
    tag, image_id = tui_image
    app = image_app(home, tag, image_id)
    archive = workdir / (tag.replace("/", "-").replace(":", "-") + ".tar")
    async with app.run_test(size=TERMINAL) as pilot:
        modal = await open_image(pilot, "s")
        assert modal.query_one(Input).value == f"./{archive.name}"

        # Ctrl-C right after Enter, while the engine is still streaming 64 MiB: nothing is
        # left in the directory.
        await pilot.press("enter", "ctrl+c")
        await until(pilot, lambda: not modal.busy, "the cancel")
        assert status(modal, "#image-status").startswith("Cancelled: ")
        assert list(workdir.iterdir()) == []

        await pilot.press("enter")
        await until(pilot, lambda: not modal.busy, "the save")
        assert isinstance(modal.result, SavedImage)
        assert archive.is_file() and archive.with_name(archive.name + ".sha256").is_file()
        assert status(modal, "#image-status").startswith(f"Saved ~/work/{archive.name}")
        await pilot.press("escape")

        docker_client.images.remove(image_id, force=True)
        calls = loader_of(app).calls
        modal = await open_image(pilot, "l")
        modal.query_one(Input).value = f"./{archive.name}"
        await pilot.press("enter")
        await until(pilot, lambda: not modal.busy, "the load")
        assert isinstance(modal.result, LoadedImage) and tag in modal.result.tags
        assert docker_client.api.inspect_image(tag)["Id"] == image_id
        assert status(modal, "#image-status").startswith(f"Loaded {tag}")
        await pilot.press("escape")
        await until(pilot, lambda: loader_of(app).calls == calls + 1, "the rescan")


SNAPSHOTS = Path(__file__).parent / "__snapshots__" / "test_tui_exchange"


@pytest.mark.parametrize(("name", "snapshot"), [
    ("export", "test_export_snapshot"), ("import", "test_import_preview_snapshot"),
    ("image-save", "test_image_save_snapshot")])
def test_readme_screenshots_match_snapshots(name: str, snapshot: str) -> None:
    """Refresh with `ENVTUI_SCREENSHOTS=1 pytest tests/test_tui_exchange.py -k readme`."""
    check_readme_screenshot(SNAPSHOTS, name, snapshot)
