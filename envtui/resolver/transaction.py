"""Applying a fix plan to an environment as one transaction envtui owns.

lock -> snapshot -> journal "applying" -> run the installer -> verify -> journal "committed".
Any failure after the snapshot (the installer's exit status, a timeout, a cancel, a failed
verification, an exception, Ctrl-C) puts the prefix back to the snapshot before the error
is raised, so the environment is either changed as planned and checked, or as it was.
The last committed change stays undoable until the next one (`undo`).

A process killed mid-way leaves the journal saying "applying" with nobody holding the lock:
`pending` finds it, `undo` restores the snapshot, `finish` restores it and applies the same
change again, `discard` forgets it.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from packaging.version import InvalidVersion, Version

from envtui.model import Environment, EnvKind, Package, Problem, ProblemKind, canonical_name
from envtui.resolver import snapshot as snap
from envtui.resolver.actions import Action, ActionKind
from envtui.resolver.installer import (
    GRACE,
    Installer,
    commands,
    find_installer,
    interpreter,
    run,
    running_pips,
)
from envtui.resolver.journal import (
    APPLYING,
    COMMITTED,
    SNAPSHOT,
    STATE_DIR,
    EnvBusy,
    Journal,
    TransactionError,
    env_lock,
    lock_is_free,
    read_journal,
    remove_journal,
    uv_lock,
    write_journal,
)
from envtui.resolver.snapshot import SnapshotError
from envtui.resolver.sources import IndexOptions

__all__ = [
    "ApplyFailed", "ApplyResult", "Cancelled", "EnvBusy", "Journal", "NothingToUndo",
    "PendingChange", "SnapshotError", "Step", "TransactionError", "apply_actions", "discard",
    "finish", "pending", "undo",
]

Progress = Callable[[str], object]

TIMEOUT = 15 * 60.0
"""Seconds the installer runs, in all, before the change is abandoned and restored."""
ROLLBACK_PATIENCE = 30.0
"""Seconds a rollback waits for a uv someone else started to release the environment."""
VERIFIED_KINDS = frozenset({ProblemKind.CONFLICT, ProblemKind.MISSING})
"""Problems a change must not add."""


class NothingToUndo(TransactionError):
    """There is no envtui change to undo (or no interrupted one to discard)."""


class PendingChange(TransactionError):
    """An earlier change was interrupted; it must be undone or discarded first."""


class ApplyFailed(TransactionError):
    """The change failed and the environment was put back as it was (unless `restored` is
    False, when the journal still says "applying" and `undo` retries)."""

    def __init__(self, message: str, reason: str, output: Sequence[str] = (),
                 restored: bool = True) -> None:
        super().__init__(message)
        self.reason = reason
        """One sentence: why the change failed."""
        self.output = tuple(output)
        """The installer's last output lines."""
        self.restored = restored


class Cancelled(ApplyFailed):
    """The user cancelled the change; the environment was restored."""


@dataclass(frozen=True)
class ApplyResult:
    prefix: Path
    actions: tuple[Action, ...]
    installer: str
    """"uv" or "pip" ("" when there was nothing to do)."""
    output: tuple[str, ...]
    """The installer's last output lines."""
    environment: Environment | None
    """The environment as inspected after the change."""
    problems: tuple[Problem, ...]
    """Its check after the change (problems it had before may remain)."""


@dataclass(frozen=True)
class Step:
    """An installer step other than uv/pip, for `apply_actions` (conda_fix: rattler).

    `run(say, cancel, deadline)` changes the prefix and returns why it failed, or None; it
    must not leave anything running. `verify(env)` says why the result is not the plan, or
    None (the transaction still checks for new problems itself).
    """

    name: str
    run: Callable[[Progress, threading.Event, float], str | None]
    verify: Callable[[Environment], str | None]
    copies: frozenset[str] = frozenset()
    """Prefix-relative files the snapshot copies rather than links: the step rewrites them."""


class _Failure(Exception):
    """Inside apply: the change failed for `reason`; roll back."""


class _Cancel(Exception):
    """Inside apply: the cancel event was set."""


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _inspect(prefix: Path) -> Environment:
    from envtui.inspectors.base import ScanContext
    from envtui.inspectors.discovery import inspect_path

    ctx = ScanContext.from_process(kinds=frozenset({EnvKind.VENV, EnvKind.CONDA}))
    env = inspect_path(ctx, prefix, use_cache=False)
    if env is None:
        raise TransactionError(f"{prefix} is not a virtual environment or a conda environment")
    return env


def _check(env: Environment) -> list[Problem]:
    from envtui.resolver.checks import check_environment

    return check_environment(env)


