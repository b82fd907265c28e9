"""TNAO's front picks (search/tnao/front.py): the signal against one known cost, batches
chosen by predicted hypervolume gain. Mechanics on synthetic points (they say so), then
real runs on the NB201 table."""

from __future__ import annotations

import numpy as np
import pytest

from tnao_app import pareto
from tnao_app.config import Config
from tnao_app.objectives import Goal
from tnao_app.search.driver import Driver, build
from tnao_app.search.method import Hooks
from tnao_app.search.scalarise import Scalarised
from tnao_app.search.tnao import front
from tnao_app.search.tnao.search import TNAOSearch

TINY_TNAO = {
    "sample": {"n_labelled": 10},
    "train": {"head_epochs": 1, "head_batches": 2, "epochs": 1, "finetune_epochs": 1},
    "search": {"particles": 8, "generations": 3, "top_k": 5},
}


def _cfg(objectives="valid,-flops", budget=30, seed=0, picks="hvi", **goal) -> Config:
    return Config.from_dict(
        {
            "run": {"benchmark": "nb201", "method": "tnao", "budget": budget, "seed": seed},
            "goal": {"objectives": objectives, "front_picks": picks, **goal},
            **TINY_TNAO,
        }
    ).validate()


def test_hypervolume_gain_equals_the_difference_of_hypervolumes():
    """Synthetic points: each candidate's gain is HV(front + it) - HV(front), for
    candidates inside, beside, beyond and below the reference."""
    rng = np.random.default_rng(0)
    ref = np.array([-0.1, -0.1])
    for _ in range(40):
        pts = rng.uniform(-0.5, 1.2, (12, 2))  # some beside or below the reference
        f = pts[pareto.non_dominated(pts)]
        cand = rng.uniform(-0.3, 1.2, (40, 2))
        got = front.hv_gain_2d(f, cand, ref)
        base = pareto.hypervolume(f, ref)
        want = [pareto.hypervolume(np.vstack([f, c]), ref) - base for c in cand]
        np.testing.assert_allclose(got, want, atol=1e-12)
    # an empty front: the candidate's own box above the reference
    np.testing.assert_allclose(
        front.hv_gain_2d(np.empty((0, 2)), np.array([[0.5, 0.4]]), ref), [0.6 * 0.5]
    )


def test_isotonic_fit_is_monotone_and_keeps_the_mean():
    """Synthetic: the fit never decreases, stays within the labels' range, returns
    ordered labels unchanged and pools a violating pair into its mean."""
    rng = np.random.default_rng(1)
    x, y = rng.random(50), rng.random(50)
    kx, ky = front.isotonic(x, y)
    assert np.all(np.diff(ky) >= 0) and np.all(np.diff(kx) > 0)
    assert y.min() <= ky.min() and ky.max() <= y.max() and len(ky) < 50
    _, ky2 = front.isotonic(np.arange(5.0), np.arange(5.0))
    np.testing.assert_allclose(ky2, np.arange(5.0))
    _, ky3 = front.isotonic(np.array([0.0, 1.0, 2.0]), np.array([1.0, 3.0, 2.0]))
    np.testing.assert_allclose(ky3, [1.0, 2.5])
    # equal scores are one block whatever the order their labels came in
    for y in ([0.0, 1.0, 0.5], [1.0, 0.0, 0.5]):
        kx4, ky4 = front.isotonic(np.array([1.0, 1.0, 2.0]), np.array(y))
        np.testing.assert_allclose(kx4, [1.0, 2.0])
        np.testing.assert_allclose(ky4, [0.5, 0.5])
    est = front.estimate(np.array([-5.0, 0.5, 99.0]), np.arange(5.0), np.arange(5.0) * 2)
    np.testing.assert_allclose(est[[0, 2]], [0.0, 8.0], atol=1e-6)  # flat beyond the knots


