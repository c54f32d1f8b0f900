"""The command line: `envtui` opens the TUI; subcommands script the same capabilities.

Exit codes (DESIGN.md): 0 ok, 1 problems found, 2 usage or input error. Expected failures
print one line to stderr and never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envtui import __version__
from envtui.format import human_size, plural, printable, short_time
from envtui.model import (
    Environment,
    EnvKind,
    Inventory,
    Problem,
    environment_to_dict,
    problem_to_dict,
)

if TYPE_CHECKING:
    from envtui.inspectors.base import ScanContext
    from envtui.inspectors.discovery import Progress
    from envtui.inspectors.summaries import SummaryInventory

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
TEXT_DEPTH = 100
"""Levels a text tree shows at most."""


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


# The subcommands defined in other modules, and where. Each start of envtui builds the parser
# of the command it was given only (or of none), importing only that command's module.
_COMMAND_MODULES = {
    "resolve": "cli_fix", "fix": "cli_fix", "undo": "cli_fix",
    "export": "cli_exchange", "import": "cli_exchange", "diff": "cli_exchange",
    "image": "cli_image",
    "df": "cli_cleanup", "rm": "cli_cleanup", "prune": "cli_cleanup", "container": "cli_cleanup",
}
_CORE_COMMANDS = ("list", "show", "tree", "check")
_ALL = "*"


def _command_in(argv: Sequence[str]) -> str:
    """The command `argv` names: "" when none, `_ALL` when the whole parser is needed (top-level
    help, or a word that is no command, for argparse's own error naming the choices)."""
    skip = False
    for token in argv:
        if skip:
            skip = False
        elif token in ("-h", "--help"):
            return _ALL
        elif token == "--demo-dir":
            skip = True
        elif not token.startswith("-"):
            return token if token in _CORE_COMMANDS or token in _COMMAND_MODULES else _ALL
    return ""


def _parser(command: str = _ALL) -> argparse.ArgumentParser:
    """The command line's parser, with the subcommand `command` only (`_ALL`: every one)."""
    p = argparse.ArgumentParser(
        prog="envtui",
        description="Find, inspect and share every Python environment on this machine. "
                    "With no command, opens the terminal app.",
    )
    p.add_argument("--version", action="version", version=f"envtui {__version__}")
    p.add_argument("--demo", action="store_true",
                   help="open the app on a sandbox of sample environments built in a temporary "
                        "directory (removed on exit); nothing of yours is shown or touched")
    p.add_argument("--demo-dir", type=Path, metavar="DIR",
                   help="with --demo: build the sandbox in DIR (or reuse it) and keep it")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def scan_options(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--root", action="append", default=[], metavar="PATH", type=Path,
                        help="also walk PATH for environments (repeatable)")
        sp.add_argument("--no-home", action="store_true",
                        help="do not walk the home directory (known places are still read)")
        sp.add_argument("--refresh", "--no-cache", action="store_true", dest="refresh",
                        help="re-read every environment, ignoring and then updating the cache")
        sp.add_argument("--json", action="store_true", help="machine-readable output")

    def wanted(name: str) -> bool:
        return command in (_ALL, name)

    if wanted("list"):
        ls = sub.add_parser("list", help="every environment on the machine")
        ls.add_argument("--kind", action="append", choices=[k.value for k in EnvKind],
                        help="only this kind (repeatable)")
        scan_options(ls)
    if wanted("show"):
        show = sub.add_parser("show", help="one environment with its packages")
        show.add_argument("env", metavar="ENV",
                          help="a path, a unique name, image:REF or container:NAME")
        scan_options(show)
    if wanted("tree"):
        _tree_parser(sub, scan_options)
    if wanted("check"):
        check = sub.add_parser(
            "check", help="dependency problems of environments (all when none is named)")
        check.add_argument("targets", nargs="*", metavar="ENV|PATH",
                           help="environments (path, name, KIND:NAME) or project directories "
                                "/ requirement files; every environment when none is given")
        scan_options(check)

    def needs(module: str) -> bool:
        return any(wanted(name) for name, m in _COMMAND_MODULES.items() if m == module)

    if needs("cli_fix"):
        from envtui import cli_fix

        cli_fix.add_parsers(sub, scan_options)
    if needs("cli_exchange"):
        from envtui import cli_exchange, cli_fix

        cli_exchange.add_parsers(sub, scan_options, cli_fix.add_index_options)
    if needs("cli_image"):
        from envtui import cli_image

        cli_image.add_parsers(sub)
    if needs("cli_cleanup"):
        from envtui import cli_cleanup

        cli_cleanup.add_parsers(sub, scan_options)
    return p


def _tree_parser(sub: Any, scan_options: Callable[[argparse.ArgumentParser], None]) -> None:
    tree = sub.add_parser("tree", help="an environment's dependency tree")
    tree.add_argument("env", metavar="ENV",
                      help="a path, a unique name, KIND:NAME (image:REF, container:NAME)")
    tree.add_argument("--reverse", action="store_true",
                      help="dependents instead of dependencies: why is this installed?")
    tree.add_argument("--package", metavar="NAME", help="only the tree of this package")
    tree.add_argument("--depth", type=_depth, metavar="N", help="show N levels below the roots")
    tree.add_argument("--format", choices=["text", "json", "mermaid", "dot", "cyclonedx-json"],
                      default="text", help="output format; mermaid, dot and cyclonedx-json "
                      "are rendered by pipdeptree from the site-packages (default: text)")
    scan_options(tree)


def _depth(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 0")
    return n


def _context(args: argparse.Namespace, kinds: frozenset[EnvKind] = frozenset(EnvKind)) -> Any:
    from envtui.config import load_config
    from envtui.inspectors.base import ScanContext

    ctx = ScanContext.from_process(kinds=kinds)
    cfg = load_config(ctx.home, ctx.environ)
    for root in args.root:
        if not root.is_dir():
            why = "not a directory" if root.exists() else "no such directory"
            raise UsageError(f"--root {root}: {why}")
    ctx.roots = tuple(r.resolve() for r in args.root) + cfg.roots
    ctx.exclude = cfg.exclude
    ctx.walk_home = cfg.walk_home and not args.no_home
    ctx.max_depth = cfg.max_depth
    ctx.stale_days = cfg.stale_days
    return ctx


class ProgressLine:
    """A one-line progress report on stderr, rewritten in place, for people at a terminal."""

    def __init__(self) -> None:
        self.shown = False

    def show(self, done: int, total: int | None, label: str) -> None:
        count = f"{done}/{total}" if total is not None else f"{done}"
        self.write(f"{count} {printable(label)}"[:200])

    def write(self, text: str) -> None:
        """Replace the line with `text`."""
        sys.stderr.write(f"\r\x1b[2K{text}")
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        """Erase the line, so what is printed next starts on a clean one."""
        if self.shown:
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()
            self.shown = False


_progress = ProgressLine()


def _scan(args: argparse.Namespace, kinds: frozenset[EnvKind]) -> Inventory:
    from envtui.inspectors.discovery import scan

    with _progress_for(args) as progress:
        return scan(_context(args, kinds), refresh=args.refresh, progress=progress)


def _summaries(args: argparse.Namespace, kinds: frozenset[EnvKind], *,
               check: bool) -> SummaryInventory:
    """Like _scan, without packages: what `list` and `check` print (see summaries.py)."""
    from envtui.inspectors.summaries import summaries

    with _progress_for(args) as progress:
        return summaries(_context(args, kinds), check=check, refresh=args.refresh,
                         progress=progress)


@contextlib.contextmanager
def _progress_for(args: argparse.Namespace) -> Iterator[Progress | None]:
    """The progress line for people at a terminal (none with --json), cleared after."""
    interactive = sys.stderr.isatty() and not args.json
    try:
        yield _progress.show if interactive else None
    finally:
        _progress.clear()


def cmd_list(args: argparse.Namespace) -> int:
    kinds = frozenset(EnvKind(k) for k in args.kind) if args.kind else frozenset(EnvKind)
    from envtui.cleanup.facts import CleanupFacts, cleanup_facts, identity

    inv = _summaries(args, kinds, check=False)
    envs = [s.environment() for s in inv.summaries]
    facts = cleanup_facts(envs, stale_days=_context(args).stale_days, signatures={
        identity(e): s.signature for e, s in zip(envs, inv.summaries, strict=True)})
    tags = [facts.get(identity(e), CleanupFacts()) for e in envs]
    if args.json:
        print(json.dumps([{**s.listing, "cleanup": list(t.reasons),
                           "cleanup_details": list(t.details)}
                          for s, t in zip(inv.summaries, tags, strict=True)], indent=2))
        _print_scan_problems(inv)
        return EXIT_OK
    if not envs:
        print("no environments found")
    rows = [[e.kind.value, e.name, e.manager, e.python or "-", str(s.listing["packages"]),
             human_size(e.size_bytes), short_time(e.last_used),
             str(len(e.problems)) if e.problems else "", ",".join(t.reasons)]
            for e, s, t in zip(envs, inv.summaries, tags, strict=True)]
    if rows:
        _print_table(["KIND", "NAME", "MANAGER", "PYTHON", "PKGS", "SIZE", "LAST USED",
                      "PROBLEMS", "CLEANUP"], rows)
    _print_scan_problems(inv)
    return EXIT_OK


def _print_table(header: list[str] | None, rows: list[list[str]], indent: str = "") -> None:
    """Left-aligned columns, two spaces apart; control characters made visible.

    Without a header, columns empty in every row are left out (no build column for pip).
    """
    table = [[printable(c) for c in r] for r in ([header] if header else []) + rows]
    if header is None:
        keep = [i for i in range(len(table[0])) if any(r[i] for r in table)]
        table = [[r[i] for i in keep] for r in table]
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for r in table:
        print(indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def _print_scan_problems(inv: Inventory | SummaryInventory) -> None:
    """Problems with the scan itself go to stderr, keeping stdout to the listing."""
    for problem in inv.problems:
        print(f"envtui: {printable(str(problem))}", file=sys.stderr)


def _find(args: argparse.Namespace, ref: str | None = None) -> Environment:
    from envtui.inspectors.discovery import find_environment, inspect_path

    ref = args.env if ref is None else ref
    path = Path(ref)
    if path.is_dir():
        env = inspect_path(_context(args), path, refresh=args.refresh)
        if env is not None:
            return env
        inner = [n for n in (".venv", "venv") if (path / n / "pyvenv.cfg").is_file()]
        hint = f"; did you mean {path / inner[0]}?" if inner else ""
        raise UsageError(f"{ref}: not an environment (no pyvenv.cfg or conda-meta){hint}")
    if os.sep in ref and ":" not in ref:
        why = "not a directory" if path.exists() else "no such path"
        raise UsageError(f"{ref}: {why}")
    kinds = frozenset(EnvKind)
    prefix = ref.partition(":")[0]
    if prefix in ("image", "container"):
        kinds = frozenset({EnvKind(prefix)})
    try:
        return find_environment(_scan(args, kinds), ref)
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
             ("created", short_time(env.created)), ("base", "yes" if env.base else None)]
    facts += [(k.replace("_", " "), _fact(v)) for k, v in sorted(env.details.items())]
    _print_table(None, [[f"{k}:", v] for k, v in facts if v])
    print(f"packages ({len(env.packages)}):")
    rows = [[p.name, p.version, p.build or "", p.channel or "", p.installer or "",
             "editable" if p.editable else ""] for p in env.packages]
    if rows:
        _print_table(None, rows, indent="  ")
    if env.all_problems:
        print(f"problems ({len(env.all_problems)}):")
        for problem in env.all_problems:
            print(f"  {printable(str(problem))}")
    return EXIT_OK


def _fact(value: object) -> str:
    """A details value on one line: lists joined, empty ones dropped."""
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return "" if value is None else str(value)


def cmd_tree(args: argparse.Namespace) -> int:
    from envtui.inspectors.cache import Cache
    from envtui.resolver.graph import cached_graph
    from envtui.resolver.tree import MAX_NODES, UnknownPackage, dependency_tree, render_text

    env = _find(args)
    text = not args.json and args.format == "text"
    depth = args.depth
    if text and (depth is None or depth > TEXT_DEPTH):
        depth = TEXT_DEPTH  # each line carries its indentation: deeper is unreadable anyway
    # A graph built before from the same packages is read back: no packaging import.
    graph = cached_graph(env, Cache(_context(args).cache_dir), refresh=args.refresh)
    try:
        roots = dependency_tree(graph, reverse=args.reverse, package=args.package, depth=depth)
    except UnknownPackage as e:
        raise UsageError(f"{e} ({env.ref})") from None
    if args.format not in ("text", "json"):
        from envtui.resolver.render import RenderError, render_with_pipdeptree

        try:
            print(render_with_pipdeptree(env, args.format, reverse=args.reverse,
                                         package=args.package), end="")
        except RenderError as e:
            raise UsageError(str(e)) from None
        return EXIT_OK
    truncated, deepest = _tree_stats(roots)
    if text and deepest >= TEXT_DEPTH and args.depth != deepest:
        print(f"envtui: the text tree stops at depth {TEXT_DEPTH}; --json shows all of it",
              file=sys.stderr)
    if truncated:
        print(f"envtui: the tree was cut at {MAX_NODES} nodes (marked truncated); "
              "narrow it with --package or --depth", file=sys.stderr)
    if args.json or args.format == "json":
        # Indenting a chain thousands deep would print mostly spaces: deep trees go compact.
        _print_deep_json(roots, indent=2 if deepest <= 50 else None)
    elif roots:
        for line in render_text(roots, reverse=args.reverse).splitlines():
            print(printable(line))
    return EXIT_OK


def _tree_stats(roots: list[dict[str, Any]]) -> tuple[bool, int]:
    """Whether any node was left unexpanded, and how deep the deepest node is."""
    truncated, deepest = False, 0
    stack = [(n, 0) for n in roots]
    while stack:
        node, level = stack.pop()
        truncated = truncated or node["truncated"]
        deepest = max(deepest, level)
        stack += [(c, level + 1) for c in node["children"]]
    return truncated, deepest


def _print_deep_json(roots: list[dict[str, Any]], indent: int | None) -> None:
    """The tree as `json.dumps(roots, indent=indent)` writes it, sooner.

    With an indent, json.dumps runs its pure-Python encoder, a generator call per value:
    that was most of what `tree --format json` cost on a big environment. Here the nodes
    are walked with a stack instead, and the scalar members of all of them (a node's keys
    but its last, `children`) are encoded in one call to json's C encoder, with a newline
    between members that becomes each node's indentation. Compact output is the C
    encoder's alone: it nests one C call per level, so the recursion limit makes room for
    chains thousands of packages deep.
    """
    if indent is None:
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, 20_000))
        try:
            print(json.dumps(roots))
        finally:
            sys.setrecursionlimit(limit)
        return
    pads = ["\n"]  # a newline and the indentation of each depth
    out: list[str] = []
    scalars: list[dict[str, Any]] = []  # each node but its children, in output order
    slots: list[tuple[int, int]] = []  # per node: its scalars' place in `out`, their depth
    # Text to write, or a node with its depth; a root is at depth 1, inside the list.
    todo: list[str | tuple[dict[str, Any], int]] = [pads[0] + "]"] if roots else ["[]"]
    for n in range(len(roots) - 1, -1, -1):
        todo += [(roots[n], 1), "[" if n == 0 else ","]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        node, depth = item
        while len(pads) < depth + 3:
            pads.append("\n" + " " * (indent * len(pads)))
        own = dict(node)
        children: list[dict[str, Any]] = own.pop("children")
        out.append(pads[depth] + "{" + pads[depth + 1])
        slots.append((len(out), depth + 1))
        out.append("")
        scalars.append(own)
        out.append(("," + pads[depth + 1] if own else "") + '"children": ')
        todo.append(pads[depth] + "}")
        if not children:
            todo.append("[]")
            continue
        todo.append(pads[depth + 1] + "]")
        for n in range(len(children) - 1, -1, -1):
            todo += [(children[n], depth + 2), "[" if n == 0 else ","]
    # A raw newline is always escaped inside a JSON string: here it only ends a member,
    # and `},\n{` only ends a node's scalars.
    text = json.dumps(scalars, separators=(",\n", ": "))
    encoded = text[2:-2].split("},\n{") if scalars else []
    for (where, depth), members in zip(slots, encoded, strict=True):
        out[where] = members.replace("\n", pads[depth])
    print("".join(out))


