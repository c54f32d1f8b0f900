"""RELIABILITY.md checklist, discovery and inspection: cases 1-4 and 6-13 (5 lives apart).

Every test is named after its case and runs against real environments: venvs made by uv or
the standard library and filled by a real installer from wheels built here, offline. What
no tool makes on purpose (malformed metadata, an interrupted install's leftovers) is
written by hand and says so. Behaviour is checked through envtui's public surfaces: the
`envtui` command (`--json`), the inspectors' API and, where the checklist speaks of what is
shown, the TUI over a real scan.

Cases already proven elsewhere are linked rather than repeated:
- 10 (conda `*.c~` / `*.trash`): test_conda.py::test_transaction_leftovers_are_interrupted
- 11 (corrupt conda-meta JSON): test_conda.py::test_invalid_json_record_is_corrupted_and_named,
  ::test_invalid_utf8_record_is_corrupted, ::test_appledouble_files_are_ignored and
  ::test_wrong_types_are_corrupted_and_the_package_kept
- 12 (malformed conda-meta/history): test_conda.py::test_malformed_history_reads_as_empty
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Static

from envtui.inspectors.base import Inspector, Location, ScanContext
from envtui.inspectors.discovery import walk
from envtui.inspectors.venv import VenvInspector
from envtui.model import Environment, EnvKind
from envtui.tui.app import EnvtuiApp
from envtui.tui.screens.fix import FixScreen
from envtui.tui.screens.inventory import InventoryScreen
from envtui.tui.screens.problems import ProblemsScreen
from envtui.tui.screens.tree import TreeScreen
from envtui.tui.widgets.dependency_tree import DependencyTree
from envtui.tui.widgets.detail import PackageTable
from envtui.tui.widgets.inventory_table import InventoryTable
from envtui.tui.widgets.problem_list import ProblemList
from envtui.tui.widgets.theme import component_text_style
from tests.envfactory import make_venv, pip_install, python_of, site_packages, uv_install
from tests.tui_helpers import SIZE, run_async, settle, tree_lines, until
from tests.wheels import build_wheel

REPO = Path(__file__).resolve().parent.parent
PY = f"{sys.version_info.major}.{sys.version_info.minor}"
NO_DOCKER = "unix:///nonexistent/envtui-tests-no-docker.sock"
"""No engine: these cases are about the filesystem, and must not see the machine's Docker."""


# --------------------------------------------------------------------------- helpers


def unprivileged(cmd: list[str]) -> list[str]:
    """`cmd` without the capabilities that let root read through chmod 000 (as in
    tests/test_conda.py), so permission denial behaves as it does for any user."""
    if os.geteuid() != 0:
        return cmd
    setpriv = shutil.which("setpriv")
    assert setpriv, "running as root: setpriv (util-linux) is needed to drop DAC overrides"
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--", *cmd]


def envtui(*args: str, as_user: bool = False,
           timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The real `envtui` command for the `home` fixture's user, with no Docker engine."""
    cmd = [sys.executable, "-m", "envtui", *args]
    return subprocess.run(unprivileged(cmd) if as_user else cmd, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL, cwd=REPO,
                          env=dict(os.environ, DOCKER_HOST=NO_DOCKER))


def envtui_json(*args: str, code: int = 0, as_user: bool = False) -> Any:
    proc = envtui(*args, "--json", as_user=as_user)
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)


def problems_of(env: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p["kind"], p["detail"]) for p in env["problem_details"]]


