"""The persistent cache (served, invalidated) and the config file, via the real command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from envtui.inspectors.cache import Cache
from tests.envfactory import make_venv, site_packages, uv_install


def _run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "envtui", *args], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


def _show(home: Path, env: Path) -> dict[str, object]:
    proc = _run(home, "show", str(env), "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def test_second_read_is_served_from_cache_until_an_install(home: Path, wheelhouse: Path) -> None:
    env = make_venv(home / "proj" / ".venv", "uv")
    uv_install(env, wheelhouse, "tinydep")
    first = _show(home, env)
    assert [p["version"] for p in first["packages"]] == ["0.3"]  # type: ignore[index]

    # Rewrite METADATA in place: no directory mtime moves, so the cache still answers.
    meta = site_packages(env) / "tinydep-0.3.dist-info" / "METADATA"
    meta.write_text(meta.read_text().replace("Version: 0.3", "Version: 9.9"))
    assert [p["version"] for p in _show(home, env)["packages"]] == ["0.3"]  # type: ignore[index]
    cached = list((home / ".cache" / "envtui").rglob("*.json"))
    assert len(cached) == 1

    # An install or uninstall changes site-packages; the next read sees the truth.
    uv_install(env, wheelhouse, "numpy==1.26.4")
    versions = {p["name"]: p["version"] for p in _show(home, env)["packages"]}  # type: ignore[attr-defined]
    assert versions == {"numpy": "1.26.4", "tinydep": "9.9"}


def test_cache_survives_garbage(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    cache.store("env", "k", {"a": 1})
    assert cache.load("env", "k") == {"a": 1}
    path = next(tmp_path.rglob("*.json"))
    path.write_bytes(b"\x00not json")
    assert cache.load("env", "k") is None
    assert cache.load("env", "other") is None


def test_config_roots_and_exclude(home: Path) -> None:
    make_venv(home / "elsewhere" / "found-by-config", "venv")
    make_venv(home / "work" / "skipped", "venv")
    cfg = home / ".config" / "envtui" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(f'roots = ["{home / "elsewhere"}"]\nexclude = ["~/work"]\n'
                   "walk_home = false\n")
    proc = _run(home, "list", "--kind", "venv", "--json")
    assert proc.returncode == 0, proc.stderr
    assert [e["name"] for e in json.loads(proc.stdout)] == ["found-by-config"]

    cfg.write_text("walk_home = false\n")
    proc = _run(home, "list", "--kind", "venv", "--json", "--root", str(home / "work"))
    assert [e["name"] for e in json.loads(proc.stdout)] == ["skipped"]


@pytest.mark.parametrize(("text", "message"), [
    ("roots = [", "invalid TOML"),
    ("roots = 3", "'roots' must be a list of paths"),
    ("max_depth = -1", "'max_depth' must be a whole number from 0 to 50"),
    ("colour = 'red'", "unknown setting(s): colour"),
])
def test_bad_config_is_one_line_and_exit_2(home: Path, text: str, message: str) -> None:
    cfg = home / ".config" / "envtui" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(text + "\n")
    proc = _run(home, "list")
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"envtui: error: {cfg}: {message}")
    assert len(proc.stderr.splitlines()) == 1


def test_metadata_file_changes_invalidate_and_refresh_updates(home: Path,
                                                              wheelhouse: Path) -> None:
    env = make_venv(home / "proj" / ".venv", "uv")
    uv_install(env, wheelhouse, "tinydep")
    assert _show(home, env)["problems"] == []
    # Deleting RECORD touches only the dist-info directory: the cache must notice.
    (site_packages(env) / "tinydep-0.3.dist-info" / "RECORD").unlink()
    assert _show(home, env)["problems"] == [
        "tinydep-0.3.dist-info: RECORD missing (incomplete install)"]

    # --refresh re-reads what the fingerprint cannot see, and updates the cache with it.
    meta = site_packages(env) / "tinydep-0.3.dist-info" / "METADATA"
    meta.write_text(meta.read_text().replace("Version: 0.3", "Version: 0.4"))
    assert [p["version"] for p in _show(home, env)["packages"]] == ["0.3"]  # type: ignore[index]
    proc = _run(home, "show", str(env), "--json", "--refresh")
    assert [p["version"] for p in json.loads(proc.stdout)["packages"]] == ["0.4"]
    assert [p["version"] for p in _show(home, env)["packages"]] == ["0.4"]  # type: ignore[index]


def test_config_that_is_not_utf8(home: Path) -> None:
    cfg = home / ".config" / "envtui" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_bytes(b'roots = ["caf\xe9"]\n')
    proc = _run(home, "list")
    assert (proc.returncode, proc.stderr) == (2, f"envtui: error: {cfg}: not valid UTF-8\n")


def test_last_used_is_the_newest_evidence(home: Path, wheelhouse: Path) -> None:
    import os
    from datetime import UTC, datetime

    def iso(ts: int) -> str:
        return datetime.fromtimestamp(ts, UTC).isoformat()

    env = make_venv(home / "proj" / ".venv", "uv")
    old, newer, newest = 1_600_000_000, 1_700_000_000, 1_750_000_000
    for p in [env, *env.rglob("*")]:
        os.utime(p, (old, old), follow_symlinks=False)
    assert _show(home, env)["last_used"] == iso(old) == "2020-09-13T12:26:40+00:00"
    # A rewritten activation script, then an install (site-packages changes): each counts.
    os.utime(env / "bin" / "activate", (newer, newer))
    assert _show(home, env)["last_used"] == iso(newer)
    os.utime(site_packages(env), (newest, newest))
    assert _show(home, env)["last_used"] == iso(newest)


def test_direct_url_from_a_real_pip_install(home: Path, wheelhouse: Path) -> None:
    from tests.envfactory import pip_install

    env = make_venv(home / "proj" / ".venv", "venv")
    wheel = wheelhouse / "tinydep-0.3-py3-none-any.whl"
    pip_install(env, wheelhouse, str(wheel))
    (pkg,) = _show(home, env)["packages"]  # type: ignore[misc]
    assert (pkg["name"], pkg["installer"], pkg["editable"]) == ("tinydep", "pip", False)
    assert pkg["direct_url"] == wheel.as_uri()
