"""Heavy libraries imported on first use, so that commands which never touch a table start at once.

``from prst_etl._lazy import polars as pl`` gives the real ``polars`` module, loaded the first
time one of its attributes is read (:class:`importlib.util.LazyLoader`). ``prst sources``,
``prst loads`` and ``prst --help`` list plugins and the catalogue without reading a table, so
they never pay polars' import (about 0.2 s); everything else behaves exactly as with
``import polars as pl``. Only modules on those commands' import path use it; type checkers
see the plain import.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import TYPE_CHECKING


def lazy_module(name: str) -> ModuleType:
    """``name`` as a module whose code runs when an attribute is first read."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:  # let the plain import raise its own error
        return importlib.import_module(name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


if TYPE_CHECKING:
    import polars
else:
    polars = lazy_module("polars")
