"""Human formatting of model values, shared by the CLI and the TUI (plain text, no markup)."""

from __future__ import annotations


def plural(n: int, word: str) -> str:
    """plural(1, "environment") -> "1 environment"; plural(2, ...) -> "2 environments"."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def human_size(n: int | None) -> str:
    """1234567 -> "1.2 MB" (decimal units, like du --si and Docker)."""
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def short_time(iso: str | None) -> str:
    """"2026-11-21T05:51:28+00:00" -> "2026-11-21 05:51" (deterministic, no "ago")."""
    if not iso:
        return "-"
    return iso[:16].replace("T", " ")


_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))}
# Bidi overrides and zero-width characters can disguise a name (Trojan Source).
_CONTROL.update({c: f"\\u{c:04x}" for c in (*range(0x200B, 0x2010), *range(0x202A, 0x202F),
                                          *range(0x2066, 0x206A), 0xFEFF)})


def printable(text: str) -> str:
    """`text` with control characters (ESC, newlines, C1) shown as `\\xNN` escapes, and
    bidi and zero-width characters as `\\uNNNN`.

    Names come from the filesystem and from metadata, which anyone can write: a directory
    named with an escape sequence must not drive the user's terminal or break a table.
    """
    return text.translate(_CONTROL)
