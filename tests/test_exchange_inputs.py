"""Files from outside, read for an import: safe YAML (RELIABILITY 29, 30) and requirements
files whose every option is flagged, never obeyed silently (RELIABILITY 31).

Every input is a real file in tmp_path read by the real parsers. Errors are checked by
their exact one-line message, since that message is all the user gets.
"""

from __future__ import annotations

import os
import socket
import time
import tracemalloc
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from envtui.exchange.requirements_file import (
    MAX_INCLUDE_DEPTH,
    Entry,
    Flag,
    Options,
    RequirementsFile,
    parse_requirement_lines,
    parse_requirements_text,
    read_requirements,
)
from envtui.exchange.safe_yaml import MAX_BYTES, load_yaml
from envtui.exchange.spec import ExchangeError

BILLION_LAUGHS = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]"
)


def yaml_error(data: bytes | str) -> str:
    with pytest.raises(ExchangeError) as caught:
        load_yaml(data, "env.yml")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("env.yml: ")
    return message


# --------------------------------------------------------------------------- YAML


def test_yaml_reads_an_environment_file(tmp_path: Path) -> None:
    f = tmp_path / "environment.yml"
    f.write_text("name: demo\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n"
                 "  - pip:\n    - requests==2.31.0\n", encoding="utf-8")
    assert load_yaml(f.read_bytes(), str(f)) == {
        "name": "demo", "channels": ["conda-forge"],
        "dependencies": ["python=3.11", {"pip": ["requests==2.31.0"]}],
    }


def test_yaml_python_tag_runs_nothing(tmp_path: Path) -> None:
    """RELIABILITY 29: the payload is live (the unsafe loader runs it); ours refuses it."""
    payload = "name: x\ndependencies:\n  - !!python/object/apply:os.mkdir [{}]\n"
    control = tmp_path / "control"
    yaml.unsafe_load(payload.format(f'"{control}"'))
    assert control.is_dir()

    marker = tmp_path / "marker"
    f = tmp_path / "environment.yml"
    f.write_text(payload.format(f'"{marker}"'), encoding="utf-8")
    with pytest.raises(ExchangeError) as caught:
        load_yaml(f.read_bytes(), str(f))
    assert str(caught.value) == f"{f}: line 3: tag !!python/object/apply:os.mkdir is not allowed"
    assert not marker.exists()


@pytest.mark.parametrize(("text", "message"), [
    ("x: !!python/name:os.system\n", "env.yml: line 1: tag !!python/name:os.system is not allowed"),
    ("x: !custom 1\n", "env.yml: line 1: tag !custom is not allowed"),
    # A %TAG directive cannot smuggle a python tag in under another handle.
    ("%TAG !e! tag:yaml.org,2002:\n---\nx: !e!python/object:os.system\n",
     "env.yml: line 3: tag !!python/object:os.system is not allowed"),
])
def test_yaml_non_standard_tags_are_refused(text: str, message: str) -> None:
    assert yaml_error(text) == message


def test_yaml_standard_tags_are_kept() -> None:
    assert load_yaml("a: !!str 1\nb: !!int '2'\nc: !!float 1\n", "env.yml") == {
        "a": "1", "b": 2, "c": 1.0}


def test_yaml_alias_bomb_is_refused_fast_and_small() -> None:
    """RELIABILITY 30: 341 bytes, 387M leaves once expanded; refused before expansion."""
    assert len(BILLION_LAUGHS) == 341
    tracemalloc.start()
    start = time.perf_counter()
    try:
        message = yaml_error(BILLION_LAUGHS)
    finally:
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert message == ("env.yml: aliases expand to more than 250,000 nodes "
                       "(a YAML alias bomb?)")
    assert elapsed < 2.0
    assert peak < 50 << 20


def test_yaml_aliases_within_budget_are_expanded() -> None:
    assert load_yaml("a: &a [1, 2]\nb: *a\nc: {<<: {k: 1}, j: 2}\n", "env.yml") == {
        "a": [1, 2], "b": [1, 2], "c": {"k": 1, "j": 2}}


def test_yaml_recursive_alias_is_refused() -> None:
    assert yaml_error("a: &a [1, *a]\n") == (
        "env.yml: line 1: alias *a is used inside the node it names (a recursive structure)")


