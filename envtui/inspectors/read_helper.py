"""A second process that reads filesystem environments into the cache while the scan reads.

Reading venvs and conda envs is Python-bound (open, parse, stat), so threads in one process
take turns on the GIL and a scan uses one core. A cold scan therefore hands its filesystem
environments to a helper too: `python -P -m envtui.inspectors.read_helper`, envtui's own
interpreter (never an inspected environment's), which reads them through the persistent
cache exactly as the scan would (`discovery.inspect`) and says which are done, with their
summaries when `list` or `check` asks (summaries.py). The scan then takes those up from the
cache (or the summary) instead of reading them. Both go through the list in the same order
(by path), the helper from the far end and the scan from the near end, so neither waits
for the other and they meet wherever their speeds put them; an environment both reach at
once is read twice, harmlessly (cache writes are atomic). If the helper fails, is slow or
is killed, the scan simply reads everything itself.

The app starts its helper first thing (`prestart`), before importing Textual: that helper
finds the environments itself, with the same walk, and is reading by the time the app's
scan has found them.

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
from typing import Any, TypedDict

from envtui.inspectors.base import Location, ScanContext
from envtui.model import EnvKind


class Summaries(TypedDict):
    """Asks the helper to summarise what it reads as `list` and `check` do (summaries.py)."""

    check: bool
    """Whether the summary includes the environment's dependency check."""


MIN_SHARE = 8
"""Environments below which a helper is not worth its start (about 60 ms of imports)."""
DISK_KINDS = frozenset({EnvKind.VENV, EnvKind.CONDA})
"""What a helper reads: engine reads mostly wait on the engine and stay in the scan."""


def cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def key(loc: Location) -> str:
    """How the helper names a location it has read; the scan reads filesystem
    environments in the order of their keys, the helper in reverse."""
    return f"{loc.kind.value}:{loc.ref}"


def _terms(ctx: ScanContext, refresh: bool, sizes: bool,
           summaries: Summaries | None) -> dict[str, Any]:
    """Everything a helper reads with: the same terms mean the same results."""
    return {"cache_dir": str(ctx.cache_dir), "refresh": refresh, "sizes": sizes,
            "summaries": summaries,
            "context": {"home": str(ctx.home), "environ": dict(ctx.environ),
                        "roots": [str(p) for p in ctx.roots],
                        "exclude": [str(p) for p in ctx.exclude],
                        "walk_home": ctx.walk_home, "max_depth": ctx.max_depth,
                        "kinds": sorted(k.value for k in ctx.kinds & DISK_KINDS)}}