def cmd_check(args: argparse.Namespace) -> int:
    # (what the problems belong to, its heading, its problems)
    found: list[tuple[str, str, list[Problem]]] = []
    if args.targets:
        from envtui.resolver.checks import check_environment
        from envtui.resolver.pins import check_project

        for ref in args.targets:
            path = Path(ref)
            if path.exists() and not _is_environment(path):
                where = os.path.abspath(path)
                found.append((where, f"{where} (project files)", check_project(path)))
            else:
                env = _find(args, ref)
                found.append((env.ref, f"{env.ref} ({env.kind.value}, {env.manager})",
                              check_environment(env)))
    else:
        inv = _summaries(args, frozenset(EnvKind), check=True)
        _print_scan_problems(inv)
        found = [(s.ref, f"{s.ref} ({s.listing['kind']}, {s.listing['manager']})",
                  s.problems()) for s in inv.summaries]
    if args.json:
        print(json.dumps([{"env": ref, **problem_to_dict(p)}
                          for ref, _, problems in found for p in problems], indent=2))
    else:
        for _, title, problems in found:
            if problems:
                print(printable(title))
                for p in problems:
                    print(f"  {printable(str(p))}")
        total = sum(len(p) for _, _, p in found)
        projects = sum(title.endswith("(project files)") for _, title, _ in found)
        checked = plural(len(found), "target" if projects else "environment")
        print(f"{plural(total, 'problem')} in {checked}" if total else f"no problems in {checked}")
    return EXIT_PROBLEMS if any(p for _, _, p in found) else EXIT_OK


