"""The conda inspector against real environments made by py-rattler from a local channel.

See tests/conda_channel.py for the machine the session builds: a miniforge3 base, a named
env with pip packages on top, a pixi project env and an env known only from
~/.conda/environments.txt. Tests that damage an environment work on a private copy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envtui.inspectors import fsinfo
from envtui.inspectors.base import Location, ScanContext
from envtui.inspectors.conda import (
    CONDA_PIP_MISMATCH,
    CondaInspector,
    channel_name,
    envs_dirs_from_condarc,
    parse_history,
    record_from_bytes,
    spec_name,
)
from envtui.inspectors.registry import inspectors
from envtui.model import Environment, EnvKind, Package, ProblemKind
from tests.conda_channel import Machine, copy_env, make_machine, pip_install

REPO_ROOT = Path(__file__).resolve().parent.parent

SP = "lib/python3.11/site-packages"


@dataclass(frozen=True)
class Fixture:
    """The built machine plus which installer put the pip packages into `data`."""

    m: Machine
    pip_installer: str


@pytest.fixture(scope="session", name="conda")
def conda_fixture(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Fixture:
    m = make_machine(tmp_path_factory.mktemp("conda-machine"))
    installer = pip_install(m.data / SP, wheelhouse, "hello-world")
    return Fixture(m, installer)


def ctx_for(home: Path, environ: Mapping[str, str] | None = None) -> ScanContext:
    return ScanContext(home=home, environ=dict(environ or {}))


def inspector() -> CondaInspector:
    # /opt/conda and friends belong to the machine running the tests, not to the fixture.
    return CondaInspector(system_roots=())


def read(path: Path) -> Environment:
    found = inspector().identify(path)
    assert found is not None, path
    return inspector().read(found)


def rows(env: Environment) -> list[tuple[str | None, ...]]:
    return [(p.name, p.version, p.build, p.channel, p.source, p.installer, p.requested)
            for p in env.packages]


def kinds(env: Environment) -> list[tuple[str, str]]:
    return [(p.kind, p.detail) for p in env.all_problems]


# --------------------------------------------------------------------------- discovery


def test_locate_finds_roots_envs_and_environments_txt(conda: Fixture) -> None:
    m = conda.m
    ctx = ctx_for(m.home)
    found = [(loc.ref, loc.base, loc.hint) for loc in inspector().locate(ctx)]
    assert found == [
        (str(m.base), True, None),
        (str(m.data), False, None),
        (str(m.tools), False, None),
    ]
    # The stale line in environments.txt (a deleted env) is silent, as conda is.
    assert ctx.problems == ()


def test_identify_recognises_each_kind_with_a_stat_or_two(conda: Fixture, tmp_path: Path) -> None:
    m = conda.m
    ci = inspector()
    assert ci.identify(m.base) == Location(EnvKind.CONDA, str(m.base), base=True)
    assert ci.identify(m.data) == Location(EnvKind.CONDA, str(m.data))
    assert ci.identify(m.pixi) == Location(EnvKind.CONDA, str(m.pixi), hint="pixi")
    assert ci.identify(m.home) is None
    assert ci.identify(m.base / "conda-meta") is None
    not_env = tmp_path / "x"
    not_env.mkdir()
    (not_env / "conda-meta").write_text("a file, not a directory")
    assert ci.identify(not_env) is None
    assert ci.identify(tmp_path / "missing") is None


def test_locate_honours_condarc_and_environment_variables(conda: Fixture, tmp_path: Path) -> None:
    home = tmp_path / "home"
    envs = {name: copy_env(conda.m.tools, tmp_path / where / name) for name, where in [
        ("a", "rc-envs"), ("b", "xdg-envs"), ("c", "condarc-var-envs"),
        ("d", "path-envs"), ("e", "data/envs2"), ("active", "elsewhere"),
    ]}
    (home / ".config" / "conda").mkdir(parents=True)
    (home / ".condarc").write_text(
        "channels:\n  - conda-forge\n"
        "envs_dirs:   #!final\n"
        f"  - {tmp_path}/rc-envs   # a comment\n"
        "  - '$DATA/envs2'\n"
        "  - ~/does-not-exist\n"
        "pkgs_dirs:\n  - /nowhere\n"
    )
    (home / ".config" / "conda" / "condarc").write_text(f'envs_path: ["{tmp_path}/xdg-envs"]\n')
    custom = tmp_path / "custom.condarc"
    custom.write_text(f"envs_dirs:\n- {tmp_path}/condarc-var-envs\n")
    environ = {
        "CONDARC": str(custom),
        "CONDA_ENVS_PATH": f"{tmp_path}/path-envs{os.pathsep}{tmp_path}/missing",
        "DATA": str(tmp_path / "data"),
        "CONDA_PREFIX": str(envs["active"]),
    }
    ctx = ctx_for(home, environ)
    found = [loc.ref for loc in inspector().locate(ctx)]
    assert found == [str(envs[n]) for n in ("a", "e", "b", "c", "d", "active")]
    assert ctx.problems == ()


def test_locate_follows_conda_exe_mamba_root_and_pixi_global(conda: Fixture,
                                                             tmp_path: Path) -> None:
    home = tmp_path / "home"
    inst = copy_env(conda.m.base, tmp_path / "inst")  # with its envs/data inside
    mm_env = copy_env(conda.m.tools, tmp_path / "mm" / "envs" / "x")
    pixi_global = copy_env(conda.m.pixi, home / ".pixi" / "envs" / "ripgrep")
    environ = {"CONDA_EXE": str(inst / "bin" / "conda"), "MAMBA_ROOT_PREFIX": str(tmp_path / "mm")}
    found = [(loc.ref, loc.base, loc.hint) for loc in inspector().locate(ctx_for(home, environ))]
    assert found == [
        (str(inst), True, None),
        (str(inst / "envs" / "data"), False, None),
        (str(mm_env), False, None),
        (str(pixi_global), False, "pixi"),
    ]


def test_locate_survives_nul_bytes_in_configuration(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".condarc").write_text("envs_dirs:\n  - /a\x00b\n")
    environ = {"CONDA_ENVS_PATH": "/x\x00y", "CONDA_PREFIX": "/p\x00q", "CONDARC": "/c\x00",
               "CONDA_EXE": "/e\x00/bin/conda"}
    ctx = ctx_for(home, environ)
    assert list(inspector().locate(ctx)) == []
    assert ctx.problems == ()


def test_locate_dedupes_by_realpath(conda: Fixture, tmp_path: Path) -> None:
    home = tmp_path / "home"
    root = copy_env(conda.m.tools, home / "miniconda3")
    (home / "anaconda3").symlink_to(root)
    (home / ".conda").mkdir()
    (home / ".conda" / "environments.txt").write_text(f"{root}\n{home}/anaconda3\n\n{root}/\n")
    found = [loc.ref for loc in inspector().locate(ctx_for(home, {"CONDA_PREFIX": str(root)}))]
    assert found == [str(root)]


def test_locate_reports_unreadable_sources_once_each(tmp_path: Path) -> None:
    home = tmp_path / "home"
    # A directory where a file is expected cannot be read, even by root.
    (home / ".conda" / "environments.txt").mkdir(parents=True)
    (home / ".condarc").mkdir()
    (home / "miniforge3").mkdir()
    (home / "miniforge3" / "envs").write_text("not a directory: silently nothing")
    ctx = ctx_for(home)
    assert list(inspector().locate(ctx)) == []
    assert [(p.kind, p.detail) for p in ctx.problems] == [
        ("unreadable", f"{home}/.conda/environments.txt: unreadable (Is a directory)"),
        ("unreadable", f"{home}/.condarc: unreadable (Is a directory)"),
    ]


_LOCATE_AS_USER = """
import json, sys
from pathlib import Path
from envtui.inspectors.base import ScanContext
from envtui.inspectors.conda import CondaInspector
ctx = ScanContext(home=Path(sys.argv[1]), environ={})
found = list(CondaInspector(system_roots=()).locate(ctx))
print(json.dumps([[p.kind, p.detail] for p in ctx.problems] + [len(found)]))
"""


def test_locate_reports_permission_denied_envs_dir(conda: Fixture, tmp_path: Path) -> None:
    home = tmp_path / "home"
    envs = home / "miniforge3" / "envs"
    copy_env(conda.m.tools, envs / "x")
    envs.chmod(0)
    # Root reads through chmod 000; drop the capabilities that let it, as a user would be.
    cmd = [sys.executable, "-c", _LOCATE_AS_USER, str(home)]
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: chmod 000 cannot be tested")
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--", *cmd]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=REPO_ROOT)
        assert json.loads(out.stdout) == [
            ["unreadable", f"{envs}: unreadable (Permission denied)"], 0]
    finally:
        envs.chmod(0o755)


def test_condarc_with_invalid_utf8_is_reported(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".condarc").write_bytes(b"envs_dirs:\n  - /x\xff\n")
    ctx = ctx_for(home)
    assert list(inspector().locate(ctx)) == []
    assert [str(p) for p in ctx.problems] == [f"{home}/.condarc: not valid UTF-8, ignored"]


def test_registry_provides_the_conda_inspector() -> None:
    [found] = inspectors(frozenset({EnvKind.CONDA}))
    assert isinstance(found, CondaInspector)
    assert found.kind is EnvKind.CONDA


# --------------------------------------------------------------------------- reading


def _created(stamp: str) -> str:
    # conda writes local time; the inspector reports UTC.
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").astimezone(UTC).isoformat()


def test_read_base(conda: Fixture) -> None:
    m = conda.m
    env = read(m.base)
    ch = m.channel_url
    assert (env.kind, env.name, env.manager, env.base, env.path, env.python) == (
        EnvKind.CONDA, "base", "conda", True, str(m.base), "3.11.9")
    assert rows(env) == [
        ("conda", "24.1.2", "py311h38be061_0", ch, "conda", "conda", "conda"),
        ("python", "3.11.9", "hab00c5b_0_cpython", ch, "conda", "conda", "python=3.11"),
    ]
    assert env.packages[0].requires == ("python >=3.11,<3.12.0a0",)
    assert env.packages[0].location == str(m.base / "conda-meta/conda-24.1.2-py311h38be061_0.json")
    assert env.created == _created("2024-03-01 09:15:02")
    assert env.all_problems == ()
    assert env.details == {"channels": [ch], "requested": ["conda", "python=3.11"]}


def test_read_named_env_lists_pip_packages_once(conda: Fixture) -> None:
    m = conda.m
    env = read(m.data)
    ch = m.channel_url
    pip = conda.pip_installer
    assert (env.name, env.manager, env.base, env.python) == ("data", "mamba", False, "3.11.9")
    # numpy's dist-info says INSTALLER conda; six's has none but its record lists its
    # files: neither shows up a second time as a Python package.
    assert rows(env) == [
        ("Hello_World", "0.1.0", None, None, "python", pip, None),
        ("numpy", "1.26.4", "py311h64a7726_0", ch, "conda", "conda", "numpy"),
        ("python", "3.11.9", "hab00c5b_0_cpython", ch, "conda", "conda", "python=3.11"),
        ("six", "1.16.0", "pyhd8ed1ab_0", ch, "conda", "conda", "six"),
        ("tinydep", "0.3", None, None, "python", pip, None),
        ("zlib", "1.3.1", "h4ab18f5_1", ch, "conda", "conda", None),
    ]
    by_name = {p.name: p for p in env.packages}
    assert by_name["numpy"].requires == ("python >=3.11,<3.12.0a0", "zlib >=1.3.1,<2.0a0")
    assert by_name["Hello_World"].requires == ("tinydep>=0.1",)
    assert by_name["Hello_World"].location == str(m.data / SP / "Hello_World-0.1.0.dist-info")
    # tinyconda was asked for, then removed: history replays to numpy, six, python.
    assert env.details["requested"] == ["numpy", "python=3.11", "six"]
    assert env.created == _created("2024-03-02 10:00:00")
    assert env.all_problems == ()


def test_read_pixi_env(conda: Fixture) -> None:
    m = conda.m
    env = read(m.pixi)
    ch = m.channel_url
    assert (env.name, env.manager, env.base, env.python) == ("default", "pixi", False, "3.11.9")
    # pixi leaves history with a lone comment (conda#13959): requested specs come from
    # the records rattler wrote.
    assert rows(env) == [
        ("python", "3.11.9", "hab00c5b_0_cpython", ch, "conda", "conda", "python 3.11.*"),
        ("zlib", "1.3.1", "h4ab18f5_1", ch, "conda", "conda", "zlib"),
    ]
    assert env.details["pixi_manifest"] == str(m.pixi.parents[2] / "pixi.toml")
    assert env.created is None
    assert env.all_problems == ()


def test_read_env_known_only_from_environments_txt(conda: Fixture) -> None:
    m = conda.m
    env = read(m.tools)
    assert (env.name, env.manager, env.base, env.python) == ("tools-env", "conda", False, None)
    assert rows(env) == [("zlib", "1.3.1", "h4ab18f5_1", m.channel_url, "conda", "conda", "zlib")]


def test_size_and_last_used_come_from_fsinfo(conda: Fixture) -> None:
    m = conda.m
    env = read(m.data)
    assert env.size_bytes == fsinfo.disk_usage(m.data).size
    assert env.size_bytes is not None and env.size_bytes > 0
    meta = m.data / "conda-meta"
    assert env.last_used == fsinfo.last_used(m.data, [meta / "history", meta, m.data / SP])


def test_pixi_manifest_alone_marks_a_detached_pixi_env(conda: Fixture, tmp_path: Path) -> None:
    # pixi's detached-environments setting puts envs outside .pixi/envs.
    env = read(copy_env(conda.m.pixi, tmp_path / "detached" / "default"))
    assert (env.name, env.manager) == ("default", "pixi")


def test_micromamba_history_means_mamba(conda: Fixture, tmp_path: Path) -> None:
    prefix = copy_env(conda.m.tools, tmp_path / "mm")
    (prefix / "conda-meta" / "history").write_text(
        "==> 2024-05-01 12:00:00 <==\n# cmd: micromamba create -p /x zlib\n"
        "# update specs: [\"zlib\"]\n")
    assert read(prefix).manager == "mamba"


def test_inspection_never_runs_code_from_the_env(conda: Fixture, tmp_path: Path) -> None:
    prefix = copy_env(conda.m.data, tmp_path / "env")
    marker = tmp_path / "pth-ran"
    (prefix / SP / "evil.pth").write_text(f"import os; open({str(marker)!r}, 'w')\n")
    env = read(prefix)
    assert not marker.exists()
    assert not (prefix / "bin" / "python3.11.was-run").exists()
    assert kinds(env) == [
        ("security", "evil.pth: .pth file runs code whenever this environment's Python starts"),
    ]


def test_fingerprint_changes_when_packages_change(conda: Fixture, tmp_path: Path,
                                                  wheelhouse: Path) -> None:
    prefix = copy_env(conda.m.tools, tmp_path / "env")
    (prefix / SP).mkdir(parents=True)
    ci = inspector()
    loc = ci.identify(prefix)
    assert loc is not None
    first = ci.fingerprint(loc)
    assert first is not None and first == ci.fingerprint(loc)
    pip_install(prefix / SP, wheelhouse, "tinydep")
    after_pip = ci.fingerprint(loc)
    assert after_pip != first
    with open(prefix / "conda-meta" / "history", "a") as f:
        f.write("==> 2024-06-01 00:00:00 <==\n# cmd: conda install x\n")
    assert ci.fingerprint(loc) != after_pip
    assert ci.fingerprint(Location(EnvKind.CONDA, str(tmp_path / "gone"))) is None


def test_read_of_a_vanished_env_is_one_problem(tmp_path: Path) -> None:
    env = inspector().read(Location(EnvKind.CONDA, str(tmp_path / "gone")))
    assert env.packages == ()
    assert kinds(env) == [
        ("unreadable", f"{tmp_path}/gone: unreadable (No such file or directory)"),
    ]


def test_pip_over_conda_is_listed_twice_with_a_mismatch(conda: Fixture, tmp_path: Path,
                                                        wheelhouse: Path) -> None:
    prefix = copy_env(conda.m.data, tmp_path / "env")
    installer = pip_install(prefix / SP, wheelhouse, "numpy==2.1.0", upgrade=True)
    env = read(prefix)
    numpys = [(p.version, p.source, p.installer) for p in env.packages if p.key == "numpy"]
    assert numpys == [("1.26.4", "conda", "conda"), ("2.1.0", "python", installer)]
    location = prefix / SP / "numpy-2.1.0.dist-info"
    assert kinds(env) == [(CONDA_PIP_MISMATCH, f"numpy: conda installed 1.26.4 but {installer} "
                                               f"replaced it with 2.1.0 ({location})")]


# --------------------------------------------------------------------------- damage


@pytest.fixture
def damaged(conda: Fixture, tmp_path: Path) -> Path:
    """A private copy of the named env, for a test to break."""
    return copy_env(conda.m.data, tmp_path / "env")


def _numpy_record(prefix: Path) -> Path:
    return prefix / "conda-meta" / "numpy-1.26.4-py311h64a7726_0.json"


def _names(env: Environment) -> list[str]:
    return [p.name for p in env.packages]


ALL_NAMES = ["Hello_World", "numpy", "python", "six", "tinydep", "zlib"]


def test_invalid_json_record_is_corrupted_and_named(damaged: Path) -> None:
    record = _numpy_record(damaged)
    record.write_text('{"name": "numpy", "version": ')
    env = read(damaged)
    assert _names(env) == ALL_NAMES  # recovered from the file name; the rest still read
    numpy = env.packages[1]
    assert (numpy.version, numpy.build, numpy.channel) == ("1.26.4", "py311h64a7726_0", None)
    assert kinds(env) == [("corrupted", f"{record}: corrupted conda record "
                                        "(invalid JSON: Expecting value)")]
    assert env.all_problems[0].package == "numpy"


def test_invalid_utf8_record_is_corrupted(damaged: Path) -> None:
    record = _numpy_record(damaged)
    record.write_bytes(b'{"name": "numpy\xff\xfe"}')
    env = read(damaged)
    assert kinds(env) == [("corrupted", f"{record}: corrupted conda record (not valid UTF-8)")]


@pytest.mark.parametrize(("field", "value", "why"), [
    ("files", "lib/python3.11/site-packages/numpy/__init__.py",
     "`files` is a string, expected a list of strings"),
    ("depends", {"python": ">=3.11"}, "`depends` is an object, expected a list of strings"),
    ("depends", ["python", 3], "`depends` is a list with non-string items, "
                               "expected a list of strings"),
    ("build", 0, "`build` is a number, expected a string"),
    ("version", None, "`version` missing"),
])
def test_wrong_types_are_corrupted_and_the_package_kept(damaged: Path, field: str,
                                                        value: object, why: str) -> None:
    record = _numpy_record(damaged)
    data = json.loads(record.read_text())
    data[field] = value
    record.write_text(json.dumps(data))
    env = read(damaged)
    # numpy's dist-info still says INSTALLER conda, so numpy is not listed twice.
    assert _names(env) == ALL_NAMES
    numpy = next(p for p in env.packages if p.name == "numpy")
    assert numpy.version == "1.26.4"
    assert kinds(env) == [("corrupted", f"{record}: corrupted conda record ({why})")]


def test_record_that_is_not_an_object_without_a_parsable_name(damaged: Path) -> None:
    record = damaged / "conda-meta" / "garbage.json"
    record.write_text("[1, 2, 3]")
    env = read(damaged)
    assert _names(env) == ALL_NAMES
    assert kinds(env) == [("corrupted", f"{record}: corrupted conda record "
                                        "(top level is a list, expected an object)")]
    assert env.problems[0].package is None


def test_conda_dist_info_without_its_record_files_is_still_not_doubled(damaged: Path) -> None:
    # six's dist-info has no INSTALLER; with `files` broken, name and version still match.
    record = damaged / "conda-meta" / "six-1.16.0-pyhd8ed1ab_0.json"
    data = json.loads(record.read_text())
    data["files"] = "six.py"
    record.write_text(json.dumps(data))
    assert _names(read(damaged)) == ALL_NAMES


def test_unreadable_record_is_reported(damaged: Path) -> None:
    (damaged / "conda-meta" / "odd.json").mkdir()
    env = read(damaged)
    assert _names(env) == ALL_NAMES
    assert kinds(env) == [
        ("unreadable", f"{damaged}/conda-meta/odd.json: unreadable (Is a directory)"),
    ]


def test_appledouble_files_are_ignored(damaged: Path) -> None:
    (damaged / "conda-meta" / "._numpy-1.26.4-py311h64a7726_0.json").write_bytes(
        b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        \xff\xff")
    (damaged / "conda-meta" / "._history").write_bytes(b"\x00\x05\x16\x07")
    env = read(damaged)
    assert _names(env) == ALL_NAMES
    assert env.all_problems == ()


def test_transaction_leftovers_are_interrupted(damaged: Path) -> None:
    meta = damaged / "conda-meta"
    (meta / "zlib-1.3.1-h4ab18f5_1.json.c~").write_text("{}")
    (meta / "old.json.trash").write_text("{}")
    (damaged / ".trash").mkdir()
    (damaged / "libfoo.so.conda_trash").write_text("")
    env = read(damaged)
    assert _names(env) == ALL_NAMES
    why = "leftover of an interrupted conda transaction"
    assert kinds(env) == [
        ("interrupted", f"{meta}/old.json.trash: {why}"),
        ("interrupted", f"{meta}/zlib-1.3.1-h4ab18f5_1.json.c~: {why}"),
        ("interrupted", f"{damaged}/.trash: {why}"),
        ("interrupted", f"{damaged}/libfoo.so.conda_trash: {why}"),
    ]


@pytest.mark.parametrize("history", [
    b"==> 2024-03-02 10:00:00 <==\n# cmd: mamba install numpy\n# update specs: ['numpy'\n",
    b"==> 2024-03-02 10:00:00 <==\n# cmd: mamba install numpy\n# update specs: [1, 2]\n",
    b"==> 2024-03-02 10:00:00 <==\n# cmd: mamba \xff install\n# update specs: ['numpy']\n",
    b"# update specs: ['>=1.0']\n",
])
def test_malformed_history_reads_as_empty(damaged: Path, history: bytes) -> None:
    (damaged / "conda-meta" / "history").write_bytes(history)
    env = read(damaged)
    assert env.manager == "conda"  # the mamba command is forgotten with the rest
    assert env.created is None
    assert env.details["history"] == "malformed (read as empty)"
    # With no usable history, requested specs come from the records rattler wrote
    # (rattler stores `python=3.11` in its canonical form).
    assert env.details["requested"] == ["numpy", "python 3.11.*", "six"]
    assert env.all_problems == ()


# --------------------------------------------------------------------------- parsers


def test_history_replays_requested_specs() -> None:
    history = parse_history(
        b"==> 2020-01-01 00:00:00 <==\n# cmd: conda create -n x\n"
        b"+defaults::python-3.8.0-h0_0\n"
        b"# install specs: python=3.8,numpy\n"
        b"==> 2020-02-01 00:00:00 <==\n# cmd: /opt/conda/bin/conda update python\n"
        b"# update specs: [\"conda-forge::python[version='>=3.9']\", 'scipy']\n"
        b"# neutered specs: ['scipy >=1']\n"
        b"# neutered specs: ['pandas']\n"
        b"==> 2020-03-01 00:00:00 <==\n# cmd: conda remove numpy\n"
        b"# remove specs: ['numpy']\n"
        b"# some comment conda never wrote\n"
    )
    assert history.requested == {"python": "conda-forge::python[version='>=3.9']",
                                 "scipy": "scipy >=1"}
    assert history.commands == ("conda create -n x", "/opt/conda/bin/conda update python",
                                "conda remove numpy")
    assert not history.by_mamba
    assert history.created == _created("2020-01-01 00:00:00")
    assert not history.malformed


def test_history_edge_cases() -> None:
    assert parse_history(b"") == parse_history(b"# not relevant for pixi\n")
    assert parse_history(b"").requested == {}
    assert parse_history(b"# cmd: C:\\mm\\micromamba.exe install x\n").by_mamba
    # conda#15123: escaped quotes inside a spec are still one readable spec.
    odd = parse_history(b'# update specs: ["sam-2[version=\\"=1.0\\",build=\\"cuda12*\\"]"]\n')
    assert odd.requested == {"sam-2": 'sam-2[version="=1.0",build="cuda12*"]'}
    assert parse_history(b"# update specs: ['a'" + b"]" * 100_000).malformed
    assert parse_history(b"# update specs: " + b"[" * 100_000 + b"]" * 100_000).malformed


@pytest.mark.parametrize(("spec", "name"), [
    ("numpy", "numpy"), ("python=3.11", "python"), ("numpy 1.26.*", "numpy"),
    ("conda-forge::NumPy>=1.2", "numpy"), ("conda-forge/linux-64::six", "six"),
    ("_libgcc_mutex", "_libgcc_mutex"), ("py-opencv[version='>=4']", "py-opencv"),
    ("", None), (">=1", None),
])
def test_spec_name(spec: str, name: str | None) -> None:
    assert spec_name(spec) == name


@pytest.mark.parametrize(("raw", "name"), [
    ("https://conda.anaconda.org/conda-forge/linux-64", "conda-forge"),
    ("https://conda.anaconda.org/conda-forge/", "conda-forge"),
    ("https://conda.anaconda.org/t/tk-123-secret/private/noarch", "private"),
    ("https://repo.anaconda.com/pkgs/main/osx-arm64", "pkgs/main"),
    ("https://user:pw@example.com/channels/x/win-64/", "https://example.com/channels/x"),
    ("file:///srv/channel/noarch", "file:///srv/channel"),
    ("conda-forge", "conda-forge"),
    ("pkgs/main", "pkgs/main"),
])
def test_channel_name(raw: str, name: str) -> None:
    assert channel_name(raw) == name


@pytest.mark.parametrize(("text", "dirs"), [
    ("envs_dirs:\n  - /a\n  - '/b c'  # note\n  - \"/d\"\nchannels: [x]\n", ["/a", "/b c", "/d"]),
    ("envs_dirs:\n- /a\n\n- /b\nother: 1\n", ["/a", "/b"]),
    ("envs_dirs:\n- /a\nother: 1\n- /not-yaml\n", []),
    ("a: &a [x]\nenvs_dirs: *a\n", ["x"]),
    ("envs_path: [/a, '/b, c', \"/d\"]\n", ["/a", "/b, c", "/d"]),
    ("channels:\n  envs_dirs:\n    - /nested\n", []),
    ("envs_dirs: !!python/object/apply:os.system ['x']\n", []),
    ("envs_dirs: /single\n", ["/single"]),
    ("a: &a [x]\nb: *a\n", []),
    ("\x00\x01 not yaml at all", []),
])
def test_envs_dirs_from_condarc(text: str, dirs: list[str]) -> None:
    assert envs_dirs_from_condarc(text) == dirs


def test_tag_in_condarc_is_ignored(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".condarc").write_text("envs_dirs: !!python/object/apply:os.system ['touch x']\n")
    ctx = ctx_for(home)
    assert list(inspector().locate(ctx)) == []
    assert ctx.problems == ()


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
_FIELDS = ("name", "version", "build", "channel", "schannel", "url", "depends", "files",
           "paths_data", "requested_spec", "requested_specs")


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(_FIELDS), _JSON) | _JSON | st.binary())
def test_record_parser_never_raises(value: object) -> None:
    data = value if isinstance(value, bytes) else json.dumps(value).encode()
    record = record_from_bytes(data, "pkg-1.0-0.json", "/p/conda-meta/pkg-1.0-0.json")
    assert record.package is not None or record.problems
    pkg = record.package
    if pkg is not None:
        assert isinstance(pkg, Package)
        assert all(isinstance(r, str) for r in pkg.requires)
        assert isinstance(pkg.name, str) and isinstance(pkg.version, str)
    for problem in record.problems + (pkg.problems if pkg else ()):
        assert problem.kind in (ProblemKind.CORRUPTED, ProblemKind.UNREADABLE)
        assert problem.detail.startswith("/p/conda-meta/pkg-1.0-0.json: ")
