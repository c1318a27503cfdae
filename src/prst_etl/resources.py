"""Locate the data folders shipped with prst (mappings, contracts, catalogue).

In the repository they live at the top level (``sources/``, ``schemas/``) so that
people can read and review them as data. The wheel carries a copy under
``prst_etl/_data/`` (see ``[tool.hatch.build.targets.wheel.force-include]`` in
``pyproject.toml``), so an installed prst never needs the repository.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[2]


@cache
def data_dir(name: str) -> Path:
    """Folder ``name`` (``sources``, ``schemas``) of the installed package or of the repository."""
    packaged = Path(str(resources.files("prst_etl"))) / "_data" / name
    if packaged.is_dir():
        return packaged
    repo = _REPO_ROOT / name
    if repo.is_dir():
        return repo
    raise FileNotFoundError(f"prst data folder {name!r} not found (looked in {packaged} and {repo})")
