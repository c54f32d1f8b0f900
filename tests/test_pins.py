"""Contradictory pins in project files: readers, the contradiction check and satisfiability.

The fixture projects live in tests/fixtures/projects/; cases that need absolute paths or big
files are written into tmp_path. Every check asserts the exact problems reported.
"""

from __future__ import annotations

import functools
import itertools
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.specifiers import Specifier, SpecifierSet
from packaging.version import Version

from envtui.model import Problem, ProblemKind
from envtui.resolver.pins import candidate_versions, check_project, find_version
from envtui.resolver.project_files import (
    FILE_LIMIT,
    conda_spec,
    logical_lines,
    project_files,
    read_project,
)

PROJECTS = Path(__file__).parent / "fixtures" / "projects"

Row = tuple[str, str | None, tuple[str, ...], str]


def rows(problems: list[Problem]) -> list[Row]:
    """The fields every test pins down: kind, package, files, detail."""
    return [(p.kind, p.package, p.files, p.detail) for p in problems]


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


PIN = ProblemKind.PIN_CONFLICT
BAD = ProblemKind.INVALID_METADATA


# --------------------------------------------------------------------------- contradictions


def test_contradiction_across_two_files() -> None:
    problems = check_project(PROJECTS / "two_files")
    assert rows(problems) == [
        (PIN, "numpy", ("requirements.txt:3", "pyproject.toml:7"),
         "numpy: numpy==1.26.* (requirements.txt:3) and numpy>=2 (pyproject.toml:7) "
         "cannot both be satisfied"),
    ]
    assert problems[0].requirement == "numpy==1.26.*, numpy>=2"
    assert problems[0].kind == "pin-conflict"


def test_contradiction_only_all_three_files_together() -> None:
    # >=1.26, <=1.26 and !=1.26 (a conda spec) are pairwise satisfiable; all three are not.
    assert rows(check_project(PROJECTS / "three_files")) == [
        (PIN, "numpy", ("requirements.txt:1", "pyproject.toml:4", "environment.yml:6"),
         "numpy: numpy>=1.26 (requirements.txt:1), numpy<=1.26 (pyproject.toml:4) and "
         "numpy!=1.26 (environment.yml:6) cannot all be satisfied together"),
    ]
    for pair in itertools.combinations([">=1.26", "<=1.26", "!=1.26"], 2):
        assert find_version(pair) is not None


def test_nested_requirement_and_constraint_includes() -> None:
    assert rows(check_project(PROJECTS / "includes")) == [
        (PIN, "numpy", ("base/pins.txt:3", "base/common.txt:2"),
         "numpy: numpy==1.26.4 (base/pins.txt:3) and numpy>=2 (base/common.txt:2) "
         "cannot both be satisfied"),
    ]
    # Options, editables, paths and URLs are not pins; continuation lines and comments go.
    pins = [(p.name, p.text, p.where) for p in read_project(PROJECTS / "includes").pins]
    assert pins == [
        ("pandas", "pandas==2.2.1", "base/pins.txt:2"),
        ("numpy", "numpy==1.26.4", "base/pins.txt:3"),
        ("numpy", "numpy>=2", "base/common.txt:2"),
        ("pandas", "pandas>=2.2", "base/common.txt:4"),
        ("requests", "requests>=2", "requirements.txt:8"),
    ]


def test_single_file_argument_follows_its_includes() -> None:
    assert rows(check_project(PROJECTS / "includes" / "requirements.txt")) == rows(
        check_project(PROJECTS / "includes"))


def test_optional_dependencies_and_dependency_groups() -> None:
    # torch's cpu/gpu extras contradict, but [tool.uv] conflicts says they never meet.
    assert rows(check_project(PROJECTS / "optional_groups")) == [
        (PIN, "numpy", ("pyproject.toml:5", "pyproject.toml:9"),
         "numpy: numpy>=1.20 (pyproject.toml:5) and numpy<1.20 (pyproject.toml:9) "
         "cannot both be satisfied"),
        (PIN, "scipy", ("pyproject.toml:12", "pyproject.toml:13"),
         "scipy: scipy<1.10 (pyproject.toml:12) and scipy>=1.11 (pyproject.toml:13) "
         "cannot both be satisfied"),
        (PIN, "pytest", ("pyproject.toml:16", "pyproject.toml:19"),
         "pytest: pytest>=8 (pyproject.toml:16) and pytest<8 (pyproject.toml:19) "
         "cannot both be satisfied"),
    ]
    groups = {p.text: p.groups for p in read_project(PROJECTS / "optional_groups").pins}
    assert groups["pytest>=8"] == {"group:test", "group:lint"}  # lint includes test
    assert groups["torch==2.2.*"] == {"extra:gpu"}


