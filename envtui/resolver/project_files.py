"""Reading the version pins a project declares, statically, with their `path:line`.

Sources: requirements files (`requirements*.txt`, `*requirements*.in`, `constraints*.txt`
and `requirements/*`, following `-r` and `-c` includes), pyproject.toml (PEP 621
dependencies and optional-dependencies, `requires-python`, PEP 735 dependency groups),
environment.yml (conda match specs and the `pip:` list) and Pipfile (`[packages]`,
`[dev-packages]`, `[requires]`).

Nothing is executed or fetched: remote includes (`-r https://...`) are not followed, URL and
path requirements are not pins, YAML is composed (never constructed) with a node budget so
tags cannot run code and alias bombs stop early, and every file is size-capped. A file that
cannot be read or parsed becomes one `invalid-metadata` problem naming it; reading goes on.

Conda specs are translated to PEP 440 specifier sets here instead of being matched with
py-rattler: a project's conda pins must be intersected with its pip pins on the same package,
which needs one version algebra, and rattler's VersionSpec can only test membership of its own
Version type. It would also load a native library for a purely textual check.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from envtui import safe_toml
from envtui.model import Problem, ProblemKind, canonical_name

FILE_LIMIT = 4 << 20
"""Bytes read at most from one project file; a bigger file is reported, not read."""

YAML_NODE_LIMIT = 100_000
"""YAML nodes visited at most (aliases counted each time they are used): stops alias bombs."""

YAML_DEPTH_LIMIT = 64
"""Nesting depth at most in environment.yml; nothing legitimate comes near it."""

DEPENDENCY_GROUP_LIMIT = 256
"""Dependency groups read at most from one pyproject.toml: a requirement carries the tag of
every group that includes its own, so the tags grow with the square of the groups' number."""

_REQUIREMENTS_NAME = re.compile(
    r"^(?:(?:.*[-_.])?requirements(?:[-_.].*)?\.(?:txt|in)|constraints(?:[-_.].*)?\.txt)$",
    re.IGNORECASE,
)
_COMMENT = re.compile(r"(?:^|\s)#.*$")
_INCLUDE = re.compile(
    r"^(?:-(?P<short>[rc])|--(?P<long>requirement|constraint))(?:\s*=\s*|\s*)(?P<target>\S.*)$"
)
_LINE_OPTION = re.compile(r"\s--?[A-Za-z]")
_ARCHIVE = re.compile(r"\.(?:whl|zip|tar|tar\.gz|tgz|tar\.bz2|tbz|tar\.xz|txz)$", re.IGNORECASE)
_CONDA_SPEC = re.compile(
    r"^(?:[^\s:\[\]]+::)?(?P<name>[A-Za-z0-9_][A-Za-z0-9_.\-]*)\s*"
    r"(?:\[(?P<brackets>[^\]]*)\])?(?P<rest>[^\[\]]*)$"
)
_BRACKET_ITEM = re.compile(r"(\w+)\s*=\s*(?:'([^']*)'|\"([^\"]*)\"|([^,\s]*))")
_CONDA_CLAUSE = re.compile(r"^(==|!=|>=|<=|~=|>|<|=)?(.*)$")
_SPACED_OPERATOR = re.compile(r"\s*(==|!=|>=|<=|~=|>|<|,|\|)\s*")
_YAML_TAGS = frozenset(
    "tag:yaml.org,2002:" + t
    for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp", "merge",
              "value", "binary", "omap", "pairs", "set")
)
_PIPFILE_MARKER_KEYS = frozenset(
    ("os_name", "sys_platform", "platform_machine", "platform_python_implementation",
     "platform_release", "platform_system", "platform_version", "python_version",
     "python_full_version", "implementation_name", "implementation_version")
)


@dataclass(frozen=True)
class Pin:
    """One requirement a project file places on one package's version."""

    name: str
    """PEP 503 normalised package name."""
    text: str
    """The requirement as written (without comments, hashes or other per-line options)."""
    where: str
    """`path:line` of the entry (1-based); the path is relative to the project directory."""
    specifiers: tuple[SpecifierSet, ...] = ()
    """Alternatives, any of which may hold (a conda spec with `|` has several); empty when
    the requirement allows every version."""
    marker: Marker | None = None
    """PEP 508 environment marker; None when it always applies."""
    groups: frozenset[str] = frozenset()
    """`extra:NAME` / `group:NAME` tags: it applies when any of them is selected; empty when
    it always applies."""


