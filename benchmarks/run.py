"""envtui's benchmarks: one command, peers side by side on the same machine fixture.

    .venv/bin/python benchmarks/run.py [--envs 40] [--runs 5] [--write] [--json]
    .venv/bin/python benchmarks/run.py --envs 200 --write      # the scale targets
    .venv/bin/python benchmarks/run.py --smoke                 # seconds; proves it works

Builds (or reuses) the machine of benchmarks/machine.py, then times, every tool as a whole
process, the contenders of each measurement taking turns in an order that rotates every
round, and reports medians and each process's peak memory (its maximum resident set, from
wait4). "Cold" means envtui's persistent cache is removed before the run; the operating
system's file cache is warm for every tool alike.

  check      `envtui check` (every environment on the machine, cold and warm) against a loop
             of `uv pip check --python ENV/bin/python` and one of `python -m pip --python
             ENV/bin/python check` over the venvs
  list       `envtui list --json` cold and warm, against `uv pip check` on 10 of the venvs
  tree       `envtui tree LARGEST --format json` against `pipdeptree --path SITE -o
             json-tree` on the largest venv (300 distributions)
  tui        the app headless (benchmarks/tui_probe.py): time to first paint and to the full
             inventory, cold, against `envtui list` cold
  resolver   benchmarks/resolver.py (its own section of BENCHMARKS.md)

`--write` replaces the "Machine" section of BENCHMARKS.md (and, unless --no-resolver, the
"Resolver" one) with the results.
"""

from __future__ import annotations

import argparse
import compileall
import datetime
import json
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import resolver
from benchmarks.corpus_wheels import CACHE
from benchmarks.machine import MachineFixture, build_machine, remove_other_machines_images
from tests.envfactory import uv_bin

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Machine"
PROBE = Path(__file__).resolve().parent / "tui_probe.py"
LIST_PEER_ENVS = 10


@dataclass
class Contender:
    """One tool's side of a measurement: commands run one after another, timed together."""

    label: str
    commands: list[list[str]]
    before: Callable[[], None] = lambda: None
    """Untimed preparation before every run (e.g. removing envtui's cache)."""
    probe: bool = False
    """The command is the TUI probe: its JSON output holds the times."""
    times: list[float] = field(default_factory=list)
    extra: dict[str, list[float]] = field(default_factory=dict)
    peak_kb: int = 0
    failures: list[str] = field(default_factory=list)

    def median(self, key: str | None = None) -> float:
        values = self.extra.get(key, []) if key else self.times
        return statistics.median(values) if values else float("nan")


# Spawns the measured process and reports its own peak memory. A tiny interpreter does it:
# Linux carries the pre-exec image's peak into ru_maxrss, so a child forked from this
# (large) process would report at least this process's size.
LAUNCHER = """
import json, os, sys, time
argv = json.loads(sys.argv[1])
start = time.perf_counter()
pid = os.posix_spawn(argv[0], argv, os.environ)
_, status, usage = os.wait4(pid, 0)
sys.stderr.write(json.dumps([time.perf_counter() - start, usage.ru_maxrss,
                             os.waitstatus_to_exitcode(status)]) + "\\n")
"""


