"""Lock files: conda-lock.yml from a real conda env, pylock.toml from a real venv.

The oracles are the tools that read them: conda-lock's own parser must read back the same
packages, URLs and hashes; uv must install a pylock.toml offline into a fresh venv that holds
exactly what the exported one holds. Hashes are checked against hashlib of the real files.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from envtui.exchange.condalock import conda_platform, read_conda_lock, write_conda_lock
from envtui.exchange.pylock import read_pylock, write_pylock
from envtui.exchange.spec import CONDA, PIP, EnvSpec, ExchangeError, Pin, from_environment
from envtui.inspectors.conda import CondaInspector
from envtui.inspectors.venv import VenvInspector
from envtui.model import Environment
from envtui.resolver.findlinks import FindLinksSource
from tests.conda_channel import Machine, copy_env, make_machine, pip_install
from tests.conftest import offline_env
from tests.envfactory import make_venv, python_of, uv_bin, uv_install
from tests.wheels import build_wheel

SP = "lib/python3.11/site-packages"


@pytest.fixture(scope="module", name="machine")
def machine_fixture(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Machine:
    """The conda machine of tests/conda_channel.py, with pip packages on top of `data`."""
    m = make_machine(tmp_path_factory.mktemp("locks-conda"))
    pip_install(m.data / SP, wheelhouse, "hello-world")
    return m


def read_conda(path: Path) -> Environment:
    insp = CondaInspector(system_roots=())
    found = insp.identify(path)
    assert found is not None, path
    return insp.read(found)


def read_venv(path: Path) -> Environment:
    found = VenvInspector().identify(path)
    assert found is not None, path
    return VenvInspector().read(found)


def md5_sha256(path: Path) -> tuple[str, str]:
    data = path.read_bytes()
    return hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- conda-lock


def test_conda_lock_export_is_read_by_conda_lock(machine: Machine, tmp_path: Path) -> None:
    from conda_lock.lockfile import parse_conda_lock_file

    spec = from_environment(read_conda(machine.data))
    text, notes = write_conda_lock(spec)
    out = tmp_path / "conda-lock.yml"
    out.write_text(text)
    platform = conda_platform()  # every package is noarch: listed under this machine's

    parsed = parse_conda_lock_file(out)
    got = {(p.name, p.version, p.manager, p.platform, p.url, p.hash.md5, p.hash.sha256,
            tuple(sorted(p.categories))) for p in parsed.package}
    want = {(p.name, p.version, CONDA, platform, p.url, p.md5, p.sha256, ("main",))
            for p in spec.conda}
    assert got == want
    assert {p[0] for p in got} == {"numpy", "python", "six", "zlib"}
    # The hashes are the package files' own.
    for name, _v, _m, _p, url, md5, sha256, _c in got:
        file = next((machine.channel / "noarch").glob(f"{name}-*.tar.bz2"))
        assert url == file.as_uri()
        assert (md5, sha256) == md5_sha256(file)

    # conda-lock's documented schema, read with a plain YAML loader.
    doc = yaml.safe_load(text)
    assert doc["version"] == 1
    meta = doc["metadata"]
    assert meta["platforms"] == [platform]
    assert meta["channels"] == [{"url": machine.channel_url, "used_env_vars": []}]
    assert meta["sources"] == [str(machine.data)]
    assert set(meta["content_hash"]) == {platform}
    numpy = next(p for p in doc["package"] if p["name"] == "numpy")
    assert numpy["dependencies"] == {"python": ">=3.11,<3.12.0a0", "zlib": ">=1.3.1,<2.0a0"}
    assert (numpy["build"], numpy["category"], numpy["optional"]) == (
        "py311h64a7726_0", "main", False)
    six = next(p for p in doc["package"] if p["name"] == "six")
    assert six["dependencies"] == {"python": ""}  # no version constraint, as conda-lock writes

    # The pip packages cannot be locked (no URL or hash recorded): left out, and said so.
    assert {p.key for p in spec.pip} == {"hello-world", "tinydep"}
    assert len(notes) == 1
    assert "2 pip packages left out: Hello_World==0.1.0, tinydep==0.3" in notes[0]
    assert "--format requirements" in notes[0]
    assert f"# {notes[0]}" in text
    assert all(p["manager"] == "conda" for p in doc["package"])


def test_conda_lock_reads_back_what_was_written(machine: Machine) -> None:
    spec = from_environment(read_conda(machine.data))
    text, _ = write_conda_lock(spec)
    back = read_conda_lock(text.encode(), "conda-lock.yml")
    # Everything but `requested` (conda history, which a lock does not hold) survives.
    assert back.pins == tuple(replace(p, requested=None) for p in spec.conda)
    assert (back.kind, back.python, back.platform, back.channels) == (
        "conda", "3.11.9", conda_platform(), (machine.channel_url,))
    assert back.notes == ()


def test_conda_lock_export_is_deterministic_and_hashes_the_package_set(machine: Machine) -> None:
    spec = from_environment(read_conda(machine.data))
    first, _ = write_conda_lock(spec)
    assert write_conda_lock(spec)[0] == first
    fewer = replace(spec, pins=tuple(p for p in spec.pins if p.name != "six"))
    content_hash = yaml.safe_load(first)["metadata"]["content_hash"]
    assert yaml.safe_load(write_conda_lock(fewer)[0])["metadata"]["content_hash"] != content_hash


def test_conda_lock_refuses_a_record_without_md5_or_url(machine: Machine, tmp_path: Path) -> None:
    env_dir = copy_env(machine.data, tmp_path / "data")
    for pattern, key in (("numpy-*.json", "md5"), ("zlib-*.json", "url")):
        record = next((env_dir / "conda-meta").glob(pattern))
        data = json.loads(record.read_text())
        del data[key]
        record.write_text(json.dumps(data))
    spec = from_environment(read_conda(env_dir))
    with pytest.raises(ExchangeError) as e:
        write_conda_lock(spec)
    msg = str(e.value)
    assert msg.startswith(f"{env_dir}: cannot write a conda-lock file: ")
    assert "numpy 1.26.4 (its conda-meta record has no md5 hash" in msg
    assert "zlib 1.3.1 (its conda-meta record has no download URL)" in msg
    assert "\n" not in msg


def test_conda_lock_refuses_a_venv(tmp_path: Path, lockhouse: Path) -> None:
    venv = make_venv(tmp_path / "v", "uv")
    uv_install(venv, lockhouse, "tinydep==0.3")
    spec = from_environment(read_venv(venv))
    with pytest.raises(ExchangeError, match=r"is a venv; conda-lock files describe conda "
                                            r"environments \(use --format pylock or "
                                            r"requirements\)"):
        write_conda_lock(spec)


def _lock_doc(machine: Machine) -> dict[str, object]:
    doc: dict[str, object] = yaml.safe_load(
        write_conda_lock(from_environment(read_conda(machine.data)))[0])
    return doc


def _other_platform() -> str:
    return "osx-arm64" if conda_platform() != "osx-arm64" else "linux-64"


def test_conda_lock_read_picks_the_platform(machine: Machine) -> None:
    here, other = conda_platform(), _other_platform()
    doc = _lock_doc(machine)
    packages = doc["package"]
    assert isinstance(packages, list)
    zlib = next(p for p in packages if p["name"] == "zlib")
    doc["package"] = [*packages, {**zlib, "platform": other, "version": "9.9"}]
    meta = doc["metadata"]
    assert isinstance(meta, dict)
    meta["platforms"] = [here, other]
    data = yaml.safe_dump(doc).encode()

    assert len(read_conda_lock(data, "l.yml").pins) == 4  # this machine's by default
    theirs = read_conda_lock(data, "l.yml", other)
    assert [(p.name, p.version) for p in theirs.pins] == [("zlib", "9.9")]
    assert theirs.platform == other
    with pytest.raises(ExchangeError) as e:
        read_conda_lock(data, "l.yml", "win-32")
    assert str(e.value) == f"l.yml: has no packages for win-32; it has " \
                           f"{', '.join(sorted([here, other]))}"

    # A file for one other platform only is read with a note; two others need a choice.
    only = {**doc, "package": [{**p, "platform": other} for p in packages],
            "metadata": {**meta, "platforms": [other]}}
    spec = read_conda_lock(yaml.safe_dump(only).encode(), "o.yml")
    assert spec.platform == other and len(spec.pins) == 4
    assert spec.notes == (f"o.yml: read the {other} packages (this machine is {here})",)
    two = {**only, "metadata": {**meta, "platforms": [other, "win-64"]}}
    with pytest.raises(ExchangeError, match="has no packages for this machine's platform"):
        read_conda_lock(yaml.safe_dump(two).encode(), "t.yml")


def test_conda_lock_reads_version_2_files(machine: Machine) -> None:
    doc = _lock_doc(machine)
    packages = doc["package"]
    assert isinstance(packages, list)
    for p in packages:
        del p["category"], p["optional"]
        p["categories"] = ["main"]
    packages[0]["categories"] = ["dev"]  # optional: `conda-lock install` skips it
    doc["version"] = 2
    spec = read_conda_lock(yaml.safe_dump(doc).encode(), "v2.yml")
    assert len(spec.pins) == 3
    assert spec.notes == (f"v2.yml: left out 1 package(s) of optional categories: "
                          f"{packages[0]['name']}",)


BAD_LOCKS = [
    ("package: [\n", ""),  # the safe loader's own message
    ("- a\n- b\n", "not a conda-lock file (expected a mapping"),
    ("metadata: {}\npackage: []\n", "not a conda-lock file (no `version`)"),
    ("version: 3\nmetadata: {}\npackage: []\n",
     "conda-lock file version 3 is not supported (versions 1 and 2 are)"),
    ("version: 1\npackage: []\n", "not a valid conda-lock file: metadata: Field required"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_LOCKS)
def test_conda_lock_bad_files_are_one_line_errors(text: str, expected: str,
                                                  tmp_path: Path) -> None:
    where = str(tmp_path / "conda-lock.yml")
    with pytest.raises(ExchangeError) as e:
        read_conda_lock(text.encode(), where)
    assert str(e.value).startswith(f"{where}: ")
    assert expected in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(("change", "expected"), [
    (lambda p: p["hash"].pop("md5"), "package[0].hash: conda package hashes must use MD5"),
    (lambda p: p.update(version=["1"]), "package[0].version: Input should be a valid string"),
    (lambda p: p.update(url=""), "package[0].url: URL cannot be empty"),
    (lambda p: p.update(dependencies="python"), "package[0].dependencies: Input should be a "
                                                "valid dictionary"),
    (lambda p: p.update(manager="npm"), "package[0].manager: Input should be 'conda' or 'pip'"),
    (lambda p: p.update(colour="red"), "package[0].colour: Extra inputs are not permitted"),
])
def test_conda_lock_rejects_what_conda_lock_rejects(machine: Machine, tmp_path: Path,
                                                    change: object, expected: str) -> None:
    from conda_lock.lockfile import parse_conda_lock_file

    doc = _lock_doc(machine)
    packages = doc["package"]
    assert isinstance(packages, list) and callable(change)
    change(packages[0])
    path = tmp_path / "conda-lock.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(ExchangeError) as e:
        read_conda_lock(path.read_bytes(), str(path))
    assert str(e.value) == f"{path}: not a valid conda-lock file: {expected}"
    with pytest.raises((ValueError, KeyError)):  # the oracle refuses it too
        parse_conda_lock_file(path)


# --------------------------------------------------------------------------- pylock


def _sdist(dest: Path, name: str, version: str) -> Path:
    """A minimal real sdist (PKG-INFO in a top directory), for the lock's `sdist` entry."""
    path = dest / f"{name}-{version}.tar.gz"
    data = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n".encode()
    with tarfile.open(path, "w:gz") as tf:
        info = tarfile.TarInfo(f"{name}-{version}/PKG-INFO")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture(scope="module", name="lockhouse")
