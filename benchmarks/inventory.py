"""Inventory speed, as ratios against peer tools run side by side on the same machine.

Builds a synthetic home with ENVS real venvs (uv) each holding DISTS installed distributions
(real wheels built here, installed by uv offline), then times, best of REPEAT:

  envtui cold   `envtui list --json --no-cache` over the whole home
  envtui warm   `envtui list --json` a second time (served from the persistent cache)
  pip list      `pip list --path SITE --format json` once per environment
  pipdeptree    `pipdeptree --path SITE -o json` once per environment
  uv pip list   `uv pip list --python ENV --format json` once per environment

The peers each read one environment per call, which is how they are used to survey a
machine; envtui reads all of them in one call. Run:

    .venv/bin/python benchmarks/inventory.py [--envs 40] [--dists 60] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.envfactory import make_venv, site_packages, uv_bin, uv_install  # noqa: E402
from tests.wheels import build_wheel  # noqa: E402


def build(root: Path, envs: int, dists: int) -> list[Path]:
    wheels = root / "wheels"
    names = [f"pkg{i:03d}" for i in range(dists)]
    for i, name in enumerate(names):
        deps = [f"{names[j]}>=1" for j in range(max(0, i - 3), i)]
        build_wheel(wheels, name, "1.0", requires=deps, summary=f"package {i}")
    venvs = []
    for e in range(envs):
        venv = make_venv(root / "home" / "projects" / f"proj{e:03d}" / ".venv", "uv")
        uv_install(venv, wheels, *names)
        venvs.append(venv)
    return venvs


def best(fn: Callable[[], None], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--envs", type=int, default=40)
    ap.add_argument("--dists", type=int, default=60)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        venvs = build(root, args.envs, args.dists)
        home = root / "home"
        env = dict(os.environ, HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"),
                   XDG_CONFIG_HOME=str(home / ".config"), DOCKER_HOST="unix:///nonexistent")

        def run(*cmd: str | Path) -> None:
            subprocess.run([str(c) for c in cmd], env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        envtui = [sys.executable, "-m", "envtui", "list", "--json", "--kind", "venv"]
        run(*envtui)  # prime the cache for the warm run
        rows = {
            "envtui cold (all envs, one call)": best(lambda: run(*envtui, "--no-cache"),
                                                     args.repeat),
            "envtui warm (cache)": best(lambda: run(*envtui), args.repeat),
            "pip list --path (per env)": best(lambda: [run(
                sys.executable, "-m", "pip", "list", "--path", site_packages(v),
                "--format", "json", "--disable-pip-version-check") for v in venvs],
                args.repeat),
            "pipdeptree --path (per env)": best(lambda: [run(
                sys.executable, "-m", "pipdeptree", "--path", site_packages(v), "-o", "json")
                for v in venvs], args.repeat),
            "uv pip list (per env)": best(lambda: [run(
                uv_bin(), "pip", "list", "--python", v / "bin" / "python", "--format",
                "json") for v in venvs], args.repeat),
        }
    base = rows["envtui cold (all envs, one call)"]
    print(f"{args.envs} venvs x {args.dists} distributions, best of {args.repeat}\n")
    print("| tool | seconds | ratio to envtui cold |")
    print("|---|---:|---:|")
    for name, secs in rows.items():
        print(f"| {name} | {secs:.3f} | {secs / base:.2f} |")


if __name__ == "__main__":
    main()