def run_process(argv: list[str], env: dict[str, str]) -> tuple[float, int, int, str]:
    """Wall seconds, peak RSS (KiB), exit status and stdout of one process."""
    argv = [shutil.which(argv[0], path=env.get("PATH")) or argv[0], *argv[1:]]
    done = subprocess.run([sys.executable, "-S", "-c", LAUNCHER, json.dumps(argv)], env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, check=False)
    try:
        elapsed, peak, status = json.loads(done.stderr.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise RuntimeError(f"could not run {argv[0]}: {done.stderr.decode()[-300:]}") from None
    return elapsed, peak, status, done.stdout.decode(errors="replace")


def run_contender(c: Contender, env: dict[str, str]) -> None:
    c.before()
    total = 0.0
    for command in c.commands:
        argv = [*command, repr(time.time())] if c.probe else command
        elapsed, peak, status, out = run_process(argv, env)
        total += elapsed
        c.peak_kb = max(c.peak_kb, peak)
        if status not in (0, 1):  # 1: check found problems, which is an answer
            c.failures.append(f"{' '.join(argv[:3])}... exited {status}")
        if c.probe:
            data = json.loads(out.strip().splitlines()[-1])
            for key in ("first_paint", "inventory"):
                c.extra.setdefault(key, []).append(float(data[key]))
            c.extra.setdefault("rows", []).append(float(data["rows"]))
    c.times.append(total)


def measure(contenders: Sequence[Contender], env: dict[str, str], runs: int,
            warmup: int = 1) -> None:
    for _ in range(warmup):
        for c in contenders:
            run_contender(c, env)
        for c in contenders:
            c.times.clear()
            c.extra.clear()
    for i in range(runs):
        k = i % len(contenders)
        for c in [*contenders[k:], *contenders[:k]]:
            run_contender(c, env)


def wait_for_read_helpers(home: Path, timeout: float = 2.0) -> None:
    """Wait for the read helpers of envtui runs on this machine fixture to end.

    A helper finishes the environment it is reading after envtui exits
    (envtui/inspectors/read_helper.py); one still writing when the cache is removed would
    leave a cold run an entry. Found through /proc (Linux): elsewhere this does not wait.
    """
    mine = f"HOME={home}".encode()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = False
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                if (b"envtui.inspectors.read_helper" in (proc / "cmdline").read_bytes()
                        and mine in (proc / "environ").read_bytes().split(b"\0")):
                    pending = True
                    break
            except OSError:  # gone meanwhile, or not ours to read
                continue
        if not pending:
            return
        time.sleep(0.01)


def envtui_argv() -> list[str]:
    script = Path(sys.executable).with_name("envtui")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "envtui"]


def site_of(venv: Path) -> Path:
    return next((venv / "lib").glob("python*/site-packages"))


@dataclass
class Suite:
    machine: MachineFixture
    runs: int
    results: dict[str, list[Contender]] = field(default_factory=dict)

    def forget_cache(self) -> None:
        wait_for_read_helpers(self.machine.home)
        shutil.rmtree(self.machine.home / ".cache" / "envtui", ignore_errors=True)

    def run(self, name: str, contenders: list[Contender], runs: int | None = None) -> None:
        print(f"{name} ...", file=sys.stderr, flush=True)
        measure(contenders, self.machine.env(), runs or self.runs)
        self.results[name] = contenders
        for c in contenders:
            for f in sorted(set(c.failures)):
                print(f"  {c.label}: {f}", file=sys.stderr)

    def all(self, pip_runs: int | None = None) -> None:
        m = self.machine
        envtui = envtui_argv()
        uv = uv_bin()
        venvs = m.venvs
        cold = self.forget_cache
        uv_loop = [[uv, "pip", "check", "--python", str(v / "bin" / "python")] for v in venvs]
        self.run("check", [
            Contender("envtui check, cold", [[*envtui, "check"]], before=cold),
            Contender("envtui check, warm", [[*envtui, "check"]]),
            Contender(f"uv pip check, loop over {len(venvs)} venvs", uv_loop),
        ])
        self.run("pip", [
            Contender("envtui check, warm", [[*envtui, "check"]]),
            Contender(f"pip check, loop over {len(venvs)} venvs", [
                [sys.executable, "-m", "pip", "--python", str(v / "bin" / "python"), "check"]
                for v in venvs]),
        ], runs=pip_runs)
        self.run("list", [
            Contender("envtui list --json, cold", [[*envtui, "list", "--json"]], before=cold),
            Contender("envtui list --json, warm", [[*envtui, "list", "--json"]]),
            Contender(f"uv pip check, loop over {LIST_PEER_ENVS} venvs",
                      uv_loop[:LIST_PEER_ENVS]),
        ])
        big = m.largest
        self.run("tree", [
            Contender(f"envtui tree ({m.sizes[str(big)]} distributions), warm",
                      [[*envtui, "tree", str(big), "--format", "json"]]),
            Contender("pipdeptree --path SITE -o json-tree",
                      [[sys.executable, "-m", "pipdeptree", "--path", str(site_of(big)),
                        "-o", "json-tree"]]),
        ])
        self.run("tui", [
            Contender("TUI headless, cold", [[sys.executable, str(PROBE)]], before=cold,
                      probe=True),
            Contender("envtui list, cold", [[*envtui, "list"]], before=cold),
        ])


