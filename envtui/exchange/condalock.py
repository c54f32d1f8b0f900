"""conda-lock.yml: the lock file `conda-lock install` reads, written and read with conda-lock's
own models.

Export writes the installed conda records as they are (no re-solve): each package's URL,
md5 and sha256 from conda-meta, its dependencies as conda-lock's `{name: version spec}`
mapping, all in category "main", listed under the environment's platform (noarch packages
too, as conda-lock lists them). The file is conda-lock's v1 format, produced by conda-lock's
`Lockfile` model and its `write_conda_lock_file`, so whatever conda-lock would refuse to
write we refuse too.

pip packages are left out with a note: conda-lock wants a download URL and sha256 for
each, which an installed dist-info does not record (`--format pylock` looks them up in the
package sources; `--format requirements` pins them by version).

Import validates the YAML (read by the safe loader) with conda-lock's models, then keeps one
platform's packages. conda_lock (half a second to import) and pydantic load only here.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from envtui.exchange.spec import CONDA, PIP, EnvSpec, ExchangeError, Pin, sorted_pins

_SUFFIXES = (".conda", ".tar.bz2")


def write_conda_lock(spec: EnvSpec) -> tuple[str, list[str]]:
    """The conda-lock.yml text of `spec`'s conda packages, and notes for the user (the pip
    packages left out). Raises ExchangeError when a package lacks what conda-lock needs."""
    conda = spec.conda
    if not conda:
        what = "has no conda packages" if spec.kind == CONDA else f"is a {spec.kind}"
        raise ExchangeError(f"{spec.origin} {what}; conda-lock files describe conda "
                            "environments (use --format pylock or requirements)")
    missing = [f"{p.name} {p.version} ({why})" for p in conda if (why := _unlockable(p))]
    if missing:
        raise ExchangeError(f"{spec.origin}: cannot write a conda-lock file: "
                            f"{'; '.join(missing)}")
    platform = _target_platform(spec)
    channels = list(spec.channels) or list(dict.fromkeys(p.channel for p in conda if p.channel))
    notes: list[str] = []
    if spec.pip:
        names = ", ".join(f"{p.name}=={p.version}" for p in spec.pip)
        notes.append(
            f"{len(spec.pip)} pip package{'s' if len(spec.pip) != 1 else ''} left out: {names} "
            "(conda-lock needs their download URL and sha256, which installs do not record); "
            "export `--format requirements` for them")

    try:
        body = _dump(_lockfile(spec, conda, platform, channels))
    except ExchangeError:
        raise
    except ValueError as e:  # pydantic's ValidationError is one
        raise ExchangeError(f"{spec.origin}: cannot write a conda-lock file: "
                            f"{_first_error(e)}") from None
    header = [f"Exported by envtui from {spec.origin}: the installed packages, not re-solved.",
              "Install with: conda-lock install -n YOURENV conda-lock.yml",
              *notes]
    return "".join(f"# {_one_line(line)}\n" for line in header) + body, notes


def read_conda_lock(data: bytes, where: str, platform: str | None = None) -> EnvSpec:
    """The packages a conda-lock.yml (version 1 or 2) locks for `platform`.

    `platform` defaults to this machine's conda platform, or to the file's only platform
    when it has just one. Raises ExchangeError naming `where` and the first problem.
    """
    from envtui.exchange.safe_yaml import load_yaml

    lock = _validated(load_yaml(data, where), where)
    available = sorted({*lock.metadata.platforms, *(p.platform for p in lock.package)})
    chosen, notes = _choose_platform(available, platform, where)
    picked = [p for p in lock.package if p.platform == chosen]
    for p in picked:
        try:
            urlsplit(p.url)  # refuses a `[` left open in the host, which no later step expects
        except ValueError as e:
            raise ExchangeError(f"{where}: package {p.name}: {p.url!r} is not a valid URL "
                                f"({e})") from None
    optional = sorted({p.name for p in picked if "main" not in p.categories})
    if optional:
        # `conda-lock install` leaves these out unless asked (--dev-dependencies, -e CATEGORY).
        notes.append(f"{where}: left out {len(optional)} package(s) of optional categories: "
                     f"{', '.join(optional)}")
    pins = [_pin(p) for p in picked if "main" in p.categories]
    python = next((p.version for p in pins if p.manager == CONDA and p.name == "python"), None)
    return EnvSpec(origin=where, kind="conda", python=python, platform=chosen,
                   channels=tuple(c.url for c in lock.metadata.channels),
                   pins=sorted_pins(pins), notes=tuple(notes))


def conda_platform() -> str:
    """This machine's conda platform (linux-64, osx-arm64, win-64, ...)."""
    from rattler import Subdir  # py-rattler's new name for Platform

    return str(Subdir.current())


