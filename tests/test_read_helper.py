"""The helper process that reads part of a cold scan's environments on another core.

Real venvs with real wheels installed by uv; the scans are the real `discovery.scan`. To see
who read what, the scanning process's own `VenvInspector._read` is wrapped (and slowed, so the
helper has time to start on a busy machine); the helper process runs the real code.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from envtui.inspectors import read_helper
from envtui.inspectors.base import Location, ScanContext
from envtui.inspectors.discovery import scan
from envtui.inspectors.summaries import summaries
from envtui.inspectors.venv import VenvInspector
from envtui.model import Environment, EnvKind, environment_to_dict
from tests.envfactory import make_venv, uv_bin

ENVS = 12

pytestmark = pytest.mark.skipif(read_helper.cores() < 2, reason="a helper needs two cores")


@pytest.fixture
def many(home: Path, wheelhouse: Path) -> Path:
    root = home / ".virtualenvs"
    for i in range(ENVS):
        env = make_venv(root / f"env{i:02d}", "uv")
        subprocess.run([uv_bin(), "pip", "install", "--quiet", "--offline", "--no-index",
                        "--find-links", str(wheelhouse), "--python", str(env / "bin" / "python"),
                        "hello-world", "tinydep"], check=True, capture_output=True)
    return root


def _ctx(home: Path) -> ScanContext:
    return ScanContext(home=home, environ={"HOME": str(home),
                                           "XDG_CACHE_HOME": str(home / ".cache"),
                                           "DOCKER_HOST": f"unix://{home}/no-engine.sock"},
                       kinds=frozenset({EnvKind.VENV}))


def _count_reads(monkeypatch: pytest.MonkeyPatch, delay: float) -> list[str]:
    """This process's venv reads from now on, each `delay` seconds slower."""
    seen: list[str] = []
    real: Callable[..., Environment] = VenvInspector._read

    def read(self: VenvInspector, loc: Location, *, sizes: bool) -> Environment:
        seen.append(loc.ref)
        time.sleep(delay)
        return real(self, loc, sizes=sizes)

    monkeypatch.setattr(VenvInspector, "_read", read)  # with and without the size walk
    return seen


def _as_dicts(envs: tuple[Environment, ...]) -> list[dict[str, object]]:
    return sorted((environment_to_dict(e) for e in envs), key=lambda d: str(d["path"]))