def test_yaml_deep_nesting_is_an_error_not_a_crash() -> None:
    # libyaml's own composer recurses in C and kills the interpreter on this.
    assert yaml_error("[" * 200_000 + "]" * 200_000) == (
        "env.yml: line 1: nested deeper than 100 levels")


@pytest.mark.parametrize(("text", "message"), [
    ("name: x\ndependencies: [a\n", "env.yml: line 3, column 1: "),
    ("name: x\n  bad: indent\n", "env.yml: line 2, column 6: mapping values are not allowed"),
    ("a: b: c\n", "env.yml: line 1, column 5: mapping values are not allowed"),
    ("x: *nowhere\n", "env.yml: line 1: alias *nowhere names no anchor"),
    ("x: !!int abc\n", "env.yml: line 1: 'abc' is not a valid !!int "
                      "(invalid literal for int() with base 10: 'abc')"),
    ("x: 1\nbuilt: 2021-02-30\n", "env.yml: line 2: '2021-02-30' is not a valid !!timestamp "
                                 "(day is out of range for month)"),
    ("x: \x07\n", "env.yml: line 1: unacceptable character #x0007 ("),
])
def test_yaml_malformed_names_line_and_problem(text: str, message: str) -> None:
    # A prefix: libyaml and PyYAML's Python parser word the end of some problems differently.
    assert yaml_error(text).startswith(message)


def test_yaml_duplicate_key_is_refused() -> None:
    text = "name: x\ndependencies:\n  - numpy\nchannels: []\ndependencies:\n  - scipy\n"
    assert yaml_error(text) == "env.yml: line 5: duplicate key 'dependencies' (first on line 2)"


def test_yaml_same_key_in_different_mappings_is_fine() -> None:
    assert load_yaml("- {name: a}\n- {name: b}\n", "env.yml") == [{"name": "a"}, {"name": "b"}]


def test_yaml_one_document_only() -> None:
    assert yaml_error("name: a\n---\nname: b\n") == (
        "env.yml: line 2: expected one YAML document, found another")


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n", "--- # nothing\n...\n"])
def test_yaml_empty_document_is_none(text: str) -> None:
    assert load_yaml(text, "env.yml") is None


def test_yaml_non_utf8_bytes(tmp_path: Path) -> None:
    f = tmp_path / "environment.yml"
    f.write_bytes(b"name: demo\nchannels: [caf\xe9]\n")
    with pytest.raises(ExchangeError) as caught:
        load_yaml(f.read_bytes(), str(f))
    assert str(caught.value) == f"{f}: line 2: not UTF-8 text (byte 0xe9 at offset 25)"


def test_yaml_utf16_with_bom_is_read() -> None:
    # What `conda env export > environment.yml` writes in Windows PowerShell.
    data = "\ufeffname: démo\n".encode("utf-16-le")
    assert load_yaml(data, "env.yml") == {"name": "démo"}


def test_yaml_size_cap_is_checked_before_parsing(tmp_path: Path) -> None:
    f = tmp_path / "big.yml"
    f.write_bytes(b"[" * (MAX_BYTES + 1))  # would be a nesting error if it were parsed
    start = time.perf_counter()
    with pytest.raises(ExchangeError) as caught:
        load_yaml(f.read_bytes(), str(f))
    assert str(caught.value) == (f"{f}: {MAX_BYTES + 1:,} bytes is larger than the 20 MiB "
                                 "a YAML file may have; not read")
    assert time.perf_counter() - start < 1.0


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!|>'\"#%@ \n\t,?.1")), max_size=60))
def test_yaml_random_text_fails_only_with_exchange_error(text: str) -> None:
    try:
        load_yaml(text, "env.yml")
    except ExchangeError as e:
        assert "\n" not in str(e) and str(e).startswith("env.yml: ")


# --------------------------------------------------------------------------- requirements


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def flags(parsed: RequirementsFile) -> list[tuple[int, str, bool]]:
    return [(f.line, f.what, f.danger) for f in parsed.flags]