def _python_packages(env: Environment, name: str) -> list[Package]:
    key = canonical_name(name)
    return [p for p in env.packages if p.key == key and p.source == "python"]


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def _problem_key(p: Problem) -> tuple[str, str | None, str | None, str | None]:
    return p.kind, p.package, p.version, p.requirement


def verify(actions: Sequence[Action], before: Sequence[Problem], env: Environment,
           after: Sequence[Problem]) -> str | None:
    """Why the environment is not what the plan promised, or None when it is."""
    for a in actions:
        found = _python_packages(env, a.name)
        if a.kind is ActionKind.REMOVE:
            if found:
                return f"{a.name} {found[0].version} is still installed"
        elif not found:
            return f"{a.name} is not installed after the change"
        elif a.to_version is not None and not _same_version(found[0].version, a.to_version):
            return f"{a.name} is {found[0].version} after the change, not {a.to_version}"
    old = {_problem_key(p) for p in before}
    new = [p for p in after if p.kind in VERIFIED_KINDS and _problem_key(p) not in old]
    if new:
        more = f" (and {len(new) - 1} more)" if len(new) > 1 else ""
        return f"the change would leave a new problem: {new[0].detail}{more}"
    return None


def _changed_dist_infos(actions: Sequence[Action], env: Environment) -> list[Path]:
    """The dist-infos of the packages the installer will remove or replace."""
    changed = {canonical_name(a.name) for a in actions if a.kind is not ActionKind.INSTALL}
    return [Path(p.location) for p in env.packages
            if p.key in changed and p.source == "python" and p.location
            and p.location.endswith(".dist-info")]


def _check_records(prefix: Path, actions: Sequence[Action], env: Environment) -> None:
    """Refuse a change whose installer would delete, by a RECORD row, something that is not
    a file of the environment (RELIABILITY 26); nothing has been changed yet."""
    for dist_info in _changed_dist_infos(actions, env):
        why = snap.unsafe_record(dist_info, prefix)
        if why:
            raise TransactionError(f"refusing to change {prefix}: {why}, which the "
                                   "installer would try to delete; repair that RECORD first")


def _snapshot_dir(prefix: Path) -> Path:
    return prefix / STATE_DIR / SNAPSHOT


def _take_snapshot(prefix: Path, actions: Sequence[Action], env: Environment,
                   say: Progress, copies: frozenset[str] = frozenset()
                   ) -> tuple[Path, frozenset[str]]:
    """Replace the previous snapshot (and its journal) with one of the prefix as it is.

    The previous one goes only once the new one is complete: a snapshot that cannot be
    taken (unreadable file, disk full) leaves the last change undoable.
    """
    dest = _snapshot_dir(prefix)
    partial = dest.with_name(SNAPSHOT + ".partial")
    snap.remove_tree(partial)  # left by an envtui killed while taking one
    skip = snap.skipped_names(prefix)
    try:
        count = snap.take(prefix, partial,
                          snap.record_files(_changed_dist_infos(actions, env), prefix) | copies,
                          skip)
    except BaseException:
        snap.remove_tree(partial)
        raise
    remove_journal(prefix)  # the old journal describes the snapshot about to go
    snap.remove_tree(dest)
    os.rename(partial, dest)
    say(f"snapshot of {prefix} taken ({count} entries)")
    return dest, skip


