"""`list` and `check` answered from one small file when nothing changed.

A full Environment holds every package; building thousands of Package objects from the
per-environment cache is most of a warm `list`. What `list` prints is much smaller: an
environment's `list --json` fields, a signature of its package set (for duplicate
detection), and, once `check` ran, its dependency problems. Those summaries live in one
file, each under the fingerprint of the environment it was made from. A warm run walks,
fingerprints every location, reads that one file, and reads nothing else; an environment
whose fingerprint moved is read again (through the per-environment cache) and summarised.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from envtui import __version__
from envtui.inspectors.base import Inspector, Location, ScanContext
from envtui.inspectors.cache import Cache
from envtui.inspectors.discovery import (
    ENGINE_KINDS,
    KIND_ORDER,
    Progress,
    Shared,
    find_locations,
    inspect_fingerprinted,
    read_all,
)
from envtui.model import (
    Environment,
    EnvKind,
    Problem,
    ProblemKind,
    environment_to_dict,
    problem_from_dict,
)

NAMESPACE = "summaries"


@dataclass(frozen=True)
class Summary:
    """What `list` and `check` need of one environment."""

    listing: dict[str, Any]
    """`environment_to_dict(env, with_packages=False)`: exactly what `list --json` prints."""
    signature: str | None
    """Python X.Y and the package set, hashed: equal for duplicate environments. None for
    Docker objects and empty environments, which are never duplicates."""
    sized: bool
    """Whether size and reclaimable bytes were measured (a `check` may skip that walk)."""
    check: tuple[dict[str, Any], ...] | None = None
    """The environment's problems as `check` reports them (problem dicts), once computed."""

    @property
    def ref(self) -> str:
        return str(self.listing["ref"])

    def sort_key(self) -> tuple[int, str, str]:
        """The inventory's order (discovery.sort_key)."""
        return (KIND_ORDER[EnvKind(self.listing["kind"])], str(self.listing["name"]).lower(),
                self.ref)

    def environment(self) -> Environment:
        """An Environment without packages (every problem moved to the environment), for
        code that needs the shape, such as cleanup facts with `signature`."""
        d = self.listing
        return Environment(
            kind=EnvKind(d["kind"]), name=d["name"], manager=d["manager"], path=d["path"],
            id=d["id"], python=d["python"], size_bytes=d["size_bytes"],
            reclaimable_bytes=d["reclaimable_bytes"], last_used=d["last_used"],
            created=d["created"], base=d["base"], details=d["details"],
            problems=tuple(problem_from_dict(p) for p in d["problem_details"]))

    def problems(self) -> list[Problem]:
        return [problem_from_dict(p) for p in self.check or ()]

    def to_json(self) -> dict[str, Any]:
        return {"listing": self.listing, "signature": self.signature, "sized": self.sized,
                "check": None if self.check is None else list(self.check)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Summary:
        check = d.get("check")
        return cls(dict(d["listing"]), d.get("signature"), bool(d["sized"]),
                   None if check is None else tuple(check))


def signature(env: Environment) -> str | None:
    if env.kind in ENGINE_KINDS or not env.packages:
        return None
    import hashlib

    python = ".".join((env.python or "").split(".")[:2])
    pairs = sorted({(p.key, p.version) for p in env.packages})
    text = "\n".join([python, *(f"{k}=={v}" for k, v in pairs)])
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def summarize(env: Environment, *, sized: bool, check: bool) -> Summary:
    problems = None
    if check:
        from envtui.model import problem_to_dict
        from envtui.resolver.checks import check_environment

        problems = tuple(problem_to_dict(p) for p in check_environment(env))
    return Summary(environment_to_dict(env, with_packages=False), signature(env), sized,
                   problems)


class SummaryStore:
    """The summaries of every environment seen, one entry of the persistent cache:
    {location key: {fingerprint, summary}}, for this envtui version.

    Saved when something changed; two envtui runs saving at once lose one run's new
    entries, which the next run makes again.
    """

    KEY = "every environment"

    def __init__(self, cache: Cache) -> None:
        self.cache = cache
        self.entries: dict[str, dict[str, Any]] = {}
        self.changed = False
        self.lock = threading.Lock()
        stored = cache.load(NAMESPACE, self.KEY)
        if (isinstance(stored, dict) and stored.get("version") == __version__
                and isinstance(stored.get("entries"), dict)):
            self.entries = stored["entries"]

    def get(self, key: str, fingerprint: str) -> Summary | None:
        entry = self.entries.get(key)
        if not isinstance(entry, dict) or entry.get("fingerprint") != fingerprint:
            return None
        try:
            return Summary.from_json(entry["summary"])
        except (KeyError, TypeError, ValueError):
            return None

    def put(self, key: str, fingerprint: str, summary: Summary) -> None:
        with self.lock:
            self.entries[key] = {"fingerprint": fingerprint, "summary": summary.to_json()}
            self.changed = True

    def save(self, seen: Iterable[str], scanned: frozenset[EnvKind], engine_seen: bool) -> None:
        """Store the entries if anything changed, dropping those of environments that are
        gone: a prefix no longer there, or a Docker object the engine no longer lists."""
        if not self.changed:
            return
        seen = set(seen)
        keep: dict[str, dict[str, Any]] = {}
        for key, entry in self.entries.items():
            kind, _, ref = key.partition(":")
            if key not in seen:
                if kind in (EnvKind.VENV, EnvKind.CONDA) and not os.path.isdir(ref):
                    continue
                if kind in scanned and kind not in (EnvKind.VENV, EnvKind.CONDA) and engine_seen:
                    continue
            keep[key] = entry
        self.cache.store(NAMESPACE, self.KEY, {"version": __version__, "entries": keep})


@dataclass(frozen=True)
class SummaryInventory:
    summaries: tuple[Summary, ...]
    """In inventory order."""
    problems: tuple[Problem, ...]
    """Problems with the scan itself."""


def summaries(ctx: ScanContext, *, check: bool = False, refresh: bool = False,
              progress: Progress | None = None,
              cancelled: Callable[[], bool] | None = None) -> SummaryInventory:
    """Every environment `ctx` asks for, summarised; with `check`, each with its problems.

    `check` alone skips the size walk of environments it must read (their summaries say
    so, and a later `list` reads them again with sizes).
    """
    ctx = ctx.fresh()
    cache = Cache(ctx.cache_dir)
    store = SummaryStore(cache)
    need_sizes = not check
    found = find_locations(ctx, progress, cancelled)
    done: list[Summary] = []
    todo: list[tuple[Location, Inspector]] = []
    fingerprints: dict[str, str | None] = {}
    hits: dict[str, Summary] = {}
    for loc, insp in found:  # the warm path: a few stats per environment, nothing read
        key = f"{loc.kind}:{loc.ref}"
        try:
            fp = fingerprints[key] = insp.fingerprint(loc)
        except Exception:  # read() turns the failure into a listed, unreadable environment
            fp = fingerprints[key] = None
        hit = store.get(key, fp) if fp is not None and not refresh else None
        if hit and (hit.sized or not need_sizes) and (hit.check is not None or not check):
            done.append(hit)
            continue
        if hit:
            hits[key] = hit
        todo.append((loc, insp))

    def summary_of(loc: Location, insp: Inspector, fresh: bool,
                   made: Summary | None = None) -> Summary:
        """Summarise `loc` (or take `made`, the read helper's summary of it) and store it."""
        key = f"{loc.kind}:{loc.ref}"
        fp, hit = fingerprints[key], hits.get(key)
        # Listed before, never checked: only the check is new.
        listed = hit is not None and (hit.sized or not need_sizes)
        if made is None:
            sized = need_sizes and not listed
            env = inspect_fingerprinted(loc, insp, cache, fp, fresh and not listed, sizes=sized)
            made = summarize(env, sized=sized, check=check)
        if hit and listed:
            summary = replace(hit, check=made.check)
        elif hit and made.check is None:  # same fingerprint: the old check holds
            summary = replace(made, check=hit.check)
        else:
            summary = made
        if fp is not None:
            store.put(key, fp, summary)
        return summary

    def read(loc: Location, insp: Inspector) -> Summary:
        return summary_of(loc, insp, refresh)

    def take_up(loc: Location, insp: Inspector, made: Any) -> Summary:
        return summary_of(loc, insp, False, None if made is None else Summary.from_json(made))

    if todo:
        # The helper summarises what it reads as `read` would, sizes included when needed.
        shared = Shared(ctx, refresh, need_sizes, take_up, {"check": check})
        done += read_all(todo, read, lambda s: str(s.listing["name"] or s.ref),
                         progress=progress, cancelled=cancelled, shared=shared)
    engine_seen = not any(p.kind is ProblemKind.ENGINE for p in ctx.problems)
    store.save(fingerprints, ctx.kinds, engine_seen)
    return SummaryInventory(tuple(sorted(done, key=Summary.sort_key)), ctx.problems)
