"""Fix plans for conflicts among a conda environment's own records, solved by py-rattler.

pip's packages in a conda environment go through `plans.propose` like any venv's; what the
conda records require of each other is conda's business, so those conflicts are solved by
rattler's solver from the environment's channels. The installed records are the locked
(preferred) starting point and every installed package stays asked for, so only what must
change changes. As in `propose`, different ways out come from holding each package
involved where it is and from removing one nothing depends on.

A plan carries the whole solved environment; applying it is `rattler.install` of those
records inside envtui's transaction (lock, journal, snapshot, verify, roll back), so
`undo` works as for any fix.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import re
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from envtui.model import Environment, Problem
from envtui.resolver.actions import Action, ActionKind
from envtui.resolver.plans import MAX_PLANS, FixError, Plan, Proposal, fixable_problems, ranked

if TYPE_CHECKING:
    from rattler import PrefixRecord, RepoDataRecord

    from envtui.resolver.transaction import ApplyResult

SETTLE = 0.5
"""Seconds the interpreter waits at exit after the last rattler call (see `_rattler`)."""
SOLVE_TIMEOUT = 60.0
"""Seconds for each solve; a pathological channel gives up rather than hangs."""
INSTALLER = "rattler"

_T = TypeVar("_T")
Identity = tuple[str, str, str]
"""(name, version, build): one conda record."""


@dataclass(frozen=True)
class CondaPlan(Plan):
    """A plan for conda records: its actions, and the whole environment rattler solved."""

    records: tuple[Any, ...] = ()
    """rattler RepoDataRecords: every conda package the environment has after the plan."""
    before: frozenset[Identity] = frozenset()
    """The records installed when the plan was made (a changed env must be planned again)."""



def conda_problems(env: Environment, problems: Iterable[Problem]) -> list[Problem]:
    """The fixable problems whose dependent is one of the environment's conda records."""
    records = {(p.key, p.version) for p in env.packages if p.source == "conda"}
    return [p for p in fixable_problems(problems) if p.package is not None
            and (_key(p.package), p.version) in records]


def read_records(prefix: Path) -> list[PrefixRecord]:
    """The installed records, as rattler reads `conda-meta/*.json`."""
    from rattler import PrefixRecord

    meta = prefix / "conda-meta"
    out = []
    for path in sorted(meta.glob("*.json")):
        if path.name.startswith("._"):
            continue  # AppleDouble files, as the inspector skips them
        try:
            out.append(PrefixRecord.from_path(path))
        except Exception as e:  # rattler raises its own error types for a bad record
            raise FixError(f"{path}: cannot be read as a conda record ({one_line(e)})") from e
    return out


def recorded_channels(records: Iterable[RepoDataRecord]) -> list[str]:
    """The channels the records came from, in first-seen order (their URL or name)."""
    out: dict[str, None] = {}
    for r in records:
        channel = (r.channel or "").rstrip("/") or r.url.rsplit("/", 2)[0]
        if channel:
            out.setdefault(channel)
    return list(out)


