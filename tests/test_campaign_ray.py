"""Campaigns on Ray, against a real local Ray instance (2 CPUs, no dashboard): the
same table as the local pool, results written by the driver as they come back, and a
worker that dies mid-run has its run retried to the same result."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from test_campaign import TINY, _table

from tnao_app import experiment as ex
from tnao_app.cli import main
from tnao_app.storage import Store

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance for the module (starting one takes seconds). ray.init
    installs a SIGTERM handler in this process; the other tests of this worker expect
    the default one back."""
    before = signal.getsignal(signal.SIGTERM)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()
        signal.signal(signal.SIGTERM, before)


@pytest.mark.slow
def test_the_4_by_30_campaign_on_ray_gives_the_local_pool_table(analog_table, tnao_home, local_ray):
    plan = ("analog", "cifar10", ["random", "ls", "evolution", "predictor"], list(range(30)))
    budgets = [10, 20]
    local = ex.run_experiment(*plan, budgets, config=TINY, executor=ex.LocalPool(2))
    store = Store(tnao_home / "h.db")
    on_ray = ex.run_experiment(
        *plan, budgets, config=TINY, executor=ex.RayExecutor(2), history=store
    )
    assert _table(on_ray.rows) == _table(local.rows)
    assert on_ray.curves and sorted(on_ray.curves, key=str) == sorted(local.curves, key=str)
    row = store.get_experiment(on_ray.experiment_id)
    assert row["status"] == "finished" and row["executor"] == "ray" and row["done"] == 120


def test_a_lost_worker_has_its_run_retried(analog_table, tmp_path, local_ray):
    """Each run's first attempt kills its worker process (os._exit: no exception, the
    process is gone, as when a node dies); Ray retries it and the result is the run's."""
    marks = tmp_path / "attempts"
    marks.mkdir()

    def dies_once(task):  # a closure: Ray pickles it by value into the workers
        mark = Path(marks) / f"{task[2]}-{task[3]}"
        if not mark.exists():
            mark.write_text(str(os.getpid()))
            os._exit(1)
        return ex.run_one(task)

    spec = ex.Spec("analog", "cifar10", ["random", "ls"], [0, 1], [8], {}).check()
    tasks = spec.tasks()
    got = list(ex.RayExecutor(2, max_retries=2).map(dies_once, tasks))
    assert len(list(marks.iterdir())) == len(tasks)  # every run lost its first worker
    want = {(r["method"], r["seed"]): r["rows"] for r in map(ex.run_one, tasks)}
    assert {(r["method"], r["seed"]): r["rows"] for r in got} == want


def test_cli_ray_executor_records_the_experiment(analog_table, tnao_home, local_ray, capsys):
    db = str(tnao_home / "h.db")
    argv = ["experiment", "-e", "ray", "-m", "random,ls", "-s", "0-2", "--budgets", "5,10"]
    with pytest.raises(SystemExit) as exc:
        main([*argv, "-w", "2", "--db", db, "--json"])
    out = capsys.readouterr().out
    assert exc.value.code == 0
    got = json.loads(out)
    (row,) = Store(db).list_experiments()
    assert got["experiment_id"] == row["id"] and row["executor"] == "ray"
    local = ex.run_experiment("analog", "cifar10", ["random", "ls"], [0, 1, 2], [5, 10], workers=1)
    assert _table(got["summary"]) == json.loads(json.dumps(_table(local.rows)))
