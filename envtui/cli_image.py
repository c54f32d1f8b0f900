"""The image commands: `image save` and `image load` (see cli.py for the common parts).

The work is envtui.exchange.images'; this module parses, shows progress and prints. It is
imported by every start of the command line, so it imports nothing heavy at module level.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from envtui.cli import ProgressLine
from envtui.format import human_size, printable

PROGRESS_INTERVAL = 0.1
"""Seconds between redraws of the progress line."""


def add_parsers(sub: Any) -> None:
    im = sub.add_parser("image", help="Docker images as tar archives: save and load")
    actions = im.add_subparsers(dest="image_command", metavar="ACTION", required=True)

    sv = actions.add_parser("save", help="write an image to FILE.tar and its checksum to "
                                         "FILE.tar.sha256")
    sv.add_argument("ref", metavar="REF", help="the image: name:tag or ID")
    sv.add_argument("-o", "--output", required=True, type=Path, metavar="FILE.tar",
                    help="the archive to write")
    sv.add_argument("--force", action="store_true", help="replace FILE.tar if it exists")
    sv.add_argument("--json", action="store_true", help="machine-readable output")

    ld = actions.add_parser("load", help="load an image archive into the Docker engine")
    ld.add_argument("file", type=Path, metavar="FILE.tar", help="the archive to load")
    ld.add_argument("--no-verify", action="store_true",
                    help="do not check FILE.tar against FILE.tar.sha256 first")
    ld.add_argument("--json", action="store_true", help="machine-readable output")


class _Meter(ProgressLine):
    """Bytes and rate on one stderr line, redrawn in place, for people at a terminal."""

    def __init__(self, label: str, enabled: bool) -> None:
        super().__init__()
        self.label = label
        self.enabled = enabled
        self.last = 0.0
        self.first: tuple[float, int] | None = None

    def relabel(self, label: str) -> None:
        self.label, self.last, self.first = label, 0.0, None

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self.last < PROGRESS_INTERVAL and done != total):
            return
        self.last = now
        # The rate counts from the first byte: an engine can take a while to start a save.
        if self.first is None and done:
            self.first = (now, done)
        rate = ""
        if self.first and now - self.first[0] > 0.2:
            rate = f"  {human_size(int((done - self.first[1]) / (now - self.first[0])))}/s"
        # The total of a save is the image's size, an estimate that the archive outgrows.
        amount = (f"{human_size(done)} / {human_size(total)}" if total and done <= total
                  else human_size(done))
        self.write(f"{self.label}  {amount}{rate}")


def cmd_image(args: argparse.Namespace) -> int:
    from envtui.cli import EXIT_OK, UsageError
    from envtui.exchange import images

    meter = _Meter("saving" if args.image_command == "save" else "checking",
                   enabled=sys.stderr.isatty() and not args.json)
    try:
        if args.image_command == "save":
            _save(args, meter)
        else:
            _load(args, meter)
    except images.ImageError as e:
        meter.clear()
        hint = ""
        if isinstance(e, images.ArchiveExists):
            hint = "; --force replaces it"
        elif isinstance(e, images.ChecksumMismatch):
            hint = "; --no-verify loads it anyway"
        raise UsageError(printable(str(e)) + hint) from None
    except KeyboardInterrupt:
        # The library has removed what it had begun; say so the way cli.main does.
        meter.clear()
        print("envtui: interrupted", file=sys.stderr)
        return 130
    meter.clear()
    return EXIT_OK


def _save(args: argparse.Namespace, meter: _Meter) -> None:
    from envtui.exchange.images import save_image
    from envtui.inspectors.docker import short_id

    saved = save_image(args.ref, args.output, force=args.force, progress=meter)
    meter.clear()
    if args.json:
        print(json.dumps({"path": str(saved.path), "sha256": saved.sha256, "size": saved.size,
                          "image_id": saved.image_id, "tags": list(saved.tags)}, indent=2))
        return
    what = ", ".join(saved.tags) or "untagged image"
    print(printable(f"saved {what} ({short_id(saved.image_id)}) to {saved.path}: "
                    f"{human_size(saved.size)}, sha256 {saved.sha256}"))


def _load(args: argparse.Namespace, meter: _Meter) -> None:
    from envtui.exchange.images import load_image, verify_archive
    from envtui.inspectors.docker import short_id

    # Checked apart from the load so the progress line can say which of the two it shows.
    if not args.no_verify:
        verify_archive(args.file, progress=meter)
    meter.relabel("loading")
    loaded = load_image(args.file, progress=meter, verify=False)
    meter.clear()
    if args.json:
        print(json.dumps({"tags": list(loaded.tags), "image_ids": list(loaded.image_ids)},
                         indent=2))
        return
    what = ", ".join(loaded.tags) or "untagged image"
    ids = ", ".join(short_id(i) for i in loaded.image_ids)
    print(printable(f"loaded {what} ({ids})" if ids else f"loaded {what}"))
