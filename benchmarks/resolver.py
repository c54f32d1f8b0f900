"""Resolver speed: envtui against pip and uv on the resolver corpus, as whole processes.

Every case of tests/corpus/resolvelib-python is resolved offline from a find-links folder
of metadata-only wheels built from the case's index (benchmarks/corpus_wheels.py, cached
under benchmarks/.cache/), by three tools, each started as a fresh process:

  envtui  `envtui resolve REQ... --no-index --offline --find-links DIR --json`
  pip     `python -m pip install --dry-run --ignore-installed --report FILE --no-index
           --find-links DIR --quiet REQ...`
  uv      `uv pip compile - --no-index --offline --find-links DIR --python-version X.Y
           --no-header --quiet --no-config` with the requirements on stdin

One more case, `venv-fix`, is a real conflicted venv (made by uv): oldlib 1.0 (numpy<2) and
numpy 1.26.4, then newlib 2.0 (numpy>=2) forced in with --no-deps. There envtui runs
`envtui fix ENV --dry-run --json --no-index --offline --find-links DIR`, pip runs
`pip --python ENV/bin/python install --dry-run --report - --no-index --find-links DIR
oldlib newlib numpy` (the venv has no pip of its own), and uv compiles the same three names.

Each tool gets one untimed warm-up run per case (`--warmup`), then the tools take turns,
the order rotating every round, for `--runs` rounds; the table shows medians. Every tool's
caches (pip, uv, envtui) and HOME are temporary folders kept for the duration of one case,
and pip and envtui read no configuration file. `pyrex-1.9.8` is pathological (no resolver
finishes it in reasonable time): only envtui runs it, once, to show it gives up within its
budget. For each case the harness records whether each tool succeeded and whether the
resolved sets agree between tools and with the corpus; disagreements are reported, never
fatal. Run:

    .venv/bin/python benchmarks/resolver.py [--runs 5] [--case NAME]... [--write] [--json]
    .venv/bin/python benchmarks/resolver.py --smoke

`--write` replaces the "Resolver" section of BENCHMARKS.md with the results; `--smoke` times
one small case once (a few seconds) and never writes.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from benchmarks.corpus_wheels import wheelhouse
from tests.corpus_source import case_names, load_case
from tests.envfactory import make_venv, python_of, uv_bin
from tests.envfactory import run as run_checked
from tests.wheels import build_wheel

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
SECTION = "## Resolver"
TOOLS = ("envtui", "pip", "uv")
PATHOLOGICAL = "pyrex-1.9.8"
VENV_FIX = "venv-fix"
SMOKE_CASE = "same-package"
RESOLVED, NO_SOLUTION, GAVE_UP, ERROR, TIMEOUT = (
    "resolved", "no solution", "gave up", "error", "timeout")
# Variables that would point a tool at another index, config or environment.
LEAKY_PREFIXES = ("PIP_", "UV_", "ENVTUI_")
LEAKY = ("VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH", "PYTHONHOME")
# resolvelib recorded chalice's expected set with a provider that drops every dependency with
# a marker; evaluated as PEP 508 says, botocore also needs urllib3 (see
# tests/test_resolver_corpus.py).
CORPUS_AMENDMENTS = {"chalice": {"urllib3": "1.25.8"}}


@dataclass
class Outcome:
    status: str
    """RESOLVED, NO_SOLUTION, GAVE_UP, ERROR or TIMEOUT."""
    resolved: dict[str, str] | None = None
    """Canonical name -> normalised version, when RESOLVED."""
    detail: str = ""
    """For the console only (may hold temporary paths): why a run failed."""


@dataclass
class Timing:
    times: list[float] = field(default_factory=list)
    outcome: Outcome | None = None
    unstable: bool = False
    """Runs ended differently (e.g. one timed out)."""

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times else None


@dataclass
class Row:
    case: str
    timings: dict[str, Timing]
    runs: int
    outcome: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class Job:
    """One tool's command for one case, and how to read what it printed."""

    argv: list[str]
    stdin: str | None
    read: Callable[[subprocess.CompletedProcess[str]], Outcome]
    before: Callable[[], None] = lambda: None
    env: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------- reading each tool's answer


def _normal(name: str, ver: str) -> tuple[str, str]:
    try:
        return canonicalize_name(name), str(Version(ver))
    except InvalidVersion:
        return canonicalize_name(name), ver


