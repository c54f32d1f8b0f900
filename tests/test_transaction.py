"""Fix transactions on real venvs with real wheels and real installers (cases 17-21).

Every failure path is checked against a manifest of the whole prefix (path, type, mode,
link target, sha256), taken before the change: "restored" means byte for byte.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from envtui.inspectors.base import ScanContext
from envtui.inspectors.discovery import inspect_path, scan
from envtui.model import EnvKind, ProblemKind
from envtui.resolver import installer as installer_mod
from envtui.resolver import transaction as tx
from envtui.resolver.actions import Action, ActionKind
from envtui.resolver.journal import env_lock, read_journal
from envtui.resolver.sources import IndexOptions
from envtui.resolver.transaction import (
    ApplyFailed,
    Cancelled,
    EnvBusy,
    NothingToUndo,
    PendingChange,
    TransactionError,
    apply_actions,
    discard,
    pending,
    undo,
)
from tests.envfactory import make_venv, python_of, site_packages, uv_bin, uv_install
from tests.envstate import Hang, manifest
from tests.wheels import build_wheel

REPO = Path(__file__).resolve().parent.parent

UPGRADE = Action("numpy", "1.26.4", "2.1.0", ActionKind.UPGRADE)
REMOVE_TINY = Action("tinydep", "0.3", None, ActionKind.REMOVE)


# ---- helpers


def dist_infos(venv: Path) -> set[str]:
    return {p.name for p in site_packages(venv).glob("*.dist-info")}


def options(wheels: Path) -> IndexOptions:
    return IndexOptions(index_url=None, find_links=(str(wheels),), offline=True)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("txwheels")
    build_wheel(d, "numpy", "1.26.4")
    build_wheel(d, "numpy", "2.1.0")
    build_wheel(d, "tinydep", "0.3")
    build_wheel(d, "oldlib", "1.0", requires=["numpy<2"])
    build_wheel(d, "needstiny", "1.0", requires=["tinydep"])
    build_wheel(d, "shim", "1.0", files={"shim.pth": "import os\n", "shim_mod.py": "x = 1\n"})
    # Not a zip at all: uv finds it by name, then cannot read it.
    (d / "numpy-3.0-py3-none-any.whl").write_bytes(b"this is not a zip archive\n" * 50)
    return d


@pytest.fixture
def venv(home: Path, wheels: Path) -> Path:
    """A uv venv with numpy 1.26.4 and tinydep, a .pth, and symlinks (one dangling)."""
    v = make_venv(home / "proj" / ".venv", "uv")
    uv_install(v, wheels, "numpy==1.26.4", "tinydep==0.3", "shim")
    (v / "share").mkdir()
    (v / "share" / "cfg-link").symlink_to("../pyvenv.cfg")
    (v / "share" / "dangling").symlink_to("../no/such/file")
    (v / "share" / "ro").mkdir(mode=0o555)
    return v


def _ctx(home: Path) -> ScanContext:
    return ScanContext(home=home, environ={}, kinds=frozenset({EnvKind.VENV}))


# ---- applying and undoing


def test_upgrade_applied_verified_and_installers_agree(venv: Path, wheels: Path,
                                                      home: Path) -> None:
    lines: list[str] = []
    result = apply_actions(venv, [UPGRADE], options(wheels), progress=lines.append)

    assert result.installer == "uv"
    assert "numpy-2.1.0.dist-info" in dist_infos(venv)
    assert "numpy-1.26.4.dist-info" not in dist_infos(venv)
    assert result.environment is not None
    assert {p.name: p.version for p in result.environment.packages}["numpy"] == "2.1.0"
    assert any("+ numpy==2.1.0" in line for line in lines)  # uv's output streamed
    journal = read_journal(venv)
    assert journal is not None and journal.state == "committed"
    assert journal.actions == (UPGRADE,)
    assert (venv / ".envtui" / "snapshot" / "pyvenv.cfg").is_file()
    assert pending(venv) is None
    # Both installers' own consistency checks agree with ours.
    for cmd in ([sys.executable, "-m", "pip", "--python", str(python_of(venv)), "check"],
                [uv_bin(), "pip", "check", "--python", str(python_of(venv))]):
        proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, (cmd, proc.stdout, proc.stderr)
    # The snapshot is not a second environment.
    found = [e.path for e in scan(_ctx(home), use_cache=False).environments]
    assert found == [str(venv)]
    env = inspect_path(_ctx(home), venv, use_cache=False)
    assert env is not None
    assert not [p for p in env.problems if p.kind == ProblemKind.INTERRUPTED]


def test_undo_restores_byte_for_byte(venv: Path, wheels: Path) -> None:
    before = manifest(venv)
    actions = [UPGRADE, REMOVE_TINY, Action("oldlib", None, "1.0", ActionKind.INSTALL)]
    # oldlib requires numpy<2: verification must judge the final state, not each step
    with pytest.raises(ApplyFailed, match=r"new problem: oldlib 1\.0 requires numpy<2"):
        apply_actions(venv, actions, options(wheels))
    assert manifest(venv) == before

    actions = [UPGRADE, REMOVE_TINY]
    apply_actions(venv, actions, options(wheels))
    assert manifest(venv) != before
    assert "tinydep-0.3.dist-info" not in dist_infos(venv)

    lines: list[str] = []
    assert undo(venv, progress=lines.append) == actions
    assert manifest(venv) == before
    assert lines[-1].startswith("restored")
    assert not (venv / ".envtui" / "snapshot").exists()
    assert read_journal(venv) is None
    with pytest.raises(NothingToUndo, match="nothing to undo"):
        undo(venv)


def test_snapshot_copies_what_an_installer_could_rewrite(venv: Path, wheels: Path) -> None:
    sp = site_packages(venv)
    rel_sp = sp.relative_to(venv)
    apply_actions(venv, [REMOVE_TINY], options(wheels))
    snap = venv / ".envtui" / "snapshot"

    def same_inode(rel: Path) -> bool:
        return os.stat(snap / rel).st_ino == os.stat(venv / rel).st_ino

    # numpy is untouched by the plan: its code is a hardlink, its RECORD a copy.
    assert same_inode(rel_sp / "numpy" / "__init__.py")
    assert not same_inode(rel_sp / "numpy-1.26.4.dist-info" / "RECORD")
    assert not same_inode(rel_sp / "numpy-1.26.4.dist-info" / "INSTALLER")
    assert not same_inode(rel_sp / "shim.pth")
    # tinydep's files (from its RECORD) were real copies before it was removed.
    assert (snap / rel_sp / "tinydep" / "__init__.py").stat().st_nlink == 1
    # Links stay links, modes are kept.
    assert os.readlink(snap / "share" / "dangling") == "../no/such/file"
    assert stat.S_IMODE(os.stat(snap / "share" / "ro").st_mode) == 0o555
    assert os.path.islink(snap / "bin" / "python")


def test_removal_applied_and_a_removal_that_breaks_a_dependent_refused(
        venv: Path, wheels: Path) -> None:
    apply_actions(venv, [REMOVE_TINY], options(wheels))
    assert "tinydep-0.3.dist-info" not in dist_infos(venv)
    assert not (site_packages(venv) / "tinydep").exists()
    undo(venv)

    uv_install(venv, wheels, "needstiny")
    before = manifest(venv)
    with pytest.raises(ApplyFailed) as err:
        apply_actions(venv, [REMOVE_TINY], options(wheels))
    assert "needstiny 1.0 requires tinydep, which is not installed" in str(err.value)
    assert err.value.restored
    assert manifest(venv) == before
    assert read_journal(venv) is None


def test_failing_install_mid_way_is_restored_exactly(venv: Path, wheels: Path) -> None:
    before = manifest(venv)
    lines: list[str] = []
    # The removal runs and succeeds first; then uv cannot read the corrupt wheel.
    actions = [REMOVE_TINY, Action("numpy", "1.26.4", "3.0", ActionKind.UPGRADE)]
    with pytest.raises(ApplyFailed) as err:
        apply_actions(venv, actions, options(wheels), progress=lines.append)
    assert any("- tinydep==0.3" in line for line in lines)  # the env really changed
    assert "uv failed (exit status 1): error: Failed to download `numpy==3.0`" in str(err.value)
    assert "the environment was restored" in str(err.value)
    assert err.value.output and any("numpy" in line for line in err.value.output)
    assert manifest(venv) == before
    assert read_journal(venv) is None and pending(venv) is None
    assert not (venv / ".envtui" / "snapshot").exists()
    proc = subprocess.run([uv_bin(), "pip", "check", "--python", str(python_of(venv))],
                          capture_output=True, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0


def test_restore_never_follows_a_symlink_out_of_the_prefix_and_resets_modes(
        venv: Path, wheels: Path, tmp_path: Path) -> None:
    before = manifest(venv)
    apply_actions(venv, [UPGRADE], options(wheels))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("user data\n")
    outside_before = manifest(outside)
    # Someone replaces the numpy package directory with a link to user data.
    pkg = site_packages(venv) / "numpy"
    for f in pkg.iterdir():
        f.unlink()
    pkg.rmdir()
    pkg.symlink_to(outside)
    # ... and something lands in a read-only directory, whose mode changes too.
    ro = venv / "share" / "ro"
    ro.chmod(0o755)
    (ro / "new.txt").write_text("x\n")
    ro.chmod(0o500)
    undo(venv)
    assert manifest(venv) == before
    assert not pkg.is_symlink()
    assert manifest(outside) == outside_before


def test_pip_fallback_when_uv_is_unavailable(home: Path, wheels: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    v = make_venv(home / "pipenv", "venv-pip")
    uv_install(v, wheels, "numpy==1.26.4")
    before = manifest(v)
    monkeypatch.setattr(tx, "find_installer", lambda prefix: installer_mod.Installer(
        "pip", (str(python_of(prefix)), "-m", "pip")))
    lines: list[str] = []
    result = apply_actions(v, [UPGRADE], options(wheels), progress=lines.append)
    assert result.installer == "pip"
    assert any(line.startswith("running: pip --isolated") and "install --no-deps" in line
               for line in lines)  # pip ignores PIP_* variables and pip.conf
    assert "numpy-2.1.0.dist-info" in dist_infos(v)
    assert (site_packages(v) / "numpy-2.1.0.dist-info" / "INSTALLER").read_text() == "pip\n"
    undo(v)
    assert manifest(v) == before  # pip's __pycache__ and all


# ---- cancel, timeout, escalation


def test_cancel_mid_apply_stops_the_installer_and_restores(venv: Path, hang: Hang) -> None:
    before = manifest(venv)
    cancel = threading.Event()
    lines: list[str] = []

    def cancel_once_asked() -> None:
        hang.asked.wait(60)
        cancel.set()

    threading.Thread(target=cancel_once_asked, daemon=True).start()
    t0 = time.monotonic()
    with pytest.raises(Cancelled, match="cancelled, environment restored") as err:
        apply_actions(venv, [REMOVE_TINY, UPGRADE], hang.options(), progress=lines.append,
                      cancel=cancel, grace=5)
    assert hang.asked.is_set()  # uv really was mid-way, waiting on the network
    assert time.monotonic() - t0 < 30
    assert any("- tinydep==0.3" in line for line in lines)
    assert any(line.startswith("warning: cancelling: sending SIGINT") for line in lines)
    assert not any("SIGKILL" in line for line in lines)  # uv stops on SIGINT
    assert isinstance(err.value, ApplyFailed) and err.value.restored
    assert manifest(venv) == before
    assert read_journal(venv) is None


def test_timeout_stops_the_installer_and_restores(venv: Path, hang: Hang) -> None:
    before = manifest(venv)
    with pytest.raises(ApplyFailed, match="did not finish in time"):
        apply_actions(venv, [REMOVE_TINY, UPGRADE], hang.options(), timeout=3, grace=5)
    assert hang.asked.is_set()
    assert manifest(venv) == before


STUBBORN = """
import signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(120)
"""


def test_escalation_is_announced_before_each_harsher_signal() -> None:
    cancel = threading.Event()
    lines: list[str] = []

    def progress(line: str) -> None:
        lines.append(line)
        if line == "ready":
            cancel.set()

    out = installer_mod.run([sys.executable, "-c", STUBBORN], progress=progress,
                            cancel=cancel, deadline=time.monotonic() + 60, grace=0.5)
    assert out.cancelled and out.returncode == -signal.SIGKILL
    warnings = [line for line in lines if line.startswith("warning:")]
    assert len(warnings) == 3
    assert "SIGINT" in warnings[0]
    assert warnings[1].endswith("sending SIGTERM") and warnings[2].endswith("sending SIGKILL")


def test_installer_child_is_non_interactive_and_in_its_own_group(
        monkeypatch: pytest.MonkeyPatch) -> None:
    code = ("import os, sys; print(os.getpgid(0) == os.getpid(), sys.stdin.read() == '', "
            "os.environ.get('PIP_NO_INPUT'), 'UV_INDEX_URL' in os.environ)")
    monkeypatch.setenv("UV_INDEX_URL", "http://127.0.0.1:9/never")
    out = installer_mod.run([sys.executable, "-c", code], progress=None,
                            cancel=threading.Event(), deadline=time.monotonic() + 60)
    assert out.returncode == 0
    assert out.output == ("True True 1 False",)


# ---- concurrency and interrupted transactions


def test_second_transaction_refused_while_one_runs(venv: Path, hang: Hang,
                                                   wheels: Path, home: Path) -> None:
    cancel = threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            apply_actions(venv, [REMOVE_TINY, UPGRADE], hang.options(), cancel=cancel)
        except BaseException as e:
            errors.append(e)

    t = threading.Thread(target=first)
    t.start()
    try:
        assert hang.asked.wait(60)
        with pytest.raises(EnvBusy, match=f"another envtui is changing {venv}"):
            apply_actions(venv, [UPGRADE], options(wheels))
        with pytest.raises(EnvBusy):
            undo(venv)
        # Being applied is not "interrupted": no pending change, no problem reported.
        journal = read_journal(venv)
        assert journal is not None and journal.state == "applying"
        assert pending(venv) is None
        env = inspect_path(_ctx(home), venv, use_cache=False)
        assert env is not None
        assert not [p for p in env.problems if p.kind == ProblemKind.INTERRUPTED]
    finally:
        cancel.set()
        t.join(60)
    assert len(errors) == 1 and isinstance(errors[0], Cancelled)


def test_lock_held_by_another_process_refuses(venv: Path, wheels: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from pathlib import Path
            from envtui.resolver.journal import env_lock
            with env_lock(Path({str(venv)!r})):
                print("locked", flush=True)
                time.sleep(60)
            """)], cwd=REPO, stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        before = manifest(venv)
        with pytest.raises(EnvBusy, match="another envtui is changing"):
            apply_actions(venv, [UPGRADE], options(wheels))
        assert manifest(venv) == before
    finally:
        holder.kill()
        holder.wait()
    with env_lock(venv):  # the kernel dropped the dead holder's lock
        pass


