"""A realistic machine full of environments for the benchmarks, built once and cached.

Projects, versions and Requires-Dist come from the real PyPI snapshots of the resolver
corpus (tests/corpus/resolvelib-python/index/pypi-*.json): each project's newest release
whose dependencies parse, with markers evaluated for this Python and no extras. Every
chosen release becomes a real wheel (a package directory of a few modules, METADATA, WHEEL,
RECORD with hashes) in a local wheelhouse. The machine then holds:

- N venvs (`--envs`, default 40) made by uv, each filled by uv offline from the wheelhouse
  with 20 to 300 distributions (dependency closures of random root projects; the first
  environment is the largest, 300). Releases are pinned and installed with --no-deps, so
  where two newest releases disagree the environment has a real conflict, as machines do.
- a few conda environments made by py-rattler from a local channel (envtui.demo's), with
  pip-installed distributions in their site-packages;
- a few Docker images with a site-packages, when an engine answers (labelled, and reused
  while they exist).

Everything lives under benchmarks/.cache/machine-N-KEY (KEY hashes the corpus, this
module's FORMAT and N), so the second run builds nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import shutil
import sys
import tarfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from packaging.markers import UndefinedComparison, default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from benchmarks.corpus_wheels import CACHE, CORPUS
from envtui.demo import catalog
from envtui.demo.conda_packages import CondaEnv, CondaJob, finish_job, start_job
from envtui.demo.venvs import Uv
from envtui.demo.wheels import record_line

FORMAT = 1
"""Bumped whenever the machine built here changes, so cached machines are rebuilt."""
SMALLEST, LARGEST = 20, 300
CONDA_ENVS = 3
IMAGES = 3
IMAGE_LABEL = "envtui-bench"
PY = f"{sys.version_info.major}.{sys.version_info.minor}"
IMAGE_SITE = f"/usr/local/lib/python{PY}/site-packages"


@dataclass(frozen=True)
class Release:
    name: str
    version: str
    requires: tuple[str, ...]
    deps: tuple[str, ...]
    """Canonical names of the dependencies that apply here (markers evaluated)."""


@dataclass
class MachineFixture:
    root: Path
    venvs: list[Path]
    conda_envs: list[Path]
    images: list[str] = field(default_factory=list)
    """Image IDs built into `docker_host`'s engine (empty without an engine)."""
    docker_host: str | None = None
    sizes: dict[str, int] = field(default_factory=dict)
    """Distributions per venv, by path."""

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def largest(self) -> Path:
        return max(self.venvs, key=lambda v: self.sizes.get(str(v), 0))

    def env(self, docker: bool = True) -> dict[str, str]:
        """Process environment for running a tool as this machine's user."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("CONDA", "MAMBA", "PIP_", "UV_", "ENVTUI_", "PIPX_"))
               and k not in ("VIRTUAL_ENV", "PYTHONPATH", "WORKON_HOME", "DOCKER_HOST")}
        home = self.home
        env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"),
                   XDG_CONFIG_HOME=str(home / ".config"),
                   XDG_DATA_HOME=str(home / ".local" / "share"),
                   UV_CACHE_DIR=str(self.root / "uv-cache"), UV_OFFLINE="1",
                   UV_NO_CONFIG="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INDEX="1",
                   DOCKER_HOST=(self.docker_host if docker and self.docker_host
                                else f"unix://{self.root}/no-docker.sock"))
        return env


def load_releases(corpus: Path = CORPUS) -> dict[str, Release]:
    """Each project's newest usable release across the PyPI snapshots, by canonical name."""
    marker_env = dict(default_environment(), extra="")
    newest: dict[str, Release] = {}
    for index in sorted((corpus / "index").glob("pypi-*.json")):
        for raw_name, versions in json.loads(index.read_text()).items():
            if not isinstance(versions, dict):
                continue
            name = canonicalize_name(raw_name)
            best = _newest(name, versions, marker_env)
            old = newest.get(name)
            if best and (old is None or Version(best.version) > Version(old.version)):
                newest[name] = best
    return newest