def propose_conda(env: Environment, problems: Sequence[Problem], channels: Sequence[str], *,
                  keep: Iterable[str] = (), progress: Callable[[str], None] | None = None,
                  cache_dir: Path | None = None, max_plans: int = MAX_PLANS) -> Proposal:
    """Ranked plans that make the conda records of `env` consistent, solved by rattler.

    `channels` (URLs or names) replace the channels the records came from; empty means
    those. Raises FixError when the environment cannot be planned for at all.
    """
    fixable = conda_problems(env, problems)
    proposal = Proposal(fixable)
    if not fixable:
        return proposal
    left = len(fixable_problems(problems)) - len(fixable)
    if left:
        proposal.warnings.append(f"{left} problem{'s' if left != 1 else ''} of pip-installed "
                                 "packages left for a later `envtui fix`, once conda's "
                                 "are fixed")
    say = progress or (lambda _line: None)
    prefix = Path(env.path or "")
    installed = {_key(r.name.normalized): r for r in read_records(prefix)}
    kept = {_key(k) for k in keep}
    unknown = sorted(kept - installed.keys())
    if unknown:
        raise FixError(f"--keep {unknown[0]}: no such conda package is installed in {env.ref}")
    sources = list(channels) or recorded_channels(installed.values())
    if not sources:
        raise FixError(f"{env.ref}: its conda records name no channel; give --channel URL")
    involved = {_key(p.package or "") for p in fixable} | _required_names(fixable)
    involved = (involved & installed.keys()) - kept
    solver = _Solver(installed, sources, cache_dir or rattler_cache_dir())
    before = frozenset(_identity(r) for r in installed.values())

    def attempt(hold: Iterable[str] = (), drop: Iterable[str] = (),
                pin_others: bool = True) -> CondaPlan:
        held = kept | set(hold) | ((installed.keys() - involved) if pin_others else set())
        specs = [f"{r.name.source} =={r.version}" if key in held else r.name.source
                 for key, r in sorted(installed.items()) if key not in drop]
        records = solver.solve(specs)
        return CondaPlan(_actions(installed, records), records=tuple(records), before=before)

    say(f"solving the conda packages of {env.ref} from {', '.join(sources)}")
    plans: list[CondaPlan] = []
    from rattler.exceptions import SolverError

    for pin_others in (True, False):  # moving only what is involved, then anything
        try:
            plans.append(attempt(pin_others=pin_others))
            break
        except SolverError as e:
            proposal.explanation = (f"the conda packages cannot be made consistent from "
                                    f"{', '.join(sources)}: {one_line(e)}")
    for key in sorted(involved) if plans else ():
        try:
            plan = attempt(hold=[key], pin_others=False)
        except SolverError:
            continue
        r = installed[key]
        plans.append(CondaPlan(plan.actions, f"holds {r.name.source} at {r.version}",
                               plan.records, before))
    needed = {_key(_dep_name(d)) for r in installed.values() for d in r.depends}
    for key in sorted(involved - needed):
        try:
            plan = attempt(drop=[key], pin_others=False)
        except SolverError:
            continue
        plans.append(CondaPlan(plan.actions, f"removes {installed[key].name.source}, which "
                               "nothing needs", plan.records, before))
    proposal.plans = list(ranked(plans))[:max_plans]
    if proposal.plans:
        proposal.explanation = None
    return proposal


def apply_conda(prefix: Path, plan: CondaPlan, *, progress: Callable[[str], object] | None = None,
                cancel: threading.Event | None = None,
                cache_dir: Path | None = None) -> ApplyResult:
    """Link the plan's records into `prefix` as one envtui transaction (see transaction.py).

    rattler cannot be stopped half-way safely, so a cancel takes effect when its install
    returns: then the snapshot is restored, as after any failure.
    """
    from envtui.resolver.sources import IndexOptions
    from envtui.resolver.transaction import Step, apply_actions

    prefix = Path(os.path.abspath(prefix))
    wanted = {_identity(r) for r in plan.records}
    cache = cache_dir or rattler_cache_dir()

    def run(say: Callable[[str], object], stop: threading.Event, deadline: float) -> str | None:
        installed = read_records(prefix)
        if frozenset(_identity(r) for r in installed) != plan.before:
            return "the conda packages changed since the plan was made; run fix again"
        n = len(plan.actions)
        say(f"running: rattler install ({n} change{'s' if n != 1 else ''})")
        return run_in_thread(_install(list(plan.records), prefix, installed, cache), say, stop,
                          deadline)

    def verify(_env: Environment) -> str | None:
        have = {_identity(r) for r in read_records(prefix)}
        missing, extra = sorted(wanted - have), sorted(have - wanted)
        if missing:
            return f"{' '.join(missing[0])} is not installed after the change"
        if extra:
            return f"{' '.join(extra[0])} is still installed after the change"
        return None

    copies = _changed_files(prefix, plan)
    return apply_actions(prefix, plan.actions, IndexOptions(), progress=progress,
                         cancel=cancel, step=Step(INSTALLER, run, verify, copies))


