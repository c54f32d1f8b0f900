"""A `--find-links` directory: wheels and sdists lying in one local folder."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from packaging.utils import canonicalize_name

from envtui.resolver.core_metadata import parse_filename, read_dist_metadata
from envtui.resolver.sources import CoreMetadata, Link, Source, SourceError


class FindLinksSource(Source):
    """Every distribution file directly inside `directory` (not in subdirectories)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.label = str(directory)
        self._by_name: dict[str, list[Link]] | None = None

    def links(self, name: str) -> Sequence[Link]:
        return list(self._listing().get(canonicalize_name(name), ()))

    def metadata(self, link: Link) -> CoreMetadata:
        return read_dist_metadata(self.directory / link.filename, link.filename)

    def _listing(self) -> dict[str, list[Link]]:
        # Listed once: the resolver asks for many names and the folder doesn't change
        # while it runs.
        if self._by_name is None:
            try:
                entries = [e for e in os.scandir(self.directory) if e.is_file()]
            except OSError as e:
                raise SourceError(
                    f"Cannot list the find-links directory {self.directory}: {e.strerror or e}."
                ) from e
            by_name: dict[str, list[Link]] = {}
            for entry in sorted(entries, key=lambda e: e.name):
                parsed = parse_filename(entry.name)
                if parsed is None:
                    continue  # READMEs, checksums, half-downloaded files...
                name, version = parsed
                url = (self.directory / entry.name).absolute().as_uri()
                by_name.setdefault(name, []).append(
                    Link(name=name, version=version, filename=entry.name, url=url,
                         origin=self.label)
                )
            self._by_name = by_name
        return self._by_name