def test_a_perfect_ranker_picks_the_true_front_first(nb201_table):
    """With the true signal as the ranker's score, the greedy picks from 20 queried cells
    reach most of the table's front volume within 15 picks, far above 15 random cells."""
    t = nb201_table
    goal = Goal(t, _cfg())
    sig = t.metric(goal.spec.signal)
    rng = np.random.default_rng(3)
    queried = {int(r): float(sig[r]) for r in rng.choice(len(t), 20, replace=False)}
    cand = np.array([r for r in range(len(t)) if r not in queried])
    qs = np.array([sig[r] for r in queried])
    picks = front.choose(goal, queried, qs, cand, sig[cand], [(None, 15)])
    assert len(set(picks)) == 15 and not set(picks) & set(queried)
    share = goal.hypervolume_share(goal.front([*queried, *picks]))
    rand = goal.hypervolume_share(
        goal.front([*queried, *rng.choice(cand, 15, replace=False).tolist()])
    )
    assert share > 0.97 and share > rand + 0.05
    assert len(set(picks) & set(goal.true_rows.tolist())) >= 8


def test_the_local_quota_draws_from_its_mask_first(nb201_table):
    t = nb201_table
    goal = Goal(t, _cfg())
    sig = t.metric(goal.spec.signal)
    queried = {int(r): float(sig[r]) for r in range(0, 15625, 700)}
    cand = np.array([r for r in range(len(t)) if r not in queried])
    mask = np.zeros(len(cand), dtype=bool)
    mask[:40] = True
    qs = np.array([sig[r] for r in queried])
    picks = front.choose(goal, queried, qs, cand, sig[cand], [(mask, 3), (None, 4)])
    assert len(picks) == 7 and set(picks[:3]) <= set(cand[:40].tolist())
    # a group without enough candidates hands its share to the next
    mask[2:] = False
    picks = front.choose(goal, queried, qs, cand, sig[cand], [(mask, 3), (None, 4)])
    assert len(picks) == 7 and set(picks[:2]) == set(cand[:2].tolist())


def test_handles_only_the_signal_against_one_cost(nb201_table):
    t = nb201_table
    assert front.handles(Goal(t, _cfg("valid,-flops")))
    assert front.handles(Goal(t, _cfg("valid,-params")))
    assert not front.handles(Goal(t, _cfg("valid,-flops,-params")))
    assert not front.handles(Goal(t, _cfg("-flops,valid")))
    assert not front.handles(Goal(t, _cfg("valid,cifar100/x-valid@12")))


def _run(cfg, table, should_stop=None, checkpoint=None, resume=None):
    m, oracle = build(cfg, table, hooks=Hooks(should_stop=should_stop or (lambda: False)))
    Driver(m, oracle, checkpoint=checkpoint).run(resume)
    return m, oracle


def test_tnao_searches_the_front_itself_unless_told_to_scalarise(nb201_table):
    """valid,-flops: TNAO is told the raw signal (no scalarisation) and each round's
    picks are unqueried cells; with front_picks = scalarise it is wrapped as before, and
    with a third objective too."""
    t = nb201_table
    m, oracle = _run(_cfg(budget=40, seed=2), t)
    assert isinstance(m, TNAOSearch) and m.front_mode
    assert oracle.n_queries == 40 and len(set(oracle.queried)) == 40
    sig = t.metric(t.dataset("cifar10").signal)
    assert all(m.queried[r] == sig[r] for r in m.queried)  # the signal, not a scalar
    m2, _ = build(_cfg(picks="scalarise"), t)
    assert isinstance(m2, Scalarised)
    m3, _ = build(_cfg("valid,-flops,-params"), t)
    assert isinstance(m3, Scalarised)
    # NAO differs from TNAO only in its latent search, which front picks skip; the
    # paper's pass is single-objective TNAO: both search the scalarised signal
    for method in ("nao", "tnao-paper"):
        data = {
            "run": {"benchmark": "nb201", "method": method, "budget": 30},
            "goal": {"objectives": "valid,-flops"},
            **TINY_TNAO,
        }
        m4, _ = build(Config.from_dict(data).validate(), t)
        assert isinstance(m4, Scalarised), method


def test_constrained_front_picks_stay_feasible(nb201_table):
    t = nb201_table
    cfg = _cfg(budget=40, seed=1, constraints="params<=0.3")
    m, oracle = _run(cfg, t)
    assert m.front_mode
    assert all(t.metric("cifar10/params")[r] <= 0.3 for r in oracle.queried)


def test_bad_front_settings_are_one_sentence():
    from tnao_app.errors import ConfigError

    with pytest.raises(ConfigError, match="goal.front_picks 'best' is unknown"):
        Config.from_dict({"goal": {"front_picks": "best"}}).validate()
    with pytest.raises(ConfigError, match="goal.front_local must be >= 0, got -1"):
        Config.from_dict({"goal": {"front_local": -1}}).validate()


