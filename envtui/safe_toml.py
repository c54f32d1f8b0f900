"""Reading TOML from outside (pyproject.toml, Pipfile, pylock.toml, config.toml) with tomllib,
minus its two blow-ups.

tomllib recurses once per nested array or inline table, so `a = [[[[...` raises
RecursionError, and its time grows with the square of a dotted key's length: a
`k.k.k... = 1` of 20,000 parts (40 kB) takes 24 s, of 200 kB ten minutes. `loads` refuses
both with TOMLDecodeError, which every caller already handles, the dotted keys after one
linear pass over the text and before tomllib sees it.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any, BinaryIO

MAX_KEY_PARTS = 64
"""The most parts a dotted key or table name may have; real files stay under ten."""


class TomlRefused(tomllib.TOMLDecodeError):
    """A document refused before (or instead of) tomllib's own parse."""

    def __init__(self, message: str) -> None:
        ValueError.__init__(self, message)  # not TOMLDecodeError's (msg, doc, pos) form


def loads(text: str) -> dict[str, Any]:
    """tomllib.loads, raising TOMLDecodeError also for the documents it would choke on."""
    _check_keys(text)
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise TomlRefused("arrays or inline tables nested too deeply") from None


def load(f: BinaryIO) -> dict[str, Any]:
    """tomllib.load's counterpart (UnicodeDecodeError for text that is not UTF-8)."""
    return loads(f.read().decode())


def _check_keys(text: str) -> None:
    """Refuse a dotted key of more than MAX_KEY_PARTS parts: dots outside strings and
    comments, counted between the characters that end a key. Linear: each string is
    matched once from its opening quote, and an unterminated one ends the check (tomllib
    then reports it)."""
    dots = 0
    pos = 0
    while (m := _NEXT.search(text, pos)) is not None:
        char, at = m.group(), m.start()
        pos = at + 1
        if char in "\"'":
            opener = char * 3 if text.startswith(char * 3, at) else char
            string = _STRINGS[opener].match(text, at)
            if string is None:
                return
            pos = string.end()
        elif char == "#":
            pos = text.find("\n", at)
            if pos < 0:
                return
        elif char == ".":
            dots += 1
            if dots >= MAX_KEY_PARTS:
                line = text.count("\n", 0, at) + 1
                raise TomlRefused(f"a dotted key of more than {MAX_KEY_PARTS} parts "
                                  f"(line {line})")
        else:
            dots = 0


_NEXT = re.compile(r"""["'#.=,\[\]{}\n]""")
"""What a dotted key's count cares about: strings and comments (skipped whole: their dots
are not a key's), dots, and the characters that end a key."""
_STRINGS = {
    '"""': re.compile(r'"""[^"\\]*(?:(?:\\.|"(?!""))[^"\\]*)*"""', re.DOTALL),
    "'''": re.compile(r"'''.*?'''", re.DOTALL),
    '"': re.compile(r'"[^"\\\n]*(?:\\.[^"\\\n]*)*"'),
    "'": re.compile(r"'[^'\n]*'"),
}
"""Each kind of TOML string from its opening quote (unrolled loops: no backtracking)."""
