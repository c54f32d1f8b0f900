"""RELIABILITY.md checklist cases 22-28 (deletion), on real venvs, real conda envs made by
rattler and the real `envtui` command.

Most of the deletion checklist is proven by tests/test_removal.py, tests/test_cleanup_cli.py,
tests/test_docker_cleanup.py and tests/test_tui_cleanup.py; the tests here cover what those
leave open: the guard against removing the environment envtui itself runs in, end to end
(case 23), a name that is both a directory in the cwd and an environment elsewhere (case 24),
and metadata that lists paths outside the prefix, for `envtui rm` and for the installers a
fix runs (case 26: uv follows a symlinked parent directory of a RECORD row, rattler follows
`..` in conda-meta `files`; envtui checks every row before either runs).
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from envtui.resolver.actions import Action, ActionKind
from envtui.resolver.conda_fix import CondaPlan, apply_conda
from envtui.resolver.journal import TransactionError
from envtui.resolver.sources import IndexOptions
from envtui.resolver.transaction import apply_actions
from tests.conda_channel import Machine, copy_env, make_machine
from tests.envfactory import make_venv, site_packages, uv_install
from tests.envstate import manifest
from tests.wheels import build_wheel

REPO = Path(__file__).resolve().parents[1]
State = dict[str, tuple[str, int, str]]


# --- helpers ---------------------------------------------------------------------------


def envtui(*args: str | Path, cwd: Path | None = None, python: str = sys.executable,
           extra: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m envtui ARGS` with the test's isolated HOME and no Docker engine."""
    env = {**os.environ, "DOCKER_HOST": f"unix://{os.environ['HOME']}/no-engine.sock",
           **(extra or {})}
    return subprocess.run([python, "-m", "envtui", *map(str, args)], capture_output=True,
                          text=True, timeout=300, cwd=cwd, env=env, stdin=subprocess.DEVNULL)


def refusal(proc: subprocess.CompletedProcess[str]) -> str:
    """The one stderr line of a refused command (exit 2, nothing on stdout)."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def without(state: State, prefix: str) -> State:
    """A manifest less `prefix` (relative) and everything below it."""
    return {k: v for k, v in state.items() if k != prefix and not k.startswith(prefix + "/")}


@pytest.fixture
def sandbox(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's HOME with envtui's cache outside it, so that a manifest of HOME changes
    only when an environment in it does."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return home


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Machine:
    """Real conda environments made by rattler; tests change private copies only."""
    return make_machine(tmp_path_factory.mktemp("conda-machine"))


@pytest.fixture(scope="module")
def evil_wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """evil 1.0 installs a script into bin/ (RECORD row `../../../bin/evil-tool`); 2.0 has
    no script, so upgrading removes it."""
    d = tmp_path_factory.mktemp("evil-wheels")
    build_wheel(d, "evil", "1.0", files={"evil/__init__.py": "V = '1.0'\n",
                                        "evil-1.0.data/scripts/evil-tool": "#!/bin/sh\n"})
    build_wheel(d, "evil", "2.0")
    return d


# --- case 23 ---------------------------------------------------------------------------


def test_case_23_the_env_envtui_runs_in_is_refused_end_to_end(tmp_path: Path,
                                                              home: Path) -> None:
    """envtui started from a venv's own interpreter refuses to remove that venv, without any
    test-only override of what "the running interpreter" is."""
    venv = make_venv(tmp_path / "envs" / "runner")
    deps = os.pathsep.join([str(REPO), *site.getsitepackages()])
    before = manifest(tmp_path / "envs")
    for mode in ("--yes", "--dry-run"):
        line = refusal(envtui("rm", mode, venv, python=str(venv / "bin" / "python"),
                              extra={"PYTHONPATH": deps}))
        assert line == f"envtui: refused: {venv} holds the Python envtui runs in ({venv})"
    assert manifest(tmp_path / "envs") == before


# --- case 24 ---------------------------------------------------------------------------


def test_case_24_a_name_that_is_a_cwd_directory_and_an_env_elsewhere_is_refused(
        sandbox: Path, machine: Machine) -> None:
    """conda#3814: `rm NAME` in a directory holding a plain NAME/ must not reach for either."""
    home = sandbox
    env = copy_env(machine.tools, home / "work" / "tools-env")
    txt = home / ".conda" / "environments.txt"
    txt.parent.mkdir()
    txt.write_text(f"{env}\n")
    cwd = home / "project"
    (cwd / "tools-env" / "src").mkdir(parents=True)
    (cwd / "tools-env" / "src" / "main.py").write_text("print('not an environment')\n")
    # The name alone (from elsewhere) does name the env: the collision is what is refused.
    named = envtui("rm", "--dry-run", "tools-env", cwd=home)
    assert named.returncode == 0, named.stderr
    assert f"remove {env}" in named.stdout
    before = manifest(home)
    for mode in ("--yes", "--dry-run"):
        line = refusal(envtui("rm", mode, "tools-env", cwd=cwd))
        assert line == ("envtui: error: tools-env: not an environment "
                        "(no pyvenv.cfg or conda-meta)")
    assert manifest(home) == before