def package_problems(env: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    return {p["name"]: [(x["kind"], x["detail"]) for x in p["problems"]]
            for p in env["packages"]}


def dist_info(sp: Path, dirname: str, metadata: str | bytes) -> Path:
    """A dist-info written by hand (what no installer writes on purpose), with its RECORD."""
    d = sp / dirname
    d.mkdir()
    (d / "METADATA").write_bytes(metadata if isinstance(metadata, bytes) else metadata.encode())
    (d / "RECORD").write_text(f"{dirname}/METADATA,,\n{dirname}/RECORD,,\n")
    return d


def all_names(nodes: Iterable[dict[str, Any]]) -> set[str]:
    out: set[str] = set()
    for node in nodes:
        out.add(node["name"])
        out |= all_names(node["children"])
    return out


def real_app(home: Path) -> EnvtuiApp:
    """The app over a real scan of `home` (venvs only), as `envtui` starts it."""
    ctx = ScanContext(home=home, environ={"HOME": str(home), "DOCKER_HOST": NO_DOCKER},
                      kinds=frozenset({EnvKind.VENV}))
    return EnvtuiApp(ctx)


def highlighted(app: EnvtuiApp) -> Environment:
    table = app.screen.query_one(InventoryTable)
    env = table.environment(table.current_key)
    assert env is not None
    return env


def shown_problems(app: EnvtuiApp) -> str:
    return str(app.screen.query_one("#env-problems", Static).render())


async def open_tree(pilot: Pilot[Any]) -> DependencyTree:
    """Open the highlighted environment's tree and wait for its graph."""
    app = pilot.app
    await pilot.press("t")
    await until(pilot, lambda: isinstance(app.screen, TreeScreen) and app.screen.ready,
                "the dependency graph")
    await pilot.pause()
    return app.screen.query_one(DependencyTree)


async def expand_all(pilot: Pilot[Any], tree: DependencyTree) -> list[str]:
    """Open every node that can be opened; the lines shown, two spaces per level."""
    while True:
        closed = [node for line in range(tree.last_line + 1)
                  if (node := tree.get_node_at_line(line)) is not None
                  and node.allow_expand and not node.is_expanded]
        if not closed:
            break
        for node in closed:
            node.expand()
        await pilot.pause()
    return tree_lines(tree)


# --------------------------------------------------------------------------- case 1


def test_case_01_pth_import_never_runs_during_inspection(home: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pth-ran"
    wheels = tmp_path / "wheels"
    # A package that ships a .pth with an import side effect, installed by a real installer.
    build_wheel(wheels, "sneaky", "1.0", files={
        "sneaky/__init__.py": "",
        "sneaky-hook.pth": f"import pathlib; pathlib.Path({str(marker)!r}).write_text('ran')\n",
    })
    env = make_venv(home / "code" / "proj" / ".venv", "uv")
    uv_install(env, wheels, "sneaky")
    finding = ("security",
               "sneaky-hook.pth: .pth file runs code whenever this environment's Python starts")

    [listed] = envtui_json("list", "--kind", "venv", "--no-cache")
    assert problems_of(listed) == [finding]
    shown = envtui_json("show", str(env))
    assert [p["name"] for p in shown["packages"]] == ["sneaky"]
    assert problems_of(shown) == [finding]
    assert all_names(envtui_json("tree", str(env))) == {"sneaky"}
    checked = envtui_json("check", str(env), code=1)
    assert [(p["kind"], p["detail"]) for p in checked] == [finding]
    assert not marker.exists(), "a .pth file ran during list, show, tree or check"

    @run_async
    async def tui() -> None:
        app = real_app(home)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert highlighted(app).path == str(env)
            assert f"✗ {finding[1]}" in shown_problems(app)
            await open_tree(pilot)
            await pilot.press("escape")
            await pilot.press("p")  # the problems view checks every environment
            await until(pilot, lambda: isinstance(app.screen, ProblemsScreen)
                        and app.screen.finished, "every environment checked")
            assert [p.detail for p in app.screen.query_one(ProblemList).problems] == [
                finding[1]]

    tui()
    assert not marker.exists(), "a .pth file ran during the TUI's scan, tree or check"
    # The trap is live: starting that interpreter does run the .pth.
    subprocess.run([str(python_of(env)), "-c", "pass"], check=True, stdin=subprocess.DEVNULL)
    assert marker.read_text() == "ran"


# --------------------------------------------------------------------------- case 2


def _venv_from_a_python_that_goes_away(prefix: Path, python_home: Path, wheelhouse: Path,
                                       *reqs: str) -> Path:
    """A real venv made by an interpreter reached through `python_home` (a directory of
    links to the real one), filled by uv. Removing `python_home` later is an uninstall."""
    python_home.mkdir(parents=True)
    (python_home / f"python{PY}").symlink_to(Path(sys.base_prefix) / "bin" / f"python{PY}")
    subprocess.run([str(python_home / f"python{PY}"), "-m", "venv", "--without-pip",
                    str(prefix)], check=True, capture_output=True, stdin=subprocess.DEVNULL)
    uv_install(prefix, wheelhouse, *reqs)
    return prefix


def test_case_02_venv_whose_base_interpreter_was_deleted(home: Path, tmp_path: Path,
                                                         wheelhouse: Path) -> None:
    gone = tmp_path / "gone-python" / "bin"
    broken = _venv_from_a_python_that_goes_away(home / ".virtualenvs" / "broken", gone,
                                                wheelhouse, "oldlib", "numpy==1.26.4")
    shutil.rmtree(gone.parent)  # pyvenv.cfg's home is gone, bin/python dangles
    # The other way to break: home still there, but the interpreter in it removed.
    kept = tmp_path / "kept-python" / "bin"
    dangling = _venv_from_a_python_that_goes_away(home / ".virtualenvs" / "dangling", kept,
                                                  wheelhouse, "tinydep")
    (kept / f"python{PY}").unlink()

    listing = {e["name"]: e for e in envtui_json("list", "--kind", "venv", "--no-cache")}
    assert problems_of(listing["broken"]) == [
        ("broken", f"broken: base interpreter missing (pyvenv.cfg home {gone} does not exist)")]
    assert problems_of(listing["dangling"]) == [
        ("broken", f"broken: base interpreter missing ({dangling}/bin/python is a dangling "
                   "link)")]
    # Packages are still read from their metadata: nothing had to run.
    shown = envtui_json("show", str(broken))
    assert {(p["name"], p["version"]) for p in shown["packages"]} == {
        ("numpy", "1.26.4"), ("oldlib", "1.0")}
    assert all_names(envtui_json("tree", str(broken))) == {"numpy", "oldlib"}
    assert [p["kind"] for p in envtui_json("check", str(broken), code=1)] == ["broken"]

    # Fixing is refused, pointing at what is left: recreate or delete.
    for env in (broken, dangling):
        proc = envtui("fix", str(env), "--find-links", str(wheelhouse), "--no-index",
                      "--dry-run")
        assert proc.returncode == 2
        assert proc.stderr.startswith(
            f"envtui: error: {env} is broken: base interpreter missing")
        assert proc.stderr.endswith(
            f"; envtui cannot fix it: recreate it (`envtui export {env} -o FILE`, then "
            f"`envtui import FILE`) or delete it (`envtui rm {env}`)\n")
        assert proc.stdout == ""
    # Recreate: the export needs only metadata, and imports into a working venv.
    exported = tmp_path / "broken.txt"
    proc = envtui("export", str(broken), "--format", "requirements", "-o", str(exported))
    assert proc.returncode == 0, proc.stderr
    remade = tmp_path / "remade"
    proc = envtui("import", str(exported), "--prefix", str(remade), "--kind", "venv",
                  "--find-links", str(wheelhouse), "--no-index", "--yes")
    assert proc.returncode == 0, proc.stderr
    again = envtui_json("show", str(remade))
    assert {(p["name"], p["version"]) for p in again["packages"]} == {
        ("numpy", "1.26.4"), ("oldlib", "1.0")}
    assert again["problem_details"] == []
    # Delete: positively identified (pyvenv.cfg), so removable.
    plan = envtui_json("rm", str(broken), "--dry-run")
    assert plan["refused"] == [] and plan["dry_run"] is True
    assert str(broken) in json.dumps(plan)

    @run_async
    async def tui() -> None:
        app = real_app(home)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, InventoryScreen)
            screen.show_environment(next(e for e in screen.environments
                                         if e.path == str(broken)))
            await pilot.pause()
            assert {p.name for p in highlighted(app).packages} == {"numpy", "oldlib"}
            assert "✗ broken: base interpreter missing" in shown_problems(app)
            await pilot.press("f")

            def status() -> str:
                return str(app.screen.query_one("#fix-text", Static).render())

            await until(pilot, lambda: isinstance(app.screen, FixScreen)
                        and "Failed" in status(), "the fix screen to refuse")
            assert "envtui cannot fix it: recreate it" in status()
            assert f"or delete it (`envtui rm {broken}`)" in status()
            fix = app.screen
            assert isinstance(fix, FixScreen) and fix.proposal is None

    tui()


# --------------------------------------------------------------------------- case 3

PROBE = "probe.mark"


class Probe(Inspector):
    """Notes every directory the walk lists (each one in the test tree holds PROBE) and
    claims none of them: what the walk visited, in order, repeats included."""

    kind = EnvKind.VENV
    markers = frozenset({PROBE})

    def __init__(self) -> None:
        self.visited: list[str] = []
        self._lock = threading.Lock()

    def locate(self, ctx: ScanContext) -> Iterator[Location]:
        return iter(())

    def identify(self, path: Path) -> Location | None:
        with self._lock:
            self.visited.append(str(path))
        return None

    def fingerprint(self, loc: Location) -> str | None:
        return None

    def read(self, loc: Location) -> Environment:
        raise AssertionError("the walk only finds")


def test_case_03_symlink_loops_and_a_link_to_root(home: Path, tmp_path: Path) -> None:
    root = tmp_path / "scanroot"
    outside = tmp_path / "outside"
    deep = root.joinpath(*(f"d{i}" for i in range(1, 7)))
    for d in (root / "a" / "c", root / "proj", deep, outside):
        d.mkdir(parents=True, exist_ok=True)
    for d in [root, root / "a", root / "a" / "c", root / "proj", outside,
              *(deep.parents[i] for i in range(5)), deep]:
        (d / PROBE).touch()
    (root / "a" / "b").symlink_to("..")             # a/b -> ..
    (root / "a" / "c" / "up").symlink_to("../..")   # a loop two levels long
    (root / "to-root").symlink_to("/")
    (root / "out").symlink_to(outside)
    make_venv(root / "proj" / ".venv")
    make_venv(outside / ".venv")                    # only reachable through links
    make_venv(deep / "too-deep")                    # depth 7: past the default cap of 6

    # The walk itself, seen through a probe: roots overlap (root/a is inside root).
    probe = Probe()
    ctx = ScanContext(home=home, environ={}, max_depth=3)
    started = time.monotonic()
    found = walk(ctx, [root, root / "a"], [probe, VenvInspector()], None, lambda: False)
    assert time.monotonic() - started < 10
    assert [loc.ref for loc in found] == [str(root / "proj" / ".venv")]
    identities = [(os.stat(p).st_dev, os.stat(p).st_ino) for p in probe.visited]
    assert len(identities) == len(set(identities)), "a directory was listed twice"
    within_cap = [root, root / "a", root / "a" / "c", root / "proj",
                  root / "d1", root / "d1" / "d2", root / "d1" / "d2" / "d3"]
    assert sorted(probe.visited) == sorted(map(str, within_cap))
    assert ctx.problems == ()

    # The command, with the default depth cap: it ends, and finds what is inside only.
    started = time.monotonic()
    listing = envtui_json("list", "--no-home", "--root", str(root), "--root", str(root / "a"),
                          "--kind", "venv", "--no-cache")
    assert time.monotonic() - started < 60
    assert [e["path"] for e in listing] == [str(root / "proj" / ".venv")]


# --------------------------------------------------------------------------- case 4


def test_case_04_permission_denied_directories(home: Path, wheelhouse: Path) -> None:
    code = home / "code"
    hidden = make_venv(code / "locked" / "hidden-env")
    app = make_venv(code / "app" / ".venv", "uv")
    uv_install(app, wheelhouse, "oldlib", "numpy==1.26.4", "tinydep")
    sealed = make_venv(code / "sealed" / ".venv", "uv")
    uv_install(sealed, wheelhouse, "tinydep")
    sp, sealed_sp = site_packages(app), site_packages(sealed)
    denied = [code / "locked",                      # in the scan roots
              sp / "numpy-1.26.4.dist-info",        # a distribution's metadata
              sp / "tinydep",                       # a package's code
              sealed_sp]                            # a whole site-packages
    for d in denied:
        d.chmod(0)
    try:
        proc = envtui("list", "--kind", "venv", "--no-cache", "--json", as_user=True)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr == f"envtui: {code / 'locked'}: unreadable (Permission denied)\n"
        listing = {e["path"]: e for e in json.loads(proc.stdout)}
        assert set(listing) == {str(app), str(sealed)}
        assert str(hidden) not in proc.stdout

        shown = envtui_json("show", str(app), as_user=True)
        assert package_problems(shown) == {
            "numpy": [("unreadable", f"{sp}/numpy-1.26.4.dist-info: unreadable "
                                     "(Permission denied)")],
            "oldlib": [], "tinydep": []}
        assert problems_of(shown) == [
            ("unreadable", f"{sp}/tinydep: unreadable (Permission denied)"),
            ("unreadable", f"{sp}/numpy-1.26.4.dist-info: unreadable (Permission denied)")]
        assert problems_of(envtui_json("show", str(sealed), as_user=True)) == [
            ("unreadable", f"{sealed_sp}: unreadable (Permission denied)")]
        # The rest works as ever: oldlib's numpy<2 is met, nothing else is wrong.
        roots = envtui_json("tree", str(app), as_user=True)
        assert all_names(roots) == {"numpy", "oldlib", "tinydep"}
        checked = envtui_json("check", str(app), str(sealed), code=1, as_user=True)
        assert sorted((p["env"], p["kind"]) for p in checked) == sorted([
            (str(app), "unreadable"), (str(app), "unreadable"), (str(sealed), "unreadable")])
    finally:
        for d in denied:
            d.chmod(0o755)


# --------------------------------------------------------------------------- case 6

BAD_REQUIRES = 'pip; python_version == "3.4";extra == "test"'
BAD_EDGE = "gone (>=1.0"
"""Unparseable, and naming a package that is not installed: read leniently, it would turn
into a "missing" problem."""


def _malformed(sp: Path) -> None:
    """The five malformations of the checklist, as a broken build or a hand edit leaves them."""
    dist_info(sp, "noname-1.0.dist-info", "Metadata-Version: 2.1\nVersion: 1.0\n\n")
    dist_info(sp, "snapshot-1.0.dist-info",
              "Metadata-Version: 2.1\nName: snapshot\nVersion: 1.0-SNAPSHOT\n\n")
    dist_info(sp, "badreq-1.0.dist-info",
              "Metadata-Version: 2.1\nName: badreq\nVersion: 1.0\n"
              f"Requires-Dist: {BAD_REQUIRES}\nRequires-Dist: {BAD_EDGE}\n"
              "Requires-Dist: tinydep>=0.1\n\n")
    dist_info(sp, "latin-1.0.dist-info",
              b"Metadata-Version: 2.1\nName: latin\nVersion: 1.0\nSummary: caf\xe9\n\n")
    dist_info(sp, "huge-1.0.dist-info", "Metadata-Version: 2.1\nName: huge\nVersion: 1.0\n"
              + "Classifier: x\n" * 750_000)  # a 10 MB header


def test_case_06_malformed_metadata(home: Path, wheelhouse: Path) -> None:
    env = make_venv(home / "code" / "messy" / ".venv", "uv")
    uv_install(env, wheelhouse, "--no-deps", "oldlib", "numpy==2.1.0", "tinydep")
    sp = site_packages(env)
    _malformed(sp)
    assert (sp / "huge-1.0.dist-info" / "METADATA").stat().st_size > 10_000_000
    invalid = {
        "noname": "noname-1.0.dist-info: missing Name",
        "snapshot": "snapshot-1.0.dist-info: invalid version '1.0-SNAPSHOT'",
        "badreq": [f"badreq-1.0.dist-info: unparseable Requires-Dist {BAD_REQUIRES!r}",
                   f"badreq-1.0.dist-info: unparseable Requires-Dist {BAD_EDGE!r}"],
        "latin": "latin-1.0.dist-info: metadata is not valid UTF-8",
        "huge": "huge-1.0.dist-info: metadata header longer than 1048576 bytes",
    }
    badges = {name: [("invalid-metadata", d) for d in ([x] if isinstance(x, str) else x)]
              for name, x in invalid.items()}

    # The badge: each malformed dist is listed, with its invalid-metadata problem.
    shown = envtui_json("show", str(env))
    assert package_problems(shown) == {**badges, "numpy": [], "oldlib": [], "tinydep": []}
    assert {p["name"]: p["version"] for p in shown["packages"]}["snapshot"] == "1.0-SNAPSHOT"
    # The tree renders every package; badreq keeps its one good edge.
    roots = envtui_json("tree", str(env))
    assert all_names(roots) == {"badreq", "huge", "latin", "noname", "numpy", "oldlib",
                                "snapshot", "tinydep"}
    [badreq] = [r for r in roots if r["name"] == "badreq"]
    assert [(c["name"], c["required"]) for c in badreq["children"]] == [("tinydep", ">=0.1")]
    # Checking ignores the bad edges (no "missing gone", no "missing pip") and reports them.
    checked = [(p["kind"], p["detail"]) for p in envtui_json("check", str(env), code=1)]
    assert sorted(checked) == sorted(
        [b for bs in badges.values() for b in bs]
        + [("conflict", "oldlib 1.0 requires numpy<2, but numpy 2.1.0 is installed")])
    # So does the resolver behind `fix`: it plans around them and says what it ignored.
    proc = envtui("fix", str(env), "--find-links", str(wheelhouse), "--no-index", "--dry-run",
                  "--json")
    assert proc.returncode == 1, proc.stderr
    plans = json.loads(proc.stdout)["plans"]
    assert plans[0]["actions"] == [
        {"name": "numpy", "from": "2.1.0", "to": "1.26.4", "action": "downgrade"}]
    assert proc.stderr.splitlines() == [
        "envtui: warning: snapshot '1.0-SNAPSHOT' has an invalid version; left as it is",
        f"envtui: warning: ignored badreq 1.0's unparsable requirement {BAD_REQUIRES!r}",
        f"envtui: warning: ignored badreq 1.0's unparsable requirement {BAD_EDGE!r}",
    ]

    @run_async
    async def tui() -> None:
        app = real_app(home)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            problems = shown_problems(app)
            for bs in badges.values():
                for _, detail in bs:
                    assert f"✗ {detail}" in problems
            table = app.screen.query_one(PackageTable)
            badge = component_text_style(table, "package-table--problem")
            rows = {str(table.get_row_at(i)[0]): table.get_row_at(i)
                    for i in range(table.row_count)}
            assert {n for n, row in rows.items() if row[0].style == badge} == set(badges)
            tree = await open_tree(pilot)
            lines = await expand_all(pilot, tree)
            assert {line.split()[0] for line in lines} >= {
                "badreq", "huge", "latin", "noname", "snapshot"}
            assert "  tinydep 0.3  required: >=0.1" in lines

    tui()


# --------------------------------------------------------------------------- case 7


def test_case_07_duplicate_dists_in_two_path_entries(home: Path, tmp_path: Path,
                                                     wheelhouse: Path) -> None:
    old = tmp_path / "old-wheels"
    build_wheel(old, "tinydep", "0.1")
    env = make_venv(home / "code" / "dup" / ".venv", "uv")
    uv_install(env, wheelhouse, "tinydep==0.3")
    # lib64/ as a directory of its own (as on distributions whose platlibdir is lib64),
    # holding another tinydep installed there by pip.
    lib64 = env / "lib64"
    if lib64.is_symlink():
        lib64.unlink()
    second = lib64 / f"python{PY}" / "site-packages"
    second.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index",
                    "--find-links", str(old), "--target", str(second), "tinydep==0.1"],
                   check=True, capture_output=True, stdin=subprocess.DEVNULL)
    first = site_packages(env)
    warning = ("duplicate", f"tinydep is installed twice: 0.3 ({first}/tinydep-0.3.dist-info) "
                            f"and 0.1 ({second}/tinydep-0.1.dist-info); using the first")

    shown = envtui_json("show", str(env), "--no-cache")
    assert shown["details"]["site_packages"] == [str(first), str(second)]
    assert [(p["name"], p["version"]) for p in shown["packages"]] == [("tinydep", "0.3")]
    assert problems_of(shown) == [warning]
    assert [(p["kind"], p["detail"]) for p in envtui_json("check", str(env), code=1)] == [
        warning]
    # pipdeptree, given the same path order, warns and keeps the same one.
    proc = subprocess.run([sys.executable, "-m", "pipdeptree", "--path", str(first),
                           "--path", str(second), "-o", "json", "-w", "silence"],
                          capture_output=True, text=True, check=True)
    assert [p["package"]["installed_version"] for p in json.loads(proc.stdout)] == ["0.3"]
    # Deterministic: which was installed or touched last does not matter.
    for d in (first / "tinydep-0.3.dist-info", second / "tinydep-0.1.dist-info"):
        os.utime(d)
        again = envtui_json("show", str(env), "--no-cache")
        assert [(p["name"], p["version"]) for p in again["packages"]] == [("tinydep", "0.3")]
        assert problems_of(again) == [warning]


