"""What tests compare environments with, and a server that keeps an installer busy."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import stat
import threading
from pathlib import Path

from envtui.resolver.actions import Action
from envtui.resolver.sources import IndexOptions


def manifest(prefix: Path) -> dict[str, tuple[str, int, str]]:
    """Every entry below `prefix` but .envtui: (type, mode, link target or sha256)."""
    out: dict[str, tuple[str, int, str]] = {}
    for d, dirs, files in os.walk(prefix):
        rel_d = os.path.relpath(d, prefix)
        if rel_d == ".":
            dirs[:] = [x for x in dirs if x != ".envtui"]
        for name in dirs + [f for f in files if rel_d != "." or f != ".envtui"]:
            path = os.path.join(d, name)
            rel = os.path.normpath(os.path.join(rel_d, name))
            st = os.lstat(path)
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", mode, os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", mode, "")
            else:
                with open(path, "rb") as f:
                    out[rel] = ("file", mode, hashlib.sha256(f.read()).hexdigest())
        # os.walk lists symlinks to directories among dirs; never descend into them
        dirs[:] = [x for x in dirs if not os.path.islink(os.path.join(d, x))]
    return out


class Hang:
    """A loopback "find-links server" that accepts connections and never answers: an
    installer fetching from it is really busy until it is stopped."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/links/"
        self.asked = threading.Event()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            self.asked.set()

    def options(self) -> IndexOptions:
        return IndexOptions(index_url=None, find_links=(self.url,), offline=False)

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


_APPLY = """
import json, sys
from pathlib import Path
from envtui.resolver.actions import Action
from envtui.resolver.actions import Action
from envtui.resolver.sources import IndexOptions
from envtui.resolver.transaction import apply_actions
apply_actions(Path(sys.argv[1]), [Action.from_dict(a) for a in json.loads(sys.argv[3])],
              IndexOptions(index_url=None, find_links=(sys.argv[2],)))
"""


def interrupt_apply(prefix: Path, hang: Hang, actions: list[Action]) -> None:
    """Start a real envtui apply in another process, SIGKILL it while its installer waits on
    `hang`, then kill the orphaned installer too: what a crash mid-fix leaves behind."""
    import json
    import subprocess
    import sys
    import time

    from envtui.resolver.journal import read_journal

    repo = Path(__file__).resolve().parent.parent
    hang.asked.clear()  # wait for this apply's installer, not an earlier one
    proc = subprocess.Popen([sys.executable, "-c", _APPLY, str(prefix), hang.url,
                             json.dumps([a.to_dict() for a in actions])],
                            cwd=repo, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        assert hang.asked.wait(60), "the installer never reached the network"
        end = time.monotonic() + 30
        while (journal := read_journal(prefix)) is None or journal.child is None:
            assert time.monotonic() < end, "the journal never named the installer"
            time.sleep(0.02)
        proc.kill()
        proc.wait()
        os.killpg(journal.child, signal.SIGKILL)
        while _running(journal.child):
            assert time.monotonic() < end + 30, "the installer did not die"
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan may wait a while to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False