def _is_environment(path: Path) -> bool:
    return (path / "pyvenv.cfg").is_file() or (path / "conda-meta").is_dir()


def main(argv: Sequence[str] | None = None) -> int:
    from envtui.config import ConfigError

    if argv is None:
        argv = sys.argv[1:]
    args = _parser(_command_in(argv)).parse_args(argv)
    try:
        if args.command == "list":
            return cmd_list(args)
        if args.command == "show":
            return cmd_show(args)
        if args.command == "tree":
            return cmd_tree(args)
        if args.command == "check":
            return cmd_check(args)
        if args.command in ("resolve", "fix", "undo"):
            from envtui import cli_fix

            command: Any = getattr(cli_fix, f"cmd_{args.command}")
            return int(command(args))
        if args.command in ("export", "import", "diff"):
            from envtui import cli_exchange

            command = getattr(cli_exchange, f"cmd_{args.command}")
            return int(command(args))
        if args.command in ("df", "rm", "prune", "container"):
            from envtui import cli_cleanup

            command = getattr(cli_cleanup, f"cmd_{args.command}")
            return int(command(args))
        if args.command == "image":
            from envtui import cli_image

            return cli_image.cmd_image(args)
        if args.demo or args.demo_dir:
            from envtui.demo import open_demo

            return open_demo(args.demo_dir)
        return _open_app()
    except (UsageError, ConfigError) as e:
        print(f"envtui: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        import signal

        # Exiting now: an impatient second Ctrl-C must not interrupt the exit with a traceback.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _progress.clear()
        print("envtui: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


def _open_app() -> int:
    from envtui.inspectors.read_helper import prestart

    ctx = app_context()
    prestart(ctx)  # first: the scan's helper walks and reads on another core while Textual imports
    from envtui.tui.app import EnvtuiApp

    EnvtuiApp(ctx).run()
    return EXIT_OK


def app_context() -> ScanContext:
    """What the app scans: as `list` with no options (this process's home and
    environment, the config file's roots, exclusions and settings)."""
    ctx: ScanContext = _context(argparse.Namespace(root=[], no_home=False))
    return ctx
