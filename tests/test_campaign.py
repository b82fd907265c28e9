"""Stored campaigns: an experiment recorded in the history as its runs finish, resumed
after a stop or a kill -9 to the table an uninterrupted one gives, listed, shown again
and exported. Real runs on the embedded analog table, tiny budgets."""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from test_experiment import TINY  # the predictor at its smallest

from tnao_app import experiment as ex
from tnao_app import experiment_report as report
from tnao_app.campaign import stored
from tnao_app.cli import main
from tnao_app.errors import ConfigError, StorageError
from tnao_app.storage import Store

#: the tnao command, from this interpreter
TNAO = [sys.executable, "-c", "from tnao_app.cli import main; main()"]
PLAN = ("analog", "cifar10", ["random", "ls"], [0, 1, 2], [5, 10])


def _table(rows):
    """A summary without its timings (the only thing two identical campaigns differ in)."""
    return [{k: v for k, v in r.items() if k != "seconds_mean"} for r in rows]


def _cli(capsys, *argv):
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_a_campaign_is_recorded_run_by_run(analog_table, tnao_home):
    store = Store(tnao_home / "h.db")
    seen = []
    exp = ex.run_experiment(*PLAN, workers=1, history=store, progress=lambda d, t: seen.append(d))
    assert exp.experiment_id and exp.done == exp.total == 6  # anytime: one run per seed
    assert seen == list(range(7))
    row = store.get_experiment(exp.experiment_id)
    assert row["status"] == "finished" and row["done"] == 6 and row["total"] == 6
    assert row["spec"]["methods"] == ["random", "ls"] and row["spec"]["seeds"] == [0, 1, 2]
    assert row["spec"]["executor_options"] == {"workers": 1, "address": None}  # for a resume
    runs = store.experiment_results(exp.experiment_id)
    assert len(runs) == 6 and all(len(r["rows"]) == 10 == len(r["best_test"]) for r in runs)
    # each stored curve is the best-so-far of its trajectory
    for r in runs:
        assert r["best_signal"] == [max(r["signal"][: i + 1]) for i in range(10)]
    # the table read back from the history is the table the campaign printed
    _, back = stored.load(store, exp.experiment_id[:3])
    assert _table(back.rows) == _table(exp.rows) and back.curves == exp.curves
    assert [x["id"] for x in store.list_experiments()] == [exp.experiment_id]


def test_a_stopped_campaign_resumes_without_repeating_a_run(analog_table, tnao_home):
    store = Store(tnao_home / "h.db")
    whole = ex.run_experiment(*PLAN, workers=1)

    def stop_after_two(done, total):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ex.run_experiment(*PLAN, workers=1, history=store, progress=stop_after_two)
    (row,) = store.list_experiments()
    assert row["status"] == "stopped" and row["done"] == 2
    first = {
        (r["method"], r["seed"]): r["finished_at"] for r in store.experiment_results(row["id"])
    }
    starts = []
    resumed = ex.resume_experiment(
        row["id"], store, workers=1, progress=lambda d, t: starts.append(d)
    )
    assert starts[0] == 2 and starts[-1] == 6  # it started from the two it had
    again = {
        (r["method"], r["seed"]): r["finished_at"] for r in store.experiment_results(row["id"])
    }
    assert all(again[k] == v for k, v in first.items())  # never run (or written) twice
    assert _table(resumed.rows) == _table(whole.rows)
    assert store.get_experiment(row["id"])["status"] == "finished"
    assert store.get_experiment(row["id"])["resumes"] == 1
    # a finished campaign resumes to its table and runs nothing
    starts.clear()
    ex.resume_experiment(row["id"], store, workers=1, progress=lambda d, t: starts.append(d))
    assert starts == [6]


def test_a_resume_keeps_the_plan_it_started_with(analog_table, tnao_home):
    """Which methods run once at the largest budget is part of the stored plan: a TNAO
    whose settings plan otherwise refuses the resume instead of mixing two plans."""
    store = Store(tnao_home / "h.db")
    spec = ex.Spec(*PLAN).check()
    data = spec.to_dict()
    data["anytime"] = sorted({*spec.anytime} - {"ls"})  # as if planned by another TNAO
    eid = store.create_experiment(data, 6, "local")
    store.end_experiment(eid, "stopped", "Interrupted.")
    with pytest.raises(ConfigError, match="start a new experiment"):
        ex.resume_experiment(eid, store, workers=1)
    assert store.get_experiment(eid)["status"] == "failed"
    assert store.experiment_results(eid) == []  # nothing ran


def test_a_live_campaign_is_not_driven_twice(analog_table, tnao_home):
    store = Store(tnao_home / "h.db")
    spec = ex.Spec(*PLAN).check()
    eid = store.create_experiment(spec.to_dict(), 6, "local")  # this process: alive
    with pytest.raises(StorageError, match=f"Experiment {eid} is still running"):
        store.claim_experiment(eid, "local")
    with pytest.raises(StorageError, match="no experiment 'nope'"):
        store.get_experiment("nope")


