"""The command line: `envtui` opens the TUI; subcommands script the same capabilities.

Exit codes (DESIGN.md): 0 ok, 1 problems found, 2 usage or input error. Expected failures
print one line to stderr and never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from envtui import __version__
from envtui.format import human_size, short_time
from envtui.model import Environment, EnvKind, Inventory, environment_to_dict

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="envtui",
        description="Find, inspect and share every Python environment on this machine. "
                    "With no command, opens the terminal app.",
    )
    p.add_argument("--version", action="version", version=f"envtui {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def scan_options(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--root", action="append", default=[], metavar="PATH", type=Path,
                        help="also walk PATH for environments (repeatable)")
        sp.add_argument("--no-home", action="store_true",
                        help="do not walk the home directory (known places are still read)")
        sp.add_argument("--no-cache", action="store_true",
                        help="ignore and do not update the inspection cache")
        sp.add_argument("--json", action="store_true", help="machine-readable output")

    ls = sub.add_parser("list", help="every environment on the machine")
    ls.add_argument("--kind", action="append", choices=[k.value for k in EnvKind],
                    help="only this kind (repeatable)")
    scan_options(ls)
    show = sub.add_parser("show", help="one environment with its packages")
    show.add_argument("env", metavar="ENV",
                      help="a path, a unique name, image:REF or container:NAME")
    scan_options(show)
    return p


def _context(args: argparse.Namespace, kinds: frozenset[EnvKind] = frozenset(EnvKind)) -> Any:
    from envtui.config import load_config
    from envtui.inspectors.base import ScanContext

    ctx = ScanContext.from_process(kinds=kinds)
    cfg = load_config(ctx.home, ctx.environ)
    for root in args.root:
        if not root.is_dir():
            raise UsageError(f"--root {root}: no such directory")
    ctx.roots = tuple(r.resolve() for r in args.root) + cfg.roots
    ctx.exclude = cfg.exclude
    ctx.walk_home = cfg.walk_home and not args.no_home
    ctx.max_depth = cfg.max_depth
    return ctx


def _progress_printer(enabled: bool) -> Any:
    """Progress on stderr for people at a terminal; silent for pipes and --json."""
    if not enabled:
        return None

    def show(done: int, total: int | None, label: str) -> None:
        count = f"{done}/{total}" if total is not None else f"{done}"
        sys.stderr.write(f"\r\x1b[2K{count} {label}"[:200])
        sys.stderr.flush()

    return show


def _scan(args: argparse.Namespace, kinds: frozenset[EnvKind]) -> Inventory:
    from envtui.inspectors.discovery import scan

    interactive = sys.stderr.isatty() and not args.json
    inventory = scan(_context(args, kinds), use_cache=not args.no_cache,
                     progress=_progress_printer(interactive))
    if interactive:
        sys.stderr.write("\r\x1b[2K")
    return inventory


def cmd_list(args: argparse.Namespace) -> int:
    kinds = frozenset(EnvKind(k) for k in args.kind) if args.kind else frozenset(EnvKind)
    inv = _scan(args, kinds)
    if args.json:
        print(json.dumps([environment_to_dict(e, with_packages=False)
                          for e in inv.environments], indent=2))
        for problem in inv.problems:
            print(f"envtui: {problem}", file=sys.stderr)
        return EXIT_OK
    if not inv.environments:
        print("no environments found")
    rows = [("KIND", "NAME", "MANAGER", "PYTHON", "PKGS", "SIZE", "LAST USED", "PROBLEMS")]
    for e in inv.environments:
        rows.append((e.kind.value, e.name, e.manager, e.python or "-", str(len(e.packages)),
                     human_size(e.size_bytes), short_time(e.last_used),
                     str(len(e.all_problems)) if e.all_problems else ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows if len(rows) > 1 else ():
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    for problem in inv.problems:
        print(f"! {problem}")
    return EXIT_OK


def _find(args: argparse.Namespace) -> Environment:
    from envtui.inspectors.discovery import find_environment, inspect_path

    path = Path(args.env)
    if path.is_dir():
        env = inspect_path(_context(args), path, use_cache=not args.no_cache)
        if env is not None:
            return env
        raise UsageError(f"{args.env}: not an environment (no pyvenv.cfg or conda-meta)")
    kinds = frozenset(EnvKind)
    prefix = args.env.partition(":")[0]
    if prefix in ("image", "container"):
        kinds = frozenset({EnvKind(prefix)})
    try:
        return find_environment(_scan(args, kinds), args.env)
    except LookupError as e:
        raise UsageError(str(e)) from None


def cmd_show(args: argparse.Namespace) -> int:
    env = _find(args)
    if args.json:
        print(json.dumps(environment_to_dict(env), indent=2))
        return EXIT_OK
    facts = [("kind", env.kind.value), ("name", env.name), ("manager", env.manager),
             ("path", env.path), ("id", env.id), ("python", env.python),
             ("size", human_size(env.size_bytes)), ("last used", short_time(env.last_used)),
             ("created", short_time(env.created))]
    for key, value in facts:
        if value:
            print(f"{key + ':':11}{value}")
    print(f"packages ({len(env.packages)}):")
    width = max((len(p.name) for p in env.packages), default=0)
    for p in env.packages:
        extra = [x for x in (p.build, p.channel, p.installer,
                             "editable" if p.editable else None) if x]
        print(f"  {p.name.ljust(width)}  {p.version}  {' '.join(extra)}".rstrip())
    if env.all_problems:
        print(f"problems ({len(env.all_problems)}):")
        for problem in env.all_problems:
            print(f"  {problem.kind}: {problem}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    from envtui.config import ConfigError

    args = _parser().parse_args(argv)
    try:
        if args.command == "list":
            return cmd_list(args)
        if args.command == "show":
            return cmd_show(args)
        return _open_app()
    except (UsageError, ConfigError) as e:
        print(f"envtui: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("envtui: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


def _open_app() -> int:
    from envtui.config import load_config
    from envtui.inspectors.base import ScanContext
    from envtui.tui.app import EnvtuiApp

    ctx = ScanContext.from_process()
    cfg = load_config(ctx.home, ctx.environ)
    ctx.roots, ctx.exclude = cfg.roots, cfg.exclude
    ctx.walk_home, ctx.max_depth = cfg.walk_home, cfg.max_depth
    EnvtuiApp(ctx).run()
    return EXIT_OK
