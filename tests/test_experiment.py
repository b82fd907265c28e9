"""`tnao experiment` and tnao_app.experiment: parsing, the anytime trajectory reading,
the summary, the process pool, and the CLI's exit codes. Runs on the analog table (the
embedded default) with tiny settings."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest

from tnao_app import benchmarks
from tnao_app import experiment as ex
from tnao_app.cli import main
from tnao_app.errors import ConfigError
from tnao_app.stats import wilson

TINY = {
    "baselines": {
        "predictor_init": 8,
        "predictor_batch": 8,
        "predictor_epochs": 20,
        "predictor_ensemble": 2,
    }
}


def test_parse_seeds_budgets_methods():
    assert ex.parse_seeds("0-3") == [0, 1, 2, 3]
    assert ex.parse_seeds("5,1, 1,2-3") == [1, 2, 3, 5]
    assert ex.parse_budgets("100,50,50") == [50, 100]
    assert ex.parse_methods("random, predictor,random") == ["random", "predictor"]
    for bad in ("", "a-b", "3-1", "-1", "1,,2", "1.5"):
        with pytest.raises(ConfigError):
            ex.parse_seeds(bad)
    for bad in ("", "0", "10,x", "-5", "1e3"):
        with pytest.raises(ConfigError):
            ex.parse_budgets(bad)
    with pytest.raises(ConfigError, match="'bogus'"):
        ex.parse_methods("random,bogus")


def test_plan_runs_anytime_once():
    got = ex.plan(["random", "tnao"], [0, 1], [20, 40])
    assert ("random", 0, 40) in got and ("random", 0, 20) not in got
    assert {("tnao", 0, 20), ("tnao", 0, 40)} <= set(got)
    assert len(got) == 2 + 4


def test_summary_reads_budgets_off_one_trajectory(analog_table):
    """Synthetic trajectories (mechanics only): the optimum queried 3rd in seed 0 and
    never in seed 1."""
    t = analog_table
    sig = t.metric("baseline")
    opt = int(np.nanargmax(sig))
    others = [int(r) for r in np.argsort(sig)[:6]]  # six of the worst rows
    traj0 = others[:2] + [opt] + others[2:5]
    traj1 = others[:6]
    results = [
        {
            "method": "random",
            "seed": 0,
            "budget": 6,
            "rows": traj0,
            "signal": [float(sig[r]) for r in traj0],
            "seconds": 1.0,
        },
        {
            "method": "random",
            "seed": 1,
            "budget": 6,
            "rows": traj1,
            "signal": [float(sig[r]) for r in traj1],
            "seconds": 3.0,
        },
    ]
    e = ex.summarize(t, "cifar10", results, ["random"], [0, 1], [2, 3, 6])
    by_b = {r["budget"]: r for r in e.rows}
    assert by_b[2]["top_test_found"] == 0 and by_b[2]["top_test_median_queries"] is None
    assert by_b[3]["top_test_found"] == 1 and by_b[3]["top_test_median_queries"] == 3
    assert by_b[6]["top_test_share"] == 0.5 and by_b[6]["top_signal_found"] == 1
    best1 = max(traj1, key=lambda r: sig[r])
    assert by_b[6]["test_mean"] == pytest.approx((sig[opt] + sig[best1]) / 2)
    assert by_b[6]["seconds_mean"] == 2.0
    run0 = [r for r in e.runs if r["seed"] == 0 and r["budget"] == 2][0]
    assert run0["best_row"] == max(traj0[:2], key=lambda r: sig[r])


def test_experiment_tiny_and_pool_agrees(analog_table):
    """2 seeds, the three baselines, budgets 20 and 40: the numbers come from real runs
    and the process pool gives exactly what one process gives."""
    args = ("analog", "cifar10", ["random", "evolution", "predictor"], [0, 1], [20, 40])
    one = ex.run_experiment(*args, workers=1, config=TINY)
    assert [(r["method"], r["budget"]) for r in one.rows] == [
        (m, b) for m in ("random", "evolution", "predictor") for b in (20, 40)
    ]
    for r in one.rows:
        assert r["seeds"] == 2 and 80 < r["test_mean"] < 95
    # each budget-20 row is the first 20 queries of the budget-40 run of that seed
    for run in one.runs:
        if run["budget"] == 20:
            full = next(
                x
                for x in one.runs
                if x["budget"] == 40 and x["seed"] == run["seed"] and x["method"] == run["method"]
            )
            assert run["best_row"] in full["trajectory"][:20]
            assert run["queries"] == 20 and len(full["trajectory"]) == 40
    # the pool (spawned workers) gives exactly what one process gives; the two cheap
    # methods keep this quick
    cheap = ("analog", "cifar10", ["random", "evolution"], [0, 1], [20, 40])
    pooled = ex.run_experiment(*cheap, workers=2, config=TINY)

    def strip(rows):
        return [{k: v for k, v in r.items() if k != "seconds_mean"} for r in rows]

    assert strip(pooled.rows) == strip(one.rows[:4])


def test_cli_json_and_csv(analog_table, tmp_path, capsys):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(TINY))
    out = tmp_path / "sum.csv"
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "experiment",
                "--methods",
                "random,evolution",
                "--seeds",
                "0-1",
                "--budgets",
                "10,20",
                "--workers",
                "1",
                "--config",
                str(cfg),
                "--csv",
                str(out),
                "--json",
            ]
        )
    assert exc.value.code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["benchmark"] == "analog" and len(data["summary"]) == 4
    assert data["optimum"]["top_test"]["rows"] == [
        int(np.nanargmax(analog_table.metric("baseline")))
    ]
    rows = list(csv.DictReader(out.open()))
    assert [(r["method"], r["budget"]) for r in rows] == [
        ("random", "10"),
        ("random", "20"),
        ("evolution", "10"),
        ("evolution", "20"),
    ]


def test_intervals_and_anytime_curves_of_a_tiny_experiment(analog_table):
    """Random and evolution, 3 seeds, budgets 10 and 20: each row's intervals are the
    Wilson interval of its found share and the bootstrap interval of its runs' mean, and
    each (method, seed) has a curve of 20 queries ending in what each budget reports."""
    from tnao_app.stats import bootstrap_mean_ci, wilson

    e = ex.run_experiment(
        "analog", "cifar10", ["random", "evolution"], [0, 1, 2], [10, 20], workers=1
    )
    for r in e.rows:
        runs = [x for x in e.runs if x["method"] == r["method"] and x["budget"] == r["budget"]]
        assert r["top_test_ci"] == wilson(r["top_test_found"], 3)
        assert r["top_signal_ci"] == wilson(r["top_signal_found"], 3)
        lo, hi = r["test_ci"]
        assert (lo, hi) == bootstrap_mean_ci([x["best_test"] for x in runs])
        assert lo <= r["test_mean"] <= hi
        assert min(x["best_test"] for x in runs) <= lo and hi <= max(x["best_test"] for x in runs)
        assert 0.0 <= r["top_test_ci"][0] <= r["top_test_share"] <= r["top_test_ci"][1] <= 1.0
    assert [(c["method"], c["seed"]) for c in e.curves] == [
        (m, s) for m in ("random", "evolution") for s in (0, 1, 2)
    ]
    for c in e.curves:
        assert len(c["best_signal"]) == len(c["best_test"]) == 20
        assert all(a <= b for a, b in zip(c["best_signal"], c["best_signal"][1:], strict=False))
        for b in (10, 20):
            run = next(
                x
                for x in e.runs
                if (x["method"], x["seed"], x["budget"]) == (c["method"], c["seed"], b)
            )
            assert c["best_signal"][b - 1] == run["best_signal"]
            assert c["best_test"][b - 1] == run["best_test"]
    # the plot's band at a budget is the table's interval at that budget
    q, mean, lo, hi = ex.anytime_band(e, "random")
    row = next(r for r in e.rows if (r["method"], r["budget"]) == ("random", 10))
    assert list(q) == list(range(1, 21)) and (lo <= mean).all() and (mean <= hi).all()
    assert mean[9] == pytest.approx(row["test_mean"])
    assert (lo[9], hi[9]) == pytest.approx(row["test_ci"])


def test_cli_anytime_csv_plot_and_interval_columns(analog_table, tmp_path, capsys):
    summary, curves, png = tmp_path / "sum.csv", tmp_path / "any.csv", tmp_path / "p.png"
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "experiment",
                "--methods",
                "random,evolution",
                "--seeds",
                "0-2",
                "--budgets",
                "10,20",
                "--workers",
                "1",
                "--csv",
                str(summary),
                "--anytime",
                str(curves),
                "--plot",
                str(png),
                "--json",
            ]
        )
    assert exc.value.code == 0
    data = json.loads(capsys.readouterr().out)
    for r in data["summary"]:
        for key in ("test_ci", "top_test_ci", "top_signal_ci"):
            assert len(r[key]) == 2 and r[key][0] <= r[key][1]
    rows = list(csv.DictReader(summary.open()))
    for r, j in zip(rows, data["summary"], strict=True):
        for key in ("test_ci", "top_test_ci", "top_signal_ci"):
            assert float(r[f"{key}_lo"]) == pytest.approx(j[key][0])
            assert float(r[f"{key}_hi"]) == pytest.approx(j[key][1])
    any_rows = list(csv.DictReader(curves.open()))
    assert list(any_rows[0]) == ["method", "seed", "query", "best_signal", "best_test"]
    assert len(any_rows) == 2 * 3 * 20
    for m in ("random", "evolution"):
        for s in ("0", "1", "2"):
            mine = [r for r in any_rows if (r["method"], r["seed"]) == (m, s)]
            assert [int(r["query"]) for r in mine] == list(range(1, 21))
            sig = [float(r["best_signal"]) for r in mine]
            assert sig == sorted(sig)
    blob = png.read_bytes()
    assert blob[:8] == b"\x89PNG\r\n\x1a\n" and len(blob) > 10_000
    import matplotlib.image

    img = matplotlib.image.imread(str(png))
    assert img.shape[0] > 300 and img.shape[1] > 500
    assert (img[..., :3] < 0.9).any(axis=-1).mean() > 0.01  # lines, bands and text drawn
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temp files


def test_cli_table(analog_table, capsys):
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "experiment",
                "--methods",
                "random",
                "--seeds",
                "0",
                "--budgets",
                "5",
                "--workers",
                "1",
            ]
        )
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "analog cifar10" in out and "top-test" in out and "random" in out
    assert "top-test [CI]" in out and "% [0-" in out  # 1 seed: a share and its interval


@pytest.mark.parametrize(
    "argv, code, words",
    [
        (["--methods", "random,foo"], 2, "Method 'foo' is unknown"),
        (["--seeds", "9-2"], 2, "runs backwards"),
        (["--budgets", "10,ten"], 2, "Budgets '10,ten'"),
        (["--dataset", "mnist", "--methods", "random"], 2, "no dataset 'mnist'"),
        (["--benchmark", "nope", "--methods", "random"], 2, "Unknown benchmark 'nope'"),
        (["--benchmark", "nb201", "--methods", "random"], 1, "has no data yet"),
        (["--workers", "-1", "--methods", "random"], 2, "--workers"),
        (["--config", "/nonexistent/x.json", "--methods", "random"], 2, "Cannot read"),
    ],
)
def test_cli_bad_input(tnao_home, capsys, argv, code, words):
    with pytest.raises(SystemExit) as exc:
        main(["experiment", "--seeds", "0", "--budgets", "5", *argv])
    assert exc.value.code == code
    err = capsys.readouterr().err
    assert words in err.replace("\n", " ")
    assert "Traceback" not in err


def test_cli_bad_config_values(tnao_home, tmp_path, capsys):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"baselines": {"population": 0}}))
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "experiment",
                "--methods",
                "evolution",
                "--seeds",
                "0",
                "--budgets",
                "5",
                "--config",
                str(cfg),
            ]
        )
    assert exc.value.code == 2
    assert "baselines.population" in capsys.readouterr().err
    assert benchmarks.load("analog") is not None


def test_tnao_is_anytime_its_first_queries_do_not_depend_on_the_budget(analog_table):
    """A fixed batch per round: a run with budget 30 queries exactly the first 30 of a
    run with budget 40, so the experiment may read smaller budgets off one run."""
    from tnao_app.experiment import anytime_methods, run_one

    base = {
        "sample": {"n_labelled": 10},
        "train": {"epochs": 2, "finetune_epochs": 1},
        "search": {"particles": 8, "generations": 2, "top_k": 10},
    }
    assert "tnao" in anytime_methods(base, "analog", "cifar10", [30, 40])
    short = run_one(("analog", "cifar10", "tnao", 3, 30, base))
    long = run_one(("analog", "cifar10", "tnao", 3, 40, base))
    assert len(short["rows"]) == 30 and long["rows"][:30] == short["rows"]
    # A single pass (rounds=1) spends all the budget at once: not anytime.
    single = {**base, "search": {**base["search"], "rounds": 1}}
    assert "tnao" not in anytime_methods(single, "analog", "cifar10", [30, 40])


def test_top_k_target_counts_any_of_the_best_cells(analog_table):
    """Synthetic trajectories (mechanics only): seed 0 queries the 3rd-best cell 2nd,
    seed 1 only poor cells; with --top 3 seed 0 counts as found at query 2, and a share
    rounds up to whole cells with ties at the cut included."""
    t = analog_table
    sig = t.metric("baseline")
    order = [int(r) for r in np.argsort(-np.nan_to_num(sig, nan=-1.0), kind="stable")]
    third, poor = order[2], order[-6:]
    trajs = {0: [poor[0], third, poor[1]], 1: poor[2:5]}
    results = [
        {
            "method": "random",
            "seed": s,
            "budget": 3,
            "rows": rows,
            "signal": [float(sig[r]) for r in rows],
            "seconds": 1.0,
        }
        for s, rows in trajs.items()
    ]
    e = ex.summarize(t, "cifar10", results, ["random"], [0, 1], [1, 2, 3], top="3")
    target = e.optimum["top_k"]
    assert target["k"] == 3 and third in target["rows"]
    assert all(sig[r] >= sig[third] for r in target["rows"])
    assert target["cells"] == int((sig >= sig[third]).sum())  # ties at the cut count
    by_b = {r["budget"]: r for r in e.rows}
    assert by_b[1]["top_k_found"] == 0 and by_b[1]["top_k_median_queries"] is None
    assert by_b[2]["top_k_found"] == 1 and by_b[2]["top_k_median_queries"] == 2
    assert by_b[3]["top_k_share"] == 0.5 and by_b[3]["top_signal_found"] == 0
    assert by_b[3]["top_k_ci"] == pytest.approx(wilson(1, 2))
    # without --top the analog table has no such target, and no such column
    plain = ex.summarize(t, "cifar10", results, ["random"], [0, 1], [3])
    assert "top_k" not in plain.optimum and "top_k_found" not in plain.rows[0]
    # a share of the table: 0.02% of 15,625 cells is 3.125, so 4 cells
    assert (
        ex.summarize(t, "cifar10", results, ["random"], [0, 1], [3], top="0.02%").optimum["top_k"][
            "k"
        ]
        == 4
    )
    hidden = ex.summarize(t, "cifar10", results, ["random"], [0, 1], [3], top="none")
    assert "top_k" not in hidden.optimum and "top_k_found" not in hidden.rows[0]
    for bad in ("0", "-3", "2.5", "x", "150%", "0%", ""):
        with pytest.raises(ConfigError, match="Top target"):
            ex.summarize(t, "cifar10", results, ["random"], [0, 1], [3], top=bad)


def test_a_best_value_stored_with_float_rounding_is_the_same_target(nb201_table):
    """NB201 cifar100's two best cells by 12-epoch validation hold 61.32 and 61.31999993:
    the same count of images (5,000 of them: 0.02 points apart at the least). A run that
    queried either found the best-signal cell; on cifar10 the two cells with test 94.3733
    are both the top-test target, and nothing else ties them."""
    t = nb201_table
    sig = t.metric(t.dataset("cifar100").signal)
    twins = sorted(np.argsort(-sig)[:2].tolist())
    assert sig[twins[0]] != sig[twins[1]] and abs(sig[twins[0]] - sig[twins[1]]) < 1e-6
    results = [
        {"method": "random", "seed": 0, "budget": 2, "rows": [0, twins[1]], "seconds": 1.0},
        {"method": "random", "seed": 1, "budget": 2, "rows": [0, twins[0]], "seconds": 1.0},
    ]
    for r in results:
        r["signal"] = [float(sig[x]) for x in r["rows"]]
    e = ex.summarize(t, "cifar100", results, ["random"], [0, 1], [2])
    assert sorted(e.optimum["top_signal"]["rows"]) == twins
    assert e.rows[0]["top_signal_found"] == 2
    c10 = ex.summarize(t, "cifar10", results, ["random"], [0, 1], [2]).optimum["top_test"]
    assert len(c10["rows"]) == 2 and c10["value"] == pytest.approx(94.3733, abs=1e-4)


def test_cli_top_column_in_table_csv_and_show(analog_table, tmp_path, capsys):
    out = tmp_path / "sum.csv"
    argv = ["experiment", "-m", "random", "-s", "0-3", "--budgets", "40", "-w", "1"]
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--top", "1%", "--csv", str(out)])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "top 1% [CI]" in text and re.search(r"best \d{3} cells by\s+baseline", text)
    row = next(csv.DictReader(out.open()))
    assert row["top_k_found"] != "" and float(row["top_k_ci_hi"]) >= float(row["top_k_share"])
    exp_id = json.loads(_cli_json(capsys, ["experiments", "--json"]))[0]["id"]
    shown = json.loads(
        _cli_json(capsys, ["experiment", "show", exp_id, "-f", "json", "--top", "2"])
    )
    assert shown["optimum"]["top_k"]["k"] == 2 and "top_k_share" in shown["summary"][0]
    # more cells than the table has: all of them, and the table says so
    with pytest.raises(SystemExit) as exc:
        main(["experiment", "show", exp_id, "--top", "99999"])
    assert exc.value.code == 0
    assert "fewer than the 99999 asked for" in " ".join(capsys.readouterr().out.split())
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--top", "a lot"])
    assert exc.value.code == 2
    assert "Top target 'a lot'" in capsys.readouterr().err


def _cli_json(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    return capsys.readouterr().out