def _wait_for_runs(db, n: int, proc, timeout: float = 300.0) -> int:
    """Poll the history (read-only) until the campaign has recorded ``n`` runs."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert proc.poll() is None, f"it ended before the kill: {proc.stderr.read()}"
        if db.exists():
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
            try:
                done = con.execute("SELECT COUNT(*) FROM experiment_runs").fetchone()[0]
            except sqlite3.OperationalError:  # not migrated yet
                done = 0
            finally:
                con.close()
            if done >= n:
                return done
        time.sleep(0.2)
    raise AssertionError(f"fewer than {n} runs were recorded in {timeout} s")


@pytest.mark.slow
def test_kill_9_mid_campaign_resumes_to_the_uninterrupted_table(analog_table, tnao_home, tmp_path):
    """The issue's bar: 4 methods x 30 seeds, the CLI process killed with SIGKILL
    mid-campaign, `tnao experiment --resume ID` finishes it to the very table an
    uninterrupted campaign gives."""
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps(TINY))
    db = tmp_path / "kill.db"
    plan = ["-m", "random,ls,evolution,predictor", "-s", "0-29", "--budgets", "10,20"]
    argv = [*TNAO, "experiment", *plan, "-c", str(cfg)]
    env = {**os.environ, "TNAO_HOME": str(tnao_home)}
    proc = subprocess.Popen(
        [*argv, "-w", "2", "--db", str(db), "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its pool workers in a group of their own, to clean up
    )
    try:
        killed_at = _wait_for_runs(db, 40, proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        try:  # the pool's workers, if any outlived their parent
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert proc.returncode == -signal.SIGKILL
    store = Store(db)
    (row,) = store.list_experiments()
    assert row["status"] == "interrupted" and killed_at <= row["done"] < row["total"] == 120
    kept = {(r["method"], r["seed"]): r["finished_at"] for r in store.experiment_results(row["id"])}
    resumed = subprocess.run(
        [*TNAO, "experiment", "--resume", row["id"], "-w", "2"] + ["--db", str(db), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr
    got = json.loads(resumed.stdout)
    assert got["experiment_id"] == row["id"] and got["runs_done"] == 120
    after = {
        (r["method"], r["seed"]): r["finished_at"] for r in store.experiment_results(row["id"])
    }
    assert all(after[k] == v for k, v in kept.items())  # no finished run ran again
    whole = subprocess.run(
        [*argv, "-w", "2", "--db", str(tmp_path / "whole.db"), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert whole.returncode == 0, whole.stderr
    assert _table(got["summary"]) == _table(json.loads(whole.stdout)["summary"])
    assert store.get_experiment(row["id"])["status"] == "finished"


def test_cli_records_lists_shows_and_exports(analog_table, tnao_home, tmp_path, capsys):
    db = str(tmp_path / "h.db")
    base = ["-m", "random,ls", "-s", "0-2", "--budgets", "5,10", "-w", "1", "--db", db]
    code, out, _ = _cli(capsys, "experiment", *base, "--json")
    assert code == 0
    made = json.loads(out)
    eid = made["experiment_id"]
    code, out, _ = _cli(capsys, "experiments", "--db", db, "--json")
    (listed,) = json.loads(out)
    assert code == 0 and listed["id"] == eid and listed["status"] == "finished"
    assert (listed["runs_done"], listed["runs_total"], listed["seeds"]) == (6, 6, 3)
    code, out, _ = _cli(capsys, "experiment", "show", eid, "--db", db)
    assert code == 0 and f"experiment {eid}" in out and "top-test [CI]" in out
    code, out, _ = _cli(capsys, "experiment", "show", eid, "--db", db, "-f", "json")
    assert _table(json.loads(out)["summary"]) == _table(made["summary"])
    code, out, _ = _cli(capsys, "experiment", "show", eid, "--db", db, "-f", "md")
    lines = out.splitlines()
    assert lines[0].startswith("| method | budget | seeds |") and len(lines) == 2 + 4
    files = {f: tmp_path / f"t.{f}" for f in ("csv", "tex", "png", "svg")}
    code, _, err = _cli(
        capsys, "experiment", "show", eid, "--db", db, "-o", str(files["tex"]),
        "--plot", str(files["svg"]),
    )  # fmt: skip
    assert code == 0, err
    tex = files["tex"].read_text()
    assert tex.startswith(r"\begin{tabular}") and r"\%" in tex and tex.count(r"\midrule") == 2
    assert (
        files["svg"].read_text().lstrip().startswith("<?xml") and "<svg" in files["svg"].read_text()
    )
    code, _, _ = _cli(capsys, "experiment", "show", eid, "--db", db, "-o", str(files["csv"]))
    assert files["csv"].read_text().splitlines()[0].startswith("method,budget,seeds,test_mean")
    code, _, _ = _cli(capsys, "experiment", "show", eid, "--db", db, "--plot", str(files["png"]))
    assert files["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "argv, code, words",
    [
        (["experiment", "show", "nope"], 1, "There is no experiment 'nope'"),
        (["experiment", "--resume", "nope"], 1, "There is no experiment 'nope'"),
        (["experiment", "--resume", "x", "-m", "random"], 2, "drop --methods"),
        (["experiment", "-e", "dask", "-m", "random"], 2, "Executor 'dask' is unknown"),
        (["experiment", "--address", "1.2.3.4:5", "-m", "random"], 2, "--address is for"),
        (["experiment", "-e", "ray", "--address", "nohost", "-m", "random"], 2, "host:port"),
        (["experiment", "-m", "random", "--plot", "x.gif"], 2, ".png or .svg"),
        (["experiment", "-m", "random", "--table", "x.xls"], 2, ".csv, .json, .md or .tex"),
    ],
)
def test_cli_bad_campaign_input(analog_table, tnao_home, capsys, argv, code, words):
    store = Store(tnao_home / "h.db")  # a history exists: the id is what is wrong
    got, _, err = _cli(capsys, *argv, "--db", str(store.path))
    assert got == code and words in err.replace("\n", " ") and "Traceback" not in err
    assert not store.list_experiments()  # bad input records nothing


def test_a_bad_address_is_refused_before_ray_retries_it(analog_table):
    pytest.importorskip("ray")
    with pytest.raises(ConfigError, match="No Ray cluster answers at 127.0.0.1:9"):
        ex.make("ray", 1, "127.0.0.1:9")


def test_table_formats_round_trip(analog_table):
    exp = ex.run_experiment(*PLAN, workers=1)
    md = report.table_text(exp, "md").splitlines()
    assert md[2].split(" | ")[0] == "| random" and "% [" in md[2]
    js = json.loads(report.table_text(exp, "json"))
    assert js["experiment_id"] is None and _table(js["summary"]) == json.loads(
        json.dumps(_table(exp.rows))
    )
    with pytest.raises(ConfigError, match="Table format 'xls'"):
        report.table_text(exp, "xls")


def test_a_per_run_metric_is_stored_and_shown_per_budget(analog_table, tnao_home, monkeypatch):
    """The extension point for other per-run measures (a hypervolume per budget, say):
    a metric in RUN_METRICS is computed per query, stored with the run, averaged per
    (method, budget) and shown as a column of every table format."""
    from tnao_app.campaign import plan

    def best_so_far(cfg, table, oracle):
        vals = list(oracle.queried.values())
        return [max(vals[: i + 1]) for i in range(len(vals))]

    monkeypatch.setitem(plan.RUN_METRICS, "best_signal", best_so_far)
    store = Store(tnao_home / "h.db")
    exp = ex.run_experiment(*PLAN, workers=1, history=store)  # in-process: the registry holds
    for row in exp.rows:
        runs = [r for r in exp.runs if (r["method"], r["budget"]) == (row["method"], row["budget"])]
        want = sum(r["best_signal"] for r in runs) / len(runs)
        assert row["metrics"]["best_signal"] == pytest.approx(want)
    stored_runs = store.experiment_results(exp.experiment_id)
    assert all(len(r["metrics"]["best_signal"]) == 10 for r in stored_runs)
    _, back = stored.load(store, exp.experiment_id)
    assert back.rows[0]["metrics"] == exp.rows[0]["metrics"]
    assert report.markdown_text(back).splitlines()[0].endswith("| best_signal |")
    assert (
        exp.csv_text().splitlines()[0].endswith(",best_signal,best_signal_ci_lo,best_signal_ci_hi")
    )


def test_eta_from_the_pace_of_the_last_runs():
    runs = [{"finished_at": 100.0 + 2 * i} for i in range(5)]  # one every 2 s
    assert stored.eta_seconds(runs, 10) == pytest.approx(20.0)
    assert stored.eta_seconds(runs, 0) == 0.0
    assert math.isnan(stored.eta_seconds(runs[:1], 3))
    # stopped for 1,000 s, then resumed at the same pace: the downtime is not pace
    later = [{"finished_at": 2000.0 + 2 * i} for i in range(3)]
    assert stored.eta_seconds(runs + later, 10) == pytest.approx(20.0)


@pytest.mark.parametrize("workers", ["1", "2"])  # in this process; a pool of two
def test_sigterm_stops_a_campaign_as_stopped_and_resumable(
    analog_table, tnao_home, tmp_path, workers
):
    db = tmp_path / "term.db"
    argv = [*TNAO, "experiment", "-m", "random,ls", "-s", "0-199", "--budgets", "20"]
    argv += ["-w", workers]
    env = {**os.environ, "TNAO_HOME": str(tnao_home)}
    proc = subprocess.Popen(
        [*argv, "--db", str(db), "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_runs(db, 3, proc)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143 and "Interrupted by SIGTERM" in err and "Traceback" not in err
    (row,) = Store(db).list_experiments()
    assert row["status"] == "stopped" and 3 <= row["done"] < row["total"] == 400
    assert row["message"] == "Interrupted by SIGTERM."
