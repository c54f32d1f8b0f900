"""Find-links directories of metadata-only wheels built from the resolver test corpus.

Each corpus index (tests/corpus/resolvelib-python/index/NAME.json) becomes a folder of
`name-version-py3-none-any.whl` files holding only a dist-info (METADATA with the
Requires-Dist and Provides-Extra lines, WHEEL, RECORD), so that envtui, pip and uv can all
resolve the same case from the same local directory. Only projects reachable from a case's
requested names are written (every dependency name of every version is followed, whatever
its marker or extra). Versions that are not valid PEP 440, or whose dependencies do not
parse as PEP 508, are left out.

The folders are cached under `benchmarks/.cache/` (ignored by git through a `.gitignore`
written inside it), keyed by a hash of the index file, the requested names and this
module's format version, so only the first run pays for building them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "corpus" / "resolvelib-python"
CACHE = Path(os.environ.get("ENVTUI_BENCH_CACHE")
             or Path(__file__).resolve().parent / ".cache")
"""Where the wheel folders are kept; ENVTUI_BENCH_CACHE moves it (the tests do)."""
FORMAT = 1
"""Bumped whenever the wheels written here change, so cached folders are rebuilt."""

_EXTRA = re.compile(r"""\bextra\s*==\s*['"]([^'"]+)['"]|['"]([^'"]+)['"]\s*==\s*extra\b""")


@dataclass
class Release:
    name: str
    """The canonical project name."""
    version: str
    """The normalised version."""
    requires: list[str]
    """The dependencies, each normalised by `packaging`."""
    extras: list[str] = field(default_factory=list)
    """The extras the dependencies' markers name, in order of first use."""


def load_index(path: Path) -> dict[str, dict[str, Any]]:
    """The index's projects by canonical name (stray non-dict values are dropped)."""
    data = json.loads(path.read_text())
    return {canonicalize_name(k): v for k, v in data.items() if isinstance(v, dict)}


def _release(name: str, text: str, entry: Any) -> Release | None:
    try:
        version = str(Version(text))
    except InvalidVersion:
        return None
    deps = entry.get("dependencies", ()) if isinstance(entry, dict) else ()
    requires: list[str] = []
    extras: list[str] = []
    for dep in deps:
        if not isinstance(dep, str):
            return None
        try:
            req = Requirement(dep)
        except InvalidRequirement:
            return None
        requires.append(str(req))
        if req.marker is not None:
            for m in _EXTRA.finditer(str(req.marker)):
                extra = m.group(1) or m.group(2)
                if extra not in extras:
                    extras.append(extra)
    return Release(name, version, requires, extras)


def reachable(index: Mapping[str, Mapping[str, Any]],
              requested: Iterable[str]) -> dict[str, list[Release]]:
    """The usable releases of every project reachable from `requested`, by canonical name."""
    todo = [canonicalize_name(Requirement(r).name) for r in requested]
    out: dict[str, list[Release]] = {}
    while todo:
        key = todo.pop()
        if key in out or key not in index:
            continue
        releases: list[Release] = []
        seen: set[str] = set()
        for text, entry in index[key].items():
            rel = _release(key, text, entry)
            if rel is None or rel.version in seen:  # "1.0" and "1.0.0" are one version
                continue
            seen.add(rel.version)
            releases.append(rel)
            todo.extend(canonicalize_name(Requirement(r).name) for r in rel.requires)
        out[key] = releases
    return out


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def write_wheel(dest: Path, rel: Release) -> Path:
    """One metadata-only wheel, stored uncompressed (a few hundred bytes, written fast)."""
    dist = canonicalize_name(rel.name).replace("-", "_")
    info = f"{dist}-{rel.version}.dist-info"
    meta = ["Metadata-Version: 2.1", f"Name: {rel.name}", f"Version: {rel.version}"]
    meta += [f"Provides-Extra: {e}" for e in rel.extras]
    meta += [f"Requires-Dist: {r}" for r in rel.requires]
    files = {
        f"{info}/METADATA": ("\n".join(meta) + "\n\n").encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: envtui-benchmarks\n"
                         b"Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [_record_line(p, data) for p, data in files.items()]
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    path = dest / f"{dist}-{rel.version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for p, data in files.items():
            zf.writestr(p, data)
    return path


def cache_key(index_file: Path, requested: Sequence[str]) -> str:
    h = hashlib.sha256(index_file.read_bytes())
    names = sorted({canonicalize_name(Requirement(r).name) for r in requested})
    h.update(json.dumps([FORMAT, names]).encode())
    return h.hexdigest()[:20]


def wheelhouse(index: str, requested: Sequence[str], cache: Path = CACHE) -> Path:
    """The find-links folder for `requested` against corpus index `index`, built if needed."""
    index_file = CORPUS / "index" / f"{index}.json"
    folder = cache / "wheelhouses" / f"{index}-{cache_key(index_file, requested)}"
    if folder.is_dir():
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    ignore = cache / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# Built by benchmarks/corpus_wheels.py; safe to delete.\n*\n")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".building-", dir=folder.parent))
    try:
        for releases in reachable(load_index(index_file), requested).values():
            for rel in releases:
                write_wheel(tmp, rel)
        os.replace(tmp, folder)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not folder.is_dir():
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder
