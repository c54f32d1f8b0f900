"""Turning resolvelib's ResolutionImpossible causes into a short derivation in plain words.

Each conflicted project gets its requirements listed with who asked for them, then the
conclusion: which versions exist and why none fits, and, for each dependent, whether any
other version of it would have accepted what the others demand.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from typing import TYPE_CHECKING

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from envtui.format import plural
from envtui.resolver.provider import PYTHON, Candidate, Provider, Req
from envtui.resolver.sources import SourceError

if TYPE_CHECKING:
    from resolvelib.structs import RequirementInformation

    Info = RequirementInformation[Req, Candidate]

SHOWN_VERSIONS = 8
"""Versions listed by name before "and N more"."""
OTHER_VERSIONS_TRIED = 20
"""Other versions of a dependent whose metadata is read to see if one would have fitted."""


def explain_impossible(causes: Sequence[Info], provider: Provider) -> tuple[str, list[str]]:
    """The explanation text and the canonical names of every project it involves."""
    groups: dict[str, list[Info]] = {}
    for info in causes:
        groups.setdefault(info.requirement.name, []).append(info)
    involved: list[str] = []
    paragraphs = []
    for name, infos in groups.items():
        for i in infos:
            for n in (i.requirement.name, i.parent.name if i.parent else None):
                if n and n != PYTHON and n not in involved:
                    involved.append(n)
        if name == PYTHON:
            paragraphs.append(_python_paragraph(infos, provider))
        else:
            paragraphs.append(_project_paragraph(name, infos, provider))
    return "\n".join(paragraphs), involved


def _who(info: Info) -> str:
    if info.parent is None:
        return f"{info.requirement.why or 'you asked for'} {info.requirement}"
    return f"{info.parent} requires {info.requirement}"


def _said(infos: Sequence[Info]) -> str:
    """Who requires what, with the versions of one dependent that say the same folded."""
    folded: dict[tuple[str, str], list[Info]] = {}
    for i in infos:
        owner = i.parent.name if i.parent is not None else ""
        folded.setdefault((owner, str(i.requirement)), []).append(i)
    parts = []
    for same in folded.values():
        if len(same) == 1 or same[0].parent is None:
            parts.append(_who(same[0]))
            continue
        versions = sorted(i.parent.version for i in same if i.parent is not None)
        parent = same[0].parent
        assert parent is not None
        parts.append(f"{parent.display_name or parent.name} {versions[0]} to {versions[-1]} "
                     f"({len(versions)} versions) require {same[0].requirement}")
    return "; ".join(parts)


def _python_paragraph(infos: Sequence[Info], provider: Provider) -> str:
    lines = []
    for info in _unique(infos):
        req = info.requirement
        if req.unusable is not None:
            lines.append(f"{info.parent} cannot be used: {req.unusable.rstrip('.')}")
        else:
            owner = str(info.parent) if info.parent else req.why or "you"
            lines.append(f"{owner} requires Python {req.specifier}, but the target is "
                         f"Python {provider.target.python}")
    return "; ".join(lines) + "."


def _project_paragraph(name: str, infos: Sequence[Info], provider: Provider) -> str:
    infos = _with_backtracked(name, _unique(infos), provider)
    display = _display(name, infos, provider)
    said = _said(infos)
    available = sorted(provider.versions(name))
    if not available:
        return f"{said}; {_nothing_available(display, name, provider)}."
    spec = _combined(infos)
    shown = _list_versions(available)
    if len(infos) == 1:
        matching = f"matches {spec}" if str(spec) else "can be used"
        conclusion = f"no available version of {display} {matching} (there is {shown})"
    else:
        conclusion = (f"no version of {display} satisfies all of them "
                      f"(there is {shown})")
    yanked = _yanked_matches(name, spec, provider)
    if yanked:
        conclusion += (f"; {_list_versions(yanked)} would match but "
                       f"{'is' if len(yanked) == 1 else 'are'} yanked (a yanked release is "
                       "used only when pinned with ==)")
    alternatives = [a for i in infos if (a := _no_other_version(i, infos, provider))]
    text = f"{said}; {conclusion}"
    if alternatives:
        text += "; " + ", and ".join(alternatives)
    return text + "."


def _yanked_matches(name: str, spec: SpecifierSet, provider: Provider) -> list[Version]:
    """Yanked versions of `name` that `spec` admits: skipped because nothing pins them."""
    return [v for v, cand in provider.versions(name).items()
            if cand.link is not None and cand.link.yanked is not None
            and spec.contains(v, prereleases=True)]


def _nothing_available(display: str, name: str, provider: Provider) -> str:
    error = provider.source_error(name)
    if error:
        return f"{display} could not be looked up: {error.rstrip('.')}"
    if not provider.links(name):
        where = ", ".join(s.label for s in provider.sources) or "no sources are configured"
        return f"no source has a project named {display} (looked in {where})"
    skipped = provider.skipped.get(name)
    reasons = []
    if skipped and skipped.platform:
        reasons.append(f"{plural(skipped.platform, 'wheel')} built for other platforms "
                       "or Pythons")
    if skipped and skipped.requires_python:
        reasons.append(f"{plural(skipped.requires_python, 'file')} needing another Python "
                       f"than {provider.target.python}")
    detail = f" ({', '.join(reasons)})" if reasons else ""
    return f"none of {display}'s files can be installed here{detail}"


def _no_other_version(info: Info, infos: Sequence[Info], provider: Provider) -> str | None:
    """"no version of P accepts X" when no other version of the dependent P would do."""
    parent = info.parent
    if parent is None or parent.name == PYTHON:
        return None
    others = [i for i in infos if i is not info]
    if not others:
        return None
    wanted = _combined(others)
    target = info.requirement.name
    choices = [v for v in provider.versions(target) if wanted.contains(v, prereleases=True)]
    versions = sorted(provider.versions(parent.name), reverse=True)[:OTHER_VERSIONS_TRIED]
    for v in versions:
        cand = provider.versions(parent.name)[v]
        try:
            deps = provider.get_dependencies(Candidate(parent.name, v, link=cand.link,
                                                       installed=cand.installed))
        except SourceError:
            continue
        on_target = [d for d in deps if d.name == target]
        if all(any(d.specifier.contains(c, prereleases=True) for c in choices)
               for d in on_target):
            return None  # this version would accept it: the conflict lies elsewhere
    return (f"no version of {parent.display_name or parent.name} in the sources accepts "
            f"{target}{wanted} (tried {_list_versions(versions)})")


def _with_backtracked(name: str, infos: list[Info], provider: Provider) -> list[Info]:
    """The causes, plus requirements of dependents that backtracking took out of them.

    resolvelib reports the requirements standing when it ran out of candidates; a version
    ruled out earlier by a dependent it then un-pinned is missing from them. While some
    available version still meets everything listed, add the other dependents' latest
    requirements on `name` until none does.
    """
    from resolvelib.structs import RequirementInformation

    available = list(provider.versions(name))
    listed = {i.parent.name for i in infos if i.parent is not None}
    out = list(infos)
    for parent_name, (parent, req) in provider.requirers.get(name, {}).items():
        spec = _combined(out)
        if not any(spec.contains(v, prereleases=True) for v in available):
            break
        if parent_name in listed or parent_name == name:
            continue
        if not all(req.specifier.contains(v, prereleases=True) for v in available):
            out.append(RequirementInformation(req, parent))
            listed.add(parent_name)
    return out


def _combined(infos: Sequence[Info]) -> SpecifierSet:
    return functools.reduce(operator.and_, (i.requirement.specifier for i in infos),
                            SpecifierSet())


def _display(name: str, infos: Sequence[Info], provider: Provider) -> str:
    for cand in provider.versions(name).values():
        if cand.display_name:
            return cand.display_name
    return name


def _unique(infos: Sequence[Info]) -> list[Info]:
    seen: set[tuple[str, str]] = set()
    out = []
    for i in infos:
        key = (str(i.requirement), str(i.parent))
        if key not in seen:
            seen.add(key)
            out.append(i)
    return out


def _list_versions(versions: Sequence[Version]) -> str:
    ordered = sorted(versions)
    text = ", ".join(str(v) for v in ordered[-SHOWN_VERSIONS:])
    if len(ordered) > SHOWN_VERSIONS:
        text = f"{len(ordered) - SHOWN_VERSIONS} older, {text}"
    return text
