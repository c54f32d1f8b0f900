"""Finding every environment: known places, a bounded walk, then parallel inspection.

The walk descends each root breadth-first, a level at a time in a thread pool (directory
listing is I/O bound and releases the GIL). It never follows symlinks, visits each
(device, inode) once, stops at `max_depth`, prunes VCS, dependency and cache directories,
and does not descend into an environment once found (except a conda root's `envs/`).
Unreadable directories become one problem each and the walk goes on.

Each environment found is then read by its inspector, unless the persistent cache holds a
result under the same fingerprint.
"""

from __future__ import annotations

import functools
import os
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from envtui.format import plural
from envtui.inspectors.base import Inspector, Location, ScanContext
from envtui.inspectors.cache import Cache
from envtui.inspectors.registry import inspectors as registered
from envtui.model import (
    Environment,
    EnvKind,
    Inventory,
    Problem,
    ProblemKind,
    environment_from_dict,
    environment_to_cache,
)

if TYPE_CHECKING:
    from concurrent.futures import Future

    from envtui.inspectors.read_helper import Summaries

T = TypeVar("T")
Progress = Callable[[int, int | None, str], None]
"""progress(done, total or None while unknown, label); called from worker threads."""

PRUNE = frozenset({
    ".git", ".hg", ".svn", "node_modules", "__pycache__", ".cache", ".npm", ".cargo",
    ".rustup", ".gradle", ".m2", ".tox", ".nox", ".mypy_cache", ".pytest_cache",
    ".ruff_cache", "site-packages", ".Trash", "Trash", "pkgs", ".docker", "snap",
    ".envtui",  # a fix's snapshot: a copy of its environment, not another one
})
KIND_ORDER = {EnvKind.VENV: 0, EnvKind.CONDA: 1, EnvKind.IMAGE: 2, EnvKind.CONTAINER: 3}
ENGINE_READERS = 8
"""Threads reading Docker images and containers: they mostly wait on the engine."""
ENGINE_KINDS = frozenset({EnvKind.IMAGE, EnvKind.CONTAINER})
WALKERS = 4
"""Threads listing directories: enough to overlap I/O waits on cold or network disks."""
PROGRESS_EVERY = 0.1
"""Seconds between progress reports during the walk."""
CANCEL_POLL = 0.05
"""Seconds at most between two looks at `cancelled()` while environments are read."""


class ScanCancelled(Exception):
    """The caller's `cancelled()` returned True; the partial result is dropped."""


@dataclass
class _Walk:
    inspectors: list[Inspector]
    exclude: frozenset[str]
    markers: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        self.markers = frozenset().union(*(i.markers for i in self.inspectors))

    def visit(self, d: str) -> tuple[list[Location], list[tuple[str, tuple[int, int]]],
                                     Problem | None]:
        """List one directory: the environments it is, and the subdirectories to walk.

        Each subdirectory is identified by `d`'s device and the inode its directory entry
        carries: no stat per entry. (A mount point's entry carries its inode in `d`'s
        filesystem, so the pair is still unique; its own children get its device.)
        """
        names: set[str] = set()
        dirs: list[tuple[str, str, int]] = []
        try:
            dev = os.stat(d).st_dev
            with os.scandir(d) as it:
                for e in it:
                    names.add(e.name)
                    try:
                        if e.is_dir(follow_symlinks=False):
                            dirs.append((e.name, e.path, e.inode()))
                    except OSError:
                        continue
        except OSError as err:
            return [], [], Problem(ProblemKind.UNREADABLE, f"{d}: unreadable ({err.strerror})")
        found: list[Location] = []
        if names & self.markers:
            for insp in self.inspectors:
                if names & insp.markers:
                    loc = insp.identify(Path(d))
                    if loc is not None:
                        found.append(loc)
        if found:
            # An environment's insides are not walked; a conda root's envs/ still is.
            dirs = [x for x in dirs if x[0] == "envs" and found[0].base]
        subdirs = [(path, (dev, ino)) for name, path, ino in dirs
                   if name not in PRUNE and path not in self.exclude]
        return found, subdirs, None


