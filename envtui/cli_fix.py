"""The resolver's commands: `resolve`, `fix` and `undo` (see cli.py for the common parts)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from envtui.format import plural, printable
from envtui.model import Environment, EnvKind

FIX_PROGRESS_LINES = 3
"""Installer output lines kept in an error message."""


def add_parsers(sub: Any, scan_options: Callable[[argparse.ArgumentParser], None]) -> None:
    rs = sub.add_parser("resolve", help="resolve requirements without touching any environment")
    rs.add_argument("requirements", nargs="+", metavar="REQ", help="PEP 508 requirements")
    rs.add_argument("--python-version", metavar="X.Y",
                    help="resolve for this Python (default: the one running envtui)")
    add_index_options(rs)
    rs.add_argument("--json", action="store_true", help="machine-readable output")

    fx = sub.add_parser("fix", help="plans that fix an environment's dependency problems, "
                                    "and applying one")
    fx.add_argument("env", metavar="ENV", help="a path or a unique name")
    fx.add_argument("--dry-run", action="store_true", help="show the plans, change nothing")
    fx.add_argument("--yes", "-y", action="store_true", help="apply the chosen plan unasked")
    fx.add_argument("--plan", type=int, default=1, metavar="N",
                    help="which plan to apply (default: 1, the smallest change)")
    fx.add_argument("--finish", action="store_true",
                    help="complete an interrupted fix: restore the environment, then apply "
                         "the same change again")
    fx.add_argument("--keep", action="append", default=[], metavar="NAME",
                    help="hold this package at its installed version (repeatable)")
    fx.add_argument("--channel", "-c", action="append", default=[], metavar="URL",
                    help="conda channel for a conda environment's own packages "
                         "(repeatable; default: the channels its records came from)")
    add_index_options(fx)
    scan_options(fx)

    ud = sub.add_parser("undo", help="restore an environment as it was before the last fix")
    ud.add_argument("env", metavar="ENV", help="a path or a unique name")
    ud.add_argument("--discard", action="store_true",
                    help="forget an interrupted fix instead of restoring the environment")
    scan_options(ud)


def add_index_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("package sources (default: pip's configuration)")
    g.add_argument("--index-url", "-i", action="append", default=[], metavar="URL",
                   help="a PEP 503/691 simple index; repeat for more")
    g.add_argument("--extra-index-url", action="append", default=[], metavar="URL",
                   help="another index besides the main one (repeatable)")
    g.add_argument("--find-links", "-f", action="append", default=[], metavar="DIR",
                   help="a directory of wheels and sdists (repeatable)")
    g.add_argument("--no-index", action="store_true",
                   help="ignore every index; use --find-links only")
    g.add_argument("--offline", action="store_true",
                   help="no network: local directories and the HTTP cache only")
    g.add_argument("--pre", action="store_true", help="allow pre-releases")


def index_options_from_args(args: argparse.Namespace) -> Any:
    """The IndexOptions the index flags ask for, on top of pip's configuration."""
    from envtui.resolver.pipconfig import index_options

    indexes = list(args.index_url)
    return index_options(indexes[:1], [*indexes[1:], *args.extra_index_url],
                         args.find_links, offline=args.offline, pre=args.pre,
                         no_index=args.no_index)


def sources_from_args(args: argparse.Namespace) -> tuple[Any, list[Any]]:
    from envtui.cli import UsageError
    from envtui.inspectors.base import ScanContext
    from envtui.resolver.pipconfig import build_sources
    from envtui.resolver.sources import SourceError

    options = index_options_from_args(args)
    try:
        return options, build_sources(options, ScanContext.from_process().cache_dir)
    except SourceError as e:
        raise UsageError(str(e)) from None