def _tail(text: str, lines: int = 3) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def read_envtui_resolve(proc: subprocess.CompletedProcess[str]) -> Outcome:
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        return Outcome(ERROR, detail=f"exit {proc.returncode}: {_tail(proc.stderr)}")
    if proc.returncode == 0 and "resolved" in data:
        return Outcome(RESOLVED, dict(_normal(n, v) for n, v in data["resolved"].items()))
    if proc.returncode == 1 and "explanation" in data:
        text = str(data["explanation"])
        return Outcome(GAVE_UP if text.startswith("gave up") else NO_SOLUTION, detail=text)
    return Outcome(ERROR, detail=f"exit {proc.returncode}: {_tail(proc.stderr)}")


def _pip_failure(proc: subprocess.CompletedProcess[str]) -> Outcome:
    err = proc.stderr
    if "ResolutionTooDeep" in err:
        return Outcome(GAVE_UP, detail=_tail(err))
    if "ResolutionImpossible" in err or "No matching distribution" in err:
        return Outcome(NO_SOLUTION, detail=_tail(err))
    return Outcome(ERROR, detail=f"exit {proc.returncode}: {_tail(err)}")


def _pip_report(text: str) -> dict[str, str]:
    report = json.loads(text)
    return dict(_normal(item["metadata"]["name"], item["metadata"]["version"])
                for item in report.get("install", []))


def pip_report_reader(report: Path) -> Callable[[subprocess.CompletedProcess[str]], Outcome]:
    def read(proc: subprocess.CompletedProcess[str]) -> Outcome:
        if proc.returncode != 0:
            return _pip_failure(proc)
        try:
            return Outcome(RESOLVED, _pip_report(report.read_text()))
        except (OSError, ValueError, KeyError) as e:
            return Outcome(ERROR, detail=f"unreadable report: {e}")
    return read


def read_uv_compile(proc: subprocess.CompletedProcess[str]) -> Outcome:
    if proc.returncode != 0:
        status = NO_SOLUTION if "No solution found" in proc.stderr else ERROR
        return Outcome(status, detail=f"exit {proc.returncode}: {_tail(proc.stderr)}")
    pins: dict[str, str] = {}
    for raw in proc.stdout.splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if "==" in line:
            name, _, ver = line.partition("==")
            name = name.split("[", 1)[0]
            key, norm = _normal(name.strip(), ver.strip())
            pins[key] = norm
    return Outcome(RESOLVED, pins)


# ------------------------------------------------------------------------ commands per tool


def envtui_command() -> list[str]:
    """The `envtui` console script beside this interpreter, else `python -m envtui`."""
    script = Path(sys.executable).parent / ("envtui.exe" if os.name == "nt" else "envtui")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "envtui"]


def python_xy() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def corpus_jobs(requested: Sequence[str], links: Path, scratch: Path) -> dict[str, Job]:
    report = scratch / "pip-report.json"
    return {
        "envtui": Job([*envtui_command(), "resolve", *requested, "--no-index", "--offline",
                       "--find-links", str(links), "--json"], None, read_envtui_resolve),
        "pip": Job([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
                    "--report", str(report), "--no-index", "--find-links", str(links),
                    "--quiet", *requested], None, pip_report_reader(report),
                   before=lambda: report.unlink(missing_ok=True)),
        "uv": Job([uv_bin(), "pip", "compile", "-", "--no-index", "--offline", "--find-links",
                   str(links), "--python-version", python_xy(), "--no-header", "--quiet",
                   "--no-config"], "".join(f"{r}\n" for r in requested), read_uv_compile),
    }


FIX_INSTALLED = {"oldlib": "1.0", "numpy": "1.26.4", "newlib": "2.0"}
FIX_NAMES = ("oldlib", "newlib", "numpy")


def build_conflicted_venv(root: Path) -> tuple[Path, Path]:
    """A wheelhouse and a uv venv in which newlib 2.0 wants numpy>=2 beside numpy 1.26.4."""
    links = root / "wheels"
    build_wheel(links, "numpy", "1.26.4", requires_python=">=3.9")
    build_wheel(links, "numpy", "2.1.0", requires_python=">=3.10")
    build_wheel(links, "oldlib", "1.0", requires=["numpy<2"])
    build_wheel(links, "oldlib", "1.3", requires=["numpy>=1.26"])
    build_wheel(links, "newlib", "2.0", requires=["numpy>=2"])
    venv = make_venv(root / "env", "uv")
    install: list[str | Path] = [uv_bin(), "pip", "install", "--quiet", "--offline", "--no-index",
               "--find-links", links, "--python", python_of(venv)]
    run_checked(*install, "oldlib==1.0", "numpy==1.26.4")
    run_checked(*install, "--no-deps", "newlib==2.0")
    return venv, links


