"""What a configuration costs in memory: the config checks its sizes against this
machine before a run starts."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import ModelConfig


def memory_bytes() -> int:
    """This machine's physical memory in bytes (a large number where it cannot be read)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):  # not POSIX
        return 1 << 50


def model_bytes(m: ModelConfig, max_len: int, max_vocab: int) -> int:
    """About the bytes a model of ``m`` takes while it trains: float32 weights, their
    gradients and AdamW's two moments, for a space of ``max_len`` tokens of ``max_vocab`` kinds
    (the largest: an over-estimate)."""
    d, L, V = m.d_model, max_len, max_vocab
    params = (
        m.n_layers * (8 * d * d + 9 * d)  # attention (qkv, proj) and the MLP per layer
        + (V + L) * d  # token and position embeddings
        + L * d * m.d_latent  # to_z
        + m.d_latent * 4 * d
        + 4 * d * L * V  # decoder
        + m.n_predictors * (m.d_latent * 2 * d + 2 * d)  # predictor heads
    )
    return 4 * 4 * params


def mlp_bytes(hidden: int, inputs: int = 256) -> int:
    """About the bytes of a baseline's two-hidden-layer MLP while it trains (as above)."""
    return 4 * 4 * (inputs * hidden + hidden * hidden + 2 * hidden)


def gb(n: float) -> str:
    return f"{n / 2**30:,.1f} GB"
