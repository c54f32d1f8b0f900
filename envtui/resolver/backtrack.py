"""A plain, complete backtracking search: the second opinion when resolvelib says "impossible".

resolvelib's backjumping is unsound: it can skip the one earlier pin whose change would
have worked and report ResolutionImpossible for requirements that have a solution
(sarugaku/resolvelib#206; tests/test_solver_oracle.py finds such universes). This search
asks the same provider the same questions, but tries every candidate of every identifier
it reaches, depth first, without jumping over any pin, so it is exact when it finishes.
It is exponential in the worst case, which is why it runs only after resolvelib failed,
and within a budget of pins and seconds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from envtui.resolver.provider import PYTHON, Candidate, Provider, Req

STEPS = 2000
"""Candidates pinned before the search gives up (and resolvelib's answer stands): far
more than small problems need (the oracle's universes need under 100), little time
(about a second) when a large impossible one could only be thrashed through."""
SECONDS = 3.0


class Exhausted(Exception):
    """The search ran out of steps or time before it could decide."""


def search(requirements: Sequence[Req], provider: Provider, *, steps: int = STEPS,
           deadline: float | None = None) -> dict[str, Candidate] | None:
    """A candidate for every identifier `requirements` reach, each satisfying every
    requirement on it; None when there is none. Raises Exhausted."""
    end = time.monotonic() + SECONDS if deadline is None else deadline
    pins: dict[str, Candidate] = {}
    reqs: dict[str, list[Req]] = {}
    for r in requirements:
        reqs.setdefault(r.identifier, []).append(r)
    left = steps

    def walk() -> bool:
        nonlocal left
        # Any order is complete; the interpreter first because it cannot change.
        ident = next((i for i in (PYTHON, *reqs) if i in reqs and i not in pins), None)
        if ident is None:
            return True
        for cand in provider.find_matches(ident, {ident: iter(reqs[ident])}, {ident: iter(())}):
            left -= 1
            if left < 0 or time.monotonic() > end:
                raise Exhausted
            deps = provider.get_dependencies(cand)
            pins[ident] = cand
            if all(provider.is_satisfied_by(d, pins[d.identifier]) for d in deps
                   if d.identifier in pins):
                for d in deps:
                    reqs.setdefault(d.identifier, []).append(d)
                if walk():
                    return True
                for d in reversed(deps):
                    reqs[d.identifier].pop()
                    if not reqs[d.identifier]:
                        del reqs[d.identifier]
            del pins[ident]
        return False

    return pins if walk() else None
