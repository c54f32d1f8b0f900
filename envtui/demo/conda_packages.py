"""Tiny conda packages, a local channel of them, and conda environments made from it.

Packages are real `.tar.bz2` conda packages (info/index.json, info/paths.json, the files);
the channel is indexed by `rattler.index.index_fs`; environments are solved by
`rattler.solve` and linked by `rattler.install`, as pixi does it. No conda binary, no network.

Rattler work runs in a child process (`python -m envtui.demo.conda_packages JOB.json`) that
leaves with os._exit: py-rattler's runtime threads can abort the interpreter at shutdown
("PyGILState_Release ... finalizing"), which must never take the caller down with it.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TIMESTAMP = 1_700_000_000
"""Build time stamped into every package, so a channel is reproducible."""


@dataclass(frozen=True)
class CondaPackage:
    name: str
    version: str
    build: str
    depends: tuple[str, ...] = ()
    files: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CondaEnv:
    prefix: Path
    specs: tuple[str, ...]
    cache: Path
    """rattler's package cache (a conda root's `pkgs/` for conda's own layout)."""


@dataclass(frozen=True)
class CondaJob:
    """Everything the child process builds: the channel's packages, then the environments."""

    channel: Path
    packages: tuple[CondaPackage, ...]
    envs: tuple[CondaEnv, ...]

    def to_json(self) -> str:
        return json.dumps({
            "channel": str(self.channel),
            "packages": [[p.name, p.version, p.build, list(p.depends), dict(p.files)]
                         for p in self.packages],
            "envs": [[str(e.prefix), list(e.specs), str(e.cache)] for e in self.envs],
        })

    @classmethod
    def from_json(cls, text: str) -> CondaJob:
        data = json.loads(text)
        return cls(
            channel=Path(data["channel"]),
            packages=tuple(CondaPackage(n, v, b, tuple(d), f)
                           for n, v, b, d, f in data["packages"]),
            envs=tuple(CondaEnv(Path(p), tuple(s), Path(c)) for p, s, c in data["envs"]),
        )


def build_package(subdir: Path, name: str, version: str, build: str,
                  depends: Sequence[str], files: Mapping[str, str]) -> Path:
    """Write one `.tar.bz2` conda package of noarch "generic" kind (files land as they are)."""
    index = {"name": name, "version": version, "build": build, "build_number": 0,
             "depends": list(depends), "noarch": "generic", "subdir": "noarch",
             "license": "MIT", "timestamp": TIMESTAMP * 1000}
    paths = {"paths_version": 1, "paths": [
        {"_path": p, "path_type": "hardlink", "size_in_bytes": len(c.encode()),
         "sha256": hashlib.sha256(c.encode()).hexdigest()}
        for p, c in files.items()
    ]}
    members = {**files, "info/index.json": json.dumps(index, indent=2),
               "info/paths.json": json.dumps(paths, indent=2),
               "info/files": "".join(f"{p}\n" for p in files)}
    subdir.mkdir(parents=True, exist_ok=True)
    out = subdir / f"{name}-{version}-{build}.tar.bz2"
    with tarfile.open(out, "w:bz2") as tf:
        for path, content in members.items():
            data = content.encode()
            info = tarfile.TarInfo(path)
            info.size, info.mtime = len(data), TIMESTAMP
            info.mode = 0o755 if path.startswith(("bin/", "condabin/")) else 0o644
            tf.addfile(info, io.BytesIO(data))
    return out


def history_entry(when: str, cmd: str, specs: str, action: str = "update") -> str:
    """One conda-meta/history entry in the shape conda writes (rattler leaves it empty)."""
    return (f"==> {when} <==\n# cmd: {cmd}\n# conda version: 24.1.2\n"
            f"# {action} specs: {specs}\n")


def index_channel(channel: Path) -> None:
    """Write the channel's repodata. Call only in a child process (see the docstring)."""
    from rattler.index import index_fs

    asyncio.run(index_fs(channel, write_zst=False, write_shards=False))


async def create_env(channel: Path, prefix: Path, specs: Sequence[str], cache: Path) -> None:
    """Solve `specs` against the local channel and link them into `prefix` (child only)."""
    from rattler import Channel, Gateway, MatchSpec, install, solve

    gateway = Gateway(cache_dir=cache / "repodata")
    records = await solve([Channel(channel.as_uri())], list(specs), gateway=gateway,
                          platforms=["noarch"])
    # install() is typed as taking MatchSpec but its binding wants the wrapped object.
    requested = [MatchSpec(s)._match_spec for s in specs]
    await install(records, prefix, cache_dir=cache, show_progress=False,
                  requested_specs=requested)


def run_job(job: CondaJob) -> None:
    """Build the channel and every environment in this process (the child's work)."""
    for p in job.packages:
        build_package(job.channel / "noarch", p.name, p.version, p.build, p.depends, p.files)
    index_channel(job.channel)

    async def create_all() -> None:
        for e in job.envs:
            await create_env(job.channel, e.prefix, e.specs, e.cache)

    asyncio.run(create_all())


class CondaBuildError(Exception):
    """The child process failed; the message is one line."""


def start_job(job: CondaJob, scratch: Path) -> subprocess.Popen[str]:
    """Start the child that runs `job`; `scratch` is its HOME (rattler must not touch the
    user's) and holds the job file. Finish it with `finish_job`."""
    scratch.mkdir(parents=True, exist_ok=True)
    job_file = scratch / "conda-job.json"
    job_file.write_text(job.to_json(), encoding="utf-8")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CONDA", "MAMBA", "PIXI", "RATTLER"))}
    source_root = str(Path(__file__).resolve().parents[2])  # where `envtui` is importable
    env.update(HOME=str(scratch), XDG_CACHE_HOME=str(scratch / ".cache"),
               XDG_CONFIG_HOME=str(scratch / ".config"),
               PYTHONPATH=os.pathsep.join(p for p in (source_root, env.get("PYTHONPATH"))
                                          if p))
    return subprocess.Popen(
        [sys.executable, "-P", "-m", "envtui.demo.conda_packages", str(job_file)], env=env,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def finish_job(child: subprocess.Popen[str], timeout: float = 300) -> None:
    """Wait for the child; raise CondaBuildError with its last error line if it failed."""
    try:
        _, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise CondaBuildError(
            f"building the conda environments took over {timeout:.0f} s") from None
    if child.returncode != 0:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        why = lines[-1] if lines else f"exit status {child.returncode}"
        raise CondaBuildError(f"building the conda environments failed: {why}")


def _main(argv: list[str]) -> None:
    status = 0
    try:
        run_job(CondaJob.from_json(Path(argv[1]).read_text(encoding="utf-8")))
    except Exception as e:  # reported on one line; the parent turns it into its message
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        status = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)  # skip interpreter finalisation: see the module docstring


if __name__ == "__main__":
    _main(sys.argv)