def req_error(text: str, where: str = "req.txt") -> str:
    with pytest.raises(ExchangeError) as caught:
        parse_requirements_text(text, where)
    assert "\n" not in str(caught.value)
    return str(caught.value)


@pytest.mark.parametrize(("line", "what", "danger"), [
    ("--index-url https://pypi.example.com/simple",
     "sets the package index to https://pypi.example.com/simple", False),
    ("-i http://pypi.example.com/simple",
     "sets the package index to http://pypi.example.com/simple (http://, not https)", True),
    ("--extra-index-url=https://extra.example.com/simple",
     "adds the package index https://extra.example.com/simple", False),
    ("-f https://links.example.com/",
     "looks for packages at https://links.example.com/", False),
    ("--find-links http://links.example.com/",
     "looks for packages at http://links.example.com/ (http://, not https)", True),
    ("--find-links ./wheels", "looks for packages in the local directory ./wheels", False),
    ("--no-index", "turns the package index off (--no-index)", False),
    ("--trusted-host pypi.example.com", "trusts pypi.example.com over plain http and without "
     "checking its certificate (--trusted-host)", True),
    # optparse takes any unambiguous prefix: pip reads this as --trusted-host too.
    ("--trusted pypi.example.com", "trusts pypi.example.com over plain http and without "
     "checking its certificate (--trusted-host)", True),
    ("--pre", "allows pre-release versions (--pre)", False),
    ("--no-binary :all:", "asks pip for --no-binary :all: (not passed on by envtui)", False),
    ("--only-binary=numpy", "asks pip for --only-binary numpy (not passed on by envtui)", False),
    ("--prefer-binary", "asks pip for --prefer-binary (not passed on by envtui)", False),
    ("--require-hashes", "asks pip for --require-hashes (not passed on by envtui)", False),
    ("-r https://example.invalid/more.txt",
     "includes a remote requirements file https://example.invalid/more.txt (not fetched)", True),
    ("--constraint http://example.invalid/c.txt",
     "includes a remote constraints file http://example.invalid/c.txt (not fetched)", True),
    ("-e ./src/pkg", "installs the local directory ./src/pkg in editable mode", False),
    ("-e git+https://git.example.com/x/y.git@v1#egg=ypkg",
     "installs ypkg in editable mode from version control (its code is fetched and built): "
     "git+https://git.example.com/x/y.git@v1#egg=ypkg", True),
    ("git+ssh://git@git.example.com/x/z.git#egg=zpkg",
     "installs zpkg from version control (its code is fetched and built): "
     "git+ssh://git@git.example.com/x/z.git#egg=zpkg", True),
    ("foo @ https://files.example.com/foo-1.0-py3-none-any.whl",
     "installs foo from a direct URL, not an index: "
     "https://files.example.com/foo-1.0-py3-none-any.whl", False),
    ("http://files.example.com/bar-2.0.tar.gz",
     "installs bar from a direct URL, not an index: http://files.example.com/bar-2.0.tar.gz "
     "(http://, not https)", True),
    ("./dist/baz-1.0-py3-none-any.whl",
     "installs baz from the local path ./dist/baz-1.0-py3-none-any.whl", False),
    ("/srv/src/project", "installs a package from the local path /srv/src/project", False),
    ("file:///srv/qux-1.0.zip", "installs qux from the local path file:///srv/qux-1.0.zip", False),
    ("pkg @ file:///srv/pkg", "installs pkg from the local path file:///srv/pkg", False),
    ("--frobnicate x", "unknown option --frobnicate x (ignored)", False),
    ("--use-feature=fast-deps", "asks pip for --use-feature fast-deps (not passed on by envtui)",
     False),
    ("numpy --no-binary numpy",
     "--no-binary on a requirement line is ignored by pip (and envtui)", False),
])
def test_requirements_flag_every_option_and_source(line: str, what: str, danger: bool) -> None:
    parsed = parse_requirements_text(f"# shared by a collaborator\n{line}\n", "req.txt")
    assert flags(parsed) == [(2, what, danger)]
    assert parsed.flags[0] == Flag(2, line, "req.txt", what, danger)