class Helper:
    """A running helper process and which environments it has read so far."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.terms: dict[str, Any] | None = None
        """What it was asked to read with (its request without the locations)."""
        self._done: dict[str, Any] = {}
        """`key(location)` -> the helper's summary of it (None if it was not asked for)."""
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._follow, name="envtui-read-helper",
                                         daemon=True)
        self._thread.start()

    @classmethod
    def start(cls, share: Sequence[Location], ctx: ScanContext, *, refresh: bool,
              sizes: bool, summaries: Summaries | None = None) -> Helper | None:
        """A helper reading `share` in order, or None when one is not worth it or cannot
        start (the caller then reads everything itself). With `summaries`, it also
        summarises each environment read (see `summary`). The helper `prestart` made is
        taken instead when it reads with the same terms."""
        if len(share) < MIN_SHARE:
            return None
        terms = _terms(ctx, refresh, sizes, summaries)
        spare = _take_spare()
        if spare is not None:
            if spare.terms == terms:
                return spare  # already finding and reading the same environments
            spare.close()
        helper = cls.spawn()
        locations = [[loc.kind.value, loc.ref, loc.hint, loc.base] for loc in share]
        if helper is None or not helper._ask(terms | {"locations": locations}):
            return None
        return helper

    @classmethod
    def spawn(cls) -> Helper | None:
        """A helper process, importing what it reads with while it waits for its request;
        None where helpers are not used (one core, not POSIX) or it cannot start."""
        if cores() < 2 or os.name != "posix":
            return None
        try:
            proc = subprocess.Popen(
                # -P: never import from the current directory (an `envtui/` there would run).
                [sys.executable, "-P", "-m", "envtui.inspectors.read_helper"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                close_fds=True)
        except OSError:
            return None
        return cls(proc)

    def _ask(self, request: dict[str, Any]) -> bool:
        """Send the request; False (and the helper told to stop) if it is gone."""
        self.terms = {k: v for k, v in request.items() if k not in ("locations", "walk")}
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps(request).encode() + b"\n")
            self.proc.stdin.flush()  # and stays open: its end tells the helper to stop
        except OSError:  # it died meanwhile
            self.close()
            return False
        return True

    def _follow(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:
            for line in self.proc.stdout:
                name, summary = json.loads(line)
                with self._lock:
                    self._done[name] = summary
        self.proc.wait()  # reaped here, whenever it ends

    def has_read(self, loc: Location) -> bool:
        """Whether the helper has read (and cached) `loc`."""
        with self._lock:
            return key(loc) in self._done

    def summary(self, loc: Location) -> Any:
        """The helper's summary of `loc` (`Summary.to_json()`), if it was asked for
        summaries and has read it; otherwise None."""
        with self._lock:
            return self._done.get(key(loc))

    def close(self) -> None:
        """Tell the helper to stop after the environment it is reading; does not wait."""
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()


_spares: list[Helper] = []
"""The helper `prestart` started, until a scan takes it (at most one)."""
_spares_lock = threading.Lock()


def prestart(ctx: ScanContext) -> None:
    """Start a helper now that finds and reads `ctx`'s filesystem environments as a first
    scan of them would (`discovery.scan`), for that scan to take up.

    The app calls this before importing Textual: the helper's imports and walk run on the
    other core meanwhile, and it is reading when the app's own scan begins. A spare no scan
    takes ends with this process (its stdin closes).
    """
    with _spares_lock:
        if _spares or (helper := Helper.spawn()) is None:
            return
        if helper._ask(_terms(ctx, False, True, None) | {"walk": True}):
            _spares.append(helper)


def _take_spare() -> Helper | None:
    with _spares_lock:
        helper = _spares.pop() if _spares else None
    if helper is not None and helper.proc.poll() is not None:
        return None  # it failed (or was killed): spawn another
    return helper


def _locations(request: dict[str, Any]) -> list[Location]:
    """The request's locations, or those its context's walk finds, in reading order."""
    if not request.get("walk"):
        return [Location(EnvKind(kind), ref, hint=hint, base=base)
                for kind, ref, hint, base in request["locations"]]
    from envtui.inspectors.discovery import find_locations

    c = request["context"]
    ctx = ScanContext(home=Path(c["home"]), environ=c["environ"],
                      roots=tuple(Path(p) for p in c["roots"]),
                      exclude=tuple(Path(p) for p in c["exclude"]), walk_home=c["walk_home"],
                      max_depth=c["max_depth"], kinds=frozenset(EnvKind(k) for k in c["kinds"]))
    return sorted((loc for loc, _ in find_locations(ctx)), key=key, reverse=True)


def main() -> None:
    """The helper: read the request on stdin, then each location, printing its key and
    summary as a JSON line."""
    from envtui.inspectors.cache import Cache
    from envtui.inspectors.discovery import inspect
    from envtui.inspectors.registry import inspectors

    stdin = sys.stdin.buffer
    line = stdin.readline()
    if not line:
        return  # a spare (see prestart) that no scan needed
    request = json.loads(line)
    cache = Cache(Path(request["cache_dir"]))
    summaries: Summaries | None = request["summaries"]
    if summaries is not None:
        from envtui.inspectors.summaries import summarize
    by_kind = {insp.kind: insp for insp in inspectors(DISK_KINDS)}
    for loc in _locations(request):
        if select.select([stdin], [], [], 0)[0]:
            return  # readable means closed: the scan wants no more
        env = inspect(loc, by_kind[loc.kind], cache, request["refresh"], sizes=request["sizes"])
        summary = None
        if summaries is not None:  # what the scan would work out from env, done here
            summary = summarize(env, sized=request["sizes"], check=summaries["check"]).to_json()
        sys.stdout.write(json.dumps([key(loc), summary]) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):  # the scan ended or gave up
        main()