def test_cli_tnao_run_prints_its_front(nb201_table, tmp_path, capsys):
    """`tnao run -m tnao --objectives valid,-flops --json` (the front picks): a front of
    queried cells and its share. (Exact resume: test_pareto_objectives.)"""
    import json

    from tnao_app.cli import main

    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps(TINY_TNAO))
    db = str(tmp_path / "h.db")
    argv = ["run", "-b", "nb201", "-m", "tnao", "--objectives", "valid,-flops", "--json"]
    argv += ["--budget", "40", "--seed", "3", "--config", str(cfg), "--db", db]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code in (0, None)
    res = json.loads(capsys.readouterr().out)
    assert res["queries"] == 40 and res["front"] and 0 < res["hypervolume_share"] <= 1
    assert "scalarise" not in res.get("summary", {})


def test_a_config_saved_before_front_picks_keeps_the_scalarised_search():
    """A run or campaign stored before ``goal.front_picks`` existed resumes as it ran
    (scalarised); a new config and a single-objective one are left as they are."""
    from tnao_app.campaign.plan import Spec
    from tnao_app.stored_config import stored

    old = {"run": {"method": "tnao"}, "goal": {"objectives": "valid,-flops"}}
    assert Config.from_dict(stored(old)).goal.front_picks == "scalarise"
    new = {"goal": {"objectives": "valid,-flops", "front_picks": "hvi"}}
    assert stored(new)["goal"] == new["goal"]
    assert stored({"goal": {"objectives": ""}})["goal"] == {"objectives": ""}
    search = {"picks": "pool", "partial_picks": "pool", "local_k": -1}
    both = {"search": search, "goal": {"objectives": ""}}
    assert stored(both) == both  # nothing missing: read as it is
    spec = Spec.from_dict(
        {"benchmark": "nb201", "dataset": "cifar10", "methods": ["tnao"], "seeds": [0]}
        | {"budgets": [50], "config": old}
    )
    assert spec.config["goal"]["front_picks"] == "scalarise"
    assert spec.config["search"]["picks"] == "swarm"  # saved before search.picks


def test_a_new_campaign_records_the_defaults_it_runs_with(nb201_table):
    """A plan checked today writes the later-added defaults into its config, so that a
    resume (which reads an old plan's missing fields as what it ran with) keeps them."""
    from tnao_app.campaign.plan import Spec

    goal = {"objectives": "valid,-flops", "constraints": "params<=0.5"}
    spec = Spec("nb201", "cifar10", ["random"], [0], [20], {"goal": goal}).check()
    assert spec.config["goal"]["front_picks"] == "hvi"
    assert spec.config["search"]["picks"] == "auto"
    assert spec.config["search"]["partial_picks"] == "turns"
    assert spec.config["search"]["local_steps"] == "batch"
    assert spec.config["search"]["local_k"] == -1  # automatic: 2 on a partial table
    back = Spec.from_dict(spec.to_dict())
    assert back.config == spec.config
    user = Spec("nb201", "cifar10", ["random"], [0], [20], {"search": {"picks": "swarm"}})
    assert user.check().config["search"]["picks"] == "swarm"  # the user's choice stands
    # a plan saved before search.partial_picks resumes with the swarm on a partial table
    old = Spec.from_dict(
        {"benchmark": "nb201", "dataset": "cifar10", "methods": ["tnao"], "seeds": [0]}
        | {"budgets": [20], "config": {"search": {"picks": "auto"}}}
    )
    assert old.config["search"]["partial_picks"] == "swarm"
    assert old.config["search"]["local_k"] == 5  # and with the 5 local picks it ran with


def test_a_campaign_with_a_bad_goal_is_refused_before_it_is_recorded(nb201_table):
    from tnao_app.campaign.plan import Spec
    from tnao_app.errors import ConfigError

    for goal, msg in (
        ({"objectives": "valid,-bogus"}, "Metric 'bogus' is not a column"),
        ({"constraints": "params<=0.00001"}, "No cell of benchmark 'nb201' meets"),
    ):
        spec = Spec("nb201", "cifar10", ["random"], [0], [20], {"goal": goal})
        with pytest.raises(ConfigError, match=msg):
            spec.check()