# --------------------------------------------------------------------------- case 8


def test_case_08_incomplete_dist_info(home: Path, wheelhouse: Path) -> None:
    env = make_venv(home / "code" / "partial" / ".venv", "uv")
    uv_install(env, wheelhouse, "--no-deps", "oldlib", "numpy==2.1.0", "tinydep")
    sp = site_packages(env)
    # What an installer killed at the wrong moment leaves: a dist-info made and not filled,
    # a RECORD never written, a RECORD cut off in the middle of a row.
    (sp / "ghost-1.0.dist-info").mkdir()
    (sp / "numpy-2.1.0.dist-info" / "RECORD").unlink()
    record = sp / "tinydep-0.3.dist-info" / "RECORD"
    whole = record.read_bytes()
    record.write_bytes(whole[: len(whole) // 2 + 3])
    assert not record.read_bytes().endswith(b"\n")
    flagged = {
        "ghost": "ghost-1.0.dist-info: METADATA missing (incomplete install)",
        "numpy": "numpy-2.1.0.dist-info: RECORD missing (incomplete install)",
        "tinydep": "tinydep-0.3.dist-info: RECORD truncated (incomplete install)",
    }

    shown = envtui_json("show", str(env), "--no-cache")
    assert package_problems(shown) == {
        **{n: [("incomplete", d)] for n, d in flagged.items()}, "oldlib": []}
    # oldlib needs numpy<2. Downgrading numpy would uninstall it, which its missing RECORD
    # forbids: the only plan left removes oldlib, and nothing incomplete is touched.
    proc = envtui("fix", str(env), "--find-links", str(wheelhouse), "--no-index",
                  "--dry-run", "--json")
    assert proc.returncode == 1, proc.stderr
    plans = json.loads(proc.stdout)["plans"]
    assert [p["actions"] for p in plans] == [
        [{"name": "oldlib", "from": "1.0", "to": None, "action": "remove"}]]
    # The remedy offered for each: a reinstall.
    assert proc.stderr.splitlines() == [
        f"envtui: warning: {flagged[name]}: envtui will not upgrade, downgrade or remove "
        f"{name}; reinstall it first ({command})"
        for name, command in [
            ("ghost", f"pip --python {env} install --force-reinstall --no-deps ghost==1.0"),
            ("numpy", f"uv pip install --python {env} --reinstall --no-deps numpy==2.1.0"),
            ("tinydep",
             f"uv pip install --python {env} --reinstall --no-deps tinydep==0.3")]]
    # Holding numpy where it is leaves no plan at all, rather than one that touches it.
    proc = envtui("fix", str(env), "--find-links", str(wheelhouse), "--no-index",
                  "--dry-run", "--json", "--keep", "oldlib")
    assert proc.returncode == 1, proc.stderr
    out = json.loads(proc.stdout)
    assert out["plans"] == []
    assert out["explanation"].startswith(
        "numpy 2.1.0 is incomplete (reinstall it first), so envtui holds numpy==2.1.0; "
        "oldlib 1.0 requires numpy<2")


# --------------------------------------------------------------------------- case 9


def test_case_09_pip_interrupt_leftovers(home: Path, wheelhouse: Path) -> None:
    env = make_venv(home / "code" / "cut" / ".venv", "venv")
    pip_install(env, wheelhouse, "tinydep", "oldlib", "numpy==1.26.4")
    sp = site_packages(env)
    # pip stashes what it replaces beside it under "~" + the name's tail; Ctrl-C during an
    # upgrade leaves the stash behind (its uninstall guard does not catch it).
    (sp / "tinydep").rename(sp / "~inydep")
    (sp / "tinydep-0.3.dist-info").rename(sp / "~inydep-0.3.dist-info")
    why = "leftover of an interrupted pip transaction"
    expected = [("interrupted", f"~inydep: {why}"),
                ("interrupted", f"~inydep-0.3.dist-info: {why}")]

    shown = envtui_json("show", str(env), "--no-cache")
    assert [p["name"] for p in shown["packages"]] == ["numpy", "oldlib"]
    assert problems_of(shown) == expected
    assert [(p["kind"], p["detail"]) for p in envtui_json("check", str(env), code=1)] \
        == expected
    # pip itself also refuses to take it for a package.
    proc = subprocess.run([sys.executable, "-m", "pip", "list", "--path", str(sp)],
                          capture_output=True, text=True, check=True)
    assert "Ignoring invalid distribution ~inydep" in proc.stderr
    assert "inydep" not in proc.stdout


# --------------------------------------------------------------------------- case 13


def test_case_13_dependency_cycles(home: Path, tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "cyc-a", "1.0", requires=["cyc-b"])
    build_wheel(wheels, "cyc-b", "1.0", requires=["cyc-a>=1"])
    build_wheel(wheels, "tri-a", "1.0", requires=["tri-b[x]"])
    build_wheel(wheels, "tri-b", "1.0", requires=["tri-c; extra == 'x'"])
    build_wheel(wheels, "tri-c", "1.0", requires=["tri-a"])
    env = make_venv(home / "code" / "loops" / ".venv", "uv")
    uv_install(env, wheels, "cyc-a", "tri-a")  # uv resolves the cycles itself
    names = {"cyc-a", "cyc-b", "tri-a", "tri-b", "tri-c"}

    # Nothing is a root, so each package heads a tree that ends where it comes back.
    roots = envtui_json("tree", str(env))
    assert [r["name"] for r in roots] == sorted(names)

    def chain(node: dict[str, Any]) -> list[tuple[str, bool]]:
        (child,) = node["children"] or [None]
        return [(node["name"], node["cycle"]), *(chain(child) if child else [])]

    by_root = {r["name"]: chain(r) for r in roots}
    assert by_root["cyc-a"] == [("cyc-a", False), ("cyc-b", False), ("cyc-a", True)]
    assert by_root["tri-a"] == [("tri-a", False), ("tri-b", False), ("tri-c", False),
                                ("tri-a", True)]
    assert by_root["tri-b"][-1] == ("tri-b", True)
    text = envtui("tree", str(env))
    assert text.returncode == 0, text.stderr
    assert "        └── tri-a [required: Any, installed: 1.0] !cycle" in \
        text.stdout.splitlines()
    checked = [(p["kind"], p["detail"]) for p in envtui_json("check", str(env), code=1)]
    assert checked == [("cycle", "dependency cycle: cyc-a -> cyc-b -> cyc-a"),
                       ("cycle", "dependency cycle: tri-a -> tri-b -> tri-c -> tri-a")]
    fixed = envtui_json("fix", str(env), "--find-links", str(wheels), "--no-index",
                        "--dry-run")
    assert fixed["plans"] == []  # a cycle is legal: nothing to fix
    for fmt, suffix in [("requirements", "txt"), ("environment-yml", "yml"),
                        ("pylock", "toml")]:
        out = tmp_path / f"loops.{fmt}.{suffix}"
        proc = envtui("export", str(env), "--format", fmt, "-o", str(out),
                      "--find-links", str(wheels), "--no-index")  # pylock pins the files
        assert proc.returncode == 0, proc.stderr
        assert all(name in out.read_text() for name in names), fmt

    @run_async
    async def tui() -> None:
        app = real_app(home)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            # One entry per cycle nothing else requires; opening everything stops at the
            # package met again on its own path.
            assert await expand_all(pilot, await open_tree(pilot)) == [
                "cyc-a 1.0",
                "  cyc-b 1.0",
                "    cyc-a 1.0  required: >=1  ↻ cycle",
                "tri-a 1.0",
                "  tri-b 1.0",
                "    tri-c 1.0",
                "      tri-a 1.0  ↻ cycle",
            ]

    tui()
