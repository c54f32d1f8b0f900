"""Safe removal of venvs and conda envs (RELIABILITY 22-26, 28), on real environments.

Every refusal is checked to leave the whole sandbox as it was (tests.envstate.manifest
before and after). Removals are checked to leave everything outside the environment's real
prefix untouched: symlinks to user data, hardlinks into a package cache, links climbing out.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from envtui.cleanup import Refused, Removal
from envtui.cleanup.fs_removal import (
    FsRemoval,
    RemovalCancelled,
    RemovalFailed,
    check_path_argument,
    dry_run_lines,
    execute_removal,
    plan_removal,
)
from envtui.inspectors.fsinfo import disk_usage
from envtui.model import Environment, EnvKind
from envtui.resolver.journal import env_lock
from tests.conda_channel import Machine, copy_env, make_machine
from tests.envfactory import make_venv, uv_install
from tests.envstate import manifest

State = dict[str, tuple[str, int, str]]


# --- fixtures and helpers --------------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real venv that the property tests copy (a fresh one per example would be slow)."""
    return make_venv(tmp_path_factory.mktemp("venv-template") / "venv")


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Machine:
    """Real conda environments made by rattler; tests remove private copies of them."""
    return make_machine(tmp_path_factory.mktemp("conda-machine"))


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    return make_venv(tmp_path / "envs" / "venv")


@pytest.fixture
def tools(tmp_path: Path, machine: Machine) -> Path:
    """A private copy of the conda env that holds zlib only."""
    return copy_env(machine.tools, tmp_path / "envs" / "tools-env")


def venv_env(path: Path | str, **kw: Any) -> Environment:
    return Environment(kind=EnvKind.VENV, name=Path(path).name, manager="venv",
                       path=str(path), **kw)


def conda_env(path: Path | str, **kw: Any) -> Environment:
    return Environment(kind=EnvKind.CONDA, name=Path(path).name, manager="conda",
                       path=str(path), **kw)


def plan(env: Environment, home: Path, **kw: Any) -> Removal:
    kw.setdefault("environ", {})
    kw.setdefault("running", [])
    return plan_removal(env, home=home, **kw)


def execute(removal: Removal, home: Path, **kw: Any) -> None:
    kw.setdefault("environ", {})
    kw.setdefault("running", [])
    execute_removal(removal, home=home, **kw)


def refused(env: Environment, home: Path, sandbox: Path, match: str, **kw: Any) -> str:
    """Plan `env`, expecting a one-line refusal matching `match` and nothing changed."""
    before = manifest(sandbox)
    with pytest.raises(Refused, match=match) as info:
        plan(env, home, **kw)
    assert manifest(sandbox) == before
    message = str(info.value)
    assert "\n" not in message
    return message


def outside(state: State, prefix: str) -> State:
    """The entries of a manifest that are not `prefix` (relative) or below it."""
    return {k: v for k, v in state.items() if k != prefix and not k.startswith(prefix + "/")}


