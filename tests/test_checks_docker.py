"""A Docker image with a NumPy conflict is reported, read statically: no container runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.docker_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    docker_client_fixture,
    docker_host_fixture,
    uv_target,
)


@pytest.mark.docker
def test_image_with_a_numpy_conflict(docker_client: Any, docker_host: str, wheelhouse: Path,
                                     tmp_path: Path, home: Path) -> None:
    ctx = tmp_path / "ctx"
    uv_target(wheelhouse, ctx / "site", tmp_path / "uv-cache", "--no-deps", "oldlib",
              "numpy==2.1.0")
    (ctx / "Dockerfile").write_text("FROM scratch\nCOPY site/ /usr/lib/python3.12/site-packages/\n")
    tag = f"envtui-test-conflict-{uuid.uuid4().hex[:8]}:1"
    image, _ = docker_client.images.build(path=str(ctx), tag=tag, rm=True, network_mode="none")
    try:
        before = docker_client.containers.list(all=True)
        proc = subprocess.run(
            [sys.executable, "-m", "envtui", "check", f"image:{tag}", "--json"],
            capture_output=True, text=True, timeout=300,
            env={**os.environ, "HOME": str(home), "DOCKER_HOST": docker_host})
        assert proc.returncode == 1, proc.stderr
        assert json.loads(proc.stdout) == [{
            "env": f"image:{tag}", "kind": "conflict",
            "detail": "oldlib 1.0 requires numpy<2, but numpy 2.1.0 is installed",
            "package": "oldlib", "version": "1.0", "requirement": "numpy<2"}]
        assert docker_client.containers.list(all=True) == before  # nothing was started
    finally:
        docker_client.images.remove(image.id, force=True)