# --------------------------------------------------------------------------- solving


class _Solver:
    """rattler's solver over fixed channels, platforms and virtual packages."""

    def __init__(self, installed: dict[str, PrefixRecord], channels: Sequence[str],
                 cache: Path) -> None:
        from rattler import Gateway, Platform, VirtualPackage

        self.locked = list(installed.values())
        self.channels = list(channels)
        subdirs = {r.subdir for r in self.locked if r.subdir and r.subdir != "noarch"}
        # The environment's own platform when its records tell it; this machine's otherwise.
        self.platforms = [*(sorted(subdirs) or [str(Platform.current())]), "noarch"]
        self.virtual = VirtualPackage.detect()
        self.gateway = Gateway(cache_dir=cache / "repodata")

    def solve(self, specs: Sequence[str]) -> list[RepoDataRecord]:
        from datetime import timedelta

        from rattler import solve
        from rattler.exceptions import SolverError

        try:
            return run_rattler(solve(self.channels, specs, gateway=self.gateway,
                              platforms=self.platforms,  # type: ignore[arg-type]
                              locked_packages=self.locked, virtual_packages=self.virtual,
                              timeout=timedelta(seconds=SOLVE_TIMEOUT)))
        except SolverError:
            raise
        except Exception as e:  # unreachable channel, bad repodata: nothing to plan with
            raise FixError(f"cannot read the conda channels {', '.join(self.channels)}: "
                           f"{one_line(e)}") from e


def _actions(installed: dict[str, PrefixRecord],
             solved: Iterable[RepoDataRecord]) -> tuple[Action, ...]:
    from rattler import Version

    actions = []
    names = set()
    for r in sorted(solved, key=lambda r: r.name.normalized):
        key = _key(r.name.normalized)
        names.add(key)
        old = installed.get(key)
        if old is None:
            actions.append(Action(r.name.source, None, str(r.version), ActionKind.INSTALL))
            continue
        a, b = Version(str(old.version)), Version(str(r.version))
        if a != b:
            kind = ActionKind.UPGRADE if b > a else ActionKind.DOWNGRADE
            actions.append(Action(r.name.source, str(old.version), str(r.version), kind))
        elif str(old.build) != str(r.build):  # same version, other build: conda's `v=build`
            kind = ActionKind.UPGRADE if r.build_number >= old.build_number \
                else ActionKind.DOWNGRADE
            actions.append(Action(r.name.source, f"{old.version}={old.build}",
                                  f"{r.version}={r.build}", kind))
    for key, old in sorted(installed.items()):
        if key not in names:
            actions.append(Action(old.name.source, str(old.version), None, ActionKind.REMOVE))
    return tuple(actions)


def _required_names(problems: Iterable[Problem]) -> set[str]:
    return {_key(_dep_name(p.requirement)) for p in problems if p.requirement}


def _dep_name(spec: str) -> str:
    """The package a conda `depends` entry names (`zlib >=1.3,<2` -> `zlib`)."""
    return spec.strip().split(" ", 1)[0].split("[", 1)[0]


def _key(name: str) -> str:
    return name.strip().lower()


def _identity(r: RepoDataRecord) -> Identity:
    return r.name.normalized, str(r.version), str(r.build)


def one_line(error: BaseException) -> str:
    """rattler's message (a tree drawn with box characters) as one readable line."""
    # The tree repeats a line under every branch that meets it; once is enough.
    lines = dict.fromkeys(" ".join(re.sub(r"[\u2500-\u257f]+", " ", line).split())
                          for line in str(error).splitlines())
    return " ".join(x for x in lines if x).rstrip(".") or type(error).__name__


_last_call: list[float] = []


