"""Plain-text formatting of model values for the TUI: dates, kind titles, facts.

Pure functions with no Textual import. Sizes come from `envtui.format`, shared with the CLI.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from envtui.format import human_size
from envtui.model import Environment, EnvKind, Package

__all__ = ["KIND_TITLES", "environment_facts", "has_conda_records", "human_size",
           "package_origin", "short_date", "tilde"]

KIND_TITLES: Mapping[EnvKind, str] = {
    EnvKind.VENV: "Virtual environments",
    EnvKind.CONDA: "Conda environments",
    EnvKind.IMAGE: "Docker images",
    EnvKind.CONTAINER: "Docker containers",
}
"""The heading of each kind's group in the inventory table, in display order."""


def short_date(iso: str | None) -> str:
    """The calendar date of an ISO 8601 timestamp as recorded (`2025-03-14`), like the CLI.

    Dates rather than "3 minutes ago": the table must not change while nobody touches it.
    Unparseable input is shown verbatim so nothing is hidden.
    """
    if not iso:
        return ""
    try:
        return datetime.fromisoformat(iso).date().isoformat()
    except ValueError:
        return iso


def package_origin(pkg: Package) -> str:
    """Where a package came from: its conda channel (or `conda`) for conda records, else
    its installer (pip, uv, ...), with `(editable)` for an editable install.
    """
    origin = (pkg.channel or "conda") if pkg.source == "conda" else (pkg.installer or "?")
    return f"{origin} (editable)" if pkg.editable else origin


def has_conda_records(env: Environment) -> bool:
    """Whether the package list needs the conda build and channel columns."""
    return any(p.source == "conda" for p in env.packages)


def tilde(text: str, home: str | None) -> str:
    """`text` with a leading home directory written `~`, as a shell would show it."""
    if home and home != "/" and (text == home or text.startswith(home.rstrip("/") + "/")):
        return "~" + text[len(home.rstrip("/")) :]
    return text


def _fact_value(value: Any, home: str | None) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(_fact_value(v, home) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_fact_value(v, home)}" for k, v in value.items())
    return tilde(str(value), home)


def environment_facts(env: Environment, home: str | None = None) -> Iterator[tuple[str, str]]:
    """(label, value) pairs describing one environment, empty values left out.

    Paths under `home` are shortened to `~/...`: the pane is narrow and home is implied.
    """
    facts: list[tuple[str, Any]] = [
        ("path", env.path),
        ("id", env.id),
        ("python", env.python),
        ("packages", str(len(env.packages))),
        ("size", human_size(env.size_bytes) if env.size_bytes is not None else ""),
        ("last used", short_date(env.last_used)),
        ("created", short_date(env.created)),
    ]
    if env.base:
        facts.append(("base", True))
    facts.extend((key.replace("_", " "), value) for key, value in sorted(env.details.items()))
    for label, value in facts:
        if value is None or value in ("", [], (), {}):
            continue
        yield label, _fact_value(value, home)