# --------------------------------------------------------------------------- writing


def _unlockable(pin: Pin) -> str | None:
    """Why conda-lock cannot lock `pin`, or None."""
    if not pin.url:
        return "its conda-meta record has no download URL"
    if not pin.md5:
        # conda-lock's model refuses a conda package without md5, even with a sha256.
        return "its conda-meta record has no md5 hash, which conda-lock requires"
    return None


def _target_platform(spec: EnvSpec) -> str:
    if spec.platform:
        return spec.platform
    subdirs = sorted({p.subdir for p in spec.conda if p.subdir and p.subdir != "noarch"})
    if len(subdirs) > 1:
        raise ExchangeError(f"{spec.origin}: packages of several platforms "
                            f"({', '.join(subdirs)}); a conda-lock entry has one")
    if subdirs:
        return subdirs[0]
    # Only noarch packages: an environment read here was made for this machine.
    return conda_platform()


def _lockfile(spec: EnvSpec, conda: Sequence[Pin], platform: str, channels: list[str]) -> Any:
    from conda_lock.lockfile.v2prelim.models import (
        HashModel,
        LockedDependency,
        Lockfile,
        LockMeta,
    )

    packages = [
        LockedDependency(
            name=p.name, version=p.version, manager=CONDA, platform=platform,
            dependencies=_dependencies(p), url=p.url,
            hash=HashModel(md5=p.md5, sha256=p.sha256), build=p.build, categories={"main"})
        for p in conda
    ]
    meta = LockMeta(content_hash=_content_hash(conda, platform, channels), channels=channels,
                    platforms=[platform], sources=[spec.origin])
    return Lockfile(package=packages, metadata=meta)


def _dependencies(pin: Pin) -> dict[str, str]:
    """`depends` match specs as conda-lock records them: name -> version spec ("" for any),
    several specs on one name merged, build strings dropped (conda-lock's solver output)."""
    from conda_lock._vendor.conda.models import match_spec

    MatchSpec: Any = match_spec.MatchSpec  # untyped (vendored conda): called through Any
    by_name: dict[str, list[Any]] = {}
    try:
        for dep in pin.depends:
            spec = MatchSpec(dep)
            by_name.setdefault(spec.name, []).append(spec)
        merged = {name: specs[0] if len(specs) == 1 else MatchSpec.merge(specs)[0]
                  for name, specs in by_name.items()}
    except Exception as e:  # conda's MatchSpec raises its own exception classes
        raise ExchangeError(f"{pin.name} {pin.version}: a dependency it declares is not a "
                            f"conda match spec ({_one_line(str(e))})") from None
    return {name: m.version.spec_str if m.version is not None else ""
            for name, m in merged.items()}


def _content_hash(conda: Sequence[Pin], platform: str, channels: list[str]) -> dict[str, str]:
    """conda-lock's own content hash, of a specification pinning every package exactly.

    conda-lock hashes the *input* (an environment.yml) to tell when a lock is stale; an
    export has no such input, so the hash stands for "exactly these packages": it changes
    when the package set does, and `conda-lock --check-input-hash` never mistakes the
    export for a lock of some environment.yml.
    """
    from conda_lock.content_hash import compute_content_hashes
    from conda_lock.models.lock_spec import LockSpecification, VersionedDependency

    deps = [VersionedDependency(name=p.name, version=p.version, build=p.build) for p in conda]
    lock_spec = LockSpecification(dependencies={platform: deps}, channels=channels, sources=[])
    hashes: dict[str, str] = compute_content_hashes(lock_spec, None)
    return hashes


def _dump(lock: Any) -> str:
    """conda-lock's writer output (it sorts, drops virtual packages, converts to v1)."""
    from conda_lock.lockfile import write_conda_lock_file

    with tempfile.TemporaryDirectory(prefix="envtui-") as tmp:
        path = Path(tmp) / "conda-lock.yml"
        write_conda_lock_file(lock, path, metadata_choices=None, include_help_text=False)
        return path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- reading


def _validated(doc: object, where: str) -> Any:
    """`doc` as conda-lock's v2 Lockfile, validated exactly as conda-lock reads the file."""
    from conda_lock.lockfile import lockfile_v1_to_v2
    from conda_lock.lockfile.v1.models import Lockfile as LockfileV1
    from conda_lock.lockfile.v2prelim.models import Lockfile

    if not isinstance(doc, dict):
        raise ExchangeError(f"{where}: not a conda-lock file (expected a mapping with "
                            f"version, metadata and package; got {_type_name(doc)})")
    content = dict(doc)
    version = content.pop("version", None)
    if version is None:
        raise ExchangeError(f"{where}: not a conda-lock file (no `version`)")
    if isinstance(version, bool) or version not in (1, 2):
        raise ExchangeError(f"{where}: conda-lock file version {version!r} is not supported "
                            "(versions 1 and 2 are)")
    model = LockfileV1 if version == 1 else Lockfile
    try:
        lock = model.model_validate(content)
        return lockfile_v1_to_v2(lock) if version == 1 else lock
    except AssertionError:
        # lockfile_v1_to_v2 asserts that no two entries share name, platform and category.
        raise ExchangeError(f"{where}: not a valid conda-lock file: a package is listed twice "
                            "for the same platform and category") from None
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise ExchangeError(f"{where}: not a valid conda-lock file: "
                            f"{_first_error(e, content, version)}") from None