def test_a_cold_scan_shares_its_reading_with_a_helper(
        home: Path, many: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uncached = scan(_ctx(home), use_cache=False)
    seen = _count_reads(monkeypatch, delay=0.3)
    cold = scan(_ctx(home))
    assert _as_dicts(cold.environments) == _as_dicts(uncached.environments)
    assert len(cold.environments) == ENVS
    # The helper read some from the far end; this (slowed) process read the rest itself.
    assert 1 <= len(seen) < ENVS, seen
    assert len(set(seen)) == len(seen)
    seen.clear()
    assert _as_dicts(scan(_ctx(home)).environments) == _as_dicts(uncached.environments)
    assert seen == []  # warm: everything from the cache, the helper's entries too


def test_a_helper_that_dies_costs_nothing_but_time(
        home: Path, many: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uncached = scan(_ctx(home), use_cache=False)
    real_start = read_helper.Helper.start

    def start_and_kill(*args: object, **kwargs: object) -> read_helper.Helper | None:
        helper = real_start(*args, **kwargs)  # type: ignore[arg-type]
        assert helper is not None
        helper.proc.kill()
        return helper

    monkeypatch.setattr(read_helper.Helper, "start", start_and_kill)
    seen = _count_reads(monkeypatch, delay=0)
    cold = scan(_ctx(home))
    assert _as_dicts(cold.environments) == _as_dicts(uncached.environments)
    assert sorted(seen) == sorted(str(p) for p in many.iterdir())  # all read here


def test_the_helper_stops_between_environments_when_told(
        home: Path, many: Path, tmp_path: Path) -> None:
    # The same environments under many names, so that it is still reading when told.
    share = []
    for i in range(20):
        for env in sorted(many.iterdir()):
            (alias := tmp_path / f"{env.name}-{i}").symlink_to(env)
            share.append(Location(EnvKind.VENV, str(alias)))
    helper = read_helper.Helper.start(share, _ctx(home), refresh=True, sizes=True)
    assert helper is not None
    deadline = time.monotonic() + 60
    while not helper.has_read(share[0]) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert helper.has_read(share[0])
    helper.close()
    assert helper.proc.wait(timeout=30) == 0  # it stopped on its own, not killed
    assert not helper.has_read(share[-1])
    leftovers = list((home / ".cache" / "envtui").rglob(".tmp-*"))
    assert leftovers == []  # never stopped half-way through a cache write


def test_the_helper_never_imports_from_the_current_directory(
        home: Path, many: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `python -m envtui...` would import an `envtui/` in the directory envtui runs in.
    here, ran = tmp_path / "checkout", tmp_path / "ran"
    package = here / "envtui" / "inspectors"
    package.mkdir(parents=True)
    for init in (here / "envtui" / "__init__.py", package / "__init__.py"):
        init.write_text("")
    (package / "read_helper.py").write_text(f"open({str(ran)!r}, 'w').close()\n")
    monkeypatch.chdir(here)
    share = [Location(EnvKind.VENV, str(p)) for p in sorted(many.iterdir())]
    helper = read_helper.Helper.start(share, _ctx(home), refresh=True, sizes=False)
    assert helper is not None
    deadline = time.monotonic() + 60
    while not helper.has_read(share[-1]) and time.monotonic() < deadline:
        time.sleep(0.01)
    helper.close()
    assert all(helper.has_read(loc) for loc in share)  # envtui's own helper read them all
    assert not ran.exists()


def test_the_app_s_early_helper_finds_and_reads_for_its_first_scan(
        home: Path, many: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uncached = scan(_ctx(home), use_cache=False)
    read_helper.prestart(_ctx(home))  # as the app does, before it imports Textual
    assert len(read_helper._spares) == 1
    early = read_helper._spares[0]
    # Slowed from the start: the early helper walks and reads while this process waits.
    seen = _count_reads(monkeypatch, delay=0.3)
    cold = scan(_ctx(home))
    assert _as_dicts(cold.environments) == _as_dicts(uncached.environments)
    assert read_helper._spares == []  # the scan took it
    assert 1 <= len(seen) < ENVS, seen
    # What this process did not read, the early helper had found and read itself.
    assert all(early.has_read(Location(EnvKind.VENV, str(p)))
               for p in many.iterdir() if str(p) not in seen)
    assert early.proc.wait(timeout=30) == 0


def test_an_early_helper_for_other_terms_is_not_used(
        home: Path, many: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = _ctx(home)
    other.max_depth = 2  # another walk: it would find other environments
    read_helper.prestart(other)
    early = read_helper._spares[0]
    seen = _count_reads(monkeypatch, delay=0.3)
    cold = scan(_ctx(home))
    assert len(cold.environments) == ENVS
    assert early.proc.wait(timeout=30) == 0  # told to stop, unused
    assert 1 <= len(seen) < ENVS, seen  # a helper for these terms shared the reading


def test_the_helper_summarises_for_list_and_check(
        home: Path, many: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = [many / "env00", many / f"env{ENVS - 1:02d}"]  # one at each end of the list
    for env in broken:
        subprocess.run([uv_bin(), "pip", "uninstall", "--python", str(env / "bin" / "python"),
                        "tinydep"], check=True, capture_output=True)
    ctx = _ctx(home)
    monkeypatch.setattr(read_helper, "MIN_SHARE", 10**6)  # no helper: this process alone
    alone = summaries(ctx, check=True)
    monkeypatch.undo()
    shutil.rmtree(ctx.cache_dir)
    seen = _count_reads(monkeypatch, delay=0.3)
    shared = summaries(ctx, check=True)
    assert 1 <= len(seen) < ENVS, seen
    assert [s.to_json() for s in shared.summaries] == [s.to_json() for s in alone.summaries]
    # hello-world's requirement of tinydep, checked here and in the helper alike.
    assert [s.ref for s in shared.summaries if s.check] == [str(env) for env in broken]
    assert str(broken[-1]) not in seen  # the helper's own summary, from the far end
    seen.clear()
    assert [s.to_json() for s in summaries(ctx, check=True).summaries] == [
        s.to_json() for s in alone.summaries]
    assert seen == []  # the helper's summaries were stored: warm reads nothing
