"""Several objectives on the real NB201 table: the front and hypervolume share a run
reports, the table's true front, the scalarised signal of single-objective methods,
NSGA-II / MOTPE through Optuna, exact resume, and the CLI's output."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import spearmanr

from tnao_app.cli import main
from tnao_app.config import Config
from tnao_app.errors import ConfigError, Stopped
from tnao_app.export import parse_front_csv
from tnao_app.objectives import Goal
from tnao_app.runs.pipeline import result_of
from tnao_app.search.driver import Driver, build
from tnao_app.search.method import Hooks
from tnao_app.search.scalarise import Scalarised

ACC, FLOPS = "cifar10-valid/x-valid@200", "cifar10/flops"
TINY_TNAO = {
    "sample": {"n_labelled": 10},
    "train": {"head_epochs": 1, "head_batches": 2, "epochs": 1, "finetune_epochs": 1},
    "search": {"particles": 8, "generations": 3, "top_k": 5},
}


def _cfg(
    method, budget, objectives="valid,-flops", seed=0, front_picks="hvi", **sections
) -> Config:
    data = {
        "run": {"benchmark": "nb201", "method": method, "budget": budget, "seed": seed},
        "goal": {"objectives": objectives, "front_picks": front_picks},
        "baselines": {"nsga2_population": 8, "population": 10, "tournament": 3},
        **sections,
    }
    return Config.from_dict(data).validate()


def _run(cfg, table, should_stop=None, checkpoint=None, resume=None):
    m, oracle = build(cfg, table, hooks=Hooks(should_stop=should_stop or (lambda: False)))
    Driver(m, oracle, checkpoint=checkpoint).run(resume)
    return m, oracle


def brute_front_2d(acc: np.ndarray, flops: np.ndarray) -> set[int]:
    """Rows no other row beats: none with flops <= and accuracy >, or flops < and >=."""
    out = set()
    for i in range(len(acc)):
        better = ((flops <= flops[i]) & (acc > acc[i])) | ((flops < flops[i]) & (acc >= acc[i]))
        if not better.any():
            out.add(i)
    return out


def test_true_front_of_the_table(nb201_table):
    """The table's front (accuracy up, FLOPs down) by an independent sweep: a cell is on
    it iff its accuracy is the best among cells with at most its FLOPs, and strictly
    better than every cell with fewer FLOPs."""
    t = nb201_table
    acc, flops = t.metric(ACC), t.metric(FLOPS)
    g = Goal(t, _cfg("random", 10))
    expect = []
    for i in np.argsort(flops, kind="stable"):
        le = acc[flops <= flops[i]].max()
        lt = acc[flops < flops[i]].max() if (flops < flops[i]).any() else -np.inf
        if acc[i] >= le and acc[i] > lt:
            expect.append(int(i))
    assert set(g.true_rows.tolist()) == set(expect)
    assert g.hypervolume_share(g.true_rows.tolist()) == pytest.approx(1.0)
    # the cell with the fewest FLOPs and the best accuracy are the front's two ends
    assert int(np.argmax(acc)) in expect


@pytest.mark.parametrize("method", ["random", "evolution", "nsga2", "motpe"])
def test_result_front_is_the_brute_force_front_of_queried_cells(nb201_table, method):
    t = nb201_table
    cfg = _cfg(method, 60, seed=2)
    m, oracle = _run(cfg, t)
    assert oracle.n_queries == 60
    res = result_of(cfg, "", t, oracle, (), seconds=0.0, dev="cpu", goal=m.ctx.goal)
    rows = list(oracle.queried)
    acc, flops = t.metric(ACC)[rows], t.metric(FLOPS)[rows]
    expect = {t.native(rows[i]) for i in brute_front_2d(acc, flops)}
    assert {e["arch"] for e in res["front"]} == expect
    for e in res["front"]:
        r = t.index_of(t.space.from_native(e["arch"]))
        assert e == {"arch": e["arch"], "valid": t.metric(ACC)[r], "flops": t.metric(FLOPS)[r]}
    assert 0.0 < res["hypervolume_share"] <= 1.0
    assert res["objectives"][1] == {"name": "flops", "metric": FLOPS, "goal": "min"}


def test_hypervolume_share_grows_with_the_front(nb201_table):
    g = Goal(nb201_table, _cfg("random", 10))
    m, oracle = _run(_cfg("random", 80, seed=5), nb201_table)
    curve = g.hypervolume_curve(list(oracle.queried))
    assert len(curve) == 80 and all(b >= a for a, b in zip(curve, curve[1:], strict=False))
    assert curve[-1] == pytest.approx(g.hypervolume_share(list(oracle.queried)))


def test_three_objectives(nb201_table):
    g = Goal(nb201_table, _cfg("random", 10, "valid,-flops,-params"))
    rows, hv = g.true_front()
    assert hv > 0 and g.hypervolume_share(rows.tolist()) == pytest.approx(1.0)
    # leaving one front cell out loses volume (every front cell adds some of its own)
    assert g.hypervolume_share(rows[1:].tolist()) < 1.0


def test_chebyshev_scalar_respects_dominance(nb201_table):
    """Under any weights, a cell that dominates another gets the larger scalar signal."""
    t = nb201_table
    m, _ = build(_cfg("random", 30, seed=1), t)
    assert isinstance(m, Scalarised)
    rng = np.random.default_rng(0)
    acc, flops = t.metric(ACC), t.metric(FLOPS)
    m.seen = rng.choice(len(t), 50, replace=False).tolist()
    for _ in range(50):
        a, b = (int(x) for x in rng.choice(m.seen, 2, replace=False))
        if not (
            acc[a] >= acc[b] and flops[a] <= flops[b] and (acc[a], flops[a]) != (acc[b], flops[b])
        ):
            continue
        s = m.scalars([a, b], rng.dirichlet([1, 1]))
        assert s[0] > s[1]


def test_tnao_learns_each_batch_under_its_weights(nb201_table):
    """TNAO (whose rounds retrain on every label) is given every label rescalarised with
    each new batch's weights (ParEGO); a baseline keeps what it was told."""
    cfg = _cfg("tnao", 40, seed=3, front_picks="scalarise", **TINY_TNAO)
    m, oracle = _run(cfg, nb201_table)
    assert isinstance(m, Scalarised)
    s = m.summary()
    assert s["batches"] >= 3 and s["relabelled"] == s["batches"] - 1
    # the labels it holds rank the cells as the last batch's weights do (the scale moved
    # a little with that batch's own cells)
    w = np.asarray(m.weights[-1])
    before = m.seen[: len(m.seen) - 5]
    got = np.array([m.inner.queried[r] for r in before])
    assert spearmanr(got, m.scalars(before, w)).statistic > 0.9
    m2, _ = _run(_cfg("evolution", 40, seed=3), nb201_table)
    assert m2.summary()["relabelled"] == 0


