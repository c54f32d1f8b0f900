"""Plain-text formatting of model values for the TUI: dates, names, counts, facts.

Pure functions with no Textual import. Sizes and `printable` come from `envtui.format`,
shared with the CLI. Every name, path or message that reaches the screen goes through
`printable` (directly or through a helper here): names come from the filesystem and from
metadata, and a control character would drive the terminal or break a table's columns.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from envtui.format import human_size, plural, printable
from envtui.model import Environment, EnvKind, Package

__all__ = [
    "KIND_TITLES", "SHORT_KIND_TITLES", "environment_facts", "has_conda_records",
    "human_size", "location_hints", "origin_known", "package_origin", "plural", "printable",
    "progress_label", "short_date", "short_ref", "shown_name", "shown_path", "subtitle",
    "tilde",
]

KIND_TITLES: Mapping[EnvKind, str] = {
    EnvKind.VENV: "Virtual environments",
    EnvKind.CONDA: "Conda environments",
    EnvKind.IMAGE: "Docker images",
    EnvKind.CONTAINER: "Docker containers",
}
"""The heading of each kind's group in the inventory table, in display order."""

SHORT_KIND_TITLES: Mapping[EnvKind, str] = {
    EnvKind.VENV: "Virtualenvs",
    EnvKind.CONDA: "Conda envs",
    EnvKind.IMAGE: "Docker images",
    EnvKind.CONTAINER: "Containers",
}
"""The same headings for a narrow name column."""

UNNAMED = "(unnamed)"
"""Shown for an environment whose name is empty."""

FACT_LABELS: Mapping[str, str] = {
    "include_system_site_packages": "system site",
    "site_packages": "site-packages",
    "conda_version": "conda",
    "pixi_manifest": "pixi manifest",
    "short_id": "short id",
    "image_id": "image id",
    "used_by": "used by",
    "repo_digests": "digests",
    "size_rw": "writable",
    "size_root_fs": "root fs",
    "started_at": "started",
    "finished_at": "finished",
}
"""Short labels for `Environment.details` keys, so the label column stays narrow.

Keys not listed are shown with underscores as spaces.
"""

_SIZE_FACTS = frozenset({"size_rw", "size_root_fs"})
_DATE_FACTS = frozenset({"started_at", "finished_at"})


def short_date(iso: str | None) -> str:
    """The calendar date of an ISO 8601 timestamp as recorded (`2025-03-14`), like the CLI.

    Dates rather than "3 minutes ago": the table must not change while nobody touches it.
    Unparseable input is shown verbatim (made printable) so nothing is hidden.
    """
    if not iso:
        return ""
    try:
        return datetime.fromisoformat(iso).date().isoformat()
    except ValueError:
        return printable(iso)


def tilde(text: str, home: str | None) -> str:
    """`text` with a leading home directory written `~`, as a shell would show it."""
    if home and home != "/" and (text == home or text.startswith(home.rstrip("/") + "/")):
        return "~" + text[len(home.rstrip("/")) :]
    return text


def shown_path(path: str, home: str | None) -> str:
    """A path as the screen shows it: `~/...` under home, control characters escaped."""
    return printable(tilde(path, home))


def shown_name(env: Environment) -> str:
    """An environment's name as the screen shows it (escaped; `(unnamed)` when empty)."""
    return printable(env.name) if env.name.strip() else UNNAMED


def short_ref(env: Environment, home: str | None) -> str:
    """Where an environment is, briefly: its path under `~`, or a Docker ref and short ID.

    Tells apart environments that share a name (two `base` conda installations, two
    `.venv` projects, untagged images).
    """
    if env.path:
        return shown_path(env.path, home)
    ident = (env.id or "").removeprefix("sha256:")[:12]
    ref = printable(env.ref)
    return f"{ref} · {printable(ident)}" if ident else ref


