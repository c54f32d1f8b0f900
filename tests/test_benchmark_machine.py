"""The machine benchmark harness runs end to end (smoke mode); nothing here is about speed."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks.machine import (
    IMAGE_LABEL,
    LARGEST,
    SMALLEST,
    build_machine,
    closures,
    image_key,
    load_releases,
    machine_key,
)
from tests.envfactory import site_packages

ROOT = Path(__file__).resolve().parent.parent
GROUPS = {"check", "pip", "list", "tree", "tui"}


def _remove_bench_images(key: str) -> None:
    if not os.environ.get("DOCKER_HOST"):
        return
    import docker

    client = docker.from_env(timeout=30)
    try:
        for image in client.images.list(filters={"label": IMAGE_LABEL}):
            if image.labels.get(IMAGE_LABEL) == key:
                client.images.remove(image.id, force=True)
    finally:
        client.close()


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    cache = tmp_path_factory.mktemp("bench-cache")
    env = dict(os.environ, ENVTUI_BENCH_CACHE=str(cache), UV_OFFLINE="1", PIP_NO_INDEX="1")
    try:
        proc = subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke", "--json"],
            cwd=cache, env=env, capture_output=True, text=True, timeout=600)
    finally:
        _remove_bench_images(image_key(cache / f"machine-3-{machine_key(3)}"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    result: dict[str, Any] = json.loads(proc.stdout)
    result["cache"] = str(cache)
    return result


def test_smoke_times_every_tool_and_reports_every_target(smoke: dict[str, Any]) -> None:
    assert smoke["envs"] == 3
    assert set(smoke["results"]) == GROUPS
    for group, contenders in smoke["results"].items():
        assert len(contenders) >= 2, group  # envtui and at least one peer, side by side
        for c in contenders:
            assert c["failures"] == [], (group, c["label"])
            assert len(c["times"]) == 1 and c["median"] > 0, (group, c["label"])
            assert c["peak_mb"] > 1, (group, c["label"])
    tui = next(c for c in smoke["results"]["tui"] if c["label"].startswith("TUI"))
    assert 0 < tui["median_first_paint"] <= tui["median_inventory"]
    assert tui["median_rows"] >= 3 + 3  # the venvs and the conda environments
    targets = smoke["targets"]
    assert len(targets) == 8
    assert all(isinstance(t["measured"], float) and not math.isnan(t["measured"])
               for t in targets)


def test_machine_is_real_environments_from_the_corpus(smoke: dict[str, Any]) -> None:
    machine = build_machine(3, cache=Path(smoke["cache"]), docker=False,
                            progress=lambda _: None)  # cached: built by the smoke run
    releases = load_releases()
    assert machine.sizes[str(machine.largest)] == LARGEST
    for venv in machine.venvs:
        infos = sorted(site_packages(venv).glob("*.dist-info"))
        assert len(infos) == machine.sizes[str(venv)]
        assert SMALLEST <= len(infos) <= LARGEST
        for info in infos[:20]:
            meta = (info / "METADATA").read_text()
            fields = dict(line.split(": ", 1) for line in meta.split("\n\n")[0].splitlines()
                          if not line.startswith("Requires-Dist"))
            release = releases[fields["Name"]]
            assert fields["Version"] == release.version
            requires = [ln.split(": ", 1)[1] for ln in meta.splitlines()
                        if ln.startswith("Requires-Dist: ")]
            assert requires == list(release.requires)
            assert (info / "INSTALLER").read_text().strip() == "uv"
    assert len(machine.conda_envs) == 3
    assert all((p / "conda-meta" / "history").is_file() for p in machine.conda_envs)


def test_closures_hold_only_projects_the_snapshots_have() -> None:
    releases = load_releases()
    found = closures(releases)
    assert len(found) > 300  # enough roots for environments of 300 distributions
    for name, closure in list(found.items())[:200]:
        assert name in closure
        for member in closure:
            assert set(releases[member].deps) <= closure
