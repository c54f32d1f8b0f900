"""resolvelib's PyPI snapshots (tests/corpus) as a candidate source for envtui's provider."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.markers import Marker
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envtui.resolver.sources import CoreMetadata, Link, Source, SourceError
from envtui.resolver.target import Target, python_target

CORPUS = Path(__file__).parent / "corpus" / "resolvelib-python"


class CorpusSource(Source):
    """Every version of every project in one index file, as py3-none-any wheels."""

    def __init__(self, index: str) -> None:
        self.label = f"corpus:{index}"
        data = json.loads((CORPUS / "index" / f"{index}.json").read_text())
        self.index: dict[str, dict[str, Any]] = {
            canonicalize_name(k): v for k, v in data.items() if isinstance(v, dict)}

    def links(self, name: str) -> Sequence[Link]:
        out = []
        for text in self.index.get(name, {}):
            try:
                version = Version(text)
            except InvalidVersion:
                continue
            out.append(Link(name, version, f"{name.replace('-', '_')}-{text}-py3-none-any.whl",
                            f"{self.label}/{name}/{text}", self.label))
        return out

    def metadata(self, link: Link) -> CoreMetadata:
        for text, entry in self.index.get(link.name, {}).items():
            if Version(text) == link.version:
                return CoreMetadata(tuple(entry["dependencies"]))
        raise SourceError(f"{link.filename} is not in {self.label}")


@dataclass
class Case:
    name: str
    index: str
    requested: list[str]
    resolved: dict[str, str] | None
    conflicted: set[str] | None
    unvisited: dict[str, list[str]]


def running_target() -> Target:
    """The corpus's expectations assume the markers of the interpreter running the tests."""
    v = sys.version_info
    return python_target(f"{v.major}.{v.minor}.{v.micro}")


def _expected(data: dict[str, Any]) -> dict[str, str]:
    out = {}
    for name, value in data.items():
        entry = value if isinstance(value, dict) else {"version": value}
        marker = entry.get("marker")
        if marker and not Marker(marker).evaluate():
            continue
        out[canonicalize_name(name)] = str(Version(entry["version"]))
    return out


@functools.cache
def load_case(name: str) -> Case:
    data = json.loads((CORPUS / "case" / f"{name}.json").read_text())
    resolved = _expected(data["resolved"]) if "resolved" in data else None
    conflicted = set(data["conflicted"]) if "conflicted" in data else None
    return Case(name, data["index"], data["requested"], resolved, conflicted,
                data.get("unvisited", {}))


def case_names() -> list[str]:
    return sorted(p.stem for p in (CORPUS / "case").glob("*.json"))
