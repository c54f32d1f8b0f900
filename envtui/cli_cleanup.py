"""The cleanup commands: `df`, `rm`, `prune` and `container start|stop`.

The work is envtui.cleanup's; this module parses, previews, asks and prints. It is imported
by every start of the command line, so it imports nothing heavy at module level.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envtui.cli import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, ProgressLine, UsageError
from envtui.format import human_size, printable
from envtui.model import Environment, EnvKind, Inventory

if TYPE_CHECKING:
    from envtui.cleanup import Removal
    from envtui.inspectors.base import ScanContext


def add_parsers(sub: Any, scan_options: Callable[[argparse.ArgumentParser], None]) -> None:
    df = sub.add_parser("df", help="disk use of every environment and Docker object, and "
                                   "what cleanup would reclaim")
    df.add_argument("-v", "--verbose", action="store_true",
                    help="also list every cleanup candidate and why")
    scan_options(df)

    rm = sub.add_parser("rm", help="remove environments, images or containers safely")
    rm.add_argument("envs", nargs="+", metavar="ENV",
                    help="a path, a unique name, image:REF or container:NAME")
    rm.add_argument("--yes", "-y", action="store_true", help="do not ask")
    rm.add_argument("--dry-run", action="store_true", help="show what would be removed, only")
    rm.add_argument("--force", action="store_true",
                    help="remove images used by containers and running containers too")
    scan_options(rm)

    pr = sub.add_parser("prune", help="remove dangling Docker images (no tag, no container)")
    pr.add_argument("--yes", "-y", action="store_true", help="do not ask")
    pr.add_argument("--dry-run", action="store_true", help="show what would be removed, only")
    pr.add_argument("--label", action="append", default=[], metavar="KEY[=VALUE]",
                    help="only images with this label (repeatable: all must match), "
                         "as docker image prune --filter label=...")
    pr.add_argument("--json", action="store_true", help="machine-readable output")

    ct = sub.add_parser("container", help="start or stop a Docker container")
    ct.add_argument("action", choices=["start", "stop"])
    ct.add_argument("name", metavar="NAME", help="the container's name or ID prefix")
    ct.add_argument("--json", action="store_true", help="machine-readable output")


# --- df --------------------------------------------------------------------------------


def cmd_df(args: argparse.Namespace) -> int:
    from envtui.cleanup.facts import cleanup_facts, identity
    from envtui.cleanup.usage import candidate_ids, engine_rows, filesystem_rows, total_row
    from envtui.cli import _context, _scan

    ctx = _context(args)
    inv = _scan(args, frozenset(EnvKind))
    facts = cleanup_facts(inv.environments, stale_days=ctx.stale_days)
    chosen = candidate_ids(inv.environments, facts)
    progress = _progress_for(args)
    try:
        rows, problems = filesystem_rows(inv.environments, chosen, progress=progress)
    finally:
        _clear_progress()
    rows += engine_rows(ctx, inv.environments, chosen)
    rows.append(total_row(rows))
    candidates = [e for e in inv.environments if identity(e) in chosen]
    if args.json:
        print(json.dumps({
            "rows": [{"type": r.label, "total": r.total, "active": r.active,
                      "size_bytes": r.size_bytes, "reclaimable_bytes": r.reclaimable_bytes}
                     for r in rows],
            "stale_days": ctx.stale_days,
            "candidates": [{"ref": e.ref, "kind": e.kind.value,
                            "reasons": list(facts[identity(e)].reasons),
                            "details": list(facts[identity(e)].details),
                            "size_bytes": e.size_bytes,
                            "reclaimable_bytes": e.reclaimable_bytes} for e in candidates],
        }, indent=2))
        return EXIT_OK
    from envtui.cli import _print_scan_problems, _print_table

    _print_table(["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
                 [[r.label, str(r.total), str(r.active), human_size(r.size_bytes),
                   _share(r.reclaimable_bytes, r.size_bytes)] for r in rows])
    if args.verbose and candidates:
        print()
        _print_table(["CANDIDATE", "SIZE", "OWN", "WHY"],
                     [[printable(e.ref), human_size(e.size_bytes),
                       human_size(e.reclaimable_bytes),
                       "; ".join(facts[identity(e)].details)] for e in candidates])
    elif candidates:
        print(f"\n{len(candidates)} cleanup candidates (not used for {ctx.stale_days}+ days, "
              "broken, duplicate, unused); `envtui df -v` lists them")
    for p in problems:
        print(f"envtui: {printable(p.detail)}", file=sys.stderr)
    _print_scan_problems(inv)
    return EXIT_OK


def _share(part: int, whole: int) -> str:
    pct = f" ({round(100 * part / whole)}%)" if whole else ""
    return human_size(part) + pct


_line = ProgressLine()


def _progress_for(args: argparse.Namespace) -> Callable[[int, int, str], None] | None:
    if not sys.stderr.isatty() or getattr(args, "json", False):
        return None
    return _line.show


def _clear_progress() -> None:
    _line.clear()


# --- rm --------------------------------------------------------------------------------


@contextlib.contextmanager
def _engine(ctx: ScanContext) -> Iterator[Any]:
    from envtui.cleanup import Refused
    from envtui.cleanup.remover import docker_api

    try:
        with docker_api(ctx) as api:
            yield api
    except Refused as e:
        raise UsageError(str(e)) from None


def _kinds_named(refs: list[str]) -> frozenset[EnvKind]:
    kinds = {EnvKind.VENV, EnvKind.CONDA}
    for ref in refs:
        prefix = ref.partition(":")[0]
        if prefix in ("image", "container"):
            kinds.add(EnvKind(prefix))
        elif not Path(ref).exists() and "/" not in ref:
            kinds |= {EnvKind.IMAGE, EnvKind.CONTAINER}  # a bare name may be a Docker one
    return frozenset(kinds)


def _target(args: argparse.Namespace, inv: Inventory, ref: str) -> Environment:
    from envtui.cleanup.fs_removal import check_path_argument
    from envtui.cli import _find
    from envtui.inspectors.discovery import find_environment

    if "/" in ref or Path(ref).is_dir():
        check_path_argument(ref)  # before `_find`, which reads through a symlink
        return _find(args, ref)
    try:
        return find_environment(inv, ref)
    except LookupError as e:
        raise UsageError(str(e)) from None


def _preview(removals: list[Removal]) -> None:
    total = 0
    for r in removals:
        total += r.size_bytes or 0
        what = r.target if r.kind in (EnvKind.VENV, EnvKind.CONDA) else r.target[:19]
        print(f"  {printable(r.ref)}  ({r.kind.value}, {human_size(r.size_bytes)}, "
              f"identified by {r.marker})")
        if what != r.ref:
            print(f"    {printable(what)}")
        for note in r.notes:
            print(f"    {printable(note)}")
    print(f"{len(removals)} to remove, {human_size(total)}")


def _confirm(question: str) -> bool:
    try:  # a Ctrl-C that lands as the question is written is a No as well
        print(f"{question} [y/N] ", end="", flush=True)
        answer = sys.stdin.readline()
    except KeyboardInterrupt:
        print()
        return False
    return answer.strip().lower() in ("y", "yes")


def cmd_rm(args: argparse.Namespace) -> int:
    from envtui.cleanup import Refused
    from envtui.cleanup.remover import plan
    from envtui.cli import _context, _scan

    ctx = _context(args)
    inv = _scan(args, _kinds_named(args.envs))
    targets: list[Environment] = []
    refused: list[tuple[str, str]] = []
    for ref in args.envs:
        try:
            targets.append(_target(args, inv, ref))
        except Refused as e:
            refused.append((ref, str(e)))
    planned = plan(targets, ctx, inv.environments, force=args.force)
    refused += planned.refused
    if refused:
        return _report_refused(args, refused, planned.removals)
    if args.dry_run:
        return _report_plan(args, ctx, planned.removals, dry_run=True)
    if not args.yes:
        if not sys.stdin.isatty() or args.json:
            _report_plan(args, ctx, planned.removals, dry_run=True)
            print("envtui: nothing removed: run again with --yes to remove", file=sys.stderr)
            return EXIT_PROBLEMS
        _preview(planned.removals)
        if not _confirm("Remove them?"):
            print("nothing removed")
            return EXIT_PROBLEMS
    return _execute(args, ctx, inv, planned.removals)


def _report_refused(args: argparse.Namespace, refused: list[tuple[str, str]],
                    planned: list[Removal]) -> int:
    if args.json:
        print(json.dumps({"removed": [], "refused": [{"ref": r, "reason": why}
                                                     for r, why in refused],
                          "planned": [_removal_dict(r) for r in planned]}, indent=2))
    for _, why in refused:
        print(f"envtui: refused: {printable(why)}", file=sys.stderr)
    if planned:
        print("envtui: nothing removed (name only what can be removed)", file=sys.stderr)
    return EXIT_USAGE


def _removal_dict(r: Removal) -> dict[str, Any]:
    return {"ref": r.ref, "kind": r.kind.value, "target": r.target,
            "size_bytes": r.size_bytes, "marker": r.marker, "notes": list(r.notes),
            "force": r.force}


def _report_plan(args: argparse.Namespace, ctx: ScanContext, removals: list[Removal], *,
                 dry_run: bool) -> int:
    from envtui.cleanup.fs_removal import dry_run_lines
    from envtui.cleanup.remover import FILESYSTEM

    if args.json:
        print(json.dumps({"removed": [], "refused": [], "dry_run": dry_run,
                          "planned": [_removal_dict(r) for r in removals]}, indent=2))
        return EXIT_OK
    _preview(removals)
    print("would remove exactly:")
    for r in removals:
        lines = (dry_run_lines(r, home=ctx.home) if r.kind in FILESYSTEM
                 else [f"{r.marker} {r.target}"])
        for line in lines:
            print(f"  {printable(line)}")
    return EXIT_OK


def _execute(args: argparse.Namespace, ctx: ScanContext, inv: Inventory,
             removals: list[Removal]) -> int:
    from envtui.cleanup.remover import Outcome, execute
    from envtui.cli_worker import run_cancellable

    progress = _progress_for(args)
    outcome = Outcome()

    def work(cancel: threading.Event) -> None:
        nonlocal outcome
        try:
            outcome = execute(removals, ctx, inv.environments, cancelled=cancel.is_set,
                              progress=(lambda done, total, ref: progress(
                                  done, total, f"removing {ref}")) if progress else None)
        finally:
            _clear_progress()

    run_cancellable(work, cancelling="cancelling: the removal in progress finishes, "
                                     "the rest is left alone", name="envtui-rm")
    if args.json:
        print(json.dumps({"removed": outcome.removed, "refused": [
            {"ref": r, "reason": why} for r, why in outcome.failed]}, indent=2))
    else:
        for ref in outcome.removed:
            print(f"removed {printable(ref)}")
        for ref, why in outcome.failed:
            print(f"envtui: not removed: {printable(ref)}: {printable(why)}", file=sys.stderr)
    return EXIT_PROBLEMS if outcome.failed else EXIT_OK


# --- prune and containers --------------------------------------------------------------


def cmd_prune(args: argparse.Namespace) -> int:
    from envtui.cleanup.docker_cleanup import DockerActionError
    from envtui.inspectors.base import ScanContext

    with _engine(ScanContext.from_process()) as api:
        try:
            return _prune(args, api)
        except DockerActionError as e:  # the engine failed midway: one line, no traceback
            print(f"envtui: {printable(str(e))}", file=sys.stderr)
            return EXIT_PROBLEMS


def _prune(args: argparse.Namespace, api: Any) -> int:
    from envtui.cleanup.docker_cleanup import execute_prune, plan_prune

    removals = plan_prune(api, args.label)
    if not removals:
        print(json.dumps({"removed": [], "planned": []}) if args.json
              else "no dangling images")
        return EXIT_OK
    if args.dry_run or (not args.yes and (args.json or not sys.stdin.isatty())):
        if args.json:
            print(json.dumps({"removed": [], "dry_run": True,
                              "planned": [_removal_dict(r) for r in removals]}, indent=2))
        else:
            _preview(removals)
        if not args.dry_run:
            print("envtui: nothing removed: run again with --yes", file=sys.stderr)
            return EXIT_PROBLEMS
        return EXIT_OK
    if not args.yes:
        _preview(removals)
        if not _confirm("Remove these dangling images?"):
            print("nothing removed")
            return EXIT_PROBLEMS
    removed = execute_prune(api, removals)
    if args.json:
        print(json.dumps({"removed": removed}, indent=2))
    else:
        size = sum(r.size_bytes or 0 for r in removals if r.target in removed)
        print(f"removed {len(removed)} dangling images, {human_size(size)}")
        skipped = len(removals) - len(removed)
        if skipped:
            print(f"left {skipped} that became used or tagged since the preview")
    return EXIT_OK


def cmd_container(args: argparse.Namespace) -> int:
    from envtui.cleanup.docker_cleanup import DockerActionError, start_container, stop_container
    from envtui.inspectors.base import ScanContext

    name = args.name.removeprefix("container:")
    with _engine(ScanContext.from_process()) as api:
        try:
            (start_container if args.action == "start" else stop_container)(api, name)
        except DockerActionError as e:
            if e.status == 404:  # no such container: an input error, like `show` gives
                raise UsageError(str(e)) from None
            print(f"envtui: {printable(str(e))}", file=sys.stderr)
            return EXIT_PROBLEMS
    if args.json:
        print(json.dumps({"container": name, "action": args.action}))
    else:
        done = {"start": "started", "stop": "stopped"}[args.action]
        print(f"{done} container {printable(name)}")
    return EXIT_OK