def test_environment_yml_conda_section_against_pip_section() -> None:
    assert rows(check_project(PROJECTS / "environment")) == [
        (PIN, "numpy", ("environment.yml:6", "environment.yml:10"),
         "numpy: conda-forge::numpy=1.26 (environment.yml:6) and numpy>=2 "
         "(environment.yml:10) cannot both be satisfied"),
    ]


def test_pipfile_packages_against_dev_packages() -> None:
    assert rows(check_project(PROJECTS / "pipfile")) == [
        (PIN, "requests", ("Pipfile:7", "Pipfile:12"),
         "requests: requests==2.31.0 (Pipfile:7) and requests<2.30 (Pipfile:12) "
         "cannot both be satisfied"),
        # Windows with Python >= 3.10 sees both numpy entries.
        (PIN, "numpy", ("Pipfile:9", "Pipfile:13"),
         "numpy: numpy>=2; python_version >= '3.10' (Pipfile:9) and "
         "numpy<2; sys_platform == 'win32' (Pipfile:13) cannot both be satisfied"),
    ]


def test_markers_that_never_hold_together_do_not_alarm() -> None:
    assert check_project(PROJECTS / "markers_ok") == []


def test_requires_python_bounds_the_environments_checked(tmp_path: Path) -> None:
    write(tmp_path, {
        "requirements.txt": 'numpy==1.26.*; python_version < "3.10"\nnumpy>=2\n',
        "pyproject.toml": '[project]\nname = "x"\nversion = "1"\nrequires-python = ">=3.10"\n',
    })
    assert check_project(tmp_path) == []
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1"\n')
    assert rows(check_project(tmp_path)) == [
        (PIN, "numpy", ("requirements.txt:1", "requirements.txt:2"),
         'numpy: numpy==1.26.*; python_version < "3.10" (requirements.txt:1) and numpy>=2 '
         "(requirements.txt:2) cannot both be satisfied"),
    ]


def test_requires_python_against_conda_python(tmp_path: Path) -> None:
    write(tmp_path, {
        "pyproject.toml": '[project]\nname = "x"\nversion = "1"\nrequires-python = ">=3.10"\n',
        "environment.yml": "dependencies:\n  - python=3.9\n",
    })
    assert rows(check_project(tmp_path)) == [
        (PIN, "python", ("pyproject.toml:4", "environment.yml:2"),
         "python: requires-python >=3.10 (pyproject.toml:4) and python=3.9 "
         "(environment.yml:2) cannot both be satisfied"),
    ]


def test_compatible_pins_do_not_alarm() -> None:
    # numpy>=1.20, numpy<2, conda numpy=1.26 and pip numpy==1.26.4 all allow 1.26.4.
    assert check_project(PROJECTS / "compatible") == []
    assert len(read_project(PROJECTS / "compatible").pins) == 4


def test_compatible_release_exclusion_and_identity_edge_cases() -> None:
    # six===1.16.0 with six==1.16 and bar~=2.2.post3 with bar<2.3 are satisfiable.
    assert rows(check_project(PROJECTS / "operators")) == [
        (PIN, "attrs", ("constraints.txt:1", "requirements.txt:1"),
         "attrs: attrs>=24 (constraints.txt:1) and attrs~=23.1 (requirements.txt:1) "
         "cannot both be satisfied"),
        (PIN, "click", ("constraints.txt:2", "requirements.txt:2"),
         "click: click==8.1.7 (constraints.txt:2) and click!=8.1.* (requirements.txt:2) "
         "cannot both be satisfied"),
        (PIN, "legacy", ("constraints.txt:4", "requirements.txt:4"),
         "legacy: legacy>=1 (constraints.txt:4) and legacy===1.0-custom "
         "(requirements.txt:4) cannot both be satisfied"),
        (PIN, "baz", ("constraints.txt:6", "requirements.txt:6"),
         "baz: baz<1.0.post1 (constraints.txt:6) and baz>1.0 (requirements.txt:6) "
         "cannot both be satisfied"),
    ]


def test_one_requirement_that_contradicts_itself(tmp_path: Path) -> None:
    write(tmp_path, {"requirements.txt": "numpy>=2,<1\nscipy\n"})
    assert rows(check_project(tmp_path)) == [
        (PIN, "numpy", ("requirements.txt:1",),
         "numpy: numpy>=2,<1 (requirements.txt:1) cannot be satisfied"),
    ]


