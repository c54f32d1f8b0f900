"""Requirements files: pinned `name==version` lines, written for pip or uv, and read back.

Editable installs are written as `-e PATH` and direct-URL installs (archives, VCS
checkouts at their commit) as `name @ URL`, as `pip freeze` does, so a collaborator gets
the same code. No date goes in the header: the same environment exports to the same file,
which keeps diffs of committed files quiet.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from envtui import __version__
from envtui.exchange.spec import PIP, EnvSpec, ExchangeError, Pin, sorted_pins
from envtui.model import canonical_name

if TYPE_CHECKING:
    from envtui.exchange.requirements_file import Entry


def write_requirements(spec: EnvSpec) -> str:
    pins = spec.pip
    if not pins:
        raise ExchangeError(f"{spec.origin}: has no Python packages to write as requirements")
    python = f", Python {spec.python}" if spec.python else ""
    lines = [f"# Exported by envtui {__version__} from {spec.origin} ({spec.kind}{python})"]
    if spec.conda:
        lines.append(f"# {len(spec.conda)} conda packages are not listed: export "
                     "--format environment-yml or conda-lock for them")
    lines += [pip_line(p) for p in pins]
    return "\n".join(lines) + "\n"


def pip_line(pin: Pin) -> str:
    """How pip freeze writes one installed distribution."""
    if pin.editable and pin.url:
        return f"-e {_local_path(pin.url)}"
    if pin.url:
        return f"{pin.name} @ {pin.url}"
    return f"{pin.name}=={pin.version}" if pin.version else pin.name


def _local_path(url: str) -> str:
    """`file:///src/x` -> `/src/x`; anything else (a VCS URL) stays as it is."""
    parts = urlsplit(url)
    return unquote(parts.path) if parts.scheme == "file" else url


def top_level(pins: list[Pin]) -> list[Pin]:
    """The pins nothing else in the list requires: what the user most likely asked for."""
    from packaging.requirements import InvalidRequirement, Requirement

    needed: set[str] = set()
    for pin in pins:
        for line in pin.depends:
            try:
                needed.add(canonical_name(Requirement(line).name))
            except (InvalidRequirement, RecursionError):
                continue  # bad metadata is reported by `check`; it cannot hide a root
    return [p for p in pins if p.key not in needed]


def read_requirements_spec(path: Path) -> EnvSpec:
    """A requirements file as a spec, its options and flags kept for the import preview."""
    from envtui.exchange.requirements_file import read_requirements

    parsed = read_requirements(path)
    pins = [pip_pin(e) for e in parsed.entries if not getattr(e, "constraint", False)]
    return EnvSpec(origin=str(path), kind="venv", name=None, pins=sorted_pins(pins),
                   requirements=parsed, python=_python_from_header(path))


def pip_pin(entry: Entry) -> Pin:
    """One parsed requirement line as a pin: exact for `==`, else the constraint as written."""
    return Pin(name=entry.name or entry.text, version=_req_version(entry.requirement),
               manager=PIP, url=entry.url, editable=entry.editable, hashes=entry.hashes)


def _req_version(requirement: str | None) -> str:
    if not requirement:
        return ""
    from packaging.requirements import Requirement

    spec = Requirement(requirement).specifier
    exact = [s.version for s in spec if s.operator in ("==", "===") and "*" not in s.version]
    return exact[0] if len(exact) == 1 and len(spec) == 1 else str(spec)


def _python_from_header(path: Path) -> str | None:
    """`# Exported by envtui ... (venv, Python 3.11.4)`: the Python our own export came from."""
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            first = f.readline(500)
    except OSError:
        return None
    marker = ", Python "
    if not first.startswith("# Exported by envtui") or marker not in first:
        return None
    return first.split(marker, 1)[1].split(")", 1)[0].strip() or None
