"""TNAO's schedule: how many queries a round makes, how long it trains, how many rounds
the budget allows. The run announces it (``RunPlan``, ``StageStarted``); no UI derives it."""

from __future__ import annotations

import math

from ...config import Config
from ...events import STAGES, RunPlan


def quota(config: Config, rnd: int, left: int) -> int:
    """Queries of round ``rnd`` when ``left`` remain in the budget."""
    c = config.search
    if c.top_k and rnd < c.rounds - 1:
        # A fixed batch per round: the first B queries of a run do not depend on its
        # budget, so one run serves every smaller budget (tnao experiment uses this).
        return min(c.top_k, left)
    return math.ceil(left / max(c.rounds - rnd, 1))


def rounds_total(config: Config, rnd: int, left: int) -> int:
    """The rounds a run will have made once ``left`` queries remain before round ``rnd``."""
    c = config.search
    need = max(1, math.ceil(left / c.top_k)) if c.top_k else c.rounds - rnd
    return max(1, min(rnd + need, c.rounds))


def train_target(config: Config, rnd: int, base_round: int) -> int:
    """The model's epoch count at the end of round ``rnd``'s training: ``epochs`` for a
    new model (``head_epochs`` of the head on a pretrained body, ``train.stage1``), then
    ``finetune_epochs`` more per later round."""
    t = config.train
    first = t.head_epochs if t.stage1 == "cached" else t.epochs
    return first + (rnd - base_round) * t.finetune_epochs


def sample_size(config: Config, budget: int) -> int:
    return min(config.sample.n_labelled, budget)


def run_plan(config: Config, budget: int) -> RunPlan:
    n = sample_size(config, budget)
    return RunPlan(
        budget=budget,
        stages=STAGES,
        rounds=rounds_total(config, 0, budget - n),
        sample=n,
        round_queries=config.search.top_k,
    )