# --- case 26 ---------------------------------------------------------------------------


@dataclass
class Poisoned:
    """root/outside holds the user's files; root/envs/<env> lists them in its metadata."""

    root: Path
    env: Path


def user_files(root: Path) -> None:
    """Files outside every environment that metadata will name: a file, a file named by
    an absolute path, a directory and a file reached through a symlinked directory."""
    out = root / "outside"
    (out / "vdir").mkdir(parents=True)
    (out / "victim.txt").write_text("precious\n")
    (out / "abs.txt").write_text("named by an absolute path\n")
    (out / "vdir" / "inner.txt").write_text("inner\n")
    (out / "linked").mkdir()
    (out / "linked" / "secret.txt").write_text("reached through a symlinked parent\n")


# Each bad row, written relative to site-packages (RECORD) or to the prefix (conda-meta),
# with the words the refusal uses. ROOT is the sandbox; `data` is a symlink to
# outside/linked that each test puts at the row's base directory.
RECORD_ROWS = {
    "climb": ("../../../../../outside/victim.txt", "outside the environment"),
    "absolute": ("ROOT/outside/abs.txt", "an absolute path"),
    "dot": ("./", "a directory"),
    "directory": ("../../../../../outside/vdir/", "outside the environment"),
    "inner directory": ("evil/", "a directory"),
    "symlinked parent": ("data/secret.txt", "outside the environment"),
}
CONDA_ROWS = {
    "climb": ("../../outside/victim.txt", "outside the environment"),
    "absolute": ("ROOT/outside/abs.txt", "an absolute path"),
    "dot": ("./", "a directory"),
    "directory": ("../../outside/vdir", "outside the environment"),
    "inner directory": ("include", "a directory"),
    "symlinked parent": ("data/secret.txt", "outside the environment"),
}


def poison_record(dist_info: Path, row: str) -> None:
    with (dist_info / "RECORD").open("a", encoding="utf-8") as f:
        f.write(f"{row},,\n")


def poison_conda_record(prefix: Path, rows: list[str]) -> Path:
    """Add `rows` to zlib's record, to `files` and `paths_data` both (rattler reads both)."""
    path = next((prefix / "conda-meta").glob("zlib-*.json"))
    record = json.loads(path.read_text())
    record["files"] += rows
    record["paths_data"]["paths"] += [{"_path": r, "path_type": "hardlink"} for r in rows]
    path.write_text(json.dumps(record, indent=2))
    return path


@pytest.fixture
def poisoned_venv(tmp_path: Path, home: Path, evil_wheels: Path) -> Poisoned:
    root = tmp_path / "root"
    user_files(root)
    env = make_venv(root / "envs" / "venv", "uv")
    uv_install(env, evil_wheels, "evil==1.0")
    (site_packages(env) / "data").symlink_to(root / "outside" / "linked")
    return Poisoned(root, env)


@pytest.fixture
def poisoned_conda(tmp_path: Path, home: Path, machine: Machine) -> Poisoned:
    root = tmp_path / "root"
    user_files(root)
    env = copy_env(machine.tools, root / "envs" / "tools")
    (env / "data").symlink_to(root / "outside" / "linked")
    return Poisoned(root, env)


def test_case_26_rm_never_follows_poisoned_metadata(poisoned_venv: Poisoned, home: Path,
                                                   machine: Machine) -> None:
    """`envtui rm` removes the whole prefix and reads no metadata: a RECORD and a conda
    record listing every kind of bad row (and a legitimate ../../bin row) cost the user
    nothing outside, and the legitimate file goes with its environment."""
    root, venv = poisoned_venv.root, poisoned_venv.env
    conda = copy_env(machine.tools, root / "envs" / "tools")
    (conda / "data").symlink_to(root / "outside" / "linked")
    (conda / "bin").mkdir()
    (conda / "bin" / "x").write_text("legitimate\n")
    for row, _ in RECORD_ROWS.values():
        poison_record(next(site_packages(venv).glob("evil-1.0.dist-info")),
                      row.replace("ROOT", str(root)))
    poison_conda_record(conda, [r.replace("ROOT", str(root)) for r, _ in CONDA_ROWS.values()]
                        + ["lib/../bin/x"])
    assert (venv / "bin" / "evil-tool").is_file()
    before = manifest(root)
    done = envtui("rm", "--yes", venv, conda)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"removed {venv}\nremoved {conda}\n"
    assert not venv.exists() and not conda.exists()
    assert manifest(root) == without(without(before, "envs/venv"), "envs/tools")