class _Walker:
    """A fixed set of threads sharing one stack of directories still to list.

    Threads rather than one task per directory: memory stays bounded on homes with
    hundreds of thousands of directories, and progress and cancellation are seen at once.
    """

    def __init__(self, w: _Walk, max_depth: int, cancelled: Callable[[], bool]) -> None:
        self.w, self.max_depth, self.cancelled = w, max_depth, cancelled
        self.cv = threading.Condition()
        self.todo: list[tuple[str, int]] = []
        """(directory, depth) still to list."""
        self.busy = 0
        self.stopped = False
        self.seen: set[tuple[int, int]] = set()
        self.found: list[Location] = []
        self.problems: list[Problem] = []
        self.visited = 0

    def add_root(self, root: Path) -> None:
        try:
            st = os.stat(root)
        except OSError:
            return
        if (st.st_dev, st.st_ino) not in self.seen:
            self.seen.add((st.st_dev, st.st_ino))
            self.todo.append((str(root), 0))

    def done(self) -> bool:
        return self.stopped or (not self.todo and self.busy == 0)

    def work(self) -> None:
        while True:
            with self.cv:
                while not self.todo and not self.done():
                    self.cv.wait()
                if self.done():
                    self.cv.notify_all()
                    return
                d, depth = self.todo.pop()
                self.busy += 1
            found, subdirs, problem = self.w.visit(d)
            with self.cv:
                self.busy -= 1
                self.visited += 1
                self.found += found
                if problem:
                    self.problems.append(problem)
                if depth < self.max_depth:
                    for path, ident in subdirs:
                        if ident not in self.seen:
                            self.seen.add(ident)
                            self.todo.append((path, depth + 1))
                if self.cancelled():
                    self.stopped = True
                self.cv.notify_all()


def _walk_label(directories: int, environments: int) -> str:
    dirs = "1 directory" if directories == 1 else f"{directories} directories"
    return f"walked {dirs}, {plural(environments, 'environment')}"


def walk(ctx: ScanContext, roots: Iterable[Path], insps: list[Inspector],
         progress: Progress | None, cancelled: Callable[[], bool]) -> list[Location]:
    """Every environment under `roots`, to `ctx.max_depth` levels below each."""
    walker = _Walker(_Walk(insps, frozenset(str(p) for p in ctx.exclude)), ctx.max_depth,
                     cancelled)
    for root in roots:
        walker.add_root(root)
    threads = [threading.Thread(target=walker.work, name=f"envtui-walk-{i}", daemon=True)
               for i in range(WALKERS)]
    for t in threads:
        t.start()
    with walker.cv:
        while not walker.done():
            walker.cv.wait(PROGRESS_EVERY)
            if cancelled():
                walker.stopped = True
                walker.cv.notify_all()
            elif progress:
                progress(walker.visited, None, _walk_label(walker.visited, len(walker.found)))
    for t in threads:
        t.join()
    if walker.stopped:
        raise ScanCancelled
    for problem in sorted(walker.problems, key=lambda p: p.detail):
        ctx.report(problem)
    return walker.found


def _identity(loc: Location) -> str:
    """What makes two Locations the same environment: the prefix directory itself (its
    device and inode, one stat where a real path costs one per component), or an ID."""
    key = loc.ref
    if loc.kind in (EnvKind.VENV, EnvKind.CONDA):
        try:
            st = os.stat(loc.ref)
            key = f"{st.st_dev}:{st.st_ino}"
        except (OSError, ValueError):
            key = os.path.realpath(loc.ref)
    return f"{loc.kind}:{key}"


def _failed(loc: Location, error: Exception) -> Environment:
    """A stand-in for an environment whose inspector crashed: listed, with the reason."""
    return Environment(
        kind=loc.kind, name=Path(loc.ref).name or loc.ref, manager=loc.hint or "unknown",
        path=loc.ref if loc.kind in (EnvKind.VENV, EnvKind.CONDA) else None,
        problems=(Problem(ProblemKind.UNREADABLE,
                          f"{loc.ref}: could not be inspected ({type(error).__name__}: {error})"),),
    )


def inspect(loc: Location, insp: Inspector, cache: Cache | None,
            refresh: bool = False, *, sizes: bool = True) -> Environment:
    """Read one environment, through the cache when its fingerprint is unchanged.

    With `refresh`, read afresh whatever the cache holds, and store the new result.
    Without `sizes`, the read may skip the size walk (see `Inspector.read_without_sizes`);
    an entry stored that way serves later calls without `sizes` only.
    """
    try:
        fp = insp.fingerprint(loc) if cache else None
    except Exception as e:  # one bad environment must not end the scan
        return _failed(loc, e)
    return inspect_fingerprinted(loc, insp, cache, fp, refresh, sizes=sizes)


