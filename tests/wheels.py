"""Building real wheels for the tests, offline: the builder lives in envtui.demo.wheels,
which the demo sandbox uses at run time too."""

from __future__ import annotations

from envtui.demo.wheels import build_wheel

__all__ = ["build_wheel"]
