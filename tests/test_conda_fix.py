"""`envtui fix` on real conda environments: conflicts among conda records are solved by
rattler from a local channel and applied as a transaction `undo` reverts byte for byte.

The channel and the environments are made by py-rattler in a child process
(`python -m tests.test_conda_fix DEST`), for the reason tests/conda_channel.py gives. An
inconsistent environment is made the way a forced install makes one: records solved
separately and linked together.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conda_channel import PACKAGES as BASE_PACKAGES
from tests.conda_channel import REPO, build_package, copy_env
from tests.envfactory import uv_bin
from tests.envstate import manifest
from tests.wheels import build_wheel

# (name, version, depends): app 2.0 needs libfoo 2, app 1.0 needs libfoo 1; stuck-a and
# stuck-b pull core both ways and umbrella needs both, so that one has no way out.
PACKAGES = [
    ("libfoo", "1.0", []), ("libfoo", "2.0", []),
    ("app", "1.0", ["libfoo <2"]), ("app", "2.0", ["libfoo >=2"]),
    ("core", "1.0", []), ("core", "2.0", []),
    ("stuck-a", "1.0", ["core <2"]), ("stuck-b", "1.0", ["core >=2"]),
    ("umbrella", "1.0", ["stuck-a", "stuck-b"]),
]
ENVS = {
    "conflicted": ["app ==2.0", "libfoo ==1.0", "zlib"],
    "impossible": ["umbrella", "stuck-a", "stuck-b", "core ==1.0"],
    "pip": ["python ==3.11.9", "zlib"],
}
"""Each environment's exact records, linked without checking that they fit together."""
SP = "lib/python3.11/site-packages"


def build(root: Path) -> None:
    from rattler import Gateway, install
    from rattler.index import index_fs

    channel = root / "channel"
    for name, version, depends in PACKAGES:
        build_package(channel / "noarch", name, version, "h0_0", depends,
                      {f"share/{name}/version": f"{version}\n"})
    for base in BASE_PACKAGES:
        if base[0] in ("python", "zlib"):
            build_package(channel / "noarch", *base)
    asyncio.run(index_fs(channel, write_zst=False, write_shards=False))

    async def link(prefix: Path, specs: list[str]) -> None:
        gateway = Gateway(cache_dir=root / "cache" / "repodata")
        found = await gateway.query([channel.as_uri()], ["noarch"], specs, recursive=False)
        records = [r for per_channel in found for r in per_channel]
        await install(records, prefix, cache_dir=root / "cache" / "pkgs", show_progress=False)

    for name, specs in ENVS.items():
        asyncio.run(link(root / name, specs))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("conda-fix")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONDA", "MAMBA", "PIXI"))}
    env.update(HOME=str(root / "home"), XDG_CACHE_HOME=str(root / "home" / ".cache"),
               PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-m", "tests.test_conda_fix", str(root)], cwd=REPO,
                          env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=300, check=False)
    assert (root / "built").exists(), f"building the conda envs failed:\n{done.stderr}"
    return root