def lockhouse_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A find-links directory: two versions of tinydep, one of them with a wheel for
    another platform and an sdist, and hello-world, which needs tinydep."""
    d = tmp_path_factory.mktemp("lockhouse")
    build_wheel(d, "Hello_World", "0.1.0", requires=["tinydep>=0.1"])
    build_wheel(d, "tinydep", "0.2")
    build_wheel(d, "tinydep", "0.3")
    build_wheel(d, "tinydep", "0.3", tag="cp311-cp311-win_amd64")
    _sdist(d, "tinydep", "0.3")
    return d


def uv_run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([uv_bin(), *map(str, args)], env=offline_env(), text=True,
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=300)


def installed(env: Environment) -> set[tuple[str, str]]:
    return {(p.key, p.version) for p in env.packages}


@pytest.fixture(name="venv_lock")
def venv_lock_fixture(tmp_path: Path, lockhouse: Path) -> tuple[Path, str]:
    """A real venv (uv, offline) and its pylock.toml, written to a file beside it."""
    venv = make_venv(tmp_path / "orig", "uv")
    uv_install(venv, lockhouse, "hello-world", "tinydep==0.3")
    text, notes = write_pylock(from_environment(read_venv(venv)), [FindLinksSource(lockhouse)])
    assert notes == []
    (tmp_path / "pylock.toml").write_text(text)
    return venv, text


def test_pylock_export_is_valid_and_hashes_the_real_files(venv_lock: tuple[Path, str],
                                                          lockhouse: Path) -> None:
    from packaging.pylock import PackageSdist, PackageWheel, Pylock

    _, text = venv_lock
    lock = Pylock.from_dict(tomllib.loads(text))  # PEP 751 validation by packaging
    assert lock.created_by == "envtui"
    assert str(lock.requires_python) == "==3.11.*"
    assert [(p.name, str(p.version)) for p in lock.packages] == [
        ("hello-world", "0.1.0"), ("tinydep", "0.3")]
    tinydep = lock.packages[1]
    # Every file of exactly the installed version, never 0.2; each hash is the file's own.
    assert [w.name for w in tinydep.wheels or []] == [
        "tinydep-0.3-cp311-cp311-win_amd64.whl", "tinydep-0.3-py3-none-any.whl"]
    assert tinydep.sdist is not None and tinydep.sdist.name == "tinydep-0.3.tar.gz"
    files: list[PackageWheel | PackageSdist] = [
        *(w for p in lock.packages for w in p.wheels or []), tinydep.sdist]
    for f in files:
        path = lockhouse / f.filename
        assert f.url == path.as_uri()
        assert dict(f.hashes) == {"sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    assert tinydep.index is None  # a find-links directory is not an index


def test_pylock_installs_the_same_environment_with_uv(venv_lock: tuple[Path, str],
                                                      tmp_path: Path) -> None:
    venv, _ = venv_lock
    fresh = make_venv(tmp_path / "fresh", "uv")
    done = uv_run("pip", "install", "--offline", "--no-index", "--python", python_of(fresh),
                  "-r", tmp_path / "pylock.toml")
    assert done.returncode == 0, done.stderr
    original = installed(read_venv(venv))
    assert original == {("hello-world", "0.1.0"), ("tinydep", "0.3")}
    assert installed(read_venv(fresh)) == original


def test_pylock_tampered_hash_stops_the_install(venv_lock: tuple[Path, str],
                                                tmp_path: Path, lockhouse: Path) -> None:
    _, text = venv_lock
    good = hashlib.sha256((lockhouse / "tinydep-0.3-py3-none-any.whl").read_bytes()).hexdigest()
    bad = tmp_path / "bad" / "pylock.toml"
    bad.parent.mkdir()
    bad.write_text(text.replace(good, "0" * 64))
    fresh = make_venv(tmp_path / "fresh", "uv")
    done = uv_run("pip", "install", "--offline", "--no-index", "--no-cache", "--python",
                  python_of(fresh), "-r", bad)
    assert done.returncode != 0
    assert "Hash mismatch" in done.stderr
    assert installed(read_venv(fresh)) == set()


def test_pylock_reads_back_the_file_an_installer_would_pick(venv_lock: tuple[Path, str],
                                                            lockhouse: Path) -> None:
    _, text = venv_lock
    spec = read_pylock(text.encode(), "pylock.toml")
    assert (spec.kind, spec.python) == ("venv", "3.11")
    wheel = lockhouse / "tinydep-0.3-py3-none-any.whl"  # not the win_amd64 one listed first
    hello = lockhouse / "Hello_World-0.1.0-py3-none-any.whl"
    assert spec.pins == (
        Pin(name="hello-world", version="0.1.0", manager=PIP, url=hello.as_uri(),
            sha256=hashlib.sha256(hello.read_bytes()).hexdigest()),
        Pin(name="tinydep", version="0.3", manager=PIP, url=wheel.as_uri(),
            sha256=hashlib.sha256(wheel.read_bytes()).hexdigest()),
    )


def test_pylock_names_every_pin_without_a_source(tmp_path: Path, lockhouse: Path) -> None:
    venv = make_venv(tmp_path / "v", "uv")
    uv_install(venv, lockhouse, "hello-world", "tinydep==0.3")
    spec = from_environment(read_venv(venv))
    partial = tmp_path / "partial"
    build_wheel(partial, "tinydep", "0.2")
    with pytest.raises(ExchangeError) as e:
        write_pylock(spec, [FindLinksSource(partial)])
    assert str(e.value) == (
        f"{venv}: no file to lock found for 2 package(s): "
        f"Hello_World 0.1.0 (version 0.1.0 is not in {partial}); "
        f"tinydep 0.3 (version 0.3 is not in {partial})")
    with pytest.raises(ExchangeError, match=r"tinydep 0.3 \(installed from an index, and no "
                                            r"package source was given\)"):
        write_pylock(spec)


def test_pylock_direct_installs(tmp_path: Path, lockhouse: Path) -> None:
    from packaging.pylock import Pylock

    src = tmp_path / "src" / "proj"
    src.mkdir(parents=True)
    archive = lockhouse / "tinydep-0.2-py3-none-any.whl"
    spec = EnvSpec(origin="v", kind="venv", python="3.11.7", pins=(
        Pin(name="Proj", version="1.0", url=src.as_uri(), editable=True),
        Pin(name="built", version="2.0", url=src.as_uri()),
        Pin(name="tinydep", version="0.2", url=archive.as_uri()),
        Pin(name="vcsdep", version="3.0",
            url="git+https://user:secret@git.invalid/r.git@0123abcd#subdirectory=pkg"),
    ))
    text, _ = write_pylock(spec)
    assert "secret" not in text and "user" not in text
    packages = {str(p.name): p for p in Pylock.from_dict(tomllib.loads(text)).packages}
    assert packages["proj"].directory is not None
    assert (packages["proj"].directory.path, packages["proj"].directory.editable) == (
        str(src), True)
    assert packages["built"].directory is not None
    assert packages["built"].directory.editable is False
    tiny = packages["tinydep"].archive
    assert tiny is not None and tiny.url == archive.as_uri()
    assert dict(tiny.hashes) == {"sha256": hashlib.sha256(archive.read_bytes()).hexdigest()}
    vcs = packages["vcsdep"].vcs
    assert vcs is not None
    assert (vcs.type, vcs.url, vcs.commit_id, vcs.subdirectory) == (
        "git", "https://git.invalid/r.git", "0123abcd", "pkg")

    back = {p.key: p for p in read_pylock(text.encode(), str(tmp_path / "pylock.toml")).pins}
    assert (back["proj"].url, back["proj"].editable) == (src.as_uri(), True)
    assert back["vcsdep"].url == "git+https://git.invalid/r.git@0123abcd#subdirectory=pkg"
    assert back["tinydep"].sha256 == tiny.hashes["sha256"]

    gone = replace(spec, pins=(Pin(name="x", version="1", url="https://files.invalid/x.whl"),
                               Pin(name="y", version="1", url="git+https://git.invalid/y")))
    with pytest.raises(ExchangeError) as e:
        write_pylock(gone)
    assert "x 1 (installed from https://files.invalid/x.whl, whose hash was not recorded)" \
        in str(e.value)
    assert "y 1 (a git checkout without a recorded commit)" in str(e.value)


def test_pylock_of_a_conda_env_holds_its_pip_packages(machine: Machine,
                                                      wheelhouse: Path) -> None:
    spec = from_environment(read_conda(machine.data))
    text, notes = write_pylock(spec, [FindLinksSource(wheelhouse)])
    assert [p["name"] for p in tomllib.loads(text)["packages"]] == ["hello-world", "tinydep"]
    assert notes == ["4 conda packages are not in pylock.toml: export --format conda-lock or "
                     "environment-yml for them"]
    tools = replace(spec, pins=spec.conda)
    with pytest.raises(ExchangeError, match=r"has no Python packages to write as pylock\.toml"):
        write_pylock(tools)


PYLOCK_HEAD = 'lock-version = "1.0"\ncreated-by = "x"\n'
BAD_PYLOCKS = [
    ("lock-version = 1.0\n[[packages]\n", "not valid TOML"),
    ('created-by = "x"\npackages = []\n',
     "not a valid pylock.toml: Missing required value in 'lock-version'"),
    ('lock-version = "1.0"\npackages = []\n',
     "not a valid pylock.toml: Missing required value in 'created-by'"),
    (PYLOCK_HEAD, "not a valid pylock.toml: Missing required value in 'packages'"),
    ('lock-version = "2.0"\ncreated-by = "x"\npackages = []\n',
     "not a valid pylock.toml: pylock version 2.0 is not supported"),
    (PYLOCK_HEAD + 'packages = "tinydep"\n',
     "not a valid pylock.toml: Unexpected type str (expected Sequence) in 'packages'"),
    (PYLOCK_HEAD + '[[packages]]\nname = "tinydep"\nversion = "0.3"\n',
     "Exactly one of vcs, directory, archive must be set if sdist and wheels are not set "
     "in 'packages[0]'"),
    (PYLOCK_HEAD + '[[packages]]\nname = "Tiny_Dep"\n[packages.directory]\npath = "."\n',
     "Name 'Tiny_Dep' is not normalized in 'packages[0].name'"),
    (PYLOCK_HEAD + '[[packages]]\nname = "t"\nwheels = [{name = "t-1-py3-none-any.whl", '
                   'url = "file:///t-1-py3-none-any.whl"}]\n',
     "Missing required value in 'packages[0].wheels[0].hashes'"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_PYLOCKS)
def test_pylock_bad_files_are_one_line_errors(text: str, expected: str) -> None:
    with pytest.raises(ExchangeError) as e:
        read_pylock(text.encode(), "/x/pylock.toml")
    assert str(e.value).startswith("/x/pylock.toml: ")
    assert expected in str(e.value)
    assert "\n" not in str(e.value)


def test_pylock_read_skips_packages_for_other_interpreters() -> None:
    text = 'default-groups = ["main"]\n' + PYLOCK_HEAD + (
        '[[packages]]\nname = "winonly"\nmarker = "sys_platform == \'nonesuch\'"\n'
        'archive = {url = "https://files.invalid/w.zip", hashes = {sha256 = "00"}}\n'
        '[[packages]]\nname = "devtool"\nmarker = "\'dev\' in dependency_groups"\n'
        'archive = {url = "https://files.invalid/d.zip", hashes = {sha256 = "00"}}\n'
        '[[packages]]\nname = "core"\nmarker = "\'main\' in dependency_groups"\n'
        'archive = {url = "https://files.invalid/c.zip", hashes = {sha256 = "cc"}}\n'
        '[[packages]]\nname = "everywhere"\nversion = "1.0"\n'
        'archive = {path = "dist/e-1.0.zip", hashes = {sha256 = "ab"}}\n')
    spec = read_pylock(text.encode(), "/locks/pylock.toml")
    assert spec.pins == (
        Pin(name="core", version="", url="https://files.invalid/c.zip", sha256="cc"),
        Pin(name="everywhere", version="1.0", url="file:///locks/dist/e-1.0.zip", sha256="ab"),
    )
    assert spec.notes == ("/locks/pylock.toml: left out 2 package(s) whose markers exclude this "
                          "interpreter: winonly, devtool",)