@dataclass(frozen=True)
class ProjectFiles:
    """Everything read from one project: its pins and what could not be read."""

    root: str
    """The project directory the `path:line` locations are relative to."""
    pins: tuple[Pin, ...]
    """Every requirement found, in reading order (requirements files, pyproject.toml,
    environment.yml, Pipfile)."""
    problems: tuple[Problem, ...]
    """Unreadable files, unparseable entries, include cycles and missing includes."""
    requires_python: SpecifierSet | None = None
    """pyproject.toml's `requires-python`, which bounds the Python versions worth checking."""
    exclusive: tuple[frozenset[str], ...] = ()
    """Sets of extras/groups declared mutually exclusive (`[tool.uv] conflicts`), as tags."""


def read_project(path: Path) -> ProjectFiles:
    """Read every pin of the project directory `path`, or of the single file `path`."""
    if path.is_dir():
        reader = _Reader(path)
        for file in project_files(path):
            reader.read_file(file)
    else:
        reader = _Reader(path.parent)
        if path.exists():
            reader.read_file(path)
        else:
            reader.problem(str(path), "no such file or directory")
    return reader.result()


def project_files(root: Path) -> list[Path]:
    """The files `read_project` reads in the directory `root`, in reading order."""
    found: list[Path] = []
    for directory in (root, root / "requirements"):
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        picked = [n for n in names if directory != root or _REQUIREMENTS_NAME.match(n)]
        found += [directory / n for n in picked
                  if n.endswith((".txt", ".in")) and (directory / n).is_file()]
    for name in ("pyproject.toml", "environment.yml", "environment.yaml", "Pipfile"):
        if (root / name).is_file():
            found.append(root / name)
    return found


def conda_spec(spec: str) -> tuple[str, tuple[SpecifierSet, ...]] | None:
    """A conda match spec as (normalised name, PEP 440 alternatives), or None if malformed.

    `numpy=1.26` -> `==1.26.*` (conda's fuzzy `=`); `numpy==1.26` and `numpy 1.26 build`
    -> `==1.26`; `numpy>=1.20,<2|1.7.*` -> two alternatives; `numpy[version='>=1']`;
    channel prefixes are dropped. Versions PEP 440 cannot express (`1.0_1`, parentheses)
    give no alternatives, as does no version at all: no constraint this check can use.
    """
    m = _CONDA_SPEC.match(spec.strip())
    if m is None or len(_SPACED_OPERATOR.sub(r"\1", m["rest"].strip()).split()) > 2:
        return None
    name = canonical_name(m["name"])
    version, has_build = _version_and_build(m["rest"])
    fuzzy = version[:1] == "=" and version[1:2] != "=" and not any(c in version for c in ",|")
    if fuzzy:
        # conda's command-line form: `=1.26` is `1.26*`, but `=1.26=build` is exactly 1.26.
        body = version[1:]
        version = body if has_build and not body.endswith("*") else body.rstrip("*") + "*"
    for key, *values in _BRACKET_ITEM.findall(m["brackets"] or ""):
        if key == "version":
            version = "".join(values)  # VersionSpec syntax: a bare version is exact
    return name, _conda_alternatives(version)


def _version_and_build(rest: str) -> tuple[str, bool]:
    """Split what follows a conda package name into its version part and whether a build
    string follows (`1.26 py311_0`, `=1.26=py311_0`)."""
    parts = _SPACED_OPERATOR.sub(r"\1", rest.strip()).split()
    if len(parts) > 1:
        return parts[0], True
    text = parts[0] if parts else ""
    for i in range(1, len(text)):
        if text[i] == "=" and text[i - 1] not in "=!<>~" and text[i + 1:i + 2] != "=":
            return text[:i], True
    return text, False


def _conda_alternatives(version: str) -> tuple[SpecifierSet, ...]:
    """Conda version syntax (`,` binds tighter than `|`) as PEP 440 specifier sets."""
    if not version or "(" in version or ")" in version:
        return ()
    out: list[SpecifierSet] = []
    for alternative in version.split("|"):
        clauses = [_conda_clause(c) for c in alternative.split(",")]
        if any(c is None for c in clauses):
            return ()
        parts = [c for c in clauses if c]
        if not parts:
            return ()  # `*`: any version, so the whole disjunction allows anything
        try:
            out.append(SpecifierSet(",".join(parts)))
        except InvalidSpecifier:
            return ()
    return tuple(out)