def location_hints(envs: Sequence[Environment], home: str | None) -> list[str]:
    """For environments that share a name: where each one is, as briefly as tells them apart.

    Their `short_ref`s without the trailing path components all of them share
    (`~/code/…` and `~/work/…` for `~/code/api-server/.venv` and `~/work/api-server/.venv`).
    """
    refs = [short_ref(env, home) for env in envs]
    if len(envs) < 2 or not all(env.path for env in envs):
        return refs
    split = [ref.split("/") for ref in refs]
    common = 0
    shortest = min(len(parts) for parts in split)
    while common < shortest - 1 and len({parts[-1 - common] for parts in split}) == 1:
        common += 1
    if not common:
        return refs
    return ["/".join(parts[: len(parts) - common]) + "/…" for parts in split]


def subtitle(env: Environment) -> str:
    """`venv`, `venv · poetry`, `conda · base`: kind, manager when it says more, base marker."""
    parts = [env.kind.value]
    if env.manager and env.manager != env.kind.value:
        parts.append(printable(env.manager))
    if env.base:
        parts.append("base")
    return " · ".join(parts)


def progress_label(label: str) -> str:
    """The scan's progress label, or "" when it names nothing.

    Labels are "verb object" ("read data-tools"); one ending in blank space lost its
    object (an environment with an empty name) and would read as a stray verb.
    """
    if not label.strip() or label != label.rstrip():
        return ""
    return printable(label)


def origin_known(pkg: Package) -> bool:
    """Whether `package_origin` knows where `pkg` came from."""
    return pkg.source == "conda" or bool((pkg.installer or "").strip())


def package_origin(pkg: Package) -> str:
    """Where a package came from: its conda channel (or `conda`) for conda records, else
    its installer (pip, uv, ...) or `unknown` without an INSTALLER file, with
    `(editable)` for an editable install.
    """
    if pkg.source == "conda":
        origin = printable(pkg.channel or "conda")
    else:
        origin = printable((pkg.installer or "").strip()) or "unknown"
    return f"{origin} (editable)" if pkg.editable else origin


def has_conda_records(env: Environment) -> bool:
    """Whether the package list needs the conda build and channel columns."""
    return any(p.source == "conda" for p in env.packages)


def _fact_value(value: Any, home: str | None) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(_fact_value(v, home) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(
            f"{printable(str(k))}: {_fact_value(v, home)}" for k, v in value.items()
        )
    return shown_path(str(value), home)


def _detail_fact(key: str, value: Any) -> tuple[str, Any]:
    label = FACT_LABELS.get(key, key.replace("_", " "))
    if key in _SIZE_FACTS and isinstance(value, int):
        return label, human_size(value)
    if key in _DATE_FACTS and isinstance(value, str):
        return label, short_date(value)
    return printable(label), value


def _reclaimable(env: Environment) -> str:
    """What removing it frees, when less than its size (files shared with caches)."""
    if env.reclaimable_bytes is None or env.reclaimable_bytes == env.size_bytes:
        return ""
    return f"{human_size(env.reclaimable_bytes)} (the rest is shared with package caches " \
        "or other environments)"


def environment_facts(env: Environment, home: str | None = None,
                      cleanup: Sequence[str] = ()) -> Iterator[tuple[str, str]]:
    """(label, value) pairs describing one environment, empty values left out.

    Paths under `home` are shortened to `~/...`: the pane is narrow and home is implied.
    Lists are comma-separated, mappings `key: value, ...`; everything is printable.
    Base-ness is not repeated here: the subtitle says it.
    """
    facts: list[tuple[str, Any]] = [
        ("path", env.path),
        ("id", env.id),
        ("python", env.python),
        ("packages", str(len(env.packages))),
        ("size", human_size(env.size_bytes) if env.size_bytes is not None else ""),
        ("reclaimable", _reclaimable(env)),
        ("last used", short_date(env.last_used)),
        ("cleanup", "; ".join(cleanup)),
        ("created", short_date(env.created)),
    ]
    details = (_detail_fact(key, value) for key, value in env.details.items())
    facts.extend(sorted(details, key=lambda fact: fact[0]))  # in label order, as shown
    for label, value in facts:
        if value is None or value in ("", [], (), {}):
            continue
        yield label, _fact_value(value, home)