def inspect_fingerprinted(loc: Location, insp: Inspector, cache: Cache | None,
                          fp: str | None, refresh: bool = False, *,
                          sizes: bool = True) -> Environment:
    """`inspect` for a caller that already has the location's fingerprint (None: do not
    cache)."""
    try:
        key = f"{loc.kind}:{loc.ref}"
        if cache and fp is not None and not refresh:
            hit = cache.load("env", key)
            if (isinstance(hit, dict) and hit.get("fingerprint") == fp
                    and (hit.get("sized", True) or not sizes)):
                try:
                    return environment_from_dict(hit["env"])
                except (KeyError, TypeError, ValueError):
                    pass  # an entry from an older shape: read afresh
        env = insp.read(loc) if sizes else insp.read_without_sizes(loc)
        if cache and fp is not None:
            cache.store("env", key, {"fingerprint": fp, "sized": sizes,
                                     "env": environment_to_cache(env)})
        return env
    except Exception as e:  # one bad environment must not end the scan
        return _failed(loc, e)


def sort_key(env: Environment) -> tuple[int, str, str]:
    return KIND_ORDER[env.kind], env.name.lower(), env.ref


def scan(ctx: ScanContext, *, use_cache: bool = True, refresh: bool = False,
         sizes: bool = True, progress: Progress | None = None,
         cancelled: Callable[[], bool] | None = None,
         on_environment: Callable[[Environment], None] | None = None) -> Inventory:
    """Find and read every environment the context asks for.

    `use_cache=False` neither reads nor writes the cache; `refresh=True` re-reads every
    environment and updates the cache with what it finds; `sizes=False` allows skipping
    the size walk. `on_environment` is called with each environment as soon as it has been
    read (from this thread, in completion order), so a caller can show results before the
    slowest one is done.
    """
    ctx = ctx.fresh()  # problems belong to this scan, not to earlier ones with the same ctx
    cache = Cache(ctx.cache_dir) if use_cache else None

    def read(loc: Location, insp: Inspector) -> Environment:
        return inspect(loc, insp, cache, refresh, sizes=sizes)

    def take_up(loc: Location, insp: Inspector, _summary: Any) -> Environment:
        return inspect(loc, insp, cache, sizes=sizes)

    shared = Shared(ctx, refresh, sizes, take_up) if cache else None
    envs = read_all(find_locations(ctx, progress, cancelled), read, lambda e: e.name or e.ref,
                    progress=progress, cancelled=cancelled, on_result=on_environment,
                    shared=shared)
    return Inventory(tuple(sorted(envs, key=sort_key)), ctx.problems)


def find_locations(ctx: ScanContext, progress: Progress | None = None,
                   cancelled: Callable[[], bool] | None = None,
                   ) -> list[tuple[Location, Inspector]]:
    """Every environment `ctx` asks for, with its inspector, not read yet: known places
    (the Docker engine's listing among them, asked while the walk goes on), then what the
    walk found. The first Location of an environment wins, so a known place's manager hint
    does. Scan problems go to `ctx`."""
    is_cancelled = cancelled or (lambda: False)
    insps = registered(ctx.kinds)
    by_kind: dict[EnvKind, Inspector] = {}
    for insp in insps:
        by_kind.setdefault(insp.kind, insp)
    located: list[list[Location]] = [[] for _ in insps]

    def locate(i: int) -> None:
        located[i] = _locate(insps[i], ctx)

    threads = [threading.Thread(target=locate, args=(i,), name=f"envtui-locate-{i}",
                                daemon=True) for i in range(len(insps))]
    for t in threads:
        t.start()
    roots = ([ctx.home] if ctx.walk_home else []) + list(ctx.roots)
    try:
        walked = walk(ctx, roots, [i for i in insps if i.markers], progress, is_cancelled)
    finally:
        for t in threads:
            t.join()
    found: dict[str, tuple[Location, Inspector]] = {}
    for loc in [*(loc for locs in located for loc in locs), *walked]:
        key = _identity(loc)
        if loc.kind in ctx.kinds and key not in found:
            found[key] = (loc, _owner(loc, by_kind))
    return list(found.values())