def by_label(suite: Suite, name: str, prefix: str) -> Contender:
    return next(c for c in suite.results[name] if c.label.startswith(prefix))


@dataclass
class Target:
    what: str
    ratio: float
    limit: float
    unit: str = "x"

    @property
    def met(self) -> bool:
        return self.ratio <= self.limit


def targets(suite: Suite, envs: int) -> list[Target]:
    def med(name: str, prefix: str, key: str | None = None) -> float:
        return by_label(suite, name, prefix).median(key)

    uv = med("check", "uv pip check")
    out = [
        Target("check, cold / uv pip check loop", med("check", "envtui check, cold") / uv, 0.5),
        Target("check, warm / uv pip check loop", med("check", "envtui check, warm") / uv, 0.1),
        Target("check, warm / pip check loop",
               med("pip", "envtui check, warm") / med("pip", "pip check"), 0.05),
        Target(f"list --json, warm / uv pip check on {LIST_PEER_ENVS} venvs",
               med("list", "envtui list --json, warm") / med("list", "uv pip check"), 1.0),
        Target("list --json, peak memory (MB)",
               max(c.peak_kb for c in suite.results["list"][:2]) / 1024, 150, " MB"),
        Target("tree / pipdeptree", med("tree", "envtui tree") / med("tree", "pipdeptree"), 2.0),
        Target("TUI first paint (s)", med("tui", "TUI", "first_paint"), 0.5, " s"),
        Target("TUI full inventory / envtui list, cold",
               med("tui", "TUI", "inventory") / med("tui", "envtui list"), 1.5),
    ]
    if envs < 200:
        for t in out:  # the list and first-paint targets are set at 200 environments
            if t.what.startswith(("list", "TUI first")):
                t.what += f" (at {envs} envs; the target is set at 200)"
    return out


def _fmt(t: Target) -> str:
    return f"{t.ratio:.2f}{t.unit}" if t.unit != "x" else f"{t.ratio:.3f}"


def tables(suite: Suite, envs: int) -> str:
    rows = ["| measurement | tool | median (s) | peak memory (MB) |", "|---|---|---:|---:|"]
    for name, contenders in suite.results.items():
        for c in contenders:
            rows.append(f"| {name} | {c.label} | {c.median():.3f} | {c.peak_kb / 1024:.0f} |")
            for key in ("first_paint", "inventory"):
                if key in c.extra:
                    rows.append(f"| {name} | ↳ {key.replace('_', ' ')} | "
                                f"{c.median(key):.3f} | |")
    rows += ["", "| target | measured | limit | met |", "|---|---:|---:|---|"]
    for t in targets(suite, envs):
        limit = f"{t.limit:g}{t.unit}" if t.unit != "x" else f"{t.limit:g}"
        rows.append(f"| {t.what} | {_fmt(t)} | {limit} | {'yes' if t.met else '**no**'} |")
    return "\n".join(rows)


