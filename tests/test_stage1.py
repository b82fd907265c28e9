"""Stage 1 apart from the search (train.stage1 = "cached"): the auto-encoder's body is
pretrained once per space and model, kept in the cache folder, and every run after the
first starts from it; the result is the same whether the body was trained in this run,
read from the cache, or trained again after the cache file was damaged."""

from __future__ import annotations

import json

import pytest
import torch

from tnao_app import paths
from tnao_app.config import Config
from tnao_app.events import Progress
from tnao_app.runs.pipeline import run_pipeline
from tnao_app.search.tnao import stage1

SMALL = {
    "run": {"benchmark": "analog", "budget": 40, "seed": 2, "device": "cpu", "threads": 1},
    "model": {"d_model": 16, "n_heads": 2, "n_layers": 1, "d_latent": 8},
    "train": {"epochs": 2, "head_epochs": 3, "head_batches": 5, "finetune_epochs": 1},
    "search": {"particles": 8, "generations": 4},
}


def _run(cfg: dict) -> tuple[str, list[str]]:
    """The result without timings (as text) and the stage-1 progress messages."""
    stage1._LOADED.clear()  # as a fresh process would
    msgs: list[str] = []

    def listen(e) -> None:
        if isinstance(e, Progress) and "stage 1" in e.message:
            msgs.append(e.message)

    res = run_pipeline(Config.from_dict(cfg), listeners=[listen])
    res = {k: v for k, v in res.items() if k not in ("seconds", "run_id")}
    return json.dumps(res), msgs


def test_cold_warm_and_damaged_cache_give_one_result(tnao_home):
    cold, trained = _run(SMALL)
    assert trained, "a cold cache pretrains the body and says so"
    files = sorted((paths.cache_dir() / "stage1").glob("analog-*.pt"))
    assert files, "the pretrained body is kept in the cache folder"
    warm, again = _run(SMALL)
    assert warm == cold and again == []  # read from the cache, not trained again
    for f in files:
        f.write_bytes(f.read_bytes()[:100])  # a damaged cache file
    repaired, retrained = _run(SMALL)
    assert repaired == cold and retrained


def test_a_round_trains_the_head_only(tnao_home):
    """The body stays as stage 1 left it; the head moves (a sampled pool, whose
    features are computed per run rather than kept with the body)."""
    cfg = Config.from_dict({**SMALL, "sample": {"n_unlabelled": 800}})
    from tnao_app import benchmarks
    from tnao_app.search.method import SearchContext
    from tnao_app.search.tnao import TNAOSearch

    ctx = SearchContext.of(
        benchmarks.load("analog"), cfg.resolve(benchmarks.load("analog").dataset("cifar10"))
    )
    method = TNAOSearch(ctx)
    rows = method.propose(40)
    method.observe(rows, [float(i) for i in range(len(rows))])  # synthetic signals
    method.propose(40)  # trains round 0's head, searches, picks
    model = method.trainer.model
    body, _ = stage1.pretrained_body(ctx, method.st.variant, lambda *a: None, lambda: False)
    for name, value in model.state_dict().items():
        if name.startswith(model.BODY):
            assert torch.equal(value, body[name]), name
    assert not torch.equal(model.state_dict()["to_z.weight"], body["to_z.weight"])


def test_joint_mode_keeps_the_whole_model_per_run(tnao_home):
    cfg = json.loads(json.dumps(SMALL))
    cfg["train"]["stage1"] = "joint"
    cfg["sample"] = {"n_unlabelled": 800}
    _, msgs = _run(cfg)
    assert msgs == []
    assert not list((paths.cache_dir() / "stage1").glob("*.pt"))


def test_bad_stage1_settings():
    from tnao_app.errors import ConfigError

    with pytest.raises(ConfigError, match="train.stage1"):
        Config.from_dict({"train": {"stage1": "sometimes"}}).validate()
    with pytest.raises(ConfigError, match="stage1_variants"):
        Config.from_dict({"train": {"stage1_variants": 0}}).validate()
