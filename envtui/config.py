"""The user's configuration file: `$XDG_CONFIG_HOME/envtui/config.toml`.

    roots = ["~/code", "/data/envs"]   # extra directories to walk (like --root)
    exclude = ["~/big-archive"]        # directories never walked
    walk_home = true                   # walk the home directory for project envs
    max_depth = 6                      # how deep each walk goes
    stale_days = 90                    # unused this long makes an environment "stale"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class ConfigError(ValueError):
    """The config file exists but cannot be used; the message names file and problem."""


@dataclass(frozen=True)
class Config:
    """Settings from config.toml; defaults when the file is absent."""

    roots: tuple[Path, ...] = ()
    exclude: tuple[Path, ...] = ()
    walk_home: bool = True
    max_depth: int = 6
    stale_days: int = 90


def config_path(home: Path, environ: Mapping[str, str]) -> Path:
    base = environ.get("XDG_CONFIG_HOME") or str(home / ".config")
    return Path(base) / "envtui" / "config.toml"


def _paths(value: object, key: str, path: Path, home: Path) -> tuple[Path, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: '{key}' must be a list of paths")
    return tuple(Path(str(v).replace("~", str(home), 1) if str(v).startswith("~") else v)
                 for v in value)


def load_config(home: Path, environ: Mapping[str, str]) -> Config:
    """Read config.toml; a missing file gives the defaults, a bad one raises ConfigError."""
    path = config_path(home, environ)
    try:
        with open(path, "rb") as f:
            import tomllib  # only when there is a file: most runs have none, and it is slow

            from envtui import safe_toml

            data = safe_toml.load(f)
    except FileNotFoundError:
        return Config()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror or e})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML ({e})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid UTF-8") from None
    unknown = set(data) - {"roots", "exclude", "walk_home", "max_depth", "stale_days"}
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s): {', '.join(sorted(unknown))}")
    walk_home = data.get("walk_home", True)
    max_depth = data.get("max_depth", 6)
    if not isinstance(walk_home, bool):
        raise ConfigError(f"{path}: 'walk_home' must be true or false")
    if not isinstance(max_depth, int) or isinstance(max_depth, bool) or not 0 <= max_depth <= 50:
        raise ConfigError(f"{path}: 'max_depth' must be a whole number from 0 to 50")
    stale_days = data.get("stale_days", 90)
    if not isinstance(stale_days, int) or isinstance(stale_days, bool) or stale_days < 1:
        raise ConfigError(f"{path}: 'stale_days' must be a whole number of days, at least 1")
    return Config(
        roots=_paths(data.get("roots", []), "roots", path, home),
        exclude=_paths(data.get("exclude", []), "exclude", path, home),
        walk_home=walk_home,
        max_depth=max_depth,
        stale_days=stale_days,
    )