def read_envtui_fix(proc: subprocess.CompletedProcess[str]) -> Outcome:
    """The state plan 1 leaves the venv in (fix --dry-run exits 1 when it found problems)."""
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        return Outcome(ERROR, detail=f"exit {proc.returncode}: {_tail(proc.stderr)}")
    plans = data.get("plans") or []
    if not plans:
        status = GAVE_UP if str(data.get("explanation", "")).startswith("gave up") else ERROR
        return Outcome(status, detail=str(data.get("explanation", _tail(proc.stderr))))
    state = dict(_normal(n, v) for n, v in FIX_INSTALLED.items())
    for action in plans[0]["actions"]:
        key = canonicalize_name(action["name"])
        if action.get("to") is None:
            state.pop(key, None)
        else:
            state[key] = _normal(key, action["to"])[1]
    return Outcome(RESOLVED, state, detail=str(plans[0].get("summary", "")))


def read_pip_fix(proc: subprocess.CompletedProcess[str]) -> Outcome:
    """The installed state updated with what pip would install."""
    if proc.returncode != 0:
        return _pip_failure(proc)
    try:
        changes = _pip_report(proc.stdout)
    except (ValueError, KeyError) as e:
        return Outcome(ERROR, detail=f"unreadable report: {e}")
    return Outcome(RESOLVED, {**dict(_normal(n, v) for n, v in FIX_INSTALLED.items()),
                              **changes})


def fix_jobs(venv: Path, links: Path) -> dict[str, Job]:
    return {
        "envtui": Job([*envtui_command(), "fix", str(venv), "--dry-run", "--json",
                       "--no-index", "--offline", "--find-links", str(links)],
                      None, read_envtui_fix),
        "pip": Job([sys.executable, "-m", "pip", "--python", str(python_of(venv)), "install",
                    "--dry-run", "--report", "-", "--no-index", "--find-links", str(links),
                    "--quiet", *FIX_NAMES], None, read_pip_fix),
        "uv": Job([uv_bin(), "pip", "compile", "-", "--no-index", "--offline", "--find-links",
                   str(links), "--python-version", python_xy(), "--no-header", "--quiet",
                   "--no-config"], "".join(f"{n}\n" for n in FIX_NAMES), read_uv_compile),
    }


# ------------------------------------------------------------------------------- timing


def tool_env(scratch: Path, tool: str) -> dict[str, str]:
    """An environment with private caches and HOME, and no index or config leaking in."""
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(LEAKY_PREFIXES) and k not in LEAKY}
    home = scratch / f"home-{tool}"
    home.mkdir(parents=True, exist_ok=True)
    base.update({
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_CACHE_DIR": str(scratch / f"pip-cache-{tool}"),
        "UV_CACHE_DIR": str(scratch / f"uv-cache-{tool}"),
    })
    return base


