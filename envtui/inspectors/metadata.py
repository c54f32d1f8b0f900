"""Reading Python distribution metadata (dist-info and egg-info) from bytes.

Works on bytes rather than paths so the same code reads a venv on disk and a file
inside a Docker image layer. Only the header of METADATA / PKG-INFO is parsed (the
body is the long description and can be megabytes); this is what makes a full inventory
fast. The email.parser module is ~20x slower on large files and is deliberately not used.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from envtui.model import Package, Problem, ProblemKind

HEADER_LIMIT = 1 << 20
"""Bytes of header read at most; a longer header is reported as invalid metadata."""

_WANTED = {"name", "version", "requires-dist", "requires-python", "summary"}


@dataclass
class Headers:
    """The header fields envtui uses, plus what was wrong while reading them."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def first(self, key: str) -> str | None:
        values = self.fields.get(key)
        return values[0] if values else None


def header_bytes(read: Callable[[int], bytes]) -> tuple[bytes, bool]:
    """Read from `read(n)` up to the blank line ending the header.

    Returns (header, complete). `complete` is False when the header exceeded HEADER_LIMIT.
    """
    buf = b""
    while True:
        chunk = read(65536)
        if not chunk:
            return buf, True
        start = max(0, len(buf) - 3)
        buf += chunk
        end = _header_end(buf, start)
        if end >= 0:
            return buf[:end], True
        if len(buf) > HEADER_LIMIT:
            return buf[:HEADER_LIMIT], False


def _header_end(buf: bytes, start: int) -> int:
    ends = [i for i in (buf.find(b"\n\n", start), buf.find(b"\r\n\r\n", start)) if i >= 0]
    return min(ends) if ends else -1


def parse_headers(data: bytes, *, complete: bool = True) -> Headers:
    """Parse RFC 822-style headers (core metadata) from the start of `data`."""
    out = Headers()
    if not complete:
        out.errors.append(f"metadata header longer than {HEADER_LIMIT} bytes")
    end = _header_end(data, 0)
    if end >= 0:
        data = data[:end]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        out.errors.append("metadata is not valid UTF-8")
        text = data.decode("utf-8", "replace")
    key: str | None = None
    for line in text.splitlines():
        if line[:1] in (" ", "\t"):
            # Continuation of the previous field (multi-line Summary, License, ...).
            if key is not None and key in out.fields and key != "requires-dist":
                out.fields[key][-1] += " " + line.strip()
            continue
        name, sep, value = line.partition(":")
        if not sep:
            key = None
            continue
        key = name.strip().lower()
        if key in _WANTED:
            out.fields.setdefault(key, []).append(value.strip())
    return out


def name_version_from_dirname(dirname: str) -> tuple[str, str]:
    """`foo_bar-1.0.dist-info` -> ("foo_bar", "1.0"); the version may be empty."""
    stem = dirname.rsplit(".", 1)[0]
    name, _, version = stem.partition("-")
    # egg-info names may carry "-py3.11" after the version.
    version = version.split("-py", 1)[0]
    return name, version


def _invalid(detail: str, name: str, version: str | None) -> Problem:
    return Problem(ProblemKind.INVALID_METADATA, detail, package=name, version=version)


def validate(name: str, version: str, requires: tuple[str, ...],
             requires_python: str | None) -> list[str]:
    """What is invalid about these fields, per PEP 440 / PEP 508 (empty when all is fine)."""
    errors = []
    if not _valid("version", version):
        errors.append(f"invalid version {version!r}")
    errors += [f"unparseable Requires-Dist {r!r}" for r in requires
               if not _valid("requirement", r)]
    if requires_python and not _valid("specifier", requires_python):
        errors.append(f"invalid Requires-Python {requires_python!r}")
    return errors


