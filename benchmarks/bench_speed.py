"""Speed and memory of TNAO, each figure beside a naive reference measured in this process.

Prints one table:
- auto-encoder training throughput (architectures/s) per device and batch size: a plain
  ``nn.TransformerEncoder`` auto-encoder (d_model 128, 4 encoder + 4 decoder layers,
  NB101-length sequences) trained by a plain loop (the naive reference; fp32 and bf16
  autocast), against TNAO's own ``Trainer`` on a model of the same size and on the
  default config;
- CSO generations/s and end-to-end run time of a default run (nb201 when ready, else the
  embedded analog table);
- cache load time and peak RSS per ready benchmark (fresh subprocess each).

    python benchmarks/bench_speed.py                 # CPU: batches 256, 1024
    python benchmarks/bench_speed.py --shared        # import ../shared NB201 first (temp home)
    python benchmarks/bench_speed.py --batches 256,1024,4096,16384   # the GPU sweep

Targets (issue 7): GPU default >= 2x the best naive configuration; a default nb201 run
<= 30 s on a 2-core CPU (<= 15 s on an H100/H200); nb201 cache load <= 0.2 s, <= 200 MB.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from rich.console import Console
from rich.table import Table
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
SHARED_NB201 = ROOT.parent / "shared" / "data" / "nb201.csv.gz"


class NaiveAE(nn.Module):
    """The reference: stock TransformerEncoder blocks on both sides of a pooled latent."""

    def __init__(self, seq_len: int, vocab: int, d: int = 128, layers: int = 4, latent: int = 16):
        super().__init__()
        self.seq_len, self.d = seq_len, d
        self.emb = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.zeros(seq_len, d))

        def stack() -> nn.TransformerEncoder:
            layer = nn.TransformerEncoderLayer(d, 4, 4 * d, 0.0, batch_first=True)
            return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

        self.enc, self.dec = stack(), stack()
        self.to_z = nn.Linear(d, latent)
        self.from_z = nn.Linear(latent, seq_len * d)
        self.out = nn.Linear(d, vocab)
        self.pred = nn.Linear(latent, 1)

    def forward(self, tok: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.to_z(self.enc(self.emb(tok) + self.pos).mean(1))
        h = self.dec(self.from_z(z).view(-1, self.seq_len, self.d) + self.pos)
        return self.out(h), self.pred(z).squeeze(1)


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def naive_throughput(
    device: str, batch: int, bf16: bool, seq_len: int, vocab: int, seconds: float
) -> float:
    torch.manual_seed(0)
    model = NaiveAE(seq_len, vocab).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    data = torch.randint(0, vocab, (batch * 4, seq_len))
    target = torch.rand(batch * 4)
    steps, t0, warm = 0, 0.0, 2
    while True:
        i = (steps % 4) * batch
        tok = data[i : i + batch].to(device)  # naive: a host->device copy per step
        y = target[i : i + batch].to(device)
        with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            logits, pred = model(tok)
            loss = F.cross_entropy(logits.reshape(-1, vocab).float(), tok.reshape(-1))
            loss = loss + F.mse_loss(pred.float(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()  # naive: a host sync per step
        steps += 1
        if steps == warm:
            _sync(device)
            t0 = time.perf_counter()
        elif steps > warm and time.perf_counter() - t0 > seconds:
            break
    _sync(device)
    return batch * (steps - warm) / (time.perf_counter() - t0)


def tnao_throughput(
    device: str, batch: int, seq_len: int, vocab: int, n_rows: int, same_size: bool
) -> float:
    """Architectures/s of TNAO's own Trainer over one epoch of ``n_rows`` tokens."""
    from tnao_app.config import Config
    from tnao_app.model import ModelShape, TNAOModel
    from tnao_app.train import Trainer

    cfg = Config()
    cfg.train.batch_size = batch
    m = cfg.model
    shape = ModelShape(
        seq_len,
        vocab,
        d_model=128 if same_size else m.d_model,
        n_heads=4 if same_size else m.n_heads,
        n_layers=4 if same_size else m.n_layers,
        d_latent=m.d_latent,
    )
    torch.manual_seed(0)
    model = TNAOModel(shape)
    rng = np.random.default_rng(0)
    pool = rng.integers(0, vocab, (n_rows, seq_len))
    x, y = pool[:50], rng.random(50)
    trainer = Trainer(model, cfg.train, device=device, seed=0)
    trainer.fit(pool[: batch * 2], x, y, 1, early_stopping=False)  # warm-up
    trainer.epoch = 0
    _sync(device)
    t0 = time.perf_counter()
    trainer.fit(pool, x, y, 1, early_stopping=False)
    _sync(device)
    return n_rows / (time.perf_counter() - t0)