def run_once(job: Job, timeout: float) -> tuple[float, Outcome]:
    job.before()
    start = time.perf_counter()
    try:
        proc = subprocess.run(job.argv, input=job.stdin, capture_output=True, text=True,
                              env=job.env, timeout=timeout, check=False,
                              stdin=None if job.stdin is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - start, Outcome(TIMEOUT, detail=f"over {timeout:g} s")
    elapsed = time.perf_counter() - start
    return elapsed, job.read(proc)


def time_jobs(jobs: dict[str, Job], runs: int, warmup: int, timeout: float) -> dict[str, Timing]:
    """Warm-ups, then `runs` rounds with the tools' order rotating every round."""
    timings = {tool: Timing() for tool in jobs}
    order = list(jobs)
    for _ in range(warmup):
        for tool in order:
            _, outcome = run_once(jobs[tool], timeout)
            if outcome.status == TIMEOUT:  # don't wait for it again
                timings[tool].outcome = outcome
    for i in range(runs):
        for tool in order[i % len(order):] + order[:i % len(order)]:
            t = timings[tool]
            if t.outcome is not None and t.outcome.status == TIMEOUT:
                continue
            elapsed, outcome = run_once(jobs[tool], timeout)
            if outcome.status != TIMEOUT:
                t.times.append(elapsed)
            if t.outcome is None:
                t.outcome = outcome
            elif (t.outcome.status, t.outcome.resolved) != (outcome.status, outcome.resolved):
                t.unstable = True
                if outcome.status == TIMEOUT:
                    t.outcome = outcome
    return timings


# ---------------------------------------------------------------------- judging the answers


def _same_version(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a is b
    try:
        return Version(a) == Version(b)  # "7.0" is "7.0.0"
    except InvalidVersion:
        return a == b


def _diff(a: dict[str, str], b: dict[str, str]) -> str:
    """The names whose versions differ, as `name A vs B` ("-" where one has none)."""
    parts = []
    for name in sorted(a.keys() | b.keys()):
        if not _same_version(a.get(name), b.get(name)):
            parts.append(f"{name} {a.get(name, '-')} vs {b.get(name, '-')}")
    return ", ".join(parts)


def judge(row: Row, expected: dict[str, str] | None, conflicted: bool) -> None:
    """Fill in the row's outcome and notes: who succeeded, who agrees with whom."""
    outcomes = {tool: t.outcome for tool, t in row.timings.items() if t.outcome is not None}
    statuses = {tool: o.status for tool, o in outcomes.items()}
    for tool, t in row.timings.items():
        if t.unstable:
            row.notes.append(f"{tool}: runs ended differently")
        o = t.outcome
        if o is not None and o.status in (ERROR, TIMEOUT):
            row.notes.append(f"{tool}: {o.status}")
    if len(set(statuses.values())) > 1:
        row.outcome = "; ".join(f"{tool} {status}" for tool, status in statuses.items())
    elif conflicted:
        status = next(iter(statuses.values()), "")
        row.outcome = f"{status}, as expected" if status == NO_SOLUTION else status
    else:
        row.outcome = next(iter(statuses.values()), "")
    resolved = {tool: o.resolved for tool, o in outcomes.items()
                if o.status == RESOLVED and o.resolved is not None}
    if len(resolved) > 1:
        tools = list(resolved)
        differ = [(a, b) for i, a in enumerate(tools) for b in tools[i + 1:]
                  if _diff(resolved[a], resolved[b])]
        if differ:
            row.outcome += ", sets differ"
            row.notes += [f"{a} vs {b}: {_diff(resolved[a], resolved[b])}" for a, b in differ]
        else:
            row.outcome += ", same set" if len(resolved) == len(row.timings) else ""
    if expected is not None:
        off = [tool for tool, pins in resolved.items() if _diff(pins, expected)]
        for tool in off:
            row.notes.append(f"{tool} vs corpus: {_diff(resolved[tool], expected)}")
        if resolved and not off:
            row.outcome += " (= corpus)"
    if expected is not None:
        row.notes += [f"{tool}: {s}, but the corpus resolves this case"
                      for tool, s in statuses.items() if s != RESOLVED]
    if conflicted:
        wrong = [tool for tool, s in statuses.items() if s == RESOLVED]
        row.notes += [f"{tool} resolved a case the corpus says is impossible" for tool in wrong]


# ---------------------------------------------------------------------------------- cases


def corpus_row(name: str, runs: int, warmup: int, timeout: float) -> Row:
    case = load_case(name)
    links = wheelhouse(case.index, case.requested)
    with tempfile.TemporaryDirectory(prefix="envtui-bench-") as tmp:
        scratch = Path(tmp)
        jobs = corpus_jobs(case.requested, links, scratch)
        if name == PATHOLOGICAL:
            jobs = {"envtui": jobs["envtui"]}
            runs, warmup = 1, 0
        for tool, job in jobs.items():
            job.env = tool_env(scratch, tool)
        row = Row(name, time_jobs(jobs, runs, warmup, timeout), runs)
    if name == PATHOLOGICAL:
        o = row.timings["envtui"].outcome
        status = o.status if o is not None else ERROR
        row.outcome = ("envtui gave up within its budget" if status == GAVE_UP
                       else f"envtui: {status}")
        if o is not None and o.detail:
            row.notes.append(f"envtui: {o.detail.split(':')[0]}")
        row.notes.append("pip and uv not run: the harness times only envtui here")
    else:
        expected = case.resolved
        if expected is not None:
            expected = {**expected, **CORPUS_AMENDMENTS.get(name, {})}
        judge(row, expected, case.conflicted is not None)
        for extra, ver in CORPUS_AMENDMENTS.get(name, {}).items():
            row.notes.append(f"expected set taken as the corpus's plus {extra} {ver} "
                             "(a marker dependency resolvelib's recording dropped)")
    return row


def venv_fix_row(runs: int, warmup: int, timeout: float) -> Row:
    with tempfile.TemporaryDirectory(prefix="envtui-bench-") as tmp:
        scratch = Path(tmp)
        venv, links = build_conflicted_venv(scratch)
        jobs = fix_jobs(venv, links)
        for tool, job in jobs.items():
            job.env = tool_env(scratch, tool)
        row = Row(VENV_FIX, time_jobs(jobs, runs, warmup, timeout), runs)
    judge(row, None, conflicted=False)
    o = row.timings["envtui"].outcome
    if o is not None and o.detail:
        row.notes.append(f"envtui plan 1: {o.detail}")
    return row


# ---------------------------------------------------------------------------------- output


def _secs(t: Timing) -> str:
    m = t.median
    if m is None:
        return "timeout" if t.outcome is not None and t.outcome.status == TIMEOUT else "-"
    return f"{m:.3f}"


def _ratio(a: Timing | None, b: Timing | None) -> str:
    if a is None or b is None or a.median is None or b.median is None:
        return "-"
    return f"{a.median / b.median:.2f}"


def table(rows: Sequence[Row]) -> str:
    lines = ["| case | envtui (s) | pip (s) | uv (s) | envtui/pip | envtui/uv | outcome |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for row in rows:
        t = row.timings
        cells = [_secs(t[tool]) if tool in t else "not run" for tool in TOOLS]
        runs = "" if row.runs != 1 or len(t) == len(TOOLS) else " (1 run)"
        lines.append(f"| {row.case}{runs} | {' | '.join(cells)} | "
                     f"{_ratio(t.get('envtui'), t.get('pip'))} | "
                     f"{_ratio(t.get('envtui'), t.get('uv'))} | {row.outcome} |")
    return "\n".join(lines)


def notes(rows: Sequence[Row]) -> list[str]:
    return [f"- {row.case}: {note}" for row in rows for note in row.notes]


def machine() -> dict[str, str]:
    uv = subprocess.run([uv_bin(), "--version"], capture_output=True, text=True, check=False)
    from envtui import __version__

    return {
        "cpus": str(os.cpu_count()),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()} {platform.machine()}",
        "envtui": __version__,
        "pip": dist_version("pip"),
        "pip_resolvelib": str(importlib.import_module("pip._vendor.resolvelib").__version__),
        "resolvelib": dist_version("resolvelib"),
        "uv": (uv.stdout.split() or ["?", "?"])[1],
    }


def section(rows: Sequence[Row], runs: int, warmup: int, info: dict[str, str]) -> str:
    today = datetime.date.today().isoformat()
    wins = [r for r in rows if _ratio(r.timings.get("envtui"), r.timings.get("pip")) != "-"]
    slower = [r.case for r in wins
              if (r.timings["envtui"].median or 0) >= (r.timings["pip"].median or 0)]
    verdict = ("envtui is faster than pip on every case." if not slower else
               f"envtui is not faster than pip on: {', '.join(slower)}.")
    body = [
        SECTION,
        "",
        "Resolving the resolvelib corpus (`tests/corpus/resolvelib-python`) offline from a "
        "find-links folder of metadata-only wheels, each tool started as a whole process: "
        "`envtui resolve --no-index --offline --find-links DIR --json`, "
        "`pip install --dry-run --ignore-installed --report FILE --no-index --find-links DIR`"
        " and `uv pip compile --no-index --offline --find-links DIR`. `venv-fix` is a real "
        "conflicted venv (newlib 2.0 needs numpy>=2 beside oldlib 1.0 and numpy 1.26.4): "
        "`envtui fix ENV --dry-run --json` against `pip --python ENV/bin/python install "
        "--dry-run` and `uv pip compile` of the same names.",
        "",
        f"Median of {runs} runs per tool after {warmup} untimed warm-up run(s), the tools "
        "taking turns in a rotating order; caches are per-case temporary folders. Ratios "
        "below 1 mean envtui is faster. `pyrex-1.9.8` is run by envtui alone, once, to show "
        "it gives up within its budget. " + verdict,
        "",
        table(rows),
        "",
    ]
    found = notes(rows)
    if found:
        body += ["Notes (where tools disagree with each other or with the corpus):", "",
                 *found, ""]
    if any(n.startswith("pip: no solution, but") for r in rows for n in r.notes):
        body += [
            f"pip {info['pip']} vendors resolvelib {info['pip_resolvelib']}, whose "
            "backjumping wrongly reports some solvable cases as impossible (resolvelib issue "
            f"134, the corpus case of that name, and the backjump tests); envtui runs "
            f"resolvelib {info['resolvelib']}.", ""]
    body += [
        f"Machine: {info['cpus']} CPUs, Python {info['python']}, {info['os']}; "
        f"envtui {info['envtui']}, pip {info['pip']}, uv {info['uv']}. Date: {today}.",
        "",
        "Reproduce: `.venv/bin/python benchmarks/resolver.py --write` (options: `--runs N`, "
        "`--case NAME`, `--json`; `--smoke` for a quick check). The wheel folders are built "
        "on first use and cached in `benchmarks/.cache/`.",
        "",
    ]
    return "\n".join(body)


def write_section(text: str, path: Path = BENCHMARKS_MD, section_name: str = SECTION) -> None:
    """Replace a section of BENCHMARKS.md (or add it), keeping the others."""
    if not path.exists():
        path.write_text("# Benchmarks\n\n" + text)
        return
    lines = path.read_text().splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == section_name), None)
    if start is None:
        old = "".join(lines)
        path.write_text(old.rstrip("\n") + "\n\n" + text)
        return
    end = next((i for i in range(start + 1, len(lines))
                if lines[i].startswith("## ") or lines[i].startswith("# ")), len(lines))
    rest = "".join(lines[end:])
    path.write_text("".join(lines[:start]) + text + ("\n" + rest if rest else ""))


