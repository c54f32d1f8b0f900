"""The helper process that reads part of a cold scan's environments on another core.

Real venvs with real wheels installed by uv; the scans are the real `discovery.scan`. To see
who read what, the scanning process's own `VenvInspector.read` is wrapped (and slowed, so the
helper has time to start on a busy machine); the helper process runs the real code.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from envtui.inspectors import read_helper
from envtui.inspectors.base import Location, ScanContext
from envtui.inspectors.discovery import scan
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
    real: Callable[[VenvInspector, Location], Environment] = VenvInspector.read

    def read(self: VenvInspector, loc: Location) -> Environment:
        seen.append(loc.ref)
        time.sleep(delay)
        return real(self, loc)

    monkeypatch.setattr(VenvInspector, "read", read)
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


def test_the_helper_stops_between_environments_when_told(home: Path, many: Path) -> None:
    share = [Location(EnvKind.VENV, str(p)) for p in sorted(many.iterdir())] * 20
    helper = read_helper.Helper.start(share, home / ".cache" / "envtui", refresh=True,
                                      sizes=True)
    assert helper is not None
    deadline = time.monotonic() + 60
    while not helper.has_read(0) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert helper.has_read(0)
    helper.close()
    assert helper.proc.wait(timeout=30) == 0  # it stopped on its own, not killed
    assert not helper.has_read(len(share) - 1)
    leftovers = list((home / ".cache" / "envtui").rglob(".tmp-*"))
    assert leftovers == []  # never stopped half-way through a cache write
