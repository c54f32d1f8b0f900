"""The sharing commands: `export`, `import` and `diff` (see cli.py for the common parts)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from envtui.format import plural, printable


def add_parsers(sub: Any, scan_options: Callable[[argparse.ArgumentParser], None],
                index_options: Callable[[argparse.ArgumentParser], None]) -> None:
    from envtui.exchange import FORMATS

    ex = sub.add_parser("export", help="write an environment as environment.yml, "
                                       "requirements, conda-lock.yml or pylock.toml")
    ex.add_argument("env", metavar="ENV",
                    help="a path, a unique name, image:REF or container:NAME")
    ex.add_argument("--format", "-F", choices=FORMATS, default="environment-yml",
                    help="file format (default: environment-yml)")
    ex.add_argument("-o", "--output", type=Path, metavar="FILE",
                    help="write to FILE (through a temp file and a rename); default stdout")
    builds = ex.add_mutually_exclusive_group()
    builds.add_argument("--no-builds", dest="builds", action="store_false", default=False,
                        help="environment.yml without build strings, portable across "
                             "operating systems (the default)")
    builds.add_argument("--with-builds", dest="builds", action="store_true",
                        help="environment.yml with conda build strings (same OS only)")
    ex.add_argument("--from-history", action="store_true",
                    help="environment.yml with only what was asked for (conda history; "
                         "pip packages nothing else needs), at the installed versions")
    index_options(ex)
    scan_options(ex)

    df = sub.add_parser("diff", help="how two environments differ (environments or "
                                     "exported files)")
    df.add_argument("a", metavar="A", help="an environment or a file")
    df.add_argument("b", metavar="B", help="an environment or a file")
    scan_options(df)
    add_import_parser(sub, index_options)


def _spec(args: argparse.Namespace, ref: str) -> Any:
    """An environment (path, name, KIND:NAME) or a file, as a spec."""
    from envtui.cli import UsageError, _find
    from envtui.exchange.files import load_spec
    from envtui.exchange.spec import ExchangeError, from_environment

    try:
        if Path(ref).is_file():
            return load_spec(Path(ref))
        return from_environment(_find(args, ref))
    except ExchangeError as e:
        raise UsageError(str(e)) from None


def cmd_export(args: argparse.Namespace) -> int:
    from envtui.cli import EXIT_OK, UsageError
    from envtui.cli_fix import sources_from_args
    from envtui.exchange.export import export_text
    from envtui.exchange.files import write_atomically
    from envtui.exchange.spec import ExchangeError

    spec = _spec(args, args.env)
    if Path(args.env).is_file():
        raise UsageError(f"{args.env}: is a file; export takes an environment "
                         "(use `envtui diff` to compare files)")
    sources = sources_from_args(args)[1] if args.format == "pylock" else []
    try:
        text, notes = export_text(spec, args.format, builds=args.builds,
                                  from_history=args.from_history, sources=sources)
        for note in notes:
            print(f"envtui: note: {printable(note)}", file=sys.stderr)
        if args.output is None:
            sys.stdout.write(text)
            return EXIT_OK
        write_atomically(args.output, text)
    except ExchangeError as e:
        raise UsageError(str(e)) from None
    print(f"wrote {args.output} ({args.format}, {plural(len(spec.pins), 'package')})",
          file=sys.stderr)
    return EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    from envtui.cli import EXIT_OK, EXIT_PROBLEMS, _print_table
    from envtui.exchange.diff import diff, difference_to_dict, pin_text

    a, b = _spec(args, args.a), _spec(args, args.b)
    d = diff(a, b)
    if args.json:
        print(json.dumps(difference_to_dict(d), indent=2))
        return EXIT_OK if d.identical else EXIT_PROBLEMS
    print(f"A: {printable(a.origin)} ({_describe(a)})")
    print(f"B: {printable(b.origin)} ({_describe(b)})")
    rows = [["", "PACKAGE", "A", "B"]]
    if d.python_differs:
        rows.append(["~", "python", d.python[0] or "-", d.python[1] or "-"])
    if d.platform_differs:
        rows.append(["~", "platform", d.platform[0] or "-", d.platform[1] or "-"])
    rows += [["-", p.name, pin_text(p), "-"] for p in d.removed]
    rows += [["+", p.name, "-", pin_text(p)] for p in d.added]
    rows += [["~", c.a.name, pin_text(c.a), pin_text(c.b)] for c in d.changed]
    if d.identical:
        shared = len({p.key for p in a.pins} - {"python"})
        print(f"identical: the same {plural(shared, 'package')}"
              + (f" and Python {d.python[0] or d.python[1]}" if any(d.python) else ""))
        return EXIT_OK
    rows[1:] = sorted(rows[1:], key=lambda r: (r[1] not in ("python", "platform"), r[1].lower()))
    _print_table(rows[0], rows[1:])
    print(f"{plural(d.count(), 'difference')} (- only in A, + only in B, ~ changed)")
    return EXIT_PROBLEMS


def _describe(spec: Any) -> str:
    python = f", Python {spec.python}" if spec.python else ""
    return f"{spec.kind}{python}, {plural(len(spec.pins), 'package')}"


def add_import_parser(sub: Any, index_options: Callable[[argparse.ArgumentParser], None]) -> None:
    im = sub.add_parser("import", help="create an environment from environment.yml, "
                                       "requirements, conda-lock.yml or pylock.toml")
    im.add_argument("file", metavar="FILE", type=Path)
    where = im.add_mutually_exclusive_group()
    where.add_argument("--name", "-n", metavar="N",
                       help="environment name (conda: in the envs directory; venv: in "
                            "WORKON_HOME or ~/.virtualenvs); default: the file's name")
    where.add_argument("--prefix", "-p", type=Path, metavar="P", help="environment path")
    im.add_argument("--kind", choices=["venv", "conda"],
                    help="what to create (default: conda for environment.yml and "
                         "conda-lock.yml, venv for requirements and pylock.toml)")
    im.add_argument("--channel", "-c", action="append", default=[], metavar="URL",
                    help="conda channel instead of the file's (repeatable)")
    im.add_argument("--trust-file-options", action="store_true",
                    help="obey index options written in the file (--index-url, "
                         "--find-links, --trusted-host, ...); they are ignored otherwise")
    im.add_argument("--force", action="store_true",
                    help="replace an existing environment at the target (put back on failure)")
    im.add_argument("--dry-run", action="store_true", help="show the preview, create nothing")
    im.add_argument("--yes", "-y", action="store_true", help="do not ask before creating")
    im.add_argument("--json", action="store_true", help="machine-readable output")
    index_options(im)


def cmd_import(args: argparse.Namespace) -> int:
    from envtui.cli import EXIT_OK, UsageError
    from envtui.cli_fix import _confirmed, index_options_from_args
    from envtui.exchange.importer import ImportCancelled, plan_import, preview, run_import
    from envtui.exchange.spec import ExchangeError

    explicit = bool(args.index_url or args.extra_index_url or args.find_links
                    or args.no_index or args.offline)
    try:
        plan = plan_import(args.file, name=args.name, prefix=args.prefix, kind=args.kind,
                           channels=args.channel, force=args.force,
                           index=index_options_from_args(args) if explicit else None,
                           trust_file_options=args.trust_file_options)
    except ExchangeError as e:
        raise UsageError(str(e)) from None
    lines = preview(plan)
    if args.json and args.dry_run:
        print(json.dumps({"target": str(plan.target), "kind": plan.kind, "format": plan.format,
                          "preview": lines, "created": False}, indent=2))
        return EXIT_OK
    for line in lines:
        print(printable(line), file=sys.stderr if args.json else sys.stdout)
    if args.dry_run:
        print("dry run: nothing created")
        return EXIT_OK
    if not _confirmed(args, f"Create {plan.target}?"):
        print("nothing created (answer y, or pass --yes)", file=sys.stderr)
        return EXIT_OK
    from envtui.cli_worker import run_cancellable

    def progress(line: str) -> None:
        print(f"  {printable(line)}", file=sys.stderr)

    try:
        run_cancellable(lambda cancel: run_import(plan, progress=progress, cancel=cancel),
                        cancelling="cancelling: stopping the installer and removing the "
                                   "half-made environment", name="envtui-import")
    except ImportCancelled as e:
        print(f"envtui: {e}", file=sys.stderr)
        return 130
    except ExchangeError as e:
        raise UsageError(str(e)) from None
    if args.json:
        print(json.dumps({"target": str(plan.target), "kind": plan.kind, "format": plan.format,
                          "preview": lines, "created": True}, indent=2))
    else:
        print(f"created {plan.kind} {plan.target}")
    return EXIT_OK
