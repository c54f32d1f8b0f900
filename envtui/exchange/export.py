"""Export: one environment spec written in the format asked for."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from envtui.exchange.spec import EnvSpec, ExchangeError

if TYPE_CHECKING:
    from envtui.resolver.sources import Source


def export_text(spec: EnvSpec, fmt: str, *, builds: bool = False, from_history: bool = False,
                sources: Sequence[Source] = ()) -> tuple[str, list[str]]:
    """The file's text and notes for the user (what was left out and why).

    `sources` are where pylock looks up the files and hashes of each installed version
    (an installed wheel does not record them)."""
    if spec.kind in ("image", "container") and fmt == "conda-lock":
        raise ExchangeError(f"{spec.origin}: conda-lock files describe conda environments; "
                            "use --format pylock, requirements or environment-yml")
    if (builds or from_history) and fmt != "environment-yml":
        raise ExchangeError("--with-builds and --from-history apply to --format "
                            "environment-yml only")
    if fmt == "environment-yml":
        from envtui.exchange.environment_yml import ExportOptions, write_environment_yml

        return write_environment_yml(spec, ExportOptions(builds, from_history)), []
    if fmt == "requirements":
        from envtui.exchange.requirements_export import write_requirements

        return write_requirements(spec), []
    if fmt == "conda-lock":
        from envtui.exchange.condalock import write_conda_lock

        return write_conda_lock(spec)
    if fmt == "pylock":
        from envtui.exchange.pylock import write_pylock

        return write_pylock(spec, sources)
    raise ExchangeError(f"unknown format {fmt!r}")