def test_only_the_requirements_involved_are_named(tmp_path: Path) -> None:
    write(tmp_path, {"requirements.txt": "numpy>=1.20\nnumpy==1.26.*\nnumpy<3\nnumpy>=2\n"})
    assert rows(check_project(tmp_path)) == [
        (PIN, "numpy", ("requirements.txt:2", "requirements.txt:4"),
         "numpy: numpy==1.26.* (requirements.txt:2) and numpy>=2 (requirements.txt:4) "
         "cannot both be satisfied"),
    ]


# --------------------------------------------------------------------------- bad input


def test_include_cycle_is_one_problem_and_the_rest_is_read() -> None:
    project = read_project(PROJECTS / "cycle")
    assert rows(list(project.problems)) == [
        (BAD, None, ("more.txt:1",),
         "more.txt:1: include cycle requirements.txt -> more.txt -> requirements.txt"),
    ]
    assert [p.where for p in project.pins] == ["requirements.txt:1", "more.txt:2"]
    assert check_project(PROJECTS / "cycle") == list(project.problems)


def test_missing_include() -> None:
    assert rows(check_project(PROJECTS / "missing_include")) == [
        (BAD, None, ("requirements.txt:2",),
         "requirements.txt:2: included file nothere.txt does not exist"),
    ]


def test_unparseable_line_names_file_and_line() -> None:
    problems = check_project(PROJECTS / "invalid_line")
    assert rows(problems) == [
        (BAD, None, ("requirements.txt:2",),
         "requirements.txt:2: unparseable requirement 'numpy>>2'"),
    ]
    assert problems[0].requirement == "numpy>>2"
    assert [p.where for p in read_project(PROJECTS / "invalid_line").pins] == [
        "requirements.txt:1", "requirements.txt:3"]


def test_broken_file_is_one_problem_and_the_others_are_checked(tmp_path: Path) -> None:
    # Written here: a broken pyproject.toml in the repository would break ruff's config search.
    write(tmp_path, {
        "pyproject.toml": '[project\nname = "demo"\n',
        "requirements.txt": "numpy==1.26.*\n",
        "environment.yml": "dependencies:\n  - pip:\n    - numpy>=2\n",
    })
    assert rows(check_project(tmp_path)) == [
        (BAD, None, ("pyproject.toml",),
         "pyproject.toml: invalid TOML: Expected ']' at the end of a table declaration "
         "(at line 1, column 9)"),
        (PIN, "numpy", ("requirements.txt:1", "environment.yml:3"),
         "numpy: numpy==1.26.* (requirements.txt:1) and numpy>=2 (environment.yml:3) "
         "cannot both be satisfied"),
    ]


def test_yaml_python_tag_is_rejected_and_nothing_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    write(tmp_path, {"environment.yml": (
        "dependencies:\n"
        f"  - !!python/object/apply:os.system [\"touch {marker}\"]\n"
        "  - numpy\n")})
    assert rows(check_project(tmp_path)) == [
        (BAD, None, ("environment.yml:2",),
         "environment.yml:2: YAML tag !!python/object/apply:os.system is not allowed"),
    ]
    assert not marker.exists()


def test_alias_bomb_is_rejected_fast_in_bounded_memory() -> None:
    project = PROJECTS / "alias_bomb"
    expected = [(BAD, None, ("environment.yml",),
                 "environment.yml: more than 100000 YAML nodes (alias bomb?); not read")]
    start = time.perf_counter()
    assert rows(check_project(project)) == expected
    assert time.perf_counter() - start < 1.0
    tracemalloc.start()
    try:
        check_project(project)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 << 20


def test_bad_yaml_shapes(tmp_path: Path) -> None:
    cases = {
        "dependencies: [\n": "environment.yml:2: invalid YAML: while parsing a flow node, "
                             "expected the node content, but found '<stream end>'",
        "just text\n": "environment.yml: is not a mapping",
        "dependencies: 5\n": "environment.yml: dependencies is not a list",
        "a: &a [*a]\ndependencies: *a\n": "environment.yml:1: nested deeper than 64 levels",
        "dependencies:\n  - numpy>=1[\n": "environment.yml:2: unparseable conda spec "
                                         "'numpy>=1['",
    }
    for text, detail in cases.items():
        (tmp_path / "environment.yml").write_text(text)
        assert [p.detail for p in check_project(tmp_path)] == [detail], text