def _first_error(e: Exception, content: dict[str, Any] | None = None,
                 version: int = 1) -> str:
    """The first of pydantic's errors as `location: message`, on one line."""
    from pydantic import ValidationError

    if isinstance(e, ValidationError):
        first = e.errors()[0]
        loc = "".join(f"[{part}]" if isinstance(part, int) else f".{part}"
                      for part in first["loc"]).lstrip(".")
        msg = str(first["msg"]).removeprefix("Value error, ")
        return _one_line(f"{loc}: {msg}" if loc else msg)
    if isinstance(e, KeyError) and content is not None:
        # A validator read a field that failed validation before it (an invalid manager
        # makes the hash check fail this way): find the entry by validating each alone.
        return _locate_entry(content, version, str(e.args[0]) if e.args else "?")
    return _one_line(str(e))


def _locate_entry(content: dict[str, Any], version: int, field: str) -> str:
    from conda_lock.lockfile.v1.models import LockedDependency as LockedV1
    from conda_lock.lockfile.v2prelim.models import LockedDependency
    from pydantic import ValidationError

    model = LockedV1 if version == 1 else LockedDependency
    packages = content.get("package")
    for i, entry in enumerate(packages if isinstance(packages, list) else []):
        if not isinstance(entry, dict):
            continue
        try:
            model.model_validate(entry)
        except (ValueError, TypeError, KeyError, AttributeError):
            # Without `hash` (whose check reads `manager`) pydantic names the bad field.
            try:
                model.model_validate({k: v for k, v in entry.items() if k != "hash"})
            except ValidationError as e:
                return f"package[{i}].{_first_error(e)}"
            except (ValueError, TypeError, KeyError, AttributeError):
                pass
            return f"package[{i}]: missing or invalid `{field}`"
    return f"missing or invalid `{field}`"


def _choose_platform(available: list[str], wanted: str | None,
                     where: str) -> tuple[str, list[str]]:
    if not available:
        raise ExchangeError(f"{where}: the conda-lock file lists no platform")
    if wanted is not None:
        if wanted not in available:
            raise ExchangeError(f"{where}: has no packages for {wanted}; it has "
                                f"{', '.join(available)}")
        return wanted, []
    here = conda_platform()
    if here in available:
        return here, []
    if len(available) == 1:
        return available[0], [f"{where}: read the {available[0]} packages (this machine is "
                              f"{here})"]
    raise ExchangeError(f"{where}: has no packages for this machine's platform {here}; it has "
                        f"{', '.join(available)} (choose one)")


def _pin(dep: Any) -> Pin:
    depends = tuple(f"{name} {spec}".strip() for name, spec in dep.dependencies.items())
    url: str = dep.url
    if dep.manager == PIP:
        return Pin(name=dep.name, version=dep.version, manager=PIP, url=url,
                   sha256=dep.hash.sha256, depends=depends)
    parts = urlsplit(url).path.rsplit("/", 2)
    subdir = parts[-2] if len(parts) == 3 and parts[-2] else None
    return Pin(name=dep.name, version=dep.version, manager=CONDA,
               build=dep.build or _build_from_filename(unquote(parts[-1]), dep.name,
                                                       dep.version),
               channel=_channel(url), subdir=subdir, url=url, md5=dep.hash.md5,
               sha256=dep.hash.sha256, depends=depends)


def _build_from_filename(filename: str, name: str, version: str) -> str | None:
    """`build` of `name-version-build.conda` (or .tar.bz2); None when it is not one."""
    for suffix in _SUFFIXES:
        if filename.endswith(suffix):
            stem = filename.removesuffix(suffix)
            prefix = f"{name}-{version}-"
            if stem.startswith(prefix) and len(stem) > len(prefix):
                return stem[len(prefix):]
    return None


def _channel(url: str) -> str | None:
    from envtui.inspectors.conda import channel_name

    base = url.rsplit("/", 1)[0]
    return channel_name(base) if "/" in base else None


def _type_name(value: object) -> str:
    return "nothing" if value is None else f"a {type(value).__name__}"


def _one_line(text: str) -> str:
    return " ".join(text.split())
