"""What a fix plan does to an environment: one action per package that changes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ActionKind(StrEnum):
    INSTALL = "install"
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"
    REMOVE = "remove"


@dataclass(frozen=True)
class Action:
    """One package changing: installed, moved to another version, or removed."""

    name: str
    """The project name as the index or metadata spells it."""
    from_version: str | None
    """Installed version now; None for an install."""
    to_version: str | None
    """Version after the plan; None for a removal."""
    kind: ActionKind

    def describe(self) -> str:
        if self.kind is ActionKind.INSTALL:
            return f"install {self.name} {self.to_version}"
        if self.kind is ActionKind.REMOVE:
            return f"remove {self.name} {self.from_version}"
        return f"{self.kind.value} {self.name} {self.from_version} -> {self.to_version}"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "from": self.from_version, "to": self.to_version,
                "action": self.kind.value}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Action:
        return cls(name=str(data["name"]), from_version=data.get("from"),
                   to_version=data.get("to"), kind=ActionKind(data["action"]))