def run_rattler(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run one py-rattler coroutine to its end.

    Its tokio threads still release Python objects just after the result is delivered. If
    the interpreter is finalising by then, Python ends those threads with pthread_exit,
    which aborts the process (a few percent of `envtui fix` runs exited with SIGSEGV or
    "PyGILState_Release" before this). An exit hook, run before finalisation starts, gives
    them SETTLE seconds after the last call.
    """
    if not _last_call:
        atexit.register(_settle)
    try:
        return asyncio.run(coro)
    finally:
        _last_call[:] = [time.monotonic()]


def _settle() -> None:
    time.sleep(max(0.0, _last_call[0] + SETTLE - time.monotonic()))


def rattler_cache_dir() -> Path:
    from envtui.inspectors.base import ScanContext

    return ScanContext.from_process().cache_dir / "rattler"



# --------------------------------------------------------------------------- installing


async def _install(records: list[RepoDataRecord], prefix: Path,
                   installed: list[PrefixRecord], cache: Path) -> None:
    from rattler import MatchSpec, install

    # What the user asked for stays recorded on the records that are replaced (pixi and
    # rattler keep it there). The binding wants rattler's inner spec objects.
    asked = {s for r in installed for s in (*r.requested_specs, r.requested_spec or "") if s}
    requested = [MatchSpec(s)._match_spec for s in sorted(asked)]
    # Link scripts stay off: applying a fix must not run a package's code (DESIGN 1).
    await install(records, prefix, cache_dir=cache / "pkgs", installed_packages=installed,
                  show_progress=False, execute_link_scripts=False,
                  requested_specs=requested)


def run_in_thread(coro: Coroutine[Any, Any, None], say: Callable[[str], object],
               stop: threading.Event, deadline: float) -> str | None:
    """Run `coro` to its end in a thread; why it failed, or None.

    It is never abandoned half-way (it would go on writing into the prefix while the
    snapshot is restored): a cancel or the deadline is announced and waited out.
    """
    errors: list[BaseException] = []

    def work() -> None:
        try:
            run_rattler(coro)
        except BaseException as e:  # handed to the waiting thread
            errors.append(e)

    thread = threading.Thread(target=work, name="envtui-rattler-install", daemon=True)
    thread.start()
    announced = False
    while thread.is_alive():
        thread.join(0.1)
        if not announced and (stop.is_set() or time.monotonic() > deadline):
            announced = True
            say("warning: rattler cannot be stopped half-way; waiting for it to finish "
                "before the environment is restored")
    if errors:
        return f"rattler install failed: {one_line(errors[0])}"
    if announced and not stop.is_set():
        return "rattler install did not finish in time"
    return None


def _changed_files(prefix: Path, plan: CondaPlan) -> frozenset[str]:
    """Files the snapshot must copy rather than link: all of conda-meta (records and the
    history are rewritten), and every file of the records the plan removes or replaces.

    Raises TransactionError when such a record lists a path rattler must not delete: it
    follows `..` out of the prefix (RELIABILITY 26).
    """
    from envtui.resolver.journal import TransactionError
    from envtui.resolver.snapshot import unsafe_entry

    changed = {_key(a.name) for a in plan.actions if a.kind is not ActionKind.INSTALL}
    real = os.path.realpath(prefix)
    out = {f"conda-meta/{p.name}" for p in (prefix / "conda-meta").iterdir() if p.is_file()}
    for r in read_records(prefix):
        if _key(r.name.normalized) not in changed:
            continue
        listed = [str(p) for p in r.files] + [str(e.relative_path) for e in r.paths_data.paths]
        for entry in listed:
            why = unsafe_entry(entry, real, real)
            if why:
                raise TransactionError(
                    f"refusing to change {prefix}: the conda record of {r.name.normalized} "
                    f"lists {entry!r}, {why}, which rattler would try to delete; repair that "
                    "record first")
        for rel in r.files:
            full = os.path.normpath(os.path.join(real, rel))
            if full.startswith(real + os.sep):  # never trust a path from metadata
                out.add(os.path.relpath(full, real).replace(os.sep, "/"))
    return frozenset(out)
