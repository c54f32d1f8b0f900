"""Long work for the command line in a worker thread, with Ctrl-C turned into a cancel.

The main thread waits on an Event rather than in `Thread.join`: a KeyboardInterrupt that
lands inside `join(timeout)` can leave the thread marked as finished while it still runs
(CPython 3.11), and the process would then exit in the middle of a rollback.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable


def run_cancellable(work: Callable[[threading.Event], object], *, cancelling: str,
                    name: str) -> None:
    """Run `work(cancel)` in a thread until it ends; on Ctrl-C print `cancelling`, set
    `cancel` and wait for the work to wind down. The work's exception is raised here."""
    cancel = threading.Event()
    done = threading.Event()
    errors: list[BaseException] = []

    def body() -> None:
        try:
            work(cancel)
        except BaseException as e:  # handed to the main thread, which reports it
            errors.append(e)
        finally:
            done.set()

    threading.Thread(target=body, name=name, daemon=True).start()
    while True:
        try:
            while not done.wait(0.2):
                pass
            break
        except KeyboardInterrupt:
            if not cancel.is_set():
                print(f"envtui: {cancelling}", file=sys.stderr)
                cancel.set()
    if errors:
        raise errors[0]