def section(suite: Suite, envs: int, info: dict[str, str], runs: int) -> str:
    m = suite.machine
    sizes = sorted(m.sizes.values())
    heading = f"{SECTION}, {envs} environments"
    return "\n".join([
        heading, "",
        f"The fixture (benchmarks/machine.py): {len(m.venvs)} venvs made by uv and filled by "
        f"uv from real wheels whose names, versions and Requires-Dist come from the PyPI "
        f"snapshots of the resolver corpus ({sizes[0]} to {sizes[-1]} distributions, "
        f"{sum(sizes)} in all), {len(m.conda_envs)} conda environments made by py-rattler, "
        f"and {len(m.images)} Docker images with a site-packages on a local engine.", "",
        f"Median of {runs} runs after one untimed warm-up, tools taking turns in a rotating "
        "order, each a whole process. Cold: envtui's cache removed before the run (the "
        "OS file cache is warm for all). `envtui check` covers the whole machine (venvs, "
        "conda environments and images); the peers loop over the venvs only.", "",
        tables(suite, envs), "",
        f"Machine: {info['cpus']} CPUs, Python {info['python']}, {info['os']}; "
        f"envtui {info['envtui']}, pip {info['pip']}, uv {info['uv']}. "
        f"Date: {datetime.date.today().isoformat()}.", "",
        f"Reproduce: `./dev bench --envs {envs} --write` (the fixture is built on first use "
        "and cached in `benchmarks/.cache/`).", "",
    ])


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--envs", type=int, default=40, help="venvs on the machine (default 40)")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per tool (default 5)")
    ap.add_argument("--pip-runs", type=int, help="timed runs of the slow pip loop "
                    "(default: --runs)")
    ap.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--no-resolver", action="store_true", help="skip the resolver benchmark")
    ap.add_argument("--no-docker", action="store_true", help="leave Docker images out")
    ap.add_argument("--smoke", action="store_true",
                    help="3 venvs, one run, no resolver corpus: a few seconds, never writes")
    args = ap.parse_args(argv)
    if args.smoke:
        if args.write:
            ap.error("--smoke never writes BENCHMARKS.md")
        args.envs, args.runs, args.pip_runs, args.no_resolver = 3, 1, 1, True
    if args.envs < 1 or args.runs < 1:
        ap.error("--envs and --runs must be at least 1")
    # Byte-compile first: with PYTHONDONTWRITEBYTECODE set, or after an edit, every timed
    # process would otherwise compile envtui's modules again.
    compileall.compile_dir(ROOT / "envtui", quiet=1)
    machine = build_machine(args.envs, cache=CACHE, docker=not args.no_docker,
                            progress=lambda s: print(s, file=sys.stderr, flush=True))
    if not args.smoke:  # parallel smoke runs (the tests) share an engine: leave theirs alone
        for tag in remove_other_machines_images(machine):
            print(f"removed {tag}: another benchmark machine's image", file=sys.stderr)
    suite = Suite(machine, args.runs)
    suite.all(pip_runs=args.pip_runs)
    info = resolver.machine()
    if args.json:
        print(json.dumps(to_json(suite, args.envs), indent=2))
    else:
        print(tables(suite, args.envs))
    if args.write:
        write_section(section(suite, args.envs, info, args.runs), args.envs)
    if args.smoke and not args.no_resolver:
        return 0
    if not args.no_resolver:
        resolver.main(["--write"] if args.write else [])
    return 0


def to_json(suite: Suite, envs: int) -> dict[str, Any]:
    return {
        "envs": envs,
        "results": {name: [{"label": c.label, "median": c.median(), "times": c.times,
                            "peak_mb": c.peak_kb / 1024, "failures": c.failures,
                            **{f"median_{k}": c.median(k) for k in c.extra}}
                           for c in cs] for name, cs in suite.results.items()},
        "targets": [{"what": t.what, "measured": t.ratio, "limit": t.limit, "met": t.met}
                    for t in targets(suite, envs)],
    }


def write_section(text: str, envs: int) -> None:
    """Replace this size's Machine section of BENCHMARKS.md, keeping every other one."""
    resolver.write_section(text, section_name=f"{SECTION}, {envs} environments")


if __name__ == "__main__":
    raise SystemExit(main())