def _conda_clause(clause: str) -> str | None:
    """One conda version clause as a PEP 440 specifier; "" for any version, None if PEP 440
    cannot say it."""
    m = _CONDA_CLAUSE.match(clause.strip())
    op, value = (m[1] or "", m[2]) if m else ("", "")
    starred = value.endswith("*")
    value = value.rstrip("*").rstrip(".")
    if not value:
        return "" if starred or not op else None
    if op in ("", "=", "=="):
        # A bare version is exact in conda unless it ends in `*`; `=X` is always a prefix.
        return f"=={value}.*" if starred or op == "=" else f"=={value}"
    if op == "!=":
        return f"!={value}.*" if starred else f"!={value}"
    if op == "~=" and "." not in value:
        return f">={value}"
    return f"{op}{value}"  # conda ignores a trailing `.*` after an ordering operator


# --------------------------------------------------------------------------- the reader


class _Line(NamedTuple):
    """One logical line of a requirements file: its first physical line and its text."""

    number: int
    text: str


class _Scalar(NamedTuple):
    """A YAML scalar, kept as text, with its 1-based line."""

    text: str
    line: int


class _YamlRejected(Exception):
    """environment.yml is refused: not YAML, a tag, too many nodes or too deep."""

    def __init__(self, why: str, line: int | None = None) -> None:
        super().__init__(why)
        self.line = line


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """A requirements file's lines as pip reads them: `\\` continuations joined, comments
    removed, blank lines dropped; each with the number of its first physical line."""
    pending: list[str] = []
    first = 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not pending:
            first = number
        if raw.endswith("\\") and not raw.lstrip().startswith("#"):
            pending.append(raw[:-1])
            continue
        pending.append(raw)
        line = _COMMENT.sub("", "".join(pending)).strip()
        pending = []
        if line:
            yield first, line
    if pending:
        line = _COMMENT.sub("", "".join(pending)).strip()
        if line:
            yield first, line


def _looks_like_path_or_url(text: str) -> bool:
    """pip treats these as files, directories or URLs, never as a named version pin."""
    head = text.split(";", 1)[0].strip()
    return ("://" in head or "/" in head or "\\" in head or head.startswith((".", "~"))
            or bool(_ARCHIVE.search(head)))