@pytest.mark.parametrize(
    ("method", "sections"),
    [
        ("evolution", {}),
        ("nsga2", {}),
        ("motpe", {}),
        ("tnao", TINY_TNAO),
        ("tnao", {**TINY_TNAO, "goal": {"front_picks": "scalarise"}}),
    ],
)
def test_resume_is_exact(nb201_table, method, sections):
    """Stopped mid-run and resumed from its last checkpoint: the same queries as an
    uninterrupted run (the scalarisation's weights and Optuna's study included)."""
    sections = dict(sections)
    picks = sections.pop("goal", {}).get("front_picks", "hvi")
    # TNAO: stop after a few rounds (its sample, then a checkpoint per epoch and batch),
    # so the resumed state holds queried rounds and the front-based stall count
    stop_after = 6 if method == "tnao" else 2
    cfg = _cfg(method, 30, seed=4, front_picks=picks, **sections)
    _m, whole = _run(cfg, nb201_table)
    saved: list = []
    with pytest.raises(Stopped):
        _run(
            _cfg(method, 30, seed=4, front_picks=picks, **sections),
            nb201_table,
            should_stop=lambda: len(saved) >= stop_after,
            checkpoint=lambda stage, step, state: saved.append(state),
        )
    _m2, second = _run(
        _cfg(method, 30, seed=4, front_picks=picks, **sections),
        nb201_table,
        resume={"stage": "search", "step": 0, "state": saved[-1]},
    )
    assert (10 if method == "tnao" else 0) < len(saved[-1]["queried"]) < 30
    assert list(second.queried) == list(whole.queried)


def test_nsga2_population_of_at_least_two():
    with pytest.raises(ConfigError, match="nsga2_population must be at least 2"):
        Config.from_dict({"baselines": {"nsga2_population": 1}}).validate()


@pytest.mark.parametrize("name", ["nao_steps", "ls_draws", "tpe_startup", "bananas_epochs"])
def test_every_baseline_count_is_checked(name):
    with pytest.raises(ConfigError, match=f"baselines.{name} must be a positive integer, got 0"):
        Config.from_dict({"baselines": {name: 0}}).validate()