def test_oversized_file_is_not_read(tmp_path: Path) -> None:
    write(tmp_path, {"requirements.txt": "# padding\n" * (FILE_LIMIT // 10 + 1)})
    assert rows(check_project(tmp_path)) == [
        (BAD, None, ("requirements.txt",), "requirements.txt: is larger than 4 MiB; not read"),
    ]


def test_dependency_group_cycle_and_unknown_include(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": (
        "[dependency-groups]\n"
        'a = [{include-group = "b"}, "x>=1"]\n'
        'b = [{include-group = "a"}, "x<1"]\n'
        'c = [{include-group = "nope"}]\n')})
    assert rows(check_project(tmp_path)) == [
        (BAD, None, ("pyproject.toml:3",), "pyproject.toml:3: dependency group cycle a -> b -> a"),
        (BAD, None, ("pyproject.toml:4",),
         "pyproject.toml:4: dependency group 'c' includes unknown group 'nope'"),
        (PIN, "x", ("pyproject.toml:2", "pyproject.toml:3"),
         "x: x>=1 (pyproject.toml:2) and x<1 (pyproject.toml:3) cannot both be satisfied"),
    ]


def test_missing_path_and_empty_project(tmp_path: Path) -> None:
    assert check_project(tmp_path) == []
    assert rows(check_project(tmp_path / "nope")) == [
        (BAD, None, (f"{tmp_path}/nope",), f"{tmp_path}/nope: no such file or directory"),
    ]


# --------------------------------------------------------------------------- small parsers


def test_which_files_are_read(tmp_path: Path) -> None:
    names = ["requirements.txt", "requirements-dev.txt", "dev-requirements.in", "constraints.txt",
             "MANIFEST.in", "notes.txt", "requirements/test.in", "requirements/base.txt",
             "pyproject.toml", "environment.yaml", "Pipfile", "Pipfile.lock", "setup.cfg"]
    write(tmp_path, dict.fromkeys(names, ""))
    assert [p.relative_to(tmp_path).as_posix() for p in project_files(tmp_path)] == [
        "constraints.txt", "dev-requirements.in", "requirements-dev.txt", "requirements.txt",
        "requirements/base.txt", "requirements/test.in",
        "pyproject.toml", "environment.yaml", "Pipfile",
    ]



def test_logical_lines_join_continuations_and_drop_comments() -> None:
    text = "# head\n\nnumpy>=1 \\\n  ,<2  # why\n# tail \\\nurl#frag\n  \\\n"
    assert list(logical_lines(text)) == [(3, "numpy>=1   ,<2"), (6, "url#frag")]


@pytest.mark.parametrize(("spec", "name", "specifiers"), [
    ("numpy=1.26", "numpy", ["==1.26.*"]),
    ("numpy==1.26", "numpy", ["==1.26"]),
    ("numpy 1.26 py311_0", "numpy", ["==1.26"]),
    ("numpy=1.26=py311_0", "numpy", ["==1.26"]),
    ("numpy 1.26.*", "numpy", ["==1.26.*"]),
    ("conda-forge::NumPy>=1.20,<2|1.7.*", "numpy", ["<2,>=1.20", "==1.7.*"]),
    ("numpy >=1.20, <2", "numpy", ["<2,>=1.20"]),
    ("numpy[version='>=1.2']", "numpy", [">=1.2"]),
    ("numpy>=1.8.*", "numpy", [">=1.8"]),
    ("numpy!=1.8*", "numpy", ["!=1.8.*"]),
    ("python=3.11", "python", ["==3.11.*"]),
    ("numpy", "numpy", []),
    ("libblas=*=*mkl", "libblas", []),
    ("tzdata=2023c", "tzdata", []),  # not expressible in PEP 440: no constraint
])
def test_conda_spec(spec: str, name: str, specifiers: list[str]) -> None:
    assert conda_spec(spec) == (name, tuple(SpecifierSet(s) for s in specifiers))


@pytest.mark.parametrize("spec", ["==1.2", "numpy>=1[", "numpy 1 2 3"])
def test_conda_spec_malformed(spec: str) -> None:
    assert conda_spec(spec) is None


@pytest.mark.parametrize(("specs", "satisfiable"), [
    (["==1.26.*", ">=2"], False),
    ([">=1.20", "<2", "==1.26.4"], True),
    (["~=1.4.5", ">=1.5"], False),
    (["~=1.4.5", ">=1.4.9"], True),
    (["!=1.0", ">=1.0", "<=1.0"], False),
    (["===1.0", "==1.0"], True),
    (["===foo", ">=0"], False),
    (["===foo"], True),
    ([">1.0", "<1.0.post1"], False),
    ([">1.0", "<1.0.0.1"], True),
    (["<1.0", ">=1.0.dev0"], False),
    (["<1.0rc1", ">1.0a1"], True),
    (["==1.0+local", "!=1.0+local"], False),
    (["==1.0+local", ">=1.0,<=1.0"], True),
    (["<1!0", ">2"], True),
    # Cells that only a successor or a zero part reaches:
    ([">1.0.post0", "<1.0.post2.dev0"], True),  # 1.0.post1
    ([">1.0a0", "<1.0a2.dev0"], True),  # 1.0a1 (`>1.0a0` excludes every post of 1.0)
    ([">1.0.dev0", "<1.0.dev2"], True),  # 1.0.dev1
    ([">=1.0", "!=1.0", "<1.0.post2.dev0"], True),  # 1.0.post0
    ([">1.0", "<1.0.0.1"], True),
    ([">1.0.post0", "<1.0.post1.dev0"], False),
])
def test_find_version_examples(specs: list[str], satisfiable: bool) -> None:
    found = find_version(specs)
    assert (found is not None) == satisfiable
    if found is not None:
        assert all(matches(s, found) for spec in specs for s in SpecifierSet(spec))


# --------------------------------------------------------------------------- property


def matches(spec: Specifier, version: str) -> bool:
    """PEP 440 membership as packaging decides it, pre-releases allowed."""
    if spec.operator == "===":
        return version.lower() == spec.version.lower()
    return spec.contains(Version(version), prereleases=True)


def _universe() -> list[str]:
    """Every version with release parts 0-2 (1-3 of them) and pre/post/dev parts on either
    side of and between the generated literals' ones, plus each plain release with the local
    label: dense enough that any combination of the generated specifiers that some version
    satisfies is satisfied by one of these."""
    releases = [".".join(map(str, r))
                for n in (1, 2, 3) for r in itertools.product(range(3), repeat=n)]
    pres = ["", "a0", "a1", "a2", "a3", "rc0", "rc1", "rc2"]
    posts = ["", ".post0", ".post1", ".post2", ".post3"]
    devs = ["", ".dev0", ".dev1", ".dev2", ".dev3"]
    return [*map("".join, itertools.product(releases, pres, posts, devs)),
            *(r + "+x" for r in releases)]


UNIVERSE = _universe()
PARSED = [Version(v) for v in UNIVERSE]


@functools.cache
def allowed(spec: str) -> int:
    """Bitmask over UNIVERSE of the versions `spec` allows."""
    s = Specifier(spec)
    mask = 0
    for bit, (text, version) in enumerate(zip(UNIVERSE, PARSED, strict=True)):
        if (text == s.version if s.operator == "===" else s.contains(version, prereleases=True)):
            mask |= 1 << bit
    return mask


RELEASES = st.lists(st.integers(0, 1), min_size=1, max_size=2).map(
    lambda parts: ".".join(map(str, parts)))
SUFFIXES = st.tuples(st.sampled_from(["", "a0", "a2", "rc1"]),
                     st.sampled_from(["", ".post0", ".post2"]),
                     st.sampled_from(["", ".dev0", ".dev2"])).map("".join)
OPERATORS = ["==", "!=", "<", "<=", ">", ">=", "~=", "===", "==*", "!=*"]


@st.composite
def specifier_lists(draw: st.DrawFn) -> list[str]:
    """1-5 specifiers over a pool of 1-2 releases, so most of them share a release and the
    pre/post/dev structure inside one release gets exercised."""
    pool = draw(st.lists(RELEASES, min_size=1, max_size=2))
    out = []
    for _ in range(draw(st.integers(1, 5))):
        release, op = draw(st.sampled_from(pool)), draw(st.sampled_from(OPERATORS))
        if op.endswith("*"):
            out.append(f"{op[:2]}{release}.*")
            continue
        if op == "~=" and "." not in release:
            release += ".0"
        suffix = draw(SUFFIXES)
        if op in ("==", "!=", "===") and not suffix:
            suffix = draw(st.sampled_from(["", "+x"]))
        out.append(f"{op}{release}{suffix}")
    return out


@settings(max_examples=400, deadline=None)
@given(specifier_lists())
def test_find_version_agrees_with_brute_force(specs: list[str]) -> None:
    found = find_version(specs)
    everything = (1 << len(UNIVERSE)) - 1
    brute = functools.reduce(lambda mask, s: mask & allowed(s), specs, everything)
    assert (found is not None) == bool(brute), (found, specs)
    if found is not None:
        assert all(matches(Specifier(s), found) for s in specs)
        assert found in candidate_versions(Specifier(s) for s in specs)
