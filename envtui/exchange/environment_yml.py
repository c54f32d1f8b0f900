"""conda's environment.yml: written for `conda env create`, read back for import and diff.

The documented keys are `name`, `channels`, `dependencies` (conda match specs, and one
`{pip: [...]}` list of requirement lines) and `prefix` / `variables`. Exports pin every
package; `--from-history` keeps only what the user asked for (conda-meta/history, and the
pip packages nothing else in the environment needs), with the installed versions
written in, unlike conda's own flag, which drops pip packages and versions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envtui.exchange.requirements_export import pip_line, pip_pin, top_level
from envtui.exchange.spec import CONDA, EnvSpec, ExchangeError, Pin, sorted_pins
from envtui.format import printable

KNOWN_KEYS = ("name", "channels", "dependencies", "prefix", "variables")


@dataclass(frozen=True)
class ExportOptions:
    builds: bool = False
    """Write `name=version=build` (same OS only) instead of `name=version` (portable)."""
    from_history: bool = False
    """Only what the user asked for, at the installed versions."""


def write_environment_yml(spec: EnvSpec, options: ExportOptions = ExportOptions()) -> str:
    import yaml

    conda, pip = list(spec.conda), list(spec.pip)
    if options.from_history:
        # No history (rattler and pixi leave it empty): what nothing else depends on.
        conda = [p for p in conda if p.requested] or _conda_top_level(conda)
        pip = top_level(pip)
    deps: list[Any] = []
    names = {p.key for p in conda}
    if "python" not in names and spec.python:
        deps.append(f"python={_minor(spec.python)}")
    deps += [_conda_line(p, options.builds) for p in conda]
    if pip:
        if "pip" not in names:
            deps.append("pip")
        deps.append({"pip": [pip_line(p) for p in pip]})
    doc: dict[str, Any] = {"name": spec.name or Path(spec.origin).name}
    doc["channels"] = list(spec.channels)
    doc["dependencies"] = deps
    header = f"# Exported by envtui from {spec.origin} ({spec.kind})\n"
    body: str = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False,
                               allow_unicode=True, width=1000)
    return header + body


def _conda_top_level(pins: list[Pin]) -> list[Pin]:
    needed = {d.split()[0].lower() for p in pins for d in p.depends if d.strip()}
    return [p for p in pins if p.key not in needed]


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _conda_line(pin: Pin, builds: bool) -> str:
    if builds and pin.build:
        return f"{pin.name}={pin.version}={pin.build}"
    return f"{pin.name}={pin.version}"


def read_environment_yml(data: bytes, where: str) -> EnvSpec:
    """An environment file as a spec; its pip lines are parsed but not obeyed (see
    requirements_file). Raises ExchangeError for anything conda would not accept."""
    from envtui.exchange.safe_yaml import load_yaml

    doc = load_yaml(data, where)
    if not isinstance(doc, dict):
        raise ExchangeError(f"{where}: not an environment file (expected a mapping with "
                            "`dependencies`)")
    notes = [f"{where}: unknown key `{k}` is ignored" for k in doc if k not in KNOWN_KEYS]
    channels = _strings(doc.get("channels") or [], where, "channels")
    deps = doc.get("dependencies")
    if not isinstance(deps, list) or not deps:
        raise ExchangeError(f"{where}: `dependencies` is empty or missing: nothing to create")
    pins: list[Pin] = []
    pip_lines: list[str] = []
    for i, item in enumerate(deps, 1):
        if isinstance(item, dict) and list(item) == ["pip"]:
            pip_lines += _strings(item["pip"] or [], where, "dependencies: pip")
        elif isinstance(item, str):
            pins.append(conda_pin(item, f"{where}: dependencies item {i}"))
        else:
            raise ExchangeError(f"{where}: dependencies item {i} must be a conda spec or a "
                                f"`pip:` list, not {_describe(item)}")
    requirements = None
    if pip_lines:
        from envtui.exchange.requirements_file import parse_requirement_lines

        requirements = parse_requirement_lines(pip_lines, f"{where} (pip:)", Path(where).parent)
        pins += [pip_pin(e) for e in requirements.entries]
    python = next((p.version for p in pins if p.manager == CONDA and p.key == "python"), None)
    name = doc.get("name")
    return EnvSpec(origin=where, kind="conda", name=name if isinstance(name, str) else None,
                   python=python.rstrip(".*") or None if python else None,
                   channels=tuple(channels), pins=sorted_pins(pins), notes=tuple(notes),
                   requirements=requirements)


def conda_pin(text: str, where: str) -> Pin:
    """One conda match spec as a pin; `version` is exact for `name=1.2` and `name==1.2`,
    else the constraint as written (`>=1.2`, `3.11.*`), and empty for a bare name."""
    from rattler import MatchSpec

    try:
        spec = MatchSpec(text)
    except Exception as e:  # rattler's own parse error type
        # One line: the spec comes from the file, the error quotes it across lines.
        why = " ".join(str(e).split())
        raise ExchangeError(f"{where}: `{printable(text)}` is not a conda match spec "
                            f"({printable(why)})") from None
    if spec.name is None:
        raise ExchangeError(f"{where}: `{printable(text)}` names no package")
    # rattler reads `name=1.2` as `1.2.*`, conda's fuzzy match; shown as written.
    version = str(spec.version or "").removeprefix("==")
    if "*" not in text:
        version = version.removesuffix(".*")
    channel = spec.channel.name if spec.channel is not None else None
    return Pin(name=spec.name.normalized, version=version, manager=CONDA,
               build=spec.build or None, channel=channel)


def _strings(value: object, where: str, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ExchangeError(f"{where}: `{key}` must be a list of strings, not "
                            f"{_describe(value)}")
    return list(value)


def _describe(value: object) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string"}
    return next((v for k, v in names.items() if isinstance(value, k)), type(value).__name__)