@functools.lru_cache(maxsize=65536)
def _valid(what: str, text: str) -> bool:
    """Parse once per distinct string: the same requirements recur across environments."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        if what == "version":
            Version(text)
        elif what == "requirement":
            Requirement(text)
        else:
            SpecifierSet(text)
    except (InvalidVersion, InvalidRequirement, InvalidSpecifier, ValueError, RecursionError):
        # ValueError: a number over Python's 4,300-digit limit for int();
        # RecursionError: packaging's marker parser recurses once per parenthesis.
        return False
    return True


def package_from_headers(
    headers: Headers,
    *,
    dirname: str,
    location: str,
    installer: bytes | None = None,
    direct_url: bytes | None = None,
    extra_requires: tuple[str, ...] = (),
    extra_problems: tuple[Problem, ...] = (),
) -> Package:
    """Build a Package from parsed headers and the small files beside METADATA."""
    dir_name, dir_version = name_version_from_dirname(dirname)
    errors = list(headers.errors)
    # With no metadata file at all, `extra_problems` already says so; don't pile on.
    expect_fields = not extra_problems
    name = headers.first("name")
    if not name:
        if expect_fields:
            errors.append("missing Name")
        name = dir_name
    version = headers.first("version")
    if not version:
        if expect_fields:
            errors.append("missing Version")
        version = dir_version or "0"
    requires = tuple(headers.fields.get("requires-dist", ())) + extra_requires
    requires_python = headers.first("requires-python")
    errors += validate(name, version, requires, requires_python)

    editable = False
    url = None
    if direct_url:
        try:
            info = json.loads(direct_url)
            url = _direct_reference(info) if isinstance(info, dict) else None
            if isinstance(url, str) and not _splits(url):
                errors.append(f"direct_url.json: {url!r} is not a valid URL")
                url = None
            dir_info = info.get("dir_info") if isinstance(info, dict) else None
            editable = bool(isinstance(dir_info, dict) and dir_info.get("editable"))
        except (ValueError, RecursionError):
            errors.append("direct_url.json is not valid JSON")

    problems = [_invalid(f"{dirname}: {e}", name, version) for e in errors]
    problems += extra_problems
    return Package(
        name=name,
        version=version,
        source="python",
        installer=installer.decode("utf-8", "replace").strip() or None if installer else None,
        requires=requires,
        requires_python=requires_python,
        summary=headers.first("summary"),
        editable=editable,
        direct_url=url if isinstance(url, str) else None,
        location=location,
        problems=tuple(problems),
    )


def _splits(url: str) -> bool:
    """Whether urlsplit, which every consumer of the URL calls, accepts it (it refuses a
    `[` left open in the host)."""
    from urllib.parse import urlsplit

    try:
        urlsplit(url)
    except ValueError:
        return False
    return True


def _direct_reference(info: dict[str, object]) -> str | None:
    """direct_url.json as pip writes it back (`git+URL@commit`), so an export reinstalls
    exactly the commit that is installed, not the branch's newest."""
    url = info.get("url")
    vcs = info.get("vcs_info")
    if not isinstance(url, str) or not isinstance(vcs, dict):
        return url if isinstance(url, str) else None
    kind, commit = vcs.get("vcs"), vcs.get("commit_id")
    if isinstance(kind, str) and not url.startswith(f"{kind}+"):
        url = f"{kind}+{url}"
    if isinstance(commit, str) and commit:
        url = f"{url}@{commit}"
    sub = info.get("subdirectory")
    return f"{url}#subdirectory={sub}" if isinstance(sub, str) and sub else url


_SECTION = re.compile(r"^\[(?P<extra>[^:\]]*)(?::(?P<marker>.*))?\]$")


def egg_requires(text: str) -> tuple[str, ...]:
    """Turn setuptools' requires.txt (sections `[extra:marker]`) into Requires-Dist strings."""
    out: list[str] = []
    extra = marker = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _SECTION.match(line)
        if m:
            extra = (m.group("extra") or "").strip()
            marker = (m.group("marker") or "").strip()
            continue
        conditions = []
        if marker:
            conditions.append(f"({marker})" if " or " in marker else marker)
        if extra:
            conditions.append(f'extra == "{extra}"')
        out.append(f"{line}; {' and '.join(conditions)}" if conditions else line)
    return tuple(out)