class _Reader:
    """Accumulates pins and problems while reading one project's files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pins: list[Pin] = []
        self.problems: list[Problem] = []
        self.requires_python: SpecifierSet | None = None
        self.exclusive: list[frozenset[str]] = []
        self._done: set[str] = set()
        self._stack: list[str] = []
        self._seen_pins: set[tuple[str, str]] = set()

    def result(self) -> ProjectFiles:
        return ProjectFiles(str(self.root), tuple(self.pins), tuple(self.problems),
                            self.requires_python, tuple(self.exclusive))

    def rel(self, path: Path) -> str:
        try:
            return Path(os.path.relpath(path, self.root)).as_posix()
        except ValueError:  # another drive on Windows
            return path.as_posix()

    def problem(self, where: str, why: str, text: str | None = None) -> None:
        self.problems.append(Problem(kind=ProblemKind.INVALID_METADATA, detail=f"{where}: {why}",
                                     requirement=text, files=(where,)))

    def add(self, pin: Pin) -> None:
        try:
            hash(pin)  # packaging converts each version's numbers to int only now
        except ValueError:  # a number over int()'s 4,300-digit limit
            self.problem(pin.where, f"unparseable requirement {pin.text!r}", pin.text)
            return
        key = (pin.where, pin.text)
        if key not in self._seen_pins:  # the same file reached twice (diamond includes)
            self._seen_pins.add(key)
            self.pins.append(pin)

    def read_text(self, path: Path, where: str) -> str | None:
        """The file's text, or None after recording why it cannot be had."""
        try:
            st = path.stat()
            if not stat.S_ISREG(st.st_mode):
                self.problem(where, "is not a regular file")
                return None
            if st.st_size > FILE_LIMIT:
                self.problem(where, f"is larger than {FILE_LIMIT >> 20} MiB; not read")
                return None
            with path.open("rb") as f:
                data = f.read(FILE_LIMIT + 1)
        except OSError as e:
            self.problem(where, f"cannot be read ({e.strerror or e})")
            return None
        if len(data) > FILE_LIMIT:
            self.problem(where, f"is larger than {FILE_LIMIT >> 20} MiB; not read")
            return None
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            self.problem(where, "is not UTF-8 text")
            return None

    def read_file(self, path: Path) -> None:
        name = path.name
        if name == "pyproject.toml":
            self.read_pyproject(path)
        elif name == "Pipfile":
            self.read_pipfile(path)
        elif name.endswith((".yml", ".yaml")):
            self.read_environment(path)
        else:
            self.read_requirements(path)

    # ----------------------------------------------------------------- requirements files

    def read_requirements(self, path: Path, via: str | None = None) -> None:
        """Read a requirements or constraints file; `via` is the `path:line` including it."""
        key = os.path.realpath(path)
        rel = self.rel(path)
        if key in self._stack:
            start = self._stack.index(key)
            chain = [self.rel(Path(p)) for p in self._stack[start:]] + [rel]
            self.problem(via or rel, f"include cycle {' -> '.join(chain)}")
            return
        if key in self._done:
            return
        if via is not None and not os.path.lexists(path):
            self.problem(via, f"included file {rel} does not exist")
            return
        self._done.add(key)
        text = self.read_text(path, rel)
        if text is None:
            return
        self._stack.append(key)
        try:
            for number, line in logical_lines(text):
                self.requirement_line(line, f"{rel}:{number}", path.parent)
        finally:
            self._stack.pop()

    def requirement_line(self, line: str, where: str, base: Path,
                         groups: frozenset[str] = frozenset()) -> None:
        """One logical requirements line: an include, an option, a pin or an error."""
        if line.startswith("-"):
            m = _INCLUDE.match(line)
            if m is None:
                return  # --index-url, -e, --hash ...: options, not pins
            target = m["target"].strip().strip("'\"")
            if "://" in target:
                return  # a remote file is never fetched by a static check
            if "\0" in target:  # the OS would refuse it with ValueError
                self.problem(where, "the included path holds a NUL character", line)
                return
            self.read_requirements(base / os.path.expanduser(target), via=where)
            return
        cut = _LINE_OPTION.search(line)
        text = (line[:cut.start()] if cut else line).strip()
        if _looks_like_path_or_url(text):
            return
        self.pep508(text, where, groups)

    def pep508(self, text: str, where: str, groups: frozenset[str] = frozenset()) -> None:
        """Record a PEP 508 requirement string as a pin, or a problem if it does not parse."""
        text = text.strip()
        try:
            req = Requirement(text)
        except (InvalidRequirement, RecursionError):  # RecursionError: markers nested deeply
            self.problem(where, f"unparseable requirement {text!r}", text)
            return
        if req.url is None:
            specifiers = (req.specifier,) if str(req.specifier) else ()
            self.add(Pin(canonical_name(req.name), text, where, specifiers, req.marker, groups))

    # ----------------------------------------------------------------- pyproject.toml

    def read_toml(self, path: Path) -> tuple[dict[str, Any], _Locator, str] | None:
        rel = self.rel(path)
        text = self.read_text(path, rel)
        if text is None:
            return None
        try:
            data = safe_toml.loads(text)
        except tomllib.TOMLDecodeError as e:
            self.problem(rel, f"invalid TOML: {e}")
            return None
        return data, _Locator(text), rel

    def read_pyproject(self, path: Path) -> None:
        loaded = self.read_toml(path)
        if loaded is None:
            return
        data, loc, rel = loaded
        project = data.get("project", {})
        if not isinstance(project, dict):
            self.problem(rel, "[project] is not a table")
            project = {}
        self.read_requires_python(project.get("requires-python"), loc, rel)
        base = loc.anchor([r"^\s*\[\s*project\s*\]", r"(?:^|[\s{,])dependencies\s*="])
        self.toml_list(project.get("dependencies"), "[project] dependencies", loc, rel, base)
        extras = project.get("optional-dependencies", {})
        if not isinstance(extras, dict):
            self.problem(rel, "[project] optional-dependencies is not a table")
            extras = {}
        for extra, reqs in extras.items():
            start = loc.anchor([r"^\s*\[\s*project\.optional-dependencies\s*\]", _key(extra)])
            self.toml_list(reqs, f"optional-dependencies {extra!r}", loc, rel, start,
                           frozenset({"extra:" + canonical_name(extra)}))
        self.read_dependency_groups(data.get("dependency-groups", {}), loc, rel)
        self.read_uv_conflicts(data)

    def read_requires_python(self, value: object, loc: _Locator, rel: str) -> None:
        if value is None:
            return
        where = f"{rel}:{loc.line(loc.anchor([_key('requires-python')]))}"
        try:
            spec = SpecifierSet(str(value))
        except InvalidSpecifier:
            self.problem(where, f"invalid requires-python {value!r}", str(value))
            return
        self.requires_python = spec
        self.add(Pin("python", f"requires-python {value}", where, (spec,)))

    def toml_list(self, value: object, what: str, loc: _Locator, rel: str, start: int,
                  groups: frozenset[str] = frozenset()) -> None:
        """A TOML array of PEP 508 strings, each located by searching for its text."""
        if value is None:
            return
        if not isinstance(value, list):
            self.problem(f"{rel}:{loc.line(start)}", f"{what} is not a list")
            return
        for item in value:
            if isinstance(item, dict) and "include-group" in item:
                continue  # handled by read_dependency_groups
            if not isinstance(item, str):
                self.problem(f"{rel}:{loc.line(start)}", f"{what}: {item!r} is not a string")
                continue
            start = loc.entry(item, start)
            self.pep508(item, f"{rel}:{loc.line(start)}", groups)
            start += 1

    def read_dependency_groups(self, value: object, loc: _Locator, rel: str) -> None:
        """PEP 735 groups; a requirement in an included group also applies to every group
        that includes it, so it carries all of their tags. Include cycles (one problem per
        set of groups that include each other) and unknown names are reported."""
        if not isinstance(value, dict):
            self.problem(rel, "[dependency-groups] is not a table")
            return
        if len(value) > DEPENDENCY_GROUP_LIMIT:
            self.problem(rel, f"[dependency-groups] has more than {DEPENDENCY_GROUP_LIMIT} "
                              "groups; not read")
            return
        header = r"^\s*\[\s*dependency-groups\s*\]"
        groups = {canonical_name(g): reqs for g, reqs in value.items()}
        spelled = {canonical_name(g): g for g in value}

        def where(group: str) -> str:
            return f"{rel}:{loc.line(loc.anchor([header, _key(spelled[group])]))}"

        named = {group: [item["include-group"] for item in reqs if isinstance(item, dict)
                         and "include-group" in item] if isinstance(reqs, list) else []
                 for group, reqs in groups.items()}
        includes = {group: list(dict.fromkeys(t for t in map(canonical_name, map(str, names))
                                              if t in groups))
                    for group, names in named.items()}
        # Reachability from each group, not every path: paths can be exponentially many.
        reach = {group: _reachable(group, includes) for group in groups}
        for group in groups:
            for name in named[group]:
                if canonical_name(str(name)) not in groups:
                    self.problem(where(group), f"dependency group {spelled[group]!r} includes "
                                               f"unknown group {name!r}")
            if group in reach[group] and group == min(g for g in reach[group]
                                                      if group in reach[g]):
                loop = _loop(group, includes)
                names = [spelled[g] for g in [*loop, group]]
                self.problem(where(loop[-1]), f"dependency group cycle {' -> '.join(names)}")
        for group, reqs in groups.items():
            tags = frozenset({"group:" + group} | {"group:" + g for g, found in reach.items()
                                                   if group in found})
            start = loc.anchor([header, _key(spelled[group])])
            self.toml_list(reqs, f"dependency group {spelled[group]!r}", loc, rel, start, tags)

    def read_uv_conflicts(self, data: Mapping[str, Any]) -> None:
        """`[tool.uv] conflicts`: extras/groups never installed together, so never compared."""
        tool = data.get("tool")
        uv = tool.get("uv") if isinstance(tool, dict) else None
        conflicts = uv.get("conflicts") if isinstance(uv, dict) else None
        if not isinstance(conflicts, list):
            return
        for items in conflicts:
            if not isinstance(items, list):
                continue
            tags = {f"{kind}:{canonical_name(str(item[kind]))}"
                    for item in items if isinstance(item, dict) and "package" not in item
                    for kind in ("extra", "group") if kind in item}
            if len(tags) > 1:
                self.exclusive.append(frozenset(tags))

    # ----------------------------------------------------------------- Pipfile

    def read_pipfile(self, path: Path) -> None:
        loaded = self.read_toml(path)
        if loaded is None:
            return
        data, loc, rel = loaded
        for section in ("packages", "dev-packages"):
            table = data.get(section, {})
            if not isinstance(table, dict):
                self.problem(rel, f"[{section}] is not a table")
                continue
            header = rf"^\s*\[\s*{re.escape(section)}\s*\]"
            for name, value in table.items():
                start = loc.anchor([header, _key(name)])
                if loc.find(_key(name), loc.anchor([header])) is None:  # [packages.NAME] form
                    start = loc.anchor([rf"^\s*\[\s*{re.escape(section)}\.{_quoted(name)}\s*\]"])
                self.pipfile_entry(name, value, f"{rel}:{loc.line(start)}")
        requires = data.get("requires", {})
        if isinstance(requires, dict):
            for key, op in (("python_full_version", "=="), ("python_version", "==")):
                value = requires.get(key)
                if isinstance(value, str):
                    spec = f"{op}{value}" if key == "python_full_version" else f"{op}{value}.*"
                    start = loc.anchor([r"^\s*\[\s*requires\s*\]", _key(key)])
                    where = f"{rel}:{loc.line(start)}"
                    self.pipfile_pin("python", f'{key} = "{value}"', spec, None, where)
                    break

    def pipfile_entry(self, name: str, value: object, where: str) -> None:
        """`name = "*"`, `name = "==1.2"` or `name = {version = ">=1", markers = "..."}`."""
        marker_parts: list[str] = []
        if isinstance(value, dict):
            if "markers" in value:
                marker_parts.append(str(value["markers"]))
            marker_parts += [f"{k} {v}" for k, v in value.items()
                             if k in _PIPFILE_MARKER_KEYS and isinstance(v, str)]
            version = value.get("version", "*")
        else:
            version = value
        if not isinstance(version, str):
            self.problem(where, f"version of {name} is not a string", str(version))
            return
        version = version.strip()
        if version in ("", "*"):
            return
        spec = f"=={version}" if version[:1].isdigit() else version
        if len(marker_parts) > 1:
            marker_parts = [f"({part})" for part in marker_parts]
        marker = " and ".join(marker_parts) or None
        self.pipfile_pin(name, name + spec + (f"; {marker}" if marker else ""), spec, marker,
                         where)

    def pipfile_pin(self, name: str, text: str, spec: str, marker: str | None,
                    where: str) -> None:
        try:
            specifier = SpecifierSet(spec)
            parsed = Marker(marker) if marker else None
        except (InvalidSpecifier, InvalidMarker, RecursionError):
            self.problem(where, f"unparseable requirement {text!r}", text)
            return
        self.add(Pin(canonical_name(name), text, where, (specifier,), parsed))

    # ----------------------------------------------------------------- environment.yml

    def read_environment(self, path: Path) -> None:
        rel = self.rel(path)
        text = self.read_text(path, rel)
        if text is None:
            return
        try:
            data = _yaml_tree(text)
        except _YamlRejected as e:
            self.problem(rel if e.line is None else f"{rel}:{e.line}", str(e))
            return
        if data is None:
            return
        deps = data.get("dependencies") if isinstance(data, dict) else None
        if deps is None:
            if not isinstance(data, dict):
                self.problem(rel, "is not a mapping")
            return
        if not isinstance(deps, list):
            self.problem(rel, "dependencies is not a list")
            return
        for item in deps:
            if isinstance(item, _Scalar):
                self.conda_pin(item, rel)
            elif isinstance(item, dict) and isinstance(item.get("pip"), list):
                for entry in item["pip"]:
                    if isinstance(entry, _Scalar):
                        line = _COMMENT.sub("", entry.text).strip()
                        if line:
                            self.requirement_line(line, f"{rel}:{entry.line}", path.parent)

    def conda_pin(self, item: _Scalar, rel: str) -> None:
        where = f"{rel}:{item.line}"
        parsed = conda_spec(item.text)
        if parsed is None:
            self.problem(where, f"unparseable conda spec {item.text!r}", item.text)
            return
        name, alternatives = parsed
        if alternatives:
            self.add(Pin(name, item.text.strip(), where, alternatives))