def test_requirements_options_are_recorded_not_applied(tmp_path: Path) -> None:
    (tmp_path / "wheels").mkdir()
    parsed = parse_requirements_text(
        "--index-url http://first.example.com/simple\n"
        "--index-url https://second.example.com/simple\n"
        "--extra-index-url https://extra.example.com/simple\n"
        "-f ./wheels\n-f ./absent\n--trusted-host first.example.com\n--no-index\n--pre\n",
        "req.txt", tmp_path)
    assert parsed.options == Options(
        index_url="http://first.example.com/simple",
        extra_index_urls=("https://extra.example.com/simple",),
        find_links=(str(tmp_path / "wheels"), "./absent"),  # pip's rule: relative if it exists
        trusted_hosts=("first.example.com",), no_index=True, pre=True)
    assert flags(parsed)[1] == (
        2, "sets the package index again, to https://second.example.com/simple; envtui keeps "
        "the first one, http://first.example.com/simple", False)


def test_requirements_entries(tmp_path: Path) -> None:
    parsed = parse_requirements_text(
        "Requests[socks] >= 2.31 ; python_version >= '3.8'\n"
        "-e ./src/pkg[dev]\n"
        "foo @ https://files.example.com/foo-1.0-py3-none-any.whl\n"
        "git+https://git.example.com/x/z.git@v2#egg=zpkg\n"
        "./dist/baz-1.0-py3-none-any.whl\n",
        "req.txt", tmp_path)
    assert [(e.line, e.name, e.requirement, e.url, e.editable) for e in parsed.entries] == [
        (1, "Requests", 'Requests[socks]>=2.31; python_version >= "3.8"', None, False),
        (2, None, None, (tmp_path / "src" / "pkg").as_uri(), True),
        (3, "foo", "foo @ https://files.example.com/foo-1.0-py3-none-any.whl",
         "https://files.example.com/foo-1.0-py3-none-any.whl", False),
        (4, "zpkg", None, "git+https://git.example.com/x/z.git@v2#egg=zpkg", False),
        (5, "baz", None, (tmp_path / "dist" / "baz-1.0-py3-none-any.whl").as_uri(), False),
    ]


def test_requirements_hashes_continuations_and_comments() -> None:
    text = ("# pinned by hand\n"
            "\n"
            "requests==2.31.0 \\\n"
            "    --hash=sha256:ABCDEF01 \\\n"
            "    --hash sha512:99  # the mirror's hash\n"
            "six==1.16.0  # a#b is not a comment start, but ' #' is\n"
            "idna==3.6 --hash=sha256:00\n")
    parsed = parse_requirements_text(text, "req.txt")
    assert [(e.line, e.requirement, e.hashes) for e in parsed.entries] == [
        (3, "requests==2.31.0", ("sha256:abcdef01", "sha512:99")),
        (6, "six==1.16.0", ()),
        (7, "idna==3.6", ("sha256:00",)),
    ]
    assert parsed.flags == ()


def test_requirements_local_includes_are_followed(tmp_path: Path) -> None:
    write(tmp_path / "base.txt", "six==1.16.0\n")
    write(tmp_path / "sub" / "constraints.txt", "idna<4\n--extra-index-url "
                                                 "https://extra.example.com/simple\n")
    write(tmp_path / "sub" / "dev.txt", "-r ../base.txt\n-c constraints.txt\npytest\n")
    top = write(tmp_path / "requirements.txt", "requests\n--requirement=sub/dev.txt\n")
    parsed = read_requirements(top)
    assert [(e.where, e.line, e.name, e.constraint) for e in parsed.entries] == [
        (str(top), 1, "requests", False),
        (str(tmp_path / "base.txt"), 1, "six", False),
        (str(tmp_path / "sub" / "constraints.txt"), 1, "idna", True),
        (str(tmp_path / "sub" / "dev.txt"), 3, "pytest", False),
    ]
    assert parsed.options.extra_index_urls == ("https://extra.example.com/simple",)
    assert [(f.where, f.line, f.what) for f in parsed.flags] == [
        (str(top), 2, "includes requirements from sub/dev.txt"),
        (str(tmp_path / "sub" / "dev.txt"), 1, "includes requirements from ../base.txt"),
        (str(tmp_path / "sub" / "dev.txt"), 2,
         "applies constraints from constraints.txt (they limit versions and are not installed)"),
        (str(tmp_path / "sub" / "constraints.txt"), 2,
         "adds the package index https://extra.example.com/simple"),
    ]