def test_nsga2_without_objectives_searches_the_signal(nb201_table):
    cfg = Config.from_dict(
        {"run": {"benchmark": "nb201", "method": "nsga2", "budget": 40, "seed": 1}}
    ).validate()
    m, oracle = _run(cfg, nb201_table)
    assert oracle.n_queries == 40 and m.summary()["trials"] >= 40


def test_bad_objectives_are_one_sentence(nb201_table):
    for text, words in (
        ("valid,-zzz", "Metric 'zzz' is not a column of benchmark 'nb201'"),
        ("valid,", "have an empty entry"),
        ("valid,cifar10/ori-test@200", "is the reported metric"),
        ("valid,signal", "is named twice"),
    ):
        with pytest.raises(ConfigError, match=words):
            Goal(nb201_table, _cfg("random", 10, text))


def test_cli_prints_the_front_and_its_share(nb201_table, tmp_path, capsys):
    argv = ["run", "-b", "nb201", "-m", "random", "--objectives", "valid,-flops"]
    argv += ["--budget", "100", "--db", str(tmp_path / "h.db")]
    for extra in ([], ["--json"]):
        with pytest.raises(SystemExit) as exc:
            main(argv + extra)
        assert exc.value.code in (0, None)
        out = capsys.readouterr().out
        if not extra:
            assert "Pareto front of the queried cells" in out
            assert "hypervolume share" in out and "of the table's true front" in out
        else:
            res = json.loads(out)
            assert res["front"] and set(res["front"][0]) == {"arch", "valid", "flops"}
            assert 0 < res["hypervolume_share"] <= 1
            # best first by the first objective (a torch export builds the first), so
            # on a front by FLOPs too
            valid = [e["valid"] for e in res["front"]]
            flops = [e["flops"] for e in res["front"]]
            assert valid == sorted(valid, reverse=True) and flops == sorted(flops, reverse=True)
            # the recorded run shows the same front and share again
            with pytest.raises(SystemExit):
                main(["show", res["run_id"], "--db", str(tmp_path / "h.db")])
            shown = " ".join(capsys.readouterr().out.split())
            assert f"Pareto front of the queried cells ({len(res['front'])})" in shown
            assert f"hypervolume share {100 * res['hypervolume_share']:.2f}%" in shown


def test_cli_exports_the_front(nb201_table, tmp_path, capsys):
    db = str(tmp_path / "h.db")
    argv = ["run", "-b", "nb201", "-m", "random", "--objectives", "valid,-flops"]
    with pytest.raises(SystemExit):
        main([*argv, "--budget", "40", "--db", db, "--json"])
    res = json.loads(capsys.readouterr().out)
    with pytest.raises(SystemExit) as exc:
        main(["export", res["run_id"], "--front", "-f", "csv", "--db", db])
    assert exc.value.code in (0, None)
    assert parse_front_csv(capsys.readouterr().out) == res["front"]
    with pytest.raises(SystemExit):
        main(["export", res["run_id"], "--front", "-f", "json", "--db", db])
    doc = json.loads(capsys.readouterr().out)
    assert doc["front"] == res["front"] and doc["hypervolume_share"] == res["hypervolume_share"]
    # a run of one objective has no front: one sentence, non-zero exit
    with pytest.raises(SystemExit):
        main(["run", "-b", "nb201", "-m", "random", "--budget", "10", "--db", db, "--json"])
    plain = json.loads(capsys.readouterr().out)["run_id"]
    with pytest.raises(SystemExit) as exc:
        main(["export", plain, "--front", "--db", db])
    assert exc.value.code != 0 and "has no Pareto front" in capsys.readouterr().err


def test_a_stored_front_shows_best_first_and_a_zero_share_says_why(capsys):
    """A result as stored (mechanics only: two made-up entries, listed worst first as
    results were before the front was ordered): the printed table and the app's rows put
    the best by the first objective first, and a 0% share names the reference point."""
    from tnao_app.cli.run import print_goal
    from tnao_app.screens.widgets import pareto_rows

    res = {
        "benchmark": "nb201",
        "objectives": [
            {"name": "valid", "metric": "cifar10-valid/x-valid@200", "goal": "max"},
            {"name": "flops", "metric": "cifar10/flops", "goal": "min"},
        ],
        "front": [
            {"arch": "A", "valid": 80.0, "flops": 10.0},
            {"arch": "B", "valid": 90.0, "flops": 50.0},
        ],
        "hypervolume_share": 0.0,
        "true_front_size": 7,
    }
    print_goal(res)
    out = " ".join(capsys.readouterr().out.split())
    assert out.index("90") < out.index("80")
    assert "no queried cell passes the reference point" in out
    assert [e["arch"] for e in pareto_rows(res)[1]] == ["B", "A"]
