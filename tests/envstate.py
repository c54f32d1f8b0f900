"""What tests compare environments with, and a server that keeps an installer busy."""

from __future__ import annotations

import hashlib
import os
import socket
import stat
import threading
from pathlib import Path

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
