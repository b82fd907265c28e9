"""Search methods by name; each module is imported only when its method is used."""

from __future__ import annotations

import importlib

from ..errors import ConfigError
from .base import SearchMethod

METHODS = {
    "tnao": ("tnao", "TNAOSearch"),
    "nao": ("nao", "NAOSearch"),
    "random": ("random", "RandomSearch"),
    "evolution": ("evolution", "RegularizedEvolution"),
    "predictor": ("predictor", "PredictorGuided"),
}


def get_method(name: str) -> type[SearchMethod]:
    """The ``SearchMethod`` subclass called ``name``."""
    if name not in METHODS:
        raise ConfigError(f"method '{name}' is unknown; expected one of {', '.join(METHODS)}.")
    module, cls = METHODS[name]
    try:
        mod = importlib.import_module(f"{__package__}.{module}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.{module}":
            raise
        raise ConfigError(f"method '{name}' is not available in this install.") from None
    return getattr(mod, cls)
