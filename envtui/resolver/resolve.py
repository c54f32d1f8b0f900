"""Running a resolution within a budget, with a plain-words answer when it is impossible."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from resolvelib import BaseReporter, ResolutionImpossible, ResolutionTooDeep, Resolver

from envtui.format import plural
from envtui.resolver.provider import PYTHON, Candidate, Provider, Req
from envtui.resolver.sources import SourceError

MAX_ROUNDS = 5000
"""Rounds (one pin each) before giving up; real-world resolutions need a few hundred."""
TIME_BUDGET = 120.0
"""Seconds before giving up."""


class ResolutionFailed(Exception):
    """No resolution: `explanation` says why in plain words, naming what is involved."""

    def __init__(self, explanation: str, involved: Sequence[str] = (),
                 conflicted: Sequence[str] = ()) -> None:
        super().__init__(explanation)
        self.explanation = explanation
        self.involved = tuple(involved)
        """Canonical names of the packages the explanation is about."""
        self.conflicted = tuple(conflicted)
        """Canonical names of the requirements that could not be met together."""


class GaveUp(ResolutionFailed):
    """The budget ran out before the resolver could decide."""


@dataclass
class Resolution:
    pins: dict[str, Candidate]
    """Canonical name -> the chosen candidate (without extras or the interpreter)."""
    rounds: int


class _Budget(BaseReporter):  # type: ignore[type-arg]
    def __init__(self, deadline: float, progress: Callable[[str], None] | None) -> None:
        self.deadline = deadline
        self.progress = progress
        self.rounds = 0
        self.pinned = 0

    def starting_round(self, index: int) -> None:
        self.rounds = index
        if time.monotonic() > self.deadline:
            raise _OutOfTime(index)

    def pinning(self, candidate: Any) -> None:
        self.pinned += 1
        if self.progress is not None and candidate.name != PYTHON:
            self.progress(f"round {self.rounds}: trying {candidate}")


class _OutOfTime(Exception):
    def __init__(self, rounds: int) -> None:
        self.rounds = rounds


def resolve(requirements: Sequence[Req], provider: Provider, *, max_rounds: int = MAX_ROUNDS,
            time_budget: float = TIME_BUDGET,
            progress: Callable[[str], None] | None = None) -> Resolution:
    """Resolve `requirements` with `provider`. Raises ResolutionFailed (or GaveUp)."""
    from envtui.resolver.explain import explain_impossible

    budget = _Budget(time.monotonic() + time_budget, progress)
    try:
        result = Resolver(provider, budget).resolve(requirements, max_rounds=max_rounds)
    except ResolutionImpossible as exc:
        # Explained first, from what resolvelib saw: the search below asks the provider more.
        text, involved = explain_impossible(list(exc.causes), provider)
        conflicted = sorted({c.requirement.name for c in exc.causes} - {PYTHON})
        # resolvelib's backjumping can miss a solution; a complete search double-checks.
        found = _second_opinion(requirements, provider, budget.deadline)
        if found is None:
            raise ResolutionFailed(text, involved, conflicted) from None
        mapping = found
    except ResolutionTooDeep as exc:
        raise GaveUp(f"gave up after {plural(exc.round_count, 'round')}: the requirements "
                     "need more backtracking than the budget allows; pin some of them "
                     "more tightly and try again") from None
    except _OutOfTime as exc:
        raise GaveUp(f"gave up after {plural(exc.rounds, 'round')} and {time_budget:g} s: "
                     "the requirements need more backtracking than the time budget "
                     "allows; pin some of them more tightly and try again") from None
    except SourceError as exc:
        raise ResolutionFailed(str(exc)) from None
    else:
        mapping = result.mapping
    pins = {ident: c for ident, c in mapping.items() if not c.extras and ident != PYTHON}
    return Resolution(pins, budget.rounds)


def _second_opinion(requirements: Sequence[Req], provider: Provider,
                    deadline: float) -> dict[str, Candidate] | None:
    """What a complete search finds within its own budget; None when it finds nothing."""
    from envtui.resolver.backtrack import SECONDS, Exhausted, search

    try:
        return search(requirements, provider,
                      deadline=min(deadline, time.monotonic() + SECONDS))
    except (Exhausted, SourceError):
        return None
