"""What the demo sandbox is made of: its wheels, its conda packages, what each env holds.

The packages are stand-ins (the "numpy" here is a one-line module) whose metadata is real,
so every workflow behaves as on a real machine. The NumPy story: `plotkit 2.0` needs
numpy>=2, `tablekit 1.0` needs numpy<2; the wheelhouse has the versions that untangle it
(numpy 2.1.0 with tablekit 1.4, or plotkit 1.5 that still runs on numpy 1.x).
"""

from __future__ import annotations

from dataclasses import dataclass

from envtui.demo.conda_packages import CondaPackage

SUMMARY = "Demo package made by envtui --demo (a stand-in, not the real project)"


@dataclass(frozen=True)
class DemoWheel:
    name: str
    version: str
    requires: tuple[str, ...] = ()
    requires_python: str | None = None


WHEELS = (
    DemoWheel("numpy", "1.24.4", requires_python=">=3.8"),
    DemoWheel("numpy", "1.26.4", requires_python=">=3.9"),
    DemoWheel("numpy", "2.0.2", requires_python=">=3.9"),
    DemoWheel("numpy", "2.1.0", requires_python=">=3.10"),
    DemoWheel("colorkit", "1.0"),
    DemoWheel("colorkit", "1.2"),
    DemoWheel("plotkit", "1.5", ("numpy>=1.22,<2", "colorkit>=1.0")),
    DemoWheel("plotkit", "2.0", ("numpy>=2", "colorkit>=1.2")),
    DemoWheel("tablekit", "1.0", ("numpy<2",)),
    DemoWheel("tablekit", "1.4", ("numpy>=1.26",)),
    DemoWheel("oldstats", "0.9", ("numpy>=1.20,<1.25",)),
    # the web project's chain, deep enough for the tree screen
    DemoWheel("textutils", "0.5"),
    DemoWheel("safetext", "1.0"),
    DemoWheel("routekit", "1.1", ("textutils>=0.5",)),
    DemoWheel("templating", "2.0", ("safetext>=1.0",)),
    DemoWheel("webframe", "3.2", ("routekit>=1.1", "templating>=2.0")),
    DemoWheel("dbkit", "0.7", ("textutils>=0.4",)),
    DemoWheel("linttool", "0.8", ("textutils>=0.5", "colorkit>=1.0")),
)

ANALYSIS = ("numpy==1.26.4", "tablekit==1.0", "colorkit==1.2")
"""Installed with their dependencies; then plotkit 2.0 is added with --no-deps, as
`pip install --no-deps` or a hand-edited lock would, which makes the NumPy conflict."""
ANALYSIS_NO_DEPS = ("plotkit==2.0",)
STALE = ("oldstats==0.9", "numpy==1.24.4")
BROKEN = ("tablekit==1.0",)
WEBAPP = ("webframe", "dbkit")
PIPX_TOOL = "linttool"
POETRY = ("tablekit==1.4", "plotkit==2.0")
CONDA_PIP = ("colorkit==1.2",)
"""Installed by uv into the conda env's site-packages: pip packages on top of conda's."""

_SP = "lib/python3.11/site-packages"


def _dist_info(name: str, version: str, module: str) -> dict[str, str]:
    """Files of a conda package that ships a Python distribution (INSTALLER: conda)."""
    info = f"{_SP}/{name}-{version}.dist-info"
    return {
        f"{_SP}/{module}/__init__.py": f"__version__ = {version!r}\n",
        f"{info}/METADATA": (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                             f"Summary: {SUMMARY}\nRequires-Python: >=3.9\n\n"),
        f"{info}/INSTALLER": "conda\n",
        f"{info}/RECORD": f"{module}/__init__.py,,\n",
    }


_PY = "python >=3.11,<3.12.0a0"
CONDA_PACKAGES = (
    CondaPackage("python", "3.11.9", "hab00c5b_0_cpython", (), {
        # A stand-in: it says what it is instead of running anything.
        "bin/python3.11": "#!/bin/sh\necho 'envtui demo: this python is a stand-in' >&2\n"
                          "exit 1\n",
        f"{_SP}/README.txt": "This directory exists for site-packages.\n",
    }),
    CondaPackage("conda", "24.1.2", "py311h38be061_0", (_PY,), {
        "condabin/conda": "#!/bin/sh\necho 'envtui demo: conda is a stand-in' >&2\nexit 1\n",
        **_dist_info("conda", "24.1.2", "conda"),
    }),
    CondaPackage("zlib", "1.3.1", "h4ab18f5_1", (), {
        "include/zlib.h": "/* zlib (envtui demo stand-in) */\n",
    }),
    CondaPackage("tzdata", "2024a", "h0c530f3_0", (), {
        "share/zoneinfo/README": "envtui demo stand-in\n",
    }),
    CondaPackage("numpy", "1.26.4", "py311h64a7726_0", (_PY, "zlib >=1.3.1,<2.0a0"),
                 _dist_info("numpy", "1.26.4", "numpy")),
    CondaPackage("numpy", "2.1.0", "py311h71ddf71_0", (_PY, "zlib >=1.3.1,<2.0a0"),
                 _dist_info("numpy", "2.1.0", "numpy")),
)
CONDA_BASE = ("python=3.11", "conda")
CONDA_SCIENCE = ("python=3.11", "numpy", "zlib", "tzdata")
