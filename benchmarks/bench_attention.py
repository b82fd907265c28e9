"""The CPU hot spots of training the default model, old way against new, in one process.

Prints one table: the softmax over a 6-token last dimension against the same softmax with
the batch innermost; attention forward + backward with torch's scaled_dot_product_attention
against ``model.cpu_attention``; one AdamW step over the default model's parameters,
per-tensor against fused; and ``Trainer.fit`` throughput with each attention.

    python benchmarks/bench_attention.py [--repeat 50]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from rich.console import Console
from rich.table import Table

from tnao_app import model as model_mod
from tnao_app.benchmarks.nb201 import SPACE
from tnao_app.config import Config
from tnao_app.train import Trainer

B, H, L, D = 768, 4, 6, 8  # a default batch (512 pool + 256 labelled), 4 heads, NB201 cells


def per_call(fn, repeat: int) -> float:
    """Seconds per call of ``fn`` (after a warm-up)."""
    for _ in range(3):
        fn()
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t0) / repeat


def sdpa(q, k, v, bias, p):
    return F.scaled_dot_product_attention(q, k, v, attn_mask=bias)


def fwd_bwd(att, repeat: int) -> float:
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(B, H, L, D, generator=g, requires_grad=True) for _ in range(3))
    bias = torch.randn(1, H, L, L, generator=g, requires_grad=True)
    grad = torch.randn(B, H, L, D, generator=g)
    return per_call(lambda: att(q, k, v, bias, 0.0).backward(grad), repeat)


def default_model() -> model_mod.TNAOModel:
    """The default config's model for NB201 cells."""
    m = Config().model
    torch.manual_seed(0)
    return model_mod.TNAOModel(
        model_mod.ModelShape(
            SPACE.seq_len,
            SPACE.vocab_size,
            m.d_model,
            m.n_heads,
            m.n_layers,
            m.d_latent,
            m.dropout,
            m.n_predictors,
        ),
        SPACE.token_relations(),
    )


def adamw_step(fused: bool, repeat: int) -> float:
    net = default_model()
    for p in net.parameters():
        p.grad = torch.randn_like(p)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4, fused=fused)
    return per_call(opt.step, repeat)


def fit_rate(att) -> float:
    """Architectures/s of 2 epochs of ``Trainer.fit`` on every NB201 cell (default model)."""
    saved = model_mod.cpu_attention
    model_mod.cpu_attention = att
    try:
        net = default_model()
        pool = np.stack([SPACE.to_tokens(a) for a in SPACE.enumerate()]).astype(np.int64)
        rng = np.random.default_rng(0)
        x = pool[rng.choice(len(pool), 100, replace=False)]
        y = rng.normal(size=100)
        t0 = time.perf_counter()
        Trainer(net, Config().train).fit(pool, x, y, 2)
        return 2 * len(pool) / (time.perf_counter() - t0)
    finally:
        model_mod.cpu_attention = saved


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=50)
    args = ap.parse_args()
    torch.set_num_threads(1)  # as a default run
    a = torch.randn(B, H, L, L)
    at = a.permute(1, 2, 3, 0).contiguous()
    rows = [
        (
            "softmax, 6-wide last dim",
            "batch innermost",
            per_call(lambda: a.softmax(-1), args.repeat),
            per_call(lambda: at.softmax(2), args.repeat),
        ),
        (
            "attention fwd+bwd (SDPA)",
            "cpu_attention",
            fwd_bwd(sdpa, args.repeat),
            fwd_bwd(model_mod.cpu_attention, args.repeat),
        ),
        (
            "AdamW step, per tensor",
            "fused",
            adamw_step(False, args.repeat),
            adamw_step(True, args.repeat),
        ),
    ]
    table = Table(title=f"CPU hot spots (1 torch thread; B={B}, heads={H}, tokens={L})")
    for col in ("old way", "new way", "old", "new", "speed-up"):
        table.add_column(col)
    for old_name, new_name, old, new in rows:
        table.add_row(
            old_name, new_name, f"{old * 1e3:.2f} ms", f"{new * 1e3:.2f} ms", f"{old / new:.1f}x"
        )
    old_fit, new_fit = fit_rate(sdpa), fit_rate(model_mod.cpu_attention)
    table.add_row(
        "Trainer.fit with SDPA",
        "with cpu_attention",
        f"{old_fit:,.0f} archs/s",
        f"{new_fit:,.0f} archs/s",
        f"{new_fit / old_fit:.2f}x",
    )
    Console().print(table)


if __name__ == "__main__":
    main()
