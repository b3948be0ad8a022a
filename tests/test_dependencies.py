"""The dependencies are ranges (an application installed beside other tools must not replace
their numpy), and the installed versions, which the tests run on, are inside them."""

from __future__ import annotations

import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _requirements(extra: str | None = None) -> list[Requirement]:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    listed = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    return [Requirement(text) for text in listed]


def test_the_installed_versions_satisfy_pyprojects_ranges():
    outside = []
    for req in _requirements() + _requirements("test"):
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            installed = version(req.name)
        except PackageNotFoundError:
            outside.append(f"{req.name}: not installed (needs {req.specifier})")
            continue
        if not req.specifier.contains(installed, prereleases=True):
            outside.append(f"{req.name} {installed}: outside {req.specifier}")
    assert outside == []


def test_the_applications_own_dependencies_are_ranges_not_pins():
    pinned = [str(req) for req in _requirements() if any(spec.operator in ("==", "===") for spec in req.specifier)]
    assert pinned == []
