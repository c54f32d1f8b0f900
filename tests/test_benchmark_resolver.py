"""The resolver benchmark harness runs end to end (offline); nothing here is about speed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from benchmarks.corpus_wheels import reachable, wheelhouse

ROOT = Path(__file__).resolve().parent.parent


def test_smoke_mode_times_every_tool(tmp_path: Path) -> None:
    env = dict(os.environ, ENVTUI_BENCH_CACHE=str(tmp_path / "cache"), UV_OFFLINE="1",
               PIP_NO_INDEX="1")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "resolver.py"), "--smoke", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert len(result["rows"]) == 1
    row = result["rows"][0]
    assert set(row["tools"]) == {"envtui", "pip", "uv"}
    for tool, timing in row["tools"].items():
        assert isinstance(timing["median"], float), tool
        assert timing["median"] > 0, tool
        assert len(timing["times"]) == 1, tool
        assert timing["status"], tool


def test_wheelhouse_holds_reachable_metadata_only_wheels(tmp_path: Path) -> None:
    folder = wheelhouse("same-package", ["package_a[x] >=1.0"], cache=tmp_path)
    names = sorted(p.name for p in folder.iterdir())
    assert "package_a-1.2.0-py3-none-any.whl" in names
    assert all(n.endswith("-py3-none-any.whl") for n in names)
    with zipfile.ZipFile(folder / "package_a-1.2.0-py3-none-any.whl") as zf:
        assert sorted(zf.namelist()) == [
            "package_a-1.2.0.dist-info/METADATA", "package_a-1.2.0.dist-info/RECORD",
            "package_a-1.2.0.dist-info/WHEEL"]
        meta = zf.read("package_a-1.2.0.dist-info/METADATA").decode()
    assert "Provides-Extra: x" in meta
    assert 'Requires-Dist: package-x==1.2.0; extra == "x"' in meta
    # Cached: a second call returns the same folder without rebuilding it.
    assert wheelhouse("same-package", ["package_a[x] >=1.0"], cache=tmp_path) == folder


def test_reachable_skips_bad_versions_and_unparsable_dependencies() -> None:
    index: dict[str, dict[str, Any]] = {
        "a": {"1.0": {"dependencies": ["b>=1"]}, "not a version": {"dependencies": []},
              "2.0": {"dependencies": ["c ((("]}},
        "b": {"1.0": {"dependencies": []}},
        "c": {"1.0": {"dependencies": []}},
        "unrelated": {"1.0": {"dependencies": []}},
    }
    found = reachable(index, ["a"])
    assert sorted(found) == ["a", "b"]
    assert [r.version for r in found["a"]] == ["1.0"]