@pytest.mark.parametrize("case", list(RECORD_ROWS))
def test_case_26_fix_refuses_a_record_row_outside_the_env(poisoned_venv: Poisoned,
                                                          evil_wheels: Path,
                                                          case: str) -> None:
    """Upgrading evil makes uv delete what its RECORD lists: envtui refuses first, naming
    the row, with the environment and the user's files exactly as they were."""
    root, env = poisoned_venv.root, poisoned_venv.env
    row, why = RECORD_ROWS[case]
    row = row.replace("ROOT", str(root))
    dist_info = next(site_packages(env).glob("evil-1.0.dist-info"))
    poison_record(dist_info, row)
    before = manifest(root)
    with pytest.raises(TransactionError) as refused:
        apply_actions(env, [Action("evil", "1.0", "2.0", ActionKind.UPGRADE)],
                      IndexOptions(index_url=None, find_links=(str(evil_wheels),),
                                   offline=True))
    assert str(refused.value) == (
        f"refusing to change {env}: {dist_info / 'RECORD'} lists {row!r}, {why}, which the "
        "installer would try to delete; repair that RECORD first")
    assert without(manifest(root), "envs/venv/.envtui") == without(before, "envs/venv/.envtui")


def test_case_26_fix_removes_a_legitimate_bin_row(poisoned_venv: Poisoned,
                                                  evil_wheels: Path) -> None:
    """A RECORD row climbing from site-packages to ../../../bin inside the prefix is what
    every console script has: the upgrade removes that file and nothing else outside."""
    root, env = poisoned_venv.root, poisoned_venv.env
    dist_info = next(site_packages(env).glob("evil-1.0.dist-info"))
    assert "../../../bin/evil-tool," in (dist_info / "RECORD").read_text()
    outside_before = manifest(root / "outside")
    apply_actions(env, [Action("evil", "1.0", "2.0", ActionKind.UPGRADE)],
                  IndexOptions(index_url=None, find_links=(str(evil_wheels),), offline=True))
    assert not (env / "bin" / "evil-tool").exists()
    assert next(site_packages(env).glob("evil-*.dist-info")).name == "evil-2.0.dist-info"
    assert manifest(root / "outside") == outside_before


def _remove_zlib(prefix: Path) -> CondaPlan:
    """A plan that makes rattler unlink zlib, the one record of the tools env."""
    return CondaPlan(actions=(Action("zlib", "1.3.1", None, ActionKind.REMOVE),), records=(),
                     before=frozenset({("zlib", "1.3.1", "h4ab18f5_1")}))


@pytest.mark.parametrize("case", list(CONDA_ROWS))
def test_case_26_conda_fix_refuses_a_files_entry_outside_the_env(poisoned_conda: Poisoned,
                                                                 case: str) -> None:
    root, env = poisoned_conda.root, poisoned_conda.env
    row, why = CONDA_ROWS[case]
    row = row.replace("ROOT", str(root))
    poison_conda_record(env, [row])
    before = manifest(root)
    with pytest.raises(TransactionError) as refused:
        apply_conda(env, _remove_zlib(env))
    shown = "." if row == "./" else row  # rattler reads `./` as the path `.`
    assert str(refused.value) == (
        f"refusing to change {env}: the conda record of zlib lists {shown!r}, {why}, which "
        "rattler would try to delete; repair that record first")
    assert manifest(root) == before


def test_case_26_conda_fix_removes_a_legitimate_row_with_dots(poisoned_conda: Poisoned
                                                             ) -> None:
    """`lib/../bin/x` stays inside the prefix: rattler unlinks it with zlib's files, and
    nothing outside the prefix changes."""
    root, env = poisoned_conda.root, poisoned_conda.env
    (env / "bin").mkdir()
    (env / "bin" / "x").write_text("legitimate\n")
    poison_conda_record(env, ["lib/../bin/x"])
    outside_before = manifest(root / "outside")
    apply_conda(env, _remove_zlib(env))
    assert not (env / "bin" / "x").exists()
    assert not (env / "include" / "zlib.h").exists()
    assert not list((env / "conda-meta").glob("zlib-*.json"))
    assert manifest(root / "outside") == outside_before
