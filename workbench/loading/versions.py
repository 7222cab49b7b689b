"""Which versions of its dependencies workbench is tested with, and which are installed.

The tested ranges are the ones pyproject.toml declares (CI runs both ends of each: see .ci/run and
constraints/lowest.txt); they are read back from the installed package metadata, so there is one
list, not two. `require_supported()` turns an out-of-range transformers into one clear error at
`load()` instead of a TypeError deep inside a denoising step; `dependency_report()` is the table
behind `workbench doctor`. Left out: optional extras ([test]), which the engine never imports.
"""

from __future__ import annotations

from importlib import metadata

import pandas as pd
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from workbench.errors import UnsupportedVersionError


def declared_requirements() -> list[Requirement]:
    """workbench's runtime requirements as installed (empty when running from an uninstalled tree)."""
    try:
        lines = metadata.requires("workbench") or []
    except metadata.PackageNotFoundError:
        return []
    return [requirement for requirement in map(Requirement, lines) if requirement.marker is None]


def installed_version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def is_supported(installed: str, specifier: str) -> bool:
    """True when `installed` lies inside `specifier`; local labels such as '+cpu' are ignored."""
    try:
        version = Version(installed)
    except InvalidVersion:
        return False
    return Version(version.public) in Requirement(f"x{specifier}").specifier


def require_supported(package: str, installed: str | None = None) -> None:
    """Raise `UnsupportedVersionError` if `package` is installed outside its declared range."""
    installed = installed if installed is not None else installed_version(package)
    for requirement in declared_requirements():
        if (
            canonicalize_name(requirement.name) == canonicalize_name(package)
            and installed is not None
            and str(requirement.specifier)
        ):
            if not is_supported(installed, str(requirement.specifier)):
                raise UnsupportedVersionError(package, installed, str(requirement.specifier))


def dependency_report() -> pd.DataFrame:
    """One row per declared dependency: the tested range, the installed version, and whether it fits."""
    rows = []
    for requirement in declared_requirements():
        installed = installed_version(requirement.name)
        specifier = str(requirement.specifier)
        rows.append(
            {
                "package": requirement.name,
                "installed": installed or "missing",
                "declared range": specifier or "any",
                "ok": installed is not None and (not specifier or is_supported(installed, specifier)),
            }
        )
    return pd.DataFrame(rows, columns=["package", "installed", "declared range", "ok"])
