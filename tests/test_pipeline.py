"""The pipeline end to end on the real NB201 table, with tiny configs (seconds): events,
result, checkpoint/resume identical to an uninterrupted run, partial tables, bad input."""

from __future__ import annotations

import copy
import json
from types import SimpleNamespace

import numpy as np
import pytest

from tnao_app import benchmarks, catalogue
from tnao_app.config import Config
from tnao_app.errors import ConfigError, NotReadyError, Stopped
from tnao_app.runs.pipeline import run_pipeline
from tnao_app.search import driver

try:  # the storage helper's serialisation, when present: checkpoints must survive it
    from tnao_app.storage.checkpoints import from_bytes, to_bytes
except ImportError:  # pragma: no cover
    from_bytes = to_bytes = None


def tiny(method="tnao", **run) -> Config:
    return Config.from_dict(
        {
            "run": {
                "benchmark": "nb201",
                "dataset": "cifar10",
                "method": method,
                "budget": 30,
                "seed": 3,
                "device": "cpu",
                "threads": 1,
                "checkpoint_every": 0.0,  # a checkpoint at every step a resume can start from
                **run,
            },
            "sample": {"n_labelled": 12, "n_unlabelled": 300},
            "model": {"d_model": 16, "n_heads": 2, "d_latent": 8, "n_predictors": 2},
            "train": {"epochs": 2, "finetune_epochs": 1, "finetune_batches": 1, "batch_size": 128},
            "search": {"particles": 8, "generations": 3, "rounds": 3},
            "baselines": {"nao_steps": 3},
        }
    )


def _strip(res: dict) -> str:
    """The result without timings, as text: NaN (no predictor) then compares equal."""
    return json.dumps({k: v for k, v in res.items() if k not in ("seconds", "run_id")})


def _roundtrip(state: dict) -> dict:
    return from_bytes(to_bytes(state)) if to_bytes else copy.deepcopy(state)


def _run_keeping_checkpoints(cfg: Config) -> tuple[dict, list, list[dict]]:
    """A run with a checkpoint at every step: its result, events and checkpoints."""
    cfg.run.checkpoint_every = 0.0
    events, ckpts = [], []
    ref = run_pipeline(
        cfg,
        listeners=[events.append],
        checkpoint=lambda st, step, state: ckpts.append(
            {"stage": st, "step": step, "state": _roundtrip(state)}
        ),
    )
    return ref, events, ckpts


def test_events_and_result(nb201_table):
    events = []
    res = run_pipeline(tiny(), run_id="r1", listeners=[events.append])
    kinds = [e.kind for e in events]
    assert kinds[0] == "RunStarted" and kinds[-1] == "RunFinished"
    for k in (
        "StageStarted",
        "Sampled",
        "Queried",
        "EpochEnded",
        "Generation",
        "Progress",
        "Leaderboard",
        "StageFinished",
    ):
        assert k in kinds, k
    assert kinds.index("Leaderboard") < kinds.index("RunFinished")
    assert res["queries"] == 30 and res["budget"] == 30
    assert sum(k == "Queried" for k in kinds) == 30  # every unique query, samples included
    assert res["signal"] == "cifar10-valid/x-valid@200"
    assert res["report"] == "cifar10/ori-test@200"
    assert res["optimum"]["test"] == pytest.approx(94.37333, abs=1e-4)
    b = res["best"]
    row = nb201_table.index_of(nb201_table.space.from_native(b["arch"]))
    assert b["test"] == nb201_table.metric("cifar10/ori-test@200")[row]
    assert b["rank"] >= 1 and 0 < b["percentile"] <= 100
    lb = res["leaderboard"]
    assert len(lb) == 10 and lb[0]["arch"] == b["arch"]
    assert [r["valid"] for r in lb] == sorted((r["valid"] for r in lb), reverse=True)
    assert all(np.isfinite(r["predicted"]) for r in lb)
    # the best found is at least as good as the best of the random sample
    sampled = next(e for e in events if e.kind == "Sampled")
    assert b["valid"] >= max(sampled.signal)