def apply_actions(prefix: Path, actions: Sequence[Action], options: IndexOptions, *,
                  progress: Progress | None = None, cancel: threading.Event | None = None,
                  timeout: float = TIMEOUT, grace: float = GRACE,
                  step: Step | None = None) -> ApplyResult:
    """Apply `actions` to the environment at `prefix`, verified, or leave it as it was.

    `progress` gets one line at a time (installer output, and warnings starting with
    "warning:"), always from the calling thread. Setting `cancel` stops the installer
    (SIGINT, then SIGTERM and SIGKILL `grace` seconds apart) and restores the environment.
    Raises EnvBusy, PendingChange, SnapshotError, Cancelled or ApplyFailed (all
    TransactionError); on Cancelled and ApplyFailed the environment is as it was.
    `step` replaces the uv/pip run (and the check of the planned versions).
    """
    prefix = Path(os.path.abspath(prefix))
    say = progress or (lambda _line: None)
    cancel = cancel or threading.Event()
    if not actions:
        return ApplyResult(prefix, (), "", (), None, ())
    if not (prefix / "pyvenv.cfg").is_file() and not (prefix / "conda-meta").is_dir():
        raise TransactionError(f"{prefix} is not a virtual environment or a conda environment")
    if step is None and not os.path.lexists(interpreter(prefix)):
        raise TransactionError(f"{prefix} has no {interpreter(prefix).relative_to(prefix)}")
    with env_lock(prefix):
        journal = read_journal(prefix)
        if journal is not None and journal.state == APPLYING:
            raise PendingChange(f"an earlier envtui change to {prefix} was interrupted; "
                                f"`envtui undo {prefix}` restores it")
        installer = find_installer(prefix) if step is None else Installer(step.name, ())
        with uv_lock(prefix):  # what is checked and snapshotted is what uv last left
            _refuse_running_pip(prefix)
            before_env = _inspect(prefix)
            _check_records(prefix, actions, before_env)
            before = _check(before_env)
            snapshot, skip = _take_snapshot(prefix, actions, before_env, say,
                                            step.copies if step else frozenset())
        journal = Journal(prefix=prefix, state=APPLYING, pid=os.getpid(), started=_now(),
                          actions=tuple(actions), snapshot=f"{STATE_DIR}/{SNAPSHOT}",
                          skipped=tuple(sorted(skip)), installer=installer.name)
        write_journal(journal)
        tail: deque[str] = deque(maxlen=40)
        try:
            env, after = _execute(prefix, actions, options, installer, journal, before,
                                  say, cancel, time.monotonic() + timeout, grace, tail, step)
        except (_Cancel, KeyboardInterrupt):
            raise _roll_back(prefix, journal, snapshot, None, tail, say) from None
        except _Failure as e:
            raise _roll_back(prefix, journal, snapshot, str(e), tail, say) from None
        except Exception as e:
            raise _roll_back(prefix, journal, snapshot, f"{type(e).__name__}: {e}", tail,
                             say) from e
        except BaseException:
            with contextlib.suppress(OSError, TransactionError), uv_lock(prefix):
                snap.restore(prefix, snapshot, journal.skipped)
                _forget(prefix, snapshot)
            raise
        write_journal(replace(journal, state=COMMITTED, child=None, finished=_now()))
        say(f"done: {len(actions)} change{'s' if len(actions) != 1 else ''} applied "
            f"and verified")
        return ApplyResult(prefix, tuple(actions), installer.name, tuple(tail), env,
                           tuple(after))


def _execute(prefix: Path, actions: Sequence[Action], options: IndexOptions,
             installer: Installer, journal: Journal, before: list[Problem], say: Progress,
             cancel: threading.Event, deadline: float, grace: float,
             tail: deque[str], step: Step | None = None) -> tuple[Environment, list[Problem]]:
    def started(pid: int) -> None:
        # Recorded so that, if envtui dies, nobody restores under a still-running installer.
        write_journal(replace(journal, child=pid))

    for argv in commands(installer, prefix, actions, options) if step is None else ():
        if cancel.is_set():
            raise _Cancel
        shown = argv[1:] if installer.name == "uv" else argv[3:]  # after `python -m pip`
        say(f"running: {installer.name} {' '.join(shown)}")
        out = run(argv, progress=say, cancel=cancel, deadline=deadline, grace=grace,
                  started=started)
        tail.extend(out.output)
        if out.returncode is not None:
            write_journal(replace(journal, child=None))  # its pid may be reused from now on
        if out.cancelled:
            raise _Cancel
        if out.error:
            raise _Failure(out.error)
        if out.timed_out:
            raise _Failure(f"{installer.name} did not finish in time and was stopped")
        if out.returncode != 0:
            said = next((x.strip() for x in out.output if x.lower().startswith("error:")),
                        None)
            raise _Failure(f"{installer.name} failed (exit status {out.returncode})"
                           + (f": {said}" if said else ""))
    failed = step.run(say, cancel, deadline) if step is not None else None
    if cancel.is_set():
        raise _Cancel
    if failed:
        raise _Failure(failed)
    say("verifying the environment")
    env = _inspect(prefix)
    after = _check(env)
    why = (step.verify(env) or verify((), before, env, after)) if step is not None \
        else verify(actions, before, env, after)
    if why:
        raise _Failure(why)
    if cancel.is_set():
        raise _Cancel
    return env, after


def _roll_back(prefix: Path, journal: Journal, snapshot: Path, reason: str | None,
               tail: deque[str], say: Progress) -> ApplyFailed:
    """Restore the snapshot and forget the change; return the error to raise.

    `reason` None means the user cancelled.
    """
    say(f"{'cancelled' if reason is None else 'failed: ' + reason}; restoring {prefix}")
    why = reason or "cancelled"
    try:
        with uv_lock(prefix, ROLLBACK_PATIENCE):
            snap.restore(prefix, snapshot, journal.skipped)
    except (OSError, TransactionError) as e:
        err = ApplyFailed(
            f"could not apply the change to {prefix} ({why}), and restoring it failed "
            f"too ({e}); `envtui undo {prefix}` retries", why, tail, restored=False)
        err.__cause__ = e
        return err
    _forget(prefix, snapshot)
    say(f"restored {prefix}")
    if reason is None:
        return Cancelled(f"cancelled, environment restored: {prefix}", why, tail)
    return ApplyFailed(f"could not apply the change to {prefix}: {reason}; "
                       f"the environment was restored", reason, tail)