def cmd_resolve(args: argparse.Namespace) -> int:
    from envtui.cli import EXIT_OK, EXIT_PROBLEMS, UsageError
    from envtui.resolver.provider import Provider, parse_requirement
    from envtui.resolver.resolve import ResolutionFailed, resolve
    from envtui.resolver.target import TargetError, python_target

    try:
        reqs = [parse_requirement(r) for r in args.requirements]
        v = sys.version_info
        target = python_target(args.python_version or f"{v.major}.{v.minor}.{v.micro}")
    except (ValueError, TargetError) as e:
        raise UsageError(str(e)) from None
    options, sources = sources_from_args(args)
    provider = Provider(sources, target, pre=options.pre)
    try:
        result = resolve(reqs, provider)
    except ResolutionFailed as e:
        if args.json:
            print(json.dumps({"explanation": e.explanation}, indent=2))
        else:
            print(f"cannot resolve: {printable(e.explanation)}")
        return EXIT_PROBLEMS
    pins = {c.display_name or c.name: str(c.version)
            for _, c in sorted(result.pins.items())}
    if args.json:
        print(json.dumps({"resolved": pins, "python": str(target.python)}, indent=2))
        return EXIT_OK
    print(f"{plural(len(pins), 'package')} for Python {target.python}:")
    width = max((len(n) for n in pins), default=0)
    for name, version in pins.items():
        print(f"  {printable(name).ljust(width)}  {printable(version)}")
    return EXIT_OK


def _fixable_env(args: argparse.Namespace) -> Environment:
    from envtui.cli import UsageError, _find

    env = _find(args)
    if env.kind not in (EnvKind.VENV, EnvKind.CONDA) or not env.path:
        raise UsageError(f"{env.ref}: envtui changes only venvs and conda environments; "
                         "images and containers are read-only")
    return env


def cmd_fix(args: argparse.Namespace) -> int:
    from envtui.cli import EXIT_OK, EXIT_PROBLEMS, UsageError
    from envtui.resolver.checks import check_environment
    from envtui.resolver.fixing import plan_fix
    from envtui.resolver.plans import FixError
    from envtui.resolver.target import TargetError

    env = _fixable_env(args)
    if args.finish:
        return _finish(env, args)
    _refuse_interrupted(env)
    options, sources = sources_from_args(args)
    problems = check_environment(env)
    try:
        proposal = plan_fix(env, problems, sources, options, keep=args.keep,
                            channels=args.channel)
    except (FixError, TargetError) as e:
        raise UsageError(str(e)) from None
    for warning in proposal.warnings:
        print(f"envtui: warning: {printable(warning)}", file=sys.stderr)
    out: dict[str, Any] = {"env": env.ref, "plans": [p.to_dict() for p in proposal.plans],
                           "applied": False}
    if proposal.explanation is not None:
        out["explanation"] = proposal.explanation
        if args.json:
            print(json.dumps(out, indent=2))
        else:
            _print_problems(proposal.problems)
            print(f"no fix: {printable(proposal.explanation)}")
        return EXIT_PROBLEMS
    if not proposal.problems:
        if args.json:
            print(json.dumps(out, indent=2))
        else:
            print(f"{env.ref}: nothing to fix")
        return EXIT_OK
    if not 1 <= args.plan <= len(proposal.plans):
        raise UsageError(f"--plan {args.plan}: there "
                         f"{'is' if len(proposal.plans) == 1 else 'are'} "
                         f"{plural(len(proposal.plans), 'plan')}")
    if not args.json:
        _print_problems(proposal.problems)
        for i, plan in enumerate(proposal.plans, 1):
            note = f"  ({plan.note})" if plan.note else ""
            print(f"plan {i}: {printable(plan.summary)}{printable(note)}")
    plan = proposal.plans[args.plan - 1]
    if args.dry_run or not _confirmed(args, f"apply plan {args.plan} to {env.ref}?"):
        if args.json:
            print(json.dumps(out, indent=2))
        elif not args.dry_run:
            print("nothing changed (use --yes to apply without asking)")
        return EXIT_PROBLEMS
    _apply(env, plan, options, quiet=args.json)
    out["applied"] = True
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"applied plan {args.plan} to {env.ref}; `envtui undo {env.ref}` reverts it")
    return EXIT_OK


