"""A second process that reads filesystem environments into the cache while the scan reads.

Reading venvs and conda envs is Python-bound (open, parse, stat), so threads in one process
take turns on the GIL and a scan uses one core. A cold scan therefore hands part of its
filesystem environments to a helper: `python -m envtui.inspectors.read_helper`, envtui's own
interpreter (never an inspected environment's), which reads them through the persistent
cache exactly as the scan would (`discovery.inspect`) and says which are done. The scan
then finds those in the cache. The helper works through the list from the far end and the
scan from the near end, so neither waits for the other and they meet wherever their speeds
put them; an environment both reach at once is read twice, harmlessly (cache writes are
atomic). If the helper fails, is slow or is killed, the scan simply reads everything itself.

The helper is told to stop by the end of its stdin (the scan is done, cancelled, or gone):
it stops between two environments, so it is never killed half-way through a cache write.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from envtui.inspectors.base import Location
from envtui.model import EnvKind

MIN_SHARE = 8
"""Environments below which a helper is not worth its start (about 60 ms of imports)."""


def cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class Helper:
    """A running helper process and which of its environments it has read so far."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self._done: set[int] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._follow, name="envtui-read-helper",
                                         daemon=True)
        self._thread.start()

    @classmethod
    def start(cls, share: Sequence[Location], cache_dir: Path, *, refresh: bool,
              sizes: bool) -> Helper | None:
        """A helper reading `share` in order, or None when one is not worth it or cannot
        start (the caller then reads everything itself)."""
        if len(share) < MIN_SHARE or cores() < 2 or os.name != "posix":
            return None
        request = {"cache_dir": str(cache_dir), "refresh": refresh, "sizes": sizes,
                   "locations": [[loc.kind.value, loc.ref, loc.hint, loc.base]
                                 for loc in share]}
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "envtui.inspectors.read_helper"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                close_fds=True)
        except OSError:
            return None
        helper = cls(proc)
        try:
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(request).encode() + b"\n")
            proc.stdin.flush()  # and stays open: its end tells the helper to stop
        except OSError:
            helper.close()
            return None
        return helper

    def _follow(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:
            for line in self.proc.stdout:
                with self._lock:
                    self._done.add(int(line))
        self.proc.wait()  # reaped here, whenever it ends

    def has_read(self, index: int) -> bool:
        """Whether the helper has read (and cached) the `index`th location of its share."""
        with self._lock:
            return index in self._done

    def close(self) -> None:
        """Tell the helper to stop after the environment it is reading; does not wait."""
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()


def main() -> None:
    """The helper: read the request on stdin, then each location, printing its index."""
    from envtui.inspectors.cache import Cache
    from envtui.inspectors.discovery import inspect
    from envtui.inspectors.registry import inspectors

    stdin = sys.stdin.buffer
    request = json.loads(stdin.readline())
    cache = Cache(Path(request["cache_dir"]))
    by_kind = {insp.kind: insp for insp in inspectors(frozenset({EnvKind.VENV, EnvKind.CONDA}))}
    for index, (kind, ref, hint, base) in enumerate(request["locations"]):
        if select.select([stdin], [], [], 0)[0]:
            return  # readable means closed: the scan wants no more
        loc = Location(EnvKind(kind), ref, hint=hint, base=base)
        inspect(loc, by_kind[loc.kind], cache, request["refresh"], sizes=request["sizes"])
        sys.stdout.write(f"{index}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):  # the scan ended or gave up
        main()
