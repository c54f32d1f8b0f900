"""`envtui --demo`: build (or reuse) a sandbox of sample environments and open the app on it."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from envtui.demo.context import demo_context, demo_sources, enter_sandbox, sandbox_loader
from envtui.demo.sandbox import Sandbox, build_sandbox
from envtui.demo.venvs import DemoBuildError

if TYPE_CHECKING:
    from envtui.tui.app import EnvtuiApp

EXIT_OK, EXIT_USAGE = 0, 2


def _progress(line: str) -> None:
    print(f"envtui demo: {line}", file=sys.stderr, flush=True)


def open_demo(demo_dir: Path | None) -> int:
    """Open the app on a demo sandbox; the exit status for the command line.

    None: a fresh temporary sandbox, removed at exit (also on Ctrl-C or an error). A
    directory: built there unless it already holds a sandbox, and kept.
    """
    if demo_dir is not None:
        return _build_and_run(demo_dir)
    root = Path(tempfile.mkdtemp(prefix="envtui-demo-"))
    try:
        return _build_and_run(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _build_and_run(root: Path) -> int:
    try:
        sb = build_sandbox(root, _progress)
    except DemoBuildError as e:
        print(f"envtui: demo: {e}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:
        print(f"envtui: demo: {e.filename or root}: {e.strerror or e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("envtui: demo: interrupted while building the sandbox", file=sys.stderr)
        return 130
    print(f"envtui demo: the sandbox is {sb.root} (HOME {sb.home}, wheels {sb.wheels})",
          file=sys.stderr, flush=True)
    return run_app(sb)


def demo_app(sb: Sandbox) -> EnvtuiApp:
    """The app on the sandbox; call `enter_sandbox` first so installs and caches stay in it."""
    from envtui.tui.app import EnvtuiApp

    app = EnvtuiApp(demo_context(sb), loader=sandbox_loader(sb), index_options=demo_sources(sb))
    app.sub_title = "demo sandbox: nothing of yours is shown or touched"
    return app


def run_app(sb: Sandbox) -> int:
    """The app on the sandbox, in this process (whose environment now points inside it)."""
    enter_sandbox(sb)
    demo_app(sb).run()
    return EXIT_OK