def _refuse_interrupted(env: Environment) -> None:
    from envtui.cli import UsageError
    from envtui.resolver.transaction import pending

    journal = pending(Path(env.path or ""))
    if journal is not None:
        raise UsageError(f"an envtui fix of {env.ref} was interrupted (started "
                         f"{journal.started}); `envtui undo {env.ref}` restores the "
                         f"environment, `envtui fix {env.ref} --finish` completes the fix, "
                         f"`envtui undo {env.ref} --discard` keeps it as it is")


def _finish(env: Environment, args: argparse.Namespace) -> int:
    """`fix --finish`: the interrupted change again, from the snapshot taken before it."""
    from envtui.cli import EXIT_OK, UsageError
    from envtui.cli_worker import run_cancellable
    from envtui.resolver.transaction import ApplyResult, TransactionError, finish

    if args.dry_run:
        raise UsageError("--finish changes the environment; it cannot be a --dry-run")
    options = index_options_from_args(args)
    done: list[ApplyResult] = []

    def progress(line: str) -> None:
        if not args.json:
            print(f"  {printable(line)}", file=sys.stderr)

    try:
        run_cancellable(lambda cancel: done.append(finish(
            Path(env.path or ""), options, progress=progress, cancel=cancel)),
            cancelling="cancelling: stopping the installer and restoring the environment",
            name="envtui-finish")
    except TransactionError as e:
        raise UsageError(str(e)) from None
    actions = done[0].actions
    if args.json:
        print(json.dumps({"env": env.ref, "finished": [a.to_dict() for a in actions],
                          "applied": True}, indent=2))
    else:
        what = "; ".join(a.describe() for a in actions)
        print(f"finished the interrupted fix of {env.ref} ({printable(what)}); "
              f"`envtui undo {env.ref}` reverts it")
    return EXIT_OK


def _print_problems(problems: list[Any]) -> None:
    print(f"{plural(len(problems), 'problem')}:")
    for p in problems:
        print(f"  {printable(str(p))}")


def _confirmed(args: argparse.Namespace, question: str) -> bool:
    if args.yes:
        return True
    if args.json or not sys.stdin.isatty():
        return False
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def _apply(env: Environment, plan: Any, options: Any, *, quiet: bool) -> None:
    """Run the transaction; Ctrl-C cancels it (the child is stopped and the env restored)."""
    from envtui.cli import UsageError
    from envtui.cli_worker import run_cancellable
    from envtui.resolver.fixing import apply_plan
    from envtui.resolver.transaction import TransactionError

    def progress(line: str) -> None:
        if not quiet:
            print(f"  {printable(line)}", file=sys.stderr)

    try:
        run_cancellable(lambda cancel: apply_plan(env, plan, options, progress=progress,
                                                  cancel=cancel),
                        cancelling="cancelling: stopping the installer and restoring the "
                                   "environment", name="envtui-apply")
    except TransactionError as e:
        raise UsageError(str(e)) from None


def cmd_undo(args: argparse.Namespace) -> int:
    from envtui.cli import EXIT_OK, UsageError
    from envtui.resolver.transaction import TransactionError, discard, undo

    env = _fixable_env(args)
    try:
        if args.discard:
            forgotten = discard(Path(env.path or ""))
            what = "; ".join(a.describe() for a in forgotten.actions)
            if args.json:
                print(json.dumps({"env": env.ref, "discarded": [
                    a.to_dict() for a in forgotten.actions]}, indent=2))
            else:
                print(f"forgot the interrupted fix of {env.ref} ({printable(what)}); "
                      "the environment was left as it is")
            return EXIT_OK
        undone = undo(Path(env.path or ""))
    except TransactionError as e:
        raise UsageError(str(e)) from None
    if args.json:
        print(json.dumps({"env": env.ref, "undone": [a.to_dict() for a in undone]}, indent=2))
        return EXIT_OK
    what = "; ".join(a.describe() for a in undone) or "the last change"
    print(f"restored {env.ref} as it was before: {printable(what)}")
    return EXIT_OK