class _Locator:
    """Finds where an entry sits in TOML text (tomllib gives no positions) by searching."""

    def __init__(self, text: str) -> None:
        self.text = text

    def anchor(self, patterns: Sequence[str]) -> int:
        """Offset of the last of `patterns` found, each searched after the previous one."""
        pos = 0
        for pattern in patterns:
            found = self.find(pattern, pos)
            pos = pos if found is None else found
        return pos

    def find(self, pattern: str, start: int) -> int | None:
        """Offset of the first match of `pattern` at or after `start`, leading space skipped."""
        m = re.compile(pattern, re.MULTILINE).search(self.text, start)
        return None if m is None else m.start() + len(m[0]) - len(m[0].lstrip())

    def entry(self, value: str, start: int) -> int:
        """Offset of the string literal `value` at or after `start` (else anywhere)."""
        needles = (json.dumps(value, ensure_ascii=False), f"'{value}'", value)
        for begin in (start, 0):
            hits = [i for i in (self.text.find(n, begin) for n in needles) if i >= 0]
            if hits:
                return min(hits)
        return start

    def line(self, offset: int) -> int:
        return self.text.count("\n", 0, offset) + 1


def _reachable(start: str, includes: Mapping[str, Sequence[str]]) -> set[str]:
    """The groups `start` includes, directly or through others (itself only in a cycle)."""
    found: set[str] = set()
    todo = list(includes[start])
    while todo:
        group = todo.pop()
        if group not in found:
            found.add(group)
            todo.extend(includes[group])
    return found


