"""Shared fixtures: an isolated HOME and a directory of real wheels built by the tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.envstate import Hang
from tests.wheels import build_wheel

# Variables that would leak the developer's own environments into a test scan.
_LEAKY = ("CONDA_PREFIX", "VIRTUAL_ENV", "WORKON_HOME", "CONDA_ENVS_PATH", "CONDARC",
          "CONDA_EXE", "CONDA_ROOT", "MAMBA_ROOT_PREFIX", "CONDA_ENVS_DIRS", "PIPX_HOME",
          "UV_TOOL_DIR", "POETRY_VIRTUALENVS_PATH",
          "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "UV_INDEX_URL")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh, empty HOME with XDG directories inside it and no leaking variables."""
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("HOME", str(h))
    monkeypatch.setenv("XDG_CACHE_HOME", str(h / ".cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(h / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(h / ".local" / "share"))
    for var in _LEAKY:
        monkeypatch.delenv(var, raising=False)
    yield h


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real wheels for a small dependency graph, shared by the whole session."""
    d = tmp_path_factory.mktemp("wheelhouse")
    build_wheel(d, "numpy", "1.26.4", requires_python=">=3.9", summary="Arrays")
    build_wheel(d, "numpy", "2.1.0", requires_python=">=3.10", summary="Arrays")
    build_wheel(d, "oldlib", "1.0", requires=["numpy<2"])
    build_wheel(d, "newlib", "2.0", requires=["numpy>=2", "tinydep; extra == 'fast'"])
    build_wheel(d, "tinydep", "0.3")
    build_wheel(d, "Hello_World", "0.1.0", requires=["tinydep>=0.1"])
    return d


def offline_env() -> dict[str, str]:
    """This process's environment with the installers told to stay offline."""
    env = dict(os.environ)
    env.update({"PIP_NO_INDEX": "1", "UV_OFFLINE": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    return env


@pytest.fixture
def hang(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hang]:
    """A loopback find-links server that never answers, reached without any proxy."""
    for var in ("UV_OFFLINE", "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    h = Hang()
    yield h
    h.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI=true nothing may be skipped: a skip there hides a test that did not run."""
    if os.environ.get("CI") != "true" or exitstatus != 0:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped:
        reporter.ensure_newline()
        reporter.write_line(f"CI=true: {len(skipped)} test(s) skipped, and under CI none may be",
                            red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