def chattr(flag: str, path: Path) -> None:
    """Set or clear the immutable flag (even root cannot unlink or rename past it)."""
    if os.geteuid() != 0 or shutil.which("chattr") is None:
        pytest.skip("needs root and chattr to make a real filesystem operation fail")
    done = subprocess.run(["chattr", flag, str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"chattr {flag} is not supported here: {done.stderr!r}")


def wipe(root: Path) -> None:
    """Delete a sandbox even when a test left read-only directories in it."""
    for d, dirs, _ in os.walk(root):
        for name in dirs:
            p = os.path.join(d, name)
            if not os.path.islink(p):
                os.chmod(p, 0o700)
    shutil.rmtree(root)


# --- path arguments --------------------------------------------------------------------


@pytest.mark.parametrize("text", [".", "..", "env/.", "env/..", "env/./", "env/../", "/a/b/.",
                                  "./.", "env/.//", ""])
def test_path_argument_ending_in_a_dot_is_refused(text: str) -> None:
    with pytest.raises(Refused):
        check_path_argument(text)


@pytest.mark.parametrize("text", ["env", "env/", "./env", "../x/env", "/a/b", "a/../env",
                                  "..env", "env..", ".venv", "/"])
def test_other_path_arguments_pass(text: str) -> None:
    check_path_argument(text)


def test_a_path_with_a_trailing_dot_is_refused_by_plan_too(venv: Path, home: Path) -> None:
    refused(venv_env(f"{venv}/."), home, venv.parent, r"ends in '\.'")
    refused(venv_env(f"{venv}/bin/.."), home, venv.parent, r"ends in '\.\.'")


# --- refusals --------------------------------------------------------------------------


def test_plain_directory_is_refused(tmp_path: Path, home: Path) -> None:
    plain = tmp_path / "data"
    plain.mkdir()
    (plain / "thesis.tex").write_text("years of work\n")
    msg = refused(venv_env(plain), home, tmp_path, "no regular file pyvenv.cfg")
    assert str(plain) in msg
    refused(conda_env(plain), home, tmp_path, "no regular file conda-meta/history")


def test_parent_of_an_env_is_refused(venv: Path, tools: Path, home: Path,
                                     tmp_path: Path) -> None:
    refused(venv_env(venv.parent), home, tmp_path, "not a venv environment")
    refused(conda_env(tools.parent), home, tmp_path, "not a conda environment")


def test_home_and_its_ancestors_are_refused_even_when_they_look_like_envs(
        home: Path, tmp_path: Path) -> None:
    make_venv(home)  # a venv made right in $HOME is still $HOME
    refused(venv_env(home), home, tmp_path, "is the home directory")
    (tmp_path / "pyvenv.cfg").write_text("home = /usr/bin\n")
    refused(venv_env(tmp_path), home, tmp_path, "holds the home directory")
    refused(venv_env(tmp_path.parent), home, tmp_path, "holds the home directory")


def test_root_is_refused(home: Path, tmp_path: Path) -> None:
    refused(venv_env("/"), home, tmp_path, "root directory")
    refused(conda_env("/"), home, tmp_path, "root directory")


def test_cwd_is_refused_unless_it_is_an_env(venv: Path, tmp_path: Path, home: Path) -> None:
    plain = tmp_path / "project"
    plain.mkdir()
    (plain / "main.py").write_text("print('hi')\n")
    with contextlib.chdir(plain):
        refused(venv_env(str(plain)), home, tmp_path, r"\(the current directory\)")
        refused(venv_env("."), home, tmp_path, "ends in")
    with contextlib.chdir(tmp_path):  # a name matching a directory in the cwd (conda#3814)
        refused(venv_env("project"), home, tmp_path, "not a venv environment")
    with contextlib.chdir(venv):
        assert plan(venv_env(str(venv)), home).target == os.path.realpath(venv)
    with contextlib.chdir(venv.parent):
        assert plan(venv_env("venv"), home).target == os.path.realpath(venv)


def test_symlink_to_an_env_is_refused(venv: Path, tmp_path: Path, home: Path) -> None:
    link = tmp_path / "shortcut"
    link.symlink_to(venv)
    msg = refused(venv_env(link), home, tmp_path, "is a symlink to")
    assert msg.endswith(f"is a symlink to {os.path.realpath(venv)}; name the environment itself")
    refused(venv_env(f"{link}/"), home, tmp_path, "is a symlink to")
    # A symlink higher up is only the way there: the real prefix is what is removed.
    (tmp_path / "envs-link").symlink_to(venv.parent)
    assert plan(venv_env(tmp_path / "envs-link" / "venv"), home).target == \
        os.path.realpath(venv)


def test_markers_must_be_regular_files_of_the_env_itself(
        venv: Path, tools: Path, tmp_path: Path, home: Path, template: Path) -> None:
    cfg = venv / "pyvenv.cfg"
    cfg.unlink()
    cfg.symlink_to(template / "pyvenv.cfg")
    refused(venv_env(venv), home, tmp_path, "no regular file pyvenv.cfg")
    cfg.unlink()
    cfg.mkdir()
    refused(venv_env(venv), home, tmp_path, "no regular file pyvenv.cfg")

    history = tools / "conda-meta" / "history"
    saved = history.read_bytes()
    history.unlink()
    (tmp_path / "history").write_bytes(saved)
    history.symlink_to(tmp_path / "history")
    refused(conda_env(tools), home, tmp_path, "no regular file conda-meta/history")
    history.unlink()
    history.write_bytes(saved)
    shutil.move(tools / "conda-meta", tmp_path / "elsewhere-meta")
    (tools / "conda-meta").symlink_to(tmp_path / "elsewhere-meta")
    refused(conda_env(tools), home, tmp_path, "no regular file conda-meta/history")


def test_kind_must_match_the_marker(venv: Path, tools: Path, tmp_path: Path,
                                    home: Path) -> None:
    refused(conda_env(venv), home, tmp_path, "not a conda environment")
    refused(venv_env(tools), home, tmp_path, "not a venv environment")


def test_base_conda_env_is_refused(machine: Machine, tools: Path, tmp_path: Path,
                                   home: Path) -> None:
    base = copy_env(machine.base, tmp_path / "miniforge3")
    refused(conda_env(base), home, tmp_path, "conda base environment")
    refused(conda_env(tools, base=True), home, tmp_path, "base environment")
    for sign in ("envs", "condabin", "pkgs"):
        (tools / sign).mkdir()
        refused(conda_env(tools), home, tmp_path, f"conda-meta/ and {sign}/")
        (tools / sign).rmdir()
    assert plan(conda_env(tools), home).target == os.path.realpath(tools)


def test_active_env_is_refused(venv: Path, tools: Path, tmp_path: Path, home: Path) -> None:
    refused(venv_env(venv), home, tmp_path, r"\$VIRTUAL_ENV", environ={"VIRTUAL_ENV": str(venv)})
    link = tmp_path / "active-link"
    link.symlink_to(venv)
    refused(venv_env(venv), home, tmp_path, r"\$VIRTUAL_ENV", environ={"VIRTUAL_ENV": str(link)})
    refused(conda_env(tools), home, tmp_path, r"\$CONDA_PREFIX",
            environ={"CONDA_PREFIX": str(tools / "lib")})
    refused(conda_env(tools), home, tmp_path, r"\$CONDA_PREFIX_1",
            environ={"CONDA_PREFIX": "/elsewhere", "CONDA_PREFIX_1": str(tools)})
    other = make_venv(tmp_path / "envs" / "other")
    assert plan(venv_env(venv), home, environ={"VIRTUAL_ENV": str(other)}).target == \
        os.path.realpath(venv)


def test_env_envtui_runs_in_is_refused(venv: Path, tmp_path: Path, home: Path) -> None:
    refused(venv_env(venv), home, tmp_path, "holds the Python envtui runs in", running=[venv])
    refused(venv_env(venv), home, tmp_path, "holds the Python envtui runs in",
            running=[venv / "lib"])
    assert plan(venv_env(venv), home, running=[tmp_path]).target == os.path.realpath(venv)


def test_by_default_the_running_interpreter_is_protected(home: Path, tmp_path: Path) -> None:
    if not (Path(sys.prefix) / "pyvenv.cfg").is_file():
        pytest.skip("the tests do not run in a venv")
    with pytest.raises(Refused, match="holds the Python envtui runs in"):
        plan_removal(venv_env(sys.prefix), environ={}, home=home)  # never executed


def test_frozen_env_is_refused_with_its_message(tools: Path, tmp_path: Path,
                                                home: Path) -> None:
    frozen = tools / "conda-meta" / "frozen"
    frozen.write_text('{"message": "pinned for the\\npaper; ask Ada"}')
    msg = refused(conda_env(tools), home, tmp_path, "is frozen")
    assert msg.endswith("is frozen (conda-meta/frozen): pinned for the paper; ask Ada")
    frozen.write_text("")
    refused(conda_env(tools), home, tmp_path, r"is frozen \(conda-meta/frozen\)$")
    frozen.write_text("{not json")
    refused(conda_env(tools), home, tmp_path, "is frozen")


def test_env_holding_another_env_is_refused(venv: Path, tmp_path: Path, home: Path) -> None:
    inner = make_venv(venv / "nested")
    msg = refused(venv_env(venv), home, tmp_path, "contains another environment",
                  others=[venv_env(venv), venv_env(inner)])
    assert msg.endswith(str(os.path.realpath(inner)))
    assert plan(venv_env(inner), home, others=[venv_env(venv)]).target == \
        os.path.realpath(inner)


def test_env_locked_by_a_fix_is_refused(venv: Path, tmp_path: Path, home: Path) -> None:
    with env_lock(venv):
        refused(venv_env(venv), home, tmp_path, "being changed by an envtui fix")
    assert plan(venv_env(venv), home).target == os.path.realpath(venv)


# --- successful removals ---------------------------------------------------------------


def test_removes_a_venv_but_not_the_cache_its_files_are_hardlinked_from(
        tmp_path: Path, home: Path, wheelhouse: Path) -> None:
    env = make_venv(tmp_path / "envs" / "proj-venv", "uv")
    uv_install(env, wheelhouse, "hello-world")  # hardlinks out of uv's cache in $HOME
    (tmp_path / "envs" / "neighbour").mkdir()
    before = manifest(tmp_path)
    removal = plan(venv_env(env), home)
    assert isinstance(removal, FsRemoval)
    assert (removal.target, removal.marker, removal.kind) == (str(env), "pyvenv.cfg",
                                                              EnvKind.VENV)
    assert removal.size_bytes == disk_usage(env).size > 0
    assert dry_run_lines(removal, home=home) == [f"remove {env}"]
    entries = len(manifest(env)) + 1
    seen: list[tuple[int, int]] = []
    execute(removal, home, progress=lambda done, total: seen.append((done, total)))
    assert not os.path.lexists(env)
    assert os.listdir(tmp_path / "envs") == ["neighbour"]
    assert manifest(tmp_path) == outside(before, "envs/proj-venv")
    assert seen[-1][0] == seen[-1][1] >= entries
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_removes_a_conda_env_and_drops_its_environments_txt_lines(
        machine: Machine, tmp_path: Path, home: Path) -> None:
    env = copy_env(machine.tools, home / "work" / "tools-env")
    other = copy_env(machine.tools, home / "work" / "other-env")
    (home / "w").symlink_to(home / "work")
    txt = home / ".conda" / "environments.txt"
    txt.parent.mkdir()
    kept = [f"{other}\n", "# a comment\n", "\n", f"{env}-suffix\n", f"{env}/lib\n"]
    dropped = [f"{env}/\r\n", f"{home}/w/tools-env\n", f"  {env}  \n"]
    txt.write_bytes("".join([kept[0], dropped[0], *kept[1:3], dropped[1], kept[3],
                             dropped[2], kept[4], "/nowhere/env"]).encode())
    txt.chmod(0o640)
    removal = plan(conda_env(env), home, others=[conda_env(other)])
    assert removal.marker == "conda-meta/history"
    assert removal.notes == (f"{txt} lists it (3 line(s) will be dropped)",)
    assert dry_run_lines(removal, home=home) == [
        f"remove {env}",
        f"drop line 2 of {txt}: {env}/",
        f"drop line 5 of {txt}: {home}/w/tools-env",
        f"drop line 7 of {txt}:   {env}  ",
    ]
    before = manifest(tmp_path)
    execute(removal, home, others=[conda_env(other)])
    assert not os.path.lexists(env)
    assert txt.read_bytes() == "".join([*kept, "/nowhere/env"]).encode()
    assert stat.S_IMODE(txt.stat().st_mode) == 0o640
    assert sorted(os.listdir(txt.parent)) == ["environments.txt"]  # no temp file left
    after = manifest(tmp_path)
    assert outside(after, "home/.conda") == outside(outside(before, "home/work/tools-env"),
                                                    "home/.conda")


def test_environments_txt_is_left_alone_when_it_does_not_list_the_env(
        venv: Path, tmp_path: Path, home: Path) -> None:
    txt = home / ".conda" / "environments.txt"
    execute(plan(venv_env(venv), home), home)  # no file: none is made
    assert not txt.parent.exists()
    again = make_venv(tmp_path / "envs" / "venv2")
    txt.parent.mkdir()
    txt.write_bytes(b"/some/env\n/other/env")
    ino = txt.stat().st_ino
    execute(plan(venv_env(again), home), home)
    assert (txt.read_bytes(), txt.stat().st_ino) == (b"/some/env\n/other/env", ino)


def test_symlinks_to_user_data_are_removed_and_their_targets_kept(
        venv: Path, tmp_path: Path, home: Path) -> None:
    data = tmp_path / "important"
    (data / "sub").mkdir(parents=True)
    (data / "thesis.tex").write_text("years of work\n")
    (data / "sub" / "results.csv").write_text("1,2,3\n")
    (data / "ro").mkdir()
    (data / "ro" / "keep").write_text("x")
    (data / "ro").chmod(0o555)
    secret = tmp_path / "secret.key"
    secret.write_text("do not lose\n")
    sp = venv / "lib" / "python3.11" / "site-packages"
    sp.mkdir(parents=True, exist_ok=True)
    (venv / "data").symlink_to(data)                       # env/data -> ~/important
    (venv / "key").symlink_to(secret)                      # a link to a file outside
    (sp / "climb").symlink_to(os.path.relpath(data, sp))   # ../../../.. climbing out
    (sp / "climb-file").symlink_to(os.path.relpath(secret, sp))
    (sp / "dangling").symlink_to(tmp_path / "gone")
    (sp / "loop").symlink_to(".")
    os.link(secret, sp / "hardlinked.key")                 # same inode as the file outside
    before = outside(manifest(tmp_path), "envs/venv")
    execute(plan(venv_env(venv), home), home)
    assert not os.path.lexists(venv)
    assert manifest(tmp_path) == before  # every hash and mode outside, the same
    (data / "ro").chmod(0o755)


def test_read_only_directories_are_made_removable(venv: Path, tmp_path: Path,
                                                  home: Path) -> None:
    ro = venv / "share" / "ro"
    (ro / "locked").mkdir(parents=True)
    (ro / "locked" / "f.txt").write_text("read only\n")
    (ro / "locked" / "f.txt").chmod(0o444)
    (ro / "locked").chmod(0o000)
    ro.chmod(0o555)
    (venv / "share").chmod(0o500)
    execute(plan(venv_env(venv), home), home)
    assert not os.path.lexists(venv)
    assert os.listdir(tmp_path / "envs") == []


# --- execution re-checks, cancellation, failures ---------------------------------------


def test_execute_rechecks_that_it_is_still_an_env(venv: Path, tmp_path: Path,
                                                  home: Path) -> None:
    removal = plan(venv_env(venv), home)
    (venv / "pyvenv.cfg").unlink()
    before = manifest(tmp_path)
    with pytest.raises(Refused, match=r"no regular file pyvenv\.cfg"):
        execute(removal, home)
    assert manifest(tmp_path) == before


def test_execute_refuses_a_replaced_directory(venv: Path, tmp_path: Path, home: Path,
                                              template: Path) -> None:
    removal = plan(venv_env(venv), home)
    venv.rename(tmp_path / "envs" / "moved")
    copy_env(template, venv)  # the same path, another directory
    before = manifest(tmp_path)
    with pytest.raises(Refused, match="replaced"):
        execute(removal, home)
    assert manifest(tmp_path) == before


def test_execute_refuses_a_path_that_became_a_symlink(venv: Path, tmp_path: Path,
                                                      home: Path) -> None:
    removal = plan(venv_env(venv), home)
    venv.rename(tmp_path / "envs" / "real")
    venv.symlink_to(tmp_path / "envs" / "real")
    before = manifest(tmp_path)
    with pytest.raises(Refused, match="is a symlink to"):
        execute(removal, home)
    assert manifest(tmp_path) == before


def test_execute_rechecks_lock_activation_and_freezing(tools: Path, tmp_path: Path,
                                                       home: Path) -> None:
    removal = plan(conda_env(tools), home)
    before = manifest(tmp_path)
    with env_lock(tools), pytest.raises(Refused, match="being changed by an envtui fix"):
        execute(removal, home)
    with pytest.raises(Refused, match=r"\$CONDA_PREFIX"):
        execute(removal, home, environ={"CONDA_PREFIX": str(tools)})
    with pytest.raises(Refused, match="holds the Python envtui runs in"):
        execute(removal, home, running=[tools])
    assert outside(manifest(tmp_path), "envs/tools-env/.envtui") == before
    (tools / "conda-meta" / "frozen").write_text("{}")
    with pytest.raises(Refused, match="is frozen"):
        execute(removal, home)
    assert os.path.isdir(tools)


def test_execute_needs_a_planned_removal(venv: Path, home: Path) -> None:
    bare = Removal(ref=str(venv), kind=EnvKind.VENV, target=str(venv), size_bytes=None,
                   marker="pyvenv.cfg")
    with pytest.raises(Refused, match="plan it first"):
        execute(bare, home)
    assert (venv / "pyvenv.cfg").is_file()


def test_cancel_before_the_rename_leaves_the_env_intact(venv: Path, tmp_path: Path,
                                                        home: Path) -> None:
    removal = plan(venv_env(venv), home)
    before = manifest(tmp_path)
    with pytest.raises(RemovalCancelled, match="nothing was removed"):
        execute(removal, home, cancelled=lambda: True)
    assert manifest(tmp_path) == before
    calls: list[int] = []

    def late() -> bool:  # passes the first check, cancels under the lock
        calls.append(1)
        return len(calls) > 1

    with pytest.raises(RemovalCancelled):
        execute(removal, home, cancelled=late)
    assert outside(manifest(tmp_path), "envs/venv/.envtui") == before
    execute(removal, home, cancelled=lambda: False)
    assert not os.path.lexists(venv)


def test_failed_rename_touches_nothing(venv: Path, tmp_path: Path, home: Path) -> None:
    removal = plan(venv_env(venv), home)
    before = manifest(venv)
    chattr("+i", venv.parent)  # the parent refuses the rename
    try:
        with pytest.raises(Refused, match=r"cannot move .* aside .*nothing was removed"):
            execute(removal, home)
    finally:
        chattr("-i", venv.parent)
    assert manifest(venv) == before
    assert os.listdir(venv.parent) == ["venv"]


def test_failure_midway_names_the_leftover(venv: Path, tmp_path: Path, home: Path) -> None:
    txt = home / ".conda" / "environments.txt"
    txt.parent.mkdir()
    txt.write_text(f"{venv}\n/other\n")
    removal = plan(venv_env(venv), home)
    stuck = venv / "bin" / "activate"
    chattr("+i", stuck)
    try:
        with pytest.raises(RemovalFailed, match="not wholly deleted") as info:
            execute(removal, home)
        found = re.search(r"what is left is in (.+); delete it to finish", str(info.value))
        assert found is not None
        leftover = Path(found.group(1))
        assert leftover.parent == venv.parent and leftover.name.startswith(".venv.envtui-")
        assert (leftover / "bin" / "activate").exists()
        assert f"(Operation not permitted: {leftover}/bin/activate)" in str(info.value)
        assert not os.path.lexists(venv)  # the environment itself is gone all the same
        assert txt.read_text() == "/other\n"
    finally:
        chattr("-i", next(venv.parent.glob(".venv.envtui-removing-*")) / "bin" / "activate")
    shutil.rmtree(leftover)


def test_mount_point_inside_is_refused_before_anything_moves(venv: Path, tmp_path: Path,
                                                             home: Path) -> None:
    mnt = venv / "share" / "mnt"
    mnt.mkdir(parents=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a filesystem")
    done = subprocess.run(["mount", "-t", "tmpfs", "envtui-test", str(mnt)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here: {done.stderr!r}")
    try:
        (mnt / "elsewhere.txt").write_text("on another filesystem\n")
        removal = plan(venv_env(venv), home)
        before = manifest(tmp_path)
        with pytest.raises(Refused, match="mount point"):
            execute(removal, home)
        assert outside(manifest(tmp_path), "envs/venv/.envtui") == before
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_plan_uses_the_known_size(venv: Path, home: Path) -> None:
    assert plan(venv_env(venv, size_bytes=123), home).size_bytes == 123


# --- properties ------------------------------------------------------------------------

NAMES = st.one_of(
    st.sampled_from(["..a", "...", "a..", ". .", "..\u2024", "ü", "名前", "-rf", "*", "~",
                     "\u202e", " ", "lib", "bin", "pyvenv.cfg", ".envtui", "\\", "a\nb"]),
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="/\0"),
            min_size=1, max_size=8),
).filter(lambda s: s not in (".", "..") and len(s.encode()) <= 60)
LINKS = st.sampled_from(["abs-file", "abs-dir", "climb-file", "climb-dir", "dotdot",
                         "dangling", "env-parent", "sandbox", "self"])
OPS = st.lists(st.one_of(
    st.tuples(st.just("file"), st.lists(NAMES, min_size=1, max_size=3), st.binary(max_size=32)),
    st.tuples(st.just("dir"), st.lists(NAMES, min_size=1, max_size=3), st.none()),
    st.tuples(st.just("link"), st.lists(NAMES, min_size=1, max_size=3), LINKS),
    st.tuples(st.just("hardlink"), st.lists(NAMES, min_size=1, max_size=3), st.none()),
    st.tuples(st.just("readonly"), st.lists(NAMES, min_size=1, max_size=3),
              st.sampled_from([0o000, 0o500, 0o555])),
), max_size=12)


@contextlib.contextmanager
def sandbox(base: Path, template: Path) -> Iterator[Path]:
    """root/outside (user data), root/envs/{env,sibling}, root/home with environments.txt."""
    root = Path(tempfile.mkdtemp(dir=base))
    try:
        (root / "outside" / "vdir" / "sub").mkdir(parents=True)
        (root / "outside" / "victim.txt").write_text("precious\n")
        (root / "outside" / "vdir" / "inner.txt").write_text("inner\n")
        (root / "outside" / "vdir" / "sub" / "deep.txt").write_text("deep\n")
        (root / "envs" / "sibling").mkdir(parents=True)
        (root / "envs" / "sibling" / "keep.txt").write_text("keep\n")
        copy_env(template, root / "envs" / "env")
        (root / "home" / ".conda").mkdir(parents=True)
        (root / "home" / ".conda" / "environments.txt").write_text(
            f"{root}/envs/sibling\n{root}/envs/env\n")
        yield root
    finally:
        wipe(root)


def place(env: Path, parts: list[str]) -> Path | None:
    """Where a generated entry goes: below `env` through real directories only (so the
    test itself never writes through a generated link), and not over an existing entry."""
    cur = env
    for name in parts[:-1]:
        cur = cur / name
        if os.path.islink(cur) or (os.path.lexists(cur) and not cur.is_dir()):
            return None
        cur.mkdir(exist_ok=True)
    path = cur / parts[-1]
    return None if os.path.lexists(path) else path


def link_target(kind: str, root: Path, link: Path) -> str:
    victim, vdir = root / "outside" / "victim.txt", root / "outside" / "vdir"
    return {"abs-file": str(victim), "abs-dir": str(vdir),
            "climb-file": os.path.relpath(victim, link.parent),
            "climb-dir": os.path.relpath(vdir, link.parent),
            "dotdot": "../" * 8 + "outside", "dangling": str(root / "missing" / "x"),
            "env-parent": str(root / "envs"), "sandbox": str(root), "self": "."}[kind]


def build_tree(root: Path, ops: list[tuple[str, list[str], Any]]) -> None:
    env = root / "envs" / "env"
    modes: list[tuple[Path, int]] = []
    for kind, parts, arg in ops:
        path = place(env, parts)
        if path is None:
            continue
        if kind == "file":
            path.write_bytes(arg)
        elif kind in ("dir", "readonly"):
            path.mkdir()
            (path / "f").write_text("x")
            if kind == "readonly":
                modes.append((path, arg))
        elif kind == "link":
            path.symlink_to(link_target(arg, root, path))
        else:
            os.link(root / "outside" / "victim.txt", path)
    for path, mode in reversed(modes):  # children first, while their parents still open
        path.chmod(mode)


def lock_dir_unusable(env: Path) -> bool:
    """A generated top-level `.envtui` that is not a directory: envtui's lock cannot be
    taken there, so refusing is the right outcome."""
    state = env / ".envtui"
    return os.path.lexists(state) and (
        os.path.islink(state) or not os.path.isdir(state)
        or not os.access(state, os.R_OK | os.W_OK | os.X_OK))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS)
def test_removal_never_touches_anything_outside_the_prefix(
        tmp_path_factory: pytest.TempPathFactory, template: Path,
        ops: list[tuple[str, list[str], Any]]) -> None:
    base = tmp_path_factory.getbasetemp() / "removal-trees"
    base.mkdir(exist_ok=True)
    with sandbox(base, template) as root:
        build_tree(root, ops)
        env, home = root / "envs" / "env", root / "home"
        before = manifest(root)
        try:
            removal = plan(venv_env(env), home)
            assert removal.target == os.path.realpath(env)
            execute(removal, home)
        except Refused:
            event("refused")
            assert lock_dir_unusable(env)
            assert outside(manifest(root), "envs/env/.envtui") == \
                outside(before, "envs/env/.envtui")
            return
        event("removed")
        assert not os.path.lexists(env)
        assert sorted(os.listdir(root / "envs")) == ["sibling"]
        assert outside(manifest(root), "home") == outside(outside(before, "envs/env"), "home")
        assert (home / ".conda" / "environments.txt").read_text() == f"{root}/envs/sibling\n"


COMPONENTS = st.sampled_from(["proj", ".venv", "..", ".", "envlink", "projlink", "data", "ü",
                              "home", "plain", "bin", "", "proj/.venv"])
ARGS = st.tuples(st.sampled_from(["", "/", "ROOT/", "HOME/", "VENV/", "./"]),
                 st.lists(COMPONENTS, max_size=5), st.sampled_from(["", "/", "/.", "//"]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arg=ARGS, cwd=st.sampled_from(["home", "home/proj", "home/proj/.venv", "plain"]),
       kind=st.sampled_from([EnvKind.VENV, EnvKind.CONDA]))
def test_path_arguments_either_refuse_or_name_exactly_the_env(
        tmp_path_factory: pytest.TempPathFactory, template: Path,
        arg: tuple[str, list[str], str], cwd: str, kind: EnvKind) -> None:
    base = tmp_path_factory.getbasetemp() / "removal-args"
    base.mkdir(exist_ok=True)
    root = Path(tempfile.mkdtemp(dir=base))
    try:
        home = root / "home"
        venv = copy_env(template, home / "proj" / ".venv")
        (home / "proj" / "data").mkdir()
        (home / "proj" / "data" / "file.txt").write_text("data\n")
        (home / "envlink").symlink_to(venv)
        (home / "projlink").symlink_to(home / "proj")
        (root / "plain").mkdir()
        (root / "plain" / "x.txt").write_text("x\n")
        lead = {"ROOT/": f"{root}/", "HOME/": f"{home}/", "VENV/": f"{venv}/"}.get(arg[0],
                                                                              arg[0])
        text = lead + "/".join(arg[1]) + arg[2]
        real = os.path.realpath(venv)
        env = Environment(kind=kind, name="x", manager="venv", path=text)
        before = manifest(root)
        with contextlib.chdir(root / cwd):
            try:
                check_path_argument(text)
                removal = plan(env, home, others=[venv_env(venv)])
            except Refused as e:
                event("refused")
                assert "\n" not in str(e)
                assert manifest(root) == before
                return
            assert removal.target == real
            assert kind is EnvKind.VENV
            assert os.path.realpath(text) == real
            assert not os.path.islink(text.rstrip("/"))
            execute(removal, home, others=[venv_env(venv)])
        event("removed")
        assert not os.path.lexists(venv)
        assert manifest(root) == outside(before, "home/proj/.venv")
    finally:
        wipe(root)
