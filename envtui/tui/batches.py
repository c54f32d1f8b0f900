"""Batching for results that arrive one at a time from a thread, faster than a screen can
show them: the first goes at once, later ones at most every `interval` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Batcher(Generic[T]):
    """Collects items from any thread and hands them to `send` in batches.

    An item that arrives when the last batch went out at least `interval` seconds ago goes
    out at once (so the first one is never held back); otherwise it waits for the next batch,
    which a timer thread sends when the interval is up, even if nothing else arrives: a slow
    item after a quick run must not hold the quick ones back. `send` is called with a lock
    held, so batches go out one at a time and in order, and none after `close` returns.
    """

    def __init__(
        self,
        send: Callable[[list[T]], None],
        interval: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: list[T] = []
        self._last_sent = -float("inf")
        self._timer: threading.Timer | None = None
        self._timers = 0  # numbers the timers, so one that fires after being replaced is ignored
        self._closed = False

    def add(self, item: T) -> None:
        """Queue `item`, sending the batch now if the interval is up; ignored once closed."""
        with self._lock:
            if self._closed:
                return
            self._pending.append(item)
            wait = self._last_sent + self._interval - self._clock()
            if wait <= 0:
                self._flush()
            elif self._timer is None:
                self._timers += 1
                self._timer = threading.Timer(wait, self._timer_fired, args=(self._timers,))
                self._timer.daemon = True
                self._timer.start()

    def close(self, *, flush: bool) -> None:
        """Stop: send what is still queued if `flush`, else drop it. Later calls do nothing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._stop_timer()
            if flush:
                self._flush()
            self._pending.clear()

    def _timer_fired(self, number: int) -> None:
        with self._lock:
            if number == self._timers and not self._closed:
                self._timer = None
                self._flush()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._timers += 1  # in case it is already waiting for the lock

    def _flush(self) -> None:
        # Called with the lock held.
        self._stop_timer()
        if self._pending:
            batch, self._pending = self._pending, []
            self._last_sent = self._clock()
            self._send(batch)
