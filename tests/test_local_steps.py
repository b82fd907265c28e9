"""Sequential local steps (``search.local_steps = "sequential"``): a round queries its
local picks one at a time, each a one-edit neighbour of the best cells queried so far, so
a step that improves the incumbent moves the next step there within the round; a run
stopped between two steps resumes to the uninterrupted result. Real tiny runs on the
embedded analog table."""

from __future__ import annotations

import copy

import pytest

from tnao_app.config import Config
from tnao_app.errors import Stopped
from tnao_app.events import Queried, StageStarted
from tnao_app.runs.pipeline import run_pipeline


def tiny(steps: str = "sequential") -> Config:
    return Config.from_dict(
        {
            "run": {
                "benchmark": "analog",
                "budget": 50,
                "seed": 3,
                "device": "cpu",
                "checkpoint_every": 0.0,  # every step: each batch of queries is saved
            },
            "model": {"d_model": 16, "n_heads": 2, "n_layers": 1, "d_latent": 8},
            "train": {"epochs": 1, "head_epochs": 2, "head_batches": 5, "finetune_epochs": 1},
            "search": {"particles": 16, "generations": 4, "local_steps": steps},
        }
    )


def _rounds(events: list) -> list[list[str]]:
    """The archs each round's evaluate stage queried, in order."""
    rounds: list[list[str]] = []
    for e in events:
        if isinstance(e, StageStarted) and e.stage == "evaluate":
            rounds.append([])
        elif isinstance(e, Queried) and rounds:
            rounds[-1].append(e.arch)
    return rounds


def test_each_local_step_is_a_neighbour_of_the_best_so_far(analog_table):
    table = analog_table
    row_of = {table.native(r): r for r in range(len(table))}
    events: list = []
    saves: list[str] = []
    cfg = tiny()
    result = run_pipeline(
        cfg, listeners=[events.append], checkpoint=lambda stage, step, state: saves.append(stage)
    )
    assert result["queries"] == 50
    rounds = _rounds(events)
    assert [len(r) for r in rounds] == [10, 10, 10]  # 20 sampled, then rounds of top_k
    queried = [row_of[e.arch] for e in events if isinstance(e, Queried)]
    sig = table.metric("baseline")
    tok = table.tokens
    k = cfg.local_k()  # automatic: 5 on a table that answers its whole space
    for i in range(len(rounds)):
        start = 20 + 10 * i
        for j in range(k):  # the round's first local_k queries are its local steps
            before = queried[: start + j]
            parents = sorted(before, key=lambda x: -sig[x])[: cfg.search.local_parents]
            step = queried[start + j]
            assert min(int((tok[step] != tok[p]).sum()) for p in parents) == 1
    # the driver saves after each batch: a round's local steps and then the rest
    assert saves.count("evaluate") == len(rounds) * (k + 1)


def test_batch_local_picks_are_one_batch_a_round(analog_table):
    saves: list[str] = []
    run_pipeline(tiny("batch"), checkpoint=lambda stage, step, state: saves.append(stage))
    assert saves.count("evaluate") == 3


def test_a_run_stopped_between_two_local_steps_resumes_exactly(analog_table):
    ref = run_pipeline(tiny())
    saved: list[dict] = []

    def ckpt(stage, step, state):
        saved.append({"stage": stage, "step": step, "state": copy.deepcopy(state)})

    def stop() -> bool:  # two local steps into the second round
        return sum(c["stage"] == "evaluate" for c in saved) >= 6 + 2

    with pytest.raises(Stopped):
        run_pipeline(tiny(), checkpoint=ckpt, should_stop=stop)
    last = saved[-1]
    assert last["stage"] == "evaluate" and last["step"] == 32
    resumed = run_pipeline(tiny(), resume=last)
    drop = ("seconds", "run_id")
    assert {k: v for k, v in resumed.items() if k not in drop} == {
        k: v for k, v in ref.items() if k not in drop
    }


def test_local_steps_must_be_named():
    from tnao_app.errors import ConfigError

    with pytest.raises(ConfigError, match="local_steps"):
        Config.from_dict({"search": {"local_steps": "greedy"}}).validate()


def test_a_round_whose_local_steps_spend_the_budget_still_closes(analog_table):
    """Budget 23: the sample of 20, then a round of three local steps and nothing else;
    the round still ends (its evaluate stage finishes and counts)."""
    from tnao_app.events import StageFinished

    cfg = tiny()
    cfg.run.budget = 23
    seen: list = []
    res = run_pipeline(cfg, listeners=[seen.append])
    assert res["queries"] == 23 and res["summary"]["rounds"] == 1
    ends = [e for e in seen if isinstance(e, StageFinished) and e.stage == "evaluate"]
    assert len(ends) == 1 and ends[0].summary["queried"] == 3
