"""Fix plans for an installed environment: ranked ways out of its dependency problems.

The installed set is the starting point. Every installed package stays required and its
installed version is tried first, so only what must change changes. Genuinely different
ways out come from resolving again with each package involved in a problem held where it
is (move its dependents instead), and from removing a top-level package that causes the
problem. Plans are ranked by how little they change.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envtui.model import Environment, Package, Problem, ProblemKind
from envtui.resolver.actions import Action, ActionKind
from envtui.resolver.graph import build_graph
from envtui.resolver.provider import Provider, Req
from envtui.resolver.resolve import TIME_BUDGET, ResolutionFailed, resolve
from envtui.resolver.sources import Source
from envtui.resolver.target import environment_target

FIXABLE = frozenset({ProblemKind.CONFLICT, ProblemKind.MISSING, ProblemKind.REQUIRES_PYTHON})
MAX_PLANS = 4
ALTERNATIVE_BUDGET = 20.0
"""Seconds for each alternative resolution after the first."""


class FixError(Exception):
    """The environment cannot be fixed by envtui at all (one line, exit status 2)."""


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...]
    note: str = ""
    """How this plan gets out ("holds numpy at 1.26.4", "removes oldlib")."""

    @property
    def summary(self) -> str:
        if not self.actions:
            return "nothing changes"
        text = ", ".join(a.describe() for a in self.actions)
        return f"{text}, nothing else changes"

    @property
    def cost(self) -> tuple[int, int, int, int]:
        """Ranking key, smallest first: removals, downgrades, packages changed, jumps."""
        kinds = [a.kind for a in self.actions]
        return (kinds.count(ActionKind.REMOVE), kinds.count(ActionKind.DOWNGRADE),
                len(self.actions), sum(_jump(a) for a in self.actions))

    def to_dict(self) -> dict[str, Any]:
        return {"actions": [a.to_dict() for a in self.actions], "summary": self.summary,
                "note": self.note}


@dataclass
class Proposal:
    """What `fix` found for one environment."""

    problems: list[Problem]
    """The fixable problems, before any change."""
    plans: list[Plan] = field(default_factory=list)
    explanation: str | None = None
    """Why no plan exists, when none does."""
    warnings: list[str] = field(default_factory=list)


def fixable_problems(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.kind in FIXABLE]


def propose(env: Environment, problems: Sequence[Problem], sources: Sequence[Source], *,
            keep: Iterable[str] = (), pre: bool = False, max_plans: int = MAX_PLANS,
            time_budget: float = TIME_BUDGET,
            progress: Callable[[str], None] | None = None) -> Proposal:
    """Ranked plans that leave `env` without conflicts, missing or Python-incompatible deps."""
    fixable = fixable_problems(problems)
    proposal = Proposal(fixable, warnings=_reinstall_remedies(env))
    if not fixable:
        return proposal
    target = environment_target(env)
    installed, held = _participants(env, proposal.warnings)
    kept = {canonicalize_name(k) for k in keep}
    unknown = sorted(kept - installed.keys())
    if unknown:
        raise FixError(f"--keep {unknown[0]}: no such package is installed in {env.ref}")
    prefer = {k: p.version for k, p in installed.items()}

    def attempt(hold: Iterable[str] = (), drop: Iterable[str] = (),
                budget: float = time_budget) -> Plan:
        roots = []
        dropped = set(drop)
        for key, pkg in installed.items():
            if key in dropped:
                continue
            if key in kept or key in hold:
                why = "--keep holds" if key in kept else "this plan holds"
                roots.append(_pin(pkg, why))
            elif key in held:
                roots.append(_pin(pkg, held[key]))
            else:
                roots.append(Req(key, SpecifierSet(), text=pkg.name, why="the environment has"))
        provider = Provider(sources, target, installed=installed.values(), prefer=prefer,
                            pre=pre)
        result = resolve(roots, provider, time_budget=budget, progress=progress)
        for cand, text in provider.bad_requirements:
            warning = f"ignored {cand}'s unparsable requirement {text!r}"
            if warning not in proposal.warnings:
                proposal.warnings.append(warning)
        pins = {k: str(c.version) for k, c in result.pins.items()}
        return Plan(_actions(installed, pins))

    started = time.monotonic()
    involved = _involved(fixable, installed) - kept
    plans: list[Plan] = []
    try:
        plans.append(attempt())
    except ResolutionFailed as exc:
        # Holding more only makes it harder; removing a top-level package may still work.
        proposal.explanation = exc.explanation
        involved |= set(exc.involved) & installed.keys()
        involved -= kept
    for key in sorted(involved) if plans else ():
        if time.monotonic() - started > time_budget:
            break
        try:
            plan = attempt(hold=[key], budget=ALTERNATIVE_BUDGET)
        except ResolutionFailed:
            continue
        pkg = installed[key]
        plans.append(Plan(plan.actions, f"holds {pkg.name} at {pkg.version}"))
    graph = build_graph(env)
    for key in sorted(involved):
        if graph.parents(key) or key in held:
            continue
        try:
            plan = attempt(drop=[key], budget=ALTERNATIVE_BUDGET)
        except ResolutionFailed:
            continue
        plans.append(Plan(plan.actions, f"removes {installed[key].name}, which nothing needs"))
    proposal.plans = ranked(plans)[:max_plans]
    if proposal.plans:
        proposal.explanation = None
    return proposal


def _participants(env: Environment, warnings: list[str]) -> tuple[dict[str, Package],
                                                                    dict[str, str]]:
    """The Python packages the resolver works with, and those it must hold (key -> why)."""
    installed: dict[str, Package] = {}
    held: dict[str, str] = {}
    for pkg in env.packages:
        if pkg.source != "python":
            continue
        try:
            Version(pkg.version)
        except InvalidVersion:
            warnings.append(f"{pkg.name} {pkg.version!r} has an invalid version; left as it is")
            continue
        key = canonicalize_name(pkg.name)
        if key in installed:
            continue  # a shadowed duplicate: the first on the path is what Python uses
        installed[key] = pkg
        if pkg.installer == "conda":
            held[key] = "conda manages"
        elif any(p.kind == ProblemKind.INCOMPLETE for p in pkg.problems):
            held[key] = f"{pkg.name} {pkg.version} is incomplete (reinstall it first), so " \
                        "envtui holds"
        elif pkg.editable or pkg.direct_url:
            held[key] = "was installed from a path or URL, so envtui holds"
    return installed, held


def _reinstall_remedies(env: Environment) -> list[str]:
    """For each incomplete distribution (no METADATA, no whole RECORD): envtui holds it, as
    the PyPA spec asks of tools, and what would repair it is a reinstall."""
    out = []
    for pkg in env.packages:
        damage = next((p for p in pkg.problems if p.kind == ProblemKind.INCOMPLETE), None)
        if damage is None or pkg.source != "python":
            continue
        pin = f"{pkg.name}=={pkg.version}"
        command = (f"uv pip install --python {env.ref} --reinstall --no-deps {pin}"
                   if pkg.installer == "uv"
                   else f"pip --python {env.ref} install --force-reinstall --no-deps {pin}")
        out.append(f"{damage.detail}: envtui will not upgrade, downgrade or remove "
                   f"{pkg.name}; reinstall it first ({command})")
    return out


def _pin(pkg: Package, why: str) -> Req:
    return Req(canonicalize_name(pkg.name), SpecifierSet(f"=={pkg.version}"),
               text=f"{pkg.name}=={pkg.version}", why=why)


def _actions(installed: dict[str, Package], pins: dict[str, str]) -> tuple[Action, ...]:
    actions = []
    for key, version in sorted(pins.items()):
        pkg = installed.get(key)
        if pkg is None:
            actions.append(Action(key, None, version, ActionKind.INSTALL))
        elif Version(version) != Version(pkg.version):
            kind = ActionKind.UPGRADE if Version(version) > Version(pkg.version) \
                else ActionKind.DOWNGRADE
            actions.append(Action(pkg.name, pkg.version, version, kind))
    for key, pkg in sorted(installed.items()):
        if key not in pins:
            actions.append(Action(pkg.name, pkg.version, None, ActionKind.REMOVE))
    return tuple(actions)


def _involved(problems: Iterable[Problem], installed: dict[str, Package]) -> set[str]:
    """Installed packages named by the problems: the dependents and what they require."""
    from packaging.requirements import InvalidRequirement, Requirement

    out: set[str] = set()
    for p in problems:
        if p.package:
            out.add(canonicalize_name(p.package))
        if p.requirement and p.kind != ProblemKind.REQUIRES_PYTHON:
            with contextlib.suppress(InvalidRequirement):
                out.add(canonicalize_name(Requirement(p.requirement).name))
    return out & installed.keys()


def ranked(plans: Sequence[Plan]) -> list[Plan]:
    seen: set[tuple[Action, ...]] = set()
    out = []
    for plan in sorted(plans, key=lambda p: p.cost):
        if plan.actions and plan.actions not in seen:
            seen.add(plan.actions)
            out.append(plan)
    return out


def _jump(action: Action) -> int:
    """How far a version moves: major steps weigh most."""
    if action.from_version is None or action.to_version is None:
        return 0
    a, b = _release(action.from_version), _release(action.to_version)
    return sum(abs(x - y) * w for x, y, w in zip(a, b, (10_000, 100, 1), strict=True))


def _release(version: str) -> tuple[int, int, int]:
    """major.minor.micro of a PEP 440 version, or the leading numbers of a conda one
    ("1.1.1w", "9e", "1.0=h1_0"), which PEP 440 need not accept."""
    try:
        numbers = list(Version(version).release)
    except InvalidVersion:
        numbers = [int(n) for n in re.findall(r"\d+", version.split("=", maxsplit=1)[0])]
    padded = [*numbers, 0, 0, 0]
    return padded[0], padded[1], padded[2]
