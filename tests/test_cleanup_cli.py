"""The cleanup commands end to end: `envtui df`, `list` cleanup tags, `rm`, `prune` and
`container start|stop`, run as `python -m envtui` on real environments.

Venvs are made and filled by real uv (hardlinked from its cache, or copied with
UV_LINK_MODE=copy), conda envs by rattler (tests.conda_channel), Docker objects are imported
into the real engine from tiny tarballs (one layer, no parent image) and carry a label of
their own: other tests share the engine, so `prune --yes` only ever runs with that label.
Byte counts are checked against `du`, which counts each hardlinked inode once across its
arguments (RELIABILITY 22-28 through the command line).
"""

from __future__ import annotations

import io
import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from envtui.format import human_size
from tests.conda_channel import Machine, copy_env, make_machine
from tests.docker_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    docker_client_fixture,
    static_busybox,
)
from tests.envfactory import make_venv, site_packages, uv_install
from tests.envstate import manifest
from tests.wheels import build_wheel

DAY = 86400
BIG = 1_000_000
"""Bytes of bigpkg's data file: large enough that shared bytes dominate a venv's size."""
CONFIG_ERROR = "'stale_days' must be a whole number of days, at least 1"


# --- running envtui --------------------------------------------------------------------


def envtui(*args: str | Path, cwd: Path | None = None, docker: bool = False,
           extra: Mapping[str, str] | None = None,
           ) -> subprocess.CompletedProcess[str]:
    """`python -m envtui ARGS` with this process's (test-isolated) environment.

    Without `docker`, DOCKER_HOST names a socket that does not exist, so the result does
    not depend on what other tests keep on the shared engine.
    """
    env = dict(os.environ)
    if not docker:
        env["DOCKER_HOST"] = f"unix://{os.environ['HOME']}/no-engine.sock"
    env.update(extra or {})
    return subprocess.run([sys.executable, "-m", "envtui", *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=cwd, env=env,
                          stdin=subprocess.DEVNULL)


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    return proc.stdout


def as_json(proc: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(ok(proc))


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a refusal (exit 2); nothing on stdout."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert proc.stdout == ""
    return lines[0]


def du(*paths: Path) -> list[int]:
    """`du -s -x -B1` of each path, each inode counted once across all of them, in order."""
    out = subprocess.run(["du", "-s", "-x", "-B1", *map(str, paths)], capture_output=True,
                         text=True, check=True).stdout
    return [int(line.split("\t")[0]) for line in out.splitlines()]


def by_path(listing: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["path"]: e for e in listing}


def row(report: dict[str, Any], label: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [r for r in report["rows"] if r["type"] == label]
    assert len(found) == 1, report["rows"]
    return found[0]


def age(prefix: Path, days: float) -> None:
    """Make a venv look unused for `days`: every piece of evidence fsinfo reads (the
    prefix, bin/ and what is in it, site-packages and its metadata directories)."""
    then = time.time() - days * DAY
    paths = [prefix, prefix / "bin", *(prefix / "bin").iterdir()]
    for sp in prefix.glob("lib/python*/site-packages"):
        paths += [sp, *sp.glob("*.dist-info")]
    for p in paths:
        os.utime(p, (then, then), follow_symlinks=False)


def removal_lines(stdout: str) -> list[str]:
    """What a dry run says it would remove: the lines after "would remove exactly:"."""
    lines = stdout.splitlines()
    return [line.strip() for line in lines[lines.index("would remove exactly:") + 1:]]


# --- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bigwheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bigpkg (one 1 MB data file) and tinydep, as real wheels."""
    d = tmp_path_factory.mktemp("bigwheels")
    build_wheel(d, "bigpkg", "1.0", files={"bigpkg/__init__.py": "VERSION = '1.0'\n",
                                          "bigpkg/data.txt": "y" * BIG})
    build_wheel(d, "tinydep", "0.3")
    return d


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Machine:
    """Real conda environments made by rattler; tests change private copies only."""
    return make_machine(tmp_path_factory.mktemp("conda-machine"))


@pytest.fixture
def sandbox(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's HOME, with envtui's cache and uv's cache kept outside it, so that a
    manifest of HOME changes only when an environment in it does."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    monkeypatch.setenv("UV_LINK_MODE", "hardlink")
    return home


def uv_venv(path: Path, wheels: Path, *reqs: str) -> Path:
    make_venv(path, "uv")
    if reqs:
        uv_install(path, wheels, *reqs)
    return path


def data_file(venv: Path) -> Path:
    return site_packages(venv) / "bigpkg" / "data.txt"


# --- own (reclaimable) bytes -----------------------------------------------------------


def test_uv_hardlinks_leave_little_of_a_venv_its_own(sandbox: Path, tmp_path: Path,
                                                      bigwheels: Path) -> None:
    a = uv_venv(sandbox / "code" / "a" / ".venv", bigwheels, "bigpkg", "tinydep")
    b = uv_venv(sandbox / "code" / "b" / ".venv", bigwheels, "bigpkg", "tinydep")
    assert os.stat(data_file(a)).st_nlink > 1, "uv did not hardlink from its cache"
    assert os.path.samefile(data_file(a), data_file(b))

    envs = by_path(as_json(envtui("list", "--json", "--kind", "venv")))
    for venv in (a, b):
        e = envs[str(venv)]
        assert e["size_bytes"] == du(venv)[0]
        assert e["size_bytes"] > BIG
        assert e["reclaimable_bytes"] * 4 < e["size_bytes"]
    # du counts an inode where it first meets it: after the cache, what is left of each
    # venv is exactly what only that venv holds.
    _, own_a, own_b = du(tmp_path / "uv-cache", a, b)
    assert (envs[str(a)]["reclaimable_bytes"], envs[str(b)]["reclaimable_bytes"]) == (
        own_a, own_b)


def test_copied_installs_are_wholly_their_own(sandbox: Path, bigwheels: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UV_LINK_MODE", "copy")
    a = uv_venv(sandbox / "code" / "a" / ".venv", bigwheels, "bigpkg", "tinydep")
    b = uv_venv(sandbox / "code" / "b" / ".venv", bigwheels, "bigpkg", "tinydep")
    assert os.stat(data_file(a)).st_nlink == 1

    envs = by_path(as_json(envtui("list", "--json", "--kind", "venv")))
    for venv in (a, b):
        assert envs[str(venv)]["reclaimable_bytes"] == envs[str(venv)]["size_bytes"] == \
            du(venv)[0]
    report = as_json(envtui("df", "--json"))
    venvs = row(report, "venvs")
    assert venvs["size_bytes"] == envs[str(a)]["size_bytes"] + envs[str(b)]["size_bytes"]
    # a and b are duplicates: removing the older one frees all of it
    assert venvs["reclaimable_bytes"] in (envs[str(a)]["size_bytes"],
                                          envs[str(b)]["size_bytes"])


# --- df --------------------------------------------------------------------------------


@dataclass
class Shelf:
    """Four uv venvs: a and b duplicates (a older), s stale, f fresh and empty."""

    a: Path
    b: Path
    s: Path
    f: Path
    cache: Path

    @property
    def all(self) -> list[Path]:
        return [self.a, self.b, self.s, self.f]


@pytest.fixture
def shelf(sandbox: Path, tmp_path: Path, bigwheels: Path) -> Shelf:
    code = sandbox / "code"
    made = Shelf(a=uv_venv(code / "a" / ".venv", bigwheels, "bigpkg", "tinydep"),
                 b=uv_venv(code / "b" / ".venv", bigwheels, "bigpkg", "tinydep"),
                 s=uv_venv(code / "s" / ".venv", bigwheels, "bigpkg"),
                 f=uv_venv(code / "f" / ".venv", bigwheels),
                 cache=tmp_path / "uv-cache")
    age(made.a, 10)
    age(made.s, 200)
    return made


def test_df_counts_shared_bytes_once_and_reclaims_the_candidates_own(shelf: Shelf) -> None:
    envs = by_path(as_json(envtui("list", "--json", "--kind", "venv")))
    assert sorted(envs) == sorted(map(str, shelf.all))
    report = as_json(envtui("df", "--json"))
    assert [r["type"] for r in report["rows"]] == [
        "venvs", "conda envs", "docker images", "docker containers", "total"]
    assert report["stale_days"] == 90

    venvs = row(report, "venvs")
    sizes = [envs[str(p)]["size_bytes"] for p in shelf.all]
    assert max(sizes) <= venvs["size_bytes"] < sum(sizes)
    assert venvs["size_bytes"] == sum(du(*shelf.all))  # each inode once, as du counts
    assert (venvs["total"], venvs["active"]) == (4, 2)

    candidates = {c["ref"]: c for c in report["candidates"]}
    assert sorted(candidates) == sorted([str(shelf.a), str(shelf.s)])
    assert candidates[str(shelf.s)]["reasons"] == ["stale"]
    assert candidates[str(shelf.s)]["details"] == ["not used for 200 days"]
    assert candidates[str(shelf.a)]["reasons"] == ["duplicate"]
    assert candidates[str(shelf.a)]["details"] == [f"same packages as {shelf.b}"]
    own = {ref: c["reclaimable_bytes"] for ref, c in candidates.items()}
    assert own == {ref: envs[ref]["reclaimable_bytes"] for ref in candidates}
    assert venvs["reclaimable_bytes"] == sum(own.values())
    # and as du sees it: what is left of the candidates after the cache and the keepers
    assert venvs["reclaimable_bytes"] == sum(du(shelf.cache, shelf.b, shelf.f, shelf.s,
                                                shelf.a)[3:])

    for label in ("conda envs", "docker images", "docker containers"):
        assert row(report, label) == {"type": label, "total": 0, "active": 0,
                                      "size_bytes": 0, "reclaimable_bytes": 0}
    total = row(report, "total")
    for key in ("total", "active", "size_bytes", "reclaimable_bytes"):
        assert total[key] == sum(r[key] for r in report["rows"][:-1])


def test_df_text_and_verbose(shelf: Shelf) -> None:
    lines = ok(envtui("df")).splitlines()
    assert lines[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert [line.split()[:3] for line in lines[1:3]] == [
        ["venvs", "4", "2"], ["conda", "envs", "0"]]
    assert lines[-1].startswith("2 cleanup candidates (")
    assert lines[-1].endswith("`envtui df -v` lists them")
    assert " 90" in lines[-1]  # the stale_days in force

    verbose = ok(envtui("df", "-v")).splitlines()
    head = verbose.index(next(line for line in verbose if line.startswith("CANDIDATE")))
    assert verbose[head].split() == ["CANDIDATE", "SIZE", "OWN", "WHY"]
    listed = {line.split()[0]: line for line in verbose[head + 1:]}
    assert sorted(listed) == sorted([str(shelf.a), str(shelf.s)])
    assert listed[str(shelf.s)].endswith("not used for 200 days")
    assert listed[str(shelf.a)].endswith(f"same packages as {shelf.b}")


def test_list_json_has_cleanup_tags(shelf: Shelf, sandbox: Path) -> None:
    broken = make_venv(sandbox / "old" / "broken", "venv")
    cfg = broken / "pyvenv.cfg"
    gone = sandbox.parent / "deleted-python"
    cfg.write_text("".join(f"home = {gone}\n" if line.startswith("home") else line
                           for line in cfg.read_text().splitlines(keepends=True)))

    envs = by_path(as_json(envtui("list", "--json")))
    tags = {p: envs[str(p)]["cleanup"] for p in [*shelf.all, broken]}
    assert tags == {shelf.a: ["duplicate"], shelf.b: ["duplicate"], shelf.s: ["stale"],
                    shelf.f: [], broken: ["broken"]}
    assert envs[str(shelf.b)]["cleanup_details"] == [f"same packages as {shelf.a}"]
    assert envs[str(broken)]["cleanup_details"] == [
        f"base interpreter missing (pyvenv.cfg home {gone} does not exist)"]
    for e in envs.values():
        assert 0 < e["reclaimable_bytes"] <= e["size_bytes"]

    table = ok(envtui("list", "--kind", "venv")).splitlines()
    cleanup = {line.split()[1]: line.split()[-1] for line in table[1:]}
    assert cleanup["broken"] == "broken"


def write_config(home: Path, text: str) -> Path:
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "envtui" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(("days", "stale"), [(1000, False), (150, True), (200, True)])
def test_stale_days_comes_from_the_config_file(shelf: Shelf, sandbox: Path, days: int,
                                               stale: bool) -> None:
    write_config(sandbox, f"stale_days = {days}\n")
    envs = by_path(as_json(envtui("list", "--json", "--kind", "venv")))
    assert ("stale" in envs[str(shelf.s)]["cleanup"]) is stale
    report = as_json(envtui("df", "--json"))
    assert report["stale_days"] == days
    assert (str(shelf.s) in {c["ref"] for c in report["candidates"]}) is stale


@pytest.mark.parametrize("value", ["0", "-5", '"90"', "true", "1.5", "[90]"])
@pytest.mark.parametrize("command", [["list"], ["df"], ["list", "--json"],
                                     ["rm", "--dry-run", "x"]])
def test_bad_stale_days_is_one_line_exit_2(sandbox: Path, value: str,
                                           command: list[str]) -> None:
    path = write_config(sandbox, f"stale_days = {value}\n")
    assert one_line_error(envtui(*command)) == f"envtui: error: {path}: {CONFIG_ERROR}"


# --- rm --------------------------------------------------------------------------------


@dataclass
class Place:
    """A sandbox HOME with a venv, a conda env listed in environments.txt, a plain
    directory and a working directory holding a directory `foo` that is no env."""

    home: Path
    venv: Path
    conda: Path
    plain: Path
    cwd: Path
    txt: Path
    txt_before: bytes = b""
    state: dict[str, tuple[str, int, str]] = field(default_factory=dict)

    def unchanged(self) -> bool:
        return manifest(self.home) == self.state


@pytest.fixture
def place(sandbox: Path, machine: Machine) -> Place:
    home = sandbox
    venv = make_venv(home / "code" / "app" / ".venv", "venv")
    conda = copy_env(machine.tools, home / "envs" / "tools-env")
    plain = home / "data"
    plain.mkdir()
    (plain / "keep.txt").write_text("mine\n")
    cwd = home / "work"
    (cwd / "foo").mkdir(parents=True)
    (cwd / "foo" / "notes.txt").write_text("not an environment\n")
    txt = home / ".conda" / "environments.txt"
    txt.parent.mkdir()
    # the other lines are kept byte for byte, the last one without its newline
    txt.write_bytes(f"{home / 'gone-env'}\n{conda}\n{home / 'elsewhere'}".encode())
    made = Place(home=home, venv=venv, conda=conda, plain=plain, cwd=cwd, txt=txt,
                 txt_before=txt.read_bytes())
    made.state = manifest(home)
    return made


def test_rm_yes_removes_a_venv(place: Place) -> None:
    out = ok(envtui("rm", place.venv, "--yes"))
    assert out == f"removed {place.venv}\n"
    assert not place.venv.exists()
    assert (place.venv.parent).is_dir()  # the project around it stays
    assert place.conda.is_dir() and place.plain.is_dir()
    left = manifest(place.home)
    assert {k: v for k, v in place.state.items()
            if not k.startswith("code/app/.venv")} == left


def test_rm_without_yes_and_no_terminal_removes_nothing(place: Place) -> None:
    proc = envtui("rm", place.venv)
    assert proc.returncode == 1
    assert proc.stderr == "envtui: nothing removed: run again with --yes to remove\n"
    size = human_size(du(place.venv)[0])
    assert proc.stdout.splitlines()[:2] == [
        f"  {place.venv}  (venv, {size}, identified by pyvenv.cfg)", f"1 to remove, {size}"]
    assert removal_lines(proc.stdout) == [f"remove {place.venv}"]
    assert place.unchanged()


def test_dry_run_lists_exactly_what_goes(place: Place) -> None:
    out = ok(envtui("rm", "--dry-run", place.venv))
    assert removal_lines(out) == [f"remove {place.venv}"]
    out = ok(envtui("rm", "--dry-run", "tools-env"))
    assert removal_lines(out) == [f"remove {place.conda}",
                                  f"drop line 2 of {place.txt}: {place.conda}"]
    assert f"{place.txt} lists it (1 line(s) will be dropped)" in out
    out = ok(envtui("rm", "--dry-run", place.venv, place.conda))
    assert removal_lines(out) == [f"remove {place.venv}", f"remove {place.conda}",
                                  f"drop line 2 of {place.txt}: {place.conda}"]
    assert place.unchanged()


def test_rm_conda_env_drops_its_environments_txt_line(place: Place) -> None:
    out = ok(envtui("rm", "--yes", place.conda))
    assert out == f"removed {place.conda}\n"
    assert not place.conda.exists()
    assert place.txt.read_bytes() == f"{place.home / 'gone-env'}\n{place.home / 'elsewhere'}" \
        .encode()
    assert place.venv.is_dir()


def _refusals(p: Place, machine: Machine) -> dict[str, tuple[list[str], dict[str, str],
                                                         Path | None, str]]:
    """case -> (arguments, extra environment, cwd, what the one line says)."""
    link = p.home / "tools-link"
    link.symlink_to(p.conda)
    vlink = p.home / "venv-link"
    vlink.symlink_to(p.venv)
    frozen = copy_env(p.conda, p.home / "envs" / "frozen-env")
    (frozen / "conda-meta" / "frozen").write_text('{"message": "pinned by ops"}')
    base_env = {"HOME": str(machine.home)}
    p.state = manifest(p.home)
    return {
        "plain directory": ([str(p.plain)], {}, None,
                            f"{p.plain}: not an environment (no pyvenv.cfg or conda-meta)"),
        "parent of an env": ([str(p.venv.parent)], {}, None,
                             f"{p.venv.parent}: not an environment (no pyvenv.cfg or "
                             f"conda-meta); did you mean {p.venv}?"),
        "home": ([str(p.home)], {}, None,
                 f"{p.home}: not an environment (no pyvenv.cfg or conda-meta)"),
        "root": (["/"], {}, None, "/: not an environment (no pyvenv.cfg or conda-meta)"),
        "trailing dot": ([f"{p.venv}/."], {}, None,
                         f"refused: {p.venv}/. ends in '.'; name the environment's "
                         "directory itself"),
        "cwd dot": (["."], {}, p.venv, "refused: . ends in '.'; name the environment's "
                                       "directory itself"),
        "name of a directory in the cwd": (["foo"], {}, p.cwd,
                                           "foo: not an environment (no pyvenv.cfg or "
                                           "conda-meta)"),
        "active venv": ([str(p.venv)], {"VIRTUAL_ENV": str(p.venv)}, None,
                        f"refused: {p.venv} is the active environment "
                        f"($VIRTUAL_ENV={p.venv}); deactivate it first"),
        "active conda env": (["tools-env"], {"CONDA_PREFIX": str(p.conda)}, None,
                             f"refused: {p.conda} is the active environment "
                             f"($CONDA_PREFIX={p.conda}); deactivate it first"),
        "base by name": (["base"], base_env, None,
                         f"refused: {machine.base} is a conda installation's base "
                         "environment"),
        "base by path": ([str(machine.base)], base_env, None,
                         f"refused: {machine.base} is a conda installation's base "
                         "environment"),
        "frozen": ([str(frozen)], {}, None,
                   f"refused: {frozen} is frozen (conda-meta/frozen): pinned by ops"),
        "symlink to a conda env": ([str(link)], {}, None,
                                   f"refused: {link} is a symlink to {p.conda}; name the "
                                   "environment itself"),
        "symlink with a slash": ([f"{link}/"], {}, None,
                                 f"refused: {link}/ is a symlink to {p.conda}; name the "
                                 "environment itself"),
        "symlink to a venv": ([str(vlink)], {}, None,
                              f"refused: {vlink} is a symlink to {p.venv}; name the "
                              "environment itself"),
    }


REFUSALS = ["plain directory", "parent of an env", "home", "root", "trailing dot",
            "cwd dot", "name of a directory in the cwd", "active venv", "active conda env",
            "base by name", "base by path", "frozen", "symlink to a conda env",
            "symlink with a slash", "symlink to a venv"]


@pytest.mark.parametrize("case", REFUSALS)
@pytest.mark.parametrize("mode", ["--yes", "--dry-run"])
def test_refusals_are_one_line_exit_2_and_touch_nothing(place: Place, machine: Machine,
                                                        case: str, mode: str) -> None:
    args, extra, cwd, said = _refusals(place, machine)[case]
    base_before = manifest(machine.home) if case.startswith("base") else None
    line = one_line_error(envtui("rm", mode, *args, extra=extra, cwd=cwd))
    assert line == (f"envtui: {said}" if said.startswith("refused:") else
                    f"envtui: error: {said}")
    assert place.unchanged()
    assert place.txt.read_bytes() == place.txt_before
    if base_before is not None:
        assert manifest(machine.home) == base_before


def test_home_that_looks_like_an_env_is_refused(place: Place) -> None:
    shutil.copy2(place.venv / "pyvenv.cfg", place.home / "pyvenv.cfg")
    place.state = manifest(place.home)
    line = one_line_error(envtui("rm", "--yes", place.home))
    assert line == (f"envtui: refused: {place.home} is the home directory, "
                    "not an environment")
    assert place.unchanged()


def test_one_refusal_removes_neither(place: Place, machine: Machine) -> None:
    refusals = _refusals(place, machine)
    frozen = Path(refusals["frozen"][0][0])
    proc = envtui("rm", "--yes", place.venv, frozen)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"envtui: {refusals['frozen'][3]}",
        "envtui: nothing removed (name only what can be removed)"]
    proc = envtui("rm", "--yes", place.venv, place.plain)
    assert (proc.returncode, proc.stderr.splitlines()) == (
        2, [f"envtui: error: {refusals['plain directory'][3]}"])
    proc = envtui("rm", "--yes", place.venv, "tools-env",
                  extra={"CONDA_PREFIX": str(place.conda)})
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[0] == f"envtui: {refusals['active conda env'][3]}"
    assert place.unchanged()
    assert place.txt.read_bytes() == place.txt_before


def test_rm_json(place: Place) -> None:
    planned = as_json(envtui("rm", "--dry-run", "--json", place.venv))
    assert planned["dry_run"] is True
    assert [(p["ref"], p["kind"], p["target"], p["marker"]) for p in planned["planned"]] == [
        (str(place.venv), "venv", str(place.venv), "pyvenv.cfg")]
    assert place.unchanged()
    done = as_json(envtui("rm", "--yes", "--json", place.venv))
    assert done == {"removed": [str(place.venv)], "refused": []}
    assert not place.venv.exists()


def ask(place: Place, answer: str | None) -> tuple[int, str]:
    """`envtui rm VENV` at a terminal (stdin a pty): wait for the question, then type
    `answer`, or press Ctrl-C (SIGINT) when it is None. Exit status and stdout."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "envtui", "rm", str(place.venv)],
                            stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ,
                                 "DOCKER_HOST": f"unix://{os.environ['HOME']}/no-engine.sock"})
    os.close(slave)
    try:
        assert proc.stdout is not None
        out = b""
        deadline = time.monotonic() + 120
        while not out.endswith(b"[y/N] "):
            assert time.monotonic() < deadline, out
            ready, _, _ = select.select([proc.stdout], [], [], 1)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 4096)
                assert chunk, (out, proc.wait())
                out += chunk
        assert place.unchanged()  # nothing happens before the answer
        if answer is None:
            proc.send_signal(signal.SIGINT)
        else:
            os.write(master, f"{answer}\n".encode())
        rest, _ = proc.communicate(timeout=120)
        return proc.returncode, (out + rest).decode()
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("answer", ["", "n", "no", "yes please", None])
def test_the_question_defaults_to_no(place: Place, answer: str | None) -> None:
    code, out = ask(place, answer)
    assert code == 1
    assert out.startswith(f"  {place.venv}  (venv, ")
    assert out.endswith("Remove them? [y/N] \nnothing removed\n" if answer is None else
                        "Remove them? [y/N] nothing removed\n")
    assert place.unchanged()


@pytest.mark.parametrize("answer", ["y", "YES", " y "])
def test_yes_at_the_question_removes(place: Place, answer: str) -> None:
    code, out = ask(place, answer)
    assert code == 0
    assert out.endswith(f"Remove them? [y/N] removed {place.venv}\n")  # typing is not echoed
    assert not place.venv.exists()


# --- Docker ----------------------------------------------------------------------------


@dataclass
class Engine:
    """This test's corner of the shared engine: everything it makes carries its label."""

    api: Any
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:10])

    @property
    def label(self) -> str:
        return f"envtui-test={self.token}"

    @property
    def prefix(self) -> str:
        return f"envtui-test-cli-{self.token}"

    def image(self, files: dict[str, bytes], repo: str | None = None,
              cmd: list[str] | None = None) -> str:
        """A one-layer image imported from a tarball (no parent), tagged `repo:1` or not."""
        files = {"marker": f"{self.token} {uuid.uuid4().hex}\n".encode(), **files}
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            for name, data in files.items():
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(data), 0o755
                tf.addfile(info, io.BytesIO(data))
        changes = [f"LABEL {self.label}"] + ([f"CMD {json.dumps(cmd)}"] if cmd else [])
        out = self.api.import_image_from_data(
            buf.getvalue(), repository=f"{self.prefix}/{repo}" if repo else None,
            tag="1" if repo else None, changes=changes)
        image_id = str(json.loads(str(out).strip().splitlines()[-1])["status"])
        assert image_id.startswith("sha256:"), out
        return image_id

    def busybox(self, repo: str | None = None) -> str:
        return self.image({"bin/busybox": static_busybox().read_bytes()}, repo)

    def container(self, image: str, role: str, *command: str) -> str:
        name = f"{self.prefix}-{role}"
        self.api.create_container(
            image, command=list(command) or ["/bin/busybox", "true"], name=name,
            labels={"envtui-test": self.token},
            host_config=self.api.create_host_config(network_mode="none"))
        return name

    def state(self, name: str) -> str:
        return str(self.api.inspect_container(name)["State"]["Status"])

    def exists(self, ident: str) -> bool:
        import docker.errors

        try:
            self.api.inspect_image(ident)
        except docker.errors.NotFound:
            return False
        return True

    def cleanup(self) -> None:
        flt = {"label": self.label}
        for c in self.api.containers(all=True, filters=flt):
            self.api.remove_container(c["Id"], force=True)
        for i in self.api.images(all=True, filters=flt):
            self.api.remove_image(i["Id"], force=True)


@pytest.fixture
def engine(docker_client: Any, sandbox: Path) -> Iterator[Engine]:
    made = Engine(api=docker_client.api)
    try:
        yield made
    finally:
        made.cleanup()


def short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


@pytest.mark.docker
def test_rm_image_used_by_a_stopped_container(engine: Engine) -> None:
    image = engine.busybox("bb")
    tag = f"{engine.prefix}/bb:1"
    name = engine.container(image, "user")
    engine.api.start(name)
    assert engine.api.wait(name, timeout=60)["StatusCode"] == 0
    assert engine.state(name) == "exited"

    said = (f"envtui: refused: image:{tag} is used by container {name} (exited); "
            "--force removes it anyway")
    for mode in ("--yes", "--dry-run"):
        assert one_line_error(envtui("rm", mode, f"image:{tag}", docker=True)) == said
    assert engine.exists(image)

    dry = ok(envtui("rm", "--dry-run", "--force", f"image:{tag}", docker=True))
    assert f"forced: used by container {name} (exited), which are kept" in dry
    assert removal_lines(dry) == [f"docker image {image}"]
    assert engine.exists(image)

    out = ok(envtui("rm", "--yes", "--force", f"image:{tag}", docker=True))
    assert out == f"removed image:{tag}\n"
    assert not engine.exists(image)
    assert engine.state(name) == "exited"  # the container is kept


@pytest.mark.docker
def test_prune_removes_only_unused_dangling_images(engine: Engine) -> None:
    dangling = engine.image({"a.txt": b"dangling\n"})
    used = engine.image({"b.txt": b"dangling but used\n"})
    tagged = engine.image({"c.txt": b"tagged\n"}, "kept")
    engine.container(used, "holder", "/nothing")
    mine = ("--label", engine.label)

    planned = as_json(envtui("prune", "--dry-run", "--json", docker=True))["planned"]
    targets = {p["target"]: p for p in planned}
    assert dangling in targets and used not in targets and tagged not in targets
    assert targets[dangling]["ref"] == f"image:{short(dangling)}"

    size = human_size(engine.api.inspect_image(dangling)["Size"])
    out = ok(envtui("prune", "--dry-run", *mine, docker=True))
    assert out.splitlines() == [
        f"  image:{short(dangling)}  (image, {size}, identified by docker image)",
        f"    {dangling[:19]}",
        "    dangling: no tag, no container",
        f"1 to remove, {size}"]
    report = as_json(envtui("df", "--json", docker=True))
    candidate = next(c for c in report["candidates"] if c["ref"] == f"image:{short(dangling)}")
    assert candidate["reasons"] == ["dangling", "unused"]
    assert row(report, "docker images")["total"] >= 3
    assert row(report, "docker containers")["total"] >= 1

    proc = envtui("prune", *mine, docker=True)  # no --yes and no terminal
    assert proc.returncode == 1
    assert proc.stderr == "envtui: nothing removed: run again with --yes\n"
    assert engine.exists(dangling)

    assert ok(envtui("prune", "--yes", *mine, docker=True)) == \
        f"removed 1 dangling images, {size}\n"
    assert [engine.exists(i) for i in (dangling, used, tagged)] == [False, True, True]
    assert as_json(envtui("prune", "--yes", "--json", *mine, docker=True)) == {
        "removed": [], "planned": []}


@pytest.mark.docker
def test_container_start_stop_and_rm(engine: Engine) -> None:
    image = engine.busybox("sleeper")
    # sh as PID 1 ignores SIGTERM unless it traps it: stop must not wait out its timeout
    name = engine.container(image, "sleeper", "/bin/busybox", "sh", "-c",
                            "trap 'exit 0' TERM; /bin/busybox sleep 300 & wait")
    assert engine.state(name) == "created"

    assert ok(envtui("container", "start", name, docker=True)) == \
        f"started container {name}\n"
    assert engine.state(name) == "running"
    assert one_line_error(envtui("rm", "--yes", f"container:{name}", docker=True)) == (
        f"envtui: refused: container:{name} is running; stop it first or --force")
    assert engine.state(name) == "running"

    started = time.monotonic()
    assert as_json(envtui("container", "stop", f"container:{name}", "--json",
                          docker=True)) == {"container": name, "action": "stop"}
    assert time.monotonic() - started < 8
    assert engine.state(name) == "exited"

    missing = f"{engine.prefix}-nosuch"
    line = one_line_error(envtui("container", "start", missing, docker=True))
    assert line.startswith("envtui: error: ") and missing in line

    assert ok(envtui("rm", "--yes", f"container:{name}", docker=True)) == \
        f"removed container:{name}\n"
    assert not engine.api.containers(all=True, filters={"name": name})
    assert engine.exists(image)