def _refuse_running_pip(prefix: Path) -> None:
    """pip takes no lock (uv's is respected by `uv_lock`): one changing the environment
    now would mix its changes with envtui's, and a restore would undo them."""
    found = running_pips(prefix)
    if found:
        pid, command = found[0]
        raise EnvBusy(f"pip (pid {pid}) is changing {prefix}: {command}; wait for it to "
                      "finish, then try again")


def _forget(prefix: Path, snapshot: Path) -> None:
    # Journal first: a journal without its snapshot would promise an undo it cannot do.
    remove_journal(prefix)
    snap.remove_tree(snapshot)


def _child_alive(pid: int | None) -> bool:
    """Whether an installer a dead envtui started still runs (a live group leader)."""
    if pid is None:
        return False
    try:
        if os.getpgid(pid) != pid:
            return False
    except (ProcessLookupError, PermissionError):
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            state = f.read().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")  # a zombie is gone, only not yet reaped


def undo(prefix: Path, *, progress: Progress | None = None) -> list[Action]:
    """Put the environment back as it was before envtui's last change; return that change.

    Works for the last committed change and for one that was interrupted (`pending`).
    """
    prefix = Path(os.path.abspath(prefix))
    say = progress or (lambda _line: None)
    if not os.path.isdir(prefix / STATE_DIR):  # don't create .envtui just to say no
        raise NothingToUndo(f"nothing to undo in {prefix}: no envtui change is recorded")
    with env_lock(prefix):
        journal = read_journal(prefix)
        snapshot = _snapshot_dir(prefix)
        if journal is None or not snapshot.is_dir():
            raise NothingToUndo(f"nothing to undo in {prefix}: no envtui change is recorded")
        if journal.state == APPLYING and _child_alive(journal.child):
            raise EnvBusy(f"the installer an interrupted envtui started in {prefix} "
                          f"(pid {journal.child}) is still running; wait for it or stop it")
        say(f"restoring {prefix} as it was before {journal.started}")
        # The journal names the snapshot only as a check: it is always in the same place.
        if journal.snapshot != f"{STATE_DIR}/{SNAPSHOT}":
            raise TransactionError(f"{prefix}: the journal names an unexpected snapshot "
                                   f"{journal.snapshot!r}; nothing restored")
        skip = frozenset(journal.skipped) | snap.skipped_names(prefix)
        with uv_lock(prefix):
            _refuse_running_pip(prefix)
            snap.restore(prefix, snapshot, skip)
        _forget(prefix, snapshot)
        say(f"restored {prefix}")
        return list(journal.actions)


def pending(prefix: Path) -> Journal | None:
    """The interrupted change of `prefix`: its journal says "applying" and nobody holds the
    lock (whoever applied it died). None when there is none or it is still being applied."""
    prefix = Path(os.path.abspath(prefix))
    journal = read_journal(prefix)
    if journal is None or journal.state != APPLYING:
        return None
    return journal if lock_is_free(prefix) else None


def finish(prefix: Path, options: IndexOptions, *, progress: Progress | None = None,
           cancel: threading.Event | None = None, timeout: float = TIMEOUT,
           grace: float = GRACE) -> ApplyResult:
    """Complete an interrupted change: put the environment back to the snapshot taken
    before it (the only state known to be whole), then apply the same actions again as a
    new transaction, verified and undoable like any other. Raises like `undo`, then like
    `apply_actions` (after a failed second attempt the environment is as it was before).
    """
    prefix = Path(os.path.abspath(prefix))
    journal = pending(prefix)
    if journal is None:
        raise NothingToUndo(f"no interrupted envtui change in {prefix}")
    if journal.installer not in ("uv", "pip"):
        # A conda plan is a set of records, which the journal does not hold.
        raise TransactionError(f"an interrupted {journal.installer} change to {prefix} "
                               f"cannot be finished; `envtui undo {prefix}` restores it")
    actions = undo(prefix, progress=progress)
    return apply_actions(prefix, actions, options, progress=progress, cancel=cancel,
                         timeout=timeout, grace=grace)


def discard(prefix: Path) -> Journal:
    """Forget an interrupted change without restoring anything; return what was forgotten."""
    prefix = Path(os.path.abspath(prefix))
    if not os.path.isdir(prefix / STATE_DIR):
        raise NothingToUndo(f"no interrupted envtui change in {prefix}")
    with env_lock(prefix):
        journal = read_journal(prefix)
        if journal is None or journal.state != APPLYING:
            raise NothingToUndo(f"no interrupted envtui change in {prefix}")
        _forget(prefix, _snapshot_dir(prefix))
        return journal
