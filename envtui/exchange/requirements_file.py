"""pip requirements files, and the `pip:` lines of environment.yml, read for an import.

The point is to FLAG what installing the file would do beyond installing named versions
from the user's own index, never to obey it silently: index options, trusted hosts,
includes, editable, VCS, URL and path requirements, environment variables and unknown
options each become a `Flag` the import preview shows; index options are collected in
`Options`, which the importer uses only when the user confirms.

Hand-written because pip's own parser is internal API (pip._internal promises nothing),
and requirements-parser silently drops the options this module exists to flag. PEP 508
lines go to packaging.requirements; the rest follows pip's rules: `\\` continuations,
comments after whitespace, a line's requirement ending at its first `-` token, options
split like a shell line, long options abbreviable (so `--trusted` is `--trusted-host`).

Nothing is fetched or expanded: a remote `-r https://...` is flagged and skipped, and
`${VAR}` stays as written. Local includes are read relative to the including file, with a
cycle guard and a depth cap. Differences from pip, on purpose: the first --index-url
wins (a later one, maybe from an include, is flagged instead of replacing it), and
relative paths are resolved against the file's directory, as uv does, not the current one.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)

from envtui.exchange.safe_yaml import decode_text
from envtui.exchange.spec import ExchangeError
from envtui.format import printable

MAX_BYTES = 4 << 20
"""The largest requirements file read (4 MiB)."""

MAX_INCLUDE_DEPTH = 10
"""How deep `-r` / `-c` includes may nest."""


@dataclass(frozen=True)
class Entry:
    """One requirement line."""

    line: int
    """1-based line in its file (the first line of a continued one)."""
    text: str
    """The line as written, continuations joined and comment removed."""
    name: str | None
    """The project name when known: PEP 508 name, `#egg=`, or an archive's file name."""
    requirement: str | None
    """The normalised PEP 508 string, when the line is one."""
    url: str | None
    """Direct, VCS or `file:` URL when not from an index (relative paths resolved against
    the file's directory when it is known, else as written)."""
    editable: bool
    hashes: tuple[str, ...]
    """`algorithm:hex` from the line's --hash options."""
    where: str
    """The file it came from (an include's path for included lines)."""
    constraint: bool = False
    """From a `-c` file: limits versions, is not installed itself."""


@dataclass(frozen=True)
class Flag:
    """Something in the file the user should see before importing it."""

    line: int
    text: str
    where: str
    what: str
    """A sentence: "sets the package index to http://... (http://, not https)"."""
    danger: bool
    """Plain-http sources, --trusted-host, remote includes, VCS requirements."""


