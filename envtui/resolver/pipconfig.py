"""Where to look for packages when the command line doesn't say: pip's own configuration.

Mirrors how pip resolves `index-url`, `extra-index-url`, `find-links` and `no-index`:

* files, later ones winning: the site-wide ones ($XDG_CONFIG_DIRS/pip/pip.conf, then
  /etc/pip.conf), the user's (~/.pip/pip.conf, then $XDG_CONFIG_HOME/pip/pip.conf; pip skips
  both when PIP_CONFIG_FILE names an existing file), then PIP_CONFIG_FILE itself; when
  PIP_CONFIG_FILE is os.devnull no file is read at all;
* a value in an [install] section beats one in [global] whatever file it is in (pip merges
  the files first, then the sections), and an empty value counts as unset;
* PIP_INDEX_URL and friends beat every file;
* the command line beats everything, except that its --extra-index-url and --find-links
  add to the configured lists instead of replacing them, as pip's do.

One deliberate difference: a command-line --index-url wins over a configured no-index
(pip would ignore the index), since the user just named it.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from envtui.resolver.findlinks import FindLinksSource
from envtui.resolver.httpcache import HttpCache
from envtui.resolver.simple_index import FindLinksPageSource, SimpleIndexSource
from envtui.resolver.sources import IndexOptions, Source, SourceError

DEFAULT_INDEX_URL = "https://pypi.org/simple"
"""pip's default index."""

ETC_PIP_CONF = Path("/etc/pip.conf")
"""The last site-wide file pip reads on Unix (a module constant so tests can move it)."""

COMMAND_LINE = "command line"
_SECTIONS = ("global", "install")  # later sections win
_TRUE = {"1", "y", "yes", "t", "true", "on"}
_FALSE = {"0", "n", "no", "f", "false", "off"}


def index_options(
    cli_index_urls: Sequence[str] = (),
    cli_extra_index_urls: Sequence[str] = (),
    cli_find_links: Sequence[str] = (),
    offline: bool = False,
    pre: bool = False,
    environ: Mapping[str, str] | None = None,
    *,
    no_index: bool = False,
) -> IndexOptions:
    """The command line's index options with the rest filled in from pip's configuration.

    `cli_index_urls`: every --index-url given (the last wins, as in pip); `no_index`: the
    command line's --no-index.
    """
    env = os.environ if environ is None else environ
    settings = _Settings(env)
    origins: dict[str, str] = {}

    configured_no_index = settings.get("no-index")
    if no_index:
        origins["index_url"] = COMMAND_LINE
        skip_indexes = True
    elif configured_no_index is not None and not cli_index_urls:
        skip_indexes = _to_bool(*configured_no_index)
        if skip_indexes:
            origins["index_url"] = configured_no_index[1]
    else:
        skip_indexes = False

    index_url: str | None = None
    extra: tuple[str, ...] = ()
    if not skip_indexes:
        if cli_index_urls:
            index_url, origins["index_url"] = cli_index_urls[-1], COMMAND_LINE
        elif (configured := settings.get("index-url")) is not None:
            index_url, origins["index_url"] = configured
        else:
            index_url, origins["index_url"] = DEFAULT_INDEX_URL, "default"
        extra = _extend(settings.get("extra-index-url"), cli_extra_index_urls,
                        "extra_index_urls", origins)
    find_links = _extend(settings.get("find-links"), cli_find_links, "find_links", origins)
    return IndexOptions(index_url=index_url, extra_index_urls=extra, find_links=find_links,
                        offline=offline, pre=pre, origins=origins)


def build_sources(options: IndexOptions, cache_dir: Path) -> list[Source]:
    """The sources `options` name: find-links first (local and cheap), then the indexes."""
    cache = HttpCache(cache_dir / "http", offline=options.offline)
    sources: list[Source] = []
    for place in options.find_links:
        if place.startswith(("http://", "https://")):
            sources.append(FindLinksPageSource(place, cache))
            continue
        if place.startswith("file:"):
            path = Path(url2pathname(urlsplit(place).path))
        else:
            path = Path(place).expanduser()
        if not path.is_dir():
            raise SourceError(f"--find-links {place}: no such directory")
        sources.append(FindLinksSource(path))
    indexes = ([options.index_url] if options.index_url else []) + list(options.extra_index_urls)
    sources += [SimpleIndexSource(url, cache) for url in indexes]
    return sources


def config_files(environ: Mapping[str, str]) -> list[Path]:
    """pip's configuration files in the order it reads them (later ones win)."""
    env_file = environ.get("PIP_CONFIG_FILE")
    if env_file == os.devnull:
        return []
    site_dirs = (environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(os.pathsep)
    files = [Path(d) / "pip" / "pip.conf" for d in site_dirs if d]
    files.append(ETC_PIP_CONF)
    if not (env_file and os.path.exists(env_file)):
        home = Path(environ.get("HOME") or Path.home())
        user_dir = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
        files += [home / ".pip" / "pip.conf", user_dir / "pip" / "pip.conf"]
    if env_file:
        files.append(Path(env_file))
    return files


class _Settings:
    """pip's configuration values as (value, origin): environment first, then the files."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.files: dict[tuple[str, str], tuple[str, str]] = {}  # (section, key) -> ...
        for path in config_files(environ):
            for section, key, value in _read_config(path):
                self.files[section, key] = (value, str(path))

    def get(self, key: str) -> tuple[str, str] | None:
        var = "PIP_" + key.upper().replace("-", "_")
        if self.environ.get(var, "").strip():
            return self.environ[var].strip(), var
        for section in reversed(_SECTIONS):
            if (section, key) in self.files:
                return self.files[section, key]
        return None


def _read_config(path: Path) -> list[tuple[str, str, str]]:
    """(section, key, value) of the sections pip's install command reads from `path`."""
    parser = configparser.RawConfigParser()
    try:
        if not path.is_file():
            return []
        parser.read(path, encoding="utf-8")
    except (OSError, UnicodeDecodeError, configparser.Error) as e:
        # configparser's messages span lines (they quote the offending line): one line here.
        why = " ".join(str(e).split())
        raise SourceError(f"Cannot read the pip configuration {path}: {why}") from e
    found: list[tuple[str, str, str]] = []
    for section in _SECTIONS:
        if parser.has_section(section):
            for key, value in parser.items(section):
                # pip accepts index_url and --index-url as spellings of index-url.
                name = key.lower().replace("_", "-").removeprefix("--")
                if value.strip():
                    found.append((section, name, value))
    return found


def _extend(
    configured: tuple[str, str] | None, cli: Sequence[str], option: str,
    origins: dict[str, str],
) -> tuple[str, ...]:
    """A list option: the configured values (whitespace-separated), then the command line's."""
    values = configured[0].split() if configured else []
    where = [configured[1]] if configured else []
    if cli:
        values += cli
        where.append(COMMAND_LINE)
    if where:
        origins[option] = " and ".join(where)
    return tuple(values)


def _to_bool(value: str, origin: str) -> bool:
    word = value.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise SourceError(f"{origin}: no-index = {value!r} is not true or false.")