def _newest(name: str, versions: Mapping[str, Any],
            marker_env: dict[str, str]) -> Release | None:
    for text in sorted(versions, key=_sort_key, reverse=True):
        if _sort_key(text) is _INVALID:
            break
        v = Version(text)
        if v.is_prerelease:
            continue
        entry = versions[text]
        try:
            reqs = [Requirement(d) for d in (entry or {}).get("dependencies", ())]
        except (InvalidRequirement, TypeError):
            continue
        live = [r for r in reqs if _applies(r, marker_env)]
        return Release(name, str(v), tuple(str(r) for r in live),
                       tuple(dict.fromkeys(canonicalize_name(r.name) for r in live)))
    return None


_INVALID = Version("0")


def _applies(req: Requirement, marker_env: dict[str, str]) -> bool:
    try:
        return req.marker is None or req.marker.evaluate(marker_env)
    except UndefinedComparison:  # e.g. `===` between names: old metadata, left out
        return False


def _sort_key(text: str) -> Version:
    try:
        return Version(text)
    except InvalidVersion:
        return _INVALID


def closures(releases: Mapping[str, Release]) -> dict[str, frozenset[str]]:
    """Every project whose dependency closure lies within `releases`, with that closure."""
    out: dict[str, frozenset[str] | None] = {}

    def visit(name: str, stack: set[str]) -> frozenset[str] | None:
        if name in out:
            return out[name]
        if name not in releases:
            return None
        if name in stack:  # a cycle: the names on it are gathered by the outer visit
            return frozenset({name})
        stack.add(name)
        found: set[str] = {name}
        for dep in releases[name].deps:
            sub = visit(dep, stack)
            if sub is None:
                out[name] = None
                stack.discard(name)
                return None
            found |= sub
        stack.discard(name)
        out[name] = frozenset(found)
        return out[name]

    for n in sorted(releases):
        visit(n, set())
    return {n: c for n, c in out.items() if c is not None}


def env_sizes(count: int, rng: random.Random) -> list[int]:
    """Target sizes: the first is the largest; the rest log-uniform, as small envs abound."""
    sizes = [LARGEST]
    for _ in range(count - 1):
        sizes.append(round(SMALLEST * (LARGEST / SMALLEST) ** rng.random()))
    return sizes[:count]


def pick(target: int, closure: Mapping[str, frozenset[str]], rng: random.Random) -> set[str]:
    """Root projects' closures until the environment holds about `target` projects."""
    roots = sorted(closure)
    rng.shuffle(roots)
    chosen: set[str] = set()
    for root in roots:
        if len(chosen) >= target:
            break
        if len(chosen | closure[root]) <= target:
            chosen |= closure[root]
    return chosen


def module_name(project: str) -> str:
    return project.replace("-", "_").replace(".", "_")


