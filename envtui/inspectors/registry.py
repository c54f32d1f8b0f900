"""The one place inspectors are registered. Heavy modules (docker) load only when used."""

from __future__ import annotations

from envtui.inspectors.base import Inspector
from envtui.model import EnvKind


def inspectors(kinds: frozenset[EnvKind] = frozenset(EnvKind)) -> list[Inspector]:
    """One instance of each registered inspector whose kind is wanted."""
    found: list[Inspector] = []
    if EnvKind.VENV in kinds:
        from envtui.inspectors.venv import VenvInspector

        found.append(VenvInspector())
    if EnvKind.CONDA in kinds:
        from envtui.inspectors.conda import CondaInspector

        found.append(CondaInspector())
    if kinds & {EnvKind.IMAGE, EnvKind.CONTAINER}:
        from envtui.inspectors.docker import DockerInspector

        found.append(DockerInspector(kinds))
    return found