def test_requirements_include_cycle_is_flagged_and_stops(tmp_path: Path) -> None:
    a = write(tmp_path / "a.txt", "alpha\n-r b.txt\n")
    write(tmp_path / "b.txt", "beta\n-r a.txt\n")
    parsed = read_requirements(a)
    assert [e.name for e in parsed.entries] == ["alpha", "beta"]
    assert (parsed.flags[-1].where, parsed.flags[-1].what) == (
        str(tmp_path / "b.txt"),
        "includes a.txt, which is already being read (an include cycle; not read again)")


def test_requirements_include_depth_is_capped(tmp_path: Path) -> None:
    for i in range(MAX_INCLUDE_DEPTH + 2):
        write(tmp_path / f"r{i}.txt", f"-r r{i + 1}.txt\n")
    write(tmp_path / f"r{MAX_INCLUDE_DEPTH + 2}.txt", "six\n")
    deepest = tmp_path / f"r{MAX_INCLUDE_DEPTH}.txt"
    with pytest.raises(ExchangeError) as caught:
        read_requirements(tmp_path / "r0.txt")
    assert str(caught.value) == (f"{deepest}: line 1: -r r{MAX_INCLUDE_DEPTH + 1}.txt: "
                                 f"includes nest more than {MAX_INCLUDE_DEPTH} deep")


def test_requirements_missing_include_names_the_line(tmp_path: Path) -> None:
    top = write(tmp_path / "requirements.txt", "six\n-r nowhere.txt\n")
    with pytest.raises(ExchangeError) as caught:
        read_requirements(top)
    assert str(caught.value) == (f"{top}: line 2: included file {tmp_path / 'nowhere.txt'}: "
                                 "does not exist")


def test_requirements_include_of_a_fifo_does_not_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    top = write(tmp_path / "requirements.txt", "-r pipe\n")
    with pytest.raises(ExchangeError) as caught:
        read_requirements(top)
    assert str(caught.value).endswith(f"included file {tmp_path / 'pipe'}: is not a regular file")


