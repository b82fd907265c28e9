"""How much the TUI costs training, and how often it redraws while training.

Runs the same training config twice per repeat, alternating:
  headless  ``tnao_app.runs.session.start_run`` in a subprocess (recording to SQLite)
  tui       the real ``tnao-tui`` App in a tmux pane (a real terminal), driven by keys
            through the guide, staying on the Training screen while it trains
Both record into a history database; the training time is the ``train`` stage's seconds
from that database. The App writes its redraw timestamps and message latencies to
``TNAO_TUI_STATS`` on exit.

    python benchmarks/bench_tui_overhead.py [--repeats 3] [--epochs 4] [--unlabelled 3000]

Prints a line per repeat; the overhead is median(tui) / median(headless) - 1. On a busy
machine that ratio is noise-bound, so it also prints the CPU time the UI thread itself used
during training (time.thread_time on the UI thread) as a share of the training wall time:
an upper bound on what the UI takes from training when cores are free, and the GIL time it
can take when they are not.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable


def overrides(args) -> dict:
    # patience: no early stop, so the training lasts the epochs asked for
    return {
        "train": {"epochs": args.epochs, "batch_size": 64, "patience": 10_000},
        "sample": {"n_unlabelled": args.unlabelled},
        "run": {"threads": args.threads},
    }


def train_seconds(db: Path) -> tuple[float, int]:
    import sqlite3

    con = sqlite3.connect(db)
    (secs,) = con.execute("SELECT seconds FROM stages WHERE stage='train'").fetchone()
    (n,) = con.execute("SELECT count(*) FROM epochs").fetchone()
    con.close()
    return float(secs), int(n)


def headless(args, work: Path) -> float:
    home = work / "headless"
    home.mkdir()
    code = (
        "from tnao_app.config import Config\n"
        "from tnao_app.screens.app import PRESETS\n"
        "from tnao_app.runs.session import start_run\n"
        "from tnao_app.storage import Store\n"
        "cfg = Config.from_dict(PRESETS['tiny'])\n"
        f"for s, kv in {overrides(args)!r}.items():\n"
        "    [setattr(getattr(cfg, s), k, v) for k, v in kv.items()]\n"
        f"start_run(cfg, Store({str(home / 'h.db')!r}))\n"
    )
    env = {**os.environ, "TNAO_HOME": str(home)}
    subprocess.run([PY, "-c", code], env=env, check=True, capture_output=True)
    return train_seconds(home / "h.db")[0]


def pane(session: str) -> str:
    got = subprocess.run(
        ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True
    )
    return got.stdout


def wait_for(session: str, text: str, timeout: float = 60.0) -> None:
    t0 = time.monotonic()
    while text not in pane(session):
        if time.monotonic() - t0 > timeout:
            raise SystemExit(f"the app never showed {text!r}:\n{pane(session)}")
        time.sleep(0.2)


def tui(args, work: Path) -> tuple[float, dict]:
    home = work / "tui"
    home.mkdir()
    stats = home / "stats.json"
    launcher = home / "launch.py"
    launcher.write_text(
        "from tnao_app.screens.app import TnaoApp\n"
        f"TnaoApp(db={str(home / 'h.db')!r}, preset='tiny', "
        f"overrides={overrides(args)!r}).run()\n"
    )
    session = f"tnao-bench-{os.getpid()}"
    env = f"TNAO_HOME={home} TNAO_TUI_STATS={stats}"
    subprocess.run(
        [
            "tmux",
            "new-session",
            "-d",
            "-s",
            session,
            "-x",
            "100",
            "-y",
            "30",
            f"env {env} {PY} {launcher}",
        ],
        check=True,
    )
    try:
        for key, then in (("n", "Dataset"), ("C-n", "Run settings"), ("C-r", "running")):
            wait_for(session, {"n": "Run history", "C-n": "Dataset", "C-r": "Run settings"}[key])
            subprocess.run(["tmux", "send-keys", "-t", session, key], check=True)
            wait_for(session, then)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 600:
            time.sleep(0.5)
            try:
                import sqlite3

                con = sqlite3.connect(home / "h.db")
                row = con.execute("SELECT status FROM runs").fetchone()
                con.close()
            except Exception:
                row = None
            if row and row[0] in ("finished", "failed", "stopped"):
                break
        subprocess.run(["tmux", "send-keys", "-t", session, "C-q"], check=True)
        t0 = time.monotonic()
        while not stats.exists() and time.monotonic() - t0 < 30:
            time.sleep(0.2)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    return train_seconds(home / "h.db")[0], json.loads(stats.read_text())


def redraw_figures(stats: dict) -> dict:
    ticks = [(t, changed) for t, stage, changed in stats["redraws"] if stage == "train"]
    times = [t for t, _ in ticks]
    span = times[-1] - times[0] if len(times) > 1 else float("nan")
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    lat = sorted(stats["latencies"])
    train_s = stats["stage_seconds"].get("train", float("nan"))
    return {
        "ui_cpu_share": stats.get("ui_cpu", {}).get("train", float("nan")) / train_s,
        "redraws_per_s": (len(times) - 1) / span if span else float("nan"),
        "changed_per_s": sum(c for _, c in ticks) / span if span else float("nan"),
        "max_gap_s": max(gaps) if gaps else float("nan"),
        "lat_p50_ms": 1000 * lat[len(lat) // 2] if lat else float("nan"),
        "lat_p99_ms": 1000 * lat[int(len(lat) * 0.99)] if lat else float("nan"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--unlabelled", type=int, default=3000)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: auto)")
    args = ap.parse_args()
    # SIGTERM (e.g. `timeout`) must still run the finally that closes the tmux session.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if shutil.which("tmux") is None:
        sys.exit("tmux is needed for this benchmark (the TUI runs in a real terminal).")
    rows = []
    for i in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            h = headless(args, Path(tmp))
        with tempfile.TemporaryDirectory() as tmp:
            t, stats = tui(args, Path(tmp))
        rows.append((h, t, redraw_figures(stats)))
        f = rows[-1][2]
        print(
            f"repeat {i + 1}: train headless {h:6.2f} s  tui {t:6.2f} s  "
            f"redraws {f['redraws_per_s']:.1f}/s (state changed {f['changed_per_s']:.1f}/s)"
            f"  max gap {f['max_gap_s']:.3f} s  latency p50 {f['lat_p50_ms']:.2f} ms "
            f"p99 {f['lat_p99_ms']:.2f} ms  UI thread CPU {100 * f['ui_cpu_share']:.1f}% "
            "of the training time",
            flush=True,
        )
    hm = statistics.median(r[0] for r in rows)
    tm = statistics.median(r[1] for r in rows)
    print(
        f"\nmedian train seconds: headless {hm:.2f}, tui {tm:.2f}; "
        f"overhead {100 * (tm / hm - 1):+.1f}%"
    )
    print(
        f"UI thread CPU during training: median "
        f"{100 * statistics.median(r[2]['ui_cpu_share'] for r in rows):.1f}% of its wall time"
    )
    print(
        f"redraws during training: min {min(r[2]['redraws_per_s'] for r in rows):.1f}/s, "
        f"worst gap {max(r[2]['max_gap_s'] for r in rows):.3f} s"
    )


if __name__ == "__main__":
    main()