def _round(state: dict) -> int:
    """The round a checkpoint is in (0 for methods without rounds)."""
    return state["method"].get("round_state", {}).get("round", 0)


@pytest.mark.parametrize(
    "method, stop_at",
    [
        ("tnao", ("train", 0)),
        ("tnao", ("search", 1)),
        ("tnao", ("evaluate", 0)),
        ("nao", ("train", 1)),
        ("nao", ("search", 1)),
        ("random", ("search", 0)),
        ("evolution", ("search", 0)),
        ("predictor", ("search", 0)),
    ],
)
def test_resume_is_identical_to_uninterrupted(nb201_table, method, stop_at):
    """Every method, stopped at a checkpoint and resumed through the driver's one path,
    ends exactly as an uninterrupted run (the result dict, floats included)."""
    full_ckpts = []
    ref = run_pipeline(tiny(method), checkpoint=lambda *a: full_ckpts.append(a))
    stages = {c[0] for c in full_ckpts}
    want = {"sample", "train", "search", "evaluate"} if method in ("tnao", "nao") else {"search"}
    assert want <= stages
    # Stop mid-stage: after the 2nd checkpoint of `stage` in round `rnd` (or later)
    stage, rnd = stop_at
    saved, seen = [], {"n": 0}

    def ckpt(st, step, state):
        saved.append({"stage": st, "step": step, "state": _roundtrip(state)})
        if st == stage and _round(state) >= rnd:
            seen["n"] += 1

    events = []
    with pytest.raises(Stopped):
        run_pipeline(
            tiny(method),
            checkpoint=ckpt,
            should_stop=lambda: seen["n"] >= 1,
            listeners=[events.append],
        )
    assert events[-1].kind == "RunStopped"
    last = saved[-1]
    assert last["stage"] == stage
    resumed = run_pipeline(tiny(method), resume=last)
    assert _strip(resumed) == _strip(ref)


def test_partial_table_never_proposes_unanswerable(nb201_table, monkeypatch):
    part = copy.copy(nb201_table)
    part.metrics = dict(nb201_table.metrics)
    sig = part.metrics["cifar10-valid/x-valid@200"].copy()
    missing = np.random.default_rng(0).random(len(sig)) < 0.6  # the table lacks 60%
    sig[missing] = np.nan
    part.metrics["cifar10-valid/x-valid@200"] = sig
    monkeypatch.setattr(benchmarks, "load", lambda name: part)
    events = []
    res = run_pipeline(tiny(budget=40), listeners=[events.append])
    assert res["queries"] == 40
    for e in events:
        if e.kind == "Queried":
            row = part.index_of(part.space.from_native(e.arch))
            assert not missing[row]
    assert res["summary"]["skipped_unanswerable"] > 0


def test_bad_input_is_one_sentence(nb201_table):
    with pytest.raises(ConfigError, match="below the sample size"):
        run_pipeline(tiny(budget=5))
    with pytest.raises(ConfigError, match="no dataset 'imagenet99'"):
        run_pipeline(tiny(dataset="imagenet99"))
    with pytest.raises(ConfigError, match="particles"):
        cfg = tiny()
        cfg.search.particles = 7
        run_pipeline(cfg)


@pytest.mark.parametrize("dataset, expected", [("cifar10", 20), ("cifar100", 30)])
def test_automatic_sample_size_follows_the_search_signal(nb201_table, dataset, expected):
    # 0 = automatic: 20 on cifar10's 200-epoch signal, 30 on the 12-epoch proxy signal
    # that the shared table gives cifar100; the run's saved config says which it used
    assert nb201_table.dataset(dataset).proxy == (dataset != "cifar10")
    cfg = tiny(dataset=dataset, budget=expected + 5)
    cfg.sample.n_labelled = 0
    events = []
    run_pipeline(cfg, listeners=[events.append])
    sampled = next(e for e in events if e.kind == "Sampled")
    started = next(e for e in events if e.kind == "RunStarted")
    assert len(sampled.archs) == expected
    assert started.config["sample"]["n_labelled"] == expected
    low = tiny(dataset=dataset, budget=expected - 1)
    low.sample.n_labelled = 0
    with pytest.raises(ConfigError, match=f"below the sample size {expected}"):
        run_pipeline(low)