@dataclass(frozen=True)
class Shared(Generic[T]):
    """How `read_all` may hand part of the filesystem environments to a helper process
    (read_helper): what the helper must read with, and how to take up its results."""

    ctx: ScanContext
    refresh: bool
    sizes: bool
    take_up: Callable[[Location, Inspector, Any], T]
    """The result for a location the helper has read, given its summary of it (None when
    not asked for one): reads through the cache, whatever `refresh` says."""
    summaries: Summaries | None = None
    """Asks the helper to summarise what it reads, so the scan need not (summaries.py)."""


def read_all(found: Iterable[tuple[Location, Inspector]],
             read: Callable[[Location, Inspector], T], label: Callable[[T], str], *,
             progress: Progress | None = None, cancelled: Callable[[], bool] | None = None,
             on_result: Callable[[T], None] | None = None,
             shared: Shared[T] | None = None) -> list[T]:
    """`read` every location; results in completion order.

    Filesystem environments are read by one thread: their reading is Python-bound, and
    more threads only contend for the GIL (measured: 8 threads took twice as long as one).
    With `shared`, a helper process on another core reads them too, from the other end of
    the list, into the cache (see read_helper). Engine reads mostly wait on the engine and
    get threads of their own.
    """
    is_cancelled = cancelled or (lambda: False)
    found = list(found)
    disk = [(loc, insp) for loc, insp in found if loc.kind not in ENGINE_KINDS]
    helper = None
    if shared is not None:
        from envtui.inspectors.read_helper import Helper, key

        # The helper starts at the far end and works inwards while this process starts at
        # the near end, taking what the helper already read from the cache: the two meet
        # wherever their speeds put them (a scan inside the app reads slower, between redraws).
        disk.sort(key=lambda found: key(found[0]))  # the helper reads in reverse
        helper = Helper.start([loc for loc, _ in reversed(disk)], shared.ctx,
                              refresh=shared.refresh, sizes=shared.sizes,
                              summaries=shared.summaries)

    def take_up(loc: Location, insp: Inspector) -> T:
        """Read `loc`, unless the helper already did."""
        if helper is not None and shared is not None and helper.has_read(loc):
            return shared.take_up(loc, insp, helper.summary(loc))
        return read(loc, insp)

    remote = [(loc, insp) for loc, insp in found if loc.kind in ENGINE_KINDS]
    files = _Readers(min(1, len(disk)), "envtui-read")
    engine = _Readers(min(ENGINE_READERS, len(remote)), "envtui-engine")
    futures: list[Future[T]] = []
    results: list[T] = []
    try:
        futures += [engine.submit(read, loc, insp) for loc, insp in remote]
        futures += [files.submit(take_up, loc, insp) for loc, insp in disk]
        finished: queue.SimpleQueue[Future[T]] = queue.SimpleQueue()
        for fut in futures:
            fut.add_done_callback(finished.put)
        for done in range(1, len(futures) + 1):
            results.append(_next_done(finished, is_cancelled).result())
            if on_result:
                on_result(results[-1])
            if progress:
                progress(done, len(futures), f"read {label(results[-1])}")
    except BaseException:
        # Cancelled or failed: the reads queued are dropped, those in flight abandoned.
        for fut in futures:
            fut.cancel()
        raise
    finally:
        for pool in (engine, files):
            pool.shutdown()
        if helper is not None:
            helper.close()
    return results


def _next_done(finished: queue.SimpleQueue[Future[T]],
               is_cancelled: Callable[[], bool]) -> Future[T]:
    """The next future to finish; ScanCancelled once `is_cancelled()`, which is looked at
    while waiting too: one environment's read can take seconds."""
    while True:
        try:
            fut: Future[T] | None = finished.get(timeout=CANCEL_POLL)
        except queue.Empty:
            fut = None
        if is_cancelled():
            raise ScanCancelled
        if fut is not None:
            return fut


