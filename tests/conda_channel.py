"""A local conda channel of tiny packages and real conda environments made from it.

The channel holds real `.tar.bz2` conda packages (info/index.json, info/paths.json, files),
indexed by `rattler.index.index_fs`; environments are solved by `rattler.solve` and linked by
`rattler.install`, exactly as pixi does it. No conda binary and no network are involved.

Building runs in a child process (`python -m tests.conda_channel DEST`) that leaves with
os._exit: py-rattler's runtime threads can abort the interpreter at shutdown now and then
("PyGILState_Release ... finalizing"), which must never take a test session down with it.

The machine it builds under DEST/home:

    miniforge3/                   base (conda, python), pkgs/ is the package cache
    miniforge3/envs/data/         numpy (-> python, zlib), six; made with mamba
    projects/demo/.pixi/envs/default/   pixi project env: python, zlib
    work/tools-env/               zlib only; known only from ~/.conda/environments.txt
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# The builders live in the package: the demo sandbox (`envtui --demo`) uses them at run time.
from envtui.demo.conda_packages import TIMESTAMP, build_package, create_env, history_entry

__all__ = ["TIMESTAMP", "build_package", "history_entry"]

REPO = Path(__file__).resolve().parents[1]

# (name, version, build, depends, {path: content})
PACKAGES: list[tuple[str, str, str, list[str], dict[str, str]]] = [
    ("python", "3.11.9", "hab00c5b_0_cpython", [], {
        # Never run by the inspector: if it were, it would leave a trace beside itself.
        "bin/python3.11": '#!/bin/sh\ntouch "$0.was-run"\n',
        "lib/python3.11/site-packages/README.txt": "This directory exists for site-packages.\n",
    }),
    ("conda", "24.1.2", "py311h38be061_0", ["python >=3.11,<3.12.0a0"], {
        "condabin/conda": "#!/bin/sh\nexit 1\n",
        "lib/python3.11/site-packages/conda/__init__.py": "__version__ = '24.1.2'\n",
        "lib/python3.11/site-packages/conda-24.1.2.dist-info/METADATA":
            "Metadata-Version: 2.1\nName: conda\nVersion: 24.1.2\n\n",
        "lib/python3.11/site-packages/conda-24.1.2.dist-info/INSTALLER": "conda\n",
    }),
    ("zlib", "1.3.1", "h4ab18f5_1", [], {
        "include/zlib.h": "/* zlib */\n",
        "lib/libz.so.1.3.1": "not really a shared library\n",
    }),
    ("numpy", "1.26.4", "py311h64a7726_0", ["python >=3.11,<3.12.0a0", "zlib >=1.3.1,<2.0a0"], {
        "lib/python3.11/site-packages/numpy/__init__.py": "__version__ = '1.26.4'\n",
        "lib/python3.11/site-packages/numpy-1.26.4.dist-info/METADATA":
            "Metadata-Version: 2.1\nName: numpy\nVersion: 1.26.4\nRequires-Python: >=3.9\n\n",
        "lib/python3.11/site-packages/numpy-1.26.4.dist-info/INSTALLER": "conda\n",
        "lib/python3.11/site-packages/numpy-1.26.4.dist-info/RECORD": "numpy/__init__.py,,\n",
    }),
    # Like packages built before conda-build wrote INSTALLER: only the record's `files`
    # tell that this dist-info is conda's.
    ("six", "1.16.0", "pyhd8ed1ab_0", ["python"], {
        "lib/python3.11/site-packages/six.py": "# six\n",
        "lib/python3.11/site-packages/six-1.16.0.dist-info/METADATA":
            "Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\n\n",
        "lib/python3.11/site-packages/six-1.16.0.dist-info/RECORD": "six.py,,\n",
    }),
]


@dataclass(frozen=True)
class Machine:
    """Where everything the build made lives."""

    root: Path
    channel: Path
    home: Path

    @property
    def channel_url(self) -> str:
        """The channel as the records name it, without its trailing slash."""
        return self.channel.as_uri()

    @property
    def base(self) -> Path:
        return self.home / "miniforge3"

    @property
    def data(self) -> Path:
        return self.home / "miniforge3" / "envs" / "data"

    @property
    def pixi(self) -> Path:
        return self.home / "projects" / "demo" / ".pixi" / "envs" / "default"

    @property
    def tools(self) -> Path:
        return self.home / "work" / "tools-env"


async def _build_envs(m: Machine) -> None:
    pkgs = m.base / "pkgs"  # conda's own layout: the base root holds the package cache
    await create_env(m.channel, m.base, ["python=3.11", "conda"], pkgs)
    await create_env(m.channel, m.data, ["numpy", "six", "python=3.11"], pkgs)
    await create_env(m.channel, m.pixi, ["python 3.11.*", "zlib"], m.root / "rattler-cache")
    await create_env(m.channel, m.tools, ["zlib"], m.root / "rattler-cache")


def _write_bookkeeping(m: Machine) -> None:
    """What conda, mamba and pixi write beside the packages (rattler leaves history empty)."""
    bin_conda = f"{m.base}/bin/conda"
    (m.base / "conda-meta" / "history").write_text(
        history_entry("2024-03-01 09:15:02", f"{bin_conda} install -y python=3.11 conda",
                      "['python=3.11', 'conda']"))
    (m.data / "conda-meta" / "history").write_text(
        history_entry("2024-03-02 10:00:00", f"{m.base}/bin/mamba create -n data numpy six "
                      "python=3.11 tinyconda", '["numpy", "six", "python=3.11", "tinyconda"]')
        + history_entry("2024-03-03 11:30:00", f"{bin_conda} remove -n data tinyconda",
                        "['tinyconda']", action="remove"))
    (m.tools / "conda-meta" / "history").write_text(
        history_entry("2024-03-04 08:00:00", f"{bin_conda} create -p {m.tools} zlib",
                      "['zlib']"))
    # pixi's history holds one comment only (conda#13959 was about this very file).
    (m.pixi / "conda-meta" / "history").write_text(
        "# not relevant for pixi but for `conda run -p`\n")
    manifest = m.pixi.parents[2] / "pixi.toml"
    manifest.write_text('[workspace]\nname = "demo"\nchannels = []\nplatforms = []\n')
    (m.pixi / "conda-meta" / "pixi").write_text(json.dumps({
        "manifest_path": str(manifest), "environment_name": "default",
        "pixi_version": "0.40.0", "environment_lock_file_hash": "4f36ee620f10329d",
    }))
    (m.base / "condabin").mkdir(exist_ok=True)
    envs_txt = m.home / ".conda" / "environments.txt"
    envs_txt.parent.mkdir(parents=True, exist_ok=True)
    stale = m.home / "deleted-env"
    envs_txt.write_text("".join(f"{p}\n" for p in (m.base, m.data, m.tools, stale)))


def build_machine(root: Path) -> Machine:
    """Build the channel and every environment under `root` (in this process)."""
    from envtui.demo.conda_packages import index_channel

    m = Machine(root=root, channel=root / "channel", home=root / "home")
    for spec in PACKAGES:
        build_package(m.channel / "noarch", *spec)
    index_channel(m.channel)
    m.home.mkdir(parents=True, exist_ok=True)
    asyncio.run(_build_envs(m))
    _write_bookkeeping(m)
    return m


def make_machine(root: Path) -> Machine:
    """Build the machine in a child process (see the module docstring) and describe it."""
    root.mkdir(parents=True, exist_ok=True)
    scratch = root / "builder-home"  # rattler must not read or write the real HOME
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONDA", "MAMBA", "PIXI"))}
    env.update(HOME=str(scratch), XDG_CACHE_HOME=str(scratch / ".cache"),
               XDG_CONFIG_HOME=str(scratch / ".config"), PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-m", "tests.conda_channel", str(root)], cwd=REPO, env=env,
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300, check=False,
    )
    if done.returncode != 0 or not (root / "built").exists():
        raise RuntimeError(f"building the conda machine failed:\n{done.stdout}\n{done.stderr}")
    return Machine(root=root, channel=root / "channel", home=root / "home")


def pip_install(site_packages: Path, wheelhouse: Path, *reqs: str,
                upgrade: bool = False) -> str:
    """Install wheels into a conda env's site-packages for real, offline; returns the installer.

    pip is used when this interpreter has it (it writes INSTALLER "pip"), uv otherwise.
    """
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
           "UV_OFFLINE": "1", "UV_NO_CACHE": "1"}
    if importlib.util.find_spec("pip") is not None:
        cmd = [sys.executable, "-m", "pip", "install", "--no-index", "--find-links",
               str(wheelhouse), "--target", str(site_packages), "--no-compile", "--quiet"]
        installer = "pip"
    else:
        from uv import find_uv_bin

        cmd = [find_uv_bin(), "pip", "install", "--offline", "--no-index", "--find-links",
               str(wheelhouse), "--target", str(site_packages), "--python", sys.executable,
               "--quiet"]
        installer = "uv"
    if upgrade:
        cmd.append("--upgrade")
    subprocess.run([*cmd, *reqs], env=env, stdin=subprocess.DEVNULL, check=True,
                   capture_output=True, timeout=120)
    return installer


def copy_env(src: Path, dest: Path) -> Path:
    """A private copy of an environment that a test may damage (links copied as links)."""
    shutil.copytree(src, dest, symlinks=True)
    return dest


def _main(argv: list[str]) -> None:
    root = Path(argv[1])
    build_machine(root)
    (root / "built").write_text("ok\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip interpreter finalisation: see the module docstring


if __name__ == "__main__":
    _main(sys.argv)
