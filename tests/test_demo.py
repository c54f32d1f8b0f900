"""`envtui --demo`: the sandbox is made of real environments that the real scan, checks and
fix planner see exactly as the demo promises, and nothing of this machine leaks in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from envtui.demo import (
    DemoBuildError,
    Sandbox,
    build_sandbox,
    demo_context,
    demo_environ,
    demo_sources,
    open_demo,
)
from envtui.demo.context import enter_sandbox, sandbox_loader
from envtui.inspectors.conda import SYSTEM_ROOTS
from envtui.inspectors.discovery import scan
from envtui.model import Environment, EnvKind, Inventory, ProblemKind
from envtui.resolver.checks import check_environment
from envtui.tui.app import EnvtuiApp
from envtui.tui.widgets.inventory_table import InventoryTable
from tests.tui_helpers import SIZE, run_async, settle

UNHEALTHY = {ProblemKind.BROKEN, ProblemKind.CONFLICT, ProblemKind.MISSING, ProblemKind.CYCLE,
             ProblemKind.REQUIRES_PYTHON, ProblemKind.INVALID_METADATA, ProblemKind.CORRUPTED,
             ProblemKind.CONDA_PIP_MISMATCH, ProblemKind.INCOMPLETE}


@pytest.fixture(scope="module")
def sb(tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    return build_sandbox(tmp_path_factory.mktemp("demo") / "sandbox")


@pytest.fixture(scope="module")
def inventory(sb: Sandbox) -> Inventory:
    return scan(demo_context(sb), use_cache=False)


def by_path(inventory: Inventory) -> dict[str, Environment]:
    return {e.path or "": e for e in inventory.environments}


def versions(env: Environment) -> dict[str, str]:
    return {p.key: p.version for p in env.packages}


def test_every_environment_is_found_with_its_kind_and_manager(
        sb: Sandbox, inventory: Inventory) -> None:
    found = {path: (e.kind, e.manager, e.name) for path, e in by_path(inventory).items()}
    expected = {
        sb.analysis: (EnvKind.VENV, "uv", "analysis"),
        sb.duplicate: (EnvKind.VENV, "uv", "analysis-copy"),
        sb.stale: (EnvKind.VENV, "uv", "old-experiment"),
        sb.broken: (EnvKind.VENV, "uv", "broken-env"),
        sb.webapp: (EnvKind.VENV, "uv", "webapp"),
        sb.pipx_tool: (EnvKind.VENV, "pipx", "linttool"),
        sb.poetry: (EnvKind.VENV, "poetry", "reportgen-AbCdEf12-py3.11"),
        sb.conda_base: (EnvKind.CONDA, "conda", "base"),
        sb.conda_env: (EnvKind.CONDA, "conda", "science"),
    }
    for path, want in expected.items():
        assert found.get(str(path)) == want, path
    assert by_path(inventory)[str(sb.conda_base)].base
    assert (sb.webapp.parent / "uv.lock").is_file()
    assert not inventory.problems


def test_nothing_of_this_machine_is_shown(sb: Sandbox, inventory: Inventory) -> None:
    def inside(path: str | None) -> bool:
        return path is not None and Path(path).is_relative_to(sb.root)

    # The hermetic context finds only the sandbox, except conda's system-wide roots
    # (/opt/conda, ...), which it cannot turn off; the demo's loader drops those.
    outside = [e.path for e in inventory.environments if not inside(e.path)]
    assert all(any(Path(p or "").is_relative_to(r) for r in SYSTEM_ROOTS) for p in outside)
    loaded = sandbox_loader(sb)(demo_context(sb), use_cache=False)
    assert loaded.environments and all(inside(e.path) for e in loaded.environments)
    ctx = demo_context(sb)
    assert ctx.kinds == frozenset({EnvKind.VENV, EnvKind.CONDA})
    assert ctx.cache_dir.is_relative_to(sb.root)
    for var in ("HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "UV_CACHE_DIR"):
        assert Path(ctx.environ[var]).is_relative_to(sb.root), var
    for var in ("VIRTUAL_ENV", "CONDA_PREFIX", "WORKON_HOME", "DOCKER_HOST", "PIP_FIND_LINKS"):
        assert var not in ctx.environ


def test_broken_env_is_broken(sb: Sandbox, inventory: Inventory) -> None:
    env = by_path(inventory)[str(sb.broken)]
    assert ProblemKind.BROKEN in [p.kind for p in env.problems]
    assert os.path.islink(sb.broken / "bin" / "python")
    assert not (sb.broken / "bin" / "python").exists()


def test_analysis_has_the_numpy_conflict(sb: Sandbox, inventory: Inventory) -> None:
    env = by_path(inventory)[str(sb.analysis)]
    conflicts = [p for p in check_environment(env) if p.kind == ProblemKind.CONFLICT]
    assert [(p.package, p.requirement) for p in conflicts] == [("plotkit", "numpy>=2")]
    assert versions(env)["numpy"] == "1.26.4"
    assert all("envtui --demo" in (p.summary or "") for p in env.packages)


def test_other_environments_are_healthy(sb: Sandbox, inventory: Inventory) -> None:
    envs = by_path(inventory)
    for path in (sb.webapp, sb.pipx_tool, sb.poetry, sb.stale, sb.conda_env):
        assert [p for p in check_environment(envs[str(path)]) if p.kind in UNHEALTHY] == [], path
    webapp = versions(envs[str(sb.webapp)])
    assert set(webapp) == {"webframe", "routekit", "templating", "safetext", "dbkit",
                           "textutils"}


def test_stale_env_was_last_used_long_ago(sb: Sandbox, inventory: Inventory) -> None:
    envs = by_path(inventory)

    def age_days(path: Path) -> float:
        used = envs[str(path)].last_used
        assert used is not None
        return (datetime.now(UTC) - datetime.fromisoformat(used)).total_seconds() / 86_400

    assert age_days(sb.stale) > 150
    assert age_days(sb.analysis) < 1


def test_duplicate_has_the_same_packages(sb: Sandbox, inventory: Inventory) -> None:
    envs = by_path(inventory)
    a, b = envs[str(sb.analysis)], envs[str(sb.duplicate)]
    assert {(p.key, p.version) for p in a.packages} == {(p.key, p.version) for p in b.packages}
    others = [e for e in inventory.environments if e.path not in (a.path, b.path)]
    assert all(versions(e) != versions(a) for e in others)


def test_conda_env_has_its_packages(sb: Sandbox, inventory: Inventory) -> None:
    env = by_path(inventory)[str(sb.conda_env)]
    conda = {p.key: p.version for p in env.packages if p.source == "conda"}
    assert conda == {"python": "3.11.9", "numpy": "2.1.0", "zlib": "1.3.1", "tzdata": "2024a"}
    pip = [(p.key, p.installer) for p in env.packages if p.source == "python"]
    assert pip == [("colorkit", "uv")]
    assert env.python == "3.11.9"
    assert (sb.conda_env / "conda-meta" / "history").read_text().startswith("==> ")


def test_fix_offers_plans_from_the_wheelhouse(sb: Sandbox) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "envtui", "fix", str(sb.analysis), "--find-links",
         str(sb.wheels), "--no-index", "--dry-run", "--json"],
        env=demo_environ(sb), capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL, cwd=sb.root)
    assert out.returncode == 1, out.stderr  # problems found, nothing applied
    result = json.loads(out.stdout)
    assert result["applied"] is False
    assert {"name": "numpy", "from": "1.26.4", "to": "2.1.0", "action": "upgrade"} in (
        result["plans"][0]["actions"])
    assert demo_sources(sb).installer_args() == ["--no-index", "--find-links", str(sb.wheels)]


def test_built_sandbox_is_reused(sb: Sandbox) -> None:
    cfg = (sb.analysis / "pyvenv.cfg").stat()
    said: list[str] = []
    start = time.monotonic()
    again = build_sandbox(sb.root, said.append)
    assert time.monotonic() - start < 1
    assert again == sb
    assert said == [f"reusing the demo sandbox in {sb.root}"]
    assert (sb.analysis / "pyvenv.cfg").stat().st_ino == cfg.st_ino


def test_a_directory_with_other_things_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    with pytest.raises(DemoBuildError, match="not empty and not an envtui demo sandbox"):
        build_sandbox(tmp_path)
    assert open_demo(tmp_path) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"envtui: demo: {tmp_path.resolve()}: not empty and not an envtui "
                   "demo sandbox"]
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_a_failed_build_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_: object) -> None:
        raise DemoBuildError("uv venv failed: no interpreter")

    monkeypatch.setattr("envtui.demo.sandbox._build_venvs", fail)
    with pytest.raises(DemoBuildError):
        build_sandbox(tmp_path / "new")
    assert not (tmp_path / "new").exists()
    build_sandbox_in = tmp_path / "empty"
    build_sandbox_in.mkdir()
    with pytest.raises(DemoBuildError):
        build_sandbox(build_sandbox_in)
    assert list(build_sandbox_in.iterdir()) == []


def test_temporary_sandbox_is_removed_even_on_ctrl_c(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Sandbox] = []

    def interrupted(sandbox: Sandbox) -> int:
        seen.append(sandbox)
        assert sandbox.built
        raise KeyboardInterrupt

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr("envtui.demo.run.run_app", interrupted)
    with pytest.raises(KeyboardInterrupt):
        open_demo(None)
    assert seen and seen[0].root.name.startswith("envtui-demo-")
    assert list(tmp_path.iterdir()) == []


def test_entering_the_sandbox_moves_the_process_environment(sb: Sandbox) -> None:
    environ = {"PATH": "/somewhere/bin", "VIRTUAL_ENV": "/mine", "PIP_INDEX_URL": "x",
               "HOME": "/home/someone"}
    enter_sandbox(sb, environ)
    assert "VIRTUAL_ENV" not in environ and "PIP_INDEX_URL" not in environ
    assert environ["PATH"] == "/somewhere/bin"
    assert environ["HOME"] == str(sb.home) and environ["UV_CACHE_DIR"] == str(sb.uv_cache)
    assert environ["PIP_CONFIG_FILE"] == os.devnull


@run_async
async def test_the_app_shows_the_sandbox(sb: Sandbox) -> None:
    app = EnvtuiApp(demo_context(sb), loader=sandbox_loader(sb), index_options=demo_sources(sb))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(InventoryTable)
        names = {env.name for row in table.ordered_rows
                 if (env := table.environment(row.key)) is not None}
    assert names == {"analysis", "analysis-copy", "old-experiment", "broken-env", "webapp",
                     "linttool", "reportgen-AbCdEf12-py3.11", "base", "science"}


def test_a_file_in_the_way_is_one_line(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "taken").write_text("a file\n")
    assert open_demo(tmp_path / "taken") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("envtui: demo: ") and "Traceback" not in err