def _loop(start: str, includes: Mapping[str, Sequence[str]]) -> list[str]:
    """A shortest include cycle through `start`, as the groups from `start` on."""
    parent: dict[str, str] = {}
    queue = [start]
    for group in queue:  # breadth first: the list grows while it is walked
        for target in includes[group]:
            if target == start:
                path = [group]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return path[::-1]
            if target not in parent:
                parent[target] = group
                queue.append(target)
    raise AssertionError(f"{start} is in no include cycle")


def _key(name: str) -> str:
    """Regex for a TOML key `name` being assigned (bare or quoted)."""
    return rf"(?:^|[\s{{,]){_quoted(name)}\s*="


def _quoted(name: str) -> str:
    return rf"[\"']?{re.escape(name)}[\"']?"


def _one_line(e: object) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def _yaml_tree(text: str) -> Any:
    """Parse YAML to dicts, lists and `_Scalar`s without constructing any object.

    Composing alone never runs a tag's constructor; tags outside YAML's core schema are then
    refused outright. Aliases are followed, but every node visit counts against
    YAML_NODE_LIMIT, so an alias bomb fails after a bounded amount of work.
    """
    import yaml

    try:
        loader = yaml.SafeLoader(text)  # its reader checks every character already
    except yaml.YAMLError as e:  # a control character YAML does not allow
        raise _YamlRejected(f"invalid YAML: {_one_line(e)}") from None
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        why = ", ".join(str(part) for part in (e.context, e.problem) if part) or str(e)
        raise _YamlRejected(f"invalid YAML: {_one_line(why)}",
                            None if mark is None else mark.line + 1) from None
    except yaml.YAMLError as e:
        raise _YamlRejected(f"invalid YAML: {_one_line(e)}") from None
    except RecursionError:
        raise _YamlRejected("invalid YAML: nested too deeply") from None
    finally:
        loader.dispose()
    if root is None:
        return None
    budget = [YAML_NODE_LIMIT]

    def convert(node: Any, depth: int) -> Any:
        budget[0] -= 1
        line = node.start_mark.line + 1
        if budget[0] < 0:
            raise _YamlRejected(f"more than {YAML_NODE_LIMIT} YAML nodes (alias bomb?); "
                                "not read")
        if depth > YAML_DEPTH_LIMIT:
            raise _YamlRejected(f"nested deeper than {YAML_DEPTH_LIMIT} levels", line)
        if node.tag not in _YAML_TAGS:
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            raise _YamlRejected(f"YAML tag {tag} is not allowed", line)
        if isinstance(node, yaml.ScalarNode):
            return _Scalar(str(node.value), line)
        if isinstance(node, yaml.SequenceNode):
            return [convert(child, depth + 1) for child in node.value]
        out: dict[str, Any] = {}
        for key, value in node.value:
            k = convert(key, depth + 1)
            v = convert(value, depth + 1)
            if isinstance(k, _Scalar):
                out[k.text] = v
        return out

    return convert(root, 0)