@dataclass(frozen=True)
class Options:
    """The index options the file asks for; used only when the user confirms."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    trusted_hosts: tuple[str, ...] = ()
    no_index: bool = False
    pre: bool = False


@dataclass(frozen=True)
class RequirementsFile:
    where: str
    entries: tuple[Entry, ...]
    options: Options
    flags: tuple[Flag, ...]


def read_requirements(path: Path) -> RequirementsFile:
    """Read and parse a requirements file. Raises ExchangeError naming it."""
    where = str(path)
    reader = _Reader()
    reader.stack.append(os.path.realpath(path))
    lines = _physical(_read_text(path, where))
    reader.read(lines, _Place(where, path.parent, 0, False))
    return reader.result(where)


def parse_requirements_text(text: str, where: str, base: Path | None = None) -> RequirementsFile:
    """Parse requirements text; `base` is the directory relative includes and paths are
    relative to (None: relative includes are flagged, not read)."""
    reader = _Reader()
    reader.read(_physical(text), _Place(where, base, 0, False))
    return reader.result(where)


def parse_requirement_lines(lines: Sequence[str], where: str,
                            base: Path | None = None) -> RequirementsFile:
    """Parse environment.yml's `pip:` items; line numbers are item numbers (1-based).

    conda writes the items to a requirements file one per line, so they are read as that
    file would be (an item holding several lines gives them all its number)."""
    physical = [(i, part) for i, item in enumerate(lines, 1) for part in item.splitlines() or [""]]
    reader = _Reader()
    reader.read(physical, _Place(where, base, 0, False))
    return reader.result(where)


# --------------------------------------------------------------------------- lines

_COMMENT = re.compile(r"(^|\s+)#.*$")  # pip's: `#` starts a comment only after whitespace
_ENV_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")  # the only form pip expands
_URL = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*://|file:)")
_ARCHIVE = re.compile(r"\.(?:whl|zip|tar|tar\.gz|tgz|tar\.bz2|tbz|tar\.xz|txz)$", re.IGNORECASE)
_PROJECT_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
_EXTRAS = re.compile(r"\[[^\]]*\]$")
_HASH = re.compile(r"^(sha256|sha384|sha512):([0-9a-fA-F]+)$")
_VCS = frozenset(("git", "hg", "svn", "bzr"))
_CLEAR_SCHEMES = frozenset(("http", "ftp", "git", "svn"))  # unencrypted transports


def _physical(text: str) -> list[tuple[int, str]]:
    return list(enumerate(text.splitlines(), 1))


def _logical(physical: Iterable[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    """(first line number, text) of each non-blank line: `\\` continuations joined,
    comments removed, as pip reads them."""
    pending: list[str] = []
    first = 0
    for number, raw in physical:
        if not pending:
            first = number
        if raw.endswith("\\") and not _COMMENT.match(raw.lstrip()):
            pending.append(raw[:-1])
            continue
        line = _COMMENT.sub("", "".join(pending) + raw).strip()
        pending = []
        if line:
            yield first, line
    line = _COMMENT.sub("", "".join(pending)).strip()
    if line:  # a file ending in `\`
        yield first, line


def _split(line: str) -> tuple[str, str]:
    """(requirement, options): pip's rule is that the requirement ends at the first
    whitespace-separated token starting with `-`."""
    tokens = line.split()
    cut = next((i for i, t in enumerate(tokens) if t.startswith("-")), len(tokens))
    return " ".join(tokens[:cut]), " ".join(tokens[cut:])


@dataclass(frozen=True)
class _Place:
    """The file being read: its name, directory, include depth, and whether it holds
    constraints."""

    where: str
    base: Path | None
    depth: int
    constraint: bool


@dataclass(frozen=True)
class _Here:
    """One logical line being read, for flags and errors."""

    place: _Place
    line: int
    text: str

    def error(self, why: str) -> ExchangeError:
        return ExchangeError(f"{self.place.where}: line {self.line}: {printable(self.text)}: "
                             f"{why}")


# --------------------------------------------------------------------------- options

# Long name -> (short letter, takes a value): pip's requirements-file options.
_OPTIONS: dict[str, tuple[str | None, bool]] = {
    "requirement": ("r", True), "constraint": ("c", True), "editable": ("e", True),
    "index-url": ("i", True), "extra-index-url": (None, True), "no-index": (None, False),
    "find-links": ("f", True), "trusted-host": (None, True), "pre": (None, False),
    "no-binary": (None, True), "only-binary": (None, True), "prefer-binary": (None, False),
    "require-hashes": (None, False), "use-feature": (None, True),
    "hash": (None, True), "global-option": (None, True), "config-settings": ("C", True),
}
_SHORT = {short: name for name, (short, _) in _OPTIONS.items() if short}
_PER_REQUIREMENT = frozenset(("hash", "global-option", "config-settings"))


def _option_name(token: str) -> tuple[str | None, str | None]:
    """(pip's option name, the value attached to the token) or (None, None)."""
    if token.startswith("--") and len(token) > 2:
        given, eq, value = token[2:].partition("=")
        # optparse accepts any unambiguous prefix of a long option.
        matches = [given] if given in _OPTIONS else [n for n in _OPTIONS if n.startswith(given)]
        return (matches[0], value if eq else None) if len(matches) == 1 else (None, None)
    if token.startswith("-") and len(token) > 1 and token[1] in _SHORT:
        return _SHORT[token[1]], token[2:] or None
    return None, None


def _options(tokens: list[str], here: _Here) -> tuple[list[tuple[str, str]], list[str]]:
    """(known options with their values, tokens pip would not accept)."""
    known: list[tuple[str, str]] = []
    stray: list[str] = []
    tokens = list(tokens)
    while tokens:
        token = tokens.pop(0)
        name, value = _option_name(token)
        if name is None:
            stray.append(token)
            continue
        takes_value = _OPTIONS[name][1]
        if takes_value and value is None:
            if not tokens:
                raise here.error(f"--{name} needs a value")
            value = tokens.pop(0)
        elif not takes_value and value is not None:
            raise here.error(f"--{name} takes no value")
        known.append((name, value or ""))
    return known, stray


# --------------------------------------------------------------------------- reading


@dataclass
class _Reader:
    """Accumulates entries, flags and options over a file and its includes."""

    entries: list[Entry] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    index_url: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    trusted_hosts: list[str] = field(default_factory=list)
    no_index: bool = False
    pre: bool = False
    stack: list[str] = field(default_factory=list)
    """Real paths of the files being read, outermost first: the cycle guard."""
    done: set[str] = field(default_factory=set)

    def result(self, where: str) -> RequirementsFile:
        options = Options(self.index_url, tuple(dict.fromkeys(self.extra_index_urls)),
                          tuple(dict.fromkeys(self.find_links)),
                          tuple(dict.fromkeys(self.trusted_hosts)), self.no_index, self.pre)
        return RequirementsFile(where, tuple(self.entries), options, tuple(self.flags))

    def flag(self, here: _Here, what: str, danger: bool = False) -> None:
        self.flags.append(Flag(here.line, here.text, here.place.where, what, danger))

    def read(self, physical: Iterable[tuple[int, str]], place: _Place) -> None:
        for number, text in _logical(physical):
            self.line(_Here(place, number, text))

    def line(self, here: _Here) -> None:
        used = [f"${{{v}}}" for v in dict.fromkeys(_ENV_VAR.findall(here.text))]
        if used:
            # pip would expand them from the importing user's environment, secrets included.
            self.flag(here, f"uses environment variable {used[0]}: envtui does not expand it"
                      if len(used) == 1 else
                      f"uses environment variables {', '.join(used)}: envtui does not expand them")
        spec, rest = _split(here.text)
        try:
            tokens = shlex.split(rest)
        except ValueError as e:
            raise here.error(f"cannot split the options ({e})") from None
        options, stray = _options(tokens, here)
        if stray:
            kind = "unknown option" if stray[0].startswith("-") else "text pip does not expect"
            self.flag(here, f"{kind} {printable(' '.join(stray))} (ignored)")
        editables = [value for name, value in options if name == "editable"]
        if spec or editables:
            self.requirement_line(here, spec, editables, options)
        else:
            for name, value in options:
                self.option(here, name, value)

    def requirement_line(self, here: _Here, spec: str, editables: list[str],
                         options: list[tuple[str, str]]) -> None:
        """A requirement (or -e) line: only per-requirement options apply, as in pip."""
        hashes: list[str] = []
        for name, value in options:
            if name == "hash":
                hashes.append(_hash(value, here))
            elif name in _PER_REQUIREMENT:
                self.flag(here, f"asks pip for --{name} {printable(value)} (not passed on by "
                          "envtui)")
            elif name != "editable" or spec:
                self.flag(here, f"--{name} on a requirement line is ignored by pip (and envtui)")
        targets = [spec] if spec else editables
        self.entries += [self.entry(here, t, not spec, tuple(hashes)) for t in targets]

    def option(self, here: _Here, name: str, value: str) -> None:
        """One option on a line of options only."""
        if _URL.match(value):
            _check_url(value, here)
        shown = printable(value)
        if name in ("requirement", "constraint"):
            self.include(here, value, constraint=name == "constraint")
        elif name == "index-url":
            self.set_index(here, value)
        elif name == "extra-index-url":
            self.extra_index_urls.append(value)
            self.flag(here, f"adds the package index {shown}{_clear_note(value)}",
                      danger=bool(_clear_note(value)))
        elif name == "find-links":
            self.find_links.append(_find_links(value, here.place.base))
            where = f"at {shown}" if _URL.match(value) else f"in the local directory {shown}"
            self.flag(here, f"looks for packages {where}{_clear_note(value)}",
                      danger=bool(_clear_note(value)))
        elif name == "trusted-host":
            self.trusted_hosts.append(value)
            self.flag(here, f"trusts {shown} over plain http and without checking its "
                      "certificate (--trusted-host)", danger=True)
        elif name == "no-index":
            self.no_index = True
            self.flag(here, "turns the package index off (--no-index)")
        elif name == "pre":
            self.pre = True
            self.flag(here, "allows pre-release versions (--pre)")
        elif name == "hash":
            raise here.error("--hash must follow a requirement on the same line")
        else:
            self.flag(here, f"asks pip for --{name} {shown}".rstrip()
                      + " (not passed on by envtui)")

    def set_index(self, here: _Here, url: str) -> None:
        note = _clear_note(url)
        if self.index_url is None:
            self.index_url = url
            self.flag(here, f"sets the package index to {printable(url)}{note}", bool(note))
        else:
            self.flag(here, f"sets the package index again, to {printable(url)}{note}; "
                      f"envtui keeps the first one, {printable(self.index_url)}", bool(note))

    # ------------------------------------------------------------------- includes

    def include(self, here: _Here, target: str, constraint: bool) -> None:
        what = "constraints" if constraint else "requirements"
        shown = printable(target)
        if _URL.match(target) and not target.lower().startswith("file:"):
            self.flag(here, f"includes a remote {what} file {shown} (not fetched)", danger=True)
            return
        if "\0" in target:  # the OS would refuse it with ValueError
            raise here.error("the included path holds a NUL character")
        path = Path(url2pathname(urlsplit(target).path)) if _URL.match(target) else Path(target)
        if not path.is_absolute():
            if here.place.base is None:
                self.flag(here, f"includes {shown}, relative to an unknown directory (not read)")
                return
            path = here.place.base / path
        key = os.path.realpath(path)
        if key in self.stack:
            self.flag(here, f"includes {shown}, which is already being read (an include "
                      "cycle; not read again)")
            return
        if key in self.done:
            return  # reached twice without a cycle: its lines are already in
        if here.place.depth >= MAX_INCLUDE_DEPTH:
            raise here.error(f"includes nest more than {MAX_INCLUDE_DEPTH} deep")
        text = _read_text(path, f"{here.place.where}: line {here.line}: included file {path}")
        self.done.add(key)
        self.flag(here, f"applies constraints from {shown} (they limit versions and are not "
                  "installed)" if constraint else f"includes requirements from {shown}")
        place = _Place(os.path.normpath(path), path.parent, here.place.depth + 1, constraint)
        self.stack.append(key)
        try:
            self.read(_physical(text), place)
        finally:
            self.stack.pop()

    # ------------------------------------------------------------------- requirements

    def entry(self, here: _Here, spec: str, editable: bool, hashes: tuple[str, ...]) -> Entry:
        """The entry for one requirement, with the flags its source deserves."""
        name, requirement, written = _target(spec, editable, here)
        url = None
        if written is not None:
            if _URL.match(written):
                _check_url(written, here)  # `name @ URL`: packaging does not split the URL
            url = written if _URL.match(written) else _file_url(written, here.place.base)
            if editable and _kind(url) == "direct":
                raise here.error("an editable requirement must be a local directory or a VCS "
                                 "URL")
            self.flag_source(here, name, written, url, editable)
        return Entry(here.line, here.text, name, requirement, url, editable, hashes,
                     here.place.where, here.place.constraint)

    def flag_source(self, here: _Here, name: str | None, written: str, url: str,
                    editable: bool) -> None:
        label = name or "a package"
        shown, note = printable(url), _clear_note(url)
        kind = _kind(url)
        if kind == "vcs":
            mode = " in editable mode" if editable else ""
            self.flag(here, f"installs {label}{mode} from version control (its code is "
                      f"fetched and built): {shown}{note}", danger=True)
        elif kind == "local":
            path = printable(written)
            self.flag(here, f"installs the local directory {path} in editable mode"
                      if editable else f"installs {label} from the local path {path}")
        else:
            self.flag(here, f"installs {label} from a direct URL, not an index: {shown}{note}",
                      danger=bool(note))


def _target(spec: str, editable: bool, here: _Here) -> tuple[str | None, str | None, str | None]:
    """(project name, PEP 508 string, URL or path as written) of one requirement."""
    if _URL.match(spec):
        url, _, marker = spec.partition("; ")  # pip's marker separator after a URL
        _check_marker(marker, here)
        url = url.strip()
        _check_url(url, here)
        return _egg_name(url, here) or _archive_name(urlsplit(url).path), None, url
    name_at, at, _ = spec.partition("@")
    if editable or (_looks_like_path(spec) and not (at and not _looks_like_path(name_at))):
        # `name @ ./x.whl` is PEP 508 with a URL, as pip reads it, not a path with an `@`.
        path, _, marker = spec.partition(";")
        _check_marker(marker, here)
        path = _EXTRAS.sub("", path.strip())
        return _archive_name(path), None, path
    req = _requirement(spec, here)
    return req.name, str(req), req.url


def _requirement(spec: str, here: _Here) -> Requirement:
    try:
        return Requirement(spec)
    except RecursionError:  # packaging's marker parser recurses once per parenthesis
        raise here.error("its marker is nested too deeply") from None
    except InvalidRequirement as e:
        why = str(e).splitlines()[0]
        head = re.split(r"[\s<>=!~;@\[(]", spec, maxsplit=1)[0]
        if not head.isascii():
            why += " (PEP 508 names are ASCII letters, digits, '.', '-' and '_')"
        elif _ENV_VAR.search(spec):
            why += " (envtui does not expand ${VAR})"
        raise here.error(why) from None


def _check_url(url: str, here: _Here) -> None:
    """Every later urlsplit of `url` works: it refuses a `[` left open in the host."""
    try:
        urlsplit(url)
    except ValueError as e:
        raise here.error(f"not a valid URL ({e})") from None


def _check_marker(marker: str, here: _Here) -> None:
    if marker.strip():
        try:
            Marker(marker)
        except InvalidMarker as e:
            raise here.error(str(e).splitlines()[0]) from None
        except RecursionError:
            raise here.error("the marker is nested too deeply") from None


def _hash(value: str, here: _Here) -> str:
    m = _HASH.match(value)
    if m is None:
        raise here.error(f"--hash {printable(value)!r} is not sha256:, sha384: or sha512: "
                         "followed by hex digits")
    return f"{m[1]}:{m[2].lower()}"


def _kind(url: str) -> str:
    """vcs, local or direct: where a requirement's code would come from."""
    scheme = urlsplit(url).scheme.lower() if _URL.match(url) else ""
    if scheme.split("+")[0] in _VCS:
        return "vcs"
    return "local" if scheme in ("", "file") else "direct"


def _clear_note(url: str) -> str:
    """A warning for URLs fetched without encryption, else ""."""
    scheme = urlsplit(url).scheme.lower() if _URL.match(url) else ""
    last = scheme.split("+")[-1]
    return f" ({last}://, not https)" if last in _CLEAR_SCHEMES else ""


def _egg_name(url: str, here: _Here) -> str | None:
    """The project name a URL's `#egg=name` fragment gives, checked as pip does."""
    for part in urlsplit(url).fragment.split("&"):
        key, _, value = part.partition("=")
        if key == "egg" and value:
            name = _EXTRAS.sub("", value)
            if not _PROJECT_NAME.match(name):
                raise here.error(f"#egg={printable(value)} is not a valid project name")
            return name
    return None


def _archive_name(path: str) -> str | None:
    """The project name in a wheel's or sdist's file name, if it is one."""
    filename = path.replace("\\", "/").rsplit("/", 1)[-1]
    try:
        if filename.lower().endswith(".whl"):
            return str(parse_wheel_filename(filename)[0])
        if filename.lower().endswith((".tar.gz", ".zip")):
            return str(parse_sdist_filename(filename)[0])
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return None


def _looks_like_path(spec: str) -> bool:
    """pip takes these as files or directories, never as a project name."""
    head = spec.split(";", 1)[0].strip()
    return ("/" in head or "\\" in head or head.startswith((".", "~"))
            or bool(_ARCHIVE.search(head)))


def _file_url(path: str, base: Path | None) -> str:
    """A local path as a `file:` URL, resolved against `base`; as written if it cannot be."""
    p = Path(path)
    if not p.is_absolute():
        if base is None:
            return path
        p = base / p
    return Path(os.path.abspath(p)).as_uri()


def _find_links(value: str, base: Path | None) -> str:
    """pip reads a relative --find-links against the file's directory when that exists."""
    if base is None or _URL.match(value) or Path(value).is_absolute():
        return value
    candidate = base / value
    return str(candidate) if candidate.exists() else value


def _read_text(path: Path, where: str) -> str:
    """A requirements file's text, size-capped; ExchangeError naming `where` otherwise."""
    try:
        # Checked first: a FIFO or device would block or never end.
        if not stat.S_ISREG(path.stat().st_mode):
            raise ExchangeError(f"{where}: is not a regular file")
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ExchangeError(f"{where}: does not exist") from None
    except OSError as e:
        raise ExchangeError(f"{where}: cannot be read ({e.strerror or e})") from None
    if len(data) > MAX_BYTES:
        raise ExchangeError(f"{where}: is larger than {MAX_BYTES >> 20} MiB; not read")
    return decode_text(data, where)
