"""Building real wheels offline: a wheel is a zip holding the files and a dist-info.

Used by the demo sandbox to make its wheelhouse at run time, and by the tests. The dist-info
has real METADATA, WHEEL and a RECORD with sha256 hashes, so installers accept it and
uninstall it cleanly.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path


def record_line(path: str, data: bytes) -> str:
    """One RECORD row: path, urlsafe-base64 sha256 without padding, size."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def build_wheel(
    dest: Path,
    name: str,
    version: str,
    *,
    requires: Iterable[str] = (),
    requires_python: str | None = None,
    extras: Iterable[str] = (),
    summary: str = "",
    files: Mapping[str, str] | None = None,
    tag: str = "py3-none-any",
    generator: str = "envtui-tests",
) -> Path:
    """Write `name-version-TAG.whl` (TAG: py3-none-any by default) into `dest`; return it.

    `files` maps paths inside the wheel (e.g. "pkg/__init__.py", "x.pth") to contents;
    by default the wheel holds one module named after the project. `tag` is the wheel's
    compatibility tag, e.g. "cp311-cp311-manylinux_2_17_x86_64" or "cp39-abi3-win_amd64".
    `extras` are the Provides-Extra names (pip ignores the requirements of an extra the
    metadata does not declare).
    """
    dist = name.replace("-", "_")
    distinfo = f"{dist}-{version}.dist-info"
    meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if summary:
        meta.append(f"Summary: {summary}")
    if requires_python:
        meta.append(f"Requires-Python: {requires_python}")
    meta += [f"Provides-Extra: {e}" for e in extras]
    meta += [f"Requires-Dist: {r}" for r in requires]
    contents = dict(files or {f"{dist}/__init__.py": f"__version__ = {version!r}\n"})
    contents[f"{distinfo}/METADATA"] = "\n".join(meta) + "\n\nLong description.\n"
    contents[f"{distinfo}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: {generator}\n"
        f"Root-Is-Purelib: {'true' if tag.endswith('-none-any') else 'false'}\nTag: {tag}\n"
    )
    record = [record_line(p, c.encode()) for p, c in contents.items()]
    record.append(f"{distinfo}/RECORD,,")
    contents[f"{distinfo}/RECORD"] = "\n".join(record) + "\n"
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{dist}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for p, c in contents.items():
            zf.writestr(p, c)
    return path
