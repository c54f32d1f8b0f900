"""End to end: the README's `envtui --demo` in a real terminal (tmux), used like a user would.

The demo builds its sandbox of real environments (in a temporary directory given with
`--demo-dir`, which is kept, so the test can look at the disk afterwards) and opens the app
on it. The test reads the screen with capture-pane and types with send-keys: it finds the
NumPy conflict in `analysis`'s dependency tree, applies the first fix plan, removes the
stale environment after its preview and question, reads the help and the cleanup view, and
quits. See tests/tmux.py for how the app is started and how tmux is driven.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.tmux import Tmux, envtui_command, terminal_env, tmux_binary

VENVS = ("analysis", "analysis-copy", "broken-env", "linttool", "old-experiment",
         "reportgen-AbCdEf12-py3.11", "webapp")
CONDA = ("base", "science")
START = 180  # seconds: `./dev app` may set up .venv, then the sandbox is built
SLOW = 120  # seconds: applying a fix runs uv


class Demo:
    """The demo app running in tmux, and where its sandbox is."""

    def __init__(self, tmux: Tmux, sandbox: Path, status: Path) -> None:
        self.tmux = tmux
        self.sandbox = sandbox
        self.status = status

    def start(self, width: int, height: int) -> str:
        """Open `envtui --demo` and wait for the complete inventory."""
        args = ["--demo", "--demo-dir", str(self.sandbox)]
        self.tmux.start(envtui_command(args, self.status), width, height)
        self.tmux.wait_for(lambda s: "9 environments ·" in s and "Scanning" not in s,
                           "the demo's inventory", timeout=START)
        # The status line can be drawn a frame before the table's rows: wait for those too.
        return self.tmux.wait_for(
            lambda s: "Virtual environments (7)" in s and "analysis" in table_names(s),
            "the inventory table", timeout=10)

    @property
    def venvs(self) -> Path:
        return self.sandbox / "home" / ".virtualenvs"


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    binary = tmux_binary()
    home = tmp_path / "home"  # only for `./dev`: the demo makes its own HOME in the sandbox
    home.mkdir()
    tmux = Tmux(binary, terminal_env(home, tmp_path / "no-docker.sock"))
    try:
        yield Demo(tmux, tmp_path / "sandbox", tmp_path / "exit-status")
    finally:
        tmux.kill_server()


def _boxes(screen: str) -> list[list[str]]:
    """The lines inside each bordered box (╭ ... ╰) of the screen, top to bottom."""
    boxes: list[list[str]] = []
    inside: list[str] | None = None
    for line in screen.splitlines():
        stripped = line.strip()
        if stripped.startswith("╭"):
            inside = []
        elif stripped.startswith("╰") and inside is not None:
            boxes.append(inside)
            inside = None
        elif inside is not None:
            inside.append(stripped.strip("│ "))
    return boxes


def table_names(screen: str) -> list[str]:
    """The names in the inventory table (its first box), in order, headings left out."""
    boxes = _boxes(screen)
    if not boxes:
        return []
    names = []
    for row in boxes[0][1:]:  # the first row holds the column titles
        name = row.split("  ")[0].strip()
        if name and not re.search(r"environments \(\d+\)$", name):
            names.append(name)
    return names


def detail_heading(screen: str) -> str:
    """The name the detail pane (the second box) is about: the highlighted environment."""
    boxes = _boxes(screen)
    if len(boxes) < 2 or not boxes[1]:
        return ""
    words = boxes[1][0].split()
    return words[0] if words else ""


def changed(was: str, view: Callable[[str], str] = str) -> Callable[[str], bool]:
    """A wait_for predicate: `view` of the screen is no longer `was`."""
    return lambda screen: view(screen) != was


def highlight(tmux: Tmux, name: str) -> str:
    """Move the table's cursor with the arrow keys to the environment `name`."""
    for _ in range(20):
        screen = tmux.screen()
        current = detail_heading(screen)
        if current == name:
            return screen
        names = table_names(screen)
        assert name in names, f"{name} is not in the table:\n{screen}"
        up = current in names and names.index(current) > names.index(name)
        tmux.keys("Up" if up else "Down")
        tmux.wait_for(changed(current, detail_heading), "the detail pane to follow the cursor",
                      timeout=10)
    raise AssertionError(f"could not reach {name}; the screen was:\n{tmux.screen()}")


def type_filter(tmux: Tmux, text: str) -> None:
    """`/`, wait for the cursor to be in the filter (as a user sees it move), type `text`."""
    tmux.keys("/")
    tmux.wait_for(lambda s: "Clear filter" in s, "the filter to take the cursor", timeout=10)
    tmux.type(text)


def table_has_focus(tmux: Tmux, name: str) -> bool:
    """Whether the table has the focus with its cursor on `name`: Textual draws the cursor
    row of a focused table bold (a blurred one is only shaded)."""
    for line in tmux.styled_screen().splitlines():
        plain = re.sub(r"\x1b\[[0-9;]*m", "", line)
        if re.match(rf"│\s+{re.escape(name)}\s", plain):
            before = line[:line.index(name)]
            return "\x1b[1m" in before[before.rfind("│"):]
    return False


def problem_envs(screen: str) -> list[str]:
    """The environments the problems view lists (a heading line per environment)."""
    return [m.group(1) for line in screen.splitlines()
            if (m := re.match(r"│ (\S+)\s+(?:venv|conda) · ", line.strip()))]


def test_demo_in_a_real_terminal(demo: Demo) -> None:
    tmux = demo.tmux

    # 1. the inventory: every environment of the demo, grouped, with the status line
    demo.start(120, 36)
    screen = tmux.wait_for(lambda s: set(table_names(s)) == {*VENVS, *CONDA},
                           "every environment of the demo in the table", timeout=10)
    assert "demo sandbox" in screen
    assert "Virtual environments (7)" in screen and "Conda environments (2)" in screen
    assert "9 environments · " in screen and "3 to clean up" in screen
    assert "Scan failed" not in screen and "Traceback" not in screen

    # 2. the arrow keys move the detail pane along; analysis's tree shows the conflict
    highlight(tmux, "analysis-copy")
    screen = highlight(tmux, "analysis")
    assert "~/.virtualenvs/analysis" in screen
    tmux.keys("t")
    screen = tmux.wait_for(
        lambda s: "analysis · dependencies" in s and "Problems (1)" in s
        and "plotkit 2.0 requires numpy>=2, but numpy 1.26.4 is installed" in s
        and "tablekit 1.0" in s, "analysis's dependency tree and its problem")
    assert "plotkit 2.0" in screen
    tmux.keys("Enter")  # expand plotkit: the conflict is flagged on its numpy
    screen = tmux.wait_for(lambda s: "plotkit requires numpy>=2" in s,
                           "the conflict under plotkit")
    assert re.search(r"numpy 1\.26\.4\s+✗ plotkit requires numpy>=2", screen), screen
    tmux.keys("Escape")
    tmux.wait_for(lambda s: "9 environments ·" in s, "the inventory again")

    # `p` checks every environment: analysis and its copy have the conflict
    tmux.keys("p")  # (the list can be drawn a frame after its heading: wait for it all)
    screen = tmux.wait_for(
        lambda s: {"analysis", "analysis-copy", "broken-env"} <= set(problem_envs(s)),
        "the problems view")
    assert re.search(r"3 problems in 3 of 9 environments", screen), screen
    tmux.keys("Escape")
    tmux.wait_for(lambda s: "9 environments ·" in s, "the inventory again")

    # 3. `f`: the plans; Enter asks (No by default), `y` applies the first one
    assert detail_heading(tmux.screen()) == "analysis"
    tmux.keys("f")
    screen = tmux.wait_for(
        lambda s: "1. upgrade numpy 1.26.4 -> 2.1.0" in s
        and "2. downgrade plotkit 2.0 -> 1.5" in s, "the fix plans for analysis", timeout=SLOW)
    assert "fix · analysis" in screen
    assert "plotkit 2.0 requires numpy>=2, but numpy 1.26.4 is installed" in screen
    tmux.keys("Enter")
    tmux.wait_for(lambda s: "Apply plan 1 to analysis?" in s and "Yes" in s, "the question")
    tmux.keys("y")
    tmux.wait_for(lambda s: "applied and verified" in s, "the fix to be applied", timeout=SLOW)
    screen = tmux.wait_for(lambda s: "Nothing to fix" in s, "the plans to be recomputed",
                           timeout=SLOW)
    assert "Traceback" not in screen
    site = next(demo.venvs.glob("analysis/lib/python*/site-packages"))
    assert (site / "numpy-2.1.0.dist-info").is_dir()
    assert (site / "tablekit-1.4.dist-info").is_dir()
    tmux.keys("Escape")  # back; the inventory is rescanned
    screen = tmux.wait_for(
        lambda s: "9 environments ·" in s and "Rescanning" not in s
        and re.search(r"numpy\s+2\.1\.0", s) is not None,
        "the rescanned inventory with analysis fixed", timeout=60)
    assert detail_heading(screen) == "analysis"
    tmux.keys("p")
    screen = tmux.wait_for(lambda s: {"analysis-copy", "broken-env"} <= set(problem_envs(s)),
                           "the problems view after the fix")
    assert "analysis" not in problem_envs(screen)
    assert "2 problems in 2 of 9 environments" in screen
    tmux.keys("Escape")
    tmux.wait_for(lambda s: "9 environments ·" in s, "the inventory again")

    # 4. the stale environment: filter, `x`, the preview, Enter, the question, `y`
    stale = demo.venvs / "old-experiment"
    assert (stale / "pyvenv.cfg").is_file()
    type_filter(tmux, "is:stale")
    tmux.wait_for(lambda s: "1 of 9 environments match" in s
                  and table_names(s) == ["old-experiment"], "the is:stale filter")
    tmux.keys("Enter")  # back to the table (once its cursor row lights up)
    tmux.wait_for(lambda s: detail_heading(s) == "old-experiment", "old-experiment's detail")
    tmux.wait_for(lambda _: table_has_focus(tmux, "old-experiment"), "the table's focus",
                  timeout=10)
    tmux.keys("x")
    screen = tmux.wait_for(
        lambda s: "Remove 1 environment" in s and "Enter asks" in s and "pyvenv.cfg" in s,
        "the removal preview")
    assert "identified by" in screen
    assert re.search(r"✓\s+~/\.virtualenvs/old-experiment\s+\d+(\.\d+)? [kMG]?B", screen), screen
    assert stale.exists()  # a preview removes nothing
    tmux.keys("Enter")
    tmux.wait_for(lambda s: "This cannot be undone." in s and "Yes" in s, "the question")
    tmux.keys("y")
    tmux.wait_for(lambda s: "Removed 1" in s, "the removal", timeout=60)
    assert not stale.exists()
    assert (demo.venvs / "analysis" / "pyvenv.cfg").is_file()  # nothing else went
    tmux.keys("Escape")  # back; the inventory is rescanned
    tmux.wait_for(lambda s: "0 of 8 environments match" in s, "the rescan without it")
    tmux.keys("Escape")  # clear the filter
    screen = tmux.wait_for(
        lambda s: "8 environments ·" in s
        and set(table_names(s)) == {*VENVS, *CONDA} - {"old-experiment"},
        "every other environment")
    assert "old-experiment" not in screen

    # 5. `?` lists the keys (scrolling through them), `c` the cleanup view, `q` quits
    tmux.keys("?")
    seen = page = tmux.wait_for(lambda s: "Keys: " in s, "the help")
    for _ in range(8):
        if all(key in seen for key in ("Delete", "Cleanup", "Sort", "Quit")):
            break
        tmux.keys("PageDown")
        try:
            page = tmux.wait_for(changed(page), "the help to scroll", timeout=3)
        except AssertionError:
            continue  # its end (or a key pressed before the list took the focus)
        seen += page
    for key in ("Filter", "Tree", "Fix", "Delete", "Cleanup", "Sort", "Quit"):
        assert key in seen, f"the help does not list {key}:\n{seen}"
    tmux.keys("Escape")
    tmux.wait_for(lambda s: "Keys: " not in s and "8 environments ·" in s, "the help to close")

    tmux.keys("c")
    screen = tmux.wait_for(
        lambda s: "reclaimable" in s and "Cleanup candidates (" in s
        and "base interpreter missing" in s, "the cleanup view", timeout=60)
    assert "Disk use" in screen and "broken-env" in screen
    tmux.keys("Escape")
    tmux.wait_for(lambda s: "8 environments ·" in s and "Disk use" not in s, "the inventory")

    tmux.keys("q")
    assert tmux.wait_exit(demo.status) == "0"
    assert (demo.sandbox / "home").is_dir()  # --demo-dir keeps the sandbox


def test_demo_in_a_small_terminal(demo: Demo) -> None:
    """At 80x24 the inventory still fits its status line; the arrow keys reach the conda
    environments below the fold."""
    tmux = demo.tmux
    screen = demo.start(80, 24)
    assert "9 environments · " in screen
    assert "Virtual environments (7)" in screen
    assert {"analysis", "broken-env", "old-experiment"} <= set(table_names(screen))
    for _ in range(12):
        tmux.keys("Down")
    screen = tmux.wait_for(lambda s: detail_heading(s) == "science", "science's detail")
    assert {"base", "science"} <= set(table_names(screen))
    assert "conda" in screen
    tmux.keys("q")
    assert tmux.wait_exit(demo.status) == "0"