def test_requirements_remote_include_is_never_fetched() -> None:
    """A listening loopback socket sees no connection: the parser never opens URLs."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        server.setblocking(False)
        port = server.getsockname()[1]
        parsed = parse_requirements_text(f"-r http://127.0.0.1:{port}/more.txt\n"
                                         f"-c https://127.0.0.1:{port}/c.txt\nsix\n", "req.txt")
        with pytest.raises(BlockingIOError):
            server.accept()
    assert [e.name for e in parsed.entries] == ["six"]
    assert flags(parsed) == [
        (1, f"includes a remote requirements file http://127.0.0.1:{port}/more.txt (not fetched)",
         True),
        (2, f"includes a remote constraints file https://127.0.0.1:{port}/c.txt (not fetched)",
         True),
    ]


def test_requirements_relative_include_without_a_base_is_not_read() -> None:
    parsed = parse_requirements_text("-r other.txt\n", "pasted text")
    assert flags(parsed) == [(1, "includes other.txt, relative to an unknown directory "
                                 "(not read)", False)]


def test_requirements_environment_variables_are_flagged_not_expanded(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKEN", "s3cret")
    parsed = parse_requirements_text(
        "--extra-index-url https://${TOKEN}@private.example.com/simple\n", "req.txt")
    assert parsed.options.extra_index_urls == ("https://${TOKEN}@private.example.com/simple",)
    assert flags(parsed)[0] == (
        1, "uses environment variable ${TOKEN}: envtui does not expand it", False)


@pytest.mark.parametrize(("text", "message"), [
    ("six\nfoo===\nnumpy>=1,<\n",
     "req.txt: line 3: numpy>=1,<: Expected comma (within version specifier), semicolon "
     "(after version specifier) or end"),
    ("caf\u00e9==1.0\n", "req.txt: line 1: caf\u00e9==1.0: Expected package name at the start "
     "of dependency specifier (PEP 508 names are ASCII letters, digits, '.', '-' and '_')"),
    ("foo==${VERSION}\n", "req.txt: line 1: foo==${VERSION}: Expected semicolon (after name "
     "with no version specifier) or end (envtui does not expand ${VAR})"),
    ("# comment\nsix \\\n  --hash=md5:00\n",
     "req.txt: line 2: six   --hash=md5:00: --hash 'md5:00' is not sha256:, sha384: or "
     "sha512: followed by hex digits"),
    ("--hash=sha256:00\n", "req.txt: line 1: --hash=sha256:00: --hash must follow a "
     "requirement on the same line"),
    ("--index-url\n", "req.txt: line 1: --index-url: --index-url needs a value"),
    ("--pre=yes\n", "req.txt: line 1: --pre=yes: --pre takes no value"),
    ("-e https://files.example.com/x.tar.gz\n",
     "req.txt: line 1: -e https://files.example.com/x.tar.gz: an editable requirement must "
     "be a local directory or a VCS URL"),
    ("git+https://git.example.com/x.git#egg=caf\u00e9\n", "req.txt: line 1: "
     "git+https://git.example.com/x.git#egg=caf\u00e9: #egg=caf\u00e9 is not a valid project name"),
    ("six --hash='sha256:00\n", "req.txt: line 1: six --hash='sha256:00: cannot split the "
     "options (No closing quotation)"),
])
def test_requirements_bad_lines_name_file_and_line(text: str, message: str) -> None:
    assert req_error(text) == message


def test_requirement_lines_of_an_environment_file(tmp_path: Path) -> None:
    write(tmp_path / "extra.txt", "six\n")
    parsed = parse_requirement_lines(
        ["requests==2.31.0", "--index-url http://mirror.example.com/simple", "-r extra.txt"],
        "environment.yml (pip:)", tmp_path)
    assert [(e.where, e.line, e.name) for e in parsed.entries] == [
        ("environment.yml (pip:)", 1, "requests"), (str(tmp_path / "extra.txt"), 1, "six")]
    assert flags(parsed) == [
        (2, "sets the package index to http://mirror.example.com/simple (http://, not https)",
         True),
        (3, "includes requirements from extra.txt", False),
    ]
    with pytest.raises(ExchangeError) as caught:
        parse_requirement_lines(["six", "numpy>>1"], "environment.yml (pip:)")
    assert str(caught.value).startswith("environment.yml (pip:): line 2: numpy>>1: ")


def test_read_requirements_checks_size_and_encoding(tmp_path: Path) -> None:
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"six\ncaf\xe9\n")
    with pytest.raises(ExchangeError) as caught:
        read_requirements(latin)
    assert str(caught.value) == f"{latin}: line 2: not UTF-8 text (byte 0xe9 at offset 7)"

    big = tmp_path / "big.txt"
    big.write_bytes(b"#" * (4 << 20) + b"\n")
    with pytest.raises(ExchangeError) as caught:
        read_requirements(big)
    assert str(caught.value) == f"{big}: is larger than 4 MiB; not read"


def test_terminal_escapes_in_flags_are_shown_escaped() -> None:
    parsed = parse_requirements_text("--index-url https://x.example.com/\x1b[2Jsimple\n",
                                     "req.txt")
    assert parsed.flags[0].what == "sets the package index to https://x.example.com/\\x1b[2Jsimple"
    assert parsed.options.index_url == "https://x.example.com/\x1b[2Jsimple"


def test_entry_shape_is_what_the_importer_reads() -> None:
    (entry,) = parse_requirements_text("six==1.16.0 --hash=sha256:ab\n", "req.txt").entries
    assert entry == Entry(line=1, text="six==1.16.0 --hash=sha256:ab", name="six",
                          requirement="six==1.16.0", url=None, editable=False,
                          hashes=("sha256:ab",), where="req.txt", constraint=False)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab1=<>~!;@#$[]{}()/:.-e \\\n\t'\"é")), max_size=60))
def test_requirements_random_text_fails_only_with_exchange_error(text: str) -> None:
    try:
        parse_requirements_text(text, "req.txt")
    except ExchangeError as e:
        assert "\n" not in str(e) and str(e).startswith("req.txt: ")
