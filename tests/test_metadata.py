"""The METADATA header parser: exact fields, bad input, and properties over random input."""

from __future__ import annotations

import email.parser
import io

from hypothesis import given
from hypothesis import strategies as st

from envtui.inspectors.metadata import (
    HEADER_LIMIT,
    egg_requires,
    header_bytes,
    name_version_from_dirname,
    package_from_headers,
    parse_headers,
)

SAMPLE = (b"Metadata-Version: 2.3\r\nName: Foo.Bar\r\nVersion: 1.2.3\r\n"
          b"Summary: first line\r\n  continued\r\nRequires-Dist: a>=1\r\n"
          b"Requires-Dist: b; extra == 'x'\r\nRequires-Python: >=3.9\r\n\r\n"
          b"Requires-Dist: not-a-header-this-is-the-body\r\n")


def test_fields_and_body_cut() -> None:
    h = parse_headers(SAMPLE)
    assert h.first("name") == "Foo.Bar"
    assert h.first("version") == "1.2.3"
    assert h.first("summary") == "first line continued"
    assert h.fields["requires-dist"] == ["a>=1", "b; extra == 'x'"]
    assert h.first("requires-python") == ">=3.9"
    assert h.errors == []


def test_header_bytes_stops_at_blank_line_across_chunks() -> None:
    data = b"Name: x\n" * 20000 + b"\n" + b"body" * 100000
    header, complete = header_bytes(io.BytesIO(data).read)
    assert complete and header == (b"Name: x\n" * 20000)[:-1]


def test_header_bytes_caps_huge_headers() -> None:
    data = b"Classifier: y\n" * (HEADER_LIMIT // 10)
    header, complete = header_bytes(io.BytesIO(data).read)
    assert not complete and len(header) == HEADER_LIMIT


def test_package_from_headers_reports_each_defect() -> None:
    pkg = package_from_headers(parse_headers(b"Version: banana\nRequires-Dist: x[\n\n"),
                               dirname="thing-1.0.dist-info", location="/x")
    assert (pkg.name, pkg.version) == ("thing", "banana")
    assert [p.detail for p in pkg.problems] == [
        "thing-1.0.dist-info: missing Name",
        "thing-1.0.dist-info: invalid version 'banana'",
        "thing-1.0.dist-info: unparseable Requires-Dist 'x['",
    ]


def test_direct_url_editable() -> None:
    pkg = package_from_headers(
        parse_headers(b"Name: e\nVersion: 1\n\n"), dirname="e-1.dist-info", location="/x",
        installer=b"uv\n",
        direct_url=b'{"url": "file:///src/e", "dir_info": {"editable": true}}')
    assert (pkg.installer, pkg.editable, pkg.direct_url) == ("uv", True, "file:///src/e")


def test_dirname_and_egg_requires() -> None:
    assert name_version_from_dirname("foo_bar-1.0.dist-info") == ("foo_bar", "1.0")
    assert name_version_from_dirname("legacy-2.0-py3.11.egg-info") == ("legacy", "2.0")
    assert egg_requires("a\n[x]\nb\n[y:python_version < '3.10' or os_name == 'nt']\nc\n") == (
        "a", 'b; extra == "x"',
        "c; (python_version < '3.10' or os_name == 'nt') and extra == \"y\"")


_field_value = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=40,
).map(str.strip).filter(lambda s: s == s.strip())


@given(st.lists(st.tuples(st.sampled_from(["Name", "Version", "Summary", "Requires-Dist"]),
                          _field_value), max_size=12))
def test_agrees_with_the_stdlib_email_parser(items: list[tuple[str, str]]) -> None:
    raw = "".join(f"{k}: {v}\n" for k, v in items) + "\nbody\n"
    ours = parse_headers(raw.encode())
    theirs = email.parser.HeaderParser().parsestr(raw)
    for key in ("Name", "Version", "Summary", "Requires-Dist"):
        assert ours.fields.get(key.lower(), []) == [v.strip() for v in theirs.get_all(key, [])]


@given(st.binary(max_size=4096))
def test_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    pkg = package_from_headers(parse_headers(data), dirname="x-1.dist-info", location="/x")
    assert pkg.name
