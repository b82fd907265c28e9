"""A campaign's inputs as the user types them (seeds, budgets, methods), parsed and
checked, and which methods are anytime. Light on purpose: the app's Experiments screen
checks its form with these without importing any search method.
"""

from __future__ import annotations

import re

from .. import catalogue
from ..catalogue import METHODS
from ..errors import ConfigError

ANYTIME = tuple(m.name for m in catalogue.CATALOGUE.values() if m.anytime)

#: the most seeds one experiment takes (each is a run per method and budget)
MAX_SEEDS = 100_000


def parse_seeds(text: str) -> list[int]:
    """'0-29', '0,1,5' or a mix ('0-4,10') -> sorted distinct seeds."""
    out: set[int] = set()
    for part in str(text).split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if not m:
            raise ConfigError(
                f"Seeds '{text}' are not understood; expected a range like 0-29 or a "
                "list like 0,1,5 of non-negative integers."
            )
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo:
            raise ConfigError(f"Seed range '{part}' runs backwards; expected low-high.")
        if hi - lo + 1 + len(out) > MAX_SEEDS:  # a set of 10^11 seeds fills any memory
            raise ConfigError(
                f"Seeds '{text}' are {hi - lo + 1 + len(out):,} seeds; expected at most "
                f"{MAX_SEEDS:,}."
            )
        out.update(range(lo, hi + 1))
    return sorted(out)


def parse_budgets(text: str) -> list[int]:
    """'50,100,150' -> sorted distinct positive budgets."""
    out: set[int] = set()
    for part in str(text).split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise ConfigError(
                f"Budgets '{text}' are not understood; expected positive integers "
                "separated by commas, like 50,100,150."
            )
        out.add(int(part))
    return sorted(out)


def parse_methods(text: str) -> list[str]:
    """'tnao,random' -> method names in the given order, checked against METHODS."""
    out: list[str] = []
    for part in str(text).split(","):
        name = part.strip()
        if name not in METHODS:
            raise ConfigError(
                f"Method '{name}' is unknown; expected a comma-separated list of "
                f"{', '.join(METHODS)}."
            )
        if name not in out:
            out.append(name)
    return out
