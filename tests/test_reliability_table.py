"""README's Reliability table: every one of the 36 cases, each proven by tests that exist.

The table names tests as `tests/FILE.py::test_name`, or `::test_name` for another test in the
file named last. A renamed or deleted test, or a case dropped from the table, fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CASES = 36


def _rows() -> dict[int, str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Reliability", 1)[1].split("\n## ", 1)[0]
    rows: dict[int, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].isdigit():
            number = int(cells[0])
            assert number not in rows, f"case {number} is in the table twice"
            rows[number] = cells[3]
    return rows


def test_every_case_has_a_row() -> None:
    assert sorted(_rows()) == list(range(1, CASES + 1))


def test_every_named_test_exists() -> None:
    missing: list[str] = []
    for number, cell in _rows().items():
        names = re.findall(r"`((?:tests/[\w/]+\.py)?::[\w\[\]-]+)`", cell)
        assert names, f"case {number} names no test"
        current: str | None = None
        for name in names:
            path, _, test = name.partition("::")
            current = path or current
            assert current, f"case {number}: {name} follows no file"
            source = (REPO / current).read_text(encoding="utf-8") \
                if (REPO / current).is_file() else ""
            if f"def {test.split('[')[0]}(" not in source:
                missing.append(f"case {number}: {current}::{test}")
    assert missing == []
