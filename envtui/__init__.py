"""envtui: every Python environment on the machine, in one keyboard-driven terminal app."""

__version__ = "0.1.0"