def write_wheel(dest: Path, rel: Release) -> Path:
    """A real wheel: a package of 1 to 8 modules sized like small real ones, and a dist-info."""
    dist = module_name(rel.name)
    info = f"{dist}-{rel.version}.dist-info"
    seed = int(hashlib.sha256(rel.name.encode()).hexdigest()[:8], 16)
    files: dict[str, bytes] = {f"{dist}/__init__.py": f"__version__ = {rel.version!r}\n".encode()}
    for i in range(seed % 8):
        body = "".join(f"def f{j}(x):\n    return x + {j}\n\n" for j in range(20 + seed % 200))
        files[f"{dist}/mod{i}.py"] = body.encode()
    meta = ["Metadata-Version: 2.1", f"Name: {rel.name}", f"Version: {rel.version}",
            f"Summary: {rel.name} (benchmark copy of the PyPI release's metadata)",
            "License: MIT", "Classifier: Programming Language :: Python :: 3"]
    meta += [f"Requires-Dist: {r}" for r in rel.requires]
    files[f"{info}/METADATA"] = ("\n".join(meta) + "\n\n" + "Long description.\n" * 40).encode()
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: envtui-benchmarks\n"
                              b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    files[f"{info}/top_level.txt"] = f"{dist}\n".encode()
    record = [record_line(p, data) for p, data in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = dest / f"{dist}-{rel.version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for p, data in files.items():
            zf.writestr(p, data)
    return path


def machine_key(envs: int, corpus: Path = CORPUS) -> str:
    h = hashlib.sha256(json.dumps([FORMAT, envs, PY]).encode())
    for index in sorted((corpus / "index").glob("pypi-*.json")):
        h.update(index.name.encode())
        h.update(str(index.stat().st_size).encode())
    return h.hexdigest()[:16]


def build_machine(envs: int = 40, *, cache: Path = CACHE, docker: bool = True,
                  progress: Callable[[str], None] = print) -> MachineFixture:
    """The cached machine of `envs` venvs, built first if needed; images are (re)built when
    an engine answers and they are missing."""
    folder = cache / f"machine-{envs}-{machine_key(envs)}"
    manifest = folder / "machine.json"
    if not manifest.is_file():  # never built, or a build was interrupted: start again
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        ignore = cache / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# Built by the benchmarks; safe to delete.\n*\n")
        _build(folder, envs, progress)
    data = json.loads(manifest.read_text())
    fixture = MachineFixture(folder, [folder / p for p in data["venvs"]],
                             [folder / p for p in data["conda"]], sizes={
                                 str(folder / p): n for p, n in data["sizes"].items()})
    if docker:
        _ensure_images(fixture, progress)
    return fixture


def _build(root: Path, envs: int, progress: Callable[[str], None]) -> None:
    """Build in place (environments record their own paths); the manifest comes last."""
    rng = random.Random(envs)
    releases = load_releases()
    closure = closures(releases)
    wheels = root / "wheels"
    wheels.mkdir(parents=True)
    plans: list[set[str]] = [pick(t, closure, rng) for t in env_sizes(envs, rng)]
    conda_plans = [pick(rng.randint(40, 120), closure, rng) for _ in range(CONDA_ENVS - 1)]
    used = sorted(set().union(*plans, *conda_plans))
    progress(f"writing {len(used)} wheels from the PyPI snapshots")
    for name in used:
        write_wheel(wheels, releases[name])
    scratch = root / "scratch"
    uv = Uv(wheels, root / "uv-cache", scratch)
    home = root / "home"
    venvs: list[str] = []
    sizes: dict[str, int] = {}
    for i, plan in enumerate(plans):
        rel = _venv_path(i)
        progress(f"venv {i + 1}/{envs}: {len(plan)} distributions")
        prefix = uv.venv(home / rel)
        uv.install(prefix, [f"{n}=={releases[n].version}" for n in sorted(plan)], deps=False)
        venvs.append(str(Path("home") / rel))
        sizes[str(Path("home") / rel)] = len(plan)
    conda = _build_conda(root, home, uv, conda_plans, releases, progress)
    shutil.rmtree(scratch, ignore_errors=True)
    (root / "machine.json").write_text(json.dumps(
        {"venvs": venvs, "conda": conda, "sizes": sizes}, indent=1))


def _venv_path(i: int) -> Path:
    """Where venv i lives: mostly project .venvs, some virtualenvwrapper and pipx ones."""
    if i % 10 == 7:
        return Path(".virtualenvs") / f"env{i:03d}"
    if i % 10 == 9:
        return Path(".local/share/pipx/venvs") / f"tool{i:03d}"
    return Path("projects") / f"proj{i:03d}" / ".venv"


def _build_conda(root: Path, home: Path, uv: Uv, plans: list[set[str]],
                 releases: Mapping[str, Release], progress: Callable[[str], None]) -> list[str]:
    progress(f"{CONDA_ENVS} conda environments (py-rattler)")
    base = home / "miniforge3"
    prefixes = [base] + [base / "envs" / f"science{i}" for i in range(1, CONDA_ENVS)]
    specs = [catalog.CONDA_BASE] + [catalog.CONDA_SCIENCE] * (CONDA_ENVS - 1)
    job = CondaJob(channel=root / "channel", packages=catalog.CONDA_PACKAGES, envs=tuple(
        CondaEnv(p, s, base / "pkgs") for p, s in zip(prefixes, specs, strict=True)))
    finish_job(start_job(job, root / "scratch" / "conda"))
    envs_txt = home / ".conda" / "environments.txt"
    envs_txt.parent.mkdir(parents=True, exist_ok=True)
    envs_txt.write_text("".join(f"{p}\n" for p in prefixes))
    for prefix, plan in zip(prefixes[1:], plans, strict=True):
        site = prefix / "lib" / f"python{PY}" / "site-packages"
        uv.install_target(site, [f"{n}=={releases[n].version}" for n in sorted(plan)])
    return [str(p.relative_to(root)) for p in prefixes]


def image_key(root: Path) -> str:
    """The label value of a machine's images: its folder's name and a hash of its path, so
    machines built in two cache folders (parallel test runs) never share images."""
    return f"{root.name}-{hashlib.sha256(str(root).encode()).hexdigest()[:8]}"


def _ensure_images(fixture: MachineFixture, progress: Callable[[str], None]) -> None:
    try:
        import docker
        client = docker.from_env(timeout=10)
        client.ping()
    except Exception:  # no engine: the machine has no images, as many don't
        return
    key = image_key(fixture.root)
    found = client.images.list(filters={"label": f"{IMAGE_LABEL}={key}"})
    if len(found) < IMAGES:
        progress(f"{IMAGES} Docker images with a site-packages")
        found = [_build_image(client, fixture, key, i) for i in range(IMAGES)]
    fixture.images = sorted(str(img.id) for img in found)
    fixture.docker_host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def remove_other_machines_images(fixture: MachineFixture) -> list[str]:
    """Remove the images other benchmark machines left on this machine's engine, so that
    envtui, which reads every image of the engine, meets exactly this machine's three (the
    others are built again when their machine is next used). Returns their tags."""
    if fixture.docker_host is None:
        return []
    import docker

    client = docker.DockerClient(base_url=fixture.docker_host, timeout=60)
    key = image_key(fixture.root)
    removed = []
    for image in client.images.list(filters={"label": IMAGE_LABEL}):
        if image.labels.get(IMAGE_LABEL) != key:
            client.images.remove(image.id, force=True)
            removed += image.tags
    return removed


def _build_image(client: Any, fixture: MachineFixture, key: str, i: int) -> Any:
    """FROM scratch with one venv's site-packages copied to the interpreter's usual place."""
    source = sorted(fixture.venvs)[(i + 1) % len(fixture.venvs)]
    site = next((source / "lib").glob("python*/site-packages"))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        docker_file = f"FROM scratch\nCOPY site/ {IMAGE_SITE}/\n".encode()
        entry = tarfile.TarInfo("Dockerfile")
        entry.size = len(docker_file)
        tf.addfile(entry, io.BytesIO(docker_file))
        tf.add(site, arcname="site")
    buf.seek(0)
    image, _ = client.images.build(fileobj=buf, custom_context=True, rm=True,
                                   tag=f"envtui-bench/img{i}:{key}", network_mode="none",
                                   labels={IMAGE_LABEL: key})
    return image


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description="build (or find) the benchmark machine")
    ap.add_argument("--envs", type=int, default=40)
    args = ap.parse_args()
    m = build_machine(args.envs)
    print(json.dumps({"root": str(m.root), "venvs": len(m.venvs), "conda": len(m.conda_envs),
                      "images": len(m.images), "largest": m.sizes[str(m.largest)]}))


if __name__ == "__main__":
    main()
