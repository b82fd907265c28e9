"""The one list of search methods. Config validation, ``tnao experiment``, the CLI help
and the app all read it: adding a method is one module and one entry here.

A method's module (under ``tnao_app.search``) is imported only when the method is used:
torch-free baselines stay cheap to start, and this list imports nothing of the search,
so the config can check names against it without an import cycle.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:
    from .search.method import SearchMethod


SEARCH = "tnao_app.search"


@dataclass(frozen=True)
class MethodInfo:
    name: str
    module: str  # under tnao_app.search (SEARCH)
    cls: str
    summary: str  # one line for help texts and the app's method choice
    #: sample -> train -> search -> evaluate in rounds, with a model (the Training screen)
    rounds: bool = False
    #: its first B queries do not depend on the budget, so one run at the largest budget
    #: answers every smaller one (TNAO: when its rounds query a fixed batch, see
    #: ``experiment.anytime_methods``)
    anytime: bool = False
    #: the leaderboard's "predicted" column holds a model's score
    predicts: bool = False
    #: config fields this entry fixes, ``("section.field", value)``: a named variant of
    #: another entry's method (the run's saved config shows them)
    preset: tuple[tuple[str, object], ...] = ()


CATALOGUE: dict[str, MethodInfo] = {
    m.name: m
    for m in (
        MethodInfo(
            "tnao",
            "tnao",
            "TNAOSearch",
            "TNAO: Transformer auto-encoder + competitive swarm in latent space",
            rounds=True,
            predicts=True,
        ),
        MethodInfo(
            "tnao-paper",
            "tnao",
            "TNAOSearch",
            "TNAO as published: one pass (uniform sample, train, swarm, query the top decodes)",
            rounds=True,
            predicts=True,
            # one round that spends the rest of the budget; none of the multi-round
            # additions (local and exploration picks, spaced picks, balanced sample)
            preset=(
                ("search.rounds", 1),
                ("search.local_k", 0),
                ("search.explore_k", 0),
                ("search.pick_spacing", 1),
                ("sample.design", "random"),
            ),
        ),
        MethodInfo(
            "nao",
            "tnao",
            "NAOSearch",
            "NAO-style gradient ascent in TNAO's latent space",
            rounds=True,
            predicts=True,
        ),
        MethodInfo(
            "random", "random", "RandomSearch", "random search: uniform samples", anytime=True
        ),
        MethodInfo(
            "evolution",
            "evolution",
            "RegularizedEvolution",
            "regularized (aging) evolution, Real et al. 2019",
            anytime=True,
        ),
        MethodInfo(
            "predictor",
            "predictor",
            "PredictorGuided",
            "predictor-guided: an MLP ranker ensemble on one-hot cells",
            anytime=True,
            predicts=True,
        ),
        MethodInfo(
            "ls",
            "local",
            "LocalSearch",
            "local search: first-improvement walks over one-edit neighbours, White et al. 2020",
            anytime=True,
        ),
        MethodInfo(
            "bananas",
            "bananas",
            "Bananas",
            "BANANAS: MLP ensemble on path encodings, Thompson-sampled mutants, White et al. 2021",
            anytime=True,
            predicts=True,
        ),
        MethodInfo(
            "tpe",
            "tpe",
            "TPE",
            "TPE: Optuna's tree-structured Parzen estimator, one choice per edge",
            anytime=True,
        ),
        MethodInfo(
            "nsga2",
            "nsga2",
            "NSGA2",
            "NSGA-II: Optuna's multi-objective genetic algorithm, one choice per edge",
            anytime=True,
        ),
        MethodInfo(
            "motpe",
            "nsga2",
            "MOTPE",
            "MOTPE: Optuna's TPE on several objectives, one choice per edge",
            anytime=True,
        ),
    )
}
METHODS: tuple[str, ...] = tuple(CATALOGUE)


def info(name: str) -> MethodInfo:
    """The catalogue entry of ``name``; one sentence naming the choices otherwise."""
    if name not in CATALOGUE:
        raise ConfigError(f"method '{name}' is unknown; expected one of {', '.join(METHODS)}.")
    return CATALOGUE[name]


def load(name: str) -> type[SearchMethod]:
    """The ``SearchMethod`` class of method ``name``."""
    m = info(name)
    try:
        mod = importlib.import_module(f"{SEARCH}.{m.module}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{SEARCH}.{m.module}":
            raise
        raise ConfigError(f"method '{name}' is not available in this install.") from None
    cls: type[SearchMethod] = getattr(mod, m.cls)
    return cls


def help_text() -> str:
    """``name: summary`` lines of every method, for CLI help."""
    return "; ".join(f"{m.name}: {m.summary}" for m in CATALOGUE.values())