def envtui(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull}
    return subprocess.run([sys.executable, "-m", "envtui", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL, env=env)


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.stdout, done.stderr
    return json.loads(done.stdout)


def actions(plan: dict[str, Any]) -> list[tuple[str, str | None, str | None, str]]:
    return [(a["action"], a["name"], a["from"], a["to"]) for a in plan["actions"]]


def dependency_problems(prefix: Path) -> list[str]:
    done = envtui("check", prefix, "--json")
    return [p["detail"] for p in as_json(done) if p["kind"] in ("conflict", "missing")]


def records(prefix: Path) -> list[str]:
    return sorted(p.name for p in (prefix / "conda-meta").glob("*.json"))


def test_conda_conflict_is_planned_fixed_and_undone(built: Path, home: Path,
                                                    tmp_path: Path) -> None:
    prefix = copy_env(built / "conflicted", tmp_path / "conflicted")
    channel = (built / "channel").as_uri()
    assert dependency_problems(prefix) == [
        "app 2.0 requires libfoo >=2, but libfoo 1.0 is installed"]
    before = manifest(prefix)

    dry = envtui("fix", prefix, "--channel", channel, "--dry-run", "--json")
    assert dry.returncode == 1, dry.stderr
    plans = as_json(dry)["plans"]
    assert [actions(p) for p in plans] == [
        [("upgrade", "libfoo", "1.0", "2.0")],
        [("downgrade", "app", "2.0", "1.0")],
        [("remove", "app", "2.0", None)],
    ]
    assert [p["note"] for p in plans[1:]] == ["holds libfoo at 1.0",
                                              "removes app, which nothing needs"]
    # Without --channel the channel the records came from is used; --keep holds libfoo.
    kept = as_json(envtui("fix", prefix, "--keep", "libfoo", "--dry-run", "--json"))
    assert actions(kept["plans"][0]) == [("downgrade", "app", "2.0", "1.0")]
    assert manifest(prefix) == before  # planning changes nothing

    done = envtui("fix", prefix, "--channel", channel, "--yes", "--json")
    assert done.returncode == 0, done.stderr
    assert as_json(done)["applied"] is True
    assert dependency_problems(prefix) == []
    assert records(prefix) == ["app-2.0-h0_0.json", "libfoo-2.0-h0_0.json",
                               "zlib-1.3.1-h4ab18f5_1.json"]
    assert (prefix / "share" / "libfoo" / "version").read_text() == "2.0\n"
    assert json.loads((prefix / ".envtui" / "journal.json").read_text())["installer"] == \
        "rattler"

    undone = envtui("undo", prefix, "--json")
    assert undone.returncode == 0, undone.stderr
    assert as_json(undone)["undone"] == [
        {"name": "libfoo", "from": "1.0", "to": "2.0", "action": "upgrade"}]
    assert manifest(prefix) == before
    assert not (prefix / ".envtui" / "journal.json").exists()


def test_failed_conda_install_restores_the_environment(built: Path, home: Path,
                                                       tmp_path: Path) -> None:
    prefix = copy_env(built / "conflicted", tmp_path / "conflicted")
    # The channel still lists libfoo 2.0 but its package is gone: rattler fails mid-way.
    channel = shutil.copytree(built / "channel", tmp_path / "channel")
    (channel / "noarch" / "libfoo-2.0-h0_0.tar.bz2").unlink()
    before = manifest(prefix)
    done = envtui("fix", prefix, "--channel", channel.as_uri(), "--yes", "--json")
    assert done.returncode == 2
    assert "rattler install failed" in done.stderr
    assert "the environment was restored" in done.stderr
    assert manifest(prefix) == before
    assert not (prefix / ".envtui" / "journal.json").exists()


def test_impossible_conda_conflict_is_explained(built: Path, home: Path,
                                                tmp_path: Path) -> None:
    prefix = copy_env(built / "impossible", tmp_path / "impossible")
    before = manifest(prefix)
    done = envtui("fix", prefix, "--channel", (built / "channel").as_uri(), "--yes", "--json")
    assert done.returncode == 1, done.stderr
    out = as_json(done)
    assert out["plans"] == [] and out["applied"] is False
    explanation = out["explanation"]
    assert "\n" not in explanation
    for name in ("stuck-a", "stuck-b", "core"):
        assert name in explanation, explanation
    assert manifest(prefix) == before


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("conda-fix-wheels")
    build_wheel(d, "numpy", "1.26.4", requires_python=">=3.9")
    build_wheel(d, "numpy", "2.1.0", requires_python=">=3.10")
    build_wheel(d, "numpy", "2.3.0", requires_python=">=3.12")  # not for the env's 3.11
    build_wheel(d, "oldlib", "1.0", requires=["numpy<2"])
    build_wheel(d, "oldlib", "1.3", requires=["numpy>=1.26"])
    build_wheel(d, "newlib", "2.0", requires=["numpy>=2"])
    return d


def test_pip_conflict_in_a_conda_env_goes_through_the_pip_resolver(
        built: Path, home: Path, tmp_path: Path, wheels: Path) -> None:
    # The channel's python is a stand-in that cannot run, so the plan is computed
    # (statically, for the conda record's Python 3.11.9) but not applied.
    prefix = copy_env(built / "pip", tmp_path / "pip")
    subprocess.run([uv_bin(), "pip", "install", "--quiet", "--offline", "--no-index",
                    "--no-deps", "--find-links", str(wheels), "--target", str(prefix / SP),
                    "--python", sys.executable, "oldlib==1.0", "newlib==2.0", "numpy==1.26.4"],
                   check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=120)
    assert dependency_problems(prefix) == [
        "newlib 2.0 requires numpy>=2, but numpy 1.26.4 is installed"]
    done = envtui("fix", prefix, "--find-links", wheels, "--no-index", "--offline",
                  "--dry-run", "--json")
    assert done.returncode == 1, done.stderr
    plans = as_json(done)["plans"]
    assert actions(plans[0]) == [("upgrade", "numpy", "1.26.4", "2.1.0"),
                                 ("upgrade", "oldlib", "1.0", "1.3")]


if __name__ == "__main__":
    build(Path(sys.argv[1]))
    (Path(sys.argv[1]) / "built").write_text("ok\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip interpreter finalisation (see tests/conda_channel.py)
