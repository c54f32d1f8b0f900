"""Inventory speed, as ratios against peer tools run side by side on the same machine.

Builds a synthetic home with ENVS real venvs (uv) each holding DISTS installed distributions
(real wheels built here, installed by uv offline), then times, best of REPEAT:

  envtui cold   `envtui list --json --no-cache` over the whole home
  envtui warm   `envtui list --json` a second time (served from the persistent cache)
  pip list      `pip list --path SITE --format json` once per environment
  pipdeptree    `pipdeptree --path SITE -o json` once per environment
  uv pip list   `uv pip list --python ENV --format json` once per environment

The peers each read one environment per call, which is how they are used to survey a
machine; envtui reads all of them in one call. `--enormous` instead times envtui alone on
one environment of 5,000 distributions and about 200,000 files (RELIABILITY case 5; its
budget for the first full listing is 2 s). Run:

    .venv/bin/python benchmarks/inventory.py [--envs 40] [--dists 60] [--repeat 3]
    .venv/bin/python benchmarks/inventory.py --enormous
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

from tests.envfactory import make_venv, site_packages, uv_bin, uv_install
from tests.wheels import build_wheel


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


def build_enormous(root: Path, dists: int = 5000, files_per_dist: int = 38) -> None:
    """One uv venv whose site-packages holds `dists` distributions written directly."""
    sp = site_packages(make_venv(root / "home" / "big" / ".venv", "uv"))
    for i in range(dists):
        info = sp / f"pkg{i:04d}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: pkg{i:04d}\nVersion: 1.0\n"
            f"Requires-Dist: pkg{(i + 1) % dists:04d}>=1\n\n" + "description\n" * 200)
        (info / "RECORD").write_text("")
        (info / "INSTALLER").write_text("uv\n")
        code = sp / f"pkg{i:04d}"
        code.mkdir()
        for j in range(files_per_dist):
            (code / f"m{j}.py").write_text("x = 1\n")


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
    ap.add_argument("--enormous", action="store_true",
                    help="time envtui on one environment of 5,000 distributions")
    args = ap.parse_args()
    if args.enormous:
        enormous(args.repeat)
        return
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


def enormous(repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build_enormous(root)
        home = root / "home"
        env = dict(os.environ, HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"),
                   DOCKER_HOST="unix:///nonexistent")
        cmd = [sys.executable, "-m", "envtui", "list", "--json", "--kind", "venv"]

        def run(*extra: str) -> None:
            subprocess.run([*cmd, *extra], env=env, check=True, stdout=subprocess.DEVNULL)

        run()
        cold = best(lambda: run("--refresh"), repeat)
        warm = best(run, repeat)
    print(f"one venv, 5,000 distributions, ~200,000 files, best of {repeat}\n")
    print("| run | seconds |\n|---|---:|")
    print(f"| envtui cold (`--refresh`) | {cold:.3f} |\n| envtui warm (cache) | {warm:.3f} |")


if __name__ == "__main__":
    main()
