"""resolvelib's real-world PyPI snapshots through envtui's own provider (RELIABILITY 14, 15)."""

from __future__ import annotations

import time

import pytest
from packaging.version import Version

from envtui.resolver.provider import Provider, parse_requirement
from envtui.resolver.resolve import GaveUp, ResolutionFailed, resolve
from tests.corpus_source import CorpusSource, case_names, load_case, running_target

PATHOLOGICAL = "pyrex-1.9.8"

# resolvelib's reference provider drops every dependency that has a marker when the
# candidate has no extras (its marker check is an any() over an empty tuple), and the
# expected sets were recorded with it. envtui evaluates markers as PEP 508 says, so it also
# installs what botocore needs on any Python but 3.4.
MARKER_DEPENDENCIES = {"chalice": {"urllib3": "1.25.8"}}


@pytest.mark.parametrize("name", [n for n in case_names() if n != PATHOLOGICAL])
def test_corpus_case(name: str) -> None:
    case = load_case(name)
    provider = Provider([CorpusSource(case.index)], running_target())
    requested = [parse_requirement(r) for r in case.requested]
    if case.conflicted is not None:
        with pytest.raises(ResolutionFailed) as info:
            resolve(requested, provider)
        assert set(info.value.conflicted) == case.conflicted
        for package in case.conflicted:
            assert package in info.value.explanation
    else:
        result = resolve(requested, provider)
        assert {k: c.version for k, c in result.pins.items()} == {
            k: Version(v)
            for k, v in {**case.resolved, **MARKER_DEPENDENCIES.get(name, {})}.items()}
    for package, versions in case.unvisited.items():
        visited = {v for n, v in provider.fetched if n == package}
        assert not visited & set(versions), f"{package} {visited & set(versions)} was tried"


def test_pathological_case_gives_up_within_its_budget() -> None:
    case = load_case(PATHOLOGICAL)
    provider = Provider([CorpusSource(case.index)], running_target())
    started = time.monotonic()
    with pytest.raises(GaveUp) as info:
        resolve([parse_requirement(r) for r in case.requested], provider, max_rounds=300)
    assert "gave up after 300 rounds" in str(info.value)
    assert time.monotonic() - started < 60


def test_time_budget_stops_the_pathological_case() -> None:
    case = load_case(PATHOLOGICAL)
    provider = Provider([CorpusSource(case.index)], running_target())
    started = time.monotonic()
    with pytest.raises(GaveUp, match=r"gave up after \d+ rounds and 0.5 s"):
        resolve([parse_requirement(r) for r in case.requested], provider, time_budget=0.5)
    assert time.monotonic() - started < 10
