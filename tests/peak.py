"""Peak memory of one process, measured apart from the test process.

Linux carries the pre-exec image's peak into ru_maxrss, so a command started straight from
pytest (hundreds of MB by the end of a full run) reports at least pytest's size. A tiny
interpreter (`python -S`) starts the command instead and reports the command's own peak;
benchmarks/run.py measures the same way.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_LAUNCHER = """
import json, os, sys
report, argv = sys.argv[1], json.loads(sys.argv[2])
pid = os.posix_spawn(argv[0], argv, os.environ)
with open(report, "w") as f:
    f.write(f"{pid}\\n")
_, status, usage = os.wait4(pid, 0)
with open(report, "a") as f:
    f.write(json.dumps([os.waitstatus_to_exitcode(status), usage.ru_maxrss]) + "\\n")
"""


class Spawned:
    """A command running under the launcher."""

    def __init__(self, argv: list[str], report: Path, **popen: Any) -> None:
        exe = shutil.which(argv[0]) or argv[0]
        self.report = report
        self.launcher = subprocess.Popen(
            [sys.executable, "-S", "-c", _LAUNCHER, str(report), json.dumps([exe, *argv[1:]])],
            **popen)

    def pid(self, timeout: float = 30) -> int:
        """The command's own process ID."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.report.exists() and (first := self.report.read_text().split("\n")[0]):
                return int(first)
            time.sleep(0.01)
        raise TimeoutError(f"{self.report}: the launcher never started the command")

    def wait(self) -> tuple[int, int]:
        """The command's exit status and peak RSS in KiB, once it has ended."""
        self.launcher.wait()
        status, peak = json.loads(self.report.read_text().splitlines()[1])
        return int(status), int(peak)


def run_measured(argv: list[str], cwd: Path, **popen: Any) -> tuple[int, str, str, int]:
    """Run `argv` to its end: (exit status, stdout, stderr, its own peak RSS in KiB)."""
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryFile() as out, \
            tempfile.TemporaryFile() as err:
        spawned = Spawned(argv, Path(tmp) / "report", cwd=cwd, stdout=out, stderr=err,
                          stdin=subprocess.DEVNULL, **popen)
        status, peak = spawned.wait()
        out.seek(0)
        err.seek(0)
        return status, out.read().decode(), err.read().decode(), peak
