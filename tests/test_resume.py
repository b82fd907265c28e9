"""Crash and resume: ``kill -9`` the real ``tnao run`` during training and during search,
``tnao resume`` it, and the final leaderboard (and every recorded epoch, generation and
query) equals an uninterrupted run with the same seed and config, exactly, on CPU.

Real runs on the embedded analog benchmark, sized to take a few seconds per stage so
the kill lands inside the stage; plus an in-process stop/resume through the runner API.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tnao_app.cli import main
from tnao_app.config import Config
from tnao_app.errors import Stopped
from tnao_app.export import public_result
from tnao_app.runs.session import resume_run, start_run
from tnao_app.storage import Store

CONFIG = {
    # every epoch and generation checkpointed, so a kill can land on any of them
    "run": {
        "benchmark": "analog",
        "budget": 40,
        "seed": 5,
        "device": "cpu",
        "threads": 1,
        "checkpoint_every": 0.0,
    },
    "sample": {"n_labelled": 20, "n_unlabelled": 800},
    "model": {"d_model": 16, "n_heads": 2, "n_layers": 1, "d_latent": 8},
    # the whole model trained in the run (no cached stage 1): 16 real epochs give the
    # kill time to land inside training; the cached path resumes through the same
    # driver (tests/test_pipeline.py stops and resumes it at every stage)
    "train": {"epochs": 16, "finetune_epochs": 1, "stage1": "joint"},
    "search": {"particles": 16, "generations": 30, "rounds": 2},
}


def _tnao() -> list[str]:
    exe = Path(sys.executable).with_name("tnao")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-c", "from tnao_app.cli import main; main()"]


def _latest_artifact(db: Path) -> tuple | str | None:
    """(run_id, stage, step) of the newest checkpoint row; the error text if unreadable."""
    try:
        con = sqlite3.connect(db, timeout=1)
        try:
            return con.execute(
                "SELECT run_id, stage, step FROM artifacts ORDER BY id DESC LIMIT 1"
            ).fetchone()
        finally:
            con.close()
    except sqlite3.Error as exc:  # e.g. the tables do not exist yet
        return str(exc)


def _kill_during(stage: str, min_step: int, cfg_file: Path, db: Path) -> str:
    """Start ``tnao run``, SIGKILL it once a checkpoint of ``stage`` is recorded."""
    proc = subprocess.Popen(
        [*_tnao(), "run", "--config", str(cfg_file), "--db", str(db), "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    seen = []
    try:
        while True:
            got = _latest_artifact(db)
            if not seen or seen[-1] != got:
                seen.append(got)
            if isinstance(got, tuple) and got[1] == stage and got[2] >= min_step:
                break
            # no deadline: the run ends by itself, and ending first fails the test
            assert proc.poll() is None, f"the run ended before a '{stage}' checkpoint: {seen}"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None and proc.returncode is None:
            proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return got[0]


def _trace(store: Store, rid: str) -> dict:
    """Everything of a run that must not depend on an interruption (not timings)."""
    return {
        "leaderboard": store.leaderboard(rid),
        "epochs": [
            {k: v for k, v in e.items() if k not in ("seconds",)} for e in store.epochs(rid)
        ],
        "generations": store.generations(rid),
        "queries": [(q["n"], q["arch"], q["signal"]) for q in store.queries(rid)],
        "sampled": store.sampled(rid),
        "stages": [(s["round"], s["stage"], s["status"]) for s in store.stages(rid)],
    }


@pytest.mark.slow
def test_kill9_during_train_and_search_then_resume_is_exact(tnao_home, tmp_path, capsys):
    cfg_file = tmp_path / "cfg.json"
    cfg_file.write_text(json.dumps(CONFIG))
    db = tmp_path / "history.db"

    # The uninterrupted reference runs in-process (same code as `tnao run`, one process
    # start less); the killed runs are real `tnao run` processes.
    base = start_run(Config.from_dict(CONFIG), Store(db))
    store = Store(db)
    want = _trace(store, base["run_id"])
    assert len(want["leaderboard"]) >= 5 and len(want["epochs"]) >= 16

    for stage, min_step in (("train", 3), ("search", 5)):
        rid = _kill_during(stage, min_step, cfg_file, db)
        # the dead run reads as interrupted, in the CLI too
        assert store.get_run(rid)["status"] == "interrupted"
        capsys.readouterr()
        with pytest.raises(SystemExit) as done:
            main(["history", "--db", str(db), "--json", "--status", "interrupted"])
        assert done.value.code == 0
        assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [rid]
        latest = store.recorder(rid).latest_checkpoint()
        assert latest is not None and latest["stage"] == stage  # killed inside the stage
        # every recorded checkpoint file exists and is whole (atomic writes)
        for art in store.artifacts(rid):
            assert Path(art["path"]).exists()

        # `tnao resume` in-process (the CLI's own code; one torch start-up less)
        with pytest.raises(SystemExit) as done:
            main(["resume", rid, "--db", str(db), "--json"])
        assert done.value.code == 0
        res = json.loads(capsys.readouterr().out)
        assert res["run_id"] == rid
        want_res = public_result(base)  # as the CLI prints it (position / table_rank)
        assert res["leaderboard"] == want_res["leaderboard"]  # exactly, floats included
        assert res["best"] == want_res["best"] and res["queries"] == base["queries"]
        run = store.get_run(rid)
        assert run["status"] == "finished" and run["resumes"] == 1
        assert _trace(store, rid) == want, f"killed during {stage}"


def test_stop_then_resume_in_process(tnao_home, tmp_path):
    """The runner API: a stop request mid-search leaves a resumable 'stopped' run."""
    small = json.loads(json.dumps(CONFIG))
    small["train"]["epochs"] = 4
    small["search"].update(generations=8, rounds=1)
    small["sample"]["n_unlabelled"] = 300
    db = tmp_path / "h.db"
    base = start_run(Config.from_dict(small), Store(db))
    store = Store(db)

    def stop_in_search() -> bool:
        run = store.list_runs(status="running")
        return bool(run) and any(
            a["stage"] == "search" and a["step"] >= 3 for a in store.artifacts(run[0]["id"])
        )

    with pytest.raises(Stopped):
        start_run(Config.from_dict(small), Store(db), should_stop=stop_in_search)
    stopped = store.list_runs(status="stopped")
    assert len(stopped) == 1
    rid = stopped[0]["id"]
    assert "search" in stopped[0]["message"]
    events = []
    res = resume_run(rid, Store(db), listeners=[events.append])
    assert res["leaderboard"] == base["leaderboard"]
    assert _trace(store, rid) == _trace(store, base["run_id"])
    kinds = [e.kind for e in events]
    assert kinds[0] == "RunStarted" and events[0].resumed and kinds[-1] == "RunFinished"
    assert "CheckpointSaved" in kinds  # the recorder tells the UI's listeners