class _Readers:
    """Threads running the calls submitted, in order, into futures, like a
    ThreadPoolExecutor's but daemons. An executor's threads are joined when the interpreter
    exits, so a scan stopped by Ctrl-C or by leaving the app waited for the environment
    being read (one of 5,000 distributions takes seconds); here that read is abandoned
    (cache writes are atomic)."""

    def __init__(self, threads: int, name: str) -> None:
        self._calls: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = (
            queue.SimpleQueue())
        self._threads = threads
        for i in range(threads):
            threading.Thread(target=self._serve, name=f"{name}_{i}", daemon=True).start()

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        from concurrent.futures import Future

        future: Future[T] = Future()
        self._calls.put((future, functools.partial(fn, *args)))
        return future

    def _serve(self) -> None:
        while (item := self._calls.get()) is not None:
            future, call = item
            if future.set_running_or_notify_cancel():  # False: cancelled while queued
                try:
                    future.set_result(call())
                except BaseException as e:
                    future.set_exception(e)

    def shutdown(self) -> None:
        """Let the threads end after the calls queued (at once; cancelled ones are skipped)."""
        for _ in range(self._threads):
            self._calls.put(None)


def _owner(loc: Location, by_kind: dict[EnvKind, Inspector]) -> Inspector:
    # Docker images and containers share one inspector registered under one of the kinds.
    if loc.kind in by_kind:
        return by_kind[loc.kind]
    return next(i for k, i in by_kind.items() if k in (EnvKind.IMAGE, EnvKind.CONTAINER))


def _locate(insp: Inspector, ctx: ScanContext) -> list[Location]:
    try:
        return list(insp.locate(ctx))
    except Exception as e:
        ctx.report(Problem(ProblemKind.UNREADABLE,
                           f"{insp.kind} discovery failed: {type(e).__name__}: {e}"))
        return []


def inspect_path(ctx: ScanContext, path: Path, *, use_cache: bool = True,
                 refresh: bool = False) -> Environment | None:
    """Read the environment at `path` directly, without a scan; None if it is not one."""
    path = Path(os.path.abspath(path))  # keep the user's symlinks, drop "..", be absolute
    cache = Cache(ctx.cache_dir) if use_cache else None
    for insp in registered(frozenset({EnvKind.VENV, EnvKind.CONDA}) & ctx.kinds):
        loc = insp.identify(path)
        if loc is not None:
            # A path under a known location keeps the manager that location implies.
            known = {Path(k.ref).resolve(): k for k in _locate_quiet(insp, ctx)}
            return inspect(known.get(path.resolve(), loc), insp, cache, refresh)
    return None


def _locate_quiet(insp: Inspector, ctx: ScanContext) -> list[Location]:
    try:
        return list(insp.locate(ScanContext(home=ctx.home, environ=ctx.environ)))
    except Exception:
        return []


def find_environment(inventory: Inventory, ref: str) -> Environment:
    """The environment `ref` names: a path, `image:REF`, `container:NAME` or a unique name.

    Raises LookupError with a one-line message when nothing or more than one matches.
    """
    envs = inventory.environments
    kind_prefix, _, rest = ref.partition(":")
    if kind_prefix in KIND_ORDER and rest:
        kind = EnvKind(kind_prefix)
        matches = [e for e in envs if e.kind is kind and (
            _docker_match(e, rest) if kind in (EnvKind.IMAGE, EnvKind.CONTAINER)
            else e.name == rest)]
    else:
        real = os.path.realpath(ref) if os.path.exists(ref) else None
        matches = [e for e in envs if e.path and real and os.path.realpath(e.path) == real]
        if not matches:
            matches = [e for e in envs if e.name == ref]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        engine = next((p.detail for p in inventory.problems if p.kind == ProblemKind.ENGINE),
                      None)
        if engine and kind_prefix in (EnvKind.IMAGE, EnvKind.CONTAINER):
            # Not "no such image": the engine that would know could not be asked.
            raise LookupError(f"cannot look up {ref!r}: {engine}")
        raise LookupError(f"no environment named {ref!r} (see `envtui list`)")
    refs = ", ".join(e.ref for e in matches)
    kinds = {e.kind for e in matches}
    how = "a path" if len(kinds) == 1 else "a path or KIND:NAME (" + ", ".join(
        f"{k}:{ref}" for k in sorted(kinds, key=KIND_ORDER.__getitem__)) + ")"
    raise LookupError(f"{ref!r} is ambiguous: it names {refs}; give {how}")


def _docker_match(env: Environment, ref: str) -> bool:
    tags = env.details.get("tags") or []
    names = {env.name, *tags}
    if ":" not in ref:
        names |= {t.rsplit(":", 1)[0] for t in tags if t.endswith(":latest")}
    ident = (env.id or "").removeprefix("sha256:")
    short = ref.removeprefix("sha256:")
    return ref in names or (len(short) >= 4 and ident.startswith(short))