def to_json(rows: Sequence[Row], info: dict[str, str]) -> dict[str, Any]:
    def timing(t: Timing) -> dict[str, Any]:
        o = t.outcome
        return {"median": t.median, "times": t.times, "status": o.status if o else None,
                "resolved": o.resolved if o else None, "unstable": t.unstable}
    return {"machine": info, "rows": [
        {"case": r.case, "runs": r.runs, "outcome": r.outcome, "notes": r.notes,
         "tools": {tool: timing(t) for tool, t in r.timings.items()}} for r in rows]}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Cases: " + ", ".join([*case_names(), VENV_FIX]) + ". See BENCHMARKS.md.")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per tool (default 5)")
    ap.add_argument("--warmup", type=int, default=1,
                    help="untimed runs per tool before timing (default 1)")
    ap.add_argument("--case", action="append", default=[], metavar="NAME",
                    help="only this case (repeatable; default: all)")
    ap.add_argument("--timeout", type=float, default=600.0,
                    help="seconds one run may take before it counts as a timeout")
    ap.add_argument("--write", action="store_true",
                    help="replace the Resolver section of BENCHMARKS.md with the results")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--smoke", action="store_true",
                    help=f"one small case ({SMOKE_CASE}), one run, no warm-up, no writing")
    args = ap.parse_args(argv)
    known = [*case_names(), VENV_FIX]
    if args.smoke:
        if args.write:
            ap.error("--smoke never writes BENCHMARKS.md")
        args.case, args.runs, args.warmup = [SMOKE_CASE], 1, 0
    if args.runs < 1 or args.warmup < 0:
        ap.error("--runs must be at least 1 and --warmup at least 0")
    unknown = [c for c in args.case if c not in known]
    if unknown:
        ap.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(known)}")
    chosen = [c for c in known if not args.case or c in args.case]

    rows = []
    for name in chosen:
        if not args.json:
            print(f"{name} ...", file=sys.stderr, flush=True)
        if name == VENV_FIX:
            row = venv_fix_row(args.runs, args.warmup, args.timeout)
        else:
            row = corpus_row(name, args.runs, args.warmup, args.timeout)
        rows.append(row)
        for tool, t in row.timings.items():
            o = t.outcome
            if o is not None and o.status in (ERROR, TIMEOUT) and o.detail:
                print(f"  {tool}: {o.status}: {o.detail}", file=sys.stderr)
    info = machine()
    if args.json:
        print(json.dumps(to_json(rows, info), indent=2))
    else:
        print(table(rows))
        found = notes(rows)
        if found:
            print("\n" + "\n".join(found))
    if args.write:
        write_section(section(rows, args.runs, args.warmup, info))
        print(f"updated the Resolver section of {BENCHMARKS_MD.name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
