"""SIGTERM, SIGINT and SIGHUP on a real ``tnao run``: one line, the run recorded
``stopped`` at its last checkpoint, exit 143 / 130 / 129, and ``tnao resume`` ends exactly
as an uninterrupted run with the same seed and config.

Real processes on the embedded analog benchmark (small config: seconds per run), each
signalled once a training checkpoint is recorded (no wall-clock deadline).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from test_resume import _latest_artifact, _tnao, _trace

from tnao_app.cli import main
from tnao_app.config import Config
from tnao_app.export import public_result
from tnao_app.runs.session import start_run
from tnao_app.storage import Store

CONFIG = {
    "run": {
        "benchmark": "analog",
        "budget": 30,
        "seed": 3,
        "device": "cpu",
        "threads": 1,
        "checkpoint_every": 0.0,
    },
    "sample": {"n_labelled": 20, "n_unlabelled": 800},
    "model": {"d_model": 16, "n_heads": 2, "n_layers": 1, "d_latent": 8},
    "train": {"stage1": "joint", "epochs": 40, "finetune_epochs": 1},
    "search": {"particles": 8, "generations": 10, "rounds": 2},
}


def _signal_during_training(sig: int, cfg_file: Path, db: Path, times: int = 1):
    """Start ``tnao run``; send ``sig`` once a train checkpoint is recorded."""
    proc = subprocess.Popen(
        [*_tnao(), "run", "--config", str(cfg_file), "--db", str(db), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while True:
            got = _latest_artifact(db)
            if isinstance(got, tuple) and got[1] == "train" and got[2] >= 2:
                break
            # no deadline: the run ends by itself, and ending first fails the test
            assert proc.poll() is None, f"the run ended before a train checkpoint: {got}"
            time.sleep(0.02)
        for _ in range(times):
            os.kill(proc.pid, sig)
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out, err, got[0]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run (in-process: the same code as `tnao run`)."""
    home = tmp_path_factory.mktemp("signals_home")
    mp = pytest.MonkeyPatch()
    mp.setenv("TNAO_HOME", str(home))
    db = home / "reference.db"
    try:
        res = start_run(Config.from_dict(CONFIG), Store(db))
        return res, _trace(Store(db), res["run_id"])
    finally:
        mp.undo()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "code"),
    [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, 129)],
    ids=["SIGTERM", "SIGINT", "SIGHUP"],
)
def test_signal_stops_run_cleanly_and_resume_is_exact(
    tnao_home, tmp_path, capsys, reference, sig, code
):
    base, want = reference
    cfg_file = tmp_path / "cfg.json"
    cfg_file.write_text(json.dumps(CONFIG))
    db = tmp_path / "h.db"
    rc, out, err, rid = _signal_during_training(sig, cfg_file, db)
    assert rc == code, err
    assert out == ""  # --json prints no half result
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    name = signal.Signals(sig).name
    tail = (
        f"Run {rid} stopped on {name} at its last checkpoint; continue it with 'tnao resume {rid}'."
    )
    assert lines[-1] == tail, err
    store = Store(db)
    run = store.get_run(rid)
    assert run["status"] == "stopped" and "train" in run["message"]
    latest = store.recorder(rid).latest_checkpoint()
    assert latest is not None and latest["stage"] == "train"

    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        main(["resume", rid, "--db", str(db), "--json"])
    assert done.value.code == 0
    res = json.loads(capsys.readouterr().out)
    want_res = public_result(base)
    assert res["leaderboard"] == want_res["leaderboard"]  # exactly, floats included
    assert res["best"] == want_res["best"] and res["queries"] == base["queries"]
    assert _trace(store, rid) == want
    assert store.get_run(rid)["status"] == "finished"


@pytest.mark.slow
def test_second_sigint_aborts_and_the_run_stays_resumable(tnao_home, tmp_path, reference):
    base, want = reference
    cfg_file = tmp_path / "cfg.json"
    cfg_file.write_text(json.dumps(CONFIG))
    db = tmp_path / "h.db"
    rc, out, err, rid = _signal_during_training(signal.SIGINT, cfg_file, db, times=2)
    assert rc == 130, err
    assert "Traceback" not in err and out == ""
    assert f"continue it with 'tnao resume {rid}'" in err.splitlines()[-1]
    store = Store(db)
    assert store.get_run(rid)["status"] == "stopped"
    res = main_resume(db, rid)
    assert res["leaderboard"] == public_result(base)["leaderboard"]
    assert _trace(store, rid) == want


def main_resume(db: Path, rid: str) -> dict:
    proc = subprocess.run(
        [*_tnao(), "resume", rid, "--db", str(db), "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize(
    ("sig", "code", "line"),
    [
        (signal.SIGTERM, 143, "Interrupted by SIGTERM."),
        (signal.SIGINT, 130, "Interrupted."),
        (signal.SIGHUP, 129, "Interrupted by SIGHUP."),
    ],
)
def test_signal_during_an_import_leaves_no_partial_cache(
    tnao_home, tmp_path, capsys, monkeypatch, sig, code, line
):
    """A command without a run ends at once on a signal, its temp files removed."""
    import numpy as np

    from tnao_app.benchmarks import cache

    def savez(f, **arrays):
        f.write(b"\0" * 4096)  # half-way through the write ...
        os.kill(os.getpid(), sig)  # ... the signal arrives
        time.sleep(5)
        pytest.fail("the signal did not interrupt the import")

    csv = tmp_path / "one.csv"
    csv.write_text(
        "arch_str,cifar10_valid_valid_acc_200,cifar10_test_acc_200\n"
        '"|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|",80,81\n'
    )
    monkeypatch.setattr(np, "savez", savez)
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        main(["data", "import", str(csv), "-b", "nb201"])
    assert done.value.code == code
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == line and "Traceback" not in err
    folder = cache.cache_path("nb201").parent
    assert not folder.exists() or list(folder.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored after the command


def test_sigterm_stops_the_apps_run_process(tnao_home, tmp_path):
    """The app's run process (tnao_app.cli.child) stops cleanly on SIGTERM too."""
    import threading

    from tnao_app import events as ev
    from tnao_app.errors import Stopped
    from tnao_app.runs.child import run_in_child

    db = tmp_path / "h.db"
    checkpointed = threading.Event()

    def on_event(e) -> None:
        if isinstance(e, ev.CheckpointSaved) and e.stage == "train":
            checkpointed.set()

    got: list = []

    def drive() -> None:
        try:
            got.append(run_in_child(Config.from_dict(CONFIG), None, db, on_event, lambda: False))
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            got.append(exc)

    worker = threading.Thread(target=drive)
    worker.start()
    while not checkpointed.is_set():  # no deadline: the run ends by itself otherwise
        assert worker.is_alive(), got
        time.sleep(0.02)
    run = Store(db).list_runs()[0]
    os.kill(int(run["pid"]), signal.SIGTERM)
    worker.join()
    assert isinstance(got[0], Stopped), got
    assert Store(db).get_run(run["id"])["status"] == "stopped"