def test_a_running_uv_in_the_env_is_respected(venv: Path, wheels: Path, hang: Hang) -> None:
    apply_actions(venv, [REMOVE_TINY], options(wheels))
    after = manifest(venv)
    # Someone else's uv, busy installing into the same environment (it holds ENV/.lock).
    other = subprocess.Popen(
        [uv_bin(), "pip", "install", "--python", str(python_of(venv)), "--no-config",
         "--no-index", "--find-links", hang.url, "numpy==2.1.0"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert hang.asked.wait(60)
        with pytest.raises(EnvBusy, match=r"uv is changing .* \(it holds .*\.lock\)"):
            apply_actions(venv, [UPGRADE], options(wheels))
        with pytest.raises(EnvBusy, match="uv is changing"):
            undo(venv)
    finally:
        other.kill()
        other.wait()
    journal = read_journal(venv)
    assert journal is not None and journal.state == "committed"  # refusals changed nothing
    assert manifest(venv) == after
    undo(venv)


KILLED = """
import sys
from pathlib import Path
from envtui.resolver.actions import Action, ActionKind
from envtui.resolver.sources import IndexOptions
from envtui.resolver.transaction import apply_actions
actions = [Action("tinydep", "0.3", None, ActionKind.REMOVE),
           Action("numpy", "1.26.4", "2.1.0", ActionKind.UPGRADE)]
apply_actions(Path(sys.argv[1]), actions,
              IndexOptions(index_url=None, find_links=(sys.argv[2],)),
              progress=lambda line: print(line, flush=True))
"""


def _wait_gone(pid: int) -> None:
    end = time.monotonic() + 30
    while tx._child_alive(pid):
        assert time.monotonic() < end, f"installer {pid} still running"
        time.sleep(0.05)


def test_sigkilled_envtui_leaves_a_pending_change_that_undo_restores(
        venv: Path, hang: Hang, home: Path, wheels: Path) -> None:
    before = manifest(venv)
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(venv), hang.url], cwd=REPO,
                            stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    child: int | None = None
    try:
        assert hang.asked.wait(60), "the installer never reached the network"
        end = time.monotonic() + 30
        while (journal := read_journal(venv)) is None or journal.child is None:
            assert time.monotonic() < end, "the journal never named the installer"
            time.sleep(0.02)  # envtui records the child just after starting it
        assert journal.state == "applying"
        child = journal.child
        assert "tinydep-0.3.dist-info" not in dist_infos(venv)  # half-applied
        proc.send_signal(signal.SIGKILL)
        proc.wait()

        found = pending(venv)
        assert found is not None and found.pid == proc.pid and found.state == "applying"
        assert [a.name for a in found.actions] == ["tinydep", "numpy"]
        # Every scan now says so, and the snapshot is still not an environment.
        inv = scan(_ctx(home), use_cache=False)
        assert [e.path for e in inv.environments] == [str(venv)]
        interrupted = [p for p in inv.environments[0].problems
                       if p.kind == ProblemKind.INTERRUPTED]
        assert len(interrupted) == 1 and f"envtui undo {venv}" in interrupted[0].detail
        # Nothing new starts on top of it.
        with pytest.raises(PendingChange, match="was interrupted"):
            apply_actions(venv, [UPGRADE], options(wheels))
        # The orphaned installer still runs: undo must not restore under it.
        with pytest.raises(EnvBusy, match=f"pid {child}"):
            undo(venv)
        os.killpg(child, signal.SIGKILL)
        _wait_gone(child)

        assert undo(venv) == list(found.actions)
        assert manifest(venv) == before
        assert pending(venv) is None
        env = inspect_path(_ctx(home), venv, use_cache=False)
        assert env is not None
        assert not [p for p in env.problems if p.kind == ProblemKind.INTERRUPTED]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if child is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child, signal.SIGKILL)


