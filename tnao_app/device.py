"""Device choice and the torch settings that make a run reproducible."""

from __future__ import annotations

import os

import torch

from .errors import ConfigError


def resolve(name: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is present, else ``cpu``; ``cuda`` without one is an
    error (one sentence), not a silent fallback."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "device 'cuda' was asked for but no CUDA GPU is available; use --device auto or cpu."
        )
    if name not in ("cpu", "cuda"):
        raise ConfigError(f"device '{name}' is unknown; expected auto, cpu or cuda.")
    return name


def setup(seed: int, threads: int = 0, device: str = "cpu") -> None:
    """Seed torch, fix the thread count and, on a GPU, ask for deterministic kernels.

    A fixed thread count matters on CPU: reductions split differently with more threads,
    which changes the last bits and, over a run, the result. The default is one thread:
    the model is tiny, and on a busy machine extra OpenMP threads spin-wait (measured on
    2 shared cores: 23 s with 1 thread, 195 s with 2).
    """
    torch.set_num_threads(threads or 1)
    torch.manual_seed(seed)
    if device.startswith("cuda"):
        # CPU kernels are deterministic at a fixed thread count already, and the switch
        # imports torch's compiler stack (over a second at every start).
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        # warn_only: a kernel without a deterministic version must not stop a run.
        torch.use_deterministic_algorithms(True, warn_only=True)