def test_benchmark_not_ready_says_how(tnao_home):
    events = []
    with pytest.raises(NotReadyError, match="tnao data import"):
        run_pipeline(tiny(), listeners=[events.append])  # an empty home: no nb201 data
    assert events == []  # bad input: nothing emitted, nothing half-written


def test_catalogue_knows_all_methods():
    for name in catalogue.METHODS:
        # a preset entry (tnao-paper) is another entry's method with fixed settings
        base = catalogue.load(name).name
        assert base == name or (catalogue.info(name).preset and base in catalogue.METHODS)
    with pytest.raises(ConfigError):
        catalogue.load("bogus")


def test_local_picks_are_unqueried_neighbours_of_the_incumbent(nb201_table):
    # One round's local picks: one-edit neighbours of the best queried cell, never queried.
    cfg = tiny(budget=22)
    cfg.search.rounds, cfg.search.local_k, cfg.search.local_parents = 2, 3, 1
    events = []
    run_pipeline(cfg, run_id="local", listeners=[events.append])
    queried = [e.arch for e in events if e.kind == "Queried"]
    first, later = queried[:12], queried[12:]
    sig = dict(zip(queried, [e.signal for e in events if e.kind == "Queried"], strict=True))
    best = max(first, key=lambda a: sig[a])
    sp = nb201_table.space
    b = sp.from_native(best)

    def dist(a: str) -> int:
        return sum(x != y for x, y in zip(sp.from_native(a), b, strict=True))

    assert len(later) == 10 and not set(later) & set(first)
    assert [dist(a) for a in later[:3]] == [1, 1, 1]


def test_swarm_picks_of_a_round_are_spaced_apart(nb201_table):
    # After the local picks, one round's swarm picks differ pairwise in >= pick_spacing ops.
    sp = nb201_table.space
    for spacing in (2, 1):
        cfg = tiny(budget=22)
        cfg.search.rounds, cfg.search.local_k, cfg.search.explore_k = 2, 0, 0
        cfg.search.particles, cfg.search.generations = 32, 5  # visits enough to space
        cfg.search.pick_spacing = spacing
        events = []
        run_pipeline(cfg, listeners=[events.append])
        picks = [sp.from_native(e.arch) for e in events if e.kind == "Queried"][12:]
        gaps = [
            sum(x != y for x, y in zip(a, b, strict=True))
            for i, a in enumerate(picks)
            for b in picks[i + 1 :]
        ]
        assert len(picks) == 10
        if spacing == 2:
            assert min(gaps) >= 2
        else:  # unspaced, the swarm's best visits crowd together
            assert min(gaps) == 1


def test_checkpoints_are_throttled_by_time_alone_and_still_resume_exactly(nb201_table, monkeypatch):
    every, kept = [], []
    run_pipeline(tiny(), checkpoint=lambda st, step, state: every.append((st, step)))
    assert {st for st, _ in every} == {"sample", "train", "search", "evaluate"}
    cfg = tiny(checkpoint_every=3600.0)  # nothing is due by time after the first
    ref = run_pipeline(
        cfg, checkpoint=lambda st, step, state: kept.append((st, step, _roundtrip(state)))
    )
    assert [(st, step) for st, step, _ in kept] == [every[0]] == [("sample", 12)]
    # the driver's clock moves 1 s a reading (one to decide, one after a save): with
    # checkpoint_every 2 s, every second step it could save is due, whatever the stage
    clock = iter(range(10**6))
    paced = []
    with monkeypatch.context() as mp:
        mp.setattr(driver, "time", SimpleNamespace(monotonic=lambda: float(next(clock))))
        run_pipeline(tiny(checkpoint_every=2.0), checkpoint=lambda st, step, s: paced.append(st))
    assert len(paced) == (len(every) + 1) // 2
    assert {"train", "search", "evaluate"} <= set(paced)
    st, step, state = kept[0]
    resumed = run_pipeline(cfg, resume={"stage": st, "step": step, "state": state})
    assert _strip(resumed) == _strip(ref)