def test_discard_forgets_an_interrupted_change(venv: Path, wheels: Path) -> None:
    apply_actions(venv, [REMOVE_TINY], options(wheels))
    # What a killed envtui leaves: the journal still says "applying".
    path = venv / ".envtui" / "journal.json"
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "state": "applying", "child": None}))
    assert pending(venv) is not None
    after = manifest(venv)
    forgotten = discard(venv)
    assert forgotten.actions == (REMOVE_TINY,)
    assert pending(venv) is None and read_journal(venv) is None
    assert manifest(venv) == after  # nothing restored
    with pytest.raises(NothingToUndo):
        discard(venv)


def test_snapshot_of_a_damaged_env_is_never_listed(venv: Path, wheels: Path,
                                                   home: Path) -> None:
    apply_actions(venv, [REMOVE_TINY], options(wheels))
    # Without its pyvenv.cfg the prefix is no environment, so the walk goes inside it;
    # the snapshot's own pyvenv.cfg must still not make it one.
    (venv / "pyvenv.cfg").rename(home / "pyvenv.cfg.away")
    assert scan(_ctx(home), use_cache=False).environments == ()


def test_not_an_environment_and_nothing_to_undo(home: Path, wheels: Path) -> None:
    plain = home / "plain"
    (plain / "bin").mkdir(parents=True)
    with pytest.raises(TransactionError, match="not a virtual environment"):
        apply_actions(plain, [UPGRADE], options(wheels))
    with pytest.raises(NothingToUndo, match="nothing to undo"):
        undo(plain)
    with pytest.raises(NothingToUndo, match="no interrupted envtui change"):
        discard(plain)
    assert not (plain / ".envtui").exists()  # refusing wrote nothing
