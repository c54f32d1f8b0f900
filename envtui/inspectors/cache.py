"""A persistent cache of inspection results in the XDG cache directory.

One JSON file per (namespace, key), written atomically (temp file, then rename) so a
crash or a concurrent envtui never leaves a half-written entry. A corrupt or unreadable
entry is treated as a miss. Values must be JSON-serialisable.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FORMAT = 3
"""Bump when the cached shapes change; older entries then become misses."""


def default_cache_dir(home: Path, environ: Mapping[str, str]) -> Path:
    """$XDG_CACHE_HOME/envtui, else ~/.cache/envtui."""
    base = environ.get("XDG_CACHE_HOME") or str(home / ".cache")
    return Path(base) / "envtui"


class Cache:
    """Namespaced key/value store on disk."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, namespace: str, key: str) -> Path:
        digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32]
        return self.directory / f"v{FORMAT}" / namespace / f"{digest}.json"

    def load(self, namespace: str, key: str) -> Any | None:
        """The value stored under `key`, or None when absent or unreadable."""
        try:
            with open(self._path(namespace, key), "rb") as f:
                entry = json.load(f)
        except (OSError, ValueError, RecursionError):
            return None
        if not isinstance(entry, dict) or entry.get("key") != key:
            return None  # a hash collision or a foreign file
        return entry.get("value")

    def store(self, namespace: str, key: str, value: Any) -> None:
        """Store `value` under `key`; failures to write are ignored (the cache is optional)."""
        import tempfile  # here: a warm run stores nothing, and the import is not free

        path = self._path(namespace, key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                # dumps, not dump: json.dump to a file runs the pure-Python encoder.
                f.write(json.dumps({"key": key, "value": value}, separators=(",", ":")))
            os.replace(tmp, path)
        except OSError:
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(tmp)