def end_to_end(benchmark: str, device: str) -> dict:
    from tnao_app.config import Config
    from tnao_app.events import Generation, StageFinished
    from tnao_app.runs.pipeline import run_pipeline

    cfg = Config()
    cfg.run.benchmark, cfg.run.device, cfg.run.seed = benchmark, device, 0
    stages: dict[str, float] = {}
    gens = [0]

    def listen(ev) -> None:
        if isinstance(ev, StageFinished):
            stages[ev.stage] = stages.get(ev.stage, 0.0) + ev.seconds
        elif isinstance(ev, Generation):
            gens[0] += 1

    t0 = time.perf_counter()
    result = run_pipeline(cfg, listeners=[listen])
    wall = time.perf_counter() - t0
    return {
        "wall": wall,
        "gens": gens[0],
        "search_s": stages.get("search", float("nan")),
        "test": result["best"]["test"],
    }


def cache_rows(env: dict) -> list[tuple[str, float, float]]:
    out = []
    from tnao_app import benchmarks

    for r in benchmarks.status():
        if not r["ready"]:
            continue
        code = (
            "import time, sys; from tnao_app import benchmarks; "
            f"benchmarks.module({r['benchmark']!r}); t=time.perf_counter(); "
            f"benchmarks.load({r['benchmark']!r}); d=time.perf_counter()-t; "
            "rss=[l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]; "
            "print(d, int(rss)/1024)"
        )
        runs = []
        for _ in range(3):
            p = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            )
            runs.append([float(v) for v in p.stdout.split()])
        load = float(np.median([v[0] for v in runs]))
        out.append((r["benchmark"], load, max(v[1] for v in runs)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--batches", default="", help="comma list; default 256,1024 on CPU, 256..16384 on CUDA"
    )
    ap.add_argument("--seconds", type=float, default=3.0, help="time per naive config")
    ap.add_argument("--shared", action="store_true", help="import ../shared NB201 first")
    ap.add_argument("--skip-run", action="store_true", help="skip the end-to-end run")
    args = ap.parse_args()

    if args.shared:
        os.environ["TNAO_HOME"] = tempfile.mkdtemp(prefix="tnao_bench_")
        from tnao_app.benchmarks import nb201

        nb201.import_csv(SHARED_NB201)
    from tnao_app import benchmarks
    from tnao_app.benchmarks import nb101

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU only"
    L, V = nb101.SPACE.seq_len, nb101.SPACE.vocab_size
    console = Console()
    t = Table(title=f"TNAO speed ({name}; {os.cpu_count()} CPU cores; torch {torch.__version__})")
    for col in ("what", "device", "setting", "value", "vs naive best"):
        t.add_column(col)
    for dev in devices:
        default_b = "256,1024,4096,16384" if dev == "cuda" else "256,1024"
        batches = [int(b) for b in (args.batches or default_b).split(",")]
        best = 0.0
        for b in batches:
            for bf16 in (False, True):
                if bf16 and dev == "cpu" and b > 256:
                    continue  # CPU bf16 autocast is emulated and slow: one point shows it
                v = naive_throughput(dev, b, bf16, L, V, args.seconds)
                best = max(best, v)
                t.add_row(
                    "naive AE train",
                    dev,
                    f"batch {b} {'bf16' if bf16 else 'fp32'}",
                    f"{v:,.0f} archs/s",
                    "",
                )
        for same in (True, False):
            b = max(batches)
            v = tnao_throughput(
                dev, b, L, V, n_rows=b * (8 if dev == "cuda" else 3), same_size=same
            )
            size = "d128, 4 enc layers + MLP decoder" if same else "default model"
            t.add_row(
                "TNAO Trainer", dev, f"batch {b}, {size}", f"{v:,.0f} archs/s", f"{v / best:.2f}x"
            )
    if not args.skip_run:
        bench = (
            "nb201"
            if any(r["ready"] and r["benchmark"] == "nb201" for r in benchmarks.status())
            else "analog"
        )
        for dev in devices:
            r = end_to_end(bench, dev)
            t.add_row(
                "default run",
                dev,
                f"{bench}, seed 0",
                f"{r['wall']:.1f} s wall",
                "target <= 30 s (CPU)" if dev == "cpu" else "target <= 15 s",
            )
            if r["gens"] and r["search_s"] == r["search_s"]:
                t.add_row(
                    "CSO",
                    dev,
                    f"{r['gens']} generations",
                    f"{r['gens'] / r['search_s']:.1f} gen/s (search stage)",
                    "",
                )
    for bench, load, rss in cache_rows(dict(os.environ)):
        t.add_row(
            "cache load",
            "cpu",
            bench,
            f"{load * 1000:.0f} ms, peak RSS {rss:.0f} MB",
            "target <= 200 ms, 200 MB" if bench == "nb201" else "",
        )
    console.print(t)


if __name__ == "__main__":
    main()