def test_restart_after_stalled_rounds_trains_afresh_and_resumes_exactly(nb201_table):
    cfg = tiny(budget=50, seed=1)  # a seed whose rounds stall (twice) in this budget
    cfg.search.rounds = 6
    cfg.train.restart_after = 1
    ref, events, ckpts = _run_keeping_checkpoints(cfg)
    trains = [e for e in events if e.kind == "StageFinished" and e.stage == "train"]
    ends = [e for e in events if e.kind == "StageFinished" and e.stage == "evaluate"]
    # a round whose queries beat nothing is followed by a model trained afresh
    for ev_end, ev_next in zip(ends, trains[1:], strict=False):
        stalled = ev_end.summary["best_signal"] == (
            ends[ends.index(ev_end) - 1].summary["best_signal"]
            if ends.index(ev_end)
            else max(next(e for e in events if e.kind == "Sampled").signal)
        )
        assert ev_next.summary["restarted"] == stalled
    restarted = [t for t in trains if t.summary["restarted"]]
    assert restarted, "this seed and budget should stall at least once"
    # whole epochs from zero: a new head on a pretrained body, or a whole new model
    first = cfg.train.head_epochs if cfg.train.stage1 == "cached" else cfg.train.epochs
    assert restarted[0].summary["epochs"] == first
    # resume from the first checkpoint inside a fresh model's training
    k = next(
        i
        for i, c in enumerate(ckpts)
        if c["stage"] == "train" and _round(c["state"]) == restarted[0].round
    )
    resumed = run_pipeline(cfg, resume=ckpts[k])
    assert _strip(resumed) == _strip(ref)


def _first_sample_op_counts(nb201_table, design: str, seed: int) -> np.ndarray:
    cfg = tiny(budget=20, seed=seed)
    cfg.sample.n_labelled, cfg.sample.design, cfg.search.rounds = 20, design, 1
    events = []
    run_pipeline(cfg, listeners=[events.append])
    sp = nb201_table.space
    archs = next(e for e in events if e.kind == "Sampled").archs
    tok = np.stack([sp.to_tokens(sp.from_native(a)) for a in archs])
    return np.stack([(tok == v).sum(axis=0) for v in range(sp.vocab_size)])  # (ops, edges)


def test_balanced_first_sample_spreads_every_op_over_every_edge(nb201_table):
    # 20 cells, 5 ops: a uniform sample leaves some op on some edge 1-2 times and another
    # 7-9 times; the balanced design keeps every count near 4, so no op goes unseen.
    for seed in (0, 1, 2):
        bal = _first_sample_op_counts(nb201_table, "balanced", seed)
        uni = _first_sample_op_counts(nb201_table, "random", seed)
        assert bal.sum() == uni.sum() == 20 * 6
        assert bal.min() >= 2 and bal.max() - bal.min() <= 3
        assert bal.max() - bal.min() < uni.max() - uni.min()


def _rounds_after_a_stall(events: list) -> list[tuple[list[str], list[str]]]:
    """Each round that follows a round which found nothing better: the architectures
    queried before it, and its own queries in order."""
    best = [max(next(e for e in events if e.kind == "Sampled").signal)]
    queried: list[str] = []
    round_q: list[str] = []
    out = []
    for e in events:
        if e.kind == "Queried":
            round_q.append(e.arch)
        elif e.kind == "StageStarted" and e.stage == "evaluate":
            queried, round_q = queried + round_q, []
        elif e.kind == "StageFinished" and e.stage == "evaluate":
            if len(best) >= 2 and best[-1] == best[-2]:
                out.append((queried, list(round_q)))
            best.append(e.summary["best_signal"])
    return out


