"""Export, import and diff end to end: real venvs with real wheels, real conda envs made by
py-rattler from a local channel, the real `envtui` command, no network.

The oracle for every round trip is `envtui diff` itself, checked against the package sets
the inspector reads from both environments, so a diff that always said "identical" fails.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from envtui.inspectors.base import ScanContext
from envtui.inspectors.discovery import inspect_path
from tests.conda_channel import Machine, make_machine
from tests.docker_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    PY_IMAGE,
    DockerWorld,
    docker_client_fixture,
    docker_host_fixture,
    docker_world_fixture,
)
from tests.envfactory import make_venv, uv_install
from tests.envstate import Hang, manifest
from tests.wheels import build_wheel

LOCAL = ("--no-index", "--offline")


def run(*args: str | Path, home: Path | None = None, extra_env: dict[str, str] | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, **(extra_env or {})}
    if home is not None:
        env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"),
                   XDG_CONFIG_HOME=str(home / ".config"))
    return subprocess.run([sys.executable, "-m", "envtui", *map(str, args)], capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL, env=env, cwd=cwd)


def packages(path: Path) -> set[tuple[str, str, str]]:
    """(source, name, version) of everything the inspector reads in an environment."""
    env = inspect_path(ScanContext.from_process(), path, refresh=True)
    assert env is not None, path
    return {(p.source, p.key, p.version) for p in env.packages}


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("exchange-wheels")
    build_wheel(d, "numpy", "1.26.4")
    build_wheel(d, "numpy", "2.1.0")
    build_wheel(d, "oldlib", "1.0", requires=["numpy<2"])
    build_wheel(d, "Hello_World", "0.1.0", requires=["tinydep>=0.1"])
    build_wheel(d, "tinydep", "0.3")
    build_wheel(d, "tinydep", "0.4")
    return d


@pytest.fixture(scope="module")
def source_venv(tmp_path_factory: pytest.TempPathFactory, wheels: Path) -> Path:
    venv = make_venv(tmp_path_factory.mktemp("exchange-src") / "src", "uv")
    uv_install(venv, wheels, "oldlib", "hello-world", "tinydep==0.3")
    return venv


@pytest.fixture(scope="module")
def conda(tmp_path_factory: pytest.TempPathFactory) -> Machine:
    return make_machine(tmp_path_factory.mktemp("exchange-conda"))


# --------------------------------------------------------------------------- venv round trips


@pytest.mark.parametrize("fmt", ["environment-yml", "requirements"])
def test_venv_round_trip_is_identical(fmt: str, source_venv: Path, wheels: Path,
                                      tmp_path: Path) -> None:
    exported = tmp_path / ("environment.yml" if fmt == "environment-yml" else "req.txt")
    done = run("export", source_venv, "--format", fmt, "-o", exported)
    assert done.returncode == 0, done.stderr
    copy = tmp_path / "copy"
    done = run("import", exported, "--prefix", copy, "--kind", "venv", "--yes", *LOCAL,
               "--find-links", wheels)
    assert done.returncode == 0, done.stdout + done.stderr
    assert packages(copy) == packages(source_venv)
    assert not (copy / ".envtui-import").exists()
    same = run("diff", source_venv, copy)
    assert same.returncode == 0, same.stdout + same.stderr
    assert "identical" in same.stdout
    # and the file itself against the new env
    assert run("diff", exported, copy).returncode == 0


def test_environment_yml_is_condas_schema(source_venv: Path) -> None:
    done = run("export", source_venv)
    assert done.returncode == 0, done.stderr
    doc = yaml.safe_load(done.stdout)
    assert set(doc) == {"name", "channels", "dependencies"}
    assert doc["name"] == "src"
    deps = doc["dependencies"]
    assert deps[0].startswith("python=3.")
    assert "pip" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    assert pip == ["Hello_World==0.1.0", "numpy==1.26.4", "oldlib==1.0", "tinydep==0.3"]


def test_requirements_export_header_and_from_history(source_venv: Path) -> None:
    text = run("export", source_venv, "--format", "requirements").stdout
    assert text.splitlines()[0].startswith(f"# Exported by envtui 0.1.0 from {source_venv}")
    assert "oldlib==1.0" in text.splitlines()
    top = yaml.safe_load(run("export", source_venv, "--from-history").stdout)
    pip = next(d["pip"] for d in top["dependencies"] if isinstance(d, dict))
    # numpy and tinydep are there because oldlib and Hello_World need them
    assert pip == ["Hello_World==0.1.0", "oldlib==1.0"]


def test_export_writes_atomically_and_leaves_no_temp(source_venv: Path, tmp_path: Path) -> None:
    out = tmp_path / "environment.yml"
    out.write_text("old content\n")
    assert run("export", source_venv, "-o", out).returncode == 0
    assert "oldlib==1.0" in out.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["environment.yml"]
    missing = run("export", source_venv, "-o", tmp_path / "no" / "such" / "env.yml")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_editable_and_direct_url_are_written_faithfully(tmp_path: Path, wheels: Path) -> None:
    venv = make_venv(tmp_path / "v", "uv")
    wheel = next(wheels.glob("tinydep-0.4-*.whl"))
    uv_install(venv, wheels, str(wheel))
    text = run("export", venv, "--format", "requirements").stdout
    assert f"tinydep @ {wheel.as_uri()}" in text.splitlines()


# --------------------------------------------------------------------------- diff


def test_diff_names_every_difference(source_venv: Path, wheels: Path, tmp_path: Path) -> None:
    other = make_venv(tmp_path / "other", "uv")
    uv_install(other, wheels, "numpy==2.1.0", "tinydep==0.4")
    done = run("diff", source_venv, other, "--json")
    assert done.returncode == 1, done.stderr
    d = json.loads(done.stdout)
    assert {p["name"] for p in d["removed"]} == {"Hello_World", "oldlib"}
    assert d["added"] == []
    changed = {c["name"]: (c["a"], c["b"]) for c in d["changed"]}
    assert changed == {"numpy": ("1.26.4", "2.1.0"), "tinydep": ("0.3", "0.4")}
    assert d["python"]["differs"] is False
    table = run("diff", source_venv, other).stdout
    assert "~  numpy" in table and "-  oldlib" in table
    assert "4 differences" in table


def test_diff_against_a_hand_written_file_accepts_ranges(source_venv: Path,
                                                        tmp_path: Path) -> None:
    f = tmp_path / "environment.yml"
    f.write_text("name: x\nchannels: []\ndependencies:\n  - python=3\n  - pip:\n"
                 "    - numpy>=1.20,<2\n    - oldlib\n    - hello-world==0.1.0\n"
                 "    - tinydep~=0.3.0\n")
    assert run("diff", f, source_venv).returncode == 0
    f.write_text(f.read_text().replace("numpy>=1.20,<2", "numpy>=2"))
    done = run("diff", f, source_venv, "--json")
    assert done.returncode == 1
    assert [c["name"] for c in json.loads(done.stdout)["changed"]] == ["numpy"]


def test_diff_python_versions(tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("# Exported by envtui 0.1.0 from /x (venv, Python 3.11.4)\nsix==1.0\n")
    b.write_text("# Exported by envtui 0.1.0 from /y (venv, Python 3.12.1)\nsix==1.0\n")
    done = run("diff", a, b, "--json")
    assert done.returncode == 1
    assert json.loads(done.stdout)["python"] == {"a": "3.11.4", "b": "3.12.1", "differs": True}


# --------------------------------------------------------------------------- import safety


def test_import_refuses_existing_directories_and_touches_nothing(
        source_venv: Path, tmp_path: Path) -> None:
    req = tmp_path / "req.txt"
    req.write_text("numpy==1.26.4\n")
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "sub" / "important.txt").write_text("keep me\n")
    before = manifest(data)
    for extra in ((), ("--force",)):
        done = run("import", req, "--prefix", data, "--yes", *LOCAL, *extra)
        assert done.returncode == 2
        assert "not an environment" in done.stderr or "already exists" in done.stderr
        assert manifest(data) == before
    env_before = manifest(source_venv)
    done = run("import", req, "--prefix", source_venv, "--yes", *LOCAL)
    assert done.returncode == 2 and "--force" in done.stderr
    assert manifest(source_venv) == env_before


def test_failed_import_leaves_nothing_and_force_puts_the_old_env_back(
        source_venv: Path, wheels: Path, tmp_path: Path) -> None:
    req = tmp_path / "req.txt"
    req.write_text("numpy==1.26.4\nnot-in-the-wheelhouse==9.9\n")
    target = tmp_path / "new"
    done = run("import", req, "--prefix", target, "--yes", *LOCAL, "--find-links", wheels)
    assert done.returncode == 2
    assert "not-in-the-wheelhouse" in done.stderr
    assert not target.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run("import", req, "--prefix", empty, "--yes", *LOCAL,
               "--find-links", wheels).returncode == 2
    assert empty.is_dir() and not any(empty.iterdir())
    # --force on an env: moved aside, the failed import removed, the env put back intact
    old = tmp_path / "old"
    make_venv(old, "uv")
    uv_install(old, wheels, "tinydep==0.3")
    before = manifest(old)
    done = run("import", req, "--prefix", old, "--force", "--yes", *LOCAL,
               "--find-links", wheels)
    assert done.returncode == 2
    assert manifest(old) == before
    assert not list(tmp_path.glob(".old.envtui-backup-*"))


def test_import_needs_a_python_that_exists(tmp_path: Path) -> None:
    f = tmp_path / "environment.yml"
    f.write_text("name: old\ndependencies:\n  - python=2.6\n  - pip:\n    - six==1.0\n")
    done = run("import", f, "--kind", "venv", "--prefix", tmp_path / "env", "--yes", *LOCAL)
    assert done.returncode == 2
    assert "no Python 2.6 on this machine" in done.stderr
    assert not (tmp_path / "env").exists()


def test_preview_flags_file_options_and_ignores_them(tmp_path: Path, wheels: Path) -> None:
    req = tmp_path / "req.txt"
    req.write_text("--index-url http://example.invalid/simple\n--trusted-host example.invalid\n"
                   "tinydep==0.3\n")
    done = run("import", req, "--prefix", tmp_path / "env", "--dry-run", *LOCAL,
               "--find-links", wheels)
    assert done.returncode == 0, done.stderr
    assert "example.invalid" in done.stdout
    assert "NOT used" in done.stdout
    assert not (tmp_path / "env").exists()
    # really ignored: the import succeeds offline from the find-links directory alone
    done = run("import", req, "--prefix", tmp_path / "env", "--yes", *LOCAL,
               "--find-links", wheels)
    assert done.returncode == 0, done.stderr
    assert ("python", "tinydep", "0.3") in packages(tmp_path / "env")


# --------------------------------------------------------------------------- conda


def test_conda_round_trip_through_environment_yml(conda: Machine, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    f = tmp_path / "environment.yml"
    done = run("export", conda.data, "--with-builds", "-o", f)
    assert done.returncode == 0, done.stderr
    doc = yaml.safe_load(f.read_text())
    assert doc["channels"] == [conda.channel_url + "/"] or doc["channels"] == [conda.channel_url]
    assert "numpy=1.26.4=py311h64a7726_0" in doc["dependencies"]
    copy = tmp_path / "copy"
    done = run("import", f, "--prefix", copy, "--yes", home=home)
    assert done.returncode == 0, done.stdout + done.stderr
    assert packages(copy) == packages(conda.data)
    assert run("diff", conda.data, copy).returncode == 0


def test_conda_from_history_keeps_versions(conda: Machine) -> None:
    doc = yaml.safe_load(run("export", conda.data, "--from-history").stdout)
    # the history asked for numpy, six and python=3.11 (tinyconda was removed again)
    assert sorted(doc["dependencies"]) == ["numpy=1.26.4", "python=3.11.9", "six=1.16.0"]


def test_conda_lock_round_trip_and_tampered_hash(conda: Machine, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    lock = tmp_path / "conda-lock.yml"
    done = run("export", conda.data, "--format", "conda-lock", "-o", lock)
    assert done.returncode == 0, done.stderr
    copy = tmp_path / "copy"
    done = run("import", lock, "--prefix", copy, "--yes", home=home)
    assert done.returncode == 0, done.stdout + done.stderr
    assert packages(copy) == packages(conda.data)
    assert run("diff", lock, copy).returncode == 0
    zlib = next(conda.channel.glob("noarch/zlib-*.tar.bz2"))
    real = hashlib.sha256(zlib.read_bytes()).hexdigest()
    lock.write_text(lock.read_text().replace(real, "ab" * 32))
    bad = tmp_path / "bad"
    done = run("import", lock, "--prefix", bad, "--yes", home=home)
    assert done.returncode == 2
    assert "sha256 mismatch" in done.stderr
    assert not bad.exists()


def test_venv_round_trip_through_pylock(source_venv: Path, wheels: Path, tmp_path: Path) -> None:
    lock = tmp_path / "pylock.toml"
    done = run("export", source_venv, "--format", "pylock", "-o", lock, *LOCAL,
               "--find-links", wheels)
    assert done.returncode == 0, done.stderr
    copy = tmp_path / "copy"
    done = run("import", lock, "--prefix", copy, "--yes", *LOCAL, "--find-links", wheels)
    assert done.returncode == 0, done.stdout + done.stderr
    assert packages(copy) == packages(source_venv)
    assert run("diff", lock, copy).returncode == 0


def test_unicode_paths_and_normalised_names_round_trip(wheels: Path, tmp_path: Path) -> None:
    src = make_venv(tmp_path / "données-ü", "uv")
    uv_install(src, wheels, "hello.world", "tinydep")  # PEP 503: hello.world is Hello_World
    f = tmp_path / "réseau.yml"
    assert run("export", src, "-o", f).returncode == 0
    assert "name: données-ü" in f.read_text(encoding="utf-8")
    copy = tmp_path / "copie-é"
    done = run("import", f, "--prefix", copy, "--kind", "venv", "--yes", *LOCAL,
               "--find-links", wheels)
    assert done.returncode == 0, done.stderr
    assert packages(copy) == packages(src)
    assert run("diff", src, copy).returncode == 0


@pytest.mark.docker
def test_export_an_images_python_packages(docker_world: DockerWorld, tmp_path: Path) -> None:
    tag = docker_world.tags["multi"][0]
    env = {"DOCKER_HOST": docker_world.host}
    req = run("export", f"image:{tag}", "--format", "requirements", "--no-home", extra_env=env)
    assert req.returncode == 0, req.stderr
    assert [x for x in req.stdout.splitlines() if not x.startswith("#")] == [
        "Hello_World==0.1.0", "numpy==1.26.4", "tinydep==0.3"]
    yml = yaml.safe_load(run("export", f"image:{tag}", "--no-home", extra_env=env).stdout)
    assert yml["dependencies"][0] == f"python={PY_IMAGE}"
    refused = run("export", f"image:{tag}", "--format", "conda-lock", "--no-home",
                  extra_env=env)
    assert refused.returncode == 2 and "conda-lock files describe conda" in refused.stderr


def start_import_from(hang: Hang, req: Path, target: Path) -> subprocess.Popen[str]:
    """A real `envtui import` whose uv waits on a find-links server that never answers."""
    req.write_text("tinydep==0.3\n")
    env = {k: v for k, v in os.environ.items() if k != "UV_OFFLINE"}
    env["PIP_CONFIG_FILE"] = os.devnull
    return subprocess.Popen(
        [sys.executable, "-m", "envtui", "import", req, "--prefix", target, "--yes",
         "--no-index", "--find-links", hang.url], stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_ctrl_c_during_import_removes_the_half_made_env(tmp_path: Path, hang: Hang) -> None:
    req = tmp_path / "req.txt"
    target = tmp_path / "new"
    proc = start_import_from(hang, req, target)
    try:
        assert hang.asked.wait(60), "uv never reached the find-links server"
        assert (target / ".envtui-import").exists()  # half-made, and marked so
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out + err
    assert "nothing was left behind" in err
    assert not target.exists()


def test_tampered_pylock_hash_stops_the_import(source_venv: Path, wheels: Path,
                                              tmp_path: Path) -> None:
    lock = tmp_path / "pylock.toml"
    assert run("export", source_venv, "--format", "pylock", "-o", lock, *LOCAL,
               "--find-links", wheels).returncode == 0
    wheel = next(wheels.glob("tinydep-0.3-*.whl"))
    real = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert real in lock.read_text()
    lock.write_text(lock.read_text().replace(real, "ab" * 32))
    target = tmp_path / "new"
    done = run("import", lock, "--prefix", target, "--yes", *LOCAL, "--find-links", wheels)
    assert done.returncode == 2
    assert "hash" in done.stderr.lower()
    assert not target.exists()


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))


@pytest.mark.parametrize(("text", "message"), [
    ("name: x\ndependencies: [python=3.11\n", "line 3, column 1"),
    ("name: !!python/object/apply:os.system ['touch pwned']\ndependencies: [six]\n",
     "is not allowed"),
    (BOMB + "dependencies: [six]\n", "alias bomb"),
    ("name: x\ndependencies: []\n", "`dependencies` is empty"),
    ("name: x\n", "`dependencies` is empty or missing"),
    ("- just\n- a list\n", "not an environment file"),
    ("name: x\ndependencies:\n  - {conda: [six]}\n", "dependencies item 1"),
])
def test_bad_environment_files_are_one_line_errors_and_create_nothing(
        tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "environment.yml"
    f.write_text(text)
    target = tmp_path / "env"
    done = run("import", f, "--prefix", target, "--yes", "--channel", "file:///nowhere",
               cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert not target.exists() and not (tmp_path / "pwned").exists()


def test_unknown_keys_and_risky_lines_are_flagged_in_the_preview(tmp_path: Path) -> None:
    f = tmp_path / "environment.yml"
    f.write_text("name: shared\nchannels: [conda-forge]\nsurprise: 1\ndependencies:\n"
                 "  - numpy=1.26\n  - pip:\n    - --index-url http://example.invalid/simple\n"
                 "    - -r https://example.invalid/more.txt\n"
                 "    - -e git+https://example.invalid/repo.git#egg=thing\n"
                 "    - tinydep==0.3\n")
    done = run("import", f, "--dry-run", "--json", home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["created"] is False and out["kind"] == "conda"
    assert out["target"] == str(tmp_path / "home" / ".conda" / "envs" / "shared")
    preview = "\n".join(out["preview"])
    assert "unknown key `surprise`" in preview
    danger = [line for line in out["preview"] if line.startswith("!")]
    assert any("http://example.invalid/simple" in line for line in danger)
    assert any("more.txt" in line and "not fetched" in line for line in danger)
    assert any("git+https://example.invalid/repo.git" in line for line in danger)
    assert "index options in the file are NOT used" in preview
    assert not (tmp_path / "home" / ".conda").exists()


def test_a_killed_import_is_reported_and_can_be_replaced(tmp_path: Path, hang: Hang,
                                                        wheels: Path) -> None:
    req = tmp_path / "req.txt"
    target = tmp_path / "new"
    proc = start_import_from(hang, req, target)
    try:
        assert hang.asked.wait(60), "uv never reached the find-links server"
    finally:
        proc.kill()
        proc.wait()
    shown = run("show", target, "--json")
    problems = json.loads(shown.stdout)["problem_details"]
    assert any(p["kind"] == "interrupted" and "import was interrupted" in p["detail"]
               for p in problems), problems
    done = run("import", req, "--prefix", target, "--force", "--yes", *LOCAL,
               "--find-links", wheels)
    assert done.returncode == 0, done.stderr
    assert json.loads(run("show", target, "--json").stdout)["problem_details"] == []


def test_from_history_without_history_keeps_what_nothing_depends_on() -> None:
    from envtui.exchange.environment_yml import ExportOptions, write_environment_yml
    from envtui.exchange.spec import CONDA, EnvSpec, Pin

    spec = EnvSpec(origin="/envs/x", kind="conda", name="x", python="3.11.9", pins=(
        Pin("numpy", "1.26.4", CONDA, depends=("python >=3.11", "zlib >=1.3")),
        Pin("python", "3.11.9", CONDA), Pin("zlib", "1.3.1", CONDA)))
    doc = yaml.safe_load(write_environment_yml(spec, ExportOptions(from_history=True)))
    assert doc["dependencies"] == ["python=3.11", "numpy=1.26.4"]
