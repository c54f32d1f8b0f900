"""`envtui --demo`: a sandbox of real sample environments to try every workflow on.

`open_demo` is the command-line entry; `build_sandbox`, `demo_context` and `demo_sources`
are the parts (tests use them to check the sandbox with the real scan).
"""

from envtui.demo.context import demo_context, demo_environ, demo_sources
from envtui.demo.run import open_demo
from envtui.demo.sandbox import Sandbox, build_sandbox
from envtui.demo.venvs import DemoBuildError

__all__ = ["DemoBuildError", "Sandbox", "build_sandbox", "demo_context", "demo_environ",
           "demo_sources", "open_demo"]
