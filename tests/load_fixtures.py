"""Big machines for the load tests (tests/test_load.py), built with the real tools, offline.

`build_many` makes COUNT real venvs with `uv venv`, each filled by `uv pip install` from a
wheelhouse of real wheels (tests/wheels.py), the way a user's home fills up over the years.
The dependency graph is known, so the answer to `envtui check` is known too: every
`BROKEN_EVERY`-th environment lacks one dependency.

The enormous environment (RELIABILITY case 5) is benchmarks/inventory.py's `build_enormous`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import offline_env
from tests.envfactory import site_packages, uv_bin
from tests.wheels import build_wheel

BLOCKS = 10
"""Chains of wheels in the wheelhouse; each environment holds one whole chain."""
CHAIN = 10
"""Wheels per chain: each requires the one before it, so trees are CHAIN deep."""
EXTRAS = 2
"""Heads of other chains (no dependencies) added to each environment."""
BROKEN_EVERY = 50
"""Every environment whose index is 7 modulo this lacks the first wheel of its chain."""
BUILDERS = 4
"""Environments built at once: each build mostly waits on a uv process."""


def wheel_name(block: int, step: int) -> str:
    return f"load-b{block}-s{step}"


@dataclass(frozen=True)
class ManyEnvs:
    """What `build_many` made, and the answers the tests check against."""

    home: Path
    venvs: tuple[Path, ...]
    broken: frozenset[Path]
    """The environments missing a dependency."""
    packages: dict[Path, int]
    """Distributions installed in each environment."""

    def env(self) -> dict[str, str]:
        """`user_env` of this machine's home."""
        return user_env(self.home)


def user_env(home: Path) -> dict[str, str]:
    """A process environment for running envtui as the user of `home`, offline and without
    an engine (Docker has its own tests against the private engine)."""
    leaky = ("CONDA", "MAMBA", "PIP_", "UV_", "ENVTUI_", "PIPX_", "VIRTUAL_ENV",
             "WORKON_HOME", "POETRY_", "DOCKER_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(leaky)}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"),
               XDG_CONFIG_HOME=str(home / ".config"),
               XDG_DATA_HOME=str(home / ".local" / "share"),
               DOCKER_HOST=f"unix://{home}/no-docker.sock")
    return env


def venv_path(home: Path, i: int) -> Path:
    """Mostly project .venvs, some virtualenvwrapper and pipx ones, as machines have."""
    if i % 10 == 7:
        return home / ".virtualenvs" / f"env{i:03d}"
    if i % 10 == 9:
        return home / ".local" / "share" / "pipx" / "venvs" / f"tool{i:03d}"
    return home / "projects" / f"group{i // 50:02d}" / f"proj{i:03d}" / ".venv"


def wanted(i: int) -> list[str]:
    """Environment i's pinned requirements: its chain (less the first link when it is one
    of the broken ones) and the heads of the next EXTRAS chains."""
    block = i % BLOCKS
    first = 1 if i % BROKEN_EVERY == 7 else 0
    chain = [wheel_name(block, s) for s in range(first, CHAIN)]
    heads = [wheel_name((block + k) % BLOCKS, 0) for k in range(1, EXTRAS + 1)]
    return [f"{n}==1.0" for n in chain + heads]


def build_many(root: Path, count: int) -> ManyEnvs:
    """`count` uv venvs under root/home, each holding CHAIN + EXTRAS (or one fewer) wheels."""
    wheels = root / "wheels"
    for b in range(BLOCKS):
        for s in range(CHAIN):
            build_wheel(wheels, wheel_name(b, s), "1.0", summary=f"chain {b}, link {s}",
                        requires=[f"{wheel_name(b, s - 1)}>=1.0"] if s else [])
    home = root / "home"
    env = offline_env() | {"UV_CACHE_DIR": str(root / "uv-cache"), "UV_NO_CONFIG": "1"}
    uv = uv_bin()

    def run(*args: str) -> None:
        subprocess.run([uv, *args], check=True, env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=300)

    def make(i: int) -> Path:
        venv = venv_path(home, i)
        venv.parent.mkdir(parents=True, exist_ok=True)
        run("venv", "--quiet", "--python", sys.executable, str(venv))
        # --target with the base interpreter: uv asks it once for its tags and caches the
        # answer, where `--python VENV` would start every new venv's interpreter (200 ms).
        run("pip", "install", "--quiet", "--offline", "--no-index", "--no-deps",
            "--find-links", str(wheels), "--python", sys.executable,
            "--target", str(site_packages(venv)), *wanted(i))
        return venv

    make(0)  # fills uv's cache once, before the builders race for it
    with ThreadPoolExecutor(BUILDERS) as pool:
        venvs = (venv_path(home, 0), *pool.map(make, range(1, count)))
    return ManyEnvs(home, venvs,
                    frozenset(v for i, v in enumerate(venvs) if i % BROKEN_EVERY == 7),
                    {v: len(wanted(i)) for i, v in enumerate(venvs)})
