"""Trees in pipdeptree's other formats (mermaid, graphviz dot, CycloneDX JSON).

pipdeptree renders them from the environment's site-packages, named with `--path`: it
reads the metadata there. It is never given `--python`, which would run the inspected
environment's interpreter. Environments with no site-packages on this disk (Docker
images and containers) cannot be rendered this way.
"""

from __future__ import annotations

import subprocess
import sys

from envtui.model import Environment

FORMATS = {"mermaid": "mermaid", "dot": "graphviz-dot", "cyclonedx-json": "cyclonedx-json"}
"""envtui's name for each format -> pipdeptree's `-o` value."""


class RenderError(Exception):
    """The tree cannot be rendered in that format; the message says why, in one line."""


def render_with_pipdeptree(env: Environment, fmt: str, *, reverse: bool = False,
                           package: str | None = None) -> str:
    """pipdeptree's rendering of `env`'s tree in `fmt` (one of FORMATS)."""
    sites = env.details.get("site_packages") or []
    if not env.path or not sites:
        raise RenderError(f"--format {fmt} needs an environment with its site-packages on "
                          f"this disk ({env.ref} has none); use --json or the text tree")
    # -P: never import from the current directory (a `pipdeptree/` there would run).
    cmd = [sys.executable, "-P", "-m", "pipdeptree", "-o", FORMATS[fmt]]
    for sp in sites:
        cmd += ["--path", sp]
    if reverse:
        cmd.append("--reverse")
    if package:
        cmd += ["--packages", package]
    try:
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RenderError(f"pipdeptree could not run: {e}") from None
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["no message"])[0]
        raise RenderError(f"pipdeptree failed: {first}")
    return proc.stdout
