"""Where candidate distributions come from: the interface every source implements.

A source answers two questions: which files exist for a project (`links`) and what one
file's core metadata says (`metadata`). The resolver asks the second only for candidates it
actually tries, so an index source fetches a PEP 658 metadata file, or reads a wheel's
dist-info, lazily.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

from packaging.version import Version


class SourceError(Exception):
    """A source could not be read (unreachable index, bad page, unreadable wheel).

    The message is one full sentence naming the source and the problem.
    """


@dataclass(frozen=True)
class Link:
    """One installable file of one version of a project."""

    name: str
    """Canonical (PEP 503) project name."""
    version: Version
    filename: str
    """The file's name: a wheel, an sdist, or a synthetic name for in-memory sources."""
    url: str
    """Where the file is: an http(s) URL, or a `file:` URL for local files."""
    origin: str
    """The source's label (index URL or directory), for messages."""
    requires_python: str | None = None
    """The index's `data-requires-python` / `requires-python`, when it gives one."""
    yanked: str | None = None
    """None when not yanked; the reason (possibly "") when yanked (PEP 592)."""
    hashes: tuple[tuple[str, str], ...] = ()
    """(algorithm, hex digest) pairs the source publishes for the file."""
    metadata_url: str | None = None
    """URL of the PEP 658/714 core-metadata file, when the index serves one."""
    metadata_hashes: tuple[tuple[str, str], ...] = ()
    """(algorithm, hex digest) pairs the index publishes for that metadata file."""

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(".whl")


@dataclass(frozen=True)
class CoreMetadata:
    """What the resolver needs from a distribution's METADATA."""

    requires_dist: tuple[str, ...] = ()
    requires_python: str | None = None


class Source(ABC):
    """A place candidate files come from: an index, a find-links directory, ..."""

    label: str
    """Shown in messages and previews: the index URL or the directory."""

    @abstractmethod
    def links(self, name: str) -> Sequence[Link]:
        """Every file this source has for the project `name` (canonical); [] when none."""

    @abstractmethod
    def metadata(self, link: Link) -> CoreMetadata:
        """Core metadata of one of this source's links. Raises SourceError."""


@dataclass(frozen=True)
class IndexOptions:
    """Where to look for packages, as pip's and uv's command-line options say it."""

    index_url: str | None = None
    """The main index; None means no main index (pip's `--no-index`)."""
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    """Directories (or pages) of distributions."""
    offline: bool = False
    """Use only local sources and what the HTTP cache already holds."""
    pre: bool = False
    """Allow pre-releases everywhere (otherwise only when nothing else matches)."""
    origins: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    """Option -> where its value came from (command line, PIP_INDEX_URL, a pip.conf)."""

    def installer_args(self) -> list[str]:
        """The same sources as arguments for `uv pip install` (and `pip install`)."""
        args: list[str] = []
        if self.index_url is None:
            args.append("--no-index")
        else:
            args += ["--index-url", self.index_url]
        for url in self.extra_index_urls:
            args += ["--extra-index-url", url]
        for place in self.find_links:
            args += ["--find-links", place]
        return args
