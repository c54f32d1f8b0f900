"""Pointing envtui at a demo sandbox: what to scan, where fixes install from, and the
process environment that keeps caches, configuration and installs inside the sandbox."""

from __future__ import annotations

import os
from collections.abc import Callable, MutableMapping
from typing import Any

from envtui.demo.sandbox import Sandbox
from envtui.inspectors.base import ScanContext
from envtui.model import Environment, EnvKind, Inventory
from envtui.resolver.sources import IndexOptions

LEAKY = ("VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_EXE", "CONDA_ROOT", "CONDARC",
         "CONDA_ENVS_PATH", "CONDA_ENVS_DIRS", "MAMBA_ROOT_PREFIX", "WORKON_HOME",
         "PIPX_HOME", "UV_TOOL_DIR", "POETRY_VIRTUALENVS_PATH", "DOCKER_HOST",
         "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX",
         "UV_INDEX", "UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_EXTRA_INDEX_URL", "UV_FIND_LINKS")
"""Variables that would point the demo at the user's environments or package sources."""


def demo_environ(sb: Sandbox) -> dict[str, str]:
    """A minimal environment: HOME, XDG directories and the installers' settings, all inside
    the sandbox; pip and uv read no configuration file and never go online."""
    return {
        "HOME": str(sb.home), "PATH": os.defpath,
        "XDG_CACHE_HOME": str(sb.cache_dir), "XDG_CONFIG_HOME": str(sb.config_dir),
        "XDG_DATA_HOME": str(sb.home / ".local" / "share"),
        "UV_CACHE_DIR": str(sb.uv_cache), "UV_NO_CONFIG": "1", "UV_OFFLINE": "1",
        "UV_PYTHON_DOWNLOADS": "never", "PIP_CONFIG_FILE": os.devnull,
    }


def demo_context(sb: Sandbox) -> ScanContext:
    """The sandbox's venvs and conda envs; Docker is the user's real engine, so left out."""
    return ScanContext(home=sb.home, environ=demo_environ(sb), walk_home=True,
                       kinds=frozenset({EnvKind.VENV, EnvKind.CONDA}))


def demo_sources(sb: Sandbox) -> IndexOptions:
    """Fixes and imports install from the sandbox's wheelhouse and nowhere else."""
    return IndexOptions(index_url=None, find_links=(str(sb.wheels),), offline=True,
                        origins={"index_url": "envtui --demo", "find_links": "envtui --demo"})


def enter_sandbox(sb: Sandbox, environ: MutableMapping[str, str] = os.environ) -> None:
    """Make this process's own lookups (caches, config, imports' default places, installer
    runs) land in the sandbox too: several actions read the process environment."""
    for var in LEAKY:
        environ.pop(var, None)
    environ.update({k: v for k, v in demo_environ(sb).items() if k != "PATH"})


def is_inside(sb: Sandbox, env: Environment) -> bool:
    return env.path is not None and os.path.commonpath([sb.root, env.path]) == str(sb.root)


def sandbox_loader(sb: Sandbox) -> Callable[..., Inventory]:
    """`discovery.scan` keeping only the sandbox's environments: the conda inspector also
    looks in system-wide roots (/opt/conda, ...), which are the user's, not the demo's."""

    def load(ctx: ScanContext, **options: Any) -> Inventory:
        from envtui.inspectors.discovery import scan

        shown = options.pop("on_environment", None)
        if shown is not None:
            options["on_environment"] = lambda env: shown(env) if is_inside(sb, env) else None
        inventory = scan(ctx, **options)
        kept = tuple(e for e in inventory.environments if is_inside(sb, e))
        return Inventory(kept, inventory.problems)

    return load