def _resumed_where(cfg: Config, ckpts: list[dict], ref: dict, key: str, least: int) -> None:
    """A resume from the first search checkpoint whose round state has ``key`` >= ``least``
    ends exactly as the run did."""
    k = next(
        i
        for i, c in enumerate(ckpts)
        if c["stage"] == "search" and c["state"]["method"]["round_state"][key] >= least
    )
    assert _strip(run_pipeline(cfg, resume=ckpts[k])) == _strip(ref)


@pytest.mark.parametrize("explore", ["maximin", "predicted"])
def test_stale_rounds_explore_far_from_the_queried_cells_and_resume_exactly(nb201_table, explore):
    # maximin: far from every queried cell; predicted: the best-predicted cells at least
    # 3 ops from each of the 10 best queried ones
    cfg = tiny(budget=60)
    cfg.search.rounds, cfg.search.top_k, cfg.search.local_k = 10, 8, 3
    cfg.search.explore_after, cfg.search.explore_k = 1, 3
    cfg.search.explore = explore
    cfg.train.restart_after = 0
    ref, events, ckpts = _run_keeping_checkpoints(cfg)
    sp = nb201_table.space
    sig = {e.arch: e.signal for e in events if e.kind == "Queried"}
    stalled = _rounds_after_a_stall(events)
    for queried, round_q in stalled:
        cells = [sp.from_native(a) for a in queried]
        if explore == "predicted":
            cells = sorted(cells, key=lambda c: -sig[sp.to_native(c)])[:10]
        for a in round_q[3:6]:  # after the 3 local picks
            c = sp.from_native(a)
            assert min(sum(x != y for x, y in zip(c, d, strict=True)) for d in cells) >= 3
    assert stalled and ref["summary"]["explored"] == 3 * len(stalled)
    _resumed_where(cfg, ckpts, ref, "stale", 1)


def test_stale_rounds_climb_from_a_random_cell_and_resume_exactly(nb201_table):
    # the escape (search.escape_after): after a round that found nothing better, the local
    # picks are one-edit neighbours of the climb's cell, a random cell queried with them
    # when a climb starts
    cfg = tiny(budget=70)
    cfg.search.rounds, cfg.search.top_k, cfg.search.local_k = 10, 8, 4
    cfg.search.escape_after, cfg.search.explore_k = 1, 0
    cfg.train.restart_after = 0
    ref, events, ckpts = _run_keeping_checkpoints(cfg)
    sp = nb201_table.space

    def edits(a: str, b: str) -> int:
        x, y = sp.from_native(a), sp.from_native(b)
        return sum(u != v for u, v in zip(x, y, strict=True))

    stalled = _rounds_after_a_stall(events)
    starts = 0
    for queried, round_q in stalled:
        local = round_q[:4]
        if local[0] not in queried and all(edits(local[0], a) == 1 for a in local[1:]):
            starts += 1  # a new climb: a random cell and its neighbours
        else:  # neighbours of one cell queried before
            assert any(all(edits(c, a) == 1 for a in local) for c in queried)
    assert stalled and starts and ref["summary"]["climbs"] == starts
    _resumed_where(cfg, ckpts, ref, "climb", 0)


def test_paper_variant_is_one_pass_with_its_config_saved(nb201_table):
    """`tnao-paper` is TNAO as published: one round spends what the sample left, with
    none of the multi-round picks; the config the run announces says so."""
    events = []
    res = run_pipeline(tiny("tnao-paper", budget=25), listeners=[events.append])
    started = next(e for e in events if e.kind == "RunStarted")
    search = started.config["search"]
    assert (search["rounds"], search["local_k"], search["explore_k"]) == (1, 0, 0)
    assert started.config["sample"]["design"] == "random"
    assert started.plan.rounds == 1
    evaluate = [e for e in events if e.kind == "StageFinished" and e.stage == "evaluate"]
    assert len(evaluate) == 1 and evaluate[0].summary["queried"] == 25 - 12
    assert res["queries"] == 25 and res["summary"]["rounds"] == 1
